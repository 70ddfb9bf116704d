"""The classic networks of chapter 8: AlexNet, VGG, NiN, GoogLeNet and DenseNet.

Each family is written out inline in ``chapters/08_classic_networks.ipynb``,
which asserts that its version and this one agree (same parameter shapes and
the same output from the same seed). Every builder takes one input channel and
ten classes by default (Fashion-MNIST). The defaults are the published layouts
for 224x224 inputs; the width arguments and ``small_input`` give the
scaled-down versions that the chapter trains on 28x28 images on a CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

# VGG-11 (configuration "A" of the VGG paper): (number of convolutions, channels) per block.
VGG11: tuple[tuple[int, int], ...] = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))


def _check_positive(**values: int) -> None:
    """Raise ``ValueError`` naming every argument that is not a positive integer."""
    bad = {k: v for k, v in values.items() if not isinstance(v, int) or v < 1}
    if bad:
        listed = ", ".join(f"{k}={v!r}" for k, v in bad.items())
        raise ValueError(f"{listed}: must be a positive integer")


def _pooled(side: int, kernel_size: int, stride: int, padding: int = 0) -> int:
    """Output side of a convolution or pooling window over ``side`` pixels."""
    return (side + 2 * padding - kernel_size) // stride + 1


def alexnet(num_classes: int = 10, in_channels: int = 1,
            channels: Sequence[int] = (96, 256, 384, 384, 256), hidden: int = 4096,
            small_input: bool = False) -> nn.Sequential:
    """AlexNet: five convolutions, three 3x3 max poolings, three dense layers with dropout.

    The teaching version (no local response normalisation, no split over two
    GPUs). With the defaults it expects 224x224 inputs, as published.

    Args:
        num_classes: outputs of the last layer.
        in_channels: 1 for Fashion-MNIST, 3 for colour images.
        channels: output channels of the five convolutions.
        hidden: width of the two hidden dense layers.
        small_input: for 28x28 inputs: the 11x11 stride-4 first convolution
            becomes a 3x3 one with stride 1 (the rest is unchanged).

    Returns:
        The network, an ``nn.Sequential``.

    Raises:
        ValueError: ``channels`` does not have five positive entries, or a
            size is not a positive integer.
    """
    _check_positive(num_classes=num_classes, in_channels=in_channels, hidden=hidden)
    channels = tuple(channels)
    if len(channels) != 5:
        raise ValueError(f"channels={channels}: AlexNet has five convolutions, "
                         "so pass five channel numbers")
    _check_positive(**{f"channels[{i}]": c for i, c in enumerate(channels)})
    c1, c2, c3, c4, c5 = channels
    if small_input:      # 28 -> 28 -> 13 -> 6 -> 2
        first = nn.Conv2d(in_channels, c1, kernel_size=3, stride=1, padding=1)
        side = 28
    else:                # 224 -> 54 -> 26 -> 12 -> 5
        first = nn.Conv2d(in_channels, c1, kernel_size=11, stride=4, padding=1)
        side = _pooled(224, 11, 4, 1)
    for _ in range(3):
        side = _pooled(side, 3, 2)
    return nn.Sequential(
        first, nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(c1, c2, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(c2, c3, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(c3, c4, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(c4, c5, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten(),
        nn.Linear(c5 * side * side, hidden), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(hidden, num_classes))


def vgg_block(num_convs: int, in_channels: int, out_channels: int) -> nn.Sequential:
    """A VGG block: ``num_convs`` padded 3x3 convolutions with ReLU, then a 2x2 max pooling.

    The convolutions keep the height and width; the pooling halves them.

    Args:
        num_convs: number of 3x3 convolutions.
        in_channels: channels of the input.
        out_channels: channels of every convolution's output.

    Returns:
        The block, an ``nn.Sequential``.

    Raises:
        ValueError: an argument is not a positive integer.
    """
    _check_positive(num_convs=num_convs, in_channels=in_channels, out_channels=out_channels)
    layers: list[nn.Module] = []
    for _ in range(num_convs):
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
                   nn.ReLU()]
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def vgg(conv_arch: Sequence[tuple[int, int]] = VGG11, num_classes: int = 10,
        in_channels: int = 1, hidden: int = 4096, side: int = 224) -> nn.Sequential:
    """VGG: one :func:`vgg_block` per ``(convolutions, channels)`` pair, then AlexNet's head.

    Args:
        conv_arch: the blocks, e.g. :data:`VGG11`.
        num_classes: outputs of the last layer.
        in_channels: 1 for Fashion-MNIST, 3 for colour images.
        hidden: width of the two hidden dense layers.
        side: height and width of the inputs (the first dense layer depends on it).

    Returns:
        The network, an ``nn.Sequential``.

    Raises:
        ValueError: no blocks, or so many that the poolings shrink ``side``
            to nothing.
    """
    conv_arch = tuple(tuple(pair) for pair in conv_arch)
    if not conv_arch:
        raise ValueError("conv_arch is empty: pass at least one (convolutions, channels) pair")
    _check_positive(num_classes=num_classes, in_channels=in_channels, hidden=hidden,
                    side=side)
    last_side = side // 2 ** len(conv_arch)            # each block halves the side
    if last_side < 1:
        raise ValueError(f"{len(conv_arch)} blocks halve a {side}x{side} input to nothing: "
                         f"use at most {side.bit_length() - 1} blocks or a larger side")
    blocks = []
    for num_convs, out_channels in conv_arch:
        blocks.append(vgg_block(num_convs, in_channels, out_channels))
        in_channels = out_channels
    return nn.Sequential(
        *blocks, nn.Flatten(),
        nn.Linear(in_channels * last_side * last_side, hidden), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(hidden, num_classes))


def nin_block(in_channels: int, out_channels: int, kernel_size: int, stride: int,
              padding: int, num_1x1: int = 2) -> nn.Sequential:
    """A NiN block: one convolution, then ``num_1x1`` 1x1 convolutions, each with a ReLU.

    The 1x1 convolutions are a small MLP applied at every pixel.

    Args:
        in_channels: channels of the input.
        out_channels: channels of every convolution's output.
        kernel_size, stride, padding: of the first convolution.
        num_1x1: number of 1x1 convolutions (2 in the NiN paper).

    Returns:
        The block, an ``nn.Sequential``.

    Raises:
        ValueError: a size is not a positive integer, or ``num_1x1`` is negative.
    """
    _check_positive(in_channels=in_channels, out_channels=out_channels,
                    kernel_size=kernel_size, stride=stride)
    if padding < 0 or num_1x1 < 0:
        raise ValueError(f"padding={padding}, num_1x1={num_1x1}: neither may be negative")
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding), nn.ReLU()]
    for _ in range(num_1x1):
        layers += [nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU()]
    return nn.Sequential(*layers)


def nin(num_classes: int = 10, in_channels: int = 1,
        channels: Sequence[int] = (96, 256, 384), num_1x1: int = 2,
        small_input: bool = False) -> nn.Sequential:
    """Network in Network: four NiN blocks and global average pooling, no dense layer.

    The last block outputs one channel per class; averaging each channel over
    all positions gives the logits.

    Args:
        num_classes: classes (channels of the last block).
        in_channels: 1 for Fashion-MNIST, 3 for colour images.
        channels: output channels of the first three blocks.
        num_1x1: 1x1 convolutions per block.
        small_input: for 28x28 inputs: the first block's 11x11 stride-4
            convolution becomes a padded 3x3 one with stride 1.

    Returns:
        The network, an ``nn.Sequential``.

    Raises:
        ValueError: ``channels`` does not have three positive entries.
    """
    _check_positive(num_classes=num_classes, in_channels=in_channels)
    channels = tuple(channels)
    if len(channels) != 3:
        raise ValueError(f"channels={channels}: NiN has three blocks before its "
                         "classifier block, so pass three channel numbers")
    _check_positive(**{f"channels[{i}]": c for i, c in enumerate(channels)})
    c1, c2, c3 = channels
    first = (nin_block(in_channels, c1, 3, 1, 1, num_1x1) if small_input
             else nin_block(in_channels, c1, 11, 4, 0, num_1x1))
    return nn.Sequential(
        first, nn.MaxPool2d(kernel_size=3, stride=2),
        nin_block(c1, c2, 5, 1, 2, num_1x1), nn.MaxPool2d(kernel_size=3, stride=2),
        nin_block(c2, c3, 3, 1, 1, num_1x1), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Dropout(p=0.5),
        nin_block(c3, num_classes, 3, 1, 1, num_1x1),
        nn.AdaptiveAvgPool2d((1, 1)),          # global average pooling: one value per channel
        nn.Flatten())


class Inception(nn.Module):
    """The Inception block: four parallel branches, concatenated along the channels.

    Branch 1 is a 1x1 convolution; branch 2 a 1x1 reduction then a 3x3
    convolution; branch 3 a 1x1 reduction then a 5x5 convolution; branch 4 a
    3x3 max pooling (stride 1) then a 1x1 convolution. Padding keeps every
    branch at the input's height and width.

    Args:
        in_channels: channels of the input.
        c1: output channels of branch 1.
        c2: (reduction, output) channels of branch 2.
        c3: (reduction, output) channels of branch 3.
        c4: output channels of branch 4.

    Attributes:
        in_channels, config (``(c1, c2, c3, c4)``), out_channels (their sum).

    Raises:
        ValueError: a channel number is not a positive integer.
    """

    def __init__(self, in_channels: int, c1: int, c2: tuple[int, int], c3: tuple[int, int],
                 c4: int) -> None:
        super().__init__()
        c2, c3 = tuple(c2), tuple(c3)
        if len(c2) != 2 or len(c3) != 2:
            raise ValueError(f"c2={c2}, c3={c3}: each is a (reduction, output) pair")
        _check_positive(in_channels=in_channels, c1=c1, c2_reduce=c2[0], c2_out=c2[1],
                        c3_reduce=c3[0], c3_out=c3[1], c4=c4)
        self.b1 = nn.Sequential(nn.Conv2d(in_channels, c1, kernel_size=1), nn.ReLU())
        self.b2 = nn.Sequential(
            nn.Conv2d(in_channels, c2[0], kernel_size=1), nn.ReLU(),
            nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1), nn.ReLU())
        self.b3 = nn.Sequential(
            nn.Conv2d(in_channels, c3[0], kernel_size=1), nn.ReLU(),
            nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2), nn.ReLU())
        self.b4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1),
            nn.Conv2d(in_channels, c4, kernel_size=1), nn.ReLU())
        self.in_channels = in_channels
        self.config = (c1, c2, c3, c4)
        self.out_channels = c1 + c2[1] + c3[1] + c4

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Run the four branches on ``X`` and concatenate them along the channels."""
        return torch.cat([self.b1(X), self.b2(X), self.b3(X), self.b4(X)], dim=1)


def googlenet(num_classes: int = 10, in_channels: int = 1) -> nn.Sequential:
    """GoogLeNet (Table 1 of the paper): a stem, nine Inception blocks, global average pooling.

    Without the auxiliary classifiers and local response normalisation.
    Global average pooling lets it take any input size; 96x96 is the usual
    size for Fashion-MNIST.

    Args:
        num_classes: outputs of the last layer.
        in_channels: 1 for Fashion-MNIST, 3 for colour images.

    Returns:
        The network: ``nn.Sequential(stem, group3, group4, group5, classifier)``.

    Raises:
        ValueError: a size is not a positive integer.
    """
    _check_positive(num_classes=num_classes, in_channels=in_channels)
    stem = nn.Sequential(
        nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        nn.Conv2d(64, 64, kernel_size=1), nn.ReLU(),
        nn.Conv2d(64, 192, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    group3 = nn.Sequential(
        Inception(192, 64, (96, 128), (16, 32), 32),
        Inception(256, 128, (128, 192), (32, 96), 64),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    group4 = nn.Sequential(
        Inception(480, 192, (96, 208), (16, 48), 64),
        Inception(512, 160, (112, 224), (24, 64), 64),
        Inception(512, 128, (128, 256), (24, 64), 64),
        Inception(512, 112, (144, 288), (32, 64), 64),
        Inception(528, 256, (160, 320), (32, 128), 128),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    group5 = nn.Sequential(
        Inception(832, 256, (160, 320), (32, 128), 128),
        Inception(832, 384, (192, 384), (48, 128), 128),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
    return nn.Sequential(stem, group3, group4, group5, nn.Linear(1024, num_classes))


def googlenet_small(num_classes: int = 10, in_channels: int = 1,
                    divisor: int = 1) -> nn.Sequential:
    """A GoogLeNet for 28x28 inputs: a 3x3 stem, three small Inception blocks.

    28x28 -> (3x3 conv, 2x2 pool) 14x14 -> two Inception blocks -> 3x3
    stride-2 pool to 7x7 -> one Inception block -> global average pooling ->
    a dense layer. The channels are about a quarter of GoogLeNet's first blocks,
    with the same proportions between branches.

    Args:
        num_classes: outputs of the last layer.
        in_channels: 1 for Fashion-MNIST, 3 for colour images.
        divisor: divide every channel number by it (1, 2 or 4), for a
            narrower network.

    Returns:
        The network, an ``nn.Sequential``.

    Raises:
        ValueError: a size is not a positive integer, or ``divisor`` does not
            divide every channel number.
    """
    _check_positive(num_classes=num_classes, in_channels=in_channels, divisor=divisor)
    if 4 % divisor:
        raise ValueError(f"divisor={divisor}: the smallest branch has 4 channels, "
                         "so use 1, 2 or 4")

    def d(c: int) -> int:
        return c // divisor

    def block(cin: int, c1: int, c2: tuple[int, int], c3: tuple[int, int],
              c4: int) -> Inception:
        return Inception(d(cin), d(c1), (d(c2[0]), d(c2[1])), (d(c3[0]), d(c3[1])), d(c4))

    return nn.Sequential(
        nn.Conv2d(in_channels, d(32), kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=2),                                   # 28 -> 14
        block(32, 16, (24, 32), (4, 8), 8),                            # -> 64 channels
        block(64, 32, (32, 48), (8, 24), 16),                          # -> 120
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),              # 14 -> 7
        block(120, 48, (24, 52), (4, 12), 16),                         # -> 128
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(d(128), num_classes))


def dense_conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """One layer of a dense block: batch norm, ReLU, padded 3x3 convolution (no bias).

    Args:
        in_channels: channels of the input.
        out_channels: channels it adds (the growth rate).

    Returns:
        The layer, an ``nn.Sequential``.

    Raises:
        ValueError: an argument is not a positive integer.
    """
    _check_positive(in_channels=in_channels, out_channels=out_channels)
    return nn.Sequential(
        nn.BatchNorm2d(in_channels), nn.ReLU(),
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False))


class DenseBlock(nn.Module):
    """A dense block: ``num_convs`` layers, each one's output concatenated to its input.

    Layer ``i`` reads ``in_channels + i * growth_rate`` channels and adds
    ``growth_rate``, so the block outputs ``in_channels + num_convs * growth_rate``
    channels, the first ``in_channels`` of them the input unchanged.

    Args:
        num_convs: number of layers.
        in_channels: channels of the input.
        growth_rate: channels each layer adds.
        make_layer: builds a layer from (input channels, growth rate); default
            :func:`dense_conv_block` (a bottleneck layer gives DenseNet-BC).

    Attributes:
        out_channels: channels of the output.

    Raises:
        ValueError: an argument is not a positive integer.
    """

    def __init__(self, num_convs: int, in_channels: int, growth_rate: int,
                 make_layer: Callable[[int, int], nn.Module] = dense_conv_block) -> None:
        super().__init__()
        _check_positive(num_convs=num_convs, in_channels=in_channels, growth_rate=growth_rate)
        self.convs = nn.ModuleList(
            make_layer(in_channels + i * growth_rate, growth_rate) for i in range(num_convs))
        self.out_channels = in_channels + num_convs * growth_rate

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Append each layer's output to the running tensor along the channels."""
        for blk in self.convs:
            X = torch.cat([X, blk(X)], dim=1)    # (batch, channels + growth_rate, h, w)
        return X


def transition_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """DenseNet's transition layer: batch norm, ReLU, 1x1 convolution, 2x2 average pooling.

    It sets the channels (usually halving them) and halves the height and width.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.

    Returns:
        The layer, an ``nn.Sequential``.

    Raises:
        ValueError: an argument is not a positive integer.
    """
    _check_positive(in_channels=in_channels, out_channels=out_channels)
    return nn.Sequential(
        nn.BatchNorm2d(in_channels), nn.ReLU(),
        nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),
        nn.AvgPool2d(kernel_size=2, stride=2))


def densenet(num_classes: int = 10, in_channels: int = 1, num_channels: int = 64,
             growth_rate: int = 32, block_sizes: Sequence[int] = (4, 4, 4, 4),
             small_input: bool = False) -> nn.Sequential:
    """DenseNet: a stem, dense blocks with halving transitions, global average pooling.

    Args:
        num_classes: outputs of the last layer.
        in_channels: 1 for Fashion-MNIST, 3 for colour images.
        num_channels: channels of the stem.
        growth_rate: channels each layer of a dense block adds.
        block_sizes: layers of each dense block.
        small_input: for 28x28 inputs: a 3x3 convolution and one 2x2 pooling
            (28 -> 14) instead of ResNet's 7x7 stride-2 stem and 3x3 pooling
            (which shrink the side by 4).

    Returns:
        The network, an ``nn.Sequential``.

    Raises:
        ValueError: no blocks, or a size is not a positive integer.
    """
    block_sizes = tuple(block_sizes)
    if not block_sizes:
        raise ValueError("block_sizes is empty: pass the number of layers of each dense block")
    _check_positive(num_classes=num_classes, in_channels=in_channels,
                    num_channels=num_channels, growth_rate=growth_rate)
    if small_input:          # 28x28 in, 14x14 out
        stem = nn.Sequential(
            nn.Conv2d(in_channels, num_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(num_channels), nn.ReLU(), nn.MaxPool2d(kernel_size=2))
    else:                    # as in ResNet: the side shrinks by 4
        stem = nn.Sequential(
            nn.Conv2d(in_channels, num_channels, kernel_size=7, stride=2, padding=3,
                      bias=False),
            nn.BatchNorm2d(num_channels), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    layers: list[nn.Module] = [stem]
    for i, num_convs in enumerate(block_sizes):
        block = DenseBlock(num_convs, num_channels, growth_rate)
        layers.append(block)
        num_channels = block.out_channels
        if i < len(block_sizes) - 1:           # halve the channels between blocks
            layers.append(transition_block(num_channels, num_channels // 2))
            num_channels //= 2
    layers += [nn.BatchNorm2d(num_channels), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)),
               nn.Flatten(), nn.Linear(num_channels, num_classes)]
    return nn.Sequential(*layers)
