"""04_transfer_learning and 05_visualising end to end, through the real CLI.

Each assignment's submissions are graded once, in one batch (module-scoped fixtures): the solution, the
released stub, and one named fixture notebook (tests/fixtures/04_*.ipynb, 05_*.ipynb, made by
04_05_make_fixtures.py). The cpu runner profile is used: VGG16 with random weights, generated images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest

from autograder.config import load_course
from autograder.grade import SKIP_TAG, is_test_cell
from autograder.samples import filled_in, make_sample
from tests.conftest import (
    FIXTURES,
    REPO,
    assert_full_marks,
    assert_stub_gets_zero,
    failed_tests,
    grade_notebooks,
    points_of,
)

pytestmark = pytest.mark.slow

FREEZING = {"test_base_is_frozen", "test_training_changes_only_the_classifier"}
FREEZING_POINTS = 3 * (1.5 + 1) / 3.5  # build_transfer_model's 3 points; weights 1.5 + 1 of 1.5 + 1 + 0.5 + 0.5
CLASS_INDEX_POINTS = 4 * 1 / 3.25  # grad_cam's 4 points; weight 1 of 4 x 0.25 + 1 + 1 + 0.25


# Solutions with several independent mistakes, one per question, made here from the current solution: each
# mistake breaks a promise of a docstring that the hidden suite checks.
MUTANTS: dict[str, dict[str, list[tuple[str, str]]]] = {
    "04_transfer_learning": {
        "build_conv_base_code": [("weights=weights", "weights=None")],  # ignores a weights file
        "build_transfer_model_code": [("optimizer=keras.optimizers.RMSprop(learning_rate=2e-5)", 'optimizer="adam"')],
        "unfreeze_top_code": [("    conv_base.trainable = True\n", "")],  # a frozen base stays frozen
    },
    "05_visualising": {
        "activation_model_code": [('raise ValueError("the model has no Conv2D or pooling layer to visualise")',
                                   "return model")],
        "get_activations_code": [("np.asarray(maps)[0]", "np.asarray(maps, dtype=np.float64)[0]")],
        "grad_cam_code": [("return heatmap / top if top > 0 else heatmap", "return heatmap / top")],  # 0 / 0
    },
}


def _mutant(assignment_id: str) -> str:
    course = load_course(REPO / "course.yml")
    nb = filled_in(course, course.assignment(assignment_id))
    for grade_id, edits in MUTANTS[assignment_id].items():
        [cell] = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id]
        for old, new in edits:
            assert cell.source.count(old) == 1, (grade_id, old)
            cell.source = cell.source.replace(old, new)
    return nbformat.writes(nb)


def _grade(tmp: Path, assignment_id: str, fixture: str, **extra: str) -> dict[str, Any]:
    """The solution, the released stub, one named fixture notebook, the mutant and ``extra`` (name -> notebook
    text), graded in one batch."""
    course = load_course(REPO / "course.yml")
    a = course.assignment(assignment_id)
    subs: dict[str, str | Path] = {kind: make_sample(course, a, kind) for kind in ("correct", "stub")}
    subs[fixture.split("_", 1)[1]] = FIXTURES / f"{fixture}.ipynb"
    subs["mutant"] = _mutant(assignment_id)
    subs.update(extra)
    return grade_notebooks(tmp, assignment_id, subs)


def _doubled_maps() -> str:
    """05's solution whose get_activations returns every map doubled (right shapes and dtype, wrong values)."""
    course = load_course(REPO / "course.yml")
    nb = filled_in(course, course.assignment("05_visualising"))
    [cell] = [c for c in nb.cells
              if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "get_activations_code"]
    assert cell.source.count("np.asarray(maps)[0]") == 1
    cell.source = cell.source.replace("np.asarray(maps)[0]", "np.asarray(maps)[0] * 2")
    return nbformat.writes(nb)


def _failed(result: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(question, test name) -> feedback of the failed tests (test names repeat across questions)."""
    return {(t["question"], t["name"]): t["output"] for t in result["tests"] if t["status"] != "passed"}


@pytest.fixture(scope="module")
def transfer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _grade(tmp_path_factory.mktemp("grade04"), "04_transfer_learning", "04_base_not_frozen")


@pytest.fixture(scope="module")
def visualising(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _grade(tmp_path_factory.mktemp("grade05"), "05_visualising", "05_grad_cam_ignores_class_index",
                  doubled_maps=_doubled_maps())


def test_04_solution_gets_full_marks(transfer: dict[str, Any]) -> None:
    assert_full_marks(transfer["correct"], 12)


def test_04_stub_gets_zero(transfer: dict[str, Any]) -> None:
    assert_stub_gets_zero(transfer["stub"])


def test_04_unfrozen_base_loses_exactly_the_freezingpoints_of(transfer: dict[str, Any]) -> None:
    r = transfer["base_not_frozen"]
    failed = failed_tests(r)
    assert set(failed) == FREEZING, failed
    assert points_of(r, FREEZING) == pytest.approx(FREEZING_POINTS, abs=0.01)
    assert r["score"] == pytest.approx(12 - FREEZING_POINTS, abs=0.01)
    assert failed["test_base_is_frozen"].startswith(
        "The convolutional base is not frozen: 14,714,688 of its 14,714,688 parameters are trainable")
    assert "set conv_base.trainable = False before compiling" in failed["test_base_is_frozen"]
    assert "One training step changed 26 of the base's weight arrays" in failed[
        "test_training_changes_only_the_classifier"]


def test_04_docstring_promises_are_graded(transfer: dict[str, Any]) -> None:
    failed = _failed(transfer["mutant"])
    assert set(failed) == {("build_conv_base", "test_weights_from_a_file"),
                           ("build_transfer_model", "test_classifier_and_compile_settings"),
                           ("unfreeze_top", "test_block5_from_a_frozen_base")}, failed
    assert "returned other weights than the file's: pass weights on to VGG16" in failed[
        ("build_conv_base", "test_weights_from_a_file")]
    assert "the optimizer is Adam; the lecture uses RMSprop" in failed[
        ("build_transfer_model", "test_classifier_and_compile_settings")]
    assert "Nothing is trainable: set conv_base.trainable = True first" in failed[
        ("unfreeze_top", "test_block5_from_a_frozen_base")]


def test_05_solution_gets_full_marks(visualising: dict[str, Any]) -> None:
    assert_full_marks(visualising["correct"], 10)


def test_05_stub_gets_zero(visualising: dict[str, Any]) -> None:
    assert_stub_gets_zero(visualising["stub"])


def test_05_grad_cam_ignoring_class_index_loses_exactly_that_test(visualising: dict[str, Any]) -> None:
    r = visualising["grad_cam_ignores_class_index"]
    failed = failed_tests(r)
    assert set(failed) == {"test_class_index_chooses_the_evidence"}, failed
    assert r["score"] == pytest.approx(10 - CLASS_INDEX_POINTS, abs=0.01)
    message = failed["test_class_index_chooses_the_evidence"]
    assert "class_index=1 (blue)" in message
    assert "not on the square the model responds to (rows 16-21, columns 16-21)" in message
    assert "It points at the red square, the predicted class: explain the class asked for" in message  # the cause


@pytest.mark.parametrize("assignment_id", ["04_transfer_learning", "05_visualising"])
def test_grading_runs_no_training_or_pictures(assignment_id: str) -> None:
    """Only imports and function definitions run at grading time: fit(), extraction and plots are tagged."""
    course = load_course(REPO / "course.yml")
    nb = nbformat.read(str(course.solution_notebook(course.assignment(assignment_id))), 4)
    graded = [c.source for c in nb.cells if c.cell_type == "code" and not is_test_cell(c)
              and SKIP_TAG not in c.get("metadata", {}).get("tags", [])]
    for source in graded:
        assert ".fit(" not in source and "plt." not in source and "extract_features(conv_base, " not in source, source
    assert all(c.get("outputs") == [] for c in nb.cells if c.cell_type == "code")


def test_05_docstring_promises_are_graded(visualising: dict[str, Any]) -> None:
    failed = _failed(visualising["mutant"])
    assert set(failed) == {("activation_model", "test_unknown_layer_name"),
                           ("get_activations", "test_lecture_cnn"),
                           ("get_activations", "test_layer_names_and_a_float64_or_uint8_image"),
                           ("get_activations", "test_all_maps_of_a_functional_model"),
                           ("grad_cam", "test_all_zeros_without_evidence")}, failed
    assert "activation_model accepted invalid arguments; it should raise ValueError" in failed[
        ("activation_model", "test_unknown_layer_name")]
    assert "should be float32 (the model's own output), got float64" in failed[("get_activations", "test_lecture_cnn")]
    assert "the heatmap contains NaN: its maximum is 0 here, so leave the zeros" in failed[
        ("grad_cam", "test_all_zeros_without_evidence")]


def test_05_wrong_maps_of_the_notebooks_demo_image_are_drawn(visualising: dict[str, Any]) -> None:
    """The worked example runs the lecture's CNN on the released notebook's own demo image: wrong maps are drawn
    (a thumbnail of the first layer that differs, 4 channels, beside the expected one)."""
    from autograder import figures

    r = visualising["doubled_maps"]
    [test] = [t for t in r["tests"] if (t["question"], t["name"]) == ("get_activations", "test_lecture_cnn")]
    assert test["status"] == "failed"
    [figure] = test["figures"]
    assert figure["kind"] == "arrays" and figure["student"] is not None and not figure.get("withheld")
    student, expected = np.array(figure["student"]), np.array(figure["expected"])
    assert student.shape == expected.shape == (30, 30, 4)  # conv1's 148x148, every 5th pixel
    assert np.allclose(student, 2 * expected, rtol=1e-4, atol=1e-6)
    assert figures.draw(figure).startswith(b"\x89PNG")
    assert [t for t in r["tests"] if t["figures"]] == [test]
