# %% [markdown]
# # The Classic Family: AlexNet, VGG, NiN, GoogLeNet, DenseNet
#
# Between LeNet and today's networks lies a short list of architectures that every
# vision model still borrows from. Each one answered a single question: how deep
# (AlexNet), how to repeat (VGG), how to get rid of the huge dense head (NiN), how to
# mix kernel sizes cheaply (GoogLeNet), and how far a skip connection can be pushed
# (DenseNet). Reading them side by side, with their parameters and arithmetic counted,
# shows which design choices made them expensive and which made them cheap.
#
# **What you'll learn**
#
# - the one key idea of each network, and a compact PyTorch definition of it for
#   one-channel Fashion-MNIST images;
# - how to trace any of them layer by layer, and count its parameters and multiply-adds
#   without allocating a single weight, using PyTorch's `meta` device and
#   `FlopCounterMode`;
# - how to write the building blocks: a VGG block, a NiN block (1x1 convolutions as
#   per-pixel MLPs), an Inception block and a dense block with its transition layer;
# - why DenseNet is ResNet's skip connection with concatenation in place of addition;
# - how the five compare with ResNet-18 on parameters and compute, in one table built
#   by the code, and how three of them, scaled down, compare when trained on 500
#   images from several seeds, and what such a comparison can and cannot say.
#
# Prerequisites: [LeNet](05_lenet.ipynb) (the data and the training loop),
# [batch normalization](06_batch_norm.ipynb) and [ResNet](07_resnet.ipynb) (the
# residual block, `utils.resnet18` and `utils.layer_summary`). The 1x1 convolution was
# introduced in [the chapter on channels](03_channels.ipynb).

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
import matplotlib.pyplot as plt
import torch
from matplotlib.patches import FancyBboxPatch
from matplotlib.ticker import FuncFormatter, NullFormatter
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import utils

device = utils.try_gpu()
profile = utils.get_profile()
utils.seed_everything(0)
torch.set_printoptions(precision=4)
print("profile:", profile.name)


# %% [markdown]
# ## Measuring a network without running it
#
# Some of the networks below are big: VGG-11 has over a hundred million weights, about
# half a gigabyte in 32-bit floats, and building it just to read off its output shapes
# would allocate and randomly initialise every one of them. PyTorch's **meta device**
# avoids that. A tensor on it has a shape and a dtype but no storage, and every layer
# computes the shape of its output without doing any arithmetic. A model created under
# `with torch.device("meta"):` gets meta parameters, and a zero input on the meta device
# runs through it instantly.
#
# We count two things per network: its **parameters**, and its **multiply-adds** (MACs)
# for one image, the unit the papers report. We count multiply-adds in two independent
# ways, so that each checks the other:
#
# - by formula, with `utils.count_macs(net, shape)`, the forward-hook counter written out
#   in the [ResNet chapter](07_resnet.ipynb): a convolution does (output elements) x
#   (kernel height x kernel width x input channels) multiply-adds, a linear layer (output
#   elements) x (input features); it traces a shapes-only copy of the model;
# - with `torch.utils.flop_counter.FlopCounterMode`, which watches every operator that
#   PyTorch dispatches and counts 2 floating-point operations per multiply-add. With
#   `display=False` it prints nothing; it works on meta tensors too.
#
# Both count only convolutions and matrix products; pooling, ReLU and batch norm are
# comparatively free and not counted.

# %%
def flop_counter_macs(net, X):
    """Multiply-adds as counted by PyTorch's FlopCounterMode (2 FLOPs per multiply-add)."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(X)
    return counter.get_total_flops() // 2


# %% [markdown]
# A first test on LeNet from `utils`, built twice: once for real and once on the meta
# device. The traces must be identical, and both counters must agree with the
# multiply-adds worked out by hand from its layer sizes (two convolutions with 5x5 kernels
# on 28x28 and 10x10 outputs, then three dense layers).

# %%
with torch.device("meta"):
    meta_lenet = utils.lenet()
real_lenet = utils.lenet()
X_meta = torch.zeros(1, 1, 28, 28, device="meta")
X_real = torch.zeros(1, 1, 28, 28)
print("a meta weight:", meta_lenet[0].weight.device, tuple(meta_lenet[0].weight.shape))
print(utils.layer_summary(meta_lenet, X_meta))

by_hand = (6 * 28 * 28 * 5 * 5 * 1 + 16 * 10 * 10 * 5 * 5 * 6
           + 400 * 120 + 120 * 84 + 84 * 10)
counts = {"by hand": by_hand,
          "formula, real": utils.count_macs(real_lenet, (1, 28, 28)),
          "formula, meta": utils.count_macs(meta_lenet, (1, 28, 28)),
          "FlopCounterMode, real": flop_counter_macs(real_lenet, X_real),
          "FlopCounterMode, meta": flop_counter_macs(meta_lenet, X_meta)}
for name, macs in counts.items():
    print(f"{name:<22} {macs:>9,} multiply-adds")

# %% tags=["hide-input"]
assert utils.layer_summary(meta_lenet, X_meta) == utils.layer_summary(real_lenet, X_real)
assert len(set(counts.values())) == 1


# %% [markdown]
# All five counts agree, and the meta trace is the real one. From now on each network
# is built on the meta device and profiled by one helper, which prints the trace and
# asserts that the two counters agree before returning the numbers. The trace runs in
# evaluation mode, so that dropout and batch norm behave as at prediction time.

# %%
def build_meta(make_net, *args, **kwargs):
    """Build `make_net(*args, **kwargs)` on the meta device: shapes only, no weights."""
    with torch.device("meta"):
        return make_net(*args, **kwargs).eval()


def profile_net(net, side, show=True):
    """Trace one zero side x side image through `net`; return (parameters, multiply-adds)."""
    X = torch.zeros(1, 1, side, side, device="meta")
    macs = utils.count_macs(net, (1, side, side))
    assert macs == flop_counter_macs(net, X), "the two counters disagree"
    if show:
        print(utils.layer_summary(net, X))
        print(f"{utils.num_params(net):,} parameters; {macs / 1e6:,.0f} million multiply-adds "
              f"per {side}x{side} image (formula and FlopCounterMode agree)")
    return utils.num_params(net), macs


# %% [markdown]
# Every network of this chapter is written out here once and is also in `utils` (in
# `utils/classic.py`), where the exercises and later chapters take it from. After each
# definition, one check shows that the two agree: built from the same seed, they have
# parameters of the same shapes and give exactly the same output for the same input.
# Each family also gets a block diagram, drawn from the shapes that the real modules
# produce (forward hooks record every layer's output), so that the picture cannot
# disagree with the code.

# %%
def assert_same(make_ours, make_utils, X, seed=0):
    """Build both from `seed`; assert equal parameter shapes and equal outputs on X."""
    torch.manual_seed(seed)
    ours = make_ours().eval()
    torch.manual_seed(seed)
    theirs = make_utils().eval()
    shapes = [tuple(p.shape) for p in ours.parameters()]
    assert shapes == [tuple(p.shape) for p in theirs.parameters()]
    with torch.no_grad():
        Y = ours(X)
        assert torch.equal(Y, theirs(X))
    print(f"same {len(shapes)} parameter tensors and the same output {tuple(Y.shape)}")


def trace(net, X):
    """(layer, output shape) for every layer without children, in the order they ran."""
    steps = []
    hooks = [m.register_forward_hook(lambda m, i, out: steps.append((m, tuple(out.shape[1:]))))
             for m in net.modules() if not list(m.children())]
    with torch.no_grad():
        net(X)
    for h in hooks:
        h.remove()
    return steps


def describe(m):
    """A short label for a layer; None for the ones folded into the previous box."""
    if isinstance(m, nn.Conv2d):
        k, st = m.kernel_size[0], m.stride[0]
        return f"{k}x{k} conv{f' /{st}' if st > 1 else ''}, {m.out_channels} ch"
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        kind = "max" if isinstance(m, nn.MaxPool2d) else "avg"
        st = f" /{m.stride}" if m.stride > 1 else ""
        return f"{m.kernel_size}x{m.kernel_size} {kind} pool{st}"
    if isinstance(m, nn.AdaptiveAvgPool2d):
        return "global avg pool"
    if isinstance(m, nn.Linear):
        return f"dense, {m.out_features}"
    if isinstance(m, nn.BatchNorm2d):
        return "batch norm"
    return None


def boxes(net, X, first="input"):
    """The (label, output shape) boxes of a diagram: ReLU and dropout join the box above."""
    out = [(first, tuple(X.shape[1:]))]
    for m, shape in trace(net, X):
        label = describe(m)
        if label is not None:
            out.append((label, shape))
        elif isinstance(m, (nn.ReLU, nn.Dropout)):
            extra = " + ReLU" if isinstance(m, nn.ReLU) else " + dropout"
            if out[-1][0] == "batch norm":        # batch norm, ReLU: one box
                out[-1] = ("batch norm + ReLU", shape)
            else:
                out[-1] = (out[-1][0] + extra, shape)
    return out


def draw_chain(ax, steps, x=0.0, top=0.0, dy=1.0, width=3.4, color="#dbe9f6", inside=False):
    """Boxes from top to bottom with arrows; each output shape beside its box (or inside)."""
    for i, (label, shape) in enumerate(steps):
        y = top - i * dy
        ax.add_patch(FancyBboxPatch((x - width / 2, y - 0.28), width, 0.56,
                                    boxstyle="round,pad=0.04", fc=color, ec="0.3"))
        text = "x".join(map(str, shape))
        if inside:
            ax.text(x, y, f"{label}\n{text}", ha="center", va="center", fontsize=8)
        else:
            ax.text(x, y, label, ha="center", va="center", fontsize=9)
            ax.text(x + width / 2 + 0.1, y, text, fontsize=8, va="center", color="0.35")
        if i:
            ax.annotate("", xy=(x, y + 0.32), xytext=(x, y + dy - 0.32),
                        arrowprops=dict(arrowstyle="->", color="0.3"))
    return top - (len(steps) - 1) * dy


def finish(ax, title):
    ax.set_title(title, fontsize=10)
    ax.autoscale_view()
    ax.margins(0.05)
    ax.axis("off")


# %% [markdown]
# ## AlexNet: LeNet, deeper and wider
#
# AlexNet (Krizhevsky, Sutskever and Hinton, 2012) won the ImageNet challenge of 2012 by
# a wide margin and started the deep-learning era of computer vision. Its outline is
# LeNet's: convolutions and pooling, then dense layers. What changed is the scale and the
# details that made the scale trainable: eight weighted layers (five convolutional, three
# dense) for 224x224 colour images, an 11x11 first kernel with stride 4 to shrink those
# images fast, ReLU instead of sigmoid (its gradient does not vanish for large inputs),
# dropout in the dense layers against overfitting, heavy data augmentation, and two
# GPUs to train on.
#
# The version below is the common teaching one: one input channel for Fashion-MNIST, ten
# outputs, and without the original's local response normalisation and its split of the
# layers across two GPUs. It expects 224x224 inputs, as published.

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


# %% [markdown]
# `utils.alexnet` is the same network; it also takes narrower widths and a stem for
# 28x28 images, which the training section below uses. The check:

# %%
assert_same(alexnet, utils.alexnet, torch.randn(2, 1, 224, 224))

# %%
alex = build_meta(alexnet)
alex_params, alex_macs = profile_net(alex, 224)

# %% [markdown]
# The same trace as a block diagram, one box per layer (with its activation and
# dropout), the shape of its output beside it (channels x height x width):

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(6, 7.5))
draw_chain(ax, boxes(alex, torch.zeros(1, 1, 224, 224, device="meta")), dy=0.75)
finish(ax, "AlexNet for 1x224x224 inputs")
plt.show()


# %% [markdown]
# The trace shows the two halves of the network. The convolutions shrink 224x224 to 5x5
# while raising the channels to 256; the dense layers then hold almost all the weights.
# The share is easy to compute:

# %%
def dense_share(net):
    """Fraction of the parameters of `net` that sit in its nn.Linear layers."""
    dense = sum(utils.num_params(m) for m in net.modules() if isinstance(m, nn.Linear))
    return dense / utils.num_params(net)

print(f"AlexNet: {dense_share(alex):.1%} of the parameters are in the dense layers")

# %% tags=["hide-input"]
assert dense_share(alex) > 0.9

# %% [markdown]
# The multiply-adds are distributed the other way: every convolution weight is used at
# every position of its output, a dense weight once per image. The
# [exercises](../exercises/08_classic_networks.ipynb) break both down layer by layer.
#
# Why not feed AlexNet the 28x28 images directly? Its first layer and three poolings
# shrink the input too fast: a 28x28 image runs out of pixels before the last pooling.
# The shape error comes as soon as we try (on the meta device, so it costs nothing).
# This is why the training section at the end of this page, in both profiles, keeps
# the images at 28x28 and gives AlexNet a small-input stem instead (a 3x3 first
# convolution with stride 1), as the budget it prints says:

# %%
caught = None
try:
    alex(torch.zeros(1, 1, 28, 28, device="meta"))
except RuntimeError as err:
    caught = err
assert caught is not None and "too small" in str(caught)
print(type(caught).__name__ + ":", str(caught).splitlines()[0])


# %% [markdown]
# ## VGG: networks made of blocks
#
# Simonyan and Zisserman {cite}`simonyan2014very` asked how to make a network deeper in
# a systematic way, and answered with a **block**: a few 3x3 convolutions with padding 1
# (they keep the height and width), each followed by a ReLU, then a 2x2 max pooling with
# stride 2 that halves the height and width. A network is then a list of
# `(number of convolutions, output channels)` pairs, followed by AlexNet's dense head.
# Only 3x3 kernels are used: two of them in a row see a 5x5 window, three a 7x7 window,
# with fewer weights than one large kernel and an extra ReLU in between (the exercises
# check both claims).

# %%
def vgg_block(num_convs, in_channels, out_channels):
    layers = []
    for _ in range(num_convs):
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
                   nn.ReLU()]
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


VGG11 = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))  # (convolutions, channels)


def vgg(conv_arch=VGG11, num_classes=10, in_channels=1):
    blocks = []
    for num_convs, out_channels in conv_arch:
        blocks.append(vgg_block(num_convs, in_channels, out_channels))
        in_channels = out_channels
    side = 224 // 2 ** len(conv_arch)          # each block halves 224x224
    return nn.Sequential(
        *blocks, nn.Flatten(),
        nn.Linear(in_channels * side * side, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, num_classes))


# %%
X = torch.randn(2, 3, 16, 16)
assert_same(lambda: vgg_block(2, 3, 8), lambda: utils.vgg_block(2, 3, 8), X)
assert_same(vgg, utils.vgg, torch.randn(1, 1, 224, 224))

# %% [markdown]
# VGG-11 has eight convolutions in five blocks and three dense layers. A block keeps the
# resolution in its convolutions and halves it in its pooling, so five blocks take
# 224x224 to 7x7. The trace shows one line per block:

# %%
vgg11 = build_meta(vgg)
vgg_params, vgg_macs = profile_net(vgg11, 224)
print(f"dense layers: {dense_share(vgg11):.1%} of the parameters")

# %% [markdown]
# Table 2 of the VGG paper gives 133 million parameters for this configuration
# ("A") on ImageNet. The same function with three input channels and 1000 classes
# reproduces it, which checks our definition against the published one:

# %%
imagenet_vgg11 = utils.num_params(build_meta(vgg, VGG11, num_classes=1000, in_channels=3))
print(f"VGG-11 for ImageNet: {imagenet_vgg11 / 1e6:.1f} million parameters")

# %% tags=["hide-input"]
assert round(imagenet_vgg11 / 1e6) == 133

# %% [markdown]
# Compared with AlexNet, VGG-11 has more parameters and many times the arithmetic (the
# ratio is printed below). It is the price of doing all the work with full-resolution 3x3
# convolutions in the first blocks, where the maps are 224x224 and 112x112.

# %%
print(f"VGG-11 / AlexNet: {vgg_params / alex_params:.1f}x the parameters, "
      f"{vgg_macs / alex_macs:.1f}x the multiply-adds")

# %% tags=["hide-input"]
assert vgg_params > alex_params and vgg_macs > 5 * alex_macs

# %% [markdown]
# ## NiN: 1x1 convolutions and global average pooling
#
# In AlexNet and VGG, most of the parameters sit in the first dense layer, which connects
# every position of every channel to every hidden unit. Lin, Chen and Yan
# {cite}`lin2013network` removed the dense head altogether and put the "fully connected"
# part *inside* the convolutional body instead. A 1x1 convolution applies the same small
# linear map to the channel vector at every pixel: followed by a ReLU and another 1x1
# convolution, it is a little MLP run at each position, a *network in the network*.
#
# The claim "a 1x1 convolution is a linear layer applied per pixel" can be checked by
# copying the weights of one into the other:

# %%
torch.manual_seed(0)
conv1x1 = nn.Conv2d(3, 4, kernel_size=1)
linear = nn.Linear(3, 4)
with torch.no_grad():
    linear.weight.copy_(conv1x1.weight.view(4, 3))
    linear.bias.copy_(conv1x1.bias)
X = torch.randn(2, 3, 5, 5)                              # (batch, channels, height, width)
per_pixel = linear(X.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)   # channels last, then back
torch.testing.assert_close(conv1x1(X), per_pixel)
print("1x1 convolution == nn.Linear on the channels of every pixel:", tuple(per_pixel.shape))


# %% [markdown]
# A NiN block is one ordinary convolution followed by two 1x1 convolutions, each with a
# ReLU. The network uses AlexNet's kernel sizes and strides, and its last block outputs
# one channel per class. **Global average pooling** then averages each of those channels
# over all positions, giving one logit per class, with no dense layer at all.

# %%
def nin_block(in_channels, out_channels, kernel_size, stride, padding):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())


def nin(num_classes=10, in_channels=1):
    return nn.Sequential(
        nin_block(in_channels, 96, kernel_size=11, stride=4, padding=0),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nin_block(96, 256, kernel_size=5, stride=1, padding=2),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nin_block(256, 384, kernel_size=3, stride=1, padding=1),
        nn.MaxPool2d(kernel_size=3, stride=2), nn.Dropout(p=0.5),
        nin_block(384, num_classes, kernel_size=3, stride=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)),          # global average pooling: one value per channel
        nn.Flatten())


# %%
assert_same(lambda: nin_block(3, 8, 5, 1, 2), lambda: utils.nin_block(3, 8, 5, 1, 2),
            torch.randn(2, 3, 12, 12))
assert_same(nin, utils.nin, torch.randn(2, 1, 224, 224))

# %% [markdown]
# The two blocks side by side: a VGG block (the third of VGG-11, two 3x3 convolutions
# from 128 to 256 channels at 56x56) and NiN's first block on a 224x224 image. The VGG
# block keeps the size until its pooling; the NiN block's two 1x1 convolutions keep it
# too, mixing only the channels of each pixel.

# %% tags=["hide-input"]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.8))
draw_chain(ax1, boxes(build_meta(vgg_block, 2, 128, 256),
                      torch.zeros(1, 128, 56, 56, device="meta")))
finish(ax1, "VGG block: vgg_block(2, 128, 256)")
draw_chain(ax2, boxes(build_meta(nin_block, 1, 96, 11, 4, 0),
                      torch.zeros(1, 1, 224, 224, device="meta")))
finish(ax2, "NiN block: nin_block(1, 96, 11, 4, 0)")
fig.tight_layout()
plt.show()

# %%
nin_net = build_meta(nin)
nin_params, nin_macs = profile_net(nin_net, 224)
print(f"NiN has {alex_params / nin_params:.0f}x fewer parameters than AlexNet")

# %% tags=["hide-input"]
assert dense_share(nin_net) == 0 and nin_params < alex_params / 10


# %% [markdown]
# NiN keeps AlexNet's convolutional body (and a similar amount of arithmetic) but has a
# small fraction of its parameters, because there is no dense head to hold them. Global
# average pooling has one more advantage: it does not care about the size of the last
# feature map, so the network accepts other input sizes. The dense head of AlexNet and
# VGG, in contrast, fixes the input size to a narrow range around 224x224 (exercise 2
# finds it).
#
# ## GoogLeNet: Inception blocks
#
# Which kernel size is best: 1x1, 3x3 or 5x5? GoogLeNet {cite}`szegedy2015going` does
# not choose. Its **Inception block** runs four branches side by side on the same input
# and concatenates their outputs along the channel axis:
#
# 1. a 1x1 convolution;
# 2. a 1x1 convolution that reduces the channels, then a 3x3 convolution;
# 3. a 1x1 convolution that reduces the channels, then a 5x5 convolution;
# 4. a 3x3 max pooling (stride 1), then a 1x1 convolution.
#
# Padding keeps every branch at the input's height and width, so the outputs can be
# stacked, and the block's output channels are the sum of the four branches' channels.
# The cheap 1x1 convolutions in front of the 3x3 and 5x5 ones are what keep the block
# affordable: the large kernels see few input channels. The channel numbers `c1` to `c4`
# are the hyperparameters of a block.

# %%
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
        self.out_channels = c1 + c2[1] + c3[1] + c4

    def forward(self, X):
        return torch.cat([self.b1(X), self.b2(X), self.b3(X), self.b4(X)], dim=1)


# %% [markdown]
# The first Inception block of GoogLeNet takes 192 channels at 28x28 (in the 224x224
# network) and outputs 64 + 128 + 32 + 32 channels:

# %%
block = Inception(192, 64, (96, 128), (16, 32), 32)
X = torch.zeros(1, 192, 28, 28)
branches = [tuple(branch(X).shape) for branch in (block.b1, block.b2, block.b3, block.b4)]
print("branch outputs:", branches)
print("block output:  ", tuple(block(X).shape))

# %%
assert block(X).shape == (1, block.out_channels, 28, 28)
assert block.out_channels == sum(shape[1] for shape in branches) == 256
assert_same(lambda: Inception(192, 64, (96, 128), (16, 32), 32),
            lambda: utils.Inception(192, 64, (96, 128), (16, 32), 32), torch.randn(2, 192, 7, 7))

# %% [markdown]
# As a diagram, with the shapes of the four branches traced on that input:

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(9, 4.5))
X_meta = torch.zeros(1, 192, 28, 28, device="meta")
ax.add_patch(FancyBboxPatch((-1.2, 0.72), 2.4, 0.56, boxstyle="round,pad=0.04",
                            fc="#eeeeee", ec="0.3"))
ax.text(0, 1.0, "input " + "x".join(map(str, X_meta.shape[1:])), ha="center", va="center",
        fontsize=9)
xs = (-4.5, -1.5, 1.5, 4.5)                 # the four branches, left to right
bottom = min(draw_chain(ax, boxes(b, X_meta)[1:], x=x, width=2.7, inside=True)
             for b, x in zip((block.b1, block.b2, block.b3, block.b4), xs))
out_shape = tuple(build_meta(Inception, 192, 64, (96, 128), (16, 32), 32)(X_meta).shape[1:])
y_cat = bottom - 1.2
for b, x in zip((block.b1, block.b2, block.b3, block.b4), xs):
    y_end = -(len(boxes(b, X_meta)) - 2)
    ax.annotate("", xy=(x, 0.32), xytext=(0, 0.7), arrowprops=dict(arrowstyle="->", color="0.3"))
    ax.annotate("", xy=(0, y_cat + 0.3), xytext=(x, y_end - 0.32),
                arrowprops=dict(arrowstyle="->", color="0.3"))
ax.add_patch(FancyBboxPatch((-1.6, y_cat - 0.28), 3.2, 0.56, boxstyle="round,pad=0.04",
                            fc="#fde2c8", ec="0.3"))
ax.text(0, y_cat, "concatenate: " + "x".join(map(str, out_shape)), ha="center",
        va="center", fontsize=9)
finish(ax, "Inception(192, 64, (96, 128), (16, 32), 32): four branches, one concatenation")
plt.show()


# %% [markdown]
# GoogLeNet stacks nine such blocks in three groups, separated by max poolings with
# stride 2, after a stem of ordinary convolutions much like AlexNet's; global average
# pooling and a single dense layer produce the logits. The channel numbers below are
# those of Table 1 of the paper. Left out, as in most teaching versions: the two auxiliary
# classifiers that the original attached to intermediate blocks during training, and
# local response normalisation. We trace it at 96x96, the size commonly used to train it
# on Fashion-MNIST: at 224x224 it would do several times the arithmetic (the table at
# the end of the chapter has that number) on upsampled 28x28 images that carry no more
# detail.

# %%
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


# %%
assert_same(googlenet, utils.googlenet, torch.randn(2, 1, 96, 96))

# %%
goog = build_meta(googlenet)
goog_params, goog_macs = profile_net(goog, 96)

# %% [markdown]
# As a last check of the meta device on a network with branches, the same trace of a
# real GoogLeNet (weights allocated, a real zero image pushed through) is identical:

# %%
real_goog = googlenet().eval()
assert (utils.layer_summary(real_goog, torch.zeros(1, 1, 96, 96))
        == utils.layer_summary(goog, torch.zeros(1, 1, 96, 96, device="meta")))
print("real and meta traces of GoogLeNet are identical")

# %% [markdown]
# ## DenseNet: concatenate instead of add
#
# A residual block computes $\mathbf{x} + g(\mathbf{x})$. DenseNet (Huang, Liu, van der
# Maaten and Weinberger, 2017) keeps the idea of passing the input on unchanged, but
# *concatenates* it with the new features instead of adding them:
#
# $$\mathbf{x} \to [\mathbf{x},\ g(\mathbf{x})].$$
#
# Repeat this inside a block and every layer receives the outputs of *all* the layers
# before it: $\mathbf{x}_1 = [\mathbf{x}, g_1(\mathbf{x})]$,
# $\mathbf{x}_2 = [\mathbf{x}_1, g_2(\mathbf{x}_1)]$, and so on. Nothing has to be
# relearned or carried through by a layer, since every earlier feature stays available
# as it is. The price is that the channels grow with every layer.
#
# The difference shows in the shapes. Addition needs the two branches to match and keeps
# the channel count; concatenation adds the branch's channels and keeps the input
# untouched in the first channels of the output:

# %%
torch.manual_seed(0)
X = torch.rand(2, 8, 6, 6)
residual = utils.Residual(8, 8).eval()
g = nn.Conv2d(8, 4, kernel_size=3, padding=1)           # the new features: 4 channels
added = residual(X)
concatenated = torch.cat([X, g(X)], dim=1)
print("ResNet, x + g(x):   ", tuple(X.shape), "->", tuple(added.shape))
print("DenseNet, [x, g(x)]:", tuple(X.shape), "->", tuple(concatenated.shape))
print("input kept exactly in the first 8 channels:", torch.equal(concatenated[:, :8], X))

# %% tags=["hide-input"]
assert added.shape == X.shape and concatenated.shape == (2, 12, 6, 6)
assert torch.equal(concatenated[:, :8], X)


# %% [markdown]
# Each layer of a dense block is a "batch norm, ReLU, 3x3 convolution" unit, the
# pre-activation order of the improved ResNet {cite}`he2016identity`. Every unit outputs
# the same number of channels $k$, the **growth rate**, so a block of $n$ units turns
# $c$ input channels into $c + nk$.

# %%
def conv_block(in_channels, out_channels):
    return nn.Sequential(
        nn.BatchNorm2d(in_channels), nn.ReLU(),
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False))


class DenseBlock(nn.Module):
    """`num_convs` conv blocks; each one's output is concatenated to its input."""

    def __init__(self, num_convs, in_channels, growth_rate):
        super().__init__()
        self.convs = nn.ModuleList(
            conv_block(in_channels + i * growth_rate, growth_rate) for i in range(num_convs))
        self.out_channels = in_channels + num_convs * growth_rate

    def forward(self, X):
        for blk in self.convs:
            X = torch.cat([X, blk(X)], dim=1)    # (batch, channels + growth_rate, h, w)
        return X


# %%
X = torch.rand(4, 3, 8, 8)
for num_convs, growth_rate in ((2, 10), (4, 32)):
    blk = DenseBlock(num_convs, 3, growth_rate)
    Y = blk(X)
    assert Y.shape[1] == blk.out_channels == 3 + num_convs * growth_rate
    assert torch.equal(Y[:, :3], X)
    print(f"{num_convs} convs, growth rate {growth_rate}:", tuple(X.shape), "->",
          tuple(Y.shape))


# %% [markdown]
# Left alone, the channels would keep growing from block to block. A **transition
# layer** between blocks brings them down: batch norm, ReLU, a 1x1 convolution that
# halves the channels, and a 2x2 average pooling that halves the height and width.

# %%
def transition_block(in_channels, out_channels):
    return nn.Sequential(
        nn.BatchNorm2d(in_channels), nn.ReLU(),
        nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),
        nn.AvgPool2d(kernel_size=2, stride=2))

print("transition:", tuple(Y.shape), "->", tuple(transition_block(Y.shape[1], 10)(Y).shape))

# %%
X = torch.randn(2, 3, 8, 8)
assert_same(lambda: conv_block(3, 10), lambda: utils.dense_conv_block(3, 10), X)
assert_same(lambda: DenseBlock(4, 3, 10), lambda: utils.DenseBlock(4, 3, 10), X)
assert_same(lambda: transition_block(3, 2), lambda: utils.transition_block(3, 2), X)

# %% [markdown]
# A diagram of DenseNet's first dense block at 96x96 inputs (64 channels at 24x24, four
# layers, growth rate 32) and the transition after it. The shapes come from running the
# block's own layers one by one on a tensor of that size: each layer adds 32 channels,
# each concatenation (orange) keeps everything before it, and the transition halves the
# channels and the side.

# %% tags=["hide-input"]
blk = build_meta(DenseBlock, 4, 64, 32)
X_meta = torch.zeros(1, 64, 24, 24, device="meta")
steps, Y_meta = [("input", tuple(X_meta.shape[1:]))], X_meta
with torch.no_grad():
    for layer in blk.convs:
        new = layer(Y_meta)
        Y_meta = torch.cat([Y_meta, new], dim=1)
        steps += [("batch norm + ReLU + 3x3 conv", tuple(new.shape[1:])),
                  ("concatenate with its input", tuple(Y_meta.shape[1:]))]
    assert Y_meta.shape == blk(X_meta).shape
trans = build_meta(transition_block, blk.out_channels, blk.out_channels // 2)
steps += boxes(trans, Y_meta)[1:]
fig, ax = plt.subplots(figsize=(6, 7.5))
draw_chain(ax, steps, dy=0.75, width=3.8)
for i, (label, _) in enumerate(steps):
    if label.startswith("concatenate"):
        y = -i * 0.75
        ax.add_patch(FancyBboxPatch((-1.9, y - 0.28), 3.8, 0.56, boxstyle="round,pad=0.04",
                                    fc="#fde2c8", ec="0.3"))
        ax.annotate("", xy=(-1.95, y), xytext=(-1.95, y + 1.5),
                    arrowprops=dict(arrowstyle="->", color="C3",
                                    connectionstyle="arc3,rad=0.5"))
finish(ax, "dense block (4 layers, growth rate 32), then a transition")
plt.show()


# %% [markdown]
# The whole network has ResNet's outline: the same 7x7 stem, four dense blocks (of four
# units each, growth rate 32) in place of the four residual stages, with transition
# layers between them, then batch norm, ReLU, global average pooling and one dense layer.
# The `small_input` option swaps the stem for a 3x3 convolution and a single 2x2 pooling,
# for 28x28 images; we use it in the training section below.

# %%
def densenet(num_classes=10, in_channels=1, num_channels=64, growth_rate=32,
             block_sizes=(4, 4, 4, 4), small_input=False):
    if small_input:          # 28x28 in, 14x14 out
        stem = nn.Sequential(
            nn.Conv2d(in_channels, num_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(num_channels), nn.ReLU(), nn.MaxPool2d(kernel_size=2))
    else:                    # as in ResNet: the side shrinks by 4
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
        if i < len(block_sizes) - 1:           # halve the channels between blocks
            layers.append(transition_block(num_channels, num_channels // 2))
            num_channels //= 2
    layers += [nn.BatchNorm2d(num_channels), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)),
               nn.Flatten(), nn.Linear(num_channels, num_classes)]
    return nn.Sequential(*layers)


# %%
assert_same(densenet, utils.densenet, torch.randn(2, 1, 96, 96))

# %%
dense = build_meta(densenet)
dense_params, dense_macs = profile_net(dense, 96)

# %% [markdown]
# In the trace, each dense block adds $4 \times 32 = 128$ channels and each transition
# halves them again, along with the height and width. With under a million parameters,
# this DenseNet is the smallest network of the chapter: its layers are narrow (32 new
# channels each) because every layer can reuse everything computed before it.
#
# ## The family side by side
#
# To compare the networks fairly we profile them all, and ResNet-18 from `utils`, at one
# input size. It has to be 224x224, the only size that AlexNet's and VGG's dense heads
# accept. The table is built from the counters above; "MACs per parameter" says how
# often each weight is used per image.

# %%
families = {
    "AlexNet": alexnet, "VGG-11": vgg, "NiN": nin, "GoogLeNet": googlenet,
    "ResNet-18": utils.resnet18, "DenseNet": densenet}
rows = {name: profile_net(build_meta(make), 224, show=False)
        for name, make in families.items()}
print(f"{'network':<10} {'parameters':>12} {'multiply-adds':>15} {'MACs/param':>11}")
for name, (params, macs) in rows.items():
    print(f"{name:<10} {params / 1e6:>10.2f} M {macs / 1e9:>13.2f} G {macs / params:>11,.0f}")

# %%
params_of = {name: p for name, (p, m) in rows.items()}
macs_of = {name: m for name, (p, m) in rows.items()}
assert max(params_of, key=params_of.get) == "VGG-11"
assert max(macs_of, key=macs_of.get) == "VGG-11"
assert min(params_of, key=params_of.get) == "DenseNet"
reuse = {name: macs_of[name] / params_of[name] for name in rows}
assert all(reuse[name] < 100 for name in ("AlexNet", "VGG-11"))
assert all(reuse[name] > 100 for name in ("NiN", "GoogLeNet", "ResNet-18", "DenseNet"))

# %% [markdown]
# The table separates the networks into two groups, as the cell above checks. AlexNet
# and VGG-11, with their dense heads, have tens to hundreds of millions of parameters but
# use each one fewer than a hundred times per image. The later networks have about ten
# million parameters or fewer and use each one hundreds of times. VGG-11 tops both the
# parameter and the compute column; DenseNet has the fewest parameters. The plot shows
# the same numbers on logarithmic axes.

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(6, 3.5))
for name, (params, macs) in rows.items():
    ax.scatter(params / 1e6, macs / 1e9)
    ax.annotate(name, (params / 1e6, macs / 1e9), textcoords="offset points",
                xytext=(5, 3), fontsize=10)
ax.set_xscale("log")
ax.set_yscale("log")
ax.margins(x=0.25, y=0.2)                  # room for the labels
for axis in (ax.xaxis, ax.yaxis):          # plain numbers instead of powers of ten
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())
ax.set_xlabel("parameters (millions)")
ax.set_ylabel("multiply-adds per image (billions)")
ax.set_title("Classic CNNs at 224x224, one input channel, 10 classes")
ax.grid(True, which="both", alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# Parameters are not a measure of cost. NiN has a small fraction of AlexNet's weights
# and a similar amount of arithmetic; GoogLeNet and ResNet-18 have far fewer weights than
# VGG-11 and still do over a billion multiply-adds per image. Parameters decide the
# memory for weights and how much a network can overfit; multiply-adds count the
# arithmetic, which is not the same as the time per image: many thin layers,
# concatenations and batch norms cost time that the count leaves out, and a processor
# runs some layer shapes far more efficiently than others. The training table below
# prints the examples per second beside the multiply-adds of the networks it trains,
# measured on the machine that ran this page.
#
# ## Three families on 500 images
#
# Which family learns best? At their published sizes none of them trains on two CPU
# cores in the few minutes a page of this book may take, and neither does the full
# training set, so this comparison runs in a regime chosen to fit: **few training
# images** (500, the budget printed below), trained for as many epochs as the page's
# time allows (the curves below show how far that gets them). It
# asks which design generalises best from few examples, an inductive-bias question, not
# which one ranks first at reader scale (the `full` profile trains on all 55,000 images
# that the validation split leaves).
#
# The networks are **scaled down, for 28x28 images**: narrow widths, and the
# small-input stems of `utils.alexnet` and `utils.densenet` (a 3x3 first convolution
# with stride 1 instead of the large strided one); VGG gets three blocks instead of
# five. Each keeps its family's idea: AlexNet's and VGG's dense heads with dropout,
# DenseNet's dense and transition blocks without any dense hidden layer. We train three
# of the five families, to keep this page within its time: the two with dense heads
# and DenseNet, the newest design. NiN (`utils.nin(..., small_input=True)`) and GoogLeNet
# (`utils.googlenet_small`) can be added to the dictionary below, and the
# [exercises](../exercises/08_classic_networks.ipynb) train GoogLeNet with and without
# batch norm. All three start from the same kind of initial weights (He, or Kaiming,
# normal, which suits ReLU networks) and train with Adam on the same images for the same
# number of epochs:

# %%
budget = profile.budget("classic_families")
print(f"profile {profile.name!r}:", budget.describe())
print("seeds:", profile.seeds)
train_iter, val_iter, test_iter = utils.load_fashion_mnist(
    budget.batch_size, device=device, train_size=budget.train_size,
    val_size=budget.val_size, test_size=budget.test_size)
utils.glue("fam_updates", f"{budget.updates:,}")
utils.glue("fam_train", f"{budget.examples:,}")
utils.glue("fam_epochs", budget.num_epochs)


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


small_families = {
    "AlexNet": he_init(lambda: utils.alexnet(channels=(8, 16, 24, 24, 16), hidden=128,
                                             small_input=True)),
    "VGG": he_init(lambda: utils.vgg(((1, 8), (1, 16), (2, 32)), hidden=128, side=28)),
    "DenseNet": he_init(lambda: utils.densenet(**budget.model)),
}
cost = {name: (utils.num_params(make()), utils.count_macs(make(), (1, 28, 28)))
        for name, make in small_families.items()}
for name, (params, macs) in cost.items():
    print(f"{name:<10} {params:>9,} parameters {macs / 1e6:>6.2f} M multiply-adds per image")

# %% [markdown]
# The learning rate is chosen for each network on the validation split, never on the
# test set, by `utils.sweep`: every rate of a small grid is trained from every seed,
# the rate with the best mean validation accuracy is kept, and while that rate is the
# lowest or the highest one tried, the sweep tries one more beyond it (a grid step
# further) and says so. Its one-line summary also flags rates that the book's decision
# rule cannot separate from the choice (ties). Every run prints its validation accuracy:

# %% tags=["nbval-ignore-output"]
sweeps = {name: utils.sweep(make, train_iter, val_iter, budget.num_epochs, (0.001, 0.003),
                            name=name, optimizer="adam", device=device)
          for name, make in small_families.items()}
runs = {name: s.best for name, s in sweeps.items()}
print()
for s in sweeps.values():
    print(s.describe())

# %%
for name in sweeps:
    r = runs[name]
    assert len(r) == len(profile.seeds) and not any(run.diverged for run in r), name
    assert all(len(run.history) == budget.num_epochs for run in r), name
    assert r.mean("val") > 0.4, (name, r.summary("val"))

# %% [markdown]
# Has each network learned what it can from these images? The curves of every run at
# its chosen rate, one line per seed: the training loss on the left, the validation
# accuracy on the right.

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
epochs = range(1, budget.num_epochs + 1)
for i, (name, r) in enumerate(runs.items()):
    for k, run in enumerate(r):
        label = name if k == 0 else None
        axes[0].plot(epochs, [e["train_loss"] for e in run.history], color=f"C{i}",
                     alpha=0.7, label=label)
        axes[1].plot(epochs, [e["test_acc"] for e in run.history], color=f"C{i}",
                     alpha=0.7, label=label)
axes[0].set_ylabel("training loss")
axes[1].set_ylabel("validation accuracy")
axes[1].set_ylim(0, 1)
for ax, title in zip(axes, ("training loss per epoch", "validation accuracy per epoch"),
                     strict=True):
    ax.set_xlabel("epoch")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
axes[1].legend(fontsize=9, loc="lower right")
fig.tight_layout()
plt.show()

# %% [markdown]
# The same in numbers: for each network, the means over the seeds of the last epoch's
# training accuracy (measured during the epoch, with dropout active), and of how much the
# training loss and the validation accuracy changed over the last three epochs.

# %% tags=["nbval-ignore-output"]
def last_change(run, key, span=3):
    """How much `key` changed over the last `span` epochs of a run."""
    return run.history[-1][key] - run.history[-1 - span][key]


def seed_mean(values):
    values = list(values)
    return sum(values) / len(values)


plateau = {name: {"train_acc": seed_mean(run.history.last["train_acc"] for run in r),
                  "loss_change": seed_mean(last_change(run, "train_loss") for run in r),
                  "val_change": seed_mean(last_change(run, "test_acc") for run in r)}
           for name, r in runs.items()}
print(f"{'network':<10}{'train acc':>11}{'loss change':>13}{'val change':>12}"
      "   (last epoch; change over the last 3 epochs)")
for name, p in plateau.items():
    print(f"{name:<10}{p['train_acc']:>11.3f}{p['loss_change']:>+13.3f}"
          f"{p['val_change']:>+12.3f}")
val_moves = max(abs(p["val_change"]) for p in plateau.values())
loss_falls = min(-p["loss_change"] for p in plateau.values())
utils.glue("fam_val_moves", val_moves)
utils.glue("fam_loss_falls", max(-p["loss_change"] for p in plateau.values()))
utils.glue("fam_train_lo", min(p["train_acc"] for p in plateau.values()))
utils.glue("fam_train_hi", max(p["train_acc"] for p in plateau.values()))
utils.glue("fam_val_state",
           "levelled off: on average it moved by at most "
           f"{val_moves:.3f} over the last three epochs" if val_moves < 0.03 else
           f"still moving: by up to {val_moves:.3f} over the last three epochs on average")
utils.glue("fam_loss_state",
           "still falling for every network" if loss_falls > 0 else
           "no longer falling for at least one network")

# %%
for name, p in plateau.items():
    assert 0.4 < p["train_acc"] <= 1.0, (name, p)

# %% [markdown]
# Over the last three epochs, validation accuracy was <span data-glue="fam_val_state">still moving: by up to 0.040 over the last three epochs on average</span>, and
# the training loss was <span data-glue="fam_loss_state">still falling for every network</span> (by up to
# <span data-glue="fam_loss_falls:.3f">0.130</span>); the last epoch's training accuracy is
# <span data-glue="fam_train_lo:.2f">0.76</span> to <span data-glue="fam_train_hi:.2f">0.80</span>. Read the curves with
# that: on this budget the networks have not converged, and the one whose curves still
# climb most might gain most from more epochs. The comparison below is therefore a
# comparison after <span data-glue="fam_updates">240</span> updates on these <span data-glue="fam_train">500</span>
# images, which a longer budget could reorder; the `full` profile trains on all the
# training images for longer.
#
# Only now is the test set scored, once, on the chosen runs. The table is generated
# from the runs: parameters and multiply-adds per image (both exact counts), training
# speed (examples per second in the last epoch, averaged over the seeds; it depends on
# the machine), and accuracy as mean ± standard deviation (sd) over the seeds.

# %% tags=["nbval-ignore-output"]
for r in runs.values():
    r.score("test", test_iter)
speed = {name: seed_mean(run.history.last["examples_per_sec"] for run in r)
         for name, r in runs.items()}
print(f"{'network':<10}{'params':>9}{'MACs':>9}{'lr':>7}{'examples/s':>12}"
      f"{'val acc (sd)':>16}{'test acc (sd)':>16}")
for name, r in runs.items():
    params, macs = cost[name]
    print(f"{name:<10}{params:>9,}{macs / 1e6:>8.2f}M{r.config['lr']:>7g}{speed[name]:>12,.0f}"
          f"{r.mean('val'):>10.3f} ({r.std('val'):.3f}){r.mean('test'):>10.3f} "
          f"({r.std('test'):.3f})")
print()
print(utils.runs_table(list(runs.values()), "test"))

# %% [markdown]
# The same results against the number of parameters (each seed a dot, each network's
# mean a square with a bar of one standard deviation):

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(6, 3.5))
for i, (name, r) in enumerate(runs.items()):
    params = cost[name][0]
    ax.plot([params] * len(r), r.scores("test"), "o", color=f"C{i}", alpha=0.5, ms=5)
    ax.errorbar([params], [r.mean("test")], yerr=[r.std("test")], fmt="s", color=f"C{i}",
                capsize=4, ms=7, label=name)
ax.set_xscale("log")
ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
ax.xaxis.set_minor_formatter(NullFormatter())
ax.set_xlabel("parameters")
ax.set_ylabel("test accuracy")
ax.set_title("Scaled-down classic networks, 500 training images, 28x28 inputs",
             fontsize=10)
ax.legend(fontsize=8, loc="lower right")
ax.grid(True, which="both", alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# The headline comparison takes the family with the best mean *validation* accuracy
# among the later designs (so that the test set plays no part in picking it) and sets it
# against AlexNet, the oldest design, on the test set, paired by seed (seed $k$ gives
# both the same batch order; the training images, the validation split and the test
# images are the same for every run):

# %% tags=["nbval-ignore-output"]
best = max((name for name in runs if name != "AlexNet"), key=lambda n: runs[n].mean("val"))
baseline, treatment = runs["AlexNet"], runs[best]
g = utils.gain(baseline, treatment, "test", names=("AlexNet", best))
others = {name: utils.gain(baseline, r, "test", names=("AlexNet", name))
          for name, r in runs.items() if name not in ("AlexNet", best)}
print(f"best on validation: {best}; {best} - AlexNet on test: {g}")
print(g.verdict())
for name, other in others.items():
    print(f"{name} - AlexNet on test: {other.verdict()}")
utils.compare("08_classic_networks", baseline, treatment, budget)
for name, r in runs.items():
    utils.glue(f"{name}_test", r.mean("test"))
    utils.glue(f"{name}_lr", r.config["lr"])
utils.glue("best_family", best)
utils.glue("best_verdict", g.verdict())
utils.glue("other_verdicts", "; ".join(o.verdict() for o in others.values()) or "none")
widest = max(runs, key=lambda n: runs[n].std("test"))
utils.glue("widest_family", widest)
utils.glue("widest_sd", runs[widest].std("test"))
flags = [s.describe() for s in sweeps.values() if s.at_edge or s.ties]
utils.glue("sweep_note", "every network's rate is inside its grid and separated from "
           "its neighbours" if not flags else "the sweep flags: " + "; ".join(flags))
print("flags:", flags or "none")

# %%
for name, r in runs.items():
    assert r.mean("test") > 0.4, (name, r.summary("test"))
assert g.n == len(profile.seeds) and g.ahead + g.behind <= g.n

# %% [markdown]
# On these <span data-glue="fam_train">500</span> training images, after <span data-glue="fam_updates">240</span>
# updates per run (<span data-glue="fam_epochs">15</span> epochs), the best of the later designs on
# validation was <span data-glue="best_family">VGG</span>; against AlexNet on the test set:
# <span data-glue="best_verdict">no difference this budget resolves (VGG ahead on 2 of 3 paired seeds, +0.022 ± 0.018 (SE))</span>. The other comparison with AlexNet:
# <span data-glue="other_verdicts">no difference this budget resolves (DenseNet ahead on 0 of 3 paired seeds, -0.043 ± 0.019 (SE))</span>. The test means are <span data-glue="AlexNet_test:.3f">0.737</span>
# (AlexNet, learning rate <span data-glue="AlexNet_lr">0.003</span>), <span data-glue="VGG_test:.3f">0.759</span> (VGG,
# <span data-glue="VGG_lr">0.003</span>) and <span data-glue="DenseNet_test:.3f">0.695</span> (DenseNet,
# <span data-glue="DenseNet_lr">0.001</span>). On the choice of rates, <span data-glue="sweep_note">the sweep flags: AlexNet: lr 0.003 chosen from {0.001, 0.003, 0.009}, val 0.730 (sd 0.020, 3 seeds); tied with lr 0.009; VGG: lr 0.003 chosen from {0.001, 0.003, 0.009}, val 0.748 (sd 0.018, 3 seeds); tied with lr 0.009; DenseNet: lr 0.001 chosen from {0.000333, 0.001, 0.003}, val 0.683 (sd 0.015, 3 seeds); tied with lr 0.003</span>. The seeds
# agree less for some networks than for others: <span data-glue="widest_family">DenseNet</span> has the
# widest spread, a standard deviation of <span data-glue="widest_sd:.3f">0.021</span> over the seeds.
# The cell above asserts only what holds with margin on any machine: every network
# learned well above chance (0.1).
#
# The caveats are part of the result. This measures small versions of three designs on
# 500 images, on a budget where the training loss has not converged (the curves
# above), with learning rates from a grid of a few points. The widths
# are not matched (the parameter counts in the table differ several times over), so a
# difference is between these particular networks, not between the ideas alone. Three
# seeds vary the initial weights and the order of the batches only: the training
# images are one draw, and a different draw of 500 images could move every number. It
# does not rank the published networks either: d2l trains each at its published width
# on all 60,000 training images for 10 epochs, resized to 224x224 (AlexNet, VGG, NiN)
# or 96x96 (GoogLeNet, DenseNet), with SGD on a GPU, so its accuracies, on full data,
# are not comparable with these.

# %% [markdown]
# ## Summary
#
# - AlexNet scaled LeNet up (eight layers, ReLU, dropout, 224x224 inputs); over nine
#   tenths of its parameters sit in the dense head, and it cannot take 28x28 inputs.
# - VGG builds networks from blocks of 3x3 convolutions and a halving max pooling; our
#   VGG-11 matched the paper's 133 million parameters at ImageNet scale, and it is the
#   most expensive network here in both parameters and arithmetic.
# - NiN replaces the dense head by 1x1 convolutions (a per-pixel MLP, checked against
#   `nn.Linear`) and global average pooling, cutting the parameters many times over.
# - GoogLeNet's Inception block runs 1x1, 3x3, 5x5 and pooling branches in parallel and
#   concatenates them, with 1x1 reductions that keep the large kernels cheap.
# - DenseNet generalises ResNet's skip connection by concatenation: channels grow by the
#   growth rate per layer and transition layers shrink them.
# - Scaled down to 28x28 images and trained on 500 images from several seeds, three of
#   the families learned far above chance without converging; the paired comparison
#   with AlexNet says which differences this short budget resolves.
# - Each network is in `utils` (`utils.alexnet`, `utils.vgg`, `utils.nin`,
#   `utils.googlenet`, `utils.densenet` and their blocks), checked equal to the
#   definitions of this page.
#
# ## Exercises
#
# Worked answers, with code, are in [the exercise
# notebook](../exercises/08_classic_networks.ipynb).
#
# 1. **AlexNet.** Where does the memory go? Tabulate parameters and activations per
#    layer, and break the multiply-adds down into convolutional and dense layers.
# 2. **AlexNet.** AlexNet is too big for 28x28 inputs. Which input sizes does it accept
#    at all, and why?
# 3. **VGG.** Where are the 11 layers of VGG-11 in the trace? Build VGG-13, VGG-16 and
#    VGG-19 from Table 1 of the paper and check their parameter counts.
# 4. **VGG.** Divide every convolution's channels by 4: by what factor do the
#    parameters and the multiply-adds shrink?
# 5. **VGG.** Why stack 3x3 convolutions? Compare two 3x3 layers with one 5x5 layer in
#    receptive field and parameters.
# 6. **NiN.** Why two 1x1 convolutions per block? What changes with one or three?
# 7. **NiN.** What if global average pooling is replaced by a dense head? Count the
#    parameters.
# 8. **GoogLeNet.** Compute the parameters of each Inception block. How much do the 1x1
#    reductions save? What is the smallest input GoogLeNet accepts?
# 9. **GoogLeNet.** Reduce GoogLeNet for 28x28 Fashion-MNIST images.
# 10. **DenseNet.** Why does DenseNet have fewer parameters than ResNet? How does the
#     memory for activations grow with the depth of a dense block?
# 11. **DenseNet.** Implement DenseNet-121, -169, -201 and -264 (Table 1 of the DenseNet
#     paper) and count their parameters.
# 12. **DenseNet.** Why average pooling in the transition layer? Compare it with max
#     pooling in training.
#
# More questions, from d2l's exercises for these sections:
#
# 13. **AlexNet.** As a chip designer, how would you trade computation against memory
#     bandwidth, judged by AlexNet's layers?
# 14. **AlexNet.** Why do engineers no longer report benchmarks on AlexNet?
# 15. **AlexNet.** Train for more epochs: how do the results differ from LeNet's, and
#     why?
# 16. **AlexNet.** Change the batch size: what happens to throughput, accuracy and
#     memory?
# 17. **AlexNet on LeNet.** Do dropout and ReLU improve LeNet-5?
# 18. **VGG.** Instead of upsampling to 224x224, adapt VGG to 56x56 or 84x84 inputs.
# 19. **NiN.** What are NiN's parameters, computation, and memory in training and in
#     prediction?
# 20. **NiN.** What goes wrong when the 384x5x5 representation is reduced to 10x5x5 in
#     one step?
# 21. **NiN.** Design a family of NiN networks the way VGG-11, -16 and -19 were designed.
# 22. **GoogLeNet.** Add what its later versions added (batch normalization, changed
#     Inception blocks) and train them.
# 23. **GoogLeNet.** Compare its computation with AlexNet's: what does that mean for an
#     accelerator chip?
# 24. **DenseNet.** Apply the DenseNet idea to an MLP.
