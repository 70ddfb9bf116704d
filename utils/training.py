"""Training and evaluation loops that keep the device busy.

Losses and accuracies are summed on the device and read back a few times per
epoch, never once per batch; evaluation runs under ``torch.inference_mode``.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from typing import Any

import torch
from torch import nn

from .models import evaluation_mode
from .plotting import LivePlot

Batch = tuple[torch.Tensor, torch.Tensor]


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite."""


class DeviceMismatchError(RuntimeError):
    """The model and a batch sit on different devices."""


class History(list):
    """One record (a ``dict``) per finished epoch, as returned by :func:`train`.

    Keys: ``epoch``, ``train_loss``, ``train_acc``, ``test_acc``,
    ``examples_per_sec`` (training steps only) and ``seconds`` (the whole epoch,
    evaluation included). ``train_loss`` and ``train_acc`` are running averages
    over the batches as they were trained on (augmented ones, if the loader
    augments, and with the weights changing during the epoch); for a clean
    figure call :func:`evaluate_accuracy` on the training data. ``interrupted``
    is true when training was stopped with Ctrl-C (or the notebook's stop
    button) before the last epoch. ``train_examples`` is the number of training
    examples in the last finished epoch.
    """

    interrupted: bool = False
    train_examples: int = 0

    @property
    def last(self) -> dict[str, float]:
        """The record of the last finished epoch.

        Raises:
            ValueError: no epoch finished.
        """
        if not self:
            raise ValueError("the history is empty: no epoch finished")
        return self[-1]

    def table(self) -> str:
        """A fixed-width text table of all epochs."""
        head = (f"{'epoch':>5}  {'loss':>7}  {'train acc':>9}  {'test acc':>8}  "
                f"{'ex/s':>8}  {'s':>6}")
        rows = [head] + [
            f"{r['epoch']:>5}  {r['train_loss']:>7.4f}  {r['train_acc']:>9.3f}  "
            f"{r['test_acc']:>8.3f}  {r['examples_per_sec']:>8.0f}  {r['seconds']:>6.1f}"
            for r in self]
        return "\n".join(rows)


def model_device(net: nn.Module) -> torch.device:
    """The device of a model's first parameter (or buffer); the CPU if it has none."""
    for tensor in (*net.parameters(), *net.buffers()):
        return tensor.device
    return torch.device("cpu")


def _device_error(net: nn.Module, X: torch.Tensor, err: RuntimeError) -> DeviceMismatchError:
    devices = sorted({str(p.device) for p in net.parameters()}) or ["(no parameters)"]
    return DeviceMismatchError(
        f"the model's parameters are on {', '.join(devices)} but the batch is on {X.device}: "
        f"move both to one device, e.g. net.to(device) and "
        f"load_fashion_mnist(..., device=device); a tensor created inside forward() "
        f"without device=X.device causes this too. PyTorch said: {str(err).splitlines()[0]}")


_DEVICE_WORDS = ("same device", "expected device", "Expected all tensors",
                 "Placeholder storage", "should be the same")


def _is_device_error(err: RuntimeError) -> bool:
    """Whether PyTorch's error is about tensors on different devices."""
    return any(words in str(err) for words in _DEVICE_WORDS)


def _forward(net: nn.Module, X: torch.Tensor) -> torch.Tensor:
    try:
        return net(X)
    except RuntimeError as err:
        if _is_device_error(err):
            raise _device_error(net, X, err) from err
        raise


def _check_amp(device: torch.device, amp: bool) -> None:
    if amp and device.type not in ("cuda", "cpu"):
        raise ValueError(f"amp=True (mixed precision) is supported on CUDA and on the CPU "
                         f"(bfloat16), not on {device.type!r}: pass amp=False")


def _autocast(device: torch.device, amp: bool) -> Any:
    """Mixed precision: bfloat16 (or float16 where a GPU lacks bfloat16) on CUDA,
    bfloat16 on the CPU; nothing when ``amp`` is false. Callers check the device
    with :func:`_check_amp` first."""
    if not amp:
        return nullcontext()
    if device.type == "cpu":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


class _Layout:
    """Run a conv net in the channels-last memory layout, then give its parameters back.

    Channels-last (NHWC) lets oneDNN on the CPU and cuDNN on CUDA skip the
    reorders around every convolution: on a CPU the classic LeNet trains about
    a fifth faster (``bench/README.md``). Only the layout changes, not the
    values; the parameters stay the same objects (an optimizer keeps working)
    and are returned to the contiguous layout on exit, so code such as
    ``net[3].weight.view(16, -1)`` still works after training.
    """

    # On the CPU, channels-last measured faster for convolutions up to 256
    # channels wide and slower for ResNet-18's 512 (bench/bench.py).
    CPU_MAX_WIDTH = 256

    def __init__(self, net: nn.Module, device: torch.device, channels_last: bool | None) -> None:
        widths = [p.shape[0] for p in net.parameters() if p.dim() == 4]
        self.net = net
        self.auto = channels_last is None
        if self.auto:  # conv nets on CUDA and (not too wide) on the CPU; not on MPS
            self.active = bool(widths) and (
                device.type == "cuda"
                or (device.type == "cpu" and max(widths) <= self.CPU_MAX_WIDTH))
        else:
            self.active = bool(channels_last)
        self._converted = False

    def __enter__(self) -> _Layout:
        if self.active:
            weights = [t for t in (*self.net.parameters(), *self.net.buffers()) if t.dim() == 4]
            if any(not t.is_contiguous(memory_format=torch.channels_last) for t in weights):
                self.net.to(memory_format=torch.channels_last)
                self._converted = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def restore(self) -> None:
        """Give the parameters back in the contiguous layout (if this object changed them)."""
        if self._converted:
            with torch.inference_mode(False):  # may be called during evaluation
                self.net.to(memory_format=torch.contiguous_format)
            self._converted = False

    def input(self, X: torch.Tensor) -> torch.Tensor:
        """A batch in the layout the model runs in (no copy for one-channel images)."""
        if self.active and X.dim() == 4:
            return X.contiguous(memory_format=torch.channels_last)
        return X

    def can_fall_back(self, err: BaseException) -> bool:
        """Whether ``err`` may come from the automatic layout (``.view`` on an NHWC tensor)."""
        return self.auto and self.active and "view size is not compatible" in str(err)

    def fall_back(self) -> None:
        """Leave channels-last for the rest of this run."""
        self.restore()
        self.active = False


def _forward_in(layout: _Layout, net: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """``_forward``, retried in the contiguous layout if the automatic one breaks the model."""
    try:
        return _forward(net, layout.input(X))
    except RuntimeError as err:
        if not layout.can_fall_back(err):
            raise
    # Outside the except block, so that a genuine error is raised without the first one.
    layout.fall_back()
    return _forward(net, X.contiguous())


def evaluate_accuracy(net: nn.Module, data_iter: Iterable[Batch],
                      device: torch.device | str | None = None, amp: bool = False,
                      channels_last: bool | None = None) -> float:
    """Fraction of examples in ``data_iter`` that ``net`` classifies correctly.

    Runs in evaluation mode under ``torch.inference_mode()`` and restores the
    previous mode of every submodule (so batch norm layers frozen with ``.eval()``
    inside a training model stay frozen) and the parameters' memory layout.
    Correct predictions are counted on the device and read back once.

    Args:
        net: a classifier returning logits of shape ``(batch, classes)``.
        data_iter: iterable of ``(X, y)`` batches.
        device: where to compute (default: where the model is).
        amp: use mixed precision (as in :func:`train`; off by default here).
        channels_last: compute in the channels-last layout (default: chosen as
            :func:`train` chooses it, so that both agree exactly).

    Raises:
        ValueError: ``data_iter`` yields no examples.
    """
    device = torch.device(device) if device is not None else model_device(net)
    _check_amp(device, amp)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    total = 0
    with evaluation_mode(net), _Layout(net, device, channels_last) as layout, \
            torch.inference_mode(), _autocast(device, amp):
        for X, y in data_iter:
            X = X.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            correct += (_forward_in(layout, net, X).argmax(dim=1) == y).sum()
            total += y.numel()
    if total == 0:
        raise ValueError("data_iter yielded no examples: cannot compute accuracy")
    return correct.item() / total


def _make_optimizer(net: nn.Module, optimizer: str | torch.optim.Optimizer | None,
                    lr: float | None) -> torch.optim.Optimizer:
    if isinstance(optimizer, torch.optim.Optimizer):
        return optimizer
    if lr is None or not lr > 0 or not math.isfinite(lr):
        raise ValueError(f"lr must be a positive number, got {lr}")
    name = (optimizer or "sgd").lower()
    if name == "sgd":
        return torch.optim.SGD(net.parameters(), lr=lr)
    if name == "adam":
        return torch.optim.Adam(net.parameters(), lr=lr)
    raise ValueError(f"unknown optimizer {optimizer!r}: use 'sgd', 'adam' or pass a "
                     "torch.optim.Optimizer")


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = shell.get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def _fmt_rate(rate: float) -> str:
    return f"{rate / 1000:.1f}k ex/s" if rate >= 1000 else f"{rate:.0f} ex/s"


def train(net: nn.Module, train_iter: Iterable[Batch], test_iter: Iterable[Batch] | None,
          num_epochs: int, lr: float | None = None, *,
          device: torch.device | str | None = None,
          optimizer: str | torch.optim.Optimizer | None = None,
          loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
          plot: bool | None = None, verbose: bool = True, amp: bool | None = None,
          channels_last: bool | None = None, compile: bool = False,
          checks_per_epoch: int = 4) -> History:
    """Train a classifier and return its per-epoch history.

    In a notebook a live loss/accuracy figure is redrawn a few times per epoch
    (the saved notebook keeps its last frame); in a terminal a progress line is
    shown. One line is printed per epoch and a summary at the end.
    Ctrl-C (the notebook's stop button) ends training cleanly: the model keeps
    its weights and the returned history holds the finished epochs.

    Every epoch starts with ``net.train()``, which puts *all* layers in training
    mode: batch normalization layers frozen with ``.eval()`` are unfrozen. To
    fine-tune with frozen batch norm, write a short loop of your own (the batch
    normalization exercises show one).

    Args:
        net: the model; it is moved to ``device``.
        train_iter: iterable of ``(X, y)`` batches, e.g. from :func:`load_fashion_mnist`.
        test_iter: batches to measure test accuracy on after every epoch (or ``None``).
        num_epochs: number of passes over ``train_iter``.
        lr: learning rate (needed unless ``optimizer`` is an optimizer object).
        device: where to train (default: where the model already is).
        optimizer: ``"sgd"`` (default), ``"adam"`` or a ready optimizer, e.g. one
            restored from a checkpoint.
        loss_fn: defaults to cross-entropy.
        plot: draw the live figure (default: only in a notebook).
        verbose: print one line per epoch and a summary.
        amp: mixed precision (default: on for CUDA, off elsewhere). On CUDA,
            bfloat16 where the GPU supports it, else float16 with a gradient
            scaler. ``amp=True`` on the CPU computes in bfloat16: worth it only on
            processors with native bfloat16 (AVX512-BF16 or AMX), where the
            classic LeNet trained 10-16% faster and ResNet-18 slower (see
            ``bench/README.md``); elsewhere it is slow. Not supported on MPS.
        channels_last: train in the channels-last memory layout (default: for conv
            nets on CUDA, and on the CPU for convolutions up to 256 channels
            wide, where it measured faster; not on MPS). Only the layout
            changes, not the values; the parameters are given back in the
            contiguous layout when training ends. A model that calls ``.view`` on
            its activations is trained in the contiguous layout instead.
        compile: wrap the model in ``torch.compile``; falls back to eager mode
            with a printed note if compiling fails. Off by default: on a CPU,
            compiling costs more time than it saves within the book's budgets.
        checks_per_epoch: how often per epoch the running loss is read back
            (for the plot and the NaN check).

    Returns:
        A :class:`History` with one record per finished epoch.

    Raises:
        ValueError: bad arguments (non-positive epochs or learning rate, empty data).
        TrainingDivergedError: the loss became NaN/inf (names epoch, batch and lr).
        DeviceMismatchError: the model and a batch are on different devices.
    """
    if not isinstance(num_epochs, int) or num_epochs <= 0:
        raise ValueError(f"num_epochs must be a positive integer, got {num_epochs!r}")
    device = torch.device(device) if device is not None else model_device(net)
    on_cuda = device.type == "cuda"
    amp = on_cuda if amp is None else amp
    _check_amp(device, amp)
    net.to(device)
    opt = _make_optimizer(net, optimizer, lr)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    history = History()
    # The layout is restored however training ends (done, diverged, interrupted).
    with _Layout(net, device, channels_last) as layout:
        _fit(net, opt, loss_fn, train_iter, test_iter, num_epochs, device, amp, layout,
             compile, plot, verbose, checks_per_epoch, history)
    return history


def _fit(net: nn.Module, opt: torch.optim.Optimizer,
         loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
         train_iter: Iterable[Batch], test_iter: Iterable[Batch] | None, num_epochs: int,
         device: torch.device, amp: bool, layout: _Layout, compile: bool,
         plot: bool | None, verbose: bool, checks_per_epoch: int, history: History) -> None:
    """The body of :func:`train`; fills ``history`` in place."""
    on_cuda = device.type == "cuda"
    lr_shown = opt.param_groups[0]["lr"]
    scaler = None
    if amp and on_cuda and not torch.cuda.is_bf16_supported():
        scaler = torch.amp.GradScaler("cuda")
    model: Callable[[torch.Tensor], torch.Tensor] = net
    if compile:
        try:
            model = torch.compile(net)
        except Exception as err:  # pragma: no cover - platform dependent
            print(f"torch.compile unavailable ({type(err).__name__}); training eagerly")
    num_batches = len(train_iter) if hasattr(train_iter, "__len__") else None
    plot = _in_notebook() if plot is None else plot
    live = LivePlot(num_epochs) if plot else None
    bar = sys.stdout.isatty() and not _in_notebook() and verbose
    start_all = time.perf_counter()
    epoch, batch = 0, 0
    try:
        for epoch in range(1, num_epochs + 1):
            net.train()
            t0 = time.perf_counter()
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), dtype=torch.int64, device=device)
            first_bad = torch.full((), -1, dtype=torch.int64, device=device)
            seen = 0
            marks = ({max(1, round(k * num_batches / checks_per_epoch))
                      for k in range(1, checks_per_epoch + 1)} if num_batches else set())
            for batch, (X, y) in enumerate(train_iter, start=1):
                X = layout.input(X.to(device, non_blocking=True))
                y = y.to(device, non_blocking=True)
                with _autocast(device, amp):
                    try:
                        y_hat = model(X)
                        failed = None
                    except RuntimeError as err:
                        failed = err
                    if failed is not None:  # handled outside the except block: clean tracebacks
                        model, y_hat = _recover(failed, model, net, X, layout, batch)
                    loss = loss_fn(y_hat, y)
                opt.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()
                else:
                    loss.backward()
                    opt.step()
                n = y.numel()
                seen += n
                with torch.no_grad():
                    loss_d = loss.detach().float()
                    first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss_d),
                                            batch, first_bad)
                    loss_sum += loss_d * n
                    correct += (y_hat.argmax(dim=1) == y).sum()
                if batch in marks:
                    _check_finite(first_bad, epoch, lr_shown)
                    if live is not None:
                        live.add_train(epoch - 1 + batch / num_batches,
                                       loss_sum.item() / seen, correct.item() / seen)
                    if bar:
                        print(f"\repoch {epoch}/{num_epochs}  batch {batch}/{num_batches}  "
                              f"loss {loss_sum.item() / seen:.3f}", end="", flush=True)
            if seen == 0:
                raise ValueError("train_iter yielded no batches")
            _check_finite(first_bad, epoch, lr_shown)
            if on_cuda:
                torch.cuda.synchronize(device)
            train_seconds = time.perf_counter() - t0
            train_loss, train_acc = loss_sum.item() / seen, correct.item() / seen
            test_acc = (evaluate_accuracy(net, test_iter, device, amp=amp,
                                          channels_last=layout.active)
                        if test_iter is not None else float("nan"))
            record = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                      "test_acc": test_acc, "examples_per_sec": seen / train_seconds,
                      "seconds": time.perf_counter() - t0}
            history.append(record)
            history.train_examples = seen
            if live is not None:
                if not marks:
                    live.add_train(epoch, train_loss, train_acc)
                live.add_test(epoch, test_acc)
                live.draw(final=epoch == num_epochs)
            if verbose:
                print(("\r" if bar else "") +
                      f"epoch {epoch}/{num_epochs}  loss {train_loss:.3f}  "
                      f"train acc {train_acc:.3f}  test acc {test_acc:.3f}  "
                      f"{_fmt_rate(record['examples_per_sec'])}  {device.type}", flush=True)
    except KeyboardInterrupt:
        history.interrupted = True
        print(f"\ninterrupted in epoch {epoch} after {batch} batches: the model keeps its "
              f"current weights; the returned history holds {len(history)} finished epoch(s)")
        if live is not None:
            live.draw(final=True)
        return
    if verbose:
        total = time.perf_counter() - start_all
        rate = sum(r["examples_per_sec"] for r in history) / len(history)
        print(f"done: {len(history)} epochs in {total:.1f} s, final train acc "
              f"{history.last['train_acc']:.3f}, test acc {history.last['test_acc']:.3f}, "
              f"{_fmt_rate(rate)} on {device}")


def _recover(err: RuntimeError, model: Callable[[torch.Tensor], torch.Tensor], net: nn.Module,
             X: torch.Tensor, layout: _Layout,
             batch: int) -> tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor]:
    """React to an error of the forward pass: fall back (compile, layout) or explain it."""
    if model is not net and batch == 1 and not _is_device_error(err):
        print(f"torch.compile failed ({type(err).__name__}); training eagerly")
        return net, _forward_in(layout, net, X)
    if _is_device_error(err):
        raise _device_error(net, X, err) from err
    if layout.can_fall_back(err):
        layout.fall_back()
        return model, _forward(net, X.contiguous())
    raise err


def _check_finite(first_bad: torch.Tensor, epoch: int, lr: float) -> None:
    bad = int(first_bad.item())
    if bad >= 0:
        raise TrainingDivergedError(
            f"the loss became NaN or infinite in epoch {epoch}, batch {bad}, with learning "
            f"rate {lr:g}. The learning rate is the likely cause: try a smaller one "
            f"(e.g. {lr / 10:g}), then re-create the model, since its weights are now "
            "non-finite.")


RESULT_PREFIX = "cnnbook-result "


def report_result(model: str, history: History, profile_name: str) -> dict[str, Any]:
    """Print one machine-readable line summarising a trained model.

    The book's landing page builds its results table from these lines in the
    committed notebooks, so no number in that table is typed by hand.

    Args:
        model: a short name, e.g. ``"LeNet (sigmoid, avg pool)"``.
        history: what :func:`train` returned.
        profile_name: the active profile (``get_profile().name``).

    Returns:
        The record printed: model, profile, epochs, training examples per epoch,
        final test accuracy and mean training examples per second.

    Raises:
        ValueError: the history is empty or does not come from :func:`train`.
    """
    import json

    last = history.last
    if history.train_examples <= 0:
        raise ValueError("the history does not say how many examples it trained on: "
                         "pass the History that utils.train returned")
    record = {"model": model, "profile": profile_name, "epochs": len(history),
              "train_examples": history.train_examples,
              "test_acc": round(last["test_acc"], 4),
              "examples_per_sec": round(sum(r["examples_per_sec"] for r in history)
                                        / len(history))}
    print(RESULT_PREFIX + json.dumps(record))
    return record
