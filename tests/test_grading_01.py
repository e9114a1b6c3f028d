"""The convolution assignment end to end, through the real CLI and real nbgrader release.

One batch grades the named fixtures (plus notebooks derived from the solution) with small limits;
each test then checks one submission's outcome.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from autograder.config import load_course
from autograder.samples import make_sample
from tests.conftest import FIXTURES, REPO, make_course, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("grade01")
    course_yml = make_course(tmp / "course", cell_timeout_s=5, test_timeout_s=5, total_timeout_s=120)
    course = load_course(REPO / "course.yml")
    a = course.assignment("01_convolution")
    subs = tmp / "subs"
    subs.mkdir()
    for kind in ("correct", "stub", "partial", "syntax_error"):
        (subs / f"{kind}.ipynb").write_text(make_sample(course, a, kind))
    for name in ("01_hardcoded_lecture_answers", "01_infinite_loop_top_level", "01_not_a_notebook"):
        shutil.copy(FIXTURES / f"{name}.ipynb", subs / f"{name.removeprefix('01_')}.ipynb")
    out = tmp / "out"
    proc = run_cli("--course", course_yml, "grade", "01_convolution", *sorted(subs.iterdir()), "--out", out,
                   "--jobs", "2", "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/results.json")}
    return {"out": out, "results": results, "stdout": proc.stdout, "course_yml": course_yml, "subs": subs}


def test_solution_gets_full_marks(batch: dict[str, Any]) -> None:
    r = batch["results"]["correct"]
    assert r["status"] == "graded"
    assert r["score"] == r["max_score"] == 20
    assert all(t["status"] == "passed" for t in r["tests"])


def test_released_stub_gets_zero_with_not_implemented_messages(batch: dict[str, Any]) -> None:
    r = batch["results"]["stub"]
    assert (r["status"], r["score"]) == ("graded", 0)
    assert all("not implemented" in t["output"] for t in r["tests"])
    feedback = (batch["out"] / "stub" / "feedback.md").read_text()
    assert "not implemented yet" in feedback


def test_partial_solution_gets_partial_credit(batch: dict[str, Any]) -> None:
    r = batch["results"]["partial"]
    assert r["status"] == "graded"
    assert 0 < r["score"] < 20
    by_q: dict[str, list[str]] = {}
    for t in r["tests"]:
        by_q.setdefault(t["question"], []).append(t["status"])
    # questions whose solutions were kept pass entirely; the stubbed ones fail entirely
    assert all(set(v) in ({"passed"}, {"failed"}) for v in by_q.values()), by_q


def test_hardcoded_lecture_answers_earn_only_worked_example_points(batch: dict[str, Any]) -> None:
    r = batch["results"]["hardcoded_lecture_answers"]
    worked = sum(t["max_score"] for t in r["tests"] if t["worked_example"])
    assert r["status"] == "graded"
    assert 0 < r["score"] <= worked + 1e-6
    assert all(t["status"] == "failed" for t in r["tests"] if not t["worked_example"])
    assert r["score"] < 0.5 * r["max_score"]


def test_infinite_loop_cell_is_stopped_and_the_rest_still_graded(batch: dict[str, Any]) -> None:
    r = batch["results"]["infinite_loop_top_level"]
    assert r["status"] == "graded"
    assert r["score"] == 20  # the loop sits in its own cell; everything else is correct
    stopped = [c for c in r["cells"] if c["status"] == "timeout"]
    assert len(stopped) == 1 and "5 s" in stopped[0]["error_message"]
    feedback = (batch["out"] / "infinite_loop_top_level" / "feedback.md").read_text()
    assert "was stopped" in feedback


def test_syntax_error_costs_only_the_broken_cell(batch: dict[str, Any]) -> None:
    r = batch["results"]["syntax_error"]
    assert r["status"] == "graded"
    assert any(c["error_type"] == "SyntaxError" for c in r["cells"])
    failed_questions = {t["question"] for t in r["tests"] if t["status"] == "failed"}
    assert failed_questions == {"output_size"}
    assert "is not defined in your notebook" in (batch["out"] / "syntax_error" / "feedback.md").read_text()


def test_not_a_notebook_is_ungradable_with_a_clear_message(batch: dict[str, Any]) -> None:
    r = batch["results"]["not_a_notebook"]
    assert (r["status"], r["score"]) == ("ungradable", 0)
    assert "not a valid Jupyter notebook" in r["message"]


def test_batch_csv_and_table(batch: dict[str, Any]) -> None:
    rows = list(csv.DictReader((batch["out"] / "01_convolution-grades.csv").read_text().splitlines()))
    assert {r["student"] for r in rows} == set(batch["results"])
    assert {r["student"]: float(r["score"]) for r in rows}["correct"] == 20
    assert "not_a_notebook: ungradable" in batch["stdout"]


def test_rerun_skips_graded_and_force_regrades(batch: dict[str, Any]) -> None:
    sub = batch["subs"] / "correct.ipynb"
    again = run_cli("--course", batch["course_yml"], "grade", "01_convolution", sub, "--out", batch["out"],
                    "--no-progress")
    assert again.returncode == 0 and "Graded 0, already done 1" in again.stdout
    forced = run_cli("--course", batch["course_yml"], "grade", "01_convolution", sub, "--out", batch["out"],
                     "--no-progress", "--force")
    assert forced.returncode == 0 and "Graded 1, already done 0" in forced.stdout


def test_feedback_does_not_leak_hidden_tests(batch: dict[str, Any]) -> None:
    hidden = [p.read_text() for p in (REPO / "autograder/hidden/01_convolution").glob("test_*.py")]
    lines = {ln.strip() for text in hidden for ln in text.splitlines() if len(ln.strip()) > 30}
    lines = {ln for ln in lines if not ln.startswith(('"""', "#", "@question", "def "))}
    for student in batch["results"]:
        for name in ("feedback.md", "results.json"):
            text = (batch["out"] / student / name).read_text()
            leaked = [ln for ln in lines if ln in text]
            assert not leaked, (student, name, leaked[:3])


def test_release_check_is_current() -> None:
    """Every committed release matches its solution notebook (one nbgrader run for all five)."""
    proc = run_cli("release", "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for a in load_course(REPO / "course.yml").assignments:
        assert f"{a.id}: current" in proc.stdout


def test_release_check_fails_when_stale(tmp_path: Path) -> None:
    for name in ("solutions", "datasets"):
        shutil.copytree(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "assignments", tmp_path / "assignments")
    (tmp_path / "autograder").mkdir()
    (tmp_path / "autograder" / "hidden").symlink_to(REPO / "autograder" / "hidden")
    shutil.copy(REPO / "course.yml", tmp_path / "course.yml")
    nb = tmp_path / "solutions/01_convolution/convolution.ipynb"
    nb.write_text(nb.read_text().replace("Assignment 1: Convolution by hand", "Assignment 1: Convolutions"))
    proc = run_cli("--course", tmp_path / "course.yml", "release", "--check", "01_convolution")
    assert proc.returncode == 3
    assert "STALE" in proc.stdout and "autograder release" in proc.stderr
