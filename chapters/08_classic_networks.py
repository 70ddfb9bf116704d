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
#   by the code.
#
# Prerequisites: [LeNet](05_lenet.ipynb) (the data and the training loop),
# [batch normalization](06_batch_norm.ipynb) and [ResNet](07_resnet.ipynb) (the
# residual block, `utils.resnet18` and `utils.layer_summary`). The 1x1 convolution was
# introduced in [the chapter on channels](03_channels.ipynb).

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
import matplotlib.pyplot as plt
import torch
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

# %%
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


# %%
alex = build_meta(alexnet)
alex_params, alex_macs = profile_net(alex, 224)


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

# %%
assert dense_share(alex) > 0.9

# %% [markdown]
# The multiply-adds are distributed the other way: every convolution weight is used at
# every position of its output, a dense weight once per image. The
# [exercises](../exercises/08_classic_networks.ipynb) break both down layer by layer.
#
# Why not feed AlexNet the 28x28 images directly? Its first layer and three poolings
# shrink the input too fast: a 28x28 image runs out of pixels before the last pooling.
# The shape error comes as soon as we try (on the meta device, so it costs nothing).
# This is why the full profile resizes Fashion-MNIST to 224x224 for AlexNet and VGG:

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

# %%
assert round(imagenet_vgg11 / 1e6) == 133

# %% [markdown]
# Compared with AlexNet, VGG-11 has more parameters and many times the arithmetic (the
# ratio is printed below). It is the price of doing all the work with full-resolution 3x3
# convolutions in the first blocks, where the maps are 224x224 and 112x112.

# %%
print(f"VGG-11 / AlexNet: {vgg_params / alex_params:.1f}x the parameters, "
      f"{vgg_macs / alex_macs:.1f}x the multiply-adds")

# %%
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
nin_net = build_meta(nin)
nin_params, nin_macs = profile_net(nin_net, 224)
print(f"NiN has {alex_params / nin_params:.0f}x fewer parameters than AlexNet")

# %%
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

# %%
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

# %%
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
# memory for weights and how much a network can overfit; multiply-adds decide the time
# per image.
#
# ## Training a small DenseNet on Fashion-MNIST
#
# Every network above is too expensive to train at its published input size on two CPU
# cores within the minute or so that a page of this book may take: even the one with the
# fewest parameters, DenseNet at 96x96, needs over a hundred million multiply-adds per
# image (its trace above), forward only, and a training step costs roughly three times a
# forward pass. The quick profile therefore trains **one small DenseNet on the 28x28
# images**: the same dense blocks, transition layer and head, but narrow, with two short
# dense blocks and the small stem. The full profile trains the DenseNet traced above at
# 96x96. The next cell prints the budget and the network this page trains, with its cost
# per image.

# %%
budget = profile.budget("classic")
side = budget.resize or 28
config = dict(budget.model)          # empty: the DenseNet traced above
print(budget.describe())
print("DenseNet configuration:", config or "the default (as traced above)")
utils.seed_everything(0)
net = densenet(**config)
params, macs = profile_net(build_meta(densenet, **config), side, show=False)
print(f"{params:,} parameters; {macs / 1e6:.1f} million multiply-adds per image "
      f"({dense_macs / macs:.0f}x fewer than the DenseNet above at 96x96)"
      if config else f"{params:,} parameters; {macs / 1e6:.1f} million multiply-adds")
train_iter, test_iter = utils.load_fashion_mnist(
    budget.batch_size, resize=budget.resize, device=device,
    train_size=budget.train_size, test_size=budget.test_size)

# %%
# NBVAL_IGNORE_OUTPUT
history = utils.train(net, train_iter, test_iter, budget.num_epochs, budget.lr,
                      device=device, optimizer="adam")

# %% [markdown]
# The optimizer is Adam at the budget's learning rate: it scales each parameter's step
# by a running estimate of that parameter's gradient size, a forgiving default for a
# short budget. (A network with batch normalization shows its test accuracy with the
# running statistics, which lag behind fast-moving weights, as the
# [batch normalization chapter](06_batch_norm.ipynb) showed; large steps make the test
# accuracy of the last epochs jump around.) The epochs are printed above; the next cell
# checks what must hold on any hardware: every epoch ran, the training loss fell, and
# the test accuracy is well above chance (0.1).

# %%
assert len(history) == budget.num_epochs
assert history.last["train_loss"] < history[0]["train_loss"]
assert history.last["test_acc"] > 0.6, history.last

# %%
# NBVAL_IGNORE_OUTPUT
print(history.table())
name = "DenseNet, small (28x28)" if config else "DenseNet (96x96)"
record = utils.report_result(name, history)

# %% [markdown]
# This run shows that the dense block, the transition layer and the head train
# together as intended; it is not a measurement of what DenseNet can do. Its accuracy is
# limited by the tiny network and the short budget printed above. The published-scale
# settings (the DenseNet above at 96x96 on all 60,000 images; see the full profile's
# budget below) need a GPU: run this page with `CNNBOOK_PROFILE=full`. How much more
# arithmetic that is:

# %%
full_budget = utils.get_profile("full").budget("classic")
full_side = full_budget.resize or 28
_, full_macs = profile_net(build_meta(densenet), full_side, show=False)


def images_seen(b):
    return (b.train_size or 60_000) * b.num_epochs


print("full profile:", full_budget.describe())
print(f"forward-pass arithmetic, full profile / this run: "
      f"{full_macs * images_seen(full_budget) / (macs * images_seen(budget)):,.0f}x")

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
#   growth rate per layer and transition layers shrink them; a small DenseNet trained
#   within the quick budget learned far above chance.
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
