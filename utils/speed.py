"""How :func:`utils.train` computes fast: one policy, in one place.

Three choices change the speed of training but not what is computed (up to
rounding): the memory layout of the convolutions (channels-last), the
precision of the arithmetic (autocast) and compilation (``torch.compile``).
:class:`Speed` holds them; ``None`` means "decide from the facts", and the
decisions below are the defaults that measured fastest (``bench/README.md``).
A fourth does not depend on the model: on the CPU under Linux,
:func:`hold_freed_memory` keeps the C allocator from handing a step's memory
back to the system after every step.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .device import check_batch, is_lazy

# On the CPU, channels-last measured faster for convolutions up to 256 channels
# wide; for ResNet-18's 512 it measured slower on an Intel Xeon and on a Zen 5 AMD
# EPYC, faster on an AVX2-only EPYC (bench/README.md). The limit follows the first two.
CPU_CHANNELS_LAST_MAX_WIDTH = 256

# glibc's mallopt parameters (malloc.h) and the values hold_freed_memory sets.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
HEAP_BLOCK_MAX = 32 * 2**20   # blocks up to this size come from the heap (glibc's maximum)
HEAP_KEEP = 2**30             # freed heap memory is returned only beyond this much
_held: bool | None = None


def hold_freed_memory() -> bool:
    """Fix glibc's malloc thresholds once per process, so freed memory stays with it.

    With its default, dynamic thresholds, glibc can give the memory at the top
    of its heap back to the system whenever a free leaves more than a few MB
    there; a training step frees its activations and gradients at its end, and
    the next step touches the same amount again, page by page: thousands of
    page faults per LeNet batch, depending on what earlier cells had left in
    the heap (measured in ``bench/README.md``, "Page faults"). Fixed
    thresholds (blocks up to ``HEAP_BLOCK_MAX`` from the heap, trimmed only
    beyond ``HEAP_KEEP`` free) end that; the price is that the process keeps freed memory for reuse.

    :func:`utils.train` calls this when it trains on the CPU. It changes the
    whole process (DataLoader workers forked later inherit it) and only the C
    heap, never what is computed. Elsewhere than Linux with glibc it does nothing.

    Returns:
        Whether the thresholds are fixed (``False`` where there is no glibc).
    """
    global _held
    if _held is None:
        _held = False
        if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                _held = (libc.mallopt(_M_MMAP_THRESHOLD, HEAP_BLOCK_MAX) == 1
                         and libc.mallopt(_M_TRIM_THRESHOLD, HEAP_KEEP) == 1)
            except (OSError, AttributeError):   # no usable libc: leave it as it is
                pass
    return _held


@dataclass(frozen=True)
class Speed:
    """The speed-ups :func:`utils.train` and :func:`utils.evaluate_accuracy` use.

    Attributes:
        amp: mixed precision. ``None``: on for CUDA, off elsewhere. On CUDA it
            computes in bfloat16 on GPUs with bfloat16 tensor cores (compute
            capability 8.0 or more) and in float16 with a gradient scaler below
            (e.g. Colab's T4, 7.5). On the CPU, ``True`` computes in bfloat16:
            worth it only on processors with native bfloat16 (AMX,
            AVX512-BF16). Not supported on MPS.
        channels_last: the channels-last memory layout. ``None``: for conv nets
            on CUDA, and on the CPU while no convolution is wider than
            ``CPU_CHANNELS_LAST_MAX_WIDTH`` channels; never on MPS.
        compile: wrap the model in ``torch.compile`` (off: on a CPU, compiling
            costs more time than it saves within the book's budgets).
    """

    amp: bool | None = None
    channels_last: bool | None = None
    compile: bool = False


def autocast_dtype(device: torch.device, amp: bool | None) -> torch.dtype | None:
    """The dtype autocast computes in on ``device``, or ``None`` for full precision.

    Raises:
        ValueError: ``amp=True`` on a device other than CUDA and the CPU.
    """
    if amp is None:
        amp = device.type == "cuda"
    if not amp:
        return None
    if device.type == "cpu":
        return torch.bfloat16
    if device.type != "cuda":
        raise ValueError(f"amp=True (mixed precision) is supported on CUDA and on the CPU "
                         f"(bfloat16), not on {device.type!r}: pass Speed(amp=False)")
    major, _ = torch.cuda.get_device_capability(device)
    # is_bf16_supported() also counts emulation (True on a T4): read the hardware.
    return torch.bfloat16 if major >= 8 else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None) -> Any:
    """A context that computes in ``dtype`` (from :func:`autocast_dtype`), or does nothing."""
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def grad_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler | None:
    """A gradient scaler where float16 gradients could underflow (float16 on CUDA)."""
    return torch.amp.GradScaler("cuda") if _needs_scaling(device, dtype) else None


def _needs_scaling(device: torch.device, dtype: torch.dtype | None) -> bool:
    return dtype == torch.float16 and device.type == "cuda"


def conv_widths(net: nn.Module) -> list[int]:
    """Output channels of every materialised 4-D weight (lazy layers not yet run count 0)."""
    return [p.shape[0] for p in net.parameters()
            if not is_lazy(p) and p.dim() == 4]


def use_channels_last(net: nn.Module, device: torch.device, requested: bool | None) -> bool:
    """Whether to train ``net`` in the channels-last layout (see :class:`Speed`)."""
    if requested is not None:
        return requested
    widths = conv_widths(net)
    if not widths:
        return False
    if device.type == "cuda":
        return True
    return device.type == "cpu" and max(widths) <= CPU_CHANNELS_LAST_MAX_WIDTH


@dataclass(frozen=True)
class Plan:
    """What :func:`utils.train` will do for one model on one device (see :func:`plan`).

    Attributes:
        device: where it trains.
        autocast_dtype: the dtype autocast computes in, or ``None`` for float32.
        grad_scaling: whether a ``GradScaler`` scales the loss (float16 on CUDA).
        channels_last: whether the model runs in the channels-last layout.
        compile: whether the model is wrapped in ``torch.compile``.
        non_blocking: whether batches are copied to the device asynchronously
            (CUDA; it matters only for batches that come from pinned CPU memory).
        hold_memory: whether to call :func:`hold_freed_memory` first (the CPU).
    """

    device: torch.device
    autocast_dtype: torch.dtype | None
    grad_scaling: bool
    channels_last: bool
    compile: bool
    non_blocking: bool
    hold_memory: bool

    def describe(self) -> str:
        """One line, e.g. ``cuda: float16 autocast with gradient scaling, channels-last``."""
        parts = [("float32" if self.autocast_dtype is None else
                  f"{str(self.autocast_dtype).removeprefix('torch.')} autocast")
                 + (" with gradient scaling" if self.grad_scaling else ""),
                 "channels-last" if self.channels_last else "contiguous layout"]
        if self.compile:
            parts.append("torch.compile")
        return f"{self.device.type}: " + ", ".join(parts)


def plan(net: nn.Module, device: torch.device, speed: Speed | None = None) -> Plan:
    """Decide layout, precision and compilation for training ``net`` on ``device``.

    The one place :func:`utils.train` takes these decisions from, so that a test
    can ask what it would do on a GPU that the machine does not have.

    Raises:
        ValueError: ``Speed(amp=True)`` on a device without mixed precision (MPS).
    """
    speed = speed or Speed()
    dtype = autocast_dtype(device, speed.amp)
    return Plan(device=device, autocast_dtype=dtype,
                grad_scaling=_needs_scaling(device, dtype),
                channels_last=use_channels_last(net, device, speed.channels_last),
                compile=speed.compile, non_blocking=device.type == "cuda",
                hold_memory=device.type == "cpu")


class Layout:
    """Run a model in channels-last, then give its parameters back contiguous.

    Only the layout changes, not the values; the parameters stay the same
    objects (an optimizer keeps working), and on exit they are returned to the
    contiguous layout, so code such as ``net[3].weight.view(16, -1)`` still
    works after training. :meth:`off` leaves channels-last early (for a model
    whose ``forward`` calls ``.view`` on its activations).
    """

    def __init__(self, net: nn.Module, active: bool) -> None:
        self.net, self.active, self._converted = net, active, False

    def __enter__(self) -> Layout:
        if self.active:
            tensors = [t for t in (*self.net.parameters(), *self.net.buffers())
                       if not is_lazy(t) and t.dim() == 4]
            if any(not t.is_contiguous(memory_format=torch.channels_last) for t in tensors):
                self.net.to(memory_format=torch.channels_last)
                self._converted = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.off()

    def off(self) -> None:
        """Compute in the contiguous layout from now on (and restore the parameters)."""
        if self._converted:
            with torch.inference_mode(False):  # may be called during evaluation
                self.net.to(memory_format=torch.contiguous_format)
            self._converted = False
        self.active = False

    def input(self, X: torch.Tensor) -> torch.Tensor:
        """A batch in the layout the model runs in (no copy for one-channel images)."""
        if self.active and X.dim() == 4:
            return X.contiguous(memory_format=torch.channels_last)
        return X


class Forward:
    """The model as the loop calls it: layout, compilation, and the first-batch fallback.

    The first batch (of every epoch: :func:`utils.train` sets ``first`` again)
    is checked with :func:`~utils.device.check_batch`.

    If the first forward pass fails with a speed-up on, it is repeated on the
    same batch without compilation and then in the contiguous layout; the first
    setting that works is kept (and said), so a model whose ``forward`` calls
    ``.view`` on its activations still trains. If the plain model fails too,
    its own error is raised.
    """

    def __init__(self, net: nn.Module, layout: Layout, compiled: bool) -> None:
        self.net, self.layout, self.first = net, layout, True
        self.call: Any = torch.compile(net) if compiled else net

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        if not self.first:
            return self.call(self.layout.input(X))
        self.first = False
        check_batch(self.net, X)   # first batch only: the hot path stays as it was
        try:
            return self.call(self.layout.input(X))
        except RuntimeError as err:
            if self.call is self.net and not self.layout.active:
                raise
            failed = _first_line(err)
        if self.call is not self.net:
            self.call = self.net
            try:
                out = self.net(self.layout.input(X))
            except RuntimeError as err:
                if not self.layout.active:
                    raise
                failed = _first_line(err)
            else:
                print(f"torch.compile failed ({failed}); computing eagerly")
                return out
        self.layout.off()
        print(f"channels-last failed ({failed}); computing in the contiguous layout")
        return self.net(X.contiguous())


def _first_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}"
