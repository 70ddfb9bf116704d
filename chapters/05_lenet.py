# %% [markdown]
# # LeNet: Training a Convolutional Network
#
# Everything from the last four chapters (convolutions, padding, channels and pooling)
# comes together here in one network that learns. LeNet-5 {cite}`lecun1998gradient` was
# among the first convolutional networks to be deployed, reading handwritten digits on
# bank cheques in the 1990s, and its layout, convolution blocks that extract features
# followed by layers that classify them, became the template for the image classifiers
# that came after it. It is also small enough to train on a CPU, so this is the chapter
# where we start training.
#
# **What you'll learn**
#
# - load Fashion-MNIST with `utils.load_fashion_mnist`;
# - build LeNet-5 from `nn.Sequential`, trace a batch through every layer and count its
#   parameters;
# - train it with `utils.train`, read the live plot and the returned history, and stop a
#   run cleanly;
# - measure what ReLU and max pooling buy over the original design: a learning rate
#   chosen on a validation split, several seeds, the test set scored once;
# - read a confusion matrix and the kernels the first layer learned.
#
# Prerequisites: [convolution](01_convolution.ipynb),
# [padding and stride](02_padding_stride.ipynb), [channels](03_channels.ipynb) and
# [pooling](04_pooling.ipynb).

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
# Draw figures in the notebook, including the ones utils returns.
# %matplotlib inline
import math

import matplotlib.pyplot as plt
import torch
from torch import nn

import utils

device = utils.try_gpu()
profile = utils.get_profile()
utils.seed_everything(0)
torch.set_printoptions(precision=4)

# %% [markdown]
# `utils.try_gpu()` returns the first CUDA GPU if there is one, else Apple's MPS, else the
# CPU. Every cell below runs unchanged on any of them: the data and the model are put on
# `device` and nothing else in the code mentions hardware. This copy of the notebook ran
# on:

# %% tags=["nbval-ignore-output"]
print(device)

# %% [markdown]
# ## The data: Fashion-MNIST
#
# Fashion-MNIST {cite}`xiao2017fashion` has the format of the classic MNIST digits,
# 28x28 grayscale images in 10 classes, 60,000 for training and 10,000 for testing, but
# shows clothing instead of digits. It was made as a harder drop-in replacement for
# MNIST, on which good models had become hard to tell apart, while staying small enough
# to train on a CPU. `utils.load_fashion_mnist` returns a training and a test iterable of
# `(X, y)` minibatches:

# %%
batch_size = 256
train_iter, test_iter = utils.load_fashion_mnist(batch_size, device=device)
print(f"train: {train_iter.num_examples:,} images in {len(train_iter)} batches")
print(f"test:  {test_iter.num_examples:,} images in {len(test_iter)} batches")

# %%
X, y = next(iter(train_iter))
print("X:", tuple(X.shape), X.dtype, " y:", tuple(y.shape), y.dtype)
assert X.device.type == device.type and 0 <= X.min() and X.max() <= 1

# %% [markdown]
# A batch is what the network wants: `float32` images of shape
# `(batch, channels, height, width)` with values in $[0, 1]$, and integer labels. The
# training iterable reshuffles on every pass, from a seeded generator, so two runs with
# the same seed see the same batches. (How the loader makes batches this cheaply, with
# the images kept on the device as bytes, is the subject of the appendix
# [How `utils` trains fast](../appendix/utils_fast.ipynb).)
#
# Here is the first test image of each class in our copy of the data, with its class
# name from `utils.get_fashion_mnist_labels`:

# %%
first_of_class = [int((test_iter.labels == c).nonzero()[0]) for c in range(10)]
images = test_iter.to_float(test_iter.images[first_of_class])  # (10, 1, 28, 28)
names = utils.get_fashion_mnist_labels(test_iter.labels[first_of_class])
assert images.shape == (10, 1, 28, 28) and names == list(utils.TEXT_LABELS)
utils.show_images(images, 2, 5, titles=names)

# %% [markdown]
# Shirt, t-shirt, pullover and coat share a silhouette, and at 28x28 pixels the
# differences are a collar, a zip or a sleeve length. Expect a classifier's mistakes to
# gather there.
#
# ## LeNet-5
#
# LeNet has two parts:
#
# - a **convolutional block**, twice: a 5x5 convolution, a sigmoid, and a 2x2 average
#   pooling with stride 2. The first convolution has 6 output channels, the second 16.
#   The convolutions detect local patterns; the pooling halves the resolution and makes
#   the features less sensitive to exactly where a pattern sits
#   ([pooling](04_pooling.ipynb)).
# - a **dense block**: the 16 feature maps are flattened into one vector and passed
#   through fully connected layers of 120, 84 and 10 units; the 10 outputs are the class
#   scores (logits).
#
# The paper fed 32x32 images to the first convolution; padding our 28x28 images by 2
# gives the same geometry. In `nn.Sequential`:

# %%
net = nn.Sequential(
    nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),   # (b, 6, 28, 28)
    nn.AvgPool2d(kernel_size=2, stride=2),                     # (b, 6, 14, 14)
    nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),             # (b, 16, 10, 10)
    nn.AvgPool2d(kernel_size=2, stride=2),                     # (b, 16, 5, 5)
    nn.Flatten(),                                              # (b, 400)
    nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
    nn.Linear(120, 84), nn.Sigmoid(),
    nn.Linear(84, 10))

# %% [markdown]
# This is the textbook simplification of LeNet-5. The 1998 network differed in details
# that later practice dropped: a scaled tanh instead of the sigmoid, trainable
# coefficients in the pooling ("subsampling") layers, a second convolution in which each
# output channel saw only some of the input channels, and distance-based (RBF) output
# units instead of a linear layer.
#
# The comments above claim the shape after each layer. `utils.layer_summary` passes one
# example through the layers and prints what really comes out:

# %%
print(utils.layer_summary(net, torch.zeros(1, 1, 28, 28)))

# %% [markdown]
# The shapes follow the rule of [padding and stride](02_padding_stride.ipynb),
# $\lfloor (n + 2p - k)/s \rfloor + 1$: each unpadded 5x5 convolution takes 4 pixels off
# the side, each pooling halves it, and the channels grow from 1 to 6 to 16. The same
# numbers from `utils.conv_output_size`:

# %%
side = 28
side = utils.conv_output_size(side, k=5, padding=2)  # conv 1
side = utils.conv_output_size(side, k=2, stride=2)   # pool 1
side = utils.conv_output_size(side, k=5)             # conv 2
side = utils.conv_output_size(side, k=2, stride=2)   # pool 2
print("side after the convolutional block:", side, "-> flattened:", 16 * side * side)
assert net[7].in_features == 16 * side * side

# %% [markdown]
# ```{warning}
# LeNet accepts only inputs of the size it was built for: its first dense layer is wired
# for exactly 400 inputs. A 32x32 image passes every convolution and pooling layer but
# leaves a 6x6 map per channel, and the dense layer refuses it (checked below). Resize
# the images, or end the convolutions with global average pooling, as the pooling
# chapter shows.
# ```

# %%
caught = None
try:
    net(torch.zeros(1, 1, 32, 32))
except RuntimeError as err:
    caught = err
assert caught is not None and "400" in str(caught)
print(type(caught).__name__ + ":", str(caught).splitlines()[0])


# %% [markdown]
# ### Where the parameters are, and where the work is
#
# A convolution with $c_i$ input and $c_o$ output channels and a $k \times k$ kernel has
# $c_o (c_i k^2 + 1)$ parameters, independent of the image size; a dense layer with
# $n_i$ inputs and $n_o$ outputs has $n_o (n_i + 1)$. The cost is a different story: a
# convolution applies its kernels at every output position, so its multiply-adds scale
# with the output area. Counting both per layer:

# %%
def params_and_macs(layer, out_shape):
    """Parameters of a layer and multiply-adds for one example (bias adds not counted)."""
    params = sum(p.numel() for p in layer.parameters())
    if isinstance(layer, nn.Conv2d):
        k = layer.kernel_size[0] * layer.kernel_size[1] * layer.in_channels
        macs = k * out_shape[1] * out_shape[2] * out_shape[3]
    else:
        macs = layer.in_features * layer.out_features
    return params, macs


rows, X = [], torch.zeros(1, 1, 28, 28)
for layer in net:
    X = layer(X)
    if isinstance(layer, (nn.Conv2d, nn.Linear)):
        rows.append((type(layer).__name__, *params_and_macs(layer, X.shape)))
total_params = sum(r[1] for r in rows)
total_macs = sum(r[2] for r in rows)
print(f"{'layer':<8}{'params':>8}{'share':>8}{'mult-adds':>11}{'share':>8}")
for name, params, macs in rows:
    print(f"{name:<8}{params:>8,}{params / total_params:>8.1%}"
          f"{macs:>11,}{macs / total_macs:>8.1%}")
print(f"{'total':<8}{total_params:>8,}{'':>8}{total_macs:>11,}")
assert total_params == sum(p.numel() for p in net.parameters())

# %% [markdown]
# The table carries the central trade-off of convolutional networks. The two convolutions
# hold a few percent of the parameters but do most of the arithmetic, because each
# kernel is reused at every position (weight sharing). The first dense layer is the
# opposite: most of the parameters, little of the work. Later architectures shrink or
# remove that dense layer (global average pooling, see [ResNet](07_resnet.ipynb)).
#
# Our network is the same as the one in `utils`, which later chapters use. The printed
# form of an `nn.Sequential` lists every layer with all its settings, so comparing it
# checks kernel sizes, padding and strides too:

# %%
reference = utils.lenet()
assert str(net) == str(reference)
assert [p.shape for p in net.parameters()] == [p.shape for p in reference.parameters()]
print("same structure as utils.lenet():", str(net) == str(reference))
print(f"parameters: {sum(p.numel() for p in reference.parameters()):,}")

# %% [markdown]
# ## Training
#
# The classic settings train LeNet with plain SGD (no momentum), a learning rate of 0.9
# (large, because sigmoid layers pass on small gradients), minibatches of 256 and
# Xavier initialisation, which draws each weight from
# $U\!\left(-\sqrt{6/(n_\text{in}+n_\text{out})},\ \sqrt{6/(n_\text{in}+n_\text{out})}\right)$
# so that activations and gradients keep a similar scale from layer to layer. The number
# of epochs, like every training budget in this book, comes from the profile: the quick
# profile keeps every notebook to minutes on two CPU cores; set `CNNBOOK_PROFILE=full` for the
# published-scale run.

# %%
budget = profile.budget("lenet")
print(f"profile {profile.name!r}:", budget.describe())

# %% [markdown]
# Before handing the loop to `utils.train`, here is one step of it by hand, so that
# nothing in it is hidden: forward pass, cross-entropy loss, gradients, and the SGD
# update $w \leftarrow w - \eta \nabla_w \ell$.

# %%
utils.seed_everything(0)
train_iter, test_iter = utils.load_fashion_mnist(
    budget.batch_size, device=device, train_size=budget.train_size,
    test_size=budget.test_size)
net = utils.lenet().to(device)
net.apply(utils.init_xavier)
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(net.parameters(), lr=budget.lr)

X, y = next(iter(train_iter))
loss = loss_fn(net(X), y)   # forward: mean cross-entropy over the batch
optimizer.zero_grad()
loss.backward()             # a gradient for every one of the parameters
optimizer.step()            # w <- w - lr * grad
first_loss = loss.item()
print("every parameter has a gradient:",
      all(p.grad is not None for p in net.parameters()))

# %% [markdown]
# An untrained classifier that spreads its probability evenly over 10 classes has a
# cross-entropy of $\ln 10 \approx 2.30$, so that is where the loss should start. A first
# loss far from it (say 50) points at a bug, such as labels and logits that do not
# match, before any training time is spent:

# %%
print(f"first-batch loss within 0.5 of ln(10) = {math.log(10):.2f}:",
      abs(first_loss - math.log(10)) < 0.5)


# %% [markdown]
# ### The training loop, written out
#
# One epoch repeats that step for every batch. Two details make it fast. The running
# loss and the count of correct predictions are summed *on the device* and read back
# with `.item()` once per epoch: on a GPU every `.item()` makes Python wait until the
# GPU has caught up, so reading a number per batch would stall it. And the bookkeeping
# runs under `torch.no_grad()`, so it is not recorded for backpropagation.
# Evaluation puts the network in evaluation mode (which matters once it has batch norm
# or dropout, see [batch normalization](06_batch_norm.ipynb)) and runs under
# `torch.inference_mode()`, which skips the autograd bookkeeping altogether; afterwards
# every layer gets its own mode back, so a layer frozen with `.eval()` stays frozen.

# %%
def train_epoch(net, train_iter, optimizer, device):
    """One pass over the training data; returns the mean loss and accuracy."""
    net.train()                                       # training mode for every layer
    loss_sum = torch.zeros((), device=device)         # sums live on the device ...
    correct = torch.zeros((), dtype=torch.int64, device=device)
    seen = 0
    for X, y in train_iter:
        X, y = X.to(device), y.to(device)
        y_hat = net(X)
        loss = nn.functional.cross_entropy(y_hat, y)  # mean over the batch
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():                         # bookkeeping, not part of the graph
            loss_sum += loss.detach() * y.numel()
            correct += (y_hat.argmax(dim=1) == y).sum()
        seen += y.numel()
    return loss_sum.item() / seen, correct.item() / seen   # ... and are read back once


def evaluate(net, data_iter, device):
    """Accuracy of net on data_iter in evaluation mode; every layer's mode is restored."""
    modes = [(m, m.training) for m in net.modules()]
    net.eval()
    correct = torch.zeros((), dtype=torch.int64, device=device)
    total = 0
    with torch.inference_mode():
        for X, y in data_iter:
            X, y = X.to(device), y.to(device)
            correct += (net(X).argmax(dim=1) == y).sum()
            total += y.numel()
    for m, mode in modes:
        m.training = mode
    return correct.item() / total


def train_by_hand(net, train_iter, test_iter, num_epochs, lr, device):
    """SGD for num_epochs; one record per epoch, as utils.train returns them."""
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    history = []
    for epoch in range(1, num_epochs + 1):
        train_loss, train_acc = train_epoch(net, train_iter, optimizer, device)
        history.append({"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                        "test_acc": evaluate(net, test_iter, device)})
    return history


# %% [markdown]
# `utils.train` is this loop plus what a book needs around it. To check that nothing
# else is hidden in it, train the same network from the same seed on the same batches
# both ways, on a small budget. `utils.train` would normally also pick a faster memory
# layout and, on a GPU, mixed precision (`utils.Speed`; the appendix "How utils trains
# fast" measures what they buy); we switch both off here so that the
# two runs do the same arithmetic:

# %%
check = profile.budget("loop_check")
print(check.describe())


def check_data():
    """Fresh loaders, so that both runs see the same batches in the same order."""
    return utils.load_fashion_mnist(check.batch_size, device=device,
                                    train_size=check.train_size, test_size=check.test_size)


runs = {}
for name in ("by hand", "utils.train"):
    utils.seed_everything(0)
    fresh = utils.lenet().to(device)
    fresh.apply(utils.init_xavier)
    if name == "by hand":
        runs[name] = train_by_hand(fresh, *check_data(), check.num_epochs, check.lr, device)
    else:
        runs[name] = utils.train(fresh, *check_data(), check.num_epochs, check.lr,
                                 device=device, plot=False, verbose=False,
                                 speed=utils.Speed(amp=False, channels_last=False))

# %% tags=["nbval-ignore-output"]
print(f"{'':<12}{'epoch':>6}{'train loss':>12}{'train acc':>11}{'test acc':>10}")
for name, history_ in runs.items():
    for r in history_:
        print(f"{name:<12}{r['epoch']:>6}{r['train_loss']:>12.5f}{r['train_acc']:>11.4f}"
              f"{r['test_acc']:>10.4f}")

# %%
for ours, theirs in zip(runs["by hand"], runs["utils.train"], strict=True):
    assert math.isclose(ours["train_loss"], theirs["train_loss"], rel_tol=1e-4), (ours, theirs)
    for key in ("train_acc", "test_acc"):   # a GPU may flip an example or two
        assert abs(ours[key] - theirs[key]) <= 2 / check.test_size, (key, ours, theirs)
print("same history from the loop by hand and from utils.train:", True)

# %% [markdown]
# The two runs agree to the precision of floating-point arithmetic (the cell above checks
# it). On so small a budget the network has not yet left the plateau near the chance loss
# $\ln 10$, which the full run below shows and explains; for the comparison that does not
# matter. Besides the loop, `utils.train(net, train_iter, test_iter,
# num_epochs, lr)` keeps a history of every epoch, stops with a clear message if the
# loss becomes NaN, ends cleanly when you press stop (keeping the weights), checks that
# the batches sit on the model's device and have its dtype, redraws a live plot of loss
# and accuracy in a notebook (the saved notebook keeps the final frame; each point is
# the mean over the batches since the previous one), and prints one line per epoch.
# Now the real budget:

# %% tags=["nbval-ignore-output"]
utils.seed_everything(0)
net = utils.lenet()
net.apply(utils.init_xavier)
history = utils.train(net, train_iter, test_iter, budget.num_epochs, budget.lr,
                      device=device)

# %% [markdown]
# The cell above is excluded from the notebook tests (its timings differ on every
# machine); this one checks what must hold: every epoch finished, the loss fell, and the
# test accuracy is far above the 0.1 of guessing.

# %% tags=["hide-input"]
assert len(history) == budget.num_epochs and not history.interrupted
assert history.last["train_loss"] < history[0]["train_loss"]
assert history.last["test_acc"] >= 0.65, history.last

# %% [markdown]
# The history is a list with one dictionary per epoch; `history.table()` lays it out:

# %% tags=["nbval-ignore-output"]
print(history.table())
print(f"last epoch: train acc - test acc = "
      f"{history.last['train_acc'] - history.last['test_acc']:+.3f}")

# %% [markdown]
# Read the first row against the plot: the sigmoid network spends a good part of its
# first epoch near the loss of guessing before it finds its footing, a symptom of the
# small gradients that sigmoids pass backwards (we measure them below). After that,
# train and test accuracy rise together. The training accuracy is averaged over an epoch
# during which the weights keep improving, so it lags a little; the gap printed under
# the table is small, which says LeNet is not overfitting at this budget and more epochs
# would still help (the full profile trains longer).

# %% tags=["remove-cell", "nbval-ignore-output"]
utils.report_result("LeNet-5 (sigmoid, avg pool)", history, profile.name);


# %% [markdown]
# ### Stopping a run
#
# Pressing the notebook's stop button (or Ctrl-C in a terminal) during `utils.train`
# raises `KeyboardInterrupt` inside the loop. `train` catches it and ends cleanly: the
# model keeps the weights it has reached, and the returned history holds the finished
# epochs, with `history.interrupted` set to `True`. Nothing is lost; call `train` again
# to continue (plain SGD keeps no state; for Adam, pass the optimizer object through
# `optimizer=` so that its running averages carry over).
#
# The appendix [How `utils` trains fast](../appendix/utils_fast.ipynb) presses that
# button from a cell and checks each of these promises.
#
# ## A modernised LeNet: ReLU and max pooling
#
# Two changes that came after LeNet make it train much faster:
#
# - **ReLU instead of sigmoid.** The sigmoid's slope is at most 0.25 and close to 0 for
#   large inputs, and the backward pass multiplies one such slope per layer. ReLU has
#   slope 1 wherever it is active.
# - **Max pooling instead of average pooling.** The average of a 2x2 window passes a
#   quarter of the gradient to each of the four inputs; the maximum passes all of it to
#   the winner, and keeps the strongest response of a feature rather than blurring it.
#
# `utils.lenet_modern()` is LeNet with exactly these two swaps, so the layer sizes and
# the parameter count are unchanged:

# %%
modern = utils.lenet_modern()
print(modern)
assert [p.shape for p in modern.parameters()] == [p.shape for p in utils.lenet().parameters()]


# %% [markdown]
# The effect on the gradients is visible before any training. Take one batch and compare
# the size of the gradient that reaches the first convolution in the two freshly
# initialised networks:

# %% tags=["nbval-ignore-output"]
def first_layer_grad_norm(net, X, y):
    """Norm of the loss gradient with respect to the first convolution's weights."""
    net.zero_grad()
    nn.functional.cross_entropy(net(X), y).backward()
    return net[0].weight.grad.norm().item()


X, y = next(iter(train_iter))
grad_norms = {}
for name, make in [("sigmoid, avg pool", utils.lenet), ("ReLU, max pool", utils.lenet_modern)]:
    utils.seed_everything(0)
    fresh = make().to(device)
    fresh.apply(utils.init_xavier)
    grad_norms[name] = first_layer_grad_norm(fresh, X, y)
    print(f"{name:<18} first-layer gradient norm {grad_norms[name]:.2e}")
ratio = grad_norms["ReLU, max pool"] / grad_norms["sigmoid, avg pool"]
print(f"ratio: {ratio:.0f}x")

# %% tags=["hide-input"]
assert ratio > 10, grad_norms

# %% [markdown]
# With gradients this different, one learning rate cannot be assumed to suit both
# networks. That makes a fair comparison a little more work than training each network
# once: a single run at one learning rate would compare the learning rates as much as
# the networks, and a single seed would compare luck.
#
# ## Classic against modern, measured
#
# The question is *what do ReLU and max pooling buy under a fixed training budget?* A
# fair answer needs four things:
#
# - **one difference.** Both networks have the same layers and parameter count; only
#   the activation and the pooling change.
# - **a learning rate that suits each**, chosen on a **validation set**: 5,000 of the
#   training images that are never trained on (`load_fashion_mnist(..., val_size=N)`).
#   Choosing on the test set would make the test score an optimistic estimate, since
#   we would have picked the setting that happened to suit those particular images.
# - **several seeds, paired.** A seed fixes the initial weights and the order of the
#   batches, and both networks see the same seeds; `utils.train_seeds` trains one
#   configuration from every seed of the profile and returns every run. Seed by seed
#   the two networks differ only in their architecture, so the gain is measured per
#   seed: the mean of the per-seed differences, with its standard error (SE).
# - **the test set, scored once**, on the chosen configurations, for the report.
#
# A third network joins as a baseline for a claim made in the
# [convolution chapter](01_convolution.ipynb): that a convolutional layer needs far
# fewer parameters than a dense one to learn from images. The MLP below flattens the
# image and has two hidden layers (256 and 128 units, ReLU), with several times
# LeNet's parameters. All three train on the same budget; the line it prints ends with
# the number of updates (optimizer steps) each run gets:

# %%
compare_budget = profile.budget("lenet_compare")
print(f"profile {profile.name!r}:", compare_budget.describe())
print("seeds:", profile.seeds)
train_iter, val_iter, test_iter = utils.load_fashion_mnist(
    compare_budget.batch_size, device=device, train_size=compare_budget.train_size,
    val_size=compare_budget.val_size, test_size=compare_budget.test_size)


def xavier(make):
    """A function that builds `make()` with Xavier initialisation, as above."""
    def build():
        net = make()
        net.apply(utils.init_xavier)
        return net
    return build


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 256), nn.ReLU(),
                         nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


models = {"LeNet-5 (sigmoid, avg pool)": xavier(utils.lenet),
          "LeNet (ReLU, max pool)": xavier(utils.lenet_modern),
          "MLP (256, 128)": xavier(mlp)}
learning_rates = {"LeNet-5 (sigmoid, avg pool)": (0.3, 0.9),
                  "LeNet (ReLU, max pool)": (0.1, 0.3), "MLP (256, 128)": (0.1, 0.3)}
for name, make in models.items():
    print(f"{name:<28} {utils.num_params(make()):>8,} parameters, "
          f"learning rates to start from: {learning_rates[name]}")

# %% [markdown]
# Each network starts from two learning rates a factor of 3 apart (the sigmoid network
# from larger ones: its gradients are smaller). `utils.sweep` trains every rate from
# every seed, and while the best mean validation accuracy sits at the lowest or the
# highest rate tried, it tries one more rate a factor of 3 beyond it: a rate chosen at
# the end of its grid says only that the best rate may lie outside it. Each run prints
# its validation accuracy:

# %% tags=["nbval-ignore-output"]
sweeps = {name: utils.sweep(make, train_iter, val_iter, compare_budget.num_epochs,
                            learning_rates[name], name=name)
          for name, make in models.items()}
tried = [runs for s in sweeps.values() for runs in s.runs.values()]

# %% [markdown]
# The same numbers as a table (one column per seed, then the mean and the standard
# deviation (sd) over seeds) and as a figure (each run a dot, each mean a square with a
# bar of one sd):

# %% tags=["nbval-ignore-output", "hide-input"]
print(utils.runs_table(tried, "val"))
fig = utils.plot_runs(tried, "val", title="validation accuracy per learning rate (dots: seeds)")
fig.axes[0].set_xticks(range(len(tried)),
                       [f"{n.split(' (')[0]}\n{lr:g}" for n, s in sweeps.items() for lr in s.runs],
                       fontsize=8)
fig.set_size_inches(9, 3.5)
plt.show()

# %% [markdown]
# For each network we keep the learning rate with the best mean validation accuracy
# (each line below says which, and flags a choice still at the edge of its grid or tied
# with another rate), and only now score the test set, once, with the models those runs
# trained. `utils.gain` pairs the runs by seed and words the result by the book's one
# decision rule (the appendix on [how `utils` trains](../appendix/utils_fast.ipynb)
# states it): a difference counts as resolved when its 95% confidence interval, the mean
# ± t·SE, excludes zero; with three seeds that takes a mean of more than 4.3 SE.

# %% tags=["nbval-ignore-output"]
chosen = {}
for name, s in sweeps.items():
    print(s.describe())
    chosen[name] = s.best
    chosen[name].score("test", test_iter)
    print(f"    test {chosen[name].summary('test')}")
classic = chosen["LeNet-5 (sigmoid, avg pool)"]
modern = chosen["LeNet (ReLU, max pool)"]
dense = chosen["MLP (256, 128)"]
modern_vs_classic = utils.gain(classic, modern, names=("the classic LeNet", "the modern LeNet"))
lenet_vs_mlp = utils.gain(dense, modern, names=("the MLP", "the modern LeNet"))
param_ratio = utils.num_params(mlp()) / utils.num_params(utils.lenet())
print("ReLU + max pooling:", modern_vs_classic.verdict())
print(f"modern LeNet - MLP ({param_ratio:.1f}x the parameters):", lenet_vs_mlp.verdict())

# %% tags=["hide-input"]
assert not any(s.at_edge for s in sweeps.values()), [s.describe() for s in sweeps.values()]
assert modern_vs_classic.better and modern_vs_classic.ahead == modern_vs_classic.n
assert modern_vs_classic.mean > 0.1, modern_vs_classic
assert param_ratio > 3                               # a fact about the architectures

# %% tags=["nbval-ignore-output"]
utils.glue("compare_updates", compare_budget.updates)
utils.glue("d2l_updates", utils.Budget(num_epochs=10, batch_size=256).updates)
utils.glue("compare_train", compare_budget.examples)
utils.glue("modern_gain", modern_vs_classic.mean)
utils.glue("modern_se", modern_vs_classic.se)
utils.glue("modern_verdict", modern_vs_classic.verdict())
utils.glue("classic_test", classic.mean("test"))
utils.glue("modern_test", modern.mean("test"))
utils.glue("mlp_test", dense.mean("test"))
utils.glue("mlp_verdict", lenet_vs_mlp.verdict())
utils.glue("param_ratio", param_ratio)
for key, name in (("classic_lr", "LeNet-5 (sigmoid, avg pool)"),
                  ("modern_lr", "LeNet (ReLU, max pool)"), ("mlp_lr", "MLP (256, 128)")):
    utils.glue(key, chosen[name].config["lr"])

# %% [markdown]
# The rates chosen on validation were <span data-glue="classic_lr">0.3</span> for the classic LeNet,
# <span data-glue="modern_lr">0.1</span> for the modern one and <span data-glue="mlp_lr">0.1</span> for the MLP, none at
# the edge of its grid; the lines above also name the neighbouring rates that the
# decision rule cannot separate from each choice, so the choice among them is a close
# call, and the test scores below are those of the rate validation happened to prefer. In <span data-glue="compare_updates:,">752</span> updates on
# <span data-glue="compare_train:,">12,000</span> images the classic LeNet reaches
# <span data-glue="classic_test:.3f">0.515</span> test accuracy on average, the modern one
# <span data-glue="modern_test:.3f">0.795</span>: <span data-glue="modern_verdict">the modern LeNet ahead on 3 of 3 paired seeds, +0.280 ± 0.011 (SE)</span>, from the activation and the
# pooling alone. This is a claim about the *start* of training: the sigmoid network
# spends most of so short a budget on the plateau near the chance loss; given far more
# updates it climbs off it (the single long run above shows it doing so), and this
# experiment says nothing about how close it would then come. d2l trains the classic
# LeNet once, on all 60,000 images for 10 epochs at batch 256 and lr 0.9:
# <span data-glue="d2l_updates:,">2,350</span> updates, the setting of the `full` profile's long run above.
#
# Against the MLP, with <span data-glue="param_ratio:.1f">3.8</span> times LeNet's parameters:
# <span data-glue="mlp_verdict">no difference this budget resolves (the modern LeNet ahead on 0 of 3 paired seeds, -0.018 ± 0.007 (SE))</span>. On this budget, with 28x28 images of centred clothing, LeNet
# is not ahead of a dense network (the next cell checks it). What a convolution assumes,
# that the same pattern means the same thing wherever it appears, buys little on images
# whose objects always sit in the same place. It pays when they do not, which the next
# section measures.

# %% tags=["hide-input"]
assert not lenet_vs_mlp.better, lenet_vs_mlp

# %% [markdown]
# ## Where convolution's assumptions pay: moved images
#
# Every Fashion-MNIST image is centred. Move the test images a few pixels (the border
# they uncover is black, like the background) and ask each trained network again. A
# convolution computes the same features at the new place (it is *equivariant* to
# shifts), and max pooling forgets small displacements; the MLP's first layer has a
# separate weight for every pixel, so to it a moved image is a new input. No network is
# retrained: these are the chosen runs above, scored on moved copies of the test set.

# %%
def shift_images(images, dx, dy):
    """uint8 images (N, 28, 28) moved dx pixels right and dy down; the uncovered band is 0."""
    moved = torch.zeros_like(images)
    moved[:, dy:, dx:] = images[:, :images.shape[1] - dy, :images.shape[2] - dx]
    return moved


def shifted_loader(data_iter, d):
    """The images of data_iter moved d pixels right and d down, in the same order."""
    return utils.DeviceLoader(shift_images(data_iter.images, d, d), data_iter.labels,
                              data_iter.batch_size)


X_moved, _ = next(iter(shifted_loader(test_iter, 3)))
X_orig, _ = next(iter(test_iter))
assert torch.equal(X_moved[:, :, 3:, 3:], X_orig[:, :, :-3, :-3])
assert X_moved[:, :, :3, :].sum() == 0 and X_moved[:, :, :, :3].sum() == 0

# %% tags=["hide-input"]
utils.show_images(torch.cat([X_orig[:6, 0], X_moved[:6, 0]]).cpu(), 2, 6,
                  titles=["original"] * 6 + ["moved 3, 3"] * 6, scale=1.2)

# %% [markdown]
# Each network's accuracy on the test set moved by 0 to 4 pixels, and the paired
# difference between LeNet and the MLP at every move:

# %% tags=["nbval-ignore-output"]
moves = (0, 1, 2, 3, 4)
pair = ("LeNet (ReLU, max pool)", "MLP (256, 128)")
for d in moves:
    loader = test_iter if d == 0 else shifted_loader(test_iter, d)
    for name in pair:
        chosen[name].score(f"moved {d}", loader)
moved_gain = {d: utils.gain(dense, modern, f"moved {d}", names=("the MLP", "the modern LeNet"))
              for d in moves}
print(f"{'test images moved':<24}" + "".join(f"{d:>8}" for d in moves))
for name in pair:
    print(f"{name:<24}" + "".join(f"{chosen[name].mean(f'moved {d}'):>8.3f}" for d in moves))
for d in moves:
    print(f"moved {d}: {moved_gain[d].verdict()}")

# %% tags=["hide-input"]
assert [chosen[n].scores("moved 0") for n in pair] == [chosen[n].scores("test") for n in pair]
for d in (1, 2):         # a pixel or two: LeNet keeps more, on every seed
    assert moved_gain[d].ahead == moved_gain[d].n and moved_gain[d].mean > 0.03, moved_gain[d]
for name in pair:        # four pixels: both far below their accuracy on centred images
    assert chosen[name].mean("moved 4") < chosen[name].mean("moved 0") - 0.2, name

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(5, 3))
for k, name in enumerate(pair):
    ax.plot(moves, [chosen[name].mean(f"moved {d}") for d in moves], "-o", color=f"C{k}",
            label=name)
    for d in moves:
        values = chosen[name].scores(f"moved {d}")
        ax.plot([d] * len(values), values, ".", color=f"C{k}", alpha=0.4)
ax.set_xlabel("test images moved right and down (pixels)")
ax.set_ylabel("test accuracy")
ax.set_xticks(moves)
ax.set_ylim(0, 1)
ax.set_title("The same trained networks on moved test images (dots: seeds)", fontsize=10)
ax.legend(fontsize=8)
plt.show()

# %% tags=["nbval-ignore-output"]
utils.glue("moved1_verdict", moved_gain[1].verdict())
utils.glue("moved2_verdict", moved_gain[2].verdict())
utils.glue("lenet_moved4", modern.mean("moved 4"))
utils.glue("mlp_moved4", dense.mean("moved 4"))

# %% [markdown]
# Moved by one pixel, <span data-glue="moved1_verdict">the modern LeNet ahead on 3 of 3 paired seeds, +0.085 ± 0.012 (SE)</span>; by two, <span data-glue="moved2_verdict">the modern LeNet ahead on 3 of 3 paired seeds, +0.152 ± 0.020 (SE)</span>.
# Neither network saw a moved image in training, and what LeNet's convolutions learned
# at one place they apply at every place. But LeNet is far from immune: by four pixels
# both networks are lost (LeNet <span data-glue="lenet_moved4:.3f">0.192</span>, the MLP
# <span data-glue="mlp_moved4:.3f">0.175</span>), because its dense layers still read the features at fixed
# places of the last 5x5 map, and pooling twice by 2 forgives a displacement of about
# a pixel or two, not four. Convolution makes the *features* move with the image; only
# pooling (or a head that pools over all positions, as [chapter 8](08_classic_networks.ipynb)'s
# NiN does) makes the *decision* ignore where they are. That is why the case for
# convolutions grows with the image: in a photograph the object can be anywhere, and a
# dense layer's weights grow with the number of pixels while a
# convolution's do not. [Chapter 10](10_augmentation.ipynb) teaches a network the same
# robustness another way, by moving the *training* images.

# %% tags=["remove-cell", "nbval-ignore-output"]
utils.compare("05_lenet", classic, modern, compare_budget)
utils.compare("05_lenet", dense, modern, compare_budget);

# %% [markdown]
# ## What the modern LeNet gets wrong
#
# The data section predicted that mistakes would gather on the
# four upper-body classes, shirt, t-shirt, pullover and coat. The **confusion matrix**
# counts, for every true class (row), how often each class was predicted (column); we
# add up the matrices of the chosen modern network's seeds on the test set:

# %%
def confusion_matrix(net, data_iter, num_classes=10):
    """Counts[true, predicted] over data_iter, in evaluation mode."""
    counts = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    with utils.evaluation_mode(net), torch.inference_mode():
        for X, y in data_iter:
            y_hat = net(X.to(device)).argmax(dim=1).cpu()
            counts += torch.bincount(y.cpu() * num_classes + y_hat,
                                     minlength=num_classes ** 2).view(num_classes, -1)
    return counts


confusion = sum(confusion_matrix(run.net, test_iter) for run in modern)
assert confusion.sum() == len(modern) * test_iter.num_examples

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(6, 5))
shown = confusion / confusion.sum(dim=1, keepdim=True)
ax.imshow(shown, cmap="Blues")
ax.set_xticks(range(10), utils.TEXT_LABELS, rotation=60, fontsize=9)
ax.set_yticks(range(10), utils.TEXT_LABELS, fontsize=9)
ax.set_xlabel("predicted class")
ax.set_ylabel("true class")
ax.set_title("Modern LeNet on the test set: share of each true class", fontsize=10)
for i in range(10):
    for j in range(10):
        if shown[i, j] >= 0.03:
            ax.text(j, i, f"{shown[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if shown[i, j] > 0.5 else "black")
plt.show()

# %% [markdown]
# The largest counts off the diagonal, and the class recognised least often:

# %% tags=["nbval-ignore-output"]
off = confusion.clone().fill_diagonal_(0)
top = off.flatten().topk(4).indices
pairs = [(int(k) // 10, int(k) % 10) for k in top]
for t, p in pairs:
    print(f"true {utils.TEXT_LABELS[t]:<12} predicted {utils.TEXT_LABELS[p]:<12} "
          f"{int(off[t, p]):>5} times")
recall = confusion.diag() / confusion.sum(dim=1)
worst = int(recall.argmin())
print(f"lowest recall: {utils.TEXT_LABELS[worst]} ({recall[worst]:.2f})")

# %%
upper_body = {utils.TEXT_LABELS.index(c) for c in ("t-shirt", "pullover", "coat", "shirt")}
assert pairs[0][0] in upper_body and pairs[0][1] in upper_body, pairs   # the top confusion
assert worst in upper_body, worst

# %% [markdown]
# The prediction holds: the most frequent confusion is between two of the four
# upper-body classes, and one of them is the class the network recognises least often
# (both asserted above). Some of the misclassified test images, with the true class and
# the prediction of the seed-0 network above each:

# %% tags=["nbval-ignore-output"]
net_0 = modern.runs[0].net
X_test, y_test = test_iter.to_float(test_iter.images), test_iter.labels
with utils.evaluation_mode(net_0), torch.inference_mode():
    predicted = torch.cat([net_0(X).argmax(dim=1) for X, _ in test_iter])
wrong = (predicted != y_test).nonzero().flatten()[:10]
titles = [f"{t}\n-> {p}" for t, p in zip(utils.get_fashion_mnist_labels(y_test[wrong]),
                                          utils.get_fashion_mnist_labels(predicted[wrong]),
                                          strict=True)]
assert len(wrong) == 10
utils.show_images(X_test[wrong], 2, 5, titles=titles)

# %% [markdown]
# ## What the first layer learned
#
# The six kernels of the first convolution are 5x5 images themselves. After training,
# drawn with the same colour scale centred on zero (red positive, blue negative):

# %% tags=["hide-input"]
kernels = net_0[0].weight.detach().cpu()[:, 0]          # (6, 5, 5)
limit = kernels.abs().max()
fig, axes = plt.subplots(1, 6, figsize=(9, 1.8))
for k, ax in enumerate(axes):
    ax.imshow(kernels[k], cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(f"kernel {k}", fontsize=9)
    ax.axis("off")
plt.show()
assert kernels.shape == (6, 5, 5)

# %% [markdown]
# Each kernel weighs a 5x5 neighbourhood; where its positive and negative weights lie
# side by side it responds to a change of brightness in that direction, like the edge
# kernels of the [convolution chapter](01_convolution.ipynb). What they respond to is
# clearer in their feature maps (the output of the first convolution and its ReLU) for a
# pullover and a coat, the pair the network confuses:

# %% tags=["hide-input"]
pair = [int((y_test == utils.TEXT_LABELS.index(c)).nonzero()[0]) for c in ("pullover", "coat")]
with utils.evaluation_mode(net_0), torch.inference_mode():
    maps = net_0[1](net_0[0](X_test[pair].to(device))).cpu()      # (2, 6, 28, 28)
fig, axes = plt.subplots(2, 7, figsize=(9, 2.8))
for row, (i, name) in enumerate(zip(pair, ("pullover", "coat"), strict=True)):
    axes[row, 0].imshow(X_test[i, 0].cpu(), cmap="gray")
    axes[row, 0].set_title(name, fontsize=9)
    for k in range(6):
        axes[row, k + 1].imshow(maps[row, k], cmap="gray")
        axes[row, k + 1].set_title(f"map {k}", fontsize=9)
for ax in axes.flat:
    ax.axis("off")
plt.show()
assert maps.shape == (2, 6, 28, 28) and (maps >= 0).all()

# %% [markdown]
# Some maps light up along the outline of the garment, some over its bright flat areas,
# some at the edges of a particular orientation; the two inputs get the same detectors,
# applied everywhere. The second convolution combines these maps into features of larger
# parts, and the dense layers read the class off those;
# [exercise 5](../exercises/05_lenet.ipynb) looks at the second layer too.

# %% [markdown]
# ## Summary
#
# - `utils.load_fashion_mnist` gives seeded, reshuffled float batches on the training
#   device; `utils.show_images` draws them with class names.
# - LeNet-5 is two blocks of convolution, sigmoid and average pooling followed by three
#   dense layers; `utils.layer_summary` traced a batch from `(1, 1, 28, 28)` down to 10
#   logits.
# - Its convolutions hold few of the parameters but do most of the multiply-adds; the
#   first dense layer is the reverse, and it fixes the input size.
# - `utils.train` returns a per-epoch history that later cells assert on and tabulate; a
#   stop press ends training cleanly with `history.interrupted == True`.
# - A fair comparison trains each network at a learning rate chosen on a validation
#   split, from several seeds, and scores the test set once; `utils.train_seeds`,
#   `utils.sweep` (which widens a grid whose best rate sits at its edge), `Runs.score`
#   and `utils.gain` (paired by seed, worded by one decision rule) do that. Swapping in
#   ReLU and max pooling, with the parameter count unchanged, trained faster within the
#   same number of updates.
# - On centred images a dense network with several times LeNet's parameters does about
#   as well; on test images moved a pixel or two, LeNet keeps more of its accuracy,
#   and by four pixels both are lost: convolution moves the features with the image,
#   and only pooling makes the decision ignore where they are.
# - The mistakes gather on the upper-body classes, as the confusion matrix shows.
#
# ## Exercises
#
# Worked answers, each with a small experiment, are in
# [the exercise notebook](../exercises/05_lenet.ipynb).
#
# 1. Replace average pooling with max pooling in the classic LeNet. What happens?
# 2. Replace the sigmoid with ReLU, then make both changes. Which matters more?
# 3. Try to build a more accurate network based on LeNet. Adjust
#    1. the convolution window size;
#    2. the number of output channels;
#    3. the number of convolution layers;
#    4. the number of fully connected layers;
#    5. the learning rate and the number of epochs.
# 4. Try the improved network on the original MNIST digits.
# 5. Show the activations of LeNet's first and second layers for different inputs, such
#    as a pullover and a coat. What do the feature maps respond to?
# 6. What is the best test accuracy you can reach under the quick profile's budget?
