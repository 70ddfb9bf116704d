"""Shared fixtures: a tiny synthetic Fashion-MNIST-like data set and a data root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import utils

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def data_root() -> Path:
    """The real data: CNNBOOK_DATA if set, else ../shared/data beside the repository,
    else the notebooks' cache folder, which torchvision downloads into on first use."""
    env = os.environ.get("CNNBOOK_DATA")
    shared = REPO.parent / "shared" / "data"
    if env or (shared / "FashionMNIST" / "raw").is_dir():
        root = Path(env) if env else shared
        if not (root / "FashionMNIST" / "raw").is_dir():
            pytest.fail(f"Fashion-MNIST not found under {root}: set CNNBOOK_DATA")
        return root
    root = utils.data.default_cache_dir()
    try:
        for split in ("train", "test"):
            utils.data.read_fashion_mnist(split, root=root, download=True)
    except utils.data.DataError as err:
        pytest.fail(str(err))
    return root


def make_loaders(n: int = 512, batch_size: int = 64, seed: int = 0):
    """An easy 10-class problem: the class sets the brightness of a square."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=gen)
    images = torch.randint(0, 40, (n, 28, 28), generator=gen, dtype=torch.uint8)
    for c in range(10):
        idx = labels == c
        images[idx, 4 + 2 * c:8 + 2 * c, 4:24] = 200
    train = utils.DeviceLoader(images, labels, batch_size, shuffle=True, seed=seed)
    test = utils.DeviceLoader(images[: n // 4], labels[: n // 4], batch_size)
    return train, test


def small_net() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(4),
        torch.nn.Flatten(), torch.nn.Linear(4 * 7 * 7, 10))
