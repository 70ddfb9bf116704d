"""Train LeNet on Fashion-MNIST with ``DistributedDataParallel``, one process per device.

Run it with ``torchrun``, which starts the processes and gives each its ``RANK``,
``LOCAL_RANK`` and ``WORLD_SIZE``::

    torchrun --standalone --nproc_per_node=2 scripts/train_ddp.py --epochs 2 --out runs/ddp

On CPUs the processes talk through ``gloo``; with one CUDA GPU per process they use
``nccl`` and process ``LOCAL_RANK`` drives GPU ``LOCAL_RANK``. Nothing else changes.
``--batch-size`` is the *global* batch: each of the ``WORLD_SIZE`` processes takes
``batch_size // WORLD_SIZE`` examples of every step, its own shard of the data
(``utils.load_fashion_mnist(..., rank=, world_size=)``), and ``DistributedDataParallel``
averages the gradients over the processes after ``backward``. Rank 0 alone evaluates,
writes ``result.json`` and saves the checkpoint (``utils.save_checkpoint``).

A rank that raises writes its error to ``error-rank<R>.txt`` under ``--out`` and exits
non-zero; torchrun then stops the other ranks, so the job ends instead of waiting in
an all-reduce. :func:`launch` runs the script under torchrun from Python (the book's
chapter 11 does), binds to 127.0.0.1 only, refuses a port that is in use with a clear
message, and raises :class:`JobFailed` naming the rank that failed and its error.
"""

from __future__ import annotations

import argparse
import datetime
import errno
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the book's utils importable
    sys.path.insert(0, str(ROOT))

import utils  # noqa: E402

LOCALHOST = "127.0.0.1"


class JobFailed(RuntimeError):
    """A torchrun job ended with an error; the message names the rank and its error."""


# ----------------------------------------------------------------------------- checks


def per_process_batch(batch_size: int, world_size: int) -> int:
    """Split the global batch over the processes.

    Args:
        batch_size: examples per optimizer step, over all processes together.
        world_size: number of processes.

    Returns:
        The batch of each process, ``batch_size // world_size``.

    Raises:
        ValueError: the per-process batch would be smaller than 1, or the global
            batch does not split evenly (the processes' gradients would then be
            averaged with unequal weights).
    """
    if batch_size < world_size:
        raise ValueError(f"global batch {batch_size} over {world_size} processes gives a "
                         f"per-process batch of {batch_size // world_size} (< 1): use a "
                         f"batch of at least {world_size} or fewer processes")
    if batch_size % world_size:
        raise ValueError(f"global batch {batch_size} does not split evenly over "
                         f"{world_size} processes: use a multiple of {world_size}")
    return batch_size // world_size


def check_port(port: int, host: str = LOCALHOST) -> None:
    """Check that ``port`` on ``host`` is free for the rendezvous store.

    Raises:
        OSError: (``EADDRINUSE``) the port is taken; the message says what to do.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as err:
            if err.errno != errno.EADDRINUSE:
                raise
            raise OSError(errno.EADDRINUSE,
                          f"port {port} on {host} is already in use (another job, or a "
                          "previous one that did not end?): pass another port, or "
                          "port=None to let torchrun --standalone pick a free one") from None


# ---------------------------------------------------------------------------- workers


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the command line of one worker."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=256,
                   help="global batch: examples per step over all processes")
    p.add_argument("--epochs", type=int, default=1, help="passes over the training set")
    p.add_argument("--steps", type=int, default=None,
                   help="stop after this many optimizer steps (default: all epochs)")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--snapshot-step", type=int, default=None,
                   help="rank 0 also saves the weights after this many steps (snapshot.pt)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-size", type=int, default=None)
    p.add_argument("--test-size", type=int, default=None)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto: one CUDA GPU per process if there are enough, else CPU")
    p.add_argument("--out", type=Path, default=Path("runs/ddp"))
    p.add_argument("--time-batches", type=int, nargs="*", default=[],
                   help="after training, time steps at these global batch sizes")
    p.add_argument("--time-repeats", type=int, default=10)
    p.add_argument("--fail-rank", type=int, default=None,
                   help="(to see failure handling) this rank raises at --fail-step")
    p.add_argument("--fail-step", type=int, default=2)
    return p.parse_args(argv)


def pick_device(choice: str, local_rank: int, local_world_size: int) -> torch.device:
    """One CUDA GPU per process (GPU ``LOCAL_RANK``) when asked or available, else CPU.

    Raises:
        ValueError: ``cuda`` was asked for but there are fewer GPUs than processes.
    """
    gpus = torch.cuda.device_count()
    if choice == "cuda" and gpus < local_world_size:
        raise ValueError(f"{local_world_size} processes on this machine but {gpus} CUDA "
                         "GPUs: nccl wants one GPU per process; use --device cpu")
    if choice == "cuda" or (choice == "auto" and gpus >= local_world_size > 0):
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (timing on a GPU needs it)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_time(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls, after one warm-up call,
    with every rank starting each call together."""
    fn()
    times = []
    for _ in range(repeats):
        dist.barrier()
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_steps(ddp: DistributedDataParallel, opt: torch.optim.Optimizer,
               batch_sizes: Sequence[int], world_size: int, device: torch.device,
               repeats: int) -> list[dict[str, float]]:
    """Time one training step, its computation alone and one all-reduce of the gradients.

    For each global batch: the full step (forward, backward with DDP's all-reduce,
    update); the same step inside ``ddp.no_sync()`` (no communication); and an
    explicit ``all_reduce`` of a buffer as large as all the gradients.
    The weights are restored afterwards.
    """
    saved = {k: v.clone() for k, v in ddp.module.state_dict().items()}
    loss_fn = nn.CrossEntropyLoss()
    grads = torch.zeros(utils.num_params(ddp.module), device=device)
    rows = []
    for batch_size in batch_sizes:
        b = per_process_batch(batch_size, world_size)
        X = torch.rand(b, 1, 28, 28, device=device)
        y = torch.randint(0, 10, (b,), device=device)

        def step(X: torch.Tensor = X, y: torch.Tensor = y) -> None:
            opt.zero_grad(set_to_none=True)
            loss_fn(ddp(X), y).backward()
            opt.step()

        def compute(X: torch.Tensor = X, y: torch.Tensor = y) -> None:
            with ddp.no_sync():  # the same step without DDP's all-reduce
                opt.zero_grad(set_to_none=True)
                loss_fn(ddp(X), y).backward()
            opt.step()

        rows.append({"world_size": world_size, "batch_size": batch_size,
                     "per_process_batch": b,
                     "step_s": median_time(step, device, repeats),
                     "compute_s": median_time(compute, device, repeats),
                     "allreduce_s": median_time(lambda: dist.all_reduce(grads), device,
                                                repeats)})
    ddp.module.load_state_dict(saved)
    return rows


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """Train on this process's shard; rank 0 evaluates and saves. Returns rank 0's result.

    Raises:
        ValueError: a per-process batch below 1, more processes than training examples.
    """
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
    b = per_process_batch(args.batch_size, world_size)  # refuse before any collective
    device = pick_device(args.device, local_rank, local_world_size)
    train_iter, test_iter = utils.load_fashion_mnist(
        b, device=device, train_size=args.train_size, test_size=args.test_size,
        seed=args.seed, rank=rank, world_size=world_size, drop_last=True)
    if len(train_iter) == 0:
        raise ValueError(f"{train_iter.num_examples * world_size} training examples make "
                         f"no full global batch of {args.batch_size}: use a smaller batch "
                         "or more data")
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=60))
    try:
        torch.backends.cudnn.allow_tf32 = False  # same arithmetic whatever the world size
        torch.backends.cuda.matmul.allow_tf32 = False
        utils.seed_everything(args.seed)  # same initial weights on every rank ...
        net = utils.lenet_modern()
        # ... and DDP broadcasts rank 0's anyway; device_ids only on a GPU.
        ddp = DistributedDataParallel(net.to(device),
                                      device_ids=[local_rank] if device.type == "cuda"
                                      else None)
        opt = torch.optim.SGD(ddp.parameters(), lr=args.lr)
        loss_fn = nn.CrossEntropyLoss()
        losses: list[float] = []
        steps = args.epochs * len(train_iter) if args.steps is None else args.steps
        step = 0
        start = time.perf_counter()
        while step < steps:
            for X, y in train_iter:
                if step == steps:
                    break
                if rank == args.fail_rank and step == args.fail_step:
                    raise RuntimeError(f"rank {rank} was told to fail at step {step} "
                                       "(--fail-rank)")
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(ddp(X), y)  # mean over this rank's b examples
                loss.backward()  # DDP all-reduces the gradients: their mean over ranks
                opt.step()
                if rank == 0 and step + 1 == args.snapshot_step:
                    utils.save_checkpoint(args.out / "snapshot.pt", ddp.module,
                                          steps=step + 1, world_size=world_size)
                mean_loss = loss.detach().clone()
                dist.all_reduce(mean_loss)  # a sum (gloo has no average) ...
                losses.append(float(mean_loss) / world_size)  # ... over the ranks
                step += 1
        sync(device)
        train_s = time.perf_counter() - start
        timings = time_steps(ddp, opt, args.time_batches, world_size, device,
                             args.time_repeats)
        result: dict[str, Any] = {}
        if rank == 0:  # one copy of the weights: one process evaluates and saves
            result = {"world_size": world_size, "backend": backend,
                      "device": device.type, "batch_size": args.batch_size,
                      "per_process_batch": b, "steps": steps,
                      "shard_examples": train_iter.num_examples, "losses": losses,
                      "train_s": train_s,
                      "test_acc": utils.evaluate_accuracy(ddp.module, test_iter),
                      "timings": timings}
            args.out.mkdir(parents=True, exist_ok=True)
            utils.save_checkpoint(args.out / "checkpoint.pt", ddp.module, opt,
                                  steps=steps, world_size=world_size)
            (args.out / "result.json").write_text(json.dumps(result, indent=1))
        dist.barrier()  # nobody leaves while rank 0 still saves
        return result
    finally:
        dist.destroy_process_group()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of one worker: run it, and on an error record it for the launcher."""
    args = parse_args(argv)
    rank = int(os.environ.get("RANK", -1))
    if rank < 0:
        print("start this script with torchrun, e.g. torchrun --standalone "
              "--nproc_per_node=2 scripts/train_ddp.py", file=sys.stderr)
        return 2
    try:
        worker(args)
    except Exception as err:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"error-rank{rank}.txt").write_text(
            f"{type(err).__name__}: {err}\n\n{traceback.format_exc()}")
        traceback.print_exc()
        return 1
    return 0


# --------------------------------------------------------------------------- launcher


def torchrun_command(nproc: int, script_args: Sequence[str],
                     port: int | None = None) -> list[str]:
    """The torchrun command line that starts ``nproc`` workers on this machine.

    Without ``port``: ``--standalone`` (torchrun picks a free port). With one: a
    ``c10d`` rendezvous at ``127.0.0.1:port``. Either way the workers connect
    through 127.0.0.1 only (``--local-addr``).
    """
    where = (["--standalone"] if port is None else
             ["--nnodes=1", "--rdzv-backend=c10d", f"--rdzv-endpoint={LOCALHOST}:{port}"])
    return [sys.executable, "-m", "torch.distributed.run", *where,
            f"--nproc_per_node={nproc}", f"--local-addr={LOCALHOST}",
            "--max-restarts=0", str(Path(__file__).resolve()), *script_args]


def launch(nproc: int, out: str | os.PathLike[str], script_args: Sequence[str] = (),
           port: int | None = None, timeout: float = 300,
           threads: int = 1) -> dict[str, Any]:
    """Run this script under torchrun with ``nproc`` processes and return rank 0's result.

    Args:
        nproc: processes on this machine (``--nproc_per_node``).
        out: folder for ``result.json``, ``checkpoint.pt`` and error files (emptied first).
        script_args: the script's own arguments (``--steps 20``, ...), without ``--out``.
        port: rendezvous port on 127.0.0.1 (default: a free one, ``--standalone``).
        timeout: seconds before the whole job is killed.
        threads: ``OMP_NUM_THREADS`` of each worker.

    Returns:
        The ``result.json`` that rank 0 wrote.

    Raises:
        OSError: ``port`` is already in use (:func:`check_port`).
        JobFailed: a worker failed; the message names the rank and its error.
    """
    out = Path(out)
    if port is not None:
        check_port(port)
    out.mkdir(parents=True, exist_ok=True)
    for old in (*out.glob("error-rank*.txt"), out / "result.json"):
        old.unlink(missing_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "GLOO_SOCKET_IFNAME": "lo",
           "MASTER_ADDR": LOCALHOST, "PYTHONUNBUFFERED": "1"}
    cmd = torchrun_command(nproc, [*script_args, "--out", str(out)], port)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    errors = sorted(out.glob("error-rank*.txt"), key=lambda p: p.stat().st_mtime)
    if errors:  # the first rank that failed; the others were stopped by torchrun
        rank = errors[0].stem.removeprefix("error-rank")
        raise JobFailed(f"rank {rank} of {nproc} failed: "
                        + errors[0].read_text().splitlines()[0])
    if proc.returncode != 0 or not (out / "result.json").is_file():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise JobFailed(f"torchrun exited with {proc.returncode}:\n{tail}")
    return json.loads((out / "result.json").read_text())


if __name__ == "__main__":
    sys.exit(main())
