# %% [markdown]
# # Residual Networks (ResNet): Exercises
#
# Worked answers to the exercises of [the ResNet chapter](../chapters/07_resnet.ipynb). Each
# answer is a short argument backed by code that runs; where a fact can be checked, a cell
# asserts it, and where an experiment is noisy, the text says so.
#
# **What you'll practise**
#
# - relating the residual block to the Inception block, and addition to concatenation;
# - building ResNet-34, -50, -101 and -152 from Table 1 of the paper and checking their cost;
# - writing the bottleneck and the pre-activation blocks;
# - measuring gradients with batch norm, whether Adam rescues a deep plain stack, and how the
#   widths trade size for speed.

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
import math
import time

import torch
from torch import nn
from torch.nn import functional as F

import utils

device = utils.try_gpu()
profile = utils.get_profile()
utils.seed_everything(0)
torch.set_printoptions(precision=4)
print("profile:", profile.name)

# %% [markdown]
# Two helpers from `utils` are used throughout: `utils.num_params`, the number of parameters
# of a module, and `utils.count_macs`, the number of multiply-accumulate operations (MACs) of
# its convolutions and linear layers for one input, counted with forward hooks as in the
# chapter. `utils.count_macs` runs on a copy of the model on PyTorch's `meta` device, which
# propagates shapes without computing anything. Big models can even be built there
# (`with torch.device("meta"):`), which skips allocating and initializing their weights, so
# ResNet-152 at 224x224 costs nothing to count.

# %%
# utils.count_macs counts multiply-accumulates of the convolutions and linear layers, as the
# chapter's count_macs does; it agrees with the chapter for ResNet-18 at ImageNet scale
print(f"{utils.count_macs(utils.resnet18(1000, 3), (3, 224, 224)):,} MACs")


# %% [markdown]
# ## 1. Inception block versus residual block
#
# > What are the major differences between the Inception block and the residual block? How
# > do they compare in terms of computation, accuracy, and the classes of functions they can
# > describe?
#
# :::{admonition} Answer
# :class: dropdown
# Both blocks run parallel branches on the same input and merge them. GoogLeNet's Inception
# block {cite}`szegedy2015going` has four branches (a 1x1 convolution; 1x1 then 3x3; 1x1 then
# 5x5; 3x3 max pooling then 1x1) and **concatenates** their outputs along the channels. The
# residual block has two branches, one of which is the identity (or a 1x1 projection), and
# **adds** them. So a residual block is an Inception-like block with an identity branch,
# merged by addition. Here is the first Inception block of GoogLeNet ("3a"), written inline:
# :::

# %% tags=["hide-input"]
class Inception(nn.Module):
    """Four branches, concatenated along the channel dimension."""

    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__()
        self.b1 = nn.Conv2d(in_channels, c1, kernel_size=1)
        self.b2 = nn.Sequential(nn.Conv2d(in_channels, c2[0], kernel_size=1), nn.ReLU(),
                                nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1))
        self.b3 = nn.Sequential(nn.Conv2d(in_channels, c3[0], kernel_size=1), nn.ReLU(),
                                nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2))
        self.b4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1),
                                nn.Conv2d(in_channels, c4, kernel_size=1))

    def forward(self, X):
        branches = [self.b1(X), self.b2(X), self.b3(X), self.b4(X)]
        return torch.cat([F.relu(b) for b in branches], dim=1)


inception = Inception(192, 64, (96, 128), (16, 32), 32)
residual = utils.Residual(192, 256, use_1x1conv=True)
X = torch.rand(2, 192, 28, 28)
print("Inception 3a:", tuple(X.shape), "->", tuple(inception(X).shape))
print("Residual:    ", tuple(X.shape), "->", tuple(residual(X).shape))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Concatenation adds up the *channels* of the branches (64 + 128 + 32 + 32 = 256 here), so
# every branch keeps its own channels and the next layer decides how to mix them. Addition
# needs branches of equal shape and mixes them at once. Addition is in fact a special case of
# concatenation: concatenate $\mathbf{x}$ and $g(\mathbf{x})$, then apply a fixed 1x1
# convolution whose weights are two identity matrices side by side, $[I \; I]$:
# :::

# %% tags=["hide-input"]
torch.manual_seed(0)
x = torch.randn(2, 8, 5, 5)
g_x = torch.randn(2, 8, 5, 5)                       # stands for the branch's output
eye = torch.eye(8)[:, :, None, None]                # (out, in, 1, 1) identity kernel
merge = torch.cat([eye, eye], dim=1)                # [I I]: (8, 16, 1, 1)
concatenated = torch.cat([x, g_x], dim=1)           # (2, 16, 5, 5)
print("concatenated:", tuple(concatenated.shape))
print("after the [I I] 1x1 conv:", tuple(F.conv2d(concatenated, merge).shape))
torch.testing.assert_close(F.conv2d(concatenated, merge), x + g_x)
print("cat + [I I] 1x1 convolution == addition: True")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Computation.** The Inception block is much cheaper than a residual block with the same
# input and output channels, because it runs its expensive 3x3 and 5x5 convolutions on
# channels reduced by 1x1 convolutions first. The residual block's two full-width 3x3
# convolutions cost many times more, as the table shows. The bottleneck block of Exercise 3
# borrows exactly this trick from Inception.
# :::

# %% tags=["hide-input"]
rows = {"Inception 3a": inception, "Residual(192, 256)": residual}
for name, blk in rows.items():
    print(f"{name:<20} {utils.num_params(blk):>10,} parameters "
          f"{utils.count_macs(blk, (192, 28, 28)) / 1e6:>8.1f} M MACs at 28x28")
assert utils.num_params(residual) > 3 * utils.num_params(inception)


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Function classes.** By the cell above, "concatenate, then 1x1 convolution" can express
# addition, so the class that concatenation opens to the *next* layer is at least as large;
# it costs more channels to carry. The decisive difference is elsewhere: a residual block
# contains the identity (set its branch to zero), so stacking residual blocks gives nested
# function classes. An Inception block has no identity branch: its 1x1 branch covers only 64
# of the 256 output channels and every branch ends in a ReLU, so it cannot simply pass its
# input on, and a deeper stack of Inception blocks is not guaranteed to contain a shallower
# one.
#
# **Accuracy.** We do not train GoogLeNet in this book, so we cannot compare accuracy with a
# measurement of our own. The ResNet paper's ImageNet tables list GoogLeNet with a higher
# error than its deeper ResNets {cite}`he2016deep`, but at different depths and costs, which
# says more about what each block lets you build than about the blocks themselves.
# :::
#
# ## 2. Variants from Table 1 of the paper
#
# > Refer to Table 1 in the ResNet paper to implement different variants of the network.
#
# :::{admonition} Answer
# :class: dropdown
# Table 1 of {cite}`he2016deep` describes all variants with the same stem and head; they
# differ in the number of blocks per stage and in the block type. ResNet-18 and ResNet-34 use
# the basic block, with 2-2-2-2 and 3-4-6-3 blocks per stage. `utils.resnet_stage` builds a
# stage of basic blocks, so both are a few lines:
# :::

# %% tags=["hide-input"]
def resnet_basic(blocks, in_channels=1, num_classes=10, widths=(64, 128, 256, 512)):
    """A ResNet of basic blocks with `blocks[i]` blocks in stage i (Table 1 of the paper)."""
    stem = nn.Sequential(
        nn.Conv2d(in_channels, widths[0], kernel_size=7, stride=2, padding=3, bias=False),
        nn.BatchNorm2d(widths[0]), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    stages = [utils.resnet_stage(widths[0], widths[0], blocks[0], first_stage=True)]
    stages += [utils.resnet_stage(widths[i - 1], widths[i], blocks[i]) for i in range(1, 4)]
    return nn.Sequential(stem, *stages, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                         nn.Linear(widths[3], num_classes))


def depth(net):
    """Layers with weights on the main path: every Conv2d and Linear but the projections.

    `utils.Residual` calls its shortcut projection `conv3`; our blocks below call it `proj`.
    """
    weighted = sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in net.modules())
    projections = sum(
        isinstance(getattr(m, "conv3" if isinstance(m, utils.Residual) else "proj", None),
                   nn.Conv2d)
        for m in net.modules())
    return weighted - projections


resnet34 = resnet_basic((3, 4, 6, 3))
X = torch.zeros(2, 1, 96, 96)
print("ResNet-34 on Fashion-MNIST at 96x96:", tuple(X.shape), "->",
      tuple(resnet34(X).shape))
print("depth:", depth(resnet34), " parameters:", f"{utils.num_params(resnet34):,}")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Our `resnet_basic((2, 2, 2, 2))` should be exactly `utils.resnet18`: same parameter names
# and shapes, so the weights of one load into the other.
# :::

# %% tags=["hide-input"]
ours = resnet_basic((2, 2, 2, 2))
ours.load_state_dict(utils.resnet18().state_dict(), strict=True)
assert depth(ours) == 18 and depth(resnet34) == 34
print("resnet_basic((2, 2, 2, 2)) has the structure of utils.resnet18: True")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Table 1 also gives the cost of each variant at ImageNet scale, as multiply-adds
# ("FLOPs") for one 224x224 image: $1.8 \times 10^9$ for ResNet-18 and $3.6 \times 10^9$ for
# ResNet-34. Our counts agree to within a few percent:
# :::

# %% tags=["hide-input"]
table1 = {18: 1.8e9, 34: 3.6e9}                     # Table 1 of He et al. (2016)
for layers, blocks in ((18, (2, 2, 2, 2)), (34, (3, 4, 6, 3))):
    with torch.device("meta"):                       # shapes only, no weights to fill
        net = resnet_basic(blocks, in_channels=3, num_classes=1000)
    macs = utils.count_macs(net, (3, 224, 224))
    print(f"ResNet-{layers}: {utils.num_params(net) / 1e6:5.1f} M parameters, "
          f"{macs / 1e9:.2f} billion MACs (Table 1: {table1[layers] / 1e9:.1f})")
    assert abs(macs / table1[layers] - 1) < 0.03


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# ResNet-50, -101 and -152 replace the basic block with the bottleneck block. We build them
# in the next exercise, once we have that block.
# :::
#
# ## 3. The bottleneck block
#
# > For deeper networks, ResNet introduces a "bottleneck" architecture to reduce model
# > complexity. Try to implement it.
#
# :::{admonition} Answer
# :class: dropdown
# The bottleneck block replaces the two 3x3 convolutions with three layers: a 1x1
# convolution that reduces the channels (by 4 in the paper), a 3x3 convolution on the reduced
# channels, and a 1x1 convolution that expands them again. Each is followed by batch norm,
# the first two by a ReLU; the shortcut and the final ReLU are as in the basic block. Where
# the block downsamples, the paper's models put the stride on the first 1x1 convolution; many
# later implementations (torchvision's among them) move it to the 3x3 convolution. We support
# both, because the difference shows up in the cost below.
# :::

# %% tags=["hide-input"]
class Bottleneck(nn.Module):
    """1x1 (reduce) - 3x3 - 1x1 (expand), each with batch norm, plus a shortcut."""

    def __init__(self, in_channels, mid_channels, out_channels, stride=1,
                 stride_on_1x1=True):
        super().__init__()
        s1, s2 = (stride, 1) if stride_on_1x1 else (1, stride)
        self.conv1 = nn.Conv2d(in_channels, mid_channels, kernel_size=1, stride=s1,
                               bias=False)
        self.conv2 = nn.Conv2d(mid_channels, mid_channels, kernel_size=3, padding=1,
                               stride=s2, bias=False)
        self.conv3 = nn.Conv2d(mid_channels, out_channels, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid_channels)
        self.bn2 = nn.BatchNorm2d(mid_channels)
        self.bn3 = nn.BatchNorm2d(out_channels)
        changes_shape = in_channels != out_channels or stride != 1
        self.proj = (nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride,
                               bias=False) if changes_shape else None)

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = F.relu(self.bn2(self.conv2(Y)))
        Y = self.bn3(self.conv3(Y))
        shortcut = self.proj(X) if self.proj is not None else X
        return F.relu(Y + shortcut)


# %% tags=["hide-input"]
X = torch.rand(2, 256, 14, 14)
same = Bottleneck(256, 64, 256)
down = Bottleneck(256, 128, 512, stride=2)
print("bottleneck:", tuple(X.shape), "->", tuple(same(X).shape))
print("bottleneck, stride 2:", tuple(X.shape), "->", tuple(down(X).shape))
assert same(X).shape == X.shape and down(X).shape == (2, 512, 7, 7)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Now the saving. At 256 channels in and out, the basic block has two 3x3 convolutions of
# $256 \times 256 \times 9$ weights each. The bottleneck block with 64 middle channels has
# $256 \cdot 64 + 64 \cdot 64 \cdot 9 + 64 \cdot 256$ convolution weights. We count both from
# the modules and check the counts against these formulas:
# :::

# %% tags=["hide-input"]
basic = utils.Residual(256, 256)
bottleneck = Bottleneck(256, 64, 256)


def conv_weights(net):
    return sum(m.weight.numel() for m in net.modules() if isinstance(m, nn.Conv2d))


print(f"basic block, 256 channels:      {utils.num_params(basic):>9,} parameters")
print(f"bottleneck block, 256-64-256:   {utils.num_params(bottleneck):>9,} parameters")
mac_ratio = utils.count_macs(basic, (256, 14, 14)) / utils.count_macs(bottleneck, (256, 14, 14))
print(f"saving: {utils.num_params(basic) / utils.num_params(bottleneck):.1f}x fewer parameters, "
      f"{mac_ratio:.1f}x fewer MACs")
assert conv_weights(basic) == 2 * 256 * 256 * 9
assert conv_weights(bottleneck) == 256 * 64 + 64 * 64 * 9 + 64 * 256
assert utils.num_params(bottleneck) * 10 < utils.num_params(basic)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# That is not the whole story: the bottleneck block is not a cheaper replacement at equal
# output width, it is a way to get a *wider* output for the same cost. The paper pairs the
# 256-channel bottleneck block with the 64-channel basic block, which costs about the same:
# :::

# %% tags=["hide-input"]
basic64 = utils.Residual(64, 64)
print(f"basic block, 64 channels:       {utils.num_params(basic64):>9,} parameters, "
      f"{utils.count_macs(basic64, (64, 56, 56)) / 1e6:6.1f} M MACs at 56x56")
print(f"bottleneck block, 256-64-256:   {utils.num_params(bottleneck):>9,} parameters, "
      f"{utils.count_macs(bottleneck, (256, 56, 56)) / 1e6:6.1f} M MACs at 56x56")
assert 0.8 < utils.num_params(bottleneck) / utils.num_params(basic64) < 1.2


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# With the bottleneck block we can build the deeper variants of Table 1: stages of 256, 512,
# 1024 and 2048 output channels with a quarter of that in the middle, and 3-4-6-3 (ResNet-50),
# 3-4-23-3 (ResNet-101) or 3-8-36-3 (ResNet-152) blocks. Each block has three layers, so the
# depth is $1 + 3 \cdot \text{blocks} + 1$. We count parameters and MACs at ImageNet scale for
# both places of the stride.
# :::

# %% tags=["hide-input"]
def resnet_bottleneck(blocks, in_channels=3, num_classes=1000, stride_on_1x1=True):
    widths = (256, 512, 1024, 2048)
    stem = nn.Sequential(
        nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False),
        nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    stages, c_in = [], 64
    for i, (n, c_out) in enumerate(zip(blocks, widths)):
        stride = 1 if i == 0 else 2                      # stage 1 follows the max pool
        stage = [Bottleneck(c_in if j == 0 else c_out, c_out // 4, c_out,
                            stride if j == 0 else 1, stride_on_1x1) for j in range(n)]
        stages.append(nn.Sequential(*stage))
        c_in = c_out
    return nn.Sequential(stem, *stages, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                         nn.Linear(widths[-1], num_classes))


table1.update({50: 3.8e9, 101: 7.6e9, 152: 11.3e9})
variants = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
print(f"{'':<11}{'depth':>6}{'params':>9}{'MACs, stride on 1x1':>22}"
      f"{'on 3x3':>9}{'Table 1':>9}")
for layers, blocks in variants.items():
    with torch.device("meta"):
        paper = resnet_bottleneck(blocks, stride_on_1x1=True)
        later = resnet_bottleneck(blocks, stride_on_1x1=False)
    m_paper, m_later = (utils.count_macs(n, (3, 224, 224)) for n in (paper, later))
    print(f"ResNet-{layers:<4}{depth(paper):>6}{utils.num_params(paper) / 1e6:>8.1f}M"
          f"{m_paper / 1e9:>21.2f}G{m_later / 1e9:>8.2f}G{table1[layers] / 1e9:>8.1f}G")
    assert depth(paper) == layers
    assert abs(m_paper / table1[layers] - 1) < 0.03
    assert m_later > m_paper


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# With the stride on the first 1x1 convolution, as in the paper's models, our counts match
# Table 1 within a few percent for all three. With the stride on the 3x3 convolution every
# variant costs more, and the parameter counts are the same either way. Where does the extra
# arithmetic come from? Not from the 3x3 convolution: a convolution's cost is its number of
# *output* values times the MACs per value, and the 3x3 convolution writes a map at the low
# resolution in both placements (after a strided 1x1 convolution, or with a stride of its
# own). What changes is the first 1x1 convolution: without the stride it runs at the block's
# full input resolution, on four times as many positions. The cell below counts every
# convolution of ResNet-50's three downsampling blocks (the first block of stages 2-4) in
# both placements and checks that this accounts for the whole difference.
# :::

# %% tags=["hide-input"]
def conv_macs(net, shape):
    """MACs of every Conv2d of `net` for one input of `shape`, by module name."""
    macs = {}

    def record(name):
        def hook(layer, inputs, output):
            kh, kw = layer.kernel_size
            macs[name] = output.numel() * kh * kw * layer.in_channels // layer.groups
        return hook

    handles = [m.register_forward_hook(record(name)) for name, m in net.named_modules()
               if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        net.eval()(torch.zeros(1, *shape, device="meta"))   # net is on the meta device
    for h in handles:
        h.remove()
    return macs


with torch.device("meta"):
    paper = resnet_bottleneck(variants[50], stride_on_1x1=True)
    later = resnet_bottleneck(variants[50], stride_on_1x1=False)
by_paper, by_later = conv_macs(paper, (3, 224, 224)), conv_macs(later, (3, 224, 224))
downsampling = [name for name, m in paper.named_modules()
                if isinstance(m, Bottleneck) and m.conv1.stride == (2, 2)]
layers = {"conv1": "1x1 reduce", "conv2": "3x3", "conv3": "1x1 expand", "proj": "shortcut"}
print(f"{'ResNet-50':<18}{'layer':<12}{'M MACs, stride on 1x1':>23}{'on 3x3':>9}")
for block in downsampling:
    stage, index = block.split(".")
    for layer, label in layers.items():
        key = f"{block}.{layer}"
        print(f"{'stage ' + stage + ', block ' + str(int(index) + 1):<18}{label:<12}"
              f"{by_paper[key] / 1e6:>23.1f}{by_later[key] / 1e6:>9.1f}")
extra = sum(by_later.values()) - sum(by_paper.values())
extra_1x1 = sum(by_later[f"{b}.conv1"] - by_paper[f"{b}.conv1"] for b in downsampling)
print(f"extra MACs with the stride on the 3x3: {extra / 1e6:.1f} M in all, "
      f"{extra_1x1 / 1e6:.1f} M of them in the first 1x1 convolutions")

# %% tags=["hide-input"]
assert [b for b in downsampling] == ["2.0", "3.0", "4.0"]
for b in downsampling:
    assert by_later[f"{b}.conv2"] == by_paper[f"{b}.conv2"]          # the 3x3: same cost
    assert by_later[f"{b}.conv1"] == 4 * by_paper[f"{b}.conv1"]      # the 1x1: 4x the cost
assert extra == extra_1x1 > 0                                        # and nothing else
assert extra == utils.count_macs(later, (3, 224, 224)) - utils.count_macs(paper, (3, 224, 224))
extra_share = extra / utils.count_macs(paper, (3, 224, 224))
print(f"the first 1x1 convolutions account for all of it: {extra_share:.1%} "
      "of ResNet-50's MACs")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# So the stride on the 3x3 convolution costs ResNet-50 the extra MACs of three 1x1
# convolutions run at full resolution, and nothing else (asserted above). What does it buy?
# A 1x1 convolution with stride 2 reads one input position in four and ignores the other
# three entirely; a 3x3 convolution with stride 2 has overlapping windows that cover every
# position. The gradient of the first two convolutions' output with respect to the block's input
# shows which input positions they read, in each placement:
# :::

# %% tags=["hide-input"]
torch.manual_seed(0)
reads = {}
for on_1x1 in (True, False):
    blk = Bottleneck(8, 4, 16, stride=2, stride_on_1x1=on_1x1).eval()
    X = torch.rand(1, 8, 8, 8, requires_grad=True)
    blk.conv2(blk.conv1(X)).sum().backward()          # the two convolutions that stride
    reads[on_1x1] = (X.grad.abs().sum(dim=(0, 1)) > 0).float().mean().item()
    print(f"stride on the {'1x1' if on_1x1 else '3x3'}: the branch reads "
          f"{reads[on_1x1]:.0%} of the input positions")
assert reads[True] == 0.25 and reads[False] == 1.0

# %% tags=["hide-input", "nbval-ignore-output"]
utils.glue("r50_extra_macs", extra / 1e6)
utils.glue("r50_extra_share", extra_share)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# With the stride on the first 1x1 convolution, three quarters of the input positions never
# reach the residual branch of a downsampling block (nor the shortcut, whose projection is a
# strided 1x1 convolution too); with the stride on the 3x3 convolution the branch reads them
# all. That is the trade: <span data-glue="r50_extra_macs:.0f">231</span> million more MACs per 224x224 image
# (<span data-glue="r50_extra_share:.1%">6.0%</span> of ResNet-50's total), all of them in the three first 1x1
# convolutions, for downsampling blocks that see all of their input.
# :::
#
# ## 4. Pre-activation: batch norm, ReLU, convolution
#
# > In subsequent versions of ResNet, the authors changed the "convolution, batch
# > normalization, and activation" structure to the "batch normalization, activation, and
# > convolution" structure. Make this improvement yourself.
#
# :::{admonition} Answer
# :class: dropdown
# In the pre-activation block {cite}`he2016identity` each convolution is preceded by batch
# norm and ReLU, and nothing follows the addition: $\mathbf{x}_{l+1} = \mathbf{x}_l +
# g(\mathbf{x}_l)$ exactly. Unrolled over blocks, $\mathbf{x}_L = \mathbf{x}_l +
# \sum_{i=l}^{L-1} g(\mathbf{x}_i)$: every block's input reaches every later block, and every
# gradient reaches every earlier block, through additions only. When the shape changes, the
# projection is applied to the pre-activated input, as common implementations do.
# :::

# %% tags=["hide-input"]
class PreActResidual(nn.Module):
    """BN-ReLU-conv, BN-ReLU-conv, plus a shortcut; no activation after the addition."""

    def __init__(self, in_channels, out_channels, use_1x1conv=False, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1,
                               stride=stride, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1,
                               bias=False)
        self.proj = (nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride,
                               bias=False) if use_1x1conv else None)

    def forward(self, X):
        A = F.relu(self.bn1(X))
        Y = self.conv1(A)
        Y = self.conv2(F.relu(self.bn2(Y)))
        shortcut = self.proj(A) if self.proj is not None else X
        return Y + shortcut


# %% tags=["hide-input"]
X = torch.randn(4, 16, 8, 8)
print("pre-activation:", tuple(X.shape), "->", tuple(PreActResidual(16, 16)(X).shape))
print("with projection:", tuple(X.shape), "->",
      tuple(PreActResidual(16, 32, True, 2)(X).shape))
assert PreActResidual(16, 32, True, 2)(X).shape == (4, 32, 4, 4)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The clean identity path is easy to see. Zero the last convolution of each block's branch:
# the pre-activation block returns its input exactly, negative values included, while the
# original block still applies its final ReLU and clips them.
# :::

# %% tags=["hide-input"]
pre, post = PreActResidual(16, 16), utils.Residual(16, 16)
nn.init.zeros_(pre.conv2.weight)
nn.init.zeros_(post.conv2.weight)
with torch.no_grad():
    print("pre-activation block returns its input:", torch.equal(pre(X), X))
    print("original block returns its input:      ", torch.equal(post(X), X))
    print("original block returns relu(input):    ", torch.equal(post(X), F.relu(X)))
    assert torch.equal(pre(X), X) and torch.equal(post(X), F.relu(X))


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# A whole pre-activation network needs one change besides the blocks: since the blocks end
# without batch norm and ReLU, the head applies them once before the global pooling. We
# build ResNet-18 both ways with the quarter widths of the chapter's quick profile and
# compare them with the protocol of the chapter: three learning rates each, every seed of
# the profile, the rate chosen on validation accuracy, the test set scored once on the two
# chosen configurations.
# :::

# %% tags=["hide-input"]
def resnet18_preact(widths=(16, 32, 64, 128), num_classes=10):
    stem = nn.Sequential(
        nn.Conv2d(1, widths[0], kernel_size=7, stride=2, padding=3, bias=False),
        nn.BatchNorm2d(widths[0]), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    stages, c_in = [], widths[0]
    for i, c_out in enumerate(widths):
        first = (PreActResidual(c_in, c_out) if i == 0
                 else PreActResidual(c_in, c_out, use_1x1conv=True, stride=2))
        stages.append(nn.Sequential(first, PreActResidual(c_out, c_out)))
        c_in = c_out
    head = nn.Sequential(nn.BatchNorm2d(widths[-1]), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)),
                         nn.Flatten(), nn.Linear(widths[-1], num_classes))
    return nn.Sequential(stem, *stages, head)


print("pre-activation ResNet-18 depth:", depth(resnet18_preact()),
      " parameters:", f"{utils.num_params(resnet18_preact()):,}")
print("original ResNet-18 (same widths):",
      f"{utils.num_params(utils.resnet18(widths=(16, 32, 64, 128))):,} parameters")
assert depth(resnet18_preact()) == 18
deep = profile.budget("exercise_deep")
preact_rates = tuple(deep.lr * f for f in (0.5, 1, 2))
print(deep.describe())
print("learning rates:", preact_rates, " seeds:", profile.seeds)

# %% tags=["hide-input", "nbval-ignore-output"]
train_iter, val_iter, test_iter = utils.load_fashion_mnist(
    deep.batch_size, resize=deep.resize, device=device, train_size=deep.train_size,
    val_size=deep.val_size, test_size=deep.test_size)
builders = {"original": lambda: utils.resnet18(widths=(16, 32, 64, 128)),
            "pre-activation": resnet18_preact}
preact_sweep = {(name, lr): utils.train_seeds(build, train_iter, val_iter, deep.num_epochs,
                                              lr, name=f"{name}, lr {lr:g}", device=device,
                                              verbose=False)
                for name, build in builders.items() for lr in preact_rates}
preact_chosen = {name: preact_sweep[name, utils.choose({lr: preact_sweep[name, lr]
                                                         for lr in preact_rates})]
                 for name in builders}
print(utils.runs_table(list(preact_sweep.values()), "val"))
for runs in preact_chosen.values():
    runs.score("test", test_iter)
    print(f"chosen: {runs.name:<26} training loss "
          + " ".join(f"{r.history.last['train_loss']:.3f}" for r in runs)
          + f"   test {runs.summary('test')}")
preact = utils.gain(preact_chosen["original"], preact_chosen["pre-activation"],
                    names=("the original network", "the pre-activation network"))
preact_gain, preact_se = preact
print(f"pre-activation minus original, test accuracy: {preact_gain:+.3f} ± {preact_se:.3f}")

# %% tags=["hide-input", "nbval-ignore-output"]
# every chosen run learned: training loss far below chance (ln 10 = 2.3), test accuracy
# far above chance (0.1) on average
for runs in preact_chosen.values():
    assert all(not r.diverged and r.history.last["train_loss"] < 1.2 for r in runs), runs
    assert runs.mean("test") > 0.5, runs.scores("test")
verdict = preact.verdict()
print(verdict)

# %% tags=["hide-input", "nbval-ignore-output"]
utils.glue("preact_gain", preact_gain)
utils.glue("preact_se", preact_se)
utils.glue("preact_verdict", verdict)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Both versions learn (the cell above checks every chosen run's training loss and each
# network's mean test accuracy). Pre-activation changed the test accuracy by
# <span data-glue="preact_gain:.3f">0.089</span> ± <span data-glue="preact_se:.3f">0.012</span> (SE, paired by seed):
# <span data-glue="preact_verdict">the pre-activation network ahead on 3 of 3 paired seeds, +0.089 ± 0.012 (SE)</span>. Read it with care: the two networks' training losses are
# close (printed above), so the difference in test accuracy, measured in evaluation mode,
# may come as much from how well the running statistics of batch norm have settled after
# two short epochs as from optimization; and the rates chosen on validation are printed
# with the table, to be checked against the edges of the grid. The paper's gains from pre-activation show up in much deeper networks (hundreds to a
# thousand layers, on CIFAR-10 and ImageNet), where a clean identity path matters most
# {cite}`he2016identity`.
# :::
#
# ## 5. Why not increase complexity without bound?
#
# > Why can't we just increase the complexity of functions without bound, even if the
# > function classes are nested?
#
# :::{admonition} Answer
# :class: dropdown
# Nesting guarantees only that the best function in the bigger class fits the *training
# data* at least as well as the best in the smaller one. It guarantees nothing else:
#
# - **Generalization.** A class that can fit more can also fit noise. With limited data the
#   best training fit is not the best test fit: beyond some size, more capacity overfits
#   (regularization, more data or augmentation push that point further out).
# - **Optimization.** The guarantee is about the best member of the class, not the one that
#   SGD finds in a given budget. Residual connections make the better solutions easier to
#   reach, but a bigger model still needs more steps, and more data, to be trained well.
# - **Cost.** Arithmetic, memory and time grow with depth and width. Exercise 3's table shows
#   ResNet-152 needing several times the MACs of ResNet-50 per image.
#
# Overfitting is easy to show at small scale. The cell below trains the chapter's
# quarter-width ResNet-18 on a tiny training subset for many epochs, from every seed of the
# profile, and compares training and test accuracy of the final weights. The learning rate
# is the budget's, not tuned: the claim is only that the network can fit its training set,
# and the check is that it does, for every seed.
# :::

# %% tags=["hide-input"]
overfit = profile.budget("exercise_overfit")
print(overfit.describe())
print("seeds:", profile.seeds)

# %% tags=["hide-input", "nbval-ignore-output"]
small_train, small_test = utils.load_fashion_mnist(
    overfit.batch_size, resize=overfit.resize, device=device,
    train_size=overfit.train_size, test_size=overfit.test_size)
fit = {}
for seed in profile.seeds:
    utils.seed_everything(seed)
    small_train.reseed(seed)
    small_net = utils.resnet18(widths=(16, 32, 64, 128))
    utils.train(small_net, small_train, None, overfit.num_epochs, overfit.lr, device=device,
                plot=False, verbose=False)
    # evaluate the final weights on both sets, in evaluation mode
    fit[seed] = (utils.evaluate_accuracy(small_net, small_train),
                 utils.evaluate_accuracy(small_net, small_test))
    print(f"seed {seed}: training accuracy {fit[seed][0]:.3f}, test accuracy "
          f"{fit[seed][1]:.3f}, gap {fit[seed][0] - fit[seed][1]:.3f}")

# %% tags=["hide-input", "nbval-ignore-output"]
for seed, (train_acc, test_acc) in fit.items():
    assert train_acc > 0.9 and train_acc - test_acc > 0.15, (seed, train_acc, test_acc)
min_gap = min(train_acc - test_acc for train_acc, test_acc in fit.values())
print(f"smallest gap over the seeds: {min_gap:.3f}")

# %% tags=["hide-input", "nbval-ignore-output"]
utils.glue("overfit_min_gap", min_gap)
utils.glue("overfit_size", overfit.train_size)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# For every seed the network fits its few training images almost perfectly and classifies
# new ones far worse: the smallest gap between training and test accuracy was
# <span data-glue="overfit_min_gap:.3f">0.222</span> (the cell above checks every seed's gap against 0.15).
# That is all that nesting promises: a class big enough to fit the training data, and this
# one fits it. How well the fit carries over to new images depends on how many images it
# was made from, and <span data-glue="overfit_size">256</span> are too few.
# :::
#
# ## 6. Gradients with batch norm, and another optimizer
#
# > The chapter measured the gradients without batch normalization. What do they look like
# > with it? And at one depth, does an adaptive optimizer (Adam) still leave the plain stack
# > behind the residual one?
#
# :::{admonition} Answer
# :class: dropdown
# We use the chapter's two 20-layer networks, which differ only in the skip connections: a
# stem convolution (followed by max pooling, to 7x7 maps so that the experiment is cheap),
# nine blocks of two 3x3 convolutions with 16 channels, and a linear layer. With `skip=True`
# each block is a residual block; with `skip=False` it is the same two convolutions without
# the addition. Batch norm is optional, because it changes the answer.
# :::

# %% tags=["hide-input"]
class Block(nn.Module):
    """Two 3x3 convolutions, optionally with batch norm and a skip connection."""

    def __init__(self, width, skip, bn):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, kernel_size=3, padding=1, bias=not bn)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, padding=1, bias=not bn)
        self.bn1 = nn.BatchNorm2d(width) if bn else nn.Identity()
        self.bn2 = nn.BatchNorm2d(width) if bn else nn.Identity()
        self.skip = skip

    def forward(self, X):
        Y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(X)))))
        return F.relu(Y + X if self.skip else Y)


def deep_stack(skip, bn, num_blocks=9, width=16):
    return nn.Sequential(
        nn.Conv2d(1, width, kernel_size=3, stride=2, padding=1, bias=not bn),
        nn.BatchNorm2d(width) if bn else nn.Identity(), nn.ReLU(), nn.MaxPool2d(2),
        *[Block(width, skip, bn) for _ in range(num_blocks)],
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(width, 10))


print("depth:", depth(deep_stack(skip=False, bn=True)),
      " parameters:", f"{utils.num_params(deep_stack(skip=False, bn=True)):,}")
assert depth(deep_stack(skip=True, bn=False)) == 20

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Gradients at initialization.** The norm of the gradient of the loss with respect to the
# first convolution's weights, on one batch, for three seeds, without batch norm (as in the
# chapter) and with it:
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
X, y = next(iter(train_iter))


def first_layer_grad_norm(net):
    F.cross_entropy(net(X.cpu()), y.cpu()).backward()
    return net[0].weight.grad.norm().item()


grad_norms = {}
for bn in (False, True):
    for seed in (0, 1, 2):
        for skip in (False, True):
            torch.manual_seed(seed)
            grad_norms[bn, seed, skip] = first_layer_grad_norm(deep_stack(skip, bn))
        print(f"batch norm {bn!s:<5}  seed {seed}  first-layer gradient norm: "
              f"plain {grad_norms[bn, seed, False]:.1e}  "
              f"residual {grad_norms[bn, seed, True]:.1e}")

# %% tags=["hide-input"]
for seed in (0, 1, 2):
    assert grad_norms[False, seed, False] < 1e-3 * grad_norms[False, seed, True]
    assert grad_norms[True, seed, False] > 0.1 * grad_norms[True, seed, True]
print("without batch norm, plain < residual / 1000 for every seed: True")
print("with batch norm, plain > residual / 10 for every seed: True")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Without batch norm, the plain stack's first-layer gradient is many orders of magnitude
# smaller than the residual stack's for every seed (the cell above asserts at least a factor
# of 1000), as in the chapter. With batch norm the picture changes: each layer's output is
# renormalized, and the plain stack's gradients at initialization are no longer small. In
# the table they are of the same order as the residual stack's or larger (asserted: more than
# a tenth of it). Yet the chapter found the 20-layer plain stack with batch norm training to
# a higher loss than the 6-layer one, at every learning rate it tried with plain SGD. Healthy
# gradients at the start are not enough.
#
# **Another optimizer.** Adam divides each parameter's step by a running estimate of its
# gradient's size, so a layer whose gradients are small still moves. Does that rescue the
# plain stack? The protocol is the chapter's: both networks with batch norm, three learning
# rates each, every seed of the profile, the rate chosen on validation accuracy, the training
# loss of the last epoch compared, the test set scored once on the chosen configurations.
# :::

# %% tags=["hide-input"]
adam_budget = profile.budget("exercise_plain")
adam_rates = tuple(adam_budget.lr * f for f in (1 / 3, 1, 3))
print(adam_budget.describe())
print("optimizer: Adam; learning rates:", [f"{lr:.4g}" for lr in adam_rates],
      " seeds:", profile.seeds)
plain_train, plain_val, plain_test = utils.load_fashion_mnist(
    adam_budget.batch_size, device=device, train_size=adam_budget.train_size,
    val_size=adam_budget.val_size, test_size=adam_budget.test_size)

# %% tags=["hide-input", "nbval-ignore-output"]
adam_sweep = {(skip, lr): utils.train_seeds(
                  lambda skip=skip: deep_stack(skip, bn=True), plain_train, plain_val,
                  adam_budget.num_epochs, lr, optimizer="adam", device=device,
                  name=f"{'residual' if skip else 'plain'}, lr {lr:.4g}", verbose=False)
              for skip in (False, True) for lr in adam_rates}
adam_chosen = {skip: adam_sweep[skip, utils.choose({lr: adam_sweep[skip, lr]
                                                     for lr in adam_rates})]
               for skip in (False, True)}


def last_losses(runs):
    return [math.inf if r.diverged else r.history.last["train_loss"] for r in runs]


print(utils.runs_table(list(adam_sweep.values()), "val"))
for runs in adam_chosen.values():
    runs.score("test", plain_test)
    print(f"chosen: {runs.name:<22} training loss "
          + " ".join(f"{v:.3f}" for v in last_losses(runs))
          + f"   test {runs.summary('test')}")

# %% tags=["hide-input", "nbval-ignore-output"]
plain_losses, res_losses = last_losses(adam_chosen[False]), last_losses(adam_chosen[True])
adam_loss = utils.gain(plain_losses, res_losses, higher_is_better=False)   # residual - plain
adam_test = utils.gain(adam_chosen[False], adam_chosen[True])
assert adam_loss.ahead == adam_loss.n and adam_test.ahead == adam_test.n, (adam_loss, adam_test)
adam_gap, adam_gap_se = -adam_loss.mean, adam_loss.se
print(f"plain minus residual training loss: {adam_gap:.3f} ± {adam_gap_se:.3f}")

# %% tags=["hide-input", "nbval-ignore-output"]
utils.glue("adam_gap", adam_gap)
utils.glue("adam_gap_se", adam_gap_se)
utils.glue("adam_plain_test", adam_chosen[False].mean("test"))
utils.glue("adam_res_test", adam_chosen[True].mean("test"))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# No. With Adam too, each network at its chosen rate, the residual stack ends with the lower
# training loss on every seed, by <span data-glue="adam_gap:.3f">1.055</span> ± <span data-glue="adam_gap_se:.3f">0.053</span>,
# and the higher test accuracy (<span data-glue="adam_res_test:.3f">0.660</span> against
# <span data-glue="adam_plain_test:.3f">0.358</span>), although the two networks have the same layers and
# parameters and batch norm keeps the plain stack's gradients healthy. The skip connections
# make the same network easier to optimize, and rescaling the steps does not make up for
# them. This is a comparison at one depth; the degradation problem proper, a deeper plain
# network training worse than a shallower one, is measured in
# [the chapter](../chapters/07_resnet.ipynb).
# :::
#
# ## 7. Shrinking ResNet-18 for a small budget
#
# > How do the stage widths trade parameters and speed? Tabulate widths, parameter counts and
# > throughput.
#
# :::{admonition} Answer
# :class: dropdown
# A convolution from $c$ to $c$ channels has $9c^2$ weights and does $9c^2$ MACs per output
# pixel, so dividing every width by 2 should divide both the parameters and the arithmetic by
# about 4. Throughput on a CPU improves less, because small convolutions use the hardware
# less efficiently. We measure it over a few training steps per width (machine-dependent, so
# the table is not compared; the assertions after it check the scaling and the direction).
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
def train_throughput(net, batch_size=128, side=28, steps=3):
    """Training examples per second over `steps` SGD steps on random data."""
    net.to(device).train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    X = torch.rand(batch_size, 1, side, side, device=device)
    y = torch.randint(0, 10, (batch_size,), device=device)
    for step in range(steps + 1):               # step 0 is a warm-up, not timed
        if step == 1:
            start = time.perf_counter()
        loss = F.cross_entropy(net(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - start)


all_widths = [(8, 16, 32, 64), (16, 32, 64, 128), (32, 64, 128, 256), (64, 128, 256, 512)]
size_table = {}
print(f"{'widths':<22}{'parameters':>12}{'M MACs at 28x28':>17}{'train ex/s':>12}")
for w in all_widths:
    params = utils.num_params(utils.resnet18(widths=w))
    macs = utils.count_macs(utils.resnet18(widths=w), (1, 28, 28))
    rate = train_throughput(utils.resnet18(widths=w))
    size_table[w] = (params, macs, rate)
    print(f"{str(w):<22}{params:>12,}{macs / 1e6:>17.1f}{rate:>12.0f}")

# %% tags=["hide-input"]
for small, big in zip(all_widths, all_widths[1:]):
    param_ratio = size_table[big][0] / size_table[small][0]
    mac_ratio = size_table[big][1] / size_table[small][1]
    print(f"{str(small):<18} -> {str(big):<20} parameters x{param_ratio:.2f}, "
          f"MACs x{mac_ratio:.2f}")
    assert 3.5 < param_ratio < 4.1 and 3.0 < mac_ratio < 4.1
if device.type == "cpu":   # on a GPU these small batches can leave the chip idle
    assert size_table[all_widths[0]][2] > size_table[all_widths[-1]][2]
narrowest, quarter = all_widths[0], all_widths[1]
speedup = size_table[narrowest][2] / size_table[quarter][2]
saving = size_table[quarter][1] / size_table[narrowest][1]
assert speedup < saving
print(f"{narrowest} vs {quarter}: {saving:.1f}x fewer MACs buy a smaller speed-up")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Each doubling of the widths multiplies the parameters and the MACs by close to 4 (the
# ratios printed above); the MACs fall a little short of 4 because the stem's convolution
# (one input channel) and the final linear layer grow only linearly with the width. Now
# compare the last column of the table with the MACs. Among the narrow networks, the
# measured throughput changes by much less than the arithmetic (the last cell asserts it
# for the two narrowest), because small convolutions use the processor less efficiently. (On
# a GPU the effect is extreme: a batch of 128 small images leaves the chip mostly idle, so
# even the widest and the narrowest network can run at similar speeds; that is why the
# check that the narrowest is faster than the widest is made on the CPU only.)
# That is why the chapter's quick profile stops at (16, 32, 64, 128), a sixteenth of
# ResNet-18's parameters, rather than shrinking further: past that point the arithmetic
# saved buys little time.
# :::
