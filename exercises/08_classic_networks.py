# %% [markdown]
# # The Classic Family: Exercises
#
# Worked answers to the exercises of the chapter on
# [AlexNet, VGG, NiN, GoogLeNet and DenseNet](../chapters/08_classic_networks.ipynb).
# Most of the questions are about cost: where the parameters, the activations and the
# arithmetic of a network go. We answer them by counting, on PyTorch's meta device, so
# that even the largest networks cost nothing to inspect; every fact that can be checked
# is checked by an `assert`. One exercise trains two networks against each other.
#
# **What you'll practise**
#
# - breaking a network's parameters, activations and multiply-adds down layer by layer;
# - checking architectures against published parameter counts and torchvision's models;
# - reasoning about receptive fields, 1x1 convolutions and bottlenecks with numbers;
# - running a small, honest training comparison and reading what it can and cannot show.

# %% tags=["hide-input"]
# Setup: make the book's `utils` importable locally, in CI and on Colab.
import os
import subprocess
import sys
from pathlib import Path

REPO_URL = "https://github.com/cnnbook/cnnbook"  # same as repository.url in _config.yml
here = Path.cwd().resolve()
ROOT = next((p for p in (here, *here.parents) if (p / "utils" / "__init__.py").is_file()), None)
if ROOT is None and "google.colab" in sys.modules:  # Colab starts in /content
    ROOT = here / "cnnbook"
    if not ROOT.exists():
        url = os.environ.get("CNNBOOK_REPO_URL", REPO_URL)  # a test clones a local copy
        subprocess.run(["git", "clone", "-q", "--depth=1", url, str(ROOT)], check=True)
if ROOT is None:
    raise RuntimeError("Cannot find utils/: open this notebook inside a clone of cnnbook.")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# %%
# Draw figures in the notebook, including the ones utils returns.
# %matplotlib inline
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import utils

device = utils.try_gpu()
profile = utils.get_profile()
utils.seed_everything(0)
torch.set_printoptions(precision=4)


# %% [markdown]
# The counting tools of the chapter: parameters (`utils.num_params`), multiply-adds by
# formula (`utils.count_macs`, which traces a shapes-only copy of the model) and by
# `FlopCounterMode`, and building on the meta device (shapes only, no weights).

# %%
def flop_counter_macs(net, X):
    """Multiply-adds as counted by PyTorch's FlopCounterMode (2 FLOPs per multiply-add)."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(X)
    return counter.get_total_flops() // 2


def build_meta(make_net, *args, **kwargs):
    """Build `make_net(*args, **kwargs)` on the meta device: shapes only, no weights."""
    with torch.device("meta"):
        return make_net(*args, **kwargs).eval()


def meta_input(side, channels=1):
    return torch.zeros(1, channels, side, side, device="meta")


# %% [markdown]
# The networks, exactly as defined in the chapter.

# %%
def alexnet(num_classes=10, in_channels=1):
    return nn.Sequential(
        nn.Conv2d(in_channels, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten(),
        nn.Linear(256 * 5 * 5, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, num_classes))


def vgg_block(num_convs, in_channels, out_channels):
    layers = []
    for _ in range(num_convs):
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
                   nn.ReLU()]
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


VGG11 = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))


def vgg(conv_arch=VGG11, num_classes=10, in_channels=1):
    blocks = []
    for num_convs, out_channels in conv_arch:
        blocks.append(vgg_block(num_convs, in_channels, out_channels))
        in_channels = out_channels
    side = 224 // 2 ** len(conv_arch)
    return nn.Sequential(
        *blocks, nn.Flatten(),
        nn.Linear(in_channels * side * side, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, num_classes))


def nin_block(in_channels, out_channels, kernel_size, stride, padding, num_1x1=2):
    """A NiN block; `num_1x1` (2 in the chapter) is varied in exercise 6."""
    layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding), nn.ReLU()]
    for _ in range(num_1x1):
        layers += [nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU()]
    return nn.Sequential(*layers)


def nin(num_classes=10, in_channels=1, num_1x1=2):
    return nn.Sequential(
        nin_block(in_channels, 96, 11, 4, 0, num_1x1), nn.MaxPool2d(3, stride=2),
        nin_block(96, 256, 5, 1, 2, num_1x1), nn.MaxPool2d(3, stride=2),
        nin_block(256, 384, 3, 1, 1, num_1x1), nn.MaxPool2d(3, stride=2),
        nn.Dropout(p=0.5),
        nin_block(384, num_classes, 3, 1, 1, num_1x1),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())


class Inception(nn.Module):
    """Four parallel branches, concatenated along the channel axis."""

    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(in_channels, c1, kernel_size=1), nn.ReLU())
        self.b2 = nn.Sequential(
            nn.Conv2d(in_channels, c2[0], kernel_size=1), nn.ReLU(),
            nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1), nn.ReLU())
        self.b3 = nn.Sequential(
            nn.Conv2d(in_channels, c3[0], kernel_size=1), nn.ReLU(),
            nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2), nn.ReLU())
        self.b4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1),
            nn.Conv2d(in_channels, c4, kernel_size=1), nn.ReLU())
        self.in_channels = in_channels
        self.config = (c1, c2, c3, c4)
        self.out_channels = c1 + c2[1] + c3[1] + c4

    def forward(self, X):
        return torch.cat([self.b1(X), self.b2(X), self.b3(X), self.b4(X)], dim=1)


def googlenet(num_classes=10, in_channels=1):
    stem = nn.Sequential(
        nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        nn.Conv2d(64, 64, kernel_size=1), nn.ReLU(),
        nn.Conv2d(64, 192, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    group3 = nn.Sequential(
        Inception(192, 64, (96, 128), (16, 32), 32),
        Inception(256, 128, (128, 192), (32, 96), 64),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    group4 = nn.Sequential(
        Inception(480, 192, (96, 208), (16, 48), 64),
        Inception(512, 160, (112, 224), (24, 64), 64),
        Inception(512, 128, (128, 256), (24, 64), 64),
        Inception(512, 112, (144, 288), (32, 64), 64),
        Inception(528, 256, (160, 320), (32, 128), 128),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    group5 = nn.Sequential(
        Inception(832, 256, (160, 320), (32, 128), 128),
        Inception(832, 384, (192, 384), (48, 128), 128),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
    return nn.Sequential(stem, group3, group4, group5, nn.Linear(1024, num_classes))


def conv_block(in_channels, out_channels):
    return nn.Sequential(
        nn.BatchNorm2d(in_channels), nn.ReLU(),
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False))


class DenseBlock(nn.Module):
    """`num_convs` conv blocks; each one's output is concatenated to its input."""

    def __init__(self, num_convs, in_channels, growth_rate, make_layer=conv_block):
        super().__init__()
        self.convs = nn.ModuleList(
            make_layer(in_channels + i * growth_rate, growth_rate) for i in range(num_convs))
        self.out_channels = in_channels + num_convs * growth_rate

    def forward(self, X):
        for blk in self.convs:
            X = torch.cat([X, blk(X)], dim=1)
        return X


def transition_block(in_channels, out_channels):
    return nn.Sequential(
        nn.BatchNorm2d(in_channels), nn.ReLU(),
        nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),
        nn.AvgPool2d(kernel_size=2, stride=2))


def densenet(num_classes=10, in_channels=1, num_channels=64, growth_rate=32,
             block_sizes=(4, 4, 4, 4), small_input=False):
    if small_input:
        stem = nn.Sequential(
            nn.Conv2d(in_channels, num_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(num_channels), nn.ReLU(), nn.MaxPool2d(kernel_size=2))
    else:
        stem = nn.Sequential(
            nn.Conv2d(in_channels, num_channels, kernel_size=7, stride=2, padding=3,
                      bias=False),
            nn.BatchNorm2d(num_channels), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    layers = [stem]
    for i, num_convs in enumerate(block_sizes):
        block = DenseBlock(num_convs, num_channels, growth_rate)
        layers.append(block)
        num_channels = block.out_channels
        if i < len(block_sizes) - 1:
            layers.append(transition_block(num_channels, num_channels // 2))
            num_channels //= 2
    layers += [nn.BatchNorm2d(num_channels), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)),
               nn.Flatten(), nn.Linear(num_channels, num_classes)]
    return nn.Sequential(*layers)


# %% [markdown]
# ## 1. AlexNet: where do the memory and the compute go?
#
# > Analyse the computational properties of AlexNet. Compute the memory footprint of the
# > convolutional and the fully connected layers: which one dominates? Calculate the
# > computational cost of each. How do memory size and bandwidth affect computation, in
# > training and in inference?
#
# Two kinds of memory matter. **Parameters** are stored once, whatever the batch size.
# **Activations**, the outputs of every layer, are stored per image: training keeps them
# all for the backward pass. We walk one 224x224 image through AlexNet's layers and
# record, per layer, its parameters, the values it outputs and its multiply-adds.

# %%
def layer_costs(net, side, channels=1):
    """Per top-level layer: (name, parameters, output values, multiply-adds) for one image."""
    X = meta_input(side, channels)
    rows = []
    for name, layer in net.named_children():
        macs = utils.count_macs(layer, tuple(X.shape[1:]))
        X = layer(X)
        rows.append((f"{name}: {type(layer).__name__}", utils.num_params(layer), X.numel(), macs))
    return rows


alex = build_meta(alexnet)
alex_rows = layer_costs(alex, 224)
print(f"{'layer':<16}{'parameters':>12}{'activations':>13}{'multiply-adds':>16}")
for name, params, acts, macs in alex_rows:
    print(f"{name:<16}{params:>12,}{acts:>13,}{macs:>16,}")

# %% [markdown]
# Now sum by part: the convolutional body (everything up to `Flatten`) and the dense
# head (everything after). Memory is in megabytes of 32-bit floats.

# %%
flatten_at = next(i for i, row in enumerate(alex_rows) if "Flatten" in row[0])
parts = {"conv body": alex_rows[:flatten_at + 1], "dense head": alex_rows[flatten_at + 1:]}
totals = {part: [sum(r[k] for r in rows) for k in (1, 2, 3)] for part, rows in parts.items()}
all_params, all_acts, all_macs = (sum(t[k] for t in totals.values()) for k in range(3))
MB = 4 / 2**20                                        # bytes per float32, in MiB
print(f"{'part':<11}{'parameters':>16}{'activations/image':>20}{'multiply-adds':>16}")
for part, (params, acts, macs) in totals.items():
    print(f"{part:<11}{params * MB:>9.1f} MB {params / all_params:>4.0%}"
          f"{acts * MB:>11.2f} MB {acts / all_acts:>4.0%}"
          f"{macs / 1e6:>9.0f} M {macs / all_macs:>4.0%}")

# %%
body, head = totals["conv body"], totals["dense head"]
assert head[0] > 0.9 * all_params                    # the dense layers hold the weights
assert body[1] > 0.9 * all_acts                      # the convolutions hold the activations
assert body[2] > 0.9 * all_macs                      # ... and do the arithmetic

# %% [markdown]
# The two parts are mirror images. The dense head holds over nine tenths of the weights
# but does a small share of the arithmetic and produces almost no activations; the
# convolutional body does nearly all the arithmetic and produces nearly all the
# activations with few weights. That answers the first two questions.
#
# Memory in training grows with the batch: every image brings its own activations.
# The batch size at which the stored activations outweigh the parameters:

# %%
break_even = all_params / all_acts
print(f"activations per image: {all_acts * MB:.1f} MB; parameters: {all_params * MB:.0f} MB")
print(f"activations outweigh the parameters from a batch of about {break_even:.0f} images")

# %% [markdown]
# (Training also keeps a gradient per parameter, and SGD with momentum or Adam one or two
# more buffers of the same size; ReLUs that work in place and recomputation can cut the
# stored activations. The order of magnitude above is what matters.)
#
# Bandwidth is the third question. A weight must be read from memory before it can be
# used; the useful measure is how many multiply-adds a layer does per weight it reads.
# Per image, that is (counting the biases as parameters, which rounds the dense layers'
# ratio just below 1):

# %%
for name, params, _, macs in alex_rows:
    if params:
        print(f"{name:<16} {macs / params:>7.0f} multiply-adds per parameter per image")

# %%
weighted = [(name, macs / params) for name, params, acts, macs in alex_rows if params]
assert all(0.99 < r <= 1 for name, r in weighted if "Linear" in name)   # biases: < 1
assert all(r > 100 for name, r in weighted if "Conv2d" in name)


# %% [markdown]
# A dense layer uses each weight exactly once per image: with one image at a time
# (inference on a phone, say) it does one multiply-add per 4 bytes read, and the memory
# bandwidth, not the arithmetic units, sets its speed. Batching fixes that, because a
# batch of $b$ images reuses every weight $b$ times; training always uses batches, so
# the dense head is then cheap in time but still dominates the memory for weights. The
# convolutions reuse each weight at every output position, hundreds of times per image,
# and are limited by arithmetic. This last part of the answer is reasoning from the
# numbers above, not a timing measurement.
#
# ## 2. AlexNet on small images
#
# > AlexNet may be too complex for Fashion-MNIST, in particular because of the low
# > resolution of the images. What input sizes can it take?
#
# The first dense layer expects exactly $256 \times 5 \times 5 = 6400$ inputs, so only
# input sizes whose last feature map is 5x5 work. We try every size from 28 to 256 on the
# meta device and keep those that run:

# %%
def accepts(net, side):
    try:
        with torch.no_grad():
            net(meta_input(side))
        return True
    except RuntimeError:
        return False


sizes = range(28, 257)
alex_ok = [s for s in sizes if accepts(alex, s)]
nin_ok = [s for s in sizes if accepts(build_meta(nin), s)]
print(f"AlexNet runs for {len(alex_ok)} of {len(sizes)} sizes: {min(alex_ok)}..{max(alex_ok)}")
print(f"NiN runs for {len(nin_ok)} of {len(sizes)} sizes: {min(nin_ok)}..{max(nin_ok)}")

# %%
assert 224 in alex_ok and alex_ok == list(range(min(alex_ok), max(alex_ok) + 1))
assert len(alex_ok) < 40 and 28 not in alex_ok
assert nin_ok == [s for s in sizes if s >= min(nin_ok)]

# %% [markdown]
# AlexNet accepts only a narrow band of sizes around 224, because its dense head fixes the
# size of the last feature map. NiN, which ends in global average pooling, accepts every
# size above a minimum set by its strides and poolings. For 28x28 images the natural
# answer is a network designed for them, with a gentle stem (3x3 kernels, little
# downsampling) and a global-average-pooling head: exercise 9 designs one in the
# GoogLeNet style, and the chapter's training section uses a small DenseNet of that kind.
#
# ## 3. VGG: where are the eleven layers, and VGG-13, -16 and -19
#
# > The trace of VGG-11 shows only eight blocks (plus a few auxiliary lines), although
# > the network has 11 layers. Where did the remaining layers go? Use Table 1 of the VGG
# > paper to build VGG-13, VGG-16 and VGG-19.
#
# The trace lists the *children* of the top-level `nn.Sequential`: five VGG blocks, the
# flatten, and the head's layers. The eight convolutions sit inside the five blocks.
# Counting modules by type finds all eleven weighted layers:

# %%
vgg11 = build_meta(vgg)
convs = sum(isinstance(m, nn.Conv2d) for m in vgg11.modules())
denses = sum(isinstance(m, nn.Linear) for m in vgg11.modules())
print(f"top-level children: {len(list(vgg11.children()))}; "
      f"Conv2d: {convs}, Linear: {denses}, weighted layers: {convs + denses}")
assert (convs, denses) == (8, 3)

# %% [markdown]
# Table 1 of the paper {cite}`simonyan2014very` gives the configurations as numbers of
# 3x3 convolutions per block (configuration C, with 1x1 convolutions, is left out).
# We build each at ImageNet scale (three channels, 1000 classes) and compare its
# parameter count with torchvision's model of the same name, built on the meta device
# too, and with Table 2 of the paper, which gives the counts in millions.

# %%
configs = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
paper_millions = {11: 133, 13: 133, 16: 138, 19: 144}     # Table 2 of the VGG paper
widths = (64, 128, 256, 512, 512)
print(f"{'network':<8}{'weighted':>9}{'parameters':>14}{'torchvision':>14}{'paper':>7}"
      f"{'GMACs':>7}")
vgg_params, vgg_gmacs = {}, {}
for depth, convs_per_block in configs.items():
    arch = tuple(zip(convs_per_block, widths))
    ours = build_meta(vgg, arch, num_classes=1000, in_channels=3)
    with torch.device("meta"):
        theirs = getattr(torchvision.models, f"vgg{depth}")(weights=None)
    layers = sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in ours.modules())
    gmacs = vgg_gmacs[depth] = utils.count_macs(ours, (3, 224, 224)) / 1e9
    vgg_params[depth] = utils.num_params(ours)
    print(f"VGG-{depth:<4}{layers:>9}{utils.num_params(ours):>14,}{utils.num_params(theirs):>14,}"
          f"{paper_millions[depth]:>6}M{gmacs:>7.1f}")
    assert layers == depth
    assert utils.num_params(ours) == utils.num_params(theirs)
    assert round(utils.num_params(ours) / 1e6) == paper_millions[depth]
assert vgg_params[19] < 1.1 * vgg_params[11] and vgg_gmacs[19] > 2 * vgg_gmacs[11]

# %% [markdown]
# Each network has as many weighted layers as its name says, the same number of
# parameters as torchvision's, and the count of the paper. Going from 11 to 19 layers
# adds few parameters (the extra 3x3 convolutions are small next to the dense head)
# but more than doubles the arithmetic, printed in the last column.
#
# ## 4. VGG with a quarter of the channels
#
# > Divide the number of channels of every convolution in VGG-11 by 4. By what factor do
# > the parameters and the multiply-adds shrink?
#
# A convolution has $c_\text{in} \times c_\text{out} \times 9$ weights and does that many
# multiply-adds per output pixel. Dividing both channel numbers by 4 divides that by 16,
# except in the first layer, whose single input channel stays. The dense head is not
# touched, except that its first layer gets a quarter of the inputs.

# %%
small_arch = tuple((n, c // 4) for n, c in VGG11)
full_net, small_net = vgg11, build_meta(vgg, small_arch)


def split_costs(net, num_blocks=None, side=224):
    """(conv params, conv MACs, dense params, dense MACs) of a VGG for one image."""
    num_blocks = len(VGG11) if num_blocks is None else num_blocks
    body, head = net[:num_blocks], net[num_blocks:]
    X = meta_input(side)
    features = body(X)
    return (utils.num_params(body), utils.count_macs(body, tuple(X.shape[1:])),
            utils.num_params(head), utils.count_macs(head, tuple(features.shape[1:])))


full_costs, small_costs = split_costs(full_net), split_costs(small_net)
labels = ("conv parameters", "conv multiply-adds", "dense parameters", "dense multiply-adds")
for label, f, s in zip(labels, full_costs, small_costs):
    print(f"{label:<20} {f:>14,} -> {s:>12,}  ({f / s:5.2f}x smaller)")
full_params, small_params = utils.num_params(full_net), utils.num_params(small_net)
print(f"{'all parameters':<20} {full_params:>14,} -> {small_params:>12,}  "
      f"({full_params / small_params:5.2f}x smaller)")

# %%
conv_param_factor = full_costs[0] / small_costs[0]
conv_mac_factor = full_costs[1] / small_costs[1]
assert 15 < conv_param_factor <= 16 and 15 < conv_mac_factor <= 16
assert utils.num_params(full_net) / utils.num_params(small_net) < 4


# %% [markdown]
# The convolutions shrink by almost exactly 16 in both parameters and arithmetic (a bit
# less, because of the first layer and the biases). The whole network, though, shrinks
# by a much smaller factor, printed on the last line: most of its parameters sit in the
# dense head, whose first layer shrank by 4 and whose other layers did not change. Since
# the convolutions do nearly all the arithmetic, the network does about 16 times less
# arithmetic per image while keeping most of its size. To shrink the parameters too, the
# dense head has to go, which is exactly NiN's move.
#
# ## 5. Why stacks of 3x3 convolutions?
#
# > Two 3x3 convolutions in a row see a 5x5 window of the input. Check this, and compare
# > the number of parameters with one 5x5 convolution.
#
# The receptive field of an output pixel is the set of input pixels it depends on, which
# is where its gradient with respect to the input is nonzero. We use positive weights
# and a positive input, so that no ReLU is inactive and no terms cancel.

# %%
def receptive_field(layers, side=15):
    """Side of the square of input pixels that the centre output pixel depends on."""
    torch.manual_seed(0)
    net = nn.Sequential(*layers)
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Conv2d):
                m.weight.uniform_(0.1, 1.0)
                m.bias.zero_()
    X = torch.rand(1, 1, side, side).add_(0.1).requires_grad_()
    Y = net(X)
    Y[0, 0, Y.shape[2] // 2, Y.shape[3] // 2].backward()
    rows, cols = torch.nonzero(X.grad[0, 0], as_tuple=True)
    assert rows.max() - rows.min() == cols.max() - cols.min()   # a square
    return int(rows.max() - rows.min() + 1)


def conv3x3_stack(n):
    layers = []
    for _ in range(n):
        layers += [nn.Conv2d(1, 1, kernel_size=3), nn.ReLU()]
    return layers


c = 64                                                  # channels in and out
print(f"{'layers':<14}{'receptive field':>16}{'parameters (c=64)':>19}")
for n, k in ((2, 5), (3, 7)):
    stack = receptive_field(conv3x3_stack(n))
    single = receptive_field([nn.Conv2d(1, 1, kernel_size=k)])
    p_stack = n * utils.num_params(nn.Conv2d(c, c, kernel_size=3, bias=False))
    p_single = utils.num_params(nn.Conv2d(c, c, kernel_size=k, bias=False))
    print(f"{n} x 3x3{'':<7}{stack:>13}x{stack}{p_stack:>19,}")
    print(f"1 x {k}x{k}{'':<7}{single:>13}x{single}{p_single:>19,}")
    assert stack == single == k and p_stack < p_single
    print(f"  -> same field with {p_stack / p_single:.0%} of the parameters")

# %% [markdown]
# Two 3x3 layers see the same 5x5 window as one 5x5 layer, with $18c^2$ instead of $25c^2$
# weights; three 3x3 layers see a 7x7 window with $27c^2$ instead of $49c^2$. The
# multiply-adds per output pixel scale the same way. On top of that, each layer of the
# stack brings a ReLU, so the stack is a more expressive function than one linear
# filter of the same size.
#
# ## 6. NiN: why two 1x1 convolutions per block?
#
# > Why are there two 1x1 convolutions per NiN block? Increase their number to three,
# > reduce it to one. What changes? And what if the 1x1 convolutions become 3x3?
#
# With no 1x1 convolution a block is a single convolution: a linear filter followed by a
# ReLU. Each 1x1 convolution adds a hidden layer to the per-pixel MLP: with one, the
# block computes a one-hidden-layer MLP of each local patch; with two, a deeper one. The
# cost of each extra 1x1 convolution per block is $c^2 + c$ parameters for a block with
# $c$ output channels, and $c^2$ multiply-adds per output pixel:

# %%
channels = (96, 256, 384, 10)                            # output channels of the 4 blocks
per_extra = sum(c * c + c for c in channels)
print(f"{'1x1 per block':<14}{'weighted layers':>16}{'parameters':>12}"
      f"{'multiply-adds':>15}")
nin_params = {}
for n in range(4):
    net = build_meta(nin, num_1x1=n)
    nin_params[n] = utils.num_params(net)
    layers = sum(isinstance(m, nn.Conv2d) for m in net.modules())
    print(f"{n:<14}{layers:>16}{nin_params[n]:>12,}"
          f"{utils.count_macs(net, (1, 224, 224)) / 1e6:>13.0f} M")
print(f"each extra 1x1 per block adds {per_extra:,} parameters")

# %%
assert all(nin_params[n + 1] - nin_params[n] == per_extra for n in range(3))
assert nin_params[2] - nin_params[0] < nin_params[0] / 3


# %% [markdown]
# The parameter cost of a 1x1 layer is small next to the block's first convolution (in
# the chapter's NiN, two 1x1 layers per block add less than a third to the parameters
# of the blocks without them, as the table shows). What the extra layers buy is
# nonlinearity per position. Whether a third one helps accuracy is an empirical question
# that needs full training at 224x224; we do not answer it here (it is beyond a CPU
# budget). The NiN paper used two {cite}`lin2013network`.
#
# Replacing the 1x1 convolutions by 3x3 ones (with padding 1, to keep the sizes)
# multiplies their weights and their arithmetic by 9:

# %%
def nin_with_3x3(num_classes=10):
    net = nin(num_classes)
    for block in (net[0], net[2], net[4], net[7]):
        for i in (2, 4):                                 # the two 1x1 convolutions
            c = block[i].in_channels
            block[i] = nn.Conv2d(c, c, kernel_size=3, padding=1)
    return net


def replaced_layers(net):
    """The convolutions in positions 2 and 4 of every NiN block."""
    return [block[i] for block in (net[0], net[2], net[4], net[7]) for i in (2, 4)]


plain, wide = build_meta(nin), build_meta(nin_with_3x3)
for name, net in (("1x1", plain), ("3x3", wide)):
    print(f"{name}: {utils.num_params(net):>10,} parameters, "
          f"{utils.count_macs(net, (1, 224, 224)) / 1e6:,.0f} million multiply-adds")
layer_ratio = (sum(utils.num_params(m) for m in replaced_layers(wide))
               / sum(utils.num_params(m) for m in replaced_layers(plain)))
ratio = utils.num_params(wide) / utils.num_params(plain)
print(f"the replaced layers grow {layer_ratio:.2f}x, the whole network {ratio:.1f}x")
assert 8.9 < layer_ratio < 9 and ratio > 2


# %% [markdown]
# The replaced layers grow almost 9 times (their biases do not grow), the whole network
# by the smaller factor printed, and each block sees a wider window:
# it is no longer a per-pixel MLP but three stacked spatial convolutions, closer to VGG.
#
# ## 7. NiN with a dense head
#
# > What happens if you replace the global average pooling by a fully connected layer
# > (number of parameters, input size)?
#
# Two readings of the question. Literally, we keep the last NiN block (10 channels at
# 5x5) and flatten it into a dense layer with 10 outputs. In the spirit of AlexNet, we
# drop the last block and put AlexNet's dense head on the 384x5x5 features.

# %%
def nin_dense(head):
    net = nin()
    if head == "literal":                                # 10x5x5 -> 10
        layers = list(net)[:-2] + [nn.Flatten(), nn.Linear(10 * 5 * 5, 10)]
    else:                                                # AlexNet's head on 384x5x5
        layers = list(net)[:-3] + [
            nn.Flatten(), nn.Linear(384 * 5 * 5, 4096), nn.ReLU(), nn.Dropout(p=0.5),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5), nn.Linear(4096, 10)]
    return nn.Sequential(*layers)


gap_net = build_meta(nin)
variants = {"global average pooling": gap_net,
            "literal dense layer": build_meta(nin_dense, "literal"),
            "AlexNet-style dense head": build_meta(nin_dense, "alexnet")}
for name, net in variants.items():
    extra = utils.num_params(net) - utils.num_params(gap_net)
    print(f"{name:<26}{utils.num_params(net):>12,} parameters ({extra:+,})")

# %%
extra = utils.num_params(variants["literal dense layer"]) - utils.num_params(gap_net)
assert extra == 250 * 10 + 10
assert utils.num_params(variants["AlexNet-style dense head"]) > 10 * utils.num_params(gap_net)

# %% [markdown]
# The literal replacement adds only a few thousand weights, because the last block has
# already reduced the features to 10 channels; the AlexNet-style head multiplies the size
# of the network many times over. Both dense versions lose one property of global
# average pooling: they fix the input size. At 96x96 the last feature map is 1x1, and
# only the pooled network still runs:

# %%
caught = None
gap_out = gap_net(meta_input(96))
try:
    variants["literal dense layer"](meta_input(96))
except RuntimeError as err:
    caught = err
assert gap_out.shape == (1, 10)
flat = variants["literal dense layer"][:-1](meta_input(96))   # everything but the Linear
assert caught is not None and "250" in str(caught)      # the wording differs by device
print("last feature map at 96x96:", tuple(gap_net[:-2](meta_input(96)).shape))
print("global average pooling at 96x96:", tuple(gap_out.shape))
print(f"dense layer at 96x96: {type(caught).__name__}, it expects 250 inputs and gets "
      f"{flat.shape[1]}")

# %% [markdown]
# Speed and accuracy: the dense head adds little arithmetic per image (a dense weight is
# used once, exercise 1), so the forward pass barely slows down; the many new weights are
# what make an AlexNet-style head prone to overfitting. That part is qualitative: a fair
# accuracy comparison would need full training at 224x224.
#
# ## 8. GoogLeNet: the cost of each Inception block
#
# > Compute the parameters of each Inception block. How much do the 1x1 reductions in
# > front of the 3x3 and 5x5 convolutions save? What is the smallest input GoogLeNet
# > accepts?
#
# The table lists every Inception block of GoogLeNet with its input and output channels,
# the parameters of each branch and of the block, and what the block would cost if the
# 3x3 and 5x5 convolutions read the block's input directly, without the 1x1 reduction.

# %%
goog = build_meta(googlenet)
blocks = [m for m in goog.modules() if isinstance(m, Inception)]
print(f"{'block':<6}{'in':>5}{'out':>6}{'branch 1':>10}{'branch 2':>10}{'branch 3':>10}"
      f"{'branch 4':>10}{'block':>11}{'no 1x1 red.':>13}")
savings = []
for i, blk in enumerate(blocks, start=1):
    c1, c2, c3, c4 = blk.config
    branch = [utils.num_params(b) for b in (blk.b1, blk.b2, blk.b3, blk.b4)]
    unreduced = (utils.num_params(blk.b1) + utils.num_params(blk.b4)
                 + utils.num_params(nn.Conv2d(blk.in_channels, c2[1], 3, device="meta"))
                 + utils.num_params(nn.Conv2d(blk.in_channels, c3[1], 5, device="meta")))
    savings.append(unreduced / utils.num_params(blk))
    print(f"{i:<6}{blk.in_channels:>5}{blk.out_channels:>6}"
          + "".join(f"{b:>10,}" for b in branch)
          + f"{utils.num_params(blk):>11,}{unreduced:>13,}")
    assert sum(branch) == utils.num_params(blk)
    assert blk.out_channels == c1 + c2[1] + c3[1] + c4
print(f"Inception blocks: {sum(utils.num_params(b) for b in blocks):,} of GoogLeNet's "
      f"{utils.num_params(goog):,} parameters")
print(f"without the reductions the blocks would be {min(savings):.1f}x to "
      f"{max(savings):.1f}x larger")

# %%
assert all(s > 1.5 for s in savings)
assert sum(utils.num_params(b) for b in blocks) > 0.9 * utils.num_params(goog)

# %% [markdown]
# The Inception blocks hold almost all of GoogLeNet's parameters, growing with depth as
# the channels do. The 1x1 reductions make every block cheaper, by the factors printed
# above: a 5x5 kernel that reads 832 channels directly is expensive, one that reads 32
# or 48 is not.
#
# The smallest input: every pooling of GoogLeNet pads by 1 and the head is a global
# average pooling, so no layer can run out of pixels. We try the smallest sizes:

# %%
smallest = next(s for s in range(1, 100) if accepts(goog, s))
for side in (smallest, 28, 96, 224):
    last_map = goog[2](goog[1](goog[0](meta_input(side))))      # before the last group
    print(f"{side:>3}x{side:<4} -> last feature map {tuple(last_map.shape[2:])}")
assert smallest == 1


# %% [markdown]
# GoogLeNet accepts even a 1x1 image. Accepting is not the same as working: at 28x28 the
# last groups compute on 1x1 maps, where 3x3 and 5x5 kernels see mostly padding. The
# next exercise adapts the network to small inputs instead.
#
# ## 9. A smaller GoogLeNet for Fashion-MNIST
#
# > GoogLeNet is too large for Fashion-MNIST. Reduce it, and make it work on 28x28 inputs.
#
# For 28x28 images the stem must not downsample by 4 at once, and three groups of
# blocks are too many for maps that small. Our version: a 3x3 stem with one 2x2 pooling
# (28 to 14), two Inception blocks at 14x14, a pooling to 7x7, one more block, and the
# usual global average pooling and dense layer. The channel numbers are about a quarter
# of the first blocks of GoogLeNet, with the same proportions between branches.

# %%
def googlenet_small(num_classes=10, in_channels=1):
    return nn.Sequential(
        nn.Conv2d(in_channels, 32, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=2),                                   # 28 -> 14
        Inception(32, 16, (24, 32), (4, 8), 8),                        # -> 64 channels
        Inception(64, 32, (32, 48), (8, 24), 16),                      # -> 120
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),              # 14 -> 7
        Inception(120, 48, (24, 52), (4, 12), 16),                     # -> 128
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(128, num_classes))


small_goog = build_meta(googlenet_small)
print(utils.layer_summary(small_goog, meta_input(28)))
small_macs = utils.count_macs(small_goog, (1, 28, 28))
goog_macs = utils.count_macs(goog, (1, 96, 96))
assert small_macs == flop_counter_macs(small_goog, meta_input(28))
print(f"small at 28x28: {utils.num_params(small_goog):,} parameters, {small_macs / 1e6:.1f} M "
      f"multiply-adds; GoogLeNet at 96x96: {utils.num_params(goog):,}, {goog_macs / 1e6:.0f} M")
print(f"{utils.num_params(goog) / utils.num_params(small_goog):.0f}x fewer parameters, "
      f"{goog_macs / small_macs:.0f}x less arithmetic")

# %%
assert small_goog(meta_input(28)).shape == (1, 10)
assert utils.num_params(small_goog) < utils.num_params(goog) / 20 and small_macs < goog_macs / 20

# %% [markdown]
# The small version keeps the Inception idea (parallel 1x1, 3x3, 5x5 and pooling branches
# concatenated) at a size a CPU can train. We do not train it here: exercise 12 spends
# this notebook's training budget on another question, and the chapter's training cell
# shows the recipe (replace `densenet(**config)` by `googlenet_small()`). Adding batch
# normalisation after each convolution, as the later Inception versions did, would make
# it train faster.
#
# ## 10. DenseNet: fewer parameters than ResNet, more activations
#
# > Why does DenseNet have fewer parameters than ResNet? DenseNet is criticised for its
# > memory use: how do the activations grow with the depth of a dense block?
#
# In a residual network every layer outputs the full width of its stage, because the
# addition needs matching shapes: ResNet-18's last stage has 3x3 convolutions from 512
# to 512 channels (the weights of the largest are counted below). In a dense block every
# layer outputs only the growth rate's $k$ channels, since all earlier features stay
# available through the concatenation and need not be carried forward by the weights.
# The largest convolution of each network:

# %%
resnet = build_meta(utils.resnet18)
dense = build_meta(densenet)
for name, net in (("ResNet-18", resnet), ("DenseNet", dense)):
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    biggest = max(convs, key=utils.num_params)
    print(f"{name:<10} {utils.num_params(net):>11,} parameters; largest convolution "
          f"{biggest.in_channels}->{biggest.out_channels} {biggest.kernel_size[0]}x"
          f"{biggest.kernel_size[1]}: {utils.num_params(biggest):>9,}")
    if name == "DenseNet":
        assert all(m.out_channels <= 32 for m in convs if m.kernel_size == (3, 3))
assert utils.num_params(dense) < utils.num_params(resnet) / 10


# %% [markdown]
# The memory is another matter. Layer $i$ of a dense block (counting from 0) reads a
# tensor of $c_0 + i k$ channels, and in a straightforward implementation each
# `torch.cat` creates a new such tensor, which training must keep for the backward pass.
# For a block of $L$ layers on $h \times w$ maps, the stored inputs add up to
#
# $$h w \sum_{i=0}^{L-1} (c_0 + i k) = h w \left(L c_0 + k \frac{L(L-1)}{2}\right),$$
#
# which grows with the square of the depth. We measure it with forward hooks that record
# the size of every layer's input, for blocks of 1 to 12 layers at 24x24 (the first block
# of the DenseNet at 96x96):

# %%
def stored_inputs(num_convs, c0=64, k=32, side=24):
    """Values in the inputs of the layers of a dense block, measured with hooks."""
    blk = build_meta(DenseBlock, num_convs, c0, k)
    sizes = []
    handles = [layer.register_forward_hook(lambda m, inp, out: sizes.append(inp[0].numel()))
               for layer in blk.convs]
    with torch.no_grad():
        blk(torch.zeros(1, c0, side, side, device="meta"))
    for h in handles:
        h.remove()
    return sum(sizes)


depths = range(1, 13)
measured = [stored_inputs(L) for L in depths]
formula = [24 * 24 * (L * 64 + 32 * L * (L - 1) // 2) for L in depths]
second_diff = {measured[i + 2] - 2 * measured[i + 1] + measured[i] for i in range(10)}
for L in (1, 2, 4, 8, 12):
    print(f"{L:>2} layers: {measured[L - 1]:>9,} stored input values per image")
print("second differences:", sorted(second_diff), "= k*h*w =", 32 * 24 * 24)

# %%
assert measured == formula
assert second_diff == {32 * 24 * 24}                    # constant: quadratic growth


# %% [markdown]
# The second difference is constant, so the growth is quadratic, while a residual stage
# of the same depth stores a constant-size tensor per layer. Over a whole network the
# difference shows in the ratio of activations to parameters. We count the output values
# of every layer (every module without children) for one 224x224 image:

# %%
def activation_values(net, side=224):
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        total += output.numel()

    handles = [m.register_forward_hook(hook) for m in net.modules()
               if not list(m.children())]
    with torch.no_grad():
        net(meta_input(side))
    for h in handles:
        h.remove()
    return total


acts = {name: activation_values(net) for name, net in (("ResNet-18", resnet),
                                                         ("DenseNet", dense))}
for name, net in (("ResNet-18", resnet), ("DenseNet", dense)):
    print(f"{name:<10} {acts[name] / 1e6:6.1f} M activation values per image, "
          f"{acts[name] / utils.num_params(net):5.1f} per parameter")
assert acts["DenseNet"] > acts["ResNet-18"]
assert acts["DenseNet"] / utils.num_params(dense) > 5 * acts["ResNet-18"] / utils.num_params(resnet)


# %% [markdown]
# (This count leaves out the tensors that `torch.cat` creates, since a concatenation is
# not a module, so it understates DenseNet's share.) DenseNet stores more activation
# values than ResNet-18 even in absolute terms, with a fraction of its parameters; per
# parameter, the ratio printed is many times larger. That is why it needs more memory in
# training than its small size suggests. The way out is not to keep the concatenations:
# memory-efficient implementations recompute them (and the batch norms that read them)
# during the backward pass, trading arithmetic for memory; torchvision's DenseNets do
# this with `memory_efficient=True`, which uses `torch.utils.checkpoint`.
#
# ## 11. DenseNet-121, -169, -201 and -264
#
# > Implement the DenseNet versions of Table 1 of the DenseNet paper.
#
# The ImageNet DenseNets are "DenseNet-BC": each layer of a dense block is a
# **bottleneck**, a 1x1 convolution to $4k$ channels before the 3x3 convolution (the "B"),
# and each transition halves the channels (the "C", compression 0.5). The stem has $2k$
# channels and the growth rate is $k = 32$; the four dense blocks have 6, 12, then 24, 32,
# 48 or 64, and 16, 32, 32 or 48 layers. We reuse `DenseBlock` with a bottleneck layer
# and compare the parameter counts with torchvision's models, where they exist.

# %%
def bottleneck_layer(in_channels, growth_rate):
    return nn.Sequential(
        nn.BatchNorm2d(in_channels), nn.ReLU(),
        nn.Conv2d(in_channels, 4 * growth_rate, kernel_size=1, bias=False),
        nn.BatchNorm2d(4 * growth_rate), nn.ReLU(),
        nn.Conv2d(4 * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False))


def densenet_bc(block_sizes, growth_rate=32, num_classes=1000, in_channels=3):
    num_channels = 2 * growth_rate
    layers = [nn.Conv2d(in_channels, num_channels, kernel_size=7, stride=2, padding=3,
                        bias=False),
              nn.BatchNorm2d(num_channels), nn.ReLU(),
              nn.MaxPool2d(kernel_size=3, stride=2, padding=1)]
    for i, num_convs in enumerate(block_sizes):
        block = DenseBlock(num_convs, num_channels, growth_rate, bottleneck_layer)
        layers.append(block)
        num_channels = block.out_channels
        if i < len(block_sizes) - 1:
            layers.append(transition_block(num_channels, num_channels // 2))
            num_channels //= 2
    layers += [nn.BatchNorm2d(num_channels), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)),
               nn.Flatten(), nn.Linear(num_channels, num_classes)]
    return nn.Sequential(*layers)


table1 = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32),
          264: (6, 12, 64, 48)}
print(f"{'network':<14}{'weighted':>9}{'parameters':>13}{'torchvision':>13}{'GMACs':>7}"
      f"{'Fashion-MNIST':>15}")
bc_params = {}
for depth, sizes in table1.items():
    net = build_meta(densenet_bc, sizes)
    layers = sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in net.modules())
    transitions = len(sizes) - 1                       # their 1x1 convs are counted too
    gmacs = utils.count_macs(net, (3, 224, 224)) / 1e9
    small = utils.num_params(build_meta(densenet_bc, sizes, num_classes=10, in_channels=1))
    tv = "-"
    if hasattr(torchvision.models, f"densenet{depth}"):
        with torch.device("meta"):
            theirs = getattr(torchvision.models, f"densenet{depth}")(weights=None)
        assert utils.num_params(theirs) == utils.num_params(net)
        tv = f"{utils.num_params(theirs):,}"
    print(f"DenseNet-{depth:<5}{layers:>9}{utils.num_params(net):>13,}{tv:>13}{gmacs:>7.2f}"
          f"{small:>15,}")
    assert layers == (depth if depth != 264 else 265)    # see the text below
    assert transitions == 3
    bc_params[depth] = utils.num_params(net)
resnet18_imagenet = utils.num_params(build_meta(utils.resnet18, num_classes=1000, in_channels=3))
print(f"ResNet-18 for ImageNet: {resnet18_imagenet:,} parameters")
assert bc_params[121] < resnet18_imagenet

# %% [markdown]
# Counting two weighted layers per bottleneck layer, one per transition, the stem and
# the classifier, DenseNet-121, -169 and -201 have as many weighted layers as their
# names say, and they match torchvision's parameter counts exactly. The configuration of
# "DenseNet-264" gives 265 by the same count ($2 \times 130 + 3 + 2$): the name is one
# off. torchvision has no DenseNet-264 to compare with. The last column is the same
# network for one-channel images and ten classes: the classifier shrinks, the rest does
# not. With 121 layers, DenseNet-121 still has fewer parameters than the 18-layer
# ResNet, as the last line shows.
#
# ## 12. Average or max pooling in the transition layer?
#
# > Why does the transition layer use average pooling rather than max pooling?
#
# Two reasons can be checked without training. First, average pooling is linear, so it
# commutes with the 1x1 convolution in front of it: pooling first gives the same result
# with a quarter of the convolution's arithmetic (some implementations exploit this).
# Max pooling does not commute with it. Second, average pooling passes a gradient to
# every input pixel, max pooling to one in four, so every feature of every position
# stays trained.

# %%
torch.manual_seed(0)
conv = nn.Conv2d(16, 8, kernel_size=1, bias=False)
X = torch.randn(2, 16, 8, 8, requires_grad=True)
avg, mx = nn.AvgPool2d(2), nn.MaxPool2d(2)
avg_commutes = torch.allclose(avg(conv(X)), conv(avg(X)), atol=1e-6)
max_commutes = torch.allclose(mx(conv(X)), conv(mx(X)), atol=1e-6)
print("avg pool and 1x1 conv commute:", avg_commutes)
print("max pool and 1x1 conv commute:", max_commutes)
shares = {}
for name, pool in (("average", avg), ("max", mx)):
    X.grad = None
    pool(X).sum().backward()
    shares[name] = (X.grad != 0).float().mean().item()
    print(f"{name} pooling: gradient reaches {shares[name]:.0%} of the inputs")

# %%
assert avg_commutes and not max_commutes
assert shares["average"] == 1.0 and shares["max"] == 0.25

# %% [markdown]
# Does it matter for accuracy? We train the DenseNet of the chapter's training section
# twice (in the quick profile the small one on 28x28 images, in the full profile the
# one traced in the chapter, at 96x96), from the same initial weights and on the same
# batches: once as it is and once with max pooling in its transition layers. The budget:

# %%
budget = profile.budget("classic_exercise")
print(budget.describe())
config = dict(budget.model)          # as in the chapter; empty: the default DenseNet
print("DenseNet configuration:", config or "the default (as traced in the chapter)")


def make_densenet(pool):
    utils.seed_everything(0)
    net = densenet(**config)
    if pool == "max":
        for layer in net:
            if isinstance(layer, nn.Sequential) and isinstance(layer[-1], nn.AvgPool2d):
                layer[-1] = nn.MaxPool2d(kernel_size=2, stride=2)
    return net


train_iter, test_iter = utils.load_fashion_mnist(
    budget.batch_size, resize=budget.resize, device=device,
    train_size=budget.train_size, test_size=budget.test_size)
nets = {pool: make_densenet(pool) for pool in ("average", "max")}
num_transitions = len(config.get("block_sizes", (4, 4, 4, 4))) - 1
assert sum(isinstance(m, nn.AvgPool2d) for m in nets["average"].modules()) == num_transitions
assert not any(isinstance(m, nn.AvgPool2d) for m in nets["max"].modules())
torch.testing.assert_close(nets["average"][0][0].weight, nets["max"][0][0].weight)

# %%
# NBVAL_IGNORE_OUTPUT
histories = {}
for pool, net in nets.items():
    optimizer = torch.optim.SGD(net.parameters(), lr=budget.lr, momentum=0.9)
    histories[pool] = utils.train(net, train_iter, test_iter, budget.num_epochs,
                                  device=device, optimizer=optimizer, plot=False)

# %%
for pool, history in histories.items():
    assert len(history) == budget.num_epochs
    assert history.last["train_loss"] < history[0]["train_loss"]
    assert history.last["test_acc"] > 0.5, (pool, history.last)

# %%
# NBVAL_IGNORE_OUTPUT
for pool, history in histories.items():
    print(f"{pool} pooling: final test accuracy {history.last['test_acc']:.3f}, "
          f"train loss {history.last['train_loss']:.3f}")
diff = histories["max"].last["test_acc"] - histories["average"].last["test_acc"]
print(f"difference (max - average): {diff:+.3f}")
utils.compare_histories({f"{pool} pooling": h for pool, h in histories.items()},
                        metric="test_acc", title="test accuracy, transition pooling")

# %% [markdown]
# Both variants learn (the assert above checks it). The difference printed above is one
# sample from two short runs on a few thousand images, with one seed. We have not
# measured how much it changes from seed to seed, so we cannot tell it apart from
# run-to-run noise and do not read a winner off it. Separating the two needs several
# seeds and a longer budget; the full profile (`CNNBOOK_PROFILE=full`)
# runs the comparison on all the training images at 96x96, which wants a GPU. The
# reasons that do hold are the two checked above: average pooling is linear, so it
# commutes with the 1x1 convolution, and it keeps every input in the gradient.
