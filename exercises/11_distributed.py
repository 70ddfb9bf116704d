# %% [markdown]
# # Training on Several Processes with `torch.distributed`: Exercises
#
# Answers to the exercises of
# [Training on several processes](../chapters/11_distributed.ipynb). None of them needs
# several processes: each question is about what data parallelism computes, and one
# process can compute the same thing (gradient accumulation, per-process batch
# statistics) or count it (bytes per step). The experiments train small networks on a
# few thousand Fashion-MNIST images, with the budgets printed above them.

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

import utils

profile = utils.get_profile()
utils.seed_everything(0)
torch.set_printoptions(precision=4)


# %% [markdown]
# Exercises 2 and 3 train the modern LeNet of this chapter (`utils.lenet_modern`: ReLU
# and max pooling) with batch normalization after every convolution and hidden fully
# connected layer. The batch norms sit where the chapter on
# [batch normalization](../chapters/06_batch_norm.ipynb) puts them, but that chapter's
# network is the classic LeNet, with sigmoids and average pooling; this one is defined
# below. For exercise 3 its batch norm layers can also compute their statistics the way
# $P$ processes without `SyncBatchNorm` do (explained there).

# %%
class PerProcessBatchNorm(nn.Module):
    """Batch norm as P processes without SyncBatchNorm compute it: each group of
    batch/P examples is normalized with its own statistics; the running statistics
    follow group 0 (rank 0's replica, the one that is saved)."""

    def __init__(self, bn, processes):
        super().__init__()
        self.bn, self.processes = bn, processes

    def forward(self, X):
        if not self.training:
            return self.bn(X)
        bn, parts = self.bn, X.chunk(self.processes)
        out = [F.batch_norm(part, bn.running_mean if i == 0 else None,
                            bn.running_var if i == 0 else None, bn.weight, bn.bias,
                            True, bn.momentum, bn.eps) for i, part in enumerate(parts)]
        return torch.cat(out)


def bn_lenet(processes=None):
    """LeNet with batch norm; with `processes`, per-process statistics."""
    def norm(bn):
        return bn if processes is None else PerProcessBatchNorm(bn, processes)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), norm(nn.BatchNorm2d(6)), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), norm(nn.BatchNorm2d(16)), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), norm(nn.BatchNorm1d(120)), nn.ReLU(),
        nn.Linear(120, 84), norm(nn.BatchNorm1d(84)), nn.ReLU(), nn.Linear(84, 10))


# %% [markdown]
# ## 1. Gradient accumulation
#
# > With one process, sum the gradients of $k$ micro-batches of $b/k$ examples before
# > each update. Show that it gives the same weights as batch $b$.
#
# :::{admonition} Answer
# :class: dropdown
# `backward` *adds* to `.grad`, so calling it on $k$ micro-batches before `step` sums
# their gradients. Each micro-batch loss is a mean over $b/k$ examples; dividing it by
# $k$ makes the sum the mean over all $b$, the same gradient as one batch of $b$ (and
# the same as $k$ processes with DDP). We train two copies of LeNet from the same
# weights for 10 steps, one with batch 64 and one with 4 micro-batches of 16:
# :::

# %% tags=["hide-input"]
def accumulate_step(net, opt, X, y, k):
    """One update from k micro-batches of X, y: mean gradient over all of them."""
    opt.zero_grad()
    for X_part, y_part in zip(X.chunk(k), y.chunk(k), strict=True):
        (F.cross_entropy(net(X_part), y_part) / k).backward()  # adds to .grad
    opt.step()


train_iter, _ = utils.load_fashion_mnist(64, train_size=640, test_size=100)
utils.seed_everything(0)
whole = utils.lenet_modern()
micro = utils.lenet_modern()
micro.load_state_dict(whole.state_dict())
opts = [torch.optim.SGD(n.parameters(), lr=0.1) for n in (whole, micro)]
for X, y in train_iter:  # 10 batches of 64
    accumulate_step(whole, opts[0], X, y, k=1)
    accumulate_step(micro, opts[1], X, y, k=4)
diffs = [(a - b).abs().max().item() for a, b in zip(whole.parameters(), micro.parameters(),
                                                    strict=True)]
for a, b in zip(whole.parameters(), micro.parameters(), strict=True):
    torch.testing.assert_close(b, a, rtol=0, atol=1e-5)
print(f"{len(train_iter)} steps; weights agree to 1e-5: {max(diffs) < 1e-5}")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The weights agree to rounding. Forgetting the division by $k$ would sum $k$ mean
# gradients: $k$ times the gradient, the same as a $k$ times larger learning rate.
# :::

# %% tags=["hide-input"]
net = utils.lenet_modern()
X, y = next(iter(train_iter))
grads = {}
for k, scale in ((1, 1), (4, 4), (4, 1)):  # batch; 4 parts divided by 4; not divided
    net.zero_grad()
    for X_part, y_part in zip(X.chunk(k), y.chunk(k), strict=True):
        (F.cross_entropy(net(X_part), y_part) / scale).backward()
    grads[k, scale] = net[0].weight.grad.clone()
torch.testing.assert_close(grads[4, 4], grads[1, 1], rtol=1e-4, atol=1e-6)
torch.testing.assert_close(grads[4, 1], 4 * grads[1, 1], rtol=1e-4, atol=1e-6)
print("summed, not averaged: gradient x", round((grads[4, 1] / grads[1, 1]).median().item()))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Accumulation buys the effective batch of $k$ processes with the memory of one
# micro-batch, at $k$ times the time per update; DDP buys it in parallel. (With DDP,
# accumulating over micro-batches inside `ddp.no_sync()` skips the all-reduce on all but
# the last one.)
# :::
#
# ## 2. The linear scaling rule, measured
#
# > The linear scaling rule says: multiply the batch by $k$, multiply the learning rate
# > by $k$. Measure what happens to a larger effective batch with and without it.
#
# :::{admonition} Answer
# :class: dropdown
# Adding processes at a fixed per-process batch multiplies the effective batch; for the
# same number of epochs there are $k$ times fewer updates. If each update averages $k$
# times more examples, its gradient has less noise but the same size, so with the same
# learning rate training covers less ground. The rule (Goyal et al., 2017, for ImageNet
# in one hour) scales the learning rate by $k$ to compensate, usually with a few epochs
# of warm-up. We train the batch-norm LeNet for the same epochs at batch $b$ with rate
# $\eta$ (the baseline), and at batch $4b$ with $\eta$ and with $4\eta$, on every seed
# of the profile, and score the validation split:
# :::

# %% tags=["hide-input"]
def fit(net, train_iter, lr, num_epochs):
    """Plain minibatch SGD on the cross-entropy loss."""
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    for _ in range(num_epochs):
        for X, y in train_iter:
            opt.zero_grad()
            F.cross_entropy(net(X), y).backward()
            opt.step()
    return net


budget = profile.budget("ddp_lr_scaling")
print(budget.describe())
b, lr = budget.batch_size, budget.lr
settings = {f"batch {b}, lr {lr:g}": (b, lr), f"batch {4 * b}, lr {lr:g}": (4 * b, lr),
            f"batch {4 * b}, lr {4 * lr:g}": (4 * b, 4 * lr)}
scaling = {}
for name, (batch_size, rate) in settings.items():
    scaling[name] = []
    for seed in profile.seeds:
        train_iter, val_iter, _ = utils.load_fashion_mnist(
            batch_size, train_size=budget.train_size, val_size=budget.val_size,
            test_size=budget.test_size)
        train_iter.reseed(seed)
        utils.seed_everything(seed)
        net = fit(bn_lenet(), train_iter, rate, budget.num_epochs)
        scaling[name].append(utils.evaluate_accuracy(net, val_iter))

# %% tags=["hide-input", "nbval-ignore-output"]
for name, accs in scaling.items():
    print(f"{name:>18}: val acc {' '.join(f'{a:.3f}' for a in accs)}"
          f"  mean {sum(accs) / len(accs):.3f}")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# At four times the batch with the same learning rate, the network took a quarter of the
# updates and reached a lower mean validation accuracy than the baseline; scaling the
# learning rate by four won back part of the difference on average (compare the rows;
# the seeds spread by a few points, so read the means). The cell asserts the two
# comparisons of means, each with a margin of a point.
# :::

# %% tags=["hide-input"]
def mean(accs):
    return sum(accs) / len(accs)


base, big, scaled = (mean(scaling[name]) for name in settings)
assert base > big + 0.01 and scaled > big + 0.01

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The rule is a starting point, not a law: it breaks down at very large batches (the
# learning rate it asks for becomes unstable, which is what warm-up and optimizers such
# as LARS and LAMB address), so the rate is still best checked on a validation split.
# :::
#
# ## 3. Batch statistics per process, and `SyncBatchNorm`
#
# > With plain `nn.BatchNorm2d`, each process normalizes with the statistics of its own
# > per-process batch. What goes wrong at small per-process batches, and what does
# > `nn.SyncBatchNorm` change? Measure it.
#
# :::{admonition} Answer
# :class: dropdown
# DDP averages gradients, not activations: a batch norm layer on process $p$ computes
# its mean and variance over that process's $b/P$ examples only, and updates its running
# statistics from them; the saved model (rank 0's) carries rank 0's. `nn.SyncBatchNorm`
# all-reduces the sums that the statistics are made of, so every process normalizes
# with the statistics of the whole global batch, as one process at batch $b$ would.
#
# One process can compute both: a batch norm layer that splits its batch into $P$
# groups and normalizes each with its own statistics, updating the running statistics
# from group 0 only, is what $P$ processes with plain batch norm compute; the ordinary
# layer on the whole batch is what `SyncBatchNorm` computes. We train a LeNet with batch
# norm at a global batch of 32, once with the statistics of all 32 and once as 16
# "processes" of 2 examples each (the layers are defined at the top of this notebook).
# :::

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# First the check that the per-process layer computes what it should: with one group it
# is the ordinary layer, and with two groups each half is normalized on its own.
# :::

# %% tags=["hide-input"]
X = torch.randn(8, 3, 5, 5)
bn = nn.BatchNorm2d(3)
torch.testing.assert_close(PerProcessBatchNorm(bn, 1)(X), nn.BatchNorm2d(3)(X))
halves = PerProcessBatchNorm(nn.BatchNorm2d(3), 2)(X)
torch.testing.assert_close(halves[4:], nn.BatchNorm2d(3)(X[4:]))
print("per-process statistics: each group normalized on its own")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# `nn.SyncBatchNorm.convert_sync_batchnorm` swaps every batch norm layer of a model for a
# `SyncBatchNorm` (before wrapping it in DDP); it needs a process group to run, so here
# we only count what it converts:
# :::

# %% tags=["hide-input"]
synced = nn.SyncBatchNorm.convert_sync_batchnorm(bn_lenet())
print(sum(isinstance(m, nn.SyncBatchNorm) for m in synced.modules()), "SyncBatchNorm layers")

# %% tags=["hide-input"]
budget = profile.budget("ddp_syncbn")
print(budget.describe(), "| per-process batch 2")
processes = budget.batch_size // 2
bn_runs = {"statistics of the global batch (SyncBatchNorm)": [],
           f"per-process statistics ({processes} x 2)": []}
for accs, P in zip(bn_runs.values(), (None, processes), strict=True):
    for seed in profile.seeds:
        train_iter, val_iter, _ = utils.load_fashion_mnist(
            budget.batch_size, train_size=budget.train_size, val_size=budget.val_size,
            test_size=budget.test_size)
        train_iter.reseed(seed)
        utils.seed_everything(seed)
        net = fit(bn_lenet(P), train_iter, budget.lr, budget.num_epochs)
        accs.append(utils.evaluate_accuracy(net, val_iter))

# %% tags=["hide-input", "nbval-ignore-output"]
for name, accs in bn_runs.items():
    print(f"{name:>48}: val acc {' '.join(f'{a:.3f}' for a in accs)}"
          f"  mean {sum(accs) / len(accs):.3f}")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# With two examples per process, the per-process statistics are poor estimates: after
# a fully connected layer, the mean and variance of one feature over two examples make
# every normalized value $\pm 1$, whatever the input, and the running statistics used at
# evaluation follow these noisy two-example estimates. On the validation split, paired
# by seed, the network normalized with the statistics of the whole batch against the one
# with per-process statistics: <span data-glue="sync_verdict">SyncBatchNorm ahead on 3 of 3 paired seeds, +0.417 ± 0.092 (SE)</span>. `SyncBatchNorm` costs an extra all-reduce per layer
# per step (of a few numbers per channel), and is worth it when the per-process batch is
# small; at per-process batches of 32 or more the two usually train alike.
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
sync_accs, split_accs = bn_runs.values()
sync_gain = utils.gain(split_accs, sync_accs,
                       names=("per-process statistics", "SyncBatchNorm"))
utils.glue("sync_verdict", sync_gain.verdict())
assert sync_gain.mean > 0.1, sync_gain.verdict()   # 0.42 here; chance-level runs pull it

# %% [markdown]
# ## 4. What the all-reduce moves: LeNet and ResNet-18
#
# > How many bytes does one step's all-reduce move for LeNet, and for ResNet-18? Compute
# > it from the parameter counts.
#
# :::{admonition} Answer
# :class: dropdown
# DDP all-reduces one gradient per parameter, in the parameter's dtype: 4 bytes each in
# float32. The usual ring all-reduce splits that buffer of $S$ bytes into $P$ pieces;
# each process sends (and receives) $2(P-1)/P \cdot S$ bytes per step, nearly $2S$ for
# many processes, whatever $P$ is.
# :::

# %% tags=["hide-input"]
models = {"LeNet": utils.lenet_modern(), "ResNet-18": utils.resnet18()}
print(f"{'model':>10} {'parameters':>12} {'gradient MB':>12} "
      + " ".join(f"{'sent/proc MB, P=' + str(P):>20}" for P in (2, 8)))
sizes = {}
for name, net in models.items():
    params = utils.num_params(net)
    assert params == sum(p.numel() for p in net.parameters() if p.requires_grad)
    sizes[name] = 4 * params  # float32 gradients, bytes
    sent = [2 * (P - 1) / P * sizes[name] / 1e6 for P in (2, 8)]
    print(f"{name:>10} {params:>12,} {sizes[name] / 1e6:>12.2f} "
          + " ".join(f"{s:>20.2f}" for s in sent))
ratio = sizes["ResNet-18"] / sizes["LeNet"]
print(f"ResNet-18 moves {ratio:.0f} times LeNet's bytes per step")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# LeNet's all-reduce is a fraction of a megabyte, ResNet-18's tens of megabytes per step
# (the table). At 10 GB/s (a fast link between GPUs is faster, a 10 Gbit/s network
# between machines eight times slower) that is <span data-glue="resnet_ms:.1f">8.9</span> ms per step
# for ResNet-18 and almost nothing for LeNet; the computation of a ResNet-18 step grows with the batch and the
# image size, the all-reduce does not. Mixed precision with `torch.autocast` does not
# change these bytes: autocast runs the arithmetic in bfloat16 or float16, but the
# parameters, and so their gradients, stay float32, and DDP all-reduces the 4 bytes per
# parameter of the table. What halves them is a communication hook that compresses each
# gradient bucket before the all-reduce and restores float32 after it:
# `ddp.register_comm_hook(None, default_hooks.fp16_compress_hook)` (or
# `bf16_compress_hook`, from `torch.distributed.algorithms.ddp_comm_hooks`), at the
# cost of rounding the gradients. Gradient accumulation (exercise 1) divides the
# all-reduces per example by $k$.
# :::

# %% tags=["hide-input"]
assert 4e6 < sizes["ResNet-18"] / 10 and sizes["LeNet"] < 1e6
seconds = 2 * sizes["ResNet-18"] / 10e9  # ring all-reduce, P large, 10 GB/s
assert 0.005 < seconds < 0.02
utils.glue("resnet_ms", 1e3 * seconds)
