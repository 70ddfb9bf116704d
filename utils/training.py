"""Training and evaluation: the loop of the LeNet chapter, plus what a book adds.

The loop is the one chapter 5 writes out (``train_epoch`` and ``evaluate``):
losses and correct predictions are summed on the device and read back a few
times per epoch, never once per batch, and evaluation runs under
``torch.inference_mode`` in evaluation mode. Around it, :func:`train` adds a
history, a check for a NaN loss, clean Ctrl-C handling, the live plot and the
printed progress. How fast it computes (layout, precision, compilation, and
on the CPU the C allocator's thresholds) is decided in :mod:`utils.speed`.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable

import torch
from torch import nn
from torch.nn import functional as F

from .device import is_lazy, model_device
from .history import History
from .models import evaluation_mode
from .plotting import LivePlot, in_notebook
from .speed import Forward, Layout, Plan, Speed, autocast, grad_scaler, hold_freed_memory, plan

Batch = tuple[torch.Tensor, torch.Tensor]
CHECKS_PER_EPOCH = 4  # reads of the running loss per epoch: NaN check, plot, progress


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite."""


def evaluate_accuracy(net: nn.Module, data_iter: Iterable[Batch],
                      device: torch.device | str | None = None,
                      speed: Speed | None = None) -> float:
    """Fraction of examples in ``data_iter`` that ``net`` classifies correctly.

    Runs in evaluation mode under ``torch.inference_mode()`` and restores every
    submodule's previous mode (a batch norm layer frozen with ``.eval()`` stays
    frozen). Correct predictions are counted on the device and read back once.

    Args:
        net: a classifier returning logits of shape ``(batch, classes)``.
        data_iter: iterable of ``(X, y)`` batches.
        device: where to compute (default: where the model is).
        speed: layout and precision, as in :func:`train`. By default the layout
            is chosen as :func:`train` chooses it and mixed precision is off.

    Raises:
        ValueError: ``data_iter`` yields no examples.
    """
    device = torch.device(device) if device is not None else model_device(net)
    decided = plan(net, device, speed or Speed(amp=False))
    with Layout(net, decided.channels_last) as layout:
        return _evaluate(net, layout, data_iter, decided)


def _evaluate(net: nn.Module, layout: Layout, data_iter: Iterable[Batch],
              decided: Plan) -> float:
    device, non_blocking = decided.device, decided.non_blocking
    model = Forward(net, layout, compiled=False)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    total = 0
    with evaluation_mode(net), torch.inference_mode(), \
            autocast(device, decided.autocast_dtype):
        for X, y in data_iter:
            X, y = X.to(device, non_blocking=non_blocking), y.to(device, non_blocking=non_blocking)
            correct += (model(X).argmax(dim=1) == y).sum()
            total += y.numel()
    if total == 0:
        raise ValueError("data_iter yielded no examples: cannot compute accuracy")
    return correct.item() / total


def _check_optimizer(optimizer: str | torch.optim.Optimizer | None, lr: float | None) -> None:
    if isinstance(optimizer, torch.optim.Optimizer):
        if lr is not None:
            raise ValueError(f"lr={lr:g} and an optimizer object: the optimizer has its own "
                             "learning rate, so drop lr (or pass optimizer='sgd'/'adam')")
        return
    if lr is None or not lr > 0 or not math.isfinite(lr):
        raise ValueError(f"lr must be a positive number, got {lr}")
    if (optimizer or "sgd").lower() not in ("sgd", "adam"):
        raise ValueError(f"unknown optimizer {optimizer!r}: use 'sgd', 'adam' or pass a "
                         "torch.optim.Optimizer")


def _make_optimizer(net: nn.Module, optimizer: str | torch.optim.Optimizer | None,
                    lr: float | None) -> torch.optim.Optimizer:
    if isinstance(optimizer, torch.optim.Optimizer):
        return optimizer
    cls = torch.optim.Adam if (optimizer or "sgd").lower() == "adam" else torch.optim.SGD
    return cls(net.parameters(), lr=lr)


def _rate(rate: float) -> str:
    return f"{rate / 1000:.1f}k ex/s" if rate >= 1000 else f"{rate:.0f} ex/s"


def train(net: nn.Module, train_iter: Iterable[Batch], test_iter: Iterable[Batch] | None,
          num_epochs: int, lr: float | None = None, *,
          device: torch.device | str | None = None,
          optimizer: str | torch.optim.Optimizer | None = None,
          plot: bool | None = None, verbose: bool = True,
          speed: Speed | None = None) -> History:
    """Train a classifier with the cross-entropy loss and return its per-epoch history.

    In a notebook a live loss/accuracy figure is redrawn a few times per epoch
    (each point the mean over the batches since the previous one; the saved
    notebook keeps the last frame); in a terminal a progress line is shown. One
    line is printed per epoch and a summary at the end. Ctrl-C (the notebook's
    stop button) ends training cleanly: the model keeps its weights and the
    history holds the finished epochs, with ``interrupted`` set.

    Every epoch starts with ``net.train()``, which puts *all* layers in training
    mode: batch normalization layers frozen with ``.eval()`` are unfrozen. To
    fine-tune with frozen batch norm, write a short loop of your own (the batch
    normalization exercises show one). A model with lazy layers
    (``nn.LazyConv2d``, ``nn.LazyLinear``) is fine: its optimizer is made after
    the first forward pass has given the parameters their shapes.

    Args:
        net: the model; it is moved to ``device``.
        train_iter: iterable of ``(X, y)`` batches, e.g. from :func:`load_fashion_mnist`.
        test_iter: batches to measure test accuracy on after every epoch (or ``None``).
        num_epochs: number of passes over ``train_iter``.
        lr: learning rate for ``optimizer="sgd"`` or ``"adam"``; not with an
            optimizer object, which has its own.
        device: where to train (default: where the model already is).
        optimizer: ``"sgd"`` (default), ``"adam"`` or a ready optimizer, e.g. one
            restored from a checkpoint or with momentum.
        plot: draw the live figure (default: only in a notebook).
        verbose: print one line per epoch and a summary.
        speed: layout, precision and compilation (default :class:`Speed`: the
            choices that measured fastest, see :mod:`utils.speed`).

    Returns:
        A :class:`History` with one record per finished epoch.

    Raises:
        ValueError: bad arguments (non-positive epochs or learning rate, ``lr``
            with an optimizer object, empty data).
        TrainingDivergedError: the loss became NaN/inf (names epoch, batch and lr).
        DeviceMismatchError: the model and a batch are on different devices.
        TypeError: a batch's dtype is not the model's (e.g. ``float64``, ``uint8``).
    """
    if not isinstance(num_epochs, int) or num_epochs <= 0:
        raise ValueError(f"num_epochs must be a positive integer, got {num_epochs!r}")
    _check_optimizer(optimizer, lr)
    device = torch.device(device) if device is not None else model_device(net)
    decided = plan(net, device, speed)
    dtype = decided.autocast_dtype
    net.to(device)
    if decided.hold_memory:
        hold_freed_memory()
    lazy = any(is_lazy(p) for p in net.parameters())
    opt = None if lazy else _make_optimizer(net, optimizer, lr)
    scaler = grad_scaler(device, dtype)
    live = LivePlot(num_epochs) if (in_notebook() if plot is None else plot) else None
    bar = verbose and sys.stdout.isatty() and not in_notebook()
    num_batches = len(train_iter) if hasattr(train_iter, "__len__") else 0
    marks = {max(1, round(k * num_batches / CHECKS_PER_EPOCH))
             for k in range(1, CHECKS_PER_EPOCH + 1)} if num_batches else set()
    history, start, epoch, batch = History(), time.perf_counter(), 0, 0
    with Layout(net, decided.channels_last) as layout:
        model = Forward(net, layout, decided.compile)
        try:
            for epoch in range(1, num_epochs + 1):
                t0 = time.perf_counter()
                net.train()
                model.first = True  # check the first batch of every epoch
                loss_sum = torch.zeros((), device=device)
                correct = torch.zeros((), dtype=torch.int64, device=device)
                first_bad = torch.full((), -1, dtype=torch.int64, device=device)
                seen, shown = 0, (0.0, 0, 0)  # sums at the last point of the live plot
                for batch, (X, y) in enumerate(train_iter, start=1):
                    X = X.to(device, non_blocking=decided.non_blocking)
                    y = y.to(device, non_blocking=decided.non_blocking)
                    with autocast(device, dtype):
                        y_hat = model(X)
                        loss = F.cross_entropy(y_hat, y)
                    if opt is None:   # lazy layers have their shapes now
                        opt = _make_optimizer(net, optimizer, lr)
                    opt.zero_grad(set_to_none=True)
                    if scaler is None:
                        loss.backward()
                        opt.step()
                    else:
                        scaler.scale(loss).backward()
                        scaler.step(opt)
                        scaler.update()
                    seen += y.numel()
                    with torch.no_grad():
                        loss_d = loss.detach().float()
                        first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss_d),
                                                batch, first_bad)
                        loss_sum += loss_d * y.numel()
                        correct += (y_hat.argmax(dim=1) == y).sum()
                    if batch in marks:
                        _check_finite(first_bad, epoch, opt)
                        now = (loss_sum.item(), correct.item(), seen)
                        if live is not None:
                            n = now[2] - shown[2]
                            live.add_train(epoch - 1 + batch / num_batches,
                                           (now[0] - shown[0]) / n, (now[1] - shown[1]) / n)
                        shown = now
                        if bar:
                            print(f"\repoch {epoch}/{num_epochs}  batch {batch}/{num_batches}"
                                  f"  loss {now[0] / seen:.3f}", end="", flush=True)
                if seen == 0:
                    raise ValueError("train_iter yielded no batches")
                _check_finite(first_bad, epoch, opt)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                train_seconds = time.perf_counter() - t0
                record = {"epoch": epoch, "train_loss": loss_sum.item() / seen,
                          "train_acc": correct.item() / seen,
                          "test_acc": (_evaluate(net, layout, test_iter, decided)
                                       if test_iter is not None else float("nan")),
                          "examples_per_sec": seen / train_seconds,
                          "seconds": time.perf_counter() - t0}
                history.append(record)
                history.train_examples = seen
                if live is not None:
                    if not marks:
                        live.add_train(epoch, record["train_loss"], record["train_acc"])
                    live.add_test(epoch, record["test_acc"])
                    live.draw(final=epoch == num_epochs)
                if verbose:
                    print(("\r" if bar else "") +
                          f"epoch {epoch}/{num_epochs}  loss {record['train_loss']:.3f}  "
                          f"train acc {record['train_acc']:.3f}  test acc "
                          f"{record['test_acc']:.3f}  {_rate(record['examples_per_sec'])}  "
                          f"{device.type}", flush=True)
        except KeyboardInterrupt:
            history.interrupted = True
            print(f"\ninterrupted in epoch {epoch} after {batch} batches: the model keeps "
                  f"its current weights; the returned history holds {len(history)} finished "
                  "epoch(s)")
            if live is not None:
                live.draw(final=True)
            return history
    if verbose:
        rate = sum(r["examples_per_sec"] for r in history) / len(history)
        print(f"done: {len(history)} epochs in {time.perf_counter() - start:.1f} s, final "
              f"train acc {history.last['train_acc']:.3f}, test acc "
              f"{history.last['test_acc']:.3f}, {_rate(rate)} on {device}")
    return history


def _check_finite(first_bad: torch.Tensor, epoch: int, opt: torch.optim.Optimizer) -> None:
    bad = int(first_bad.item())
    if bad >= 0:
        lr = opt.param_groups[0]["lr"]
        raise TrainingDivergedError(
            f"the loss became NaN or infinite in epoch {epoch}, batch {bad}, with learning "
            f"rate {lr:g}. The learning rate is the likely cause: try a smaller one "
            f"(e.g. {lr / 10:g}), then re-create the model, since its weights are now "
            "non-finite.")
