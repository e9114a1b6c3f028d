"""Mistakes in a course's hidden suite or its data stop the batch as an instructor error (exit 2, the cause
named); they are never recorded as a student's failure."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from autograder.config import load_course
from tests.conftest import REPO, make_course, run_cli

pytestmark = pytest.mark.slow

SUITES = {
    "typo_in_function_name": (
        "def test_it(submission):\n    submission.convolve_2d([[1.0]], [[1.0]])\n",
        ["`convolve_2d`", "does not define", "convolve2d"],
    ),
    "name_error_in_test": (
        "def test_it(submission):\n    assert submission.relu(np.zeros(3)) is not None\n",
        ["NameError", "np"],
    ),
    "picture_outside_worked_example": (  # a test with hidden inputs may not draw them in the feedback
        "def test_it(submission):\n    import numpy as np\n    from autograder.testing import show_arrays\n"
        "    x = np.ones(3)\n    show_arrays('a hidden input', x * 2, x)\n    assert False\n",
        ["show_arrays()", "not a worked example"],
    ),
    "workbook_not_listed": (
        "def test_it(submission, reference_book):\n    assert reference_book.convolutions\n",
        ["lists no workbook", "files:"],
    ),
}


@pytest.mark.parametrize("case", sorted(SUITES))
def test_broken_course_is_the_instructors_error(case: str, tmp_path: Path) -> None:
    source, expected = SUITES[case]
    course_yml = make_course(tmp_path / "course", total_timeout_s=60)
    suite = course_yml.parent / "autograder" / "hidden" / "01_convolution"
    suite.unlink()  # a linked copy of the real suite: replace it with a broken one
    suite.mkdir()
    (suite / "test_broken.py").write_text(
        "from autograder.testing import question\n\n\n@question('activations')\n" + source)
    if case == "workbook_not_listed":
        data = yaml.safe_load(course_yml.read_text())
        data["assignments"][0]["files"] = []
        course_yml.write_text(yaml.safe_dump(data, sort_keys=False))
    notebook = load_course(REPO / "course.yml").released_notebook(load_course(REPO / "course.yml").assignment(
        "01_convolution"))
    out = tmp_path / "out"
    proc = run_cli("--course", course_yml, "grade", "01_convolution", notebook, "--out", out, "--no-progress")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "instructor error" in proc.stderr
    for text in expected:
        assert text in proc.stderr, proc.stderr
    assert not list(out.glob("*/results.json"))  # no student was graded against a broken suite
