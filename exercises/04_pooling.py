# %% [markdown]
# # Pooling: Exercises
#
# Worked answers to the exercises of the [pooling chapter](../chapters/04_pooling.ipynb).
# Every answer runs, and every claim that can be checked is checked by an `assert`.
# Pooling looks too simple to hide surprises, yet the questions below lead to a
# few: max pooling is a small ReLU network in disguise, a strided convolution is
# subsampling in disguise, and the softmax "between max and average" has a catch.
#
# **What you'll practise**
#
# - writing average pooling as a convolution, and proving max pooling cannot be one;
# - building max pooling out of convolutions and ReLUs, and counting what it takes;
# - counting the cost of pooling, checked against an instrumented loop;
# - designing small experiments whose printed tables carry the answer.

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

import torch
from torch import nn
from torch.nn import functional as F

import utils

device = utils.try_gpu()
profile = utils.get_profile()
utils.seed_everything(0)
torch.set_printoptions(precision=4)


# %% [markdown]
# ## 1. Average pooling is a convolution
#
# > Implement average pooling as a convolution.
#
# :::{admonition} Answer
# :class: dropdown
# A $k_h \times k_w$ average is a weighted sum with every weight equal to
# $1/(k_h k_w)$: a convolution with a fixed kernel. Pooling treats every channel on
# its own, so the convolution must not mix channels: one kernel per channel, which
# is what `groups=c` does (each output channel sees only its own input channel).
# Stride and padding carry over unchanged; zero padding matches PyTorch's default
# `count_include_pad=True`.
# :::

# %% tags=["hide-input"]
def avg_pool_as_conv(X: torch.Tensor, kernel_size: int | tuple[int, int],
                     stride: int | tuple[int, int] | None = None,
                     padding: int | tuple[int, int] = 0) -> torch.Tensor:
    """Average pooling of X (batch, channels, h, w) as a grouped convolution."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    c = X.shape[1]
    K = torch.full((c, 1, kh, kw), 1.0 / (kh * kw))  # one fixed kernel per channel
    stride = (kh, kw) if stride is None else stride   # PyTorch's pooling default
    return F.conv2d(X, K, stride=stride, padding=padding, groups=c)


X = torch.randn(2, 3, 9, 10)
configs = [(2, None, 0), (3, 1, 0), (3, 2, 1), ((2, 3), (1, 2), (1, 1)), (4, 3, 2)]
for k, s, p in configs:
    torch.testing.assert_close(avg_pool_as_conv(X, k, s, p),
                               F.avg_pool2d(X, k, stride=s, padding=p))
print(f"avg_pool_as_conv == F.avg_pool2d on {len(configs)} (window, stride, padding) "
      "configurations")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The same thing as one ordinary `nn.Conv2d` (no groups) needs a $c \times c$ block
# of kernels: the averaging kernel on the diagonal (channel $i$ to channel $i$) and
# zeros elsewhere. It works, but most of its weights are zero:
# :::

# %% tags=["hide-input"]
c, k = X.shape[1], 2
conv = nn.Conv2d(c, c, kernel_size=k, stride=k, bias=False)
with torch.no_grad():
    conv.weight.copy_(torch.eye(c)[:, :, None, None] * torch.full((k, k), 1 / k**2))
torch.testing.assert_close(conv(X), F.avg_pool2d(X, k))
nonzero = int((conv.weight != 0).sum())
print(f"dense kernel: {conv.weight.numel()} weights, {nonzero} of them nonzero")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# With `count_include_pad=False` the divisor at the border is the number of real
# elements, which changes from window to window, so no single kernel does it. It is
# still two convolutions: a sum divided by a count (the convolution of an all-ones
# image).
# :::

# %% tags=["hide-input"]
k, s, p = 3, 2, 1
sums = avg_pool_as_conv(X, k, s, p) * k * k
counts = avg_pool_as_conv(torch.ones_like(X), k, s, p) * k * k  # real elements per window
torch.testing.assert_close(sums / counts,
                           F.avg_pool2d(X, k, s, p, count_include_pad=False))
print("window sizes at the top-left corner:", counts[0, 0, :2, :2].round().tolist())


# %% [markdown]
# ## 2. Max pooling is not a convolution
#
# > Prove that max pooling cannot be implemented by a convolution alone.
#
# :::{admonition} Answer
# :class: dropdown
# A convolution with any kernel, stride, padding and bias $b$ is *affine*:
# $f(x) = Wx + b$ for some matrix $W$. Hence, for all inputs $x$ and $y$,
#
# $$ f(x + y) + f(0) = f(x) + f(y). $$
#
# The same holds for any stack of convolutions without nonlinearities between them,
# since a composition of affine maps is affine. Max pooling breaks this identity on
# a single 2x2 window: for $x$ with a 1 in the top-left corner and $y$ with a 1 in
# the top-right corner, $\max(x + y) + \max(0) = 1 + 0$ but
# $\max(x) + \max(y) = 2$. So no convolution, or stack of convolutions, equals max
# pooling. The identity checked for random convolutions, and the counterexample:
# :::

# %% tags=["hide-input"]
def affine_residual(f, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """f(x + y) + f(0) - f(x) - f(y): zero for every affine f."""
    return f(x + y) + f(torch.zeros_like(x)) - f(x) - f(y)


stack = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 1, 2, stride=2))
x, y = torch.randn(1, 1, 6, 6), torch.randn(1, 1, 6, 6)
with torch.no_grad():
    residual = affine_residual(stack, x, y).abs().max().item()
print("two stacked convolutions: largest |residual| below 1e-5?", residual < 1e-5)
assert residual < 1e-5  # 0 up to rounding, whatever the weights

x = torch.tensor([[1.0, 0.0], [0.0, 0.0]]).reshape(1, 1, 2, 2)
y = torch.tensor([[0.0, 1.0], [0.0, 0.0]]).reshape(1, 1, 2, 2)
residual = affine_residual(lambda t: F.max_pool2d(t, 2), x, y).item()
print("max pooling: f(x + y) + f(0) - f(x) - f(y) =", residual)
assert residual != 0

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Max pooling also fails homogeneity, $f(-x) - f(0) = -(f(x) - f(0))$, which every
# affine map satisfies: $\max(-x) = 0$ but $-\max(x) = -1$.
#
# How far off is the *best* convolution? Fit the affine map that comes closest to
# 2x2 max pooling on random inputs by least squares: its error does not vanish.
# :::

# %% tags=["hide-input"]
gen = torch.Generator().manual_seed(0)
windows = torch.randn(20_000, 4, generator=gen, dtype=torch.float64)  # 2x2 windows
target = windows.max(dim=1).values
A = torch.cat([windows, torch.ones(20_000, 1, dtype=torch.float64)], dim=1)  # w and b
coef = torch.linalg.lstsq(A, target[:, None]).solution[:, 0]
rms = (A @ coef - target).pow(2).mean().sqrt().item()
print("best affine fit: weights", [round(v, 2) for v in coef[:4].tolist()],
      "bias", round(coef[4].item(), 2), "| RMS error", round(rms, 2),
      "| std of the target", round(target.std().item(), 2))
assert rms > 0.3 * target.std().item()

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The best affine stand-in is (close to) the average plus a constant, and it misses
# max pooling by a good fraction of the target's own spread.
# :::
#
# ## 3. Max pooling from convolutions and ReLUs
#
# > Max pooling can be accomplished with ReLUs: $\max(a, b) = a + \mathrm{ReLU}(b - a)$.
# > Use this to implement max pooling by convolutions and ReLU layers. How many
# > channels and layers do you need for a 3x3 window?
#
# :::{admonition} Answer
# :class: dropdown
# If $b > a$ the ReLU adds the difference, otherwise nothing. One more identity
# lets a value pass through a ReLU layer unchanged: $a = \mathrm{ReLU}(a) - \mathrm{ReLU}(-a)$.
# So with three channels, $a$, $-a$ and $b - a$, one ReLU layer and a sum compute
# $\max(a, b)$:
# :::

# %% tags=["hide-input"]
a, b = torch.randn(1000), torch.randn(1000)
torch.testing.assert_close(a + F.relu(b - a), torch.maximum(a, b))
torch.testing.assert_close(F.relu(a) - F.relu(-a) + F.relu(b - a), torch.maximum(a, b))
print("max(a, b) == a + ReLU(b - a) == ReLU(a) - ReLU(-a) + ReLU(b - a)")


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The maximum of a window is a knockout tournament. In each round the candidates are
# paired; each pair becomes three channels (an odd one out becomes two, $u$ and
# $-u$, so that it survives the ReLU); a ReLU; and the next round's candidates are
# sums of those channels. Each round halves the number of candidates, so a window of
# $n$ elements needs $\lceil \log_2 n \rceil$ ReLU layers. The first convolution
# looks at the window itself (kernel = window, with the pooling stride); every later
# one is a 1x1 convolution that combines one round's ReLU outputs into candidates and
# splits them into the next round's channels in a single step. `groups=channels`
# runs the same small network on every input channel, as pooling does.
#
# When the input is known to be nonnegative (it usually comes out of a ReLU), a
# candidate passes a ReLU unchanged, so the $-u$ channels can be dropped:
# $\max(u, v) = \mathrm{ReLU}(u) + \mathrm{ReLU}(v - u)$.
# :::

# %% tags=["hide-input"]
def tournament_round(m: int, nonnegative: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """One round of a max tournament among m candidates.

    Returns P (channels, m): the channels as linear functions of the candidates, and
    Q (ceil(m / 2), channels): the next round's candidates as sums of ReLU(channels).
    """
    eye = torch.eye(m)
    P, Q = [], []
    for i in range(0, m, 2):
        u = eye[i]
        if i + 1 < m:  # a pair (u, v): max(u, v) = ReLU(u) - ReLU(-u) + ReLU(v - u)
            v = eye[i + 1]
            P += [u, v - u] if nonnegative else [u, -u, v - u]
            Q.append(torch.tensor([[1.0, 1.0]] if nonnegative else [[1.0, -1.0, 1.0]]))
        else:  # the odd one out passes: u = ReLU(u) - ReLU(-u)
            P += [u] if nonnegative else [u, -u]
            Q.append(torch.tensor([[1.0]] if nonnegative else [[1.0, -1.0]]))
    return torch.stack(P), torch.block_diag(*Q)


def fixed_conv(W: torch.Tensor, channels: int, **kwargs) -> nn.Conv2d:
    """A bias-free convolution with weights W (c_out, c_in, kh, kw), run per channel."""
    c_out, c_in, kh, kw = W.shape
    conv = nn.Conv2d(c_in * channels, c_out * channels, (kh, kw), groups=channels,
                     bias=False, **kwargs)
    conv.weight.data.copy_(W.repeat(channels, 1, 1, 1))
    conv.weight.requires_grad_(False)
    return conv


def max_pool_from_relu(kernel_size: int | tuple[int, int],
                       stride: int | tuple[int, int] | None = None,
                       padding: int = 0, channels: int = 1,
                       nonnegative: bool = False) -> nn.Sequential:
    """Max pooling as convolutions and ReLUs only (a knockout tournament)."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    stride = (kh, kw) if stride is None else stride
    P, Q = tournament_round(kh * kw, nonnegative)  # round 1 reads the window
    layers = [fixed_conv(P.reshape(-1, 1, kh, kw), channels, stride=stride,
                         padding=padding), nn.ReLU()]
    while Q.shape[0] > 1:  # more than one candidate left: play another round
        P, Q_next = tournament_round(Q.shape[0], nonnegative)
        layers += [fixed_conv((P @ Q)[:, :, None, None], channels), nn.ReLU()]
        Q = Q_next
    layers.append(fixed_conv(Q[:, :, None, None], channels))  # read off the winner
    return nn.Sequential(*layers)


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# For a 2x2 window with elements $a, b$ (top row) and $c, d$ (bottom row), the six
# kernels of the first layer, flattened, are $a$, $-a$, $b - a$, $c$, $-c$, $d - c$:
# :::

# %% tags=["hide-input"]
first = max_pool_from_relu(2)[0].weight[:, 0]  # (6, 2, 2)
print(first.reshape(6, 4).int())

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# It equals `F.max_pool2d`, for 2x2 and 3x3 windows with several strides, on random
# inputs with three channels:
# :::

# %% tags=["hide-input"]
X = torch.randn(2, 3, 9, 9)
for k, s in [(2, None), (2, 1), (3, 1), (3, 2), (3, None), ((2, 3), (1, 2))]:
    torch.testing.assert_close(max_pool_from_relu(k, s, channels=3)(X),
                               F.max_pool2d(X, k, stride=s))
    torch.testing.assert_close(max_pool_from_relu(k, s, channels=3, nonnegative=True)(F.relu(X)),
                               F.max_pool2d(F.relu(X), k, stride=s))
print("convolutions + ReLUs == F.max_pool2d for 6 windows/strides (signed and nonnegative)")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# One caveat: convolutions pad with zeros, max pooling with $-\infty$. With padding,
# the two agree only when the input is nonnegative (a zero then never beats a real
# element), the usual case after a ReLU:
# :::

# %% tags=["hide-input"]
net = max_pool_from_relu(3, 2, padding=1, channels=3)
same_nonneg = torch.allclose(net(F.relu(X)), F.max_pool2d(F.relu(X), 3, 2, padding=1))
same_signed = torch.allclose(net(X), F.max_pool2d(X, 3, 2, padding=1))
print(f"3x3, stride 2, padding 1: equal on nonnegative input? {same_nonneg}; "
      f"on signed input? {same_signed}")
assert same_nonneg and not same_signed

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# What each window costs in layers and channels (per input channel; the network
# repeats this for every channel):
# :::

# %% tags=["hide-input"]
print(f"{'window':<8}{'input':<13}{'ReLU layers':>12}{'convs':>7}   hidden channels")
for k in (2, 3, 4, 5):
    for nonneg in (False, True):
        net = max_pool_from_relu(k, nonnegative=nonneg)
        convs = [m for m in net if isinstance(m, nn.Conv2d)]
        relus = sum(isinstance(m, nn.ReLU) for m in net)
        assert relus == math.ceil(math.log2(k * k))
        hidden = [m.out_channels for m in convs[:-1]]
        print(f"{f'{k}x{k}':<8}{'nonnegative' if nonneg else 'any sign':<13}"
              f"{relus:>12}{len(convs):>7}   {hidden}")


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The 3x3 rows answer the question: the ReLU layers, convolutions and hidden
# channels (per input channel) that this construction needs, for inputs of any sign
# and for nonnegative ones. The assert in the loop checks the depth rule
# $\lceil \log_2 n \rceil$ for every window. The tournament is the natural
# construction, not necessarily the smallest one; we make no claim that fewer
# layers or channels are impossible. As a way to compute max pooling it is a
# curiosity: a dedicated kernel needs $n - 1$ comparisons per window and no
# multiplications at all.
# :::
#
# ## 4. The cost of pooling
#
# > What is the computational cost of a pooling layer with input $c \times h \times w$,
# > window $p_h \times p_w$, padding $(p_h, p_w)$ and stride $(s_h, s_w)$?
#
# :::{admonition} Answer
# :class: dropdown
# First, padding as large as the window is not allowed in PyTorch (at most half the
# window, see the chapter), because windows made only of padding would have nothing
# to pool. So take any legal padding $(q_h, q_w)$. The output has
# $h' = \lfloor (h + 2q_h - p_h)/s_h \rfloor + 1$ rows and
# $w' = \lfloor (w + 2q_w - p_w)/s_w \rfloor + 1$ columns per channel. Each output
# element reduces $p_h p_w$ numbers:
#
# - max pooling: $p_h p_w - 1$ comparisons, so $c\, h' w' (p_h p_w - 1)$ in total;
# - average pooling: $p_h p_w - 1$ additions and one division per output, so
#   $c\, h' w' (p_h p_w - 1)$ additions and $c\, h' w'$ divisions.
#
# Checked by counting, with a loop over an explicitly padded input that tallies every
# comparison and addition it makes:
# :::

# %% tags=["hide-input"]
def pool_with_counts(X: torch.Tensor, k: tuple[int, int], padding: tuple[int, int],
                     stride: tuple[int, int], mode: str) -> tuple[torch.Tensor, dict]:
    """Pool X (c, h, w) with loops and count the operations."""
    fill = float("-inf") if mode == "max" else 0.0
    Xp = F.pad(X, (padding[1], padding[1], padding[0], padding[0]), value=fill)
    c, H, W = Xp.shape
    rows, cols = (H - k[0]) // stride[0] + 1, (W - k[1]) // stride[1] + 1
    data = Xp.tolist()
    Y = torch.zeros(c, rows, cols)
    ops = {"compare": 0, "add": 0, "divide": 0}
    for ch in range(c):
        for i in range(rows):
            for j in range(cols):
                values = [data[ch][i * stride[0] + a][j * stride[1] + b]
                          for a in range(k[0]) for b in range(k[1])]
                acc = values[0]
                for v in values[1:]:
                    if mode == "max":
                        ops["compare"] += 1
                        acc = v if v > acc else acc
                    else:
                        ops["add"] += 1
                        acc += v
                if mode == "avg":
                    ops["divide"] += 1
                    acc /= len(values)
                Y[ch, i, j] = acc
    return Y, ops


def pooling_cost(c, h, w, k, padding, stride):
    """The formula: (comparisons or additions, divisions for average pooling)."""
    rows = (h + 2 * padding[0] - k[0]) // stride[0] + 1
    cols = (w + 2 * padding[1] - k[1]) // stride[1] + 1
    return c * rows * cols * (k[0] * k[1] - 1), c * rows * cols


X = torch.randn(3, 7, 8)
print(f"{'window':<8}{'padding':<9}{'stride':<8}{'compare':>8}{'add':>6}{'divide':>7}{'formula':>9}")
for k, q, s in [((2, 2), (0, 0), (2, 2)), ((3, 3), (1, 1), (1, 1)), ((3, 3), (1, 1), (2, 2)),
                ((2, 3), (1, 1), (2, 3)), ((3, 2), (0, 1), (1, 2))]:
    Y_max, ops_max = pool_with_counts(X, k, q, s, "max")
    Y_avg, ops_avg = pool_with_counts(X, k, q, s, "avg")
    torch.testing.assert_close(Y_max, F.max_pool2d(X[None], k, s, q)[0])
    torch.testing.assert_close(Y_avg, F.avg_pool2d(X[None], k, s, q)[0])
    reduce_ops, divisions = pooling_cost(*X.shape, k, q, s)
    assert ops_max["compare"] == ops_avg["add"] == reduce_ops
    assert ops_avg["divide"] == divisions
    print(f"{str(k):<8}{str(q):<9}{str(s):<8}{ops_max['compare']:>8}{ops_avg['add']:>6}"
          f"{ops_avg['divide']:>7}{reduce_ops:>9}")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# (This counts the padded elements too, as a padded tensor would; an implementation
# that skips the padding does a little less.) For a large map $h' \approx h/s_h$ and
# $w' \approx w/s_w$, so the count is about $c\,h\,w\,(p_h p_w - 1)/(s_h s_w)$. Compared
# with a 3x3 convolution from $c$ to $c$ channels with the same output size, which
# needs $9c$ multiply-adds per output element instead of 8 comparisons, 3x3 max
# pooling is $9c/8$ times cheaper:
# :::

# %% tags=["hide-input"]
c, h, w = 64, 56, 56
pool_ops, _ = pooling_cost(c, h, w, (3, 3), (1, 1), (2, 2))
approx = c * h * w * (9 - 1) / (2 * 2)
conv_macs = c * c * 9 * utils.conv_output_size(h, 3, 1, 2) ** 2  # same output size
print(f"3x3/2 max pooling of {c}x{h}x{w}: {pool_ops:,} comparisons "
      f"(approximation {approx:,.0f}); a 3x3/2 convolution {c}->{c}: "
      f"{conv_macs:,} multiply-adds, {conv_macs / pool_ops:.0f}x more")
assert conv_macs * 8 == pool_ops * 9 * c

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Overlapping windows (stride smaller than the window) recompute the same comparisons.
# Max pooling is *separable*: the maximum over a window is the maximum over its rows
# of the maximum over each row. Pooling rows first, then columns, gives the same
# result with fewer comparisons, $(p_w - 1)$ per row-pass output and $(p_h - 1)$ per
# column-pass output:
# :::

# %% tags=["hide-input"]
X = torch.randn(2, 8, 20, 20)
for k, s in [(3, 1), (3, 2), (5, 1)]:
    rows_first = F.max_pool2d(X, (1, k), stride=(1, s))  # max along each row
    separable = F.max_pool2d(rows_first, (k, 1), stride=(s, 1))
    assert torch.equal(separable, F.max_pool2d(X, k, stride=s))
    c, h, w = X.shape[1:]
    direct, _ = pooling_cost(c, h, w, (k, k), (0, 0), (s, s))
    split = (pooling_cost(c, h, w, (1, k), (0, 0), (1, s))[0]
             + pooling_cost(c, rows_first.shape[2], rows_first.shape[3], (k, 1), (0, 0), (s, 1))[0])
    print(f"{k}x{k} window, stride {s}: direct {direct:,} comparisons, "
          f"rows then columns {split:,} ({split / direct:.2f} of direct)")


# %% [markdown]
# ## 5. Why max and average pooling behave differently
#
# > Why do you expect max pooling and average pooling to work differently?
#
# :::{admonition} Answer
# :class: dropdown
# They answer different questions about a window. Max pooling asks "is the feature
# present *anywhere* here?", average pooling "how much of it is here *overall*?".
# An experiment makes this concrete. A window of $k \times k$ noisy feature
# responses (standard normal) either contains a signal or not, and we ask how well
# the pooled value separates the two cases, measured by
# $d' = (\mu_\text{signal} - \mu_\text{noise}) / \sigma$, the gap between the mean
# pooled values in units of their spread. Two kinds of signal:
#
# - *sparse*: one response in the window is 3 higher (a small, strong feature);
# - *diffuse*: every response is 0.5 higher (a weak feature spread over the window).
# :::

# %% tags=["hide-input"]
def d_prime(signal: torch.Tensor, noise: torch.Tensor) -> float:
    """Separation of two samples: difference of means over the pooled std."""
    return ((signal.mean() - noise.mean()) / ((signal.var() + noise.var()) / 2).sqrt()).item()


gen = torch.Generator().manual_seed(0)
n = 20_000
separation = {}
print(f"{'window':<8}{'sparse: max':>12}{'sparse: avg':>12}"
      f"{'diffuse: max':>13}{'diffuse: avg':>13}")
for k in (2, 4, 8):
    def sample() -> torch.Tensor:
        return torch.randn(n, k * k, generator=gen, dtype=torch.float64)
    noise, sparse, diffuse = sample(), sample(), sample() + 0.5
    sparse[:, 0] += 3.0  # max and mean ignore where in the window it sits
    separation[k] = {(sig, name): d_prime(fn(x), fn(noise))
                     for sig, x in (("sparse", sparse), ("diffuse", diffuse))
                     for name, fn in (("max", lambda t: t.max(1).values),
                                      ("avg", lambda t: t.mean(1)))}
    row = separation[k]
    print(f"{f'{k}x{k}':<8}{row['sparse', 'max']:>12.2f}{row['sparse', 'avg']:>12.2f}"
          f"{row['diffuse', 'max']:>13.2f}{row['diffuse', 'avg']:>13.2f}")

# %% tags=["hide-input"]
for row in separation.values():
    assert row["sparse", "max"] > row["sparse", "avg"]    # max finds the needle
    assert row["diffuse", "avg"] >= row["diffuse", "max"]  # average measures the amount
assert separation[8]["sparse", "avg"] < separation[2]["sparse", "avg"]  # diluted by area
assert separation[8]["diffuse", "avg"] > separation[2]["diffuse", "avg"]  # noise averages out

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The table shows both sides. Averaging dilutes a single strong response by the
# window's area, so the sparse signal fades as the window grows, while max pooling
# keeps it. For the diffuse signal the roles swap: averaging more responses averages
# the noise away, and the separation grows with the window, while the maximum of
# noisy values only shifts by the signal. That is why max pooling suits detectors of
# local features (edges, parts) and average pooling suits summarising a whole map,
# as global average pooling (exercise 9) does at the end of modern networks.
#
# They also differ in how they learn. The gradient of max pooling flows only to the
# element that won; average pooling spreads it evenly over the window:
# :::

# %% tags=["hide-input"]
window = torch.tensor([[1.0, 3.0], [2.0, 0.0]]).reshape(1, 1, 2, 2)
for name, pool in (("max", F.max_pool2d), ("avg", F.avg_pool2d)):
    x = window.clone().requires_grad_()
    pool(x, 2).sum().backward()
    print(f"{name} pooling, gradient w.r.t. the window:", x.grad[0, 0].tolist())


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# So with max pooling only one unit per window gets a learning signal in each step,
# and which one depends on the input. And max pooling commutes with any
# nondecreasing activation (exercise 6). Average pooling is linear, but that does not
# make it commute with every linear map. It commutes with maps that mix the channels
# of each pixel with the same weights at every pixel, such as a 1x1 convolution: the
# average of $W x_p + b$ over a window is $W$ times the average of the $x_p$, plus $b$.
# It does not commute with a 3x3 convolution: pooling first (with the default stride 2)
# puts the kernel's taps on a grid twice as coarse, so it sees a wider neighbourhood
# than convolving first does, away from the border too. Only with stride 1, where
# average pooling is itself a convolution with a constant kernel, do the two orders
# agree (without padding), since convolutions commute:
# :::

# %% tags=["hide-input"]
X = torch.randn(2, 3, 10, 10, generator=torch.Generator().manual_seed(0))
with torch.random.fork_rng(devices=[]):  # seeded here, the later cells' draws unchanged
    torch.manual_seed(0)
    conv1x1, conv3x3 = nn.Conv2d(3, 4, 1), nn.Conv2d(3, 4, 3, padding=1)
    conv3x3_valid = nn.Conv2d(3, 4, 3)  # no padding, for the stride-1 case
with torch.no_grad():
    torch.testing.assert_close(F.avg_pool2d(conv1x1(X), 2), conv1x1(F.avg_pool2d(X, 2)))
    pool_last, pool_first = F.avg_pool2d(conv3x3(X), 2), conv3x3(F.avg_pool2d(X, 2))
    interior_gap = (pool_last - pool_first)[..., 1:-1, 1:-1].abs().max().item()
    torch.testing.assert_close(F.avg_pool2d(conv3x3_valid(X), 2, stride=1),
                               conv3x3_valid(F.avg_pool2d(X, 2, stride=1)))
assert pool_last.shape == pool_first.shape and interior_gap > 0.1
print("1x1 convolution and 2x2 average pooling commute: True")
print("3x3 convolution and 2x2 average pooling (stride 2) commute:",
      torch.allclose(pool_last, pool_first), "(not even away from the border)")
print("3x3 convolution and 2x2 average pooling with stride 1 (no padding) commute: True")

# %% [markdown]
# ## 6. Do we need a minimum pooling layer?
#
# > Do we need a separate minimum pooling layer? Can you replace it with another
# > operation?
#
# :::{admonition} Answer
# :class: dropdown
# No: $\min(x_1, \dots, x_n) = -\max(-x_1, \dots, -x_n)$, so minimum pooling is
# max pooling between two negations, with the same window, stride and padding
# (the $-\infty$ padding of max pooling becomes $+\infty$ padding, which is right for
# a minimum). Checked against a direct minimum over every window, built with
# `F.unfold`:
# :::

# %% tags=["hide-input"]
def min_pool2d(X: torch.Tensor, kernel_size, stride=None, padding=0) -> torch.Tensor:
    """Minimum pooling through max pooling."""
    return -F.max_pool2d(-X, kernel_size, stride=stride, padding=padding)


def min_pool2d_direct(X: torch.Tensor, k: int, stride: int, padding: int) -> torch.Tensor:
    """Minimum over every window, from the unfolded windows (+inf padding)."""
    n, c, h, w = X.shape
    Xp = F.pad(X, (padding,) * 4, value=float("inf"))
    cols = F.unfold(Xp.reshape(n * c, 1, h + 2 * padding, w + 2 * padding), k, stride=stride)
    side_h = (h + 2 * padding - k) // stride + 1
    return cols.min(dim=1).values.reshape(n, c, side_h, -1)


X = torch.randn(2, 3, 9, 9)
for k, s, p in [(2, 2, 0), (3, 1, 1), (3, 2, 1)]:
    assert torch.equal(min_pool2d(X, k, s, p), min_pool2d_direct(X, k, s, p))
print("-max_pool2d(-X) == min over every window, for 3 configurations")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Would a network want minimum pooling? In the usual order convolution, ReLU,
# pooling, the answer is mostly no. Max and min pooling commute with the ReLU (and
# with every nondecreasing function), so $\min$-pooling ReLU outputs is
# $\mathrm{ReLU}(\min(\dots))$: zero as soon as one unit in the window is inactive.
# On the chapter's edge maps (Sobel kernels and ReLU) of all 10,000 Fashion-MNIST
# test images, compare the fraction of zeros before and after pooling:
# :::

# %% tags=["hide-input"]
Z = torch.randn(2, 3, 8, 8)
assert torch.equal(F.max_pool2d(F.relu(Z), 2), F.relu(F.max_pool2d(Z, 2)))
assert torch.equal(min_pool2d(F.relu(Z), 2), F.relu(min_pool2d(Z, 2)))

images, _ = utils.read_fashion_mnist("test")  # (10000, 28, 28) uint8; labels unused
sobel = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
K_edges = torch.stack([sobel, -sobel, sobel.T, -sobel.T]).unsqueeze(1)  # (4, 1, 3, 3)
edge_maps = F.relu(F.conv2d(images.unsqueeze(1).float() / 255, K_edges, padding=1))
zero_fraction = {name: (pool(edge_maps, 2) == 0).float().mean().item()
                 for name, pool in (("edge maps", lambda t, k: t),
                                    ("2x2 max pooling", F.max_pool2d),
                                    ("2x2 min pooling", min_pool2d))}
print("fraction of zeros:", {name: round(v, 2) for name, v in zero_fraction.items()})
assert (zero_fraction["2x2 min pooling"] > zero_fraction["edge maps"]
        > zero_fraction["2x2 max pooling"])


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Min pooling turns even more of the map into zeros, which carry no information and
# pass no gradient through the ReLU. Max pooling does the opposite.
# :::

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# If a network needs "the feature is absent everywhere in this window", the
# convolution before the pooling can learn the negated kernel: max pooling of
# $-z$ is $-\min(z)$, so min pooling is already within reach of a standard
# convolution plus max pooling block.
# :::
#
# ## 7. Softmax pooling
#
# > Is there an operation between average and max pooling that you could use (hint:
# > recall the softmax)? Why might it not be so popular?
#
# :::{admonition} Answer
# :class: dropdown
# Weight each element of the window by a softmax of the window with temperature $T$:
#
# $$ y = \sum_i \frac{e^{x_i / T}}{\sum_j e^{x_j / T}}\, x_i . $$
#
# For large $T$ all weights approach $1/n$: average pooling. For small $T$ the
# weight concentrates on the largest element: max pooling. For non-overlapping
# windows (stride = window, as in PyTorch's default) a reshape lays each window out
# along the last axis:
# :::

# %% tags=["hide-input"]
def windows(X: torch.Tensor, k: int) -> torch.Tensor:
    """(n, c, h, w) -> (n, c, h // k, w // k, k * k): the non-overlapping k x k windows."""
    n, c, h, w = X.shape
    X = X[..., :h // k * k, :w // k * k]  # drop rows/columns that fill no window
    return (X.reshape(n, c, h // k, k, w // k, k).transpose(3, 4)
            .reshape(n, c, h // k, w // k, k * k))


def soft_pool2d(X: torch.Tensor, k: int, T: float | torch.Tensor) -> torch.Tensor:
    """Softmax-weighted average over each k x k window (stride k, no padding)."""
    win = windows(X, k)
    weights = torch.softmax(win / T, dim=-1)  # softmax subtracts the max: no overflow
    return (weights * win).sum(dim=-1)


X = torch.randn(2, 3, 8, 8)
assert torch.equal(windows(X, 2).amax(-1), F.max_pool2d(X, 2))  # the windows are right


X = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
max_ref, avg_ref = F.max_pool2d(X, 2), F.avg_pool2d(X, 2)
temperatures = [10_000, 100, 10, 1, 0.1, 0.01, 0.001]
to_avg, to_max = [], []
print(f"{'T':>7}{'max |soft - avg|':>18}{'max |soft - max|':>18}")
for T in temperatures:
    Y = soft_pool2d(X, 2, T)
    to_avg.append((Y - avg_ref).abs().max().item())
    to_max.append((Y - max_ref).abs().max().item())
    print(f"{T:>7g}{to_avg[-1]:>18.4f}{to_max[-1]:>18.4f}")

# %% tags=["hide-input"]
assert to_avg[0] < 1e-3 and to_max[-1] < 1e-3                  # the two limits
assert all(a <= b for a, b in zip(to_avg, to_avg[1:]))          # colder: further from avg
assert all(a >= b for a, b in zip(to_max, to_max[1:]))          # colder: closer to max

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# At every temperature $T > 0$ the result lies between the average and the maximum.
# The upper bound holds because the weights $w_i = e^{x_i/T} / \sum_j e^{x_j/T}$ are
# positive and sum to 1, so $y = \sum_i w_i x_i$ is a weighted average of the $x_i$,
# at most their maximum. The lower bound is Chebyshev's sum inequality. Write
# $u_i = e^{x_i/T}$; since $T > 0$, $u_i$ grows with $x_i$, so the two sequences are
# ordered alike and $(x_i - x_j)(u_i - u_j) \ge 0$ for every pair $i, j$. Summing over
# all $n^2$ pairs,
#
# $$\sum_{i,j} (x_i - x_j)(u_i - u_j) = 2n \sum_i x_i u_i - 2 \Big(\sum_i x_i\Big)
#   \Big(\sum_j u_j\Big) \ge 0,$$
#
# and dividing by $n \sum_j u_j > 0$ gives
#
# $$y = \frac{\sum_i x_i u_i}{\sum_j u_j} \ge \frac{1}{n} \sum_i x_i ,$$
#
# with equality only when all $x_i$ are equal (otherwise some pair has
# $(x_i - x_j)(u_i - u_j) > 0$). The softmax weights favour the larger elements, and
# that is all the proof uses. A check over temperatures from $10^{-3}$ to $10^{3}$,
# inputs of three scales and several random draws, in float64 so that rounding
# cannot hide a violation:
# :::

# %% tags=["hide-input"]
checked = 0
temperatures_range = torch.logspace(-3, 3, 25, dtype=torch.float64)
for seed in range(5):
    for scale in (0.1, 1.0, 10.0):
        Xs = scale * torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(seed),
                                 dtype=torch.float64)
        lower, upper = F.avg_pool2d(Xs, 2), F.max_pool2d(Xs, 2)
        for T in temperatures_range:
            Y = soft_pool2d(Xs, 2, T)
            assert (Y >= lower - 1e-12 * scale).all() and (Y <= upper + 1e-12 * scale).all()
            checked += Y.numel()
print(f"avg <= soft <= max for all {checked:,} pooled values "
      f"({len(temperatures_range)} temperatures, 3 scales, 5 seeds)")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# So why is it rare?
#
# **Its behaviour depends on the scale of the input.** Max and average pooling are
# positively homogeneous, $f(\lambda x) = \lambda f(x)$ for $\lambda > 0$; soft pooling
# is not, because scaling the input is the same as changing the temperature. The
# same layer acts like max pooling on large activations and like average pooling on
# small ones, and activation scales drift during training, so $T$ becomes one more
# thing to tune or learn:
# :::

# %% tags=["hide-input"]
for name, pool in (("max", lambda t: F.max_pool2d(t, 2)), ("avg", lambda t: F.avg_pool2d(t, 2)),
                   ("soft, T=1", lambda t: soft_pool2d(t, 2, 1.0))):
    homogeneous = torch.allclose(pool(10 * X), 10 * pool(X), atol=1e-5)
    print(f"{name:<10} f(10x) == 10 f(x)? {homogeneous}")
torch.testing.assert_close(soft_pool2d(10 * X, 2, 1.0), 10 * soft_pool2d(X, 2, 0.1))
print("soft pooling of 10x at T=1 == 10 * soft pooling of x at T=0.1")


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **It is slower in practice.** Per window of $n$ elements, max pooling makes $n - 1$
# comparisons. Soft pooling computes the maximum (to subtract it, for numerical
# safety), $n$ exponentials, a normalising sum, $n$ products and another sum, and it
# must keep the softmax weights for the backward pass. Measured, forward and
# backward, on a batch of feature maps. Frameworks have dedicated kernels for max
# and average pooling but not for soft pooling, which we compose from general
# operations; to see how much of the gap that accounts for, max pooling is also
# timed through the same `windows` reshape:
# :::

# %% tags=["hide-input"]
def ms_forward_backward(fn, X: torch.Tensor) -> float:
    """Fastest time of one forward + backward pass of `fn` on `X`, in milliseconds."""
    def step():
        x = X.detach().requires_grad_()
        fn(x).sum().backward()
    return utils.best_time(step) * 1000


X_big = torch.randn(64, 16, 28, 28)
timings = {"F.max_pool2d": ms_forward_backward(lambda t: F.max_pool2d(t, 2), X_big),
           "F.avg_pool2d": ms_forward_backward(lambda t: F.avg_pool2d(t, 2), X_big),
           "max of windows()": ms_forward_backward(lambda t: windows(t, 2).amax(-1), X_big),
           "soft_pool2d": ms_forward_backward(lambda t: soft_pool2d(t, 2, 1.0), X_big)}

# %% tags=["hide-input", "nbval-ignore-output"]
for name, ms in timings.items():
    print(f"{name:<26}{ms:8.2f} ms  ({ms / timings['F.max_pool2d']:.1f}x F.max_pool2d)")

# %% tags=["hide-input"]
assert timings["soft_pool2d"] > timings["F.max_pool2d"]

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The timings depend on the machine. Soft pooling is slower than `F.max_pool2d`
# (asserted above), and the "max of windows()" row shows how much of that gap comes
# from composing it out of general operations rather than from the exponentials
# themselves. Either way, it is a cost that the dedicated max and average pooling
# kernels do not have.
#
# **Its benefit is not obvious.** In exercise 8 we train the same small network with
# max pooling and with soft pooling (with a learned temperature per layer) side by
# side, and look at where between average and max the learned layers end up. A gain
# would have to be large to pay for the cost and the extra parameter; max and
# average pooling have stayed the defaults.
# :::
#
# ## 8. Is pooling still needed when convolutions have a stride?
#
# > Pooling and strided convolutions both shrink feature maps. Do we still need
# > pooling?
#
# :::{admonition} Answer
# :class: dropdown
# Not strictly. Start with what a stride-2 convolution computes: exactly the
# stride-1 convolution, evaluated at every second position, which is the "keep every
# 2nd pixel" row of the chapter's shift experiment:
# :::

# %% tags=["hide-input"]
conv1 = nn.Conv2d(3, 8, 3, padding=1)
X = torch.randn(2, 3, 12, 12)
with torch.no_grad():
    strided = F.conv2d(X, conv1.weight, conv1.bias, stride=2, padding=1)
    torch.testing.assert_close(strided, conv1(X)[..., ::2, ::2])
print("stride-2 convolution == stride-1 convolution, keeping every 2nd row and column")


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# So the stride shrinks the map without the maximum over a neighbourhood that gives
# pooling its shift tolerance; a strided convolution can get such tolerance only from
# its kernels, by learning smooth ones. In return it is cheaper and learned. Compare LeNet with
# ReLUs and max pooling (`utils.lenet_modern`) with the same network where each
# pooling layer is removed and the convolution before it gets stride 2 instead. The
# padding of the first convolution keeps the shapes identical, so the classifier
# head is unchanged:
# :::

# %% tags=["hide-input"]
class SoftPool2d(nn.Module):
    """Softmax pooling with a learned temperature (exercise 7)."""

    def __init__(self, kernel_size: int = 2) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.log_T = nn.Parameter(torch.zeros(()))  # T = exp(log_T) > 0, starts at 1

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return soft_pool2d(X, self.kernel_size, self.log_T.exp())


def lenet_with(pool: type[nn.Module]) -> nn.Sequential:
    """utils.lenet_modern with another 2x2 pooling layer."""
    net = utils.lenet_modern()
    net[2], net[5] = pool(2), pool(2)
    return net


def lenet_strided() -> nn.Sequential:
    """lenet_modern without pooling: the convolutions have stride 2 instead."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2, stride=2), nn.ReLU(),
        nn.Conv2d(6, 16, kernel_size=5, stride=2), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


print(utils.layer_summary(lenet_strided(), torch.zeros(1, 1, 28, 28)))


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The parameters are the same as with pooling (pooling has none), but the
# convolutions now compute only a quarter of the positions. Counting multiply-adds
# of the convolutions with forward hooks:
# :::

# %% tags=["hide-input"]
def conv_macs(net: nn.Module, X: torch.Tensor) -> int:
    """Multiply-adds of all Conv2d layers for input X (one per weight per output)."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        per_output = module.in_channels // module.groups * math.prod(module.kernel_size)
        total += output.numel() * per_output

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        net(X)
    for h in handles:
        h.remove()
    return total


makers = {"max pooling": lambda: lenet_with(nn.MaxPool2d),
          "soft pooling": lambda: lenet_with(SoftPool2d),
          "strided convolutions": lenet_strided}
x1 = torch.zeros(1, 1, 28, 28)
print(f"{'network':<22}{'parameters':>11}{'conv multiply-adds':>20}")
for name, make in makers.items():
    net = make()
    print(f"{name:<22}{sum(p.numel() for p in net.parameters()):>11,}"
          f"{conv_macs(net, x1):>20,}")

# %% tags=["hide-input"]
nets = {name: make() for name, make in makers.items()}
params = {name: sum(p.numel() for p in net.parameters()) for name, net in nets.items()}
assert params["strided convolutions"] == params["max pooling"]
assert params["soft pooling"] == params["max pooling"] + 2  # one temperature per layer
assert nets["strided convolutions"](x1).shape == nets["max pooling"](x1).shape == (1, 10)
assert conv_macs(nets["strided convolutions"], x1) * 4 == conv_macs(nets["max pooling"], x1)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Now a small training comparison of the three, with the same data, seed and
# optimiser (Adam). The budget comes from the profile:
# :::

# %% tags=["hide-input"]
budget = profile.budget("pooling_compare")
print(budget.describe())
train_iter, test_iter = utils.load_fashion_mnist(
    budget.batch_size, device=device, train_size=budget.train_size,
    test_size=budget.test_size)

# %% tags=["hide-input", "nbval-ignore-output"]
histories = {}
for name, make in makers.items():
    utils.seed_everything(0)
    net = make()
    print(f"--- {name}")
    histories[name] = utils.train(net, train_iter, test_iter, budget.num_epochs, budget.lr,
                                  device=device, optimizer="adam", plot=False)
    nets[name] = net
print(f"\n{'network':<22}{'test acc':>9}{'s/epoch':>9}")
for name, hist in histories.items():
    seconds = sum(r["seconds"] for r in hist) / len(hist)
    print(f"{name:<22}{hist.last['test_acc']:>9.3f}{seconds:>9.1f}")

# %% tags=["hide-input"]
for name, hist in histories.items():
    assert hist.last["test_acc"] > 0.6, (name, hist.last["test_acc"])  # chance is 0.1


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# All three networks learn (the floor asserted above is far above chance, 0.1). A
# single seed and two short epochs cannot rank differences of a few points; that
# would take several seeds and longer training (the `full` profile trains on all
# 60,000 images for longer), so we do not read a winner into the table.
#
# Where did the learned soft pooling end up? Its position between average pooling
# (0) and max pooling (1), $(y_\text{soft} - y_\text{avg}) / (y_\text{max} - y_\text{avg})$,
# averaged over the windows of a test batch where max and average differ:
# :::

# %% tags=["hide-input"]
def soft_position(pool: SoftPool2d, X: torch.Tensor) -> float:
    """Mean of (soft - avg) / (max - avg) over windows where max and avg differ."""
    soft, avg, mx = pool(X), F.avg_pool2d(X, 2), F.max_pool2d(X, 2)
    spread = mx - avg
    keep = spread > 1e-6 * (spread.max() + 1e-12)
    return ((soft - avg)[keep] / spread[keep]).mean().item()


soft_net = nets["soft pooling"].eval()
X_test, _ = next(iter(test_iter))
with torch.no_grad():
    inputs = {2: soft_net[:2](X_test), 5: soft_net[:5](X_test)}  # what each pool sees
    positions = {i: soft_position(soft_net[i], inputs[i]) for i in (2, 5)}

# %% tags=["hide-input", "nbval-ignore-output"]
for i in (2, 5):
    closer = "average" if positions[i] < 0.5 else "max"
    print(f"soft pooling layer {i}: learned T = {soft_net[i].log_T.exp().item():.3f}, "
          f"position between average (0) and max (1): {positions[i]:.2f}, "
          f"closer to {closer} pooling")

# %% tags=["hide-input"]
assert all(-0.01 <= p <= 1.01 for p in positions.values())  # soft lies between avg and max

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The lines above say which of the two each learned layer resembles, and how far $T$
# moved from its starting value 1. A temperature means nothing without the scale of
# the activations it divides, so what such a layer does is set jointly by the
# initial $T$, the scale of the activations and how far training moves $T$: the scale
# dependence of exercise 7, met in practice.
# :::

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The answer to the question is about design rather than accuracy: strided
# convolutions can take over the downsampling, with the same parameters and a
# quarter of the convolutions' work, at the price of the shift tolerance that the
# maximum provides. Residual networks {cite}`he2016deep` make this trade: the book's
# `utils.resnet18` downsamples with stride-2 convolutions, keeps a single max pooling
# layer in its stem, and ends with global average pooling (exercise 9). Counted:
# :::

# %% tags=["hide-input"]
resnet = utils.resnet18(widths=(8, 16, 32, 64))  # narrow: only the layout matters here
kinds = {"max pooling layers": nn.MaxPool2d, "global average pooling": nn.AdaptiveAvgPool2d}
layout = {name: sum(isinstance(m, cls) for m in resnet.modules()) for name, cls in kinds.items()}
layout["stride-2 convolutions"] = sum(isinstance(m, nn.Conv2d) and m.stride == (2, 2)
                                      for m in resnet.modules())
print(layout)
assert layout["max pooling layers"] == layout["global average pooling"] == 1
assert layout["stride-2 convolutions"] > layout["max pooling layers"]

# %% [markdown]
# ## 9. Global average pooling
#
# > What does global average pooling compute, and what does it save?
#
# :::{admonition} Answer
# :class: dropdown
# Global average pooling (GAP) averages each channel over its whole map: a pooling
# window as large as the input, one number per channel. The
# [chapter](../chapters/04_pooling.ipynb) showed that it lets one network take 28x28
# and 32x32 images; here we count what it saves. `nn.AdaptiveAvgPool2d(1)` computes
# it for any input size:
# :::

# %% tags=["hide-input"]
X = torch.randn(2, 16, 5, 5)  # LeNet's last feature maps: (batch, 16, 5, 5)
gap = nn.AdaptiveAvgPool2d(1)
print(tuple(X.shape), "->", tuple(gap(X).shape))
torch.testing.assert_close(gap(X), X.mean(dim=(2, 3), keepdim=True))
torch.testing.assert_close(gap(X), F.avg_pool2d(X, kernel_size=X.shape[-2:]))
print("GAP == mean over height and width == average pooling with a 5x5 window")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# What it saves: a classifier head on top of $c \times h \times w$ features. LeNet
# flattens its $16 \times 5 \times 5$ maps into a linear layer; GAP first reduces
# them to 16 numbers. A network in the style of *Network in Network*
# {cite}`lin2013network` goes further: a 1x1 convolution to one channel per class,
# then GAP, and the averages are the class scores.
# :::

# %% tags=["hide-input"]
heads = {
    "flatten + linear": nn.Sequential(nn.Flatten(), nn.Linear(16 * 5 * 5, 10)),
    "GAP + linear": nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10)),
    "1x1 conv + GAP": nn.Sequential(nn.Conv2d(16, 10, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()),
}
head_params = {}
for name, head in heads.items():
    head_params[name] = sum(p.numel() for p in head.parameters())
    print(f"{name:<18} output {tuple(head(X).shape)}  parameters {head_params[name]:>5,}")
assert head_params["flatten + linear"] == (16 * 5 * 5 + 1) * 10
assert head_params["GAP + linear"] == head_params["1x1 conv + GAP"] == (16 + 1) * 10

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The flattening head has $h \times w$ times more weights, and it is tied to one input
# size; the GAP heads accept any size:
# :::

# %% tags=["hide-input"]
X_large = torch.randn(2, 16, 9, 9)  # what a larger input image would produce
print("GAP + linear on 9x9 maps:", tuple(heads["GAP + linear"](X_large).shape))
caught = None
try:
    heads["flatten + linear"](X_large)
except RuntimeError as err:
    caught = err
assert caught is not None and "cannot be multiplied" in str(caught)
print("flatten + linear on 9x9 maps:", type(caught).__name__)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The price is all spatial layout: GAP returns the same numbers however the
# positions are rearranged, so the channels must carry everything the classifier
# needs. In return it is fully invariant to shifts that keep the content inside the
# map, the end point of the partial tolerance measured in the chapter:
# :::

# %% tags=["hide-input"]
perm = torch.randperm(25, generator=torch.Generator().manual_seed(0))
scrambled = X.flatten(2)[..., perm].reshape(X.shape)  # positions shuffled
torch.testing.assert_close(gap(scrambled), gap(X))
edges_small = F.pad(edge_maps[:500], (4, 4, 4, 4))  # the exercise-6 edge maps, on a canvas
for s in (1, 2, 3):
    torch.testing.assert_close(gap(F.pad(edges_small, (s, -s))), gap(edges_small))
print("GAP: unchanged by shuffling positions, and by shifts of 1, 2 and 3 pixels")

# %% [markdown]
# ## Summary
#
# :::{admonition} Answer
# :class: dropdown
# - Average pooling is a grouped convolution with a constant kernel; max pooling is
#   not affine, so no convolution stack can produce it.
# - With ReLUs it can: a knockout tournament of $\lceil \log_2 n \rceil$ ReLU layers
#   computes the maximum of $n$ elements exactly.
# - Pooling costs about one operation per window element per output, roughly $c$
#   times less than a convolution of the same window; max pooling is separable.
# - Max pooling detects sparse, strong responses; average pooling measures diffuse
#   ones. Minimum pooling is max pooling between two negations.
# - Soft pooling interpolates between them but depends on the activation scale and
#   costs more; strided convolutions can replace pooling at the same parameter count;
#   global average pooling replaces a large classifier head with none.
# :::
