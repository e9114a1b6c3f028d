"""Trusted answers for the convolution assignment (01): TensorFlow's convolution and pooling rules in NumPy,
and the logistic sigmoid.

The hidden suite of 01 compares a student's ``convolve2d``, ``conv2d_layer`` and ``pool2d`` with these
functions. They compute in float64 what ``tf.nn.conv2d`` (and ``keras.layers.Conv2D``), ``tf.nn.max_pool2d``
and ``tf.nn.avg_pool2d`` compute, without importing TensorFlow: grading 01 never pays TensorFlow's import
(seconds) nor its memory. That they agree with TensorFlow is not taken on trust: tests/test_conv_reference.py
compares every function here with TensorFlow itself, in float64, over many shapes, strides and paddings
(and :func:`sigmoid` with ``scipy.special.expit``).

Conventions are Keras's: a convolution slides the kernel as it is (a cross-correlation, no flip); images are
(H, W) or (H, W, C) with the channels last; a stride is an int or (rows, columns); ``padding`` is ``"valid"``
(no zeros), ``"same"`` (TensorFlow's rule, :func:`same_padding`) or an int P (P rings of zeros on every side,
which Keras has no name for).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["Padding", "Stride", "conv2d", "correlate2d", "pads", "pool2d", "same_padding", "sigmoid", "stride_pair"]

Stride = int | tuple[int, int]
Padding = str | int


def stride_pair(stride: Stride) -> tuple[int, int]:
    """A stride as (rows, columns): an int is the same step both ways. Raises ValueError below 1."""
    sh, sw = (stride, stride) if isinstance(stride, int) else (int(stride[0]), int(stride[1]))
    if sh < 1 or sw < 1:
        raise ValueError(f"a stride must be at least 1, not {stride!r}")
    return sh, sw


def same_padding(n: int, k: int, stride: int) -> tuple[int, int]:
    """TensorFlow's ``padding="SAME"`` along one axis of length ``n``, kernel (or window) ``k``: the zeros
    (before, after).

    The output has ``out = ceil(n / stride)`` positions; ``pad_total = max((out - 1) * stride + k - n, 0)``
    zeros make the last window fit; ``pad_total // 2`` go before (top, left) and the rest, one more when the
    total is odd, after (bottom, right).
    """
    if n < 1 or k < 1 or stride < 1:
        raise ValueError(f"same_padding needs n, k and stride of at least 1 (got {n}, {k}, {stride})")
    out = -(-n // stride)
    total = max((out - 1) * stride + k - n, 0)
    return total // 2, total - total // 2


def pads(shape: tuple[int, ...], kernel_shape: tuple[int, ...], stride: Stride,
         padding: Padding) -> tuple[tuple[int, int], tuple[int, int]]:
    """The zeros ((top, bottom), (left, right)) that ``padding`` adds around an image of ``shape`` (H, W, ...)
    for a kernel of ``kernel_shape`` (KH, KW, ...). Raises ValueError for an unknown padding."""
    if isinstance(padding, str) and padding in ("valid", "same"):
        if padding == "valid":
            return (0, 0), (0, 0)
        sh, sw = stride_pair(stride)
        return same_padding(shape[0], kernel_shape[0], sh), same_padding(shape[1], kernel_shape[1], sw)
    if isinstance(padding, int | np.integer) and not isinstance(padding, bool) and padding >= 0:
        p = int(padding)
        return (p, p), (p, p)
    raise ValueError(f"padding must be 'valid', 'same' or an int >= 0, not {padding!r}")


def _windows(x: np.ndarray, kh: int, kw: int, stride: Stride) -> np.ndarray:
    """Every (kh, kw) window of ``x`` (H, W, ...) that fits, stepping by ``stride``: (H', W', ..., kh, kw)."""
    sh, sw = stride_pair(stride)
    if kh > x.shape[0] or kw > x.shape[1]:
        raise ValueError(f"a {kh}×{kw} window does not fit in {x.shape[0]}×{x.shape[1]} (after padding)")
    return sliding_window_view(x, (kh, kw), axis=(0, 1))[::sh, ::sw]


def conv2d(x: np.ndarray, kernels: np.ndarray, bias: np.ndarray | None = None, stride: Stride = 1,
           padding: Padding = "valid") -> np.ndarray:
    """What ``keras.layers.Conv2D`` (no activation) computes for one image, in float64.

    ``x`` is (H, W, C_in), ``kernels`` (KH, KW, C_in, C_out), ``bias`` (C_out,) or None; the result is
    (H', W', C_out): output channel o is the sum over the input channels c of ``x[:, :, c]`` correlated with
    ``kernels[:, :, c, o]``, plus ``bias[o]``. Equal to ``tf.nn.conv2d`` with the same stride and padding
    (an int padding as explicit zeros), up to float64 rounding.
    """
    x = np.asarray(x, np.float64)
    kernels = np.asarray(kernels, np.float64)
    if x.ndim != 3 or kernels.ndim != 4 or kernels.shape[2] != x.shape[2]:
        raise ValueError(f"conv2d needs x (H, W, C) and kernels (KH, KW, C, C_out); got {x.shape} and "
                         f"{kernels.shape}")
    (top, bottom), (left, right) = pads(x.shape, kernels.shape, stride, padding)
    padded = np.pad(x, ((top, bottom), (left, right), (0, 0)))
    windows = _windows(padded, kernels.shape[0], kernels.shape[1], stride)  # (H', W', C, KH, KW)
    out = np.tensordot(windows, kernels, axes=([2, 3, 4], [2, 0, 1]))  # (H', W', C_out)
    if bias is not None:
        out = out + np.asarray(bias, np.float64)
    return np.ascontiguousarray(out)


def correlate2d(image: np.ndarray, kernel: np.ndarray, stride: Stride = 1, padding: Padding = "valid") -> np.ndarray:
    """Keras's 2-D convolution of one (H, W) image with one (KH, KW) kernel, in float64: the kernel slides
    unflipped over the padded image, ``stride`` pixels at a time (``tf.nn.conv2d`` with one channel)."""
    image = np.asarray(image, np.float64)
    kernel = np.asarray(kernel, np.float64)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"correlate2d needs a 2-D image and a 2-D kernel; got {image.shape} and {kernel.shape}")
    return conv2d(image[:, :, np.newaxis], kernel[:, :, np.newaxis, np.newaxis], None, stride, padding)[:, :, 0]


def pool2d(x: np.ndarray, size: int, stride: int | None = None, mode: str = "max") -> np.ndarray:
    """Max or average pooling of (H, W) or (H, W, C), each channel on its own, padding 'valid', in float64:
    what ``tf.nn.max_pool2d`` / ``tf.nn.avg_pool2d`` (``MaxPooling2D`` / ``AveragePooling2D``) compute.

    Windows are ``size`` × ``size`` and move by ``stride`` (``size`` when None); windows that would hang over
    the edge are dropped.
    """
    if mode not in ("max", "average"):
        raise ValueError(f"mode must be 'max' or 'average', not {mode!r}")
    x = np.asarray(x, np.float64)
    if x.ndim not in (2, 3):
        raise ValueError(f"pool2d needs (H, W) or (H, W, C); got {x.shape}")
    windows = _windows(x, size, size, size if stride is None else stride)
    reduce = np.max if mode == "max" else np.mean
    return np.ascontiguousarray(reduce(windows, axis=(-2, -1)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + exp(-x)) of every element, in float64, without overflow: what
    ``scipy.special.expit`` computes (without importing SciPy, whose import costs the grader a quarter second).

    ``exp(-logaddexp(0, -x))``: for x >= 0 that is 1 / (1 + e^-x); for x < 0 it is e^x / (1 + e^x), and
    ``logaddexp`` never overflows, so +-1000 give exactly 1 and 0.
    """
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, np.float64)))
