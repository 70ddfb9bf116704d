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
# - how to write a residual block, with and without a 1x1 projection, draw it with the shapes
#   it computes, and confirm that it is the same module as `utils.Residual`;
# - why the shortcut keeps the gradient alive in a deep stack, from
#   $\partial(\mathbf{x} + g(\mathbf{x}))/\partial\mathbf{x} = I + \partial g/\partial\mathbf{x}$,
#   and measure it;
# - measure the degradation problem: a deeper plain network trains to a higher loss than a
#   shallower one, and the residual versions of the same networks do not;
# - how ResNet-18 is put together, drawn stage by stage from real tensors, with its
#   parameters, arithmetic and receptive field measured, and train it on Fashion-MNIST.
#
# You should know the training loop from [LeNet](05_lenet.ipynb) and
# [batch normalization](06_batch_norm.ipynb): every convolution in a ResNet is followed by it.

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
import statistics

import matplotlib.pyplot as plt
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

# %% tags=["hide-input"]
assert (plain == 0).all() and torch.equal(residual, X)


# %% [markdown]
# With all weights at zero, the plain block destroys its input while the residual block
# passes it through untouched. To act as the identity, the plain block would have to learn
# an exact "delta" kernel for every channel in both convolutions. A deep stack of plain
# blocks starts far from the identity and must find it; a stack of residual blocks starts
# near it and only has to learn the corrections. After writing the block, we measure two
# consequences: what the shortcut does to the gradient, and to the training loss of deeper
# networks.
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

# %% tags=["hide-input"]
assert same(X).shape == X.shape
assert down(X).shape == (4, 6, 3, 3)

# %% [markdown]
# Here are the two kinds of block as ResNet-18 uses them, drawn by the function below with
# the shapes that a 64-channel, 56x56 input produces at every step (read from the tensors by
# forward hooks, so the figure cannot disagree with the code): the identity shortcut of a
# block that keeps the shape, and the projection of a block that starts a new stage.

# %% tags=["hide-input"]
def block_shapes(block, X):
    """Output shape (channels, height, width) of every layer of a Residual block for X."""
    shapes = {"input": tuple(X.shape[1:])}
    hooks = [m.register_forward_hook(
        lambda m, args, out, name=name: shapes.update({name: tuple(out.shape[1:])}))
        for name, m in block.named_children()]
    with torch.no_grad():
        shapes["output"] = tuple(block.eval()(X).shape[1:])
    for h in hooks:
        h.remove()
    return shapes


def draw_block(ax, block, X, title):
    """Draw a residual block as boxes and arrows, labelled with the shapes it computes."""
    s = block_shapes(block, X)
    fmt = lambda shape: "x".join(str(d) for d in shape)  # noqa: E731
    box = dict(boxstyle="round,pad=0.35", fc="#dbe9f6", ec="#3a6d99")
    arrow = dict(arrowstyle="-|>", color="0.25", lw=1.2)
    main, side = 3.2, 7.6                     # x of the residual branch and of the shortcut
    c1, c2 = block.conv1, block.conv2
    layers = [(9.6, f"3x3 conv, {c1.out_channels}, stride {c1.stride[0]}", "conv1"),
              (8.2, "batch norm, ReLU", "bn1"),
              (6.8, f"3x3 conv, {c2.out_channels}", "conv2"),
              (5.4, "batch norm", "bn2")]
    ax.text(main, 11.3, f"x: {fmt(s['input'])}", ha="center", fontsize=10, weight="bold")
    ax.annotate("", (main, layers[0][0] + 0.35), (main, 11.05), arrowprops=arrow)
    for (y, label, name), nxt in zip(layers, [*layers[1:], (4.0, "", "")]):
        ax.text(main, y, label, ha="center", va="center", fontsize=9, bbox=box)
        ax.annotate("", (main, nxt[0] + (0.35 if nxt[2] else 0.3)), (main, y - 0.35),
                    arrowprops=arrow)
        ax.text(main + 0.15, (y + nxt[0]) / 2 - 0.05, fmt(s[name]), fontsize=8, color="0.35")
    # the shortcut: from the input, down the right-hand side, into the sum
    ax.plot([main, side, side], [10.85, 10.85, 8.6], color="C1", lw=1.6)
    if block.conv3 is not None:
        p = block.conv3
        ax.text(side, 7.9, f"1x1 conv, {p.out_channels},\nstride {p.stride[0]}", ha="center",
                va="center", fontsize=9, bbox=dict(box, fc="#fde3c8", ec="C1"))
        ax.plot([side, side], [7.2, 4.0], color="C1", lw=1.6)
        ax.text(side + 0.15, 5.6, fmt(s["conv3"]), fontsize=8, color="0.35")
        ax.text(side + 0.15, 9.6, "projection", fontsize=8, color="C1")
    else:
        ax.plot([side, side], [8.6, 4.0], color="C1", lw=1.6)
        ax.text(side + 0.15, 7.0, f"identity\n{fmt(s['input'])}", fontsize=8, color="C1")
    ax.annotate("", (main + 0.35, 3.7), (side, 3.7),
                arrowprops=dict(arrow, color="C1"))
    ax.plot([side, side], [4.0, 3.7], color="C1", lw=1.6)
    ax.add_patch(plt.Circle((main, 3.7), 0.32, fc="white", ec="0.25", lw=1.2))
    ax.text(main, 3.68, "+", ha="center", va="center", fontsize=13)
    ax.annotate("", (main, 2.75), (main, 3.38), arrowprops=arrow)
    ax.text(main, 2.4, "ReLU", ha="center", va="center", fontsize=9, bbox=box)
    ax.annotate("", (main, 1.3), (main, 2.05), arrowprops=arrow)
    ax.text(main, 0.9, f"output: {fmt(s['output'])}", ha="center", fontsize=10,
            weight="bold")
    ax.set_xlim(0, 10.5)
    ax.set_ylim(0.4, 11.9)
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    return s


X_block = torch.zeros(1, 64, 56, 56)
fig, axes = plt.subplots(1, 2, figsize=(9, 5.5))
drawn = [draw_block(axes[0], utils.Residual(64, 64), X_block, "identity shortcut"),
         draw_block(axes[1], utils.Residual(64, 128, use_1x1conv=True, stride=2), X_block,
                    "1x1 projection shortcut")]
fig.suptitle("The residual block: output = ReLU(g(x) + shortcut(x))", fontsize=11)
plt.tight_layout()
plt.show()

# %% tags=["hide-input"]
assert drawn[0]["output"] == (64, 56, 56) and drawn[1]["output"] == (128, 28, 28)
assert drawn[1]["conv3"] == drawn[1]["bn2"]          # the projection matches the branch

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
# ## Why the shortcut keeps the gradient alive
#
# Training changes the first layer by the gradient of the loss with respect to its weights,
# and that gradient has to travel back through every layer above it. By the chain rule, the
# Jacobian of a stack of blocks is the product of the blocks' Jacobians. For a plain block
# $f(\mathbf{x}) = g(\mathbf{x})$ that is $\prod_l \partial g_l / \partial \mathbf{x}$, and
# if each factor shrinks vectors a little, the product shrinks them exponentially with
# depth. For a residual block,
#
# $$\frac{\partial}{\partial \mathbf{x}}\bigl(\mathbf{x} + g(\mathbf{x})\bigr)
# = I + \frac{\partial g}{\partial \mathbf{x}},$$
#
# so every factor contains the identity: even where $\partial g / \partial \mathbf{x}$ is
# small, the gradient passes through the block almost unchanged. (ResNet's blocks apply a
# ReLU after the sum; its derivative, a diagonal of zeros and ones, multiplies the factors of
# plain and residual blocks alike.)
#
# We measure it on small stacks *without* batch normalization (which rescales every layer
# and would hide the effect, as the [exercises](../exercises/07_resnet.ipynb) show): a
# stride-2 stem convolution and 2x2 max pooling take the 28x28 images to 7x7 maps with 16
# channels, then come `num_blocks` blocks of two 3x3 convolutions, global average pooling
# and a linear layer. With `skip=True` a block adds its input back (with batch norm it is
# exactly `utils.Residual`, as the cell after the next checks); with `skip=False` it is the
# same two convolutions without the addition. A network with $n$ blocks has $2n + 2$ layers
# with weights.

# %%
class Block(nn.Module):
    """Two 3x3 convolutions (each with batch norm if bn), a ReLU between, and a ReLU after
    the sum with the input (skip=True) or after the second convolution alone."""

    def __init__(self, width, skip, bn=True):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, kernel_size=3, padding=1, bias=not bn)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, padding=1, bias=not bn)
        self.bn1 = nn.BatchNorm2d(width) if bn else nn.Identity()
        self.bn2 = nn.BatchNorm2d(width) if bn else nn.Identity()
        self.skip = skip

    def forward(self, X):
        Y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(X)))))
        return F.relu(Y + X if self.skip else Y)


def conv_stack(num_blocks, skip, bn=True, width=16):
    """A stem to 7x7 maps, `num_blocks` blocks, global average pooling, a linear layer."""
    return nn.Sequential(
        nn.Conv2d(1, width, kernel_size=3, stride=2, padding=1, bias=not bn),
        nn.BatchNorm2d(width) if bn else nn.Identity(), nn.ReLU(), nn.MaxPool2d(2),
        *[Block(width, skip, bn) for _ in range(num_blocks)],
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(width, 10))


print(utils.layer_summary(conv_stack(2, skip=True).eval(), torch.zeros(1, 1, 28, 28)))

# %%
block, reference = Block(16, skip=True), utils.Residual(16, 16)
block.load_state_dict(reference.state_dict(), strict=True)
X = torch.randn(8, 16, 7, 7)
torch.testing.assert_close(block(X), reference(X), rtol=0, atol=0)
print("Block(16, skip=True) == utils.Residual(16, 16): True")

# %% [markdown]
# Now the norm of the gradient of the loss with respect to the first convolution's weights,
# at initialization, on one batch of 128 training images, for stacks of 1 to 16 blocks
# (4 to 34 layers) and three seeds each:

# %%
X, y = next(iter(utils.load_fashion_mnist(128, train_size=128, test_size=128)[0]))
depths = (1, 2, 4, 8, 12, 16)
first_grad = {}
for skip in (False, True):
    for n in depths:
        for seed in (0, 1, 2):
            torch.manual_seed(seed)
            net = conv_stack(n, skip, bn=False)
            F.cross_entropy(net(X), y).backward()
            first_grad[skip, n, seed] = net[0].weight.grad.norm().item()
print(f"{'blocks':>6}{'layers':>7}   first-layer gradient norm, seeds 0-2")
for n in depths:
    plain = " ".join(f"{first_grad[False, n, s]:8.1e}" for s in (0, 1, 2))
    res = " ".join(f"{first_grad[True, n, s]:8.1e}" for s in (0, 1, 2))
    print(f"{n:>6}{2 * n + 2:>7}   plain {plain}   residual {res}")

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(6, 3.5))
for skip, label, color in ((False, "plain", "C3"), (True, "residual", "C0")):
    layers = [2 * n + 2 for n in depths]
    means = [statistics.geometric_mean([first_grad[skip, n, s] for s in (0, 1, 2)])
             for n in depths]
    ax.plot(layers, means, "-", color=color, label=label)
    for n in depths:
        ax.plot([2 * n + 2] * 3, [first_grad[skip, n, s] for s in (0, 1, 2)], "o",
                color=color, alpha=0.5, ms=4)
ax.set_yscale("log")
ax.set_xlabel("layers with weights")
ax.set_ylabel("first-layer gradient norm")
ax.set_title("At initialization, without batch norm: each seed (dots), geometric mean",
             fontsize=10)
ax.legend()
plt.tight_layout()
plt.show()

# %%
deepest, shallowest = depths[-1], depths[0]
for s in (0, 1, 2):
    # the plain stack's gradient shrinks by orders of magnitude with depth ...
    assert first_grad[False, deepest, s] < 1e-6 * first_grad[False, shallowest, s]
    # ... the residual stack's stays within a factor of 10 of its shallowest
    assert 0.1 < first_grad[True, deepest, s] / first_grad[True, shallowest, s] < 10
    assert first_grad[False, deepest, s] < 1e-6 * first_grad[True, deepest, s]
per_block = statistics.geometric_mean(
    [(first_grad[False, shallowest, s] / first_grad[False, deepest, s])
     ** (1 / (deepest - shallowest)) for s in (0, 1, 2)])
print(f"each plain block divides the first-layer gradient by about {per_block:.0f}")

# %% tags=["nbval-ignore-output"]
utils.glue("per_block", per_block)

# %% [markdown]
# Each plain block divides the first-layer gradient by about <span data-glue="per_block:.0f">7</span>, so
# that 16 of them leave the first layer almost nothing to learn from, while the residual
# stack's gradient stays within a factor of 10 at every depth (both asserted above): the $I$
# in every block's Jacobian carries it through.
#
# How much a plain block shrinks the gradient depends on how its weights were drawn, and
# these stacks use PyTorch's default: `nn.Conv2d` draws from
# $U(-b, b)$ with $b = 1/\sqrt{n_\text{in}}$ ($n_\text{in}$ = input channels x kernel
# area), a variance of $1/(3 n_\text{in})$. He et al.'s initialization for ReLU networks
# draws with variance $2/n_\text{in}$, six times more {cite}`he2015delving`: a ReLU zeroes
# half of its inputs, and the factor 2 makes up for it, so that a convolution followed by a
# ReLU keeps the signal's variance. With the default each such layer multiplies the
# variance by about $n_\text{in} \cdot \frac{1}{3 n_\text{in}} \cdot \frac{1}{2} =
# \frac{1}{6}$, so a block of two divides it by about 36 and the signal's size (its square
# root) by about 6, forwards and, by the same argument, backwards. The next cell checks
# the default's variance and measures the plain stacks again with He's initialization:

# %%
conv = nn.Conv2d(16, 16, kernel_size=3)
fan_in = 16 * 3 * 3
default_var = conv.weight.var().item() * fan_in         # about 1/3


def he_init(net):
    """The network with every convolution drawn by He et al.'s rule (variance 2/fan_in)."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return net


he_grad = {}
for n in depths:
    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        net = he_init(conv_stack(n, skip=False, bn=False))
        F.cross_entropy(net(X), y).backward()
        he_grad[n, seed] = net[0].weight.grad.norm().item()
print(f"default Conv2d weights: variance x fan_in = {default_var:.3f} (1/3 = 0.333; He: 2)")
print(f"{'blocks':>6}   plain, default init        plain, He init")
for n in depths:
    print(f"{n:>6}   " + " ".join(f"{first_grad[False, n, s]:8.1e}" for s in (0, 1, 2))
          + "   " + " ".join(f"{he_grad[n, s]:8.1e}" for s in (0, 1, 2)))
he_per_block = statistics.geometric_mean(
    [(he_grad[shallowest, s] / he_grad[deepest, s]) ** (1 / (deepest - shallowest))
     for s in (0, 1, 2)])
print(f"per plain block, the first-layer gradient is divided by about {per_block:.1f} "
      f"with the default and {he_per_block:.1f} with He's initialization")

# %% tags=["hide-input"]
assert abs(default_var - 1 / 3) < 0.05, default_var
assert 3 < per_block < 12, per_block                       # the predicted 6, roughly
assert he_per_block < 2 and he_per_block < per_block / 3, (he_per_block, per_block)
for s in (0, 1, 2):   # He keeps the deepest plain stack's gradient within 1,000x ...
    assert he_grad[deepest, s] > 1e-3 * he_grad[shallowest, s], he_grad
    assert he_grad[deepest, s] > 1e6 * first_grad[False, deepest, s]   # ... the default not

# %% tags=["nbval-ignore-output"]
utils.glue("he_per_block", he_per_block)

# %% [markdown]
# With He's initialization a plain block divides the gradient by about
# <span data-glue="he_per_block:.1f">1.2</span> instead of <span data-glue="per_block:.0f">7</span>: most of the vanishing
# measured above comes from the default's small weights, and a good initialization cures
# it at initialization. It does not make depth free, though. The experiment below uses batch
# normalization, which fixes the scale at every layer whatever the initialization, and the
# deep plain stack still trains worse than the shallow one.

# %% [markdown]
# ## The degradation problem, measured
#
# A vanishing gradient is not the whole story: batch normalization rescales every layer and
# keeps the plain stack's gradients at initialization healthy (the
# [exercises](../exercises/07_resnet.ipynb) measure that), and still He et al. found their
# deeper plain networks, with batch norm throughout, reaching a *higher training loss* than
# shallower ones {cite}`he2016deep`. That is the **degradation problem**: the deeper class
# contains the shallower one, yet the optimizer finds worse members of it. We repeat the
# experiment in miniature, with batch norm in every block:
#
# - plain stacks at two depths, 2 and 9 blocks (6 and 20 layers with weights), and the same
#   stacks with the skip connections, four networks in all;
# - each trained on the same budget, from every seed of the profile, at three learning rates
#   (plain SGD), and at one more beyond either end when the best rate sits there
#   (`utils.sweep`); for each network the rate with the best mean validation accuracy;
# - the claim is about optimization, so the quantity compared is the **training loss** (the
#   mean over the batches of the last epoch); the test set is scored once, on the four
#   chosen configurations.

# %%
budget = profile.budget("resnet_degradation")
print(f"profile {profile.name!r}:", budget.describe())
rates = tuple(budget.lr * f for f in (0.5, 1, 2))
blocks = {"shallow": 2, "deep": 9}
print("learning rates:", rates, " seeds:", profile.seeds,
      " layers:", {k: 2 * n + 2 for k, n in blocks.items()})
train_iter, val_iter, test_iter = utils.load_fashion_mnist(
    budget.batch_size, device=device, train_size=budget.train_size,
    val_size=budget.val_size, test_size=budget.test_size)


def arm_name(depth, skip):
    return f"{2 * blocks[depth] + 2} layers, {'residual' if skip else 'plain'}"


arms = [(depth, skip) for depth in blocks for skip in (False, True)]

# %% tags=["nbval-ignore-output"]
sweeps = {(depth, skip): utils.sweep(
              lambda n=blocks[depth], skip=skip: conv_stack(n, skip), train_iter, val_iter,
              budget.num_epochs, rates, name=arm_name(depth, skip), device=device,
              verbose=False)
          for depth, skip in arms}
tried = [runs for s in sweeps.values() for runs in s.runs.values()]


def train_losses(runs):
    """Mean training loss over the last epoch, one per seed (inf for a diverged run)."""
    return [math.inf if r.diverged else r.history.last["train_loss"] for r in runs]


print(utils.runs_table(tried, "val"))
print()
print(f"{'training loss':<34}" + "".join(f"{'seed ' + str(s):>8}" for s in profile.seeds))
for runs in tried:
    print(f"{runs.name:<34}" + "".join(f"{v:>8.3f}" for v in train_losses(runs)))

# %% [markdown]
# For each network, the learning rate with the best mean validation accuracy, and the test
# set scored once on those four configurations:

# %% tags=["nbval-ignore-output"]
chosen = {}
for depth, skip in arms:
    print(sweeps[depth, skip].describe())
    chosen[depth, skip] = sweeps[depth, skip].best
    chosen[depth, skip].score("test", test_iter)
loss = {arm: train_losses(runs) for arm, runs in chosen.items()}
print(f"{'network':<22}{'lr':>6}{'training loss (sd)':>20}{'val acc':>9}{'test acc':>10}")
for (depth, skip), runs in chosen.items():
    tl = loss[depth, skip]
    print(f"{arm_name(depth, skip):<22}{runs.config['lr']:>6g}"
          f"{statistics.fmean(tl):>13.3f} ({statistics.stdev(tl):.3f})"
          f"{runs.mean('val'):>9.3f}{runs.mean('test'):>10.3f}")
# Training loss: lower is better. Each gain is paired by seed (deep minus shallow).
plain_depth = utils.gain(loss["shallow", False], loss["deep", False], higher_is_better=False,
                         names=("6 plain layers", "20 plain layers"))
res_depth = utils.gain(loss["shallow", True], loss["deep", True], higher_is_better=False,
                       names=("6 residual layers", "20 residual layers"))
deep_test = utils.gain(chosen["deep", False], chosen["deep", True],
                       names=("20 plain layers", "20 residual layers"))
shallow_test = utils.gain(chosen["shallow", False], chosen["shallow", True],
                          names=("6 plain layers", "6 residual layers"))
print("training loss, deep minus shallow:")
print("  plain:   ", plain_depth.verdict())
print("  residual:", res_depth.verdict())
print("test accuracy, residual minus plain:")
print("  20 layers:", deep_test.verdict())
print("  6 layers: ", shallow_test.verdict())

# %% [markdown]
# What the numbers show, each statement checked by the next cell: the deeper plain network
# ends with a higher training loss than the shallower one on every seed; the deeper residual
# network does not; and at 20 layers the residual network is ahead of the plain one on
# every seed, in training loss and in test accuracy, while at 6 layers it is not ahead.

# %% tags=["hide-input"]
assert plain_depth.behind == plain_depth.n and plain_depth.mean > 0.05, plain_depth
assert not res_depth.worse, res_depth                                   # none with skips
assert all(r < p for r, p in zip(loss["deep", True], loss["deep", False])), loss
assert deep_test.ahead == deep_test.n and deep_test.mean > 0.03, deep_test
assert not shallow_test.better, shallow_test            # no help at 6 layers
for arm in (("shallow", False), ("deep", False)):     # still falling in the last epoch
    last, before = ([r.history[k]["train_loss"] for r in chosen[arm]] for k in (-1, -2))
    assert statistics.fmean(last) < statistics.fmean(before) - 0.01, (arm, last, before)

# %% tags=["remove-cell", "nbval-ignore-output"]
record = utils.compare("07_resnet", chosen["deep", False], chosen["deep", True], budget)

# %% [markdown]
# The training curves of the four chosen configurations, every seed drawn faintly and the
# mean over seeds as a thick line:

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(6, 3.5))
styles = {("shallow", False): ("C3", "--"), ("deep", False): ("C3", "-"),
          ("shallow", True): ("C0", "--"), ("deep", True): ("C0", "-")}
for arm, runs in chosen.items():
    color, style = styles[arm]
    curves = [[e["train_loss"] for e in r.history] for r in runs if not r.diverged]
    epochs = range(1, len(curves[0]) + 1)
    for c in curves:
        ax.plot(epochs, c, style, color=color, alpha=0.25, lw=1)
    ax.plot(epochs, [statistics.fmean(v) for v in zip(*curves)], style, color=color, lw=2.2,
            label=f"{arm_name(*arm)}, lr {runs.config['lr']:g}")
ax.set_xticks(list(epochs))
ax.set_xlabel("epoch")
ax.set_ylabel("training loss (mean over the epoch)")
ax.set_title("Plain and residual stacks at two depths, each at its chosen rate",
             fontsize=10)
ax.legend(fontsize=9)
plt.show()

# %% tags=["nbval-ignore-output"]
for arm, name in (((("shallow", False)), "plain6"), (("deep", False), "plain20"),
                  (("shallow", True), "res6"), (("deep", True), "res20")):
    utils.glue(f"{name}_loss", statistics.fmean(loss[arm]))
    utils.glue(f"{name}_lr", chosen[arm].config["lr"])
    utils.glue(f"{name}_test", chosen[arm].mean("test"))
utils.glue("plain_depth_verdict", plain_depth.verdict())
utils.glue("res_depth_verdict", res_depth.verdict())
utils.glue("deep_test_verdict", deep_test.verdict())
utils.glue("shallow_test_verdict", shallow_test.verdict())
utils.glue("degradation_updates", budget.updates)
utils.glue("degradation_images", budget.examples)

# %% [markdown]
# Without skip connections, going from 6 to 20 layers raised the training loss from
# <span data-glue="plain6_loss:.3f">0.961</span> to <span data-glue="plain20_loss:.3f">1.266</span>
# (<span data-glue="plain_depth_verdict">6 plain layers ahead on 3 of 3 paired seeds, +0.306 ± 0.057 (SE)</span>): the deeper network, which could copy the shallower
# one and add identity layers, trained worse. With them, the same step in depth changed
# the training loss from <span data-glue="res6_loss:.3f">0.867</span> to <span data-glue="res20_loss:.3f">0.736</span>
# (<span data-glue="res_depth_verdict">20 residual layers ahead on 3 of 3 paired seeds, -0.131 ± 0.012 (SE)</span>). At 20 layers the skip connections raised the test
# accuracy from <span data-glue="plain20_test:.3f">0.574</span> to <span data-glue="res20_test:.3f">0.709</span>:
# <span data-glue="deep_test_verdict">20 residual layers ahead on 3 of 3 paired seeds, +0.135 ± 0.026 (SE)</span>. At 6 layers, where the plain stack has no trouble to
# fix, they did not help: <span data-glue="shallow_test_verdict">no difference this budget resolves (6 residual layers ahead on 0 of 3 paired seeds, -0.057 ± 0.020 (SE))</span> (test accuracy
# <span data-glue="plain6_test:.3f">0.698</span> plain, <span data-glue="res6_test:.3f">0.641</span> residual). The learning
# rates chosen on validation were <span data-glue="plain6_lr">0.1</span>, <span data-glue="plain20_lr">0.1</span>,
# <span data-glue="res6_lr">0.1</span> and <span data-glue="res20_lr">0.2</span>, in that order (every rate tried, with
# its scores, is in the tables above).
#
# This is the paper's finding in miniature, and early in training: each run had
# <span data-glue="degradation_updates:,">141</span> updates on <span data-glue="degradation_images:,">3,000</span> images,
# and the plain stacks' curves below are still falling. He et al. compare training error after the
# curves have flattened, over tens of thousands of updates on ImageNet and CIFAR-10; what
# is shown here is that within this budget the deep plain stack learns more slowly than
# the shallow one, and the residual one does not, not where each would end.
#
# ## ResNet-18
#
# ResNet-18 has three parts: a stem, a body of repeated blocks, and global average pooling
# in front of one fully connected layer (the outline of GoogLeNet {cite}`szegedy2015going`, a
# year older, which [chapter 8](08_classic_networks.ipynb) presents with the other classic
# networks; nothing here needs it):
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

# %% tags=["hide-input"]
assert len(counted) == 18

# %% [markdown]
# Now follow one image through it, part by part. The figure below is drawn from the shapes
# of real tensors: one image at 28x28, the size the quick profile trains on, and at 96x96,
# the size of the full profile, closer to the scale of the paper (which used 224x224
# ImageNet images). The network runs in evaluation mode: with a single image, batch norm
# could not compute batch statistics on the last stage's tiny feature maps.

# %% tags=["hide-input"]
net.eval()                     # one image at a time below: running statistics, not batch ones
names = ["stem", "stage 1", "stage 2", "stage 3", "stage 4", "head"]
parts = [net[0], net[1], net[2], net[3], net[4], net[5:]]


def part_shapes(size):
    """Shape of one size x size image after each part of ResNet-18, from a real tensor."""
    X, shapes = torch.zeros(1, 1, size, size), [(1, size, size)]
    with utils.evaluation_mode(net), torch.no_grad():
        for part in parts:
            X = part(X)
            shapes.append(tuple(X.shape[1:]))
    return shapes


def draw_stages(ax, size):
    shapes = part_shapes(size)
    labels = ["input", *names]
    x = 0.0
    for i, (label, shape) in enumerate(zip(labels, shapes)):
        c = shape[0]
        side = shape[1] if len(shape) == 3 else 1
        w = 0.25 + 0.18 * math.log2(c)                 # width: channels (log scale)
        h = 0.15 + 2.4 * side / 96                    # height: side length
        ax.add_patch(plt.Rectangle((x, -h / 2), w, h, fc="#dbe9f6" if i else "0.85",
                                   ec="#3a6d99"))
        dims = "x".join(map(str, shape))
        params = "" if i == 0 else f"\n{utils.num_params(parts[i - 1]):,} params"
        ax.text(x + w / 2, -1.45, f"{label}\n{dims}{params}", ha="center", va="top",
                fontsize=8)
        if i < len(labels) - 1:
            ax.annotate("", (x + w + 0.45, 0), (x + w + 0.05, 0),
                        arrowprops=dict(arrowstyle="-|>", color="0.3"))
        x += w + 0.5
    ax.set_xlim(-0.2, x - 0.3)
    ax.set_ylim(-2.6, 1.5)
    ax.axis("off")
    ax.set_title(f"ResNet-18 on a 1x{size}x{size} image (box height: side length, "
                 "width: log channels)", fontsize=10)
    return shapes


fig, axes = plt.subplots(2, 1, figsize=(9, 5.5))
stage_shapes = {size: draw_stages(ax, size) for ax, size in zip(axes, (28, 96))}
plt.tight_layout()
plt.show()

# %%
for size, shapes in stage_shapes.items():
    print(f"{size}x{size}:", " -> ".join("x".join(map(str, shape)) for shape in shapes))
assert [shape[1] for shape in stage_shapes[96][:-1]] == [96, 24, 24, 12, 6, 3]
assert [shape[1] for shape in stage_shapes[28][:-1]] == [28, 7, 7, 4, 2, 1]

# %% [markdown]
# Read the figure from the left. The stem divides the side length by 4, and each of stages 2-4
# halves it again while doubling the channels, so the spatial resolution shrinks by 32 in
# total. For a 96x96 input the last stage works on 3x3 maps. For a 28x28 input it ends on a
# single pixel. Stage 4's first convolution still reads a 2x2 map: with stride 2 and padding
# 1, its one 3x3 window is centred on the top-left input pixel, so it covers the four input
# pixels with 4 of its 9 weights and the rest with padding. Every later 3x3 convolution of
# stage 4 reads a 1x1 map and uses only its centre weight, acting like a 1x1 convolution. The
# cell below finds the weights each one uses: those whose gradient is not zero, with positive
# inputs so that nothing cancels.

# %%
def weights_used(net, size):
    """For each 3x3 convolution of stage 4: its input shape and the kernel positions it
    uses (nonzero weight gradient, positive inputs) for one size x size image."""
    inputs = {}
    hooks = [m.register_forward_hook(lambda m, args, out, name=name: inputs.update({name: args[0]}))
             for name, m in net[4].named_modules()
             if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    with utils.evaluation_mode(net), torch.no_grad():
        net(torch.zeros(1, 1, size, size))
    for h in hooks:
        h.remove()
    used = {}
    for name, X_in in inputs.items():
        conv = net[4].get_submodule(name)
        W = conv.weight.detach().clone().requires_grad_()
        Y = F.conv2d(torch.rand_like(X_in), W, stride=conv.stride, padding=conv.padding)
        Y.sum().backward()
        used[name] = (tuple(X_in.shape[1:]), W.grad.abs().sum(dim=(0, 1)) > 0)
    return used


for name, (shape, mask) in weights_used(net, 28).items():
    print(f"stage 4, {name}: input {shape}, uses {int(mask.sum())} of 9 weights "
          f"{mask.int().tolist()}")

# %%
at_28 = {name: int(mask.sum()) for name, (_, mask) in weights_used(net, 28).items()}
assert at_28 == {"0.conv1": 4, "0.conv2": 1, "1.conv1": 1, "1.conv2": 1}, at_28
assert all(mask.all() for _, mask in weights_used(net, 96).values())

# %% [markdown]
# That is one reason the full profile resizes the images to 96x96, where every 3x3
# convolution of stage 4 uses all nine weights.
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

# %% tags=["hide-input"]
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

# %% tags=["hide-input"]
assert abs(imagenet_macs / 1.8e9 - 1) < 0.02


# %% [markdown]
# ## ResNet-18's receptive field
#
# How much of the image does one output of the last stage see? [Image
# convolution](01_convolution.ipynb) measured receptive fields with gradients: an input pixel
# can affect an output exactly where the output's gradient with respect to it is nonzero. We
# use the same method on ResNet-18, on a copy prepared so that no gradient vanishes by
# accident: every convolution gets positive weights; the input is all ones, so every
# activation is positive and each ReLU passes its gradient on; batch norm is in evaluation
# mode with its initial statistics, a positive scaling. One layer needs replacing: max
# pooling passes the gradient only to the largest input of each window, so for the
# measurement it becomes average pooling over the same windows, which reaches every input
# the max could have picked. Stage widths do not change the receptive field, so a narrow
# copy will do, on an input large enough (512x512) that the field fits inside.
#
# The prediction, from the layers' kernel sizes and strides as in chapter 1: each layer
# widens the field by $(k - 1)$ times the product of the strides below it.

# %%
def predicted_receptive_field(net):
    """1 + sum of (k - 1) * (product of earlier strides) over the main path's layers."""
    field, jump = 1, 1
    for m in net.modules():
        is_shortcut = isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)) and not is_shortcut:
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            s = m.stride if isinstance(m.stride, int) else m.stride[0]
            field += (k - 1) * jump
            jump *= s
    return field


probe = utils.resnet18(widths=(2, 2, 2, 2))
with torch.no_grad():
    for m in probe.modules():
        if isinstance(m, nn.Conv2d):
            m.weight.uniform_(0.1, 1.0)               # positive: no cancellations
probe[0][3] = nn.AvgPool2d(kernel_size=3, stride=2, padding=1)   # same windows as the max
probe = probe[:5].eval()                              # stem and the four stages
X = torch.ones(1, 1, 512, 512, requires_grad=True)
Y = probe(X)
centre = Y.shape[-1] // 2
Y[0, :, centre, centre].sum().backward()
grad = X.grad[0, 0]
nonzero = grad != 0
rows, cols = nonzero.any(dim=1).sum().item(), nonzero.any(dim=0).sum().item()
predicted = predicted_receptive_field(probe)
print(f"stage 4 output: {tuple(Y.shape)}, position ({centre}, {centre})")
print(f"receptive field: predicted {predicted}x{predicted}, measured {rows}x{cols}")

# %%
assert rows == cols == predicted == 435
assert nonzero.sum().item() == rows * cols                     # a full square
assert not nonzero[0].any() and not nonzero[:, 0].any()        # inside the image
top = nonzero.any(dim=1).nonzero().min().item()
left = nonzero.any(dim=0).nonzero().min().item()
middle = top + rows // 2
assert grad[middle, middle] > 1000 * grad[top, left] > 0       # not uniform

# %% [markdown]
# Each output of stage 4 depends on a 435x435 patch of the input, far larger than the 28x28
# or 96x96 images we train on: every output of the last stage sees the whole image. The
# gradient is far from uniform over the patch, though (the cell above checks that the
# middle of the patch gets more than a thousand times the gradient of its corner): as in
# chapter 1, central pixels reach the output along many more paths. On a log scale:

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(6, 4.2))
shown = ax.imshow(torch.log10(grad.clamp_min(1e-30)), cmap="viridis",
                  vmin=float(torch.log10(grad.max())) - 6)
fig.colorbar(shown, ax=ax, label="log10 gradient")
for side, color in ((96, "w"), (28, "r")):
    lo = 256 - side // 2
    ax.add_patch(plt.Rectangle((lo, lo), side, side, fill=False, ec=color, lw=1.2,
                               label=f"a {side}x{side} image"))
ax.set_xlabel("input column")
ax.set_ylabel("input row")
ax.set_title("Gradient of one stage-4 output of ResNet-18 w.r.t. a 512x512 input",
             fontsize=10)
ax.legend(loc="lower right", fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Training ResNet-18 on Fashion-MNIST
#
# The full profile trains the real ResNet-18 on 96x96 images, which is work for a GPU. The
# quick profile keeps the architecture and divides the channels of every stage by 4, and
# trains at 28x28 on a subset. The cell prints the budget and what the narrowing saves:

# %%
budget = profile.budget("resnet")
full_budget = utils.get_profile("full").budget("resnet")
print(budget.describe())
widths, side = budget.widths, budget.resize or 28
full_side = full_budget.resize or 28
narrow = utils.resnet18(widths=widths)
full_net = utils.resnet18(widths=full_budget.widths)
param_ratio = utils.num_params(full_net) / utils.num_params(narrow)
mac_ratio = (utils.count_macs(full_net, (1, full_side, full_side))
             / utils.count_macs(narrow, (1, side, side)))
print(f"widths {full_budget.widths} -> {widths}: {param_ratio:.1f}x fewer parameters; "
      f"with {full_side}x{full_side} -> {side}x{side} inputs, {mac_ratio:.0f}x fewer MACs "
      "per image")
utils.seed_everything(0)
net = utils.resnet18(num_classes=10, in_channels=1, widths=widths)
train_iter, test_iter = utils.load_fashion_mnist(
    budget.batch_size, resize=budget.resize, device=device,
    train_size=budget.train_size, test_size=budget.test_size)

# %% tags=["nbval-ignore-output"]
history = utils.train(net, train_iter, test_iter, budget.num_epochs, budget.lr,
                      device=device)

# %% [markdown]
# The next cell checks what must hold whatever the hardware: every epoch ran, the loss went
# down, and the test accuracy is far above chance (0.1).

# %% tags=["hide-input"]
assert len(history) == budget.num_epochs
assert history.last["train_loss"] < history[0]["train_loss"]
assert history.last["test_acc"] > 0.7, history.last

# %% tags=["nbval-ignore-output"]
print(history.table())
name = "ResNet-18" if widths == (64, 128, 256, 512) else f"ResNet-18, widths {widths}"
record = utils.report_result(name, history, profile.name)
utils.glue("resnet_test", history.last["test_acc"])

# %% [markdown]
# One run of <span data-glue="resnet_test:.3f">0.857</span> test accuracy, on the quick budget: a single seed,
# with no learning rate chosen on validation, so it says that the network learns, not how
# well ResNet-18 can do on Fashion-MNIST (the full profile, `CNNBOOK_PROFILE=full`, is
# meant for that; we have not run it for this page). What residual connections buy was
# measured above, on the degradation experiment.
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
# - A residual block's Jacobian is $I + \partial g/\partial \mathbf{x}$: without batch norm,
#   the first-layer gradient of a plain stack shrank by orders of magnitude with depth, that
#   of the residual stack did not.
# - With batch norm, the 20-layer plain stack ended with a higher training loss than the
#   6-layer one on every seed (the degradation problem), while the 20-layer residual stack
#   did not, and beat the plain one in test accuracy on every seed, each at a learning rate
#   chosen on validation.
# - ResNet-18 is a stem, four stages of two blocks and global average pooling: the resolution
#   shrinks by 32, most parameters sit in the last stage, the arithmetic is spread almost
#   evenly over the stages, and each output of the last stage sees a 435x435 patch, more than
#   the whole image.
#
# ## Exercises
#
# Worked answers, with code, are in [the exercise notebook](../exercises/07_resnet.ipynb).
#
# 1. What are the main differences between the Inception block (introduced in
#    [chapter 8](08_classic_networks.ipynb)) and the residual block? How do they compare in
#    computation, accuracy and the classes of functions they can describe?
# 2. Using Table 1 of the ResNet paper {cite}`he2016deep`, build other variants of the
#    network, such as ResNet-34.
# 3. Deeper ResNets use a "bottleneck" block (1x1, 3x3, 1x1 convolutions). Implement it and
#    compare its parameter count with the basic block's.
# 4. Later versions of ResNet changed the order "convolution, batch norm, activation" to
#    "batch norm, activation, convolution" {cite}`he2016identity`. Implement this
#    pre-activation block.
# 5. Why can't we increase the complexity of functions without bound, even if the function
#    classes are nested?
# 6. This chapter measured the gradients without batch normalization. What do they look like
#    with it? And at one depth, does an adaptive optimizer (Adam) still leave the plain stack
#    behind the residual one?
# 7. How do the stage widths trade parameters and speed? Tabulate widths, parameter counts
#    and throughput.
