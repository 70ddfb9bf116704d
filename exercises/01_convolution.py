# %% [markdown]
# # Image Convolution: Exercises
#
# Worked answers to the exercises of [Image convolution](../chapters/01_convolution.ipynb).
# Each answer states the result in a sentence or two, then backs it with code that ran;
# wherever a fact can be checked, an `assert` checks it. Try each exercise yourself
# before reading the answer.
#
# **What you'll practise**
#
# - relating convolutions to fully connected layers (1x1 kernels, full-size kernels,
#   patches) and to matrix multiplication;
# - reasoning about borders, translation invariance and receptive fields with small
#   experiments;
# - designing kernels for derivatives, integrals, edges in a given direction and blurs,
#   and learning kernels from data;
# - computing the gradients of a convolution by hand and checking them against autograd.

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

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import utils

utils.seed_everything(0)
torch.set_printoptions(precision=4, sci_mode=False)

# %% [markdown]
# ## 1. A kernel with $\Delta = 0$
#
# > Suppose the locality size is $\Delta = 0$. Show that the kernel then implements a
# > fully connected layer for each pixel, independently, across channels.
#
# :::{admonition} Answer
# :class: dropdown
# With $\Delta = 0$ the sums over the offsets $a$ and $b$ keep only $a = b = 0$: the
# kernel is 1x1. With input channels $c$ and output channels $o$ (indexed as in
# `nn.Conv2d`, kernel `(out_channels, in_channels, height, width)`) the layer becomes
#
# $$Y[o, i, j] = u[o] + \sum_c K[o, c, 0, 0]\, X[c, i, j],$$
#
# which, for each pixel $(i, j)$ separately, multiplies the vector of that pixel's
# channel values by the matrix $K[\cdot, \cdot, 0, 0]$ and adds a bias: a fully
# connected layer from $c$ to $o$ units, with the *same* weights at every pixel. So
# `nn.Conv2d(c_in, c_out, kernel_size=1)` must equal an `nn.Linear(c_in, c_out)`
# applied to every pixel's channel vector, if we give both the same weights:
# :::

# %% tags=["hide-input"]
torch.manual_seed(0)
X = torch.randn(2, 3, 5, 5)  # (batch, channels, height, width)
conv = nn.Conv2d(3, 4, kernel_size=1)
linear = nn.Linear(3, 4)
with torch.no_grad():
    linear.weight.copy_(conv.weight.reshape(4, 3))
    linear.bias.copy_(conv.bias)

Y_conv = conv(X)
# Move channels last, so that each pixel is a row vector that nn.Linear transforms.
Y_linear = linear(X.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
torch.testing.assert_close(Y_conv, Y_linear)
print("1x1 convolution == nn.Linear on every pixel:", tuple(Y_conv.shape))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# "Independently" means that pixels do not mix: changing one input pixel changes the
# output at that pixel only.
# :::

# %% tags=["hide-input"]
X2 = X.clone()
X2[0, :, 2, 3] += 1.0  # perturb every channel of pixel (2, 3) of the first image
changed = (conv(X2) - conv(X)).abs().sum(dim=1) > 0  # (batch, height, width)
print("output pixels that changed:", changed.nonzero().tolist())
assert changed.nonzero().tolist() == [[0, 2, 3]]

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# This is the 1x1 convolution of Network in Network {cite}`lin2013network`, which mixes
# channels without looking at neighbours; `utils.corr2d_multi_in_out_1x1` computes it as
# one matrix product, and [the channels chapter](../chapters/03_channels.ipynb) uses it
# to change the number of channels cheaply.
# :::

# %% tags=["hide-input"]
torch.testing.assert_close(utils.corr2d_multi_in_out_1x1(X[0], conv.weight.data),
                           Y_conv[0].data - conv.bias.data[:, None, None])
print("utils.corr2d_multi_in_out_1x1 agrees (up to the bias)")

# %% [markdown]
# ## 2. When translation invariance hurts
#
# > Why might translation invariance not be a good idea after all?
#
# :::{admonition} Answer
# :class: dropdown
# Because sometimes *where* something is matters as much as *what* it is. A convolutional
# layer is translation **equivariant** (shift the input and the feature map shifts with
# it), and once the feature maps are pooled over all positions the network becomes
# translation **invariant**: it can no longer tell where a pattern was. That is wrong
# whenever position carries meaning: in aligned images (cropped faces with the eyes on a
# fixed row, registered medical scans, centred Fashion-MNIST items), in documents (the
# same number means one thing in the "date" box and another in the "total" box), or in
# scenes (blue at the top is likely sky, at the bottom water).
#
# First, equivariance. With circular padding, a shifted input gives an exactly shifted
# output:
# :::

# %% tags=["hide-input"]
torch.manual_seed(0)
conv = nn.Conv2d(1, 4, kernel_size=3, padding=1, padding_mode="circular")
X = torch.rand(1, 1, 8, 8)
shift = (2, 3)  # rows, columns
lhs = conv(torch.roll(X, shifts=shift, dims=(2, 3)))
rhs = torch.roll(conv(X), shifts=shift, dims=(2, 3))
torch.testing.assert_close(lhs, rhs)
print("conv(shift(X)) == shift(conv(X))")


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Now a task where position is the whole point: is the bright square in the left or the
# right half of the image? A small CNN that ends with global average pooling, a common
# way to end a CNN, produces *identical* features for the two images, whatever its
# weights; so no classifier on top of it can beat a coin flip. We check five random
# initialisations.
# :::

# %% tags=["hide-input"]
def blob_image(col, row=7, size=16):
    """A black size x size image with a white 2x2 square at (row, col)."""
    X = torch.zeros(1, 1, size, size)
    X[0, 0, row:row + 2, col:col + 2] = 1.0
    return X


left, right = blob_image(col=4), blob_image(col=10)
for seed in range(5):
    torch.manual_seed(seed)
    cnn = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten())
    torch.testing.assert_close(cnn(left), cnn(right))
print("CNN + global pooling: identical features for left and right, 5 seeds out of 5")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# A fully connected layer has a weight per pixel, so it can simply weigh the left half
# positively and the right half negatively:
# :::

# %% tags=["hide-input"]
fc = nn.Linear(16 * 16, 1, bias=False)
with torch.no_grad():
    w = torch.ones(16, 16)
    w[:, 8:] = -1.0  # +1 on the left half, -1 on the right half
    fc.weight.copy_(w.reshape(1, -1))
score_left, score_right = fc(left.flatten(1)).item(), fc(right.flatten(1)).item()
print(f"fully connected score: left {score_left:+.1f}, right {score_right:+.1f}")
assert score_left > 0 > score_right

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# In practice CNNs recover some position information anyway: zero padding makes the
# border look different from the interior, so a pattern that touches the border gives
# different features. (Below, the square sits at the left border in one image and in the
# middle of the other.) Architectures that need position add it explicitly: fully
# connected layers at the end (as LeNet does), coordinate channels, or position
# embeddings.
# :::

# %% tags=["hide-input"]
torch.manual_seed(0)
cnn = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
                    nn.AdaptiveAvgPool2d(1), nn.Flatten())
same = torch.allclose(cnn(blob_image(col=0)), cnn(blob_image(col=7)))
print("features equal for a square at the border and one in the middle:", same)
assert not same

# %% [markdown]
# ## 3. The image border
#
# > What must we decide when a hidden unit near the image border needs pixels outside
# > the image?
#
# :::{admonition} Answer
# :class: dropdown
# Three things. (1) Whether to compute those units at all: without padding the output
# shrinks by $k - 1$ per layer (the chapter's shape rule). (2) If we pad, *what* to pad
# with, which amounts to a guess about the world beyond the border: zeros (black),
# copies of the edge pixel (`replicate`), a mirror image (`reflect`), or the opposite
# side of the image (`circular`). Every guess can create features that are not in the
# scene. (3) Border pixels take part in fewer windows than central ones, so they have
# less influence on the next layer.
#
# For (2), apply the Laplacian, which should be zero on constant and on linear images,
# with each padding mode and count the outputs that are not zero: each is a false
# response caused by the border alone.
# :::

# %% tags=["hide-input"]
laplacian = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
images = {"constant": torch.ones(6, 6),
          "ramp": torch.arange(6.0).repeat(6, 1)}  # brightness grows left to right
print(f"{'padding':<10}{'output':>8}{'constant':>10}{'ramp':>6}   (false responses)")
counts = {}
for mode in ("none", "zeros", "replicate", "reflect", "circular"):
    row = []
    for name, img in images.items():
        X = img[None, None]
        if mode != "none":
            X = F.pad(X, (1, 1, 1, 1), mode="constant" if mode == "zeros" else mode)
        Y = F.conv2d(X, laplacian[None, None])[0, 0]
        counts[mode, name] = int((Y.abs() > 1e-6).sum())
        row.append(counts[mode, name])
    print(f"{mode:<10}{'x'.join(map(str, Y.shape)):>8}{row[0]:>10}{row[1]:>6}")
assert counts["none", "constant"] == counts["none", "ramp"] == 0
assert counts["zeros", "constant"] > 0 and counts["circular", "ramp"] > 0
assert counts["replicate", "constant"] == counts["reflect", "constant"] == 0

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The table shows the trade-off. Without padding there are no false responses but the
# output is smaller. Zero padding invents edges even on a constant image. Replicate and
# reflect padding are right for the constant image, but they bend the ramp at the left
# and right borders (replicate flattens it, reflect folds it back), and circular padding
# glues the bright right side to the dark left side. No padding mode is right for every image; zero padding is
# the common default because it is simple and, as exercise 2 showed, gives the network
# a way to know where the border is.
#
# For (3), count how many 3x3 windows (no padding) use each pixel of a 6x6 image. The
# gradient of the sum of all outputs with respect to the input counts exactly that when
# the kernel is all ones:
# :::

# %% tags=["hide-input"]
X = torch.zeros(1, 1, 6, 6, requires_grad=True)
F.conv2d(X, torch.ones(1, 1, 3, 3)).sum().backward()
uses = X.grad[0, 0].int()
print(uses)
assert uses[0, 0] == 1 and uses[2, 2] == 9

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# A corner pixel is seen by one window, a central one by nine: without padding, the
# content near the border barely reaches the next layer.
# :::
#
# ## 4. A convolutional layer for audio
#
# > Describe an analogous convolutional layer for audio.
#
# :::{admonition} Answer
# :class: dropdown
# Audio is a one-dimensional signal $x[t]$, for example 16,000 samples per second. The
# same two principles apply in time: a sound means the same whenever it occurs
# (translation invariance), and short events such as a click or a phoneme are local. So
#
# $$h[t] = u + \sum_{a=-\Delta}^{\Delta} v[a]\, x[t + a],$$
#
# which is `nn.Conv1d` with input `(batch, channels, time)`; stereo has two channels.
# The sketch below detects a known sound in a noisy recording: the kernel is the sound
# itself (a 25 ms burst of a 440 Hz tone), and the output peaks where the sound is. Move
# the sound, and the peak moves with it.
# :::

# %% tags=["hide-input"]
rate = 8000  # samples per second
t = torch.arange(200) / rate
burst = torch.sin(2 * math.pi * 440 * t) * torch.hann_window(200, periodic=False)


def recording(start, length=4000, seed=0):
    """Half a second of faint noise with the burst added at sample `start`."""
    g = torch.Generator().manual_seed(seed)
    x = 0.05 * torch.randn(length, generator=g)
    x[start:start + len(burst)] += burst
    return x


detector = nn.Conv1d(1, 1, kernel_size=len(burst), bias=False)
with torch.no_grad():
    detector.weight.copy_(burst.reshape(1, 1, -1))
    for start in (1000, 2500):
        response = detector(recording(start).reshape(1, 1, -1))[0, 0]
        peak = response.argmax().item()
        print(f"burst inserted at sample {start}, detector peaks at sample {peak}")
        assert peak == start

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# A network for raw audio stacks such layers. Raw audio is long, so the first layer
# typically uses a long kernel with a stride (here 80 samples, 10 ms, moving 4 samples
# at a time), and pooling shrinks the time axis further; global pooling at the end
# gives a fixed-size vector for any clip length. An alternative is to first compute a
# spectrogram (time by frequency) and treat it as an image with `nn.Conv2d`.
# :::

# %% tags=["hide-input"]
audio_net = nn.Sequential(
    nn.Conv1d(1, 16, kernel_size=80, stride=4), nn.BatchNorm1d(16), nn.ReLU(),
    nn.MaxPool1d(4),
    nn.Conv1d(16, 32, kernel_size=3), nn.BatchNorm1d(32), nn.ReLU(), nn.MaxPool1d(4),
    nn.Conv1d(32, 64, kernel_size=3), nn.BatchNorm1d(64), nn.ReLU(), nn.MaxPool1d(4),
    nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(64, 10))
audio_net.eval()
print(utils.layer_summary(audio_net, torch.zeros(1, 1, rate)))  # one second of audio

# %% [markdown]
# ## 5. Convolutions on text
#
# > Do convolutional layers also make sense for text? Why?
#
# :::{admonition} Answer
# :class: dropdown
# Yes, in one dimension. Embed each token as a vector, so that a sentence becomes a
# sequence of vectors with the embedding dimensions as channels, and slide `nn.Conv1d`
# along the sequence. A kernel of width $k$ is then a **$k$-gram detector**: it responds
# to a particular short phrase wherever it appears (translation invariance: "not good"
# means the same at the start and at the end of a review), and it looks only at $k$
# neighbouring words (locality). Taking the maximum over positions turns the responses
# into one feature per sentence. Locality is also the limit: in "not at all good" the
# negation comes three words before "good", so only a kernel at least four words wide
# sees both; text CNNs need wider kernels or more layers, and long-range dependencies
# are why attention took over in language models. (The last sentence below, "not very
# good", already defeats the width-2 detector.)
#
# A tiny example with readable weights: one-hot embeddings, and one width-2 kernel set by
# hand to detect the bigram "not good". The bias of $-1$ makes the ReLU output $1$ only
# when both words are present.
# :::

# %% tags=["hide-input"]
vocab = ["<pad>", "the", "movie", "was", "not", "good", "very"]
index = {word: i for i, word in enumerate(vocab)}
embed = nn.Embedding(len(vocab), len(vocab))
ngram = nn.Conv1d(len(vocab), 1, kernel_size=2)
with torch.no_grad():
    embed.weight.copy_(torch.eye(len(vocab)))  # one-hot embeddings
    ngram.weight.zero_()
    ngram.weight[0, index["not"], 0] = 1.0   # first word of the window: "not"
    ngram.weight[0, index["good"], 1] = 1.0  # second word: "good"
    ngram.bias.fill_(-1.0)

sentences = ["the movie was not good", "not good the movie was",
             "the movie was good", "the movie was not very good"]
with torch.no_grad():
    for s in sentences:
        tokens = torch.tensor([[index[w] for w in s.split()]])  # (batch, length)
        X = embed(tokens).transpose(1, 2)  # (batch, embedding channels, length)
        response = torch.relu(ngram(X))[0, 0]
        print(f"{s:<30} responses {response.int().tolist()}  "
              f"max over positions {int(response.max())}")
        assert int(response.max()) == (1 if "not good" in s else 0)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The detector fires at whichever position "not good" sits, and the max over positions
# is the same for the first two sentences. It misses "not very good": the phrase
# is three words long, which a width-2 kernel cannot see at once.
# :::
#
# ## 6. Convolution is commutative
#
# > Prove that $f * g = g * f$.
#
# :::{admonition} Answer
# :class: dropdown
# For functions on the real line, $(f * g)(x) = \int f(z)\, g(x - z)\, dz$. Substitute
# $y = x - z$, so $z = x - y$ and $dz = -dy$; as $z$ runs from $-\infty$ to $\infty$,
# $y$ runs from $\infty$ to $-\infty$, and the minus sign from $dz$ swaps the limits
# back:
#
# $$(f * g)(x) = \int_{-\infty}^{\infty} f(z)\, g(x - z)\, dz
#   = \int_{-\infty}^{\infty} f(x - y)\, g(y)\, dy = (g * f)(x).$$
#
# The discrete case is the same argument with sums: $(f * g)(i) = \sum_a f(a)\, g(i - a)$,
# and $b = i - a$ runs over all integers exactly when $a$ does, so the sum equals
# $\sum_b g(b)\, f(i - b) = (g * f)(i)$. In two dimensions substitute in both indices.
# The proof needs the sums to run over *all* indices (the "full" convolution, with zeros
# outside the signals); the shortened "valid" output of the chapter keeps only the
# positions where one argument fits inside the other, which is not symmetric in the two.
#
# Numerically: `np.convolve` computes the full discrete convolution, and with integer
# signals every product is exact, so we can test equality, not closeness.
# :::

# %% tags=["hide-input"]
rng = np.random.default_rng(0)
for n_f, n_g in [(5, 3), (7, 7), (2, 9)]:
    f, g = rng.integers(-5, 6, n_f), rng.integers(-5, 6, n_g)
    assert np.array_equal(np.convolve(f, g), np.convolve(g, f))
print("np.convolve(f, g) == np.convolve(g, f) for three pairs of integer signals")
print("example:", np.convolve([1, 2, 3], [0, 1, 0.5]), np.convolve([0, 1, 0.5], [1, 2, 3]))


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The same in two dimensions with PyTorch. A full convolution is a cross-correlation with
# the flipped kernel on an input padded by $k - 1$ zeros on each side:
# :::

# %% tags=["hide-input"]
def conv2d_full(X, K):
    """Full 2-D convolution (kernel flipped, zero padding k-1): (n + k - 1) per axis."""
    k_h, k_w = K.shape
    return F.conv2d(X[None, None], K.flip(0, 1)[None, None],
                    padding=(k_h - 1, k_w - 1))[0, 0]


gen = torch.Generator().manual_seed(0)
X = torch.randint(-5, 6, (4, 6), generator=gen).double()
K = torch.randint(-5, 6, (3, 2), generator=gen).double()
assert torch.equal(conv2d_full(X, K), conv2d_full(K, X))
print("2-D full convolution commutes, shape", tuple(conv2d_full(X, K).shape))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Cross-correlation, by contrast, is *not* commutative: swapping the arguments reverses
# the output.
# :::

# %% tags=["hide-input"]
f, g = np.array([1, 2, 3]), np.array([0, 1, 5])
print("correlate(f, g):", np.correlate(f, g, mode="full"))
print("correlate(g, f):", np.correlate(g, f, mode="full"))
assert np.array_equal(np.correlate(f, g, "full"), np.correlate(g, f, "full")[::-1])

# %% [markdown]
# ## 7. Diagonal edges
#
# > Build an image `X` with a diagonal edge. What happens when you apply the kernel `K`
# > of this chapter to it? To `X` transposed? What if you transpose `K`?
#
# :::{admonition} Answer
# :class: dropdown
# Take a 6x6 image that is white on and above the diagonal and black below it.
# :::

# %% tags=["hide-input"]
X = torch.triu(torch.ones(6, 6))
K = torch.tensor([[1.0, -1.0]])
X

# %% tags=["hide-input"]
print("corr2d(X, K):\n", utils.corr2d(X, K))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Unlike the vertical edge of the chapter, where transposing made the kernel blind, a
# diagonal edge changes along rows *and* along columns, so $[1, -1]$ finds it in every
# variant. Above: walking right along row $i$, the pixel turns from black to white
# between columns $i - 1$ and $i$, so $X_{i,i-1} - X_{i,i} = -1$ on the diagonal just
# below the main one.
# :::

# %% tags=["hide-input"]
print("corr2d(X.T, K):\n", utils.corr2d(X.t(), K))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Transposing the image swaps black and white sides (it becomes white on and *below*
# the diagonal), so the change along each row goes from white to black: $+1$, now on
# the main diagonal.
# :::

# %% tags=["hide-input"]
print("corr2d(X, K.T):\n", utils.corr2d(X, K.t()))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The transposed kernel $[1, -1]^\top$ compares each pixel with the one *below* it. Going
# down a column of `X` the pixel turns from white to black, so the response is $+1$ on
# the main diagonal, in a 5x6 output. In general transposing both the image and the
# kernel transposes the output, so the last result is the transpose of the previous one:
# :::

# %% tags=["hide-input"]
assert torch.equal(utils.corr2d(X, K.t()), utils.corr2d(X.t(), K).t())
for X_any in (torch.randn(5, 7), torch.eye(6), X):
    for K_any in (K, torch.randn(2, 3)):
        assert torch.equal(utils.corr2d(X_any.t(), K_any.t()), utils.corr2d(X_any, K_any).t())
print("corr2d(X.T, K.T) == corr2d(X, K).T on every pair tried")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# A thin diagonal *line* (the identity matrix) is a pair of edges, and both show up:
# :::

# %% tags=["hide-input"]
print(utils.corr2d(torch.eye(6), K))

# %% [markdown]
# ## 8. Gradients through the hand-written `Conv2D`
#
# > What happens when you compute gradients through the hand-written `Conv2D` class?
# > Which error messages can you run into?
#
# :::{admonition} Answer
# :class: dropdown
# In the PyTorch version this notebook ran with (printed below), used as intended (a 2-D
# input), it **works**: there is no error.
# `corr2d` writes each output into a preallocated tensor, `Y[i, j] = ...`, and autograd
# records each of these in-place writes (the output's `grad_fn` is a `CopySlices` node),
# so gradients flow back to the kernel. It is merely slow, because the graph has one
# node per output element. Here is the chapter's layer, checked against `nn.Conv2d`:
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
print("PyTorch", torch.__version__)


# %% tags=["hide-input"]
def corr2d(X, K):
    """Two-dimensional cross-correlation, as written in the chapter."""
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y


class Conv2D(nn.Module):
    """The chapter's convolutional layer: one kernel and one bias, 2-D input."""

    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(kernel_size))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, X):
        return corr2d(X, self.weight) + self.bias


X = torch.ones((6, 8))
X[:, 2:6] = 0  # the chapter's image with two vertical edges
Y = corr2d(X, torch.tensor([[1.0, -1.0]]))
assert torch.equal(Y, utils.corr2d(X, torch.tensor([[1.0, -1.0]])))

torch.manual_seed(0)
layer = Conv2D(kernel_size=(1, 2))
print("grad_fn of corr2d's output:", type(corr2d(X, layer.weight).grad_fn).__name__)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Its gradients equal those of `nn.Conv2d` with the same weights:
# :::

# %% tags=["hide-input"]
reference = nn.Conv2d(1, 1, kernel_size=(1, 2))
with torch.no_grad():
    reference.weight.copy_(layer.weight.reshape(1, 1, 1, 2))
    reference.bias.copy_(layer.bias)
((layer(X) - Y) ** 2).sum().backward()
((reference(X[None, None]) - Y[None, None]) ** 2).sum().backward()
torch.testing.assert_close(layer.weight.grad, reference.weight.grad.reshape(1, 2))
torch.testing.assert_close(layer.bias.grad, reference.bias.grad)
print("Conv2D gradients == nn.Conv2d gradients")


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# And it learns the edge kernel, now together with a bias (which should go to zero). One
# surprise on the way: with the bias, the chapter's step size $0.03$ makes gradient
# descent diverge.
# :::

# %% tags=["hide-input"]
def fit_conv2d(lr, num_steps):
    """Train a fresh Conv2D((1, 2)) on (X, Y) with plain gradient descent; return it
    and the summed squared error before each step."""
    torch.manual_seed(0)
    layer = Conv2D(kernel_size=(1, 2))
    losses = []
    for _ in range(num_steps):
        loss = ((layer(X) - Y) ** 2).sum()
        layer.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in layer.parameters():
                p -= lr * p.grad
        losses.append(loss.item())
    return layer, losses


_, losses = fit_conv2d(lr=0.03, num_steps=10)
print("lr 0.03: loss grew over 10 steps:", losses[-1] > losses[0])
assert losses[-1] > 100 * losses[0]

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The loss is quadratic in the parameters $(k_0, k_1, u)$: each output is
# $k_0 x_\text{left} + k_1 x_\text{right} + u$. Its curvature (Hessian) is $2A^\top A$,
# where $A$ has one row $(x_\text{left}, x_\text{right}, 1)$ per output, and gradient
# descent on a quadratic converges only if the step size is below 2 divided by the
# largest curvature. The bias column of ones makes that curvature large:
# :::

# %% tags=["hide-input"]
A = torch.stack([X[:, :-1].flatten(), X[:, 1:].flatten(), torch.ones(6 * 7)], dim=1)
with_bias = torch.linalg.eigvalsh(2 * A.t() @ A).max().item()
without_bias = torch.linalg.eigvalsh(2 * A[:, :2].t() @ A[:, :2]).max().item()
print(f"largest curvature without bias {without_bias:.1f}: largest stable lr "
      f"{2 / without_bias:.4f}")
print(f"largest curvature with bias    {with_bias:.1f}: largest stable lr "
      f"{2 / with_bias:.4f}")
assert 2 / with_bias < 0.03 < 2 / without_bias

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# So the chapter's step size was fine without the bias and is too large with it. A step
# size of $0.01$, below the limit, learns both:
# :::

# %% tags=["hide-input"]
layer, losses = fit_conv2d(lr=0.01, num_steps=60)
for step in range(10, 61, 10):
    print(f"step {step}, loss {losses[step - 1]:.4f}")
print("kernel", [round(v, 2) for v in layer.weight.data.flatten().tolist()],
      " |bias| below 0.01:", abs(layer.bias.item()) < 0.01)
torch.testing.assert_close(layer.weight.data, torch.tensor([[1.0, -1.0]]), atol=0.01, rtol=0)
assert abs(layer.bias.item()) < 0.01


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Errors appear when the layer is used in a way it was not written for. Three common
# ones:
#
# 1. **Four-dimensional input.** The chapter trains `nn.Conv2d` on `X` reshaped to
#    `(1, 1, 6, 8)`. Fed to `Conv2D`, `corr2d` reads the first two axes as height and
#    width, silently returns an *empty* `(1, 0)` output, and the error only surfaces in
#    the loss, as a shape mismatch.
# 2. **An output buffer that requires gradients.** Writing into a leaf tensor created with
#    `requires_grad=True` is forbidden.
# 3. **Leaving the graph.** `.item()` turns each sum into a Python number; the output no
#    longer depends on the kernel as far as autograd knows, and `backward()` fails.
#
# PyTorch may reword its messages between versions, so the next cell prints them without
# comparing, and the cell after it checks their essential words.
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
def corr2d_leaf(X, K):
    """Mistake 2: the output buffer requires gradients."""
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), requires_grad=True)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y


def corr2d_item(X, K):
    """Mistake 3: .item() leaves the autograd graph."""
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum().item()
    return Y


errors = {}
empty_shape = tuple(layer(X.reshape(1, 1, 6, 8)).shape)
for name, run in [
        ("4-D input", lambda: ((layer(X.reshape(1, 1, 6, 8)) - Y.reshape(1, 1, 6, 7)) ** 2)
         .sum().backward()),
        ("leaf buffer", lambda: corr2d_leaf(X, layer.weight)),
        (".item()", lambda: (corr2d_item(X, layer.weight) ** 2).sum().backward())]:
    try:
        run()
    except RuntimeError as err:
        errors[name] = str(err)
print("Conv2D output for a 4-D input:", empty_shape)
for name, message in errors.items():
    print(f"{name:<12} RuntimeError: {message.splitlines()[0]}")

# %% tags=["hide-input"]
assert empty_shape == (1, 0)
assert set(errors) == {"4-D input", "leaf buffer", ".item()"}
assert "must match" in errors["4-D input"]
assert "leaf Variable" in errors["leaf buffer"] and "in-place" in errors["leaf buffer"]
assert "does not require grad" in errors[".item()"]

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The book's `utils.corr2d` checks its input, so the first mistake fails at once with a
# message that names the problem:
# :::

# %% tags=["hide-input"]
caught = None
try:
    utils.corr2d(X.reshape(1, 1, 6, 8), layer.weight.data)
except ValueError as err:
    caught = err
assert caught is not None and "2-D" in str(caught)
print(type(caught).__name__ + ":", caught)


# %% [markdown]
# ## 9. Cross-correlation as a matrix multiplication
#
# > How do you write cross-correlation as one matrix multiplication, by rearranging the
# > input and the kernel?
#
# :::{admonition} Answer
# :class: dropdown
# There are two ways, one for each argument.
#
# **Rearrange the kernel.** Flatten the input to a vector $\mathrm{vec}(X)$ of
# length $n_h n_w$. Each output is a weighted sum of inputs, so
# $\mathrm{vec}(Y) = \mathbf W\, \mathrm{vec}(X)$ for a matrix
# $\mathbf W$ with one row per output position, holding the kernel's entries in the
# columns of the pixels under the window and zeros elsewhere.
# :::

# %% tags=["hide-input"]
def kernel_matrix(K, in_shape):
    """The matrix W with vec(corr2d(X, K)) == W @ vec(X) for inputs of shape in_shape."""
    (k_h, k_w), (n_h, n_w) = K.shape, in_shape
    out_h, out_w = n_h - k_h + 1, n_w - k_w + 1
    W = torch.zeros(out_h * out_w, n_h * n_w, dtype=K.dtype)
    for i in range(out_h):
        for j in range(out_w):
            for a in range(k_h):
                for b in range(k_w):
                    W[i * out_w + j, (i + a) * n_w + (j + b)] = K[a, b]
    return W


X = torch.arange(9.0).reshape(3, 3)
K = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
W = kernel_matrix(K, X.shape)
print(W)
assert torch.equal((W @ X.flatten()).reshape(2, 2), utils.corr2d(X, K))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Every row above holds the same four kernel entries, shifted: one column to the right
# when the window moves right, a whole input row (three columns) when it moves down. $\mathbf W$ is a *doubly block
# Toeplitz* matrix: split into blocks of $n_w$ columns, block $(p, q)$ holds kernel row
# $q - p$ laid out as a Toeplitz band, and depends only on $q - p$. It is also sparse:
# at most $k_h k_w$ nonzeros per row. A fully connected layer would let every entry of
# $\mathbf W$ be free; convolution is that layer with most weights forced to zero
# (locality) and the rest tied together (translation invariance).
# :::

# %% tags=["hide-input"]
torch.manual_seed(0)
X, K = torch.randn(5, 6), torch.randn(3, 2)
W = kernel_matrix(K, X.shape)
torch.testing.assert_close((W @ X.flatten()).reshape(3, 5), utils.corr2d(X, K))
out_w, n_w = 6 - 2 + 1, 6
for p in range(3):  # block rows: output rows
    for q in range(5):  # block columns: input rows
        block = W[p * out_w:(p + 1) * out_w, q * n_w:(q + 1) * n_w]
        a = q - p  # the kernel row that connects output row p to input row q
        expected = kernel_matrix(K[a:a + 1], (1, n_w)) if 0 <= a < 3 else 0 * block
        assert torch.equal(block, expected)
W28 = kernel_matrix(torch.ones(3, 3), (28, 28))
print(f"W for a 28x28 input and 3x3 kernel: shape {tuple(W28.shape)}, "
      f"nonzero entries {int((W28 != 0).sum()):,} of {W28.numel():,} "
      f"({(W28 != 0).float().mean().item():.2%})")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The transpose $\mathbf W^\top$ maps output gradients back to input gradients, so the
# backward pass of a convolution is a multiplication by $\mathbf W^\top$ (this is the
# *transposed convolution*):
# :::

# %% tags=["hide-input"]
X_req = X.clone().requires_grad_(True)
dY = torch.randn(3, 5)
F.conv2d(X_req[None, None], K[None, None])[0, 0].backward(dY)
torch.testing.assert_close(X_req.grad.flatten(), W.t() @ dY.flatten())
print("input gradient == W.T @ output gradient")


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Rearrange the input (im2col).** Copy every window of the input into a row of a
# patch matrix; then the output is that matrix times the flattened kernel. This is how
# many libraries run convolutions: one large, fast matrix product, at the cost of storing
# each pixel up to $k_h k_w$ times. PyTorch exposes the rearrangement as `F.unfold`.
# :::

# %% tags=["hide-input"]
def im2col(X, kernel_shape):
    """One row per output position, holding the flattened window under the kernel."""
    k_h, k_w = kernel_shape
    out_h, out_w = X.shape[0] - k_h + 1, X.shape[1] - k_w + 1
    return torch.stack([X[i:i + k_h, j:j + k_w].flatten()
                        for i in range(out_h) for j in range(out_w)])


patches = im2col(X, K.shape)
torch.testing.assert_close(patches, F.unfold(X[None, None], K.shape)[0].t())
torch.testing.assert_close((patches @ K.flatten()).reshape(3, 5), utils.corr2d(X, K))
print("patch matrix:", tuple(patches.shape), "-> output (3, 5); agrees with F.unfold")


# %% [markdown]
# ## 10. Kernels for derivatives and integrals
#
# > Design kernels by hand: for the second derivative, for an integral, and for a
# > derivative of degree $d$. What is the smallest kernel for degree $d$?
#
# :::{admonition} Answer
# :class: dropdown
# We test kernels on polynomials sampled at the integers, where finite differences are
# exact, so equality can be asserted. (With samples spaced $h$ apart, divide a
# derivative kernel of degree $d$ by $h^d$ and multiply an integral kernel by $h$.)
# :::

# %% tags=["hide-input"]
def corr1d(x, k):
    """1-D cross-correlation of signal x with kernel k (valid positions only)."""
    return utils.corr2d(x[None], k[None])[0]


x = torch.arange(-5.0, 6.0, dtype=torch.float64)  # sample points -5, ..., 5

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Second derivative.** $f''(x) \approx f(x-1) - 2f(x) + f(x+1)$, the kernel
# $[1, -2, 1]$. It is exact for cubics: on $f(x) = x^3$ it returns $6x$ at the centre of
# each window. (Its negative, $[-1, 2, -1]$, computes $-f''$; the sign matters.)
# :::

# %% tags=["hide-input"]
second = torch.tensor([1.0, -2.0, 1.0], dtype=torch.float64)
result = corr1d(x**3, second)
print("kernel [1, -2, 1] on x^3:", result.tolist())
assert torch.equal(result, 6 * x[1:-1])  # window centres are x[1:-1]

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# In two dimensions the sum of the second derivatives along both axes is the Laplacian
# kernel of the chapter; on $f(x, y) = x^2 + 3y^2$ it returns $2 + 6 = 8$ everywhere.
# :::

# %% tags=["hide-input"]
grid_y, grid_x = torch.meshgrid(x, x, indexing="ij")
laplacian64 = laplacian.double()
values = utils.corr2d(grid_x**2 + 3 * grid_y**2, laplacian64)
print("Laplacian of x^2 + 3y^2: min", values.min().item(), "max", values.max().item())
assert torch.all(values == 8)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Integral.** A kernel of ones sums its window, $\sum_{a=0}^{w-1} f(x + a)$: a
# moving-window (Riemann) integral over a width $w$. To integrate from the start of the
# signal, make the kernel as long as the signal and pad the left side with zeros: the
# output is the running sum. Differencing undoes it, as differentiation undoes
# integration.
# :::

# %% tags=["hide-input"]
f = torch.tensor([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0], dtype=torch.float64)
box = torch.ones(3, dtype=torch.float64)
print("window sums (width 3):", corr1d(f, box).tolist())
running = corr1d(torch.cat([torch.zeros(len(f) - 1, dtype=torch.float64), f]),
                 torch.ones(len(f), dtype=torch.float64))
print("running integral:     ", running.tolist())
assert torch.equal(running, torch.cumsum(f, 0))
assert torch.equal(corr1d(running, torch.tensor([-1.0, 1.0], dtype=torch.float64)), f[1:])

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# For a proper numerical integral, weight the ends by one half (the trapezoid rule) and
# scale by the spacing $h$: $\int_0^{\pi/2} \cos x\, dx = 1$.
# :::

# %% tags=["hide-input"]
n = 1001
h = (math.pi / 2) / (n - 1)
samples = torch.cos(torch.linspace(0, math.pi / 2, n, dtype=torch.float64))
trapezoid = torch.full((n,), h, dtype=torch.float64)
trapezoid[[0, -1]] = h / 2
integral = corr1d(samples, trapezoid).item()  # a kernel as long as the signal: one output
print(f"trapezoid kernel: {integral:.6f} (exact: 1), error below 1e-6: "
      f"{abs(integral - 1) < 1e-6}")
assert abs(integral - 1) < 1e-6


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Derivative of degree $d$.** Apply $[-1, 1]$ $d$ times. Since stacking kernels
# convolves them (exercise 14), the result is one kernel with $d + 1$ entries, the
# binomial coefficients with alternating signs:
#
# $$\Delta^d f(x) = \sum_{k=0}^{d} (-1)^{d-k} \binom{d}{k} f(x + k).$$
#
# It sends $x^d$ to the constant $d!$ (as $\frac{d^d}{dx^d} x^d = d!$) and every
# polynomial of lower degree to 0:
# :::

# %% tags=["hide-input"]
def derivative_kernel(d):
    """Forward-difference kernel of degree d: (-1)^(d-k) * C(d, k), k = 0..d."""
    return torch.tensor([(-1) ** (d - k) * math.comb(d, k) for k in range(d + 1)],
                        dtype=torch.float64)


x = torch.arange(0.0, 20.0, dtype=torch.float64)
print(f"{'d':>2}  {'kernel':<32}{'on x^d':>8}{'on lower degrees':>18}")
for d in range(7):
    k = derivative_kernel(d)
    on_xd = corr1d(x**d, k)
    lower = max((corr1d(x**m, k).abs().max().item() for m in range(d)), default=0.0)
    assert torch.all(on_xd == math.factorial(d)) and lower == 0
    print(f"{d:>2}  {str([int(v) for v in k.tolist()]):<32}{int(on_xd[0]):>8}{lower:>18}")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Every row shows $d!$ on $x^d$ and exact zeros on lower degrees. For $d = 2$ the kernel
# is $[1, -2, 1]$ again.
#
# **The smallest kernel is $d + 1$ entries.** A kernel $c_0, \ldots, c_{m-1}$ can only
# compute a $d$-th derivative if it sends $1, x, \ldots, x^{d-1}$ to zero, while it must
# not send $x^d$ to zero. Evaluated at $x = 0$ the first conditions read
# $\sum_k c_k\, k^j = 0$ for $j = 0, \ldots, d-1$: a Vandermonde system $V c = 0$ with
# $d$ rows and $m$ columns. For $m \le d$ the columns of $V$ are linearly independent
# (the nodes $0, \ldots, m-1$ are distinct), so only $c = 0$ solves it. With $m = d + 1$
# the solutions form a line, spanned by the binomial kernel. The ranks confirm it:
# :::

# %% tags=["hide-input"]
print(f"{'d':>2} {'m':>2} {'rank V':>7} {'nonzero solutions':>18}")
for d in range(1, 6):
    for m in (d, d + 1):
        V = torch.tensor([[k**j for k in range(m)] for j in range(d)], dtype=torch.float64)
        rank = torch.linalg.matrix_rank(V).item()
        print(f"{d:>2} {m:>2} {rank:>7} {str(rank < m):>18}")
        assert rank == min(d, m)
        if m == d + 1:  # the one-dimensional null space is the binomial kernel
            c = torch.linalg.svd(V).Vh[-1]
            torch.testing.assert_close(c / c[-1], derivative_kernel(d))


# %% [markdown]
# ## 11. Learning other kernels
#
# > Learn other kernels from data, such as a diagonal-edge kernel or the 3x3 Laplacian.
# > What kind of input data do you need?
#
# :::{admonition} Answer
# :class: dropdown
# Generate outputs with a known kernel, then fit a bias-free `nn.Conv2d` by gradient
# descent on the mean squared error, as in the chapter (fixed toy settings: this is not a
# training run). A random image works well for any kernel:
# :::

# %% tags=["hide-input"]
def learn_kernel(X, Y, kernel_size, lr, num_steps, seed=0):
    """Fit a bias-free 1-channel conv layer to map X to Y; return (kernel, last loss)."""
    torch.manual_seed(seed)
    conv = nn.Conv2d(1, 1, kernel_size=kernel_size, bias=False)
    X, Y = X[None, None], Y[None, None]
    for _ in range(num_steps):
        loss = ((conv(X) - Y) ** 2).mean()
        conv.zero_grad()
        loss.backward()
        with torch.no_grad():
            conv.weight -= lr * conv.weight.grad
    return conv.weight.data[0, 0], loss.item()


def show(K):
    """A kernel as text with two decimals (adding 0.0 turns -0.0 into 0.0)."""
    return "\n".join(" ".join(f"{round(v, 2) + 0.0:6.2f}" for v in row)
                     for row in K.tolist())


gen = torch.Generator().manual_seed(1)
X_random = torch.randn(16, 16, generator=gen)
diagonal = torch.tensor([[1.0, 0.0], [0.0, -1.0]])  # X[i, j] - X[i+1, j+1]
targets = {"diagonal": diagonal, "Laplacian": laplacian}
for name, K_true in targets.items():
    K_hat, loss = learn_kernel(X_random, utils.corr2d(X_random, K_true),
                               K_true.shape, lr=0.3, num_steps=40)
    print(f"{name}: final loss below 1e-8: {loss < 1e-8}; learned kernel\n{show(K_hat)}")
    torch.testing.assert_close(K_hat, K_true, atol=1e-3, rtol=0)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Both kernels were recovered (the assert checks every entry to within 0.001). The data
# matters, though. Try to learn the Laplacian
# from the chapter's image with two vertical edges:
# :::

# %% tags=["hide-input"]
X_edges = torch.ones(6, 8)
X_edges[:, 2:6] = 0
K_hat, loss = learn_kernel(X_edges, utils.corr2d(X_edges, laplacian), (3, 3),
                           lr=0.5, num_steps=40)
print(f"final loss below 1e-8: {loss < 1e-8}; learned kernel\n{show(K_hat)}")
print("column sums learned:  ", show(K_hat.sum(0, keepdim=True)))
print("column sums Laplacian:", show(laplacian.sum(0, keepdim=True)))
assert loss < 1e-8 and (K_hat - laplacian).abs().max() > 0.1
torch.testing.assert_close(K_hat.sum(0), laplacian.sum(0), atol=1e-3, rtol=0)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The fit is perfect, yet the kernel is not the Laplacian. Every row of this image is the
# same, so each output only depends on the kernel's three *column sums*, and any kernel
# with the right column sums explains the data; gradient descent stops at one of them.
# In terms of exercise 9, the outputs are the patch matrix times the flattened kernel,
# so a kernel is pinned down exactly when the patch matrix has full column rank
# ($k_h k_w$): the data must contain enough different patches.
# :::

# %% tags=["hide-input"]
for name, X_data in [("edge image", X_edges), ("random image", X_random)]:
    rank = torch.linalg.matrix_rank(im2col(X_data, (3, 3))).item()
    print(f"{name:<13} rank of the 3x3 patch matrix: {rank} (kernel has 9 entries)")
assert torch.linalg.matrix_rank(im2col(X_edges, (3, 3))) == 3
assert torch.linalg.matrix_rank(im2col(X_random, (3, 3))) == 9

# %% [markdown]
# ## 12. The gradient with respect to the kernel
#
# > Show that the gradient of the loss with respect to the kernel is the
# > cross-correlation of the input with the gradient of the output.
#
# :::{admonition} Answer
# :class: dropdown
# The kernel entry $K[a, b]$ multiplies $X[i + a, j + b]$ in every output $Y[i, j]$, so
# by the chain rule
#
# $$\frac{\partial L}{\partial K[a, b]}
#   = \sum_{i,j} \frac{\partial L}{\partial Y[i, j]}\, X[i + a, j + b]
#   = \Bigl(X \star \frac{\partial L}{\partial Y}\Bigr)[a, b]:$$
#
# the output gradient plays the role of the kernel, and the result has the kernel's
# shape, $(n_h - (n_h - k_h + 1) + 1) = k_h$ rows. Likewise, the input gradient is the
# *full convolution* of the output gradient with the kernel: pad the output gradient by
# $k - 1$ zeros and cross-correlate with the flipped kernel. Autograd agrees (in double
# precision, to a tight tolerance):
# :::

# %% tags=["hide-input"]
torch.manual_seed(0)
X = torch.randn(6, 7, dtype=torch.float64, requires_grad=True)
K = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
Y = F.conv2d(X[None, None], K[None, None])[0, 0]
dY = torch.randn_like(Y)  # the gradient dL/dY coming from the layers above
Y.backward(dY)

grad_K = utils.corr2d(X.detach(), dY)
grad_X = utils.corr2d(F.pad(dY, (1, 1, 2, 2)), K.detach().flip(0, 1))  # pad k-1
torch.testing.assert_close(K.grad, grad_K)
torch.testing.assert_close(X.grad, grad_X)
print("dL/dK == corr2d(X, dL/dY), shape", tuple(grad_K.shape))
print("dL/dX == full convolution of dL/dY with K, shape", tuple(grad_X.shape))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# So the backward pass of a convolution is two more convolutions, each with about as many
# multiply-adds as the forward pass.
# :::
#
# ## 13. When a convolution is a fully connected layer
#
# > When does a convolutional layer act exactly like a fully connected layer?
#
# :::{admonition} Answer
# :class: dropdown
# When the kernel covers the whole input. A kernel of the input's height and width fits
# in exactly one position and produces a 1x1 output per output channel: one weighted
# sum of all inputs per channel, which is `nn.Linear` on the flattened input.
# :::

# %% tags=["hide-input"]
torch.manual_seed(0)
X = torch.randn(8, 2, 4, 4)  # (batch, channels, height, width)
conv = nn.Conv2d(2, 5, kernel_size=4)  # kernel as large as the input
fc = nn.Linear(2 * 4 * 4, 5)
with torch.no_grad():
    fc.weight.copy_(conv.weight.reshape(5, -1))
    fc.bias.copy_(conv.bias)
print("conv output:", tuple(conv(X).shape), " linear output:", tuple(fc(X.flatten(1)).shape))
torch.testing.assert_close(conv(X).flatten(1), fc(X.flatten(1)))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Two related cases. With a 1x1 kernel the layer is a fully connected layer applied to
# every pixel (exercise 1). With kernel size equal to the stride, say $p \times p$ with
# stride $p$, the windows do not overlap, and the layer applies one fully connected layer
# to every $p \times p$ patch: the "patchify" first layer of Vision Transformers.
# :::

# %% tags=["hide-input"]
p = 2
patchify = nn.Conv2d(2, 5, kernel_size=p, stride=p)
fc = nn.Linear(2 * p * p, 5)
with torch.no_grad():
    fc.weight.copy_(patchify.weight.reshape(5, -1))
    fc.bias.copy_(patchify.bias)
patches = F.unfold(X, kernel_size=p, stride=p).transpose(1, 2)  # (batch, patches, 2*p*p)
Y_fc = fc(patches).transpose(1, 2).reshape(8, 5, 4 // p, 4 // p)
torch.testing.assert_close(patchify(X), Y_fc)
print("stride = kernel size: nn.Linear on each non-overlapping patch,", tuple(Y_fc.shape))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The full-size kernel also shows what a fully connected layer gives up: it only accepts
# inputs of exactly that size. On a larger input the same convolution simply slides and
# produces a feature map, while `nn.Linear` fails:
# :::

# %% tags=["hide-input"]
X_big = torch.randn(1, 2, 6, 6)
print("conv on a 6x6 input:", tuple(conv(X_big).shape))

# %% tags=["hide-input", "nbval-ignore-output"]
caught = None
try:
    nn.Linear(2 * 4 * 4, 5)(X_big.flatten(1))
except RuntimeError as err:
    caught = err
print("nn.Linear on the same input: RuntimeError:", str(caught).splitlines()[0])

# %% tags=["hide-input"]
assert caught is not None and "cannot be multiplied" in str(caught)

# %% [markdown]
# ## 14. Three 3x3 layers or one 7x7 layer
#
# > Three stacked 3x3 layers and one 7x7 layer see the same input patch. Compare their
# > parameter counts.
#
# :::{admonition} Answer
# :class: dropdown
# By the chapter's rule, three 3x3 layers have a receptive field of $1 + 3 \cdot 2 = 7$.
# With $C$ channels in and out, they hold $3 \cdot 9C^2 = 27C^2$ weights against $49C^2$
# for one 7x7 layer, and they can put a nonlinearity after each layer. This is the
# design argument of VGG {cite}`simonyan2014very`. The counts for $C = 64$, with biases:
# :::

# %% tags=["hide-input"]
C = 64
stack = nn.Sequential(*[nn.Conv2d(C, C, kernel_size=3) for _ in range(3)])
single = nn.Conv2d(C, C, kernel_size=7)
n_stack = sum(p.numel() for p in stack.parameters())
n_single = sum(p.numel() for p in single.parameters())
print(f"three 3x3 layers: {n_stack:,} parameters; one 7x7 layer: {n_single:,}; "
      f"ratio {n_stack / n_single:.2f}")
assert n_stack == 3 * (9 * C * C + C) and n_single == 49 * C * C + C
X = torch.zeros(1, C, 7, 7)
assert stack(X).shape == single(X).shape == (1, C, 1, 1)  # both see exactly 7x7

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Without nonlinearities the stack is no more than one 7x7 layer: cross-correlating with
# $K_1$ and then with $K_2$ is cross-correlating once with their *full convolution*,
# $(X \star K_1) \star K_2 = X \star (K_1 * K_2)$ (and by exercise 6 the order of the
# layers does not matter). Its three 3x3 kernels have 27 numbers, and not even all 27
# count: scaling $K_1$ by $c$ and $K_2$ by $1/c$ gives the same combined kernel, and so
# does the same trade between $K_2$ and $K_3$. The combined kernels therefore form a
# family of dimension $27 - 2 = 25$ inside the 49-dimensional space of 7x7 kernels, which
# the rank of the Jacobian of the map from the 27 numbers to the 49 checks below. The
# stack is cheaper *and*, as a linear map, less expressive; the ReLUs between the layers
# are what make it worthwhile.
# :::

# %% tags=["hide-input"]
torch.manual_seed(0)
K1, K2, K3 = (torch.randn(3, 3, dtype=torch.float64) for _ in range(3))
X = torch.randn(12, 12, dtype=torch.float64)
stacked = utils.corr2d(utils.corr2d(utils.corr2d(X, K1), K2), K3)
K_combined = conv2d_full(conv2d_full(K1, K2), K3)
print("combined kernel shape:", tuple(K_combined.shape))
torch.testing.assert_close(stacked, utils.corr2d(X, K_combined))
torch.testing.assert_close(conv2d_full(conv2d_full(K3, K1), K2), K_combined)  # any order
print("three linear 3x3 layers == one 7x7 layer with the combined kernel")


def combine(params):
    """The 49 entries of the 7x7 kernel made by three 3x3 kernels (27 numbers)."""
    Ka, Kb, Kc = params.reshape(3, 3, 3)
    return conv2d_full(conv2d_full(Ka, Kb), Kc).flatten()


params = torch.cat([K1.flatten(), K2.flatten(), K3.flatten()])
J = torch.autograd.functional.jacobian(combine, params)  # (49, 27)
rank = torch.linalg.matrix_rank(J).item()
print(f"Jacobian {tuple(J.shape)}, rank {rank}: a {rank}-dimensional family of 7x7 kernels")
assert rank == 25

# %% [markdown]
# ## 15. Kernels designed by hand
#
# > Design some kernels manually.
# > 1. Given a directional vector $\mathbf{v} = (v_1, v_2)$, derive an edge-detection
# >    kernel that detects edges orthogonal to $\mathbf{v}$, i.e., edges in the direction
# >    $(v_2, -v_1)$.
# > 2. Derive a finite difference operator for the second derivative. What is the minimum
# >    size of the convolutional kernel associated with it? Which structures in images
# >    respond most strongly to it?
# > 3. How would you design a blur kernel? Why might you want to use such a kernel?
# > 4. What is the minimum size of a kernel to obtain a derivative of order $d$?
#
# :::{admonition} Answer
# :class: dropdown
# (Exercise 2 of *Dive into Deep Learning*, section "Convolutions for Images",
# `chapter_convolutional-neural-networks/conv-layer.md` in the d2l-en repository.)
#
# Coordinates: $x$ runs along the columns (index $j$, to the right) and $y$ along the
# rows (index $i$, down), so $\mathbf v = (v_1, v_2)$ points $v_1$ columns right and $v_2$
# rows down. We work in double precision; every kernel below has entries that are
# multiples of a power of two, so on integer images the results are exact.
#
# **1. An edge detector for the direction $\mathbf v$.** An edge orthogonal to
# $\mathbf v$ is a place where the brightness changes as we move along $\mathbf v$, so
# the detector is the directional derivative
# $\partial_{\mathbf v} f = v_1\, \partial_x f + v_2\, \partial_y f$. Take a kernel for
# each partial derivative and combine them with the weights $v_1, v_2$:
# $K_{\mathbf v} = v_1 K_x + v_2 K_y$. We use the Sobel kernels divided by 8 (a central
# difference, averaged over three rows with weights $1, 2, 1$), which are exact
# derivatives on linear images. On a ramp $f = w_1 x + w_2 y$ the response must be
# $\mathbf w \cdot \mathbf v$ everywhere: $|\mathbf v|^2$ for a ramp along $\mathbf v$,
# zero for a ramp along the edge direction $(v_2, -v_1)$.
# :::

# %% tags=["hide-input"]
K_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]],
                   dtype=torch.float64) / 8  # d/dx: right neighbour minus left, smoothed
K_y = K_x.T  # d/dy: the row below minus the row above


def edge_kernel(v):
    """Directional-derivative kernel: responds to edges orthogonal to v = (v1, v2)."""
    return v[0] * K_x + v[1] * K_y


rows, cols = torch.meshgrid(torch.arange(12.0, dtype=torch.float64),
                            torch.arange(12.0, dtype=torch.float64), indexing="ij")
for v in [(1.0, 2.0), (3.0, -1.0), (1.0, 0.0)]:
    along_v = v[0] * cols + v[1] * rows  # a ramp rising along v
    along_edge = v[1] * cols - v[0] * rows  # a ramp rising along (v2, -v1)
    r_v = utils.corr2d(along_v, edge_kernel(v))
    r_edge = utils.corr2d(along_edge, edge_kernel(v))
    print(f"v = {v}: response to a ramp along v {r_v.unique().tolist()}, "
          f"along the edge direction {r_edge.unique().tolist()}")
    assert torch.all(r_v == v[0] ** 2 + v[1] ** 2) and torch.all(r_edge == 0)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# On a real edge the detector fires most strongly when $\mathbf v$ is orthogonal to the
# edge. The image below is dark above the anti-diagonal $x + y = 15$ and bright below it,
# an edge running in the direction $(1, -1)$, so the orthogonal direction is
# $(1, 1)/\sqrt 2$ (45 degrees, pointing down and to the right). Turning the detector
# through the angles: its largest response is at 45 degrees, and at 135 degrees, along
# the edge, it is zero (the kernel is antisymmetric across the diagonal while the image
# is symmetric).
# :::

# %% tags=["hide-input"]
diagonal_edge = (cols + rows > 15).double()
print(f"{'angle':>6} {'v':>16} {'max response':>13}")
best = {}
for angle in (0, 45, 90, 135, 180):
    t = math.radians(angle)
    v = (round(math.cos(t), 12), round(math.sin(t), 12))
    best[angle] = utils.corr2d(diagonal_edge, edge_kernel(v)).max().item()
    print(f"{angle:>6} {f'({v[0]:+.2f}, {v[1]:+.2f})':>16} {best[angle]:>13.4f}")
assert max(best, key=best.get) == 45
assert abs(best[135]) < 1e-12 and best[180] <= 0

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **2. The second derivative.** Taylor expansion gives
# $f(x + 1) - 2 f(x) + f(x - 1) = f''(x) + \tfrac{1}{12} f''''(x) + \ldots$, the kernel
# $[1, -2, 1]$, exact for cubics (exercise 10 checked it on $x^3$). Three entries is the
# minimum: a kernel must see three samples to tell a curve from a straight line, since
# any two points lie on a line (exercise 10 proves the general bound, $d + 1$ entries for
# order $d$). In two dimensions the sum over both axes is the 3x3 Laplacian.
#
# Which structures respond most strongly? Those that curve the most: the finest details.
# Give four images the same contrast (values 0 and 1) and measure the largest response of
# the Laplacian: an isolated bright pixel, a one-pixel line, a step edge and a ramp.
# :::

# %% tags=["hide-input"]
point = torch.zeros(9, 9, dtype=torch.float64)
point[4, 4] = 1
line = torch.zeros(9, 9, dtype=torch.float64)
line[:, 4] = 1
step = torch.zeros(9, 9, dtype=torch.float64)
step[:, 4:] = 1
ramp = torch.arange(9.0, dtype=torch.float64).repeat(9, 1) / 8  # from 0 to 1
strongest = {name: utils.corr2d(img, laplacian.double()).abs().max().item()
             for name, img in [("isolated point", point), ("thin line", line),
                               ("step edge", step), ("ramp", ramp)]}
for name, value in strongest.items():
    print(f"{name:<15} largest |Laplacian| {value:g}")
assert list(strongest.values()) == [4.0, 2.0, 1.0, 0.0]

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Points beat lines, lines beat edges, and smooth gradients give nothing. That is also
# why the second derivative amplifies noise (pixel noise is all isolated points), and why
# it is usually applied after a blur.
#
# **3. A blur kernel.** Make every weight non-negative, so the output is a weighted
# average; make them sum to one, so that a constant image keeps its brightness; and let
# them fall off with distance from the centre, so nearby pixels count more. The binomial
# weights $\tfrac{1}{16}[1, 4, 6, 4, 1]$ approximate a Gaussian, and their outer product
# is a 5x5 blur that can be applied as a row pass followed by a column pass (5 + 5
# instead of 25 multiplications per pixel). Why blur? To average away noise (independent
# noise of variance $\sigma^2$ leaves the kernel with variance $\sigma^2 \sum K[a, b]^2$),
# to remove detail before subsampling (a stride or a pooling layer would otherwise turn
# the finest patterns into false coarse ones), and to look at an image at a coarser scale.
# :::

# %% tags=["hide-input"]
b = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=torch.float64) / 16
blur = torch.outer(b, b)  # 5x5, entries are multiples of 1/256
assert blur.sum() == 1 and torch.all(blur >= 0)
constant = torch.full((9, 9), 0.75, dtype=torch.float64)
assert torch.all(utils.corr2d(constant, blur) == 0.75)  # brightness kept exactly

# A large noise image: F.conv2d instead of the slow loop of utils.corr2d.
def fast_corr(X, K):
    """utils.corr2d(X, K), computed by F.conv2d."""
    return F.conv2d(X[None, None], K[None, None])[0, 0]


gen = torch.Generator().manual_seed(0)
noise = torch.randn(300, 300, dtype=torch.float64, generator=gen)
two_passes = fast_corr(fast_corr(noise, b[None]), b[:, None])  # rows, then columns
torch.testing.assert_close(two_passes, fast_corr(noise, blur))  # separable
predicted = blur.pow(2).sum().sqrt().item()  # noise std after the blur, for std 1
measured = fast_corr(noise, blur).std().item()
print(f"noise std after the blur: predicted {predicted:.3f}, measured {measured:.3f}")
assert abs(measured / predicted - 1) < 0.05

checkerboard = (rows + cols) % 2 * 2 - 1  # +1/-1: the finest pattern an image can hold
print("blurred checkerboard, largest |value|:",
      utils.corr2d(checkerboard, blur).abs().max().item())
assert torch.all(utils.corr2d(checkerboard, blur) == 0)  # removed completely

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The blur keeps constant images, shrinks the noise's standard deviation to the fraction
# printed above, and wipes out the pixel-level checkerboard, exactly the pattern that
# subsampling by 2 would otherwise turn into a flat image of $+1$ or $-1$.
#
# **4. A derivative of order $d$** needs at least $d + 1$ entries (exercise 10 proves
# this with a Vandermonde rank argument). A kernel of that size is $d$ first differences
# $[-1, 1]$ stacked: since stacking cross-correlations cross-correlates with the full
# convolution of the kernels, $(X \star K_1) \star K_2 = X \star (K_1 * K_2)$, the
# combined kernel is $[-1, 1] * \cdots * [-1, 1]$, which `np.convolve` computes. It
# equals the binomial coefficients with alternating signs,
# $(-1)^{d-k} \binom{d}{k}$ for $k = 0, \ldots, d$, and on a polynomial of degree $d$
# with leading coefficient $c$ it returns the constant $c \cdot d!$, since
# $\frac{d^d}{dx^d} (c x^d + \ldots) = c \cdot d!$ and finite differences of order $d$
# are exact on polynomials of degree $d$. We check both in integer arithmetic, on random
# integer polynomials:
# :::

# %% tags=["hide-input"]
rng = np.random.default_rng(0)
x_int = np.arange(-10, 11, dtype=np.int64)
print(f"{'d':>2}  {'kernel (d first differences stacked)':<40}{'c':>3}{'output':>9}")
for d in range(1, 8):
    kernel = np.array([1], dtype=np.int64)
    for _ in range(d):
        kernel = np.convolve(kernel, np.array([-1, 1], dtype=np.int64))
    binomial = np.array([(-1) ** (d - k) * math.comb(d, k) for k in range(d + 1)])
    assert len(kernel) == d + 1 and np.array_equal(kernel, binomial)
    coeffs = rng.integers(-3, 4, d + 1)  # c_0 + c_1 x + ... + c_d x^d
    coeffs[d] = rng.choice([-2, -1, 1, 2])  # a nonzero leading coefficient c
    poly = sum(int(c) * x_int**m for m, c in enumerate(coeffs))
    once = np.correlate(poly, kernel, mode="valid")
    stacked = poly
    for _ in range(d):
        stacked = np.correlate(stacked, np.array([-1, 1]), mode="valid")
    assert np.array_equal(once, stacked)  # one (d+1)-kernel == d stacked differences
    assert np.all(once == coeffs[d] * math.factorial(d))
    print(f"{d:>2}  {str(kernel.tolist()):<40}{coeffs[d]:>3}{once[0]:>9}")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Each row is the kernel for order $d$, the leading coefficient $c$ of the random
# polynomial it was applied to, and the constant output, $c \cdot d!$ at every position.
# :::
