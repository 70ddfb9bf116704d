# %% [markdown]
# # Residual Networks (ResNet)
#
# Stacking more layers ought to make a network at least as good: the extra layers could
# always learn to do nothing. In practice, plain networks beyond a couple of dozen layers
# train *worse* than shallower ones. Residual networks fix this with one idea, adding each
# block's input back to its output, and that idea is now in almost every deep vision model.
#
# **What you'll learn**
#
# - why a bigger network is only guaranteed to be at least as good when its function class
#   contains the smaller one, and how an identity shortcut gives us that;
# - how to write a residual block, with and without a 1x1 projection, check its shapes, and
#   confirm that it is the same module as `utils.Residual`;
# - how ResNet-18 is put together, traced stage by stage at 28x28 and at 96x96, with its
#   parameters and arithmetic counted;
# - how to train it on Fashion-MNIST within the profile's budget.
#
# You should know the training loop from [LeNet](05_lenet.ipynb) and
# [batch normalization](06_batch_norm.ipynb): every convolution in a ResNet is followed by it.

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
# ## Function classes: when more capacity is not more power
#
# Think of an architecture as the set $\mathcal{F}$ of all functions it can represent, one
# for every setting of its weights. Training searches that set for the function that fits
# the data best,
#
# $$f^*_{\mathcal{F}} = \operatorname*{argmin}_{f \in \mathcal{F}} L(f),$$
#
# where $L$ is the training loss. A bigger architecture $\mathcal{F}'$ is only *guaranteed*
# to do at least as well if it contains the smaller one, $\mathcal{F} \subseteq \mathcal{F}'$:
# the classes are **nested**. If they are not nested, the bigger class may simply be a
# different class, and its best member can be further from the truth than the old one.
#
# When we add layers to a network, the new class contains the old one if the new layers can
# compute the identity function $f(\mathbf{x}) = \mathbf{x}$: then the deep network can copy
# the shallow one and pass its output through unchanged. In principle a stack of
# convolutions, batch norms and ReLUs can do that. He et al. found that in practice it does
# not: on CIFAR-10 and ImageNet their deeper *plain* networks reached a *higher training
# error* than shallower ones {cite}`he2016deep`. That is not overfitting (the training error
# itself is worse); the optimizer fails to find the solution that the architecture allows.
#
# Their fix is to change what the layers are asked to learn. Instead of fitting the desired
# mapping $f(\mathbf{x})$ directly, a block fits the **residual** $g(\mathbf{x}) =
# f(\mathbf{x}) - \mathbf{x}$ and adds its input back:
#
# $$f(\mathbf{x}) = \mathbf{x} + g(\mathbf{x}).$$
#
# Now the identity is the *default*: it is what the block computes when $g$ outputs zero,
# and weights near zero are easy to reach (weight decay pulls towards them anyway). The cell
# below makes "doing nothing" concrete. It sets the last layer of a small two-convolution
# branch to zero and feeds it non-negative input, as a block receives from a ReLU.

# %%
torch.manual_seed(0)
g = nn.Sequential(nn.Conv2d(4, 4, kernel_size=3, padding=1), nn.ReLU(),
                  nn.Conv2d(4, 4, kernel_size=3, padding=1))
nn.init.zeros_(g[2].weight)
nn.init.zeros_(g[2].bias)            # the branch now outputs exactly zero
X = torch.rand(2, 4, 6, 6)           # (batch, channels, height, width), values >= 0

plain = g(X)                         # a plain block: its output is the branch
residual = X + g(X)                  # a residual block: input plus branch
print("plain block returns all zeros:", bool((plain == 0).all()))
print("residual block returns its input:", torch.equal(residual, X))

# %%
assert (plain == 0).all() and torch.equal(residual, X)


# %% [markdown]
# With all weights at zero, the plain block destroys its input while the residual block
# passes it through untouched. To act as the identity, the plain block would have to learn
# an exact "delta" kernel for every channel in both convolutions. A deep stack of plain
# blocks starts far from the identity and must find it; a stack of residual blocks starts
# near it and only has to learn the corrections. The
# [exercises](../exercises/07_resnet.ipynb) measure the consequence: at the same depth, a
# plain stack's training loss falls more slowly than a residual stack's.
#
# ## The residual block
#
# ResNet's basic block has two 3x3 convolutions, each followed by batch normalization, with
# a ReLU in between. The input is added to the output of the second batch norm, and a final
# ReLU follows the sum. The addition needs both branches to have the same shape. When a block
# changes the number of channels, or halves the height and width with `stride=2`, the
# shortcut passes the input through a 1x1 convolution with the same stride (a *projection*)
# so that the shapes match.
#
# The convolutions have no bias: the batch norm right after each one subtracts the
# per-channel mean, which would cancel a bias anyway. The projection needs none either, since
# `bn2`'s shift already adds a per-channel constant to the sum.

# %%
class Residual(nn.Module):
    """Basic ResNet block: conv-BN-ReLU-conv-BN, plus a (projected) shortcut, then ReLU."""

    def __init__(self, in_channels, out_channels, use_1x1conv=False, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1,
                               stride=stride, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1,
                               bias=False)
        self.conv3 = (nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride,
                                bias=False) if use_1x1conv else None)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3 is not None:
            X = self.conv3(X)                     # project the shortcut to Y's shape
        return F.relu(Y + X)


# %% [markdown]
# A block that keeps the channels and the resolution leaves the shape unchanged. With a
# projection and `stride=2`, it doubles the channels and halves the height and width, which
# is exactly what the first block of each later ResNet stage does.

# %%
X = torch.rand(4, 3, 6, 6)
same = Residual(3, 3)
down = Residual(3, 6, use_1x1conv=True, stride=2)
print("identity shortcut:  ", tuple(X.shape), "->", tuple(same(X).shape))
print("projection shortcut:", tuple(X.shape), "->", tuple(down(X).shape))

# %%
assert same(X).shape == X.shape
assert down(X).shape == (4, 6, 3, 3)

# %% [markdown]
# Later chapters import this block as `utils.Residual`. To check that the two are the same
# module, we copy the weights of our blocks into fresh `utils.Residual` blocks
# (`load_state_dict` with `strict=True` fails if a single parameter name or shape differs)
# and compare the outputs, both in training mode (batch statistics) and in evaluation mode
# (running statistics).

# %%
for ours, args in ((same, (3, 3)), (down, (3, 6, True, 2))):
    theirs = utils.Residual(*args)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    for mode in ("train", "eval"):
        ours.train(mode == "train")
        theirs.train(mode == "train")
        torch.testing.assert_close(ours(X), theirs(X), rtol=0, atol=0)
print("inline Residual == utils.Residual (train and eval mode): True")

# %% [markdown]
# What if we forget the projection where the shape changes? Our inline block only fails
# later, in the middle of a forward pass, with an error about mismatched tensor sizes.
# `utils.Residual` checks the arguments when the block is built and says what to do:

# %%
caught = None
try:
    utils.Residual(3, 6)                  # channels change, but no 1x1 convolution
except ValueError as err:
    caught = err
assert caught is not None and "use_1x1conv=True" in str(caught)
print(type(caught).__name__ + ":", caught)

# %%
caught = None
try:
    Residual(3, 6)(X)                     # the inline block only notices in forward()
except RuntimeError as err:
    caught = err
assert caught is not None and "must match" in str(caught)
print(type(caught).__name__, "in forward(): the two branches have different sizes")

# %% [markdown]
# A projection is not free: it adds `in_channels * out_channels` weights. ResNet uses one
# only where the shape changes, so almost every shortcut is a parameter-free identity.

# %%
for args in ((64, 64), (64, 128, True, 2)):
    blk = utils.Residual(*args)
    proj = utils.num_params(blk.conv3) if blk.conv3 is not None else 0
    print(f"Residual{args}: {utils.num_params(blk):>7,} parameters, {proj:>6,} in the shortcut")

# %% [markdown]
# ## ResNet-18
#
# ResNet-18 has the same outline as GoogLeNet before it {cite}`szegedy2015going`: a stem,
# a body of repeated blocks, and global average pooling in front of one fully connected layer:
#
# - **stem**: a 7x7 convolution with 64 channels and stride 2, batch norm, ReLU, then 3x3 max
#   pooling with stride 2, so the resolution drops by 4;
# - **four stages** of two residual blocks each, with 64, 128, 256 and 512 channels; the first
#   block of stages 2-4 halves the height and width and doubles the channels (with a
#   projection);
# - **head**: global average pooling to one value per channel, then a linear layer with one
#   output per class.
#
# The name counts the layers that have weights on the main path: the stem's convolution, two
# per block times eight blocks, and the final linear layer. The 1x1 projections are not
# counted. `utils.resnet18` builds it from `utils.resnet_stage`, with `in_channels=1` for
# Fashion-MNIST's grey images. Let us count the layers from the model itself:

# %%
net = utils.resnet18(num_classes=10, in_channels=1)
counted = [m for m in net.modules()
           if isinstance(m, nn.Linear)
           or (isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1))]
print("weighted layers on the main path:", len(counted))
print("1x1 projections:", sum(isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)
                              for m in net.modules()))

# %%
assert len(counted) == 18

# %% [markdown]
# Now trace one image through it, stage by stage. We trace at the input size this profile
# trains on and at 96x96, the size the full profile trains on, closer to the scale of the
# paper (which used 224x224 ImageNet images). The net is in evaluation mode for the trace:
# with a single image, batch norm could not compute batch statistics on the last stage's
# tiny feature maps.

# %%
budget = profile.budget("resnet")
side = budget.resize or 28                # the input size this profile trains on
net.eval()
for size in sorted({side, 96}):
    print(f"input 1x1x{size}x{size}")
    print(utils.layer_summary(net, torch.zeros(1, 1, size, size)))
    print()


# %% [markdown]
# Read the tables from the top. The stem divides the side length by 4, and each of stages 2-4
# halves it again while doubling the channels, so the spatial resolution shrinks by 32 in
# total. For a 96x96 input the last stage works on 3x3 maps. For a 28x28 input it works on a
# single pixel, where a padded 3x3 convolution only ever uses its centre weight: it acts like
# a 1x1 convolution. That is one reason the full profile resizes the images to 96x96.
#
# The parameter counts do not depend on the input size, but the cost does. To see both, we
# count multiply-accumulate operations (MACs) per image, the usual measure of a network's
# arithmetic, with forward hooks on the convolutions and linear layers:

# %%
def count_macs(net, shape):
    """Multiply-accumulates of the Conv2d and Linear layers for one input of `shape`."""
    total = 0

    def hook(layer, inputs, output):
        nonlocal total
        if isinstance(layer, nn.Conv2d):        # per output value: k*k*in_channels MACs
            k = layer.kernel_size[0] * layer.kernel_size[1]
            total += output[0].numel() * k * layer.in_channels // layer.groups
        else:
            total += layer.in_features * layer.out_features

    handles = [m.register_forward_hook(hook) for m in net.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    # evaluation mode, then every layer's own mode back (net.train(was) would not restore
    # a layer frozen with .eval() inside a training net)
    with utils.evaluation_mode(net), torch.no_grad():
        net(torch.zeros(1, *shape))
    for h in handles:
        h.remove()
    return total


# utils.count_macs counts the same way (on a shapes-only copy of the model)
assert count_macs(net, (1, 28, 28)) == utils.count_macs(net, (1, 28, 28))

# %% [markdown]
# Now the cost of every part of the network, stage by stage, at both input sizes:

# %%
names = ["stem", "stage 1", "stage 2", "stage 3", "stage 4", "head"]
parts = [net[0], net[1], net[2], net[3], net[4], net[5:]]
total_params = utils.num_params(net)
print(f"{'part':<9}{'params':>11}{'share':>7}{'M MACs, 28':>12}{'M MACs, 96':>12}"
      f"{'share, 96':>11}")
cost = {}
for size in (28, 96):
    X = torch.zeros(1, 1, size, size)
    for name, part in zip(names, parts):
        cost[name, size] = count_macs(part, tuple(X.shape[1:]))
        with torch.no_grad():
            X = part(X)
macs = {size: sum(cost[name, size] for name in names) for size in (28, 96)}
for name, part in zip(names, parts):
    print(f"{name:<9}{utils.num_params(part):>11,}{utils.num_params(part) / total_params:>7.1%}"
          f"{cost[name, 28] / 1e6:>12.1f}{cost[name, 96] / 1e6:>12.1f}"
          f"{cost[name, 96] / macs[96]:>11.1%}")
print(f"{'total':<9}{total_params:>11,}{'':>7}{macs[28] / 1e6:>12.1f}{macs[96] / 1e6:>12.1f}")
print(f"a 96x96 image costs {macs[96] / macs[28]:.1f} times as much as a 28x28 one")

# %%
assert total_params == sum(utils.num_params(part) for part in parts)
assert macs[96] == count_macs(net, (1, 96, 96))        # the parts add up to the whole
assert utils.num_params(net[4]) > total_params / 2            # stage 4 holds most parameters
assert all(cost[f"stage {i}", 96] < macs[96] / 3 for i in range(1, 5))

# %% [markdown]
# The parameters sit at the end: stage 4 alone holds most of them, because a 3x3 convolution
# from $c$ to $c$ channels has $9c^2$ weights and stage 4 has the most channels. The
# arithmetic, by contrast, is spread almost evenly over the four stages. Each of stages 2-4
# halves the height and width (four times fewer positions) and doubles the channels (four
# times more MACs per position), so the two effects cancel. (The count includes the
# multiplications with padding zeros, which the convolution routines perform too.)
#

# %% [markdown]
# As a check on the counter, the same network at ImageNet scale (3 input channels, 224x224,
# 1000 classes) should need about $1.8 \times 10^9$ multiply-adds, the figure in Table 1 of
# the paper {cite}`he2016deep`:

# %%
imagenet_macs = count_macs(utils.resnet18(num_classes=1000, in_channels=3), (3, 224, 224))
print(f"ResNet-18 at 224x224: {imagenet_macs / 1e9:.2f} billion MACs")

# %%
assert abs(imagenet_macs / 1.8e9 - 1) < 0.02


# %% [markdown]
# ## Training on Fashion-MNIST
#
# Before choosing a budget, measure. The next cell times a few training steps of the real
# ResNet-18 and of the same architecture with a quarter of the channels in every stage, on
# a batch of the size and resolution this profile trains on. The numbers depend on the
# machine, so the cell's output is not checked, only the direction in the cell after it. (On
# a CPU the arithmetic sets the pace, so the narrower network is faster; on a GPU both are
# small enough for a batch of this size to leave the chip mostly idle, and their speeds can
# tie, so the check is made on the CPU only.)

# %%
# NBVAL_IGNORE_OUTPUT
def train_throughput(net, batch_size, side, steps=3):
    """Training examples per second, measured over `steps` SGD steps on random data."""
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

candidates = {"full (64, 128, 256, 512)": (64, 128, 256, 512),
              "quarter (16, 32, 64, 128)": (16, 32, 64, 128)}
examples = (budget.train_size or 60_000) * budget.num_epochs   # seen during training
rates, sizes = {}, {}
print(f"{'widths':<26} {'parameters':>11}  {'train ex/s':>10}  {'est. training time':>18}")
for name, w in candidates.items():
    model = utils.resnet18(widths=w)
    sizes[name] = utils.num_params(model)
    rates[name] = train_throughput(model, budget.batch_size, side)
    print(f"{name:<26} {sizes[name]:>11,}  {rates[name]:>10.0f}  "
          f"{examples / rates[name]:>16.0f} s")

# %%
full_name, quarter_name = candidates
assert sizes[quarter_name] < sizes[full_name] / 10
if device.type == "cpu":   # on a GPU, a batch this small keeps neither network busy
    assert rates[quarter_name] > rates[full_name]
print(f"quarter widths: {sizes[full_name] / sizes[quarter_name]:.1f}x fewer parameters")

# %% [markdown]
# The last column estimates how long this profile's training budget would take with each
# network on this machine. On two CPU cores the full-width estimate is well over the minute
# or so that a page of this book may take to execute, so the quick profile trains the
# quarter-width network, while the full profile trains the real ResNet-18 at 96x96. The
# architecture, and everything this chapter says about it, is the same. The next cell
# prints which one this page uses.

# %%
widths = budget.widths   # in the profile table, utils/profile.py
print(budget.describe())
print("stage widths:", widths)
utils.seed_everything(0)
net = utils.resnet18(num_classes=10, in_channels=1, widths=widths)
print(f"parameters: {utils.num_params(net):,}")
train_iter, test_iter = utils.load_fashion_mnist(
    budget.batch_size, resize=budget.resize, device=device,
    train_size=budget.train_size, test_size=budget.test_size)

# %%
# NBVAL_IGNORE_OUTPUT
history = utils.train(net, train_iter, test_iter, budget.num_epochs, budget.lr,
                      device=device)

# %% [markdown]
# Training accuracy, test accuracy and the loss are printed per epoch above. The next cell
# checks what must hold whatever the hardware: every epoch ran, the loss went down, and the
# test accuracy is far above chance (0.1).

# %%
assert len(history) == budget.num_epochs
assert history.last["train_loss"] < history[0]["train_loss"]
assert history.last["test_acc"] > 0.7, history.last

# %%
# NBVAL_IGNORE_OUTPUT
print(history.table())
name = "ResNet-18" if widths == (64, 128, 256, 512) else f"ResNet-18, widths {widths}"
record = utils.report_result(name, history, profile.name)


# %% [markdown]
# How much more work is the full profile? Multiply the arithmetic per image by the number of
# images seen during training:

# %%
def training_macs(budget, widths):
    size = budget.resize or 28
    per_image = count_macs(utils.resnet18(widths=widths), (1, size, size))
    return per_image * (budget.train_size or 60_000) * budget.num_epochs

full = utils.get_profile("full")
this_run = training_macs(budget, widths)
full_run = training_macs(full.budget("resnet"), full.budget("resnet").widths)
print("full profile:", full.budget("resnet").describe())
print(f"forward-pass arithmetic, full profile / this run: {full_run / this_run:,.0f}x")

# %% [markdown]
# What does that mean in time? The throughput table measured the full-width network at this
# profile's input size; scaling its speed by the arithmetic per image gives a rough estimate
# for the full profile on this machine (rough, because wider and larger convolutions use the
# processor somewhat more efficiently):

# %%
# NBVAL_IGNORE_OUTPUT
full_budget = full.budget("resnet")
rate_at_96 = rates[full_name] * macs[side] / macs[96]        # full width, 96x96 inputs
full_seconds = (full_budget.train_size or 60_000) * full_budget.num_epochs / rate_at_96
this_seconds = sum(record["seconds"] for record in history)
print(f"this run: {this_seconds:.0f} s of training on {device.type}")
print(f"full profile, estimated: {full_seconds / 3600:.1f} hours on {device.type}")

# %%
assert full_seconds > this_seconds

# %% [markdown]
# On two CPU cores the estimate runs to hours, so the full profile is meant for a GPU
# (`CNNBOOK_PROFILE=full`). Test accuracies above 0.90 on Fashion-MNIST need that setting.
# We have not run it for this page: every number shown here comes from the profile printed
# at the top.
#
# ## Summary
#
# - A bigger network is only guaranteed to be at least as good if its function class contains
#   the smaller one. A residual block $\mathbf{x} + g(\mathbf{x})$ is the identity when
#   $g = 0$, so adding blocks nests the classes, and the optimizer starts near "do nothing"
#   rather than far from it.
# - The basic block is conv-BN-ReLU-conv-BN plus a shortcut, then a ReLU; when channels or
#   resolution change, a strided 1x1 convolution projects the shortcut. Our inline block
#   matched `utils.Residual` exactly, and `utils.Residual` rejects a missing projection when
#   the block is built.
# - ResNet-18 is a stem, four stages of two blocks and global average pooling; the trace
#   showed the resolution shrinking by 32, most parameters in the last stage, and the
#   arithmetic spread almost evenly over the stages.
# - Trained on Fashion-MNIST within the quick budget, a narrow ResNet-18 learned well above
#   chance; the full profile is for a GPU.
#
# ## Exercises
#
# Worked answers, with code, are in [the exercise notebook](../exercises/07_resnet.ipynb).
#
# 1. What are the main differences between the Inception block and the residual block? How
#    do they compare in computation, accuracy and the classes of functions they can describe?
# 2. Using Table 1 of the ResNet paper {cite}`he2016deep`, build other variants of the
#    network, such as ResNet-34.
# 3. Deeper ResNets use a "bottleneck" block (1x1, 3x3, 1x1 convolutions). Implement it and
#    compare its parameter count with the basic block's.
# 4. Later versions of ResNet changed the order "convolution, batch norm, activation" to
#    "batch norm, activation, convolution" {cite}`he2016identity`. Implement this
#    pre-activation block.
# 5. Why can't we increase the complexity of functions without bound, even if the function
#    classes are nested?
# 6. Why do deeper plain networks train worse? Compare a deep plain stack with the same stack
#    with skip connections.
# 7. How do the stage widths trade parameters and speed? Tabulate widths, parameter counts
#    and throughput.
