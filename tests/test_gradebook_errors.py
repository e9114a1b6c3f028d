"""Bad input around nbgrader's gradebook: each gives a clear error naming the file and what to do, a
non-zero exit (6), and no half-written gradebook. Also hostile cases aimed at the gradebook step and a
zip_collect from a Canvas-style download.

One course (a temp copy) is released and its submissions graded in the sandbox once (the real CLI in a
subprocess, --no-gradebook); each test then runs the CLI's gradebook step in-process on those results.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nbgrader.api import Gradebook, MissingEntry

from autograder import release as rel
from autograder.cli import main
from autograder.config import Course, load_course
from autograder.demo import make_course_copy
from autograder.samples import make_sample
from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.slow

AID = "01_convolution"
NB = "convolution.ipynb"


def cli(capsys: pytest.CaptureFixture[str], course: Course, *args: str) -> tuple[int, str]:
    """The real CLI, in this process; returns (exit code, stdout + stderr)."""
    code = 0
    try:
        main(["--course", str(course.root / "course.yml"), *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


def put_submission(course: Course, student: str, kind: str) -> Path:
    folder = course.root / "submitted" / student / AID
    folder.mkdir(parents=True, exist_ok=True)
    (folder / NB).write_text(make_sample(course, course.assignment(AID), kind))
    (folder / "timestamp.txt").write_text("2027-01-20 10:00:00.000000 UTC")
    return folder


def scores(course: Course) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}", course.course_id) as gb:
        for student in gb.students:
            try:
                sub = gb.find_submission(AID, student.id)
            except MissingEntry:
                continue
            grades = sorted((g.name, g.auto_score) for g in sub.notebooks[0].grades)
            out[student.id] = (sub.score, str(sub.timestamp), grades)
    return out


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Course:
    """Released into its gradebook; alice (correct), bob (stub), mallory (not in the roster) graded."""
    course = make_course_copy(load_course(REPO / "course.yml"), tmp_path_factory.mktemp("gb") / "course")
    rel.release(course, course.assignment(AID))
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}", course.course_id) as gb:
        for sid, lms in (("alice", "3001"), ("bob", "3002"), ("carol", "3003")):
            gb.update_or_create_student(sid, lms_user_id=lms)
    for student, kind in (("alice", "correct"), ("bob", "stub"), ("mallory", "partial")):
        put_submission(course, student, kind)
    proc = run_cli("--course", course.root / "course.yml", "grade", AID, course.root / "submitted",
                   "--out", course.root / "grades" / AID, "--no-gradebook", "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return course


@pytest.fixture
def course(graded: Course, tmp_path: Path) -> Iterator[Course]:
    """A fresh copy of the graded course (gradebook, submissions, results) for one test to damage."""
    root = tmp_path / "course"
    make_course_copy(graded, root)
    for name in ("gradebook.db", "submitted", "grades"):
        src = graded.root / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, root / name)
    yield load_course(root / "course.yml")


def test_missing_gradebook_says_to_release_first(course: Course, capsys: pytest.CaptureFixture[str]) -> None:
    (course.root / "gradebook.db").unlink()
    shutil.rmtree(course.root / "grades")
    code, out = cli(capsys, course, "grade", AID, str(course.root / "submitted"), "--no-progress")
    assert code == 6
    assert f"No gradebook at {course.root / 'gradebook.db'}: run `autograder release {AID}` first" in out
    assert not (course.root / "grades").exists()  # refused before grading anything
    assert not (course.root / "gradebook.db").exists()  # and did not create an empty one


def test_an_unreleased_assignment_says_which_release_to_run(course: Course,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    folder = course.root / "submitted" / "alice" / "02_mnist_cnn"
    folder.mkdir(parents=True)
    (folder / "mnist_cnn.ipynb").write_text(make_sample(course, course.assignment("02_mnist_cnn"), "stub"))
    code, out = cli(capsys, course, "grade", "02_mnist_cnn", str(folder), "--no-progress")
    assert code == 6
    assert "Assignment 02_mnist_cnn (notebook mnist_cnn.ipynb) is not in the gradebook" in out
    assert "run `autograder release 02_mnist_cnn` first" in out
    assert not (course.root / "grades" / "02_mnist_cnn").exists()


def test_a_gradebook_of_another_schema_is_refused(course: Course, capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(course.root / "gradebook.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0123456789ab'")
    code, out = cli(capsys, course, "grade", AID, str(course.root / "submitted"), "--no-progress")
    assert code == 6
    assert "has gradebook schema '0123456789ab', but this nbgrader expects 'e43177bfe90b'" in out
    assert "nbgrader db upgrade" in out
    with sqlite3.connect(course.root / "gradebook.db") as conn:
        assert conn.execute("SELECT count(*) FROM submitted_assignment").fetchone() == (0,)


def test_a_locked_gradebook_fails_cleanly_and_writes_nothing(course: Course,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    with (course.root / "nbgrader_config.py").open("a") as f:  # an instructor's shorter lock timeout
        f.write(f"c.CourseDirectory.db_url = 'sqlite:///{course.root / 'gradebook.db'}?timeout=1'\n")
    holder = sqlite3.connect(course.root / "gradebook.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # e.g. a formgrader request in the middle of a write
    try:
        code, out = cli(capsys, course, "grade", AID, str(course.root / "submitted"), "--no-progress")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 6
    assert "stayed locked by another process" in out and "Nothing was written" in out
    assert scores(course) == {}


def test_an_unknown_student_is_named_and_the_others_are_recorded(course: Course,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with (course.root / "nbgrader_config.py").open("a") as f:  # nbgrader's default (True) would add mallory
        f.write("c.Autograde.create_student = False\n")
    code, out = cli(capsys, course, "grade", AID, str(course.root / "submitted"), "--no-progress")
    assert code == 6
    assert "mallory: student 'mallory' is not in the gradebook: add them with `nbgrader db student add mallory" in out
    assert "Gradebook: 2 of 3 recorded" in out
    got = scores(course)
    assert set(got) == {"alice", "bob"} and got["alice"][0] == 20.0 and got["bob"][0] == 0.0
    assert json.loads((course.root / "grades" / AID / "mallory" / "results.json").read_text())["status"] == "graded"


def test_a_symlink_in_a_submission_is_refused_for_that_student_only(course: Course,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    shutil.rmtree(course.root / "submitted" / "mallory")
    link = course.root / "submitted" / "bob" / AID / "data.txt"
    link.symlink_to("/etc/hostname")
    code, out = cli(capsys, course, "grade", AID, str(course.root / "submitted"), "--no-progress")
    assert code == 6
    assert f"bob: {link} is a symbolic link" in out
    got = scores(course)
    assert set(got) == {"alice"}
    assert not (course.root / "autograded" / "bob").exists()


def test_a_result_from_another_submission_never_reaches_the_gradebook(
        course: Course, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.rmtree(course.root / "submitted" / "mallory")
    code, _ = cli(capsys, course, "grade", AID, str(course.root / "submitted"), "--no-progress")
    assert code == 0
    before = scores(course)
    grades = course.root / "grades" / AID
    shutil.copy2(grades / "alice" / "results.json", grades / "bob" / "results.json")  # bob's file, alice's 20/20
    data = json.loads((grades / "bob" / "results.json").read_text())
    data["student"] = "bob"
    (grades / "bob" / "results.json").write_text(json.dumps(data))
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", AID, "--student=bob", "--force",
                           "--InjectResults.grade_missing=False"], cwd=course.root, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode != 0
    assert "was made from another file" in proc.stdout + proc.stderr
    after = scores(course)
    assert after["bob"][0] == before["bob"][0] == 0.0 and after["bob"][2] == before["bob"][2]


def test_zip_collect_of_a_canvas_download_then_grade(course: Course, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.rmtree(course.root / "submitted" / "mallory")
    archive = course.root / "downloaded" / AID / "archive"
    archive.mkdir(parents=True)
    text = make_sample(course, course.assignment(AID), "correct")
    with zipfile.ZipFile(archive / "submissions.zip", "w") as z:
        z.writestr("chencara_LATE_3003_77001_convolution-1.ipynb", text)  # carol, resubmitted, late
        z.writestr("doejohn_9999_77002_convolution.ipynb", text)  # not in the roster
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "zip_collect", AID], cwd=course.root,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "9999" in proc.stdout + proc.stderr  # the skipped file is named
    assert (course.root / "submitted" / "carol" / AID / NB).read_text() == text
    proc = run_cli("--course", course.root / "course.yml", "grade", AID, course.root / "submitted" / "carol",
                   "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert scores(course)["carol"][0] == 20.0
    # no submission_secret.txt from an LMS download: feedback goes back through the LMS, not the exchange
    assert not (course.root / "submitted" / "carol" / AID / "submission_secret.txt").exists()


@pytest.mark.parametrize("saver, stays_reviewed", [("nbgrader.preprocessors.SaveAutoGrades", False),
                                                   ("autograder.nbgrader_bridge.SaveAutoGradesKeepingReview", True)])
def test_what_a_regrade_does_to_a_tas_reviewed_grade(course: Course, capsys: pytest.CaptureFixture[str],
                                                     saver: str, stays_reviewed: bool) -> None:
    """nbgrader's own SaveAutoGrades flags every manually graded cell for review again on each autograde;
    ours keeps a TA's review when the submission and the cell's auto score are unchanged."""
    shutil.rmtree(course.root / "submitted" / "mallory")
    assert cli(capsys, course, "grade", AID, str(course.root / "submitted"), "--no-progress")[0] == 0
    db = f"sqlite:///{course.root / 'gradebook.db'}"
    with Gradebook(db, course.course_id) as gb:  # what the formgrader's PUT does
        grade = gb.find_grade("padding_written", "convolution", AID, "alice")
        grade.manual_score, grade.needs_manual_grade = 1.0, False
        gb.db.commit()
    with (course.root / "nbgrader_config.py").open("a") as f:
        f.write(f"c.Autograde.autograde_preprocessors = [p.replace("
                f"'autograder.nbgrader_bridge.SaveAutoGradesKeepingReview', {saver!r}) "
                "for p in c.Autograde.autograde_preprocessors]\n")
    assert cli(capsys, course, "grade", AID, str(course.root / "submitted"), "--no-progress")[0] == 0  # regrade
    with Gradebook(db, course.course_id) as gb:
        grade = gb.find_grade("padding_written", "convolution", AID, "alice")
        assert grade.manual_score == 1.0  # both keep the score itself
        assert grade.needs_manual_grade is (not stays_reviewed)


def test_a_new_gradebook_gets_the_schema_that_the_alembic_command_reports(tmp_path: Path) -> None:
    """Gradebooks are stamped in-process (no `alembic heads` subprocess): with exactly the revision the alembic
    command of nbgrader's own migrations reports."""
    from nbgrader import api as nbgrader_api
    from nbgrader.dbutil import ALEMBIC_DIR

    from autograder.gradebook import expected_schema, prepare_nbgrader

    prepare_nbgrader()
    assert nbgrader_api.get_alembic_version is expected_schema
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}", "intro-to-cnn"):
        pass
    with sqlite3.connect(tmp_path / "gradebook.db") as conn:
        (stamped,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    ini = tmp_path / "alembic.ini"
    ini.write_text(f"[alembic]\nscript_location = {ALEMBIC_DIR}\n")
    heads = subprocess.run([str(Path(sys.executable).parent / "alembic"), "-c", str(ini), "heads"],
                           capture_output=True, text=True, check=True).stdout
    assert stamped == heads.split()[0]


def test_every_name_is_its_own_id_and_lookalikes_are_refused_by_name(course: Course,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 20: `dave` and `dave+` were both graded as `dave` (the whole batch refused), and a `+` id was graded
    but never recorded. Each name is now its own id (autograder/names.py); names that are the same but for case
    are refused by name, the others graded and recorded; a folder name nbgrader cannot take as an id (a space)
    is graded under its percent-encoded id and not recorded, saying what to rename."""
    shutil.rmtree(course.root / "submitted" / "mallory")
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}", course.course_id) as gb:
        for sid in ("dave", "dave+", "erin", "Erin", "x y"):
            gb.update_or_create_student(sid)
    for student, kind in (("dave", "correct"), ("dave+", "stub"), ("erin", "correct"), ("Erin", "stub"),
                          ("x y", "correct")):
        put_submission(course, student, kind)
    code, out = cli(capsys, course, "grade", AID, str(course.root / "submitted"), "--no-progress")
    assert code == 6, out
    assert "2 submission(s) not graded because of their names" in out
    assert "'Erin' (" in out and "'erin' (" in out and "looks the same as 'erin'" in out
    assert "Gradebook: 4 of 5 recorded" in out
    assert "x y: the folder name 'x y' is not an nbgrader student id this grader records (graded as 'x%20y')" in out
    got = scores(course)
    assert set(got) == {"alice", "bob", "dave", "dave+"}
    assert (got["dave"][0], got["dave+"][0]) == (20.0, 0.0)
    grades = course.root / "grades" / AID
    assert json.loads((grades / "dave+" / "results.json").read_text())["student"] == "dave+"
    assert json.loads((grades / "x%20y" / "results.json").read_text())["score"] == 20.0
    assert not (grades / "erin").exists() and not (grades / "Erin").exists()
