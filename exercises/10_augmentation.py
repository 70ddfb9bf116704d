# %% [markdown]
# # Image Augmentation: Exercises
#
# Answers to the exercises of [Image Augmentation](../chapters/10_augmentation.ipynb).
# Every experiment follows the chapter's protocol on the chapter's budget (printed
# below): the chapter's small CNN on a 500-image subset of Fashion-MNIST, trained until
# the network without augmentation fits its training images almost all; every
# configuration trained from every seed of the profile (a seed also draws the training
# subset, the validation split and the test subset); each configuration at its own
# learning rate, chosen on a clean validation split by `utils.sweep`; the test set
# scored once, on the chosen configurations, in the chapter's three views: clean,
# shifted by 2 pixels, mirrored. Comparisons are paired by seed, and the book's one
# decision rule (`utils.gain`) words each conclusion.

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
import matplotlib.pyplot as plt
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
# batches (with `reseed`), the small CNN, the shifted test view, the per-seed data and
# the loader that switches to it when `utils.train_seeds` reseeds it.

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
    """The chapter's network: LeNet's layout with a 256-unit hidden layer."""
    return nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 256), nn.ReLU(),
        nn.Linear(256, 10))


budget = profile.budget("augment_compare")
rates = (0.0025, 0.005, 0.01)              # widened at an edge by utils.sweep
rates_augmented = (0.005, 0.01, 0.02)      # the augmented networks chose higher rates
print(f"profile {profile.name!r}:", budget.describe().replace(
    f"lr {budget.lr:g}", "lr chosen per configuration (Adam)"))
print("seeds:", profile.seeds)
E = budget.num_epochs
VIEWS = ("test", "test_shifted", "test_mirrored")


def load(seed):
    """The seed's training loader and its validation, training and test batches."""
    train_iter, val_iter, test_iter = utils.load_fashion_mnist(
        budget.batch_size, device=device, train_size=budget.train_size,
        val_size=budget.val_size, test_size=budget.test_size, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    return train_iter, {
        "val": list(val_iter), "train": list(train_iter), "test": list(test_iter),
        "test_shifted": [(shifted_view(X, gen), y) for X, y in test_iter],
        "test_mirrored": [(X.flip(-1), y) for X, y in test_iter]}


data = {seed: load(seed) for seed in profile.seeds}


class PerSeed:
    """Training batches from the seed's own data: reseed(seed) switches to them."""

    def __init__(self, augment=None):
        self.loaders = {seed: loader if augment is None else AugmentedLoader(loader, augment)
                        for seed, (loader, _) in data.items()}
        self.seed = profile.seeds[0]

    def reseed(self, seed):
        self.seed = seed
        self.loaders[seed].reseed(seed)
        return self

    def __len__(self):
        return len(self.loaders[self.seed])

    def __iter__(self):
        return iter(self.loaders[self.seed])

    def split(self, name):
        """The batches of `name` ("val", "test", ...) for the seed last reseeded."""
        return _Split(self, name)


class _Split:
    def __init__(self, owner, name):
        self.owner, self.name = owner, name

    def __iter__(self):
        return iter(data[self.owner.seed][1][self.name])


def score(runs):
    """Score each run, once, on its seed's test views and clean training images."""
    for run in runs:
        for split in (*VIEWS, "train"):
            run.scores[split] = utils.evaluate_accuracy(run.net, data[run.seed][1][split])
    return runs


def sweep(name, augment=None, **kwargs):
    """The chapter's sweep for one training wrapper; prints its choice; returns it."""
    arm = PerSeed(augment)
    result = utils.sweep(small_cnn, arm, arm.split("val"), E, kwargs.pop("lrs", rates),
                         name=name, optimizer=kwargs.pop("optimizer", "adam"),
                         verbose=False, **kwargs)
    print(result.describe())
    score(result.best)
    return result


def table(candidates):
    """Mean (sd) over the seeds, per split."""
    splits = ("val", *VIEWS, "train")
    width = max(len(r.name) for r in candidates) + 2
    head = f"{'':<{width}}" + "".join(f"{s:>17}" for s in splits)
    rows = [f"{r.name:<{width}}" + "".join(f"{r.mean(s):>9.3f} (sd {r.std(s):.3f})"
                                           for s in splits)
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
# Without augmentation and with the chapter's shifts (padding 2), each at its own rate,
# from every seed. Each grid of rates is centred where a first execution of this
# notebook found the configuration's best rate (the augmented networks chose higher
# rates than the plain one); `utils.sweep` widens a grid whose choice sits at its edge,
# and every choice is printed with its grid. The budget already trains long enough for
# the network without
# augmentation to fit its training images, so "more epochs" is answered from inside the
# runs: every run's history holds its clean validation accuracy after every epoch, and
# the paired gain of the shifts can be read epoch by epoch (on validation; the test set
# is scored once, at the end).
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
none = sweep("no augmentation").best
shifts = sweep("shifts", lambda X, g: random_shift(X, g, 2), lrs=rates_augmented).best
print(table([none, shifts]))
by_epoch = {e: utils.gain([r.history[e - 1]["test_acc"] for r in none],
                          [r.history[e - 1]["test_acc"] for r in shifts],
                          names=("no augmentation", "shifts"))
            for e in range(1, E + 1)}
for e in (E // 6, E // 3, 2 * E // 3, E):
    print(f"validation after epoch {e:>3}: {by_epoch[e].verdict()}")
ex1 = {split: utils.gain(none, shifts, split, names=("no augmentation", "shifts"))
       for split in ("test", "test_shifted")}
for split, g in ex1.items():
    print(f"{split:<13} (after epoch {E}): {g.verdict()}")
    utils.glue(f"ex1_{split}_verdict", g.verdict())
    utils.glue(f"ex1_{split}", g.mean)
ahead_epochs = [e for e, g in by_epoch.items() if g.better]
behind_epochs = [e for e, g in by_epoch.items() if g.worse]
utils.glue("ex1_epochs", E)
utils.glue("ex1_better_epochs", len(ahead_epochs))
utils.glue("ex1_worse_epochs", len(behind_epochs))
utils.glue("ex1_none_train", none.mean("train"))
utils.glue("ex1_shift_train", shifts.mean("train"))

# %% tags=["hide-input"]
assert all(len(r.history) == E for r in (*none, *shifts))
assert none.mean("train") > 0.9                      # the regime: the baseline memorizes
assert all(g.n == len(profile.seeds) for g in (*by_epoch.values(), *ex1.values()))
assert ex1["test_shifted"].better                     # shifts pay on shifted test images
assert none.mean("train") > shifts.mean("train")      # and fit the clean training set less

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(6, 3.5))
epochs = list(by_epoch)
means = [g.mean for g in by_epoch.values()]
half_width = [utils.t_quantile(g.n - 1) * g.se for g in by_epoch.values()]
ax.plot(epochs, means, color="C1", label="shifts - none, mean of seeds")
ax.fill_between(epochs, [m - h for m, h in zip(means, half_width, strict=True)],
                [m + h for m, h in zip(means, half_width, strict=True)], color="C1",
                alpha=0.2, label="95% interval (paired, t)")
ax.axhline(0, color="k", lw=0.8)
ax.set_xlabel("epoch")
ax.set_ylabel("validation accuracy difference")
ax.set_title("Shifts minus no augmentation, epoch by epoch (clean validation)",
             fontsize=10)
ax.legend(fontsize=9)
plt.show()

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Answer.** Each run's validation accuracy after every epoch gives the comparison at
# every length of training up to the budget's <span data-glue="ex1_epochs">30</span> epochs (the figure:
# the paired difference with its 95% interval). On the clean validation images the rule
# resolves it in favour of the shifts at <span data-glue="ex1_better_epochs">0</span> of the
# <span data-glue="ex1_epochs">30</span> epochs and against them at <span data-glue="ex1_worse_epochs">2</span>. On the
# test set, scored once after the last epoch: on the clean images,
# <span data-glue="ex1_test_verdict">no difference this budget resolves (shifts ahead on 2 of 3 paired seeds, +0.011 ± 0.011 (SE))</span>; on the shifted images,
# <span data-glue="ex1_test_shifted_verdict">shifts ahead on 3 of 3 paired seeds, +0.211 ± 0.015 (SE)</span>
# (asserted). Without augmentation the network ends fitting
# <span data-glue="ex1_none_train:.3f">0.995</span> of its clean training images, with shifts
# <span data-glue="ex1_shift_train:.3f">0.924</span> (asserted: less). So in this regime, training longer
# does not turn the clean comparison into a gain the budget resolves; the shifts pay on
# the shifted images.
# :::

# %% [markdown]
# ## 2. Combining augmentations
#
# > Combine different augmentations (flips only, crops only, both, larger shifts) and
# > compare them.
#
# :::{admonition} Answer
# :class: dropdown
# Flips only, and shifts of a second strength, padding 3, each at its own rate (shifts
# with padding 2 are exercise 1's; shifts and flips together are the chapter's third
# network). Each is compared with the configuration it changes, paired by seed.
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
flips = sweep("flips only", random_flip, lrs=rates_augmented).best
pad3 = sweep("shifts, pad 3", lambda X, g: random_shift(X, g, 3), lrs=rates_augmented).best
print(table([none, flips, shifts, pad3]))
ex2 = {f"flip_{s}": utils.gain(none, flips, s, names=("no augmentation", "flips only"))
       for s in VIEWS}
ex2.update({f"pad3_{s}": utils.gain(shifts, pad3, s, names=("padding 2", "padding 3"))
            for s in ("val", "test", "test_shifted")})
for key, g in ex2.items():
    print(f"{key:<20} {g.verdict()}")
    utils.glue(f"ex2_{key}", g.verdict())
pad_choice = "padding 2" if shifts.mean("val") >= pad3.mean("val") else "padding 3"
print("validation prefers", pad_choice)
utils.glue("ex2_pad_choice", pad_choice)

# %% tags=["hide-input"]
assert all(g.n == len(profile.seeds) for g in ex2.values())
assert ex2["flip_test_mirrored"].better               # flips pay on mirrored test images

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Answer.** Each augmentation buys accuracy on the view it covers. Flips alone,
# against no augmentation: on mirrored test images <span data-glue="ex2_flip_test_mirrored">flips only ahead on 3 of 3 paired seeds, +0.213 ± 0.013 (SE)</span>
# (asserted); on shifted ones <span data-glue="ex2_flip_test_shifted">no difference this budget resolves (flips only ahead on 2 of 3 paired seeds, +0.020 ± 0.013 (SE))</span>; on clean ones
# <span data-glue="ex2_flip_test">no difference this budget resolves (flips only ahead on 1 of 3 paired seeds, -0.008 ± 0.009 (SE))</span>. The shifts do the opposite (exercise 1: they pay on the
# shifted images). Stronger shifts, padding 3 against padding 2: on validation
# <span data-glue="ex2_pad3_val">no difference this budget resolves (padding 3 ahead on 1 of 3 paired seeds, -0.011 ± 0.011 (SE))</span>, so validation prefers <span data-glue="ex2_pad_choice">padding 2</span>; on the
# clean test images <span data-glue="ex2_pad3_test">no difference this budget resolves (padding 3 ahead on 0 of 3 paired seeds, -0.029 ± 0.012 (SE))</span>, and on the shifted ones
# <span data-glue="ex2_pad3_test_shifted">no difference this budget resolves (padding 3 ahead on 1 of 3 paired seeds, -0.006 ± 0.017 (SE))</span>. Shifts and flips together are the chapter's third
# network.
# :::
#
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
# exercise 1 (padding 2), at its own chosen rate, and compare with the shifts alone,
# paired by seed.
# :::

# %% tags=["hide-input"]
def random_vflip(X, generator, p=0.5):
    """Per-image random vertical flip."""
    mask = torch.rand(X.shape[0], generator=generator) < p
    return torch.where(mask.to(X.device)[:, None, None, None], X.flip(-2), X)


# %% tags=["hide-input", "nbval-ignore-output"]
vflip = sweep("shifts + vertical flips",
              lambda X, g: random_shift(random_vflip(X, g), g, 2),
              lrs=(0.00125, 0.0025, 0.005)).best
print(table([shifts, vflip]))
ex3 = utils.gain(shifts, vflip, "test", names=("shifts", "shifts + vertical flips"))
print(f"clean test images: {ex3.verdict()}")
utils.glue("vflip_verdict", ex3.verdict())

# %% tags=["hide-input"]
assert vflip.mean("test") > 0.5 and ex3.n == len(profile.seeds)
assert ex3.mean < 0                                   # vertical flips cost clean accuracy

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Answer.** Sensible for Fashion-MNIST: small shifts (crops with a little padding), at
# most small rotations or scalings, and horizontal flips for the clothes (for the shoes
# they mostly produce the less common orientation, and the chapter measures no clean
# gain from them that its budget resolves). Not sensible: vertical flips, large
# rotations, colour jitter of hue and saturation (there is no colour) and large crops
# that cut off sleeves or heels. Adding vertical flips to the shifts, each at its own
# rate, on the clean test images: <span data-glue="vflip_verdict">shifts ahead on 3 of 3 paired seeds, -0.063 ± 0.011 (SE)</span> (asserted: the mean change
# is a cost). Half of the images the network trains on are upside down, a view no test
# image shows.
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
# one-pixel shifts, on three networks of the exercises above (all seeds, each at its
# chosen rate): trained without augmentation, with shifts, and with flips only. Each
# TTA accuracy is paired with the same network's single-view accuracy.
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


# %% tags=["hide-input", "nbval-ignore-output"]
tta_nets = {"none": none, "shifts": shifts, "flips only": flips}
tta = {(kind, v): [tta_accuracy(r.net, data[r.seed][1]["test"], f) for r in runs]
       for kind, runs in tta_nets.items() for v, f in TTA_VIEWS.items()}
print(f"{'trained with':<13}{'TTA views':<18}" + "".join(
    f"{'seed ' + str(s):>8}" for s in profile.seeds) + "   paired change")
tta_change = {}
for (kind, v), accs in tta.items():
    tta_change[kind, v] = utils.gain(tta[kind, "single view"], accs,
                                     names=("single view", f"TTA {v[2:]}"))
    print(f"{kind:<13}{v:<18}" + "".join(f"{a:>8.3f}" for a in accs)
          + f"   {tta_change[kind, v]}")
for kind, v in (("none", "+ mirror image"), ("flips only", "+ mirror image"),
                ("shifts", "+ mirror image"), ("shifts", "+ 1-pixel shifts"),
                ("none", "+ 1-pixel shifts")):
    key = f"tta_{kind.split()[0]}_{v.split()[-1]}"
    utils.glue(key, tta_change[kind, v].verdict())

# %% tags=["hide-input"]
for kind, runs in tta_nets.items():   # single-view TTA is plain evaluation
    assert all(abs(a - b) < 1e-9 for a, b in zip(tta[kind, "single view"],
                                                  runs.scores("test"), strict=True))
# a network that never saw a mirrored image is hurt by averaging in the mirror image
assert tta_change["none", "+ mirror image"].worse

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Answer.** It depends on what the network was trained on. For the network trained
# without augmentation, averaging in the mirror image gives
# <span data-glue="tta_none_image">single view ahead on 3 of 3 paired seeds, -0.077 ± 0.009 (SE)</span> (asserted: a cost the rule resolves): it handles mirrored
# images badly, and averaging a poor view into the prediction hurts. For the
# shift-trained network, which has never seen a flip either:
# <span data-glue="tta_shifts_image">no difference this budget resolves (TTA mirror image ahead on 0 of 3 paired seeds, -0.066 ± 0.022 (SE))</span>.
# For the network trained with flips: <span data-glue="tta_flips_image">TTA mirror image ahead on 3 of 3 paired seeds, +0.006 ± 0.001 (SE)</span>. The one-pixel shifts,
# on the shift-trained network: <span data-glue="tta_shifts_shifts">no difference this budget resolves (TTA 1-pixel shifts ahead on 3 of 3 paired seeds, +0.004 ± 0.001 (SE))</span>; on the network trained
# without augmentation: <span data-glue="tta_none_shifts">no difference this budget resolves (TTA 1-pixel shifts ahead on 3 of 3 paired seeds, +0.005 ± 0.003 (SE))</span>. TTA costs one forward pass per view
# at test time and can only help with views that the network handles well: test-time
# views should match the training-time augmentation.
# :::

# %% [markdown]
# ## 5. Augmentation versus weight decay
#
# > Augmentation is a regularizer. Compare it with weight decay, and combine the two.
#
# :::{admonition} Answer
# :class: dropdown
# Weight decay shrinks the weights towards zero at every step; with `torch.optim.AdamW`
# the shrinkage is decoupled from the gradient's scaling {cite}`loshchilov2019decoupled`:
# each step multiplies every weight by $1 - \eta\lambda$ (rate $\eta$, decay $\lambda$)
# before the Adam step. Over a run that alone would shrink a weight by the factor
# $(1 - \eta\lambda)^{\text{updates}}$, printed for each strength below: a decay acts
# only if that factor is well below 1. The network without augmentation is trained at
# its own chosen rate (exercise 1) with a grid of strengths (widened at an edge, as the
# rates are), the strength is chosen on
# validation (with decoupled decay the shrinkage per step is the product
# $\eta\lambda$, so a grid of strengths at one rate covers it), and the chosen strength
# is then combined with the shifts at the shifts' chosen rate. We also measure what the
# decay did: the norm of all weights at the end, against the same seed's network without
# decay.
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
def adamw(weight_decay):
    return lambda params, lr: torch.optim.AdamW(params, lr, weight_decay=weight_decay)


def weight_norm(net):
    return torch.cat([p.detach().flatten() for p in net.parameters()]).norm().item()


def runs_at(name, lr, augment=None, optimizer="adam"):
    """One configuration from every seed, on the seed's data, scored on validation."""
    arm = PerSeed(augment)
    return utils.train_seeds(small_cnn, arm, arm.split("val"), E, lr, name=name,
                             optimizer=optimizer, verbose=False)


decays = (0.3, 1.0, 3.0)
lr_none, lr_shift = none.config["lr"], shifts.config["lr"]


def decay_runs(wd):
    return runs_at(f"weight decay {wd:g}, lr {lr_none:g}", lr_none, optimizer=adamw(wd))


wd_runs = {wd: decay_runs(wd) for wd in decays}
for _ in range(2):   # widen the grid at an edge, as utils.sweep does for rates
    wd = utils.choose(wd_runs)
    if wd not in (min(wd_runs), max(wd_runs)):
        break
    step = decays[1] / decays[0]
    extra = float(f"{wd / step if wd == min(wd_runs) else wd * step:.3g}")
    print(f"weight decay {wd:g} is at the edge of the grid; trying {extra:g}")
    wd_runs[extra] = decay_runs(extra)
wd_runs = dict(sorted(wd_runs.items()))
wd = utils.choose(wd_runs)
ties = [d for d in wd_runs if d != wd
        and not utils.gain(wd_runs[d], wd_runs[wd], "val").resolved]
wd_line = (f"weight decay {wd:g} chosen on validation from "
           + ", ".join(f"{d:g}" for d in wd_runs)
           + (f"; tied with {', '.join(f'{d:g}' for d in ties)}" if ties else "")
           + ("; AT THE EDGE of the grid" if wd in (min(wd_runs), max(wd_runs)) else ""))
print(utils.runs_table([none, *wd_runs.values()], "val"))
print(wd_line)
print(f"\n{'weight decay':<14}{'shrink factor (1 - lr wd)^updates':>36}"
      f"{'weight norm / no decay (per seed)':>36}")
shrink, norm_ratio = {}, {}
for d, runs in wd_runs.items():
    shrink[d] = (1 - lr_none * d) ** budget.updates
    norm_ratio[d] = [weight_norm(r.net) / weight_norm(b.net) for r, b in zip(runs, none,
                                                                           strict=True)]
    print(f"{d:<14g}{shrink[d]:>36.3g}{'':>12}" + "  ".join(f"{v:.2f}" for v in norm_ratio[d]))
wd_best = score(wd_runs[wd])
wd_shift = score(runs_at(f"weight decay {wd:g} + shifts, lr {lr_shift:g}", lr_shift,
                         lambda X, g: random_shift(X, g, 2), optimizer=adamw(wd)))
print()
print(table([none, wd_best, shifts, wd_shift]))
ex5 = {"wd_test": utils.gain(none, wd_best, "test", names=("no augmentation", "weight decay")),
       "wd_shifted": utils.gain(none, wd_best, "test_shifted",
                                names=("no augmentation", "weight decay")),
       "wd_gap": utils.gain([r.scores["train"] - r.scores["test"] for r in none],
                            [r.scores["train"] - r.scores["test"] for r in wd_best],
                            higher_is_better=False, names=("no augmentation", "weight decay")),
       "both_test": utils.gain(shifts, wd_shift, "test",
                               names=("shifts", "shifts + weight decay")),
       "both_shifted": utils.gain(wd_best, wd_shift, "test_shifted",
                                  names=("weight decay", "weight decay + shifts"))}
for key, g in ex5.items():
    print(f"{key:<14} {g.verdict()}")
    utils.glue(f"ex5_{key}", g.verdict())
utils.glue("wd_line", wd_line)
utils.glue("wd_updates", budget.updates)
utils.glue("wd_lr", lr_none)
utils.glue("wd_shrinks", ", ".join(f"{shrink[d]:.2g} at decay {d:g}" for d in wd_runs))
utils.glue("wd_norm_chosen", sum(norm_ratio[wd]) / len(norm_ratio[wd]))

# %% tags=["hide-input"]
assert all(not r.diverged for runs in wd_runs.values() for r in runs)
strongest = max(wd_runs)
assert shrink[strongest] < 0.1                       # the strongest decay acts ...
assert all(v < 1 for v in norm_ratio[strongest])     # ... and shrank the weights
assert ex5["both_shifted"].better                    # shifts pay on top of weight decay

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Answer.** The strengths tried act: over the <span data-glue="wd_updates">300</span> updates at rate
# <span data-glue="wd_lr">0.005</span>, the decay alone would shrink a weight by the factors
# <span data-glue="wd_shrinks">0.87 at decay 0.09, 0.64 at decay 0.3, 0.22 at decay 1, 0.011 at decay 3</span>, and at the end the weights' norm is below that of the same
# seed's network without decay, the more so the stronger the decay (the table; asserted
# for the strongest). The choice: <span data-glue="wd_line">weight decay 0.3 chosen on validation from 0.09, 0.3, 1, 3; tied with 0.09, 1, 3</span>; the chosen strength ends with
# <span data-glue="wd_norm_chosen:.2f">0.81</span> of the weight norm without decay (mean of the seeds).
# Against no regularization, at the same rate: on the clean test images
# <span data-glue="ex5_wd_test">no difference this budget resolves (weight decay ahead on 3 of 3 paired seeds, +0.007 ± 0.002 (SE))</span>; on the shifted ones <span data-glue="ex5_wd_shifted">no difference this budget resolves (weight decay ahead on 3 of 3 paired seeds, +0.017 ± 0.006 (SE))</span>; on the
# generalization gap (lower is better) <span data-glue="ex5_wd_gap">weight decay ahead on 3 of 3 paired seeds, -0.009 ± 0.002 (SE)</span>. Combined with the shifts,
# against weight decay alone on the shifted test images:
# <span data-glue="ex5_both_shifted">weight decay + shifts ahead on 3 of 3 paired seeds, +0.183 ± 0.017 (SE)</span> (asserted); against the shifts alone on the clean test
# images: <span data-glue="ex5_both_test">no difference this budget resolves (shifts + weight decay ahead on 1 of 3 paired seeds, -0.013 ± 0.011 (SE))</span>. The two regularizers work differently: weight decay
# limits how large the weights grow, whatever the data; augmentation changes the data,
# so it tells the network *which* variation to ignore, and that is what the shifted test
# images reward.
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
# Which of the policies' operations do anything to a greyscale image? On one
# Fashion-MNIST training image (`uint8`, one channel), the colour operations and two
# of the pixel-value operations:
# :::

# %% tags=["hide-input"]
garment = images[0][None]                              # (1, 28, 28) uint8
value_ops = {"adjust_saturation(0.2)": lambda x: v2.functional.adjust_saturation(x, 0.2),
             "adjust_hue(0.3)": lambda x: v2.functional.adjust_hue(x, 0.3),
             "posterize(bits=2)": lambda x: v2.functional.posterize(x, 2),
             "solarize(threshold=128)": lambda x: v2.functional.solarize(x, 128)}
changed_pixels = {}
for name, op in value_ops.items():
    out = op(garment)
    assert out.shape == garment.shape and out.dtype == torch.uint8
    changed_pixels[name] = int((out != garment).sum())
    print(f"{name:<25} changes {changed_pixels[name]:>3} of {garment.numel()} pixels")
print("non-black pixels of the image:", int((garment > 0).sum()))

# %% tags=["hide-input"]
assert changed_pixels["adjust_saturation(0.2)"] == changed_pixels["adjust_hue(0.3)"] == 0
assert changed_pixels["posterize(bits=2)"] > 0 and changed_pixels["solarize(threshold=128)"] > 0

# %% [markdown]
# :::{admonition} Answer, continued
# :class: dropdown
# **Answer.** `RandomErasing` simulates occlusion, `GaussianNoise` sensor noise, and the
# three automatic policies apply sequences of geometric and colour operations chosen
# from a fixed menu; all keep the shape and dtype, so they drop into a `Compose`
# pipeline. The automatic policies are tuned for natural colour photos; on
# Fashion-MNIST the colour operations (saturation, hue) do nothing, since a
# one-channel image has no colour (checked above), while posterize and solarize do change
# greyscale images: posterize drops the low bits of every pixel value, solarize inverts
# the pixels above its threshold (both checked above); shears and rotations change
# centred garments. Like the `v2` flips and crops
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
