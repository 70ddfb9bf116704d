# %% [markdown]
# # Pooling
#
# A convolution reports *where* a pattern occurs, pixel by pixel. For recognising
# a shirt, whether an edge is present somewhere in a small neighbourhood matters
# more than its exact pixel, and deeper layers should see a wider part of the
# image without ever larger kernels. Pooling serves both needs: it summarises each
# small window of a feature map by its maximum or its average, which shrinks the
# map and makes it less sensitive to small shifts. It has no parameters at all.
#
# **What you'll learn**
#
# - compute max and average pooling by hand, with loops and with
#   `nn.MaxPool2d`/`nn.AvgPool2d`, and get the same numbers;
# - predict the output shape of pooling with padding and stride, remembering that
#   PyTorch's default stride equals the window size;
# - explain why pooling keeps the number of channels;
# - see that max pooling sends the gradient only to each window's maximum, and
#   extend the receptive-field formula to pooling layers;
# - measure how much 2x2 max pooling damps a one-pixel shift, and where it does not;
# - make a network accept several input sizes with global average pooling
#   (`nn.AdaptiveAvgPool2d`);
# - restore the size (not the detail) with `F.interpolate`.
#
# Prerequisites: [convolution](01_convolution.ipynb),
# [padding and stride](02_padding_stride.ipynb) and
# [multiple channels](03_channels.ipynb).

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

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import torch
from matplotlib import cbook
from matplotlib.patches import Rectangle
from torch import nn
from torch.nn import functional as F

import utils

utils.seed_everything(0)
torch.set_printoptions(precision=4)


# %% [markdown]
# ## Max and average pooling
#
# A pooling window of $p_h \times p_w$ slides over the input the way a
# convolution kernel does. At each position it outputs either the largest element
# under it (*max pooling*) or their mean (*average pooling*):
#
# $$
# Y[i, j] = \max_{0 \le a < p_h,\ 0 \le b < p_w} X[i + a, j + b]
# \qquad\text{or}\qquad
# Y[i, j] = \frac{1}{p_h p_w} \sum_{a=0}^{p_h-1} \sum_{b=0}^{p_w-1} X[i + a, j + b].
# $$
#
# Unlike a convolution there is no kernel to learn: the operation is fixed. Here it
# is with loops, moving the window one element at a time (stride 1), exactly as
# `corr2d` did in the [convolution chapter](01_convolution.ipynb):

# %%
def pool2d(X: torch.Tensor, pool_size: tuple[int, int], mode: str = "max") -> torch.Tensor:
    """Max or average pooling of a 2-D input with stride 1 and no padding."""
    p_h, p_w = pool_size
    Y = torch.zeros((X.shape[0] - p_h + 1, X.shape[1] - p_w + 1), dtype=X.dtype)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            window = X[i:i + p_h, j:j + p_w]
            Y[i, j] = window.max() if mode == "max" else window.mean()
    return Y


# %% [markdown]
# A 3x3 input small enough to check by hand:

# %%
X = torch.arange(9.0).reshape(3, 3)
print(X)
print("max pooling 2x2:\n", pool2d(X, (2, 2)))
print("average pooling 2x2:\n", pool2d(X, (2, 2), "avg"))

# %% [markdown]
# The four 2x2 windows are `[[0, 1], [3, 4]]`, `[[1, 2], [4, 5]]`,
# `[[3, 4], [6, 7]]` and `[[4, 5], [7, 8]]`. Their maxima are the bottom-right
# elements and their means are the averages of the four numbers, as printed. The
# figure draws one panel per window, with the window's maximum in bold, and the two
# outputs below; each output cell is one window.

# %% tags=["hide-input"]
def draw_grid(ax, M, title, window=None, color="tab:red", bold=None):
    """Draw matrix M with its values; outline `window` = (top, left, h, w) if given."""
    rows, cols = M.shape
    for i, j in itertools.product(range(rows), range(cols)):
        ax.add_patch(Rectangle((j, i), 1, 1, facecolor="#eef3fa", edgecolor="gray", lw=0.8))
        ax.text(j + 0.5, i + 0.5, f"{M[i, j].item():g}", ha="center", va="center",
                fontsize=11, fontweight="bold" if bold == (i, j) else "normal")
    if window is not None:
        top, left, h, w = window
        ax.add_patch(Rectangle((left, top), w, h, facecolor=color, alpha=0.3,
                               edgecolor=color, lw=2.5))
    ax.set_xlim(-0.05, cols + 0.05)
    ax.set_ylim(rows + 0.05, -0.05)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)


Y_max, Y_avg = pool2d(X, (2, 2)), pool2d(X, (2, 2), "avg")
fig, axes = plt.subplots(2, Y_max.numel(), figsize=(9, 5))
for (i, j), ax in zip(itertools.product(*map(range, Y_max.shape)), axes[0]):
    window = X[i:i + 2, j:j + 2]
    a, b = divmod(window.argmax().item(), 2)  # where the maximum sits in the window
    draw_grid(ax, X, f"window for Y[{i}, {j}]\nmax {Y_max[i, j]:g}, "
                     f"mean {Y_avg[i, j]:g}", window=(i, j, 2, 2), bold=(i + a, j + b))
for ax in axes[1]:
    ax.axis("off")
draw_grid(axes[1, 1], Y_max, "max pooling output")
draw_grid(axes[1, 2], Y_avg, "average pooling output")
fig.suptitle(f"2x2 pooling with stride 1 on a {X.shape[0]}x{X.shape[1]} input: "
             f"{Y_max.numel()} windows, a {Y_max.shape[0]}x{Y_max.shape[1]} output")
fig.tight_layout(h_pad=2.5)
plt.show()
assert Y_max.shape == (X.shape[0] - 1, X.shape[1] - 1)

# %% [markdown]
# Now PyTorch. Its layers want a batch and a channel axis, so the input becomes
# `(batch, channels, height, width)` = `(1, 1, 3, 3)`:

# %%
X4 = X.reshape(1, 1, 3, 3)
print(nn.MaxPool2d(2)(X4))

# %% [markdown]
# One number, not four. `nn.MaxPool2d(2)` moves its window by 2, not by 1:
# **in PyTorch the stride of a pooling layer defaults to the window size**, so
# windows do not overlap, and on a 3x3 input only one 2x2 window fits. (A
# convolution's stride defaults to 1; pooling is the odd one out.)
#
# ```{warning}
# `nn.MaxPool2d(2)` also strides by 2: the `stride` of `nn.MaxPool2d`, `nn.AvgPool2d`,
# `F.max_pool2d` and `F.avg_pool2d` defaults to the window size, while `nn.Conv2d`'s
# defaults to 1. For overlapping windows, or when porting code from a library with
# other defaults, pass `stride=` explicitly.
# ```
#
# The figure shows the windows that `nn.MaxPool2d(2)` really uses, on our 3x3 input
# and on a 4x4 one: they tile the input without overlapping, and a row or column that
# no window reaches (hatched) is dropped. The cell then asserts the defaults.

# %% tags=["hide-input"]
pool = nn.MaxPool2d(2)
colors = ["tab:red", "tab:orange", "tab:green", "tab:purple"]
fig, axes = plt.subplots(1, 4, figsize=(10, 3), width_ratios=[3, 1.6, 4, 2.2])
for (ax_in, ax_out), inp in zip([axes[:2], axes[2:]], [X4, torch.arange(16.0).reshape(1, 1, 4, 4)]):
    out = pool(inp)[0, 0]
    M = inp[0, 0]
    k, s = pool.kernel_size, pool.stride
    draw_grid(ax_in, M, f"nn.MaxPool2d(2) on {M.shape[0]}x{M.shape[1]}\n"
                        f"(kernel_size={k}, stride={s})")
    covered = torch.zeros_like(M, dtype=torch.bool)
    for n, (i, j) in enumerate(itertools.product(*map(range, out.shape))):
        ax_in.add_patch(Rectangle((j * s + 0.06, i * s + 0.06), k - 0.12, k - 0.12,
                                  facecolor=colors[n], alpha=0.3, edgecolor=colors[n], lw=2))
        covered[i * s:i * s + k, j * s:j * s + k] = True
        assert out[i, j] == M[i * s:i * s + k, j * s:j * s + k].max()
    for i, j in (~covered).nonzero().tolist():  # pixels no window reads
        ax_in.add_patch(Rectangle((j, i), 1, 1, fill=False, hatch="//", edgecolor="gray"))
    draw_grid(ax_out, out, f"output {out.shape[0]}x{out.shape[1]}")
    for n, (i, j) in enumerate(itertools.product(*map(range, out.shape))):
        ax_out.add_patch(Rectangle((j + 0.06, i + 0.06), 0.88, 0.88, facecolor=colors[n],
                                   alpha=0.3, edgecolor=colors[n], lw=2))
fig.suptitle("The stride of a pooling layer defaults to its window: the windows tile "
             "the input")
fig.tight_layout()
plt.show()

# %%
assert nn.MaxPool2d(2).stride == nn.AvgPool2d(2).stride == 2  # the window, not 1
assert nn.Conv2d(1, 1, 2).stride == (1, 1)
assert F.max_pool2d(X4, 2).shape == (1, 1, 1, 1)
assert F.max_pool2d(X4, 2, stride=1).shape == (1, 1, 2, 2)
print("pooling stride defaults to the window:", nn.MaxPool2d(2).stride,
      "| nn.Conv2d's default:", nn.Conv2d(1, 1, 2).stride)

# %% [markdown]
# With `stride=1` PyTorch computes what our loop does:

# %%
for mode, layer in (("max", nn.MaxPool2d(2, stride=1)), ("avg", nn.AvgPool2d(2, stride=1))):
    torch.testing.assert_close(layer(X4)[0, 0], pool2d(X, (2, 2), mode))
torch.testing.assert_close(F.max_pool2d(X4, 2, stride=1)[0, 0], pool2d(X, (2, 2)))
torch.testing.assert_close(F.avg_pool2d(X4, 2, stride=1)[0, 0], pool2d(X, (2, 2), "avg"))
print("nn.MaxPool2d, nn.AvgPool2d, F.max_pool2d and F.avg_pool2d agree with pool2d")

# %% [markdown]
# The book's `utils.pool2d` is the same loop, grown to handle padding and stride
# (with PyTorch's default stride). With `stride=1` it must give exactly our numbers,
# on random inputs and windows of several shapes:

# %%
X_rand = torch.randn(6, 7)
for size in [(1, 1), (2, 2), (3, 2), (2, 4), (6, 7)]:
    for mode in ("max", "avg"):
        assert torch.equal(pool2d(X_rand, size, mode),
                           utils.pool2d(X_rand, size, mode, stride=1))
print("pool2d == utils.pool2d(..., stride=1) for 5 window shapes, max and avg")

# %% [markdown]
# ## Padding and stride
#
# Padding and stride work as for convolutions (see
# [padding and stride](02_padding_stride.ipynb)). A 4x4 input:

# %%
X = torch.arange(16.0).reshape(1, 1, 4, 4)
print(X)
print("3x3 window, default stride 3:\n", nn.MaxPool2d(3)(X))
print("3x3 window, padding 1, stride 2:\n", nn.MaxPool2d(3, padding=1, stride=2)(X))

# %% [markdown]
# With stride 3 only one 3x3 window fits. With padding 1 and stride 2 the windows
# start at rows and columns -1 and 1 of the input, so each covers a 2x2, 2x3, 3x2 or
# 3x3 block of real elements, whose maximum is its bottom-right element. The output size along each axis
# follows the convolution formula
# $\lfloor (n + 2p - k)/s \rfloor + 1$, which `utils.conv_output_size` computes.
# Checked against PyTorch on every small case:

# %%
checked = 0
for n in range(2, 10):
    for k in (1, 2, 3, 4):
        for p in range(k // 2 + 1):
            for s in (1, 2, 3):
                if k > n + 2 * p:
                    continue
                Y = F.max_pool2d(torch.zeros(1, 1, n, n), k, stride=s, padding=p)
                assert Y.shape[-1] == utils.conv_output_size(n, k, p, s)
                checked += 1
print(f"{checked} (size, window, padding, stride) combinations agree with the formula")

# %% [markdown]
# The loop stops at `p = k // 2`: PyTorch refuses more padding than half the window,
# since a window could then lie entirely in the padding and have nothing to pool.
#
# ```{warning}
# A pooling layer's padding may be at most half its window: `nn.MaxPool2d(2, padding=2)`
# is accepted when it is built and raises a `RuntimeError` only when it is first
# called, while `nn.Conv2d` takes any padding. To keep a map's size, use `padding=k // 2`
# with an odd window `k` and `stride=1`.
# ```
#
# The first cell prints PyTorch's message (its wording may change between versions);
# the second asserts the refusal, and that a convolution accepts the same padding:

# %% tags=["nbval-ignore-output"]
caught = None
try:
    nn.MaxPool2d(2, padding=2)(X)
except RuntimeError as err:
    caught = err
print(type(caught).__name__ + ":", str(caught).splitlines()[0])

# %% tags=["hide-input"]
assert caught is not None and "pad should be at most half" in str(caught)
assert nn.Conv2d(1, 1, 2, padding=2)(X).shape == (1, 1, 7, 7)  # convolutions may pad more

# %% [markdown]
# What does the padding contain? Max pooling pads with $-\infty$, so a padded
# element never wins. Average pooling pads with zeros, and by default counts them
# in the average (`count_include_pad=True`). An input of ones shows the difference:

# %%
ones = torch.ones(1, 1, 4, 4)
max_out = F.max_pool2d(ones, 3, stride=1, padding=1)[0, 0]
avg_out = F.avg_pool2d(ones, 3, stride=1, padding=1)[0, 0]
avg_real = F.avg_pool2d(ones, 3, stride=1, padding=1, count_include_pad=False)[0, 0]
print("max pooling:\n", max_out)
print("average pooling (zeros counted):\n", avg_out)
print("average pooling, count_include_pad=False:\n", avg_real)

# %% [markdown]
# A corner window covers 4 real ones and 5 padded zeros, so its average is $4/9$;
# an edge window covers 6 real ones, $6/9$. With `count_include_pad=False` the sum
# is divided by the number of real elements instead, and the border no longer
# darkens. Checked:

# %%
assert torch.equal(max_out, torch.ones(4, 4))
real_counts = F.conv2d(ones, torch.ones(1, 1, 3, 3), padding=1)[0, 0]  # real cells per window
torch.testing.assert_close(avg_out, real_counts / 9)
torch.testing.assert_close(avg_real, torch.ones(4, 4))
print("corner counts:", real_counts[0, 0].item(), "| edge counts:", real_counts[0, 1].item())

# %% [markdown]
# `utils.pool2d` pads the same way ($-\infty$ for max, counted zeros for average),
# so it agrees with `F.max_pool2d` and `F.avg_pool2d` for any padding and stride:

# %%
X_rand = torch.randn(7, 9)
configs = [((2, 2), 0, None), ((3, 3), 1, 2), ((3, 3), 1, 1), ((2, 2), 1, 3),
           ((2, 3), (1, 1), (2, 3)), ((4, 4), 2, 1)]
for size, padding, stride in configs:
    torch_stride = size if stride is None else stride
    for mode, fn in (("max", F.max_pool2d), ("avg", F.avg_pool2d)):
        ours = utils.pool2d(X_rand, size, mode, padding=padding, stride=stride)
        theirs = fn(X_rand[None, None], size, stride=torch_stride, padding=padding)[0, 0]
        torch.testing.assert_close(ours, theirs)
print(f"utils.pool2d == F.max_pool2d / F.avg_pool2d on {len(configs)} configurations")

# %% [markdown]
# One more option you will meet in published architectures: when the windows do not
# tile the input, the formula's floor drops the leftover rows and columns.
# `ceil_mode=True` keeps them with a partial window instead:

# %%
X5 = torch.zeros(1, 1, 5, 5)
print("5x5, window 2, stride 2:", tuple(F.max_pool2d(X5, 2).shape),
      "| with ceil_mode=True:", tuple(F.max_pool2d(X5, 2, ceil_mode=True).shape))

# %% [markdown]
# ## Multiple channels
#
# A convolution sums over its input channels (see [channels](03_channels.ipynb)).
# Pooling does not: it pools every channel on its own, so there are as many output
# channels as input channels. Stack the 4x4 input with a copy of itself plus one:

# %%
X2 = torch.cat((X, X + 1), dim=1)  # (1, 2, 4, 4)
Y2 = F.max_pool2d(X2, 3, padding=1, stride=2)
print(tuple(X2.shape), "->", tuple(Y2.shape))
print(Y2)

# %% [markdown]
# The second output channel is the first plus one, as the second input channel
# was. Each output channel is what pooling that channel alone gives, for a random
# batch with five channels too; and a pooling layer has nothing to learn:

# %%
for inp in (X2, torch.randn(2, 5, 8, 8)):
    out = F.max_pool2d(inp, 3, padding=1, stride=2)
    assert out.shape[:2] == inp.shape[:2]  # same batch and channel counts
    for c in range(inp.shape[1]):
        assert torch.equal(out[:, c:c + 1],
                           F.max_pool2d(inp[:, c:c + 1], 3, padding=1, stride=2))
    print(tuple(inp.shape), "->", tuple(out.shape), "| each channel pooled on its own")
print("parameters of nn.MaxPool2d(2):", sum(p.numel() for p in nn.MaxPool2d(2).parameters()))


# %% [markdown]
# ## Gradients and receptive fields
#
# Pooling has no weights, but gradients flow through it to the layers below, and how
# they flow differs between the two kinds. Average pooling hands each element of a
# window an equal share, $1/(p_h p_w)$, of the output's gradient. Max pooling hands the
# whole gradient to the element that won and nothing to the others: for a random
# 4x4 input, the gradient of the sum of the 2x2 max-pooled outputs is 1 exactly at
# the arg-max of each window, which `return_indices=True` reports:

# %%
X_rand = torch.randn(1, 1, 4, 4, generator=torch.Generator().manual_seed(0),
                     requires_grad=True)
Y, indices = F.max_pool2d(X_rand, 2, return_indices=True)  # flat index of each arg-max
Y.sum().backward()
at_argmax = torch.zeros(16).index_fill_(0, indices.flatten(), 1.0).reshape(X_rand.shape)
print("input:\n", X_rand.detach()[0, 0], "\ngradient:\n", X_rand.grad[0, 0])
assert torch.equal(X_rand.grad, at_argmax) and X_rand.grad.sum() == Y.numel()

# %% [markdown]
# So in each training step only one element per window learns anything through a max
# pooling layer, and which one depends on the input.
#
# For the receptive field a pooling layer counts like a convolution with the same
# window and stride: an output reads $k$ neighbouring positions of the layer below.
# The formula of the [padding and stride chapter](02_padding_stride.ipynb) therefore
# covers networks that mix convolutions and pooling: with $j_{l-1}$ the product of
# the strides below layer $l$ (convolution or pooling) and $k_l$ its window,
#
# $$r_L = 1 + \sum_{l=1}^{L} (k_l - 1)\, j_{l-1} .$$
#
# To measure it with input gradients we need a gradient that reaches every input pixel
# that *can* influence the output. Average pooling gives one (with positive
# convolution weights, as in chapter 1); max pooling, as just seen, sends the gradient
# of any one input to the winners only, so for max pooling we take the union of the
# nonzero gradients over many random inputs. Three stacks: two convolution and pooling
# blocks, LeNet's layout of windows and strides, and the 7x7 convolution with stride 2
# followed by 3x3 max pooling with stride 2 that starts ResNet {cite}`he2016deep`:

# %%
def receptive_field(layers):
    """Formula: 1 + sum of (k - 1) * (product of the earlier strides), per axis."""
    r, jump = 1, 1
    for _, k, s in layers:
        r += (k - 1) * jump
        jump *= s
    return r


def make_stack(layers, pool):
    """Stacked one-channel convolutions (positive weights) and `pool` layers."""
    torch.manual_seed(0)
    net = nn.Sequential(*[nn.Conv2d(1, 1, k, stride=s, bias=False) if kind == "conv"
                          else pool(k, stride=s) for kind, k, s in layers])
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Conv2d):
                m.weight.uniform_(0.1, 1.0)  # positive: no cancellations
    return net


def influence(net, X):
    """Input pixels with a nonzero gradient of output (0, 0), as a boolean map."""
    X = X.clone().requires_grad_()
    net(X)[0, 0, 0, 0].backward()
    return X.grad[0, 0].ne(0)


stacks = {"conv 3, pool 2, conv 3, pool 2": [("conv", 3, 1), ("pool", 2, 2),
                                              ("conv", 3, 1), ("pool", 2, 2)],
          "LeNet: conv 5, pool 2, conv 5, pool 2": [("conv", 5, 1), ("pool", 2, 2),
                                                     ("conv", 5, 1), ("pool", 2, 2)],
          "ResNet stem, then conv 3, conv 3": [("conv", 7, 2), ("pool", 3, 2),
                                               ("conv", 3, 1), ("conv", 3, 1)]}
gen = torch.Generator().manual_seed(0)
print(f"{'layers':<40}{'formula':>8}{'avg pool':>10}{'max, 1 input':>14}{'max, union':>12}")
for name, layers in stacks.items():
    r = receptive_field(layers)
    avg = influence(make_stack(layers, nn.AvgPool2d), torch.zeros(1, 1, 64, 64))
    max_net = make_stack(layers, nn.MaxPool2d)
    one = influence(max_net, torch.randn(1, 1, 64, 64, generator=gen))
    union = one.clone()
    for _ in range(100):
        union |= influence(max_net, torch.randn(1, 1, 64, 64, generator=gen))
    side = lambda m: f"{m.any(dim=1).sum().item()}x{m.any(dim=0).sum().item()}"  # noqa: E731
    print(f"{name:<40}{f'{r}x{r}':>8}{side(avg):>10}{one.sum().item():>9} px"
          f"{side(union):>12}")
    assert avg[:r, :r].all() and avg.sum() == r * r  # a full r x r square
    assert torch.equal(union, avg) and one.sum() < r * r

# %% [markdown]
# ## What pooling buys: tolerance to small shifts
#
# Pooling is often said to make a network "invariant to small translations". Let us
# measure how true that is. First the mechanism, on an 8x8 image with one bright
# vertical line, pooled with 2x2 windows and stride 2. Moving the line one pixel to
# the right:

# %%
def line_image(col: int, size: int = 8) -> torch.Tensor:
    """A (1, 1, size, size) image, black except for a vertical line at column col."""
    X = torch.zeros(1, 1, size, size)
    X[..., col] = 1.0
    return X


for col in (2, 3, 4):
    print(f"line at column {col}: first row after 2x2 max pooling:",
          F.max_pool2d(line_image(col), 2)[0, 0, 0].tolist())

# %%
for col in (2, 3):
    unchanged = torch.equal(F.max_pool2d(line_image(col), 2),
                            F.max_pool2d(line_image(col + 1), 2))
    print(f"shift from column {col} to {col + 1}: pooled output unchanged? {unchanged}")

# %% [markdown]
# Columns 2 and 3 fall into the same window, so that one-pixel shift is absorbed
# completely. Columns 3 and 4 fall into different windows, so that shift moves the
# pooled line by a whole cell. Whether pooling hides a shift depends on where the
# feature sits relative to the grid of windows.
#
# Now a realistic test: all 10,000 Fashion-MNIST test images, represented by the
# responses of four fixed edge detectors (Sobel kernels for left, right, top and
# bottom edges, followed by ReLU), as a first convolution layer might compute. Each
# image is placed on a 36x36 black canvas so that a shift moves it without cutting
# anything off. For each representation $f$ we measure the relative change caused
# by shifting the image $s$ pixels to the right,
#
# $$
# \frac{\lVert f(\mathrm{shift}_s(x)) - f(x) \rVert}{\lVert f(x) \rVert},
# $$
#
# averaged over the images. 0 means the shift is invisible; $\sqrt{2} \approx 1.41$ is
# what a map of the same norm that shares no nonzero pixel with the original gives.

# %%
images, _ = utils.read_fashion_mnist("test")  # (10000, 28, 28) uint8; labels unused
canvas = F.pad(images.unsqueeze(1).float() / 255, (4, 4, 4, 4))  # (10000, 1, 36, 36)
sobel = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
K_edges = torch.stack([sobel, -sobel, sobel.T, -sobel.T]).unsqueeze(1)  # (4, 1, 3, 3)


def edges(X: torch.Tensor) -> torch.Tensor:
    """Four edge-detector maps with ReLU: (n, 1, h, w) -> (n, 4, h, w)."""
    return F.relu(F.conv2d(X, K_edges, padding=1))


def shift_right(X: torch.Tensor, s: int) -> torch.Tensor:
    """Move the content s pixels to the right, filling with zeros on the left."""
    return F.pad(X, (s, -s)) if s else X  # negative padding crops


def relative_change(A: torch.Tensor, B: torch.Tensor) -> float:
    """Mean over the batch of ||A - B|| / ||B||, each image flattened."""
    return ((A - B).flatten(1).norm(dim=1) / B.flatten(1).norm(dim=1)).mean().item()


features = {s: edges(shift_right(canvas, s)) for s in (0, 1, 2)}
print("canvas", tuple(canvas.shape), "-> edge maps", tuple(features[0].shape))

# %% [markdown]
# Besides no pooling and 2x2 pooling, the table has two controls: keeping every
# second pixel (the same shrinking as 2x2 pooling, without looking at the other
# three pixels of a window) and 2x2 max pooling with stride 1 (looking at the whole
# window, without shrinking). The last row is the overlapping 3x3 window with stride
# 2 and padding 1 that ResNet uses after its first convolution {cite}`he2016deep`.

# %%
representations = {
    "edges, no pooling": lambda Z: Z,
    "keep every 2nd pixel": lambda Z: Z[..., ::2, ::2],
    "2x2 average pooling": lambda Z: F.avg_pool2d(Z, 2),
    "2x2 max pooling": lambda Z: F.max_pool2d(Z, 2),
    "2x2 max pooling, stride 1": lambda Z: F.max_pool2d(Z, 2, stride=1),
    "3x3 max pooling, stride 2": lambda Z: F.max_pool2d(Z, 3, stride=2, padding=1),
}
change = {}
print(f"{'representation':<28}{'shape':<16}{'1-pixel shift':>14}{'2-pixel shift':>14}")
for name, f in representations.items():
    ref = f(features[0])
    change[name] = {s: relative_change(f(features[s]), ref) for s in (1, 2)}
    print(f"{name:<28}{str(tuple(ref.shape[1:])):<16}"
          f"{change[name][1]:>14.2f}{change[name][2]:>14.2f}")

# %% [markdown]
# Reading the table from the top:
#
# - Without pooling, a one-pixel shift already changes the edge maps a lot: thin
#   edges move off the pixels they occupied.
# - Keeping every second pixel shrinks the map as much as pooling does but does not
#   damp the change at all: shrinking alone buys nothing.
# - 2x2 max pooling damps it, and max pooling with stride 1, which does not shrink,
#   damps it about as much: the tolerance comes from taking the maximum over a
#   neighbourhood. Average pooling damps it too, a little less than max here.
# - A larger window (3x3) damps it more, but no row gets close to 0: pooling is only
#   partly tolerant to shifts.
# - A two-pixel shift changes every representation more than a one-pixel shift.
#
# The assertions below check each of these statements on the numbers just computed.

# %%
none, sub = change["edges, no pooling"], change["keep every 2nd pixel"]
max2, max2s1 = change["2x2 max pooling"], change["2x2 max pooling, stride 1"]
avg2, max3 = change["2x2 average pooling"], change["3x3 max pooling, stride 2"]
assert sub[1] > 0.95 * none[1]                         # subsampling does not help
assert max2[1] < 0.85 * none[1] and avg2[1] < none[1]  # pooling damps the change
assert abs(max2s1[1] - max2[1]) < 0.05                 # with or without shrinking
assert max2[1] < avg2[1]                               # max damps more than average
assert max3[1] < max2[1] and max3[1] > 0.2             # bigger window: more, not all
assert all(c[2] > c[1] for c in change.values())       # 2 pixels: more change

# %% [markdown]
# Why does a two-pixel shift still change the 2x2-pooled map so much? Because the
# pooled map has moved: shifting the image by the stride, 2 pixels, moves the pooled
# map by exactly one cell. Compare the pooled maps after shifting them back by whole
# cells:

# %%
P = {s: F.max_pool2d(features[s], 2) for s in (0, 1, 2)}  # (10000, 4, 18, 18)
for s in (1, 2):
    realigned = [relative_change(shift_right(P[s], -k), P[0]) for k in (0, 1)]
    print(f"{s}-pixel shift: change after moving the pooled map back by 0 / 1 cells: "
          f"{realigned[0]:.2f} / {realigned[1]:.2f}")

# %%
torch.testing.assert_close(features[2], shift_right(features[0], 2))
torch.testing.assert_close(P[2], shift_right(P[0], 1))
print("2-pixel shift of the image == 2-pixel shift of the edge maps "
      "== 1-cell shift of the pooled map")

# %% [markdown]
# A two-pixel shift is undone exactly by moving the pooled map back one cell: the
# pooled map is *equivariant* to shifts by multiples of the stride, just as a
# convolution is equivariant to all shifts. A one-pixel shift cannot be undone by
# moving the pooled map in whole cells, so what remains is the partial tolerance
# measured in the table. The honest summary: one pooling layer damps, but does not
# remove, the effect of shifts smaller than its window, and passes shifts by its
# stride on as shifts of the pooled map. Larger windows damp more (the 3x3 row);
# networks also stack several pooling stages, and many end with global average
# pooling, which ignores position altogether (its section below).
#
# ## Seeing it: pooling a photograph
#
# Pooling a colour photograph shows the character of each kind. The image is
# matplotlib's sample portrait of Grace Hopper, with three channels (red, green,
# blue), each pooled on its own with 8x8 windows:

# %%
with cbook.get_sample_data("grace_hopper.jpg") as file:
    photo = torch.from_numpy(mpimg.imread(file, format="jpg").copy())  # (h, w, 3) uint8
photo = photo.permute(2, 0, 1).float().div(255).unsqueeze(0)  # (1, 3, h, w) in [0, 1]
pooled = {"max pooling 8x8": F.max_pool2d(photo, 8),
          "average pooling 8x8": F.avg_pool2d(photo, 8)}
print("photo", tuple(photo.shape), {k: tuple(v.shape) for k, v in pooled.items()})

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 3, figsize=(9, 4), layout="constrained")
for ax, (title, img) in zip(axes, [("original", photo), *pooled.items()]):
    ax.imshow(img[0].permute(1, 2, 0).clamp(0, 1).numpy())
    ax.set_title(f"{title}\n{img.shape[-2]}x{img.shape[-1]} pixels", fontsize=10)
    ax.axis("off")
fig.suptitle("The same photograph after 8x8 pooling (each channel separately)")
plt.show()

# %% [markdown]
# Both pooled images have 8 times fewer rows and columns and still 3 channels.
# Average pooling is a blur: each block is the mean colour of its 64 pixels. Max
# pooling keeps the brightest value of each channel in each block, so bright
# details (the stars, the white collar) grow and thin dark lines (the frames of the
# glasses) disappear; the image gets lighter overall. Since every channel is pooled on its own,
# the red, green and blue maxima of a block may come from different pixels. The
# effect on brightness, checked:

# %%
mean_brightness = {name: img.mean().item() for name, img in
                   [("original", photo), *pooled.items()]}
assert mean_brightness["max pooling 8x8"] > mean_brightness["original"]
torch.testing.assert_close(mean_brightness["average pooling 8x8"],
                           mean_brightness["original"], rtol=1e-3, atol=0)
print({name: round(value, 2) for name, value in mean_brightness.items()})

# %% [markdown]
# ## Upsampling: going back up in size
#
# Sometimes a network must go the other way, from a coarse map back to a fine one:
# for example to output a label for every pixel. `F.interpolate` enlarges a map
# with a fixed rule: `"nearest"` repeats each value, `"bilinear"` interpolates
# linearly between neighbours:

# %%
Y = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
up_nearest = F.interpolate(Y, scale_factor=2, mode="nearest")
up_bilinear = F.interpolate(Y, scale_factor=2, mode="bilinear", align_corners=False)
print(tuple(Y.shape), "->", tuple(up_nearest.shape))
print("nearest:\n", up_nearest[0, 0])
print("bilinear:\n", up_bilinear[0, 0])

# %% [markdown]
# Upsampling restores the size, not the information. Pooling the nearest-neighbour
# upsampled map gives back `Y` exactly, but pooling first and upsampling afterwards
# does not give back the input: three of every four numbers are gone.

# %%
assert torch.equal(F.max_pool2d(up_nearest, 2), Y)
assert torch.equal(F.avg_pool2d(up_nearest, 2), Y)
X_rand = torch.randn(1, 1, 4, 4)
X_back = F.interpolate(F.max_pool2d(X_rand, 2), scale_factor=2, mode="nearest")
print("shape restored:", X_back.shape == X_rand.shape,
      "| values restored:", torch.equal(X_back, X_rand))

# %% [markdown]
# The `resize` option of `utils.load_fashion_mnist` uses exactly this bilinear call
# to enlarge the 28x28 images. A learned alternative, the transposed convolution
# (`nn.ConvTranspose2d`), is explained in {cite}`dumoulin2016guide`.
#
# ## Pooling in a network
#
# In a classic CNN, pooling follows each convolution block. LeNet
# ({cite}`lecun1998gradient`, [next chapter](05_lenet.ipynb)) uses 2x2 average
# pooling with stride 2. Traced on one Fashion-MNIST-sized input, each pooling
# layer halves height and width, keeps the channels, and adds no parameters:

# %%
print(utils.layer_summary(utils.lenet(), torch.zeros(1, 1, 28, 28)))

# %% [markdown]
# LeNet's last pooling layer leaves a $16 \times 5 \times 5$ map, which a linear layer
# with $16 \cdot 5 \cdot 5$ inputs classifies. That ties the network to one input
# size: a 32x32 image leaves a $16 \times 6 \times 6$ map, and the linear layer
# refuses it.

# %%
caught = None
try:
    utils.lenet()(torch.zeros(1, 1, 32, 32))
except RuntimeError as err:
    caught = err
assert caught is not None and "cannot be multiplied" in str(caught)
print(type(caught).__name__ + ":", str(caught).splitlines()[0])

# %% [markdown]
# ## Global average pooling
#
# *Global average pooling* (GAP) takes the window as large as the whole map: it
# averages each channel over all its positions and leaves one number per channel,
# whatever the height and width. `nn.AdaptiveAvgPool2d(1)` computes it (the argument
# is the output size, $1 \times 1$; the layer picks the windows to get there). It is
# the mean over the two spatial axes, and average pooling with a window the size of
# the map:

# %%
gap = nn.AdaptiveAvgPool2d(1)
for shape in [(2, 16, 5, 5), (2, 16, 6, 6), (2, 16, 7, 9)]:
    Z = torch.randn(shape)
    torch.testing.assert_close(gap(Z), Z.mean(dim=(2, 3), keepdim=True))
    torch.testing.assert_close(gap(Z), F.avg_pool2d(Z, kernel_size=Z.shape[-2:]))
    print(tuple(Z.shape), "->", tuple(gap(Z).shape))

# %% [markdown]
# Put GAP between the last convolution and the classifier and the classifier always
# sees one number per channel. Here is LeNet with its flattening replaced by GAP (and
# ReLU and max pooling, as in `utils.lenet_modern`). The same network accepts
# Fashion-MNIST's 28x28 images and 32x32 ones, and gives ten scores for each:

# %%
def lenet_gap() -> nn.Sequential:
    """LeNet's convolutions, then global average pooling and one linear layer."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


net = lenet_gap()
for size in (28, 32):
    print(f"--- {size}x{size} input")
    print(utils.layer_summary(net, torch.zeros(1, 1, size, size)))

# %%
outputs = {size: net(torch.randn(2, 1, size, size)) for size in (28, 32, 40)}
assert all(out.shape == (2, 10) for out in outputs.values())
print({size: tuple(out.shape) for size, out in outputs.items()})

# %% [markdown]
# The traces differ in the feature maps ($5 \times 5$ against $6 \times 6$) and agree
# from GAP on, so the same weights classify both sizes. Two more things come with it.
# The classifier is small: its linear layer reads 16 numbers where LeNet's first
# linear layer reads 400, so each of its units has 25 times fewer weights. And position is averaged away: GAP returns the same numbers however
# the positions of a map are rearranged, so after GAP a shift that keeps the content
# inside the map changes nothing, the end point of the partial shift tolerance
# measured above. Chapters [7](07_resnet.ipynb) and [8](08_classic_networks.ipynb)
# end their networks this way; the [exercises](../exercises/04_pooling.ipynb)
# (question 9) compare the heads.

# %%
Z = torch.randn(2, 16, 5, 5)
perm = torch.randperm(25, generator=torch.Generator().manual_seed(0))
torch.testing.assert_close(gap(Z.flatten(2)[..., perm].reshape(Z.shape)), gap(Z))
head_weights = {"LeNet": utils.lenet()[-5].weight.shape, "GAP": net[-1].weight.shape}
print("first linear layer's weight:", {k: tuple(v) for k, v in head_weights.items()})
assert head_weights["LeNet"][1] == 25 * head_weights["GAP"][1]

# %% [markdown]
# ## Summary
#
# - Pooling replaces each window by its maximum or mean: no parameters, one output
#   channel per input channel. Our loop, `utils.pool2d`, `nn.MaxPool2d`/`nn.AvgPool2d`
#   and `F.max_pool2d`/`F.avg_pool2d` give the same numbers.
# - Output size follows the convolution formula; PyTorch's pooling stride defaults
#   to the window size, and padding may be at most half the window. Max pooling pads
#   with $-\infty$, average pooling with zeros that count (`count_include_pad`).
# - On Fashion-MNIST edge maps, 2x2 max pooling damps the effect of a one-pixel shift
#   but does not remove it; subsampling without pooling does not damp it; a shift
#   by the stride moves the pooled map by exactly one cell.
# - Max pooling passes the gradient only to each window's arg-max; for the receptive
#   field a pooling layer counts like a convolution with its window and stride.
# - `F.interpolate` undoes the change of size, never the loss of detail.
# - Global average pooling (`nn.AdaptiveAvgPool2d(1)`) leaves one number per channel,
#   so the same network classifies 28x28 and 32x32 inputs.
#
# ## Exercises
#
# Worked answers, with code, are in the
# [exercises notebook](../exercises/04_pooling.ipynb).
#
# 1. Implement average pooling as a convolution.
# 2. Prove that max pooling cannot be implemented by a convolution alone.
# 3. Max pooling can be built from ReLUs, since $\max(a, b) = a + \mathrm{ReLU}(b - a)$.
#    Build 2x2 max pooling from convolutions and ReLUs. How many layers and channels
#    does 3x3 max pooling need?
# 4. What does a pooling layer cost, for a $c \times h \times w$ input, a
#    $p_h \times p_w$ window, padding $(p_h, p_w)$ and stride $(s_h, s_w)$?
# 5. Why do you expect max pooling and average pooling to work differently?
# 6. Do we need a separate minimum pooling layer? Can you replace it with another
#    operation?
# 7. Between average and max pooling one could use a softmax-weighted average. Why
#    is it not popular?
# 8. Do we still need pooling when convolutions can have a stride?
# 9. What does global average pooling compute, and what does it save?
