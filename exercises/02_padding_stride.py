# %% [markdown]
# # Padding and Stride: Exercises
#
# Worked answers to the exercises of [Padding and Stride](../chapters/02_padding_stride.ipynb).
# Each answer is a short argument followed by code that checks it; where a fact can be
# checked, an `assert` does so.

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
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import utils

gen = utils.seed_everything(0)
torch.set_printoptions(precision=4)


# %% [markdown]
# ## 1. The chapter's examples, by formula and by experiment
#
# > For the last example of the stride section (kernel $3 \times 5$, padding `(0, 1)`,
# > stride `(3, 4)`), compute the output shape by hand and compare with the experiment.
#
# :::{admonition} Answer
# :class: dropdown
# Each axis follows $n_\text{out} = \lfloor (n + 2p - k)/s \rfloor + 1$ on its own.
# For the $8 \times 8$ input, rows give $\lfloor (8 + 0 - 3)/3 \rfloor + 1 =
# \lfloor 5/3 \rfloor + 1 = 2$ and columns $\lfloor (8 + 2 - 5)/4 \rfloor + 1 =
# \lfloor 5/4 \rfloor + 1 = 2$, so the output is $2 \times 2$. The table repeats the
# calculation for every example of the chapter and runs the layers:
# :::

# %% tags=["hide-input"]
def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)

def shape_by_formula(n, kernel_size, padding=0, stride=1):
    """(h_out, w_out) of a convolution on an n x n input, one axis at a time."""
    return tuple((n + 2 * p - k) // s + 1
                 for k, p, s in zip(pair(kernel_size), pair(padding), pair(stride)))

examples = [dict(kernel_size=3, padding=1), dict(kernel_size=(5, 3), padding=(2, 1)),
            dict(kernel_size=3, padding=1, stride=2),
            dict(kernel_size=(3, 5), padding=(0, 1), stride=(3, 4))]
X = torch.rand(1, 1, 8, 8)
print(f"{'kernel':>8} {'padding':>8} {'stride':>8} | {'formula':>8} {'nn.Conv2d':>10}")
for ex in examples:
    by_formula = shape_by_formula(8, **ex)
    by_layer = tuple(nn.Conv2d(1, 1, **ex)(X).shape[2:])
    print(f"{str(pair(ex['kernel_size'])):>8} {str(pair(ex['padding'])):>8} "
          f"{str(pair(ex.get('stride', 1))):>8} | {str(by_formula):>8} {str(by_layer):>10}")
    assert by_formula == by_layer

# %% [markdown]
# ## 2. Other combinations of padding and stride
#
# > Try other combinations of padding and stride on the $8 \times 8$ input.
#
# :::{admonition} Answer
# :class: dropdown
# Twelve random combinations of rectangular kernels, paddings and strides (seeded, so the
# table is the same on every run), each computed by the formula and by `nn.Conv2d`:
# :::

# %% tags=["hide-input"]
print(f"{'kernel':>8} {'padding':>8} {'stride':>8} | {'formula':>8} {'nn.Conv2d':>10}")
for _ in range(12):
    k = tuple(torch.randint(1, 6, (2,), generator=gen).tolist())
    p = tuple(torch.randint(0, 3, (2,), generator=gen).tolist())
    s = tuple(torch.randint(1, 5, (2,), generator=gen).tolist())
    by_formula = shape_by_formula(8, k, p, s)
    by_layer = tuple(nn.Conv2d(1, 1, kernel_size=k, padding=p, stride=s)(X).shape[2:])
    print(f"{str(k):>8} {str(p):>8} {str(s):>8} | {str(by_formula):>8} {str(by_layer):>10}")
    assert by_formula == by_layer

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Two things to notice. Different settings can give the same shape, because the floor
# throws away the remainder of $(n + 2p - k)/s$. And nothing stops you from padding by
# more than $k - 1$; then some windows see nothing but padding, and their output is just
# the bias. With a $3 \times 3$ kernel and padding 3, the outer ring of outputs is
# constant:
# :::

# %% tags=["hide-input"]
conv2d = nn.Conv2d(1, 1, kernel_size=3, padding=3)
Y = conv2d(torch.randn(1, 1, 8, 8))[0, 0]
ring = torch.cat([Y[0], Y[-1], Y[:, 0], Y[:, -1]])
print("output shape:", tuple(Y.shape))
print("outer ring equals the bias everywhere:", torch.allclose(ring, conv2d.bias.expand_as(ring)))
assert torch.allclose(ring, conv2d.bias.expand_as(ring))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Such outputs waste computation, which is why padding beyond $(k - 1)/2$ is rare.
# :::

# %% [markdown]
# ## 3. What a stride of 2 means for audio
#
# > For audio signals, what does a stride of 2 correspond to?
#
# :::{admonition} Answer
# :class: dropdown
# An audio signal is a 1-D sequence of samples taken at a sample rate $f_s$ (16,000 per
# second for speech, say). A 1-D convolution with stride 2 computes its output at every
# second sample, so the output is a signal at rate $f_s / 2$: stride 2 *halves the sample
# rate*. By the sampling theorem, a signal sampled at $f_s$ can only represent
# frequencies up to the Nyquist frequency $f_s / 2$, so halving the rate also halves the
# highest frequency the output can carry. Anything between the new and the old Nyquist
# frequency does not disappear; it folds back and masquerades as a lower frequency
# (*aliasing*).
#
# A one-tap kernel with weight 1 and stride 2 is plain subsampling, the same as
# slicing `x[::2]`:
# :::

# %% tags=["hide-input"]
fs = 1000                       # samples per second
t = torch.arange(fs) / fs       # one second
def tone(freq):
    return torch.sin(2 * math.pi * freq * t)

subsample = nn.Conv1d(1, 1, kernel_size=1, stride=2, bias=False)
nn.init.ones_(subsample.weight)
x = tone(300)
with torch.no_grad():
    y = subsample(x[None, None])[0, 0]   # (batch, channels, time) in and out
print(len(x), "samples at", fs, "Hz ->", len(y), "samples at", fs // 2, "Hz")
assert torch.equal(y, x[::2])


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The Nyquist frequency was 500 Hz; after striding it is 250 Hz. A 300 Hz tone now lies
# above it. The strongest frequency in each signal's spectrum shows what happens:
# :::

# %% tags=["hide-input"]
def peak_frequency(signal, rate):
    """The frequency (Hz) of the largest bin of the signal's spectrum."""
    spectrum = torch.fft.rfft(signal).abs()
    return spectrum.argmax().item() * rate / len(signal)

print(f"{'tone':>6} | {'peak at 1000 Hz':>15} | {'peak after stride 2':>19}")
for freq in [100, 200, 300, 400]:
    x = tone(freq)
    before, after = peak_frequency(x, fs), peak_frequency(x[::2], fs / 2)
    print(f"{freq:>6} | {before:>15.0f} | {after:>19.0f}")
    assert before == freq
    assert after == (freq if freq < fs / 4 else fs / 2 - freq)  # folded at the new Nyquist

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Tones below the new Nyquist frequency survive; a tone at $f$ above it comes out at
# $f_s/2 - f$, the new sample rate minus $f$ (300 Hz becomes 200 Hz, 400 Hz becomes 100 Hz). The figure shows why: the
# kept samples of the 300 Hz tone lie exactly on a (sign-flipped) 200 Hz sine, so after
# striding the two are indistinguishable.
# :::

# %% tags=["hide-input"]
t_fine = torch.linspace(0, 0.02, 401)
fig, ax = plt.subplots(figsize=(9, 3.5))
ax.plot(t_fine * 1000, torch.sin(2 * math.pi * 300 * t_fine), color="tab:blue",
        lw=1, label="300 Hz tone")
ax.plot(t_fine * 1000, -torch.sin(2 * math.pi * 200 * t_fine), color="tab:red",
        lw=1, ls="--", label="200 Hz tone (sign flipped)")
n_show = 21
ax.plot(t[:n_show] * 1000, tone(300)[:n_show], "o", color="tab:blue", mfc="white",
        label="samples at 1000 Hz")
ax.plot(t[:n_show:2] * 1000, tone(300)[:n_show:2], "o", color="black", ms=5,
        label="kept by stride 2 (500 Hz)")
ax.set_xlabel("time (ms)")
ax.set_ylabel("amplitude")
ax.set_title("Aliasing: after stride 2, a 300 Hz tone looks like 200 Hz")
ax.legend(fontsize=9, loc="center left", bbox_to_anchor=(1.01, 0.5))
fig.tight_layout()
plt.show()
assert torch.allclose(tone(300)[::2], -torch.sin(2 * math.pi * 200 * t[::2]), atol=1e-3)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# A strided convolution with a longer kernel is "filter, then keep every second sample"
# in one operation. If the kernel is a low-pass filter, it removes the frequencies that
# would alias before they can fold back: this is how audio software downsamples. Below,
# a 63-tap windowed-sinc low-pass kernel (cut-off 200 Hz) with stride 2 keeps a 100 Hz
# tone and removes the 300 Hz tone instead of turning it into a fake 200 Hz one.
# (A learned strided convolution *can* learn such a filter, but nothing forces it to.)
# :::

# %% tags=["hide-input"]
half = 31
taps = torch.arange(-half, half + 1)
cutoff = 200 / fs                                 # cut-off as a fraction of the rate
lowpass = 2 * cutoff * torch.sinc(2 * cutoff * taps) * torch.hamming_window(
    2 * half + 1, periodic=False)
lowpass = lowpass / lowpass.sum()                 # gain 1 at frequency 0

def amplitude(signal):
    return math.sqrt(2 * signal.pow(2).mean().item())  # a sine's amplitude from its RMS

print(f"{'tone':>6} | {'amplitude, x[::2]':>17} | {'amplitude, low-pass + stride 2':>30}")
results = {}
for freq in [100, 300]:
    x = tone(freq)[None, None]
    filtered = F.conv1d(x, lowpass[None, None], stride=2)[0, 0]
    results[freq] = amplitude(filtered)
    print(f"{freq:>6} | {amplitude(x[0, 0, ::2]):>17.2f} | {results[freq]:>30.2f}")

# %% tags=["hide-input"]
assert results[100] > 0.95 and results[300] < 0.05


# %% [markdown]
# ## 4. Mirror padding by hand
#
# > Implement mirror padding, i.e. padding where the border values are mirrored to
# > extend the tensor, and compare it with `F.pad`.
#
# :::{admonition} Answer
# :class: dropdown
# PyTorch's `"reflect"` mirrors around the edge sample without repeating it
# (`3 2 | 1 2 3 4 | 3 2`). Along one axis that is: take the $p$ samples next to the edge,
# reverse them, and glue them on. Doing it for the last axis and then the one before
# pads height and width.
# :::

# %% tags=["hide-input"]
def reflect_pad(X, p):
    """Mirror-pad the last two axes of X by p, without repeating the edge (like F.pad)."""
    if not 0 <= p < min(X.shape[-2:]):
        raise ValueError(f"reflect padding {p} needs 0 <= p < {min(X.shape[-2:])}, "
                         "the smaller side of the input")
    for dim in (-1, -2):
        n = X.shape[dim]
        left = X.narrow(dim, 1, p).flip(dim)        # samples 1..p, reversed
        right = X.narrow(dim, n - 1 - p, p).flip(dim)  # samples n-1-p..n-2, reversed
        X = torch.cat([left, X, right], dim=dim)
    return X

print(reflect_pad(torch.arange(1., 10.).reshape(1, 1, 3, 3), 2)[0, 0].int())

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# It agrees with `F.pad(mode="reflect")` on every shape and padding we try:
# :::

# %% tags=["hide-input"]
checked = 0
for h, w in itertools.product(range(2, 7), range(2, 7)):
    X = torch.randn(2, 3, h, w)
    for p in range(min(h, w)):
        assert torch.equal(reflect_pad(X, p), F.pad(X, (p, p, p, p), mode="reflect"))
        checked += 1
print(f"reflect_pad == F.pad(mode='reflect') in {checked} cases")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Two details. First, "mirror padding" has two conventions: NumPy calls PyTorch's
# version `"reflect"` and also offers `"symmetric"`, which repeats the edge sample
# (`2 1 | 1 2 3 4 | 4 3`). Second, reflecting without repeating the edge needs more
# samples than the padding width, so both `F.pad` and our function refuse $p \ge n$:
# :::

# %% tags=["hide-input"]
row = np.array([1, 2, 3, 4])
print("numpy reflect:  ", np.pad(row, 2, mode="reflect").tolist())
print("numpy symmetric:", np.pad(row, 2, mode="symmetric").tolist())
row_t = torch.tensor(row, dtype=torch.float32)[None, None]  # (batch, channels, width)
print("torch reflect:  ", F.pad(row_t, (2, 2), mode="reflect")[0, 0].int().tolist())

caught = []
for pad_fn in (lambda X: F.pad(X, (3, 3, 3, 3), mode="reflect"), lambda X: reflect_pad(X, 3)):
    try:
        pad_fn(torch.zeros(1, 1, 3, 3))
    except (RuntimeError, ValueError) as err:
        caught.append(type(err).__name__)
print("padding 3 on a 3x3 input raises:", caught)
assert caught == ["RuntimeError", "ValueError"]


# %% [markdown]
# ## 5. The computational benefit of a stride larger than 1
#
# > What are the computational benefits of a stride larger than 1?
#
# :::{admonition} Answer
# :class: dropdown
# Each output value costs $c_i k_h k_w$ multiply-adds, and there are $c_o h_\text{out}
# w_\text{out}$ output values. Stride $s$ divides $h_\text{out}$ and $w_\text{out}$ by
# about $s$, so the layer does about $s^2$ times less work and its output takes $s^2$
# times less memory; every later layer also works on the smaller map. We count the
# multiply-adds by formula and, independently, with PyTorch's `FlopCounterMode` (which
# reports FLOPs, two per multiply-add), for a 32-to-32-channel $3 \times 3$ layer on a
# $56 \times 56$ input:
# :::

# %% tags=["hide-input"]
def conv_macs(c_i, c_o, k, n, p, s):
    """Multiply-adds of a k x k convolution on a c_i x n x n input."""
    n_out = utils.conv_output_size(n, k, p, s)
    return c_o * c_i * k * k * n_out * n_out

X = torch.randn(1, 32, 56, 56)
K = torch.randn(32, 32, 3, 3)
macs = {}
print(f"{'stride':>6} | {'output':>9} | {'multiply-adds':>14} | {'FlopCounter / 2':>15}")
for s in [1, 2, 4]:
    with FlopCounterMode(display=False) as counter:
        Y = F.conv2d(X, K, padding=1, stride=s)
    macs[s] = conv_macs(32, 32, 3, 56, 1, s)
    print(f"{s:>6} | {str(tuple(Y.shape[2:])):>9} | {macs[s]:>14,} | "
          f"{counter.get_total_flops() // 2:>15,}")
    assert counter.get_total_flops() == 2 * macs[s]
print("saving of stride 2:", macs[1] / macs[2], "x; of stride 4:", macs[1] / macs[4], "x")


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Measured time goes the same way, though the ratios need not match the counts: fixed
# overheads, memory traffic and the algorithm PyTorch picks for each stride all play a
# part. Timings depend on the machine, so the printout is not compared and the check
# below only asserts the direction. (We time on one thread, so that the comparison is
# not disturbed by other programs competing for the cores.)
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
threads = torch.get_num_threads()
torch.set_num_threads(1)  # time the arithmetic, not the scheduling of threads
try:
    seconds = {s: utils.best_time(lambda: F.conv2d(X, K, padding=1, stride=s)) for s in [1, 2, 4]}
finally:
    torch.set_num_threads(threads)
for s, sec in seconds.items():
    print(f"stride {s}: {sec * 1e3:.2f} ms  (speed-up over stride 1: {seconds[1] / sec:.1f}x)")

# %% tags=["hide-input"]
assert seconds[4] < seconds[1]  # 16x fewer multiply-adds: robustly faster

# %% [markdown]
# ## 6. Statistical benefits of a stride larger than 1
#
# > What might be the statistical benefits of a stride larger than 1?
#
# :::{admonition} Answer
# :class: dropdown
# Three effects, each checked below.
#
# **Less redundancy.** With stride 1, neighbouring windows of a $k \times k$ kernel share
# $k - 1$ of their $k$ columns, so neighbouring outputs are strongly correlated and carry
# little new information. With stride $s$ they share $k - s$ columns. For a box filter on
# white noise the correlation of horizontal neighbours is exactly the shared fraction,
# $(k - s)/k$:
# :::

# %% tags=["hide-input"]
noise = torch.randn(1, 1, 600, 600, generator=gen)
box = torch.full((1, 1, 3, 3), 1 / 9)
print(f"{'stride':>6} | {'measured corr.':>14} | {'(k - s) / k':>11}")
for s in [1, 2, 3]:
    Y = F.conv2d(noise, box, stride=s)[0, 0]
    a, b = Y[:, :-1].flatten(), Y[:, 1:].flatten()
    corr = torch.corrcoef(torch.stack([a, b]))[0, 1].item()
    print(f"{s:>6} | {corr:>14.2f} | {(3 - s) / 3:>11.2f}")
    assert abs(corr - (3 - s) / 3) < 0.02


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Larger receptive fields, sooner.** Each output of a stack of $L$ stride-1
# $3 \times 3$ layers sees a $(2L + 1) \times (2L + 1)$ patch; with stride 2 in every layer
# the patch grows to $(2^{L+1} - 1) \times (2^{L+1} - 1)$. A network that must relate
# distant parts of an image gets there with fewer layers. We measure the receptive field
# as the set of input pixels with a non-zero gradient for one output pixel:
# :::

# %% tags=["hide-input"]
def receptive_field(num_layers, stride):
    """Side of the input patch that one central output pixel depends on."""
    X = torch.zeros(1, 1, 64, 64, requires_grad=True)
    Y = X
    for _ in range(num_layers):
        Y = F.conv2d(Y, torch.ones(1, 1, 3, 3), padding=1, stride=stride)
    Y[0, 0, Y.shape[2] // 2, Y.shape[3] // 2].backward()
    rows = (X.grad[0, 0] != 0).any(dim=1)
    return int(rows.sum())

print(f"{'layers':>6} | {'stride 1':>8} | {'stride 2':>8}")
for L in [1, 2, 3, 4]:
    rf1, rf2 = receptive_field(L, 1), receptive_field(L, 2)
    print(f"{L:>6} | {rf1:>8} | {rf2:>8}")
    assert rf1 == 2 * L + 1 and rf2 == 2 ** (L + 1) - 1

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Fewer parameters downstream.** A classifier head on top of a feature map has one
# weight per feature-map value per class. Halving height and width makes that layer four
# times smaller, and a smaller model has less room to overfit:
# :::

# %% tags=["hide-input"]
head_1 = nn.Linear(16 * 28 * 28, 10)  # 16 channels at 28x28
head_2 = nn.Linear(16 * 14 * 14, 10)  # after a stride-2 layer
n1 = sum(p.numel() for p in head_1.parameters())
n2 = sum(p.numel() for p in head_2.parameters())
print(f"head on 28x28: {n1:,} parameters; on 14x14: {n2:,} ({n1 / n2:.1f}x fewer)")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# There is a statistical *cost* too. A stride-1 convolution is shift-equivariant: shift
# the input by one pixel and the output shifts by one pixel. A stride-2 convolution only
# keeps that promise for even shifts; a one-pixel shift changes the output into something
# that is not a shift of the old one (the aliasing of exercise 3, in 2-D). Circular
# padding makes the check exact:
# :::

# %% tags=["hide-input"]
K = torch.randn(1, 1, 3, 3, generator=gen)
X = torch.randn(1, 1, 16, 16, generator=gen)
def conv(X, s):
    return F.conv2d(F.pad(X, (1, 1, 1, 1), mode="circular"), K, stride=s)

def shift(T, k):
    return torch.roll(T, shifts=k, dims=-1)  # move right by k, wrapping


s1 = torch.allclose(conv(shift(X, 1), 1), shift(conv(X, 1), 1), atol=1e-5)
s2_even = torch.allclose(conv(shift(X, 2), 2), shift(conv(X, 2), 1), atol=1e-5)
s2_odd = any(torch.allclose(conv(shift(X, 1), 2), shift(conv(X, 2), k), atol=1e-5)
             for k in range(8))
print("stride 1, shift by 1: output shifts by 1:           ", s1)
print("stride 2, shift by 2: output shifts by 1:           ", s2_even)
print("stride 2, shift by 1: output is some shift of before:", s2_odd)
assert s1 and s2_even and not s2_odd

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# So stride trades exactness of translation equivariance for efficiency and reach;
# [pooling](../chapters/04_pooling.ipynb) and anti-aliasing filters soften the trade.
# :::

# %% [markdown]
# ## 7. Which padding keeps a 28 x 28 map unchanged?
#
# > Which padding keeps a $28 \times 28$ map at $28 \times 28$ for kernels 3, 5 and 7?
#
# :::{admonition} Answer
# :class: dropdown
# With stride 1 the output side is $28 + 2p - k + 1$, which equals 28 exactly when
# $p = (k - 1)/2$: padding 1, 2 and 3.
# :::

# %% tags=["hide-input"]
for k in [3, 5, 7]:
    p = (k - 1) // 2
    out = nn.Conv2d(1, 1, kernel_size=k, padding=p)(torch.zeros(1, 1, 28, 28))
    print(f"kernel {k}: padding {p} -> {tuple(out.shape[2:])}")
    assert out.shape == (1, 1, 28, 28)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# For an even kernel no symmetric padding works: $2p - k + 1$ is odd, so it can never be
# 0. With $k = 4$, padding 1 shrinks the map and padding 2 grows it:
# :::

# %% tags=["hide-input"]
sides = {p: nn.Conv2d(1, 1, kernel_size=4, padding=p)(torch.zeros(1, 1, 28, 28)).shape[-1]
         for p in range(4)}
print("kernel 4, padding -> output side:", sides)
assert 28 not in sides.values()

# %% [markdown]
# ## 8. A stride of 1/2
#
# > How would you implement a stride of $\frac{1}{2}$? What does it correspond to? When
# > would this be useful?
#
# :::{admonition} Answer
# :class: dropdown
# A stride of $\frac12$ moves the window half a pixel at a time, producing two outputs per
# input pixel in each direction: it *upsamples* by 2. The way to realise it is to make
# half-pixel positions exist: insert a zero between neighbouring input values (and
# around them), then run an ordinary stride-1 convolution over the enlarged grid. That is
# exactly a *transposed convolution* (also called a fractionally strided convolution)
# {cite}`dumoulin2016guide`, `nn.ConvTranspose2d` in PyTorch. With stride 2 its output
# side is $(n - 1)s - 2p + k$, so kernel 2 (padding 0) or kernel 4 (padding 1) exactly
# doubles the size:
# :::

# %% tags=["hide-input"]
X = torch.randn(1, 1, 4, 4)
for k, p in [(2, 0), (4, 1)]:
    up = nn.ConvTranspose2d(1, 1, kernel_size=k, stride=2, padding=p)
    out = up(X)
    print(f"kernel {k}, padding {p}: {tuple(X.shape[2:])} -> {tuple(out.shape[2:])}")
    assert out.shape[2:] == (8, 8) == ((4 - 1) * 2 - 2 * p + k,) * 2


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Now the zero-insertion picture, checked. Put the input values on every second position
# of a grid, pad by $k - 1$, and cross-correlate with the kernel flipped in both
# directions (the transposed convolution scatters each input value through the kernel;
# gathering the same sums means reading the kernel backwards):
# :::

# %% tags=["hide-input"]
def zero_insert(X, s):
    """Put X's values s apart, with s - 1 zeros between neighbours."""
    h, w = X.shape[-2:]
    Z = X.new_zeros(*X.shape[:-2], (h - 1) * s + 1, (w - 1) * s + 1)
    Z[..., ::s, ::s] = X
    return Z

K = torch.randn(1, 1, 3, 3)
print(zero_insert(torch.arange(1., 5.).reshape(1, 1, 2, 2), 2)[0, 0].int())
transposed = F.conv_transpose2d(X, K, stride=2)
by_zero_insertion = F.conv2d(F.pad(zero_insert(X, 2), (2, 2, 2, 2)), K.flip(-2, -1))
print("output shape:", tuple(transposed.shape[2:]))
torch.testing.assert_close(transposed, by_zero_insertion)
print("conv_transpose2d(stride=2) == zero insertion + padding + conv2d with flipped kernel")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Why "transposed"? A convolution is a linear map, i.e. a matrix $C$ acting on the
# flattened input. The transposed convolution applies $C^\top$. That is also what
# backpropagation does: the gradient of a stride-2 convolution with respect to its input
# *is* a stride-2 transposed convolution of the output gradient. Two checks, in double
# precision: the defining identity $\langle Cx, y \rangle = \langle x, C^\top y \rangle$, and the
# gradient computed by autograd.
# :::

# %% tags=["hide-input"]
x = torch.randn(1, 1, 9, 9, dtype=torch.float64, requires_grad=True)
K = torch.randn(1, 1, 3, 3, dtype=torch.float64)
Cx = F.conv2d(x, K, stride=2)                          # 9x9 -> 4x4
y = torch.randn_like(Cx)
CTy = F.conv_transpose2d(y, K, stride=2)               # 4x4 -> 9x9
gap = ((Cx * y).sum() - (x * CTy).sum()).abs().item()
print("|<Cx, y> - <x, C^T y>| < 1e-12:", gap < 1e-12)
(Cx * y).sum().backward()
torch.testing.assert_close((Cx * y).sum(), (x * CTy).sum())
torch.testing.assert_close(x.grad, CTy)
print("autograd's input gradient == conv_transpose2d of the output gradient")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The two inner products differ only by double-precision rounding. Transposed convolutions are
# useful wherever a network must *produce* an image or a dense map from a smaller one:
# the decoder of a segmentation network, the generator of a GAN, super-resolution. A
# common alternative is to upsample first (nearest-neighbour or bilinear) and then
# convolve. Nearest-neighbour upsampling is itself a transposed convolution with a
# $2 \times 2$ kernel of ones, which also shows the two are close relatives:
# :::

# %% tags=["hide-input"]
X = torch.randn(1, 1, 4, 4)
nearest = F.interpolate(X, scale_factor=2, mode="nearest")
as_transposed = F.conv_transpose2d(X, torch.ones(1, 1, 2, 2), stride=2)
assert torch.equal(nearest, as_transposed)
print("nearest upsampling == conv_transpose2d with a 2x2 kernel of ones, stride 2")
