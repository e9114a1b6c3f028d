"""Hidden tests for question pool2d: max and average pooling like Keras (padding 'valid').

References are what tf.nn.max_pool2d / tf.nn.avg_pool2d compute, computed here in float64 by
:func:`autograder.conv_reference.pool2d` without importing TensorFlow; tests/test_conv_reference.py holds
that function to TensorFlow's pooling.
"""

from __future__ import annotations

from collections.abc import Callable

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
    question,
    show_arrays,
)

KERAS_POOLING = {"max": "Keras's max pooling", "average": "Keras's average pooling"}
LECTURE_CASES = ("max_2x2_stride2", "max_2x2_stride1", "average_2x2_stride2", "average_2x2_stride1")


def reference(x: np.ndarray, size: int, stride: int | None, mode: str) -> np.ndarray:
    """The trusted answer, in float64: Keras's pooling, padding 'valid' (computed without TensorFlow)."""
    return conv_reference.pool2d(x, size, stride, mode)


def _pool(x: np.ndarray, size: int, stride: int, mode: str, *, partial: bool = False, together: bool = False,
          zero_start: bool = False, rounding: str = "") -> np.ndarray:
    """Pooling as a mistaken pool2d computes it (numpy, float64): ``partial`` keeps windows that hang over the
    edge, ``together`` pools all channels at once, ``zero_start`` starts the maximum at 0, ``rounding`` floors
    or rounds the means."""
    x = np.asarray(x, np.float64)
    h, w = x.shape[:2]
    if size > h or size > w:
        raise ValueError("the window does not fit")
    steps = (lambda n: -(-(n - size) // stride) + 1) if partial else (lambda n: (n - size) // stride + 1)
    out = np.zeros((steps(h), steps(w)) + x.shape[2:])
    axes = tuple(range(x.ndim)) if together else (0, 1)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            window = x[i * stride:i * stride + size, j * stride:j * stride + size]
            value = np.max(window, axis=axes) if mode == "max" else np.mean(window, axis=axes)
            out[i, j] = np.maximum(value, 0) if zero_start else value
    if rounding == "floor":
        out = np.floor(out)
    elif rounding == "round":
        out = np.round(out)
    return out


def _cause(value: object, x: np.ndarray, size: int, stride: int | None, mode: str) -> str:
    """Which common mistake the student's wrong ``value`` shows, by recomputing it here; "" if none."""
    step = size if stride is None else stride
    candidates: list[tuple[str, Callable[[], np.ndarray]]] = []
    if stride is not None and stride != size:
        candidates.append(("pool2d ignores the stride: the windows moved by the window size instead of "
                           "`stride` pixels.", lambda: _pool(x, size, size, mode)))
    if stride is None and size != 1:
        candidates.append(("stride=None should mean stride = size (as in Keras's MaxPooling2D(size)); the windows "
                           "moved one pixel at a time.", lambda: _pool(x, size, 1, mode)))
    elif step != 1:
        candidates.append(("pool2d ignores the stride: the windows moved one pixel at a time instead of `stride` "
                           "pixels.", lambda: _pool(x, size, 1, mode)))
    candidates.append(("Windows that hang over the edge are kept: drop them, H' = floor((H - size) / stride) + 1 "
                       "(Keras's padding='valid').", lambda: _pool(x, size, step, mode, partial=True)))
    if np.ndim(x) == 3:
        candidates.append(("The channels are pooled together: pool each channel x[:, :, c] on its own; the "
                           "channels stay in the last axis.", lambda: _pool(x, size, step, mode, together=True)))
    if mode == "max":
        candidates.append(("Negative maxima came out as 0: start the maximum from the window's values, not "
                           "from 0.", lambda: _pool(x, size, step, mode, zero_start=True)))
    else:
        candidates.append(("The means look rounded down: divide with / (true division), not //, and keep the "
                           "mean a float.", lambda: _pool(x, size, step, mode, rounding="floor")))
        candidates.append(("The means look rounded to whole numbers: keep the mean a float.",
                           lambda: _pool(x, size, step, mode, rounding="round")))
    return first_cause(value, candidates, rtol=1e-7, atol=1e-9)


def _pooled(submission: SubmissionProxy, what: str, x: np.ndarray, size: int, stride: int | None, mode: str,
            want: np.ndarray, *, tol: float = 1e-9, against: str = "") -> None:
    """Call pool2d and compare with ``want``; a wrong answer's message starts with its cause when a common
    mistake reproduces it. Messages name only ``what``, never the inputs."""
    kwargs: dict[str, int | str] = {"size": size, "mode": mode}
    if stride is not None:
        kwargs["stride"] = stride
    report = submission.call_report("pool2d", x, **kwargs)
    value = report.value
    right = (type(value) is np.ndarray and value.shape == want.shape and value.dtype.kind in "fiu"
             and np.allclose(value, want, rtol=1e-7, atol=tol))
    if not right:
        if against:  # a worksheet of the lecture: public numbers
            show_arrays(what, value, want)
        cause = _cause(value, x, size, stride, mode)
        if cause:
            raise Fail(f"{cause} Case: {what}.")
    try:
        out = expect_array(value, shape=want.shape, kinds="f")  # the docstring promises float64
    except Fail as exc:
        raise Fail(f"{what}: {exc}") from None
    if not np.allclose(out, want, rtol=1e-7, atol=tol):
        raise Fail(f"{what}: the values differ from {against or KERAS_POOLING[mode]}.")
    expect_unchanged(report, case=what, names={"args[0]": "its input x"})


def _check(submission: SubmissionProxy, what: str, x: np.ndarray, size: int, stride: int | None,
           mode: str) -> None:
    _pooled(submission, what, x, size, stride, mode, reference(x, size, stride, mode))


@question("pool2d", weight=0.25, worked_example=True)
@pytest.mark.parametrize("name", LECTURE_CASES)
def test_lecture_worksheet(submission: SubmissionProxy, name: str, reference_book: ReferenceBook) -> None:
    """pool2d reproduces one of the lecture's pooling worksheets (2x2 windows, stride 2 or 1)."""
    case = reference_book.poolings[name]
    size = f"{case.size}×{case.size}"
    what = f"{case.mode} pooling of the lecture's 4×4 map, {size} windows, stride {case.stride}"
    _pooled(submission, what, case.x, case.size, case.stride, case.mode, case.expected,
            against=f"the worksheet ({case.sheet!r})")


@question("pool2d", weight=0.45)
def test_max_pooling_matches_keras(submission: SubmissionProxy) -> None:
    """pool2d(mode='max') matches Keras's MaxPooling2D on random maps, several window sizes and strides."""
    rng = np.random.default_rng(20240541)
    for shape, size, stride in (((6, 8), 2, 2), ((9, 7), 3, 2), ((7, 10), 2, 1), ((5, 5), 3, 1)):
        x = rng.standard_normal(shape)
        _check(submission, f"Max pooling, {size}×{size} windows, stride {stride}", x, size, stride, "max")
    negative = -rng.uniform(1, 10, size=(6, 6))
    _check(submission, "Max pooling of a map whose values are all negative", negative, 2, 2, "max")


@question("pool2d", weight=0.45)
def test_average_pooling_matches_keras(submission: SubmissionProxy) -> None:
    """pool2d(mode='average') matches Keras's AveragePooling2D, also on integer maps (the mean is a float)."""
    rng = np.random.default_rng(20240542)
    for shape, size, stride in (((6, 8), 2, 2), ((9, 7), 3, 2), ((7, 10), 2, 1), ((4, 6), 4, 1)):
        x = rng.standard_normal(shape)
        what = f"Average pooling, {size}×{size} windows, stride {stride}"
        _check(submission, what, x, size, stride, "average")
    ints = rng.integers(0, 100, size=(6, 7))
    _check(submission, "Average pooling of an integer map", ints, 2, 2, "average")


@question("pool2d", weight=0.2)
def test_stride_defaults_to_window_size(submission: SubmissionProxy) -> None:
    """pool2d without a stride moves the window by its own size, as Keras's MaxPooling2D(size) does."""
    rng = np.random.default_rng(20240543)
    for shape, size, mode in (((9, 12), 3, "max"), ((8, 6), 2, "average"), ((4, 4), 4, "max")):
        x = rng.standard_normal(shape)
        _check(submission, f"{mode} pooling with {size}×{size} windows and no stride given", x, size, None, mode)


@question("pool2d", weight=0.3)
def test_partial_windows_are_dropped(submission: SubmissionProxy) -> None:
    """pool2d drops windows that would hang over the edge (e.g. a 5x7 map with 2x2 windows gives 2x3)."""
    rng = np.random.default_rng(20240544)
    for shape, size, stride, mode in (
        ((5, 7), 2, 2, "max"),
        ((8, 8), 3, 2, "average"),
        ((7, 9), 3, 3, "max"),
        ((11, 6), 4, 3, "average"),
    ):
        x = rng.standard_normal(shape)
        what = f"{mode} pooling of a map whose size leaves an incomplete window"
        _check(submission, what, x, size, stride, mode)


@question("pool2d", weight=0.4)
def test_pools_each_channel_separately(submission: SubmissionProxy) -> None:
    """pool2d on an (H, W, C) stack pools each channel on its own and returns (H', W', C)."""
    rng = np.random.default_rng(20240545)
    for shape, size, stride, mode in (
        ((6, 6, 3), 2, 2, "max"),
        ((6, 6, 3), 2, 2, "average"),
        ((7, 5, 4), 2, 1, "max"),
        ((9, 8, 2), 3, 2, "average"),
        ((4, 4, 1), 2, None, "max"),
    ):
        x = rng.standard_normal(shape)
        what = f"{mode} pooling of an (H, W, C) stack with {shape[2]} channel(s)"
        _check(submission, what, x, size, stride, mode)


@question("pool2d", weight=0.2)
def test_unknown_mode_raises_value_error(submission: SubmissionProxy) -> None:
    """pool2d raises ValueError for a mode other than 'max' or 'average'."""
    x = np.arange(16.0).reshape(4, 4)
    for mode in ("median", "sum", ""):
        try:
            expect_raises("ValueError", submission.pool2d, x, size=2, mode=mode)
        except Fail as exc:
            raise Fail(f"{exc} (case: an unknown mode)") from None
