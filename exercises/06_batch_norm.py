# %% [markdown]
# # Batch Normalization: Exercises
#
# Answers to the exercises of the [batch normalization chapter](../chapters/06_batch_norm.ipynb).
# Every answer runs: facts are asserted, and open questions get a small experiment.
# The experiments follow the protocol of the chapter: each configuration is trained from
# every seed of the profile (the seed sets the initial weights and the order of the
# batches), a learning rate is chosen on a validation split carved out of the training
# images, the test set is scored once, for the chosen configurations, and the two arms
# of a comparison are paired by seed: the gain is the mean of the per-seed differences
# ± its standard error (SE), and the book's one decision rule (`utils.gain`) words the
# verdict. The budget is short (<span data-glue="ex_updates">141</span> updates per run, printed below),
# so every result describes the first updates of training, not a trained network.

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
import statistics

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

import utils

device = utils.try_gpu()
profile = utils.get_profile()
utils.seed_everything(0)
torch.set_printoptions(precision=4)

# %% [markdown]
# The experiments share one budget, one split of the data and a few helpers.
# `insert_norm` generalizes the chapter's `with_batch_norm`: it puts a normalization
# layer after every convolution and hidden linear layer of `utils.lenet()`, either
# before the sigmoid (as in the chapter) or after it; passing `None` for one kind of
# layer leaves those layers without normalization. `lenet_with` turns that into a
# builder for `utils.train_seeds`, and `grid_sweep` trains one builder at each learning
# rate of `GRID`, from every seed, with `utils.sweep`: the configuration gets the rate
# with the best mean validation accuracy, and when that rate is at the edge of the grid
# the sweep tries one more rate beyond it (once, on this budget; the printed line flags
# a choice still at the edge).

# %%
budget = profile.budget("batchnorm_exercise")
print(budget.describe())
print("seeds:", profile.seeds)
train_iter, val_iter, test_iter = utils.load_fashion_mnist(
    budget.batch_size, device=device, train_size=budget.train_size,
    val_size=budget.val_size, test_size=budget.test_size)
print("updates per run:", budget.num_epochs * len(train_iter))
utils.glue("ex_updates", budget.updates)
GRID = (1.0, 3.0)             # learning rates each configuration starts from
CHANCE_LOSS = math.log(10)    # the loss of a constant guess over 10 classes
bn2d, bn1d = nn.BatchNorm2d, nn.BatchNorm1d


def insert_norm(net, norm2d, norm1d, where="before"):
    """Copy of a LeNet-style Sequential with normalization layers inserted.

    norm2d(C) goes after each Conv2d, norm1d(F) after each hidden Linear (None: skip);
    where="before" puts it right after the layer, "after" right after the activation.
    """
    layers, out, pending = list(net), [], None
    for i, layer in enumerate(layers):
        out.append(layer)
        if isinstance(layer, nn.Conv2d) and norm2d is not None:
            pending = norm2d(layer.out_channels)
        elif isinstance(layer, nn.Linear) and i < len(layers) - 1 and norm1d is not None:
            pending = norm1d(layer.out_features)
        if pending is not None and (where == "before" or isinstance(layer, nn.Sigmoid)):
            out.append(pending)
            pending = None
    return nn.Sequential(*out)


def lenet_with(norm2d=None, norm1d=None, where="before"):
    """A builder of utils.lenet() with optional normalization, Xavier-initialized."""
    def make():
        net = utils.lenet()
        if norm2d is not None or norm1d is not None:
            net = insert_norm(net, norm2d, norm1d, where)
        net.apply(utils.init_xavier)
        return net
    return make


def grid_sweep(make, name, lrs=GRID, widen=1):
    """utils.sweep of make() over lrs from every seed; prints the choice and its flags."""
    result = utils.sweep(make, train_iter, val_iter, budget.num_epochs, lrs, name=name,
                         widen=widen, device=device)
    print(result.describe())
    return result


def final_losses(runs):
    """Final training loss of every run; inf for a run whose loss became NaN."""
    return [math.inf if r.diverged else r.history.last["train_loss"] for r in runs]


print(lenet_with(bn2d, bn1d, where="after")()[:7])

# %% [markdown]
# ## 1. Removing the bias before batch normalization
#
# > Should we remove the bias parameter from the fully connected layer or the
# > convolutional layer before the batch normalization? Why?
#
# :::{admonition} Answer
# :class: dropdown
# Yes. A bias adds the same constant to every value of a channel, so it raises the
# batch mean by exactly that constant, and subtracting the mean removes it again; the
# variance does not change at all. In training mode the output cannot depend on the
# bias, so the gradient of the loss with respect to it is zero and SGD never moves
# it. The BN shift $\beta$ does the bias's job. To check, we give a copy of a BN LeNet
# very different biases in the layers followed by BN:
# :::

# %% tags=["hide-input"]
utils.seed_everything(0)
net_a = lenet_with(bn2d, bn1d)()
net_b = copy.deepcopy(net_a)
before_bn = [i for i, layer in enumerate(net_b)
             if isinstance(layer, (nn.Conv2d, nn.Linear)) and i < len(net_b) - 1]
with torch.no_grad():
    for i in before_bn:
        net_b[i].bias.uniform_(-5, 5)
X, y = next(iter(train_iter))
X, y = X.to(device), y.to(device)
torch.testing.assert_close(net_a(X), net_b(X), atol=1e-5, rtol=1e-5)
print("layers followed by BN:", before_bn)
print("training mode: same output with different biases (within 1e-5)")


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The gradients say the same: every bias followed by BN gets a gradient that is zero up
# to float rounding, thousands of times smaller than the gradients of the weights of the
# same layers. In float64 the rounding shrinks, and so do these gradients:
# :::

# %% tags=["hide-input"]
def bias_and_weight_grads(net, X, y):
    net.zero_grad()
    F.cross_entropy(net(X), y).backward()
    return (max(net[i].bias.grad.abs().max().item() for i in before_bn),
            min(net[i].weight.grad.abs().max().item() for i in before_bn))


bias32, weight32 = bias_and_weight_grads(copy.deepcopy(net_a), X, y)
bias64, weight64 = bias_and_weight_grads(copy.deepcopy(net_a).double(), X.double(), y)
print("float32: largest bias gradient / smallest weight gradient < 1e-3:",
      bias32 / weight32 < 1e-3)
print("float64: largest bias gradient < 1e-10:", bias64 < 1e-10,
      " smallest weight gradient > 1e-4:", weight64 > 1e-4)
assert bias32 / weight32 < 1e-3 and bias64 < 1e-10 < 1e-4 < weight64

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# In evaluation mode the bias is cancelled only as well as the running mean has
# learned it. After the single training-mode pass above (the gradient checks ran on
# copies) the two networks disagree; after 200 more passes over the same batch, when
# the running means have converged, they agree again.
# :::

# %% tags=["hide-input"]
net_a.eval()
net_b.eval()
print("eval mode now, same output:", torch.allclose(net_a(X), net_b(X), atol=1e-4))
net_a.train()
net_b.train()
with torch.no_grad():
    for _ in range(200):
        net_a(X), net_b(X)
net_a.eval()
net_b.eval()
print("eval mode after 200 more passes, same output:",
      torch.allclose(net_a(X), net_b(X), atol=1e-4))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The saving is small in parameters (one per channel or feature) but free, and it
# removes a parameter that does nothing. It is the standard practice: the convolutions
# of the book's ResNet block are built with `bias=False`.
# :::

# %% tags=["hide-input"]
wasted = sum(net_a[i].bias.numel() for i in before_bn)
total = sum(p.numel() for p in net_a.parameters())
print(f"useless biases in BN LeNet: {wasted} of {total:,} parameters "
      f"({100 * wasted / total:.2f}%)")
block = utils.Residual(16, 16)
print("utils.Residual convolutions have no bias:",
      block.conv1.bias is None and block.conv2.bias is None)

# %% [markdown]
# ## 2. Learning rates with and without batch normalization
#
# > Compare the learning rates for LeNet with and without batch normalization. Plot
# > the increase in validation accuracy. How large can you make the learning rate
# > before the optimization fails in both cases?
#
# :::{admonition} Answer
# :class: dropdown
# The question expects the answer that batch normalization raises the largest
# learning rate at which LeNet trains. The chapter's section "What batch normalization buys, measured" sweeps both networks on
# a longer budget. Here we look past its upper end, where optimization starts to fail:
# both networks at learning rates 1, 3, 10 and 30, on this notebook's shorter budget,
# from every seed (the sweep may add a rate below 1 for the normalized network, if 1
# is its best). Besides the validation accuracy we keep the final
# training loss, which says how far optimization got: a constant guess scores
# $\ln 10 \approx 2.30$; a network that ends near it has not started to learn, and one
# that ends clearly above it does worse than a constant guess: optimization failed.
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
rates = (1.0, 3.0, 10.0, 30.0)
arms = {"LeNet": lenet_with(), "LeNet + BN": lenet_with(bn2d, bn1d)}
sweep = {"LeNet": grid_sweep(arms["LeNet"], "LeNet", rates, widen=0),
         "LeNet + BN": grid_sweep(arms["LeNet + BN"], "LeNet + BN", rates)}
print(utils.runs_table([runs for result in sweep.values() for runs in result.runs.values()],
                       "val"))
print("mean final training loss:",
      {runs.name: round(statistics.fmean(final_losses(runs)), 3)
       for result in sweep.values() for runs in result.runs.values()})

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# What the table says, checked by the next cell for every seed: with batch
# normalization, every rate from 1 to 10 learns (validation accuracy far above chance, the
# training loss far below the constant guess), and at 30 optimization fails (the
# training loss ends above the constant guess). Without it, no rate learns within this
# budget: up to 10 the loss ends within 0.3 of the constant guess, on the plateau that
# the chapter traced to the offsets between layers, and at 30 it ends more than 1
# above it.
# :::

# %% tags=["hide-input"]
plain, bn = sweep["LeNet"].runs, sweep["LeNet + BN"].runs     # {lr: Runs}
for lr in (1.0, 3.0, 10.0):
    assert min(bn[lr].scores("val")) > 0.4, bn[lr].summary()
    assert max(final_losses(bn[lr])) < 1.5, final_losses(bn[lr])
    with_bn = utils.gain(plain[lr], bn[lr], "val")               # paired by seed
    assert with_bn.ahead == with_bn.n and with_bn.mean > 0.2, with_bn
assert all(max(plain[lr].scores("val")) < 0.25 for lr in rates)     # chance is 0.1
assert min(final_losses(bn[30.0])) > CHANCE_LOSS, final_losses(bn[30.0])
assert min(final_losses(plain[30.0])) > CHANCE_LOSS + 1, final_losses(plain[30.0])
assert all(max(final_losses(plain[lr])) < CHANCE_LOSS + 0.3 for lr in (1.0, 3.0, 10.0))
slower = utils.gain(bn[1.0], bn[10.0], "val", names=("LeNet + BN at lr 1", "at lr 10"))
slower_loss = utils.gain(final_losses(bn[1.0]), final_losses(bn[10.0]),
                         higher_is_better=False, names=("LeNet + BN at lr 1", "at lr 10"))
assert slower_loss.behind == slower_loss.n, slower_loss     # lr 10: less progress
assert slower.mean < 0, slower

# %% tags=["hide-input", "nbval-ignore-output"]
for lr in rates:
    utils.glue(f"bn_val_{lr:g}", bn[lr].mean("val"))
    utils.glue(f"bn_sd_{lr:g}", bn[lr].std("val"))
utils.glue("plain_max_val", max(max(plain[lr].scores("val")) for lr in rates))
utils.glue("bn_loss_30", statistics.fmean(final_losses(bn[30.0])))
utils.glue("plain_loss_30", statistics.fmean(final_losses(plain[30.0])))
utils.glue("slower_verdict", slower.verdict())
utils.glue("slower_loss_verdict", slower_loss.verdict())

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The figure shows the accuracy against the rate (left) and, for "the increase in
# validation accuracy", its rise epoch by epoch (right, the mean over the seeds):
# :::

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
for k, name in enumerate(arms):
    grid = list(sweep[name].runs)
    axes[0].plot(grid, [sweep[name].runs[lr].mean("val") for lr in grid], "-s",
                 color=f"C{k}", label=name)
    for lr in grid:
        values = sweep[name].runs[lr].scores("val")
        axes[0].plot([lr] * len(values), values, "o", color=f"C{k}", alpha=0.4, ms=4)
axes[0].axhline(0.1, color="gray", ls=":", label="chance")
axes[0].set(xscale="log", ylim=(0, 1), xlabel="learning rate (SGD)",
            ylabel="validation accuracy", title="after the budget: each seed and the mean")
axes[0].set_xticks(list(bn), [f"{lr:g}" for lr in bn])
for k, (name, lr) in enumerate([("LeNet + BN", lr) for lr in rates] + [("LeNet", 1.0)]):
    curves = [[rec["test_acc"] for rec in r.history] for r in sweep[name].runs[lr]
              if not r.diverged]
    if curves:
        epochs = range(1, len(curves[0]) + 1)
        axes[1].plot(epochs, [statistics.fmean(c) for c in zip(*curves)], "-o",
                     color=f"C{k + 2}", label=f"{name}, lr {lr:g}")
axes[1].set(ylim=(0, 1), xlabel="epoch", ylabel="validation accuracy",
            title="validation accuracy per epoch (mean over seeds)")
for ax in axes:
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
fig.tight_layout()
plt.show()

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# So, on this budget:
#
# - **Without BN, no rate we tried works.** Plain LeNet's best validation accuracy in
#   any run is <span data-glue="plain_max_val:.3f">0.113</span>, where chance is 0.1. Up to rate 10 it
#   has not left the plateau; at 30 its loss ends at <span data-glue="plain_loss_30:.2f">16.33</span> on
#   average: the steps overshoot instead of descending. With far more updates than the
#   number printed at the top of this page it does leave the plateau (the LeNet
#   chapter's long run).
# - **With BN, rates from 1 to 10 work,** with mean validation accuracies of
#   <span data-glue="bn_val_1:.3f">0.695</span> ± <span data-glue="bn_sd_1:.3f">0.035</span>,
#   <span data-glue="bn_val_3:.3f">0.667</span> ± <span data-glue="bn_sd_3:.3f">0.011</span> and
#   <span data-glue="bn_val_10:.3f">0.568</span> ± <span data-glue="bn_sd_10:.3f">0.043</span> (mean ± sd over the seeds);
#   at 30 the training loss ends at <span data-glue="bn_loss_30:.2f">5.02</span> on average, above the
#   constant guess, and the accuracy drops to <span data-glue="bn_val_30:.3f">0.198</span>. The largest
#   rate that works lies between 10 and 30.
# - **What this answers, and what it does not.** The normalized network's largest
#   working rate lies between 10 and 30. Plain LeNet's cannot be read from this grid:
#   it trains at none of its rates within <span data-glue="ex_updates">141</span> updates, so the
#   only failure that can be seen for it is divergence, at 30; where it learns at all
#   takes a longer budget to see. The chapter's longer sweep shows it: there plain LeNet
#   learns in a narrow band of rates, and the normalized network at every rate it
#   tried, up to 10. Large steps still cost the
#   normalized network something here: training loss, <span data-glue="slower_loss_verdict">LeNet + BN at lr 1 ahead on 3 of 3 paired seeds, +0.210 ± 0.001 (SE)</span>;
#   validation accuracy, <span data-glue="slower_verdict">LeNet + BN at lr 1 ahead on 3 of 3 paired seeds, -0.127 ± 0.014 (SE)</span>.
#
# One reason why BN tolerates large steps, checked in the next cell: the output of a BN
# layer does not change when the weights before it are scaled, and their gradient
# shrinks by the same factor, so a large step that inflates those weights makes the
# following steps smaller in relative terms: the effective step size regulates itself.
# The last linear layer and the $\gamma$, $\beta$ have no such protection, which is a
# likely place for the largest learning rate to break.
# :::

# %% tags=["hide-input"]
utils.seed_everything(0)
conv, bn_layer = nn.Conv2d(1, 6, 5), nn.BatchNorm2d(6)
X = torch.rand(32, 1, 28, 28)
target = torch.randn(32, 6, 24, 24)
outputs, grads = [], []
for scale in (1.0, 10.0):
    with torch.no_grad():
        conv.weight.mul_(scale)                  # scale the weights (and bias) by 10
        conv.bias.mul_(scale)
    conv.zero_grad()
    Y = bn_layer(conv(X))
    (Y * target).sum().backward()
    outputs.append(Y.detach())
    grads.append(conv.weight.grad.clone())
same = torch.allclose(outputs[0], outputs[1], atol=1e-2)   # equal but for the effect of eps
ratio = (grads[1].norm() / grads[0].norm()).item()
cosine = F.cosine_similarity(grads[0].flatten(), grads[1].flatten(), dim=0).item()
print("BN output unchanged by scaling the weights 10x:", same)
print("gradient norm ratio:", round(ratio, 3), " same direction:", cosine > 0.9999)
assert same and abs(ratio - 0.1) < 1e-3 and cosine > 0.9999

# %% [markdown]
# ## 3. Where to put batch normalization, and how much of it
#
# > Do we need batch normalization in every layer? Experiment with it. Should it go
# > before or after the activation?
#
# :::{admonition} Answer
# :class: dropdown
# Four placements: BN before every sigmoid (the chapter's choice, trained in exercise 2),
# BN after every sigmoid, BN only after the two convolutions, BN only after the two
# hidden linear layers. Each is swept from the rates of `GRID` from every seed (the
# first reuses exercise 2's runs at rates up to 3); each gets the rate with its best
# mean validation accuracy, and those configurations are scored once on the test set.
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
placements = {"after sigmoid, all layers": lenet_with(bn2d, bn1d, where="after"),
              "convolutions only": lenet_with(bn2d, None),
              "linear layers only": lenet_with(None, bn1d)}
grids = {"before sigmoid, all layers": utils.Sweep(
    "before sigmoid, all layers", {lr: runs for lr, runs in bn.items() if lr <= max(GRID)})}
print(grids["before sigmoid, all layers"].describe())
grids.update({name: grid_sweep(make, name) for name, make in placements.items()})

# %% tags=["hide-input", "nbval-ignore-output"]
placed = {name: grid.best for name, grid in grids.items()}
bn_ref = placed["before sigmoid, all layers"]   # the reference of exercises 3, 5, 6 and 8
print(utils.runs_table([runs for grid in grids.values() for runs in grid.runs.values()],
                       "val"))
print()
for name, runs in placed.items():
    runs.score("test", test_iter)
    print(f"{name:<27} lr {runs.config['lr']:<3g} test {runs.summary('test')}  mean train "
          f"loss {statistics.fmean(final_losses(runs)):.3f}")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# One placement needs a closer look. With BN only in the linear layers the training loss
# ends lower than with BN only in the convolutions, but the validation accuracy stays
# below full BN's. Accuracy is measured in evaluation mode, with the running
# statistics; the chapter's section "Running statistics or recomputed ones?" showed how
# to test whether they lag behind the final weights: recompute them with the final
# weights, as plain averages over 20 training batches (`utils.recompute_bn_statistics`,
# the chapter's function), and score again.
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
recomputed = {}
for name in ("before sigmoid, all layers", "linear layers only"):
    recomputed[name] = [
        utils.evaluate_accuracy(utils.recompute_bn_statistics(r.net, train_iter), val_iter)
        for r in placed[name]]
    print(f"{name:<27} val, running statistics",
          [round(v, 3) for v in placed[name].scores("val")],
          " recomputed", [round(v, 3) for v in recomputed[name]])
lin_fix = utils.gain(placed["linear layers only"].scores("val"),
                     recomputed["linear layers only"], names=("running", "recomputed"))
full_fix = utils.gain(bn_ref.scores("val"), recomputed["before sigmoid, all layers"],
                      names=("running", "recomputed"))
print("recomputing, linear layers only:", lin_fix.verdict())
print("recomputing, all layers:        ", full_fix.verdict())

# %% tags=["hide-input"]
conv = utils.gain(placed["convolutions only"], bn_ref, "test",
                  names=("BN in the convolutions only", "BN everywhere"))
conv_loss = utils.gain(final_losses(placed["convolutions only"]), final_losses(bn_ref),
                       higher_is_better=False,
                       names=("BN in the convolutions only", "BN everywhere"))
side = utils.gain(bn_ref, placed["after sigmoid, all layers"], "test",
                  names=("before the sigmoid", "after the sigmoid"))
assert max(loss for runs in placed.values() for loss in final_losses(runs)) < 1.8
assert conv.mean > 0, conv                               # BN in the convolutions only: worse
assert conv_loss.ahead == conv_loss.n, conv_loss         # ... and a higher loss on every seed
assert (statistics.fmean(final_losses(placed["linear layers only"]))
        < statistics.fmean(final_losses(placed["convolutions only"])))
assert placed["linear layers only"].mean("val") < bn_ref.mean("val")
assert lin_fix.mean > full_fix.mean + 0.03, (lin_fix, full_fix)
assert abs(side.mean) < 0.1, side

# %% tags=["hide-input", "nbval-ignore-output"]
utils.glue("conv_verdict", conv.verdict())
utils.glue("conv_loss_verdict", conv_loss.verdict())
utils.glue("lin_fix_verdict", lin_fix.verdict())
utils.glue("full_fix_verdict", full_fix.verdict())
utils.glue("side_verdict", side.verdict())

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# What the tables show, each statement asserted in the cell above:
#
# - **Every placement learns** within the budget (every run's training loss ends well
#   below the constant guess), while plain LeNet (exercise 2) did not: two
#   normalization layers are enough to get the sigmoid network off its plateau.
# - **Not every layer matters equally.** BN only after the convolutions against BN
#   everywhere: training loss, <span data-glue="conv_loss_verdict">BN everywhere ahead on 3 of 3 paired seeds, -0.468 ± 0.015 (SE)</span>; test accuracy,
#   <span data-glue="conv_verdict">BN everywhere ahead on 3 of 3 paired seeds, +0.194 ± 0.016 (SE)</span>. BN only after the linear layers optimizes better than
#   the convolutions-only network (a lower mean training loss), but its validation
#   accuracy is below full BN's, and its running statistics are stale: recomputing
#   them, against keeping them, changed its validation accuracy as follows:
#   <span data-glue="lin_fix_verdict">no difference this budget resolves (recomputed ahead on 3 of 3 paired seeds, +0.119 ± 0.070 (SE))</span>; for full BN: <span data-glue="full_fix_verdict">no difference this budget resolves (recomputed ahead on 3 of 3 paired seeds, +0.014 ± 0.006 (SE))</span> (the
#   cell above asserts that the mean gain is larger for the linear-only network by
#   more than 0.03). A likely reason is the chapter's first
#   measurement: the inputs of the first linear layer carry a large offset shared by
#   all examples, and while the unnormalized convolutions keep changing, a running mean
#   that is off by a small fraction of that offset is off by several of the small
#   spreads that BN divides by.
# - **Before or after the sigmoid**, test accuracy: <span data-glue="side_verdict">no difference this budget resolves (after the sigmoid ahead on 1 of 3 paired seeds, -0.007 ± 0.010 (SE))</span>. Beyond
#   what this budget measures, the arguments are qualitative: before the activation (the original paper's choice) the
#   sigmoid receives inputs on a controlled scale; after it, the *next* layer receives
#   standardized inputs. Both are used in practice.
# :::
#
# ## 4. Batches of one and two
#
# > What happens with a batch of one example? Of two?
#
# :::{admonition} Answer
# :class: dropdown
# After a linear layer a batch of one has one value per feature, so there is no
# variance to compute, and `BatchNorm1d` refuses it in training mode:
# :::

# %% tags=["hide-input"]
caught = None
try:
    nn.BatchNorm1d(4)(torch.randn(1, 4))
except ValueError as err:
    caught = err
assert caught is not None and "Expected more than 1 value per channel" in str(caught)

# %% tags=["hide-input", "nbval-ignore-output"]
print(type(caught).__name__ + ":", str(caught))    # PyTorch's wording may change

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The limit is *values per channel*, not examples. A convolutional layer computes its
# statistics over the positions too, so `BatchNorm2d` accepts a single image as long as
# it has more than one pixel (then it standardizes each channel over that one image),
# and refuses a 1x1 feature map. Evaluation mode accepts anything, since it uses the
# running statistics:
# :::

# %% tags=["hide-input"]
print("BatchNorm2d, one 4x4 image:", tuple(nn.BatchNorm2d(3)(torch.randn(1, 3, 4, 4)).shape))
caught = None
try:
    nn.BatchNorm2d(3)(torch.randn(1, 3, 1, 1))
except ValueError as err:
    caught = err
assert caught is not None and "Expected more than 1 value per channel" in str(caught)
print("BatchNorm2d, one 1x1 image: ValueError")
print("BatchNorm1d in eval mode, one example:",
      tuple(nn.BatchNorm1d(4).eval()(torch.randn(1, 4)).shape))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# With two examples the batch mean is their midpoint and the standard deviation half
# their distance $d$, so each output is $\pm\frac{d/2}{\sqrt{d^2/4 + \epsilon}}$:
# practically $+1$ for the larger value and $-1$ for the smaller one, unless the two
# values are within about $\sqrt{\epsilon}$ of each other. The layer keeps only *which
# of the two examples is larger*, feature by feature:
# :::

# %% tags=["hide-input"]
utils.seed_everything(0)
X = torch.randn(2, 6)
Y = nn.BatchNorm1d(6)(X).detach()
d = X[0] - X[1]
print(Y)
assert torch.allclose(Y[0], -Y[1])
assert torch.allclose(Y[0], (d / 2) / torch.sqrt(d ** 2 / 4 + 1e-5), atol=1e-6)
assert torch.equal(torch.sign(Y[0]), torch.sign(d))


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Training with such tiny batches therefore feeds the next layer almost binary,
# very noisy signals, and the running statistics average over batches whose
# statistics say little about the data. That is why BN needs a reasonable batch size
# (tens of examples), and why batch-independent normalizations (exercise 9) exist.
# :::
#
# ## 5. A "lite" batch normalization
#
# > Implement a "lite" version of batch normalization that only removes the mean, or
# > alternatively one that only removes the variance. How does it behave?
#
# :::{admonition} Answer
# :class: dropdown
# One module with two switches. `center` subtracts the batch mean; `scale` divides by
# the batch standard deviation (computed around the mean, as in full BN, but without
# subtracting it). Both keep running statistics for evaluation and learn $\gamma$ and
# $\beta$. With both switches on it must equal `nn.BatchNorm`, which we check first.
# :::

# %% tags=["hide-input"]
class LiteBatchNorm(nn.Module):
    """Batch normalization that only centers, only scales, or does both."""

    def __init__(self, num_features, center=True, scale=True, eps=1e-5, momentum=0.1):
        super().__init__()
        self.center, self.scale, self.eps, self.momentum = center, scale, eps, momentum
        self.gamma = nn.Parameter(torch.ones(num_features))
        self.beta = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, X):
        shape = (1, -1) if X.dim() == 2 else (1, -1, 1, 1)
        dims = (0,) if X.dim() == 2 else (0, 2, 3)
        if self.training:
            var, mean = torch.var_mean(X, dim=dims, correction=0)
            m = X.numel() // X.shape[1]
            with torch.no_grad():
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(var * m / (m - 1), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        if self.center:
            X = X - mean.reshape(shape)
        if self.scale:
            X = X * torch.rsqrt(var.reshape(shape) + self.eps)
        return self.gamma.reshape(shape) * X + self.beta.reshape(shape)


X = torch.randn(8, 3, 5, 5) * 2 + 1
ref, lite_bn = nn.BatchNorm2d(3), LiteBatchNorm(3)
for mode in ("train", "eval"):
    getattr(ref, mode)(), getattr(lite_bn, mode)()
    torch.testing.assert_close(lite_bn(X), ref(X), atol=1e-5, rtol=1e-5)
torch.testing.assert_close(lite_bn.running_var, ref.running_var)
print("LiteBatchNorm(center=True, scale=True) equals nn.BatchNorm2d in both modes")


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# (`a.lerp_(b, w)` computes `a + w * (b - a)` in place, which is PyTorch's running
# update `(1 - w) * a + w * b`.) The two lite variants, each at its best rate of the
# grid, against full BN and plain LeNet from exercise 2:
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
def lite(center, scale):
    return lambda n: LiteBatchNorm(n, center=center, scale=scale)


lite_grids = {"center only": grid_sweep(lenet_with(lite(True, False), lite(True, False)),
                                        "center only"),
              "scale only": grid_sweep(lenet_with(lite(False, True), lite(False, True)),
                                       "scale only")}
no_bn = utils.Sweep("no BN", {lr: plain[lr] for lr in GRID})
lite_runs = {"full BN": bn_ref, **{name: g.best for name, g in lite_grids.items()},
             "no BN": no_bn.best}
print()
for name, runs in lite_runs.items():
    if name != "full BN":             # full BN was scored on the test set in exercise 3
        runs.score("test", test_iter)
    loss = statistics.fmean(final_losses(runs))
    print(f"{name:<12} lr {runs.config['lr']:<3g} val {runs.summary('val')}  test "
          f"{runs.summary('test')}  mean train loss {loss:.3f}")

# %% tags=["hide-input"]
center = utils.gain(lite_runs["center only"], bn_ref, "test", names=("center only", "full BN"))
center_loss = utils.gain(final_losses(lite_runs["center only"]), final_losses(bn_ref),
                         higher_is_better=False, names=("center only", "full BN"))
assert min(lite_runs["center only"].scores("test")) > 0.4       # centering alone learns
assert center_loss.ahead == center_loss.n, center_loss          # slower: higher loss
assert center.mean > 0, center
for lr, runs in lite_grids["scale only"].runs.items():          # scaling alone fails
    assert min(final_losses(runs)) > CHANCE_LOSS, (lr, final_losses(runs))
    assert max(runs.scores("val")) < 0.25, (lr, runs.scores("val"))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The offsets that the chapter measured at the top of its page help explain the result.
# We repeat that measurement here, on a fresh plain LeNet from every seed: the median
# over the channels (or features) of each layer of $|\text{mean}| / \text{std}$ of its
# outputs over a batch, the size of the part shared by all examples relative to the
# part that differs between them.
# :::

# %% tags=["hide-input"]
def offset_to_spread(net, X):
    """Median over channels of |mean| / std of each conv/hidden linear output."""
    ratios = []
    with torch.no_grad():
        for i, layer in enumerate(net):
            X = layer(X)
            if isinstance(layer, (nn.Conv2d, nn.Linear)) and i < len(net) - 1:
                dims = (0, 2, 3) if X.dim() == 4 else (0,)
                ratios.append((X.mean(dim=dims).abs() / X.std(dim=dims)).median().item())
    return ratios


X = next(iter(train_iter))[0].to(device)
offsets = []
for seed in profile.seeds:
    utils.seed_everything(seed)
    offsets.append(offset_to_spread(lenet_with()(), X))
linear_offsets = [r for per_seed in offsets for r in per_seed[2:]]   # the two linear layers

# %% tags=["hide-input", "nbval-ignore-output"]
for seed, per_seed in zip(profile.seeds, offsets):
    print(f"seed {seed}: median |mean| / std per layer (conv, conv, linear, linear):",
          [round(r, 1) for r in per_seed])
utils.glue("offset_lo", min(linear_offsets))
utils.glue("offset_hi", max(linear_offsets))
utils.glue("center_verdict", center.verdict())
utils.glue("center_loss_verdict", center_loss.verdict())
utils.glue("scale_loss", min(loss for runs in lite_grids["scale only"].runs.values()
                             for loss in final_losses(runs)))

# %% tags=["hide-input"]
assert min(linear_offsets) > 10, offsets
assert all(per_seed[2] > per_seed[0] and per_seed[3] > per_seed[0] for per_seed in offsets)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Centering does most of the work: the center-only network learns, though more slowly
# than full BN (training loss: <span data-glue="center_loss_verdict">full BN ahead on 3 of 3 paired seeds, -0.406 ± 0.030 (SE)</span>; test accuracy:
# <span data-glue="center_verdict">full BN ahead on 3 of 3 paired seeds, +0.125 ± 0.018 (SE)</span>), while the scale-only network fails at every rate it
# tried, every run ending with a training loss of at
# least <span data-glue="scale_loss:.2f">2.40</span>, above the constant guess. In the two linear layers of
# plain LeNet the outputs share an offset <span data-glue="offset_lo:.0f">46</span> to
# <span data-glue="offset_hi:.0f">305</span> times larger than their spread (the range over the seeds
# above). Dividing by that small spread without removing the offset blows the offset
# up, and the sigmoids receive inputs far out in their flat tails. The next cell counts,
# for a fresh network of each kind and every seed, the fraction of sigmoid inputs
# beyond $\pm 5$ (where the sigmoid's slope is below 0.007), sigmoid by sigmoid:
# :::

# %% tags=["hide-input"]
def saturation(net, X):
    """Per sigmoid: fraction of its inputs with |z| > 5."""
    fractions = []
    with torch.no_grad():
        for layer in net:
            if isinstance(layer, nn.Sigmoid):
                fractions.append((X.abs() > 5).float().mean().item())
            X = layer(X)
    return fractions


kinds = {"no BN": lenet_with(),
         "center only": lenet_with(lite(True, False), lite(True, False)),
         "scale only": lenet_with(lite(False, True), lite(False, True)),
         "full BN": lenet_with(bn2d, bn1d)}
saturated = {}
for name, make in kinds.items():
    for seed in profile.seeds:
        utils.seed_everything(seed)
        saturated[name, seed] = saturation(make(), X)

# %% tags=["hide-input", "nbval-ignore-output"]
for (name, seed), fractions in saturated.items():
    print(f"{name:<12} seed {seed}: saturated fraction per sigmoid "
          f"{[round(f, 2) for f in fractions]}")

# %% tags=["hide-input"]
for seed in profile.seeds:
    assert max(saturated["scale only", seed]) > 0.2
    for name in ("no BN", "center only", "full BN"):
        assert max(saturated[name, seed]) < 0.01, (name, seed)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Only the scale-only network starts with a large share of saturated sigmoid inputs, in
# its deeper layers, for every seed: those units pass back almost no gradient and output
# nearly binary values, a likely reason why its training goes off the rails. (Plain
# LeNet's inputs are not saturated; its problem is the offset that makes all examples
# look alike, which centering removes.) Both switches matter in general, but for this
# network centering is the one that cannot be left out.
# :::
#
# ## 6. Fixing $\gamma$ and $\beta$, and what they learn
#
# > Fix the parameters $\gamma$ and $\beta$. Observe and analyze the results.
#
# :::{admonition} Answer
# :class: dropdown
# `affine=False` gives a BN layer without $\gamma$ and $\beta$, i.e. fixed at 1 and 0.
# Every sigmoid then receives inputs with mean 0 and variance 1 (over the batch), so
# it works in its nearly linear middle range, $\sigma(z) \approx \frac12 + \frac z4$,
# and cannot choose to saturate or to shift its operating point. We train it on the
# grid like the others and compare it with full BN at their chosen rates:
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
fixed_make = lenet_with(lambda n: nn.BatchNorm2d(n, affine=False),
                        lambda n: nn.BatchNorm1d(n, affine=False))
fixed = grid_sweep(fixed_make, "fixed gamma=1, beta=0").best
fixed.score("test", test_iter)
print()
for name, runs in [("learned gamma, beta", bn_ref), ("fixed gamma=1, beta=0", fixed)]:
    print(f"{name:<22} lr {runs.config['lr']:<3g} val {runs.summary('val')}  test "
          f"{runs.summary('test')}  final train loss "
          f"{[round(v, 3) for v in final_losses(runs)]}")
pair = ("learned gamma, beta", "fixed gamma, beta")
fixed_gain = utils.gain(bn_ref, fixed, "test", names=pair)
fixed_loss = utils.gain(final_losses(bn_ref), final_losses(fixed), higher_is_better=False,
                        names=pair)
print("test accuracy:", fixed_gain.verdict())
print("training loss:", fixed_loss.verdict())
utils.glue("fixed_verdict", fixed_gain.verdict())
utils.glue("fixed_loss_verdict", fixed_loss.verdict())

# %% tags=["hide-input"]
assert sum(p.numel() for p in fixed_make().parameters()) == 61_706  # as plain LeNet
assert min(fixed.scores("test")) > 0.5                              # it learns
assert fixed_loss.behind == fixed_loss.n and fixed_loss.mean > 0, fixed_loss  # higher loss
assert abs(fixed_gain.mean) < 0.1, fixed_gain

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The network still learns: most of the benefit comes from the normalization itself.
# Its training loss ends higher than with learned $\gamma$ and $\beta$ on every seed
# (<span data-glue="fixed_loss_verdict">learned gamma, beta ahead on 3 of 3 paired seeds, +0.026 ± 0.001 (SE)</span>), which fits the loss of freedom: with
# $\gamma = 1$, $\beta = 0$ every sigmoid works on standardized inputs, where it is
# close to linear and centered at 0.5. The test accuracy: <span data-glue="fixed_verdict">no difference this budget resolves (fixed gamma, beta ahead on 2 of 3 paired seeds, +0.001 ± 0.006 (SE))</span>.
#
# What did the free $\gamma$ and $\beta$ learn? All 452 of them, layer by layer, in the
# BN LeNet of every seed:
# :::

# %% tags=["hide-input"]
bn_layers = {r.seed: [m for m in r.net if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
             for r in bn_ref}
first = bn_layers[bn_ref.seeds[0]]
print("BN layers:", [m.num_features for m in first],
      " gamma and beta values:", 2 * sum(m.num_features for m in first))
assert 2 * sum(m.num_features for m in first) == 452

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(9, 3))
for k in range(len(first)):
    label = f"BN {k + 1} ({first[k].num_features})"
    gammas = torch.cat([layers[k].weight.detach().cpu() for layers in bn_layers.values()])
    betas = torch.cat([layers[k].bias.detach().cpu() for layers in bn_layers.values()])
    axes[0].hist(gammas, bins=20, alpha=0.6, label=label)
    axes[1].hist(betas, bins=20, alpha=0.6, label=label)
axes[0].axvline(1, color="gray", ls=":")
axes[1].axvline(0, color="gray", ls=":")
axes[0].set(xlabel="gamma", ylabel="count", title="learned scales (init 1), all seeds")
axes[1].set(xlabel="beta", ylabel="count", title="learned shifts (init 0), all seeds")
axes[0].legend(fontsize=9)
fig.tight_layout()
plt.show()

# %% tags=["hide-input", "nbval-ignore-output"]
print(f"{'seed':<6}{'layer':<7}{'gamma mean':>11}{'gamma std':>10}{'beta mean':>10}"
      f"{'beta std':>9}")
for seed, layers in bn_layers.items():
    for k, m in enumerate(layers):
        g, b = m.weight.detach(), m.bias.detach()
        print(f"{seed:<6}BN {k + 1:<4}{g.mean():>11.3f}{g.std():>10.3f}{b.mean():>10.3f}"
              f"{b.std():>9.3f}")

# %% tags=["hide-input"]
for layers in bn_layers.values():
    gammas = torch.cat([m.weight.detach().cpu() for m in layers])
    mean_gamma = [m.weight.mean().item() for m in layers]
    assert gammas.mean() > 1, gammas.mean()
    assert min(mean_gamma[0], mean_gamma[3]) > max(mean_gamma[1], mean_gamma[2]), mean_gamma
    assert layers[2].weight.std() < layers[0].weight.std()
    assert layers[2].bias.std() < layers[0].bias.std()


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The histograms and the table show what the free parameters were used for, asserted
# above for every seed: on average $\gamma$ grew above its initial 1, most in the first
# and the last normalization layer, and larger $\gamma$ means steeper, more nonlinear
# use of the sigmoid, exactly what the fixed version could not do. The first layer's
# $\gamma$ and $\beta$ spread wider than those of the 120-feature layer, which moved
# least within this short budget.
# :::
#
# ## 7. Freezing batch normalization for fine-tuning
#
# > When fine-tuning a trained network on little data, how do you freeze the batch
# > normalization statistics, and how do you check that they stay frozen?
#
# :::{admonition} Answer
# :class: dropdown
# Small fine-tuning batches give poor estimates of the mean and variance, and we
# usually want to keep the statistics the network was trained with. Two separate
# things must be frozen: the running statistics are updated by *every forward pass in
# training mode* (`requires_grad` has nothing to do with them), while $\gamma$ and
# $\beta$ are updated by the optimizer. So put the BN layers, and only them, in
# evaluation mode, and stop the gradients of their parameters:
# :::

# %% tags=["hide-input"]
def freeze_batch_norm(net):
    """Eval mode and no gradients for every BN layer; other layers are untouched."""
    for m in net.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.eval()
            m.weight.requires_grad_(False)
            m.bias.requires_grad_(False)


def fine_tune(net, steps=20, lr=0.1):
    """A few SGD steps on batches of 16, without calling net.train()."""
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=lr)
    for step, (X, y) in enumerate(train_iter):
        if step == steps:
            break
        loss = F.cross_entropy(net(X[:16].to(device)), y[:16].to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()


def snapshot(net):
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def changed(before, net):
    """Which of: running statistics (any BN layer), first BN gamma, first conv weight."""
    after = net.state_dict()
    differs = {k: not torch.equal(before[k], after[k]) for k in before}
    return {"running mean": any(v for k, v in differs.items() if k.endswith("running_mean")),
            "running var": any(v for k, v in differs.items() if k.endswith("running_var")),
            "BN1 gamma": differs["1.weight"],
            "conv1 weight": differs["0.weight"]}


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# `utils.train` calls `net.train()` at the start of every epoch, which would switch the
# BN layers back to training mode; that is why `fine_tune` is a short loop of its own.
# We fine-tune three copies of a trained network (the BN LeNet of exercise 3, first
# seed): with BN frozen, with only `requires_grad_(False)` on its parameters, and as a
# plain `net.train()`:
# :::

# %% tags=["hide-input"]
trained = bn_ref.runs[0].net
results = {}
for how in ("frozen", "requires_grad only", "train mode"):
    net = copy.deepcopy(trained)
    net.train()
    if how == "frozen":
        freeze_batch_norm(net)
    elif how == "requires_grad only":
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.requires_grad_(False), m.bias.requires_grad_(False)
    before = snapshot(net)
    fine_tune(net)
    results[how] = changed(before, net)
print(f"{'changed?':<20}" + "".join(f"{k:>14}" for k in results["frozen"]))
for how, c in results.items():
    print(f"{how:<20}" + "".join(f"{str(v):>14}" for v in c.values()))

# %% tags=["hide-input"]
assert results["frozen"] == {"running mean": False, "running var": False,
                             "BN1 gamma": False, "conv1 weight": True}
assert results["requires_grad only"]["running mean"]      # the classic mistake
assert results["train mode"]["BN1 gamma"] and results["train mode"]["running var"]

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Only the first row keeps the statistics and the affine parameters fixed while the
# convolution weights keep learning. The
# middle row is the classic mistake: with `requires_grad_(False)` alone, the running
# statistics still drift toward the fine-tuning batches.
# :::
#
# ## 8. Can batch normalization replace dropout?
#
# > Can you replace dropout by batch normalization? How does the behavior change?
#
# :::{admonition} Answer
# :class: dropdown
# Partly, in one respect. In training mode BN adds noise of its own: an example's
# output depends on which other examples share its batch, like dropout's random masks;
# this noise disappears in evaluation mode, again like dropout. But the amount is not a
# knob you set: it shrinks as the batch grows. We measure it on a trained BN LeNet: two
# fixed test images, surrounded by 20 different random sets of batch mates drawn from
# a pool of 1,024 training images, and the standard deviation of their logits across
# those 20 batches.
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
probe = copy.deepcopy(trained).train()     # a copy: the running statistics stay intact
pool = torch.cat([X for _, (X, _) in zip(range(16), train_iter)]).to(device)   # 1,024
fixed_pair = next(iter(test_iter))[0][:2].to(device)
gen = torch.Generator().manual_seed(0)
noise = {}
with torch.no_grad():
    for b in (4, 16, 64, 256):
        logits = []
        for _ in range(20):
            mates = pool[torch.randperm(len(pool), generator=gen)[:b - 2]]
            logits.append(probe(torch.cat([fixed_pair, mates]))[:2])
        noise[b] = torch.stack(logits).std(dim=0).mean().item()
    probe.eval()
    eval_noise = (probe(fixed_pair) - probe(fixed_pair)).abs().max().item()
for b, s in noise.items():
    print(f"batch {b:>3}: std of the logits across batch mates {s:.3f}")
print("eval mode: ", eval_noise)

# %% tags=["hide-input"]
assert len(pool) == 1024
assert noise[4] > noise[64] > noise[256] and eval_noise == 0.0

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# That the noise exists does not show that it *regularizes*, i.e. that it narrows the
# gap between training and held-out accuracy. Measuring that needs a budget on which
# the network overfits, and ours is not one: here are the training accuracies of the BN
# runs of exercise 3 (in evaluation mode, on their training images) next to their
# validation accuracies.
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
train_scores = bn_ref.score("train", train_iter)
gaps = [t - v for t, v in zip(train_scores, bn_ref.scores("val"))]
print("train accuracy:", [round(v, 3) for v in train_scores],
      " val accuracy:", [round(v, 3) for v in bn_ref.scores("val")])
print("train minus val:", [round(g, 3) for g in gaps])
utils.glue("bn_gap", statistics.fmean(gaps))

# %% tags=["hide-input"]
assert abs(statistics.fmean(gaps)) < 0.05, gaps

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The training and validation accuracies differ by <span data-glue="bn_gap:.3f">0.024</span> on average:
# nothing overfits in this budget, so a regularizer has nothing to fix, and this
# notebook makes no claim that BN's noise regularizes. What can be said without a
# measurement: dropout's noise is set by its rate, independent of the batch size, and
# it is usually placed where networks overfit most, in large fully connected layers;
# BN's noise is a side effect that shrinks with the batch size (the table above). In
# practice, networks built around BN mostly drop dropout in their convolutional part:
# the book's ResNet-18 contains no dropout layer at all. The two can be combined, but
# dropout in front of a BN layer changes the variance that BN sees between training
# and evaluation, so the combination needs care.
# :::

# %% tags=["hide-input"]
print("dropout layers in utils.resnet18():",
      sum(isinstance(m, nn.Dropout) for m in utils.resnet18().modules()))

# %% [markdown]
# ## 9. Layer normalization versus batch normalization
#
# > Layer normalization normalizes each example over its own features. On which axes
# > does it compute statistics, and how does it differ from batch normalization at test
# > time?
#
# :::{admonition} Answer
# :class: dropdown
# The chapter's section "Layer normalization" answers the first half: for an input
# `(batch, channels, height, width)`, batch norm computes one mean and variance per
# channel over axes `(0, 2, 3)`, layer norm one per *example* over axes `(1, 2, 3)`; it
# checked a from-scratch `layer_norm` against `nn.LayerNorm`. Here we check the same
# fact from the outputs instead: after layer norm every example has mean 0 and variance
# 1 over its own values; after batch norm (in training mode) every channel has them over
# the batch and the positions.
# :::

# %% tags=["hide-input"]
utils.seed_everything(0)
X = torch.randn(4, 3, 5, 5) * 2 + 1
ln, bn_norm = nn.LayerNorm([3, 5, 5]), nn.BatchNorm2d(3)
for name, Y, dims in [("LayerNorm", ln(X), (1, 2, 3)),
                      ("BatchNorm2d", bn_norm(X), (0, 2, 3))]:
    torch.testing.assert_close(Y.mean(dim=dims), torch.zeros_like(Y.mean(dim=dims)),
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(Y.var(dim=dims, correction=0),
                               torch.ones_like(Y.mean(dim=dims)), atol=1e-3, rtol=0)
    print(f"{name}: mean 0, variance 1 over axes {dims}, one pair per "
          f"{'example' if dims[0] == 1 else 'channel'}: {tuple(Y.mean(dim=dims).shape)}")
print("LayerNorm gamma shape:", tuple(ln.weight.shape), " BatchNorm2d gamma shape:",
      tuple(bn_norm.weight.shape))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The second half, the test time: batch norm switches from the batch's statistics to
# its running ones, so the same input gives different outputs in the two modes; layer
# norm keeps no running statistics and computes the same function in both. A batch of
# one works for layer norm in training mode too, where batch norm refuses it whenever
# a channel then has a single value: after a linear layer, or on 1x1 maps (exercise 4;
# a single image with larger maps trains, each channel standardized over its
# positions). Note also that
# `nn.LayerNorm` learns one $\gamma$ and $\beta$ per *element* of the normalized shape;
# `nn.GroupNorm(1, C)` is the variant with one pair per channel, and at initialization
# it computes the same function.
# :::

# %% tags=["hide-input"]
print("LayerNorm buffers:", [name for name, _ in ln.named_buffers()],
      " BatchNorm2d buffers:", [name for name, _ in bn_norm.named_buffers()])
same_ln = torch.equal(ln.train()(X), ln.eval()(X))
same_bn = torch.allclose(bn_norm.train()(X), bn_norm.eval()(X), atol=1e-3)
print("same output in train and eval mode: LayerNorm", same_ln, " BatchNorm2d", same_bn)
print("LayerNorm on one example in training mode:", tuple(ln.train()(X[:1]).shape))
group = nn.GroupNorm(1, 3)
torch.testing.assert_close(group(X), ln(X), atol=1e-5, rtol=1e-5)
print("GroupNorm(1, 3) equals LayerNorm([3, 5, 5]) at initialization; affine parameters:",
      sum(p.numel() for p in group.parameters()), "against",
      sum(p.numel() for p in ln.parameters()))
assert same_ln and not same_bn

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The PyTorch documentation of the BN layers lists a few more uses of the same idea:
# `nn.BatchNorm1d` also accepts sequences `(batch, channels, length)` and then
# normalizes each channel over batch and length; `nn.BatchNorm3d` does the same for
# volumes; `nn.SyncBatchNorm` computes the statistics across all GPUs of a data-parallel
# job, so the effective batch is the global one. The first is a one-line check:
# :::

# %% tags=["hide-input"]
X = torch.randn(4, 3, 7)
Y = nn.BatchNorm1d(3)(X)
mean = X.mean(dim=(0, 2), keepdim=True)
var = X.var(dim=(0, 2), unbiased=False, keepdim=True)
torch.testing.assert_close(Y, (X - mean) / torch.sqrt(var + 1e-5), atol=1e-5, rtol=1e-5)
print("BatchNorm1d on (batch, channels, length): statistics over axes (0, 2)")

# %% [markdown]
# ## 10. Research ideas: other normalizing transforms
#
# > Can you apply the probability integral transform? Can you use a full-rank covariance
# > estimate, and why should you probably not? What about other compact matrix variants
# > (block-diagonal, low-displacement rank, Monarch), or sparsification as a regularizer?
#
# :::{admonition} Answer
# :class: dropdown
# **Probability integral transform.** Replacing each value by its rank within the batch
# (its empirical CDF) makes every feature uniform on $(0, 1)$ whatever its distribution,
# a much stronger normalization than matching two moments. The catch is the gradient:
# ranks are piecewise constant in the input, so the gradient is zero almost everywhere,
# and autograd cannot even follow `argsort`:
# :::

# %% tags=["hide-input"]
X = torch.randn(64, 3, requires_grad=True)
ranks = X.argsort(dim=0).argsort(dim=0)               # rank of each value in its column
U = (ranks.float() + 0.5) / X.shape[0]                # empirical CDF values in (0, 1)
sorted_U = U.sort(dim=0).values
print("uniform grid per feature:", torch.equal(sorted_U[:, 0], sorted_U[:, 1]))
print("differentiable:", U.requires_grad)
assert not U.requires_grad

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# A usable version needs a smooth surrogate (a differentiable "soft rank", or a
# parametric CDF fitted per feature), and, at test time, running estimates of a whole
# distribution instead of two numbers.
#
# **Full-rank covariance (whitening).** Normalizing with the full covariance matrix
# $\Sigma$, $\hat x = \Sigma^{-1/2}(x - \mu)$, also removes correlations between
# features. Three reasons to hesitate: the batch covariance of $d$ features from $m <
# d$ examples has rank at most $m - 1$, so it cannot be inverted without regularization;
# the matrix square root costs $O(d^3)$ per layer and step, and backpropagating through
# an eigendecomposition is numerically fragile; and the estimate is much noisier than
# $d$ separate variances. The rank problem is easy to see after LeNet's first hidden
# layer (120 features) with a batch of 64:
# :::

# %% tags=["hide-input"]
H = torch.randn(64, 120) @ torch.randn(120, 120)      # 64 examples, 120 correlated features
cov = torch.cov(H.T)                                   # (120, 120)
rank = torch.linalg.matrix_rank(cov).item()
print("covariance", tuple(cov.shape), "has rank", rank)
assert rank <= 63

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Compact variants.** Between one variance per feature (BN) and a full covariance lie
# structured estimates: block-diagonal covariances that whiten small groups of features
# (cost and noise grow with the block size only), or low-rank-plus-diagonal and
# Monarch-style products that can be applied and inverted fast. They trade
# decorrelation against the statistical and numerical problems above. **Sparsifying**
# the normalization (e.g. computing statistics on a random subset of the batch or of
# the features) adds noise, which, like BN's own batch noise in exercise 8, could act as
# a regularizer. We answer this exercise only qualitatively beyond the two checks
# above: each idea is a research project whose evaluation would need far more training
# than this notebook's budget.
# :::
