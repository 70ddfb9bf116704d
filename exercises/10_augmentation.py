# %% [markdown]
# # Image Augmentation: Exercises
#
# Answers to the exercises of [Image Augmentation](../chapters/10_augmentation.ipynb).
# Every experiment follows the chapter's protocol on the chapter's budget (printed
# below): the chapter's small CNN on a thousand-image subset of Fashion-MNIST, every
# configuration trained from every seed of the profile, a setting that an exercise
# varies (the strength of the shifts, the weight decay) chosen on a clean validation
# split, and the test set scored once, on the chosen configurations, in the chapter's
# three views: clean, shifted by 2 pixels, mirrored. Conclusions are asserted from the
# statistics over seeds.

# %% tags=["hide-input"]
# Setup: make the book's `utils` importable locally, in CI and on Colab.
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
import copy

import torch
import torch.nn.functional as F
from matplotlib import cbook
from PIL import Image
from torch import nn
from torchvision.transforms import v2

import utils

device = utils.try_gpu()
profile = utils.get_profile()
utils.seed_everything(0)
torch.set_printoptions(precision=4)


# %% [markdown]
# The chapter's building blocks, repeated here so that this notebook runs on its own:
# per-image flips and shifted crops for batches, the wrapper that augments training
# batches (with `reseed`), the small CNN, and the shifted test view.

# %%
def flip_where(X, mask):
    """Mirror left-right the images X[i] whose mask[i] is True. X: (n, c, h, w)."""
    return torch.where(mask[:, None, None, None], X.flip(-1), X)


def shift_crop(X, top, left, pad):
    """Zero-pad each image by `pad`, then cut an h x w window at (top[i], left[i])."""
    n, c, h, w = X.shape
    X_pad = F.pad(X, (pad, pad, pad, pad))
    rows = top[:, None] + torch.arange(h, device=X.device)
    cols = left[:, None] + torch.arange(w, device=X.device)
    X_rows = X_pad.gather(2, rows[:, None, :, None].expand(n, c, h, w + 2 * pad))
    return X_rows.gather(3, cols[:, None, None, :].expand(n, c, h, w))


def random_flip(X, generator, p=0.5):
    """Per-image random horizontal flip."""
    mask = torch.rand(X.shape[0], generator=generator) < p
    return flip_where(X, mask.to(X.device))


def random_shift(X, generator, pad=2):
    """Per-image random crop after zero padding: a shift by up to `pad` pixels."""
    top, left = torch.randint(0, 2 * pad + 1, (2, X.shape[0]), generator=generator)
    return shift_crop(X, top.to(X.device), left.to(X.device), pad)


def shifted_view(X, generator, by=2):
    """Move every image by `by` pixels up or down and `by` left or right (random signs)."""
    top, left = 2 * by * torch.randint(0, 2, (2, X.shape[0]), generator=generator)
    return shift_crop(X, top.to(X.device), left.to(X.device), by)


class AugmentedLoader:
    """Yield the batches of `loader` with augment(X, generator) applied to X."""

    def __init__(self, loader, augment, seed=0):
        self.loader, self.augment = loader, augment
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self):
        return len(self.loader)

    def reseed(self, seed):
        self.loader.reseed(seed)
        self.generator.manual_seed(seed)
        return self

    def __iter__(self):
        for X, y in self.loader:
            yield self.augment(X, self.generator), y


def small_cnn():
    """The chapter's network: LeNet's layout, more channels, a 256-unit hidden layer."""
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 5 * 5, 256), nn.ReLU(),
        nn.Linear(256, 10))


# %% [markdown]
# One function runs a configuration: from every seed it trains a fresh network (the
# seed fixes the initial weights, the batch order and the augmentation draws), and after
# each of the given numbers of epochs it keeps a copy of the network scored on the
# validation split. All runs use Adam at the budget's learning rate, the rate the
# chapter's validation chose for the shift-trained network; the chapter's table shows
# the plain network's two rates within their seed spread of each other, so no exercise
# sweeps the rate again. The test views are built once, as in the chapter.

# %%
budget = profile.budget("augment_compare")
print(f"profile {profile.name!r}:", budget.describe(), " (Adam)")
print("seeds:", profile.seeds)
train_iter, val_iter, test_iter = utils.load_fashion_mnist(
    budget.batch_size, device=device, train_size=budget.train_size,
    val_size=budget.val_size, test_size=budget.test_size)
view_gen = torch.Generator().manual_seed(0)
views = {"test": list(test_iter),
         "test_shifted": [(shifted_view(X, view_gen), y) for X, y in test_iter],
         "test_mirrored": [(X.flip(-1), y) for X, y in test_iter]}
E = budget.num_epochs


def train_config(name, augment=None, stages=(E,), make_optimizer=None):
    """Train `name` from every seed; return {epochs: Runs}, each run scored on "val"."""
    runs = {e: [] for e in stages}
    for seed in profile.seeds:
        utils.seed_everything(seed)
        loader = train_iter if augment is None else AugmentedLoader(train_iter, augment)
        loader.reseed(seed)
        net = small_cnn().to(device)
        opt = (make_optimizer or (lambda p: torch.optim.Adam(p, lr=budget.lr)))(
            net.parameters())
        done = 0
        for e in stages:
            history = utils.train(net, loader, None, e - done, device=device,
                                  optimizer=opt, plot=False, verbose=False)
            done = e
            runs[e].append(utils.Run(seed, copy.deepcopy(net), history,
                                     {"val": utils.evaluate_accuracy(net, val_iter)}))
    suffix = len(stages) > 1
    return {e: utils.Runs(f"{name}, {e} epochs" if suffix else name, r, {"epochs": e})
            for e, r in runs.items()}


def score_views(runs):
    """Score every run on the three test views (once) and on the clean training images."""
    for split, batches in views.items():
        runs.score(split, batches)
    runs.score("train", train_iter)
    return runs


def table(candidates):
    """Mean ± sd over the seeds, per view."""
    head = f"{'':<30}" + "".join(f"{s:>17}" for s in ("val", *views, "train"))
    rows = [f"{r.name:<30}" + "".join(f"{r.mean(s):>10.3f} ± {r.std(s):.3f}"
                                      for s in ("val", *views, "train"))
            for r in candidates]
    return "\n".join([head, *rows])


# %% [markdown]
# ## 1. With and without augmentation, over seeds and epochs
#
# > Train the network without augmentation and with it for more epochs and several
# > seeds. Does the comparison of test accuracies change?
#
# :::{admonition} Answer
# :class: dropdown
# Without augmentation and with the chapter's shifts (padding 2), from every seed, for
# the budget's epochs and then, continuing the same runs, for as many again.
# :::

# %% tags=["hide-input"]
# NBVAL_IGNORE_OUTPUT
ex1 = {"none": train_config("no augmentation", stages=(E, 2 * E)),
       "shifts": train_config("shifts", lambda X, g: random_shift(X, g, 2),
                              stages=(E, 2 * E))}
for kind in ex1.values():
    for runs in kind.values():
        score_views(runs)
print(table([ex1[k][e] for e in (E, 2 * E) for k in ex1]))
ex1_gain = {}
for e in (E, 2 * E):
    for split in ("test", "test_shifted"):
        ex1_gain[e, split] = utils.gain(ex1["none"][e].scores(split),
                                        ex1["shifts"][e].scores(split))
        g, se = ex1_gain[e, split]
        print(f"{e:>3} epochs, {split:<13} shifts - none: {g:+.3f} ± {se:.3f}")
for (e, split), (g, se) in ex1_gain.items():
    utils.glue(f"ex1_{split}_{e // E}", g)
    utils.glue(f"ex1_{split}_{e // E}_se", se)

# %% tags=["hide-input"]
for e in (E, 2 * E):
    none, shifts = ex1["none"][e], ex1["shifts"][e]
    assert min(shifts.scores("test_shifted")) > max(none.scores("test_shifted")), e
    assert none.mean("train") > shifts.mean("train"), e
    assert all(v > 0.6 for r in (none, shifts) for v in r.scores("test"))
assert ex1["none"][2 * E].mean("train") > ex1["none"][E].mean("train")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Answer.** On the shifted test images the shifts win at both lengths of training,
# every seed trained with shifts above every seed trained without (asserted): by
# {glue:text}`ex1_test_shifted_1:.3f` ± {glue:text}`ex1_test_shifted_1_se:.3f` after the
# budget's epochs and by {glue:text}`ex1_test_shifted_2:.3f` ±
# {glue:text}`ex1_test_shifted_2_se:.3f` after twice as many. On the clean test images
# the comparison does not turn either: the shifts changed the accuracy by
# {glue:text}`ex1_test_1:.3f` ± {glue:text}`ex1_test_1_se:.3f` and
# {glue:text}`ex1_test_2:.3f` ± {glue:text}`ex1_test_2_se:.3f`, no gain at either length
# (neither difference is asserted: three seeds do not separate them from zero with
# margin). Training longer lifts both networks (the table), and the plain one keeps fitting its
# training images better than the shift-trained one (asserted at both lengths, as is the
# plain network's rise in clean training accuracy with the longer training). So on this
# data, more epochs do not make shifts pay on centred test images; they pay on the
# shifted ones, from the start.
# :::

# %% [markdown]
# ## 2. Combining augmentations
#
# > Combine different augmentations (flips only, crops only, both, larger shifts) and
# > compare them.
#
# :::{admonition} Answer
# :class: dropdown
# Flips only, and shifts of two strengths, padding 2 (exercise 1) and padding 3; the
# strength of the shifts is chosen on validation, and the chosen one is compared with
# the flips alone. (Shifts and flips together are the chapter's third network.)
# :::

# %% tags=["hide-input"]
# NBVAL_IGNORE_OUTPUT
ex2 = {"flips only": train_config("flips only", random_flip)[E],
       "shifts, pad 2": ex1["shifts"][E],
       "shifts, pad 3": train_config("shifts, pad 3",
                                     lambda X, g: random_shift(X, g, 3))[E]}
pad_choice = utils.choose({k: ex2[k] for k in ("shifts, pad 2", "shifts, pad 3")})
for name in ("flips only", "shifts, pad 3"):
    score_views(ex2[name])
print(utils.runs_table(list(ex2.values()), "val"))
print("chosen on validation:", pad_choice)
print(table([ex1["none"][E], *ex2.values()]))
flip_vs_none = {s: utils.gain(ex1["none"][E].scores(s), ex2["flips only"].scores(s))
                for s in views}
for s, (g, se) in flip_vs_none.items():
    print(f"flips only - none, {s:<13} {g:+.3f} ± {se:.3f}")
    utils.glue(f"ex2_flip_{s}", g)
    utils.glue(f"ex2_flip_{s}_se", se)
utils.glue("ex2_pad_choice", pad_choice)

# %% tags=["hide-input"]
none = ex1["none"][E]
assert min(ex2["flips only"].scores("test_mirrored")) > max(none.scores("test_mirrored"))
assert min(ex2[pad_choice].scores("test_shifted")) > max(ex2["flips only"].scores(
    "test_shifted"))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Answer.** Each augmentation buys accuracy on the view it covers and not on the
# others. Flips alone gain {glue:text}`ex2_flip_test_mirrored:.3f` ±
# {glue:text}`ex2_flip_test_mirrored_se:.3f` on mirrored test images (every seed above
# every seed without augmentation, asserted), but {glue:text}`ex2_flip_test_shifted:.3f` ±
# {glue:text}`ex2_flip_test_shifted_se:.3f` on shifted ones and
# {glue:text}`ex2_flip_test:.3f` ± {glue:text}`ex2_flip_test_se:.3f` on clean ones; the
# shifts do the opposite (the chosen strength beats flips alone on shifted test images for
# every seed, asserted). Of the two strengths, validation chose
# {glue:text}`ex2_pad_choice`; the stronger shifts (padding 3) did not score better on any
# view in the table, at this budget. Shifts and flips together are the chapter's third
# network, which kept both gains.
# :::

# %% [markdown]
# ## 3. Which augmentations suit Fashion-MNIST?
#
# > Which augmentations make sense for Fashion-MNIST, and which break its labels or its
# > realism? Does vertical-flip augmentation hurt the test accuracy?
#
# :::{admonition} Answer
# :class: dropdown
# Fashion-MNIST was made from product photos, normalized in a fixed way
# {cite}`xiao2017fashion`: centred, on a black background. Are the classes left-right
# symmetric? For each class, the cell below computes the share of the *mean image's*
# brightness in the left half and in the top half, over all 60,000 training images. A
# left-right symmetric class has 0.5 on the left.
# :::

# %% tags=["hide-input"]
images, labels = utils.read_fashion_mnist("train")
X_all = images.float() / 255
print(f"{'class':<11}{'left half':>10}{'top half':>9}")
left_share = {}
for c, name in enumerate(utils.TEXT_LABELS):
    mean = X_all[labels == c].mean(dim=0)
    left = (mean[:, :14].sum() / mean.sum()).item()
    top = (mean[:14].sum() / mean.sum()).item()
    left_share[name] = left
    print(f"{name:<11}{left:>10.2f}{top:>9.2f}")

# %% tags=["hide-input"]
shoes = ("sandal", "sneaker", "ankle boot")
assert all(left_share[s] < 0.4 for s in shoes)
assert all(0.45 < left_share[n] < 0.55 for n in utils.TEXT_LABELS if n not in shoes)
print("clothes and bags: left-right balanced; shoes: most of the mass on the right")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# The class means measure each class on average. How many of the shoe images lean the
# same way as their class mean? For every image, the share of its own brightness in the
# left half:
# :::

# %% tags=["hide-input"]
share = X_all[..., :14].sum(dim=(1, 2)) / X_all.sum(dim=(1, 2))
print(f"{'class':<11}{'images with left share < 0.5':>30}")
lean_left = {}
for c, name in enumerate(utils.TEXT_LABELS):
    lean_left[name] = (share[labels == c] < 0.5).float().mean().item()
    print(f"{name:<11}{lean_left[name]:>30.2f}")

# %% tags=["hide-input"]
assert all(lean_left[s] > 0.8 for s in shoes)
print("in each shoe class, more than 80% of the images have most of their mass "
      "on the right")



# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Clothes and bags are close to left-right symmetric, so a horizontal flip gives a
# realistic garment. The three shoe classes are not: their mass sits on one side, on
# average and in most of their images (the fractions above), so a flipped shoe mostly
# points the way that few shoes of the data set point (the label survives; the typical
# view does not). The clothes and bags, too, have more than half of their images below
# 0.5, but their class means sit close to 0.5: their lean is slight.
# Vertical flips are worse: an upside-down shirt or
# ankle boot is no product photo at all, though in this data set it still resembles no
# *other* class, so the label is not changed, only the distribution. Rotations by 90
# degrees lay trousers on their side and stand shoes on their heels, views no product
# photo shows. Here is what these transforms do to a few training images (top row:
# original):
# :::

# %% tags=["hide-input"]
gen = torch.Generator().manual_seed(0)
idx = torch.cat([torch.nonzero(labels == c)[:1, 0] for c in (1, 5, 7, 9, 0, 3)])
X = X_all[idx][:, None]                                    # (6, 1, 28, 28)
rows = [X, X.flip(-1), X.flip(-2), torch.rot90(X, 1, dims=(-2, -1))]
names = utils.get_fashion_mnist_labels(labels[idx])
titles = names + ["flipped L-R"] * 6 + ["flipped U-D"] * 6 + ["rotated 90"] * 6
utils.show_images(torch.cat(rows), 4, 6, titles=titles, scale=1.3)


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# Does training with vertical flips hurt? We add a random vertical flip to the shifts of
# exercise 1 (padding 2) and compare with the shifts alone, from the same seeds.
# :::

# %% tags=["hide-input"]
def random_vflip(X, generator, p=0.5):
    """Per-image random vertical flip."""
    mask = torch.rand(X.shape[0], generator=generator) < p
    return torch.where(mask.to(X.device)[:, None, None, None], X.flip(-2), X)


# %% tags=["hide-input"]
# NBVAL_IGNORE_OUTPUT
vflip = score_views(train_config("shifts + vertical flips",
                                 lambda X, g: random_shift(random_vflip(X, g), g, 2))[E])
shifts2 = ex1["shifts"][E]
print(table([shifts2, vflip]))
vflip_gain, vflip_se = utils.gain(shifts2.scores("test"), vflip.scores("test"))
print(f"vertical flips - shifts alone, clean test images: {vflip_gain:+.3f} ± {vflip_se:.3f}")
utils.glue("vflip_gain", vflip_gain)
utils.glue("vflip_se", vflip_se)

# %% tags=["hide-input"]
assert all(v > 0.5 for v in vflip.scores("test"))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Answer.** Sensible for Fashion-MNIST: small shifts (crops with a little padding), at
# most small rotations or scalings, and horizontal flips for the clothes (for the shoes
# they mostly produce the less common orientation, and the chapter shows they buy nothing
# on the clean test images). Not sensible: vertical flips, large rotations, colour jitter
# of hue and saturation (there is no colour) and large crops that cut off sleeves or
# heels. Adding vertical flips to the shifts changed the clean test accuracy by
# {glue:text}`vflip_gain:.3f` ± {glue:text}`vflip_se:.3f`: a cost of about twice its
# standard error, which three seeds make suggestive, not certain, so it is not asserted.
# Half of the images the network trains on are upside down, a view no test image shows.
# :::

# %% [markdown]
# ## 4. Test-time augmentation
#
# > Average the predictions of the network over an image and its flipped or shifted
# > versions. Does the test accuracy improve?
#
# :::{admonition} Answer
# :class: dropdown
# Test-time augmentation (TTA) feeds several augmented views of each test image through
# the network and averages the predicted probabilities. We try two sets of views on the
# clean test images: the image and its mirror image; and the image with its four
# one-pixel shifts, on three networks of the exercises above (all seeds, the budget's
# epochs): trained without augmentation, with shifts, and with flips only.
# :::

# %% tags=["hide-input"]
def one_pixel_shifts(X, pad=1):
    """The image and its shifts by `pad` pixels up, down, left and right."""
    n = X.shape[0]
    offsets = [(pad, pad), (0, pad), (2 * pad, pad), (pad, 0), (pad, 2 * pad)]
    return [shift_crop(X, torch.full((n,), t, device=X.device),
                       torch.full((n,), l, device=X.device), pad) for t, l in offsets]


TTA_VIEWS = {"single view": lambda X: [X],
             "+ mirror image": lambda X: [X, X.flip(-1)],
             "+ 1-pixel shifts": one_pixel_shifts}


def tta_accuracy(net, data_iter, views):
    """Accuracy when the softmax outputs over views(X) are averaged."""
    net.eval()
    correct = total = 0
    with torch.inference_mode():
        for X, y in data_iter:
            probs = torch.stack([F.softmax(net(V), dim=1) for V in views(X)]).mean(dim=0)
            correct += (probs.argmax(dim=1) == y).sum().item()
            total += len(y)
    return correct / total


# %% tags=["hide-input"]
# NBVAL_IGNORE_OUTPUT
tta_nets = {"none": ex1["none"][E], "shifts": ex1["shifts"][E],
            "flips only": ex2["flips only"]}
tta = {(kind, v): [tta_accuracy(r.net, views["test"], f) for r in runs]
       for kind, runs in tta_nets.items() for v, f in TTA_VIEWS.items()}
print(f"{'trained with':<13}{'TTA views':<18}" + "".join(
    f"{'seed ' + str(s):>8}" for s in profile.seeds) + f"{'mean change':>13}")
tta_change = {}
for (kind, v), accs in tta.items():
    base = tta[kind, "single view"]
    tta_change[kind, v] = utils.gain(base, accs)
    print(f"{kind:<13}{v:<18}" + "".join(f"{a:>8.3f}" for a in accs)
          + f"{tta_change[kind, v][0]:>+13.3f}")
for kind, v in (("none", "+ mirror image"), ("flips only", "+ mirror image"),
                ("shifts", "+ 1-pixel shifts"), ("none", "+ 1-pixel shifts")):
    key = f"tta_{kind.split()[0]}_{v.split()[-1]}"
    utils.glue(key, tta_change[kind, v][0])

# %% tags=["hide-input"]
for kind, runs in tta_nets.items():   # single-view TTA is plain evaluation
    assert all(abs(a - b) < 1e-9 for a, b in zip(tta[kind, "single view"],
                                                  runs.scores("test"), strict=True))
# a network that never saw a mirrored shoe is hurt by averaging in the mirror image
assert max(tta["none", "+ mirror image"]) < min(tta["none", "single view"])

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Answer.** It depends on what the network was trained on. For the network trained
# without augmentation, averaging in the mirror image lowered the test accuracy by
# {glue:text}`tta_none_image:.3f` on average, for every seed (asserted): it handles
# mirrored images badly, and averaging a poor view into the prediction hurts. The
# shift-trained network, which has never seen a flip either, lost about as much (the
# table). For the network trained with flips, mirror-image TTA changed the accuracy by
# {glue:text}`tta_flips_image:.3f` on average, and the one-pixel shifts changed the
# shift-trained network's by {glue:text}`tta_shifts_shifts:.3f`: changes of a point or
# less, which three seeds cannot tell from noise, so no direction is asserted for them.
# TTA costs one forward pass per view at test time and can only help with views that the
# network handles well: test-time views should match the training-time augmentation.
# :::

# %% [markdown]
# ## 5. Augmentation versus weight decay
#
# > Augmentation is a regularizer. Compare it with weight decay, and combine the two.
#
# :::{admonition} Answer
# :class: dropdown
# Weight decay shrinks the weights towards zero at every step; with `torch.optim.AdamW`
# the shrinkage is decoupled from the gradient's scaling {cite}`loshchilov2019decoupled`.
# Its strength is chosen on validation from two values, without augmentation; the chosen
# strength is then combined with the shifts. Everything else as in exercise 1.
# :::

# %% tags=["hide-input"]
# NBVAL_IGNORE_OUTPUT
def adamw(weight_decay):
    return lambda params: torch.optim.AdamW(params, lr=budget.lr, weight_decay=weight_decay)


decays = (0.1, 1.0)
wd_sweep = {wd: train_config(f"weight decay {wd:g}", make_optimizer=adamw(wd))[E]
            for wd in decays}
wd = utils.choose(wd_sweep)
wd_runs = score_views(wd_sweep[wd])
wd_shift = score_views(train_config(f"weight decay {wd:g} + shifts",
                                    lambda X, g: random_shift(X, g, 2),
                                    make_optimizer=adamw(wd))[E])
print(utils.runs_table(list(wd_sweep.values()), "val"))
print(f"chosen on validation: weight decay {wd:g}")
ex5 = [ex1["none"][E], wd_runs, ex1["shifts"][E], wd_shift]
print(table(ex5))
wd_gain = {s: utils.gain(ex1["none"][E].scores(s), wd_runs.scores(s)) for s in views}
for s, (g, se) in wd_gain.items():
    print(f"weight decay - none, {s:<13} {g:+.3f} ± {se:.3f}")
    utils.glue(f"wd_{s}", g)
    utils.glue(f"wd_{s}_se", se)
both_gain = utils.gain(ex1["shifts"][E].scores("test_shifted"), wd_shift.scores("test_shifted"))
print(f"weight decay + shifts - shifts, shifted test images: {both_gain[0]:+.3f} ± "
      f"{both_gain[1]:.3f}")
utils.glue("wd_choice", wd)
utils.glue("wd_both", both_gain[0])
utils.glue("wd_both_se", both_gain[1])

# %% tags=["hide-input"]
assert min(wd_shift.scores("test_shifted")) > max(wd_runs.scores("test_shifted"))

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Answer.** At the strengths tried, weight decay changed nothing measurable:
# validation chose {glue:text}`wd_choice`, and against no regularization it changed the
# clean test accuracy by {glue:text}`wd_test:.3f` ± {glue:text}`wd_test_se:.3f` and the
# shifted one by {glue:text}`wd_test_shifted:.3f` ± {glue:text}`wd_test_shifted_se:.3f`.
# Combined with the shifts it kept the shifts' gain on shifted images (every seed of the
# combination above every seed of weight decay alone, asserted) and added
# {glue:text}`wd_both:.3f` ± {glue:text}`wd_both_se:.3f` to it. The two regularizers work
# differently: weight decay limits how large the weights grow, whatever the data;
# augmentation changes the data, so it tells the network *which* variation to ignore, and
# that is what the shifted test images reward. Stronger decays than the two in the
# sweep were not tried here.
# :::

# %% [markdown]
# ## 6. Other augmentations in torchvision
#
# > Look at other augmentation methods in `torchvision`: `RandomErasing`, `AutoAugment`,
# > `RandAugment`, `TrivialAugmentWide`, `GaussianNoise`. What do they do to a photo?
#
# :::{admonition} Answer
# :class: dropdown
# We use the chapter's photo again, as a `uint8` tensor.
# :::

# %% tags=["hide-input"]
with cbook.get_sample_data("grace_hopper.jpg") as f:
    photo = Image.open(f).convert("RGB")
img = v2.Resize(200)(v2.ToImage()(photo))
x = v2.ToDtype(torch.float32, scale=True)(img)
print(tuple(img.shape), img.dtype, "|", tuple(x.shape), x.dtype)


def show_draws(aug, image, title, n=8, seed=0):
    torch.manual_seed(seed)
    fig = utils.show_images([aug(image) for _ in range(n)], 2, n // 2, scale=1.5)
    fig.suptitle(title)
    fig.tight_layout()   # again, to make room for the title
    return fig


# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Random erasing** {cite}`zhong2020random` blanks out a random rectangle (with `p` the
# probability of doing it at all, `scale` the fraction of the area, `value` the fill or
# `"random"` for noise). It imitates occlusion: the network must recognize an object with
# a part of it hidden. It works on tensors, so it comes after `ToDtype`:
# :::

# %% tags=["hide-input"]
erase = v2.RandomErasing(p=1.0, scale=(0.02, 0.2), value=0)
show_draws(erase, x, "RandomErasing(p=1, scale=(0.02, 0.2), value=0)")

# %% tags=["hide-input"]
torch.manual_seed(0)
out = erase(x)
changed = (out != x).any(dim=0)                   # pixels that were erased
rows_hit, cols_hit = changed.any(dim=1), changed.any(dim=0)
print("shape and dtype kept:", out.shape == x.shape and out.dtype == x.dtype)
print("erased pixels are 0:", bool((out[:, changed] == 0).all()))
area = changed.sum().item() / changed.numel()
box = rows_hit.sum().item() * cols_hit.sum().item() / changed.numel()
print("erased region is one rectangle within the scale range:",
      0.02 <= box <= 0.2 and area <= box)
assert out.shape == x.shape and bool((out[:, changed] == 0).all()) and 0.02 <= box <= 0.2

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **AutoAugment** {cite}`cubuk2019autoaugment` applies one of a list of learned
# *policies*, each a pair of operations (shear, translate, rotate, colour, posterize,
# solarize, equalize, ...) with probabilities and magnitudes found by a search on a data
# set (`v2.AutoAugmentPolicy.IMAGENET`, `CIFAR10` or `SVHN`). **RandAugment**
# {cite}`cubuk2020randaugment` drops the search: it applies `num_ops` operations drawn
# uniformly, all at one `magnitude`. **TrivialAugment** {cite}`muller2021trivialaugment`
# is simpler still: one operation per image, at a random magnitude. They expect `uint8`
# images:
# :::

# %% tags=["hide-input"]
auto = {"AutoAugment (ImageNet policy)": v2.AutoAugment(v2.AutoAugmentPolicy.IMAGENET),
        "RandAugment(num_ops=2, magnitude=9)": v2.RandAugment(num_ops=2, magnitude=9),
        "TrivialAugmentWide()": v2.TrivialAugmentWide()}
figs = {name: show_draws(aug, img, name) for name, aug in auto.items()}
figs["AutoAugment (ImageNet policy)"]

# %% tags=["hide-input"]
figs["RandAugment(num_ops=2, magnitude=9)"]

# %% tags=["hide-input"]
figs["TrivialAugmentWide()"]

# %% tags=["hide-input"]
for name, aug in auto.items():
    torch.manual_seed(0)
    outs = [aug(img) for _ in range(20)]
    assert all(o.shape == img.shape and o.dtype == torch.uint8 for o in outs), name
    changed = sum(not torch.equal(o, img) for o in outs)
    print(f"{name:<36} 20 draws: shape {tuple(outs[0].shape)}, dtype uint8, "
          f"most changed: {changed >= 15}")

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Gaussian noise** adds independent normal noise with standard deviation `sigma` to
# every pixel of a float image, and by default (`clip=True`) clips the result to
# $[0, 1]$:
# :::

# %% tags=["hide-input"]
noise = v2.GaussianNoise(sigma=0.1)
show_draws(noise, x, "GaussianNoise(sigma=0.1)", n=4)

# %% tags=["hide-input"]
torch.manual_seed(0)
out = noise(x)
print("shape kept:", out.shape == x.shape, " range within [0, 1]:",
      0.0 <= float(out.min()) and float(out.max()) <= 1.0)
print("noise std about 0.1 where no clipping happens:",
      abs(float((out - x)[(x > 0.3) & (x < 0.7)].std()) - 0.1) < 0.01)

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Answer.** `RandomErasing` simulates occlusion, `GaussianNoise` sensor noise, and the
# three automatic policies apply sequences of geometric and colour operations chosen
# from a fixed menu; all keep the shape and dtype, so they drop into a `Compose`
# pipeline. The automatic policies are tuned for natural colour photos; on
# Fashion-MNIST several of their operations (colour, posterize, solarize) do little or
# nothing, and shears and rotations change centred garments. Like the `v2` flips and crops
# of the chapter, the erasing and the policies draw one set of parameters per call, so on
# a batch tensor they treat the whole batch alike (only the noise is drawn per pixel);
# for per-image randomness apply them per image (in a `DataLoader`'s workers) or write a
# batched version as the chapter did. For random erasing the pitfall is easy to see: on a
# batch, every image loses the same rectangle.
# :::

# %% tags=["hide-input"]
torch.manual_seed(0)
X = torch.rand(16, 1, 28, 28)
erased = erase(X) != X                                  # (16, 1, 28, 28) masks
print("erased pixels per image:", sorted({int(m.sum()) for m in erased}))
print("same rectangle in all 16 images:", all(torch.equal(m, erased[0]) for m in erased))
assert all(torch.equal(m, erased[0]) for m in erased)
