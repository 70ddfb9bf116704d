# %% [markdown]
# # How `utils` Trains Fast
#
# From the [LeNet chapter](../chapters/05_lenet.ipynb) on, training takes two calls:
# `utils.load_fashion_mnist` for the data and `utils.train` for the loop. This page
# opens them up. On 28x28 images a small network does so little arithmetic per image
# that making the batches, in the usual pipeline of a `DataLoader` that turns one image
# at a time into a tensor, costs a noticeable share of what training on them does
# (measured below, on the machine that built this page); `utils` is built so that the
# training step is what the time goes to. Each claim below is checked by the cell after
# it; how much faster whole training runs are than the usual pipeline is measured by
# `make bench`, whose method and recorded results are in `bench/README.md` of the
# repository.
#
# **What you'll learn**
#
# - why the images are kept on the device as bytes, and that the batches made from them
#   are the ones `torchvision`'s `ToTensor` would give;
# - how much of an epoch's time a per-image `DataLoader` spends making batches;
# - how a seeded generator makes two runs see the same batches;
# - what `utils.train` reads back during an epoch, and how it decides layout and
#   precision on each device;
# - why `train` keeps the memory a step frees, on Linux;
# - how `train` behaves when you press stop;
# - how the book decides whether one way of training beat another.

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
import torchvision
from torch.utils.data import DataLoader, Subset
from torchvision.transforms import ToTensor

import utils

device = utils.try_gpu()
print("device:", device.type)

# %% [markdown]
# ## The images stay on the device, as bytes
#
# `load_fashion_mnist` reads the data files once per process into a `uint8` tensor, one
# byte per pixel, and moves that tensor to the training device. A batch is then made
# there: pick its rows, convert them to `float32` and divide by 255.

# %%
images, labels = utils.read_fashion_mnist("train")
as_float = images.nelement() * torch.tensor([], dtype=torch.float32).element_size()
print("stored:", tuple(images.shape), images.dtype)
print(f"{images.nbytes / 1e6:.1f} MB as uint8, {as_float / 1e6:.1f} MB as float32")
assert as_float == 4 * images.nbytes

# %% [markdown]
# A quarter of the memory, and on a GPU the training set crosses from main memory to the
# GPU once, instead of once per epoch. The floats that reach the network are exactly the
# ones of the usual pipeline, `torchvision.datasets.FashionMNIST` with `ToTensor()`,
# which reads the same files (check the first 1,000 images):

# %%
root, _ = utils.data.resolve_data_root()
reference = torchvision.datasets.FashionMNIST(root, train=True, download=False,
                                              transform=ToTensor())
loader = utils.DeviceLoader(images, labels, batch_size=1000)
X, y = next(iter(loader))
usual = torch.stack([reference[i][0] for i in range(1000)])
usual_labels = torch.tensor([reference[i][1] for i in range(1000)])
print("batch:", tuple(X.shape), X.dtype, "| identical to ToTensor:", torch.equal(X, usual))
assert torch.equal(X, usual) and torch.equal(y, usual_labels)

# %% [markdown]
# ## A batch is one indexing operation, not a loop over images
#
# A `DataLoader` over that dataset calls it once per image: read the image, make a PIL
# image of it, convert it to a tensor; then it stacks the images into a batch. The
# `DeviceLoader` that `load_fashion_mnist` returns does one `index_select` per batch,
# on a random permutation drawn at the start of the pass. Time one shuffled pass over
# 10,000 training images, batches of 256, each way (the best of three passes):

# %% tags=["nbval-ignore-output"]
n = 10_000
usual_loader = DataLoader(Subset(reference, range(n)), batch_size=256, shuffle=True,
                          generator=torch.Generator().manual_seed(0))
device_loader = utils.DeviceLoader(images[:n].to(device), labels[:n].to(device), 256,
                                   shuffle=True)


def one_pass(batches):
    """Make every batch of one pass, on the training device."""
    for X, y in batches:
        X, y = X.to(device), y.to(device)


utils.seed_everything(0)
net = utils.lenet().to(device)
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
X, y = next(iter(device_loader))


def one_step():
    """One SGD step of LeNet on a batch of 256."""
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(net(X), y).backward()
    optimizer.step()


seconds_usual = utils.best_time(lambda: one_pass(usual_loader), device, repeats=3)
seconds_device = utils.best_time(lambda: one_pass(device_loader), device, repeats=3)
seconds_steps = utils.best_time(one_step, device) * len(device_loader)
batch_speedup = seconds_usual / seconds_device
print(f"making the batches, DataLoader + ToTensor: {seconds_usual * 1e3:7.1f} ms per pass")
print(f"making the batches, DeviceLoader:          {seconds_device * 1e3:7.1f} ms per pass "
      f"({batch_speedup:.0f}x faster)")
print(f"LeNet's training steps on them:            {seconds_steps * 1e3:7.1f} ms per pass")
utils.glue("usual_ms", seconds_usual * 1e3)
utils.glue("steps_ms", seconds_steps * 1e3)
utils.glue("batch_speedup", batch_speedup)
utils.glue("batch_share", seconds_usual / seconds_steps)

# %% tags=["hide-input"]
assert batch_speedup > 10, batch_speedup   # a wide margin: see the printed ratio
# a tenth at least: measured from 0.18 (a Zen 5 CPU computing with AVX2 kernels on one
# thread) to over 0.5 on the CPUs the book is checked on; far more on a GPU
assert seconds_usual > 0.1 * seconds_steps, (seconds_usual, seconds_steps)

# %% [markdown]
# On the machine that built this page, making the batches of one pass took
# <span data-glue="usual_ms:.0f">6830</span> ms with the `DataLoader`, <span data-glue="batch_speedup:.0f">519</span>
# times as long as with the `DeviceLoader`, while LeNet's training steps on those
# batches took <span data-glue="steps_ms:.0f">10603</span> ms: the per-image pipeline adds
# <span data-glue="batch_share:.0%">64%</span> of the training time on top of it. The usual remedy is
# `num_workers`: worker processes that make batches while the main process trains. That
# hides the cost only where there are spare cores; on a 2-core laptop or a Colab machine
# the workers compete with the training step for the same cores. How the difference shows up in
# whole training runs, where the step's own cost dilutes it, is what `make bench`
# measures.
#
# ## Same seed, same batches
#
# A `DeviceLoader` with `shuffle=True` owns a `torch.Generator`. Every pass draws a new
# permutation from it, so the epochs differ, while two loaders built with the same seed
# (or one reseeded with `reseed`) repeat each other's passes. To see the order itself,
# give a loader labels that are the indices 0 to 19:

# %%
def passes(loader, k):
    """The label order of the next k passes of loader."""
    return [torch.cat([y for _, y in loader]).tolist() for _ in range(k)]


blank = torch.zeros(20, 28, 28, dtype=torch.uint8)
a = utils.DeviceLoader(blank, torch.arange(20), batch_size=8, shuffle=True, seed=0)
b = utils.DeviceLoader(blank, torch.arange(20), batch_size=8, shuffle=True, seed=0)
first, second = passes(a, 2)
print("pass 1:", first)
print("pass 2:", second)
assert sorted(first) == sorted(second) == list(range(20))   # each pass: every image once
assert first != second                                      # a new order every pass
assert passes(b, 2) == [first, second]                      # same seed, same passes
assert passes(a.reseed(0), 1) == [first]                    # reseeding repeats them
assert passes(utils.DeviceLoader(blank, torch.arange(20), 8, shuffle=True, seed=1), 1) != [first]

# %% [markdown]
# This is what makes `utils.train_seeds` meaningful: seed $s$ fixes both the initial
# weights (through `utils.seed_everything`) and the order of the batches (through the
# loader's own generator), so a run can be repeated exactly on the same machine, and
# the spread over seeds measures the luck of the draw. (On another machine the same
# seed gives the same batches but slightly different arithmetic, so the trajectories
# part ways; that is why the book's checks have margins.)
#
# ## What `train` reads back during an epoch
#
# The loop of `utils.train` is the one written out in the LeNet chapter, with one
# difference: it does not call `.item()` on every batch. On a GPU, `.item()` makes the
# CPU wait until the GPU has finished everything queued so far, so a loop that reads the
# loss every batch cannot queue the next batch while the GPU works. `train` adds the
# loss and the number of correct predictions into tensors on the device and reads them
# a fixed number of times per epoch, which is also when it checks the loss for NaN and
# redraws the live plot:

# %%
from utils.training import CHECKS_PER_EPOCH

print("reads of the running sums per epoch:", CHECKS_PER_EPOCH)
assert CHECKS_PER_EPOCH == 4

# %% [markdown]
# A NaN is not missed between reads: the loop records the first batch whose loss was not
# finite, on the device, and the error names it.
#
# ## Layout and precision, decided per device
#
# Two more choices change the speed but not the result (up to rounding): the memory
# layout of convolutions and the precision of the arithmetic. `utils.Speed` holds them;
# its default, all `None`, means "decide from the device and the model":
#
# | | CUDA | CPU | Apple MPS |
# |---|---|---|---|
# | mixed precision | bfloat16 at compute capability 8.0 and above; float16 with a gradient scaler below (Colab's T4) | off | off |
# | channels-last | for conv nets | while no convolution is wider than 256 channels | off |
#
# `train` takes these decisions from one function, `utils.speed.plan`, which you can
# ask directly. On this device, for LeNet and for ResNet-18 (whose last stage has 512
# channels):

# %%
from utils.speed import plan

for name, net in [("LeNet", utils.lenet()), ("ResNet-18", utils.resnet18())]:
    print(f"{name:<9}", plan(net, device).describe())
if device.type == "cpu":
    assert plan(utils.lenet(), device).channels_last
    assert not plan(utils.resnet18(), device).channels_last
    assert plan(utils.lenet(), device).autocast_dtype is None

# %% [markdown]
# The thresholds come from `make bench` on the CPUs the book was built on; pass
# `speed=utils.Speed(channels_last=False)` (or `amp=False`) to override them. Channels-
# last stores the same numbers in another order, so a network computes the same outputs
# up to rounding (the convolutions add in a different order):

# %% tags=["nbval-ignore-output"]
utils.seed_everything(0)
net = utils.lenet().eval()
X = torch.rand(64, 1, 28, 28)
with torch.no_grad():
    contiguous = net(X)
    reordered = net.to(memory_format=torch.channels_last)(
        X.to(memory_format=torch.channels_last))
difference = (contiguous - reordered).abs().max().item()
print(f"largest difference in the logits: {difference:.1e}")  # 0 on some CPUs

# %% tags=["hide-input"]
assert difference < 1e-4

# %% [markdown]
# `train` converts the model back to the ordinary layout when it returns, so code such
# as `net[3].weight.view(16, -1)` still works after training.
#
# ## Freed memory stays with the process
#
# A training step allocates its activations and gradients, and frees them at its end;
# the next step allocates the same sizes again. On Linux, the C library's allocator
# (glibc's `malloc`) decides, by thresholds that it adjusts as the program runs, whether
# freed memory at the top of its heap goes back to the operating system. When it does,
# the next step gets that memory back one 4 KiB page at a time, each first touch a
# *page fault* that the kernel serves before the step can go on. Whether it happens to a
# training cell depends on what earlier cells left in the heap, so the same cell can run
# at two speeds. On the CPU, `train` therefore calls `utils.speed.hold_freed_memory()`
# first, which fixes the two thresholds once per process: blocks up to 32 MiB come from
# the heap, and the heap is trimmed only when more than 1 GiB of it is free. The price
# is that a process keeps up to that much freed memory for reuse. Elsewhere than Linux
# with glibc it does nothing. (`plan(...).hold_memory` says whether `train` calls it.)
#
# To see the effect without timing anything, the cell below repeats what a step does to
# memory (32 blocks of 4 MiB, written, then freed) in two fresh Python processes, one
# with glibc's thresholds as a process starts and one after `hold_freed_memory`, and
# counts the page faults per step:

# %%
STEP_MEMORY = """
import resource, sys, torch
sys.path.insert(0, sys.argv[1])
import utils
if sys.argv[2] == "held":
    utils.speed.hold_freed_memory()
def step():   # 32 blocks of 4 MiB, as a step's activations and gradients, then freed
    blocks = [torch.empty(1 << 20).fill_(1.0) for _ in range(32)]
    del blocks
step()        # the first step's frees adjust glibc's thresholds
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


def faults_per_step(mode):
    """Page faults per step of STEP_MEMORY in a fresh process ('default' or 'held')."""
    out = subprocess.run([sys.executable, "-c", STEP_MEMORY, str(ROOT), mode],
                         capture_output=True, text=True, check=True)
    return float(out.stdout)


print("hold_memory in train's plan here:", plan(utils.lenet(), device).hold_memory)
glibc = utils.speed.hold_freed_memory()   # what train does here first: False without glibc
faults = {mode: faults_per_step(mode) for mode in ("default", "held")} if glibc else {}

# %% tags=["nbval-ignore-output"]
if faults:
    print(f"page faults per step: glibc's defaults {faults['default']:,.0f}, "
          f"held {faults['held']:,.0f}  (a step writes {32 * 4 * 2**20 // 4096:,} pages)")
else:
    print("not Linux with glibc: hold_freed_memory does nothing here")

# %% tags=["hide-input"]
if faults:
    assert faults["default"] > 1_000 and faults["held"] < faults["default"] / 10

# %% [markdown]
# With glibc's defaults the freed blocks are handed back after every step, and the next
# step faults thousands of pages in again (how many varies from process to process,
# with what importing PyTorch left in the heap); with the thresholds fixed, the step
# reuses its memory. How much time this saves a whole training run depends on the heap
# of the process, which is why `bench/README.md` ("Page faults") measures it in fresh
# processes.
#
# ## Stopping a run
#
# Pressing the notebook's stop button (or Ctrl-C in a terminal) during `utils.train`
# raises `KeyboardInterrupt` inside the loop. `train` catches it and ends cleanly: the
# model keeps the weights it has reached and the returned history holds the finished
# epochs, with `history.interrupted` set to `True`.
#
# A cell cannot press a button, but the data can do it: the wrapper below hands out a
# given number of batches and then raises `KeyboardInterrupt`, exactly where a keyboard
# interrupt would arrive.

# %%
class StopAfter:
    """Yield batches from `data_iter`; after `num_batches`, act like a press of stop."""

    def __init__(self, data_iter, num_batches):
        self.data_iter, self.num_batches, self.seen = data_iter, num_batches, 0

    def __iter__(self):
        for X, y in self.data_iter:
            if self.seen == self.num_batches:
                raise KeyboardInterrupt
            self.seen += 1
            yield X, y


small_train, small_test = utils.load_fashion_mnist(256, device=device, train_size=2048,
                                                   test_size=512)
print("batches per epoch:", len(small_train))

# %% [markdown]
# Ask for three epochs and stop after one and a half:

# %% tags=["nbval-ignore-output"]
utils.seed_everything(0)
demo_net = utils.lenet()
demo_net.apply(utils.init_xavier)
before = [p.detach().clone() for p in demo_net.parameters()]
demo = utils.train(demo_net, StopAfter(small_train, 12), small_test, num_epochs=3,
                   lr=0.9, device=device, plot=False)

# %%
changed = not all(torch.equal(a, b.cpu()) for a, b in
                  zip(before, (p.detach().cpu() for p in demo_net.parameters())))
print("interrupted:", demo.interrupted, "| finished epochs:", len(demo),
      "| weights kept the 12 updates:", changed)
assert demo.interrupted and len(demo) == 1 and changed

# %% [markdown]
# Nothing is lost: call `train` again to continue. Plain SGD keeps no state; for Adam or
# momentum, make the optimizer yourself and pass it as `optimizer=`, so that its running
# averages carry over (and `utils.save_checkpoint` saves both, see the chapter on
# [building models](../chapters/09_modules.ipynb)).
#
# ## How a comparison is decided
#
# Every page that compares two ways of training (a baseline and a treatment) decides
# the same way, with one helper, `utils.gain`, and words its sentence from it:
#
# - **Paired by seed.** Seed k gives both arms the same initial weights (where the
#   networks have the same shapes), the same order of batches and the same data. So the
#   unit of evidence is the per-seed difference, treatment minus baseline, and the gain
#   is the mean of these differences, with its standard error: their sample standard
#   deviation divided by the square root of the number of seeds. A seed that is hard
#   for both arms moves both, and drops out of the difference.
# - **The rule.** A difference is *resolved* when its 95% confidence interval, the mean
#   plus or minus Student's t quantile times the SE, excludes zero (the quantile is 4.30
#   for 3 seeds, 2.78 for 5: `utils.t_quantile(n - 1)`). Otherwise the page says "no
#   difference this budget resolves", whatever the sign of the mean. The sentence also
#   says on how many seeds the treatment was ahead.
# - **Labels.** A spread over seeds is a standard deviation, written "sd"; the
#   uncertainty of a mean difference is a standard error, written "SE".
# - **Settings on validation.** Learning rates are chosen by mean validation accuracy
#   over the seeds with `utils.sweep`, which tries one more rate beyond the end of the
#   grid whenever the best one sits there, and says which other rates the rule cannot
#   separate from the choice. The test set is scored once, on the chosen settings.
#
# Made-up accuracies of two arms on three seeds show why the pairing matters: seed 2
# is hard for both.

# %%
import statistics

baseline, treatment = [0.80, 0.70, 0.60], [0.82, 0.73, 0.625]
paired = utils.gain(baseline, treatment, names=("the baseline", "the treatment"))
print("per-seed differences:", [round(d, 3) for d in paired.diffs])
print(paired.verdict())
unpaired_se = (statistics.variance(baseline) / 3 + statistics.variance(treatment) / 3) ** 0.5
print(f"as two unrelated samples, the SE would be {unpaired_se:.3f}, and the interval "
      f"±{utils.t_quantile(2) * unpaired_se:.3f} would not exclude zero")

# %% tags=["hide-input"]
diffs = [t - b for b, t in zip(baseline, treatment, strict=True)]
assert paired.mean == statistics.fmean(diffs)
assert abs(paired.se - statistics.stdev(diffs) / 3 ** 0.5) < 1e-12
assert paired.resolved and abs(paired.mean) < utils.t_quantile(2) * unpaired_se

# %% [markdown]
# ## Summary
#
# - The images live on the training device as `uint8`, a quarter of the memory of
#   floats; each batch is one `index_select` and a division, and gives exactly the
#   floats of `ToTensor`.
# - Making batches that way is far cheaper than a per-image `DataLoader` without
#   workers, measured above; `make bench` measures what that is worth in whole runs.
# - Each shuffled pass is a permutation drawn from the loader's own seeded generator:
#   same seed, same batches.
# - `train` keeps its running sums on the device and reads them four times per epoch.
# - Channels-last and mixed precision are chosen per device and model, change only the
#   speed and the rounding, and can be overridden with `utils.Speed`.
# - On Linux, `train` keeps the memory that a step frees for the next step, instead of
#   letting the C allocator hand it back and fault it in again, page by page.
# - A stop press ends `train` cleanly with the weights reached so far.
# - Comparisons are paired by seed and decided by one rule, applied by `utils.gain`: a
#   difference counts when its 95% interval excludes zero.
