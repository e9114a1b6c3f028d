"""Hidden tests for question conv2d_layer: one image through a Keras Conv2D layer (no activation).

References are what keras.layers.Conv2D computes with the same weights (an int padding as explicit zeros,
which Keras has no option for), computed here in float64 by :func:`autograder.conv_reference.conv2d`
without importing TensorFlow; tests/test_conv_reference.py holds that function to Keras and tf.nn.conv2d.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from autograder import conv_reference
from autograder.references import ReferenceBook
from autograder.testing import (
    Fail,
    SubmissionProxy,
    expect_array,
    expect_unchanged,
    first_cause,
    helper_module,
    question,
    show_arrays,
)

LECTURE_CASES = ("stride1_4x6", "stride1_10x10", "stride2_4x6", "stride2_10x10", "zero_padding_4x6")
RTOL = ATOL = 1e-5
MISTAKES = helper_module(__file__, "mistakes")
ARGUMENTS = {"args[0]": "the image x", "args[1]": "the kernels", "args[2]": "the bias"}


def reference(x: np.ndarray, kernels: np.ndarray, bias: np.ndarray, stride: int | tuple[int, int] = 1,
              padding: str | int = "valid") -> np.ndarray:
    """The trusted answer, in float64: Keras's Conv2D with these weights (computed without TensorFlow)."""
    return conv_reference.conv2d(x, kernels, bias, stride, padding)


def _layer(mistake: Any, x: np.ndarray, kernels: np.ndarray, bias: np.ndarray, stride: int | tuple[int, int],
           padding: str | int) -> np.ndarray:
    """What conv2d_layer returns when its 2-D convolution makes ``mistake`` (computed here, in float64)."""
    pair = MISTAKES.pair(stride)
    x, kernels = np.asarray(x, np.float64), np.asarray(kernels, np.float64)
    maps = [sum(mistake.apply(x[:, :, c], kernels[:, :, c, o], pair, padding) for c in range(x.shape[2]))
            for o in range(kernels.shape[3])]
    return np.stack(maps, axis=-1) + np.asarray(bias, np.float64)


def _cause(value: object, x: np.ndarray, kernels: np.ndarray, bias: np.ndarray, stride: int | tuple[int, int],
           padding: str | int, want: np.ndarray) -> str:
    """Which common mistake the student's wrong ``value`` shows, by recomputing it here; "" if none."""
    bias = np.asarray(bias, np.float64)
    right = MISTAKES.Mistake("")
    kernel_hw = np.asarray(kernels, np.float64)[:, :, 0, 0]
    candidates: list[tuple[str, Any]] = []
    if np.any(bias != 0):
        candidates.append(("The bias is not added: out[:, :, o] is the filter's summed convolutions plus "
                           "bias[o].", lambda: want - bias))
        if x.shape[2] > 1:
            candidates.append(("The bias is added once per input channel: add bias[o] once, after summing the "
                               "input channels.", lambda: want + (x.shape[2] - 1) * bias))
    if x.shape[2] > 1:
        candidates.append(("Only the first input channel is used: each filter sums its convolutions over all "
                           "input channels.", lambda: _layer(right, x[:, :, :1], kernels[:, :, :1], bias, stride,
                                                           padding)))
        candidates.append(("The input channels are averaged, not summed: each filter adds up its convolutions "
                           "over all input channels.",
                           lambda: (want - bias) / x.shape[2] + bias))
    for m in MISTAKES.conv_mistakes(kernel_hw, stride, padding):
        candidates.append((m.cause, lambda m=m: _layer(m, x, kernels, bias, stride, padding)))
    candidates += [(cause, lambda w=w: w) for cause, w in MISTAKES.wrapped(want, np.asarray(x).dtype)]
    return first_cause(value, candidates, rtol=RTOL, atol=ATOL)


def _check(submission: SubmissionProxy, what: str, x: np.ndarray, kernels: np.ndarray, bias: np.ndarray, *,
           kinds: str = "fiu", **kwargs: Any) -> None:
    """Call conv2d_layer and compare with Keras. A wrong answer's message starts with its cause when a common
    mistake reproduces it; messages name only `what`, never the inputs."""
    stride, padding = kwargs.get("stride", 1), kwargs.get("padding", "valid")
    want = reference(x, kernels, bias, stride, padding)
    report = submission.call_report("conv2d_layer", x, kernels, bias, **kwargs)
    value = report.value
    right = (type(value) is np.ndarray and value.shape == want.shape and value.dtype.kind in "fiu"
             and np.allclose(value, want, rtol=RTOL, atol=ATOL))
    if not right:
        cause = _cause(value, x, kernels, bias, stride, padding, want)
        if cause:
            raise Fail(f"{cause} Case: {what}.")
    try:
        out = expect_array(value, shape=want.shape, kinds=kinds)
    except Fail as exc:
        raise Fail(f"{what}: {exc}") from None
    if not np.allclose(out, want, rtol=RTOL, atol=ATOL):
        raise Fail(f"{what}: the values differ from Keras's Conv2D with the same weights.")
    expect_unchanged(report, case=what, names=ARGUMENTS)


def _weights(rng: np.random.Generator, x_shape: tuple[int, ...],
             kernel_shape: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = rng.standard_normal(x_shape)
    kernels = rng.standard_normal(kernel_shape)
    bias = rng.standard_normal(kernel_shape[3])
    return x, kernels, bias


@question("conv2d_layer", weight=0.2, worked_example=True)
@pytest.mark.parametrize("name", LECTURE_CASES)
def test_lecture_worksheet_as_one_channel_layer(submission: SubmissionProxy, name: str,
                                                reference_book: ReferenceBook) -> None:
    """conv2d_layer with 1 input channel, 1 filter and bias 0 reproduces a lecture's convolution worksheet."""
    case = reference_book.convolutions[name]
    kwargs = {}
    sh, sw = case.stride
    if (sh, sw) != (1, 1):
        kwargs["stride"] = sh if sh == sw else (sh, sw)
    if case.padding:
        kwargs["padding"] = case.padding
    x = case.image[:, :, np.newaxis]
    kernels = case.kernel[:, :, np.newaxis, np.newaxis]
    want = case.expected[:, :, np.newaxis]
    h, w = case.image.shape
    what = f"The lecture's {h}×{w} image as a (H, W, 1) tensor, stride {case.stride}, padding {case.padding}"
    bias = np.zeros(1)
    report = submission.call_report("conv2d_layer", x, kernels, bias, **kwargs)
    value = report.value
    exact = type(value) is np.ndarray and value.shape == want.shape and value.dtype.kind in "fiu"
    if not (exact and np.allclose(value, want, rtol=1e-9, atol=1e-9)):
        show_arrays(what, value, want)
        cause = _cause(value, x, kernels, bias, case.stride, case.padding, want)
        if cause:
            raise Fail(f"{cause} Case: {what}.")
    try:
        out = expect_array(value, shape=want.shape)
    except Fail as exc:
        raise Fail(f"{what}: {exc}") from None
    if not np.allclose(out, want, rtol=1e-9, atol=1e-9):
        raise Fail(f"{what}: the values differ from the worksheet ({case.sheet!r}).")
    expect_unchanged(report, case=what, names=ARGUMENTS)


@question("conv2d_layer", weight=0.6)
def test_matches_keras_conv2d(submission: SubmissionProxy) -> None:
    """conv2d_layer matches Keras's Conv2D (padding 'valid', stride 1) for several channel counts."""
    rng = np.random.default_rng(20240551)
    for x_shape, k_shape in (
        ((7, 8, 3), (3, 3, 3, 4)),
        ((6, 6, 1), (3, 3, 1, 2)),
        ((5, 9, 2), (2, 3, 2, 3)),
        ((4, 4, 5), (1, 1, 5, 1)),
    ):
        x, kernels, bias = _weights(rng, x_shape, k_shape)
        what = f"{x_shape[2]} input channel(s), {k_shape[3]} filter(s) of {k_shape[0]}×{k_shape[1]}"
        _check(submission, what, x, kernels, bias)


@question("conv2d_layer", weight=0.6)
def test_strides_and_same_padding_match_keras(submission: SubmissionProxy) -> None:
    """conv2d_layer with strides and padding='same' matches Keras's Conv2D(strides=..., padding=...)."""
    rng = np.random.default_rng(20240552)
    for x_shape, k_shape, stride, padding in (
        ((8, 8, 3), (3, 3, 3, 2), 2, "same"),
        ((6, 9, 2), (3, 3, 2, 5), (1, 2), "valid"),
        ((10, 7, 2), (2, 2, 2, 3), (3, 2), "same"),
        ((7, 7, 1), (3, 3, 1, 2), 1, "same"),
    ):
        x, kernels, bias = _weights(rng, x_shape, k_shape)
        _check(
            submission,
            f"stride {stride!r} with padding={padding!r}",
            x,
            kernels,
            bias,
            stride=stride,
            padding=padding,
        )


@question("conv2d_layer", weight=0.3)
def test_integer_padding(submission: SubmissionProxy) -> None:
    """conv2d_layer with an int padding P adds P rings of zeros around every channel."""
    rng = np.random.default_rng(20240553)
    for x_shape, k_shape, stride, pad in (((5, 6, 2), (3, 3, 2, 3), 1, 1), ((6, 5, 3), (3, 2, 3, 2), 2, 2)):
        x, kernels, bias = _weights(rng, x_shape, k_shape)
        what = f"padding={pad} with stride {stride}"
        _check(submission, what, x, kernels, bias, stride=stride, padding=pad)


@question("conv2d_layer", weight=0.25)
def test_bias_is_added_per_filter(submission: SubmissionProxy) -> None:
    """conv2d_layer adds bias[o] to every pixel of output channel o (and only there)."""
    x = np.random.default_rng(20240554).standard_normal((5, 5, 2))
    kernels = np.zeros((3, 3, 2, 3))
    bias = np.array([1.5, -2.0, 0.25])
    _check(
        submission,
        "Filters of zeros with a different bias per filter",
        x,
        kernels,
        bias,
    )


@question("conv2d_layer", weight=0.25)
def test_integer_images(submission: SubmissionProxy) -> None:
    """conv2d_layer gives the right float64 values for a uint8 image with integer kernels and biases."""
    rng = np.random.default_rng(20240555)
    x = rng.integers(0, 256, size=(6, 7, 3)).astype(np.uint8)
    kernels = rng.integers(-3, 4, size=(3, 3, 3, 2))
    bias = rng.integers(-5, 6, size=2)
    _check(submission, "A uint8 image with integer weights", x, kernels, bias, kinds="f")
