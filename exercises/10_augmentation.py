# %% [markdown]
# # Image Augmentation: Exercises
#
# Answers to the exercises of [Image Augmentation](../chapters/10_augmentation.ipynb).
# Every experiment trains the chapter's small CNN on a thousand-image subset of
# Fashion-MNIST (the budget is printed below) and measures accuracy on un-augmented
# images. With training sets this small, two runs that differ only in their seed can
# differ by a point or more in test accuracy, so the first exercise measures that noise,
# and the later ones read their results against it.

# %% tags=["hide-input"]
# Setup: make the book's `utils` importable locally, in CI and on Colab.
import subprocess
import sys
from pathlib import Path

REPO_URL = "https://github.com/cnnbook/cnnbook"  # same as repository.url in _config.yml
here = Path.cwd().resolve()
ROOT = next((p for p in (here, *here.parents) if (p / "utils" / "__init__.py").is_file()), None)
if ROOT is None and "google.colab" in sys.modules:
    ROOT = Path("/content/cnnbook")
    if not ROOT.exists():
        subprocess.run(["git", "clone", "-q", "--depth=1", REPO_URL, str(ROOT)], check=True)
if ROOT is None:
    raise RuntimeError("Cannot find utils/: open this notebook inside a clone of cnnbook.")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# %%
# Draw figures in the notebook, including the ones utils returns.
# %matplotlib inline
import statistics

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
# batches, and the small CNN.

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


def random_crop(X, generator, pad=2):
    """Per-image random crop after zero padding: a shift by up to `pad` pixels."""
    top, left = torch.randint(0, 2 * pad + 1, (2, X.shape[0]), generator=generator)
    return shift_crop(X, top.to(X.device), left.to(X.device), pad)


def augment_batch(X, generator, pad=2):
    """The chapter's augmentation: random flip, then random crop with padding."""
    return random_crop(random_flip(X, generator), generator, pad)


class AugmentedLoader:
    """Yield the batches of `loader` with augment(X, generator) applied to X."""

    def __init__(self, loader, augment, seed=0):
        self.loader, self.augment = loader, augment
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for X, y in self.loader:
            yield self.augment(X, self.generator), y


def small_cnn(seed=0):
    """The chapter's network: LeNet's layout, more channels, a 256-unit hidden layer."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 5 * 5, 256), nn.ReLU(),
        nn.Linear(256, 10))


# %% [markdown]
# One function runs an experiment: it trains a fresh network (seeded) on the training
# subset, optionally augmented, and measures the accuracy on the clean training images
# and on the test subset. The data subset, the initial weights, the batch order and the
# augmentation draws all follow from `seed`; a second `stage` of the same run keeps the
# subset and draws new batch orders and augmentations. To keep the cost down,
# `utils.train` skips the per-epoch test evaluation (`test_iter=None`); we measure once
# at the end.

# %%
budget = profile.budget("augment_exercise")
print(budget.describe(), " (optimizer: Adam)")


def load_data(seed=0):
    return utils.load_fashion_mnist(budget.batch_size, budget.resize, device=device,
                                    train_size=budget.train_size,
                                    test_size=budget.test_size, seed=seed)


def accuracies(net, seed=0):
    """Accuracy on the clean training subset and on the test subset of `seed`."""
    train_iter, test_iter = load_data(seed)
    return {"train": utils.evaluate_accuracy(net, train_iter),
            "test": utils.evaluate_accuracy(net, test_iter)}


def run(augment=None, seed=0, num_epochs=None, net=None, optimizer=None, stage=0):
    """Train (or continue training) a small CNN; return (net, optimizer, accuracies).

    `stage` > 0 continues a run: same data subset, new shuffling and augmentation draws.
    """
    train_iter, _ = load_data(seed)
    draw_seed = seed + 1000 * stage
    train_iter.generator.manual_seed(draw_seed)
    if augment is not None:
        train_iter = AugmentedLoader(train_iter, augment, draw_seed)
    net = net if net is not None else small_cnn(seed).to(device)
    optimizer = optimizer or torch.optim.Adam(net.parameters(), lr=budget.lr)
    utils.train(net, train_iter, None, num_epochs or budget.num_epochs, device=device,
                optimizer=optimizer, plot=False, verbose=False)
    return net, optimizer, accuracies(net, seed)


def row(name, acc):
    return (f"{name:<28}{acc['train']:>10.3f}{acc['test']:>9.3f}"
            f"{acc['train'] - acc['test']:>7.3f}")


HEADER = f"{'training data':<28}{'train acc':>10}{'test acc':>9}{'gap':>7}"

# %% [markdown]
# ## 1. With and without augmentation, over seeds and epochs
#
# > Train the network without augmentation and with it for more epochs and several
# > seeds. Does the comparison of test accuracies change?
#
# Three seeds, each trained without augmentation and with the chapter's flip + crop, for
# the budget's number of epochs; then the two networks of seed 0 go on for as many
# epochs again (the optimizer object carries Adam's running averages over).

# %%
# NBVAL_IGNORE_OUTPUT
seeds = (0, 1, 2)
kinds = {"none": None, "flip + crop": augment_batch}
runs, results = {}, {}
for seed in seeds:
    for kind, augment in kinds.items():
        net, opt, acc = run(augment, seed)
        runs[kind, seed] = (net, opt)
        results[kind, seed, budget.num_epochs] = acc
for seed in seeds[:1]:
    for kind, augment in kinds.items():
        net, opt = runs[kind, seed]
        _, _, acc = run(augment, seed, net=net, optimizer=opt, stage=1)
        results[kind, seed, 2 * budget.num_epochs] = acc
print(f"{'augmentation':<14}{'seed':>5}{'epochs':>7}{'train acc':>10}{'test acc':>9}"
      f"{'gap':>7}")
order = sorted(results, key=lambda key: (key[2], key[1], key[0] != "none"))
for kind, seed, epochs in order:
    acc = results[kind, seed, epochs]
    print(f"{kind:<14}{seed:>5}{epochs:>7}{acc['train']:>10.3f}{acc['test']:>9.3f}"
          f"{acc['train'] - acc['test']:>7.3f}")

# %%
E = budget.num_epochs
assert len(results) == 2 * len(seeds) + 2
assert all(acc["test"] > 0.7 for acc in results.values())
# the direction that held for every seed we tried: augmentation narrows the gap
for (kind, seed, epochs), acc in results.items():
    if kind == "none":
        aug = results["flip + crop", seed, epochs]
        assert aug["train"] - aug["test"] < acc["train"] - acc["test"], (seed, epochs)


# %% [markdown]
# The summary below is computed from the table: the mean test accuracy of each kind of
# training, the spread between seeds, and in how many seed/epoch pairs augmentation came
# out ahead.

# %%
# NBVAL_IGNORE_OUTPUT
def test_accs(kind, epochs):
    """Test accuracies of one kind of training in exercise 1, over the seeds run."""
    return [acc["test"] for (k, _, e), acc in results.items() if k == kind and e == epochs]


for epochs in (E, 2 * E):
    for kind in kinds:
        tests = test_accs(kind, epochs)
        spread = (f"over {len(tests)} seeds, max - min {max(tests) - min(tests):.3f}"
                  if len(tests) > 1 else "(seed 0 only)")
        print(f"{epochs:>3} epochs, {kind:<12} mean test acc {statistics.mean(tests):.3f} "
              f"{spread}")
pairs = [(results["flip + crop", s, e]["test"], acc["test"])
         for (k, s, e), acc in results.items() if k == "none"]
wins = sum(aug > plain for aug, plain in pairs)
print(f"augmentation had the higher test accuracy in {wins} of {len(pairs)} paired runs")
diffs = [aug - plain for aug, plain in pairs]
print(f"test accuracy difference (augmented - plain): {min(diffs):+.3f} to "
      f"{max(diffs):+.3f}")
verdict = ("augmentation was behind in every pair" if wins == 0 else
           "augmentation was ahead in every pair" if wins == len(pairs) else
           "the sign of the difference changed between pairs")
print("verdict:", verdict)

# %% [markdown]
# **Answer.** One thing holds in every run of the table: the gap between clean training
# and test accuracy is smaller with augmentation, at both lengths of training (the cell
# before asserts it). The test accuracy does not follow. Read the verdict line, the
# range of differences and the seed spreads above together: in the runs shown, the sign
# of the difference is not the same for every seed, the augmented networks are on
# average no better, and the differences are no larger than the spread between seeds of
# one setting. After twice as many epochs the plain network has memorized its training
# set completely, without its test accuracy collapsing, while the augmented network is
# still fitting its harder task, and it is still not ahead. "No measurable benefit on
# this data and budget" is the honest summary.
#
# Why so little? The augmented images are views the test set does not contain:
# Fashion-MNIST's garments are centred and the mean image of each shoe class is far
# from left-right symmetric (exercise 3 measures this, and exercise 4 shows how badly a
# network trained without flips does on mirrored test images). Augmentation pays off when the test data really varies the way
# the augmentation does, as for photos of objects, and with larger networks trained for
# longer, as in the ImageNet and CIFAR-10 recipes of ResNet {cite}`he2016deep`.

# %% [markdown]
# ## 2. Combining augmentations
#
# > Combine different augmentations (flips only, crops only, both, larger shifts) and
# > compare them.
#
# Three more runs on seed 0, read together with the seed-0 runs of exercise 1 (same
# subset, same initial weights, same batch order).

# %%
# NBVAL_IGNORE_OUTPUT
combos = {
    "flip only": random_flip,
    "crop only (pad 2)": random_crop,
    "crop only (pad 4)": lambda X, g: random_crop(X, g, pad=4),
}
combo_results = {"none": results["none", 0, E],
                 "flip + crop (pad 2)": results["flip + crop", 0, E]}
for name, augment in combos.items():
    combo_results[name] = run(augment, seed=0)[2]
print(HEADER)
for name, acc in combo_results.items():
    print(row(name, acc))

# %%
# NBVAL_IGNORE_OUTPUT
tests = {name: acc["test"] for name, acc in combo_results.items()}
gaps = {name: acc["train"] - acc["test"] for name, acc in combo_results.items()}
span = max(tests.values()) - min(tests.values())
print(f"test accuracies of the combinations span {span:.3f}; "
      f"best: {max(tests, key=tests.get)}; smallest gap: {min(gaps, key=gaps.get)}")
plain_spread = max(test_accs("none", E)) - min(test_accs("none", E))
aug_spread = max(test_accs("flip + crop", E)) - min(test_accs("flip + crop", E))
print(f"seed spread in exercise 1: {plain_spread:.3f} without augmentation, "
      f"{aug_spread:.3f} with flip + crop")

# %%
assert all(acc["test"] > 0.7 for acc in combo_results.values())
assert all(gaps[name] < gaps["none"] for name in gaps if name != "none")
assert gaps["crop only (pad 4)"] < gaps["flip only"]

# %% [markdown]
# **Answer.** Every augmentation narrows the gap, and the stronger the perturbation, the
# more: flips alone (a network can memorize both mirror images of a thousand pictures)
# least, shifts by up to 4 pixels most (the asserts check these orderings). Combining
# transforms multiplies the number of variants of each image (2 flips times 25 offsets
# for padding 2), which makes memorizing harder still. The test accuracies do not rank
# the combinations: each row is a single seed, and the span of their test accuracies
# (printed above) is to be read against the spread between seeds of one setting in
# exercise 1 (printed next to it), which is of the same size. Nothing here asserts that
# one combination has a better or a worse test accuracy than another; that would take
# several seeds per combination, as in exercise 1.

# %% [markdown]
# ## 3. Which augmentations suit Fashion-MNIST?
#
# > Which augmentations make sense for Fashion-MNIST, and which break its labels or its
# > realism? Does vertical-flip augmentation hurt the test accuracy?
#
# Fashion-MNIST was made from product photos, normalized in a fixed way
# {cite}`xiao2017fashion`: centred, on a black background. Are the classes left-right
# symmetric? For each class, the cell below computes the share of the *mean image's*
# brightness in the left half and in the top half, over all 60,000 training images. A
# left-right symmetric class has 0.5 on the left. (This measures the class on average,
# not each image: a class-mean share far from 0.5 says that most of its images lean the
# same way, not that all of them do.)

# %%
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

# %%
shoes = ("sandal", "sneaker", "ankle boot")
assert all(left_share[s] < 0.4 for s in shoes)
assert all(0.45 < left_share[n] < 0.55 for n in utils.TEXT_LABELS if n not in shoes)
print("clothes and bags: left-right balanced; shoes: most of the mass on the right")

# %% [markdown]
# Clothes and bags are close to left-right symmetric, so a horizontal flip gives a
# realistic garment. The three shoe classes are not: on average their mass sits on one
# side, so a flipped shoe typically points the way that few shoes of the data set point
# (the label survives; the typical view does not). Vertical flips are worse: an upside-down shirt or
# ankle boot is no product photo at all, though in this data set it still resembles no
# *other* class, so the label is not changed, only the distribution. Rotations by 90
# degrees lay trousers on their side and stand shoes on their heels, views no product
# photo shows. Here is what these transforms do to a few training images (top row:
# original):

# %%
gen = torch.Generator().manual_seed(0)
idx = torch.cat([torch.nonzero(labels == c)[:1, 0] for c in (1, 5, 7, 9, 0, 3)])
X = X_all[idx][:, None]                                    # (6, 1, 28, 28)
rows = [X, X.flip(-1), X.flip(-2), torch.rot90(X, 1, dims=(-2, -1))]
names = utils.get_fashion_mnist_labels(labels[idx])
titles = names + ["flipped L-R"] * 6 + ["flipped U-D"] * 6 + ["rotated 90"] * 6
utils.show_images(torch.cat(rows), 4, 6, titles=titles, scale=1.3)


# %% [markdown]
# Does training with vertical flips hurt? We add a random vertical flip to the crops of
# exercise 2 and compare with crops alone (seed 0 for both, as before).

# %%
def random_vflip(X, generator, p=0.5):
    """Per-image random vertical flip."""
    mask = torch.rand(X.shape[0], generator=generator) < p
    return torch.where(mask.to(X.device)[:, None, None, None], X.flip(-2), X)


# %%
# NBVAL_IGNORE_OUTPUT
vflip_acc = run(lambda X, g: random_crop(random_vflip(X, g), g), seed=0)[2]
print(HEADER)
print(row("crop only (pad 2)", combo_results["crop only (pad 2)"]))
print(row("crop + vertical flip", vflip_acc))
diff = vflip_acc["test"] - combo_results["crop only (pad 2)"]["test"]
print(f"vertical flips changed the test accuracy by {diff:+.3f}; seed spreads in "
      f"exercise 1: {plain_spread:.3f} without augmentation, {aug_spread:.3f} with it")

# %%
assert vflip_acc["test"] > 0.7
assert vflip_acc["train"] - vflip_acc["test"] < gaps["none"]


# %% [markdown]
# **Answer.** Sensible for Fashion-MNIST: small shifts (crops with a little padding), at
# most small rotations or scalings, and horizontal flips for the clothes (for the shoes
# they mostly produce the less common orientation). Not sensible: vertical flips, large
# rotations, colour jitter of hue and saturation (there is no colour) and large crops
# that cut off sleeves or heels. Whether vertical flips hurt is answered by comparing
# the difference printed above with the seed spreads next to it: in the runs shown, the
# network trained with vertical flips lost test accuracy, by about as much as the largest
# difference between seeds of one setting in exercise 1. A single pair of runs cannot
# separate that from noise, so we assert only that vertical flips, too, narrow the gap.

# %% [markdown]
# ## 4. Test-time augmentation
#
# > Average the predictions of the network over an image and its flipped or shifted
# > versions. Does the test accuracy improve?
#
# Test-time augmentation (TTA) feeds several augmented views of each test image through
# the network and averages the predicted probabilities. We try two sets of views on the
# networks of exercise 1 (all trained for the budget's number of epochs plus, for seed
# 0, as many again): the image and its mirror image; and the image with its four
# one-pixel shifts. We also measure the accuracy on the mirrored test images alone, to
# see how far outside its experience a mirror image is for each network.

# %%
def shifts(X, pad=1):
    """The image and its shifts by `pad` pixels up, down, left and right."""
    n = X.shape[0]
    offsets = [(pad, pad), (0, pad), (2 * pad, pad), (pad, 0), (pad, 2 * pad)]
    return [shift_crop(X, torch.full((n,), t, device=X.device),
                       torch.full((n,), l, device=X.device), pad) for t, l in offsets]


VIEWS = {"single view": lambda X: [X],
         "mirror only": lambda X: [X.flip(-1)],
         "+ mirror image": lambda X: [X, X.flip(-1)],
         "+ 1-pixel shifts": shifts}


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


# %%
# NBVAL_IGNORE_OUTPUT
tta = {}
for (kind, seed), (net, _) in runs.items():
    _, test_iter = load_data(seed)
    tta[kind, seed] = {v: tta_accuracy(net, test_iter, views) for v, views in VIEWS.items()}
print(f"{'trained with':<14}{'seed':>5}" + "".join(f"{v:>17}" for v in VIEWS))
for (kind, seed), accs in tta.items():
    print(f"{kind:<14}{seed:>5}" + "".join(f"{a:>17.3f}" for a in accs.values()))

# %%
assert all(a > 0.5 for accs in tta.values() for a in accs.values())
for seed in seeds:
    plain, aug = tta["none", seed], tta["flip + crop", seed]
    # a network that never saw a mirrored shoe does much worse on mirrored test images
    assert plain["mirror only"] < plain["single view"] - 0.05, seed
    assert aug["mirror only"] > plain["mirror only"], seed
for seed in seeds:   # single-view TTA is plain evaluation
    epochs = 2 * E if seed in seeds[:1] else E
    for kind in kinds:
        single = tta[kind, seed]["single view"]
        assert abs(single - results[kind, seed, epochs]["test"]) < 1e-9

# %%
# NBVAL_IGNORE_OUTPUT
for kind in kinds:
    for v in ("mirror only", "+ mirror image", "+ 1-pixel shifts"):
        gains = [tta[kind, s][v] - tta[kind, s]["single view"] for s in seeds]
        print(f"trained with {kind:<12} TTA {v:<17} change in test acc: "
              + ", ".join(f"{g:+.3f}" for g in gains))

# %% [markdown]
# **Answer.** It depends on what the network was trained on. The network trained without
# flips has never seen a shoe pointing the other way, and on mirrored test images its
# accuracy falls steeply for every seed (asserted, with a wide margin); averaging that
# poor view into the prediction makes mirror-image TTA *hurt* it. The network trained
# with flips
# knows both views, and on the mirrored images it beats the network trained without
# flips for every seed (asserted). For it, the changes that TTA brings (printed above,
# for the mirror image and for the one-pixel shifts) are about a point or less and not of
# the same sign for every seed: in the runs shown, seed 2 lost a little with both sets of
# views. Three seeds cannot tell such changes from noise, so we assert no direction for
# them. TTA costs one
# forward pass per view at test time, and it can only help with views that the network
# handles well: test-time views should match the training-time augmentation.

# %% [markdown]
# ## 5. Augmentation versus weight decay
#
# > Augmentation is a regularizer. Compare it with weight decay, and combine the two.
#
# Weight decay shrinks the weights towards zero at every step; with `torch.optim.AdamW`
# the shrinkage is decoupled from the gradient's scaling {cite}`loshchilov2019decoupled`.
# We train seed 0 with weight decay, with and without flips and crops, and read it with
# the seed-0 runs of exercise 1.

# %%
# NBVAL_IGNORE_OUTPUT
weight_decay = 1.0
wd_results = {"none": results["none", 0, E], "flip + crop": results["flip + crop", 0, E]}
for name, augment in (("weight decay", None),
                      ("weight decay + flip + crop", augment_batch)):
    net = small_cnn(0).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=budget.lr, weight_decay=weight_decay)
    wd_results[name] = run(augment, seed=0, net=net, optimizer=opt)[2]
print(f"AdamW weight_decay={weight_decay}")
print(HEADER)
for name, acc in wd_results.items():
    print(row(name, acc))
gap = {name: acc["train"] - acc["test"] for name, acc in wd_results.items()}
print("smallest gap:", min(gap, key=gap.get), "| highest test acc:",
      max(wd_results, key=lambda n: wd_results[n]["test"]))

# %%
assert all(acc["test"] > 0.7 for acc in wd_results.values())
assert gap["weight decay"] < gap["none"]
assert gap["weight decay + flip + crop"] < gap["weight decay"]

# %% [markdown]
# **Answer.** The two regularizers work differently. Weight decay limits how large the
# weights can grow, whatever the data; augmentation changes the data, so it tells the
# network *which* variations to ignore. Both narrow the gap, and they add up: the
# combination has a smaller gap than weight decay alone (both asserted). Which one gives
# the better test accuracy is a different question, and in the runs shown the answer
# (printed above) is not the one with the smallest gap: shrinking the gap by fitting the
# training set less well is not the same as generalizing better, and two regularizers
# together can over-regularize a small network within a fixed budget. Each row is a
# single seed, so read differences of a point or so as noise. The strength of weight
# decay is a knob to tune, like the strength of augmentation in exercise 2.

# %% [markdown]
# ## 6. Other augmentations in torchvision
#
# > Look at other augmentation methods in `torchvision`: `RandomErasing`, `AutoAugment`,
# > `RandAugment`, `TrivialAugmentWide`, `GaussianNoise`. What do they do to a photo?
#
# We use the chapter's photo again, as a `uint8` tensor.

# %%
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
# **Random erasing** {cite}`zhong2020random` blanks out a random rectangle (with `p` the
# probability of doing it at all, `scale` the fraction of the area, `value` the fill or
# `"random"` for noise). It imitates occlusion: the network must recognize an object with
# a part of it hidden. It works on tensors, so it comes after `ToDtype`:

# %%
erase = v2.RandomErasing(p=1.0, scale=(0.02, 0.2), value=0)
show_draws(erase, x, "RandomErasing(p=1, scale=(0.02, 0.2), value=0)")

# %%
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
# **AutoAugment** {cite}`cubuk2019autoaugment` applies one of a list of learned
# *policies*, each a pair of operations (shear, translate, rotate, colour, posterize,
# solarize, equalize, ...) with probabilities and magnitudes found by a search on a data
# set (`v2.AutoAugmentPolicy.IMAGENET`, `CIFAR10` or `SVHN`). **RandAugment**
# {cite}`cubuk2020randaugment` drops the search: it applies `num_ops` operations drawn
# uniformly, all at one `magnitude`. **TrivialAugment** {cite}`muller2021trivialaugment`
# is simpler still: one operation per image, at a random magnitude. They expect `uint8`
# images:

# %%
auto = {"AutoAugment (ImageNet policy)": v2.AutoAugment(v2.AutoAugmentPolicy.IMAGENET),
        "RandAugment(num_ops=2, magnitude=9)": v2.RandAugment(num_ops=2, magnitude=9),
        "TrivialAugmentWide()": v2.TrivialAugmentWide()}
figs = {name: show_draws(aug, img, name) for name, aug in auto.items()}
figs["AutoAugment (ImageNet policy)"]

# %%
figs["RandAugment(num_ops=2, magnitude=9)"]

# %%
figs["TrivialAugmentWide()"]

# %%
for name, aug in auto.items():
    torch.manual_seed(0)
    outs = [aug(img) for _ in range(20)]
    assert all(o.shape == img.shape and o.dtype == torch.uint8 for o in outs), name
    changed = sum(not torch.equal(o, img) for o in outs)
    print(f"{name:<36} 20 draws: shape {tuple(outs[0].shape)}, dtype uint8, "
          f"most changed: {changed >= 15}")

# %% [markdown]
# **Gaussian noise** adds independent normal noise with standard deviation `sigma` to
# every pixel of a float image, and by default (`clip=True`) clips the result to
# $[0, 1]$:

# %%
noise = v2.GaussianNoise(sigma=0.1)
show_draws(noise, x, "GaussianNoise(sigma=0.1)", n=4)

# %%
torch.manual_seed(0)
out = noise(x)
print("shape kept:", out.shape == x.shape, " range within [0, 1]:",
      0.0 <= float(out.min()) and float(out.max()) <= 1.0)
print("noise std about 0.1 where no clipping happens:",
      abs(float((out - x)[(x > 0.3) & (x < 0.7)].std()) - 0.1) < 0.01)

# %% [markdown]
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

# %%
torch.manual_seed(0)
X = torch.rand(16, 1, 28, 28)
erased = erase(X) != X                                  # (16, 1, 28, 28) masks
print("erased pixels per image:", sorted({int(m.sum()) for m in erased}))
print("same rectangle in all 16 images:", all(torch.equal(m, erased[0]) for m in erased))
assert all(torch.equal(m, erased[0]) for m in erased)
