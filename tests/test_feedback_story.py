"""One story in everything a student receives (issue 21, part 3), with a real course, the real CLI, nbgrader's
real exchange, collect, zip_collect, autograde, generate_feedback, release_feedback, fetch_feedback and export.

Students of 01_convolution (due 2027-01-25 23:59 UTC, 10 % per started day late, a written answer a TA grades):
alice submits through the exchange on time; bob's notebook is placed by hand with a timestamp.txt 29 h after the
due date (no submission_secret.txt); dave comes from a Canvas download twice (the second time a resubmission
Canvas marked LATE, with no time); mallory is not in the roster (c.Autograde.create_student: nbgrader's default).
"""

from __future__ import annotations

import csv
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from nbgrader.api import Gradebook

from autograder.demo import make_course_copy
from autograder.samples import make_sample
from tests.conftest import run_cli
from tests.nbgrader_world import World, autograder, exchange_course, nbgrader, student_env, submit

pytestmark = pytest.mark.slow

AID = "01_convolution"
NB = "convolution.ipynb"
ROSTER = {"alice": ("Ada", "Alvarez", "2001"), "bob": ("Bo", "Baker", "2002"), "dave": ("Dev", "Dutta", "2004")}
BOB_LATE = "Late by 1 day 5 h (2 started days x 10 %): -4 points -> 16 / 22"


def canvas_zip(world: World, names: dict[str, str]) -> None:
    archive = world.root / "downloaded" / AID / "archive"
    archive.mkdir(parents=True, exist_ok=True)
    for old in archive.iterdir():
        old.unlink()
    with zipfile.ZipFile(archive / "submissions.zip", "w") as z:
        for name, text in names.items():
            z.writestr(name, text)


def place(world: World, student: str, text: str, timestamp: str | None) -> Path:
    folder = world.root / "submitted" / student / AID
    folder.mkdir(parents=True, exist_ok=True)
    (folder / NB).write_text(text)
    if timestamp is not None:
        (folder / "timestamp.txt").write_text(timestamp)
    return folder


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    base = tmp_path_factory.mktemp("story")
    w = exchange_course(base, AID, ROSTER)
    course = w.course
    a = course.assignment(AID)
    correct, partial = make_sample(course, a, "correct"), make_sample(course, a, "partial")
    submit(w, AID, "alice", correct)  # through the exchange, before the due date (2027-01-25 23:59 UTC)
    nbgrader(w, "collect", AID)
    # bob: placed by hand, 29 h after the due date
    place(w, "bob", correct, "2027-01-27 04:59:00")
    # dave: a Canvas download; the instructor writes the time Canvas shows (on time)
    canvas_zip(w, {"duttadev_2004_91001_convolution.ipynb": partial})
    nbgrader(w, "zip_collect", AID)
    (w.root / "submitted" / "dave" / AID / "timestamp.txt").write_text("2027-01-20 10:00:00")
    # mallory: not in the roster
    place(w, "mallory", correct, None)
    proc = autograder(w, "grade", AID, "submitted/", "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    w.out["grade"] = proc.stdout
    with Gradebook(w.db, course.course_id) as gb:
        assert gb.find_submission(AID, "dave").timestamp is not None
    # dave resubmits on Canvas, after the due date: Canvas marks it LATE and its names carry no time
    canvas_zip(w, {"duttadev_LATE_2004_91002_convolution-1.ipynb": correct})
    nbgrader(w, "zip_collect", "--force", AID)
    proc = autograder(w, "grade", AID, "submitted/dave", "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    w.out["regrade"] = proc.stdout
    proc = autograder(w, "feedback", AID)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    w.out["feedback"] = proc.stdout + proc.stderr
    return w


def results(world: World, student: str) -> dict[str, Any]:
    data = json.loads((world.root / "grades" / AID / student / "results.json").read_text())
    assert isinstance(data, dict)
    return data


def test_the_late_penalty_is_the_same_everywhere(world: World) -> None:
    with Gradebook(world.db, world.course.course_id) as gb:
        sub = gb.find_submission(AID, "bob")
        assert sub.total_seconds_late == 29 * 3600
        gb_penalty = sub.notebooks[0].late_submission_penalty
        assert (sub.score, gb_penalty) == (20.0, pytest.approx(4.0))
    folder = world.root / "grades" / AID / "bob"
    md = (folder / "feedback.md").read_text()
    assert f"**Late:** {BOB_LATE}" in md and "**Score:** 20 / 20" in md
    assert BOB_LATE.replace(">", "&gt;") in (folder / "feedback.html").read_text()
    late = results(world, "bob")["late"]
    assert late["source"] == "gradebook" and late["penalty"] == pytest.approx(gb_penalty)
    assert (late["score_before"], late["score_after"], late["started_days"]) == (20.0, 16.0, 2)
    assert results(world, "bob")["score"] == 20.0 and "tests" in results(world, "bob")  # Gradescope's keys stay
    html = (world.root / "feedback" / "bob" / AID / "convolution.html").read_text()
    assert "convolution (Score: 16.0 / 22.0)" in html and BOB_LATE.replace(">", "&gt;") in html
    out = world.base / "canvas.csv"
    nbgrader(world, "export", "--exporter=autograder.nbgrader_plugins.CanvasGradesExport", f"--to={out}")
    rows = {r[2]: r[5] for r in csv.reader(out.read_text().splitlines()) if len(r) > 5}
    assert rows["bob"] == "16" and rows["alice"] == "20"
    assert results(world, "alice")["late"] is None and "**Late:**" not in (
        world.root / "grades" / AID / "alice" / "feedback.md").read_text()


def test_questions_a_ta_still_grades_are_named_with_their_points(world: World) -> None:
    md = (world.root / "grades" / AID / "alice" / "feedback.md").read_text()
    assert "**Not graded yet:** 2 points still to be graded by a TA" in md and "`padding_written`, 2" in md
    assert results(world, "alice")["ta_grading"]["pending"][0]["id"] == "padding_written"
    html = (world.root / "feedback" / "alice" / AID / "convolution.html").read_text()
    assert "0.0 / 2.0" not in html and "Score: nan" not in html
    assert "not graded yet: 2 points still to be graded by a TA" in html
    assert "2 points still to be graded by a TA: padding_written (2)" in html
    assert "Warning: manual grading is not finished for 4 submission(s)" in world.out["feedback"]
    assert "  - alice: padding_written (2 points)" in world.out["feedback"]


def test_release_feedback_returns_what_it_can_and_names_the_rest(world: World) -> None:
    out = world.out["feedback"]
    assert "returns those of 1 student(s) through the exchange" in out
    for student in ("bob", "dave", "mallory"):
        assert f"  - {student}: {world.root / 'feedback' / student / AID}/*.html" in out
    proc = nbgrader(world, "release_feedback", AID)
    log = proc.stdout + proc.stderr
    assert "Traceback" not in log and "FileNotFoundError" not in log
    assert "Released 1 feedback file(s); skipped 3" in log
    assert f"Not released: {world.root / 'feedback' / 'bob' / AID / 'convolution.html'} (student 'bob')" in log
    home = world.base / "home" / "alice"
    nbgrader(world, "fetch_feedback", AID, "--student=alice", cwd=home, env=student_env(world, "alice"))
    fetched = list((home / AID / "feedback").glob("*/convolution.html"))
    assert len(fetched) == 1 and "not graded yet: 2 points still to be graded by a TA" in fetched[0].read_text()


def test_a_canvas_resubmission_does_not_keep_the_old_time_and_its_late_mark_is_reported(world: World) -> None:
    with Gradebook(world.db, world.course.course_id) as gb:
        sub = gb.find_submission(AID, "dave")
        assert sub.timestamp is None and sub.score == 20.0  # the new file, not the old file's time
    assert not (world.root / "submitted" / "dave" / AID / "timestamp.txt").exists()
    out = world.out["regrade"]
    assert "was not kept for this new file" in out
    assert "the LMS marked this file LATE but gave no time, so no late penalty was computed" in out
    # only dave: mallory handed in the very same bytes, but Canvas said nothing of her file
    assert "the LMS marked these submissions LATE without a time, so no late penalty was computed: dave. " in (
        world.out["feedback"])
    assert results(world, "mallory")["late"] is None
    late = results(world, "dave")["late"]
    assert late["source"] == "lms-mark" and late["seconds_late"] is None
    assert "The LMS marked this submission late" in (world.root / "grades" / AID / "dave" / "feedback.md").read_text()
    marks = json.loads((world.root / "downloaded" / AID / "lms_marks.json").read_text())
    assert {m["file"]: m["late"] for m in marks.values()} == {"duttadev_2004_91001_convolution.ipynb": False,
                                                              "duttadev_LATE_2004_91002_convolution-1.ipynb": True}


def test_a_student_outside_the_roster_is_added_as_nbgrader_does_by_default(world: World) -> None:
    assert "Gradebook: 4 of 4 recorded" in world.out["grade"]
    assert "mallory: not in the roster: added to the gradebook" in world.out["grade"]
    with Gradebook(world.db, world.course.course_id) as gb:
        assert gb.find_submission(AID, "mallory").score == 20.0


def test_create_student_false_refuses_with_what_to_do(world: World, tmp_path: Path) -> None:
    course = make_course_copy(world.course, tmp_path / "course")
    for name in ("gradebook.db", "submitted", "grades"):
        src = world.root / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, course.root / name)
    with (course.root / "nbgrader_config.py").open("a") as f:
        f.write("c.Autograde.create_student = False\n")
    folder = course.root / "submitted" / "eve" / AID
    folder.mkdir(parents=True)
    (folder / NB).write_text(make_sample(course, course.assignment(AID), "correct"))
    proc = run_cli("--course", course.root / "course.yml", "grade", AID, folder, "--no-progress", cwd=course.root)
    assert proc.returncode == 6
    assert "eve: student 'eve' is not in the gradebook: add them with `nbgrader db student add eve" in proc.stderr
    assert "c.Autograde.create_student is False" in proc.stderr


def test_a_submission_outside_the_course_uses_its_timestamp_txt(world: World, tmp_path: Path) -> None:
    folder = tmp_path / "frank"
    folder.mkdir()
    (folder / NB).write_text(make_sample(world.course, world.course.assignment(AID), "correct"))
    (folder / "timestamp.txt").write_text("2027-01-26 00:00:00")  # one minute late: one started day
    out = tmp_path / "out"
    proc = run_cli("--course", world.root / "course.yml", "grade", AID, folder / NB, "--out", out, "--no-progress",
                   cwd=world.root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((out / "frank" / "results.json").read_text())
    assert data["late"]["source"] == "timestamp.txt" and data["late"]["penalty"] == pytest.approx(2.0)
    md = (out / "frank" / "feedback.md").read_text()
    assert "Late by 1 min (1 started day x 10 %): -2 points -> 18 / 20" in md
    assert "2 points still to be graded by a TA" in md


def test_an_extension_changes_the_penalty_everywhere(world: World) -> None:
    """Last (it changes bob's submission): a 6 h extension makes bob 23 h late, one started day."""
    from datetime import timedelta

    with Gradebook(world.db, world.course.course_id) as gb:
        sub = gb.find_submission(AID, "bob")
        sub.extension = timedelta(hours=6)
        gb.db.commit()
    proc = autograder(world, "grade", AID, "submitted/bob", "--no-progress")  # current: recorded again only
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Graded 0, already done 1" in proc.stdout
    with Gradebook(world.db, world.course.course_id) as gb:
        assert gb.find_submission(AID, "bob").notebooks[0].late_submission_penalty == pytest.approx(2.0)
    line = "Late by 23 h (1 started day x 10 %): -2 points -> 18 / 22"
    assert f"**Late:** {line}" in (world.root / "grades" / AID / "bob" / "feedback.md").read_text()
    assert results(world, "bob")["late"]["penalty"] == pytest.approx(2.0)
