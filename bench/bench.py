"""How fast does utils train, next to the usual DataLoader pipeline and the compute bound?

    python bench/bench.py [--epochs N] [--resnet-batches K] [--threads T] [--compile]

Runs in ONE process, on the same data and device, one model at a time:

(a) reference: ``torchvision.datasets.FashionMNIST`` with ``ToTensor()``, a
    ``DataLoader`` with 4 worker processes, and a per-batch loop that reads the
    loss and the accuracy back with ``.item()``; evaluation under ``no_grad``.
(b) ``utils.load_fashion_mnist`` + ``utils.train`` (``plot=False``), defaults.
(c) limit: the same model stepping over float batches made beforehand and kept
    in memory, with nothing else in the loop (no accounting, no evaluation);
    (c, channels_last) the same with the model in the channels-last layout.
(d) d2l 1.0.3's own ``d2l.train_ch6`` on its own ``d2l.load_data_fashion_mnist``
    (the data linked where d2l looks for it, ``../data`` of a scratch folder),
    its animated plot included; when d2l is installed and the task trains on
    the whole training set. Its time is the wall time of the call, evaluation
    included, and it re-initializes the weights itself (Xavier, as (a)-(c)).

LeNet (the classic one: sigmoid, average pooling, Xavier init, SGD, batch 256,
lr 0.9) trains for whole epochs; ResNet-18 at the quick profile's input size
trains on a fixed number of batches. Every pipeline starts from the same
initial weights; the shuffling seeds differ between (a) and (b). A throw-away
warm-up of every pipeline runs first. Ratios are measured within one run; on a
shared machine absolute numbers depend on the load, which is printed.

On Linux with glibc, malloc's thresholds are fixed first, as ``utils.train``
fixes them (``utils.speed.hold_freed_memory``), and every pipeline's minor page
faults per training batch are reported: with glibc's dynamic thresholds one
pipeline or another can spend a fifth of its time faulting its working memory
back in (``bench/allocator.py`` measures it for utils.train). After the rounds,
LeNet's (b) and channels-last (c) also alternate short runs on the same batches
(``--pairs``), a ratio that the machine's drift disturbs less than whole rounds.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import utils  # noqa: E402
from utils.data import resolve_data_root  # noqa: E402


def cpu_time() -> float:
    """CPU seconds of this process (all threads) and of its finished child processes.

    DataLoader workers are children that exit (and are counted) at the end of
    every epoch, so the reference pipeline's CPU time includes its workers.
    """
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def page_faults() -> int:
    """Minor page faults of this process so far (not of its DataLoader workers).

    A fault means memory the allocator had handed back to the system is being
    touched again; thousands per batch are time spent outside the step.
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


@dataclass
class Result:
    """What one pipeline measured."""

    name: str
    examples: int = 0
    train_seconds: float = 0.0
    train_cpu: float = 0.0
    epoch_seconds: list[float] = field(default_factory=list)
    test_acc: float = float("nan")
    note: str = ""
    batches: int = 0
    faults: int = 0   # minor page faults of this process while training

    @property
    def faults_per_batch(self) -> float:
        return self.faults / self.batches if self.batches else float("nan")

    @property
    def rate(self) -> float:
        return self.examples / self.train_seconds if self.train_seconds else float("nan")

    @property
    def cpu_rate(self) -> float:
        return self.examples / self.train_cpu if self.train_cpu else float("nan")

    @property
    def epoch_wall(self) -> float:
        return statistics.fmean(self.epoch_seconds) if self.epoch_seconds else float("nan")


@dataclass
class Task:
    """One model to benchmark and its budget."""

    name: str
    make_net: Callable[[], nn.Module]
    batch_size: int
    lr: float
    epochs: int
    train_size: int | None
    test_size: int | None
    resize: int | None


# ---------------------------------------------------------------- (a) reference


def _torchvision_sets(task: Task, seed: int):
    import torchvision
    from torchvision import transforms

    root, _ = resolve_data_root()
    steps = [transforms.Resize(task.resize)] if task.resize else []
    trans = transforms.Compose([*steps, transforms.ToTensor()])
    train = torchvision.datasets.FashionMNIST(root=str(root), train=True, download=False,
                                              transform=trans)
    test = torchvision.datasets.FashionMNIST(root=str(root), train=False, download=False,
                                             transform=trans)
    gen = torch.Generator().manual_seed(seed)
    if task.train_size is not None:
        train = torch.utils.data.Subset(
            train, torch.randperm(len(train), generator=gen)[:task.train_size].tolist())
    if task.test_size is not None:
        test = torch.utils.data.Subset(
            test, torch.randperm(len(test), generator=gen)[:task.test_size].tolist())
    return train, test


def run_reference(net: nn.Module, task: Task, device: torch.device, workers: int,
                  seed: int = 0) -> Result:
    """(a): the pipeline most tutorials write."""
    from torch.utils.data import DataLoader

    torch.manual_seed(seed)
    train_set, test_set = _torchvision_sets(task, seed)
    train_iter = DataLoader(train_set, task.batch_size, shuffle=True, num_workers=workers)
    test_iter = DataLoader(test_set, task.batch_size, shuffle=False, num_workers=workers)
    net.to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=task.lr)
    loss_fn = nn.CrossEntropyLoss()
    result = Result(f"(a) DataLoader, {workers} workers")
    for _ in range(task.epochs):
        t0, c0, f0 = time.perf_counter(), cpu_time(), page_faults()
        net.train()
        total_loss, correct, n = 0.0, 0, 0
        for X, y in train_iter:
            X, y = X.to(device), y.to(device)
            optimizer.zero_grad()
            y_hat = net(X)
            loss = loss_fn(y_hat, y)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * y.numel()
            correct += (y_hat.argmax(dim=1) == y).sum().item()
            n += y.numel()
            result.batches += 1
        train_seconds = time.perf_counter() - t0
        result.train_cpu += cpu_time() - c0
        result.faults += page_faults() - f0
        net.eval()
        right, seen = 0, 0
        with torch.no_grad():
            for X, y in test_iter:
                X, y = X.to(device), y.to(device)
                right += (net(X).argmax(dim=1) == y).sum().item()
                seen += y.numel()
        result.examples += n
        result.train_seconds += train_seconds
        result.epoch_seconds.append(time.perf_counter() - t0)
        result.test_acc = right / seen
    return result


# ---------------------------------------------------------------- (d) d2l


def run_d2l(net: nn.Module, task: Task, device: torch.device, workdir: Path) -> Result:
    """(d): d2l's train_ch6 with its own data loader, as a d2l reader runs it."""
    import contextlib
    import io

    import matplotlib
    matplotlib.use("Agg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from d2l import torch as d2l

    here = os.getcwd()
    os.chdir(workdir)   # d2l reads ../data
    try:
        train_iter, test_iter = d2l.load_data_fashion_mnist(task.batch_size, task.resize)
        t0, c0, f0 = time.perf_counter(), cpu_time(), page_faults()
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")   # its plot warns for a 1-epoch x-axis
            d2l.train_ch6(net, train_iter, test_iter, task.epochs, task.lr, device)
        seconds, cpu = time.perf_counter() - t0, cpu_time() - c0
        faults = page_faults() - f0   # evaluation included: it runs inside train_ch6
    finally:
        os.chdir(here)
    result = Result("(d) d2l.train_ch6", note="wall time includes its evaluation and plot")
    result.examples = task.epochs * len(train_iter.dataset)
    result.train_seconds, result.train_cpu = seconds, cpu
    result.batches, result.faults = task.epochs * len(train_iter), faults
    result.epoch_seconds = [seconds / task.epochs] * task.epochs
    result.test_acc = d2l.evaluate_accuracy_gpu(net, test_iter)
    return result


def d2l_workdir() -> Path | None:
    """A scratch folder whose ../data/FashionMNIST/raw links to the book's data."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import d2l.torch  # noqa: F401
    except ImportError:
        return None
    root, _ = resolve_data_root()
    scratch = Path(tempfile.mkdtemp(prefix="cnnbook-d2l-"))
    raw = scratch / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for f in (root / "FashionMNIST" / "raw").iterdir():
        (raw / f.name).symlink_to(f.resolve())
    (scratch / "work").mkdir()
    return scratch / "work"


# ---------------------------------------------------------------- (b) utils


class _StampedLoader(utils.DeviceLoader):
    """A DeviceLoader that notes the CPU time its passes take (the evaluations)."""

    eval_cpu = 0.0
    eval_faults = 0

    def __iter__(self):
        c0, f0 = cpu_time(), page_faults()
        yield from super().__iter__()
        self.eval_cpu += cpu_time() - c0
        self.eval_faults += page_faults() - f0


def run_utils(net: nn.Module, task: Task, device: torch.device, seed: int = 0,
              **speed_kwargs) -> Result:
    """(b): utils.load_fashion_mnist + utils.train."""
    train_iter, test_iter = utils.load_fashion_mnist(
        task.batch_size, task.resize, device=device, train_size=task.train_size,
        test_size=task.test_size, seed=seed)
    test_iter = _StampedLoader(test_iter.images, test_iter.labels, test_iter.batch_size,
                               resize=test_iter.resize)
    c0, f0 = cpu_time(), page_faults()
    history = utils.train(net, train_iter, test_iter, task.epochs, task.lr, device=device,
                          plot=False, verbose=False, speed=utils.Speed(**speed_kwargs))
    cpu, faults = cpu_time() - c0, page_faults() - f0
    extra = ", ".join(f"{k}={v}" for k, v in speed_kwargs.items())
    result = Result("(b) utils.train" + (f" ({extra})" if extra else ""))
    result.train_cpu = cpu - test_iter.eval_cpu
    result.faults = faults - test_iter.eval_faults
    for record in history:
        result.examples += train_iter.num_examples
        result.train_seconds += train_iter.num_examples / record["examples_per_sec"]
        result.epoch_seconds.append(record["seconds"])
        result.batches += len(train_iter)
    result.test_acc = history.last["test_acc"]
    return result


# ---------------------------------------------------------------- (c) limit


def run_limit(net: nn.Module, task: Task, device: torch.device, channels_last: bool,
              seed: int = 0, bf16: bool = False, compiled: bool = False) -> Result:
    """(c): only the training steps, over float batches made beforehand.

    ``bf16`` adds CPU/CUDA autocast to bfloat16 and ``compiled`` wraps the model
    in ``torch.compile`` (its compile time is measured apart, on a first and a
    last batch, and printed in the note): ways to go past the eager limit.
    """
    train_iter, test_iter = utils.load_fashion_mnist(
        task.batch_size, task.resize, device=device, train_size=task.train_size,
        test_size=task.test_size, seed=seed)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    batches = [(X.contiguous(memory_format=fmt), y) for X, y in train_iter]
    net.to(device)
    if channels_last:
        net.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(net.parameters(), lr=task.lr)
    tags = ["channels_last"] if channels_last else []
    tags += ["bf16 autocast"] if bf16 else []
    tags += ["torch.compile"] if compiled else []
    result = Result("(c) limit: float batches in memory" + "".join(", " + t for t in tags))
    model = torch.compile(net) if compiled else net

    def step(X: torch.Tensor, y: torch.Tensor) -> None:
        limit_step(model, optimizer, X, y, device, bf16)

    net.train()
    notes = ["epoch time: training only"]
    if compiled:
        t0 = time.perf_counter()
        for X, y in {batches[0][0].shape: batches[0], batches[-1][0].shape: batches[-1]}.values():
            step(X, y)
        _sync(device)
        notes.append(f"compiling took {time.perf_counter() - t0:.0f} s, not counted; earlier "
                     "compiles in this run may have cached parts")
    for _ in range(task.epochs):
        _sync(device)
        t0, c0, f0 = time.perf_counter(), cpu_time(), page_faults()
        for X, y in batches:
            step(X, y)
        _sync(device)
        seconds = time.perf_counter() - t0
        result.train_cpu += cpu_time() - c0
        result.faults += page_faults() - f0
        result.batches += len(batches)
        result.train_seconds += seconds
        result.epoch_seconds.append(seconds)
        result.examples += sum(y.numel() for _, y in batches)
    result.test_acc = utils.evaluate_accuracy(net, test_iter)  # not timed
    result.note = "; ".join(notes)
    return result


def limit_step(model: nn.Module, optimizer: torch.optim.Optimizer, X: torch.Tensor,
               y: torch.Tensor, device: torch.device, bf16: bool = False) -> None:
    """One step of (c): zero_grad, forward, loss, backward, step, and nothing else."""
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        loss = nn.functional.cross_entropy(model(X), y)
    loss.backward()
    optimizer.step()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_eval(net: nn.Module, task: Task, device: torch.device, batch_size: int,
             channels_last: bool, repeats: int = 3) -> float:
    """Test examples per second of ``utils.evaluate_accuracy`` (best of ``repeats``)."""
    _, test_iter = utils.load_fashion_mnist(batch_size, task.resize, device=device,
                                            train_size=batch_size, test_size=task.test_size)
    net.to(device)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        utils.evaluate_accuracy(net, test_iter, speed=utils.Speed(channels_last=channels_last))
        best = min(best, time.perf_counter() - t0)
    return test_iter.num_examples / best


# ---------------------------------------------------------------- components


def components(device: torch.device, repeats: int = 200) -> None:
    """Per-batch cost of each piece of (b) that (c) does not have, next to a LeNet step.

    Timed with the thread's CPU clock when PyTorch uses one thread (robust on a
    busy machine), else with the wall clock; the best of three passes.
    """
    clock = time.thread_time if torch.get_num_threads() == 1 and device.type == "cpu" \
        else time.perf_counter
    train_iter, _ = utils.load_fashion_mnist(256, device=device)
    images, labels = train_iter.images, train_iter.labels
    order = torch.randperm(images.shape[0], device=device)
    idx = [order[i * 256:(i + 1) * 256] for i in range(repeats)]
    u8 = [images.index_select(0, i) for i in idx]
    nets = {}
    for cl in (False, True):
        net = lenet_xavier().to(device)
        if cl:
            net.to(memory_format=torch.channels_last)
        nets[cl] = (net, torch.optim.SGD(net.parameters(), lr=0.9))
    X0, y0 = train_iter.to_float(u8[0]), labels.index_select(0, idx[0])
    y_hat = nets[False][0](X0).detach()
    loss = nn.functional.cross_entropy(y_hat, y0)

    def accounting() -> None:
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        first_bad = torch.full((), -1, dtype=torch.int64, device=device)
        for batch in range(1, repeats + 1):  # what utils.train does per batch
            loss_d = loss.detach().float()
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss_d), batch,
                                    first_bad)
            loss_sum += loss_d * 256
            correct += (y_hat.argmax(dim=1) == y0).sum()

    def steps(cl: bool) -> Callable[[], None]:
        net, opt = nets[cl]

        def run() -> None:
            for _ in range(repeats // 10):
                opt.zero_grad(set_to_none=True)
                nn.functional.cross_entropy(net(X0), y0).backward()
                opt.step()
        return run

    def each(fn: Callable[[torch.Tensor], torch.Tensor],
             items: list[torch.Tensor]) -> Callable[[], None]:
        def run() -> None:
            for item in items:  # one result alive at a time, as in a training loop
                fn(item)
        return run

    pieces: list[tuple[str, Callable[[], None], int]] = [
        ("gather 256 uint8 images, images[idx]", each(images.__getitem__, idx), repeats),
        ("gather 256 uint8 images, index_select",
         each(lambda i: images.index_select(0, i), idx), repeats),
        ("uint8 -> float in [0, 1]", each(train_iter.to_float, u8), repeats),
        ("loss/accuracy/NaN accounting on the device", accounting, repeats),
        ("LeNet training step, contiguous", steps(False), repeats // 10),
        ("LeNet training step, channels_last", steps(True), repeats // 10),
    ]
    print(f"\n== per-batch costs (batch 256, {'CPU' if clock is time.thread_time else 'wall'}"
          f" time, best of 3) ==")
    for name, fn, n in pieces:
        best = float("inf")
        for _ in range(3):
            _sync(device)
            t0 = clock()
            fn()
            _sync(device)
            best = min(best, clock() - t0)
        print(f"{name:<46}{best / n * 1e6:>10,.0f} us", flush=True)


# ---------------------------------------------------------------- driver


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{cpu}, {cores} cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} intra-op threads, Python {platform.python_version()}")


def load() -> str:
    try:
        return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    except OSError:
        return "load average unknown"


def table(results: list[Result], ref: Result | None, ours: list[Result],
          limits: list[Result], rival: Result | None = None) -> str:
    width = max(len(r.name) for r in results) + 2
    lines = [f"{'pipeline':<{width}}{'train ex/s':>11}{'ex/CPU-s':>10}{'epoch s':>9}"
             f"{'test acc':>9}{'faults/batch':>13}"]
    for r in results:
        lines.append(f"{r.name:<{width}}{r.rate:>11,.0f}{r.cpu_rate:>10,.0f}"
                     f"{r.epoch_wall:>9.2f}{r.test_acc:>9.3f}{r.faults_per_batch:>13,.0f}"
                     + (f"  ({r.note})" if r.note else ""))
    lines.append("")
    for b in ours:
        if ref is not None:
            lines.append(f"{b.name} vs (a): {b.rate / ref.rate:.2f}x training throughput, "
                         f"{ref.epoch_wall / b.epoch_wall:.2f}x faster epochs (evaluation "
                         f"included), {b.cpu_rate / ref.cpu_rate:.2f}x examples per "
                         f"CPU-second, test accuracy {100 * (b.test_acc - ref.test_acc):+.1f} "
                         "points")
        if rival is not None:
            lines.append(f"{b.name} vs {rival.name}: {rival.epoch_wall / b.epoch_wall:.2f}x "
                         "faster epochs (evaluation included in both), test accuracy "
                         f"{100 * (b.test_acc - rival.test_acc):+.1f} points")
        for c in limits:
            lines.append(f"{b.name} vs {c.name}: {b.rate / c.rate:.1%} of its throughput "
                         f"({b.cpu_rate / c.cpu_rate:.1%} per CPU-second)")
    return "\n".join(lines)


def bench(task: Task, device: torch.device, args: argparse.Namespace) -> None:
    utils.seed_everything(0)
    base = task.make_net()
    variants: list[tuple[str, Callable[[nn.Module], Result]]] = [
        ("a", lambda net: run_reference(net, task, device, args.workers)),
        ("b", lambda net: run_utils(net, task, device)),
    ]
    if args.compile:
        variants.append(("b", lambda net: run_utils(net, task, device, compile=True)))
    variants += [
        ("c", lambda net: run_limit(net, task, device, channels_last=False)),
        ("c", lambda net: run_limit(net, task, device, channels_last=True)),
    ]
    if args.beyond:
        variants += [
            ("b", lambda net: run_utils(net, task, device, amp=True)),
            ("x", lambda net: run_limit(net, task, device, channels_last=True, bf16=True)),
            ("x", lambda net: run_limit(net, task, device, channels_last=True,
                                        compiled=True)),
        ]
    workdir = d2l_workdir() if "d" in args.only and task.train_size is None else None
    if workdir is not None:
        variants.append(("d", lambda net: run_d2l(net, task, device, workdir)))
    elif "d" in args.only:
        print("(d) skipped: " + ("d2l is not installed (make venv installs it)"
                                 if task.train_size is None else
                                 "d2l's loader has no subsets; it runs on whole epochs"))
    variants = [(k, fn) for k, fn in variants if k in args.only or k == "x"]
    print(f"\n== {task.name}: {task.epochs} epoch(s) of {task.train_size or 60_000:,} "
          f"examples, batch {task.batch_size}, lr {task.lr:g}, "
          f"input {task.resize or 28}x{task.resize or 28}, test on "
          f"{task.test_size or 10_000:,} ==", flush=True)
    # Throw-away warm-up with the real shapes: libraries, oneDNN primitives, page
    # cache, worker start-up.
    warm = Task(task.name, task.make_net, task.batch_size, task.lr, 1,
                2 * task.batch_size, task.batch_size, task.resize)
    run_reference(copy.deepcopy(base), warm, device, args.workers)
    run_utils(copy.deepcopy(base), warm, device)
    run_limit(copy.deepcopy(base), warm, device, channels_last=False)
    run_limit(copy.deepcopy(base), warm, device, channels_last=True)
    rounds: list[list[Result]] = []
    for r in range(args.rounds):
        results = []
        for _, fn in variants:
            before = load()
            results.append(fn(copy.deepcopy(base)))
            res = results[-1]
            print(f"  round {r + 1}: {res.name}: {res.rate:,.0f} ex/s, {res.cpu_rate:,.0f} "
                  f"ex/CPU-s, {res.epoch_wall:.2f} s/epoch, test acc {res.test_acc:.3f}, "
                  f"{res.faults_per_batch:,.0f} page faults/batch  [{before}]", flush=True)
        rounds.append(results)
    # Best round per pipeline: the run least disturbed by other processes; but the
    # first round for utils.train(compile=True), whose later rounds reuse compiled code.
    best = [rounds[0][i] if "compile=True" in rounds[0][i].name
            else max((rnd[i] for rnd in rounds), key=lambda res: res.rate)
            for i in range(len(variants))]
    kinds = [k for k, _ in variants]
    ours = [res for k, res in zip(kinds, best, strict=True) if k == "b"]
    limits = [res for k, res in zip(kinds, best, strict=True) if k in "cx"]
    ref = best[kinds.index("a")] if "a" in kinds else None
    rival = best[kinds.index("d")] if "d" in kinds else None
    print(table(best, ref, ours, limits, rival), flush=True)
    print(ratio_spread(rounds, kinds), flush=True)
    if args.pairs and "b" in args.only and "c" in args.only and task.train_size is None:
        print(interleaved(task, device, base, args.pairs), flush=True)
    if args.beyond:
        rates = {(bs, cl): run_eval(copy.deepcopy(base), task, device, bs, cl)
                 for bs in (task.batch_size, 4 * task.batch_size) for cl in (False, True)}
        print("evaluation (utils.evaluate_accuracy, untrained weights), test ex/s: " + ", ".join(
            f"batch {bs}{' channels_last' if cl else ''}: {rate:,.0f}"
            for (bs, cl), rate in rates.items()), flush=True)


def interleaved(task: Task, device: torch.device, base: nn.Module, pairs: int,
                batches: int = 30) -> str:
    """(b) against the channels-last (c), alternating short runs on the same batches.

    A whole-epoch pipeline runs for seconds, and this machine's speed drifts
    within seconds, so one round's paired ratio can be off by 20% either way.
    Here ``utils.train`` trains one epoch of ``batches`` batches (its own model
    and optimizer, carried over from pair to pair), then the limit loop steps
    over the same batches made beforehand (its own model), ``pairs`` times,
    alternating which goes first; the ratio of each pair is taken.
    """
    train_iter, _ = utils.load_fashion_mnist(task.batch_size, task.resize, device=device,
                                             train_size=batches * task.batch_size, seed=0)
    net_b = copy.deepcopy(base).to(device)
    opt_b = torch.optim.SGD(net_b.parameters(), lr=task.lr)
    net_c = copy.deepcopy(base).to(device).to(memory_format=torch.channels_last)
    opt_c = torch.optim.SGD(net_c.parameters(), lr=task.lr)
    made = [(X.contiguous(memory_format=torch.channels_last), y) for X, y in train_iter]

    def run_b() -> float:
        history = utils.train(net_b, train_iter, None, 1, device=device, optimizer=opt_b,
                              plot=False, verbose=False)
        return history.last["examples_per_sec"]

    def run_c() -> float:
        _sync(device)
        t0 = time.perf_counter()
        for X, y in made:
            limit_step(net_c, opt_c, X, y, device)
        _sync(device)
        return train_iter.num_examples / (time.perf_counter() - t0)

    run_b(), run_c()   # warm-up
    ratios, faults = [], {"b": 0, "c": 0}
    for k in range(pairs):
        rates = {}
        for name, fn in (("b", run_b), ("c", run_c)) if k % 2 == 0 else \
                (("c", run_c), ("b", run_b)):
            f0 = page_faults()
            rates[name] = fn()
            faults[name] += page_faults() - f0
        ratios.append(rates["b"] / rates["c"])
    ratios.sort()
    per = {k: v / (pairs * len(made)) for k, v in faults.items()}
    return (f"interleaved, {pairs} pairs of {len(made)} batches: (b) utils.train / (c) limit, "
            f"channels_last: median {statistics.median(ratios):.3f}, min {ratios[0]:.3f}, "
            f"max {ratios[-1]:.3f}; page faults/batch (b) {per['b']:,.0f}, (c) {per['c']:,.0f}")


def ratio_spread(rounds: list[list[Result]], kinds: list[str]) -> str:
    """Each (b) against each (a), (c) and (d), round by round, with the spread over rounds.

    The ratios are paired within a round (the pipelines of one round run one
    after the other), so a slow round for the whole machine cancels out; the
    spread says how far one round's ratio can be trusted. Each (c) against (a)
    follows: the ceiling of (b) / (a), since a pipeline that runs the same step
    cannot run faster than the step alone (bench/README.md, the Zen 5 EPYC).
    """
    lines = [f"ratios per round (paired), over {len(rounds)} round(s):"]
    pairs = [(i, j) for i, kind in enumerate(kinds) for j, other in enumerate(kinds)
             if kind == "b" and other in "acd"]
    pairs += [(i, j) for i, kind in enumerate(kinds) for j, other in enumerate(kinds)
              if kind == "c" and other == "a"]
    for i, j in pairs:
        ratios = sorted(rnd[i].rate / rnd[j].rate for rnd in rounds)
        ceiling = "  (the ceiling of (b) / (a))" if kinds[i] == "c" else ""
        lines.append(f"  {rounds[0][i].name} / {rounds[0][j].name}: median "
                     f"{statistics.median(ratios):.3f}, min {ratios[0]:.3f}, "
                     f"max {ratios[-1]:.3f}  [" + ", ".join(f"{r:.3f}" for r in ratios)
                     + "]" + ceiling)
    return "\n".join(lines)


def accuracy_study(task: Task, device: torch.device, args: argparse.Namespace,
                   seeds: list[int]) -> None:
    """Test accuracy of (a) and (b) after the same epochs, over several shuffling seeds.

    Both start from the same initial weights; the seed sets the order of the
    training examples (and nothing else), so the spread is the luck of the order.
    """
    utils.seed_everything(0)
    base = task.make_net()
    print(f"\n== {task.name}: test accuracy after {task.epochs} epoch(s), shuffling seeds "
          f"{seeds} ==", flush=True)
    accs: dict[str, list[float]] = {"(a)": [], "(b)": []}
    for seed in seeds:
        a = run_reference(copy.deepcopy(base), task, device, args.workers, seed=seed)
        b = run_utils(copy.deepcopy(base), task, device, seed=seed)
        accs["(a)"].append(a.test_acc)
        accs["(b)"].append(b.test_acc)
        print(f"  seed {seed}: (a) {a.test_acc:.3f}  (b) {b.test_acc:.3f}  "
              f"[{load()}]", flush=True)
    for name, values in accs.items():
        spread = f" (min {min(values):.3f}, max {max(values):.3f})" if len(values) > 1 else ""
        print(f"{name} mean test accuracy {statistics.fmean(values):.3f}{spread}")
    diff = statistics.fmean(accs["(b)"]) - statistics.fmean(accs["(a)"])
    print(f"(b) - (a): {100 * diff:+.1f} points on average", flush=True)


def lenet_xavier() -> nn.Module:
    net = utils.lenet()
    net.apply(utils.init_xavier)
    return net


def main() -> int:
    profile = utils.get_profile()
    lenet_budget = profile.budget("benchmark")
    resnet_budget = profile.budget("resnet")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=lenet_budget.num_epochs,
                        help="LeNet epochs (default: the profile's 'benchmark' budget)")
    parser.add_argument("--lenet-train-size", type=int, default=lenet_budget.train_size,
                        help="LeNet training examples (default: the budget's, all 60,000)")
    parser.add_argument("--resnet-batches", type=int, default=20,
                        help="ResNet-18 training batches (0 skips ResNet)")
    parser.add_argument("--resnet-test", type=int, default=resnet_budget.test_size or 10_000,
                        help="ResNet-18 test examples per evaluation")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: PyTorch's choice)")
    parser.add_argument("--workers", type=int, default=4, help="DataLoader workers in (a)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat every pipeline; the best round of each is tabled, "
                             "and every round's ratios with their spread")
    parser.add_argument("--compile", action="store_true",
                        help="also time utils.train(..., compile=True), compiling included")
    parser.add_argument("--beyond", action="store_true",
                        help="also try to beat (c): bf16 autocast, torch.compile, "
                             "evaluation batch sizes")
    parser.add_argument("--only", default="abcd",
                        help="pipelines to run, e.g. 'ab' for the accuracy comparison")
    parser.add_argument("--seeds", default=None,
                        help="e.g. 0,1,2: instead of timing, compare the test accuracy of "
                             "(a) and (b) over these shuffling seeds (LeNet only)")
    parser.add_argument("--components", action="store_true",
                        help="also time the per-batch pieces of (b) next to a LeNet step")
    parser.add_argument("--skip-lenet", action="store_true")
    parser.add_argument("--pairs", type=int, default=16,
                        help="alternating short runs of (b) and channels-last (c) for LeNet "
                             "after the rounds (0 skips them)")
    args = parser.parse_args()
    # utils.train fixes glibc's malloc thresholds the first time it trains on the CPU
    # (irreversibly, for the process); fix them before (a) runs, so that every
    # pipeline runs with them (bench/README.md, "Page faults").
    held = utils.speed.hold_freed_memory()
    allocator = ("allocator: glibc, thresholds fixed by utils.speed.hold_freed_memory"
                 if held else "allocator: not glibc, left as it is")
    if args.threads:
        torch.set_num_threads(args.threads)
    # (a) uses 4 workers on purpose, as tutorials do, even on a 2-core machine.
    warnings.filterwarnings("ignore", message="This DataLoader will create")
    # Compile from scratch, as on a fresh CI machine, not from an earlier run's cache.
    fresh_cache = None
    if (args.compile or args.beyond) and "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        fresh_cache = tempfile.mkdtemp(prefix="cnnbook-inductor-")
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = fresh_cache
    device = utils.try_gpu()
    started = datetime.datetime.now().astimezone()
    print(f"cnnbook benchmark, {started:%Y-%m-%d %H:%M %Z}, profile {profile.name}, "
          f"device {device}")
    print(f"machine: {machine()}")
    print(allocator)
    print(f"{load()} at the start", flush=True)
    if args.seeds:
        accuracy_study(Task("LeNet (classic)", lenet_xavier, lenet_budget.batch_size,
                            lenet_budget.lr, args.epochs, args.lenet_train_size,
                            lenet_budget.test_size, lenet_budget.resize), device, args,
                       [int(x) for x in args.seeds.split(",")])
        print(f"\n{load()} at the end; {time.perf_counter() - T0:.0f} s in all")
        return 0
    if args.components:
        components(device)
    if not args.skip_lenet:
        bench(Task("LeNet (classic)", lenet_xavier, lenet_budget.batch_size, lenet_budget.lr,
                   args.epochs, args.lenet_train_size, lenet_budget.test_size,
                   lenet_budget.resize), device, args)
    if args.resnet_batches > 0:
        b = resnet_budget
        bench(Task("ResNet-18", lambda: utils.resnet18(), b.batch_size, b.lr, 1,
                   args.resnet_batches * b.batch_size, args.resnet_test, b.resize),
              device, args)
    print(f"\n{load()} at the end; {time.perf_counter() - T0:.0f} s in all")
    if fresh_cache:
        shutil.rmtree(fresh_cache, ignore_errors=True)
    return 0


T0 = time.perf_counter()

if __name__ == "__main__":
    sys.exit(main())
