"""Hidden tests for question pool2d: max and average pooling like Keras (padding 'valid').

References come from tf.nn.max_pool2d / tf.nn.avg_pool2d in float64, computed here.
"""

from __future__ import annotations

import numpy as np
import pytest

from autograder.references import ReferenceBook
from autograder.testing import Fail, SubmissionProxy, expect_array, expect_raises, question

LECTURE_CASES = ("max_2x2_stride2", "max_2x2_stride1", "average_2x2_stride2", "average_2x2_stride1")


def reference(x: np.ndarray, size: int, stride: int | None, mode: str) -> np.ndarray:
    import tensorflow as tf

    stride = size if stride is None else stride
    batch = np.asarray(x, np.float64)[np.newaxis]
    if batch.ndim == 3:
        batch = batch[..., np.newaxis]
    pool = tf.nn.max_pool2d if mode == "max" else tf.nn.avg_pool2d
    out = pool(tf.constant(batch, tf.float64), ksize=size, strides=stride, padding="VALID").numpy()[0]
    return out[..., 0] if np.ndim(x) == 2 else out


def _check(submission: SubmissionProxy, what: str, x: np.ndarray, size: int, stride: int | None, mode: str,
           hint: str = "") -> None:
    want = reference(x, size, stride, mode)
    kwargs: dict[str, int | str] = {"size": size, "mode": mode}
    if stride is not None:
        kwargs["stride"] = stride
    try:
        out = expect_array(submission.pool2d(x, **kwargs), shape=want.shape)
    except Fail as exc:
        raise Fail(f"{what}: {exc}{' ' + hint if hint else ''}") from None
    if not np.allclose(out, want, rtol=1e-7, atol=1e-9):
        advice = _diagnose(out, want, mode) or hint
        raise Fail(f"{what}: the values differ from Keras's {mode} pooling. {advice}".rstrip())


def _diagnose(out: np.ndarray, want: np.ndarray, mode: str) -> str:
    """A hint for two common mistakes, judged from the student's own output only."""
    if mode == "max" and np.allclose(out, np.maximum(want, 0)):
        return "Negative maxima came out as 0: start the maximum from the window's values, not from 0."
    if mode == "average" and np.allclose(out, np.floor(want)):
        return "The means look rounded down: divide with / (true division), not //."
    return ""


@question("pool2d", weight=0.25, worked_example=True)
@pytest.mark.parametrize("name", LECTURE_CASES)
def test_lecture_worksheet(submission: SubmissionProxy, name: str, reference_book: ReferenceBook) -> None:
    """pool2d reproduces one of the lecture's pooling worksheets (2x2 windows, stride 2 or 1)."""
    case = reference_book.poolings[name]
    size = f"{case.size}×{case.size}"
    what = f"{case.mode} pooling of the lecture's 4×4 map, {size} windows, stride {case.stride}"
    try:
        out = expect_array(
            submission.pool2d(case.x, size=case.size, stride=case.stride, mode=case.mode),
            shape=case.expected.shape,
        )
    except Fail as exc:
        raise Fail(f"{what}: {exc}") from None
    if not np.allclose(out, case.expected, rtol=1e-9, atol=1e-9):
        advice = _diagnose(out, case.expected, case.mode)
        raise Fail(f"{what}: the values differ from the worksheet ({case.sheet!r}). {advice}".rstrip())


@question("pool2d", weight=0.45)
def test_max_pooling_matches_keras(submission: SubmissionProxy) -> None:
    """pool2d(mode='max') matches Keras's MaxPooling2D on random maps, several window sizes and strides."""
    rng = np.random.default_rng(20240541)
    for shape, size, stride in (((6, 8), 2, 2), ((9, 7), 3, 2), ((7, 10), 2, 1), ((5, 5), 3, 1)):
        x = rng.standard_normal(shape)
        _check(submission, f"Max pooling, {size}×{size} windows, stride {stride}", x, size, stride, "max")
    negative = -rng.uniform(1, 10, size=(6, 6))
    _check(
        submission,
        "Max pooling of a map whose values are all negative",
        negative,
        2,
        2,
        "max",
        hint="Does your maximum start from 0 instead of from the window's values?",
    )


@question("pool2d", weight=0.45)
def test_average_pooling_matches_keras(submission: SubmissionProxy) -> None:
    """pool2d(mode='average') matches Keras's AveragePooling2D, also on integer maps (the mean is a float)."""
    rng = np.random.default_rng(20240542)
    for shape, size, stride in (((6, 8), 2, 2), ((9, 7), 3, 2), ((7, 10), 2, 1), ((4, 6), 4, 1)):
        x = rng.standard_normal(shape)
        what = f"Average pooling, {size}×{size} windows, stride {stride}"
        _check(submission, what, x, size, stride, "average")
    ints = rng.integers(0, 100, size=(6, 7))
    _check(
        submission,
        "Average pooling of an integer map",
        ints,
        2,
        2,
        "average",
        hint="The mean of integers is not always an integer: do not round or truncate it.",
    )


@question("pool2d", weight=0.2)
def test_stride_defaults_to_window_size(submission: SubmissionProxy) -> None:
    """pool2d without a stride moves the window by its own size, as Keras's MaxPooling2D(size) does."""
    rng = np.random.default_rng(20240543)
    for shape, size, mode in (((9, 12), 3, "max"), ((8, 6), 2, "average"), ((4, 4), 4, "max")):
        x = rng.standard_normal(shape)
        _check(
            submission,
            f"{mode} pooling with {size}×{size} windows and no stride given",
            x,
            size,
            None,
            mode,
            hint="stride=None means stride = size.",
        )


@question("pool2d", weight=0.3)
def test_partial_windows_are_dropped(submission: SubmissionProxy) -> None:
    """pool2d drops windows that would hang over the edge (e.g. a 5x7 map with 2x2 windows gives 2x3)."""
    rng = np.random.default_rng(20240544)
    hint = "A window that does not fit completely is dropped: H' = floor((H - size) / stride) + 1."
    for shape, size, stride, mode in (
        ((5, 7), 2, 2, "max"),
        ((8, 8), 3, 2, "average"),
        ((7, 9), 3, 3, "max"),
        ((11, 6), 4, 3, "average"),
    ):
        x = rng.standard_normal(shape)
        what = f"{mode} pooling of a map whose size leaves an incomplete window"
        _check(submission, what, x, size, stride, mode, hint=hint)


@question("pool2d", weight=0.4)
def test_pools_each_channel_separately(submission: SubmissionProxy) -> None:
    """pool2d on an (H, W, C) stack pools each channel on its own and returns (H', W', C)."""
    rng = np.random.default_rng(20240545)
    hint = "Each channel x[:, :, c] is pooled on its own; the channels stay in the last axis."
    for shape, size, stride, mode in (
        ((6, 6, 3), 2, 2, "max"),
        ((6, 6, 3), 2, 2, "average"),
        ((7, 5, 4), 2, 1, "max"),
        ((9, 8, 2), 3, 2, "average"),
        ((4, 4, 1), 2, None, "max"),
    ):
        x = rng.standard_normal(shape)
        what = f"{mode} pooling of an (H, W, C) stack with {shape[2]} channel(s)"
        _check(submission, what, x, size, stride, mode, hint=hint)


@question("pool2d", weight=0.2)
def test_unknown_mode_raises_value_error(submission: SubmissionProxy) -> None:
    """pool2d raises ValueError for a mode other than 'max' or 'average'."""
    x = np.arange(16.0).reshape(4, 4)
    for mode in ("median", "sum", ""):
        try:
            expect_raises("ValueError", submission.pool2d, x, size=2, mode=mode)
        except Fail as exc:
            raise Fail(f"{exc} (case: an unknown mode)") from None
