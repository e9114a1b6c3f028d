"""The cats-and-dogs assignment (03_cats_and_dogs) end to end, through the real CLI.

The solution and the released stub are graded once, in one batch; the cpu runner profile trains on
generated shape pictures (real JPEG files, one corrupt), a fresh seeded set the student never sees.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from autograder import datasets
from autograder.config import load_course
from autograder.samples import make_sample
from tests.conftest import REPO, assert_full_marks, assert_stub_gets_zero, grade_notebooks

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cats(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    course = load_course(REPO / "course.yml")
    a = course.assignment("03_cats_and_dogs")
    subs: dict[str, str | Path] = {kind: make_sample(course, a, kind) for kind in ("correct", "stub")}
    return grade_notebooks(tmp_path_factory.mktemp("grade03"), "03_cats_and_dogs", subs)


def test_03_solution_gets_full_marks(cats: dict[str, Any]) -> None:
    assert_full_marks(cats["correct"], 14)


def test_03_stub_gets_zero(cats: dict[str, Any]) -> None:
    assert_stub_gets_zero(cats["stub"])


def test_practice_zip_is_reproducible(tmp_path: Path) -> None:
    again = datasets.write_practice_zip(tmp_path / "again.zip", n_train=250, n_validation=75, seed=7)
    assert again.read_bytes() == (REPO / "datasets" / "practice" / "cats_and_dogs_small.zip").read_bytes()
