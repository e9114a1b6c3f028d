"""The cats-and-dogs assignment (03_cats_and_dogs) end to end, through the real CLI.

The solution, the released stub and a mutant (the solution with one mistake per question, made here) are
graded once, in one batch; the cpu runner profile trains on generated shape pictures (real JPEG files, one
corrupt), a fresh seeded set the student never sees.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograder import datasets
from autograder.config import load_course
from autograder.samples import filled_in, make_sample
from tests.conftest import REPO, assert_full_marks, assert_stub_gets_zero, failed_tests, grade_notebooks

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cats(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    course = load_course(REPO / "course.yml")
    a = course.assignment("03_cats_and_dogs")
    subs: dict[str, str | Path] = {kind: make_sample(course, a, kind) for kind in ("correct", "stub")}
    nb = filled_in(course, a)
    for grade_id, old, new in MUTANT:
        [cell] = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id]
        assert cell.source.count(old) == 1, (grade_id, old)
        cell.source = cell.source.replace(old, new)
    subs["mutant"] = nbformat.writes(nb)
    return grade_notebooks(tmp_path_factory.mktemp("grade03"), "03_cats_and_dogs", subs)


# Each mistake breaks a promise of a docstring that the hidden suite checks, and gets the hint of its cause.
MUTANT = [
    ("load_image_dataset_code", "shuffle=True, seed=None):", "shuffle=False, seed=None):"),  # not shuffled by default
    ("build_cats_dogs_cnn_code", 'layers.Dense(1, activation="sigmoid")', 'layers.Dense(1, activation="softmax")'),
    ("save_load_model_code", "    return keras.models.load_model(path)\n",  # compiled again with other settings
     '    model = keras.models.load_model(path)\n    model.compile(optimizer="rmsprop", loss="binary_crossentropy")\n'
     "    return model\n"),
]


def test_03_solution_gets_full_marks(cats: dict[str, Any]) -> None:
    assert_full_marks(cats["correct"], 14)


def test_03_stub_gets_zero(cats: dict[str, Any]) -> None:
    assert_stub_gets_zero(cats["stub"])


def test_03_docstring_promises_are_graded_and_hints_name_the_cause(cats: dict[str, Any]) -> None:
    failed = failed_tests(cats["mutant"])
    assert set(failed) == {"test_defaults_are_150_by_150_in_batches_of_32",
                           "test_filters_dropout_and_activations",
                           "test_trained_network_reaches_the_accuracy_threshold",
                           "test_round_trip_preserves_predictions_and_compile_settings"}, failed
    assert "With the defaults the images should be shuffled" in failed["test_defaults_are_150_by_150_in_batches_of_32"]
    assert "A likely cause: Dense number 2 has activation='softmax'; it should be 'sigmoid'." in failed[
        "test_trained_network_reaches_the_accuracy_threshold"]
    assert "do not compile the model again with other ones" in failed[
        "test_round_trip_preserves_predictions_and_compile_settings"]


def test_practice_zip_is_reproducible(tmp_path: Path) -> None:
    again = datasets.write_practice_zip(tmp_path / "again.zip", n_train=250, n_validation=75, seed=7)
    assert again.read_bytes() == (REPO / "datasets" / "practice" / "cats_and_dogs_small.zip").read_bytes()
