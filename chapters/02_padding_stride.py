# %% [markdown]
# # Padding and Stride
#
# Every convolution in the [previous chapter](01_convolution.ipynb) returned a smaller
# image than it was given, and it looked at every position of the input. Real networks
# need control over both: *padding* decides what happens at the border (and whether
# the image shrinks), *stride* decides how far the kernel jumps between positions (and
# how quickly a network downsamples). Together with the kernel size they fix the shape
# of every feature map in a CNN, so being able to predict shapes is the most useful
# skill this chapter gives you.
#
# **What you'll learn**
#
# - why an unpadded convolution shrinks its input and under-uses border pixels;
# - the output-shape formula for kernel size, padding, stride (and dilation), and how to
#   check it against `nn.Conv2d`;
# - how to keep the shape unchanged ("same" padding) for odd, rectangular and even kernels;
# - what `F.pad`'s modes (zeros, reflect, replicate, circular) put at the border;
# - how a stride of 2 halves a feature map, and which input pixels it can skip;
# - how strides widen the receptive field, checked with input gradients.
#
# Prerequisite: [image convolution](01_convolution.ipynb) (cross-correlation, `nn.Conv2d`).

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
import itertools
import warnings

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.patches import Rectangle
from torch import nn

import utils

utils.seed_everything(0)
torch.set_printoptions(precision=4)

# %% [markdown]
# ## Why outputs shrink
#
# A $k \times k$ kernel fits into an $n \times n$ image at $n - k + 1$ positions along each
# axis, so the output is $(n - k + 1) \times (n - k + 1)$. One layer loses only a thin
# frame, but the loss adds up. Here are five $5 \times 5$ convolutions in a row on a
# Fashion-MNIST-sized $28 \times 28$ input:

# %%
X = torch.zeros(1, 1, 28, 28)  # (batch, channels, height, width)
print("input:  ", tuple(X.shape[2:]))
for layer in range(1, 6):
    X = nn.Conv2d(1, 1, kernel_size=5)(X)
    print(f"layer {layer}:", tuple(X.shape[2:]))


# %% [markdown]
# The map lost four rows and four columns per layer. There is a second, quieter
# problem: border pixels take part in fewer windows than central ones. The function
# below slides a window over an $n \times n$ input (optionally padded by `p` and moved by
# `s`) and counts how many windows cover each pixel.

# %%
def window_counts(n, k, p=0, s=1):
    """How many k x k windows (padding p, stride s) cover each pixel of an n x n input."""
    counts = torch.zeros(n + 2 * p, n + 2 * p, dtype=torch.int64)
    for i in range(0, n + 2 * p - k + 1, s):
        for j in range(0, n + 2 * p - k + 1, s):
            counts[i:i + k, j:j + k] += 1
    return counts[p:p + n, p:p + n]  # drop the padding: count real pixels only

print(window_counts(6, 3))

# %% [markdown]
# With a $3 \times 3$ kernel a corner pixel is seen by one window and a central pixel by
# nine: whatever sits at the edge of the image has little say in the output. Padding
# cures the first problem completely and the second only in part, as the next section
# shows.

# %% [markdown]
# ## Padding
#
# *Padding* adds $p$ extra rows at the top and bottom and $p$ extra columns left and
# right, filled with zeros unless we ask otherwise. The padded input is
# $(n + 2p) \times (n + 2p)$, so the output side becomes
#
# $$n_\text{out} = n + 2p - k + 1 .$$
#
# Choosing $p = (k - 1)/2$ gives $n_\text{out} = n$: the output has the input's shape.
# That only works when $k$ is odd, which is one reason CNN kernels are almost always
# $1, 3, 5, 7$: with an odd kernel the output pixel $(i, j)$ is centred on the input pixel
# $(i, j)$. With padding 1, a $3 \times 3$ kernel now covers the corner four times:

# %%
counts = window_counts(6, 3, p=1)
print(counts)
assert counts[0, 0] == 4 and counts[2, 2] == 9 and counts.max() == 9

# %% [markdown]
# The corner is now seen by four windows instead of one, but still by fewer than a
# central pixel's nine: padding stops the shrinking and narrows the gap between border
# and centre without closing it.


# %% [markdown]
# In `nn.Conv2d`, `padding` is the number of rows/columns added on *each* side. A small
# helper runs a layer on one `(h, w)` image; the $8 \times 8$ input keeps its shape with
# a $3 \times 3$ kernel and padding 1:

# %%
def comp_conv2d(conv2d, X):
    """Apply a one-channel conv layer to an (h, w) image; return the (h_out, w_out) output."""
    return conv2d(X[None, None])[0, 0]  # add, then drop, the batch and channel axes

X = torch.rand(8, 8)
conv2d = nn.Conv2d(1, 1, kernel_size=3, padding=1)
print(comp_conv2d(conv2d, X).shape)

# %% [markdown]
# Height and width are independent, so a rectangular kernel takes a pair of paddings:
# $(k_h - 1)/2$ rows and $(k_w - 1)/2$ columns. A $5 \times 3$ kernel with padding
# `(2, 1)` keeps the $8 \times 8$ shape too:

# %%
conv2d = nn.Conv2d(1, 1, kernel_size=(5, 3), padding=(2, 1))
print(comp_conv2d(conv2d, X).shape)

# %% [markdown]
# PyTorch can do this arithmetic for you: `padding="same"` picks the padding that keeps
# the shape. For an odd kernel it is exactly $(k - 1)/2$ on each side:

# %%
K = torch.randn(1, 1, 5, 3)
Xb = X[None, None]  # (1, 1, 8, 8)
same = F.conv2d(Xb, K, padding="same")
print(same.shape)
torch.testing.assert_close(same, F.conv2d(Xb, K, padding=(2, 1)))

# %% [markdown]
# For an even kernel the $k - 1$ padding rows cannot be split evenly, so `"same"` puts
# the extra row and column at the bottom and right. `F.pad(X, (left, right, top, bottom))`
# lets us check which side gets more: for a $4 \times 4$ kernel only one of the two
# lopsided choices reproduces `"same"`.

# %%
K4 = torch.randn(1, 1, 4, 4)
with warnings.catch_warnings():
    # PyTorch notes (once) that it must build a zero-padded copy for even kernels,
    # which is exactly what we do by hand with F.pad below.
    warnings.filterwarnings("ignore", message=".*even kernel lengths.*")
    same4 = F.conv2d(Xb, K4, padding="same")
extra_bottom_right = F.conv2d(F.pad(Xb, (1, 2, 1, 2)), K4)
extra_top_left = F.conv2d(F.pad(Xb, (2, 1, 2, 1)), K4)
print("output shape:", tuple(same4.shape))
print("extra at bottom/right matches:", torch.allclose(same4, extra_bottom_right))
print("extra at top/left matches:    ", torch.allclose(same4, extra_top_left))

# %% tags=["hide-input"]
assert torch.allclose(same4, extra_bottom_right)
assert not torch.allclose(same4, extra_top_left)

# %% [markdown]
# The output is no longer centred on the input: it is shifted by half a pixel. That is
# the second reason to prefer odd kernels.

# %% [markdown]
# ## What goes into the padding
#
# Zeros are the default, but they are not the only choice. `F.pad` offers four modes;
# on a short 1-D signal padded by 2 on each side they read:

# %%
x = torch.tensor([[[1., 2., 3., 4.]]])  # (batch, channels, width)
for mode in ["constant", "reflect", "replicate", "circular"]:
    print(f"{mode:>9}:", F.pad(x, (2, 2), mode=mode)[0, 0].int().tolist())

# %% [markdown]
# - `constant` (zeros by default; `value=` sets another constant) treats the outside
#   world as black;
# - `reflect` mirrors the signal around its edge sample, without repeating it
#   (`3, 2 | 1, 2, 3, 4 | 3, 2`);
# - `replicate` repeats the edge sample;
# - `circular` wraps around, as if the image were tiled.
#
# The same four modes on a $3 \times 3$ image padded by 1:

# %% tags=["hide-input"]
X3 = torch.arange(1., 10.).reshape(1, 1, 3, 3)
modes = ["constant", "reflect", "replicate", "circular"]
fig, axes = plt.subplots(1, 4, figsize=(10, 3))
for ax, mode in zip(axes, modes):
    P = F.pad(X3, (1, 1, 1, 1), mode=mode)[0, 0]
    ax.imshow(P, cmap="Blues", vmin=-2, vmax=10)
    for (i, j), v in zip(itertools.product(range(5), range(5)), P.flatten()):
        ax.text(j, i, int(v), ha="center", va="center", fontsize=11)
    ax.add_patch(Rectangle((0.5, 0.5), 3, 3, fill=False, lw=2, color="black"))
    ax.set_title(f'mode="{mode}"', fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("column")
    ax.set_ylabel("row")
fig.suptitle("F.pad by 1 on each side; the black square is the original image")
fig.tight_layout()
plt.show()

# %% [markdown]
# Why would you pick anything but zeros? Zeros invent a dark frame. A $3 \times 3$ box blur
# of a plain white image (all ones) should stay white, yet with zero padding the border
# pixels average in the black frame and come out darker; reflection keeps the image
# white everywhere:

# %%
white = torch.ones(1, 1, 5, 5)
box = torch.full((1, 1, 3, 3), 1 / 9)
print("zero padding:\n", F.conv2d(white, box, padding=1)[0, 0])
print("reflect padding:\n", F.conv2d(F.pad(white, (1, 1, 1, 1), mode="reflect"), box)[0, 0])

# %% [markdown]
# `nn.Conv2d` takes the mode as `padding_mode` (`"zeros"`, `"reflect"`, `"replicate"`,
# `"circular"`). For the modes other than zeros it pads with `F.pad` and then convolves
# without padding, which we can confirm with the layer's own weights:

# %%
conv2d = nn.Conv2d(1, 1, kernel_size=3, padding=1, padding_mode="reflect")
by_hand = F.conv2d(F.pad(Xb, (1, 1, 1, 1), mode="reflect"), conv2d.weight, conv2d.bias)
torch.testing.assert_close(conv2d(Xb), by_hand)
print("padding_mode='reflect' == F.pad(mode='reflect') + unpadded conv")

# %% [markdown]
# In image classification zero padding is the norm and works well: the network learns
# to treat the border as border. The other modes matter more when outputs are images
# (denoising, super-resolution, style transfer), where a dark frame would be visible.

# %% [markdown]
# ## Stride
#
# So far the window moved one pixel at a time. With *stride* $s$ it jumps $s$ pixels,
# both across and down. Starting at position 0, the window's top-left corner can go to
# $0, s, 2s, \dots$ as long as the window still fits in the padded input of length
# $n + 2p$, i.e. as long as $is + k \le n + 2p$. Counting those $i$:
#
# $$n_\text{out} = \left\lfloor \frac{n + 2p - k}{s} \right\rfloor + 1 .$$
#
# With $s = 1$ this is the padding formula again. With "same" padding and $s = 2$ the
# output is $\lfloor (n - 1)/2 \rfloor + 1$, which is $n/2$ for even $n$: a stride of 2
# halves height and width.

# %%
conv2d = nn.Conv2d(1, 1, kernel_size=3, padding=1, stride=2)
print(comp_conv2d(conv2d, X).shape)

# %% [markdown]
# `padding="same"` is a stride-1 idea: with stride 2 the output cannot have the input's
# shape, and PyTorch refuses the combination rather than guess what you meant.

# %%
caught = None
try:
    nn.Conv2d(1, 1, kernel_size=3, stride=2, padding="same")
except ValueError as err:
    caught = err
assert caught is not None and "strided" in str(caught)
print(type(caught).__name__ + ":", str(caught))

# %% [markdown]
# Height and width can have different kernels, paddings and strides. For a $3 \times 5$
# kernel, padding `(0, 1)` and stride `(3, 4)` on the $8 \times 8$ input the formula
# gives $\lfloor (8 + 0 - 3)/3 \rfloor + 1$ rows and $\lfloor (8 + 2 - 5)/4 \rfloor + 1$
# columns; the layer agrees:

# %%
conv2d = nn.Conv2d(1, 1, kernel_size=(3, 5), padding=(0, 1), stride=(3, 4))
formula = ((8 + 2 * 0 - 3) // 3 + 1, (8 + 2 * 1 - 5) // 4 + 1)
print("formula:", formula, " nn.Conv2d:", tuple(comp_conv2d(conv2d, X).shape))
assert comp_conv2d(conv2d, X).shape == formula


# %% [markdown]
# The figure shows where the window goes on a $5 \times 5$ input with padding 1, a
# $3 \times 3$ kernel and stride 2, one panel per window position, that is one panel
# per output pixel. Each window starts two columns right of the previous one (or two
# rows down at the end of a row), so neighbouring windows share a row or column of
# input; the number of panels is the output size the formula predicts.

# %% tags=["hide-input"]
def draw_window(ax, n, k, p, top, left, title):
    """Draw an n x n input padded by p, with the k x k window whose corner is (top, left)."""
    size = n + 2 * p
    for i, j in itertools.product(range(size), range(size)):
        inside = p <= i < p + n and p <= j < p + n
        ax.add_patch(Rectangle((j, i), 1, 1, facecolor="#c6dbef" if inside else "white",
                               edgecolor="gray", lw=0.8, hatch=None if inside else "//"))
    ax.add_patch(Rectangle((left, top), k, k, facecolor="tab:red", alpha=0.35,
                           edgecolor="tab:red", lw=2.5))
    ax.set_xlim(0, size)
    ax.set_ylim(size, 0)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)


n, k, p, s = 5, 3, 1, 2
h_out, w_out = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k),
                        padding=p, stride=s).shape[2:]  # the shape from a real convolution
fig, axes = plt.subplots(h_out, w_out, figsize=(7, 7.4))
for (r, c), ax in zip(itertools.product(range(h_out), range(w_out)), axes.flat):
    draw_window(ax, n, k, p, top=r * s, left=c * s,
                title=f"output ({r}, {c})\nrows {r * s}-{r * s + k - 1}, "
                      f"cols {c * s}-{c * s + k - 1}")
fig.suptitle(f"n={n}, k={k}, p={p}, s={s}: {h_out}x{w_out} windows, one per output "
             "pixel\n(rows and columns of the padded input; hatched: zero padding)",
             fontsize=11)
fig.tight_layout()
plt.show()
assert (h_out, w_out) == (utils.conv_output_size(n, k, p, s),) * 2 == (3, 3)

# %% [markdown]
# The same count with stride 1 would be $5 \times 5$ panels; stride 2 keeps every second
# row and column of them, which is why a stride of 2 divides the work by about four.

# %% [markdown]
# The floor in the formula has a consequence worth seeing once: when $(n + 2p - k)$ is
# not a multiple of $s$, the last few rows and columns are never covered by any window.
# With $n = 8$, $k = 3$, $s = 3$ and no padding, the windows start at rows 0 and 3 and
# rows 6 and 7 are never read:

# %%
print(window_counts(8, 3, p=0, s=3))

# %% [markdown]
# So changing those pixels cannot change the output:

# %%
K = torch.randn(1, 1, 3, 3)
X8 = torch.randn(1, 1, 8, 8)
X8_changed = X8.clone()
X8_changed[..., 6:, :] = 100.0  # overwrite the last two rows ...
X8_changed[..., :, 6:] = -100.0  # ... and the last two columns
same_output = torch.equal(F.conv2d(X8, K, stride=3), F.conv2d(X8_changed, K, stride=3))
print("output unchanged:", same_output)
assert same_output

# %% [markdown]
# ## Receptive fields with strides
#
# The [first chapter](01_convolution.ipynb) found that $L$ stacked $k \times k$ layers
# with stride 1 see $1 + L(k - 1)$ input pixels per axis. A stride changes that count
# for every layer *after* it. Call $j_l = s_1 s_2 \cdots s_l$ the *jump* of layer $l$:
# neighbouring outputs of layer $l$ are $j_l$ input pixels apart (and $j_0 = 1$). A
# window of layer $l$ spans $k_l$ neighbouring outputs of layer $l - 1$, so it adds
# $(k_l - 1)\,j_{l-1}$ input pixels to the receptive field:
#
# $$r_L = 1 + \sum_{l=1}^{L} (k_l - 1) \prod_{m=1}^{l-1} s_m .$$
#
# With all strides 1 this is $1 + L(k - 1)$ again. The last layer's stride does not
# appear: it spaces the outputs but does not widen any one of them. Chapter 1's
# input-gradient method checks the formula on stacks with strides: give every kernel
# positive weights, backpropagate from one output and see which input pixels get a
# nonzero gradient. Besides the span (from the first to the last such row), the
# table counts the rows in it that are read at all.

# %%
def receptive_field(layers):
    """Formula: 1 + sum of (k - 1) * (product of the earlier strides), per axis."""
    r, jump = 1, 1
    for k, s in layers:
        r += (k - 1) * jump
        jump *= s
    return r


def measured_field(layers, size=64):
    """Span and number of input rows with a nonzero gradient of output (0, 0)."""
    torch.manual_seed(0)
    net = nn.Sequential(*[nn.Conv2d(1, 1, k, stride=s, bias=False) for k, s in layers])
    with torch.no_grad():
        for layer in net:
            layer.weight.uniform_(0.1, 1.0)  # positive: no cancellations
    X = torch.zeros(1, 1, size, size, requires_grad=True)
    net(X)[0, 0, 0, 0].backward()
    rows = X.grad[0, 0].ne(0).any(dim=1).nonzero().flatten()
    cols = X.grad[0, 0].ne(0).any(dim=0).nonzero().flatten()
    assert torch.equal(rows, cols)  # square kernels: the same along both axes
    return (rows.max() - rows.min() + 1).item(), len(rows)


stacks = [[(3, 1)] * 3, [(3, 2), (3, 2)], [(3, 2), (3, 2), (3, 2)],
          [(5, 2), (3, 1), (3, 2)], [(2, 2)] * 3, [(7, 2), (3, 2), (3, 1)], [(1, 2), (3, 1)]]
print(f"{'layers (k, s)':<26}{'formula':>8}{'span':>6}{'rows read':>11}")
for layers in stacks:
    r = receptive_field(layers)
    span, read = measured_field(layers)
    print(f"{str(layers):<26}{r:>8}{span:>6}{read:>11}")
    assert span == r
    if all(k >= s for k, s in layers):
        assert read == span  # no gaps when no layer strides past its own window
assert measured_field([(1, 2), (3, 1)]) == (5, 3)  # a 1x1 kernel with stride 2 skips rows

# %% [markdown]
# The formula matches every span in the table. Strides make the receptive field grow
# much faster than depth alone: three $3 \times 3$ layers see 7 pixels with stride 1
# and 15 with stride 2. When no layer strides farther than its own window ($k \ge s$)
# every row in the span is read; the last row, a $1 \times 1$ kernel with stride 2,
# leaves gaps, the skipped pixels of the previous section.

# %% [markdown]
# ## An aside: dilation
#
# A *dilated* (or atrous) convolution spreads the kernel's $k$ taps $d$ pixels apart, so
# it spans $d(k - 1) + 1$ pixels while keeping $k^2$ weights {cite}`dumoulin2016guide`.
# It is the same as an ordinary convolution with $d - 1$ zeros inserted between the taps:

# %%
K = torch.randn(1, 1, 3, 3)
K_spread = torch.zeros(1, 1, 5, 5)
K_spread[..., ::2, ::2] = K  # taps 2 apart: a 5x5 kernel with 9 non-zero weights
X = torch.randn(1, 1, 8, 8)
torch.testing.assert_close(F.conv2d(X, K, dilation=2), F.conv2d(X, K_spread))
print(F.conv2d(X, K, dilation=2).shape)


# %% [markdown]
# Replacing $k$ by the span $d(k - 1) + 1$ in the stride formula gives the general rule
# that PyTorch documents for `nn.Conv2d`:
#
# $$n_\text{out} = \left\lfloor \frac{n + 2p - d(k - 1) - 1}{s} \right\rfloor + 1 .$$

# %% [markdown]
# ## Checking the formula everywhere
#
# A formula earns trust by surviving many cases. The cell below tries every combination
# of input size, kernel size, padding, stride and dilation in a small grid, runs a real
# `nn.Conv2d` on a zero image, and compares its output side with the formula and with
# `utils.conv_output_size` (which implements it). Settings whose window does not fit even
# in the padded input must be refused by both PyTorch and `utils`.

# %%
def out_size(n, k, p=0, s=1, d=1):
    """Output side of a convolution: floor((n + 2p - d(k-1) - 1) / s) + 1."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1

agree = refused = 0
with torch.no_grad():
    for k, p, s, d in itertools.product(range(1, 6), range(3), range(1, 4), range(1, 3)):
        conv2d = nn.Conv2d(1, 1, kernel_size=k, padding=p, stride=s, dilation=d, bias=False)
        for n in range(1, 11):
            if d * (k - 1) + 1 > n + 2 * p:  # the window does not fit
                try:
                    conv2d(torch.zeros(1, 1, n, n))
                    raise AssertionError(f"nn.Conv2d accepted n={n} k={k} p={p} d={d}")
                except RuntimeError:
                    pass
                try:
                    utils.conv_output_size(n, k, p, s, d)
                    raise AssertionError(f"utils accepted n={n} k={k} p={p} d={d}")
                except ValueError:
                    refused += 1
                continue
            h_out, w_out = conv2d(torch.zeros(1, 1, n, n)).shape[2:]
            expected = out_size(n, k, p, s, d)
            assert h_out == w_out == expected, (n, k, p, s, d)
            assert expected == utils.conv_output_size(n, k, p, s, d), (n, k, p, s, d)
            agree += 1
print(f"{agree} settings: formula == nn.Conv2d == utils.conv_output_size")
print(f"{refused} settings where the window does not fit: both refuse")

# %% [markdown]
# Every setting agreed. From now on we can predict the shape of any feature map on
# paper, and `utils.conv_output_size` does it in code.

# %% [markdown]
# ## Summary
#
# - Without padding a $k \times k$ kernel shrinks each side by $k - 1$ and under-uses border
#   pixels; padding $p$ per side adds $2p$ back.
# - The output side is $\lfloor (n + 2p - d(k-1) - 1)/s \rfloor + 1$; we checked it against
#   `nn.Conv2d` over a grid of settings above.
# - "Same" padding is $(k - 1)/2$ per side for odd kernels (per axis for rectangular ones);
#   `padding="same"` computes it, putting the extra row/column at the bottom/right for even
#   kernels, and refuses strided convolutions.
# - `F.pad` and `padding_mode` offer zeros, reflect, replicate and circular padding.
# - Stride $s$ divides each side by about $s$; when $s$ does not divide $n + 2p - k$, the
#   last rows and columns are never read.
# - A stride multiplies the growth of the receptive field of every later layer:
#   $r_L = 1 + \sum_l (k_l - 1) \prod_{m<l} s_m$, as the input gradients confirmed.
#
# ## Exercises
#
# Worked answers are in [the exercise notebook](../exercises/02_padding_stride.ipynb).
#
# 1. For the last example of the stride section (kernel $3 \times 5$, padding `(0, 1)`,
#    stride `(3, 4)`), compute the output shape by hand and compare with the experiment.
# 2. Try other combinations of padding and stride on the $8 \times 8$ input.
# 3. For audio signals, what does a stride of 2 correspond to?
# 4. Implement mirror (reflect) padding yourself and compare it with `F.pad`.
# 5. What are the computational benefits of a stride larger than 1?
# 6. What might be the statistical benefits of a stride larger than 1?
# 7. Which padding keeps a $28 \times 28$ map at $28 \times 28$ for kernels 3, 5 and 7?
# 8. How would you implement a stride of $\frac{1}{2}$? What does it correspond to, and
#    when is it useful?
