"""One authoring path: `autograder config` catches before grading what `grade` would stop on (exit 2, every problem
named); `autograder release` writes course.yml's points into the release and the gradebook and refuses prose that
disagrees (exit 3); `autograder check-solution` grades the solution notebook and fails unless it gets full marks."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from autograder.config import load_course
from tests.conftest import REPO, make_course, run_cli

SUITE = Path("autograder/hidden/01_convolution")


def _own_suite(course_yml: Path) -> Path:
    """Replace the course copy's link to the real 01_convolution suite with a copy of it that a test may edit."""
    suite = course_yml.parent / SUITE
    suite.unlink()
    shutil.copytree(REPO / SUITE, suite, ignore=shutil.ignore_patterns("__pycache__"))
    return suite


def _own_solutions(course_yml: Path) -> Path:
    """Replace the course copy's link to solutions/ with a copy a test may edit; return 01's solution notebook."""
    solutions = course_yml.parent / "solutions"
    solutions.unlink()
    shutil.copytree(REPO / "solutions", solutions, ignore=shutil.ignore_patterns("__pycache__"))
    return solutions / "01_convolution" / "convolution.ipynb"


def _edit_course(course_yml: Path, edit: dict[str, object], assignment: dict[str, object] | None = None) -> None:
    data = yaml.safe_load(course_yml.read_text())
    data.update(edit)
    if assignment:
        data["assignments"][0].update(assignment)
    course_yml.write_text(yaml.safe_dump(data, sort_keys=False))


def _set_points(course_yml: Path, qid: str, points: float) -> None:
    data = yaml.safe_load(course_yml.read_text())
    next(q for q in data["assignments"][0]["questions"] if q["id"] == qid)["points"] = points
    course_yml.write_text(yaml.safe_dump(data, sort_keys=False))


def _config_fails(course_yml: Path, *expected: str) -> str:
    proc = run_cli("--course", course_yml, "config")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    for text in expected:
        assert text in proc.stderr, proc.stderr
    return proc.stderr


def test_config_prints_a_table_of_every_assignment() -> None:
    proc = run_cli("config")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    course = load_course(REPO / "course.yml")
    for a in course.assignments:
        assert f"{a.id}: {a.title}" in out
        for q in a.questions:
            assert q.id in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith("  ") and line.split()}
    assert rows["convolve2d"][:2] == ["6", "auto"] and int(rows["convolve2d"][2]) >= 1
    assert rows["padding_written"] == ["2", "manual", "-"]
    assert "limits: cell 120 s, test 20 s, total 900 s" in out


def test_empty_hidden_suite(tmp_path: Path) -> None:
    course_yml = make_course(tmp_path / "c")
    suite = course_yml.parent / SUITE
    suite.unlink()
    suite.mkdir()
    (suite / "helpers.py").write_text("X = 1\n")  # a file, but no test
    _config_fails(course_yml, f"hidden suite {SUITE}", "holds no tests")


def test_question_without_tests(tmp_path: Path) -> None:
    course_yml = make_course(tmp_path / "c")
    (_own_suite(course_yml) / "test_common_kernel.py").unlink()
    _config_fails(course_yml, "question 'common_kernel' (1 points) has no hidden test in "
                              f"{SUITE}: add a test marked @question('common_kernel')")


def test_tests_of_unknown_and_manual_questions_and_every_problem_at_once(tmp_path: Path) -> None:
    course_yml = make_course(tmp_path / "c")
    suite = _own_suite(course_yml)
    (suite / "test_extra.py").write_text(
        "from autograder.testing import question\n\n\n"
        "@question('convolve_2d')\ndef test_typo(submission):\n    pass\n\n\n"
        "@question('padding_written')\ndef test_manual(submission):\n    pass\n\n\n"
        "def test_unmarked(submission):\n    pass\n")
    (suite / "test_pool2d.py").unlink()
    err = _config_fails(
        course_yml,
        f"{SUITE}/test_extra.py::test_typo: @question('convolve_2d') is not a question of 01_convolution",
        f"{SUITE}/test_extra.py::test_manual: @question('padding_written') grades a manual question",
        "test_extra.py::test_unmarked: hidden test without @question(...) marker",
        "question 'pool2d' (3 points) has no hidden test",
    )
    assert "4 problem(s)" in err


@pytest.mark.parametrize("weight", ["-1", "0", "'heavy'"])
def test_weights_must_be_positive_numbers(weight: str, tmp_path: Path) -> None:
    course_yml = make_course(tmp_path / "c")
    suite = _own_suite(course_yml)
    path = suite / "test_common_kernel.py"
    text = path.read_text()
    assert text.count('@question("common_kernel", weight=1)\n') == 1
    path.write_text(text.replace('@question("common_kernel", weight=1)\n', f'@question("common_kernel", '
                                 f'weight={weight})\n'))
    _config_fails(course_yml, "test_common_kernel.py::test_unknown_names_raise_value_error",
                  f"weight={weight}): the weight must be a positive number")


def test_grade_refuses_a_bad_weight_like_config(tmp_path: Path) -> None:
    """The same marker reader decides in grading: a negative weight stops the batch as an instructor error."""
    course_yml = make_course(tmp_path / "c", total_timeout_s=300)
    suite = _own_suite(course_yml)
    for test in suite.glob("test_*.py"):
        if test.name != "test_output_size.py":
            test.unlink()
    path = suite / "test_output_size.py"
    path.write_text(path.read_text().replace('@question("output_size", weight=0.5)', '@question("output_size", '
                                             'weight=-0.5)', 1))
    notebook = course_yml.parent / "assignments" / "01_convolution" / "convolution.ipynb"
    proc = run_cli("--course", course_yml, "grade", "01_convolution", notebook, "--out", tmp_path / "out",
                   "--no-progress")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "weight=-0.5): the weight must be a positive number" in proc.stderr
    assert not list((tmp_path / "out").glob("*/results.json"))


def test_timeouts_above_the_total_are_errors(tmp_path: Path) -> None:
    course_yml = make_course(tmp_path / "c", test_timeout_s=1000)
    _edit_course(course_yml, {}, {"limits": {"cell_timeout_s": 2000}})
    _config_fails(course_yml,
                  "limits: test_timeout_s (1000 s) is above total_timeout_s (900 s)",
                  "assignments[0] (01_convolution) limits: cell_timeout_s (2000 s) is above total_timeout_s (900 s)")


def test_release_writes_course_points_and_refuses_prose_that_disagrees(tmp_path: Path) -> None:
    from nbgrader.api import Gradebook

    course_yml = make_course(tmp_path / "c")
    solution = _own_solutions(course_yml)
    course = load_course(course_yml)
    released = course.released_notebook(course.assignment("01_convolution"))

    _set_points(course_yml, "convolve2d", 5)
    stale = _config_fails(course_yml, "course.yml says 5 points, the released notebook's test cell says 6",
                          "run `autograder release 01_convolution`")
    assert "markdown cell 12 (question 'convolve2d': '## 4. Convolution with stride and padding') says '(6 points)' "\
           "but course.yml gives 5 points: change the text to '(5 points)'" in stale
    refused = run_cli("--course", course_yml, "release", "01_convolution")
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "says '(6 points)' but course.yml gives 5 points: change the text to '(5 points)'" in refused.stderr
    assert str(solution) in refused.stderr
    assert _points(released)["convolve2d"] == 6  # nothing released

    nb = nbformat.read(str(solution), as_version=4)
    assert nb.cells[12].source.count("(6 points)") == 1
    nb.cells[12].source = nb.cells[12].source.replace("(6 points)", "(5 points)")
    nbformat.write(nb, str(solution))
    done = run_cli("--course", course_yml, "release", "01_convolution")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _points(released)["convolve2d"] == 5
    assert _points(solution)["convolve2d"] == 6  # course.yml decides; the solution's metadata is not read for points
    assert "(5 points)" in released.read_text()
    with Gradebook(f"sqlite:///{course_yml.parent / 'gradebook.db'}", course.course_id) as gb:
        cell = gb.find_grade_cell("convolve2d", "convolution", "01_convolution")
        assert cell.max_score == 5
        assert gb.find_assignment("01_convolution").max_score == 21
    check = run_cli("--course", course_yml, "config")
    assert check.returncode == 0, check.stdout + check.stderr
    assert run_cli("--course", course_yml, "release", "--check", "01_convolution").returncode == 0


def _points(notebook: Path) -> dict[str, float]:
    nb = nbformat.read(str(notebook), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"] for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade")}


def test_check_solution_full_marks(tmp_path: Path) -> None:
    course_yml = make_course(tmp_path / "c", total_timeout_s=300)
    proc = run_cli("--course", course_yml, "check-solution", "01_convolution", "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "01_convolution: full marks (20 / 20" in proc.stdout
    assert (tmp_path / "out" / "01_convolution" / "solution" / "results.json").is_file()


def test_check_solution_names_what_a_broken_solution_fails(tmp_path: Path) -> None:
    course_yml = make_course(tmp_path / "c", total_timeout_s=300)
    solution = _own_solutions(course_yml)
    nb = nbformat.read(str(solution), as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "output_size_code")
    cell.source += "\n\n\ndef output_size(n, f, stride=1, padding=0):  # forgets the + 1\n" \
                   "    return (n - f + 2 * padding) // stride\n"
    nbformat.write(nb, str(solution))
    proc = run_cli("--course", course_yml, "check-solution", "01_convolution")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    # the missing + 1 is a diagnosed cause (at most half of output_size), its invalid-arguments test costs in full
    assert "01_convolution: NOT full marks (18.11 / 20" in proc.stdout
    assert "A solution notebook does not get full marks" in proc.stderr
    assert "(question output_size) failed" in proc.stderr
    assert "(question convolve2d) failed" not in proc.stderr


def test_adding_a_question_by_the_readme_recipe(tmp_path: Path) -> None:
    """README, "Adding a question": course.yml entry, solution cells, a hidden test, release, config, check-solution."""
    course_yml = make_course(tmp_path / "c", total_timeout_s=300)
    solution = _own_solutions(course_yml)
    suite = _own_suite(course_yml)
    data = yaml.safe_load(course_yml.read_text())
    data["assignments"][0]["questions"].append({"id": "stride_of", "title": "Stride from sizes", "points": 3})
    course_yml.write_text(yaml.safe_dump(data, sort_keys=False))
    nb = nbformat.read(str(solution), as_version=4)
    meta = {"schema_version": 3, "task": False}
    nb.cells += [
        nbformat.v4.new_markdown_cell("## 9. The stride from the sizes (3 points)"),
        nbformat.v4.new_code_cell(
            "def stride_of(n: int, f: int, out: int) -> int:\n"
            "    \"\"\"The stride that maps n to out with an f filter.\"\"\"\n"
            "    ### BEGIN SOLUTION\n    return (n - f) // (out - 1)\n    ### END SOLUTION",
            metadata={"nbgrader": {**meta, "grade": False, "grade_id": "stride_of_code", "locked": False,
                                   "solution": True}}),
        nbformat.v4.new_code_cell(
            "assert stride_of(7, 3, 3) == 2",
            metadata={"nbgrader": {**meta, "grade": True, "grade_id": "stride_of", "locked": True, "points": 1,
                                   "solution": False}}),
    ]
    nbformat.write(nb, str(solution))
    (suite / "test_stride_of.py").write_text(
        "from autograder.testing import SubmissionProxy, expect, expect_int, question\n\n\n"
        "@question(\"stride_of\", weight=2)\n"
        "def test_lecture_sizes(submission: SubmissionProxy) -> None:\n"
        "    \"\"\"stride_of gives the stride of the lecture's 7x7 -> 3x3 example.\"\"\"\n"
        "    expect(expect_int(submission.stride_of(7, 3, 3)) == 2, \"stride_of(7, 3, 3) should be 2.\")\n")

    released = run_cli("--course", course_yml, "release", "01_convolution")
    assert released.returncode == 0, released.stdout + released.stderr
    assert _points(course_yml.parent / "assignments/01_convolution/convolution.ipynb")["stride_of"] == 3
    config = run_cli("--course", course_yml, "config")
    assert config.returncode == 0, config.stdout + config.stderr
    row = next(line.split() for line in config.stdout.splitlines() if line.strip().startswith("stride_of"))
    assert row == ["stride_of", "3", "auto", "1"]
    check = run_cli("--course", course_yml, "check-solution", "01_convolution")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "01_convolution: full marks (23 / 23" in check.stdout


def test_a_test_file_that_does_not_import(tmp_path: Path) -> None:
    course_yml = make_course(tmp_path / "c")
    (_own_suite(course_yml) / "test_pool2d.py").write_text("def broken(:\n")
    err = _config_fails(course_yml, "collection of test_pool2d.py failed", "SyntaxError")
    assert "question 'pool2d'" not in err  # the cause is named, not a consequence


def test_a_dependent_question_graded_with_missing_solution_cells(tmp_path: Path) -> None:
    """dependent_questions: reference needs the earlier question's answer cells in the solution: cnn_accuracy (02)
    has none (its test trains the student's build_mnist_cnn), so config says so before anyone is graded."""
    course_yml = make_course(tmp_path / "c")
    data = yaml.safe_load(course_yml.read_text())
    a02 = next(a for a in data["assignments"] if a["id"] == "02_mnist_cnn")
    a02["dependent_questions"] = "reference"
    next(q for q in a02["questions"] if q["id"] == "build_mnist_cnn")["depends_on"] = ["cnn_accuracy"]
    course_yml.write_text(yaml.safe_dump(data, sort_keys=False))
    _config_fails(course_yml, "02_mnist_cnn: ", "no answer cell before the test cell of question(s) cnn_accuracy")
