# %% [markdown]
# # Multiple Input and Output Channels
#
# The convolutions so far took one grayscale image and produced one feature map. Real
# inputs have several channels (red, green and blue), and the feature maps inside a CNN
# have dozens or hundreds, each responding to a different pattern. This chapter
# generalises cross-correlation to many channels in and out, which explains the
# four-dimensional weight tensor of every `nn.Conv2d`, and introduces the humble-looking
# $1 \times 1$ convolution that modern architectures use everywhere.
#
# **What you'll learn**
#
# - compute a multi-input-channel cross-correlation from scratch and check it against
#   `F.conv2d`;
# - read the weight layout `(out_channels, in_channels, height, width)` of `nn.Conv2d`,
#   drawn as a stack of kernels;
# - see that a $1 \times 1$ convolution is a fully connected layer applied at every pixel,
#   and prove it with a matrix multiplication and with `nn.Linear`;
# - count the parameters and multiply-adds of any convolution layer.
#
# Prerequisites: [image convolution](01_convolution.ipynb) and
# [padding and stride](02_padding_stride.ipynb).

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
import torch.nn.functional as F
from matplotlib.patches import Rectangle
from torch import nn

import utils

utils.seed_everything(0)
torch.set_printoptions(precision=4)


# %% [markdown]
# ## Multiple input channels
#
# An RGB image is a tensor of shape `(3, h, w)`. A kernel for it needs one $k_h \times k_w$
# slice per input channel, so it has shape `(3, k_h, k_w)`. Each channel is
# cross-correlated with its own slice, and the $c_i$ results are *added* into a single
# output map:
#
# $$Y[i, j] = \sum_{c=0}^{c_i - 1} \sum_{a=0}^{k_h - 1} \sum_{b=0}^{k_w - 1}
#   X[c, i + a, j + b] \, K[c, a, b] .$$
#
# In code that is a loop over channels around the `corr2d` of the
# [first chapter](01_convolution.ipynb) (imported from `utils`):

# %%
def corr2d_multi_in(X, K):
    """Cross-correlate each channel of X (c_i, h, w) with its slice of K (c_i, k_h, k_w); sum."""
    return sum(utils.corr2d(x, k) for x, k in zip(X, K))


# %% [markdown]
# A two-channel example small enough to check by hand:

# %%
X = torch.tensor([[[0., 1., 2.], [3., 4., 5.], [6., 7., 8.]],
                  [[1., 2., 3.], [4., 5., 6.], [7., 8., 9.]]])  # (2, 3, 3)
K = torch.tensor([[[0., 1.], [2., 3.]], [[1., 2.], [3., 4.]]])  # (2, 2, 2)
Y = corr2d_multi_in(X, K)
print(Y)

# %% [markdown]
# The top-left output is the sum of two $2 \times 2$ dot products, one per channel:

# %%
per_channel = [(X[c, :2, :2] * K[c]).sum().item() for c in range(2)]
print(" + ".join(f"{v:g}" for v in per_channel), "=", sum(per_channel))
assert Y[0, 0].item() == sum(per_channel)


# %% [markdown]
# The figure draws the same computation: each channel gives its own $2 \times 2$ map, and
# the output is their sum.

# %% tags=["hide-input"]
def show_matrix(ax, M, title, cmap="Blues"):
    """Draw a small matrix with its values written in the cells."""
    spread = float(M.max() - M.min()) + 1.0
    ax.imshow(M, cmap=cmap, vmin=float(M.min()) - 0.2 * spread,
              vmax=float(M.max()) + 0.8 * spread)  # light colours keep the numbers legible
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            ax.text(j, i, f"{M[i, j]:g}", ha="center", va="center", fontsize=11)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])

fig, axes = plt.subplots(2, 4, figsize=(9, 4.2))
for c in range(2):
    show_matrix(axes[c, 0], X[c], f"input, channel {c}")
    show_matrix(axes[c, 1], K[c], f"kernel slice {c}", cmap="Oranges")
    show_matrix(axes[c, 2], utils.corr2d(X[c], K[c]), f"channel {c} result", cmap="Greens")
    axes[c, 3].axis("off")
show_matrix(axes[0, 3], Y, "sum = output", cmap="Purples")
axes[1, 3].text(0.5, 0.5, "one output map,\nhowever many\ninput channels",
                ha="center", va="center", fontsize=10)
fig.suptitle("Cross-correlation with two input channels")
fig.tight_layout()
plt.show()

# %% [markdown]
# On random data with three channels, our function agrees with PyTorch's `F.conv2d` (which
# wants a batch axis and an output-channel axis, hence the `[None]`s) up to float32
# rounding: `torch.testing.assert_close` allows a relative error of about $10^{-6}$
# plus an absolute $10^{-5}$ for float32. It is also identical to `utils.corr2d_multi_in`,
# which computes the same sums in the same order.

# %%
X = torch.randn(3, 8, 8)       # (c_i, h, w)
K = torch.randn(3, 3, 3)       # (c_i, k_h, k_w)
Y = corr2d_multi_in(X, K)
torch.testing.assert_close(Y, F.conv2d(X[None], K[None])[0, 0])  # float32 defaults
assert torch.equal(Y, utils.corr2d_multi_in(X, K))
print("output:", tuple(Y.shape), "| matches F.conv2d and utils.corr2d_multi_in")


# %% [markdown]
# Summing over channels is a design decision: the kernel can weigh colour against colour
# (red edges minus green edges, say), which a per-channel filter could not.

# %% [markdown]
# ## Multiple output channels
#
# One 3-D kernel produces one output map. To get $c_o$ output channels we use $c_o$
# different 3-D kernels, stacked into a 4-D tensor of shape $(c_o, c_i, k_h, k_w)$, and
# run the multi-input cross-correlation once per output channel:

# %%
def corr2d_multi_in_out(X, K):
    """X: (c_i, h, w), K: (c_o, c_i, k_h, k_w) -> (c_o, h - k_h + 1, w - k_w + 1)."""
    return torch.stack([corr2d_multi_in(X, k) for k in K], 0)


# %% [markdown]
# Stacking the two-channel kernel from before with copies shifted by 1 and 2 gives three
# output channels; the first one is the map we computed before.

# %%
X = torch.tensor([[[0., 1., 2.], [3., 4., 5.], [6., 7., 8.]],
                  [[1., 2., 3.], [4., 5., 6.], [7., 8., 9.]]])
K = torch.tensor([[[0., 1.], [2., 3.]], [[1., 2.], [3., 4.]]])
K3 = torch.stack((K, K + 1, K + 2), 0)
print("kernel:", tuple(K3.shape))
Y3 = corr2d_multi_in_out(X, K3)
print(Y3)
assert torch.equal(Y3[0], corr2d_multi_in(X, K))

# %% [markdown]
# The figure lays out that computation with the numbers of the example. Row $o$ is
# the 3-D kernel `K3[o]`, one $2 \times 2$ slice per input channel (the columns);
# each row cross-correlates every input channel with its own slice and sums the
# results into output channel $o$. The four axes of the kernel tensor are the rows
# ($c_o$), the columns ($c_i$) and the two axes of each small matrix ($k_h$, $k_w$).

# %% tags=["hide-input"]
c_o, c_i, k_h, k_w = K3.shape
fig = plt.figure(figsize=(8, 5.6))
grid = fig.add_gridspec(c_o * c_i, c_i + 2, wspace=0.5, hspace=0.9)
for c in range(c_i):  # each input channel spans c_o rows of the grid
    show_matrix(fig.add_subplot(grid[c * c_o:(c + 1) * c_o, 0]), X[c],
                f"input X[{c}]\n{tuple(X[c].shape)}")
for o in range(c_o):  # each 3-D kernel and its output span c_i rows
    rows = slice(o * c_i, (o + 1) * c_i)
    for c in range(c_i):
        show_matrix(fig.add_subplot(grid[rows, 1 + c]), K3[o, c], f"K3[{o}, {c}]",
                    cmap="Oranges")
    show_matrix(fig.add_subplot(grid[rows, c_i + 1]), Y3[o],
                f"output Y[{o}] = sum over c\nof X[c] * K3[{o}, c]", cmap="Purples")
fig.suptitle(f"A kernel of shape (c_o, c_i, k_h, k_w) = {tuple(K3.shape)}: "
             f"{c_o} output channels from {c_i} input channels")
plt.show()
assert Y3.shape == (c_o, X.shape[1] - k_h + 1, X.shape[2] - k_w + 1)
for o in range(c_o):  # each drawn output is the sum of its row's per-channel maps
    torch.testing.assert_close(Y3[o], sum(utils.corr2d(X[c], K3[o, c]) for c in range(c_i)))

# %% [markdown]
# Against PyTorch and `utils` on random tensors:

# %%
X = torch.randn(3, 8, 8)
K = torch.randn(4, 3, 3, 3)    # (c_o, c_i, k_h, k_w)
Y = corr2d_multi_in_out(X, K)
torch.testing.assert_close(Y, F.conv2d(X[None], K)[0])
assert torch.equal(Y, utils.corr2d_multi_in_out(X, K))
print("output:", tuple(Y.shape), "| matches F.conv2d and utils.corr2d_multi_in_out")

# %% [markdown]
# This is exactly how `nn.Conv2d` stores its parameters: `weight` has shape
# `(out_channels, in_channels, k_h, k_w)` and `bias` has one number per output channel,
# added to the whole map.

# %%
conv2d = nn.Conv2d(in_channels=3, out_channels=4, kernel_size=3)
print("weight:", tuple(conv2d.weight.shape), " bias:", tuple(conv2d.bias.shape))
with torch.no_grad():
    ours = corr2d_multi_in_out(X, conv2d.weight) + conv2d.bias[:, None, None]
    torch.testing.assert_close(ours, conv2d(X[None])[0])
print("nn.Conv2d == our function + bias")


# %% [markdown]
# At the size of a real layer the numbers no longer fit, but the layout is the same.
# The next figure draws `conv2d` from the cell above as blocks whose sizes come from
# its tensors: the input's channels, the `weight` as a stack of 3-D kernels (one per
# output channel, each as deep as the input), and one output map per kernel.

# %% tags=["hide-input"]
def draw_stack(ax, x, y, depth, h, w, color, cell=1.0, step=0.45):
    """Draw `depth` grids of h x w cells (side `cell`), each offset by `step`; front at (x, y)."""
    for d in reversed(range(depth)):
        ax.add_patch(Rectangle((x + d * step, y + d * step), w * cell, h * cell,
                               facecolor=color, edgecolor="black", lw=0.8))
    for a in range(1, h):  # grid lines on the front face
        ax.plot([x, x + w * cell], [y + a * cell] * 2, color="gray", lw=0.4)
    for b in range(1, w):
        ax.plot([x + b * cell] * 2, [y, y + h * cell], color="gray", lw=0.4)


Xb = torch.randn(1, *X.shape)  # (1, c_i, h, w) from the cell above
Yb = conv2d(Xb)
c_o, c_i, k_h, k_w = conv2d.weight.shape
h, w = Xb.shape[2:]
h_out, w_out = Yb.shape[2:]
fig, ax = plt.subplots(figsize=(9, 4.8))
gap = k_h + 2.0  # vertical room per output channel
top = c_o * gap
cell_out = (gap - 1.2) / h_out  # output maps drawn smaller, to fit one per row
draw_stack(ax, 0, (top - h) / 2, c_i, h, w, "#c6dbef")
ax.text(w / 2 + 0.5, (top - h) / 2 - 0.8, f"input X\n(c_i, h, w)\n= {(c_i, h, w)}",
        ha="center", va="top", fontsize=10)
for o in range(c_o):
    y = top - (o + 1) * gap + 1
    draw_stack(ax, 14, y, c_i, k_h, k_w, "#fdd0a2")
    ax.text(14 + k_w + 1.4, y + k_h / 2, f"weight[{o}]", ha="left", va="center",
            fontsize=10)
    y_map = top - (o + 1) * gap + 0.6
    ax.annotate("", xy=(27, y_map + h_out * cell_out / 2), xytext=(23, y + k_h / 2),
                arrowprops=dict(arrowstyle="->", color="tab:purple"))
    draw_stack(ax, 27.3, y_map, 1, h_out, w_out, "#dadaeb", cell=cell_out)
    ax.text(27.3 + w_out * cell_out + 0.5, y_map + h_out * cell_out / 2, f"Y[{o}]",
            ha="left", va="center", fontsize=10)
ax.annotate("", xy=(13.5, top / 2), xytext=(w + 1.5, top / 2),
            arrowprops=dict(arrowstyle="->", color="gray"))
ax.text(16, -0.3, f"weight (c_o, c_i, k_h, k_w)\n= {tuple(conv2d.weight.shape)}",
        ha="center", va="top", fontsize=10)
ax.text(29.5, -0.3, f"output Y (c_o, h_out, w_out)\n= {(c_o, h_out, w_out)}",
        ha="center", va="top", fontsize=10)
ax.set_xlim(-0.5, 35)
ax.set_ylim(-3, top + 0.5)
ax.set_aspect("equal")
ax.axis("off")
ax.set_title("nn.Conv2d(3, 4, kernel_size=3): each of the c_o kernels spans all c_i "
             "input channels\nand makes one output map", fontsize=10)
plt.show()
assert Yb.shape == (1, c_o, h - k_h + 1, w - k_w + 1)

# %% [markdown]
# Each output channel has its own kernel and learns to detect its own pattern. Across
# a network the number of channels usually grows as the spatial size shrinks: the
# resolution lost to [stride and pooling](02_padding_stride.ipynb) is traded for more
# kinds of features.

# %% [markdown]
# ## The $1 \times 1$ convolution
#
# A $1 \times 1$ kernel looks like a contradiction: a convolution that sees no
# neighbourhood. With several channels it still does something: output channel $o$ at
# pixel $(i, j)$ is
#
# $$Y[o, i, j] = \sum_{c} W[o, c] \, X[c, i, j],$$
#
# a weighted sum of the *channels at that pixel*, with the same weights at every pixel.
# That is a fully connected layer from $c_i$ to $c_o$ units, applied at every pixel. If we
# flatten the pixels into columns, all of it is one matrix multiplication,
# $(c_o \times c_i) \cdot (c_i \times hw)$:

# %%
def corr2d_multi_in_out_1x1(X, K):
    """1x1 convolution as a matrix product. X: (c_i, h, w), K: (c_o, c_i, 1, 1)."""
    c_i, h, w = X.shape
    c_o = K.shape[0]
    Y = K.reshape(c_o, c_i) @ X.reshape(c_i, h * w)  # (c_o, c_i) @ (c_i, pixels)
    return Y.reshape(c_o, h, w)

X = torch.randn(3, 5, 5)
K = torch.randn(2, 3, 1, 1)
Y1 = corr2d_multi_in_out_1x1(X, K)
Y2 = corr2d_multi_in_out(X, K)
torch.testing.assert_close(Y1, Y2)
torch.testing.assert_close(Y1, F.conv2d(X[None], K)[0])
assert torch.equal(Y1, utils.corr2d_multi_in_out_1x1(X, K))
print("matmul == loops == F.conv2d == utils.corr2d_multi_in_out_1x1; output", tuple(Y1.shape))

# %% [markdown]
# (`Y1` and `Y2` are compared with a tolerance: the matrix product adds the three
# products in whatever order the BLAS library prefers, the loops in channel order, and
# float32 addition is not associative. The [exercises](../exercises/03_channels.ipynb)
# look at when they agree exactly.)
#
# The "fully connected layer at every pixel" reading is literal. Move the channel axis
# last, apply an `nn.Linear(c_i, c_o)` (which acts on the last axis), and move it back:
# with the same weights, this is `nn.Conv2d(c_i, c_o, kernel_size=1)`.

# %%
conv1x1 = nn.Conv2d(3, 2, kernel_size=1)
linear = nn.Linear(3, 2)
with torch.no_grad():
    linear.weight.copy_(conv1x1.weight.reshape(2, 3))
    linear.bias.copy_(conv1x1.bias)
X = torch.randn(4, 3, 5, 5)                                   # (batch, c_i, h, w)
by_linear = linear(X.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # channels last and back
torch.testing.assert_close(conv1x1(X), by_linear)
print("nn.Conv2d(kernel_size=1) == nn.Linear on the channel axis; output", tuple(by_linear.shape))

# %% [markdown]
# So a $1 \times 1$ convolution mixes channels but never mixes pixels. Perturbing one input
# pixel changes the output at that pixel only:

# %%
X_changed = X.clone()
X_changed[:, :, 2, 3] += 1.0                       # every channel of pixel (2, 3)
changed = (conv1x1(X_changed) - conv1x1(X)).abs().sum(dim=(0, 1)) > 0  # (h, w)
print(changed.int())
assert changed.sum() == 1 and changed[2, 3]


# %% [markdown]
# That makes the $1 \times 1$ convolution the cheap way to change the number of channels
# while keeping the spatial layout. Network in Network {cite}`lin2013network` used it to
# put a small MLP at every pixel; GoogLeNet {cite}`szegedy2015going` and ResNet's
# bottleneck blocks {cite}`he2016deep` use it to shrink the channel count before an
# expensive $3 \times 3$ convolution and to expand it afterwards. How much that saves is
# the subject of the next section.

# %% [markdown]
# ## Counting parameters and multiply-adds
#
# A layer with kernel $(c_o, c_i, k_h, k_w)$ has $c_o c_i k_h k_w$ weights plus $c_o$
# biases, *independent of the image size*. Its work does depend on the image: each of the
# $c_o \, h_\text{out} w_\text{out}$ output values is a sum of $c_i k_h k_w$ products, so
#
# $$\text{multiply-adds} = c_o \, c_i \, k_h \, k_w \, h_\text{out} \, w_\text{out},$$
#
# with $h_\text{out}$ and $w_\text{out}$ from the
# [shape formula](02_padding_stride.ipynb). (FLOP counts often report twice this, one
# multiplication plus one addition per term.)

# %%
def conv_cost(c_i, c_o, k_h, k_w, h, w, padding=0, stride=1, bias=True):
    """Parameters and multiply-adds of nn.Conv2d(c_i, c_o, (k_h, k_w)) on a (c_i, h, w) input."""
    h_out = utils.conv_output_size(h, k_h, padding, stride)
    w_out = utils.conv_output_size(w, k_w, padding, stride)
    params = c_o * c_i * k_h * k_w + (c_o if bias else 0)
    macs = c_o * c_i * k_h * k_w * h_out * w_out
    return params, macs


# %% [markdown]
# Two independent checks. The parameter count must equal what `nn.Conv2d` allocates. For
# the multiply-adds, a trick: convolve an input of all ones with a kernel of all ones;
# every product is then $1 \times 1 = 1$, so each output value *counts* the products
# that went into it, and the sum of the output counts them all. (Padding is filled with
# ones too, because the hardware multiplies the padded zeros as well.)

# %%
settings = [(1, 6, 5, 5, 28, 28, 2, 1), (6, 16, 5, 5, 14, 14, 0, 1),
            (3, 8, 3, 3, 32, 32, 1, 2), (8, 4, 1, 1, 9, 7, 0, 1), (4, 5, 3, 2, 11, 13, 1, 3)]
print(f"{'c_i c_o k_h k_w   h   w p s':>27} | {'params':>6} {'nn.Conv2d':>9} | "
      f"{'mult-adds':>9} {'ones trick':>10}")
for c_i, c_o, k_h, k_w, h, w, p, s in settings:
    params, macs = conv_cost(c_i, c_o, k_h, k_w, h, w, p, s)
    layer = nn.Conv2d(c_i, c_o, (k_h, k_w), padding=p, stride=s)
    n_params = sum(t.numel() for t in layer.parameters())
    ones = F.pad(torch.ones(1, c_i, h, w, dtype=torch.float64), (p, p, p, p), value=1.0)
    counted = int(F.conv2d(ones, torch.ones(c_o, c_i, k_h, k_w, dtype=torch.float64),
                           stride=s).sum())
    print(f"{c_i:>3} {c_o:>3} {k_h:>3} {k_w:>3} {h:>3} {w:>3} {p} {s} | "
          f"{params:>6,} {n_params:>9,} | {macs:>9,} {counted:>10,}")
    assert params == n_params and macs == counted
lenet_convs = [m for m in utils.lenet() if isinstance(m, nn.Conv2d)]
assert [sum(t.numel() for t in m.parameters()) for m in lenet_convs] == [
    conv_cost(*row[:6], padding=row[6])[0] for row in settings[:2]]

# %% [markdown]
# Both columns agree in every row. (The first two rows are the convolutions of
# [LeNet](05_lenet.ipynb), as the last assert checks against `utils.lenet()`.) Now the $1 \times 1$ bottleneck: a $3 \times 3$ convolution
# from 256 to 256 channels on a $56 \times 56$ map, against ResNet's bottleneck, which
# squeezes to 64 channels with a $1 \times 1$ convolution, does the $3 \times 3$ work at
# 64 channels and expands back to 256 with another $1 \times 1$:

# %%
direct = conv_cost(256, 256, 3, 3, 56, 56, padding=1)
bottleneck = [conv_cost(256, 64, 1, 1, 56, 56), conv_cost(64, 64, 3, 3, 56, 56, padding=1),
              conv_cost(64, 256, 1, 1, 56, 56)]
total = tuple(map(sum, zip(*bottleneck)))
print(f"{'':>22} {'parameters':>12} {'multiply-adds':>15}")
print(f"{'3x3, 256 -> 256':>22} {direct[0]:>12,} {direct[1]:>15,}")
print(f"{'1x1, 3x3, 1x1 via 64':>22} {total[0]:>12,} {total[1]:>15,}")
print(f"the bottleneck needs {direct[0] / total[0]:.1f}x fewer parameters "
      f"and {direct[1] / total[1]:.1f}x fewer multiply-adds")

# %% [markdown]
# The ratios printed above are why $1 \times 1$ convolutions are everywhere: they let a
# network be deep and wide where it matters and cheap elsewhere. (Whether the squeezed
# version is as *accurate* is an empirical question that this count cannot answer. The
# ResNet paper {cite}`he2016deep` compared whole networks of similar cost, not this
# layer against its replacement.)

# %% [markdown]
# ## Summary
#
# - With $c_i$ input channels, the kernel has one $k_h \times k_w$ slice per channel;
#   the per-channel cross-correlations are summed into one map.
# - $c_o$ output channels need $c_o$ such kernels: a weight of shape
#   $(c_o, c_i, k_h, k_w)$, as in `nn.Conv2d`. Our loop versions matched `F.conv2d` and `utils`.
# - A $1 \times 1$ convolution is a fully connected layer over channels, shared by all
#   pixels: one matrix multiplication, or `nn.Linear` on the channel axis.
# - A layer has $c_o c_i k_h k_w + c_o$ parameters and does
#   $c_o c_i k_h k_w h_\text{out} w_\text{out}$ multiply-adds; $1 \times 1$ bottlenecks cut both.
#
# ## Exercises
#
# Worked answers are in [the exercise notebook](../exercises/03_channels.ipynb).
#
# 1. Two convolution layers with kernel sizes $k_1$ and $k_2$ run one after the other, with
#    no nonlinearity in between. Show that they equal a single convolution. What is its
#    kernel size? Does the converse hold: can every convolution be split into two smaller
#    ones?
# 2. For an input of shape $c_i \times h \times w$, a kernel $c_o \times c_i \times k_h
#    \times k_w$, padding $(p_h, p_w)$ and stride $(s_h, s_w)$: what are the
#    computational cost (multiplications and additions) and the memory footprint of
#    the forward pass? Of the backward pass?
# 3. By what factor does the amount of computation grow if we double $c_i$ and $c_o$? If
#    we double the padding?
# 4. What is the cost of the forward pass when $k_h = k_w = 1$?
# 5. Are `Y1` and `Y2` of the $1 \times 1$ section exactly equal? Why or why not?
# 6. How can a convolution be computed with a matrix multiplication when the kernel is
#    not $1 \times 1$?
# 7. A fast $k \times k$ convolution could read a $k$-wide strip of the input to compute a
#    1-wide strip of the output, or read a wider strip to compute a $\Delta$-wide strip.
#    Why is the latter preferable? Is there a limit to how large $\Delta$ should be?
# 8. How much faster is multiplying by a $c \times c$ block-diagonal matrix with $b$
#    blocks than by a dense one? What is the convolutional version (grouped
#    convolutions), and what is its downside? How can it be fixed?
