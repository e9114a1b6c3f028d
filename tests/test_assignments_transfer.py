"""04_transfer_learning and 05_visualising end to end, through the real CLI.

Each assignment's submissions are graded once, in one batch (module-scoped fixtures): the solution, the
released stub, and one named fixture notebook (tests/fixtures/04_*.ipynb, 05_*.ipynb, made by
04_05_make_fixtures.py). The cpu runner profile is used: VGG16 with random weights, generated images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograder.config import load_course
from autograder.grade import SKIP_TAG, is_test_cell
from autograder.samples import make_sample
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


def _grade(tmp: Path, assignment_id: str, fixture: str) -> dict[str, Any]:
    """The solution, the released stub and one named fixture notebook, graded in one batch."""
    course = load_course(REPO / "course.yml")
    a = course.assignment(assignment_id)
    subs: dict[str, str | Path] = {kind: make_sample(course, a, kind) for kind in ("correct", "stub")}
    subs[fixture.split("_", 1)[1]] = FIXTURES / f"{fixture}.ipynb"
    return grade_notebooks(tmp, assignment_id, subs)


@pytest.fixture(scope="module")
def transfer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _grade(tmp_path_factory.mktemp("grade04"), "04_transfer_learning", "04_base_not_frozen")


@pytest.fixture(scope="module")
def visualising(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _grade(tmp_path_factory.mktemp("grade05"), "05_visualising", "05_grad_cam_ignores_class_index")


def test_04_solution_gets_full_marks(transfer: dict[str, Any]) -> None:
    assert_full_marks(transfer["correct"], 12)


def test_04_stub_gets_zero(transfer: dict[str, Any]) -> None:
    assert_stub_gets_zero(transfer["stub"])


def test_04_unfrozen_base_loses_exactly_the_freezingpoints_of(transfer: dict[str, Any]) -> None:
    r = transfer["base_not_frozen"]
    failed = failed_tests(r)
    assert set(failed) == FREEZING, failed
    assert points_of(r, FREEZING) == pytest.approx(2.5, abs=0.01)
    assert r["score"] == pytest.approx(12 - 2.5, abs=0.01)
    assert failed["test_base_is_frozen"].startswith(
        "The convolutional base is not frozen: 14,714,688 of its 14,714,688 parameters are trainable")
    assert "set conv_base.trainable = False before compiling" in failed["test_base_is_frozen"]
    assert "One training step changed 26 of the base's weight arrays" in failed[
        "test_training_changes_only_the_classifier"]


def test_05_solution_gets_full_marks(visualising: dict[str, Any]) -> None:
    assert_full_marks(visualising["correct"], 10)


def test_05_stub_gets_zero(visualising: dict[str, Any]) -> None:
    assert_stub_gets_zero(visualising["stub"])


def test_05_grad_cam_ignoring_class_index_loses_exactly_that_test(visualising: dict[str, Any]) -> None:
    r = visualising["grad_cam_ignores_class_index"]
    failed = failed_tests(r)
    assert set(failed) == {"test_class_index_chooses_the_evidence"}, failed
    assert r["score"] == pytest.approx(10 - 4 / 3, abs=0.01)
    message = failed["test_class_index_chooses_the_evidence"]
    assert "class_index=1 (blue)" in message
    assert "not on the square the model responds to (rows 16-21, columns 16-21)" in message


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
