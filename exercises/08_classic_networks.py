# %% [markdown]
# # The Classic Family: Exercises
#
# Worked answers to the exercises of the chapter on
# [AlexNet, VGG, NiN, GoogLeNet and DenseNet](../chapters/08_classic_networks.ipynb).
# Most of the questions are about cost: where the parameters, the activations and the
# arithmetic of a network go. We answer them by counting, on PyTorch's meta device, so
# that even the largest networks cost nothing to inspect; every fact that can be checked
# is checked by an `assert`. The exercises that train follow the book's protocol:
# learning rates chosen on a validation split, several seeds, the test set scored once,
# and conclusions computed from the statistics.
#
# **What you'll practise**
#
# - breaking a network's parameters, activations and multiply-adds down layer by layer;
# - checking architectures against published parameter counts and torchvision's models;
# - reasoning about receptive fields, 1x1 convolutions and bottlenecks with numbers;
# - running a small, honest training comparison and reading what it can and cannot show.

# %% tags=["hide-input"]
# Setup: make the book's `utils` importable, locally and on Colab.
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
from sklearn.datasets import load_diabetes
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
# The networks are the chapter's, imported from `utils` (the chapter writes each one out
# and asserts that its version and `utils`' agree). Short names for them:

# %%
alexnet, vgg, VGG11, nin = utils.alexnet, utils.vgg, utils.VGG11, utils.nin
Inception, googlenet = utils.Inception, utils.googlenet
DenseBlock, transition_block, densenet = utils.DenseBlock, utils.transition_block, utils.densenet


# %% [markdown]
# ## 1. AlexNet: where do the memory and the compute go?
#
# > Analyse the computational properties of AlexNet. Compute the memory footprint of the
# > convolutional and the fully connected layers: which one dominates? Calculate the
# > computational cost of each. How do memory size and bandwidth affect computation, in
# > training and in inference?
#
# :::{admonition} Answer
# :class: dropdown
# Two kinds of memory matter. **Parameters** are stored once, whatever the batch size.
# **Activations**, the outputs of every layer, are stored per image: training keeps them
# all for the backward pass. We walk one 224x224 image through AlexNet's layers and
# record, per layer, its parameters, the values it outputs and its multiply-adds.
# :::

# %% tags=["hide-input"]
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
# :::{admonition} Answer, continued
# :class: dropdown
# Now sum by part: the convolutional body (everything up to `Flatten`) and the dense
# head (everything after). Memory is in megabytes of 32-bit floats.
# :::

# %% tags=["hide-input"]
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

# %% tags=["hide-input"]
body, head = totals["conv body"], totals["dense head"]
assert head[0] > 0.9 * all_params                    # the dense layers hold the weights
assert body[1] > 0.9 * all_acts                      # the convolutions hold the activations
assert body[2] > 0.9 * all_macs                      # ... and do the arithmetic

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The two parts are mirror images. The dense head holds over nine tenths of the weights
# but does a small share of the arithmetic and produces almost no activations; the
# convolutional body does nearly all the arithmetic and produces nearly all the
# activations with few weights. That answers the first two questions.
#
# Memory in training grows with the batch: every image brings its own activations.
# The batch size at which the stored activations outweigh the parameters:
# :::

# %% tags=["hide-input"]
break_even = all_params / all_acts
print(f"activations per image: {all_acts * MB:.1f} MB; parameters: {all_params * MB:.0f} MB")
print(f"activations outweigh the parameters from a batch of about {break_even:.0f} images")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# (Training also keeps a gradient per parameter, and SGD with momentum or Adam one or two
# more buffers of the same size; ReLUs that work in place and recomputation can cut the
# stored activations. The order of magnitude above is what matters.)
#
# Bandwidth is the third question. A weight must be read from memory before it can be
# used; the useful measure is how many multiply-adds a layer does per weight it reads.
# Per image, that is (counting the biases as parameters, which rounds the dense layers'
# ratio just below 1):
# :::

# %% tags=["hide-input"]
for name, params, _, macs in alex_rows:
    if params:
        print(f"{name:<16} {macs / params:>7.0f} multiply-adds per parameter per image")

# %% tags=["hide-input"]
weighted = [(name, macs / params) for name, params, acts, macs in alex_rows if params]
assert all(0.99 < r <= 1 for name, r in weighted if "Linear" in name)   # biases: < 1
assert all(r > 100 for name, r in weighted if "Conv2d" in name)


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# A dense layer uses each weight exactly once per image: with one image at a time
# (inference on a phone, say) it does one multiply-add per 4 bytes read, and the memory
# bandwidth, not the arithmetic units, sets its speed. Batching fixes that, because a
# batch of $b$ images reuses every weight $b$ times; training always uses batches, so
# the dense head is then cheap in time but still dominates the memory for weights. The
# convolutions reuse each weight at every output position, hundreds of times per image,
# and are limited by arithmetic. This last part of the answer is reasoning from the
# numbers above, not a timing measurement.
# :::
#
# ## 2. AlexNet on small images
#
# > AlexNet may be too complex for Fashion-MNIST, in particular because of the low
# > resolution of the images. What input sizes can it take?
#
# :::{admonition} Answer
# :class: dropdown
# The first dense layer expects exactly $256 \times 5 \times 5 = 6400$ inputs, so only
# input sizes whose last feature map is 5x5 work. We try every size from 28 to 256 on the
# meta device and keep those that run:
# :::

# %% tags=["hide-input"]
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

# %% tags=["hide-input"]
assert 224 in alex_ok and alex_ok == list(range(min(alex_ok), max(alex_ok) + 1))
assert len(alex_ok) < 40 and 28 not in alex_ok
assert nin_ok == [s for s in sizes if s >= min(nin_ok)]

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# AlexNet accepts only a narrow band of sizes around 224, because its dense head fixes the
# size of the last feature map. NiN, which ends in global average pooling, accepts every
# size above a minimum set by its strides and poolings. For 28x28 images the natural
# answer is a network designed for them, with a gentle stem (3x3 kernels, little
# downsampling) and a global-average-pooling head: exercise 9 designs one in the
# GoogLeNet style, and the chapter trains small versions of all five families on 28x28.
# :::
#
# ## 3. VGG: where are the eleven layers, and VGG-13, -16 and -19
#
# > The trace of VGG-11 shows only eight blocks (plus a few auxiliary lines), although
# > the network has 11 layers. Where did the remaining layers go? Use Table 1 of the VGG
# > paper to build VGG-13, VGG-16 and VGG-19.
#
# :::{admonition} Answer
# :class: dropdown
# The trace lists the *children* of the top-level `nn.Sequential`: five VGG blocks, the
# flatten, and the head's layers. The eight convolutions sit inside the five blocks.
# Counting modules by type finds all eleven weighted layers:
# :::

# %% tags=["hide-input"]
vgg11 = build_meta(vgg)
convs = sum(isinstance(m, nn.Conv2d) for m in vgg11.modules())
denses = sum(isinstance(m, nn.Linear) for m in vgg11.modules())
print(f"top-level children: {len(list(vgg11.children()))}; "
      f"Conv2d: {convs}, Linear: {denses}, weighted layers: {convs + denses}")
assert (convs, denses) == (8, 3)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Table 1 of the paper {cite}`simonyan2014very` gives the configurations as numbers of
# 3x3 convolutions per block (configuration C, with 1x1 convolutions, is left out).
# We build each at ImageNet scale (three channels, 1000 classes) and compare its
# parameter count with torchvision's model of the same name, built on the meta device
# too, and with Table 2 of the paper, which gives the counts in millions.
# :::

# %% tags=["hide-input"]
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
# :::{admonition} Answer, continued
# :class: dropdown
# Each network has as many weighted layers as its name says, the same number of
# parameters as torchvision's, and the count of the paper. Going from 11 to 19 layers
# adds few parameters (the extra 3x3 convolutions are small next to the dense head)
# but more than doubles the arithmetic, printed in the last column.
# :::
#
# ## 4. VGG with a quarter of the channels
#
# > Divide the number of channels of every convolution in VGG-11 by 4. By what factor do
# > the parameters and the multiply-adds shrink?
#
# :::{admonition} Answer
# :class: dropdown
# A convolution has $c_\text{in} \times c_\text{out} \times 9$ weights and does that many
# multiply-adds per output pixel. Dividing both channel numbers by 4 divides that by 16,
# except in the first layer, whose single input channel stays. The dense head is not
# touched, except that its first layer gets a quarter of the inputs.
# :::

# %% tags=["hide-input"]
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

# %% tags=["hide-input"]
conv_param_factor = full_costs[0] / small_costs[0]
conv_mac_factor = full_costs[1] / small_costs[1]
net_mac_factor = sum(full_costs[1::2]) / sum(small_costs[1::2])
kept_params = small_params / full_params
print(f"whole network: {net_mac_factor:.1f}x fewer multiply-adds, "
      f"{kept_params:.2f} of the parameters kept")
assert 15 < conv_param_factor <= 16 and 15 < conv_mac_factor <= 16
assert 14 < net_mac_factor < 15.5                    # the dense head's arithmetic stays
assert 0.3 < kept_params < 0.37                      # about a third of the parameters

# %% tags=["hide-input", "nbval-ignore-output"]
utils.glue("vgg_quarter_mac_factor", net_mac_factor)
utils.glue("vgg_quarter_kept_params", kept_params)


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The convolutions shrink by almost exactly 16 in both parameters and arithmetic (a bit
# less, because of the first layer and the biases). The whole network does
# <span data-glue="vgg_quarter_mac_factor:.1f">14.7</span> times fewer multiply-adds per image, a little
# under 16 because the dense head's arithmetic shrinks less (only its first layer, by 4).
# Its parameters shrink far less: the narrow network keeps
# <span data-glue="vgg_quarter_kept_params:.2f">0.33</span> of them, about a third, because most of
# VGG-11's parameters sit in the dense head, whose first layer shrank by 4 and whose
# other layers did not change. Thinning the convolutions cuts the arithmetic; to cut the
# parameters, the dense head has to go, which is exactly NiN's move.
# :::
#
# ## 5. Why stacks of 3x3 convolutions?
#
# > Two 3x3 convolutions in a row see a 5x5 window of the input. Check this, and compare
# > the number of parameters with one 5x5 convolution.
#
# :::{admonition} Answer
# :class: dropdown
# The receptive field of an output pixel is the set of input pixels it depends on, which
# is where its gradient with respect to the input is nonzero. We use positive weights
# and a positive input, so that no ReLU is inactive and no terms cancel.
# :::

# %% tags=["hide-input"]
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
# :::{admonition} Answer, continued
# :class: dropdown
# Two 3x3 layers see the same 5x5 window as one 5x5 layer, with $18c^2$ instead of $25c^2$
# weights; three 3x3 layers see a 7x7 window with $27c^2$ instead of $49c^2$. The
# multiply-adds per output pixel scale the same way. On top of that, each layer of the
# stack brings a ReLU, so the stack is a more expressive function than one linear
# filter of the same size.
# :::
#
# ## 6. NiN: why two 1x1 convolutions per block?
#
# > Why are there two 1x1 convolutions per NiN block? Increase their number to three,
# > reduce it to one. What changes? And what if the 1x1 convolutions become 3x3?
#
# :::{admonition} Answer
# :class: dropdown
# With no 1x1 convolution a block is a single convolution: a linear filter followed by a
# ReLU. Each 1x1 convolution adds a hidden layer to the per-pixel MLP: with one, the
# block computes a one-hidden-layer MLP of each local patch; with two, a deeper one. The
# cost of each extra 1x1 convolution per block is $c^2 + c$ parameters for a block with
# $c$ output channels, and $c^2$ multiply-adds per output pixel:
# :::

# %% tags=["hide-input"]
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

# %% tags=["hide-input"]
assert all(nin_params[n + 1] - nin_params[n] == per_extra for n in range(3))
assert nin_params[2] - nin_params[0] < nin_params[0] / 3


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The parameter cost of a 1x1 layer is small next to the block's first convolution (in
# the chapter's NiN, two 1x1 layers per block add less than a third to the parameters
# of the blocks without them, as the table shows). What the extra layers buy is
# nonlinearity per position. Whether a third one helps accuracy is an empirical question
# that needs full training at 224x224; we do not answer it here (it is beyond a CPU
# budget). The NiN paper used two {cite}`lin2013network`.
#
# Replacing the 1x1 convolutions by 3x3 ones (with padding 1, to keep the sizes)
# multiplies their weights and their arithmetic by 9:
# :::

# %% tags=["hide-input"]
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
# :::{admonition} Answer, continued
# :class: dropdown
# The replaced layers grow almost 9 times (their biases do not grow), the whole network
# by the smaller factor printed, and each block sees a wider window:
# it is no longer a per-pixel MLP but three stacked spatial convolutions, closer to VGG.
# :::
#
# ## 7. NiN with a dense head
#
# > What happens if you replace the global average pooling by a fully connected layer
# > (number of parameters, input size)?
#
# :::{admonition} Answer
# :class: dropdown
# Two readings of the question. Literally, we keep the last NiN block (10 channels at
# 5x5) and flatten it into a dense layer with 10 outputs. In the spirit of AlexNet, we
# drop the last block and put AlexNet's dense head on the 384x5x5 features.
# :::

# %% tags=["hide-input"]
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

# %% tags=["hide-input"]
extra = utils.num_params(variants["literal dense layer"]) - utils.num_params(gap_net)
assert extra == 250 * 10 + 10
assert utils.num_params(variants["AlexNet-style dense head"]) > 10 * utils.num_params(gap_net)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The literal replacement adds only a few thousand weights, because the last block has
# already reduced the features to 10 channels; the AlexNet-style head multiplies the size
# of the network many times over. Both dense versions lose one property of global
# average pooling: they fix the input size. At 96x96 the last feature map is 1x1, and
# only the pooled network still runs:
# :::

# %% tags=["hide-input"]
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
# :::{admonition} Answer, continued
# :class: dropdown
# Speed and accuracy: the dense head adds little arithmetic per image (a dense weight is
# used once, exercise 1), so the forward pass barely slows down; the many new weights are
# what make an AlexNet-style head prone to overfitting. That part is qualitative: a fair
# accuracy comparison would need full training at 224x224.
# :::
#
# ## 8. GoogLeNet: the cost of each Inception block
#
# > Compute the parameters of each Inception block. How much do the 1x1 reductions in
# > front of the 3x3 and 5x5 convolutions save? What is the smallest input GoogLeNet
# > accepts?
#
# :::{admonition} Answer
# :class: dropdown
# The table lists every Inception block of GoogLeNet with its input and output channels,
# the parameters of each branch and of the block, and what the block would cost if the
# 3x3 and 5x5 convolutions read the block's input directly, without the 1x1 reduction.
# :::

# %% tags=["hide-input"]
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

# %% tags=["hide-input"]
assert all(s > 1.5 for s in savings)
assert sum(utils.num_params(b) for b in blocks) > 0.9 * utils.num_params(goog)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The Inception blocks hold almost all of GoogLeNet's parameters, growing with depth as
# the channels do. The 1x1 reductions make every block cheaper, by the factors printed
# above: a 5x5 kernel that reads 832 channels directly is expensive, one that reads 32
# or 48 is not.
#
# The smallest input: every pooling of GoogLeNet pads by 1 and the head is a global
# average pooling, so no layer can run out of pixels. We try the smallest sizes:
# :::

# %% tags=["hide-input"]
smallest = next(s for s in range(1, 100) if accepts(goog, s))
for side in (smallest, 28, 96, 224):
    last_map = goog[2](goog[1](goog[0](meta_input(side))))      # before the last group
    print(f"{side:>3}x{side:<4} -> last feature map {tuple(last_map.shape[2:])}")
assert smallest == 1


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# GoogLeNet accepts even a 1x1 image. Accepting is not the same as working: at 28x28 the
# last groups compute on 1x1 maps, where 3x3 and 5x5 kernels see mostly padding. The
# next exercise adapts the network to small inputs instead.
# :::
#
# ## 9. A smaller GoogLeNet for Fashion-MNIST
#
# > GoogLeNet is too large for Fashion-MNIST. Reduce it, and make it work on 28x28 inputs.
#
# :::{admonition} Answer
# :class: dropdown
# For 28x28 images the stem must not downsample by 4 at once, and three groups of
# blocks are too many for maps that small. Our version: a 3x3 stem with one 2x2 pooling
# (28 to 14), two Inception blocks at 14x14, a pooling to 7x7, one more block, and the
# usual global average pooling and dense layer. The channel numbers are about a quarter
# of the first blocks of GoogLeNet, with the same proportions between branches. This
# design is `utils.googlenet_small` (its code is in `utils/classic.py`), which the
# chapter trains at half these widths; its trace:
# :::

# %% tags=["hide-input"]
googlenet_small = utils.googlenet_small
small_goog = build_meta(googlenet_small)
print(utils.layer_summary(small_goog, meta_input(28)))
small_macs = utils.count_macs(small_goog, (1, 28, 28))
goog_macs = utils.count_macs(goog, (1, 96, 96))
assert small_macs == flop_counter_macs(small_goog, meta_input(28))
print(f"small at 28x28: {utils.num_params(small_goog):,} parameters, {small_macs / 1e6:.1f} M "
      f"multiply-adds; GoogLeNet at 96x96: {utils.num_params(goog):,}, {goog_macs / 1e6:.0f} M")
print(f"{utils.num_params(goog) / utils.num_params(small_goog):.0f}x fewer parameters, "
      f"{goog_macs / small_macs:.0f}x less arithmetic")

# %% tags=["hide-input"]
assert small_goog(meta_input(28)).shape == (1, 10)
assert utils.num_params(small_goog) < utils.num_params(goog) / 20 and small_macs < goog_macs / 20

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The small version keeps the Inception idea (parallel 1x1, 3x3, 5x5 and pooling branches
# concatenated) at a size a CPU can train; the chapter's comparison of the five families
# trains it (with `divisor=2`) from several seeds.
# :::
#
# ## 10. DenseNet: fewer parameters than ResNet, more activations
#
# > Why does DenseNet have fewer parameters than ResNet? DenseNet is criticised for its
# > memory use: how do the activations grow with the depth of a dense block?
#
# :::{admonition} Answer
# :class: dropdown
# In a residual network every layer outputs the full width of its stage, because the
# addition needs matching shapes: ResNet-18's last stage has 3x3 convolutions from 512
# to 512 channels (the weights of the largest are counted below). In a dense block every
# layer outputs only the growth rate's $k$ channels, since all earlier features stay
# available through the concatenation and need not be carried forward by the weights.
# The largest convolution of each network:
# :::

# %% tags=["hide-input"]
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
# :::{admonition} Answer, continued
# :class: dropdown
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
# :::

# %% tags=["hide-input"]
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

# %% tags=["hide-input"]
assert measured == formula
assert second_diff == {32 * 24 * 24}                    # constant: quadratic growth


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The second difference is constant, so the growth is quadratic, while a residual stage
# of the same depth stores a constant-size tensor per layer. Over a whole network the
# difference shows in the ratio of activations to parameters. We count the output values
# of every layer (every module without children) for one 224x224 image:
# :::

# %% tags=["hide-input"]
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
# :::{admonition} Answer, continued
# :class: dropdown
# (This count leaves out the tensors that `torch.cat` creates, since a concatenation is
# not a module, so it understates DenseNet's share.) DenseNet stores more activation
# values than ResNet-18 even in absolute terms, with a fraction of its parameters; per
# parameter, the ratio printed is many times larger. That is why it needs more memory in
# training than its small size suggests. The way out is not to keep the concatenations:
# memory-efficient implementations recompute them (and the batch norms that read them)
# during the backward pass, trading arithmetic for memory; torchvision's DenseNets do
# this with `memory_efficient=True`, which uses `torch.utils.checkpoint`.
# :::
#
# ## 11. DenseNet-121, -169, -201 and -264
#
# > Implement the DenseNet versions of Table 1 of the DenseNet paper.
#
# :::{admonition} Answer
# :class: dropdown
# The ImageNet DenseNets are "DenseNet-BC": each layer of a dense block is a
# **bottleneck**, a 1x1 convolution to $4k$ channels before the 3x3 convolution (the "B"),
# and each transition halves the channels (the "C", compression 0.5). The stem has $2k$
# channels and the growth rate is $k = 32$; the four dense blocks have 6, 12, then 24, 32,
# 48 or 64, and 16, 32, 32 or 48 layers. We reuse `DenseBlock` with a bottleneck layer
# and compare the parameter counts with torchvision's models, where they exist.
# :::

# %% tags=["hide-input"]
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
# :::{admonition} Answer, continued
# :class: dropdown
# Counting two weighted layers per bottleneck layer, one per transition, the stem and
# the classifier, DenseNet-121, -169 and -201 have as many weighted layers as their
# names say, and they match torchvision's parameter counts exactly. The configuration of
# "DenseNet-264" gives 265 by the same count ($2 \times 130 + 3 + 2$): the name is one
# off. torchvision has no DenseNet-264 to compare with. The last column is the same
# network for one-channel images and ten classes: the classifier shrinks, the rest does
# not. With 121 layers, DenseNet-121 still has fewer parameters than the 18-layer
# ResNet, as the last line shows.
# :::
#
# ## 12. Average or max pooling in the transition layer?
#
# > Why does the transition layer use average pooling rather than max pooling?
#
# :::{admonition} Answer
# :class: dropdown
# Two reasons can be checked without training. First, average pooling is linear, so it
# commutes with the 1x1 convolution in front of it: pooling first gives the same result
# with a quarter of the convolution's arithmetic (some implementations exploit this).
# Max pooling does not commute with it. Second, average pooling passes a gradient to
# every input pixel, max pooling to one in four, so every feature of every position
# stays trained.
# :::

# %% tags=["hide-input"]
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

# %% tags=["hide-input"]
assert avg_commutes and not max_commutes
assert shares["average"] == 1.0 and shares["max"] == 0.25

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Does it matter for accuracy? That is a measurement, made by the book's protocol: the
# DenseNet that the chapter trains (in the quick profile the small one, on 28x28 images)
# once as it is and once with max pooling in its transition layers, one difference.
# Each variant gets its learning rate from `utils.sweep` (Adam, two rates a factor of 3
# apart, every seed, one more rate beyond an edge choice), the test set is scored once,
# on the chosen runs, and `utils.gain` pairs the two by seed. The other training
# experiments of this notebook run the same way. The budget (a short one: this
# compares the two poolings early in training, not at convergence):
# :::

# %% tags=["hide-input"]
budget = profile.budget("classic_exercise_compare")
print(f"profile {profile.name!r}:", budget.describe())
print("seeds:", profile.seeds)
config = dict(budget.model)          # the chapter's DenseNet for this profile
train_iter, val_iter, test_iter = utils.load_fashion_mnist(
    budget.batch_size, device=device, train_size=budget.train_size,
    val_size=budget.val_size, test_size=budget.test_size)


GRID = (0.001, 0.003)   # Adam; utils.sweep adds a rate beyond an edge choice


def chosen(sweeps, test_data):
    """Print each sweep's choice, score its chosen runs on the test set once, return them."""
    for sw in sweeps.values():
        print(sw.describe())
        sw.best.score("test", test_data)
    return {name: sw.best for name, sw in sweeps.items()}


def with_max_pooling(net):
    for layer in net:
        if isinstance(layer, nn.Sequential) and isinstance(layer[-1], nn.AvgPool2d):
            layer[-1] = nn.MaxPool2d(kernel_size=2, stride=2)
    return net


pooling_makes = {"average pooling": lambda: densenet(**config),
                 "max pooling": lambda: with_max_pooling(densenet(**config))}
num_transitions = len(config.get("block_sizes", (4, 4, 4, 4))) - 1
assert sum(isinstance(m, nn.AvgPool2d) for m in pooling_makes["average pooling"]().modules()) \
    == num_transitions
assert not any(isinstance(m, nn.AvgPool2d) for m in pooling_makes["max pooling"]().modules())

# %% tags=["hide-input", "nbval-ignore-output"]
pool_sweeps = {name: utils.sweep(make, train_iter, val_iter, budget.num_epochs, GRID,
                                 name=name, widen=1, optimizer="adam", device=device)
               for name, make in pooling_makes.items()}
pooling = chosen(pool_sweeps, test_iter)
print(utils.runs_table(list(pooling.values()), "test"))
pool = utils.gain(pooling["average pooling"], pooling["max pooling"], "test",
                  names=("average pooling", "max pooling"))
print(f"max - average: {pool}; {pool.verdict()}")
utils.glue("pool_verdict", pool.verdict())
utils.glue("pool_choice", "; ".join(sw.describe() for sw in pool_sweeps.values()))

# %% tags=["hide-input"]
for r in pooling.values():
    assert len(r) == len(profile.seeds) and r.mean("test") > 0.3, r.summary("test")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The rates chosen: <span data-glue="pool_choice">average pooling: lr 0.009 chosen from {0.001, 0.003, 0.009}, val 0.632 (sd 0.097, 3 seeds); tied with lr 0.001, 0.003; AT THE EDGE of the grid; max pooling: lr 0.009 chosen from {0.001, 0.003, 0.009}, val 0.683 (sd 0.030, 3 seeds); AT THE EDGE of the grid</span>. Max pooling against average pooling, on
# the test set: <span data-glue="pool_verdict">no difference this budget resolves (max pooling ahead on 2 of 3 paired seeds, +0.023 ± 0.023 (SE))</span>. On a budget this short, a few epochs on 800
# images, that is all the experiment can say; the reasons that hold on any budget are
# the two checked above: average pooling
# is linear, so it commutes with the 1x1 convolution, and it keeps every input in the
# gradient.
# :::

# %% [markdown]
# ## 13. AlexNet: computation against memory bandwidth, for a chip designer
#
# > You are a chip designer and need to trade off computation and memory bandwidth. For
# > example, a faster chip requires more power and possibly a larger chip area. More
# > memory bandwidth requires more pins and control logic, thus also more area. How do
# > you optimize?
#
# :::{admonition} Answer
# :class: dropdown
# (d2l.ai, [AlexNet](https://d2l.ai/chapter_convolutional-modern/alexnet.html),
# exercise 2.)
#
# A layer is limited either by arithmetic or by memory traffic. Its **arithmetic
# intensity** is the multiply-adds it does per byte it moves (its weights once per
# batch, its inputs and outputs once per image, 4 bytes each). A chip with peak rate
# $P$ multiply-adds per second and bandwidth $B$ bytes per second runs a layer at full
# speed only if the intensity exceeds its **balance** $P / B$; below it, the layer
# waits for memory. AlexNet's layers, per batch size:
# :::

# %% tags=["hide-input"]
def intensities(rows, in_values, batch):
    """Multiply-adds per byte moved, for every weighted layer of `rows` (exercise 1)."""
    out = {}
    for name, params, acts, macs in rows:
        if params:
            moved = 4 * (params + batch * (in_values + acts))
            out[name] = batch * macs / moved
        in_values = acts
    return out


by_batch = {b: intensities(alex_rows, 224 * 224, b) for b in (1, 16, 256)}
print(f"{'layer':<16}" + "".join(f"{'batch ' + str(b):>11}" for b in by_batch))
for name in by_batch[1]:
    print(f"{name:<16}" + "".join(f"{by_batch[b][name]:>11.1f}" for b in by_batch))

# %% tags=["hide-input"]
dense_layers = [n for n in by_batch[1] if "Linear" in n]
conv_layers = [n for n in by_batch[1] if "Conv2d" in n]
assert all(by_batch[1][n] < 0.26 for n in dense_layers)       # each weight: 4 bytes, 1 MAC
assert all(by_batch[1][n] > 10 for n in conv_layers)
assert all(by_batch[256][n] > 5 * by_batch[1][n] for n in dense_layers)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# One image at a time, a dense layer does a quarter of a multiply-add per byte: on any
# chip whose balance is above that (every current one), it runs at the speed of its
# memory, and doubling the arithmetic units would not speed it up. The convolutions
# reuse each weight at every position and sit far above. Batching raises the dense
# layers' intensity, as the last columns show: each weight read now serves a whole
# batch, until the per-image inputs and outputs dominate the traffic (the last layer,
# with only 10 outputs per 4096 inputs, gets there first). The
# designer's answer follows: size the balance $P/B$ to the intensity of the workloads
# the chip will run. A chip for batched training of convolutional networks can spend
# its area on arithmetic; one for batch-1 inference of dense-heavy networks must spend
# it on bandwidth, or on on-chip memory (SRAM) large enough to keep the weights close,
# which turns repeated reads of DRAM into cheap local ones. The numbers here are
# counts, not timings of a real chip.
# :::
#
# ## 14. AlexNet: why no longer a benchmark?
#
# > Why do engineers no longer report performance benchmarks on AlexNet?
#
# :::{admonition} Answer
# :class: dropdown
# (d2l.ai, [AlexNet](https://d2l.ai/chapter_convolutional-modern/alexnet.html),
# exercise 3.)
#
# Because it no longer resembles the networks people run. A benchmark should stress
# what real workloads stress; AlexNet's profile is unusual, as a count at 224x224 shows
# next to the later designs of the chapter:
# :::

# %% tags=["hide-input"]
profiles = {}
for name, make in (("AlexNet", alexnet), ("GoogLeNet", googlenet),
                   ("ResNet-18", utils.resnet18), ("DenseNet", densenet)):
    net = build_meta(make)
    dense_params = sum(utils.num_params(m) for m in net.modules() if isinstance(m, nn.Linear))
    profiles[name] = (utils.num_params(net), utils.count_macs(net, (1, 224, 224)),
                      dense_params / utils.num_params(net))
print(f"{'network':<10}{'parameters':>13}{'GMACs':>8}{'in dense layers':>17}")
for name, (params, macs, share) in profiles.items():
    print(f"{name:<10}{params:>13,}{macs / 1e9:>8.2f}{share:>17.1%}")

# %% tags=["hide-input"]
assert profiles["AlexNet"][2] > 0.9
assert all(profiles[n][2] < 0.01 for n in ("GoogLeNet", "ResNet-18", "DenseNet"))
assert all(profiles[n][1] > profiles["AlexNet"][1] for n in ("GoogLeNet", "ResNet-18"))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Over nine tenths of AlexNet's weights sit in dense layers, against under one percent
# in the later networks, which spend their time in convolutions instead; and GoogLeNet
# and ResNet-18 do more arithmetic per image with far fewer weights. A chip or library
# tuned on AlexNet would be tuned for large matrix-vector products and memory
# bandwidth (exercise 13), not for what modern networks do. It is also small by today's
# standards of compute and long surpassed in accuracy, and it has parts that modern
# networks dropped (11x11 stride-4 kernels, local response normalisation), so its
# timings predict little about anything else. Benchmark suites moved on to ResNet-50
# and later networks.
# :::
#
# ## 15. AlexNet: more epochs, and overfitting
#
# > Try increasing the number of epochs when training AlexNet. Compared with LeNet, how
# > do the results differ? Why?
#
# > Can you make AlexNet overfit? Which feature do you need to remove or change to
# > break training?
#
# :::{admonition} Answer
# :class: dropdown
# (d2l.ai, [AlexNet](https://d2l.ai/chapter_convolutional-modern/alexnet.html),
# exercises 4 and 8.)
#
# Overfitting shows when the training set is small and the training is long, so this
# experiment trains on a couple of hundred images for many epochs (the budget below),
# long enough for a network to fit them almost perfectly. Three networks: LeNet with
# ReLU and max pooling (`utils.lenet_modern`), the chapter's scaled-down AlexNet for
# 28x28 images (with He initialisation, as in the chapter), and the same AlexNet
# without its dropout layers (one difference from the previous one). Each gets its
# learning rate from `utils.sweep` as before; after training, each run is scored on
# its own training images too (in evaluation mode, so without dropout), and the gap
# between training and validation accuracy measures how much it overfits.
# :::

# %% tags=["hide-input"]
over_budget = profile.budget("classic_exercise_overfit")
print(f"profile {profile.name!r}:", over_budget.describe())
over_data = utils.load_fashion_mnist(
    over_budget.batch_size, device=device, train_size=over_budget.train_size,
    val_size=over_budget.val_size, test_size=over_budget.test_size)


def he_init(make):
    """A function that builds `make()` with He-normal weights and zero biases."""
    def build():
        net = make()
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        return net
    return build


def small_alexnet(dropout=True):
    net = utils.alexnet(channels=(8, 16, 24, 24, 16), hidden=128, small_input=True)
    if not dropout:
        net = nn.Sequential(*[m for m in net if not isinstance(m, nn.Dropout)])
    return net


over_makes = {"LeNet (ReLU)": utils.lenet_modern,
              "AlexNet, small": he_init(small_alexnet),
              "AlexNet, no dropout": he_init(lambda: small_alexnet(dropout=False))}
for name, make in over_makes.items():
    print(f"{name:<20} {utils.num_params(make()):>8,} parameters")
assert utils.num_params(small_alexnet()) == utils.num_params(small_alexnet(dropout=False))

# %% tags=["hide-input", "nbval-ignore-output"]
over_sweeps = {name: utils.sweep(make, over_data[0], over_data[1], over_budget.num_epochs,
                                 GRID, name=name, widen=1, optimizer="adam", device=device)
               for name, make in over_makes.items()}
over = chosen(over_sweeps, over_data[2])
for r in over.values():
    r.score("train", over_data[0])
gaps = {name: [t - v for t, v in zip(r.scores("train"), r.scores("val"), strict=True)]
        for name, r in over.items()}
print(f"{'network':<20}{'train (sd)':>16}{'val (sd)':>16}{'test (sd)':>16}{'train - val':>13}")
for name, r in over.items():
    print(f"{name:<20}" + "".join(f"{r.mean(s):>10.3f} ({r.std(s):.3f})"
                                  for s in ("train", "val", "test"))
          + f"{sum(gaps[name]) / len(gaps[name]):>13.3f}")


def mean_curve(r, key):
    """The per-epoch mean over the seeds of one history column."""
    return [sum(run.history[e][key] for run in r) / len(r)
            for e in range(over_budget.num_epochs)]


every = max(1, over_budget.num_epochs // 10)
print(f"mean accuracy every {every} epochs (training accuracy measured during the epoch):")
for name, r in over.items():
    for key, label in (("train_acc", "train"), ("test_acc", "val")):
        curve = mean_curve(r, key)
        print(f"{name:<20} {label:<5}", " ".join(f"{v:.2f}" for v in curve[every - 1::every]))
span = max(1, over_budget.num_epochs // 5)        # the last fifth of the epochs
val_moves = {name: mean_curve(r, "test_acc")[-1] - mean_curve(r, "test_acc")[-1 - span]
             for name, r in over.items()}
fitted = [name for name, r in over.items() if r.mean("train") >= 0.98]
unfitted = [name for name in over if name not in fitted]
print("fits its training images (train >= 0.98):", fitted or "none")
print(f"change of mean val accuracy over the last {span} epochs:",
      {name: round(v, 3) for name, v in val_moves.items()})
dropout = utils.gain(over["AlexNet, small"], over["AlexNet, no dropout"], "test",
                     names=("AlexNet with dropout", "AlexNet without dropout"))
print(dropout.verdict())
utils.glue("overfit_gaps", ", ".join(f"{name} {sum(g) / len(g):.2f}"
                                     for name, g in gaps.items()))
utils.glue("overfit_train", ", ".join(f"{name} {r.mean('train'):.3f}"
                                      for name, r in over.items()))
utils.glue("overfit_span", span)
utils.glue("overfit_val_moves", max(abs(v) for v in val_moves.values()))
utils.glue("fitted_sentence",
           ("every one of the three fits its training images almost perfectly (a mean "
            "training accuracy of 0.98 or more)" if not unfitted else
            f"{', '.join(fitted) or 'none of them'} "
            f"{'fits' if len(fitted) == 1 else 'fit'} its training images almost "
            "perfectly (a mean training accuracy of 0.98 or more), "
            f"{', '.join(unfitted)} not yet"))
utils.glue("gap_sentence",
           "Every run scores higher on the images it trained on than on the validation "
           "images" if all(min(g) > 0 for g in gaps.values()) else
           "Not every run scores higher on its training images than on the validation "
           "images")
utils.glue("dropout_verdict", dropout.verdict())
utils.glue("alex_vs_lenet", "; ".join(
    utils.gain(over["LeNet (ReLU)"], over[name], "test", names=("LeNet", name)).verdict()
    for name in ("AlexNet, small", "AlexNet, no dropout")))
utils.glue("dropout_train_verdict", utils.gain(
    over["AlexNet, small"], over["AlexNet, no dropout"], "train",
    names=("AlexNet with dropout", "AlexNet without dropout")).verdict())
utils.glue("dropout_train", f"{over['AlexNet, small'].mean('train'):.3f} with dropout and "
           f"{over['AlexNet, no dropout'].mean('train'):.3f} without")

# %% tags=["hide-input"]
for name, r in over.items():
    assert len(r) == len(profile.seeds) and r.mean("val") > 0.3, (name, r.summary("val"))
    assert r.mean("train") > r.mean("val"), (name, r.summary("train"), r.summary("val"))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# <span data-glue="gap_sentence">Every run scores higher on the images it trained on than on the validation images</span> (the cell above computes it from every seed). Scored in
# evaluation mode after the last epoch, <span data-glue="fitted_sentence">AlexNet, no dropout fits its training images almost perfectly (a mean training accuracy of 0.98 or more), LeNet (ReLU), AlexNet, small not yet</span>; the mean training
# accuracies are <span data-glue="overfit_train">LeNet (ReLU) 0.840, AlexNet, small 0.927, AlexNet, no dropout 1.000</span>, and the mean gaps, training minus
# validation accuracy, are <span data-glue="overfit_gaps">LeNet (ReLU) 0.14, AlexNet, small 0.22, AlexNet, no dropout 0.30</span>. Over the last
# <span data-glue="overfit_span">10</span> epochs the mean validation accuracy of every network moved
# by at most <span data-glue="overfit_val_moves:.3f">0.038</span>, up or down (the curves printed above):
# late epochs no longer bought validation accuracy, and what the networks learned
# beyond it was a closer fit of their own training images, the gap between the two,
# which is what overfitting looks like.
# Against LeNet (their parameter counts are printed above), on the test set:
# <span data-glue="alex_vs_lenet">no difference this budget resolves (AlexNet, small ahead on 1 of 3 paired seeds, +0.006 ± 0.017 (SE)); no difference this budget resolves (AlexNet, no dropout ahead on 2 of 3 paired seeds, +0.002 ± 0.010 (SE))</span>.
#
# Which feature to remove? Dropout is the one meant against overfitting. Removing it,
# on the training images (accuracies <span data-glue="dropout_train">0.927 with dropout and 1.000 without</span>):
# <span data-glue="dropout_train_verdict">no difference this budget resolves (AlexNet without dropout ahead on 3 of 3 paired seeds, +0.073 ± 0.020 (SE))</span>; on the test set: <span data-glue="dropout_verdict">no difference this budget resolves (AlexNet without dropout ahead on 1 of 3 paired seeds, -0.004 ± 0.019 (SE))</span>.
# To break training outright,
# replace the ReLUs by sigmoids or give up the He initialisation; we do not measure
# those here.
# :::
#
# ## 16. AlexNet: batch size, throughput and memory
#
# > Modify the batch size, and observe the changes in throughput (images/s), accuracy,
# > and GPU memory.
#
# :::{admonition} Answer
# :class: dropdown
# (d2l.ai, [AlexNet](https://d2l.ai/chapter_convolutional-modern/alexnet.html),
# exercise 6.)
#
# Memory first, because it can be counted. Training stores every layer's output for
# the backward pass, per image; the parameters, their gradients and Adam's two buffers
# are stored once. For the scaled-down AlexNet, values stored per batch size (the
# activation values counted with hooks, for each batch):
# :::

# %% tags=["hide-input"]
def stored_values(net, batch, side=28):
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        total += output.numel()

    handles = [m.register_forward_hook(hook) for m in net.modules() if not list(m.children())]
    with torch.no_grad():
        net(torch.zeros(batch, 1, side, side, device="meta"))
    for h in handles:
        h.remove()
    return total


alex_small = build_meta(small_alexnet)
state = 4 * utils.num_params(alex_small)           # weights, gradients, Adam's two buffers
memory = {b: (state, stored_values(alex_small, b)) for b in (1, 32, 256, 1024)}
for b, (fixed, acts) in memory.items():
    print(f"batch {b:>5}: {fixed * 4 / 2**20:6.2f} MB parameter state + "
          f"{acts * 4 / 2**20:7.2f} MB activations")
assert all(memory[b][1] == b * memory[1][1] for b in memory)    # linear in the batch
overtake = state // memory[1][1] + 1          # smallest batch whose activations exceed it
assert memory[1][1] * overtake > state >= memory[1][1] * (overtake - 1)
print(f"activations exceed the parameter state from a batch of {overtake} on")
utils.glue("overtake", overtake)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The activations grow exactly in proportion to the batch and overtake the fixed
# parameter state from a batch of <span data-glue="overtake">7</span> images on. Throughput is a timing (this CPU, this
# moment): one training step of the scaled-down AlexNet per batch size, the best of a
# few repeats:
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
net = he_init(small_alexnet)().to(device)
optimizer = torch.optim.Adam(net.parameters(), lr=0.001)
loss_fn = nn.CrossEntropyLoss()
throughput = {}
for b in (8, 32, 128, 512):
    X, y = torch.randn(b, 1, 28, 28, device=device), torch.randint(0, 10, (b,), device=device)

    def step():
        optimizer.zero_grad()
        loss_fn(net(X), y).backward()
        optimizer.step()

    step()
    seconds = utils.best_time(step, device, repeats=3)
    throughput[b] = b / seconds
    print(f"batch {b:>4}: {throughput[b]:>8,.0f} images/s")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# On a CPU, larger batches usually run more images per second, up to a point, because
# each weight is read once per batch instead of once per image (exercise 13); on a GPU
# small batches leave most of the chip idle, and the gain is larger. The numbers above
# are from whatever machine ran this page. Accuracy is the part we do not measure here:
# at a fixed number of epochs a larger batch means fewer updates, so it needs a larger
# learning rate (chosen on validation, as everywhere in this book) to keep up, and a fair
# comparison would cost a sweep per batch size, beyond this notebook's budget.
# :::
#
# ## 17. AlexNet's tricks on LeNet
#
# > Apply dropout and ReLU to LeNet-5. Does it improve? Can you improve things further by
# > preprocessing to take advantage of the invariances inherent in the images?
#
# :::{admonition} Answer
# :class: dropdown
# (d2l.ai, [AlexNet](https://d2l.ai/chapter_convolutional-modern/alexnet.html),
# exercise 7.)
#
# ReLU (with max pooling) is the comparison of the [LeNet
# chapter](../chapters/05_lenet.ipynb), measured there from several seeds. Here dropout
# is added to the dense layers of that modern LeNet, the one difference, on the budget
# of exercise 12:
# :::

# %% tags=["hide-input"]
def lenet_dropout(p=0.5):
    net = utils.lenet_modern()
    layers = []
    for m in net:
        layers.append(m)
        if isinstance(m, nn.ReLU) and isinstance(layers[-2], nn.Linear):
            layers.append(nn.Dropout(p))                # after the two hidden dense layers
    return nn.Sequential(*layers)


lenet_makes = {"LeNet (ReLU)": utils.lenet_modern, "LeNet (ReLU) + dropout": lenet_dropout}
print(lenet_dropout())
assert sum(isinstance(m, nn.Dropout) for m in lenet_dropout()) == 2

# %% tags=["hide-input", "nbval-ignore-output"]
lenet_sweeps = {name: utils.sweep(make, train_iter, val_iter, budget.num_epochs, GRID,
                                  name=name, widen=1, optimizer="adam", device=device)
                for name, make in lenet_makes.items()}
lenets = chosen(lenet_sweeps, test_iter)
print(utils.runs_table(list(lenets.values()), "test"))
drop = utils.gain(lenets["LeNet (ReLU)"], lenets["LeNet (ReLU) + dropout"], "test",
                  names=("LeNet (ReLU)", "LeNet (ReLU) + dropout"))
print(f"dropout: {drop}; {drop.verdict()}")
utils.glue("lenet_drop_verdict", drop.verdict())
utils.glue("lenet_drop_loss", ", ".join(
    f"{name} {sum(run.history.last['train_loss'] for run in r) / len(r):.3f}"
    for name, r in lenets.items()))

# %% tags=["hide-input"]
for r in lenets.values():
    assert r.mean("test") > 0.3, r.summary("test")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Dropout against none, on LeNet's test accuracy: <span data-glue="lenet_drop_verdict">LeNet (ReLU) ahead on 3 of 3 paired seeds, -0.061 ± 0.006 (SE)</span>.
# Dropout fights overfitting, and a LeNet trained for a few short epochs on 800 images
# (the budget of exercise 12) is still fitting them: the mean training losses of the
# last epoch are <span data-glue="lenet_drop_loss">LeNet (ReLU) 0.882, LeNet (ReLU) + dropout 1.319</span>. The
# preprocessing question is the subject of the [augmentation
# chapter](../chapters/10_augmentation.ipynb): shifts and crops use the invariance of a
# garment's class to its position, while left-right flips add views that the test set
# does not contain.
# :::
#
# ## 18. VGG at a lower resolution
#
# > Upsampling the resolution in Fashion-MNIST eight-fold from 28x28 to 224x224
# > dimensions is very wasteful. Try modifying the network architecture and resolution
# > conversion, e.g., to 56 or to 84 dimensions for its input instead. Can you do so
# > without reducing the accuracy of the network? Consult the VGG paper for ideas on
# > adding more nonlinearities prior to downsampling.
#
# :::{admonition} Answer
# :class: dropdown
# (d2l.ai, [VGG](https://d2l.ai/chapter_convolutional-modern/vgg.html), exercise 4.)
#
# The arithmetic of a convolution grows with the number of output pixels, so VGG-11 at
# $s \times s$ does $(224 / s)^2$ times less convolutional arithmetic than at 224x224.
# `utils.vgg` takes the input side; with five halving blocks, 56 and 84 still leave a
# feature map of at least 1x1. A variant with more nonlinearity before each
# downsampling, in the spirit of the paper's configuration C, adds a 1x1 convolution
# (with its ReLU) at the end of every block:
# :::

# %% tags=["hide-input"]
def vgg_1x1(conv_arch=VGG11, side=56):
    """VGG with a 1x1 convolution and ReLU before every block's pooling."""
    net = utils.vgg(conv_arch, side=side)
    for i, (_, c) in enumerate(conv_arch):
        block = list(net[i])
        net[i] = nn.Sequential(*block[:-1], nn.Conv2d(c, c, kernel_size=1), nn.ReLU(),
                               block[-1])
    return net


print(f"{'network':<22}{'parameters':>13}{'conv GMACs':>12}{'last map':>10}")
costs = {}
for name, make, side in (("VGG-11 at 224", vgg, 224),
                         ("VGG-11 at 84", lambda: utils.vgg(side=84), 84),
                         ("VGG-11 at 56", lambda: utils.vgg(side=56), 56),
                         ("VGG-11 + 1x1 at 56", vgg_1x1, 56)):
    net = build_meta(make)
    body = net[:len(VGG11)]
    macs = utils.count_macs(body, (1, side, side))
    last = tuple(body(meta_input(side)).shape[2:])
    costs[name] = (utils.num_params(net), macs)
    print(f"{name:<22}{utils.num_params(net):>13,}{macs / 1e9:>12.3f}{str(last):>10}")

# %% tags=["hide-input"]
ratio56 = costs["VGG-11 at 224"][1] / costs["VGG-11 at 56"][1]
assert 16 < ratio56 < 17
assert costs["VGG-11 + 1x1 at 56"][1] < costs["VGG-11 at 224"][1] / 10

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# At 56x56 the convolutions do about 16 times less arithmetic than at 224x224 (slightly
# more than 16, because the last block's 7x7 maps are pooled to 3x3, not 3.5x3.5, so its
# convolutions run on 3x3 maps against 14x14 ones at 224x224), and the dense
# head shrinks too, since the last feature map is 1x1 instead of 7x7. The extra 1x1
# convolutions cost little. Whether accuracy is kept is a training question that we do
# not answer here: at 56x56 even the scaled-down VGG would do four times the work of the
# chapter's 28x28 one, which is beyond this page's budget; the recipe is the chapter's
# (`utils.load_fashion_mnist(..., resize=56)` and the protocol of exercise 12).
# :::
#
# ## 19. NiN: resource usage
#
# > Calculate the resource usage for NiN. What is the number of parameters? What is the
# > amount of computation? What is the amount of memory needed during training? What is
# > the amount of memory needed during prediction?
#
# :::{admonition} Answer
# :class: dropdown
# (d2l.ai, [NiN](https://d2l.ai/chapter_convolutional-modern/nin.html), exercise 4.)
#
# Parameters and multiply-adds are counted as in the chapter. Memory in training holds
# the parameters, their gradients and the optimiser's buffers (plain SGD: none; with
# momentum one; Adam two) once, and every layer's output per image. In prediction the
# outputs can be freed as soon as the next layer has read them, so at most an input and
# an output are alive at once; the largest such pair is what counts.
# :::

# %% tags=["hide-input"]
def leaf_outputs(net, side):
    """Output values of every layer without children, in the order they run."""
    sizes = []
    handles = [m.register_forward_hook(lambda m, i, out: sizes.append(out.numel()))
               for m in net.modules() if not list(m.children())]
    with torch.no_grad():
        net(meta_input(side))
    for h in handles:
        h.remove()
    return sizes


nin_net = build_meta(nin)
params = utils.num_params(nin_net)
macs = utils.count_macs(nin_net, (1, 224, 224))
outs = leaf_outputs(nin_net, 224)
sizes = [224 * 224] + outs
peak_pair = max(a + b for a, b in zip(sizes, sizes[1:]))
MiB = 4 / 2**20
print(f"parameters: {params:,} ({params * MiB:.1f} MB); multiply-adds: {macs / 1e9:.2f} G "
      "per image")
for name, buffers in (("SGD", 0), ("SGD + momentum", 1), ("Adam", 2)):
    fixed = params * (2 + buffers)
    print(f"training with {name:<15}: {fixed * MiB:5.1f} MB once + "
          f"{sum(outs) * MiB:5.1f} MB per image")
print(f"prediction: {params * MiB:.1f} MB once + {peak_pair * MiB:.2f} MB per image "
      "(largest input + output pair)")

# %% tags=["hide-input"]
assert peak_pair < sum(outs) / 3
assert params == sum(p.numel() for p in nin_net.parameters())

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# With a batch of 128 images, training NiN stores over a hundred times the per-image
# activations printed above, far more than its parameters; prediction needs a small
# fraction of that, because it keeps only the largest pair of consecutive outputs.
# (Activations counted per layer, in place operations ignored: a ReLU that works in
# place shares its input's memory.)
# :::
#
# ## 20. NiN: from 384 channels to 10 in one step
#
# > What are possible problems with reducing the 384x5x5 representation to a 10x5x5
# > representation in one step?
#
# :::{admonition} Answer
# :class: dropdown
# (d2l.ai, [NiN](https://d2l.ai/chapter_convolutional-modern/nin.html), exercise 5.)
#
# The last NiN block maps 384 channels to 10 with one 3x3 convolution, then runs its
# per-pixel MLP (two 1x1 convolutions) at width 10. Three consequences, each checked:
# the whole classifier after that convolution has only 10 channels to work with, so its
# 1x1 MLP is tiny; the block has far fewer parameters than the one before it; and
# because every convolution is followed by a ReLU, the logits that global average
# pooling produces are never negative, so a class can only be preferred by raising its
# own logit, and a channel whose ReLU is off everywhere gives logit 0 and no gradient.
# :::

# %% tags=["hide-input"]
torch.manual_seed(0)
real_nin = nin().eval()
last, third = real_nin[7], real_nin[4]
with torch.no_grad():
    logits = real_nin(torch.rand(16, 1, 224, 224))
print(f"block 3 (256 -> 384): {utils.num_params(third):,} parameters; "
      f"last block (384 -> 10): {utils.num_params(last):,}")
print(f"1x1 MLP of the last block: {last[2].in_channels} -> {last[2].out_channels} -> "
      f"{last[4].out_channels} per pixel")
print(f"smallest logit over 16 random images: {logits.min().item():.4f}")

# %% tags=["hide-input"]
assert logits.min() >= 0
assert utils.num_params(last) < utils.num_params(third) / 5

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Remedies: reduce in stages (384 to 96, then 10), keep the MLP wide and map to the 10
# classes only in its last 1x1 convolution, and drop the ReLU after that last
# convolution so the logits can be negative. How these changes affect accuracy would
# need training runs, which we do not make here.
# :::
#
# ## 21. A family of NiN networks
#
# > Use the structural design decisions in VGG that led to VGG-11, VGG-16, and VGG-19 to
# > design a family of NiN-like networks.
#
# :::{admonition} Answer
# :class: dropdown
# (d2l.ai, [NiN](https://d2l.ai/chapter_convolutional-modern/nin.html), exercise 6.)
#
# VGG's decisions: only 3x3 convolutions, stages that halve the resolution and double
# the channels, and depth set by the number of convolutions per stage. A NiN family in
# that spirit: each stage is a few NiN blocks with a 3x3 first convolution, followed by
# a 2x2 max pooling; the head is NiN's (a NiN block to the classes, global average
# pooling). Configurations with 1, 2 and 3 NiN blocks per stage:
# :::

# %% tags=["hide-input"]
def nin_vgg(blocks_per_stage, widths=(64, 128, 256, 512), num_classes=10, in_channels=1):
    layers, c = [], in_channels
    for n, width in zip(blocks_per_stage, widths):
        for _ in range(n):
            layers.append(utils.nin_block(c, width, 3, 1, 1))
            c = width
        layers.append(nn.MaxPool2d(kernel_size=2))
    layers += [utils.nin_block(c, num_classes, 3, 1, 1), nn.AdaptiveAvgPool2d((1, 1)),
               nn.Flatten()]
    return nn.Sequential(*layers)


family = {"NiN-A": (1, 1, 1, 1), "NiN-B": (1, 1, 2, 2), "NiN-C": (2, 2, 3, 3)}
print(f"{'network':<8}{'weighted layers':>16}{'parameters':>13}{'GMACs at 224':>14}")
family_cost = {}
for name, config in family.items():
    net = build_meta(nin_vgg, config)
    layers = sum(isinstance(m, nn.Conv2d) for m in net.modules())
    family_cost[name] = (utils.num_params(net), utils.count_macs(net, (1, 224, 224)))
    assert net(meta_input(224)).shape == (1, 10) and net(meta_input(56)).shape == (1, 10)
    print(f"{name:<8}{layers:>16}{family_cost[name][0]:>13,}"
          f"{family_cost[name][1] / 1e9:>14.2f}")
assert family_cost["NiN-A"] < family_cost["NiN-B"] < family_cost["NiN-C"]

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Like VGG's, the family grows by adding blocks to the later stages, where the maps are
# small, so depth costs parameters more than arithmetic; unlike VGG's, none has a dense
# head, so all of them take any input size (the asserts run them at 224x224 and 56x56).
# :::
#
# ## 22. GoogLeNet's later versions
#
# > GoogLeNet was so successful that it went through a number of iterations,
# > progressively improving speed and accuracy. Try to implement and run some of them:
# > add a batch normalization layer; make adjustments to the Inception block (width,
# > choice and order of convolutions); use label smoothing for model regularization;
# > make further adjustments to the Inception block by adding residual connection.
#
# :::{admonition} Answer
# :class: dropdown
# (d2l.ai, [GoogLeNet](https://d2l.ai/chapter_convolutional-modern/googlenet.html),
# exercise 1.)
#
# We train the first change and build the others. **Batch normalization**: every
# convolution of the small GoogLeNet (at a quarter of its widths, to keep this cheap)
# gets a batch norm after it (Inception-v2), compared with the plain one by the
# protocol of exercise 12, both with He initialisation:
# :::

# %% tags=["hide-input"]
def with_batch_norm(net):
    """Insert BatchNorm2d after every Conv2d of `net`, in place."""
    for name, child in list(net.named_children()):
        if isinstance(child, nn.Conv2d):
            setattr(net, name, nn.Sequential(child, nn.BatchNorm2d(child.out_channels)))
        else:
            with_batch_norm(child)
    return net


goog_makes = {"GoogLeNet, small": he_init(lambda: utils.googlenet_small(divisor=4)),
              "GoogLeNet, small + BN": he_init(
                  lambda: with_batch_norm(utils.googlenet_small(divisor=4)))}
bn_goog = goog_makes["GoogLeNet, small + BN"]()
num_convs = sum(isinstance(m, nn.Conv2d) for m in bn_goog.modules())
assert sum(isinstance(m, nn.BatchNorm2d) for m in bn_goog.modules()) == num_convs
print(f"{num_convs} convolutions, each followed by a batch norm")

# %% tags=["hide-input", "nbval-ignore-output"]
goog_sweeps = {name: utils.sweep(make, train_iter, val_iter, budget.num_epochs, GRID,
                                 name=name, widen=1, optimizer="adam", device=device)
               for name, make in goog_makes.items()}
goog_runs = chosen(goog_sweeps, test_iter)
print(utils.runs_table(list(goog_runs.values()), "test"))
goog_bn = utils.gain(goog_runs["GoogLeNet, small"], goog_runs["GoogLeNet, small + BN"],
                     "test", names=("GoogLeNet, small", "GoogLeNet, small + BN"))
print(f"batch norm: {goog_bn}; {goog_bn.verdict()}")
utils.glue("goog_bn_verdict", goog_bn.verdict())
utils.glue("goog_choice", "; ".join(sw.describe() for sw in goog_sweeps.values()))

# %% tags=["hide-input"]
for r in goog_runs.values():
    assert r.mean("test") > 0.3, r.summary("test")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The rates chosen: <span data-glue="goog_choice">GoogLeNet, small: lr 0.009 chosen from {0.001, 0.003, 0.009}, val 0.479 (sd 0.012, 3 seeds); AT THE EDGE of the grid; GoogLeNet, small + BN: lr 0.009 chosen from {0.001, 0.003, 0.009}, val 0.673 (sd 0.019, 3 seeds); tied with lr 0.003; AT THE EDGE of the grid</span>. Batch normalization against none, on the
# test set after three epochs on 800 images (early in training, which is where batch
# norm's faster start shows): <span data-glue="goog_bn_verdict">GoogLeNet, small + BN ahead on 3 of 3 paired seeds, +0.176 ± 0.008 (SE)</span>.
#
# The other changes, built and checked without training. **Factorised convolutions**
# (Inception-v3): a 5x5 convolution is replaced by two 3x3 ones (the same 5x5 window,
# exercise 5), and an $n \times n$ one by a $1 \times n$ then an $n \times 1$.
# **Label smoothing** trains against the target $(1 - \varepsilon)$ on the true class
# and $\varepsilon / K$ spread over all $K$ classes; PyTorch has it built in.
# **Residual Inception** (Inception-ResNet) adds the block's input to its output, after
# a 1x1 convolution that brings the concatenation back to the input's channels:
# :::

# %% tags=["hide-input"]
c = 64
five = nn.Conv2d(c, c, kernel_size=5, padding=2, bias=False)
two_threes = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False),
                           nn.Conv2d(c, c, 3, padding=1, bias=False))
one_by_n = nn.Sequential(nn.Conv2d(c, c, (1, 7), padding=(0, 3), bias=False),
                         nn.Conv2d(c, c, (7, 1), padding=(3, 0), bias=False))
X = torch.randn(1, c, 12, 12)
assert five(X).shape == two_threes(X).shape == one_by_n(X).shape
print(f"5x5: {utils.num_params(five):,} weights; two 3x3: {utils.num_params(two_threes):,}; "
      f"7x7: {49 * c * c:,}; 1x7 + 7x1: {utils.num_params(one_by_n):,}")

logits, y = torch.tensor([[2.0, 0.5, -1.0]]), torch.tensor([0])
eps, K = 0.1, 3
smoothed = nn.CrossEntropyLoss(label_smoothing=eps)(logits, y)
target = torch.full((1, K), eps / K)
target[0, 0] += 1 - eps
by_hand = -(target * logits.log_softmax(dim=1)).sum()
torch.testing.assert_close(smoothed, by_hand)
print(f"label smoothing {eps}: loss {smoothed.item():.4f} (by hand {by_hand.item():.4f})")


class ResidualInception(nn.Module):
    """An Inception block whose concatenation is projected back and added to the input."""

    def __init__(self, channels, c1, c2, c3, c4):
        super().__init__()
        self.inception = utils.Inception(channels, c1, c2, c3, c4)
        self.project = nn.Conv2d(self.inception.out_channels, channels, kernel_size=1)

    def forward(self, X):
        return torch.relu(X + self.project(self.inception(X)))


res_block = ResidualInception(64, 16, (24, 32), (4, 8), 8)
assert res_block(torch.randn(2, 64, 14, 14)).shape == (2, 64, 14, 14)
print("residual Inception block:", (2, 64, 14, 14), "->",
      tuple(res_block(torch.randn(2, 64, 14, 14)).shape))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Two 3x3 convolutions have 18/25 of a 5x5's weights and a 1x7 plus 7x1 pair 14/49 of a
# 7x7's, printed above; label smoothing matches its formula; the residual block keeps
# its input's shape so that it can be stacked. Training each of them is the same recipe
# as the batch-norm comparison above.
# :::
#
# ## 23. GoogLeNet against AlexNet, for an accelerator
#
# > Compare the amount of computation needed in GoogLeNet and AlexNet. How does this
# > affect the design of an accelerator chip, e.g., in terms of memory size, memory
# > bandwidth, cache size, the amount of computation, and the benefit of specialized
# > operations?
#
# :::{admonition} Answer
# :class: dropdown
# (d2l.ai, [GoogLeNet](https://d2l.ai/chapter_convolutional-modern/googlenet.html),
# exercise 5.)
#
# The two at 224x224, counted: parameters, multiply-adds, multiply-adds per parameter,
# the activation values per image, and the share of the arithmetic done by 1x1
# convolutions.
# :::

# %% tags=["hide-input"]
def share_1x1(net, side):
    """Fraction of the multiply-adds done by 1x1 convolutions."""
    total = utils.count_macs(net, (1, side, side))
    ones = 0

    def hook(m, inputs, out):
        nonlocal ones
        ones += out.numel() * m.in_channels // m.groups

    handles = [m.register_forward_hook(hook) for m in net.modules()
               if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]
    with torch.no_grad():
        net(meta_input(side))
    for h in handles:
        h.remove()
    return ones / total


chip = {}
for name, make in (("AlexNet", alexnet), ("GoogLeNet", googlenet)):
    net = build_meta(make)
    params, macs = utils.num_params(net), utils.count_macs(net, (1, 224, 224))
    chip[name] = (params, macs, sum(leaf_outputs(net, 224)), share_1x1(net, 224))
print(f"{'network':<10}{'parameters':>13}{'GMACs':>8}{'MACs/param':>12}{'activations':>13}"
      f"{'1x1 share':>11}")
for name, (params, macs, acts, ones) in chip.items():
    print(f"{name:<10}{params:>13,}{macs / 1e9:>8.2f}{macs / params:>12,.0f}{acts:>13,}"
          f"{ones:>11.1%}")

# %% tags=["hide-input"]
assert chip["GoogLeNet"][1] > 1.5 * chip["AlexNet"][1]            # more arithmetic
assert chip["GoogLeNet"][0] < chip["AlexNet"][0] / 5              # far fewer weights
assert chip["GoogLeNet"][2] > chip["AlexNet"][2]                  # more activations
assert chip["GoogLeNet"][3] > 0.2 and chip["AlexNet"][3] == 0
reuse = {name: macs / params for name, (params, macs, _, _) in chip.items()}
assert reuse["GoogLeNet"] > 10 * reuse["AlexNet"]

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# GoogLeNet does more arithmetic than AlexNet (over one and a half times as much) with
# a small fraction of its weights, so it uses each weight over ten times as often per
# image (the MACs/param column): its weights fit in
# a modest on-chip memory, and the chip's arithmetic, not its weight bandwidth, sets the
# speed. Its activations are larger and spread over many branches, so memory size and
# bandwidth go to feature maps instead, and cache sizing should favour them; its many
# 1x1 convolutions (a large share of its arithmetic, against none in AlexNet) are plain
# matrix products over the channels, which a matrix unit runs well. AlexNet, in
# contrast, rewards bandwidth for its dense head (exercise 13).
# :::
#
# ## 24. The DenseNet idea in an MLP
#
# > Design an MLP-based model by applying the DenseNet idea. Apply it to the housing
# > price prediction task.
#
# :::{admonition} Answer
# :class: dropdown
# (d2l.ai, [DenseNet](https://d2l.ai/chapter_convolutional-modern/densenet.html),
# exercise 5.)
#
# A dense MLP block concatenates each hidden layer's output to its input, so that every
# layer sees the raw features and all earlier ones. The housing data of that exercise is
# not shipped with this book; we use scikit-learn's bundled diabetes regression data
# (442 patients, 10 features, a disease-progression score) instead, split into
# training, validation and test parts once, features and target standardised on the
# training part. The baseline is a plain MLP with the same hidden widths; the two
# differ only in the concatenations (and the first layer after each, which reads more
# inputs). Each trains with Adam on the full training set per step, at a learning rate
# chosen on validation, from every seed; the score is the test root-mean-square error
# in units of the target's standard deviation (lower is better).
# :::

# %% tags=["hide-input"]
features, target = load_diabetes(return_X_y=True)
order = torch.randperm(len(target), generator=torch.Generator().manual_seed(0))
Xd = torch.tensor(features, dtype=torch.float32)[order]
yd = torch.tensor(target, dtype=torch.float32)[order]
parts = {"train": slice(0, 300), "val": slice(300, 370), "test": slice(370, None)}
mean, std = Xd[parts["train"]].mean(0), Xd[parts["train"]].std(0)
ymean, ystd = yd[parts["train"]].mean(), yd[parts["train"]].std()
split = {k: ((Xd[v] - mean) / std, (yd[v] - ymean) / ystd) for k, v in parts.items()}
print({k: tuple(v[0].shape) for k, v in split.items()})


class DenseMLP(nn.Module):
    """Hidden layers whose outputs are concatenated to their inputs (DenseNet's idea)."""

    def __init__(self, in_features, growth=16, num_layers=3, dense=True):
        super().__init__()
        self.dense = dense
        widths = [in_features + i * growth if dense else (in_features if i == 0 else growth)
                  for i in range(num_layers)]
        self.layers = nn.ModuleList(nn.Sequential(nn.Linear(w, growth), nn.ReLU())
                                    for w in widths)
        last = in_features + num_layers * growth if dense else growth
        self.head = nn.Linear(last, 1)

    def forward(self, X):
        for layer in self.layers:
            X = torch.cat([X, layer(X)], dim=1) if self.dense else layer(X)
        return self.head(X).squeeze(1)


def fit_rmse(dense, lr, seed, steps=300):
    torch.manual_seed(seed)
    net = DenseMLP(10, dense=dense)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    X, y = split["train"]
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.mse_loss(net(X), y).backward()
        opt.step()
    with torch.no_grad():
        return {k: nn.functional.mse_loss(net(v[0]), v[1]).sqrt().item()
                for k, v in split.items() if k != "train"}


for dense in (False, True):
    print(f"{'dense' if dense else 'plain'} MLP: {utils.num_params(DenseMLP(10, dense=dense)):,}"
          " parameters")

# %% tags=["hide-input", "nbval-ignore-output"]
mlp_results = {}
for dense in (False, True):
    tried = {lr: [fit_rmse(dense, lr, s) for s in profile.seeds] for lr in (0.001, 0.003, 0.01)}
    best_lr = min(tried, key=lambda lr: sum(r["val"] for r in tried[lr]))   # on validation
    mlp_results[dense] = [r["test"] for r in tried[best_lr]]
    name = "dense MLP" if dense else "plain MLP"
    print(f"{name}: lr {best_lr:g}, test RMSE per seed "
          + " ".join(f"{v:.3f}" for v in mlp_results[dense])
          + f", mean {sum(mlp_results[dense]) / len(mlp_results[dense]):.3f}")
mlp = utils.gain(mlp_results[False], mlp_results[True], higher_is_better=False,
                 names=("the plain MLP", "the dense MLP"))    # RMSE: dense - plain
utils.glue("dense_mlp_verdict", mlp.verdict())
utils.glue("dense_mlp_reading", "The concatenations lowered the error here." if mlp.better
           else "The concatenations did not lower the error here. A plausible reason, not "
           "tested on this page: with a few hundred patients, extra inputs per layer mostly "
           "add weights to fit noise with, and DenseNet's idea pays where deep stacks must "
           "carry many features forward, which a three-layer MLP does not need.")
print(f"dense - plain: {mlp} RMSE; {mlp.verdict()}")

# %% tags=["hide-input"]
assert all(v < 1.0 for v in mlp_results[False] + mlp_results[True])   # beats the mean

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Both networks predict better than the training mean (an error of about 1 in these
# units, checked above). The dense connections against none, on the test error (lower
# is better): <span data-glue="dense_mlp_verdict">no difference this budget resolves (the dense MLP ahead on 0 of 3 paired seeds, +0.048 ± 0.023 (SE))</span>. <span data-glue="dense_mlp_reading">The concatenations did not lower the error here. A plausible reason, not tested on this page: with a few hundred patients, extra inputs per layer mostly add weights to fit noise with, and DenseNet's idea pays where deep stacks must carry many features forward, which a three-layer MLP does not need.</span>
# :::
