"""Saving and restoring a model (and optimizer) safely."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .device import model_device


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, corrupt or does not fit the model."""


def save_checkpoint(path: str | os.PathLike[str], net: nn.Module,
                    optimizer: torch.optim.Optimizer | None = None, **extra: Any) -> Path:
    """Save ``net`` (and ``optimizer``) atomically: write a temporary file, then rename.

    A crash while saving leaves the previous checkpoint intact.

    Args:
        path: destination file.
        net: the model.
        optimizer: its optimizer, to resume training with the same state.
        **extra: plain values (epoch, history records, ...) to store alongside.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"model": net.state_dict(), "extra": extra}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint(path: str | os.PathLike[str], net: nn.Module,
                    optimizer: torch.optim.Optimizer | None = None,
                    map_location: torch.device | str | None = None) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` into ``net`` (and ``optimizer``).

    Loads with ``weights_only=True`` (no arbitrary code runs). The model is
    only changed once the whole file has been read and checked.

    Returns:
        The ``extra`` values stored with the checkpoint.

    Raises:
        CheckpointError: the file is missing, truncated/corrupt, lacks an optimizer
            state that was asked for, or its tensors do not fit the model.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    if map_location is None:
        map_location = model_device(net)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated or corrupt?): "
            f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}. "
            "The model was not changed.") from err
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path} was not written by save_checkpoint: no 'model' entry")
    if optimizer is not None and "optimizer" not in state:
        raise CheckpointError(f"{path} holds no optimizer state; save it with "
                              "save_checkpoint(path, net, optimizer)")
    current = net.state_dict()
    missing = sorted(set(current) - set(state["model"]))
    unexpected = sorted(set(state["model"]) - set(current))
    wrong = [k for k in current if k in state["model"]
             and state["model"][k].shape != current[k].shape]
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{path} does not fit this model: missing {missing[:3]}, unexpected "
            f"{unexpected[:3]}, shape mismatch {wrong[:3]}. The model was not changed.")
    net.load_state_dict(state["model"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    return dict(state.get("extra", {}))
