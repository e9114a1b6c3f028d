"""Hidden tests for question common_kernel: the lecture's sharpen, blur and bottom Sobel filters."""

from __future__ import annotations

import numpy as np

from autograder.references import ReferenceBook
from autograder.testing import Fail, SubmissionProxy, expect_array, expect_raises, question, show_arrays

# The lecture's "Common Filters" slide (from http://setosa.io/ev/image-kernels/).
SHARPEN = np.array([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]])
BLUR = np.array([[0.0625, 0.125, 0.0625], [0.125, 0.25, 0.125], [0.0625, 0.125, 0.0625]])


def _check(submission: SubmissionProxy, name: str, want: np.ndarray, advice: str) -> None:
    """The worked examples' check: the lecture's filters are public, so a wrong kernel is drawn."""
    value = submission.common_kernel(name)
    if not (type(value) is np.ndarray and value.shape == want.shape and np.allclose(value, want, rtol=0, atol=1e-12)):
        show_arrays(f"common_kernel({name!r})", value, want)
    try:
        out = expect_array(value, shape=(3, 3), kinds="f")
    except Fail as exc:
        raise Fail(f"common_kernel({name!r}): {exc}") from None
    if not np.allclose(out, want, rtol=0, atol=1e-12):
        raise Fail(f"common_kernel({name!r}) differs from the lecture's filter. {advice}")


@question("common_kernel", weight=1, worked_example=True)
def test_bottom_sobel_matches_the_workbook(submission: SubmissionProxy, reference_book: ReferenceBook) -> None:
    """common_kernel('bottom_sobel') is the Bottom Sobel kernel of the convolution worksheets, as floats."""
    kernel = reference_book.convolutions["stride1_4x6"].kernel
    _check(submission, "bottom_sobel", kernel, "Its rows are -1 -2 -1 / 0 0 0 / 1 2 1 (no flip).")


@question("common_kernel", weight=1, worked_example=True)  # the lecture's "Common Filters" slide
def test_sharpen_and_blur_match_the_lecture(submission: SubmissionProxy) -> None:
    """common_kernel('sharpen') and common_kernel('blur') are the lecture's 3x3 filters, as floats."""
    _check(submission, "sharpen", SHARPEN, "Check the slide 'Common Filters' (the centre weight is 5).")
    _check(submission, "blur", BLUR, "Check the slide 'Common Filters' (the weights add up to 1).")


@question("common_kernel", weight=1)
def test_unknown_names_raise_value_error(submission: SubmissionProxy) -> None:
    """common_kernel raises ValueError for a name that is not sharpen, blur or bottom_sobel."""
    for name in ("outline", "top_sobel", ""):
        try:
            expect_raises("ValueError", submission.common_kernel, name)
        except Fail as exc:
            raise Fail(f"{exc} (case: an unknown kernel name)") from None
