"""Hidden tests for question grad_cam: a class-activation heatmap that points at what the model responds to.

The models are purpose-built colour detectors with hand-set weights (conftest.py): the evidence for
"red" is where the red square is, the evidence for "blue" where the blue square is. A Grad-CAM heatmap
(gradients of the class score with respect to the detector's maps, averaged per channel, weighted sum
of the maps, ReLU, scaled to a maximum of 1) must peak on the square of the class it explains, and be all
zeros where nothing in the maps speaks for the class.

*Where* the heat is (its peak, its sign) and *how much* (divided by its maximum) are graded by different tests,
so a heatmap in the right place but not scaled to [0, 1] loses only the scaling test. A wrong heatmap is compared
with the classic slips computed here (conftest.grad_cam: the predicted class instead of class_index, no ReLU, no
division by the maximum), and the message starts with the cause it shows. Messages name the squares (the tests'
own design, said in their docstrings) but never quote values of the student's heatmap.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from autograder.testing import Fail, SubmissionProxy, expect, expect_array, first_cause, question

if TYPE_CHECKING:
    from conftest import Kit

CORNERS = {"top-left": (2, 2), "top-right": (2, 15), "bottom-left": (15, 2), "bottom-right": (15, 15)}

NOT_NORMALISED = ("The heat map is not divided by its maximum: Grad-CAM's last step scales it to [0, 1] "
                  "(heatmap / heatmap.max(), leaving an all-zero map as it is), so that its hottest point is 1.")
SCALED_OTHERWISE = ("The heat map is scaled, but not by its maximum: divide it by its own maximum, so that its "
                    "hottest point is 1 and its values lie in [0, 1].")
NO_RELU = ("The heat map has negative values: Grad-CAM keeps only the positive part of the weighted sum of the maps "
           "(ReLU), the evidence for the class; negative values speak against it.")
IGNORES_CLASS = ("grad_cam explains the predicted class whatever class_index asks for: take the score "
                 "predictions[:, class_index] of the class asked for, and the predicted class only when class_index "
                 "is None.")
NAN_ON_ZERO = ("The heat map is divided by its maximum even when that maximum is 0 (0 / 0 is NaN): leave an all-zero "
               "heat map as it is.")


def _relative(heat: np.ndarray) -> np.ndarray:
    """The heatmap divided by its own maximum (when positive): its shape, whatever its scale."""
    top = float(heat.max())
    return heat / top if top > 0 else heat


def _heatmap(value: Any, shape: tuple[int, int], what: str) -> np.ndarray:
    """The student's heatmap, checked for *where*: its shape and its sign, not its scale."""
    heat = expect_array(value, shape=shape, kinds="f", what=f"{what}: the heatmap")
    if heat.min() < -1e-6 * max(float(np.abs(heat).max()), 1e-12):
        raise Fail(f"{NO_RELU} Case: {what}.")
    return heat


def _peak_on(heat: np.ndarray, box: tuple[int, int, int], margin: int = 2) -> bool:
    top, left, side = box
    row, col = np.unravel_index(int(np.argmax(heat)), heat.shape)
    return bool(top - margin <= row < top + side + margin and left - margin <= col < left + side + margin)


def _expect_peak(heat: np.ndarray, box: tuple[int, int, int], what: str, *, cause: str = "") -> None:
    top, left, side = box
    if not _peak_on(heat, box):
        if cause:
            raise Fail(f"{cause} Case: {what}, where the heat belongs on the square of rows {top}-{top + side - 1}, "
                       f"columns {left}-{left + side - 1}.")
        raise Fail(f"{what}: the heatmap is hottest elsewhere, not on the square the model responds to (rows "
                   f"{top}-{top + side - 1}, columns {left}-{left + side - 1}).")


@question("grad_cam", weight=0.25)
@pytest.mark.parametrize("corner", list(CORNERS))
def test_points_at_the_square(submission: SubmissionProxy, kit: Kit, corner: str) -> None:
    """grad_cam on a red-square detector peaks on the red square, in whichever corner it is (its scale is graded by
    test_divided_by_its_maximum)."""
    top, left = CORNERS[corner]
    image = kit.squares_image([("red", top, left, 7)], seed=5070)
    what = f"A red square in the {corner} corner"
    heat = _heatmap(submission.grad_cam(kit.colour_detector(), image, "detector"), (24, 24), what)
    _expect_peak(heat, (top, left, 7), what)


@question("grad_cam", weight=1)
def test_class_index_chooses_the_evidence(submission: SubmissionProxy, kit: Kit) -> None:
    """grad_cam with class_index=1 (blue) peaks on the blue square even though the model predicts red, and has no
    heat on the red square (evidence against 'blue')."""
    image = kit.squares_image([("red", 2, 2, 9), ("blue", 16, 16, 6)], seed=5071)
    model = kit.colour_detector()
    probabilities = np.asarray(model(image[np.newaxis]))[0]
    assert probabilities.argmax() == kit.red  # the suite's own premise
    what = "A large red square (top left) and a small blue one (bottom right), class_index=1 (blue)"
    heat = _heatmap(submission.grad_cam(model, image, "detector", class_index=kit.blue), (24, 24), what)
    predicted = kit.grad_cam(model, image, "detector")  # the red class's heatmap
    cause = first_cause(_relative(heat), [(IGNORES_CLASS, lambda: predicted)], rtol=1e-3, atol=1e-4)
    if not cause and _peak_on(heat, (2, 2, 9), margin=0):
        cause = IGNORES_CLASS  # hottest on the red square, the predicted class, when asked for blue
    _expect_peak(heat, (16, 16, 6), what, cause=cause)
    expect(float(heat[2:11, 2:11].max()) <= 0.05 * float(heat.max()),
           f"{what}: the heatmap is above 5% of its maximum on the red square, which speaks against 'blue'. Keep only "
           "the positive part of the weighted sum (ReLU) before scaling.")
    what = "A large red square (top left) and a small blue one (bottom right), class_index=None"
    heat = _heatmap(submission.grad_cam(model, image, "detector"), (24, 24), what)
    _expect_peak(heat, (2, 2, 9), f"{what}: explain the predicted class (red)")


@question("grad_cam", weight=1)
def test_single_sigmoid_output_and_valid_padding(submission: SubmissionProxy, kit: Kit) -> None:
    """grad_cam on a sigmoid model with a pooling layer after the conv gives the conv's (20, 20) map."""
    model = kit.colour_detector(binary=True, padding="valid")
    image = kit.squares_image([("red", 13, 3, 7)], seed=5072)
    what = "A one-output (sigmoid) red detector, 5x5 'valid' convolution, red square at the bottom left"
    heat = _heatmap(submission.grad_cam(model, image, "detector"), (20, 20), what)
    _expect_peak(heat, (11, 1, 7), what)  # a 'valid' 5x5 map is shifted by 2 rows and columns


@question("grad_cam", weight=1)
def test_divided_by_its_maximum(submission: SubmissionProxy, kit: Kit) -> None:
    """grad_cam's heatmap is divided by its maximum: its values lie in [0, 1] and its hottest point is 1 (on a
    softmax and on a sigmoid red detector)."""
    cases = [("A red square in the top-left corner", kit.colour_detector(), kit.squares_image([("red", 2, 2, 7)],
                                                                                              seed=5074), (24, 24)),
             ("A one-output (sigmoid) red detector, 'valid' convolution",
              kit.colour_detector(binary=True, padding="valid"), kit.squares_image([("red", 9, 9, 7)], seed=5075),
              (20, 20))]
    for what, model, image, shape in cases:
        heat = expect_array(submission.grad_cam(model, image, "detector"), shape=shape, kinds="f",
                            what=f"{what}: the heatmap")
        if abs(float(heat.max()) - 1.0) <= 1e-4 and heat.min() >= -1e-6:
            continue
        raw = kit.grad_cam(model, image, "detector", normalise=False)
        right = kit.grad_cam(model, image, "detector")
        cause = first_cause(heat, [(NOT_NORMALISED, functools.partial(np.asarray, raw))], rtol=1e-3,
                            atol=1e-6 * float(raw.max()))
        if not cause and float(heat.max()) > 0 and np.allclose(_relative(heat), right, rtol=1e-3, atol=1e-4):
            cause = SCALED_OTHERWISE
        if cause:
            raise Fail(f"{cause} Case: {what}.")
        raise Fail(f"{what}: the heatmap's values should lie in [0, 1], its maximum 1: divide it by its maximum.")


@question("grad_cam", weight=0.25)
def test_all_zeros_without_evidence(submission: SubmissionProxy, kit: Kit) -> None:
    """grad_cam on a picture without a red or blue square: nothing speaks for the class, the heatmap is all zeros."""
    image = kit.squares_image([], seed=5073)
    what = "A picture without a coloured square (the detector's maps are all zero)"
    heat = submission.grad_cam(kit.colour_detector(), image, "detector")
    if isinstance(heat, np.ndarray) and heat.dtype.kind == "f" and not np.all(np.isfinite(heat)):
        raise Fail(f"{NAN_ON_ZERO} Case: {what}.")
    heat = expect_array(heat, shape=(24, 24), kinds="f", what=f"{what}: the heatmap")
    expect(bool(np.all(np.abs(heat) <= 1e-6)), f"{what}: the heatmap should be all zeros when nothing in the maps "
           "speaks for the class.")
