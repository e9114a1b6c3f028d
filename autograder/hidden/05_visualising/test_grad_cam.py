"""Hidden tests for question grad_cam: a class-activation heatmap that points at what the model responds to.

The models are purpose-built colour detectors with hand-set weights (conftest.py): the evidence for
"red" is where the red square is, the evidence for "blue" where the blue square is. A Grad-CAM heatmap
(gradients of the class score with respect to the detector's maps, averaged per channel, weighted sum
of the maps, ReLU, scaled to a maximum of 1) must peak on the square of the class it explains, and be all
zeros where nothing in the maps speaks for the class. Messages name the squares (the tests' own design, said
in their docstrings) but never quote values of the student's heatmap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from autograder.testing import Fail, SubmissionProxy, expect, expect_array, question

if TYPE_CHECKING:
    from conftest import Kit

CORNERS = {"top-left": (2, 2), "top-right": (2, 15), "bottom-left": (15, 2), "bottom-right": (15, 15)}


def _heatmap(value: Any, shape: tuple[int, int], what: str) -> np.ndarray:
    heat = expect_array(value, shape=shape, kinds="f", what=f"{what}: the heatmap")
    if heat.min() < -1e-6:
        raise Fail(f"{what}: the heatmap has negative values; keep only the positive part of the weighted sum "
                   "(ReLU) before scaling to [0, 1].")
    expect(abs(float(heat.max()) - 1.0) <= 1e-4, f"{what}: the heatmap's maximum should be 1: divide it by its "
           "maximum.")
    return heat


def _peak_on(heat: np.ndarray, box: tuple[int, int, int], margin: int = 2) -> bool:
    top, left, side = box
    row, col = np.unravel_index(int(np.argmax(heat)), heat.shape)
    return bool(top - margin <= row < top + side + margin and left - margin <= col < left + side + margin)


def _expect_peak(heat: np.ndarray, box: tuple[int, int, int], what: str, *, why: str = "") -> None:
    top, left, side = box
    if not _peak_on(heat, box):
        raise Fail(f"{what}: the heatmap is hottest elsewhere, not on the square the model responds to (rows "
                   f"{top}-{top + side - 1}, columns {left}-{left + side - 1}).{why}")


@question("grad_cam", weight=0.25)
@pytest.mark.parametrize("corner", list(CORNERS))
def test_points_at_the_square(submission: SubmissionProxy, kit: Kit, corner: str) -> None:
    """grad_cam on a red-square detector peaks on the red square, in whichever corner it is."""
    top, left = CORNERS[corner]
    image = kit.squares_image([("red", top, left, 7)], seed=5070)
    what = f"A red square in the {corner} corner"
    heat = _heatmap(submission.grad_cam(kit.colour_detector(), image, "detector"), (24, 24), what)
    _expect_peak(heat, (top, left, 7), what)


@question("grad_cam", weight=1)
def test_class_index_chooses_the_evidence(submission: SubmissionProxy, kit: Kit) -> None:
    """grad_cam with class_index=1 (blue) peaks on the blue square even though the model predicts red."""
    image = kit.squares_image([("red", 2, 2, 9), ("blue", 16, 16, 6)], seed=5071)
    model = kit.colour_detector()
    probabilities = np.asarray(model(image[np.newaxis]))[0]
    assert probabilities.argmax() == kit.red  # the suite's own premise
    what = "A large red square (top left) and a small blue one (bottom right)"
    heat = _heatmap(submission.grad_cam(model, image, "detector", class_index=kit.blue), (24, 24),
                    f"{what}, class_index=1 (blue)")
    red_square = (2, 2, 9)
    why = (" It points at the red square, the predicted class: explain the class asked for, the score "
           "predictions[:, class_index], when class_index is given." if _peak_on(heat, red_square, margin=0) else "")
    _expect_peak(heat, (16, 16, 6), f"{what}, class_index=1 (blue)", why=why)
    expect(float(heat[2:11, 2:11].max()) <= 0.05, f"{what}, class_index=1 (blue): the heatmap is above 0.05 on the "
           "red square, which speaks against 'blue'. Keep only the positive part of the weighted sum (ReLU) before "
           "scaling.")
    heat = _heatmap(submission.grad_cam(model, image, "detector"), (24, 24), f"{what}, class_index=None")
    _expect_peak(heat, (2, 2, 9), f"{what}, class_index=None: explain the predicted class (red)")


@question("grad_cam", weight=1)
def test_single_sigmoid_output_and_valid_padding(submission: SubmissionProxy, kit: Kit) -> None:
    """grad_cam on a sigmoid model with a pooling layer after the conv gives the conv's (20, 20) map."""
    model = kit.colour_detector(binary=True, padding="valid")
    image = kit.squares_image([("red", 13, 3, 7)], seed=5072)
    what = "A one-output (sigmoid) red detector, 5x5 'valid' convolution, red square at the bottom left"
    heat = _heatmap(submission.grad_cam(model, image, "detector"), (20, 20), what)
    _expect_peak(heat, (11, 1, 7), what)  # a 'valid' 5x5 map is shifted by 2 rows and columns


@question("grad_cam", weight=0.25)
def test_all_zeros_without_evidence(submission: SubmissionProxy, kit: Kit) -> None:
    """grad_cam on a picture without a red or blue square: nothing speaks for the class, the heatmap is all zeros."""
    image = kit.squares_image([], seed=5073)
    what = "A picture without a coloured square (the detector's maps are all zero)"
    heat = submission.grad_cam(kit.colour_detector(), image, "detector")
    if isinstance(heat, np.ndarray) and heat.dtype.kind == "f" and not np.all(np.isfinite(heat)):
        raise Fail(f"{what}: the heatmap contains NaN: its maximum is 0 here, so leave the zeros instead of dividing "
                   "by it (0 / 0 is NaN).")
    heat = expect_array(heat, shape=(24, 24), kinds="f", what=f"{what}: the heatmap")
    expect(bool(np.all(np.abs(heat) <= 1e-6)), f"{what}: the heatmap should be all zeros when nothing in the maps "
           "speaks for the class.")
