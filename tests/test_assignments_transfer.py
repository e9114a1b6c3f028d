"""04_transfer_learning and 05_visualising end to end, through the real CLI.

Each assignment's submissions are graded once, in one batch (module-scoped fixtures): the released stub and a
solution with one mistake in each question (the mutant), plus, for 05, maps drawn beside the expected ones. The
solution itself and the one-mistake notebooks (among them tests/fixtures/04_base_not_frozen.ipynb and
05_grad_cam_ignores_class_index.ipynb) are graded in tests/test_mistakes_04_05.py. The cpu runner profile is used:
VGG16 with random weights, generated images.
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
from tests.conftest import REPO, assert_stub_gets_zero, grade_notebooks

pytestmark = pytest.mark.slow

# Solutions with several independent mistakes, one per question, made here from the current solution: each
# mistake breaks a promise of a docstring that the hidden suite checks.
MUTANTS: dict[str, dict[str, list[tuple[str, str]]]] = {
    "04_transfer_learning": {
        "build_conv_base_code": [("weights=weights", "weights=None")],  # ignores a weights file
        # a one-unit softmax outputs 1 for every image: the grader's training reaches 0.5
        "build_feature_classifier_code": [('keras.layers.Dense(1, activation="sigmoid")',
                                           'keras.layers.Dense(1, activation="softmax")')],
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


def _grade(tmp: Path, assignment_id: str, **extra: str) -> dict[str, Any]:
    """The released stub, the mutant and ``extra`` (name -> notebook text), graded in one batch."""
    course = load_course(REPO / "course.yml")
    subs: dict[str, str | Path] = {"stub": make_sample(course, course.assignment(assignment_id), "stub"),
                                   "mutant": _mutant(assignment_id)}
    subs.update(extra)
    return grade_notebooks(tmp, assignment_id, subs)


def _squared_maps() -> str:
    """05's solution whose get_activations returns every map squared (right shapes and dtype, wrong values)."""
    course = load_course(REPO / "course.yml")
    nb = filled_in(course, course.assignment("05_visualising"))
    [cell] = [c for c in nb.cells
              if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "get_activations_code"]
    assert cell.source.count("np.asarray(maps)[0]") == 1
    cell.source = cell.source.replace("np.asarray(maps)[0]", "np.square(np.asarray(maps)[0])")
    return nbformat.writes(nb)


def _failed(result: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(question, test name) -> feedback of the failed tests (test names repeat across questions)."""
    return {(t["question"], t["name"]): t["output"] for t in result["tests"] if t["status"] != "passed"}


@pytest.fixture(scope="module")
def transfer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _grade(tmp_path_factory.mktemp("grade04"), "04_transfer_learning")


@pytest.fixture(scope="module")
def visualising(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _grade(tmp_path_factory.mktemp("grade05"), "05_visualising", squared_maps=_squared_maps())


def test_04_stub_gets_zero(transfer: dict[str, Any]) -> None:
    assert_stub_gets_zero(transfer["stub"])


def test_04_docstring_promises_are_graded(transfer: dict[str, Any]) -> None:
    failed = _failed(transfer["mutant"])
    assert set(failed) == {("build_conv_base", "test_weights_from_a_file"),
                           ("build_feature_classifier", "test_lecture_classifier"),
                           ("build_feature_classifier", "test_trains_on_conv_base_features"),
                           ("build_transfer_model", "test_classifier_and_compile_settings"),
                           ("unfreeze_top", "test_block5_from_a_frozen_base")}, failed
    assert "returned other weights than the file's: pass weights on to VGG16" in failed[
        ("build_conv_base", "test_weights_from_a_file")]
    assert "the optimizer is Adam; the lecture uses RMSprop" in failed[
        ("build_transfer_model", "test_classifier_and_compile_settings")]
    assert failed[("unfreeze_top", "test_block5_from_a_frozen_base")].startswith(
        "The base stays frozen: a layer of a frozen model is not trainable, whatever its own flag says; set "
        "conv_base.trainable = True first")
    softmax = "The output layer is a one-unit softmax, which outputs 1 for every image"
    assert failed[("build_feature_classifier", "test_lecture_classifier")].startswith(softmax)
    assert failed[("build_feature_classifier", "test_trains_on_conv_base_features")].startswith(softmax)


def test_04_a_failed_accuracy_says_what_the_grader_measured(transfer: dict[str, Any]) -> None:
    """The classifier's accuracy test records the measured accuracy and the threshold, and says both in words, when
    it fails too (a one-unit softmax reaches 0.5)."""
    [test] = [t for t in transfer["mutant"]["tests"] if t["name"] == "test_trains_on_conv_base_features"]
    assert test["status"] == "failed"
    assert test["measurements"] == {"held_out_accuracy": 0.5, "threshold": 0.9}
    assert test["notes"] == ["The grader trained build_feature_classifier()'s classifier (VGG16 features of 240 "
                             "generated fur-texture images, 20 epochs): held-out accuracy 0.500 on 160 images, at "
                             "least 0.90 needed (not enough)."]
    assert "held-out accuracy of 0.500 on 160 images; at least 0.90 is needed" in test["output"]
    [figure] = test["figures"]
    assert figure["kind"] == "training" and figure["accuracy"] == 0.5 and figure["threshold"] == 0.9


def test_05_stub_gets_zero(visualising: dict[str, Any]) -> None:
    assert_stub_gets_zero(visualising["stub"])


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
                           ("get_activations", "test_maps_are_not_rescaled"),
                           ("grad_cam", "test_all_zeros_without_evidence")}, failed
    assert failed[("activation_model", "test_unknown_layer_name")] == (
        "activation_model accepted a model without convolution or pooling layers; it should raise ValueError.")
    assert failed[("get_activations", "test_lecture_cnn")].startswith(
        "The maps are not float32: return the model's own output as it is (float32)")
    assert failed[("grad_cam", "test_all_zeros_without_evidence")].startswith(
        "The heat map is divided by its maximum even when that maximum is 0 (0 / 0 is NaN): leave an all-zero")
    [get_activations] = [q for q in visualising["mutant"]["questions"] if q["id"] == "get_activations"]
    assert get_activations["score"] == 1.5  # one diagnosed cause in 4 tests: half of the question


def test_05_wrong_maps_of_the_notebooks_demo_image_are_drawn(visualising: dict[str, Any]) -> None:
    """The worked example runs the lecture's CNN on the released notebook's own demo image: wrong maps are drawn
    (a thumbnail of the first layer that differs, 4 channels, beside the expected one)."""
    from autograder import figures

    r = visualising["squared_maps"]
    [test] = [t for t in r["tests"] if (t["question"], t["name"]) == ("get_activations", "test_lecture_cnn")]
    assert test["status"] == "failed"
    [figure] = test["figures"]
    assert figure["kind"] == "arrays" and figure["student"] is not None and not figure.get("withheld")
    student, expected = np.array(figure["student"]), np.array(figure["expected"])
    assert student.shape == expected.shape == (30, 30, 4)  # conv1's 148x148, every 5th pixel
    assert np.allclose(student, np.square(expected), rtol=1e-4, atol=1e-6)
    assert figures.draw(figure).startswith(b"\x89PNG")
    assert [t for t in r["tests"] if t["figures"]] == [test]
