# %% [markdown]
# # Multiple Input and Output Channels: Exercises
#
# Worked answers to the exercises of
# [Multiple Input and Output Channels](../chapters/03_channels.ipynb). Each answer is a
# short argument followed by code that checks it; where a fact can be checked, an
# `assert` does so.

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
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import utils

gen = utils.seed_everything(0)
torch.set_printoptions(precision=4)


# %% [markdown]
# ## 1. Two convolutions in a row are one convolution
#
# > Two convolution layers with kernel sizes $k_1$ and $k_2$ run one after the other, with
# > no nonlinearity in between. Show that they equal a single convolution. What is its
# > kernel size? Does the converse hold?
#
# :::{admonition} Answer
# :class: dropdown
# **The composition.** Take one channel first. The first layer computes
# $Y_1[i, j] = \sum_{a,b} X[i + a, j + b] \, K_1[a, b]$, the second
# $Y_2[i, j] = \sum_{c,d} Y_1[i + c, j + d] \, K_2[c, d]$. Substituting,
#
# $$Y_2[i, j] = \sum_{a,b,c,d} X[i + a + c, \, j + b + d] \, K_1[a, b] \, K_2[c, d]
#            = \sum_{u,v} X[i + u, j + v] \, K[u, v],
# \qquad K[u, v] = \sum_{a + c = u, \; b + d = v} K_1[a, b] \, K_2[c, d].$$
#
# So the pair is a single cross-correlation with kernel $K$, the *full convolution* of
# $K_1$ and $K_2$: every tap of $K_2$ adds a copy of $K_1$, shifted to that tap's position
# and scaled by it. Offsets $u = a + c$ run from 0 to $(k_1 - 1) + (k_2 - 1)$, so $K$ is
# $(k_1 + k_2 - 1) \times (k_1 + k_2 - 1)$. With channels, the middle channel $m$ is summed
# over as well: $K[o, i] = \sum_m K_2[o, m] * K_1[m, i]$ (with $*$ the full convolution),
# a kernel of shape $c_o \times c_i \times (k_1 + k_2 - 1) \times (k_1 + k_2 - 1)$.
# Biases compose too: the first layer's bias $b_1[m]$ is a constant map, which the second
# layer turns into $b_1[m] \sum K_2[o, m]$.
# :::

# %% tags=["hide-input"]
def compose(K1, K2):
    """Kernel of 'cross-correlate with K1, then with K2' for 2-D kernels: their full convolution."""
    (h1, w1), (h2, w2) = K1.shape, K2.shape
    K = K1.new_zeros(h1 + h2 - 1, w1 + w2 - 1)
    for c in range(h2):
        for d in range(w2):
            K[c:c + h1, d:d + w1] += K2[c, d] * K1  # one shifted, scaled copy per tap
    return K

def compose_layers(K1, b1, K2, b2):
    """Weights (c_o, c_i, k, k) and bias of conv(K1, b1) followed by conv(K2, b2)."""
    c_o, c_m, c_i = K2.shape[0], K2.shape[1], K1.shape[1]
    K = torch.stack([torch.stack([sum(compose(K1[m, i], K2[o, m]) for m in range(c_m))
                                  for i in range(c_i)]) for o in range(c_o)])
    b = b2 + (K2.sum(dim=(2, 3)) * b1).sum(dim=1)  # b2[o] + sum_m b1[m] * sum(K2[o, m])
    return K, b


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# A numerical check with channels and biases, in float64 so that only rounding at the
# $10^{-12}$ level can differ: a $3 \times 3$ layer from 3 to 4 channels followed by a
# $2 \times 2$ layer from 4 to 5 channels equals one $4 \times 4$ layer from 3 to 5
# channels.
# :::

# %% tags=["hide-input"]
opts = dict(dtype=torch.float64, generator=gen)
X = torch.randn(2, 3, 10, 10, **opts)                              # (batch, c_i, h, w)
K1, b1 = torch.randn(4, 3, 3, 3, **opts), torch.randn(4, **opts)   # 3 -> 4 channels, 3x3
K2, b2 = torch.randn(5, 4, 2, 2, **opts), torch.randn(5, **opts)   # 4 -> 5 channels, 2x2
two_layers = F.conv2d(F.conv2d(X, K1, b1), K2, b2)
K, b = compose_layers(K1, b1, K2, b2)
one_layer = F.conv2d(X, K, b)
print("composed kernel:", tuple(K.shape), "| output:", tuple(one_layer.shape))
torch.testing.assert_close(two_layers, one_layer, rtol=1e-12, atol=1e-12)
print("two layers == one layer with the composed kernel")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The nonlinearity is what makes depth worth having: put a ReLU between the layers and the
# composed kernel no longer reproduces the output.
# :::

# %% tags=["hide-input"]
with_relu = F.conv2d(F.relu(F.conv2d(X, K1, b1)), K2, b2)
gap = (with_relu - one_layer).abs().max().item()
print("with a ReLU in between, largest difference > 0.1:", gap > 0.1)
assert gap > 0.1

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **The converse** is false in general: a single convolution cannot always be split into
# two smaller ones with one channel in between. A parameter count already suggests it: a
# $3 \times 3$ kernel has 9 numbers, two $2 \times 2$ kernels have 8 (and only 7 matter,
# since scaling one by $t$ and the other by $1/t$ changes nothing). Two concrete
# counterexamples:
#
# *Separable kernels.* A $3 \times 1$ kernel followed by a $1 \times 3$ kernel composes to
# the outer product of a column and a row: a matrix of rank 1. The Laplacian kernel has
# rank 2, so it cannot be split that way (while a Gaussian-like blur can):
# :::

# %% tags=["hide-input"]
col, row = torch.randn(3, 1, **opts), torch.randn(1, 3, **opts)
laplacian = torch.tensor([[0., 1., 0.], [1., -4., 1.], [0., 1., 0.]], dtype=torch.float64)
blur = torch.tensor([[1., 2., 1.], [2., 4., 2.], [1., 2., 1.]], dtype=torch.float64)
rank = torch.linalg.matrix_rank
print("rank of a composed 3x1-then-1x3 kernel:", rank(compose(col, row)).item())
print("rank of the Laplacian:", rank(laplacian).item(), "| rank of the blur:", rank(blur).item())
assert rank(compose(col, row)) == 1 and rank(laplacian) == 2 and rank(blur) == 1


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# *Two $2 \times 2$ kernels.* Write a kernel as a polynomial, $K \leftrightarrow
# \sum_{u,v} K[u, v] \, x^u y^v$; composing kernels multiplies their polynomials. Take
# $T = \begin{pmatrix} 1 & 0 & 0 \\ 0 & 0 & 0 \\ 0 & 0 & 1 \end{pmatrix}$, i.e.
# $1 + x^2 y^2$. Suppose $(\alpha + \beta x + \gamma y + \delta xy)(\alpha' + \beta' x +
# \gamma' y + \delta' xy) = 1 + x^2 y^2$. The constant and $x^2y^2$ terms force
# $\alpha\alpha' = \delta\delta' = 1$. The $x^2$ term gives $\beta\beta' = 0$, and the $x$
# term $\alpha\beta' + \beta\alpha' = 0$ then forces $\beta = \beta' = 0$; likewise
# $\gamma = \gamma' = 0$. The $xy$ term leaves $\alpha\delta' + \delta\alpha' = 0$, i.e.
# $\alpha/\delta = -\delta/\alpha$, so $\alpha^2 = -\delta^2$: impossible for real
# numbers. An optimiser agrees: fitting two $2 \times 2$ kernels to $T$ from several
# random starts leaves a large error, while the same procedure recovers a target that
# *was* made from two $2 \times 2$ kernels.
# :::

# %% tags=["hide-input"]
def best_split_error(T, starts=4):
    """Smallest relative error ||compose(A, B) - T|| / ||T|| over 2x2 kernels A, B."""
    g = torch.Generator().manual_seed(0)
    best = float("inf")
    for _ in range(starts):
        A = torch.randn(2, 2, dtype=torch.float64, generator=g).requires_grad_()
        B = torch.randn(2, 2, dtype=torch.float64, generator=g).requires_grad_()
        opt = torch.optim.LBFGS([A, B], max_iter=100, line_search_fn="strong_wolfe",
                                tolerance_grad=1e-12, tolerance_change=1e-15)
        def closure():
            opt.zero_grad()
            loss = (compose(A, B) - T).pow(2).sum()
            loss.backward()
            return loss
        opt.step(closure)
        with torch.no_grad():
            best = min(best, ((compose(A, B) - T).norm() / T.norm()).item())
    return best

T = torch.tensor([[1., 0., 0.], [0., 0., 0.], [0., 0., 1.]], dtype=torch.float64)
splittable = compose(torch.randn(2, 2, **opts), torch.randn(2, 2, **opts))
err_T, err_ok = best_split_error(T), best_split_error(splittable)
print(f"best relative error for T:                    {err_T:.2f}")
print(f"best relative error for a composed target < 1e-6: {err_ok < 1e-6}")
assert err_T > 0.1 and err_ok < 1e-6

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The converse *does* hold once the middle layer may have several channels: each tap of
# a $(k_1 + k_2 - 1) \times (k_1 + k_2 - 1)$ kernel is the composition of a one-tap
# $k_1 \times k_1$ kernel and a one-tap $k_2 \times k_2$ kernel, so with enough middle
# channels (one per tap at most) any kernel is a sum of such compositions. $T$ needs just two: its top-left tap
# from two top-left taps, its bottom-right tap from two bottom-right taps.
# :::

# %% tags=["hide-input"]
tl = torch.tensor([[1., 0.], [0., 0.]], dtype=torch.float64)
br = torch.tensor([[0., 0.], [0., 1.]], dtype=torch.float64)
K1_T = torch.stack([tl, br])[:, None]   # 1 -> 2 channels: (2, 1, 2, 2)
K2_T = torch.stack([tl, br])[None]      # 2 -> 1 channel:  (1, 2, 2, 2)
K_T, _ = compose_layers(K1_T, torch.zeros(2, dtype=torch.float64),
                        K2_T, torch.zeros(1, dtype=torch.float64))
print(K_T[0, 0])
assert torch.equal(K_T[0, 0], T)


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# In practice this is a *feature*: VGG {cite}`simonyan2014very` replaced large kernels by
# stacks of $3 \times 3$ ones, with nonlinearities in between. Two $3 \times 3$ layers see
# a $5 \times 5$ patch with $2 \cdot 9 = 18$ weights per channel pair instead of 25, and
# with a ReLU in between they compute functions no single linear layer can
# ([exercise 14 of image convolution](01_convolution.ipynb) counts the three-layer case).
# :::

# %% [markdown]
# ## 2. The cost of a convolution layer
#
# > For an input of shape $c_i \times h \times w$, a kernel $c_o \times c_i \times k_h
# > \times k_w$, padding $(p_h, p_w)$ and stride $(s_h, s_w)$: what are the computational
# > cost and the memory footprint of the forward pass? Of the backward pass?
#
# :::{admonition} Answer
# :class: dropdown
# Let $h_o = \lfloor (h + 2p_h - k_h)/s_h \rfloor + 1$ and
# $w_o = \lfloor (w + 2p_w - k_w)/s_w \rfloor + 1$.
#
# - **Forward computation:** $c_o h_o w_o$ outputs, each a sum of $c_i k_h k_w$ products:
#   $M = c_o c_i k_h k_w h_o w_o$ multiplications and as many additions (the
#   $c_i k_h k_w - 1$ additions of each sum plus one for the bias).
# - **Forward memory** (in numbers; times 4 bytes for float32): input $c_i h w$, weights
#   $c_o c_i k_h k_w + c_o$, output $c_o h_o w_o$.
# - **Backward computation:** the gradient with respect to the weights correlates the
#   input with the output gradient ($M$ multiply-adds), the gradient with respect to the
#   input is a transposed convolution of the output gradient with the weights (another
#   $M$), and the bias gradient sums the output gradient ($c_o h_o w_o$ additions). So
#   about $2M$, twice the forward pass; only $M$ for a first layer, whose input needs
#   no gradient.
# - **Backward memory:** the forward pass must *keep* its input (needed for the weight
#   gradient) and its weights (needed for the input gradient) until the backward pass;
#   the backward pass then creates gradients the size of the output, the input and the
#   weights. Keeping every layer's input alive is why training needs far more memory
#   than inference.
#
# We check the computation with PyTorch's `FlopCounterMode` (which counts 2 FLOPs per
# multiply-add) and the memory claim by recording which tensors autograd saves.
# :::

# %% tags=["hide-input"]
def conv_macs(c_i, c_o, k_h, k_w, h, w, p_h=0, p_w=0, s_h=1, s_w=1):
    """Multiply-adds of the forward pass of a convolution layer."""
    h_o = utils.conv_output_size(h, k_h, p_h, s_h)
    w_o = utils.conv_output_size(w, k_w, p_w, s_w)
    return c_o * c_i * k_h * k_w * h_o * w_o

def measured_flops(c_i, c_o, k_h, k_w, h, w, p_h=0, p_w=0, s_h=1, s_w=1, input_grad=True):
    """FLOPs counted by PyTorch for the forward and the backward pass of F.conv2d."""
    X = torch.randn(1, c_i, h, w, requires_grad=input_grad)
    W = torch.randn(c_o, c_i, k_h, k_w, requires_grad=True)
    b = torch.randn(c_o, requires_grad=True)
    with FlopCounterMode(display=False) as fwd:
        Y = F.conv2d(X, W, b, stride=(s_h, s_w), padding=(p_h, p_w))
    with FlopCounterMode(display=False) as bwd:
        Y.sum().backward()
    return fwd.get_total_flops(), bwd.get_total_flops()

layers = [(3, 16, 3, 3, 32, 32, 1, 1, 1, 1), (16, 32, 5, 3, 20, 24, 2, 1, 2, 1),
          (8, 8, 1, 1, 15, 15, 0, 0, 2, 2)]
print(f"{'layer (c_i c_o k_h k_w h w p_h p_w s_h s_w)':>44} | {'M':>9} | "
      f"{'forward/M':>9} {'backward/M':>10} {'backward/M, no input grad':>25}")
for layer in layers:
    M = conv_macs(*layer)
    fwd, bwd = measured_flops(*layer)
    _, bwd_first = measured_flops(*layer, input_grad=False)
    print(f"{str(layer):>44} | {M:>9,} | {fwd / M:>9g} {bwd / M:>10g} {bwd_first / M:>25g}")
    assert (fwd, bwd, bwd_first) == (2 * M, 4 * M, 2 * M)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# In FLOPs (two per multiply-add) the forward pass is $2M$, the backward pass $4M$, and
# $2M$ when the input needs no gradient, exactly as argued. The tensors that autograd
# saves for the backward pass of one convolution are its input and its weights:
# :::

# %% tags=["hide-input"]
X = torch.randn(8, 16, 32, 32, requires_grad=True)
conv2d = nn.Conv2d(16, 32, kernel_size=3, padding=1)
saved = []
def pack(t):
    saved.append(tuple(t.shape))
    return t
with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
    Y = conv2d(X)
print("saved for backward:", saved)
print(f"input {X.numel():,} numbers, weights {conv2d.weight.numel():,}, "
      f"output {Y.numel():,}")
assert sorted(saved) == sorted([tuple(X.shape), tuple(conv2d.weight.shape)])

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# For this layer the saved input is far larger than the weights: in a CNN, training
# memory is dominated by activations, and it grows with the batch size.
# :::

# %% [markdown]
# ## 3. Doubling the channels, doubling the padding
#
# > By what factor does the amount of computation grow if we double $c_i$ and $c_o$? If
# > we double the padding?
#
# :::{admonition} Answer
# :class: dropdown
# The multiply-adds $c_o c_i k_h k_w h_o w_o$ are a product, so doubling both $c_i$ and
# $c_o$ multiplies them (and the number of weights) by exactly 4. Padding enters only
# through $h_o w_o$: doubling $p$ changes the work by the factor
# $\left(\frac{h + 4p - k + 1}{h + 2p - k + 1}\right)^2$ (for stride 1 and a square
# input), which depends on the sizes: close to 1 for large inputs, larger for small
# ones, with no fixed value such as 2.
# :::

# %% tags=["hide-input"]
base = dict(c_i=16, c_o=32, k_h=3, k_w=3, h=28, w=28)
doubled = dict(base, c_i=32, c_o=64)
ratio = conv_macs(**doubled) / conv_macs(**base)
flop_ratio = measured_flops(**doubled)[0] / measured_flops(**base)[0]


def params(c_i, c_o, k_h, k_w, **_):
    return nn.Conv2d(c_i, c_o, (k_h, k_w)).weight.numel()


print(f"doubling c_i and c_o: work x{ratio:g} (FlopCounterMode: x{flop_ratio:g}), "
      f"weights x{params(**doubled) / params(**base):g}")
assert ratio == flop_ratio == params(**doubled) / params(**base) == 4

# %% tags=["hide-input"]
print(f"{'h':>4} {'k':>2} {'p':>2} -> {'2p':>2} | {'work ratio':>10}")
for h, k, p in [(224, 3, 1), (28, 3, 1), (28, 5, 2), (8, 3, 1), (8, 5, 2)]:
    r = conv_macs(1, 1, k, k, h, h, 2 * p, 2 * p) / conv_macs(1, 1, k, k, h, h, p, p)
    print(f"{h:>4} {k:>2} {p:>2} -> {2 * p:>2} | {r:>10.3f}")
    assert abs(r - ((h + 4 * p - k + 1) / (h + 2 * p - k + 1)) ** 2) < 1e-12

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The table shows the factor growing as the input shrinks relative to the padding; and
# the extra work is spent multiplying padded zeros.
# :::

# %% [markdown]
# ## 4. The cost of a $1 \times 1$ convolution
#
# > What is the computational complexity of the forward pass when $k_h = k_w = 1$?
#
# :::{admonition} Answer
# :class: dropdown
# Set $k_h = k_w = 1$ in the formula: $c_o c_i h_o w_o$ multiply-adds, with
# $h_o = \lfloor (h + 2p_h - 1)/s_h \rfloor + 1$ (so $h_o = h$ without padding and
# stride). That is one $c_o \times c_i$ matrix-vector product per output pixel, the cost
# of a fully connected layer from $c_i$ to $c_o$ units times the number of pixels.
# :::

# %% tags=["hide-input"]
for c_i, c_o, h, w, p, s in [(64, 32, 14, 14, 0, 1), (3, 8, 9, 7, 1, 2)]:
    h_o, w_o = (h + 2 * p - 1) // s + 1, (w + 2 * p - 1) // s + 1
    fwd, _ = measured_flops(c_i, c_o, 1, 1, h, w, p, p, s, s)
    print(f"c_i={c_i} c_o={c_o} {h}x{w} p={p} s={s}: c_o*c_i*h_o*w_o = {c_o * c_i * h_o * w_o:,}"
          f" = FlopCounterMode / 2: {fwd // 2 == c_o * c_i * h_o * w_o}")
    assert fwd == 2 * c_o * c_i * h_o * w_o

# %% [markdown]
# ## 5. Are `Y1` and `Y2` exactly equal?
#
# > Are the variables `Y1` and `Y2` in the $1 \times 1$ example exactly the same? Why?
#
# :::{admonition} Answer
# :class: dropdown
# Mathematically yes: both compute $\sum_c K[o, c] X[c, i, j]$. Numerically, not
# necessarily. The loop version adds the per-channel products in channel order; the
# matrix product hands the same sum to a BLAS library, which may add in a different order,
# in blocks, or with fused multiply-adds (one rounding instead of two). Floating-point
# addition is not associative, so the results can differ in the last bits. Whether they do
# depends on the library and the CPU, so this cell's output is not compared:
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
torch.manual_seed(0)
X = torch.normal(0, 1, (3, 3, 3))
K = torch.normal(0, 1, (2, 3, 1, 1))
Y1 = utils.corr2d_multi_in_out_1x1(X, K)   # one matrix multiplication
Y2 = utils.corr2d_multi_in_out(X, K)       # loops, channel by channel
print("exactly equal:", torch.equal(Y1, Y2))
print("largest difference:", (Y1 - Y2).abs().max().item())

# %% tags=["hide-input"]
assert (Y1 - Y2).abs().max() < 1e-5  # equal up to float32 rounding

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Non-associativity is easy to see on its own. These are single IEEE operations, so the
# results are the same on every machine:
# :::

# %% tags=["hide-input"]
print("(0.1 + 0.2) + 0.3 =", (0.1 + 0.2) + 0.3, "  0.1 + (0.2 + 0.3) =", 0.1 + (0.2 + 0.3))
a, b, c = torch.tensor(1e8), torch.tensor(-1e8), torch.tensor(1.0)  # float32
print("float32: (a + b) + c =", ((a + b) + c).item(), "  a + (b + c) =", (a + (b + c)).item())
assert (0.1 + 0.2) + 0.3 != 0.1 + (0.2 + 0.3) and ((a + b) + c) != (a + (b + c))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# In float32 the gap between neighbouring numbers near $10^8$ is 8, so $-10^8 + 1$
# rounds back to $-10^8$ and the 1 is lost. Two consequences for `Y1` and `Y2`:
#
# - In float64 the same comparison agrees to about $10^{-15}$, the precision of the
#   format, so the gap is rounding and not a bug.
# - When every product and partial sum is exactly representable, the order cannot matter
#   and the two are identical. Small integers in float32 are such a case.
# :::

# %% tags=["hide-input"]
X64, K64 = X.double(), K.double()
diff64 = (utils.corr2d_multi_in_out_1x1(X64, K64) - utils.corr2d_multi_in_out(X64, K64))
print("float64: largest difference < 1e-14:", diff64.abs().max().item() < 1e-14)
X_int = torch.randint(-5, 6, (3, 3, 3), generator=gen).float()
K_int = torch.randint(-5, 6, (2, 3, 1, 1), generator=gen).float()
exact = torch.equal(utils.corr2d_multi_in_out_1x1(X_int, K_int),
                    utils.corr2d_multi_in_out(X_int, K_int))
print("small integers in float32: exactly equal:", exact)
assert diff64.abs().max() < 1e-14 and exact


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The lesson for testing numerical code: compare floats with a tolerance
# (`torch.testing.assert_close`), and use exact equality only where the arithmetic is
# exact.
# :::

# %% [markdown]
# ## 6. Convolution as a matrix multiplication
#
# > How can a convolution be computed with a matrix multiplication when the kernel is not
# > $1 \times 1$?
#
# :::{admonition} Answer
# :class: dropdown
# Copy every $k_h \times k_w$ window of every input channel into one column. This
# "im2col" matrix has $c_i k_h k_w$ rows and one column per output pixel. Reshape the
# weights to a $c_o \times c_i k_h k_w$ matrix; their product is the output, one row per
# output channel. Padding and stride only change which windows become columns.
# PyTorch's `F.unfold` builds the column matrix:
# :::

# %% tags=["hide-input"]
def conv2d_im2col(X, K, padding=0, stride=1):
    """Convolution as one matrix product. X: (batch, c_i, h, w), K: (c_o, c_i, k_h, k_w)."""
    c_o, c_i, k_h, k_w = K.shape
    cols = F.unfold(X, (k_h, k_w), padding=padding, stride=stride)  # (batch, c_i*k_h*k_w, L)
    Y = K.reshape(c_o, -1) @ cols                                    # (batch, c_o, L)
    h_o = utils.conv_output_size(X.shape[2], k_h, padding, stride)
    w_o = utils.conv_output_size(X.shape[3], k_w, padding, stride)
    return Y.reshape(X.shape[0], c_o, h_o, w_o)

X = torch.randn(2, 3, 9, 11, generator=gen)
K = torch.randn(4, 3, 3, 5, generator=gen)
for padding, stride in [(0, 1), (1, 1), (2, 2), (1, 3)]:
    torch.testing.assert_close(conv2d_im2col(X, K, padding, stride),
                               F.conv2d(X, K, padding=padding, stride=stride))
print("im2col + matmul == F.conv2d for 4 padding/stride settings")
print("column matrix for padding 1, stride 1:",
      tuple(F.unfold(X, (3, 5), padding=1).shape), "(batch, c_i*k_h*k_w, output pixels)")


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# `F.unfold` does nothing mysterious. For one image, stride 1 and no padding it is:
# :::

# %% tags=["hide-input"]
def im2col(X, k_h, k_w):
    """Columns of all k_h x k_w windows of X (c_i, h, w), in row-major window order."""
    c_i, h, w = X.shape
    return torch.stack([X[:, i:i + k_h, j:j + k_w].reshape(-1)
                        for i in range(h - k_h + 1) for j in range(w - k_w + 1)], dim=1)

assert torch.equal(im2col(X[0], 3, 5), F.unfold(X[:1], (3, 5))[0])
print("hand-made im2col == F.unfold")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The price is memory: each input value is copied into up to $k_h k_w$ columns. The
# payoff is that the work becomes one large matrix product, which BLAS libraries and GPUs
# execute close to peak speed; this is how many convolution libraries work.
# :::

# %% tags=["hide-input"]
ratio = F.unfold(X, (3, 5), padding=1).numel() / X.numel()
print(f"column matrix / input size: {ratio:.1f}x (k_h * k_w = 15)")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The other arrangement keeps the input as a flat vector and turns the kernel into a
# large, mostly zero matrix; [exercise 9 of image convolution](01_convolution.ipynb)
# builds both versions for one channel. The transpose of that matrix is the transposed
# convolution of the [padding and stride exercises](02_padding_stride.ipynb).
# :::

# %% [markdown]
# ## 7. Reading wider strips
#
# > A fast $k \times k$ convolution could read a $k$-wide strip of the input to compute a
# > 1-wide strip of the output, or read a $(k + \Delta)$-wide strip to compute a
# > $\Delta$-wide strip. Why is the latter preferable? Is there a limit to how large
# > $\Delta$ should be?
#
# :::{admonition} Answer
# :class: dropdown
# We answer with a count rather than a benchmark, since the effect depends on caches and
# registers. Moving a number from memory into fast storage costs far more than a
# multiply-add, so what matters is how many numbers we load per output. Producing a
# column of outputs $\Delta$ wide needs the input strip of width $k + \Delta - 1$ (the
# question's $k + \Delta$, counted loosely): loaded once, it serves all $\Delta$ outputs.
# Per output column that is $k + \Delta - 1$ over $\Delta$ input columns, which falls from $k$
# towards 1 as $\Delta$ grows:
# :::

# %% tags=["hide-input"]
k = 3
loads = {delta: (k + delta - 1) / delta for delta in [1, 2, 4, 8, 16, 64]}
for delta, per_output in loads.items():
    print(f"delta {delta:>2}: load {k + delta - 1:>2} input columns for {delta:>2} outputs "
          f"-> {per_output:.2f} per output column")
values = list(loads.values())
assert values[0] == k and all(a > b > 1 for a, b in zip(values, values[1:]))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The saving flattens out (from $k$ loads to nearly 1), while the strip grows linearly.
# The limit is the fast memory: a strip of $(k + \Delta - 1) \times k$ values per input
# channel (plus the $\Delta$ partial sums and the kernel) must fit in registers or the L1
# cache; once it no longer fits, values are evicted and reloaded and the saving is lost.
# So $\Delta$ should be as large as the fast memory allows, and no larger.
# :::

# %% [markdown]
# ## 8. Block-diagonal weights and grouped convolutions
#
# > How much faster is it to multiply by a $c \times c$ block-diagonal matrix with $b$
# > blocks than by a dense one? What is its downside, and how can it be fixed?
#
# :::{admonition} Answer
# :class: dropdown
# A dense $c \times c$ matrix times a vector costs $c^2$ multiply-adds. With $b$ diagonal
# blocks of size $c/b$, only the blocks need multiplying: $b (c/b)^2 = c^2 / b$, so $b$
# times fewer. Applied to the channel dimension of a convolution, this is a **grouped
# convolution** (`groups=g` in `nn.Conv2d`): the channels are split into $g$ groups, and
# each output group only sees its own input group. Its weight has shape
# $(c_o, c_i/g, k_h, k_w)$: $g$ times fewer parameters and multiply-adds.
# :::

# %% tags=["hide-input"]
c_i, c_o, g = 8, 12, 4
dense = nn.Conv2d(c_i, c_o, 3, bias=False)
grouped = nn.Conv2d(c_i, c_o, 3, groups=g, bias=False)
X = torch.randn(1, c_i, 10, 10, generator=gen)
with FlopCounterMode(display=False) as fc_dense:
    dense(X)
with FlopCounterMode(display=False) as fc_grouped:
    grouped(X)
print("weights:", tuple(dense.weight.shape), "->", tuple(grouped.weight.shape))
print(f"parameters: {dense.weight.numel()} -> {grouped.weight.numel()}, "
      f"FLOPs: {fc_dense.get_total_flops():,} -> {fc_grouped.get_total_flops():,}")
assert dense.weight.numel() == g * grouped.weight.numel()
assert fc_dense.get_total_flops() == g * fc_grouped.get_total_flops()

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# It really is a dense convolution whose weight is block-diagonal in the channel
# dimensions: zero wherever an output channel and an input channel belong to different
# groups.
# :::

# %% tags=["hide-input"]
block = torch.zeros(c_o, c_i, 3, 3)
out_per_group, in_per_group = c_o // g, c_i // g
for j in range(g):
    block[j * out_per_group:(j + 1) * out_per_group,
          j * in_per_group:(j + 1) * in_per_group] = \
        grouped.weight.detach()[j * out_per_group:(j + 1) * out_per_group]
with torch.no_grad():
    torch.testing.assert_close(grouped(X), F.conv2d(X, block))
print("which (output, input) channel pairs are connected:")
print((block.abs().sum(dim=(2, 3)) > 0).int())


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **The downside** is visible in that pattern: information never crosses between groups.
# Stacking grouped layers does not help, since the block structure composes into another
# block structure. We can check with gradients: an output channel of group 0 does not
# depend at all on the input channels of the other groups, even after two grouped layers.
#
# **A fix** is to mix channels between the grouped layers. ShuffleNet's *channel shuffle*
# reorders the channels so that each new group takes one channel from every old group
# (a reshape to `(groups, channels per group)`, a transpose, and a flatten; with at
# least as many channels per group as groups, one shuffle connects everything); a
# $1 \times 1$ dense convolution after the grouped one (as in depthwise-separable
# convolutions) also works.
# :::

# %% tags=["hide-input"]
def channel_shuffle(X, groups):
    b, c, h, w = X.shape
    return X.reshape(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)

layer1 = nn.Conv2d(16, 16, 3, padding=1, groups=4)
layer2 = nn.Conv2d(16, 16, 3, padding=1, groups=4)

def input_channels_reached(shuffle):
    """Which input channels influence output channel 0 after two grouped layers."""
    X = torch.randn(1, 16, 6, 6, generator=gen, requires_grad=True)
    H = layer1(X)
    if shuffle:
        H = channel_shuffle(H, 4)
    layer2(H)[0, 0].sum().backward()
    return (X.grad.abs().sum(dim=(0, 2, 3)) > 0).int()

print("channel order after shuffling 0..15:", channel_shuffle(
    torch.arange(16.).reshape(1, 16, 1, 1), 4).flatten().int().tolist())
without, with_shuffle = input_channels_reached(False), input_channels_reached(True)
print("input channels reaching output 0, no shuffle:  ", without.tolist())
print("input channels reaching output 0, with shuffle:", with_shuffle.tolist())
assert without.tolist() == [1] * 4 + [0] * 12 and with_shuffle.sum() == 16
