"""Benchmark: :mod:`autograder.similarity` on a synthetic class of ``01_convolution`` submissions.

    .venv/bin/python benchmarks/similarity.py [--n 300] [--seed 0]

The class is made from ten hand-written, correct and independent solutions (``STYLES``: explicit loops,
``sliding_window_view`` and ``einsum``, ``np.pad`` with window loops, list comprehensions, ``as_strided``,
im2col, ``scipy.signal``, shift-and-add with while loops, ``itertools.product`` helpers, index arrays), each a
whole answer to the released notebook. Students of the benchmark:

- independent: each function taken from a random style (with the helpers it needs), then random small
  rewrites a student would make differently (operands of ``*`` swapped, comparisons flipped, a result named
  before it is returned, ``range(0, n)``, ``dtype=float`` or ``np.float64``, ``np.array`` for ``np.asarray``,
  ``len(a)`` for ``a.shape[0]``, if/else branches swapped); about 8 % of the class are copy groups of 2 or 3:
  an independent student and copies disguised by a program (every bound name renamed, literals rewritten,
  independent adjacent statements swapped, functions and imports moved, comments and blank lines added,
  docstrings dropped or kept, cells reordered); the second copy of a group of 3 also gets the small rewrites
  above at a tenth of the sites (a copier who edits a little);
- canonical fills: about 6 % (at least 2) submit the course solution's code unchanged (more than the common
  cut of 5 % for a class of 300: up to the cut, identical answers look like a copy ring without a reference);
- one submits the released notebook unchanged.

The hand-written answers are first checked against the course solution on a few inputs (:func:`check`). Each
student is written as a notebook (the release with its answer cells filled, the release's docstrings kept or
not). Timed: reading the notebooks and :func:`~autograder.similarity.prepare` for all (one process), and
:func:`~autograder.similarity.rank` (every pair scored, the top 20 with their regions). Printed: those seconds,
the pairs that share a fingerprint, the ranking check (the lowest copy-pair score against the highest score of
two students of different families, canonical pairs apart) and the canonical pairs' best score, without and
with the course solution as ``reference_code``. The copies are made by a program that knows what the
normaliser undoes, so the check says that the method works as designed and how fast, not how often real
copying is caught. About 25 s for the default 300 (one process).

``STYLES``, ``RENAMED`` and ``REORDERED`` (two hand-made disguises of ``STYLES[0]``), :func:`build_notebook`
and :func:`check` are also the data of ``tests/unit/test_similarity.py``.
"""

from __future__ import annotations

import argparse
import ast
import copy
import functools
import itertools
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from autograder import similarity  # noqa: E402

STUB = REPO / "assignments" / "01_convolution" / "convolution.ipynb"
SOLUTION = REPO / "solutions" / "01_convolution" / "convolution.ipynb"
REQUIRED = ("output_size", "zero_pad", "convolve2d", "common_kernel", "relu", "sigmoid", "leaky_relu", "pool2d",
            "conv2d_layer")
KEYWORD_PARAMS = {"stride", "padding", "mode", "alpha", "size"}  # the visible tests pass these by name

# Ten students' independent, correct answers to 01_convolution, written by hand in different styles.
# STYLES[0] is the "original" that RENAMED and REORDERED copy.
STYLES = [
    # 0: explicit loops, manual padding, a little validation
    '''
def output_size(n, f, stride=1, padding=0):
    # check the filter fits
    if f > n + 2 * padding:
        raise ValueError("filter too big")
    if stride < 1 or padding < 0:
        raise ValueError("bad stride or padding")
    return (n - f + 2 * padding) // stride + 1


def zero_pad(image, pad):
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError("image must be 2-D or 3-D")
    height, width = image.shape[0], image.shape[1]
    padded = np.zeros((height + 2 * pad, width + 2 * pad) + image.shape[2:], dtype=image.dtype)
    padded[pad:pad + height, pad:pad + width] = image
    return padded


def convolve2d(image, kernel, stride=1, padding="valid"):
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if isinstance(stride, int):
        step_r, step_c = stride, stride
    else:
        step_r, step_c = stride
    kh, kw = kernel.shape
    # padding on each side
    if padding == "valid":
        top = bottom = left = right = 0
    elif padding == "same":
        out_r = -(-image.shape[0] // step_r)
        out_c = -(-image.shape[1] // step_c)
        total_r = max((out_r - 1) * step_r + kh - image.shape[0], 0)
        total_c = max((out_c - 1) * step_c + kw - image.shape[1], 0)
        top, left = total_r // 2, total_c // 2
        bottom, right = total_r - top, total_c - left
    else:
        top = bottom = left = right = padding
    rows = image.shape[0] + top + bottom
    cols = image.shape[1] + left + right
    padded = np.zeros((rows, cols))
    padded[top:top + image.shape[0], left:left + image.shape[1]] = image
    if kh > rows or kw > cols:
        raise ValueError("kernel larger than the padded image")
    out_h = (rows - kh) // step_r + 1
    out_w = (cols - kw) // step_c + 1
    result = np.zeros((out_h, out_w))
    for r in range(out_h):
        for c in range(out_w):
            total = 0.0
            for a in range(kh):
                for b in range(kw):
                    total += padded[r * step_r + a, c * step_c + b] * kernel[a, b]
            result[r, c] = total
    return result


def common_kernel(name):
    if name == "sharpen":
        k = [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]
    elif name == "blur":
        k = [[1, 2, 1], [2, 4, 2], [1, 2, 1]]
        return np.array(k, dtype=float) / 16
    elif name == "bottom_sobel":
        k = [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]
    else:
        raise ValueError("unknown kernel " + str(name) + ", use sharpen, blur or bottom_sobel")
    return np.array(k, dtype=float)


def relu(x):
    x = np.array(x, dtype=float)
    x[x < 0] = 0
    return x


def sigmoid(x):
    x = np.array(x, dtype=float)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1 / (1 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1 + e)
    return out


def leaky_relu(x, alpha=0.1):
    x = np.array(x, dtype=float)
    neg = x < 0
    x[neg] = x[neg] * alpha
    return x


def pool2d(x, size=2, stride=None, mode="max"):
    x = np.asarray(x, dtype=float)
    if stride is None:
        stride = size
    if mode not in ("max", "average"):
        raise ValueError("mode must be max or average")
    h, w = x.shape[0], x.shape[1]
    out_h = (h - size) // stride + 1
    out_w = (w - size) // stride + 1
    out = np.zeros((out_h, out_w) + x.shape[2:])
    for i in range(out_h):
        for j in range(out_w):
            patch = x[i * stride:i * stride + size, j * stride:j * stride + size]
            if mode == "max":
                out[i, j] = patch.max(axis=(0, 1))
            else:
                out[i, j] = patch.mean(axis=(0, 1))
    return out


def conv2d_layer(x, kernels, bias, stride=1, padding="valid"):
    x = np.asarray(x, dtype=float)
    kernels = np.asarray(kernels, dtype=float)
    n_in, n_out = kernels.shape[2], kernels.shape[3]
    if x.shape[2] != n_in:
        raise ValueError("channels do not match")
    out = None
    for o in range(n_out):
        acc = convolve2d(x[:, :, 0], kernels[:, :, 0, o], stride, padding)
        for c in range(1, n_in):
            acc = acc + convolve2d(x[:, :, c], kernels[:, :, c, o], stride, padding)
        acc = acc + bias[o]
        if out is None:
            out = np.zeros(acc.shape + (n_out,))
        out[:, :, o] = acc
    return out
''',
    # 1: vectorised: sliding_window_view and einsum
    '''
from numpy.lib.stride_tricks import sliding_window_view


def output_size(n, f, stride=1, padding=0):
    padded = n + 2 * padding
    if padded < f:
        raise ValueError(f"a filter of {f} does not fit in {padded}")
    return int(np.floor((padded - f) / stride)) + 1


def zero_pad(image, pad):
    arr = np.asarray(image)
    widths = [(pad, pad)] * 2 + [(0, 0)] * (arr.ndim - 2)
    return np.pad(arr, widths)


def _same_pads(length, k, s):
    out = int(np.ceil(length / s))
    need = max((out - 1) * s + k - length, 0)
    return need // 2, need - need // 2


def convolve2d(image, kernel, stride=1, padding="valid"):
    img = np.asarray(image, dtype=np.float64)
    ker = np.asarray(kernel, dtype=np.float64)
    sh, sw = (stride, stride) if np.isscalar(stride) else tuple(stride)
    if padding == "same":
        pads = [_same_pads(img.shape[0], ker.shape[0], sh), _same_pads(img.shape[1], ker.shape[1], sw)]
    elif padding == "valid":
        pads = [(0, 0), (0, 0)]
    else:
        pads = [(padding, padding), (padding, padding)]
    img = np.pad(img, pads)
    windows = sliding_window_view(img, ker.shape)[::sh, ::sw]
    return np.einsum("ijkl,kl->ij", windows, ker)


SHARPEN = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64)
BLUR = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16.0
SOBEL = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float64)


def common_kernel(name):
    table = {"sharpen": SHARPEN, "blur": BLUR, "bottom_sobel": SOBEL}
    if name not in table:
        raise ValueError(f"unknown kernel {name}; choose from {sorted(table)}")
    return table[name].copy()


def relu(x):
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0)


def sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -x))


def leaky_relu(x, alpha=0.1):
    x = np.asarray(x, dtype=np.float64)
    return np.maximum(x, 0) + alpha * np.minimum(x, 0)


def pool2d(x, size=2, stride=None, mode="max"):
    x = np.asarray(x, dtype=np.float64)
    stride = stride or size
    views = sliding_window_view(x, (size, size), axis=(0, 1))[::stride, ::stride]
    reducers = {"max": np.max, "average": np.mean}
    if mode not in reducers:
        raise ValueError(f"unknown mode {mode!r}")
    return reducers[mode](views, axis=(-2, -1))


def conv2d_layer(x, kernels, bias, stride=1, padding="valid"):
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(kernels, dtype=np.float64)
    kh, kw, cin, cout = w.shape
    if x.shape[-1] != cin:
        raise ValueError("input channels do not match the kernels")
    sh, sw = (stride, stride) if np.isscalar(stride) else tuple(stride)
    if padding == "same":
        pads = [_same_pads(x.shape[0], kh, sh), _same_pads(x.shape[1], kw, sw), (0, 0)]
    elif padding == "valid":
        pads = [(0, 0)] * 3
    else:
        pads = [(padding, padding), (padding, padding), (0, 0)]
    xp = np.pad(x, pads)
    windows = sliding_window_view(xp, (kh, kw), axis=(0, 1))[::sh, ::sw]
    return np.einsum("hwcij,ijco->hwo", windows, w) + bias
''',
    # 2: a validation helper, np.pad, window loops
    '''
def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}")


def output_size(n, f, stride=1, padding=0):
    _check_int(n, "n", 1)
    _check_int(f, "f", 1)
    _check_int(stride, "stride", 1)
    _check_int(padding, "padding", 0)
    span = n + 2 * padding - f
    if span < 0:
        raise ValueError("the filter does not fit")
    return span // stride + 1


def zero_pad(image, pad):
    _check_int(pad, "pad", 0)
    image = np.asarray(image)
    if image.ndim == 2:
        return np.pad(image, pad, mode="constant")
    if image.ndim == 3:
        return np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="constant")
    raise ValueError("expected a 2-D or 3-D image")


def convolve2d(image, kernel, stride=1, padding="valid"):
    image = np.array(image, dtype=np.float64)
    kernel = np.array(kernel, dtype=np.float64)
    if type(stride) in (tuple, list):
        sy, sx = stride
    else:
        sy = sx = stride
    H, W = image.shape
    KH, KW = kernel.shape
    if padding == "same":
        oh, ow = (H + sy - 1) // sy, (W + sx - 1) // sx
        py = max((oh - 1) * sy + KH - H, 0)
        px = max((ow - 1) * sx + KW - W, 0)
        image = np.pad(image, ((py // 2, py - py // 2), (px // 2, px - px // 2)))
    elif padding != "valid":
        image = zero_pad(image, padding)
    H, W = image.shape
    if KH > H or KW > W:
        raise ValueError("kernel does not fit")
    out = np.empty(((H - KH) // sy + 1, (W - KW) // sx + 1))
    for row in range(out.shape[0]):
        for col in range(out.shape[1]):
            y, x = row * sy, col * sx
            out[row, col] = (image[y:y + KH, x:x + KW] * kernel).sum()
    return out


def common_kernel(name):
    kernels = dict(
        sharpen=np.array([[0., -1., 0.], [-1., 5., -1.], [0., -1., 0.]]),
        blur=np.array([[0.0625, 0.125, 0.0625], [0.125, 0.25, 0.125], [0.0625, 0.125, 0.0625]]),
        bottom_sobel=np.array([[-1., -2., -1.], [0., 0., 0.], [1., 2., 1.]]),
    )
    try:
        return kernels[name]
    except (KeyError, TypeError):
        raise ValueError("unknown kernel: " + repr(name) + " (sharpen, blur, bottom_sobel)") from None


def relu(x):
    x = np.asarray(x, dtype=np.float64)
    return x * (x > 0)


def sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def leaky_relu(x, alpha=0.1):
    x = np.asarray(x, dtype=np.float64)
    return np.where(x < 0, x * alpha, x)


def pool2d(x, size=2, stride=None, mode="max"):
    x = np.array(x, dtype=np.float64)
    if stride is None:
        stride = size
    if x.ndim == 2:
        return pool2d(x[:, :, None], size, stride, mode)[:, :, 0]
    if mode == "max":
        func = np.max
    elif mode == "average":
        func = np.mean
    else:
        raise ValueError("unknown pooling mode")
    rows = (x.shape[0] - size) // stride + 1
    cols = (x.shape[1] - size) // stride + 1
    if rows < 1 or cols < 1:
        raise ValueError("window larger than the map")
    result = np.empty((rows, cols, x.shape[2]))
    for ch in range(x.shape[2]):
        for r in range(rows):
            for c in range(cols):
                result[r, c, ch] = func(x[r * stride:r * stride + size, c * stride:c * stride + size, ch])
    return result


def conv2d_layer(x, kernels, bias, stride=1, padding="valid"):
    x = np.asarray(x, dtype=np.float64)
    kernels = np.asarray(kernels, dtype=np.float64)
    bias = np.asarray(bias, dtype=np.float64)
    outputs = []
    for o in range(kernels.shape[3]):
        per_channel = [convolve2d(x[:, :, c], kernels[:, :, c, o], stride, padding) for c in range(x.shape[2])]
        outputs.append(np.sum(per_channel, axis=0) + bias[o])
    return np.dstack(outputs)
''',
    # 3: list comprehensions and the math module
    '''
import math


def output_size(n, f, stride=1, padding=0):
    if f > n + padding * 2:
        raise ValueError("filter larger than padded input")
    return math.floor((n + padding * 2 - f) / stride) + 1


def zero_pad(image, pad):
    img = np.asarray(image)
    out = np.zeros((img.shape[0] + 2 * pad, img.shape[1] + 2 * pad, *img.shape[2:]), dtype=img.dtype)
    out[pad:out.shape[0] - pad, pad:out.shape[1] - pad, ...] = img
    return out


def convolve2d(image, kernel, stride=1, padding="valid"):
    img = np.asarray(image, dtype=float)
    k = np.asarray(kernel, dtype=float)
    strides = stride if isinstance(stride, (tuple, list)) else (stride, stride)
    if padding == "same":
        extra = [max((math.ceil(n / s) - 1) * s + kn - n, 0) for n, kn, s in zip(img.shape, k.shape, strides)]
        img = np.pad(img, [(e // 2, e - e // 2) for e in extra])
    elif isinstance(padding, int):
        img = np.pad(img, padding)
    rows = range(0, img.shape[0] - k.shape[0] + 1, strides[0])
    cols = range(0, img.shape[1] - k.shape[1] + 1, strides[1])
    if not rows or not cols:
        raise ValueError("kernel larger than image")
    return np.array([[np.sum(img[r:r + k.shape[0], c:c + k.shape[1]] * k) for c in cols] for r in rows])


def common_kernel(name):
    if name == "blur":
        return np.outer([1, 2, 1], [1, 2, 1]) / 16
    if name == "sharpen":
        k = -np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float)
        k[1, 1] = 5
        return k
    if name == "bottom_sobel":
        return np.outer([-1, 0, 1], [1, 2, 1]).astype(float)
    raise ValueError(f"{name} is not one of sharpen, blur, bottom_sobel")


def relu(x):
    return np.array([max(v, 0.0) for v in np.ravel(x)], dtype=float).reshape(np.shape(x))


def sigmoid(x):
    flat = np.ravel(np.asarray(x, dtype=float))
    vals = [1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v)) for v in flat]
    return np.array(vals, dtype=float).reshape(np.shape(x))


def leaky_relu(x, alpha=0.1):
    flat = np.ravel(np.asarray(x, dtype=float))
    return np.array([v if v >= 0 else alpha * v for v in flat], dtype=float).reshape(np.shape(x))


def pool2d(x, size=2, stride=None, mode="max"):
    x = np.asarray(x, dtype=float)
    step = size if stride is None else stride
    agg = {"max": np.max, "average": np.mean}.get(mode)
    if agg is None:
        raise ValueError("mode must be 'max' or 'average'")
    starts_r = range(0, x.shape[0] - size + 1, step)
    starts_c = range(0, x.shape[1] - size + 1, step)
    return np.array([[agg(x[r:r + size, c:c + size], axis=(0, 1)) for c in starts_c] for r in starts_r])


def conv2d_layer(x, kernels, bias, stride=1, padding="valid"):
    x = np.asarray(x, dtype=float)
    kernels = np.asarray(kernels, dtype=float)
    layers = [np.sum([convolve2d(x[:, :, i], kernels[:, :, i, j], stride, padding)
                      for i in range(kernels.shape[2])], axis=0) + bias[j]
              for j in range(kernels.shape[3])]
    return np.moveaxis(np.array(layers), 0, -1)
''',
    # 4: as_strided windows and tensordot
    '''
from numpy.lib.stride_tricks import as_strided


def output_size(n, f, stride=1, padding=0):
    for v in (n, f, stride, padding):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise ValueError("all arguments must be integers")
    if n < 1 or f < 1 or stride < 1 or padding < 0 or f > n + 2 * padding:
        raise ValueError("invalid sizes")
    return (n + 2 * padding - f) // stride + 1


def zero_pad(image, pad):
    image = np.asarray(image)
    h, w = image.shape[:2]
    result = np.zeros_like(image, shape=(h + 2 * pad, w + 2 * pad) + image.shape[2:])
    result[pad:pad + h, pad:pad + w] = image
    return result


def windows(a, kh, kw, sh, sw):
    oh = (a.shape[0] - kh) // sh + 1
    ow = (a.shape[1] - kw) // sw + 1
    if oh < 1 or ow < 1:
        raise ValueError("window larger than the input")
    s0, s1 = a.strides[:2]
    shape = (oh, ow, kh, kw) + a.shape[2:]
    return as_strided(a, shape=shape, strides=(s0 * sh, s1 * sw, s0, s1) + a.strides[2:], writeable=False)


def convolve2d(image, kernel, stride=1, padding="valid"):
    a = np.ascontiguousarray(image, dtype=np.float64)
    k = np.asarray(kernel, dtype=np.float64)
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    if padding == "same":
        ph = max((-(-a.shape[0] // sh) - 1) * sh + k.shape[0] - a.shape[0], 0)
        pw = max((-(-a.shape[1] // sw) - 1) * sw + k.shape[1] - a.shape[1], 0)
        a = np.pad(a, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)))
    elif padding != "valid":
        a = zero_pad(a, padding)
    return np.tensordot(windows(a, k.shape[0], k.shape[1], sh, sw), k, axes=([2, 3], [0, 1]))


def common_kernel(name):
    if name not in ("sharpen", "blur", "bottom_sobel"):
        raise ValueError("unknown kernel name; known: sharpen, blur, bottom_sobel")
    if name == "sharpen":
        return np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64)
    if name == "blur":
        return np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float64) / 16
    return np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float64)


def relu(x):
    out = np.array(x, dtype=np.float64, copy=True)
    np.maximum(out, 0, out=out)
    return out


def sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    t = np.exp(-np.abs(x))
    return np.where(x < 0, t, 1.0) / (1.0 + t)


def leaky_relu(x, alpha=0.1):
    x = np.asarray(x, dtype=np.float64)
    slope = np.where(x > 0, 1.0, alpha)
    return x * slope


def pool2d(x, size=2, stride=None, mode="max"):
    a = np.ascontiguousarray(x, dtype=np.float64)
    if a.ndim not in (2, 3):
        raise ValueError("x must be 2-D or 3-D")
    step = stride if stride is not None else size
    w = windows(a, size, size, step, step)
    if mode == "max":
        return w.max(axis=(2, 3))
    if mode == "average":
        return w.mean(axis=(2, 3))
    raise ValueError("mode is max or average")


def conv2d_layer(x, kernels, bias, stride=1, padding="valid"):
    x = np.asarray(x, dtype=np.float64)
    kernels = np.asarray(kernels, dtype=np.float64)
    if kernels.ndim != 4 or x.ndim != 3 or kernels.shape[2] != x.shape[2]:
        raise ValueError("shapes do not fit")
    first = convolve2d(x[:, :, 0], kernels[:, :, 0, 0], stride, padding)
    out = np.zeros(first.shape + (kernels.shape[3],))
    for o in range(kernels.shape[3]):
        for c in range(x.shape[2]):
            out[:, :, o] += convolve2d(x[:, :, c], kernels[:, :, c, o], stride, padding)
    out += np.asarray(bias, dtype=np.float64)
    return out
''',
    # 5: im2col and matrix products
    '''
def output_size(n, f, stride=1, padding=0):
    total = n - f + 2 * padding
    if total < 0:
        raise ValueError("filter does not fit")
    return 1 + total // stride


def zero_pad(image, pad):
    image = np.asarray(image)
    rows = np.zeros((pad,) + image.shape[1:], dtype=image.dtype)
    tall = np.concatenate([rows, image, rows], axis=0)
    cols = np.zeros((tall.shape[0], pad) + image.shape[2:], dtype=image.dtype)
    return np.concatenate([cols, tall, cols], axis=1)


def pad_amounts(n, k, s, padding):
    if padding == "valid":
        return 0, 0
    if padding == "same":
        out = (n + s - 1) // s
        total = max((out - 1) * s + k - n, 0)
        return total // 2, total - total // 2
    if isinstance(padding, int) and padding >= 0:
        return padding, padding
    raise ValueError("padding must be 'valid', 'same' or an int >= 0")


def im2col(a, kh, kw, sh, sw):
    oh = (a.shape[0] - kh) // sh + 1
    ow = (a.shape[1] - kw) // sw + 1
    if oh <= 0 or ow <= 0:
        raise ValueError("kernel larger than the padded image")
    cols = np.empty((oh * ow, kh * kw) + a.shape[2:])
    idx = 0
    for i in range(oh):
        for j in range(ow):
            cols[idx] = a[i * sh:i * sh + kh, j * sw:j * sw + kw].reshape((kh * kw,) + a.shape[2:])
            idx += 1
    return cols, oh, ow


def convolve2d(image, kernel, stride=1, padding="valid"):
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    sh, sw = stride if isinstance(stride, tuple) else (stride, stride)
    top, bottom = pad_amounts(image.shape[0], kernel.shape[0], sh, padding)
    left, right = pad_amounts(image.shape[1], kernel.shape[1], sw, padding)
    image = np.pad(image, ((top, bottom), (left, right)))
    cols, oh, ow = im2col(image, kernel.shape[0], kernel.shape[1], sh, sw)
    return (cols @ kernel.ravel()).reshape(oh, ow)


KERNELS = {
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "blur": [[1 / 16, 2 / 16, 1 / 16], [2 / 16, 4 / 16, 2 / 16], [1 / 16, 2 / 16, 1 / 16]],
    "bottom_sobel": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
}


def common_kernel(name):
    if name in KERNELS:
        return np.array(KERNELS[name], dtype=np.float64)
    raise ValueError(f"unknown kernel {name!r}, expected one of {list(KERNELS)}")


def relu(x):
    return np.clip(np.asarray(x, dtype=np.float64), 0, None)


def sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def leaky_relu(x, alpha=0.1):
    x = np.asarray(x, dtype=np.float64)
    return np.maximum(x, alpha * x)


def pool2d(x, size=2, stride=None, mode="max"):
    x = np.asarray(x, dtype=np.float64)
    if stride is None:
        stride = size
    cols, oh, ow = im2col(x, size, size, stride, stride)
    if mode == "max":
        pooled = cols.max(axis=1)
    elif mode == "average":
        pooled = cols.mean(axis=1)
    else:
        raise ValueError("mode must be 'max' or 'average'")
    return pooled.reshape((oh, ow) + x.shape[2:])


def conv2d_layer(x, kernels, bias, stride=1, padding="valid"):
    x = np.asarray(x, dtype=np.float64)
    kernels = np.asarray(kernels, dtype=np.float64)
    kh, kw, cin, cout = kernels.shape
    sh, sw = stride if isinstance(stride, tuple) else (stride, stride)
    top, bottom = pad_amounts(x.shape[0], kh, sh, padding)
    left, right = pad_amounts(x.shape[1], kw, sw, padding)
    x = np.pad(x, ((top, bottom), (left, right), (0, 0)))
    cols, oh, ow = im2col(x, kh, kw, sh, sw)
    out = cols.reshape(oh * ow, kh * kw * cin) @ kernels.reshape(kh * kw * cin, cout)
    return out.reshape(oh, ow, cout) + bias
''',
    # 6: scipy.signal, expit, shift-and-max pooling
    '''
from scipy import signal


def output_size(n, f, stride=1, padding=0):
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in [n, f, stride, padding]):
        raise ValueError("integers only")
    if f > n + 2 * padding or stride <= 0:
        raise ValueError("impossible configuration")
    return (n - f + 2 * padding) // stride + 1


def zero_pad(image, pad):
    image = np.asarray(image)
    spec = [(pad, pad) if axis < 2 else (0, 0) for axis in range(image.ndim)]
    return np.pad(image, spec, "constant")


def convolve2d(image, kernel, stride=1, padding="valid"):
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    try:
        step_y, step_x = stride
    except TypeError:
        step_y = step_x = stride
    if isinstance(padding, str):
        if padding == "same":
            need_y = max((int(np.ceil(image.shape[0] / step_y)) - 1) * step_y + kernel.shape[0] - image.shape[0], 0)
            need_x = max((int(np.ceil(image.shape[1] / step_x)) - 1) * step_x + kernel.shape[1] - image.shape[1], 0)
            image = np.pad(image, [[need_y // 2, need_y - need_y // 2], [need_x // 2, need_x - need_x // 2]])
        elif padding != "valid":
            raise ValueError("unknown padding " + padding)
    else:
        image = zero_pad(image, padding)
    full = signal.correlate2d(image, kernel, mode="valid")
    return full[::step_y, ::step_x].astype(np.float64)


def common_kernel(name):
    names = ["sharpen", "blur", "bottom_sobel"]
    if name not in names:
        raise ValueError("name must be one of " + ", ".join(names))
    index = names.index(name)
    bank = np.array([
        [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
        [[0.0625, 0.125, 0.0625], [0.125, 0.25, 0.125], [0.0625, 0.125, 0.0625]],
        [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    ], dtype=np.float64)
    return bank[index].copy()


def relu(x):
    y = np.asarray(x, dtype=np.float64).copy()
    y[y < 0] = 0.0
    return y


def sigmoid(x):
    from scipy.special import expit
    return expit(np.asarray(x, dtype=np.float64))


def leaky_relu(x, alpha=0.1):
    y = np.asarray(x, dtype=np.float64)
    return np.piecewise(y, [y < 0, y >= 0], [lambda v: alpha * v, lambda v: v])


def pool2d(x, size=2, stride=None, mode="max"):
    data = np.asarray(x, dtype=np.float64)
    flat = data.ndim == 2
    if flat:
        data = data[..., np.newaxis]
    s = stride or size
    oh = (data.shape[0] - size) // s + 1
    ow = (data.shape[1] - size) // s + 1
    pooled = np.full((oh, ow, data.shape[2]), -np.inf if mode == "max" else 0.0)
    for dy in range(size):
        for dx in range(size):
            part = data[dy:dy + s * (oh - 1) + 1:s, dx:dx + s * (ow - 1) + 1:s]
            if mode == "max":
                pooled = np.maximum(pooled, part)
            elif mode == "average":
                pooled = pooled + part / (size * size)
            else:
                raise ValueError("mode must be max or average")
    return pooled[..., 0] if flat else pooled


def conv2d_layer(x, kernels, bias, stride=1, padding="valid"):
    x = np.asarray(x, dtype=np.float64)
    kernels = np.asarray(kernels, dtype=np.float64)
    bias = np.asarray(bias, dtype=np.float64).reshape(-1)
    if bias.size != kernels.shape[-1]:
        raise ValueError("one bias per filter")
    result = []
    for f in range(kernels.shape[-1]):
        fmap = bias[f]
        for c in range(kernels.shape[-2]):
            fmap = fmap + convolve2d(x[..., c], kernels[..., c, f], stride, padding)
        result.append(fmap)
    return np.stack(result, -1)
''',
    # 7: while loops, shift-and-add convolution
    '''
def output_size(n, f, stride=1, padding=0):
    available = n + 2 * padding
    if f > available:
        raise ValueError(f"f={f} is larger than n + 2 * padding = {available}")
    count = 0
    position = 0
    while position + f <= available:
        count += 1
        position += stride
    return count


def zero_pad(image, pad):
    image = np.asarray(image)
    frame = [pad, pad]
    return np.pad(image, [frame, frame] + [[0, 0]] * (image.ndim - 2), mode="constant", constant_values=0)


def convolve2d(image, kernel, stride=1, padding="valid"):
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    sr, sc = np.broadcast_to(stride, (2,))
    kr, kc = kernel.shape
    if padding == "same":
        pads = []
        for size, k, s in [(image.shape[0], kr, sr), (image.shape[1], kc, sc)]:
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        image = np.pad(image, pads)
    elif padding != "valid":
        image = zero_pad(image, padding)
    out_r = output_size(image.shape[0], kr, int(sr))
    out_c = output_size(image.shape[1], kc, int(sc))
    out = np.zeros((out_r, out_c))
    i = 0
    while i < kr:
        j = 0
        while j < kc:
            out += kernel[i, j] * image[i:i + sr * (out_r - 1) + 1:sr, j:j + sc * (out_c - 1) + 1:sc]
            j += 1
        i += 1
    return out


def common_kernel(name):
    base = np.zeros((3, 3))
    if name == "sharpen":
        base[1, :] = [-1, 5, -1]
        base[0, 1] = base[2, 1] = -1
    elif name == "blur":
        base[:] = np.array([1, 2, 1])[:, None] * np.array([1, 2, 1])[None, :] / 16
    elif name == "bottom_sobel":
        base[0] = [-1, -2, -1]
        base[2] = [1, 2, 1]
    else:
        raise ValueError("unknown kernel name " + repr(name))
    return base


def relu(x):
    x = np.asarray(x, dtype=np.float64)
    return (x + np.abs(x)) / 2


def sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    p = 1 / (1 + np.exp(-np.abs(x)))
    return np.where(x >= 0, p, 1 - p)


def leaky_relu(x, alpha=0.1):
    x = np.asarray(x, dtype=np.float64)
    pos = x.clip(min=0)
    return pos + alpha * (x - pos)


def pool2d(x, size=2, stride=None, mode="max"):
    x = np.asarray(x, dtype=np.float64)
    stride = size if stride is None else stride
    if mode not in ["max", "average"]:
        raise ValueError("mode should be 'max' or 'average'")
    rows = output_size(x.shape[0], size, stride)
    cols = output_size(x.shape[1], size, stride)
    result = np.zeros((rows, cols) + x.shape[2:])
    i = 0
    while i < rows:
        j = 0
        while j < cols:
            block = x[i * stride:i * stride + size, j * stride:j * stride + size]
            result[i, j] = np.max(block, axis=(0, 1)) if mode == "max" else np.mean(block, axis=(0, 1))
            j += 1
        i += 1
    return result


def conv2d_layer(x, kernels, bias, stride=1, padding="valid"):
    x = np.asarray(x, dtype=np.float64)
    kernels = np.asarray(kernels, dtype=np.float64)
    channels = [np.stack([convolve2d(x[:, :, c], kernels[:, :, c, o], stride, padding)
                          for o in range(kernels.shape[3])], axis=-1)
                for c in range(x.shape[2])]
    return np.add.reduce(channels) + np.asarray(bias)
''',
    # 8: small helpers and itertools.product
    '''
import itertools
import math


def as_pair(value):
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError("expected two values")
        return int(value[0]), int(value[1])
    return int(value), int(value)


def output_size(n, f, stride=1, padding=0):
    if isinstance(n, bool) or isinstance(f, bool) or isinstance(stride, bool) or isinstance(padding, bool):
        raise ValueError("booleans are not sizes")
    if min(n, f, stride) < 1 or padding < 0 or n + 2 * padding < f:
        raise ValueError("bad arguments")
    return int((n + 2 * padding - f) / stride) + 1


def zero_pad(image, pad):
    src = np.asarray(image)
    shape = list(src.shape)
    shape[0] += 2 * pad
    shape[1] += 2 * pad
    dst = np.zeros(shape, dtype=src.dtype)
    dst[pad:shape[0] - pad, pad:shape[1] - pad] = src
    return dst


def same_padding(length, k, s):
    total = max(0, (math.ceil(length / s) - 1) * s + k - length)
    before = total // 2
    return before, total - before


def pad_for(image, kernel_shape, strides, padding):
    if padding == "valid":
        return image
    if padding == "same":
        return np.pad(image, [same_padding(image.shape[i], kernel_shape[i], strides[i]) for i in range(2)])
    return zero_pad(image, padding)


def convolve2d(image, kernel, stride=1, padding="valid"):
    kernel = np.asarray(kernel, dtype=np.float64)
    strides = as_pair(stride)
    src = pad_for(np.asarray(image, dtype=np.float64), kernel.shape, strides, padding)
    oh = (src.shape[0] - kernel.shape[0]) // strides[0] + 1
    ow = (src.shape[1] - kernel.shape[1]) // strides[1] + 1
    out = np.zeros((oh, ow), dtype=np.float64)
    for i, j in itertools.product(range(oh), range(ow)):
        top, left = i * strides[0], j * strides[1]
        patch = src[top:top + kernel.shape[0], left:left + kernel.shape[1]]
        out[i, j] = np.vdot(patch, kernel)
    return out


def common_kernel(name):
    if name == "sharpen":
        rows = [(0, -1, 0), (-1, 5, -1), (0, -1, 0)]
        scale = 1
    elif name == "blur":
        rows = [(1, 2, 1), (2, 4, 2), (1, 2, 1)]
        scale = 16
    elif name == "bottom_sobel":
        rows = [(-1, -2, -1), (0, 0, 0), (1, 2, 1)]
        scale = 1
    else:
        raise ValueError("common_kernel knows sharpen, blur and bottom_sobel, not " + str(name))
    return np.array(rows, dtype=np.float64) / scale


def relu(x):
    return np.fmax(np.asarray(x, dtype=np.float64), 0.0)


def sigmoid(x):
    arr = np.asarray(x, dtype=np.float64)
    out = np.empty_like(arr)
    for idx in np.ndindex(arr.shape):
        v = arr[idx]
        out[idx] = 1.0 / (1.0 + np.exp(-v)) if v >= 0 else np.exp(v) / (1.0 + np.exp(v))
    return out


def leaky_relu(x, alpha=0.1):
    arr = np.asarray(x, dtype=np.float64)
    return np.fmax(arr, 0.0) + alpha * np.fmin(arr, 0.0)


def pool2d(x, size=2, stride=None, mode="max"):
    src = np.asarray(x, dtype=np.float64)
    step = size if stride is None else stride
    reducer = {"max": np.max, "average": np.mean}
    if mode not in reducer:
        raise ValueError(f"mode {mode!r} is neither 'max' nor 'average'")
    oh = (src.shape[0] - size) // step + 1
    ow = (src.shape[1] - size) // step + 1
    out = np.zeros((oh, ow) + src.shape[2:])
    for i, j in itertools.product(range(oh), range(ow)):
        out[i, j] = reducer[mode](src[i * step:i * step + size, j * step:j * step + size], axis=(0, 1))
    return out


def conv2d_layer(x, kernels, bias, stride=1, padding="valid"):
    src = np.asarray(x, dtype=np.float64)
    kernels = np.asarray(kernels, dtype=np.float64)
    c_in, c_out = kernels.shape[2:]
    maps = {}
    for c, o in itertools.product(range(c_in), range(c_out)):
        conv = convolve2d(src[:, :, c], kernels[:, :, c, o], stride, padding)
        maps[o] = maps.get(o, 0) + conv
    return np.stack([maps[o] + bias[o] for o in range(c_out)], axis=2)
''',
    # 9: index arrays (fancy indexing) and tensordot
    '''
def output_size(n, f, stride=1, padding=0):
    ok = n >= 1 and f >= 1 and stride >= 1 and padding >= 0
    if not ok or f > n + 2 * padding:
        raise ValueError("cannot fit the filter")
    return np.floor_divide(n + 2 * padding - f, stride) + 1


def zero_pad(image, pad):
    image = np.asarray(image)
    if image.ndim < 2 or image.ndim > 3:
        raise ValueError("2-D or 3-D only")
    out = np.zeros((image.shape[0] + pad * 2, image.shape[1] + pad * 2) + image.shape[2:], image.dtype)
    out[pad:pad + image.shape[0], pad:pad + image.shape[1], ...] = image
    return out


def convolve2d(image, kernel, stride=1, padding="valid"):
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    s = np.array(stride if np.ndim(stride) else [stride, stride])
    k = np.array(kernel.shape)
    if isinstance(padding, str) and padding == "same":
        n = np.array(image.shape)
        need = np.maximum((np.ceil(n / s).astype(int) - 1) * s + k - n, 0)
        image = np.pad(image, list(zip(need // 2, need - need // 2)))
    elif not isinstance(padding, str):
        image = np.pad(image, int(padding))
    out = (np.array(image.shape) - k) // s + 1
    if np.any(out < 1):
        raise ValueError("kernel bigger than the padded image")
    rows = (np.arange(out[0]) * s[0])[:, None, None, None] + np.arange(k[0])[None, None, :, None]
    cols = (np.arange(out[1]) * s[1])[None, :, None, None] + np.arange(k[1])[None, None, None, :]
    patches = image[rows, cols]
    return np.tensordot(patches, kernel, axes=2)


def common_kernel(name):
    if name == "sharpen":
        k = np.zeros((3, 3))
        k[1, 1] = 5.0
        k[[0, 1, 1, 2], [1, 0, 2, 1]] = -1.0
        return k
    if name == "blur":
        g = np.array([0.25, 0.5, 0.25])
        return np.outer(g, g)
    if name == "bottom_sobel":
        return np.array([[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]])
    raise ValueError(f"no kernel called {name}")


def relu(x):
    x = np.asarray(x, dtype=np.float64)
    return np.where(x < 0, 0.0, x)


def sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(np.minimum(x, 0))
    return e / (e + np.exp(np.minimum(-x, 0)))


def leaky_relu(x, alpha=0.1):
    x = np.asarray(x, dtype=np.float64)
    out = x.copy()
    out[x < 0] *= alpha
    return out


def pool2d(x, size=2, stride=None, mode="max"):
    x = np.asarray(x, dtype=np.float64)
    if stride is None:
        stride = size
    oh = (x.shape[0] - size) // stride + 1
    ow = (x.shape[1] - size) // stride + 1
    if oh < 1 or ow < 1:
        raise ValueError("the window is larger than the map")
    r = (np.arange(oh) * stride)[:, None, None, None] + np.arange(size)[None, None, :, None]
    c = (np.arange(ow) * stride)[None, :, None, None] + np.arange(size)[None, None, None, :]
    patches = x[r, c]
    if mode == "max":
        return patches.max(axis=(2, 3))
    if mode == "average":
        return patches.mean(axis=(2, 3))
    raise ValueError("unknown mode")


def conv2d_layer(x, kernels, bias, stride=1, padding="valid"):
    x = np.asarray(x, dtype=np.float64)
    kernels = np.asarray(kernels, dtype=np.float64)
    per_filter = []
    for o in range(kernels.shape[3]):
        stacked = np.array([convolve2d(x[:, :, c], kernels[:, :, c, o], stride, padding)
                            for c in range(x.shape[2])])
        per_filter.append(stacked.sum(axis=0))
    return np.transpose(per_filter, (1, 2, 0)) + np.asarray(bias, dtype=np.float64)
''',
]

# STYLES[0] with every name it binds renamed, other comments, other spacing, literals written differently
# (0.0 -> 0, 16 -> 16.0, "" -> ''), no docstrings: what a student does to hide a copy.
RENAMED = '''
def output_size(size_in, filt, stride=1, padding=0):
    # the filter has to fit in the padded input!
    if filt > size_in + 2*padding:
        raise ValueError('Filter is too large')
    if stride < 1 or padding < 0:
        raise ValueError('stride/padding invalid')
    return (size_in - filt + 2*padding)//stride + 1


def zero_pad(img, p):
    img = np.asarray(img)
    if img.ndim not in (2, 3):
        raise ValueError('need a 2D or 3D image')
    n_rows, n_cols = img.shape[0], img.shape[1]
    # a frame of zeros around the picture
    framed = np.zeros((n_rows + 2*p, n_cols + 2*p) + img.shape[2:], dtype=img.dtype)
    framed[p:p+n_rows, p:p+n_cols] = img
    return framed


def convolve2d(image, kernel, stride=1, padding='valid'):
    src = np.asarray(image, dtype=float)
    filt = np.asarray(kernel, dtype=float)
    if isinstance(stride, int):
        dy, dx = stride, stride
    else:
        dy, dx = stride
    fh, fw = filt.shape

    # how many zeros go on each side?
    if padding == 'valid':
        p_top = p_bot = p_left = p_right = 0
    elif padding == 'same':
        n_out_r = -(-src.shape[0] // dy)
        n_out_c = -(-src.shape[1] // dx)
        extra_r = max((n_out_r - 1)*dy + fh - src.shape[0], 0)
        extra_c = max((n_out_c - 1)*dx + fw - src.shape[1], 0)
        p_top, p_left = extra_r//2, extra_c//2
        p_bot, p_right = extra_r - p_top, extra_c - p_left
    else:
        p_top = p_bot = p_left = p_right = padding

    H = src.shape[0] + p_top + p_bot
    W = src.shape[1] + p_left + p_right
    big = np.zeros((H, W))
    big[p_top:p_top+src.shape[0], p_left:p_left+src.shape[1]] = src
    if fh > H or fw > W:
        raise ValueError('kernel is bigger than the padded image')
    OH = (H - fh)//dy + 1
    OW = (W - fw)//dx + 1
    res = np.zeros((OH, OW))
    for a in range(OH):
        for b in range(OW):
            acc = 0
            for u in range(fh):
                for v in range(fw):
                    acc += big[a*dy + u, b*dx + v] * filt[u, v]   # multiply and add
            res[a, b] = acc
    return res


def common_kernel(name):
    if name == 'sharpen':
        vals = [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]
    elif name == 'blur':
        vals = [[1, 2, 1], [2, 4, 2], [1, 2, 1]]
        return np.array(vals, dtype=float) / 16.0
    elif name == 'bottom_sobel':
        vals = [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]
    else:
        raise ValueError('kernel ' + str(name) + ' not known')
    return np.array(vals, dtype=float)


def relu(arr):
    arr = np.array(arr, dtype=float)
    arr[arr < 0] = 0.0
    return arr


def sigmoid(z):
    z = np.array(z, dtype=float)
    res = np.empty_like(z)
    nonneg = z >= 0
    res[nonneg] = 1.0 / (1.0 + np.exp(-z[nonneg]))
    ez = np.exp(z[~nonneg])
    res[~nonneg] = ez / (1.0 + ez)
    return res


def leaky_relu(v, alpha=0.1):
    v = np.array(v, dtype=float)
    below = v < 0
    v[below] = v[below] * alpha
    return v


def pool2d(x, size=2, stride=None, mode='max'):
    arr = np.asarray(x, dtype=float)
    if stride is None:
        stride = size
    if mode not in ('max', 'average'):
        raise ValueError('mode: max or average')
    hh, ww = arr.shape[0], arr.shape[1]
    n_r = (hh - size)//stride + 1
    n_c = (ww - size)//stride + 1
    pooled = np.zeros((n_r, n_c) + arr.shape[2:])
    for r in range(n_r):
        for c in range(n_c):
            win = arr[r*stride:r*stride + size, c*stride:c*stride + size]
            if mode == 'max':
                pooled[r, c] = win.max(axis=(0, 1))
            else:
                pooled[r, c] = win.mean(axis=(0, 1))
    return pooled


def conv2d_layer(x, kernels, bias, stride=1, padding='valid'):
    inp = np.asarray(x, dtype=float)
    w = np.asarray(kernels, dtype=float)
    cin, cout = w.shape[2], w.shape[3]
    if inp.shape[2] != cin:
        raise ValueError('channel mismatch')
    result = None
    for f in range(cout):
        fmap = convolve2d(inp[:, :, 0], w[:, :, 0, f], stride, padding)
        for ch in range(1, cin):
            fmap = fmap + convolve2d(inp[:, :, ch], w[:, :, ch, f], stride, padding)
        fmap = fmap + bias[f]
        if result is None:
            result = np.zeros(fmap.shape + (cout,))
        result[:, :, f] = fmap
    return result
'''

# STYLES[0] with the functions of a cell in another order, independent statements swapped and numpy imported
# again (in its first answer cell); the tests also put its cells in reverse order (build_notebook(reverse=True)).
REORDERED = '''
import numpy as np


def output_size(n, f, stride=1, padding=0):
    if stride < 1 or padding < 0:
        raise ValueError("bad stride or padding")
    # check the filter fits
    if f > n + 2 * padding:
        raise ValueError("filter too big")
    return (n - f + 2 * padding) // stride + 1


def zero_pad(image, pad):
    image = np.asarray(image)
    height, width = image.shape[0], image.shape[1]
    if image.ndim not in (2, 3):
        raise ValueError("image must be 2-D or 3-D")
    padded = np.zeros((height + 2 * pad, width + 2 * pad) + image.shape[2:], dtype=image.dtype)
    padded[pad:pad + height, pad:pad + width] = image
    return padded


def convolve2d(image, kernel, stride=1, padding="valid"):
    kernel = np.asarray(kernel, dtype=float)
    image = np.asarray(image, dtype=float)
    kh, kw = kernel.shape
    if isinstance(stride, int):
        step_r, step_c = stride, stride
    else:
        step_r, step_c = stride
    # padding on each side
    if padding == "valid":
        top = bottom = left = right = 0
    elif padding == "same":
        out_c = -(-image.shape[1] // step_c)
        out_r = -(-image.shape[0] // step_r)
        total_c = max((out_c - 1) * step_c + kw - image.shape[1], 0)
        total_r = max((out_r - 1) * step_r + kh - image.shape[0], 0)
        top, left = total_r // 2, total_c // 2
        bottom, right = total_r - top, total_c - left
    else:
        top = bottom = left = right = padding
    cols = image.shape[1] + left + right
    rows = image.shape[0] + top + bottom
    padded = np.zeros((rows, cols))
    padded[top:top + image.shape[0], left:left + image.shape[1]] = image
    if kh > rows or kw > cols:
        raise ValueError("kernel larger than the padded image")
    out_w = (cols - kw) // step_c + 1
    out_h = (rows - kh) // step_r + 1
    result = np.zeros((out_h, out_w))
    for r in range(out_h):
        for c in range(out_w):
            total = 0.0
            for a in range(kh):
                for b in range(kw):
                    total += padded[r * step_r + a, c * step_c + b] * kernel[a, b]
            result[r, c] = total
    return result


def common_kernel(name):
    if name == "sharpen":
        k = [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]
    elif name == "blur":
        k = [[1, 2, 1], [2, 4, 2], [1, 2, 1]]
        return np.array(k, dtype=float) / 16
    elif name == "bottom_sobel":
        k = [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]
    else:
        raise ValueError("unknown kernel " + str(name) + ", use sharpen, blur or bottom_sobel")
    return np.array(k, dtype=float)


def leaky_relu(x, alpha=0.1):
    x = np.array(x, dtype=float)
    neg = x < 0
    x[neg] = x[neg] * alpha
    return x


def sigmoid(x):
    x = np.array(x, dtype=float)
    pos = x >= 0
    out = np.empty_like(x)
    e = np.exp(x[~pos])
    out[pos] = 1 / (1 + np.exp(-x[pos]))
    out[~pos] = e / (1 + e)
    return out


def relu(x):
    x = np.array(x, dtype=float)
    x[x < 0] = 0
    return x


def pool2d(x, size=2, stride=None, mode="max"):
    if mode not in ("max", "average"):
        raise ValueError("mode must be max or average")
    x = np.asarray(x, dtype=float)
    if stride is None:
        stride = size
    h, w = x.shape[0], x.shape[1]
    out_w = (w - size) // stride + 1
    out_h = (h - size) // stride + 1
    out = np.zeros((out_h, out_w) + x.shape[2:])
    for i in range(out_h):
        for j in range(out_w):
            patch = x[i * stride:i * stride + size, j * stride:j * stride + size]
            if mode == "max":
                out[i, j] = patch.max(axis=(0, 1))
            else:
                out[i, j] = patch.mean(axis=(0, 1))
    return out


def conv2d_layer(x, kernels, bias, stride=1, padding="valid"):
    kernels = np.asarray(kernels, dtype=float)
    x = np.asarray(x, dtype=float)
    n_in, n_out = kernels.shape[2], kernels.shape[3]
    if x.shape[2] != n_in:
        raise ValueError("channels do not match")
    out = None
    for o in range(n_out):
        acc = convolve2d(x[:, :, 0], kernels[:, :, 0, o], stride, padding)
        for c in range(1, n_in):
            acc = acc + convolve2d(x[:, :, c], kernels[:, :, c, o], stride, padding)
        acc = acc + bias[o]
        if out is None:
            out = np.zeros(acc.shape + (n_out,))
        out[:, :, o] = acc
    return out
'''


# --- notebooks -------------------------------------------------------------------------------------------
def answer_cells(stub_nb: nbformat.NotebookNode) -> dict[str, tuple[int, dict[str, str]]]:
    """grade_id of each answer cell of the release -> (its index, {function it declares: docstring source})."""
    out = {}
    for index, cell in enumerate(stub_nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution"):
            tree = ast.parse(cell.source)
            docs = {s.name: ast.get_source_segment(cell.source, s.body[0]) or "" for s in tree.body
                    if isinstance(s, ast.FunctionDef)}
            out[meta["grade_id"]] = (index, docs)
    return out


def split_code(code: str, stub_nb: nbformat.NotebookNode, *, docstrings: bool = True) -> dict[str, str]:
    """A whole answer cut into the release's answer cells: each required function into its own cell (with the
    release's docstring if ``docstrings``), imports, constants and helpers into the cell of the next one."""
    cells = answer_cells(stub_nb)
    where = {name: gid for gid, (_, docs) in cells.items() for name in docs}
    docs = {name: doc for _, d in cells.values() for name, doc in d.items()}
    lines = code.strip("\n").split("\n")
    parts: dict[str, list[str]] = {gid: [] for gid in cells}
    pending: list[str] = []
    start = 0
    for stmt in ast.parse("\n".join(lines)).body:
        end = stmt.end_lineno or stmt.lineno
        chunk, first = lines[start:end], start
        start = end
        if isinstance(stmt, ast.FunctionDef) and stmt.name in where:
            if docstrings:
                at = stmt.body[0].lineno - 1 - first
                chunk = chunk[:at] + ["    " + docs[stmt.name]] + chunk[at:]
            parts[where[stmt.name]] += pending + chunk
            pending = []
        else:
            pending += chunk
    parts[where[REQUIRED[-1]]] += pending
    return {gid: "\n".join(src).strip("\n") for gid, src in parts.items()}


def build_notebook(code: str, stub_nb: nbformat.NotebookNode, *, docstrings: bool = True,
                   reverse: bool = False) -> nbformat.NotebookNode:
    """The release with its answer cells holding ``code`` (see :func:`split_code`); ``reverse``: the answer
    cells in reverse order (a student who rearranged the notebook)."""
    nb = copy.deepcopy(stub_nb)
    cells = answer_cells(stub_nb)
    for gid, source in split_code(code, stub_nb, docstrings=docstrings).items():
        if source:
            nb.cells[cells[gid][0]].source = source
    if reverse:
        index = sorted(i for i, _ in cells.values())
        moved = [nb.cells[i] for i in reversed(index)]
        for i, cell in zip(index, moved, strict=True):
            nb.cells[i] = cell
    return nb


def canonical_notebook(stub_nb: nbformat.NotebookNode, solution_nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The release with every answer cell holding the course solution's text, as a student who has it submits."""
    nb = copy.deepcopy(stub_nb)
    solution = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in solution_nb.cells}
    for gid, (index, _) in answer_cells(stub_nb).items():
        nb.cells[index].source = solution[gid]
    return nb


# --- are the hand-written answers right? -------------------------------------------------------------------
def _cases() -> dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]]:
    rng = np.random.default_rng(0)
    image, rgb = rng.integers(-9, 10, (6, 7)), rng.integers(0, 255, (4, 5, 3)).astype(np.uint8)
    k33, k23 = rng.integers(-3, 4, (3, 3)), rng.standard_normal((2, 3))
    grid = np.array([[0.5, 0.3, -1.2, 0.6], [-2.2, -0.2, 1.4, -0.4]])
    maps = [rng.integers(-9, 10, (5, 6)), rng.standard_normal((5, 6, 3))]
    x, kernels, bias = rng.standard_normal((5, 6, 2)), rng.standard_normal((3, 2, 2, 3)), rng.standard_normal(3)
    strides: list[Any] = [1, 2, (1, 2), (2, 1)]
    return {
        "output_size": [((n, f), {"stride": s, "padding": p}) for n in (4, 7, 10) for f in (1, 3) for s in (1, 2, 3)
                        for p in (0, 1)],
        "zero_pad": [((image, 0), {}), ((image, 2), {}), ((rgb, 1), {})],
        "convolve2d": [((image, k), {"stride": s, "padding": p}) for k in (k33, k23) for s in strides
                       for p in ("valid", "same", 0, 1)],
        "common_kernel": [((name,), {}) for name in ("sharpen", "blur", "bottom_sobel")],
        "relu": [((grid,), {}), (([[1, -2], [3, -4]],), {})],
        "sigmoid": [((grid,), {}), ((np.array([-1000.0, 0.0, 1000.0]),), {})],
        "leaky_relu": [((grid,), {}), ((grid,), {"alpha": 0.3}), (([[1, -2], [3, -4]],), {})],
        "pool2d": [((m,), {"size": size, "stride": s, "mode": mode}) for m in maps for size in (2, 3)
                   for s in (None, 1, 2) for mode in ("max", "average")],
        "conv2d_layer": [((x, kernels, bias), {"stride": s, "padding": p}) for s in strides[:3]
                         for p in ("valid", "same", 1)],
    }


def solution_functions() -> dict[str, Any]:
    """The course solution's functions (its answer cells run in one namespace; trusted code)."""
    stub_nb = nbformat.read(str(STUB), as_version=4)
    namespace: dict[str, Any] = {"np": np}
    exec(similarity.solution_code(nbformat.read(str(SOLUTION), as_version=4), stub_nb), namespace)
    return namespace


def check(code: str, reference: dict[str, Any]) -> list[str]:
    """The functions of ``code`` (one of this module's answers: trusted) that disagree with ``reference`` (the
    course solution's functions) on a few inputs, change their input, or accept an unknown kernel name."""
    namespace: dict[str, Any] = {"np": np}
    exec(code, namespace)
    wrong = []
    for name, calls in _cases().items():
        for args, kwargs in calls:
            given = copy.deepcopy(args)
            try:
                with np.errstate(over="raise", invalid="raise", divide="raise"):
                    got = namespace[name](*given, **kwargs)
                want = reference[name](*args, **kwargs)
                same = np.shape(got) == np.shape(want) and np.allclose(got, want, rtol=1e-9, atol=1e-12)
                same = same and all(np.array_equal(a, b) for a, b in zip(given, args, strict=True))
            except Exception:  # noqa: BLE001 - any failure is a wrong answer
                same = False
            if not same:
                wrong.append(f"{name}(*{args!r:.60}, **{kwargs})")
                break
    try:
        namespace["common_kernel"]("emboss")
        wrong.append("common_kernel('emboss') does not raise ValueError")
    except ValueError:
        pass
    return wrong


# --- a synthetic class -------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=len(STYLES))
def _top_level(code: str) -> tuple[dict[str, ast.stmt], list[ast.stmt]]:
    """A style's top-level definitions by the name they bind, and its imports."""
    defs: dict[str, ast.stmt] = {}
    imports: list[ast.stmt] = []
    for stmt in ast.parse(code).body:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            imports.append(stmt)
        elif isinstance(stmt, ast.FunctionDef):
            defs[stmt.name] = stmt
        elif isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            defs[stmt.targets[0].id] = stmt
    return defs, imports


def mixture(rng: random.Random) -> str:
    """Each required function from a random style, with the helpers, constants and imports it needs."""
    chosen: list[ast.stmt] = []
    imports: list[ast.stmt] = []
    for name in REQUIRED:
        defs, style_imports = _top_level(STYLES[rng.randrange(len(STYLES))])
        todo, needed = [name], list[ast.stmt]()
        while todo:
            stmt = defs[todo.pop()]
            needed.insert(0, stmt)
            used = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
            todo += [u for u in sorted(used) if u in defs and u not in REQUIRED and defs[u] not in needed + chosen]
        chosen += needed
        for imp in style_imports:
            bound = {a.asname or a.name.split(".")[0] for a in imp.names}  # type: ignore[attr-defined]
            if bound & {n.id for s in needed for n in ast.walk(s) if isinstance(n, ast.Name)} and imp not in imports:
                imports.append(imp)
    return ast.unparse(ast.Module(body=imports + chosen, type_ignores=[]))


class _Vary(ast.NodeTransformer):
    """Small rewrites two independent students make differently, each site with probability ``p``."""

    def __init__(self, rng: random.Random, p: float) -> None:
        self.rng, self.p = rng, p

    def hit(self) -> bool:
        return self.rng.random() < self.p

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Mult) and self.hit():
            node.left, node.right = node.right, node.left
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        flip = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE}
        if len(node.ops) == 1 and type(node.ops[0]) in flip and self.hit():
            return ast.Compare(node.comparators[0], [flip[type(node.ops[0])]()], [node.left])
        return node

    def visit_Return(self, node: ast.Return) -> Any:
        self.generic_visit(node)
        if node.value is not None and not isinstance(node.value, ast.Name | ast.Constant) and self.hit():
            name = self.rng.choice(["result", "res", "answer", "output", "value"])
            return [ast.Assign([ast.Name(name, ast.Store())], node.value, None), ast.Return(ast.Name(name))]
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func = ast.unparse(node.func)
        if func == "range" and len(node.args) == 1 and self.hit():
            node.args.insert(0, ast.Constant(0))
        elif func == "np.asarray" and self.hit():
            node.func = ast.Attribute(ast.Name("np"), "array")
        return node

    def visit_keyword(self, node: ast.keyword) -> ast.AST:
        self.generic_visit(node)
        spelling = ast.unparse(node.value)
        if node.arg == "dtype" and spelling in ("float", "np.float64") and self.hit():
            node.value = ast.Name("float") if spelling != "float" else ast.Attribute(ast.Name("np"), "float64")
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        self.generic_visit(node)
        value, index = node.value, node.slice
        if (isinstance(value, ast.Attribute) and value.attr == "shape" and isinstance(index, ast.Constant)
                and index.value == 0 and isinstance(node.ctx, ast.Load) and self.hit()):
            return ast.Call(ast.Name("len"), [value.value], [])
        return node

    def visit_If(self, node: ast.If) -> ast.AST:
        self.generic_visit(node)
        if node.orelse and not (len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If)) and self.hit():
            node.test, node.body, node.orelse = ast.UnaryOp(ast.Not(), node.test), node.orelse, node.body
        return node


def vary(code: str, rng: random.Random, p: float) -> str:
    """``code`` with each site of a small rewrite (:class:`_Vary`) rewritten with probability ``p``."""
    return ast.unparse(ast.fix_missing_locations(_Vary(rng, p).visit(ast.parse(code))))


def independent(rng: random.Random) -> str:
    """A student's own answer: a mixture of the styles, rewritten here and there."""
    return vary(mixture(rng), rng, 0.35)


WORDS = ("data", "arr", "tmp", "val", "mat", "buf", "acc", "item", "thing", "foo", "bar", "q", "z", "grid", "cell")


def disguise(code: str, rng: random.Random) -> str:
    """A copy of ``code`` as a student hides it: every name it binds renamed (but the required functions and
    the parameters the tests pass by name), integral floats written as ints, adjacent statements that share no
    name swapped, top-level definitions and imports shuffled, comments and blank lines added."""
    tree = ast.parse(code)
    bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    bound |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    bound |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    names = sorted(bound - set(REQUIRED) - KEYWORD_PARAMS)
    new = {name: f"{rng.choice(WORDS)}{i}" for i, name in enumerate(rng.sample(names, len(names)))}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in new:
            node.id = new[node.id]
        elif isinstance(node, ast.arg) and node.arg in new:
            node.arg = new[node.arg]
        elif isinstance(node, ast.FunctionDef) and node.name in new:
            node.name = new[node.name]
        elif isinstance(node, ast.Constant) and type(node.value) is float and node.value.is_integer():
            node.value = int(node.value) if rng.random() < 0.5 else node.value
        for field in ("body", "orelse"):
            block = getattr(node, field, None)
            if isinstance(block, list) and not isinstance(node, ast.Module):
                _swap_independent(block, rng)
    rng.shuffle(tree.body)
    lines = []
    for line in ast.unparse(tree).split("\n"):
        indent = line[:len(line) - len(line.lstrip())]
        if rng.random() < 0.15:
            lines.append(f"{indent}# {rng.choice(WORDS)} {rng.choice(WORDS)}")
        lines.append(line + (f"  # {rng.choice(WORDS)}" if rng.random() < 0.1 else ""))
        if rng.random() < 0.1 and line.strip():
            lines.append("")
    return "\n".join(lines)


def _swap_independent(block: list[ast.stmt], rng: random.Random) -> None:
    """Swap adjacent assignments that share no name at all, each pair with probability 1/2."""
    for i in range(len(block) - 1):
        a, b = block[i], block[i + 1]
        if isinstance(a, ast.Assign) and isinstance(b, ast.Assign) and rng.random() < 0.5:
            names_a = {n.id for n in ast.walk(a) if isinstance(n, ast.Name)}
            if not names_a & {n.id for n in ast.walk(b) if isinstance(n, ast.Name)}:
                block[i], block[i + 1] = b, a


def population(n: int, seed: int) -> list[tuple[str, str, nbformat.NotebookNode]]:
    """(student, family, notebook) for a class of ``n``: copy groups share a family, canonical fills are
    family "canonical", every other student is a family of their own."""
    rng = random.Random(seed)
    stub_nb = nbformat.read(str(STUB), as_version=4)
    canonical = canonical_notebook(stub_nb, nbformat.read(str(SOLUTION), as_version=4))
    out = [("stub000", "stub", copy.deepcopy(stub_nb))]
    out += [(f"canon{i:03d}", "canonical", copy.deepcopy(canonical)) for i in range(max(2, round(0.06 * n)))]
    group = 0
    while len(out) < n:
        code = independent(rng)
        family = f"student{len(out):03d}"
        out.append((family, family, build_notebook(code, stub_nb, docstrings=rng.random() < 0.7)))
        if group < round(0.08 * n / 2.5) and len(out) < n - 1:
            group += 1
            for k in range(min(rng.choice([1, 2]), n - len(out))):
                edited = code if k == 0 else vary(code, rng, 0.1)
                nb = build_notebook(disguise(edited, rng), stub_nb, docstrings=rng.random() < 0.5,
                                    reverse=rng.random() < 0.5)
                out.append((f"{family}copy{k}", family, nb))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300, help="students in the class (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; one process")
    started = time.perf_counter()
    reference = solution_functions()
    wrong = {i: w for i, code in enumerate([*STYLES, RENAMED, REORDERED]) if (w := check(code, reference))}
    print(f"hand-written answers: {12 - len(wrong)} of 12 agree with the course solution"
          + "".join(f"\n  answer {i}: {w}" for i, w in wrong.items()))
    failed = bool(wrong)
    students = population(args.n, args.seed)
    family = {student: fam for student, fam, _ in students}
    sizes: dict[str, int] = {}
    for fam in family.values():
        sizes[fam] = sizes.get(fam, 0) + 1
    groups = [f for f, size in sizes.items() if size > 1 and f not in ("canonical", "stub")]
    print(f"class: {len(students)} notebooks: {len(groups)} copy groups ({sum(sizes[g] for g in groups)} students), "
          f"{sizes['canonical']} canonical fills, 1 stub, the rest independent (made in "
          f"{time.perf_counter() - started:.1f} s)")
    stub_nb = nbformat.read(str(STUB), as_version=4)
    solution_code = similarity.solution_code(nbformat.read(str(SOLUTION), as_version=4), stub_nb)
    with tempfile.TemporaryDirectory(prefix="bench-similarity-") as tmp:
        paths = {}
        for student, _, nb in students:
            paths[student] = Path(tmp) / f"{student}.ipynb"
            nbformat.write(nb, str(paths[student]))
        for label, ref in (("without a reference", ""), ("course solution as reference", solution_code)):
            started = time.perf_counter()
            stub_code = similarity.solution_code(stub_nb)
            subs = [similarity.prepare(s, similarity.solution_code(nbformat.read(str(p), as_version=4), stub_nb),
                                       stub_code, reference_code=ref) for s, p in paths.items()]
            prepared = time.perf_counter() - started
            started = time.perf_counter()
            similarity.rank(subs)
            ranked = time.perf_counter() - started
            failed |= not report(label, subs, similarity.rank(subs, top=len(subs) ** 2), family, prepared, ranked)
    if failed:
        sys.exit(1)


def report(label: str, subs: list[similarity.Submission], pairs: list[similarity.Pair], family: dict[str, str],
           prepared: float, ranked: float) -> bool:
    """Print one run's figures; whether every copy pair outranks every pair of different families."""
    n = len(subs)
    score = {(p.a, p.b): p.score for p in pairs}
    copies: list[float] = []
    edited: list[float] = []
    others: list[float] = []
    canonical: list[float] = []
    for a, b in itertools.combinations(sorted(family), 2):
        value = score.get((a, b), 0.0)
        if family[a] == family[b] == "canonical":
            canonical.append(value)
        elif family[a] == family[b]:
            (edited if "copy1" in a + b else copies).append(value)
        else:
            others.append(value)
    disguised, copies = copies, copies + edited
    top = sorted(pairs, key=lambda p: -p.score)[:len(copies)]
    found = sum(family[p.a] == family[p.b] != "canonical" for p in top)
    print(f"\n{label}:")
    print(f"  prepare: {prepared:.2f} s for {n} notebooks ({prepared / n * 1000:.1f} ms each, reading included)")
    print(f"  rank (top 20 with their regions): {ranked:.2f} s; {len(pairs)} of {n * (n - 1) // 2} pairs share a "
          f"fingerprint (fingerprints in more than {similarity.common_cut(n)} submissions ignored)")
    holds = min(copies) > max(others)
    print(f"  ranking: min copy-pair score {min(copies):.3f}, max independent-pair score {max(others):.3f}: "
          f"{'holds' if holds else 'FAILS'}; {found} of the top {len(copies)} pairs are the {len(copies)} copy pairs")
    print(f"  copy pairs: {len(disguised)} disguised only, min {min(disguised, default=1.0):.3f}; "
          f"{len(edited)} with a copy also edited, min {min(edited, default=1.0):.3f}")
    print(f"  canonical fills: max pair score {max(canonical):.3f} over {len(canonical)} pairs")
    return holds


if __name__ == "__main__":
    main()
