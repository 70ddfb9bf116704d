# %% [markdown]
# # Training on Several Processes with `torch.distributed`
#
# A ResNet at 96x96 pixels already wants a GPU, and ImageNet wants many of them. The
# standard way to use several devices, on one machine or many, is *data parallelism*:
# every process holds a full copy of the network, trains on its own slice of each batch,
# and the processes average their gradients before every update. This chapter does it
# with PyTorch's own engine, `torch.distributed` and `DistributedDataParallel` (DDP)
# started by `torchrun`, on the CPU with the `gloo` backend, so every cell runs on any
# machine; on GPUs the same script uses `nccl`, unchanged.
#
# **What you'll learn**
#
# - explain data parallelism: one replica per process, gradients averaged by an
#   all-reduce after `backward`, an effective batch that is the sum of the per-process
#   batches;
# - give every process its shard of each epoch with
#   `utils.load_fashion_mnist(..., rank=, world_size=)` and check that the shards are
#   disjoint and cover the data;
# - launch a training script with `torchrun --standalone --nproc_per_node=2` and check
#   that two processes at batch $b/2$ reach the same weights as one process at batch $b$;
# - time the all-reduce against the training step, and say when more processes pay off;
# - let rank 0 alone evaluate and save, handle a failing rank, and run the same script on
#   GPUs and on several machines.
#
# Prerequisites: [LeNet](05_lenet.ipynb) (the network and the training loop) and
# [building models with `nn.Module`](09_modules.ipynb) (checkpoints).

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
import socket
import tempfile
from pathlib import Path

import torch

import utils

sys.path.insert(0, str(ROOT / "scripts"))
import train_ddp  # noqa: E402  (scripts/train_ddp.py, the training script of this chapter)

profile = utils.get_profile()
utils.seed_everything(0)
torch.set_printoptions(precision=4)
work = Path(tempfile.mkdtemp(prefix="cnnbook-ddp-"))  # results and checkpoints of the runs

# %% [markdown]
# This notebook starts its own worker processes, so it does not pick a device for
# itself: the script gives each process one GPU when there is a GPU for every process,
# and the CPU otherwise. Two processes with `gloo` on the CPU is what ran for this page.
#
# ## Data parallelism in one picture
#
# Say one process trains with a minibatch of $b$ examples. With $P$ processes, each takes
# $b/P$ of them, runs the forward and backward pass on its share, and computes the
# gradient of the *mean* loss over its $b/P$ examples, $g_p$. An **all-reduce** then
# leaves on every process the same average
#
# $$\bar g = \frac{1}{P}\sum_{p=1}^{P} g_p
#   = \frac{1}{P}\sum_{p=1}^{P}\frac{P}{b}\sum_{i \in B_p}\nabla \ell_i
#   = \frac{1}{b}\sum_{i \in B}\nabla \ell_i,$$
#
# which is exactly the gradient one process would compute on the whole batch
# $B = B_1 \cup \dots \cup B_P$. Every replica applies the same update to the same
# weights, so the replicas stay identical without ever sending weights, only gradients.
# The *effective batch* is the sum of the per-process batches, $b$. DDP does the
# averaging for us: it hooks into `backward` and all-reduces the gradients in buckets
# while the backward pass is still running, so communication overlaps computation.
#
# Two things have to be true for the formula to hold: every process sees a *different*
# part of the batch (otherwise we would average copies), and all of them start from the
# same weights (DDP broadcasts rank 0's weights when it wraps the model).
#
# ## Every rank its shard of the data
#
# `torch.utils.data.DistributedSampler` gives each process its share of the indices of
# a `Dataset`. Our data lives on the device already (`utils.DeviceLoader`), so the
# loader does the same thing itself: with `rank` and `world_size`, every rank draws the
# *same* permutation of the training set each epoch (same seed) and keeps the positions
# `rank, rank + world_size, ...`. Here are three ranks' shards of 12 examples:

# %%
images = torch.zeros(12, 28, 28, dtype=torch.uint8)
labels = torch.arange(12)  # the "label" is the example's index, to see who gets what
shards = [utils.DeviceLoader(images, labels, batch_size=2, shuffle=True, seed=0,
                             rank=r, world_size=3) for r in range(3)]
for epoch in range(2):
    print(f"epoch {epoch}:", [[y.tolist() for _, y in loader] for loader in shards])

# %% [markdown]
# Each epoch the shards are disjoint and together they are the whole data set; the next
# epoch reshuffles, identically on every rank. Read down a column: the $k$-th batches of
# the three ranks together are the $k$-th batch of size 6 that a single process with the
# same seed draws, which is what the equivalence of the next sections rests on.

# %%
single = utils.DeviceLoader(images, labels, batch_size=6, shuffle=True, seed=0)
for loader in shards:
    loader.reseed(0)  # start the shards over from epoch 0, as `single` does
for _ in range(2):  # two epochs
    per_rank = [[y for _, y in loader] for loader in shards]
    for k, (_, y) in enumerate(single):
        together = torch.cat([batches[k] for batches in per_rank])
        assert torch.equal(y.sort().values, together.sort().values)
    seen = torch.cat([torch.cat(batches) for batches in per_rank])
    assert torch.equal(seen.sort().values, labels)  # disjoint, and their union is the data

# %% [markdown]
# `utils.load_fashion_mnist` passes `rank` and `world_size` to the training loader only:
# the test set stays whole, because only one process will evaluate. With
# `drop_last=True` the last incomplete *global* batch is dropped, so every rank takes the
# same number of steps; a rank with one batch more would wait forever in an all-reduce
# that nobody else joins. The checks are in `tests/test_data.py`; here is a real split:

# %%
budget = profile.budget("ddp")
for rank in range(2):
    train_iter, test_iter = utils.load_fashion_mnist(
        budget.batch_size // 2, train_size=budget.train_size, test_size=budget.test_size,
        rank=rank, world_size=2, drop_last=True)
    print(train_iter, "| test:", test_iter.num_examples)

# %% [markdown]
# ## The training script
#
# Processes are not started from inside a notebook cell with `torch.distributed`: the
# usual way is a script that `torchrun` starts once per process. `torchrun` sets each
# process's `RANK` (0 to `WORLD_SIZE - 1`), `LOCAL_RANK` (its index on this machine) and
# `WORLD_SIZE` in the environment, and runs a small rendezvous server through which the
# processes find each other. The book's script is
# [`scripts/train_ddp.py`](https://github.com/cnnbook/cnnbook/blob/main/scripts/train_ddp.py);
# its heart is ordinary training with four additions:
#
# ```python
# rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
# b = per_process_batch(args.batch_size, world_size)     # the global batch, split
# train_iter, test_iter = utils.load_fashion_mnist(
#     b, device=device, seed=args.seed, rank=rank, world_size=world_size, drop_last=True)
# dist.init_process_group("nccl" if device.type == "cuda" else "gloo")   # (1)
# utils.seed_everything(args.seed)
# ddp = DistributedDataParallel(utils.lenet_modern().to(device))         # (2)
# opt = torch.optim.SGD(ddp.parameters(), lr=args.lr)
# for X, y in train_iter:                                                # (3) a shard
#     opt.zero_grad()
#     loss_fn(ddp(X), y).backward()      # DDP all-reduces the mean gradient here
#     opt.step()
# if rank == 0:                                                          # (4)
#     test_acc = utils.evaluate_accuracy(ddp.module, test_iter)
#     utils.save_checkpoint(out / "checkpoint.pt", ddp.module, opt)
# dist.barrier()
# dist.destroy_process_group()
# ```
#
# `--batch-size` is the global batch $b$; each of the processes takes $b/P$. From Python,
# `train_ddp.launch(P, out, args)` runs
# `torchrun --standalone --nproc_per_node=P scripts/train_ddp.py ...` in a subprocess,
# keeps everything on 127.0.0.1 (`--local-addr`, and `GLOO_SOCKET_IFNAME=lo` for gloo's
# own connections), gives each worker one thread, and returns the `result.json` that rank
# 0 wrote. This is the command it runs for two processes:

# %%
cmd = train_ddp.torchrun_command(2, ["--epochs", str(budget.num_epochs)])
print(" ".join(["torchrun", *cmd[3:-3], "scripts/train_ddp.py", *cmd[-2:]]))

# %% [markdown]
# We train LeNet (the ReLU version, `utils.lenet_modern`) twice on the same data with the
# same seed and the same global batch: once with one process and once with two, which
# take half of each batch each. Both runs also time their steps afterwards, for the
# section after next.

# %%
print(budget.describe())
args = ["--epochs", str(budget.num_epochs), "--batch-size", str(budget.batch_size),
        "--lr", str(budget.lr), "--train-size", str(budget.train_size),
        "--test-size", str(budget.test_size), "--seed", "0", "--snapshot-step", "10",
        "--time-batches", "16", "128", "1024", "--time-repeats", "5"]
runs = {P: train_ddp.launch(P, work / f"P{P}", args, timeout=300) for P in (1, 2)}
for P, run in runs.items():
    print(f"{P} process(es), backend {run['backend']}: batch {run['per_process_batch']} "
          f"per process, {run['shard_examples']} examples each, {run['steps']} steps")

# %% [markdown]
# Both runs took the same number of steps on the same global batches, each process of
# the second run on half of every batch. Their losses after training and test
# accuracies (computed by rank 0 alone) are:

# %% tags=["nbval-ignore-output"]
for P, run in runs.items():
    print(f"{P} process(es): loss first {run['losses'][0]:.4f} last {run['losses'][-1]:.4f}"
          f"  test acc {run['test_acc']:.3f}  training {run['train_s']:.1f} s")

# %% tags=["remove-cell", "nbval-ignore-output"]
run = runs[2]
utils.history.emit_record(utils.history.RESULT_PREFIX, {
    "model": f"LeNet (ReLU), DDP on 2 processes ({run['backend']})",
    "profile": profile.name, "epochs": budget.num_epochs,
    "train_examples": budget.train_size, "test_acc": round(run["test_acc"], 4),
    "examples_per_sec": round(run["steps"] * run["batch_size"] / run["train_s"])})

# %%
for run in runs.values():
    assert run["losses"][-1] < run["losses"][0] and run["test_acc"] > 0.3

# %% [markdown]
# ## Same weights as one process
#
# By the formula above, the two runs must agree, not only on average but step by step:
# the same initial weights, the same global batches, the same mean gradient, the same
# update. They cannot agree to the last bit, because the two processes sum the gradient
# in a different order (half a batch each, then the all-reduce) than one process does,
# and floating-point addition is not associative. Rank 0 of each run saved its weights
# with `utils.save_checkpoint` after 10 steps (`--snapshot-step`) and at the end; we load
# them and compare the two runs parameter by parameter, next to how far training moved
# the weights from where they started:

# %%
def load_params(path):
    net = utils.lenet_modern()
    extra = utils.load_checkpoint(path, net)
    return net, extra, dict(net.named_parameters())


utils.seed_everything(0)
init = dict(utils.lenet_modern().named_parameters())  # both runs' start (same seed)
nets, snap, final = {}, {}, {}
for P in runs:
    _, extra, snap[P] = load_params(work / f"P{P}" / "snapshot.pt")
    nets[P], _, final[P] = load_params(work / f"P{P}" / "checkpoint.pt")
    assert extra["world_size"] == P and extra["steps"] == 10


def largest(a, b):
    return max((a[k] - b[k]).abs().max().item() for k in a)


table = {"after 10 steps": (largest(snap[1], snap[2]), largest(snap[1], init)),
         f"after {runs[1]['steps']} steps": (largest(final[1], final[2]),
                                             largest(final[1], init))}

# %% tags=["nbval-ignore-output"]
print(f"{'':>16} {'|one - two| max':>16} {'|one - start| max':>18}")
for when, (diff, moved) in table.items():
    print(f"{when:>16} {diff:>16.2e} {moved:>18.2e}")

# %% [markdown]
# After 10 steps the two runs' weights differ by rounding only, orders of magnitude less
# than training moved them. The cell below asserts every weight to a tolerance of
# $10^{-5}$ absolute there (float32 rounding over 10 steps stays far inside it, on any
# CPU or GPU). The table also shows what happens next: training amplifies the rounding
# differences, step after step, so by the end of training the two runs have drifted
# apart by an amount comparable to how far the weights moved, and only their accuracy
# (printed above) still agrees. This is the drift any two runs show that differ only in
# rounding, one process with another thread count or on another CPU included; it is
# not a difference between one and two processes, and it is why an equivalence check
# compares weights after a few steps.

# %%
TOL = 1e-5
for k in snap[1]:
    torch.testing.assert_close(snap[2][k], snap[1][k], rtol=0, atol=TOL)
(diff10, moved10), (diff_end, moved_end) = table.values()
assert moved10 > 100 * TOL and diff_end > diff10  # the rounding drift grows
assert abs(runs[1]["test_acc"] - runs[2]["test_acc"]) < 0.1
assert max(abs(a - c) for a, c in zip(runs[1]["losses"][:10], runs[2]["losses"][:10],
                                      strict=True)) < 1e-4
utils.glue("ddp_tol", TOL)

# %% [markdown]
# So two processes at batch $b/2$ are one process at batch $b$, computed in parallel:
# after 10 steps every weight agrees to <span data-glue="ddp_tol:.0e">1e-05</span>.
# The reason is the all-reduce of the *mean* gradient: each process's loss is a mean
# over its own examples, and averaging $P$ such means of equal-sized shards is the mean
# over the global batch. Two consequences follow. A model with batch normalization
# breaks the equivalence (each process normalizes with the statistics of its own
# $b/P$ examples, unless the layers are `nn.SyncBatchNorm`; see the exercises). And
# adding processes at a fixed *per-process* batch makes the effective batch larger,
# which changes training the way a larger batch does; the learning rate usually has to
# grow with it (the exercises measure the linear scaling rule).
#
# ## Rank 0 evaluates and saves
#
# After every update all replicas hold the same weights, so there is one model to
# evaluate and one checkpoint to write. Rank 0 alone does both: if every rank wrote
# `checkpoint.pt`, $P$ processes would write the same bytes to the same file at the same
# time (on a shared file system, $P$ times the traffic, and a reader could find a
# half-replaced file), and $P$ evaluations of one model would give one answer $P$ times.
# `ddp.module` is the plain network inside the DDP wrapper, so `utils.save_checkpoint`
# works unchanged and the file loads into an ordinary `nn.Module`, as above. The other
# ranks wait at `dist.barrier()` so that none of them exits, and tears down the process
# group, while rank 0 still works. The checkpoint gives back rank 0's accuracy:

# %%
acc = utils.evaluate_accuracy(nets[2], utils.load_fashion_mnist(
    256, train_size=budget.train_size, test_size=budget.test_size)[1])
assert abs(acc - runs[2]["test_acc"]) < 1e-6
print(f"test accuracy of the saved checkpoint equals rank 0's: {acc == runs[2]['test_acc']}")

# %% [markdown]
# (Evaluating on a large test set can be sharded too, each rank scoring its part and an
# all-reduce summing the correct counts; for 10,000 small images it is not worth it.)
#
# ## When do more processes pay off?
#
# Each step now has a cost one process does not pay: the all-reduce, which moves every
# gradient (LeNet has about 60,000 parameters) between the processes. Whether a second
# process pays off depends on how that cost compares with the computation it saves. Both
# runs above timed, after training, three kinds of work at global batches of 16, 128
# and 1024, each the median of several repeats: a full DDP step (forward, backward with
# the all-reduce, update), the same step inside `ddp.no_sync()` (no communication: the
# computation alone), and one explicit `all_reduce` of a buffer as large as all the
# gradients.

# %% tags=["nbval-ignore-output"]
rows = {(r["world_size"], r["batch_size"]): r for run in runs.values()
        for r in run["timings"]}
batches = sorted({b for _, b in rows})
print(f"{'batch':>6} {'P':>2} {'per proc':>8} {'step ms':>8} {'compute ms':>10} "
      f"{'all-reduce ms':>13} {'speed-up':>8}")
for b in batches:
    for P in (1, 2):
        r = rows[P, b]
        speedup = rows[1, b]["step_s"] / r["step_s"]
        print(f"{b:>6} {P:>2} {r['per_process_batch']:>8} {1e3 * r['step_s']:>8.2f} "
              f"{1e3 * r['compute_s']:>10.2f} {1e3 * r['allreduce_s']:>13.3f} "
              f"{speedup:>8.2f}")
share = {b: rows[2, b]["allreduce_s"] / rows[2, b]["step_s"] for b in batches}
pays = [b for b in batches if rows[1, b]["step_s"] > rows[2, b]["step_s"]]
utils.glue("ddp_share_small", 100 * share[batches[0]])
utils.glue("ddp_share_large", 100 * share[batches[-1]])
utils.glue("ddp_pays", f"from a global batch of {pays[0]} on" if pays
           else "at none of the batch sizes tried")

# %% [markdown]
# Read the table by rows of equal global batch. The all-reduce moves the same bytes at
# every batch size, the gradients, however many examples produced them (its measured time
# still varies here, with the load on the two shared cores), while the computation grows
# with the per-process batch. So the all-reduce's share of a
# two-process step falls from <span data-glue="ddp_share_small:.0f">13</span>% at the smallest batch to
# <span data-glue="ddp_share_large:.1f">3.4</span>% at the largest, and a second process paid off
# <span data-glue="ddp_pays">from a global batch of 1024 on</span> (the speed-up column: one process's step time over two
# processes'). This machine shares its cores with other work, so the timings are
# noisy; the cell below asserts only what follows from the argument, with wide margins.

# %% tags=["hide-input"]
assert share[batches[-1]] < share[batches[0]]  # communication matters less at large batches
assert rows[2, batches[-1]]["compute_s"] > rows[2, batches[0]]["compute_s"]
assert all(r["allreduce_s"] > 0 for r in rows.values())

# %% [markdown]
# The lesson carries over to GPUs, with other numbers: data parallelism pays off when
# each process has enough work per step to hide the all-reduce, which is why it is used
# with large per-process batches and large models, and why DDP overlaps the all-reduce
# with the backward pass (it starts reducing a bucket of gradients as soon as the bucket
# is ready). Two processes on two CPU cores is the smallest case: each process gets one
# core and half of every batch. (A speed-up above two at a large batch, if the table
# shows one, comes from the smaller per-process batches fitting the CPU's caches better,
# or from other work on the machine, not from the all-reduce.)
#
# ## On GPUs: NCCL, one process per GPU
#
# The script runs unchanged on a machine with $G$ GPUs:
# `torchrun --standalone --nproc_per_node=gpu scripts/train_ddp.py` starts one process
# per GPU. What changes inside is chosen from the environment:
#
# - **one process per GPU**, process `LOCAL_RANK` on GPU `LOCAL_RANK`:
#   `torch.cuda.set_device(local_rank)`, the data and the model go to
#   `cuda:<local_rank>`, and `DistributedDataParallel(net, device_ids=[local_rank])`.
#   `LOCAL_RANK` counts the processes *of this machine* (0 to $G-1$), `RANK` those of the
#   whole job; on one machine they are equal.
# - **the `nccl` backend** instead of `gloo`: NVIDIA's collectives library, which moves
#   the gradients GPU to GPU (NVLink or PCIe, InfiniBand between machines) without going
#   through the CPU. `gloo` also works on GPUs, but slowly; `nccl` does not work on CPU
#   tensors, and refuses two processes on the same GPU.
# - the timing needs `torch.cuda.synchronize()`, as the script's timing code does,
#   because GPU work is queued and returns before it is done.
#
# The script picks the GPU path when there is a GPU for every process on the machine
# (`--device auto`), and the CPU with `gloo` otherwise, which is what ran here.
#
# ## Failures: a rank that raises, a port in use, bad sizes
#
# In a job of $P$ processes that wait for each other in every all-reduce, one process
# that dies could leave the others waiting forever. `torchrun` watches its workers: when
# one exits with an error it stops the others and exits with an error itself. Our script
# records the failing rank's error, and `launch` reports it. Here rank 1 is told to fail
# at its third step, while rank 0 is already waiting for it in an all-reduce:

# %%
caught = None
try:
    train_ddp.launch(2, work / "fail", [*args[:12], "--fail-rank", "1", "--fail-step", "2"],
                     timeout=120)
except train_ddp.JobFailed as err:
    caught = err
assert caught is not None and "rank 1 of 2 failed: RuntimeError" in str(caught)
print(type(caught).__name__ + ":", caught)

# %% [markdown]
# The job ended (instead of hanging until a timeout) with rank 1's error. Without
# `launch`, `torchrun` prints the failing rank, its exit code and its traceback itself.
#
# `torchrun --standalone` picks a free port for its rendezvous. A fixed port (needed on
# several machines, below) can be taken by another job; `launch` checks it first and
# says so, instead of leaving the processes to fail at connecting:

# %%
with socket.socket() as busy:
    busy.bind(("127.0.0.1", 0))  # a free port, now taken by this socket
    busy.listen()
    port = busy.getsockname()[1]
    caught = None
    try:
        train_ddp.launch(2, work / "port", args, port=port)
    except OSError as err:
        caught = err
assert caught is not None and "already in use" in str(caught)
print(type(caught).__name__ + ":", str(caught).replace(str(port), "<port>"))

# %% [markdown]
# The script also refuses sizes that cannot work, before any process waits for
# another: a global batch smaller than the number of processes (a per-process batch
# below 1), and more processes than training examples (some rank would have no data).
# These are the functions every worker calls first:

# %%
for attempt in (lambda: train_ddp.per_process_batch(1, 2),
                lambda: utils.load_fashion_mnist(8, train_size=2, rank=0, world_size=3)):
    caught = None
    try:
        attempt()
    except ValueError as err:
        caught = err
    assert caught is not None
    print("ValueError:", caught)

# %% [markdown]
# ## On several machines
#
# Nothing in the script knows how many machines there are: `RANK` and `WORLD_SIZE` span
# all of them, `LOCAL_RANK` picks the GPU on each. What changes is the launch. On each of
# two machines with 8 GPUs, start `torchrun` with the same rendezvous endpoint, a host
# and port that every machine can reach (here the first machine, `node0`); this command,
# run on each machine, starts 2 x 8 = 16 processes:
#
# ```bash
# torchrun --nnodes=2 --nproc_per_node=8 \
#     --rdzv-backend=c10d --rdzv-endpoint=node0:29400 --rdzv-id=lenet-42 \
#     scripts/train_ddp.py --epochs 10 --batch-size 4096 --out runs/lenet-42
# ```
#
# The `c10d` rendezvous runs on the endpoint's machine; the agents meet there, agree on
# the ranks, and start their workers. Under the SLURM scheduler one task per machine
# runs the same command, with the endpoint taken from the job's first host (a batch
# script for `sbatch`; the cell only prints it):

# %%
SLURM_SCRIPT = """\
#!/bin/bash
#SBATCH --nodes=2 --ntasks-per-node=1 --gpus-per-node=8 --cpus-per-task=32
head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
srun torchrun --nnodes="$SLURM_NNODES" --nproc_per_node=8 \\
    --rdzv-backend=c10d --rdzv-endpoint="$head:29400" --rdzv-id="$SLURM_JOB_ID" \\
    scripts/train_ddp.py --epochs 10 --batch-size 4096 --out "runs/$SLURM_JOB_ID"
"""
print(SLURM_SCRIPT, end="")
assert SLURM_SCRIPT.startswith("#!/bin/bash\n")

# %% [markdown]
# (These are shown, not run: this page was executed on one machine.) Between machines the
# all-reduce crosses the network, which is slower than NVLink between the GPUs of one
# machine, so the per-process work has to be larger still for it to pay off.
#
# Data parallelism keeps a full copy of the model, its gradients and the optimizer's
# state on every device. For a model that does not fit one device, the next step is
# *fully sharded* data parallelism, `torch.distributed.fsdp` (FSDP), which splits the
# weights, gradients and optimizer state across the processes and gathers each layer's
# weights only while it computes; beyond that come tensor and pipeline parallelism,
# which split the layers themselves.
#
# ## Summary
#
# - Data parallelism: every process holds a replica, trains on its shard of each batch,
#   and DDP all-reduces the gradients during `backward`; the effective batch is the sum
#   of the per-process batches.
# - `utils.load_fashion_mnist(..., rank=, world_size=)` shards each epoch of the training
#   set: the same permutation on every rank, disjoint shards whose union is the data,
#   and with `drop_last=True` the same number of steps on every rank.
# - After 10 steps, two processes at batch $b/2$ held the same weights as one process at
#   batch $b$, every weight within <span data-glue="ddp_tol:.0e">1e-05</span>, because the all-reduce
#   averages mean gradients of equal shards. Trained to the end, the two runs drifted
#   apart by rounding, as any two runs that differ only in rounding do; their
#   accuracies still agree.
# - The all-reduce moves the same bytes, the gradients, at every batch size; more
#   processes pay off only when each has enough computation per step to outweigh it.
# - Rank 0 alone evaluates and saves (`utils.save_checkpoint(..., ddp.module)`); a
#   failing rank ends the whole job; on GPUs the same script uses `nccl` and one process
#   per GPU, and `torchrun --nnodes` with a `c10d` rendezvous spans machines.
#
# ## Exercises
#
# Answers, with code that runs, are in the
# [exercise notebook](../exercises/11_distributed.ipynb).
#
# 1. Gradient accumulation: with one process, sum the gradients of $k$ micro-batches of
#    $b/k$ examples before each update. Show that it gives the same weights as batch $b$.
# 2. The linear scaling rule says: multiply the batch by $k$, multiply the learning rate
#    by $k$. Measure what happens to a larger effective batch with and without it.
# 3. With plain `nn.BatchNorm2d`, each process normalizes with the statistics of its own
#    per-process batch. What goes wrong at small per-process batches, and what does
#    `nn.SyncBatchNorm` change? Measure it.
# 4. How many bytes does one step's all-reduce move for LeNet, and for ResNet-18?
#    Compute it from the parameter counts.
