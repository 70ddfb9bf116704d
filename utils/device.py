"""Devices and seeding; where a model is, and whether a batch fits it."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn


class DeviceMismatchError(RuntimeError):
    """The model and a batch sit on different devices."""


def is_lazy(tensor: torch.Tensor) -> bool:
    """Whether ``tensor`` is a lazy layer's parameter or buffer that has no shape yet.

    ``nn.LazyConv2d``, ``nn.LazyLinear`` and ``nn.LazyBatchNorm2d`` get their
    shapes in the first forward pass; until then ``.dim()`` or ``.dtype`` checks
    on them raise.
    """
    return isinstance(tensor, nn.parameter.UninitializedTensorMixin)


def model_device(net: nn.Module) -> torch.device:
    """The device of a model's first parameter (or buffer); the CPU if it has none."""
    for tensor in (*net.parameters(), *net.buffers()):
        return tensor.device
    return torch.device("cpu")


def check_batch(net: nn.Module, X: torch.Tensor) -> None:
    """Check that a batch can go into ``net``: same device, floating dtype of the weights.

    Decided from the devices and dtypes themselves, before the forward pass.

    Raises:
        DeviceMismatchError: the model's parameters or buffers are on another
            device than ``X``.
        TypeError: ``X`` has another dtype than the model's floating-point
            parameters (e.g. ``float64`` or ``uint8`` into a ``float32`` model).
    """
    tensors = [*net.parameters(), *net.buffers()]
    devices = {t.device for t in tensors}
    if devices and devices != {X.device}:
        where = ", ".join(sorted(str(d) for d in devices))
        raise DeviceMismatchError(
            f"the model's parameters are on {where} but the batch is on {X.device}: move both "
            "to one device, e.g. net.to(device) and load_fashion_mnist(..., device=device)")
    dtypes = {p.dtype for p in net.parameters()
              if not is_lazy(p) and p.is_floating_point()}
    if len(dtypes) == 1 and X.dtype not in dtypes:
        (expected,) = dtypes
        if X.dtype == torch.uint8:
            fix = "convert the batch with X.float() / 255"
        elif X.is_floating_point():
            fix = f"convert the batch with X.to({expected}), or the model with net.to({X.dtype})"
        else:
            fix = f"convert the batch with X.to({expected})"
        raise TypeError(f"the batch has dtype {X.dtype} but the model's parameters are "
                        f"{expected}: {fix}")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def try_gpu(i: int = 0) -> torch.device:
    """Return GPU ``i`` if there is one: CUDA first, then Apple MPS, else the CPU.

    Args:
        i: index of the CUDA device to use.

    Raises:
        ValueError: ``i`` is negative.
    """
    if i < 0:
        raise ValueError(f"GPU index must be >= 0, got {i}")
    if torch.cuda.device_count() > i:
        return torch.device(f"cuda:{i}")
    if i == 0 and _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def try_all_gpus() -> list[torch.device]:
    """Return every CUDA device, else ``[mps]`` on Apple silicon, else ``[cpu]``."""
    devices = [torch.device(f"cuda:{i}") for i in range(torch.cuda.device_count())]
    if devices:
        return devices
    return [torch.device("mps")] if _mps_available() else [torch.device("cpu")]


def seed_everything(seed: int = 0, deterministic: bool = False) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (all devices) and return a seeded generator.

    Args:
        seed: the seed.
        deterministic: also ask PyTorch for deterministic kernels (slower on GPU).

    Returns:
        A CPU ``torch.Generator`` seeded with ``seed``.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def best_time(fn: Callable[[], object], device: torch.device | str | None = None,
              repeats: int = 5) -> float:
    """The shortest wall time of ``fn()`` over ``repeats`` runs, in seconds.

    One untimed call comes first (it may allocate memory or pick an algorithm).
    On CUDA the clock waits for the GPU before starting and before stopping,
    since GPU calls return before the work is done. The minimum is the run
    least disturbed by other processes.

    Args:
        fn: the work to time, called with no arguments.
        device: where ``fn`` computes (default: the CPU).
        repeats: timed runs.

    Raises:
        ValueError: ``repeats`` is not positive.
    """
    if repeats <= 0:
        raise ValueError(f"repeats must be positive, got {repeats}")
    device = torch.device(device) if device is not None else torch.device("cpu")

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return min(times)
