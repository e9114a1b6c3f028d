"""Hidden tests for question convolve2d: Keras/TensorFlow's 2-D convolution with stride and padding.

References are computed here, independently of the student's code, by
:func:`autograder.conv_reference.correlate2d` in float64: TensorFlow's rules ('valid', 'same' with
TensorFlow's asymmetric zeros, an int padding as explicit zeros) in NumPy, so grading never imports
TensorFlow; tests/test_conv_reference.py holds that function to tf.nn.conv2d itself.
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
    expect_raises,
    expect_unchanged,
    first_cause,
    helper_module,
    question,
    show_arrays,
)

LECTURE_CASES = ("stride1_4x6", "stride1_10x10", "stride2_4x6", "stride2_10x10", "zero_padding_4x6")
RTOL = ATOL = 1e-5

MISTAKES = helper_module(__file__, "mistakes")
ARGUMENTS = {"args[0]": "the image", "args[1]": "the kernel"}


def reference(image: np.ndarray, kernel: np.ndarray, stride: int | tuple[int, int] = 1,
              padding: str | int = "valid") -> np.ndarray:
    """The trusted answer, in float64 (TensorFlow's rules, computed without TensorFlow)."""
    return conv_reference.correlate2d(image, kernel, stride, padding)


def _cause(value: object, image: np.ndarray, kernel: np.ndarray, stride: int | tuple[int, int],
           padding: str | int, want: np.ndarray) -> str:
    """Which common mistake the student's wrong ``value`` shows, by recomputing it here; "" if none."""
    pair = MISTAKES.pair(stride)
    candidates = [(m.cause, lambda m=m: m.apply(image, kernel, pair, padding))
                  for m in MISTAKES.conv_mistakes(kernel, stride, padding)]
    candidates += [(cause, lambda w=w: w) for cause, w in MISTAKES.wrapped(want, np.asarray(image).dtype)]
    return first_cause(value, candidates, rtol=RTOL, atol=ATOL)


def _matches(value: object, want: np.ndarray) -> bool:
    return (type(value) is np.ndarray and value.shape == want.shape and value.dtype.kind in "fiu"
            and np.allclose(value, want, rtol=RTOL, atol=ATOL))


def _check(submission: SubmissionProxy, what: str, image: np.ndarray, kernel: np.ndarray, *, kinds: str = "fiu",
           note: str = "", **kwargs: Any) -> None:
    """Call convolve2d(image, kernel, **kwargs) and compare with the reference. A wrong answer's message starts
    with its cause when a common mistake reproduces it; messages name only `what`, never the inputs."""
    stride, padding = kwargs.get("stride", 1), kwargs.get("padding", "valid")
    want = reference(image, kernel, stride, padding)
    report = submission.call_report("convolve2d", image, kernel, **kwargs)
    value = report.value
    if not _matches(value, want):
        cause = _cause(value, image, kernel, stride, padding, want)
        if cause:
            raise Fail(f"{cause} Case: {what}.")
    try:
        out = expect_array(value, shape=want.shape, kinds=kinds)
    except Fail as exc:
        raise Fail(f"{what}: {exc}{' ' + note if note else ''}") from None
    if not np.allclose(out, want, rtol=RTOL, atol=ATOL):
        raise Fail(f"{what}: the values differ from Keras/TensorFlow's convolution.")
    expect_unchanged(report, case=what, names=ARGUMENTS)


def _random(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    return rng.standard_normal(shape)


@question("convolve2d", weight=0.4, worked_example=True)
@pytest.mark.parametrize("name", LECTURE_CASES)
def test_lecture_worksheet(submission: SubmissionProxy, name: str, reference_book: ReferenceBook) -> None:
    """convolve2d reproduces the output of one of the lecture's convolution worksheets."""
    case = reference_book.convolutions[name]
    kwargs = {}
    sh, sw = case.stride
    if (sh, sw) != (1, 1):
        kwargs["stride"] = sh if sh == sw else (sh, sw)
    if case.padding:
        kwargs["padding"] = case.padding
    h, w = case.image.shape
    what = f"The lecture's {h}×{w} image, stride {case.stride}, padding {case.padding} ({case.sheet!r})"
    report = submission.call_report("convolve2d", case.image, case.kernel, **kwargs)
    value = report.value
    exact = type(value) is np.ndarray and value.shape == case.expected.shape and value.dtype.kind in "fiu"
    if not (exact and np.allclose(value, case.expected, rtol=1e-9, atol=1e-9)):
        show_arrays(what, value, case.expected)
        cause = _cause(value, case.image, case.kernel, case.stride, case.padding, case.expected)
        if cause:
            raise Fail(f"{cause} Case: {what}.")
    try:
        out = expect_array(value, shape=case.expected.shape)
    except Fail as exc:
        raise Fail(f"{what}: {exc}") from None
    if not np.allclose(out, case.expected, rtol=1e-9, atol=1e-9):
        raise Fail(f"{what}: the values differ from the worksheet's output.")
    expect_unchanged(report, case=what, names=ARGUMENTS)


@question("convolve2d", weight=0.5)
def test_valid_stride_one_on_random_images(submission: SubmissionProxy) -> None:
    """convolve2d with the default stride 1 and padding 'valid' matches Keras on random images."""
    rng = np.random.default_rng(20240521)
    for (h, w), (kh, kw) in (((7, 9), (3, 3)), ((6, 6), (5, 5)), ((5, 5), (5, 5)), ((8, 4), (1, 1))):
        image, kernel = _random(rng, (h, w)), _random(rng, (kh, kw))
        _check(submission, f"A random {h}×{w} image and a {kh}×{kw} kernel (defaults)", image, kernel)


@question("convolve2d", weight=0.5)
def test_non_square_kernels_and_images(submission: SubmissionProxy) -> None:
    """convolve2d handles non-square kernels (2x3, 1x5, 3x1) on non-square images."""
    rng = np.random.default_rng(20240522)
    for (h, w), (kh, kw) in (((6, 8), (2, 3)), ((5, 9), (1, 5)), ((7, 4), (3, 1)), ((4, 10), (3, 2))):
        image, kernel = _random(rng, (h, w)), _random(rng, (kh, kw))
        _check(
            submission,
            f"A {kh}×{kw} kernel on a {h}×{w} image",
            image,
            kernel,
            stride=1,
            padding="valid",
        )


@question("convolve2d", weight=0.35)
def test_equal_strides(submission: SubmissionProxy) -> None:
    """convolve2d with an int stride (2, 3) or stride (2, 2) matches Keras, also when a remainder is left."""
    rng = np.random.default_rng(20240523)
    for (h, w), (kh, kw), stride in (
        ((9, 9), (3, 3), 2),
        ((10, 11), (3, 3), 3),
        ((8, 7), (2, 2), (2, 2)),
        ((12, 9), (4, 3), 2),
    ):
        image, kernel = _random(rng, (h, w)), _random(rng, (kh, kw))
        _check(submission, f"Stride {stride!r} on a {h}×{w} image", image, kernel, stride=stride)


@question("convolve2d", weight=0.4)
def test_different_row_and_column_strides(submission: SubmissionProxy) -> None:
    """convolve2d with stride (SH, SW) steps SH rows down and SW columns across: (1, 2), (3, 2), (2, 1)."""
    rng = np.random.default_rng(20240524)
    for (h, w), (kh, kw), stride in (
        ((5, 9), (3, 3), (1, 2)),
        ((11, 8), (3, 2), (3, 2)),
        ((9, 6), (2, 3), (2, 1)),
    ):
        image, kernel = _random(rng, (h, w)), _random(rng, (kh, kw))
        _check(
            submission,
            f"Stride {stride} on a non-square image",
            image,
            kernel,
            stride=stride,
        )


@question("convolve2d", weight=0.5)
def test_same_padding_with_odd_kernels(submission: SubmissionProxy) -> None:
    """convolve2d with padding='same' and stride 1 keeps the image's size and matches Keras (odd kernels)."""
    rng = np.random.default_rng(20240525)
    for (h, w), (kh, kw) in (((7, 5), (3, 3)), ((6, 9), (5, 5)), ((4, 4), (1, 3)), ((5, 8), (3, 5))):
        image, kernel = _random(rng, (h, w)), _random(rng, (kh, kw))
        _check(
            submission,
            f"padding='same' with a {kh}×{kw} kernel and stride 1",
            image,
            kernel,
            padding="same",
        )


@question("convolve2d", weight=0.75)
def test_same_padding_even_kernels_and_strides(submission: SubmissionProxy) -> None:
    """convolve2d with padding='same' matches TensorFlow for even kernels and strides (asymmetric padding)."""
    rng = np.random.default_rng(20240526)
    for (h, w), (kh, kw), stride, what in (
        ((5, 6), (2, 2), 1, "a 2×2 kernel and stride 1"),
        ((6, 7), (4, 4), 1, "a 4×4 kernel and stride 1"),
        ((8, 8), (3, 3), 2, "a 3×3 kernel and stride 2 on an even-sized image"),
        ((7, 9), (3, 3), 2, "a 3×3 kernel and stride 2 on an odd-sized image"),
        ((9, 11), (3, 2), (2, 3), "a 3×2 kernel and stride (2, 3)"),
        ((7, 7), (5, 5), 2, "a 5×5 kernel and stride 2"),
    ):
        image, kernel = _random(rng, (h, w)), _random(rng, (kh, kw))
        _check(
            submission,
            f"padding='same' with {what}",
            image,
            kernel,
            stride=stride,
            padding="same",
        )


@question("convolve2d", weight=0.5)
def test_integer_padding(submission: SubmissionProxy) -> None:
    """convolve2d with an int padding P adds P rings of zeros before sliding, with any stride."""
    rng = np.random.default_rng(20240527)
    for (h, w), (kh, kw), stride, pad in (
        ((5, 7), (3, 3), 1, 2),
        ((6, 6), (3, 3), 2, 1),
        ((4, 9), (2, 3), (1, 2), 1),
        ((3, 3), (5, 5), 1, 1),
        ((5, 5), (3, 3), 1, 0),
    ):
        image, kernel = _random(rng, (h, w)), _random(rng, (kh, kw))
        _check(
            submission,
            f"padding={pad} with stride {stride!r}",
            image,
            kernel,
            stride=stride,
            padding=pad,
        )


@question("convolve2d", weight=0.25)
def test_integer_images(submission: SubmissionProxy) -> None:
    """convolve2d returns the right floats for integer (uint8, int32) images and integer kernels."""
    rng = np.random.default_rng(20240528)
    for dtype in (np.uint8, np.int32):
        image = rng.integers(0, 256, size=(7, 8)).astype(dtype)
        kernel = rng.integers(-3, 4, size=(3, 3)).astype(np.int64)
        what = f"A {np.dtype(dtype).name} image with an integer kernel"
        _check(submission, what, image, kernel, kinds="f", note="The result of convolve2d is always float64.")


@question("convolve2d", weight=0.5)
def test_invalid_stride_or_padding_raises_value_error(submission: SubmissionProxy) -> None:
    """convolve2d raises ValueError for a stride below 1, or a padding not 'valid', 'same' or an int >= 0."""
    image, kernel = np.arange(30.0).reshape(5, 6), np.ones((3, 3))
    invalid: list[tuple[str, dict[str, Any]]] = [
        ("stride 0", {"stride": 0}),
        ("a negative stride", {"stride": -1}),
        ("stride (1, 0)", {"stride": (1, 0)}),
        ("negative padding", {"padding": -1}),
        ("an unknown padding name", {"padding": "full"}),
    ]
    for why, kwargs in invalid:
        try:
            expect_raises("ValueError", submission.convolve2d, image, kernel, **kwargs)
        except Fail as exc:
            raise Fail(f"{exc} (case: {why})") from None
