"""The classic networks of utils/classic.py: output shapes, parameter counts, bad arguments.

Parameter counts are worked out by formula: a convolution from c_in to c_out
channels with a k x k kernel has c_in * c_out * k * k weights and c_out biases,
a linear layer n_in * n_out + n_out, a batch norm 2 * channels.
"""

import pytest
import torch

import utils


def conv(c_in, c_out, k, bias=True):
    return c_in * c_out * k * k + (c_out if bias else 0)


def linear(n_in, n_out):
    return n_in * n_out + n_out


def bn(c):
    return 2 * c


def inception_params(c_in, c1, c2, c3, c4):
    return (conv(c_in, c1, 1) + conv(c_in, c2[0], 1) + conv(c2[0], c2[1], 3)
            + conv(c_in, c3[0], 1) + conv(c3[0], c3[1], 5) + conv(c_in, c4, 1))


def meta(make, *args, **kwargs):
    with torch.device("meta"):
        return make(*args, **kwargs).eval()


def out_shape(net, side, channels=1):
    with torch.no_grad():
        return tuple(net(torch.zeros(2, channels, side, side, device="meta")).shape)


def test_alexnet_published_and_small():
    net = meta(utils.alexnet)
    expected = (conv(1, 96, 11) + conv(96, 256, 5) + conv(256, 384, 3) + conv(384, 384, 3)
                + conv(384, 256, 3) + linear(256 * 5 * 5, 4096) + linear(4096, 4096)
                + linear(4096, 10))
    assert utils.num_params(net) == expected
    assert out_shape(net, 224) == (2, 10)
    small = meta(utils.alexnet, channels=(4, 8, 8, 8, 8), hidden=16, small_input=True)
    expected = (conv(1, 4, 3) + conv(4, 8, 5) + 3 * conv(8, 8, 3) + linear(8 * 2 * 2, 16)
                + linear(16, 16) + linear(16, 10))
    assert utils.num_params(small) == expected
    assert out_shape(small, 28) == (2, 10)


def test_vgg_block_and_vgg():
    blk = utils.vgg_block(2, 3, 8)
    assert utils.num_params(blk) == conv(3, 8, 3) + conv(8, 8, 3)
    assert blk(torch.zeros(1, 3, 10, 10)).shape == (1, 8, 5, 5)
    net = meta(utils.vgg, num_classes=1000, in_channels=3)
    widths = [(3, 64), (64, 128), (128, 256), (256, 256), (256, 512), (512, 512),
              (512, 512), (512, 512)]
    expected = (sum(conv(a, b, 3) for a, b in widths) + linear(512 * 7 * 7, 4096)
                + linear(4096, 4096) + linear(4096, 1000))
    assert utils.num_params(net) == expected == 132_863_336   # torchvision's vgg11
    assert out_shape(net, 224, channels=3) == (2, 1000)
    small = meta(utils.vgg, ((1, 4), (2, 8)), hidden=16, side=28)
    assert utils.num_params(small) == (conv(1, 4, 3) + conv(4, 8, 3) + conv(8, 8, 3)
                                       + linear(8 * 7 * 7, 16) + linear(16, 16)
                                       + linear(16, 10))
    assert out_shape(small, 28) == (2, 10)


def test_nin_block_and_nin():
    blk = utils.nin_block(3, 8, kernel_size=3, stride=1, padding=1, num_1x1=3)
    assert utils.num_params(blk) == conv(3, 8, 3) + 3 * conv(8, 8, 1)
    assert blk(torch.zeros(1, 3, 6, 6)).shape == (1, 8, 6, 6)
    net = meta(utils.nin)
    expected = sum(conv(a, b, k) + 2 * conv(b, b, 1)
                   for a, b, k in ((1, 96, 11), (96, 256, 5), (256, 384, 3), (384, 10, 3)))
    assert utils.num_params(net) == expected
    assert out_shape(net, 224) == out_shape(net, 300) == (2, 10)
    small = meta(utils.nin, channels=(4, 8, 8), num_1x1=1, small_input=True)
    assert utils.num_params(small) == sum(
        conv(a, b, k) + conv(b, b, 1) for a, b, k in ((1, 4, 3), (4, 8, 5), (8, 8, 3),
                                                      (8, 10, 3)))
    assert out_shape(small, 28) == (2, 10)


def test_inception():
    blk = utils.Inception(192, 64, (96, 128), (16, 32), 32)
    assert blk.out_channels == 256 and blk.in_channels == 192
    assert utils.num_params(blk) == inception_params(192, 64, (96, 128), (16, 32), 32)
    assert blk(torch.zeros(1, 192, 7, 7)).shape == (1, 256, 7, 7)


def test_googlenet():
    net = meta(utils.googlenet)
    table1 = [(192, 64, (96, 128), (16, 32), 32), (256, 128, (128, 192), (32, 96), 64),
              (480, 192, (96, 208), (16, 48), 64), (512, 160, (112, 224), (24, 64), 64),
              (512, 128, (128, 256), (24, 64), 64), (512, 112, (144, 288), (32, 64), 64),
              (528, 256, (160, 320), (32, 128), 128), (832, 256, (160, 320), (32, 128), 128),
              (832, 384, (192, 384), (48, 128), 128)]
    expected = (conv(1, 64, 7) + conv(64, 64, 1) + conv(64, 192, 3)
                + sum(inception_params(*row) for row in table1) + linear(1024, 10))
    assert utils.num_params(net) == expected
    assert out_shape(net, 96) == out_shape(net, 224) == (2, 10)
    for divisor in (1, 2, 4):
        small = meta(utils.googlenet_small, divisor=divisor)
        assert out_shape(small, 28) == (2, 10)
        assert small[-1].in_features == 128 // divisor


def test_dense_blocks_and_densenet():
    blk = utils.DenseBlock(2, 3, 10)
    X = torch.rand(2, 3, 8, 8)
    Y = blk(X)
    assert Y.shape == (2, 23, 8, 8) and blk.out_channels == 23
    assert torch.equal(Y[:, :3], X)
    assert utils.num_params(blk) == bn(3) + conv(3, 10, 3, False) + bn(13) + conv(13, 10, 3, False)
    trans = utils.transition_block(23, 11)
    assert utils.num_params(trans) == bn(23) + conv(23, 11, 1, False)
    assert trans(Y).shape == (2, 11, 4, 4)

    def densenet_params(c, k, sizes, first):
        total = first
        for i, n in enumerate(sizes):
            total += sum(bn(c + j * k) + conv(c + j * k, k, 3, False) for j in range(n))
            c += n * k
            if i < len(sizes) - 1:
                total += bn(c) + conv(c, c // 2, 1, False)
                c //= 2
        return total + bn(c) + linear(c, 10)

    net = meta(utils.densenet)
    assert utils.num_params(net) == densenet_params(64, 32, (4, 4, 4, 4),
                                                    conv(1, 64, 7, False) + bn(64))
    assert out_shape(net, 96) == (2, 10)
    small = meta(utils.densenet, num_channels=8, growth_rate=4, block_sizes=(2, 3),
                 small_input=True)
    assert utils.num_params(small) == densenet_params(8, 4, (2, 3), conv(1, 8, 3, False) + bn(8))
    assert out_shape(small, 28) == (2, 10)


@pytest.mark.parametrize("make, match", [
    (lambda: utils.alexnet(channels=(1, 2, 3)), "five convolutions"),
    (lambda: utils.alexnet(hidden=0), "hidden=0"),
    (lambda: utils.vgg_block(0, 1, 8), "num_convs=0"),
    (lambda: utils.vgg(()), "conv_arch is empty"),
    (lambda: utils.vgg(((1, 8),) * 6, side=28), "halve a 28x28 input to nothing"),
    (lambda: utils.nin_block(1, 8, 3, 1, 1, num_1x1=-1), "num_1x1=-1"),
    (lambda: utils.nin(channels=(8, 8)), "three channel numbers"),
    (lambda: utils.Inception(8, 4, (4,), (2, 4), 4), "reduction, output"),
    (lambda: utils.Inception(8, 0, (4, 4), (2, 4), 4), "c1=0"),
    (lambda: utils.googlenet_small(divisor=3), "divisor=3"),
    (lambda: utils.googlenet(num_classes=0), "num_classes=0"),
    (lambda: utils.dense_conv_block(4, 0), "out_channels=0"),
    (lambda: utils.DenseBlock(2, 3, 0), "growth_rate=0"),
    (lambda: utils.transition_block(0, 4), "in_channels=0"),
    (lambda: utils.densenet(block_sizes=()), "block_sizes is empty"),
])
def test_bad_arguments_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()
