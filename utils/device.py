"""Devices and seeding."""

from __future__ import annotations

import random

import numpy as np
import torch


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
