# %% [markdown]
# # Cheat Sheet
#
# The formulas of chapters 1-6 on one page, each followed by a cell that checks it
# against PyTorch over many settings, so the page cannot drift from what the layers
# compute. Notation: an input of side $n$ (height or width), a kernel of side $k$,
# padding $p$ on each side, stride $s$, dilation $d$, $c_i$ input and $c_o$ output
# channels, $g$ groups.

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

import torch
from torch import nn

import utils

# %% [markdown]
# ## Output shape
#
# | layer | output side |
# |---|---|
# | convolution | $\left\lfloor \dfrac{n + 2p - d(k-1) - 1}{s} \right\rfloor + 1$ |
# | convolution, $s=1$, $d=1$, odd $k$, $p = (k-1)/2$ ("same") | $n$ |
# | pooling (`nn.MaxPool2d`, `nn.AvgPool2d`) | the convolution's formula; **the stride defaults to $k$**, and $p \le k/2$ |
# | global average pooling (`nn.AdaptiveAvgPool2d(1)`) | $1$, whatever $n$ |
#
# `utils.conv_output_size(n, k, padding, stride, dilation)` computes the first row.

# %%
checked = 0
for n, k, p, s, d in itertools.product(range(1, 12), range(1, 6), range(0, 3),
                                       range(1, 4), range(1, 3)):
    if d * (k - 1) + 1 > n + 2 * p:
        continue   # the window does not fit
    side = (n + 2 * p - d * (k - 1) - 1) // s + 1
    conv = nn.Conv2d(1, 1, k, padding=p, stride=s, dilation=d)
    assert conv(torch.zeros(1, 1, n, n)).shape[-1] == side == \
        utils.conv_output_size(n, k, p, s, d)
    if d == 1 and 2 * p <= k:
        pool = nn.MaxPool2d(k, stride=s, padding=p)
        assert pool(torch.zeros(1, 1, n, n)).shape[-1] == side
    checked += 1
for k in (1, 3, 5, 7):
    assert nn.Conv2d(1, 1, k, padding=(k - 1) // 2)(torch.zeros(1, 1, 13, 13)).shape[-1] == 13
assert nn.MaxPool2d(2).stride == 2 and nn.MaxPool2d(3).stride == 3   # stride = window
for n in (7, 28, 32):
    assert nn.AdaptiveAvgPool2d(1)(torch.zeros(1, 4, n, n)).shape == (1, 4, 1, 1)
print(f"output-side formula checked against nn.Conv2d in {checked} settings")

# %% [markdown]
# ## Parameters
#
# | layer | parameters |
# |---|---|
# | `nn.Conv2d(c_i, c_o, k, groups=g)` | $c_o \left(\dfrac{c_i}{g}\, k_h k_w + 1\right)$ (drop the $+1$ with `bias=False`) |
# | `nn.Linear(n_in, n_out)` | $(n_{in} + 1)\, n_{out}$ |
# | `nn.BatchNorm2d(c)` | $2c$ learned ($\gamma$, $\beta$), plus $2c$ running statistics that are buffers, not parameters |
# | $1 \times 1$ convolution | $c_o (c_i + 1)$: a linear layer applied at every pixel |

# %%
convs = 0
for ci, co, kh, kw, g, bias in itertools.product((2, 4, 6), (2, 6), (1, 3), (1, 5), (1, 2),
                                                 (True, False)):
    conv = nn.Conv2d(ci, co, (kh, kw), groups=g, bias=bias)
    assert utils.num_params(conv) == co * (ci // g * kh * kw + bias)
    convs += 1
for n_in, n_out in ((784, 10), (400, 120)):
    assert utils.num_params(nn.Linear(n_in, n_out)) == (n_in + 1) * n_out
bn = nn.BatchNorm2d(16)
assert utils.num_params(bn) == 2 * 16
assert sum(b.numel() for name, b in bn.named_buffers() if name != "num_batches_tracked") \
    == 2 * 16
print("parameter formulas hold for", convs, "convolutions")

# %% [markdown]
# ## Multiply-adds
#
# A convolution does one multiply-add per weight per output position:
# $h_o\, w_o\, c_o\, \dfrac{c_i}{g}\, k_h k_w$ (a linear layer: $n_{in}\, n_{out}$).
# Parameters and arithmetic part ways: a convolution's weights are reused at every
# position, a linear layer's once. `utils.count_macs(net, shape)` adds them up.

# %%
for ci, co, k, s, g, n in itertools.product((2, 4), (4, 8), (1, 3), (1, 2), (1, 2),
                                            (8, 11)):
    conv = nn.Conv2d(ci, co, k, stride=s, padding=k // 2, groups=g)
    side = utils.conv_output_size(n, k, k // 2, s)
    assert utils.count_macs(conv, (ci, n, n)) == side * side * co * ci // g * k * k
assert utils.count_macs(nn.Linear(400, 120), (400,)) == 400 * 120
print("multiply-add formula checked against utils.count_macs")

# %% [markdown]
# ## Receptive field
#
# Stack layers $1, \dots, L$ with kernels $k_l$ and strides $s_l$ (pooling counts as a
# layer). The side of the input region one output sees grows by $k_l - 1$ input steps
# of layer $l$, each $\prod_{i<l} s_i$ pixels wide:
#
# $$
# r_L = 1 + \sum_{l=1}^{L} (k_l - 1) \prod_{i=1}^{l-1} s_i .
# $$
#
# The check measures it as chapter 1 does: the gradient of one output with respect to
# the input is non-zero exactly on that output's receptive field.

# %%
def measured_receptive_field(layers, n=64):
    """Side of the input region that the centre output of `layers` depends on."""
    net = nn.Sequential(*layers)
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 1.0)  # positive weights: no cancellation
    X = torch.ones(1, 1, n, n, requires_grad=True)
    Y = net(X)
    Y[0, 0, Y.shape[2] // 2, Y.shape[3] // 2].backward()
    rows = X.grad[0, 0].abs().sum(dim=1).nonzero()
    return int(rows.max() - rows.min() + 1)


def formula(kernels_strides):
    r, jump = 1, 1
    for k, s in kernels_strides:
        r, jump = r + (k - 1) * jump, jump * s
    return r


stacks = {
    "three 3x3 convolutions": [(3, 1)] * 3,
    "3x3 conv, 2x2 pool, 3x3 conv": [(3, 1), (2, 2), (3, 1)],
    "5x5 stride-2 conv, 3x3 conv": [(5, 2), (3, 1)],
    "LeNet's convolutions and pooling": [(5, 1), (2, 2), (5, 1), (2, 2)],
}
for name, ks in stacks.items():
    layers = [nn.AvgPool2d(k, s) if (k, s) == (2, 2) else nn.Conv2d(1, 1, k, stride=s)
              for k, s in ks]
    measured = measured_receptive_field(layers)
    print(f"{name:<34} formula {formula(ks):>2}, measured {measured:>2}")
    assert measured == formula(ks)

# %% [markdown]
# ## Batch normalization: training and evaluation
#
# | | `net.train()` | `net.eval()` |
# |---|---|---|
# | normalizes with | the batch's mean and (biased) variance, per channel | the running mean and variance |
# | running statistics | updated: $\hat\mu \leftarrow (1-m)\,\hat\mu + m\,\mu_B$, and the same for the variance with the batch's *unbiased* variance ($m$ = `momentum`, 0.1) | unchanged |
# | output of one example depends on | the other examples in the batch | that example only |
# | one value per channel (a batch of one for `BatchNorm1d`, or of 1x1 maps for `BatchNorm2d`) | an error: nothing to average over | fine |
#
# `torch.no_grad()` does not switch the mode: only `net.eval()` does.

# %%
torch.manual_seed(0)
bn = nn.BatchNorm2d(3)
X = torch.randn(8, 3, 5, 5) * 2 + 1
mean, var = X.mean(dim=(0, 2, 3)), X.var(dim=(0, 2, 3), unbiased=False)
Y = bn(X)                                               # training mode
expected = (X - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + bn.eps)
torch.testing.assert_close(Y, expected)
torch.testing.assert_close(bn.running_mean, 0.9 * torch.zeros(3) + 0.1 * mean)
torch.testing.assert_close(bn.running_var,
                           0.9 * torch.ones(3) + 0.1 * X.var(dim=(0, 2, 3), unbiased=True))
with torch.no_grad():
    bn(X)                                               # no_grad: still training mode
assert bn.num_batches_tracked == 2
bn.eval()
running = bn.running_mean.clone()
torch.testing.assert_close(bn(X[:1]), (X[:1] - running[None, :, None, None])
                           / torch.sqrt(bn.running_var[None, :, None, None] + bn.eps))
assert torch.equal(bn.running_mean, running)            # evaluation leaves them alone
for layer, shape in ((nn.BatchNorm1d(4), (1, 4)), (nn.BatchNorm2d(4), (1, 4, 1, 1))):
    caught = None
    try:
        layer.train()(torch.randn(shape))
    except ValueError as err:
        caught = err
    assert caught is not None and "more than 1 value per channel" in str(caught)
    assert layer.eval()(torch.randn(shape)).shape == shape     # evaluation: fine
print("training: batch statistics, running averages updated; evaluation: running ones")

# %% [markdown]
# ## Summary
#
# - Output side: $\lfloor (n + 2p - d(k-1) - 1)/s \rfloor + 1$, for convolutions and
#   pooling alike; pooling's stride defaults to its window.
# - Parameters: $c_o(c_i k_h k_w / g + 1)$ per convolution; multiply-adds: that times
#   the output positions.
# - Receptive field: $1 + \sum_l (k_l - 1) \prod_{i<l} s_i$.
# - Batch normalization: batch statistics in training, running ones in evaluation,
#   switched by `net.train()` / `net.eval()` and by nothing else.
