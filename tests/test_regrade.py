"""Results know what graded them: rerunning the same `grade` command after a change regrades exactly the
submissions that change affects, and says why (through the real CLI, on a course copy whose hidden suite,
workbooks and solution are its own files, so they can be edited).
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml

from autograder.config import load_course
from autograder.samples import make_sample
from tests.conftest import REPO, make_course, run_cli

pytestmark = pytest.mark.slow
A = "01_convolution"


def _own_copy(link: Path) -> None:
    """Replace a symlink of the course copy by a real copy of what it points to."""
    target = link.resolve()
    link.unlink()
    if target.is_dir():
        shutil.copytree(target, link, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        shutil.copy2(target, link)


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("regrade")
    course_yml = make_course(tmp / "course", cell_timeout_s=10, test_timeout_s=10, total_timeout_s=120)
    root = course_yml.parent
    _own_copy(root / "autograder" / "hidden" / A)
    _own_copy(root / "solutions")
    (root / "solutions").chmod(0o755)
    workbooks = root / "workbooks"
    shutil.copytree(REPO / "datasets" / "workbooks", workbooks)
    data = yaml.safe_load(course_yml.read_text())
    entry = next(a for a in data["assignments"] if a["id"] == A)
    entry["files"] = [f"workbooks/{Path(f).name}" for f in entry["files"]]
    course_yml.write_text(yaml.safe_dump(data, sort_keys=False))
    repo_course = load_course(REPO / "course.yml")
    subs = tmp / "subs"
    subs.mkdir()
    for student, kind in (("alice", "correct"), ("bob", "partial")):
        (subs / f"{student}.ipynb").write_text(make_sample(repo_course, repo_course.assignment(A), kind))
    return {"yml": course_yml, "root": root, "subs": subs, "out": tmp / "out"}


def grade(course: dict[str, Any], *extra: str) -> str:
    # one grader process: it imports the reference libraries once for both students
    proc = run_cli("--course", course["yml"], "grade", A, *sorted(course["subs"].iterdir()), "--out", course["out"],
                   "--jobs", "1", "--no-progress", *extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def results(course: dict[str, Any]) -> dict[str, Any]:
    return {p.parent.name: json.loads(p.read_text()) for p in course["out"].glob("*/results.json")}


def test_a_rerun_regrades_exactly_what_a_change_affects(course: dict[str, Any]) -> None:
    root: Path = course["root"]
    first = grade(course)
    assert "Graded 2, already done 0." in first
    assert set(results(course)) == {"alice", "bob"}
    assert set(results(course)["alice"]["fingerprint"]) == {
        "notebook", "assignment", "hidden_suite", "workbooks", "released", "runner", "grader"}

    assert "Graded 0, already done 2." in grade(course)

    # one student's notebook: only that student
    alice = course["subs"] / "alice.ipynb"
    nb = nbformat.read(str(alice), 4)
    nb.cells.append(nbformat.v4.new_markdown_cell("Submitted again after a typo fix."))
    nbformat.write(nb, str(alice))
    out = grade(course)
    assert "Graded 1, already done 1." in out and "1 regraded: submission changed (1)" in out

    # a hidden test changed: everyone
    test_file = root / "autograder" / "hidden" / A / "test_output_size.py"
    test_file.write_text(test_file.read_text() + "\n# fixed a hidden test\n")
    out = grade(course)
    assert "Graded 2, already done 0." in out and "2 regraded: hidden suite changed (2)" in out

    # a reference workbook re-saved (same numbers, different bytes): everyone
    book = root / "workbooks" / "activation fn.xlsx"
    _touch_workbook(book)
    out = grade(course)
    assert "2 regraded: workbooks changed (2)" in out

    # new points for a question (course.yml, the prose, `autograder release`): everyone
    before = results(course)
    _set_points(course, "output_size", 3)
    out = grade(course)
    assert "2 regraded: course.yml entry changed (2)" in out
    after = results(course)
    assert after["alice"]["max_score"] == before["alice"]["max_score"] + 1 == 21
    assert after["alice"]["score"] == 21
    assert {q["id"]: q["max_score"] for q in after["bob"]["questions"]}["output_size"] == 3
    # each result knows what it replaced, and the batch's class report shows who changed, by how much, why
    assert after["alice"]["previous"] == {"score": 20, "status": "graded", "reason": "course.yml entry changed"}
    report = json.loads((course["out"] / "class-report.json").read_text())
    assert report["regrades"]["regraded"] == 2
    changes = {c["student"]: (c["before"], c["after"], c["delta"]) for c in report["regrades"]["changed"]}
    assert changes["alice"] == (20, 21, 1)
    assert changes["bob"][2] == after["bob"]["score"] - before["bob"]["score"]
    assert "course.yml entry changed" in (course["out"] / "class-report.html").read_text()

    # --force regrades everything, changed or not
    assert "Graded 2, already done 0." in grade(course, "--force")
    assert results(course)["bob"]["previous"]["reason"] == "regraded with --force"


def test_grading_two_students_again_keeps_every_row_in_the_csv(course: dict[str, Any], tmp_path: Path) -> None:
    """Two late students (one regraded, one new) into the same --out: the CSV keeps everyone else's row."""
    repo_course = load_course(REPO / "course.yml")
    carol = tmp_path / "carol.ipynb"
    carol.write_text(make_sample(repo_course, repo_course.assignment(A), "stub"))
    grade(course)  # nothing to do after the test above; grades alice and bob when this test runs alone
    before = results(course)["alice"]
    proc = run_cli("--course", course["yml"], "grade", A, course["subs"] / "bob.ipynb", carol, "--out",
                   course["out"], "--no-progress", "--force")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Graded 2, already done 0." in proc.stdout and "(3 students, one column per question)" in proc.stdout
    assert results(course)["alice"] == before  # not regraded, still in the CSV
    csv_path = course["out"] / f"{A}-grades.csv"
    rows = list(csv.DictReader(csv_path.read_text().splitlines()))
    assert [r["student"] for r in rows] == ["alice", "bob", "carol"]
    assert [r["feedback"] for r in rows] == ["alice/feedback.md", "bob/feedback.md", "carol/feedback.md"]
    assert float(rows[0]["score"]) == before["score"] and float(rows[2]["score"]) == 0
    for row in rows:  # the question columns add up to the total
        assert round(sum(float(row[q]) for q in ("output_size", "zero_pad", "convolve2d", "common_kernel",
                                                    "activations", "pool2d", "conv2d_layer")), 2) == float(row["score"])
    assert csv_path.stat().st_mode & 0o777 == 0o640
    assert (course["out"] / "bob" / "feedback.md").stat().st_mode & 0o777 == 0o640
    assert (course["out"] / "bob").stat().st_mode & 0o777 == 0o750


def _touch_workbook(path: Path) -> None:
    """Rewrite the workbook's document properties (its author), leaving every sheet and value as it was."""
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "docProps/core.xml":
                data = re.sub(rb"<dc:creator>[^<]*</dc:creator>|<dc:creator/>", b"<dc:creator>TA</dc:creator>", data)
                if b"<dc:creator>TA" not in data:
                    data = data.replace(b"</cp:coreProperties>", b"<dc:creator>TA</dc:creator></cp:coreProperties>")
            dst.writestr(item, data)
    tmp.replace(path)


def _set_points(course: dict[str, Any], qid: str, points: float) -> None:
    """As an instructor does it: the question's points in course.yml and its "(N points)" text in the solution,
    then `autograder release` (which writes course.yml's points into the release and the gradebook)."""
    yml: Path = course["yml"]
    data = yaml.safe_load(yml.read_text())
    entry = next(a for a in data["assignments"] if a["id"] == A)
    question = next(q for q in entry["questions"] if q["id"] == qid)
    old = question["points"]
    question["points"] = points
    yml.write_text(yaml.safe_dump(data, sort_keys=False))
    path = course["root"] / "solutions" / A / "convolution.ipynb"
    nb = nbformat.read(str(path), 4)
    heading = next(i for i, c in enumerate(nb.cells)
                   if c.metadata.get("nbgrader", {}).get("grade_id") == f"{qid}_code") - 1
    assert nb.cells[heading].source.count(f"({old:g} points)") == 1, nb.cells[heading].source
    nb.cells[heading].source = nb.cells[heading].source.replace(f"({old:g} points)", f"({points:g} points)")
    nbformat.write(nb, str(path))
    released = run_cli("--course", yml, "release", A)
    assert released.returncode == 0, released.stdout + released.stderr
