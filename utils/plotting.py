"""Plots: image grids, training histories and the live training figure."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (not a terminal IPython or plain Python)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _png_in_notebooks() -> None:
    """Make Jupyter show ``Figure`` objects as PNG images.

    Figures here are made without pyplot (so none is shown twice), and Jupyter
    only knows how to render them once the inline backend is active. Registering
    the formatter directly makes them show up even in a notebook that never
    imported pyplot. Does nothing outside IPython.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return
    from IPython.core.pylabtools import print_figure

    formatter = shell.display_formatter.formatters["image/png"]
    formatter.for_type(Figure, lambda fig: print_figure(fig, "png", bbox_inches="tight"))


def show_images(images: torch.Tensor | Sequence[Any], num_rows: int, num_cols: int,
                titles: Sequence[str] | None = None, scale: float = 1.5) -> Figure:
    """Draw a grid of images (axes off, an optional title above each).

    Args:
        images: a tensor ``(n, h, w)``/``(n, 1, h, w)``/``(n, 3, h, w)`` or a
            sequence of arrays/tensors/PIL images.
        num_rows, num_cols: grid shape; at most ``num_rows * num_cols`` images are shown.
        titles: one title per image (e.g. class names).
        scale: inches per image.

    Returns:
        The figure (shown by Jupyter when it is the cell's last expression).

    Raises:
        ValueError: the grid is empty or there are fewer titles than images shown.
    """
    if num_rows <= 0 or num_cols <= 0:
        raise ValueError(f"num_rows and num_cols must be positive, got {num_rows}x{num_cols}")
    n = min(len(images), num_rows * num_cols)
    if titles is not None and len(titles) < n:
        raise ValueError(f"{len(titles)} titles for {n} images")
    _png_in_notebooks()
    fig = Figure(figsize=(num_cols * scale, num_rows * scale * 1.15))
    axes = fig.subplots(num_rows, num_cols, squeeze=False).ravel()
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i >= n:
            continue
        img = images[i]
        if isinstance(img, torch.Tensor):
            img = img.detach().cpu()
            if img.dim() == 3 and img.shape[0] in (1, 3):
                img = img.permute(1, 2, 0)
            if img.dim() == 3 and img.shape[-1] == 1:
                img = img[..., 0]
            img = img.numpy()
        ax.imshow(img, cmap="gray" if getattr(img, "ndim", 3) == 2 else None)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=10)
    fig.tight_layout()
    return fig


def _style_axes(loss_ax: Axes, acc_ax: Axes, num_epochs: int) -> None:
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("cross-entropy loss")
    loss_ax.set_title("training loss")
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("accuracy")
    acc_ax.set_title("accuracy (train vs test)")
    acc_ax.set_ylim(0, 1)
    for ax in (loss_ax, acc_ax):
        ax.set_xlim(0, num_epochs)
        ax.grid(alpha=0.3)


def plot_history(history: Sequence[dict[str, float]], title: str | None = None) -> Figure:
    """Plot loss and train/test accuracy per epoch from a :func:`train` history.

    Raises:
        ValueError: the history is empty.
    """
    if not history:
        raise ValueError("the history is empty: nothing to plot")
    _png_in_notebooks()
    epochs = [r["epoch"] for r in history]
    fig = Figure(figsize=(9, 3))
    loss_ax, acc_ax = fig.subplots(1, 2)
    _style_axes(loss_ax, acc_ax, max(epochs))
    loss_ax.plot(epochs, [r["train_loss"] for r in history], "o-", label="train loss")
    acc_ax.plot(epochs, [r["train_acc"] for r in history], "o-", label="train acc")
    acc_ax.plot(epochs, [r["test_acc"] for r in history], "s--", label="test acc")
    acc_ax.legend(loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def compare_histories(histories: dict[str, Sequence[dict[str, float]]],
                      metric: str = "test_acc", title: str | None = None) -> Figure:
    """Plot one metric per epoch for several runs, one line each.

    Raises:
        ValueError: no histories, or a history without ``metric``.
    """
    if not histories:
        raise ValueError("no histories to compare")
    _png_in_notebooks()
    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    for name, hist in histories.items():
        if not hist or metric not in hist[0]:
            raise ValueError(f"history {name!r} has no {metric!r} values")
        ax.plot([r["epoch"] for r in hist], [r[metric] for r in hist], "o-", label=name)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(metric.replace("_", " "))
    if metric.endswith("acc"):
        ax.set_ylim(0, 1)
    ax.set_title(title or f"{metric.replace('_', ' ')} per epoch")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


class LivePlot:
    """The figure :func:`~utils.train` redraws while it trains (notebooks only).

    It is displayed once and then updated in place, so a saved notebook holds
    one static image: the last frame.
    """

    def __init__(self, num_epochs: int, min_interval: float = 1.0) -> None:
        self.num_epochs = num_epochs
        self.min_interval = min_interval
        self.train_x: list[float] = []
        self.train_loss: list[float] = []
        self.train_acc: list[float] = []
        self.test_x: list[float] = []
        self.test_acc: list[float] = []
        self._handle: Any = None
        self._last_draw = 0.0

    def add_train(self, x: float, loss: float, acc: float) -> None:
        """Record a running training loss and accuracy at fractional epoch ``x``."""
        self.train_x.append(x)
        self.train_loss.append(loss)
        self.train_acc.append(acc)

    def add_test(self, epoch: float, acc: float) -> None:
        """Record the test accuracy after an epoch."""
        self.test_x.append(epoch)
        self.test_acc.append(acc)

    def figure(self) -> Figure:
        """Draw the current state into a new figure."""
        fig = Figure(figsize=(9, 3))
        loss_ax, acc_ax = fig.subplots(1, 2)
        _style_axes(loss_ax, acc_ax, self.num_epochs)
        loss_ax.plot(self.train_x, self.train_loss, "-", label="train loss")
        acc_ax.plot(self.train_x, self.train_acc, "-", label="train acc")
        acc_ax.plot(self.test_x, self.test_acc, "s--", label="test acc")
        acc_ax.legend(loc="lower right")
        fig.tight_layout()
        return fig

    def draw(self, final: bool = False) -> None:
        """Show or update the figure, at most once per ``min_interval`` seconds."""
        import time

        from IPython.display import display

        now = time.perf_counter()
        if not final and now - self._last_draw < self.min_interval:
            return
        self._last_draw = now
        _png_in_notebooks()
        fig = self.figure()
        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)
