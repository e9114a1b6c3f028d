"""Hidden tests for question zero_pad: a frame of zeros around the height and width, dtype kept."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder.references import ReferenceBook
from autograder.testing import (
    Fail,
    SubmissionProxy,
    expect,
    expect_array,
    expect_raises,
    expect_unchanged,
    first_cause,
    question,
    show_arrays,
)


def _expected(image: np.ndarray, pad: int) -> np.ndarray:
    widths = [(pad, pad), (pad, pad)] + [(0, 0)] * (image.ndim - 2)
    return np.pad(image, widths, mode="constant", constant_values=0)


def _cause(value: object, image: np.ndarray, pad: int) -> str:
    """Which common mistake the student's wrong ``value`` shows, by recomputing it here; "" if none."""
    rest = [(0, 0)] * (image.ndim - 2)
    candidates: list[tuple[str, Callable[[], np.ndarray]]] = [
        ("zero_pad pads only one side: P rows and columns of zeros go on EVERY side (top, bottom, left and "
         "right).", lambda: np.pad(image, [(pad, 0), (pad, 0)] + rest)),
        ("zero_pad pads P zeros in all, not P on each side: the padded image is (H + 2P, W + 2P).",
         lambda: np.pad(image, [(pad // 2, pad - pad // 2)] * 2 + rest)),
    ]
    if image.ndim == 3:
        candidates.insert(0, ("zero_pad also pads the channel axis: pad only the height and the width, "
                              "np.pad(image, ((P, P), (P, P), (0, 0))) for an (H, W, C) image.",
                              lambda: np.pad(image, pad)))
    return first_cause(value, candidates, rtol=0, atol=0)


def _check(submission: SubmissionProxy, image: np.ndarray, pad: int, what: str, *,
           lecture: bool = False) -> np.ndarray:
    want = _expected(image, pad)
    report = submission.call_report("zero_pad", image, pad)
    value = report.value
    right = type(value) is np.ndarray and value.shape == want.shape and np.array_equal(value, want)
    if not right and lecture:  # the lecture's image: public numbers
        show_arrays(what, value, want)
    if not right and pad > 0:
        cause = _cause(value, image, pad)
        if cause:
            raise Fail(f"{cause} Case: {what}.")
    try:
        out = expect_array(value, shape=want.shape, kinds="fiub")
    except Fail as exc:
        raise Fail(f"{what}: {exc}") from None
    h, w = image.shape[:2]
    if not np.array_equal(out[pad : pad + h, pad : pad + w], image):
        raise Fail(f"{what}: the middle of the padded array, out[P:P + H, P:P + W], is not the image.")
    if not np.array_equal(out, want):
        raise Fail(f"{what}: the frame around the image should be all zeros.")
    expect_unchanged(report, case=what, names={"args[0]": "the image"})
    return out


@question("zero_pad", weight=0.6, worked_example=True)
def test_lecture_zero_padding(submission: SubmissionProxy, reference_book: ReferenceBook) -> None:
    """zero_pad turns the lecture's 4x6 image into the 6x8 padded image of the "zero padding" worksheet."""
    case = reference_book.convolutions["zero_padding_4x6"]
    _check(submission, case.image, case.padding, f"The lecture's 4×6 image with pad {case.padding}", lecture=True)
    _check(submission, case.image, 0, "The lecture's 4×6 image with pad 0 (nothing to add)", lecture=True)


@question("zero_pad", weight=0.35)
def test_random_images(submission: SubmissionProxy) -> None:
    """zero_pad pads random 2-D images of several sizes with 0 to 3 rings of zeros."""
    rng = np.random.default_rng(20240511)
    for shape, pad in (((5, 7), 2), ((1, 1), 3), ((4, 3), 0), ((6, 2), 1)):
        image = rng.standard_normal(shape)
        _check(submission, image, pad, f"A non-square {shape[0]}×{shape[1]} image with pad {pad}")


@question("zero_pad", weight=0.3)
def test_keeps_the_dtype(submission: SubmissionProxy) -> None:
    """zero_pad returns an array with the same dtype as the image (uint8, int32, float32, float64)."""
    rng = np.random.default_rng(20240512)
    for dtype in (np.uint8, np.int32, np.float32, np.float64):
        image = rng.integers(1, 200, size=(3, 5)).astype(dtype)
        out = _check(submission, image, 2, f"A {np.dtype(dtype).name} image")
        expect(
            out.dtype == image.dtype,
            f"zero_pad turned a {image.dtype} image into {out.dtype}; it should keep the image's dtype.",
        )


@question("zero_pad", weight=0.35)
def test_colour_images_pad_height_and_width_only(submission: SubmissionProxy) -> None:
    """zero_pad on an (H, W, C) image pads the height and width but never the channels."""
    rng = np.random.default_rng(20240513)
    for shape, pad in (((4, 6, 3), 1), ((5, 3, 2), 2), ((2, 2, 1), 0)):
        image = rng.uniform(0.1, 1.0, size=shape)
        _check(submission, image, pad, f"An (H, W, C) image with {shape[2]} channel(s) and pad {pad}")


@question("zero_pad", weight=0.2)
def test_negative_pad_raises_value_error(submission: SubmissionProxy) -> None:
    """zero_pad raises ValueError for a negative pad."""
    image = np.ones((3, 4))
    for pad in (-1, -3):
        try:
            expect_raises("ValueError", submission.zero_pad, image, pad)
        except Fail as exc:
            raise Fail(f"{exc} (case: a negative pad)") from None
