"""Convolution and pooling written with loops, as the chapters derive them.

They are slow on purpose: each output element is one visible sum. The tests
compare them with ``torch.nn.functional`` on random shapes.
"""

from __future__ import annotations

import torch


def _check_rank(name: str, T: torch.Tensor, rank: int, layout: str) -> None:
    if T.dim() != rank:
        raise ValueError(f"{name} must be {rank}-D {layout}, got shape {tuple(T.shape)}")


def corr2d(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Two-dimensional cross-correlation of one input with one kernel (no padding, stride 1).

    Args:
        X: input ``(h, w)``.
        K: kernel ``(kh, kw)``, no larger than ``X``.

    Returns:
        ``(h - kh + 1, w - kw + 1)``.

    Raises:
        ValueError: a tensor is not 2-D, or the kernel is larger than the input.
    """
    _check_rank("X", X, 2, "(height, width)")
    _check_rank("K", K, 2, "(height, width)")
    h, w = K.shape
    if h > X.shape[0] or w > X.shape[1]:
        raise ValueError(f"kernel {h}x{w} is larger than the {X.shape[0]}x{X.shape[1]} "
                         "input: pad the input or use a smaller kernel")
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1),
                    dtype=torch.result_type(X, K), device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y


def corr2d_multi_in(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Cross-correlation with several input channels: one 2-D result per channel, summed.

    Args:
        X: input ``(c_in, h, w)``.
        K: kernel ``(c_in, kh, kw)``.

    Raises:
        ValueError: wrong ranks or channel counts that differ.
    """
    _check_rank("X", X, 3, "(channels, height, width)")
    _check_rank("K", K, 3, "(channels, height, width)")
    if X.shape[0] != K.shape[0]:
        raise ValueError(f"X has {X.shape[0]} channels but K has {K.shape[0]}: "
                         "they must match")
    return sum(corr2d(x, k) for x, k in zip(X, K))  # type: ignore[return-value]


def corr2d_multi_in_out(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Cross-correlation with several input and output channels.

    Args:
        X: input ``(c_in, h, w)``.
        K: kernels ``(c_out, c_in, kh, kw)``.

    Returns:
        ``(c_out, h - kh + 1, w - kw + 1)``.

    Raises:
        ValueError: wrong ranks or channel counts that differ.
    """
    _check_rank("K", K, 4, "(out_channels, in_channels, height, width)")
    return torch.stack([corr2d_multi_in(X, k) for k in K], 0)


def corr2d_multi_in_out_1x1(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """A 1x1 convolution computed as one matrix multiplication.

    Args:
        X: input ``(c_in, h, w)``.
        K: kernels ``(c_out, c_in, 1, 1)``.

    Raises:
        ValueError: wrong ranks, a kernel that is not 1x1, or channel counts that differ.
    """
    _check_rank("X", X, 3, "(channels, height, width)")
    _check_rank("K", K, 4, "(out_channels, in_channels, 1, 1)")
    if K.shape[2:] != (1, 1):
        raise ValueError(f"kernel must be 1x1, got {K.shape[2]}x{K.shape[3]}")
    c_i, h, w = X.shape
    if K.shape[1] != c_i:
        raise ValueError(f"X has {c_i} channels but K expects {K.shape[1]}")
    Y = K.reshape(K.shape[0], c_i) @ X.reshape(c_i, h * w)
    return Y.reshape(K.shape[0], h, w)


def pool2d(X: torch.Tensor, pool_size: tuple[int, int], mode: str = "max",
           padding: int | tuple[int, int] = 0,
           stride: int | tuple[int, int] | None = None) -> torch.Tensor:
    """Max or average pooling of one 2-D input, written with loops.

    Padding adds ``-inf`` for ``"max"`` and zeros for ``"avg"`` (zeros count in
    the average), like ``F.max_pool2d`` and ``F.avg_pool2d`` with their defaults.

    Args:
        X: input ``(h, w)``.
        pool_size: window ``(ph, pw)``.
        mode: ``"max"`` or ``"avg"``.
        padding: rows/columns added on each side.
        stride: step of the window; default: the window size, as in PyTorch.

    Raises:
        ValueError: ``X`` is not 2-D, an unknown mode, or a window larger than the
            padded input.
    """
    _check_rank("X", X, 2, "(height, width)")
    if mode not in ("max", "avg"):
        raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
    p_h, p_w = pool_size
    pad_h, pad_w = (padding, padding) if isinstance(padding, int) else padding
    if stride is None:
        stride = (p_h, p_w)
    s_h, s_w = (stride, stride) if isinstance(stride, int) else stride
    if min(p_h, p_w, s_h, s_w) <= 0 or min(pad_h, pad_w) < 0:
        raise ValueError(f"window {pool_size}, stride {stride} must be positive and "
                         f"padding {padding} non-negative")
    if pad_h or pad_w:
        fill = float("-inf") if mode == "max" else 0.0
        Xp = torch.full((X.shape[0] + 2 * pad_h, X.shape[1] + 2 * pad_w), fill,
                        dtype=X.dtype, device=X.device)
        Xp[pad_h:pad_h + X.shape[0], pad_w:pad_w + X.shape[1]] = X
        X = Xp
    if p_h > X.shape[0] or p_w > X.shape[1]:
        raise ValueError(f"pooling window {p_h}x{p_w} is larger than the "
                         f"{X.shape[0]}x{X.shape[1]} (padded) input")
    Y = torch.zeros(((X.shape[0] - p_h) // s_h + 1, (X.shape[1] - p_w) // s_w + 1),
                    dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            window = X[i * s_h:i * s_h + p_h, j * s_w:j * s_w + p_w]
            Y[i, j] = window.max() if mode == "max" else window.mean()
    return Y


def conv_output_size(n: int, k: int, padding: int = 0, stride: int = 1,
                     dilation: int = 1) -> int:
    """Output length of a convolution along one axis: floor((n + 2p - d(k-1) - 1)/s) + 1.

    Raises:
        ValueError: a non-positive size/stride, negative padding, or a window
            larger than the padded input.
    """
    if min(n, k, stride, dilation) <= 0 or padding < 0:
        raise ValueError(f"need n, k, stride, dilation > 0 and padding >= 0, got n={n}, "
                         f"k={k}, padding={padding}, stride={stride}, dilation={dilation}")
    span = dilation * (k - 1) + 1
    if span > n + 2 * padding:
        raise ValueError(f"a window spanning {span} does not fit an input of {n} "
                         f"padded by {padding} on each side")
    return (n + 2 * padding - span) // stride + 1
