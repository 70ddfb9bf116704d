# %% [markdown]
# # Building Models with nn.Module
#
# Every network in this book so far was either an `nn.Sequential` or a class such as
# `utils.Residual` that someone wrote for us. To build your own architectures, inspect
# what a trained model learned, initialize it well, save it and move it to a GPU, you
# need to know what an `nn.Module` is and what it does for you behind the scenes. This
# chapter opens the box: it builds modules from scratch, looks at their parameters,
# ties and initializes them, writes custom layers, saves and reloads models, and puts
# them on a device.
#
# **What you'll learn**
#
# - write a module with `__init__` and `forward`, and rebuild `nn.Sequential` yourself
#   to see how a module registers its children;
# - choose between a parameter, a buffer and a plain tensor for the numbers a model
#   keeps, and predict which of them `parameters()`, `state_dict()` and `.to()` see;
# - read, count, initialize and tie parameters, and check that the gradients of a
#   tied parameter add up over its uses;
# - let lazy layers infer their input sizes, and write layers with and without
#   parameters;
# - save and reload tensors, models and checkpoints safely, and place models and data
#   on a device.
#
# Prerequisites: [LeNet](05_lenet.ipynb), which builds a network with `nn.Sequential`
# and trains it with `utils.train`. The [ResNet](07_resnet.ipynb) chapter's residual
# block is a custom module of the kind we write here.

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
import math
import pickle
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import utils

device = utils.try_gpu()
utils.seed_everything(0)
torch.set_printoptions(precision=4, sci_mode=False)

# %% [markdown]
# ## Layers and modules
#
# ### A network is a module made of modules
#
# Here is a multilayer perceptron (MLP) written the way earlier chapters wrote their
# networks: 20 inputs, a hidden layer of 256 units, 10 outputs.

# %%
torch.manual_seed(0)
net = nn.Sequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))
X = torch.rand(2, 20)  # (batch, features)
print(net)
print("output shape:", tuple(net(X).shape))


# %% [markdown]
# The printout shows a tree: `nn.Sequential` holds three children named `0`, `1` and
# `2`. The whole network, each layer, and (as we will see) any group of layers in
# between are all the same kind of object, an **`nn.Module`**. A module
#
# - computes an output from its input in a method called `forward`;
# - owns parameters (the `Linear` layers do; `ReLU` has none);
# - may contain other modules, and then collects their parameters too.
#
# Because the three kinds of things are one kind of object, modules nest: a ResNet is a
# module made of stages, which are modules made of residual blocks, which are modules
# made of convolutions.
#
# ### A custom module
#
# `nn.Sequential` can only pass the output of one layer to the next. For anything else
# (a skip connection, two branches, a loop) we subclass `nn.Module` and write two
# methods: `__init__` creates the layers, `forward` says how data flows through them.

# %%
class MLP(nn.Module):
    """A one-hidden-layer MLP: 20 inputs, 256 hidden units, 10 outputs."""

    def __init__(self):
        super().__init__()  # set up the registries that the next two lines fill
        self.hidden = nn.Linear(20, 256)
        self.out = nn.Linear(256, 10)

    def forward(self, X):
        return self.out(F.relu(self.hidden(X)))


# %%
torch.manual_seed(0)
mlp = MLP()
print(mlp)
print("children:", [name for name, _ in mlp.named_children()])
print("output shape:", tuple(mlp(X).shape))


# %% [markdown]
# Assigning a module to an attribute (`self.hidden = ...`) is enough to register it:
# `nn.Module` intercepts the assignment and files the layer under the attribute's name,
# which is why the printout lists `hidden` and `out`. We call the model as `mlp(X)`,
# never `mlp.forward(X)`: calling the module runs `forward` plus the bookkeeping around
# it (hooks, for instance).
#
# The registries are created by `nn.Module.__init__`, so `super().__init__()` must run
# before the first layer is assigned. Forgetting it is a classic mistake, and PyTorch
# catches it at once:

# %%
class Forgetful(nn.Module):
    def __init__(self):
        self.hidden = nn.Linear(20, 256)  # no super().__init__() first


caught = None
try:
    Forgetful()
except AttributeError as err:
    caught = err
assert caught is not None and "__init__" in str(caught)
print(type(caught).__name__ + ":", caught)

# %% [markdown]
# Our `MLP` computes exactly what the `nn.Sequential` above computes. To check, we put
# *its own* two linear layers into a `Sequential`, so both networks share the same
# weights, and compare outputs:

# %%
seq = nn.Sequential(mlp.hidden, nn.ReLU(), mlp.out)
assert torch.equal(seq(X), mlp(X))
print("same output:", torch.equal(seq(X), mlp(X)))


# %% [markdown]
# Custom modules take constructor arguments like any class, which makes them reusable
# building blocks. Here is a convolutional block (a size-preserving 3x3 convolution, a
# ReLU, and 2x2 max pooling, all from [the pooling chapter](04_pooling.ipynb)), used
# twice in a small CNN. `utils.layer_summary` traces an example input through the
# network's top-level children.

# %%
class ConvBlock(nn.Module):
    """3x3 convolution (padding 1), ReLU, 2x2 max pooling: halves height and width."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, X):
        return self.pool(F.relu(self.conv(X)))


# %%
cnn = nn.Sequential(ConvBlock(1, 8), ConvBlock(8, 16), nn.Flatten(),
                    nn.Linear(16 * 7 * 7, 10))
print(utils.layer_summary(cnn, torch.zeros(1, 1, 28, 28)))  # (batch, channels, h, w)
for block, (c_in, c_out) in zip(cnn[:2], [(1, 8), (8, 16)]):
    assert sum(p.numel() for p in block.parameters()) == c_in * c_out * 9 + c_out


# %% [markdown]
# Each block halves the height and width, 28 to 14 to 7, so the linear layer receives
# $16 \cdot 7 \cdot 7$ features. A block's parameters are its convolution's
# $c_\text{in} c_\text{out} \cdot 3 \cdot 3$ weights plus $c_\text{out}$ biases, which
# the assert confirms for the counts in the table. The parameter count of a block is
# the sum over everything it contains: the table never needed to know what is inside
# `ConvBlock`.
#
# ### Writing `nn.Sequential` ourselves
#
# What does `nn.Sequential` do? It stores its children in order and, in `forward`,
# feeds each output into the next child. `add_module(name, module)` is the explicit
# form of `self.name = module`; it fills the dictionary `self._modules`, which
# `children()`, `parameters()`, `state_dict()` and `.to()` all walk.

# %%
class MySequential(nn.Module):
    """Run the given modules one after the other, like nn.Sequential."""

    def __init__(self, *modules):
        super().__init__()
        for idx, module in enumerate(modules):
            self.add_module(str(idx), module)  # registered in self._modules, in order

    def forward(self, X):
        for module in self.children():  # insertion order
            X = module(X)
        return X


# %% [markdown]
# Given the *same* three layer objects, ours and PyTorch's must agree exactly, and
# they must also name the parameters the same way:

# %%
layers = [nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10)]
mine, theirs = MySequential(*layers), nn.Sequential(*layers)
assert torch.equal(mine(X), theirs(X))
assert list(mine.state_dict()) == list(theirs.state_dict())
print("registered children:", list(mine._modules))
print("parameter names:    ", list(mine.state_dict()))
print("same output as nn.Sequential:", torch.equal(mine(X), theirs(X)))


# %% [markdown]
# The children are stored under the names `'0'`, `'1'`, `'2'`, so the parameter names
# (`0.weight`, `2.bias`, ...) are the dotted paths through the tree, exactly as in
# `nn.Sequential`. The [exercises](../exercises/09_modules.ipynb) show what breaks if
# the children are kept in a plain Python list instead.
#
# ### Code in `forward`, and constants that are not trained
#
# `forward` is ordinary Python, so it can do what no `Sequential` can: reuse a layer,
# branch on the data, loop. The next module also keeps a constant random matrix that
# is part of the computation but is never trained.

# %%
class FixedHiddenMLP(nn.Module):
    """Linear, a fixed random projection, the same Linear again, then rescaling."""

    def __init__(self):
        super().__init__()
        # A constant: saved and moved with the model, but not a trainable parameter.
        self.register_buffer("rand_weight", torch.rand(20, 20))
        self.linear = nn.Linear(20, 20)

    def forward(self, X):
        X = self.linear(X)
        X = F.relu(X @ self.rand_weight + 1)
        X = self.linear(X)  # the same layer again: its parameters are used twice
        while X.abs().sum() > 1:  # control flow that depends on the data
            X = X / 2
        return X.sum()


# %%
torch.manual_seed(0)
fixed = FixedHiddenMLP()
print("parameters:", [name for name, _ in fixed.named_parameters()])
print("buffers:   ", [name for name, _ in fixed.named_buffers()])
print("output:", round(fixed(X).item(), 3))


# %% [markdown]
# The `while` loop halves the result until its absolute sum is at most 1, so the
# printed output is at most 1 in size whatever the input. Autograd has no problem with
# the loop: it records the operations that actually ran for this input.
#
# `rand_weight` shows up among the buffers, not the parameters, so an optimizer built
# from `fixed.parameters()` never changes it. Why not simply write
# `self.rand_weight = torch.rand(20, 20)`, a plain tensor with `requires_grad=False`?
# Because then the module does not know the tensor exists. The table compares three
# ways to keep a constant vector in a module, each checked on a real instance:

# %%
class FixedProjection(nn.Module):
    """A linear layer followed by a constant matrix, stored one of three ways."""

    def __init__(self, how):
        super().__init__()
        self.linear = nn.Linear(3, 3)
        const = 2 * torch.eye(3)
        if how == "plain tensor":
            self.const = const
        elif how == "buffer":
            self.register_buffer("const", const)
        elif how == "frozen Parameter":
            self.const = nn.Parameter(const, requires_grad=False)
        else:
            raise ValueError(f"unknown storage {how!r}")

    def forward(self, X):
        return self.linear(X) @ self.const


# %%
ways = ("plain tensor", "buffer", "frozen Parameter")
print(f"{'stored as':<18}{'in parameters()':>16}{'in state_dict':>15}"
      f"{'follows .to()':>15}")
for how in ways:
    m = FixedProjection(how)
    in_params = any(p is m.const for p in m.parameters())
    in_state = "const" in m.state_dict()
    follows = m.to(torch.float64).const.dtype == torch.float64
    print(f"{how:<18}{in_params!s:>16}{in_state!s:>15}{follows!s:>15}")

# %% [markdown]
# A plain tensor is invisible: it is not saved with the model, and `.to(...)` (here a
# change of dtype) leaves it behind. A frozen `Parameter` is saved and moved, but it is
# still listed among the parameters, so code that counts or optimizes "the parameters"
# sees it. A **buffer** is the intended tool for state that is not trained: batch
# normalization keeps its running mean and variance in buffers
# ([batch normalization](06_batch_norm.ipynb)).
#
# Being left behind breaks the model. `.to()` converts dtypes and moves devices with
# the same machinery, so converting to `float64` shows on any machine what moving to a
# GPU would do: every tensor of the model follows, except the plain one.

# %%
X64 = torch.ones(2, 3, dtype=torch.float64)
for how in ways:
    m = FixedProjection(how).to(torch.float64)
    try:
        m(X64)
        result = "runs"
    except RuntimeError as err:
        assert "dtype" in str(err)
        result = f"RuntimeError (const is still {m.const.dtype})"
    print(f"{how:<18}{result}")


# %% [markdown]
# Only the plain tensor stayed behind, and the matrix product failed because its two
# operands no longer matched. After `.to("cuda")` the plain tensor would stay on the
# CPU and the error would name two devices instead of two dtypes. For the same reason,
# a tensor created *inside* `forward` should be made on the input's device, e.g.
# `torch.zeros(n, device=X.device)`.
#
# ### Mixing modules
#
# Modules compose freely: a custom module can contain a `Sequential`, and a
# `Sequential` can contain custom modules.

# %%
class NestMLP(nn.Module):
    """A Sequential inside a custom module."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(),
                                 nn.Linear(64, 32), nn.ReLU())
        self.linear = nn.Linear(32, 16)

    def forward(self, X):
        return self.linear(self.net(X))


# %%
torch.manual_seed(0)
chimera = nn.Sequential(NestMLP(), nn.Linear(16, 20), FixedHiddenMLP())
print(chimera)
print("output:", round(chimera(X).item(), 3))

# %% [markdown]
# ## Parameter access
#
# Once a model is built (or trained) we want to look inside it. We use a small MLP
# with 4 inputs, 8 hidden units and one output.

# %%
torch.manual_seed(0)
net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
X = torch.rand(2, 4)  # (batch, features)
for name, tensor in net[2].state_dict().items():
    print(name, tensor)

# %% [markdown]
# Indexing a `Sequential` like a list gives a child; `net[2]` is the output layer, and
# its `state_dict()` maps names to tensors: one row of 8 weights and one bias. The
# attributes themselves are `nn.Parameter` objects, tensors that a module registers as
# trainable, with `requires_grad=True`. `named_parameters()` walks the whole tree and
# yields each parameter with its dotted path:

# %%
for name, param in net.named_parameters():
    print(f"{name:<10}{str(tuple(param.shape)):<8}{type(param).__name__:>10}"
          f"   requires_grad={param.requires_grad}")
num_params = sum(p.numel() for p in net.parameters())
assert num_params == (4 * 8 + 8) + (8 * 1 + 1)
print("parameters in total:", num_params)


# %% [markdown]
# The total, $4 \cdot 8 + 8$ for the hidden layer plus $8 + 1$ for the output layer,
# matches the count. The same names reach into nested models. We build a deeper one
# from a factory function, so that the blocks are separate instances with their own
# parameters:

# %%
def block1():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())


def block2():
    net = nn.Sequential()
    for i in range(4):
        net.add_module(f"block{i}", block1())
    return net


torch.manual_seed(0)
rgnet = nn.Sequential(block2(), nn.Linear(4, 1))
print(rgnet)

# %% [markdown]
# To reach the bias of the first layer inside the second block, follow the tree: the
# first child of `rgnet`, its child `block1`, that block's first layer. Indexing,
# attribute access and the dotted name from `named_parameters()` all lead to the *same*
# tensor object:

# %%
bias = rgnet[0][1][0].bias
assert bias is rgnet[0].block1[0].bias is rgnet.get_parameter("0.block1.0.bias")
print(bias)
print("parameters in total:", sum(p.numel() for p in rgnet.parameters()))

# %% [markdown]
# ### Gradients live next to the parameters
#
# Each parameter has a `.grad` attribute, and it is `None` until a backward pass has
# filled it:

# %%
print("before backward:", net[2].weight.grad)
net(X).sum().backward()
print("bias gradient:  ", net[2].bias.grad)

# %% [markdown]
# Can we predict these numbers? The loss is $\sum_b (\mathbf w^\top \mathbf h_b + c)$ over
# the batch, where $\mathbf h_b$ is the hidden activation of example $b$. Its gradient
# with respect to the output bias $c$ is the batch size, and with respect to
# $\mathbf w$ it is $\sum_b \mathbf h_b$. We check both against a separate computation:

# %%
H = net[:2](X)  # hidden activations: slicing a Sequential gives a Sequential
assert net[2].bias.grad.item() == X.shape[0]
torch.testing.assert_close(net[2].weight.grad, H.sum(dim=0, keepdim=True))
print("bias grad == batch size:", net[2].bias.grad.item() == X.shape[0])

# %% [markdown]
# Gradients *accumulate*: a second backward pass adds to `.grad` instead of overwriting
# it. That is why training loops call `optimizer.zero_grad()` (or `net.zero_grad()`)
# before every backward pass; by default it sets the gradients back to `None`.

# %%
net(X).sum().backward()
print("after a second backward:", net[2].bias.grad)
net.zero_grad()
print("after zero_grad:", net[2].bias.grad)

# %% [markdown]
# ### `state_dict` holds more than parameters
#
# `parameters()` lists what the optimizer trains; `state_dict()` lists everything
# needed to restore the model, buffers included. Batch normalization shows the
# difference:

# %%
bn = nn.BatchNorm1d(8)
print("parameters:", [name for name, _ in bn.named_parameters()])
print("state_dict:", list(bn.state_dict()))

# %% [markdown]
# The running statistics and the step counter are buffers: saved and restored with the
# model, never touched by the optimizer.
#
# ## Parameter initialization
#
# Training starts from the initial values of the parameters, and bad ones can stall it
# (vanishing or exploding signals, or symmetric units that all learn the same thing).
# PyTorch initializes every built-in layer with a sensible default. For `nn.Linear`,
# weights and biases are drawn uniformly from
# $[-1/\sqrt{n_\text{in}}, 1/\sqrt{n_\text{in}}]$, where $n_\text{in}$ is the number
# of inputs:

# %%
torch.manual_seed(0)
layer = nn.Linear(256, 128)
bound = 1 / math.sqrt(256)
assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound
print(f"largest |weight| {layer.weight.abs().max().item():.5f}  bound {bound:.5f}")

# %% [markdown]
# ### Built-in initializers with `net.apply`
#
# The functions in `nn.init` overwrite a tensor in place (hence the trailing
# underscore). To apply one to a whole model, write a function that handles one module
# and pass it to `net.apply`, which calls it on every module in the tree. The order is
# children first, then the parent:

# %%
visited = []
net.apply(lambda m: visited.append(type(m).__name__))
print(visited)


# %% [markdown]
# Because the function sees every module, including `ReLU` and the `Sequential` itself,
# it checks the type before touching any weights. Here are three common choices:
# Gaussian weights with a small standard deviation, constant weights, and zero biases.

# %%
def init_normal(module):
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, mean=0.0, std=0.01)
        nn.init.zeros_(module.bias)


def init_constant(module):
    if isinstance(module, nn.Linear):
        nn.init.constant_(module.weight, 1.0)
        nn.init.zeros_(module.bias)


torch.manual_seed(0)
net.apply(init_normal)
print("normal:  ", net[0].weight.detach()[0], net[0].bias[0].item())
net.apply(init_constant)
print("constant:", net[0].weight.detach()[0], net[0].bias[0].item())

# %% [markdown]
# A constant initialization is only a demonstration: every hidden unit then computes
# the same function, receives the same gradient and stays identical to the others,
# so the layer behaves like a single unit. Random initialization breaks that symmetry.
#
# To check that `normal_` really draws from the distribution we asked for, look at
# many weights at once: a 256x256 layer has 65,536 of them.

# %%
torch.manual_seed(0)
big = nn.Linear(256, 256).apply(init_normal)
print(f"|mean| {abs(big.weight.mean().item()):.4f}  std {big.weight.std().item():.4f}")
assert abs(big.weight.std().item() - 0.01) < 0.001
assert abs(big.weight.mean().item()) < 0.001


# %% [markdown]
# Different layers may get different initializers: `apply` works on any subtree.
# Below, the first layer gets Xavier initialization, which draws from
# $U(-a, a)$ with $a = \sqrt{6 / (n_\text{in} + n_\text{out})}$ so that the variance of
# signals is kept roughly constant through the layer, and the output layer gets the
# constant 42. `utils.init_xavier` is this book's version of the first function; with
# the same seed it produces the same weights.

# %%
def xavier(module):
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)


def init_42(module):
    if isinstance(module, nn.Linear):
        nn.init.constant_(module.weight, 42.0)


torch.manual_seed(0)
net[0].apply(xavier)
net[2].apply(init_42)
a = math.sqrt(6 / (4 + 8))
assert net[0].weight.abs().max() <= a
largest = net[0].weight.abs().max().item()
print(f"Xavier bound a = {a:.4f}, largest |weight| {largest:.4f}")
print("output layer:", net[2].weight.detach())

reference = nn.Linear(4, 8)
torch.manual_seed(0)
reference.apply(utils.init_xavier)
assert torch.equal(reference.weight, net[0].weight)


# %% [markdown]
# ### A custom initializer
#
# When `nn.init` lacks what you need, write it. As an example (from d2l.ai), draw each
# weight from $U(-10, 10)$ and keep it only if its magnitude is at least 5:
#
# $$w \sim \begin{cases} U(5, 10) & \text{with probability } \tfrac14 \\ 0 & \text{with probability } \tfrac12 \\ U(-10, -5) & \text{with probability } \tfrac14 \end{cases}$$

# %%
def my_init(module):
    if isinstance(module, nn.Linear):
        nn.init.uniform_(module.weight, -10, 10)
        with torch.no_grad():  # an in-place change that autograd must not record
            module.weight.masked_fill_(module.weight.abs() < 5, 0.0)


torch.manual_seed(0)
big = nn.Linear(256, 256).apply(my_init)
print(big.weight.detach()[:2, :4])

# %% [markdown]
# The printed corner shows either zeros or values between 5 and 10 in size. Over the
# whole layer, the fraction of zeros should be the probability that a $U(-10, 10)$
# draw lands in $(-5, 5)$, which is $10/20 = 1/2$. With $n$ independent weights the
# observed fraction has standard deviation $\sqrt{p(1-p)/n}$; we compute both from the
# distribution and accept anything within five standard deviations:

# %%
w = big.weight.detach()
low, high, cut = -10.0, 10.0, 5.0
p_zero = (2 * cut) / (high - low)  # P(|w| < cut) for w ~ U(low, high)
sigma = math.sqrt(p_zero * (1 - p_zero) / w.numel())
frac_zero = (w == 0).float().mean().item()
nonzero = w[w != 0].abs()
assert abs(frac_zero - p_zero) < 5 * sigma
assert nonzero.min() >= cut and nonzero.max() <= high
print(f"fraction of zeros {frac_zero:.4f}, "
      f"expected {p_zero} +- {5 * sigma:.4f} (5 sigma)")

# %% [markdown]
# ### Setting parameters directly
#
# Parameters are tensors, so we can also write into them. The write must happen
# inside `torch.no_grad()`: a parameter is a leaf of the autograd graph, and PyTorch
# refuses in-place changes to it that it would otherwise have to differentiate through.

# %%
caught = None
try:
    net[0].weight[0, 0] = 42.0  # no torch.no_grad()
except RuntimeError as err:
    caught = err
assert caught is not None and "leaf Variable" in str(caught)
print(type(caught).__name__ + ":", str(caught).splitlines()[0])

with torch.no_grad():
    net[0].weight += 1
    net[0].weight[0, 0] = 42.0
print(net[0].weight.detach()[0])

# %% [markdown]
# Older code writes `net[0].weight.data[0, 0] = 42` instead. `.data` gives a view that
# autograd does not track, which also works here, but the same trick used *inside
# `forward`* silently cuts the gradient. `torch.no_grad()` says what you mean.
#
# ## Tied parameters
#
# Sometimes we want two parts of a model to use the same parameters. The simplest way
# is to use the same layer object twice:

# %%
torch.manual_seed(0)
shared = nn.Linear(8, 8)
net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(),
                    nn.Linear(8, 1))
print("same layer object: ", net[2] is net[4])
print("same weight tensor:", net[2].weight is net[4].weight)
with torch.no_grad():
    net[2].weight[0, 0] = 100.0
print("a write through net[2] shows up in net[4]:", net[4].weight[0, 0].item())

# %% [markdown]
# Layers 2 and 4 are one object, so a change to one is a change to the other.
# Counting parameters needs care: `parameters()` yields each tensor once, while the
# `state_dict` keeps a name for every place it is used (both names point at the same
# memory, and loading writes the same values twice).

# %%
per_use = sum(p.numel() for m in net for p in m.parameters(recurse=False))
unique = sum(p.numel() for p in net.parameters())
state = net.state_dict()
print("counted per use:", per_use, "  unique:", unique)
print("names in state_dict:", list(state))
print("2.weight and 4.weight share memory:",
      state["2.weight"].data_ptr() == state["4.weight"].data_ptr())
assert per_use - unique == 8 * 8 + 8

# %% [markdown]
# What happens during backpropagation? The shared weight influences the output
# through both uses, so by the chain rule its gradient is the *sum* of the gradients
# that each use would get on its own. To check, we untie the layers: copy each child
# separately, so the copies of layers 2 and 4 become two distinct layers with equal
# values, and compare gradients.

# %%
untied = nn.Sequential(*[copy.deepcopy(m) for m in net])  # copies one child at a time
assert untied[2] is not untied[4] and torch.equal(untied[2].weight, untied[4].weight)

X = torch.rand(2, 4)
net(X).sum().backward()
tied_grad = shared.weight.grad
untied(X).sum().backward()
g2, g4 = untied[2].weight.grad, untied[4].weight.grad
torch.testing.assert_close(tied_grad, g2 + g4)
print("untied outputs equal tied outputs:", torch.equal(untied(X), net(X)))
print("the two uses get different gradients:", not torch.allclose(g2, g4))
print("tied gradient == sum of the two:", torch.allclose(tied_grad, g2 + g4))

# %% [markdown]
# Tying is everywhere in deep learning once you look for it. A convolutional layer
# is a fully connected layer whose weights are tied across all positions of the image
# ([image convolution](01_convolution.ipynb)); language models often tie the input
# embedding to the output layer. Tying cuts the parameter count and builds an
# assumption (the same pattern matters everywhere) into the model.
#
# ## Lazy initialization
#
# So far we told each layer its input size. That is tedious for CNNs: the first
# linear layer after `nn.Flatten` needs the number of features, which depends on
# every convolution and pooling layer before it. Lazy layers leave the input size open
# and infer it from the first batch that passes through them.

# %%
net = nn.Sequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))
print("before:", type(net[0]).__name__, net[0].weight)
net(torch.rand(2, 20))
print("after: ", type(net[0]).__name__, tuple(net[0].weight.shape),
      type(net[0].weight).__name__)

# %% [markdown]
# Before the first forward pass, the weight is an `UninitializedParameter`: a
# placeholder without a shape. The first batch had 20 features, so the layer created a
# 256x20 weight, initialized it, and turned itself into an ordinary `nn.Linear`.
# Until then, anything that needs the shape fails, including initializers and
# parameter counts:

# %%
lazy = nn.LazyLinear(10)
caught = None
try:
    nn.init.xavier_uniform_(lazy.weight)
except ValueError as err:
    caught = err
assert caught is not None and "uninitialized parameter" in str(caught)
print(type(caught).__name__ + ":", str(caught).split(" in ")[0])

# %% [markdown]
# So the rule is: build the model, move it to its device, send one dummy batch through
# it, and only then initialize, count or summarize. Here is LeNet from
# [chapter 5](05_lenet.ipynb) with every input size left to inference, next to
# `utils.lenet`, where the sizes (`1`, `6`, `16 * 5 * 5`, `120`, `84`) are written out:

# %%
lazy_lenet = nn.Sequential(
    nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2),
    nn.LazyConv2d(16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(2),
    nn.Flatten(),
    nn.LazyLinear(120), nn.Sigmoid(),
    nn.LazyLinear(84), nn.Sigmoid(),
    nn.LazyLinear(10))
dummy = torch.zeros(1, 1, 28, 28)  # (batch, channels, height, width)
lazy_lenet(dummy)  # the dry run that fixes every shape
print(utils.layer_summary(lazy_lenet, dummy))
lenet = utils.lenet()
shapes = [p.shape for p in lazy_lenet.parameters()]
assert shapes == [p.shape for p in lenet.parameters()]


# %% [markdown]
# Every parameter shape matches the hand-sized LeNet, and we never computed
# $16 \cdot 5 \cdot 5$ ourselves. The price is that the model is incomplete until it has
# seen data, and an input of the wrong size at the dry run would silently produce a
# model of the wrong size.
#
# ## Custom layers
#
# A layer is just a module, so writing one is writing a module. A layer without
# parameters only needs `forward`. This one subtracts the mean from its input:

# %%
class CenteredLayer(nn.Module):
    """Subtract the mean of all entries (no parameters)."""

    def forward(self, X):
        return X - X.mean()


layer = CenteredLayer()
print(layer(torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])))

# %% [markdown]
# It has no `__init__` because it has nothing to set up; the inherited one runs. It
# slots into a `Sequential` like any built-in layer, and the output has mean zero up to
# rounding:

# %%
net = nn.Sequential(nn.Linear(8, 128), CenteredLayer())
Y = net(torch.rand(4, 8))
assert abs(Y.mean().item()) < 1e-6
print("mean of the output is ~0:", abs(Y.mean().item()) < 1e-6)
print("parameters:", [name for name, _ in net.named_parameters()])


# %% [markdown]
# A layer *with* parameters wraps its tensors in `nn.Parameter`, which registers them
# exactly as assigning a submodule registers it. Here is our own fully connected
# layer; it stores the weight as (inputs, outputs), the transpose of `nn.Linear`'s.

# %%
class MyLinear(nn.Module):
    """y = x W + b, with W of shape (in_units, units)."""

    def __init__(self, in_units, units):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_units, units) / math.sqrt(in_units))
        self.bias = nn.Parameter(torch.zeros(units))

    def forward(self, X):
        return X @ self.weight + self.bias


# %%
torch.manual_seed(0)
my_layer = MyLinear(5, 3)
for name, param in my_layer.named_parameters():
    print(name, tuple(param.shape))

ref = nn.Linear(5, 3)
with torch.no_grad():
    ref.weight.copy_(my_layer.weight.T)
    ref.bias.copy_(my_layer.bias)
X = torch.rand(2, 5)
torch.testing.assert_close(my_layer(X), ref(X))
my_layer(X).sum().backward()
print("matches nn.Linear:", torch.allclose(my_layer(X), ref(X)))
print("weight gradient exists:", my_layer.weight.grad is not None)

# %% [markdown]
# Given the same numbers, our layer computes what `nn.Linear` computes, and the
# gradient reaches its weight. (If `forward` used `self.weight.data`, the output would
# be the same but no gradient would reach the weight, and the layer would never
# learn.)
# Custom layers stack like built-in ones:

# %%
torch.manual_seed(0)
net = nn.Sequential(MyLinear(64, 8), nn.ReLU(), MyLinear(8, 1))
print("output shape:", tuple(net(torch.rand(2, 64)).shape))
print("parameters:", [name for name, _ in net.named_parameters()])

# %% [markdown]
# ## File I/O
#
# Training takes time; the result should outlive the Python process. We write into a
# temporary folder that is deleted at the end of this section, so the notebook leaves
# no files behind.

# %%
tmpdir = tempfile.TemporaryDirectory()
folder = Path(tmpdir.name)

# %% [markdown]
# ### Tensors, lists and dictionaries
#
# `torch.save` writes tensors (and lists, tuples and dictionaries of tensors) to a file;
# `torch.load` reads them back. We always pass `weights_only=True` to `torch.load`; why
# is explained below.

# %%
x = torch.arange(4)
y = torch.zeros(4)
torch.save(x, folder / "x.pt")
torch.save([x, y], folder / "xy.pt")
torch.save({"x": x, "y": y}, folder / "xy_dict.pt")

x2 = torch.load(folder / "x.pt", weights_only=True)
x3, y3 = torch.load(folder / "xy.pt", weights_only=True)
d = torch.load(folder / "xy_dict.pt", weights_only=True)
assert torch.equal(x2, x) and torch.equal(y3, y) and torch.equal(d["x"], x)
print(x2, [x3, y3], d, sep="\n")

# %% [markdown]
# ### A model's parameters
#
# A model is code plus numbers. The code lives in your source files; the numbers are
# the `state_dict`, a dictionary of tensors that `torch.save` handles like the one
# above. To restore a model, build a fresh instance of the same class and load the
# numbers into it.

# %%
torch.manual_seed(0)
mlp = MLP()
X = torch.randn(2, 20)
torch.save(mlp.state_dict(), folder / "mlp.params")

clone = MLP()  # new random weights...
print(clone.load_state_dict(torch.load(folder / "mlp.params", weights_only=True)))
assert torch.equal(clone(X), mlp(X))  # ...replaced by the saved ones
print("identical outputs:", torch.equal(clone(X), mlp(X)))

# %% [markdown]
# `load_state_dict` reports that every key matched. It is strict by default: a missing
# or unexpected name raises an error instead of leaving a layer silently untrained.
#
# ### Checkpoints that survive a crash
#
# To resume training you need more than the weights: the optimizer's state (momentum
# buffers, for instance) and some bookkeeping such as the epoch. And if the process is
# killed halfway through writing, the half-written file must not replace the last good
# one. `utils.save_checkpoint` writes to a temporary file in the same folder and then
# renames it over the target with `os.replace`, which is atomic: afterwards there is
# either the old checkpoint or the new one, never a mixture. `utils.load_checkpoint`
# checks that the file fits the model before it changes anything.

# %%
torch.manual_seed(0)
net = MLP()
optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
X, y = torch.randn(8, 20), torch.randint(0, 10, (8,))
for _ in range(3):  # a few steps, so that the momentum buffers are not empty
    optimizer.zero_grad()
    F.cross_entropy(net(X), y).backward()
    optimizer.step()
utils.save_checkpoint(folder / "mlp.ckpt", net, optimizer, epoch=3)

restored = MLP()
restored_opt = torch.optim.SGD(restored.parameters(), lr=0.1, momentum=0.9)
extra = utils.load_checkpoint(folder / "mlp.ckpt", restored, restored_opt)
print("extra:", extra)
assert torch.equal(restored(X), net(X))
for p, q in zip(net.parameters(), restored.parameters()):
    assert torch.equal(optimizer.state[p]["momentum_buffer"],
                       restored_opt.state[q]["momentum_buffer"])
print("identical outputs and momentum buffers:", torch.equal(restored(X), net(X)))
print("files in the folder:", sorted(p.name for p in folder.iterdir()))

# %% [markdown]
# The restored model gives identical outputs and its optimizer carries the same
# momentum, so training would continue exactly where it stopped. The folder holds only
# the finished files: no temporary file was left behind. A checkpoint that does not fit
# the model is refused, and the model stays as it was:

# %%
wrong = nn.Linear(20, 10)
before = wrong.weight.clone()
caught = None
try:
    utils.load_checkpoint(folder / "mlp.ckpt", wrong)
except utils.CheckpointError as err:
    caught = err
assert caught is not None and "does not fit this model" in str(caught)
assert torch.equal(wrong.weight, before)
print(type(caught).__name__, "raised; model unchanged:",
      torch.equal(wrong.weight, before))


# %% [markdown]
# ### Never unpickle files you do not trust
#
# `torch.save` uses Python's `pickle`, and a pickle file can tell the loader to call
# *any* function. With `weights_only=False`, loading a file runs whatever its author
# put there. The harmless example below smuggles a call to `print` into a file:

# %%
class Payload:
    """When unpickled, calls print(...): it could just as well delete your files."""

    def __reduce__(self):
        return (print, ("this line was printed by torch.load!",))


torch.save({"weights": torch.zeros(2), "surprise": Payload()}, folder / "evil.pt")
torch.load(folder / "evil.pt", weights_only=False)  # runs the payload
caught = None
try:
    torch.load(folder / "evil.pt", weights_only=True)  # refuses it
except pickle.UnpicklingError as err:
    caught = err
assert caught is not None
print("weights_only=True:", type(caught).__name__)

# %% [markdown]
# With `weights_only=False` the payload ran during loading, before we could even look
# at the result. With `weights_only=True`, `torch.load` only rebuilds tensors and plain
# containers, and refuses everything else. (It has been the default since PyTorch 2.6,
# but spelling it out keeps older installations safe too.) A `state_dict` needs
# nothing more, which is one more reason to save parameters rather than whole model
# objects. We are done with files:

# %%
tmpdir.cleanup()
print("temporary folder removed:", not folder.exists())

# %% [markdown]
# ## Devices
#
# Parameters and data live on a **device**: the CPU's memory or a GPU's. `utils.try_gpu`
# returns the first GPU if there is one (CUDA, or Apple's MPS), else the CPU, so the
# same notebook runs everywhere; `utils.try_all_gpus` lists all of them. What they
# return depends on the machine, so the next cell's output is not checked, and the cell
# after it asserts what holds on every machine.

# %% tags=["nbval-ignore-output"]
print("device:", device)
print("all GPUs:", utils.try_all_gpus())
print("try_gpu(10):", utils.try_gpu(10))

# %%
assert device == utils.try_gpu() == utils.try_all_gpus()[0]
assert utils.try_gpu(torch.cuda.device_count() + 1).type == "cpu"  # no such GPU: CPU
print("try_gpu falls back to the CPU when the GPU asked for does not exist")

# %% [markdown]
# Tensors are created on the CPU unless told otherwise. Pass `device=` at creation, or
# copy an existing tensor with `.to(device)`:

# %%
x = torch.tensor([1, 2, 3])
print(x.device)
X = torch.ones(2, 3, device=device)
assert X.device.type == device.type

# %% [markdown]
# A model moves with `net.to(device)`, which moves all of its parameters and buffers
# (this is the `.to()` that the plain tensor attribute missed earlier).
# `utils.model_device` reads a model's device from its first parameter.

# %%
torch.manual_seed(0)
net = nn.Sequential(nn.Linear(3, 1)).to(device)
assert utils.model_device(net).type == device.type
Y = net(X)
assert Y.device.type == device.type
print("output shape:", tuple(Y.shape), " output on the model's device:",
      Y.device == utils.model_device(net))

# %% [markdown]
# An operation needs all of its inputs on one device; apart from single numbers
# (0-dimensional CPU tensors), PyTorch never copies data between devices behind your
# back. PyTorch's `meta` device, which stores shapes but no numbers, exists on
# every machine, so we can show the error here:

# %%
caught = None
try:
    torch.ones(2, device="meta") + torch.ones(2)  # meta + cpu
except RuntimeError as err:
    caught = err
assert caught is not None and "device" in str(caught)
print(type(caught).__name__, "raised: the operands are on different devices")

# %% [markdown]
# Why not copy automatically? Because a copy between devices is slow compared with
# the computation it feeds. A GPU reads its own memory much faster than data can
# travel to it over the bus from the CPU, and every transfer back to Python (`.item()`,
# `print`, `.numpy()`) also makes the CPU wait until the GPU has finished all the work
# queued before it. So: move the model once, move each batch once (the book's data
# loaders do this with `device=`), keep intermediate results on the device, and bring
# only small summaries back. When the data is already where you ask it to go, `.to` is
# free; it returns the very same tensor:

# %%
assert X.to(device) is X
print("X.to(its own device) returns X itself:", X.to(device) is X)


# %% [markdown]
# The cell below times a copy of a 1024x1024 matrix to the device against a 1024x1024
# matrix product on it. Its numbers depend on the machine, so nbval ignores them. On
# a CPU, the "copy" is a memory copy, and the product, with its billion
# multiply-adds, takes far longer. On a GPU, run it to see the balance change: the
# product is fast, and the trip over the bus can cost more than the arithmetic.

# %% tags=["nbval-ignore-output"]
# utils.best_time: the shortest of a few timed runs after one warm-up; on a GPU it waits
# for the work to finish before reading the clock
A_cpu = torch.randn(1024, 1024)
A_dev = A_cpu.to(device)
copy_s = utils.best_time(lambda: A_cpu.to(device, copy=True), device)
matmul_s = utils.best_time(lambda: A_dev @ A_dev, device)
print(f"copy to {device.type}: {copy_s * 1e3:.2f} ms   matmul on {device.type}: "
      f"{matmul_s * 1e3:.2f} ms")

# %%
assert copy_s > 0 and matmul_s > 0
if device.type == "cpu":
    assert matmul_s > copy_s  # on a CPU the arithmetic dominates
torch.testing.assert_close((A_dev @ A_dev).cpu(), A_cpu @ A_cpu, rtol=1e-3, atol=1e-2)
print("the product on the device matches the product on the CPU")

# %% [markdown]
# The last check compares with a tolerance, not exactly: different devices (and
# different CPUs) may add the same numbers in a different order, which changes the
# last bits of a float sum.
#
# ## Summary
#
# - An `nn.Module` computes `forward` from its input, owns parameters and contains
#   other modules. Assigning a module or `nn.Parameter` to an attribute registers it;
#   our `MySequential` registered children with `add_module` and matched
#   `nn.Sequential` exactly.
# - `forward` is plain Python: it can reuse layers, branch and loop. State that is not
#   trained belongs in a buffer; a plain tensor attribute is neither saved nor moved by
#   `.to()`, as the `float64` experiment showed.
# - `named_parameters()`, `state_dict()` and dotted names reach every parameter in a
#   nested model; gradients are `None` until `backward` and accumulate until cleared.
# - `net.apply` runs an initializer on every module; `nn.init` covers the common
#   schemes, and a custom one matched its predicted fraction of zeros. A layer used
#   twice ties its parameters, and their gradient is the sum over both uses.
# - Lazy layers infer input sizes at the first forward pass. Save `state_dict`s, load
#   with `weights_only=True`, and use `utils.save_checkpoint` for atomic checkpoints
#   with optimizer state. Keep model and data on one device and move data rarely.
#
# ## Exercises
#
# Worked answers, with code that runs, are in
# [the exercise notebook](../exercises/09_modules.ipynb).
#
# 1. What problems occur if `MySequential` stores its modules in a Python list?
# 2. Implement a module that takes two modules `net1` and `net2` and returns the
#    concatenation of their outputs (a *parallel* module).
# 3. Write a factory function that produces several instances of the same block, and
#    build a larger network from them.
# 4. Access the parameters of the various layers of `NestMLP`.
# 5. Build an MLP with a shared layer and train it for a few steps. Observe the
#    parameters and gradients of each layer. Why is sharing parameters a good idea?
# 6. Look up more built-in initializers in the documentation and try them.
# 7. What happens with lazy layers if you specify the input size of the first layer
#    only? What if the sizes do not match? What would you do if the input size varies?
# 8. Design a layer that computes the tensor reduction
#    $y_k = \sum_{i,j} W_{ijk} x_i x_j$.
# 9. Design a layer that returns the leading half of the Fourier coefficients of its
#    input.
# 10. What are the practical benefits of storing model parameters, even without
#     moving them to another machine?
# 11. How would you reuse the first two layers of a saved network in a network with a
#     different architecture?
# 12. How would you save the architecture as well as the parameters? What restrictions
#     does that put on the architecture?
# 13. Compare the speed of a large and a small matrix multiplication on a CPU and a GPU.
# 14. How should you read and write model parameters on a GPU?
# 15. Compute 1000 products of 100x100 matrices and log the Frobenius norm of each,
#     once by fetching every norm as it comes and once by keeping the log on the
#     device. Which is faster, and why?
# 16. Time two matrix products on two GPUs at the same time against the two in sequence
#     on one GPU.
