"""The loop-based teaching functions agree with torch.nn.functional."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import utils

SETTINGS = settings(max_examples=30, deadline=None)


@st.composite
def image_and_kernel(draw, channels: bool = False):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    h, w = draw(st.integers(kh, 8)), draw(st.integers(kw, 8))
    c_i = draw(st.integers(1, 3)) if channels else 1
    c_o = draw(st.integers(1, 3)) if channels else 1
    seed = draw(st.integers(0, 2**16))
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(c_i, h, w, generator=gen, dtype=torch.float64)
    K = torch.randn(c_o, c_i, kh, kw, generator=gen, dtype=torch.float64)
    return X, K


@SETTINGS
@given(image_and_kernel())
def test_corr2d_matches_conv2d(XK):
    X, K = XK
    expected = F.conv2d(X[None], K)[0, 0]
    torch.testing.assert_close(utils.corr2d(X[0], K[0, 0]), expected)


@SETTINGS
@given(image_and_kernel(channels=True))
def test_multi_channel_matches_conv2d(XK):
    X, K = XK
    expected = F.conv2d(X[None], K)[0]
    torch.testing.assert_close(utils.corr2d_multi_in_out(X, K), expected)
    torch.testing.assert_close(utils.corr2d_multi_in(X, K[0]), expected[0])


@SETTINGS
@given(image_and_kernel(channels=True))
def test_1x1_matches_conv2d(XK):
    X, K = XK
    K = K[:, :, :1, :1].contiguous()
    torch.testing.assert_close(utils.corr2d_multi_in_out_1x1(X, K), F.conv2d(X[None], K)[0])


@st.composite
def pooling_case(draw):
    ph, pw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pad = draw(st.integers(0, min(ph, pw) // 2))  # PyTorch allows padding <= window/2
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(ph, 9)), draw(st.integers(pw, 9))
    X = torch.randn(h, w, generator=torch.Generator().manual_seed(draw(st.integers(0, 999))),
                    dtype=torch.float64)
    return X, (ph, pw), pad, (sh, sw)


@SETTINGS
@given(pooling_case())
def test_pool2d_matches_functional(case):
    X, window, pad, stride = case
    torch.testing.assert_close(
        utils.pool2d(X, window, "max", padding=pad, stride=stride),
        F.max_pool2d(X[None, None], window, stride=stride, padding=pad)[0, 0])
    torch.testing.assert_close(
        utils.pool2d(X, window, "avg", padding=pad, stride=stride),
        F.avg_pool2d(X[None, None], window, stride=stride, padding=pad)[0, 0])


def test_pool2d_default_stride_is_window():
    X = torch.arange(16.0).reshape(4, 4)
    assert utils.pool2d(X, (2, 2)).tolist() == [[5.0, 7.0], [13.0, 15.0]]


@SETTINGS
@given(st.integers(1, 30), st.integers(1, 7), st.integers(0, 3), st.integers(1, 3),
       st.integers(1, 2))
def test_conv_output_size_matches_conv2d(n, k, p, s, d):
    if d * (k - 1) + 1 > n + 2 * p:
        with pytest.raises(ValueError, match="does not fit"):
            utils.conv_output_size(n, k, p, s, d)
        return
    conv = torch.nn.Conv2d(1, 1, k, padding=p, stride=s, dilation=d)
    assert conv(torch.zeros(1, 1, n, n)).shape[-1] == utils.conv_output_size(n, k, p, s, d)


@pytest.mark.parametrize("call, words", [
    (lambda: utils.corr2d(torch.zeros(3, 3, 3), torch.zeros(2, 2)),
     r"X must be 2-D \(height, width\), got shape \(3, 3, 3\)"),
    (lambda: utils.corr2d(torch.zeros(3, 3), torch.zeros(5, 5)),
     "kernel 5x5 is larger than the 3x3 input"),
    (lambda: utils.corr2d_multi_in(torch.zeros(2, 4, 4), torch.zeros(3, 2, 2)),
     "X has 2 channels but K has 3"),
    (lambda: utils.corr2d_multi_in_out(torch.zeros(2, 4, 4), torch.zeros(2, 2, 2)),
     "K must be 4-D"),
    (lambda: utils.corr2d_multi_in_out_1x1(torch.zeros(2, 4, 4), torch.zeros(3, 2, 3, 3)),
     "kernel must be 1x1, got 3x3"),
    (lambda: utils.pool2d(torch.zeros(4, 4), (2, 2), "median"),
     "mode must be 'max' or 'avg', got 'median'"),
    (lambda: utils.pool2d(torch.zeros(2, 2), (3, 3)), "pooling window 3x3 is larger than"),
    (lambda: utils.pool2d(torch.zeros(4), (1, 1)), r"got shape \(4,\)"),
    (lambda: utils.conv_output_size(0, 3), "need n, k, stride, dilation > 0"),
])
def test_bad_input_is_named(call, words):
    with pytest.raises(ValueError, match=words):
        call()
