"""Models that several chapters reuse: LeNet and ResNet-18."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.modules.batchnorm import _BatchNorm


def lenet(num_classes: int = 10) -> nn.Sequential:
    """The classic LeNet-5 for 28x28 inputs: sigmoid activations, average pooling.

    The first convolution pads by 2, so 28x28 inputs get the 32x32 geometry of
    the original paper.
    """
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, num_classes))


def lenet_modern(num_classes: int = 10) -> nn.Sequential:
    """LeNet with ReLU activations and max pooling (same layer sizes)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(),
        nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, num_classes))


def init_xavier(module: nn.Module) -> None:
    """Xavier-uniform init for ``Linear``/``Conv2d`` weights; use with ``net.apply``."""
    if isinstance(module, (nn.Linear, nn.Conv2d)):
        nn.init.xavier_uniform_(module.weight)


class Residual(nn.Module):
    """The ResNet basic block: two 3x3 convolutions with batch norm and a skip.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        use_1x1conv: pass the skip connection through a 1x1 convolution
            (needed when channels or resolution change).
        stride: stride of the first convolution (and of the 1x1 convolution).

    As in the original paper's option (B), the projection is a plain 1x1
    convolution; torchvision adds a batch norm after it.

    Raises:
        ValueError: the shapes of the two branches could not match.
    """

    def __init__(self, in_channels: int, out_channels: int, use_1x1conv: bool = False,
                 stride: int = 1) -> None:
        super().__init__()
        if not use_1x1conv and (in_channels != out_channels or stride != 1):
            raise ValueError(
                f"a block from {in_channels} to {out_channels} channels with stride "
                f"{stride} changes the shape, so the skip connection needs "
                "use_1x1conv=True")
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1,
                               stride=stride, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1,
                               bias=False)
        self.conv3 = (nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride,
                                bias=False) if use_1x1conv else None)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        skip = self.conv3(X) if self.conv3 is not None else X
        return F.relu(Y + skip)


def resnet_stage(in_channels: int, out_channels: int, num_residuals: int,
                 first_stage: bool = False) -> nn.Sequential:
    """A stage of residual blocks; all but the first stage halve height and width."""
    blocks = []
    for i in range(num_residuals):
        if i == 0 and not first_stage:
            blocks.append(Residual(in_channels, out_channels, use_1x1conv=True, stride=2))
        else:
            blocks.append(Residual(out_channels, out_channels))
    return nn.Sequential(*blocks)


def resnet18(num_classes: int = 10, in_channels: int = 1,
             widths: tuple[int, int, int, int] = (64, 128, 256, 512)) -> nn.Sequential:
    """ResNet-18: a 7x7 stem, four stages of two blocks, global average pooling.

    Args:
        num_classes: outputs of the final layer.
        in_channels: 1 for Fashion-MNIST, 3 for colour images.
        widths: channels of the four stages (smaller widths train faster on a CPU).
    """
    stem = nn.Sequential(
        nn.Conv2d(in_channels, widths[0], kernel_size=7, stride=2, padding=3, bias=False),
        nn.BatchNorm2d(widths[0]), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    stages = [resnet_stage(widths[0], widths[0], 2, first_stage=True)]
    stages += [resnet_stage(widths[i - 1], widths[i], 2) for i in range(1, 4)]
    return nn.Sequential(stem, *stages, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                         nn.Linear(widths[3], num_classes))


@contextmanager
def evaluation_mode(net: nn.Module) -> Iterator[nn.Module]:
    """Put ``net`` in evaluation mode, then give every submodule its own mode back.

    ``net.train(was_training)`` would restore only the top module's flag and set
    all children to it, unfreezing a batch norm layer frozen with ``.eval()``
    inside a training model; this restores each one.
    """
    modes = [(m, m.training) for m in net.modules()]
    net.eval()
    try:
        yield net
    finally:
        for module, mode in modes:
            module.training = mode


def recompute_bn_statistics(net: nn.Module, data_iter: Iterable[Any], num_batches: int = 20,
                            types: tuple[type[nn.Module], ...] = (_BatchNorm,)) -> nn.Module:
    """A copy of ``net`` in evaluation mode whose batch-norm statistics are
    recomputed with its final weights: plain averages over ``num_batches`` batches.

    During training the running statistics are an exponential average over
    batches seen while the weights were still moving; recomputing them with the
    final weights often scores better (chapter 6 measures it). The k-th batch
    enters with momentum ``1/k``, which makes the result the plain mean of the
    batch statistics. ``net`` itself is not changed.

    Args:
        net: a model containing batch-norm layers.
        data_iter: ``(X, y)`` batches, usually the training set.
        num_batches: how many batches to average over (fewer if ``data_iter``
            has fewer).
        types: the layer classes to recompute: PyTorch's batch norms by default;
            add your own class if it has ``momentum`` and updates its running
            statistics in training mode as PyTorch's does.

    Raises:
        ValueError: ``net`` has no layer of ``types``, ``num_batches`` is not
            positive, or ``data_iter`` yields no batch.
    """
    if num_batches <= 0:
        raise ValueError(f"num_batches must be positive, got {num_batches}")
    copied = copy.deepcopy(net).train()
    norms = [m for m in copied.modules() if isinstance(m, types)]
    if not norms:
        names = ", ".join(t.__name__ for t in types)
        raise ValueError(f"the model has no batch-normalization layer ({names}); for a layer "
                         "class of your own pass it in types=")
    originals = [m.momentum for m in norms]
    device = next(copied.parameters()).device
    seen = 0
    with torch.no_grad():
        for seen, (X, _) in enumerate(data_iter, start=1):
            for m in norms:
                m.momentum = 1 / seen  # type: ignore[assignment]
            copied(X.to(device))
            if seen == num_batches:
                break
    if seen == 0:
        raise ValueError("data_iter yielded no batches")
    for m, original in zip(norms, originals, strict=True):
        m.momentum = original
    return copied.eval()


def layer_summary(net: nn.Module, X: torch.Tensor) -> str:
    """Trace ``X`` through the top-level layers of ``net``: output shape and parameters.

    Args:
        net: an ``nn.Sequential`` (or any module whose children run in order).
        X: an example input batch.

    Returns:
        A text table, one line per layer and a total.

    The trace runs in evaluation mode (so batch norm accepts a single example
    and its running statistics are not updated); every submodule's mode is
    restored afterwards.
    """
    lines = [f"{'layer':<22}{'output shape':<24}{'params':>10}"]
    total = 0
    with evaluation_mode(net), torch.no_grad():
        for name, layer in net.named_children():
            X = layer(X)
            n = sum(p.numel() for p in layer.parameters())
            total += n
            label = f"{name}: {type(layer).__name__}"
            lines.append(f"{label:<22}{str(tuple(X.shape)):<24}{n:>10,}")
    lines.append(f"{'total':<46}{total:>10,}")
    return "\n".join(lines)


def num_params(net: nn.Module) -> int:
    """Number of parameters (weights and biases) of ``net``, trainable or not."""
    return sum(p.numel() for p in net.parameters())


def count_macs(net: nn.Module, shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of the ``Conv2d`` and ``Linear`` layers for one input.

    Counted by formula from the output shapes, on a copy of ``net`` on PyTorch's
    ``meta`` device (shapes only: no memory, no arithmetic), in evaluation mode;
    ``net`` itself is not touched. A convolution does ``k_h * k_w * c_in / groups``
    MACs per output value, a linear layer ``in_features`` per output value.
    Other layers (activations, pooling, batch norm) are not counted.

    Args:
        net: the model.
        shape: the shape of one input without the batch axis, e.g. ``(1, 28, 28)``.

    Returns:
        The number of multiply-accumulates for one input.
    """
    total = 0

    def hook(layer: nn.Module, inputs: object, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(layer, nn.Conv2d):
            kh, kw = layer.kernel_size
            total += output.numel() * kh * kw * layer.in_channels // layer.groups
        else:
            total += output.numel() * layer.in_features

    probe = copy.deepcopy(net).to("meta").eval()
    for m in probe.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.register_forward_hook(hook)
    with torch.no_grad():
        probe(torch.zeros(1, *shape, device="meta"))
    return total
