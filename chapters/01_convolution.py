# %% [markdown]
# # Image Convolution
#
# A fully connected layer treats an image as a flat list of numbers: it does not know
# that neighbouring pixels belong together, nor that a cat is still a cat one pixel to
# the left. Convolutional layers build both facts into the architecture, and that is why
# they need far fewer parameters and learn from far less data. This
# chapter derives the convolutional layer from a fully connected one, writes it from
# scratch, and lets it learn an edge detector.
#
# **What you'll learn**
#
# - count the parameters of a fully connected layer on images, and see how two
#   assumptions (translation invariance and locality) shrink them to a small shared kernel;
# - compute a two-dimensional cross-correlation by hand and with a loop, predict its
#   output shape, and check it against `torch.nn.functional.conv2d`;
# - build a convolutional layer as an `nn.Module` and use it to detect edges, and check
#   that shifting its input shifts its output (translation equivariance);
# - learn a kernel from input/output pairs with gradient descent;
# - tell cross-correlation from convolution, and measure the receptive field of stacked
#   layers with gradients.
#
# Prerequisites: Python, PyTorch tensors, and training a small multilayer perceptron
# (MLP) with `nn.Linear`, a loss and `loss.backward()`.

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
import matplotlib.cbook as cbook
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import HTML
from matplotlib.animation import FuncAnimation
from matplotlib.patches import Rectangle
from PIL import Image
from torch import nn

import utils

utils.seed_everything(0)
torch.set_printoptions(precision=4, sci_mode=False)


# %% [markdown]
# ## From fully connected layers to convolution
#
# ### Which inputs each output sees
#
# Start with a picture, in one dimension: seven inputs, five outputs. In a fully
# connected layer (left) every output is wired to every input, each wire with its own
# weight. In a convolutional layer (right) each output is wired only to the three inputs
# below it, and the wires of every output carry the *same* three weights, drawn in the
# same three colours. The first cell reads the wires off real layers: output $i$ is wired
# to input $i'$ when feeding a one at input $i'$ (zeros elsewhere) changes output $i$.
# The second draws them (its code is folded: click to see it).

# %%
n_in, k = 7, 3
n_out = n_in - k + 1  # 5: the convolution's outputs; the dense layer gets as many
torch.manual_seed(0)
dense = nn.Linear(n_in, n_out, bias=False)
conv1d = nn.Conv1d(1, 1, kernel_size=k, bias=False)
with torch.no_grad():
    conv1d.weight.copy_(torch.tensor([[[1.0, 2.0, 3.0]]]))  # distinct, to tell them apart
    one_hot = torch.eye(n_in)  # row i': a one at input i'
    W_dense = dense(one_hot).T  # (n_out, n_in): the weight from input i' to output i
    W_conv = conv1d(one_hot[:, None])[:, 0].T  # the same for the convolution
for i in range(n_out):  # output i sees inputs i, ..., i + k - 1, through K[0], ..., K[k-1]
    assert W_conv[i].nonzero().flatten().tolist() == list(range(i, i + k))
    assert torch.equal(W_conv[i, i:i + k], conv1d.weight[0, 0])
n_dense = W_dense.unique().numel()
n_conv = W_conv[W_conv != 0].unique().numel()
assert (n_dense, n_conv) == (n_in * n_out, k)
uses = [(W_conv == w).sum().item() for w in conv1d.weight.flatten()]
assert uses == [n_out] * k  # every kernel weight serves every output
print(f"dense: {n_dense} different weights; convolution: {n_conv} weights, used "
      f"{uses} times (once per output)")

# %% tags=["hide-input"]
colors = ["tab:blue", "tab:orange", "tab:green"]
fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
for ax, W, title in [(axes[0], W_dense, f"fully connected: {n_dense} different weights"),
                     (axes[1], W_conv, f"convolutional: {n_conv} shared weights")]:
    x_out = np.arange(n_out) + (k - 1) / 2  # outputs drawn above the middle of their inputs
    for i, j in W.nonzero().tolist():
        if W is W_conv:
            a = j - i  # offset of input j in the window of output i
            ax.plot([j, x_out[i]], [0, 1], color=colors[a], linewidth=2.5,
                    label=f"K[{a}]" if i == 0 else None)
        else:
            ax.plot([j, x_out[i]], [0, 1], color="gray", linewidth=0.8)
    ax.scatter(np.arange(n_in), np.zeros(n_in), s=250, color="white", edgecolor="black",
               zorder=3)
    ax.scatter(x_out, np.ones(n_out), s=250, color="lightgray", edgecolor="black", zorder=3)
    ax.set_yticks([0, 1], ["input x", "output y"])
    ax.set_xticks(range(n_in))
    ax.set_xlabel("input position i'")
    ax.set_ylim(-0.3, 1.45)
    ax.set_title(title)
axes[1].legend(loc="upper right", fontsize=9, ncols=3, bbox_to_anchor=(1, 1.0))
fig.suptitle("Dense versus convolutional connectivity (read off nn.Linear and nn.Conv1d)")
fig.tight_layout()
plt.show()

# %% [markdown]
# The convolution keeps two facts about images: an output only looks at a small
# neighbourhood (locality), and it looks at every neighbourhood in the same way (shared
# weights). The rest of this section derives the layer from these two facts, starting
# with what the dense layer costs.
#
# ### Too many parameters
#
# An MLP starts by flattening the image. Every hidden unit then has its own weight for
# every pixel, so a dense layer from $n_\text{in}$ inputs to $n_\text{out}$ units has
# $n_\text{in} n_\text{out} + n_\text{out}$ parameters. The cell below counts them for a
# 28x28 Fashion-MNIST image and for a one-megapixel photo (1000x1000 pixels, grey), and
# checks the formula against `nn.Linear` where the layer is small enough to build.

# %%
def dense_params(n_in, n_out):
    """Weights plus biases of a fully connected layer."""
    return n_in * n_out + n_out


for n_in, n_out in [(28 * 28, 256), (28 * 28, 28 * 28)]:
    layer = nn.Linear(n_in, n_out)
    assert dense_params(n_in, n_out) == sum(p.numel() for p in layer.parameters())

cases = [("28x28 image", 28 * 28, 256, "256 units"),
         ("28x28 image", 28 * 28, 28 * 28, "28x28 map"),
         ("1000x1000 image", 1000**2, 1000, "1000 units"),
         ("1000x1000 image", 1000**2, 1000**2, "1000x1000 map")]
print(f"{'input':<17}{'hidden layer':<15}{'parameters':>19}{'float32 size':>15}")
for name, n_in, n_out, hidden in cases:
    n = dense_params(n_in, n_out)
    print(f"{name:<17}{hidden:<15}{n:>19,}{4 * n / 1e9:>12,.3f} GB")

# %% [markdown]
# For the small image the numbers in the table are manageable. For the photo, a hidden
# layer of only a thousand units already needs about a billion weights (the third row),
# and a hidden layer that keeps the image's resolution, which is what we want if later
# layers should still know *where* things are, needs a trillion (the last row). No
# amount of data would pin down that many numbers, and most of them would be wasted:
# the weight linking a pixel in the top-left corner to a unit that looks for an eye in
# the bottom-right corner carries almost no information.
#
# ### Two principles
#
# Write the layer's output as an image too, so that the unit $Y[i, j]$ sits at
# position $(i, j)$, and write $X[i', j']$ for the input pixel at $(i', j')$. (The book
# indexes arrays like tensors in code: $X[i, j]$ is row $i$, column $j$; output positions
# are $i, j$, offsets inside the kernel $a, b$, and the kernel is $K$, of size
# $k_h \times k_w$.) The most general (fully connected) layer gives every output unit its
# own weight for every input pixel, a fourth-order tensor $W$. Writing the input
# position as an offset from the output position, $i' = i + a$ and $j' = j + b$, only
# renames the indices, with $V[i, j, a, b] = W[i, j, i + a, j + b]$:
#
# $$\begin{aligned}
# Y[i, j] &= U[i, j] + \sum_{i'} \sum_{j'} W[i, j, i', j']\, X[i', j'] \\
#   &= U[i, j] + \sum_a \sum_b V[i, j, a, b]\, X[i + a, j + b].
# \end{aligned}$$
#
# Now we add what we know about images.
#
# 1. **Translation invariance.** A pattern (an edge, an eye, a button) should get the
#    same response wherever it appears, so the weights may depend on the offset $(a, b)$
#    but not on the position $(i, j)$: $V[i, j, a, b] = K[a, b]$, and the bias is one
#    number $u$.
# 2. **Locality.** To decide what is happening at $(i, j)$, the first layers only need
#    pixels nearby, so $K[a, b] = 0$ whenever $|a| > \Delta$ or $|b| > \Delta$.
#    Later layers combine these local answers into global ones.
#
# Together they leave
#
# $$Y[i, j] = u + \sum_{a=-\Delta}^{\Delta} \sum_{b=-\Delta}^{\Delta} K[a, b]\, X[i + a, j + b].$$
#
# This is a **convolutional layer**. The small weight array $K$ is its
# **kernel** (or filter): one $(2\Delta+1) \times (2\Delta+1)$ array that slides over
# the image and is shared by all positions. Its parameter count does not depend on the
# image size at all:

# %%
for delta in (1, 2):
    side = 2 * delta + 1
    conv = nn.Conv2d(1, 1, kernel_size=side)
    n = sum(p.numel() for p in conv.parameters())
    assert n == side * side + 1
    print(f"Delta={delta}: {side}x{side} kernel + bias = {n} parameters, "
          f"for a 28x28 image and for a 1000x1000 image alike")

# %% [markdown]
# The price is an assumption: a convolutional layer *cannot* treat the top-left corner
# differently from the centre. For images this is usually the right bias, and it is the
# reason CNNs learn well from moderate amounts of data. Colour images have several
# channels, and so will our hidden representations;
# [a later chapter](03_channels.ipynb) adds them. Here we stay with one channel.
#
# ## The cross-correlation operation
#
# In code, it is simpler to index the kernel from its top-left corner, $a, b = 0, 1,
# \ldots$, instead of from its centre. This only shifts where the output is stored.
# For a $k_h \times k_w$ kernel $K$, the output is
#
# $$Y[i, j] = (X \star K)[i, j] = \sum_{a=0}^{k_h-1} \sum_{b=0}^{k_w-1} X[i + a, j + b]\, K[a, b]:$$
#
# place the kernel on the input with its top-left corner at $(i, j)$, multiply the
# overlapping numbers elementwise, and add them up. This operation is called
# **cross-correlation**, and the book writes it $X \star K$; the symbol $X * K$ is kept
# for the *convolution* of mathematics, which flips the kernel (section "Cross-correlation
# versus convolution" below). Here is a small example that you can check by hand.

# %%
X = torch.arange(9.0).reshape(3, 3)  # input (height, width)
K = torch.arange(4.0).reshape(2, 2)  # kernel (height, width)
print("X =", X, "K =", K, sep="\n")


# %% [markdown]
# The panels below slide the kernel over the input one step at a time (the drawing code
# is folded).

# %% tags=["hide-input"]
def draw_grid(ax, M, title, highlight=None, color="tab:orange", values=True, canvas=None):
    """Draw a matrix as a grid of cells (one square each) holding its numbers.

    highlight: ((row, col), (height, width)) of a block of cells to frame; values:
    False leaves the cells empty; canvas: (rows, cols) of the area shown, so that
    panels side by side draw cells of one size. Returns {(row, col): text}.
    """
    rows, cols = M.shape
    texts = {}
    for (r, c), v in np.ndenumerate(M.numpy()):
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor="white",
                               edgecolor="black", linewidth=1))  # every cell has a border
        texts[r, c] = ax.text(c, r, f"{v:g}" if values else "", ha="center", va="center",
                              fontsize=12)
    if highlight is not None:
        (r, c), (h, w) = highlight
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), w, h, fill=False,
                               edgecolor=color, linewidth=4, zorder=3))
    dy, dx = [(n - m) / 2 for n, m in zip(canvas or (rows, cols), (rows, cols))]
    ax.set_xlim(-0.6 - dx, cols - 0.4 + dx)  # the matrix centred on the canvas
    ax.set_ylim(rows - 0.4 + dy, -0.6 - dy)  # row 0 at the top, as in the printed tensor
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=11)
    return texts


k_h, k_w = K.shape
positions = [(i, j) for i in range(X.shape[0] - k_h + 1) for j in range(X.shape[1] - k_w + 1)]
Y_windows = torch.zeros(X.shape[0] - k_h + 1, X.shape[1] - k_w + 1)
fig, axes = plt.subplots(len(positions), 3, figsize=(8, 2.3 * len(positions)))
for step, (i, j) in enumerate(positions):
    window = X[i:i + k_h, j:j + k_w]
    Y_windows[i, j] = (window * K).sum()  # the entry this panel adds
    terms = " + ".join(f"{x:g}·{w:g}" for x, w in zip(window.flatten().tolist(),
                                                      K.flatten().tolist()))
    draw_grid(axes[step, 0], X, f"step {step + 1}: window at ({i}, {j})",
              highlight=((i, j), (k_h, k_w)))
    draw_grid(axes[step, 1], K, "kernel K", highlight=((0, 0), (k_h, k_w)),
              canvas=X.shape)
    texts = draw_grid(axes[step, 2], Y_windows, f"Y[{i}, {j}] = {terms}\n= {Y_windows[i, j]:g}",
                      highlight=((i, j), (1, 1)), canvas=X.shape)
    for n, (r, c) in enumerate(positions):  # entries of later steps are still empty
        if n > step:
            texts[r, c].set_text("")
fig.suptitle("Slide the window, multiply by K elementwise, add up: one output per step")
fig.tight_layout()
plt.show()

# %% [markdown]
# Read the panels top to bottom. The top-left output is
# $0\cdot0 + 1\cdot1 + 3\cdot2 + 4\cdot3 = 19$. The other three come from sliding the
# window one step right, one step down, or both:
# $1\cdot0 + 2\cdot1 + 4\cdot2 + 5\cdot3 = 25$,
# $3\cdot0 + 4\cdot1 + 6\cdot2 + 7\cdot3 = 37$ and
# $4\cdot0 + 5\cdot1 + 7\cdot2 + 8\cdot3 = 43$. One window, in code:

# %%
window = X[0:2, 0:2]
print(window * K)
print("sum:", (window * K).sum().item())


# %% [markdown]
# Doing this for every position is two loops:

# %%
def corr2d(X, K):
    """Two-dimensional cross-correlation of X with kernel K (no padding, stride 1)."""
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y


Y = corr2d(X, K)
print(Y)
assert torch.equal(Y, torch.tensor([[19.0, 25.0], [37.0, 43.0]]))  # the sums done by hand

# %% [markdown]
# The loops visit the output positions row by row, as the panels did. The animation
# below runs the same loop on a larger example, a 5x5 input and a 3x3 kernel, one frame
# per output entry (use the buttons to step through it or to play it).

# %% tags=["hide-input", "nbval-ignore-output"]
import re

X_anim = torch.arange(25.0).reshape(5, 5) % 4  # small integers, easy to add by hand
K_anim = torch.tensor([[1.0, 0.0, 1.0], [0.0, 2.0, 0.0], [1.0, 0.0, 1.0]])
h, w = K_anim.shape
frames = [(i, j) for i in range(5 - h + 1) for j in range(5 - w + 1)]
fig, (ax_x, ax_k, ax_y) = plt.subplots(1, 3, figsize=(7, 2.8), dpi=72,
                                       gridspec_kw={"width_ratios": [5, 3, 3]})
draw_grid(ax_x, X_anim, "input X (5x5)")
draw_grid(ax_k, K_anim, "kernel K (3x3)", highlight=((0, 0), (h, w)))
out = draw_grid(ax_y, torch.zeros(5 - h + 1, 5 - w + 1), "output Y (3x3)", values=False)
frame_x = ax_x.add_patch(Rectangle((-0.5, -0.5), w, h, fill=False, edgecolor="tab:orange",
                                   linewidth=4, zorder=3))
frame_y = ax_y.add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, edgecolor="tab:orange",
                                   linewidth=4, zorder=3))
written = {}  # what the animation wrote into each output cell


def show_step(n):
    """Frame n: frame the n-th window, write its sum, keep earlier sums, clear later ones."""
    i, j = frames[n]
    frame_x.set_xy((j - 0.5, i - 0.5))
    frame_y.set_xy((j - 0.5, i - 0.5))
    written[i, j] = (X_anim[i:i + h, j:j + w] * K_anim).sum().item()
    for m, (r, c) in enumerate(frames):
        out[r, c].set_text(f"{written[r, c]:g}" if m <= n else "")
    return [frame_x, frame_y, *out.values()]


anim = FuncAnimation(fig, show_step, frames=len(frames), interval=700)
anim_html = anim.to_jshtml(default_mode="loop")
# The player links Font Awesome from a CDN for its button icons; the site has its own.
anim_html = re.sub(r'<link rel="stylesheet"\s+href="https?://[^"]*">', "", anim_html)
plt.close(fig)  # show the animation only, not a static copy of its last frame
HTML(anim_html)

# %% [markdown]
# The numbers the animation wrote are the cross-correlation, entry for entry:

# %%
assert len(frames) == 9  # one frame per output entry of the 3x3 output
assert anim_html.count("data:image/png;base64") == len(frames)  # the frames it embeds
Y_anim = corr2d(X_anim, K_anim)
assert written == {(i, j): Y_anim[i, j].item() for i, j in frames}
print("frames:", len(frames), " output written by the animation:\n", Y_anim)

# %% [markdown]
# The book keeps this function as `utils.corr2d` (with input checks) for later chapters;
# both give exactly the same numbers:

# %% tags=["hide-input"]
assert torch.equal(corr2d(X, K), utils.corr2d(X, K))


# %% [markdown]
# PyTorch's own `F.conv2d` computes the same thing, much faster. It expects a batch of
# multi-channel images, shape `(batch, channels, height, width)`, and a stack of kernels
# `(out_channels, in_channels, height, width)`, so we add two leading axes of size one.
# On this small integer example the results are identical; on random floats the two
# add the products in a different order, so we compare them with a tolerance of
# $10^{-5}$ (relative) and $10^{-6}$ (absolute), far below anything that matters.

# %%
def conv2d_torch(X, K):
    """Cross-correlate one 2-D input with one 2-D kernel using F.conv2d."""
    return F.conv2d(X[None, None], K[None, None])[0, 0]


assert torch.equal(conv2d_torch(X, K), corr2d(X, K))
X_rand, K_rand = torch.randn(7, 9), torch.randn(3, 4)
torch.testing.assert_close(corr2d(X_rand, K_rand), conv2d_torch(X_rand, K_rand),
                           rtol=1e-5, atol=1e-6)
print("corr2d agrees with F.conv2d on a random 7x9 input and 3x4 kernel")

# %% [markdown]
# ### The output shape
#
# A $k_h \times k_w$ kernel fits into an $n_h \times n_w$ input at only
# $n_h - k_h + 1$ vertical and $n_w - k_w + 1$ horizontal positions, so the output is
#
# $$(n_h - k_h + 1) \times (n_w - k_w + 1).$$
#
# The output shrinks, by $k - 1$ along each axis. The next cell checks the rule on a few
# shapes with `corr2d`, `F.conv2d` and `utils.conv_output_size`.

# %%
print(f"{'input':>8} {'kernel':>7} {'rule':>7} {'corr2d':>7} {'F.conv2d':>9}")
for (n_h, n_w), (k_h, k_w) in [((3, 3), (2, 2)), ((6, 8), (1, 2)), ((28, 28), (5, 5)),
                               ((5, 7), (3, 1)), ((4, 4), (4, 4))]:
    rule = (n_h - k_h + 1, n_w - k_w + 1)
    Xs, Ks = torch.zeros(n_h, n_w), torch.zeros(k_h, k_w)
    ours, theirs = tuple(corr2d(Xs, Ks).shape), tuple(conv2d_torch(Xs, Ks).shape)
    assert ours == theirs == rule == (utils.conv_output_size(n_h, k_h),
                                      utils.conv_output_size(n_w, k_w))
    print(f"{n_h:>4}x{n_w:<3} {k_h:>3}x{k_w:<3} {'x'.join(map(str, rule)):>7} "
          f"{'x'.join(map(str, ours)):>7} {'x'.join(map(str, theirs)):>9}")

# %% [markdown]
# The last row is a kernel as large as its input: a single output, one weighted sum of
# all pixels. A kernel larger than the input does not fit at all, and `utils.corr2d`
# says so:

# %%
caught = None
try:
    utils.corr2d(torch.zeros(3, 3), torch.zeros(5, 5))
except ValueError as err:
    caught = err
assert caught is not None and "larger than" in str(caught)
print(type(caught).__name__ + ":", caught)


# %% [markdown]
# Losing $k - 1$ rows and columns per layer adds up in deep networks; the
# [next chapter](02_padding_stride.ipynb) pads the input to prevent it.
#
# ## A convolutional layer
#
# A convolutional layer cross-correlates its input with a kernel and adds a scalar
# bias. Both are parameters to learn. We start the kernel at random values and the bias
# at zero.

# %%
class Conv2D(nn.Module):
    """A convolutional layer with one kernel and one bias, for a single 2-D input."""

    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(kernel_size))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, X):
        return corr2d(X, self.weight) + self.bias


layer = Conv2D(kernel_size=(2, 2))
for name, p in layer.named_parameters():
    print(f"{name:<7} shape {tuple(p.shape)}")

# %% [markdown]
# The same five parameters serve inputs of any size; only the output shape changes:

# %%
for shape in [(3, 3), (6, 8), (28, 28)]:
    X_any = torch.randn(shape)
    Y_any = layer(X_any)
    torch.testing.assert_close(Y_any, corr2d(X_any, layer.weight) + layer.bias)
    print(f"input {shape} -> output {tuple(Y_any.shape)}")

# %% [markdown]
# PyTorch's `nn.Conv2d` is the production version of this class: it adds channels,
# batches, padding and stride, and a fast implementation.
#
# ## Edge detection
#
# Here is a first use for a kernel. The 6x8 image below is white (1) at the sides and
# black (0) in the middle, so it has two vertical edges.

# %%
X = torch.ones((6, 8))
X[:, 2:6] = 0
X

# %% [markdown]
# The kernel $[1, -1]$ computes $X[i, j] - X[i, j + 1]$, the change
# from one pixel to its right-hand neighbour. Where the row is constant that is zero; at
# an edge it is not.

# %%
K = torch.tensor([[1.0, -1.0]])
Y = corr2d(X, K)
Y

# %% [markdown]
# The output above has a column of $1$ where white turns to black (columns 1 to 2 of
# the input) and a column of $-1$ where black turns back to white (columns 5 to 6),
# and zeros everywhere else. The sign tells the direction of the edge.
#
# The kernel only looks along rows. Transpose the image, so that the edges become
# horizontal, and it finds nothing:

# %%
Y_t = corr2d(X.t(), K)
print(Y_t)
assert not Y_t.any()

# %% [markdown]
# To detect horizontal edges, transpose the kernel too: the result is exactly the
# transpose of the vertical-edge map.

# %%
assert torch.equal(corr2d(X.t(), K.t()), corr2d(X, K).t())
print(corr2d(X.t(), K.t()))

# %% [markdown]
# ### Shift the input, and the output shifts
#
# Translation invariance of the *weights* has a visible consequence for the *layer*:
# move a pattern in the input, and its response moves by the same amount in the output,
# unchanged. The layer is **translation equivariant**: shifting and then applying the
# layer gives the same as applying the layer and then shifting. (Not *invariant*: the
# output does change, it moves along; [the pooling chapter](04_pooling.ipynb) asks when
# a network can ignore a shift.) The cell below shifts a small pattern 3 rows down and 2
# columns right, far enough from the border that nothing falls off, and compares both
# orders exactly.

# %% tags=["hide-input"]
X_eq = torch.zeros(8, 8)
X_eq[1:3, 2:5] = torch.tensor([[1.0, 2.0, 0.0], [3.0, 1.0, 2.0]])  # a pattern, zeros around
K_eq = torch.tensor([[1.0, -1.0], [2.0, 0.0]])
shift = (3, 2)  # rows down, columns right


def move(M):
    """Shift the contents of M by `shift` (they stay inside: nothing wraps around)."""
    return torch.roll(M, shifts=shift, dims=(0, 1))


shift_then_corr, corr_then_shift = corr2d(move(X_eq), K_eq), move(corr2d(X_eq, K_eq))
assert torch.equal(shift_then_corr, corr_then_shift)  # exactly, not approximately
assert not torch.equal(shift_then_corr, corr2d(X_eq, K_eq))  # equivariant, not invariant
limit = corr2d(X_eq, K_eq).abs().max().item()
fig, axes = plt.subplots(1, 4, figsize=(10, 3.2))
for ax, M, title in [(axes[0], X_eq, "input X"), (axes[1], corr2d(X_eq, K_eq), "X ⋆ K"),
                     (axes[2], move(X_eq), f"X shifted by {shift}"),
                     (axes[3], shift_then_corr, "(X shifted) ⋆ K\n= (X ⋆ K) shifted")]:
    signed = M.min() < 0
    ax.imshow(M, cmap="RdBu_r" if signed else "gray_r", vmin=-limit if signed else 0,
              vmax=limit if signed else M.max().item())
    ax.set_xticks(np.arange(-0.5, M.shape[1]), minor=True)
    ax.set_yticks(np.arange(-0.5, M.shape[0]), minor=True)
    ax.grid(which="minor", color="lightgray", linewidth=0.5)
    ax.tick_params(which="minor", length=0)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("column")
axes[0].set_ylabel("row")
fig.suptitle("Translation equivariance: shifting commutes with cross-correlation")
fig.tight_layout()
plt.show()

# %% [markdown]
# Only at the border does equivariance break: a pattern shifted past the edge loses the
# part that no longer fits. ([Exercise 2](../exercises/01_convolution.ipynb) shows that
# with circular padding, where nothing falls off, the equality holds for every shift.)
#
# ## Learning a kernel
#
# Designing kernels by hand works for edges, but not for "the texture of a knitted
# pullover". Instead, we can *learn* the kernel from examples. Let us see whether
# gradient descent recovers $[1, -1]$ from nothing but the image `X` and the output `Y`
# it produced.
#
# We use PyTorch's `nn.Conv2d` with one input and one output channel, a 1x2 kernel and
# no bias. It wants four-dimensional input, `(batch, channels, height, width)`, so we
# reshape. The loss is the squared error summed over all output pixels, and each step
# moves the kernel against its gradient. The learning rate and number of steps are
# fixed here: this is a two-parameter toy, not a training run.

# %%
torch.manual_seed(0)
conv2d = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False)
print("initial kernel:", conv2d.weight.data.reshape(1, 2))

X_b = X.reshape((1, 1, 6, 8))  # (batch, channels, height, width)
Y_b = Y.reshape((1, 1, 6, 7))
lr, num_steps = 3e-2, 20
for step in range(1, num_steps + 1):
    Y_hat = conv2d(X_b)
    loss = ((Y_hat - Y_b) ** 2).sum()
    conv2d.zero_grad()
    loss.backward()
    with torch.no_grad():
        conv2d.weight -= lr * conv2d.weight.grad
    if step % 4 == 0:
        print(f"step {step:2d}, loss {loss.item():.3f}")


# %% [markdown]
# The loss falls steadily. The learned kernel is close to the one that made the data:

# %%
def fmt(K):
    """A kernel's entries with three decimals, as one line."""
    return "[" + ", ".join(f"{v:.3f}" for v in K.flatten().tolist()) + "]"


K_learned = conv2d.weight.data.reshape(1, 2)
print("learned kernel:", fmt(K_learned))
torch.testing.assert_close(K_learned, K, atol=0.01, rtol=0)


# %% [markdown]
# Why could two numbers be recovered from one image? Inside a constant region, the
# output is zero only if the two weights sum to zero; at an edge, the output is $1$ only
# if the first weight is $1$. The image contains both situations, so there is exactly
# one kernel that explains all the outputs. (Exercise 11 shows a bigger kernel that this
# image cannot pin down.)
#
# ## Cross-correlation versus convolution
#
# Strictly speaking, what we computed is a *cross-correlation*, $X \star K$. The
# *convolution* of mathematics and signal processing, written $X * K$, flips the kernel
# first:
#
# $$(X * K)[i, j] = \sum_{a} \sum_{b} K[a, b]\, X[i - a, j - b],$$
#
# so the input index runs backwards while the kernel index runs forwards. Restricted to
# the positions where the kernel fits (indices shifted so the output starts at 0, as in
# `corr2d`), the definition reads as in the function below. It equals cross-correlation
# with the kernel rotated by 180 degrees, flipped along both axes:

# %%
def conv2d_true(X, K):
    """True 2-D convolution (kernel flipped), keeping only positions where K fits."""
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            for a in range(h):
                for b in range(w):
                    Y[i, j] += K[a, b] * X[i + h - 1 - a, j + w - 1 - b]
    return Y


X_rand, K_rand = torch.randn(5, 6), torch.randn(3, 2)
torch.testing.assert_close(conv2d_true(X_rand, K_rand), corr2d(X_rand, K_rand.flip(0, 1)))
print("conv(X, K) == corr(X, flip(K)) for a random 5x6 input and 3x2 kernel")

# %% [markdown]
# NumPy's `np.convolve` implements the textbook convolution for 1-D signals; our
# definition agrees with it on a single row:

# %%
x = np.array([1.0, 4.0, 2.0, 0.0, 3.0, 5.0])
k = np.array([2.0, -1.0, 0.5])
ours = conv2d_true(torch.tensor(x)[None], torch.tensor(k)[None])[0].numpy()
print("np.convolve:", np.convolve(x, k, mode="valid"))
print("conv2d_true:", ours)
assert np.allclose(ours, np.convolve(x, k, mode="valid"))


# %% [markdown]
# For a learned kernel the difference does not matter. A layer that computes true
# convolutions fits the same data just as well; it simply learns the flipped kernel.
# We rerun the training above with such a layer, from the same initial weights:

# %%
class TrueConv(nn.Module):
    """A bias-free layer that computes a true convolution (it flips its kernel)."""

    def __init__(self, weight):
        super().__init__()
        self.weight = nn.Parameter(weight.clone())

    def forward(self, X):
        return F.conv2d(X, self.weight.flip(-2, -1))


torch.manual_seed(0)
w0 = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False).weight.data  # same start as before
true_conv = TrueConv(w0)
for _ in range(num_steps):
    loss = ((true_conv(X_b) - Y_b) ** 2).sum()
    true_conv.zero_grad()
    loss.backward()
    with torch.no_grad():
        true_conv.weight -= lr * true_conv.weight.grad
K_true = true_conv.weight.data.reshape(1, 2)
print("kernel learned with cross-correlation:", fmt(K_learned))
print("kernel learned with true convolution: ", fmt(K_true))
torch.testing.assert_close(K_true, K.flip(-1), atol=0.01, rtol=0)
torch.testing.assert_close(K_true, K_learned.flip(-1), atol=1e-4, rtol=0)  # mirror images
torch.testing.assert_close(true_conv(X_b), conv2d(X_b), atol=1e-4, rtol=0)  # same outputs


# %% [markdown]
# Deep-learning libraries therefore implement cross-correlation, which needs no flip,
# and call it convolution; this book follows that custom in its code (`nn.Conv2d` is "a
# convolutional layer") and keeps the symbols apart in formulas: $X \star K$ for
# cross-correlation, $X * K$ for convolution. The distinction only matters when you
# *hand over* a kernel from elsewhere:
#
# ```{warning}
# A kernel taken from a signal-processing text, or used with `np.convolve` or
# `scipy.signal.convolve2d`, is meant for true convolution. `F.conv2d` and `nn.Conv2d`
# cross-correlate, so flip it first (`K.flip(-2, -1)`). For a symmetric kernel (a blur,
# the Laplacian) nothing changes; for a derivative or a Sobel kernel, forgetting the
# flip silently flips the sign of every output.
# ```
#
# The cell below makes the mistake on purpose. The textbook central difference
# $\tfrac12[1, 0, -1]$ is a derivative *under convolution*: on the ramp
# $0, 1, 2, \ldots$ (slope 1), `np.convolve` gives 1 everywhere. Handed unflipped to
# `F.conv2d` it gives $-1$; flipped, it gives 1 again.

# %%
ramp = torch.arange(8.0)[None]  # one row, slope 1
d_textbook = torch.tensor([[0.5, 0.0, -0.5]])  # a derivative kernel for convolution
by_numpy = np.convolve(ramp[0].numpy(), d_textbook[0].numpy(), mode="valid")
unflipped = conv2d_torch(ramp, d_textbook)[0]
flipped = conv2d_torch(ramp, d_textbook.flip(-2, -1))[0]
print("np.convolve:              ", by_numpy)
print("F.conv2d, kernel as given:", unflipped.numpy())
print("F.conv2d, kernel flipped: ", flipped.numpy())
assert np.array_equal(by_numpy, np.ones(6)) and torch.equal(unflipped, -torch.ones(6))
assert torch.equal(flipped, torch.tensor(by_numpy, dtype=torch.float32))

# %% [markdown]
# ## Feature maps and receptive fields
#
# The output of a convolutional layer is called a **feature map**: it is still laid out
# like an image, and entry $(i, j)$ says how strongly the feature the kernel looks for
# is present at that location. The **receptive field** of an output element is the set
# of input pixels that can affect it. For one $k \times k$ layer it is the $k \times k$
# window under the kernel. Stack a second layer on top and each of its outputs sees a
# $k \times k$ window of the first feature map, each of which sees $k \times k$ input
# pixels: together a $(2k - 1) \times (2k - 1)$ patch. Every further layer (with stride
# 1) adds $k - 1$, so $L$ layers of $k \times k$ kernels see
#
# $$r_L = 1 + L\,(k - 1)$$
#
# pixels along each axis. Gradients let us measure this: the input pixels that can
# change one output are exactly those where the output's gradient with respect to the
# input is nonzero. We give every kernel positive weights, so that no gradient can be
# zero by an accidental cancellation, and use no nonlinearity, so the gradient does not
# depend on the input values.

# %%
def input_gradient(num_layers, size=15, k=3):
    """Gradient of the centre output of `num_layers` stacked kxk convolutions
    with respect to a size x size input."""
    torch.manual_seed(0)
    net = nn.Sequential(*[nn.Conv2d(1, 1, kernel_size=k, bias=False)
                          for _ in range(num_layers)])
    with torch.no_grad():
        for layer in net:
            layer.weight.uniform_(0.1, 1.0)  # positive: no cancellations
    X = torch.zeros((1, 1, size, size), requires_grad=True)
    Y = net(X)
    centre = Y.shape[-1] // 2
    Y[0, 0, centre, centre].backward()
    return X.grad[0, 0]


print(f"{'layers':>6} {'predicted':>10} {'measured':>9} {'pixels':>7}")
for L in range(1, 6):
    nonzero = input_gradient(L) != 0
    rows, cols = nonzero.any(dim=1).sum().item(), nonzero.any(dim=0).sum().item()
    r = 1 + L * (3 - 1)
    assert rows == cols == r and nonzero.sum().item() == r * r  # a full r x r square
    print(f"{L:>6} {f'{r}x{r}':>10} {f'{rows}x{cols}':>9} {nonzero.sum().item():>7}")

# %% [markdown]
# The measured squares match the formula for every depth in the table. The picture
# below shows the gradients themselves for one, two and three layers (brighter means a
# larger gradient). For one layer the gradient is simply the kernel: output
# $(i, j)$ depends on input $(i + a, j + b)$ through the weight $K[a, b]$.

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
for ax, L in zip(axes, (1, 2, 3)):
    ax.imshow(input_gradient(L), cmap="viridis")
    ax.set_xticks(range(0, 15, 2))
    ax.set_yticks(range(0, 15, 2))
    ax.set_title(f"{L} layer{'s' if L > 1 else ''} of 3x3: {1 + 2 * L}x{1 + 2 * L}")
    ax.set_xlabel("input column")
    ax.set_ylabel("input row")
fig.suptitle("Input pixels that influence one output pixel (gradient magnitude)")
fig.tight_layout()
plt.show()

# %% [markdown]
# Two things are visible. The receptive field grows linearly with depth, so a deep
# network of small kernels can relate pixels that are far apart while each layer stays
# local; this is how the locality principle and global decisions fit together. And the
# influence is not uniform: central pixels reach the output along many more paths than
# border pixels, so they get larger gradients.

# %%
g = input_gradient(3)
centre = g.shape[0] // 2
nonzero = g.ne(0)
top = nonzero.any(dim=1).nonzero().min().item()  # first row of the receptive field
left = nonzero.any(dim=0).nonzero().min().item()  # first column
print("centre pixel gradient > corner of the receptive field:",
      (g[centre, centre] > g[top, left]).item())
assert g[centre, centre] > g[top, left] > 0

# %% [markdown]
# ## Kernels on a real picture
#
# Let us apply some classic hand-made kernels to a photograph: the portrait of Grace
# Hopper that ships with matplotlib, converted to greyscale values in $[0, 1]$ and
# shrunk to a third of its size.

# %%
with cbook.get_sample_data("grace_hopper.jpg") as f:
    photo = Image.open(f).convert("L")
    photo = photo.resize((photo.width // 3, photo.height // 3), Image.Resampling.LANCZOS)
img = torch.tensor(np.asarray(photo), dtype=torch.float32) / 255  # (height, width)
print("image shape:", tuple(img.shape), " dtype:", img.dtype)

# %% [markdown]
# The kernels: our $[1, -1]$ and its transpose, the Sobel kernel (a difference in one
# direction, smoothed in the other), its transpose, a 5x5 box blur that averages its
# window, and the Laplacian, which compares a pixel with its four neighbours. The image
# has tens of thousands of pixels, so we use `F.conv2d` instead of our slow loop, after
# checking on one kernel that they agree.

# %%
sobel = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
kernels = {
    "[1, -1]: vertical edges": torch.tensor([[1.0, -1.0]]),
    "[1, -1] transposed: horizontal edges": torch.tensor([[1.0], [-1.0]]),
    "Sobel x": sobel,
    "Sobel y": sobel.t(),
    "5x5 box blur": torch.full((5, 5), 1 / 25),
    "Laplacian": torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]),
}
maps = {name: conv2d_torch(img, K) for name, K in kernels.items()}
name = "[1, -1]: vertical edges"
torch.testing.assert_close(maps[name], corr2d(img, kernels[name]))
for name, fmap in maps.items():
    k_h, k_w = kernels[name].shape
    assert fmap.shape == (img.shape[0] - k_h + 1, img.shape[1] - k_w + 1)
    print(f"{name:<38} kernel {k_h}x{k_w} -> feature map {tuple(fmap.shape)}")

# %% tags=["hide-input"]
edges = torch.sqrt(maps["Sobel x"] ** 2 + maps["Sobel y"] ** 2)  # gradient magnitude
panels = [("input", img, False),  # (title, image, signed?)
          ("[1, -1]: vertical edges", maps["[1, -1]: vertical edges"], True),
          ("[1, -1] transposed: horizontal edges",
           maps["[1, -1] transposed: horizontal edges"], True),
          ("5x5 box blur", maps["5x5 box blur"], False),
          ("Laplacian", maps["Laplacian"], True),
          ("Sobel gradient magnitude", edges, False)]
fig, axes = plt.subplots(2, 3, figsize=(9, 7))
for ax, (name, fmap, signed) in zip(axes.ravel(), panels):
    if signed:  # symmetric colour scale: red > 0, white = 0, blue < 0
        limit = fmap.abs().max().item() / 2
        ax.imshow(fmap, cmap="RdBu_r", vmin=-limit, vmax=limit)
    else:
        ax.imshow(fmap, cmap="gray")
    ax.set_title(name, fontsize=10)
    ax.axis("off")
fig.suptitle("Feature maps of hand-made kernels (red: positive, blue: negative)")
fig.tight_layout()
plt.show()

# %% [markdown]
# Each feature map highlights one kind of structure. The $[1, -1]$ map lights up along
# vertical boundaries (the sides of the face, the lapels, the flag's stars) and its
# transpose along horizontal ones (the peak of the cap, the glasses, the shoulders); the
# colour shows the direction of the change, as the sign of $\pm 1$ did for the toy image. The blur keeps the
# coarse shapes and removes fine detail, the Laplacian responds to small spots and thin
# lines in any direction, and the Sobel magnitude combines both directions into an
# outline drawing. The first layers of trained CNNs typically end up with edge and blob
# detectors much like these, because they are useful for almost any visual task.
#
# ## Summary
#
# - A fully connected layer on images needs a weight for every (pixel, unit) pair; the
#   parameter table showed how this explodes for real photos.
# - Translation invariance and locality reduce it to one small kernel shared across all
#   positions: a convolutional layer, whose parameter count does not depend on the image.
# - The layer computes a cross-correlation: slide the kernel, multiply, add. The output
#   of an $n_h \times n_w$ input and a $k_h \times k_w$ kernel is
#   $(n_h - k_h + 1) \times (n_w - k_w + 1)$. Our loop matched `F.conv2d`.
# - The layer is translation equivariant: shifting the input shifted the output by the
#   same amount, exactly (away from the border).
# - Kernels can be designed ($[1, -1]$ detects vertical edges and misses horizontal ones)
#   or learned from data by gradient descent, which recovered $[1, -1]$.
# - True convolution ($X * K$) flips the kernel, cross-correlation ($X \star K$) does
#   not; for learned kernels this makes no difference, for a kernel handed over from
#   signal processing it flips the sign of antisymmetric ones unless you flip it.
#   Stacking $L$ layers of $k \times k$ kernels gives a receptive field of
#   $1 + L(k - 1)$ pixels per axis, as the input gradients confirmed.
#
# ## Exercises
#
# Worked answers, with code that runs, are in
# [the exercise notebook](../exercises/01_convolution.ipynb).
#
# 1. Suppose the locality size is $\Delta = 0$. Show that the kernel then implements a
#    fully connected layer for each pixel, independently, across channels.
# 2. Why might translation invariance not be a good idea after all?
# 3. What must we decide when a hidden unit near the image border needs pixels outside
#    the image?
# 4. Describe an analogous convolutional layer for audio.
# 5. Do convolutional layers also make sense for text? Why?
# 6. Prove that $f * g = g * f$ for convolution.
# 7. Build an image `X` with a diagonal edge. What happens when you apply the kernel `K`
#    of this chapter to it? To `X` transposed? What if you transpose `K`?
# 8. What happens when you compute gradients through the hand-written `Conv2D` class?
#    Which error messages can you run into?
# 9. How do you write cross-correlation as one matrix multiplication, by rearranging the
#    input and the kernel?
# 10. Design kernels by hand: for the second derivative, for an integral, and for a
#     derivative of degree $d$. What is the smallest kernel for degree $d$?
# 11. Learn other kernels from data, such as a diagonal-edge kernel or the 3x3 Laplacian.
#     What kind of input data do you need?
# 12. Show that the gradient of the loss with respect to the kernel is the
#     cross-correlation of the input with the gradient of the output.
# 13. When does a convolutional layer act exactly like a fully connected layer?
# 14. Three stacked 3x3 layers and one 7x7 layer see the same input patch. Compare their
#     parameter counts.
# 15. Design kernels by hand (from d2l): an edge detector for edges orthogonal to a
#     direction $\mathbf v = (v_1, v_2)$; a finite-difference second derivative (how small
#     can its kernel be, and which image structures respond most strongly?); a blur
#     kernel (how, and why?); and the smallest kernel for a derivative of order $d$.
