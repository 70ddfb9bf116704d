# %% [markdown]
# # Building Models with nn.Module: Exercises
#
# Worked answers to the exercises of
# [Building models with nn.Module](../chapters/09_modules.ipynb). Each answer states
# the result in a sentence or two, then backs it with code that ran; wherever a fact
# can be checked, an `assert` checks it. Try each exercise yourself before reading the
# answer.
#
# **What you'll practise**
#
# - predicting what a module registers, and what breaks when it does not;
# - composing modules: parallel branches, factories, nested models, shared layers;
# - writing layers from a formula and checking them against a reference;
# - saving, restoring and reusing parameters without trusting pickled code;
# - measuring, honestly, where time goes on a CPU and a GPU.

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
import copy
import io
import math
import pickle
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import utils

device = utils.try_gpu()
utils.seed_everything(0)
torch.set_printoptions(precision=4, sci_mode=False)


# %% [markdown]
# The chapter's `MySequential`, which registers its children with `add_module`, is the
# reference for the first exercise.

# %%
class MySequential(nn.Module):
    """Run the given modules one after the other, like nn.Sequential."""

    def __init__(self, *modules):
        super().__init__()
        for idx, module in enumerate(modules):
            self.add_module(str(idx), module)

    def forward(self, X):
        for module in self.children():
            X = module(X)
        return X


# %% [markdown]
# ## 1. `MySequential` with a Python list
#
# > What kinds of problems occur if you change `MySequential` to store its modules in a
# > Python list?
#
# :::{admonition} Answer
# :class: dropdown
# The forward pass still works, because `forward` can loop over any list. But
# `nn.Module` only registers modules (and parameters) assigned directly to an attribute
# or added with `add_module`; it does not look inside lists. So the model has no
# children as far as PyTorch is concerned: `parameters()` is empty (an optimizer gets
# nothing to train), `state_dict()` is empty (saving loses every weight), `.to()` does
# not move the layers, and `.eval()` does not reach them.
# :::

# %% tags=["hide-input"]
class ListSequential(nn.Module):
    """Like MySequential, but keeps the modules in a plain Python list."""

    def __init__(self, *modules):
        super().__init__()
        self.layers = list(modules)  # nn.Module does not look inside lists

    def forward(self, X):
        for module in self.layers:
            X = module(X)
        return X


torch.manual_seed(0)
X = torch.rand(2, 20)  # (batch, features)
listy = ListSequential(nn.Linear(20, 256), nn.Dropout(0.5), nn.Linear(256, 10))
proper = MySequential(nn.Linear(20, 256), nn.Dropout(0.5), nn.Linear(256, 10))
print(f"{'':<16}{'parameters()':>13}{'state_dict':>12}")
for name, model in [("list", listy), ("add_module", proper)]:
    print(f"{name:<16}{len(list(model.parameters())):>13}{len(model.state_dict()):>12}")
print("output shape of the list version:", tuple(listy.eval()(X).shape))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The list version computes an output but owns zero parameters and saves nothing.
# The consequences, each checked:
# :::

# %% tags=["hide-input"]
caught = None
try:
    torch.optim.SGD(listy.parameters(), lr=0.1)
except ValueError as err:
    caught = err
assert caught is not None and "empty parameter list" in str(caught)
print("optimizer:", type(caught).__name__ + ":", caught)

listy.to(torch.float64)
proper.to(torch.float64)
assert listy.layers[0].weight.dtype == torch.float32  # left behind by .to()
assert next(proper.parameters()).dtype == torch.float64  # moved
print(".to(float64) reached the layers:",
      "list", listy.layers[0].weight.dtype == torch.float64,
      "| add_module", next(proper.parameters()).dtype == torch.float64)

listy.eval()
proper.eval()
assert listy.layers[1].training and not proper._modules["1"].training
print("after .eval(), dropout still in training mode:",
      "list", listy.layers[1].training, "| add_module", proper._modules["1"].training)


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The last point is the sneakiest: after `.eval()` the hidden dropout layer keeps
# dropping units at test time, and nothing fails loudly. The fix is `nn.ModuleList`, a
# list that registers what it holds:
# :::

# %% tags=["hide-input"]
class ModuleListSequential(ListSequential):
    def __init__(self, *modules):
        nn.Module.__init__(self)
        self.layers = nn.ModuleList(modules)


fixed = ModuleListSequential(nn.Linear(20, 256), nn.Dropout(0.5), nn.Linear(256, 10))
assert len(list(fixed.parameters())) == len(list(proper.parameters()))
print("ModuleList registers:", list(fixed.state_dict()))


# %% [markdown]
# ## 2. A parallel module
#
# > Implement a module that takes two modules, say `net1` and `net2`, as arguments and
# > returns the concatenated output of both networks in the forward pass. This is also
# > called a parallel module.
#
# :::{admonition} Answer
# :class: dropdown
# Both branches see the same input; their outputs are joined along one dimension (the
# features of an MLP, or the channels of a CNN, as in GoogLeNet's Inception block).
# :::

# %% tags=["hide-input"]
class Parallel(nn.Module):
    """Apply net1 and net2 to the same input and concatenate the outputs along dim."""

    def __init__(self, net1, net2, dim=1):
        super().__init__()
        self.net1, self.net2, self.dim = net1, net2, dim

    def forward(self, X):
        return torch.cat((self.net1(X), self.net2(X)), dim=self.dim)


torch.manual_seed(0)
par = Parallel(nn.Linear(20, 8), nn.Sequential(nn.Linear(20, 4), nn.ReLU()))
Y = par(X)
assert Y.shape == (2, 8 + 4)
assert torch.equal(Y[:, :8], par.net1(X)) and torch.equal(Y[:, 8:], par.net2(X))
print("output shape:", tuple(Y.shape))
print("parameters:", [name for name, _ in par.named_parameters()])

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The first 8 columns are `net1`'s output and the last 4 are `net2`'s, and both branches'
# parameters are registered under `net1.` and `net2.`. With `dim=1` on images, the same
# module stacks the channels of two convolutions with different kernel sizes:
# :::

# %% tags=["hide-input"]
torch.manual_seed(0)
branches = Parallel(nn.Conv2d(3, 4, kernel_size=1),
                    nn.Conv2d(3, 6, kernel_size=3, padding=1))
Y = branches(torch.rand(1, 3, 8, 8))  # (batch, channels, height, width)
print("output shape:", tuple(Y.shape))  # 4 + 6 channels


# %% [markdown]
# ## 3. A factory of blocks
#
# > Assume that you want to concatenate multiple instances of the same network.
# > Implement a factory function that generates multiple instances of the same module
# > and build a larger network from it.
#
# :::{admonition} Answer
# :class: dropdown
# A factory is a function that builds a *new* block on every call, so each instance
# has its own parameters. The tempting shortcut `[block] * n` repeats the *same*
# object, which silently ties all copies together.
# :::

# %% tags=["hide-input"]
def conv_block(in_channels, out_channels):
    """A new 3x3 convolution + batch norm + ReLU block at every call."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
                         nn.BatchNorm2d(out_channels), nn.ReLU())


def repeat(factory, n, *args):
    """n independent instances of factory(*args), one after the other."""
    return nn.Sequential(*[factory(*args) for _ in range(n)])


torch.manual_seed(0)
body = repeat(conv_block, 3, 16, 16)
assert body[0] is not body[1] and body[0][0].weight is not body[1][0].weight
same = nn.Sequential(*[conv_block(16, 16)] * 3)  # one block, three times
assert same[0] is same[1]


def count(net):
    return sum(p.numel() for p in net.parameters())


assert count(body) == 3 * count(same)
print("independent blocks:", count(body), "parameters;",
      "one block repeated:", count(same))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The factory-built body has three times the parameters of the repeated block, because
# the repeated one is a single block whose parameters are counted once. Now a larger
# network: a stem, two stages built by the factory (the second one wider and at half
# resolution), and a classifier.
# :::

# %% tags=["hide-input"]
torch.manual_seed(0)
net = nn.Sequential(
    conv_block(1, 16),
    repeat(conv_block, 2, 16, 16), nn.MaxPool2d(2),
    conv_block(16, 32), repeat(conv_block, 2, 32, 32), nn.MaxPool2d(2),
    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
print(utils.layer_summary(net, torch.zeros(2, 1, 28, 28)))


# %% [markdown]
# ## 4. Parameters of a nested model
#
# > Use the `NestMLP` model defined in the chapter and access the parameters of the
# > various layers.
#
# :::{admonition} Answer
# :class: dropdown
# `named_parameters()` gives every parameter with its dotted path; the same path works
# with attribute access, indexing and `get_parameter`.
# :::

# %% tags=["hide-input"]
class NestMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(),
                                 nn.Linear(64, 32), nn.ReLU())
        self.linear = nn.Linear(32, 16)

    def forward(self, X):
        return self.linear(self.net(X))


torch.manual_seed(0)
nest = NestMLP()
for name, param in nest.named_parameters():
    print(f"{name:<14}{str(tuple(param.shape)):<10}")
assert nest.net[2].weight is nest.get_parameter("net.2.weight")
assert nest.linear.bias is dict(nest.named_parameters())["linear.bias"]
total = sum(p.numel() for p in nest.parameters())
assert total == (20 * 64 + 64) + (64 * 32 + 32) + (32 * 16 + 16)
print("parameters in total:", total)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The names follow the tree: `net.0` is the first layer of the inner `Sequential`,
# `linear` the layer assigned in `__init__`. `named_modules()` lists the tree itself,
# and the parameters of one part can be read on their own, e.g. to freeze the inner
# `Sequential` while training only `linear`:
# :::

# %% tags=["hide-input"]
print([name for name, _ in nest.named_modules()])
for param in nest.net.parameters():
    param.requires_grad_(False)
trainable = [name for name, p in nest.named_parameters() if p.requires_grad]
assert trainable == ["linear.weight", "linear.bias"]
print("trainable after freezing nest.net:", trainable)

# %% [markdown]
# ## 5. Training with a shared layer
#
# > Construct an MLP containing a shared parameter layer and train it. During the
# > training process, observe the model parameters and gradients of each layer. Why is
# > sharing parameters a good idea?
#
# :::{admonition} Answer
# :class: dropdown
# We fit a small regression problem (random inputs, targets from a fixed random
# function) with an MLP that uses one hidden layer twice. At every step we check three
# things: the two uses still hold the same tensor, their gradient is one tensor, and
# that gradient equals the sum of the gradients an untied copy would give each use.
# :::

# %% tags=["hide-input"]
torch.manual_seed(0)
shared = nn.Linear(8, 8)
net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(),
                    nn.Linear(8, 1))
X, y = torch.randn(64, 4), torch.randn(64, 4).sum(dim=1, keepdim=True).sin()
optimizer = torch.optim.SGD(net.parameters(), lr=0.05)
num_steps = 60  # a tiny synthetic problem: no data set, no training budget needed
log = []
for step in range(num_steps):
    # An untied copy: layers 2 and 4 become separate layers with the same values.
    untied = nn.Sequential(*[copy.deepcopy(m) for m in net])
    untied.zero_grad()
    F.mse_loss(untied(X), y).backward()

    optimizer.zero_grad()
    loss = F.mse_loss(net(X), y)
    loss.backward()
    assert net[2].weight is net[4].weight and net[2].weight.grad is net[4].weight.grad
    torch.testing.assert_close(shared.weight.grad,
                               untied[2].weight.grad + untied[4].weight.grad)
    if step % 20 == 0 or step == num_steps - 1:
        norms = [net[i].weight.grad.norm().item() for i in (0, 2, 4, 6)]
        uses = [untied[i].weight.grad.norm().item() for i in (2, 4)]
        log.append((step, loss.item(), *norms, *uses))
    optimizer.step()

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The table lists the loss and the gradient norm of each linear layer's weight at a
# few steps; the last two columns are the gradient norms of the two uses of the shared
# layer, measured on the untied copy. Training-curve values can differ in the last
# digits between machines, so nbval does not compare this cell; the cell after it
# asserts what must hold.
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
print(f"{'step':>4}{'loss':>8}{'grad 0':>9}{'grad 2':>9}{'grad 4':>9}{'grad 6':>9}"
      f"{'use 2':>9}{'use 4':>9}")
for row in log:
    print(f"{row[0]:>4}{row[1]:>8.4f}" + "".join(f"{v:>9.4f}" for v in row[2:]))

# %% tags=["hide-input"]
assert log[-1][1] < log[0][1]  # the loss went down
assert all(row[3] == row[4] for row in log)  # layers 2 and 4: one gradient
assert all(row[6] != row[7] for row in log)  # the two uses contribute differently
print("loss decreased:", log[-1][1] < log[0][1])
print("columns 'grad 2' and 'grad 4' always equal:",
      all(row[3] == row[4] for row in log))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Layers 2 and 4 always report the same gradient because they are one tensor, and that
# tensor receives the sum of the two uses' gradients (asserted at every step above; the
# two "use" columns differ, so both uses contribute). The parameters stay tied through
# training: an optimizer step updates the one tensor.
#
# Tying by *value* is not tying. Two layers that merely start with equal weights drift
# apart after the first step, because each gets its own gradient:
# :::

# %% tags=["hide-input"]
torch.manual_seed(0)
a = nn.Linear(8, 8)
b = copy.deepcopy(a)  # equal values, separate tensors
twice = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), a, nn.ReLU(), b, nn.ReLU(),
                      nn.Linear(8, 1))
opt = torch.optim.SGD(twice.parameters(), lr=0.05)
print("equal before a step:", torch.equal(a.weight, b.weight))
F.mse_loss(twice(X), y).backward()
opt.step()
assert not torch.equal(a.weight, b.weight)
print("equal after one step:", torch.equal(a.weight, b.weight))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Why share?** Sharing builds a known regularity into the model and cuts the number
# of parameters, so each remaining parameter is estimated from more data (every use
# contributes gradient). The convolutional layer is the prime example: it is a fully
# connected layer whose weights are tied across positions. A 1D convolution with a
# 3-tap kernel over 10 inputs equals a 10x8 matrix product in which every row holds the
# same three numbers, shifted:
# :::

# %% tags=["hide-input"]
torch.manual_seed(0)
conv = nn.Conv1d(1, 1, kernel_size=3, bias=False)
k = conv.weight.detach().reshape(3)
n = 10
W = torch.zeros(n - 2, n)  # the fully connected layer that the convolution ties
for i in range(n - 2):
    W[i, i:i + 3] = k
x = torch.randn(n)
torch.testing.assert_close(conv(x.reshape(1, 1, n)).reshape(-1), W @ x)
print("conv output == tied dense layer output: True")
print("free parameters: conv", conv.weight.numel(), "| untied dense", W.numel())

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Same function, but the convolution has 3 free numbers where an untied dense layer
# would have one per matrix entry, and what it learns at one position applies to all.
# :::
#
# ## 6. More built-in initializers
#
# > Look up the online documentation for more built-in initializers.
#
# :::{admonition} Answer
# :class: dropdown
# `nn.init` has a dozen or so functions; their list depends on the PyTorch version, so
# nbval does not compare the next cell.
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
print(sorted(name for name in dir(nn.init)
             if name.endswith("_") and not name.startswith("_")))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Each initializer promises something we can check. The cell below applies six of them
# and tests each promise: Kaiming's standard deviation $\sqrt{2/n_\text{in}}$ for ReLU
# networks, Xavier's $\sqrt{2/(n_\text{in} + n_\text{out})}$, orthogonal rows,
# identity maps from `eye_` (for linear layers) and `dirac_` (for convolutions), the
# bounds of `trunc_normal_`, and the zeros per column of `sparse_`.
# :::

# %% tags=["hide-input"]
torch.manual_seed(0)
checks = []

w = torch.empty(512, 512)
nn.init.kaiming_normal_(w, nonlinearity="relu")
checks.append(("kaiming_normal_", "std ~ sqrt(2/fan_in)",
               abs(w.std().item() / math.sqrt(2 / 512) - 1) < 0.02))

w = torch.empty(256, 512)
nn.init.xavier_normal_(w)
checks.append(("xavier_normal_", "std ~ sqrt(2/(fan_in+fan_out))",
               abs(w.std().item() / math.sqrt(2 / (256 + 512)) - 1) < 0.02))

w = torch.empty(64, 64)
nn.init.orthogonal_(w)
checks.append(("orthogonal_", "W W^T = I",
               torch.allclose(w @ w.T, torch.eye(64), atol=1e-5)))

lin = nn.Linear(5, 5)
nn.init.eye_(lin.weight)
nn.init.zeros_(lin.bias)
x = torch.randn(3, 5)
checks.append(("eye_", "Linear is the identity", torch.equal(lin(x), x)))

conv = nn.Conv2d(3, 3, kernel_size=3, padding=1)
nn.init.dirac_(conv.weight)
nn.init.zeros_(conv.bias)
img = torch.randn(1, 3, 6, 6)
checks.append(("dirac_", "Conv2d is the identity", torch.allclose(conv(img), img)))

w = torch.empty(1000)
nn.init.trunc_normal_(w, std=1.0, a=-2.0, b=2.0)
checks.append(("trunc_normal_", "all values in [-2, 2]", bool(w.abs().max() <= 2)))

w = torch.empty(20, 30)
nn.init.sparse_(w, sparsity=0.9)
zeros_per_column = (w == 0).sum(dim=0)
checks.append(("sparse_", "ceil(0.9*20) zeros per column",
               bool((zeros_per_column == math.ceil(0.9 * 20)).all())))

for name, promise, ok in checks:
    print(f"{name:<17}{promise:<34}{ok}")
assert all(ok for _, _, ok in checks)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Every promise held. `dirac_` deserves a note: a convolution initialized as the
# identity lets a very deep network start out as a shallower one, the same idea as the
# identity path of a [residual block](../chapters/07_resnet.ipynb).
# :::
#
# ## 7. Lazy layers: partial sizes, mismatches, varying inputs
#
# > What happens if you specify the input dimensions to the first layer but not to
# > subsequent layers? Do you get immediate initialization? What happens if you specify
# > mismatching dimensions? What would you need to do if you have input of varying
# > dimensionality?
#
# :::{admonition} Answer
# :class: dropdown
# **Partial sizes.** Layers with a known input size are initialized at once; lazy ones
# wait for the first forward pass:
# :::

# %% tags=["hide-input"]
net = nn.Sequential(nn.Linear(20, 256), nn.ReLU(), nn.LazyLinear(10))
uninit = nn.parameter.UninitializedParameter
print("first layer:", tuple(net[0].weight.shape),
      "| last layer:", type(net[2].weight).__name__)
assert not isinstance(net[0].weight, uninit) and isinstance(net[2].weight, uninit)
net(torch.rand(2, 20))
assert net[2].weight.shape == (10, 256)
print("after one batch, last layer:", tuple(net[2].weight.shape))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Mismatches.** With explicit sizes, nothing checks that consecutive layers fit
# until data flows: the model below is built without complaint and fails at the first
# forward pass.
# :::

# %% tags=["hide-input"]
bad = nn.Sequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(128, 10))  # 256 != 128
caught = None
try:
    bad(torch.rand(2, 20))
except RuntimeError as err:
    caught = err
assert caught is not None and "cannot be multiplied" in str(caught)
print(type(caught).__name__ + ":", str(caught).splitlines()[0])

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The message names the two shapes: a batch of 2 with 256 features met a weight that
# expects 128. A lazy layer cannot mismatch its predecessor, but it fixes its size at
# the first batch. A later batch with a different number of features fails the same
# way:
# :::

# %% tags=["hide-input"]
lazy = nn.Sequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))
lazy(torch.rand(2, 20))  # fixes the input size at 20
caught = None
try:
    lazy(torch.rand(2, 30))
except RuntimeError as err:
    caught = err
assert caught is not None and "cannot be multiplied" in str(caught)
print(type(caught).__name__ + ":", str(caught).splitlines()[0])

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Varying input sizes.** A weight matrix needs a fixed input size, so the answer is
# the hint: tie parameters across the varying dimension, then pool to a fixed size.
# A CNN already does this for images: its convolutions are tied across positions, and
# a global pooling layer turns any height and width into one vector. The same network
# classifies 28x28 and 40x36 images:
# :::

# %% tags=["hide-input"]
torch.manual_seed(0)
cnn = nn.Sequential(nn.Conv2d(1, 8, kernel_size=3, padding=1), nn.ReLU(),
                    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
for h, w in [(28, 28), (40, 36)]:
    out = cnn(torch.rand(1, 1, h, w))
    assert out.shape == (1, 10)
    print(f"input {h}x{w} -> output {tuple(out.shape)}")


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# For inputs that are *sets* of varying size (say, a variable number of 3-dimensional
# points), apply one shared network to every element and average: the parameters are
# tied across elements, the output size is fixed, and the order of the elements does
# not matter.
# :::

# %% tags=["hide-input"]
class SetEncoder(nn.Module):
    """Shared per-element MLP, mean over elements, then a head (a 'deep set')."""

    def __init__(self, in_features, hidden, out_features):
        super().__init__()
        self.phi = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, out_features)

    def forward(self, X):  # X: (elements, in_features), any number of elements
        return self.head(self.phi(X).mean(dim=0))


torch.manual_seed(0)
enc = SetEncoder(3, 16, 4)
for n_elements in (5, 9):
    points = torch.rand(n_elements, 3)
    out = enc(points)
    torch.testing.assert_close(out, enc(points[torch.randperm(n_elements)]))
    print(f"{n_elements} elements -> output {tuple(out.shape)}, order does not matter")


# %% [markdown]
# ## 8. A tensor-reduction layer
#
# > Design a layer that takes an input and computes a tensor reduction, i.e., it
# > returns $y_k = \sum_{i,j} W_{ijk} x_i x_j$.
#
# :::{admonition} Answer
# :class: dropdown
# The layer has a weight $\mathsf W$ of shape $(d, d, k)$ and computes, for each output
# $k$, the quadratic form $\mathbf x^\top \mathbf W_{::k} \mathbf x$. We implement it with
# matrix products (one product with the weight reshaped to $d \times dk$, then a
# product with $\mathbf x$ again) and check it against `torch.einsum`, which spells out
# the formula, and against an explicit loop for one example.
# :::

# %% tags=["hide-input"]
class TensorReduction(nn.Module):
    """y_k = sum_{i,j} W[i, j, k] x_i x_j for each example in the batch."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_features, in_features, out_features)
                                   / in_features)

    def forward(self, X):  # X: (batch, in_features)
        d, _, k = self.weight.shape
        XW = (X @ self.weight.reshape(d, d * k)).reshape(-1, d, k)  # sum over i
        return (XW * X[:, :, None]).sum(dim=1)  # sum over j


torch.manual_seed(0)
layer = TensorReduction(5, 3)
X = torch.randn(4, 5)
Y = layer(X)
W = layer.weight.detach()
torch.testing.assert_close(Y, torch.einsum("bi,bj,ijk->bk", X, X, W))
x = X[0]
loop = torch.tensor([sum(W[i, j, kk] * x[i] * x[j] for i in range(5) for j in range(5))
                     for kk in range(3)])
torch.testing.assert_close(Y[0].detach(), loop)
print("output shape:", tuple(Y.shape), "| matches einsum and the loop: True")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# PyTorch has this layer built in, as `nn.Bilinear`, which computes
# $\mathbf x_1^\top \mathbf A_k \mathbf x_2 + b_k$ for two inputs; feeding $\mathbf x$
# twice with zero bias gives our layer (its weight is stored as $(k, d, d)$):
# :::

# %% tags=["hide-input"]
bil = nn.Bilinear(5, 5, 3)
with torch.no_grad():
    bil.weight.copy_(W.permute(2, 0, 1))
    bil.bias.zero_()
torch.testing.assert_close(bil(X, X), Y)
print("nn.Bilinear(x, x) equals our layer: True")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# A design observation: $x_i x_j = x_j x_i$, so only the symmetric part
# $\tfrac12(W_{ijk} + W_{jik})$ affects the output, and nearly half of the $d^2 k$
# parameters are redundant. Swapping the roles of $i$ and $j$ in the weight leaves the
# output unchanged:
# :::

# %% tags=["hide-input"]
with torch.no_grad():
    swapped = TensorReduction(5, 3)
    swapped.weight.copy_(W.transpose(0, 1))
torch.testing.assert_close(swapped(X), Y)
d, k = 5, 3
print(f"parameters {d * d * k}, of which free after symmetry {d * (d + 1) // 2 * k}")


# %% [markdown]
# ## 9. A Fourier layer
#
# > Design a layer that returns the leading half of the Fourier coefficients of the
# > data.
#
# :::{admonition} Answer
# :class: dropdown
# For an input of length $n$ along its last dimension, the discrete Fourier transform
# has $n$ complex coefficients $c_m = \sum_t x_t e^{-2\pi i m t / n}$. The layer keeps
# the first $\lfloor n/2 \rfloor$. It has no parameters, and autograd differentiates
# through `torch.fft`, so it can sit inside a trained model.
# :::

# %% tags=["hide-input"]
class LeadingFourier(nn.Module):
    """The first n // 2 DFT coefficients along the last dimension (complex)."""

    def forward(self, X):
        n = X.shape[-1]
        return torch.fft.fft(X, dim=-1)[..., : n // 2]


torch.manual_seed(0)
X = torch.randn(2, 3, 16)  # (batch, channels, length)
C = LeadingFourier()(X)
assert C.shape == (2, 3, 8) and C.is_complex()
expected = np.fft.fft(X.numpy().astype(np.float64), axis=-1)[..., :8]
torch.testing.assert_close(C, torch.from_numpy(expected).to(C.dtype),
                           rtol=1e-4, atol=1e-4)
print("shape:", tuple(C.shape), C.dtype, "| matches numpy.fft: True")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The coefficients match NumPy's. To see what they mean, feed a cosine that completes
# 3 cycles over 16 samples: all of its energy should sit in coefficient 3, with
# magnitude $n/2 = 8$.
# :::

# %% tags=["hide-input"]
t = torch.arange(16.0)
signal = torch.cos(2 * math.pi * 3 * t / 16)
magnitudes = LeadingFourier()(signal).abs()
print(magnitudes.round(decimals=3))
assert magnitudes.argmax().item() == 3 and abs(magnitudes[3].item() - 8) < 1e-4

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Why the leading half? For a real signal, $c_{n-m}$ is the complex conjugate of $c_m$,
# so the second half repeats the first. `torch.fft.rfft` exploits this and returns
# coefficients $0, \ldots, n/2$, one more than our layer (the highest frequency). With
# that one extra coefficient the signal can be rebuilt exactly:
# :::

# %% tags=["hide-input"]
x = torch.randn(16)
assert torch.allclose(torch.fft.rfft(x)[:8], LeadingFourier()(x), atol=1e-5)
assert torch.allclose(torch.fft.irfft(torch.fft.rfft(x), n=16), x, atol=1e-5)
print("rfft keeps", torch.fft.rfft(x).shape[0], "coefficients; our layer keeps",
      LeadingFourier()(x).shape[0])


# %% [markdown]
# ## 10. Why store parameters at all?
#
# > Even if there is no need to deploy trained models to a different device, what are
# > the practical benefits of storing model parameters?
#
# :::{admonition} Answer
# :class: dropdown
# Saved parameters let you resume after a crash or a time limit, keep the best model
# seen during training (early stopping), compare or average checkpoints, fine-tune
# later or on another task, and reproduce and share results without retraining. The
# first benefit is checked below: three steps, a checkpoint, fresh objects that load
# it, three more steps gives *exactly* the parameters of six uninterrupted steps,
# because the optimizer's momentum is saved too.
# :::

# %% tags=["hide-input"]
def make_model():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))
    return net, torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)


gen = torch.Generator().manual_seed(1)
batches = [(torch.randn(16, 10, generator=gen), torch.randn(16, 1, generator=gen))
           for _ in range(6)]


def train_steps(net, optimizer, steps):
    for X, y in steps:
        optimizer.zero_grad()
        F.mse_loss(net(X), y).backward()
        optimizer.step()


straight, opt = make_model()
train_steps(straight, opt, batches)

first, opt = make_model()
train_steps(first, opt, batches[:3])
buffer = io.BytesIO()  # a file in memory; a path works the same way
torch.save({"model": first.state_dict(), "optimizer": opt.state_dict()}, buffer)

buffer.seek(0)
state = torch.load(buffer, weights_only=True)
resumed, opt = make_model()
resumed.load_state_dict(state["model"])
opt.load_state_dict(state["optimizer"])
train_steps(resumed, opt, batches[3:])
same = all(torch.equal(p, q)
           for p, q in zip(straight.parameters(), resumed.parameters()))
assert same
print("resumed training == uninterrupted training, bit for bit:", same)

forgetful, opt = make_model()  # resume with the weights but a fresh optimizer
forgetful.load_state_dict(state["model"])
train_steps(forgetful, opt, batches[3:])
same = all(torch.equal(p, q)
           for p, q in zip(straight.parameters(), forgetful.parameters()))
assert not same
print("resumed without the optimizer state, bit for bit:", same)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Without the optimizer state the momentum restarts from zero, and the run drifts
# away from the uninterrupted one. (`utils.save_checkpoint` packs the same two
# dictionaries plus extras, and writes the file atomically; see the chapter.)
# :::
#
# ## 11. Reusing the first layers of a saved network
#
# > Assume that we want to reuse only parts of a network to be incorporated into a
# > network of a different architecture. How would you go about using, say the first
# > two layers from a previous network in a new network?
#
# :::{admonition} Answer
# :class: dropdown
# A `state_dict` is a dictionary, so we pick the entries we want, rename them to the
# new model's names if needed, and load them with `strict=False`. The call reports
# which keys it did *not* fill, which we assert to be exactly the new parts. Here the
# old network is an MLP with three linear layers; the new one is a custom module with
# the same first two layers as a `body` and a new head with 3 outputs.
# :::

# %% tags=["hide-input"]
torch.manual_seed(0)
old = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(),
                    nn.Linear(32, 10))
saved = io.BytesIO()
torch.save(old.state_dict(), saved)


class NewNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(20, 64), nn.ReLU(),
                                  nn.Linear(64, 32), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(32, 3))

    def forward(self, X):
        return self.head(self.body(X))


saved.seek(0)
old_state = torch.load(saved, weights_only=True)
reuse = {f"body.{k}": v for k, v in old_state.items() if k.split(".")[0] in {"0", "2"}}
new = NewNet()
result = new.load_state_dict(reuse, strict=False)
print("copied:  ", sorted(reuse))
print("missing: ", result.missing_keys, "| unexpected:", result.unexpected_keys)
assert result.missing_keys == ["head.1.weight", "head.1.bias"]
assert not result.unexpected_keys

X = torch.randn(4, 20)
assert torch.equal(new.body(X), old[:4](X))
print("shared part gives identical outputs:", torch.equal(new.body(X), old[:4](X)))


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The body reproduces the old network's first four modules exactly, and only the new
# head was left at its random initialization. To fine-tune only the head, set
# `requires_grad_(False)` on `new.body.parameters()` (exercise 4 did this for
# `NestMLP`).
# :::
#
# ## 12. Saving the architecture too
#
# > How would you go about saving the network architecture and parameters? What
# > restrictions would you impose on the architecture?
#
# :::{admonition} Answer
# :class: dropdown
# **Why not pickle the whole model?** `torch.save(net)` seems to save everything, but
# a pickle stores a *reference* to the class (module and name), not its code. Loading
# needs that class importable under the same name, and it needs
# `weights_only=False`, that is, trusting the file to run code. Both checked:
# :::

# %% tags=["hide-input"]
class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, X):
        return self.fc(X)


whole = io.BytesIO()
torch.save(TinyNet(), whole)

whole.seek(0)
caught = None
try:
    torch.load(whole, weights_only=True)
except pickle.UnpicklingError as err:
    caught = err
assert caught is not None
print("weights_only=True refuses a pickled module:", type(caught).__name__)

TinyNetClass = TinyNet
del TinyNet  # as if the file were opened where this class is not defined
whole.seek(0)
caught = None
try:
    torch.load(whole, weights_only=False)
except AttributeError as err:
    caught = err
finally:
    TinyNet = TinyNetClass
assert caught is not None and "TinyNet" in str(caught)
print("without the class, even weights_only=False fails:", type(caught).__name__)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# A `state_dict` has the same dependence, only explicit: it holds names and tensors,
# nothing that says how to compute with them.
# :::

# %% tags=["hide-input"]
sd = TinyNet().state_dict()
print({k: tuple(v.shape) for k, v in sd.items()})


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **A practical recipe.** Save a small configuration (plain numbers and strings) next
# to the `state_dict`, and keep a builder function in your code that turns the
# configuration into a model. Both parts load with `weights_only=True`, and the code
# that defines the architecture lives in version control, where it can be read and
# reviewed.
# :::

# %% tags=["hide-input"]
def build_mlp(widths, activation="relu"):
    """An MLP from a list of layer widths, e.g. [20, 64, 10]."""
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}[activation]
    layers = []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(n_in, n_out), act()]
    return nn.Sequential(*layers[:-1])  # no activation after the last layer


torch.manual_seed(0)
config = {"widths": [20, 64, 32, 10], "activation": "relu"}
net = build_mlp(**config)
file = io.BytesIO()
torch.save({"config": config, "model": net.state_dict()}, file)

file.seek(0)
state = torch.load(file, weights_only=True)
rebuilt = build_mlp(**state["config"])
rebuilt.load_state_dict(state["model"])
X = torch.randn(2, 20)
assert torch.equal(rebuilt(X), net(X))
print("config:", state["config"], "| rebuilt model gives identical outputs: True")


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Saving the computation itself.** Tools such as `torch.export` (with
# `torch.export.save`) and ONNX record the forward pass as a graph of tensor
# operations that loads without the Python class. The restriction is that the forward
# pass must be a *fixed* graph: no Python control flow that depends on the values of
# the data, like the chapter's `FixedHiddenMLP` with its `while` loop. `torch.fx`,
# PyTorch's simplest graph capture, shows the difference in a few milliseconds:
# :::

# %% tags=["hide-input"]
class FixedHiddenMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("rand_weight", torch.rand(20, 20))
        self.linear = nn.Linear(20, 20)

    def forward(self, X):
        X = self.linear(X)
        X = F.relu(X @ self.rand_weight + 1)
        X = self.linear(X)
        while X.abs().sum() > 1:
            X = X / 2
        return X.sum()


graph = torch.fx.symbolic_trace(net)
print("MLP captured as a graph:", [node.op for node in graph.graph.nodes])
caught = None
try:
    torch.fx.symbolic_trace(FixedHiddenMLP())
except torch.fx.proxy.TraceError as err:
    caught = err
assert caught is not None and "control flow" in str(caught)
print("FixedHiddenMLP:", type(caught).__name__ + ":", caught)


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The MLP becomes a fixed list of operations (a placeholder for the input, five module
# calls, an output). The `while` loop cannot be captured, because how often it runs
# depends on the numbers in `X`, which a graph built without data does not know.
# (`torch.export` handles some such cases with special control-flow operators, at the
# price of rewriting the model.) So: keep architectures you want to export to static
# structure, shapes that follow from the input shapes, and operations from the tensor
# library.
# :::
#
# ## 13. CPU against GPU, large and small
#
# > Try a larger computation task, such as the multiplication of large matrices, and
# > see the difference in speed between a CPU and a GPU. What about a task with a small
# > number of calculations?
#
# :::{admonition} Answer
# :class: dropdown
# The table below times one $n \times n$ matrix product on the CPU and, when the
# machine has one, on the GPU (best of several runs, waiting for the GPU to finish
# before stopping the clock), and converts it to a rate of floating-point operations
# ($2n^3$ per product). **The output saved with this page was computed on a machine
# without a GPU**, so it has only the CPU column, and its numbers are that machine's.
# Run it on a GPU machine to see both. What to expect: for large $n$ the GPU is far faster,
# because it runs thousands of multiply-adds in parallel. For small $n$ every product
# costs a fixed overhead (launching a GPU kernel, or a Python call) that dwarfs the
# arithmetic, so the rate drops sharply on both devices and the GPU's advantage shrinks
# or vanishes.
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
devices = [torch.device("cpu")] + ([device] if device.type != "cpu" else [])
print(f"{'n':>6}"
      + "".join(f"{d.type + ' time':>14}{d.type + ' GFLOP/s':>15}" for d in devices))
products = {}
for n in (16, 128, 1024):
    row = f"{n:>6}"
    for dev in devices:
        torch.manual_seed(0)
        A = torch.randn(n, n).to(dev)
        seconds = utils.best_time(lambda: A @ A, dev, repeats=3 if n == 1024 else 20)
        products[n, dev.type] = (A @ A).cpu()
        row += f"{seconds * 1e3:>11.3f} ms{2 * n**3 / seconds / 1e9:>15.1f}"
    print(row)

# %% tags=["hide-input"]
for (n, _), P in products.items():
    torch.testing.assert_close(P, products[n, "cpu"], rtol=1e-3, atol=1e-3 * n**0.5)
print("every device computed the same products (within float tolerance)")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# We assert only what holds everywhere: each device computes the same products up to
# rounding. The speeds are not asserted, not even the CPU's low rate for tiny
# products: while writing this answer on a heavily loaded machine, an assert that the
# 16x16 rate is below the 128x128 rate failed in two runs out of four. Timings
# depend on the hardware and on whatever else the machine is doing: if the saved
# table shows a middle size running slower than a large one, the machine was busy.
# Small products that PyTorch splits across threads suffer most when other programs
# compete for the cores, because each one waits for its threads to be scheduled.
# :::
#
# ## 14. Reading and writing parameters on a GPU
#
# > How should we read and write model parameters on the GPU?
#
# :::{admonition} Answer
# :class: dropdown
# A `state_dict` holds the model's own tensors, on the model's device, and `torch.save`
# records that device in the file. Two rules follow. When loading, pass `map_location`
# to put the tensors where you want them: a file saved on a GPU otherwise fails to load
# on a machine without one. And `load_state_dict` *copies* values into the model's
# existing tensors, so the model stays on its device whatever device the loaded
# tensors were on. (`utils.load_checkpoint` maps to the model's device by default.)
# The cell below runs on any machine; with a GPU, `device` is the GPU.
# :::

# %% tags=["hide-input"]
torch.manual_seed(0)
net = nn.Linear(4, 2).to(device)
file = io.BytesIO()
torch.save(net.state_dict(), file)  # tensors saved with their device

file.seek(0)
cpu_state = torch.load(file, map_location="cpu", weights_only=True)
assert all(t.device.type == "cpu" for t in cpu_state.values())

fresh = nn.Linear(4, 2).to(device)
fresh.load_state_dict(cpu_state)  # copies CPU values into tensors on `device`
assert all(p.device.type == device.type for p in fresh.parameters())
X = torch.randn(3, 4, device=device)
assert torch.equal(fresh(X), net(X))
print("loaded to the CPU, copied back onto the model's device, identical outputs: True")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Writing parameters in place follows the chapter's rule, inside `torch.no_grad()`,
# and the new values must be on the parameter's device: `param.copy_(values)` moves
# them if needed, while `param.data = values` would quietly replace the tensor,
# device and all.
# :::
#
# ## 15. Logging on the device, or fetching every value
#
# > Measure the time it takes to compute 1000 matrix-matrix multiplications of
# > 100x100 matrices and log the Frobenius norm of the output matrix one result at a
# > time. Compare it with keeping a log on the GPU and transferring only the final
# > result.
#
# :::{admonition} Answer
# :class: dropdown
# `.item()` copies one number to Python. On a GPU it must also wait until every
# queued operation has finished, so calling it in each iteration turns a pipeline
# (the CPU queues work while the GPU computes) into lock-step. Keeping the norms on
# the device and fetching them once at the end lets the queue run. On a CPU there is
# no queue to stall and no copy to make, so this effect cannot appear there; this
# notebook ran on a CPU, so its (ignored) timings show only that case, where any
# difference comes from Python overhead and from whatever else the machine is doing.
# :::

# %% tags=["hide-input"]
torch.manual_seed(0)
mats = torch.randn(1000, 100, 100).to(device)
B = torch.randn(100, 100).to(device)


def log_each():
    return [torch.linalg.matrix_norm(M @ B).item() for M in mats]  # syncs every step


def log_on_device():
    norms = [torch.linalg.matrix_norm(M @ B) for M in mats]  # stays on the device
    return torch.stack(norms).tolist()  # one transfer at the end


def timed(fn):
    """Run fn once; return its result and the wall time in seconds."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start  # both versions end with a transfer


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# On the CPU we run this experiment on one thread. Products this small gain nothing
# from a second thread, and on a busy machine, waiting for that thread to be scheduled
# after every tiny operation can take far longer than the arithmetic; that would
# swamp the effect we want to see.
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
threads = torch.get_num_threads()
torch.set_num_threads(1)
try:
    norms_each, t_each = timed(log_each)
    norms_dev, t_dev = timed(log_on_device)
finally:
    torch.set_num_threads(threads)
print(f"{device.type}: .item() every step {t_each * 1e3:.1f} ms, "
      f"log on the device {t_dev * 1e3:.1f} ms")

# %% tags=["hide-input"]
assert t_each > 0 and t_dev > 0
np.testing.assert_allclose(norms_each, norms_dev, rtol=1e-5)
print("both versions log the same norms:", len(norms_each) == len(norms_dev) == 1000)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The two logs are identical, so the choice only affects speed, and on a GPU the
# one-transfer version is the one to write. (As with exercise 13, the timings are not
# asserted.)
# :::
#
# ## 16. Two GPUs at once
#
# > Measure how much time it takes to perform two matrix-matrix multiplications on
# > two GPUs at the same time. Compare it with computing in sequence on one GPU.
#
# :::{admonition} Answer
# :class: dropdown
# This needs two GPUs, which the machine that ran this page did not have, so the
# answer here is the reasoning plus code that runs only where it can. CUDA calls are asynchronous: the
# CPU queues a product on `cuda:0`, returns immediately, queues one on `cuda:1`, and
# both GPUs then work at the same time. The pair should therefore take about as long
# as one product on one GPU (near-linear scaling), while two products in sequence on
# one GPU take about twice as long. The data must already be on each GPU; copying it
# there inside the timed region would measure the bus instead.
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
if torch.cuda.device_count() >= 2:
    g0, g1 = torch.device("cuda:0"), torch.device("cuda:1")
    A0, A1 = torch.randn(4096, 4096, device=g0), torch.randn(4096, 4096, device=g1)
    both = lambda: (A0 @ A0, A1 @ A1)  # noqa: E731
    t_parallel = utils.best_time(lambda: (both(), torch.cuda.synchronize(g1)), g0)
    t_serial = utils.best_time(lambda: (A0 @ A0, A0 @ A0), g0)
    print(f"two GPUs in parallel {t_parallel * 1e3:.1f} ms, "
          f"one GPU in sequence {t_serial * 1e3:.1f} ms")
else:
    print(f"{torch.cuda.device_count()} CUDA device(s): this experiment needs two")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# With fewer than two GPUs the cell only reports that it needs two, and nothing is
# asserted.
# :::
