"""Hidden tests for question grad_cam: a class-activation heatmap that points at what the model responds to.

The models are purpose-built colour detectors with hand-set weights (conftest.py): the evidence for
"red" is where the red square is, the evidence for "blue" where the blue square is. A Grad-CAM heatmap
(gradients of the class score with respect to the detector's maps, averaged per channel, weighted sum
of the maps, ReLU, scaled to a maximum of 1) must peak on the square of the class it explains.
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
    expect(heat.min() >= -1e-6 and heat.max() <= 1 + 1e-6,
           f"{what}: the heatmap's values run from {heat.min():.3g} to {heat.max():.3g}; scale them to [0, 1] "
           "(ReLU, then divide by the maximum).")
    expect(abs(float(heat.max()) - 1.0) <= 1e-4, f"{what}: the heatmap's maximum is {heat.max():.3g}; after "
           "scaling the hottest place should be 1.")
    return heat


def _expect_peak(heat: np.ndarray, box: tuple[int, int, int], what: str, *, margin: int = 2) -> None:
    top, left, side = box
    row, col = np.unravel_index(int(np.argmax(heat)), heat.shape)
    inside = top - margin <= row < top + side + margin and left - margin <= col < left + side + margin
    if not inside:
        raise Fail(f"{what}: the heatmap is hottest at row {row}, column {col}, not on the square the model "
                   f"responds to (rows {top}-{top + side - 1}, columns {left}-{left + side - 1}).")


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
    _expect_peak(heat, (16, 16, 6), f"{what}, class_index=1 (blue): the heatmap should follow the gradients of "
                 "the blue score (predictions[:, class_index]), weighting each map by its mean gradient")
    against = float(heat[2:11, 2:11].max())
    expect(against <= 0.05, f"{what}, class_index=1 (blue): the heatmap is {against:.2f} on the red square, which "
           "speaks against 'blue'. Keep only the positive part of the weighted sum (ReLU) before scaling.")
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
