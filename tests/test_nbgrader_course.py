"""The course inside nbgrader, end to end, with real components only.

A temp copy of the course; `autograder release` into its gradebook; nbgrader's exchange (release_assignment,
students fetch_assignment / submit, collect); `autograder grade submitted/` (sandbox, then nbgrader's autograde
with our preprocessors); a real Jupyter server with the formgrader (REST API and headless Chromium); a TA's
manual score and comment; a regrade that keeps them; nbgrader's HTML feedback, release_feedback and
fetch_feedback; `nbgrader export` with our Canvas plugin.

Students: alice (correct), bob (hostile: fake outputs and points in the test cells, edited tests), carol
(partial, late), dave (correct, submitted after the batch: graded by the formgrader's Autograde button).
The tests run in file order and share one course (a TA's work happens once, as in a real course).
"""

from __future__ import annotations

import csv
import json
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from nbgrader.api import Gradebook

from autograder.config import Course, load_course
from autograder.samples import make_sample
from tests.formgrader_harness import browser_page, formgrader_server, open_formgrader
from tests.nbgrader_world import World, autograder, exchange_course, nbgrader, student_env, submit

pytestmark = pytest.mark.slow

AID = "01_convolution"
ROSTER = {"alice": ("Ada", "Alvarez", "2001"), "bob": ("Bo", "Baker", "2002"),
          "carol": ("Cara", "Chen", "2003"), "dave": ("Dev", "Dutta", "2004")}
TA_SCORE, TA_COMMENT = 1.5, "Right about the shrinking output; say which pixels padding helps."
ARTIFACTS = Path(os.environ["AUTOGRADER_TEST_ARTIFACTS"]) if os.environ.get("AUTOGRADER_TEST_ARTIFACTS") else None


def hostile(course: Course) -> str:
    """The released notebook with the test cells emptied, fake full-score outputs and 100 points in them."""
    nb = nbformat.reads(make_sample(course, course.assignment(AID), "stub"), 4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            cell.source = "pass  # tests removed"
            meta["points"] = 100
            cell.outputs = [nbformat.from_dict({"output_type": "execute_result", "execution_count": 1,
                                                "metadata": {}, "data": {"text/plain": "100"}})]
    nb.cells.append(nbformat.v4.new_code_cell(
        "import pathlib\n"
        "for p in pathlib.Path('/').glob('**/results.json'):\n"
        "    p.write_text('{\"score\": 100}')\n"
        "print(2.0)"))
    return nbformat.writes(nb)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    base = tmp_path_factory.mktemp("nbcourse")
    w = exchange_course(base, AID, ROSTER)
    course, root = w.course, w.root
    a = course.assignment(AID)
    submit(w, AID, "alice", make_sample(course, a, "correct"))
    submit(w, AID, "bob", hostile(course))
    time.sleep(1.1)
    due = datetime.now(UTC).replace(tzinfo=None)
    time.sleep(1.1)
    submit(w, AID, "carol", make_sample(course, a, "partial"))  # late by about a second: one started day
    # The instructor moves the deadline: course.yml, then `autograder release` records it in the gradebook.
    data = yaml.safe_load((root / "course.yml").read_text())
    data["assignments"][0]["due"] = due.strftime("%Y-%m-%d %H:%M:%S")
    (root / "course.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    w.course = load_course(root / "course.yml")
    proc = autograder(w, "release", AID)
    assert proc.returncode == 0, proc.stderr
    nbgrader(w, "collect", AID)
    proc = autograder(w, "grade", AID, "submitted/", "--jobs", "2", "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    w.out["grade"] = proc.stdout
    return w


def submission(world: World, student: str) -> dict[str, Any]:
    with Gradebook(world.db, world.course.course_id) as gb:
        sub = gb.find_submission(AID, student)
        nb = sub.notebooks[0]
        return {"score": sub.score, "max": sub.max_score, "penalty": nb.late_submission_penalty,
                "late": sub.total_seconds_late,
                "grades": {g.name: (g.auto_score, g.manual_score, g.needs_manual_grade) for g in nb.grades},
                "comments": {c.name: (c.auto_comment, c.manual_comment) for c in nb.comments}}


def test_grade_records_every_submission_in_the_gradebook(world: World) -> None:
    assert "Gradebook: 3 of 3 recorded by nbgrader's autograde" in world.out["grade"]
    alice = submission(world, "alice")
    assert (alice["score"], alice["max"], alice["penalty"] or 0.0) == (20.0, 22.0, 0.0)
    assert alice["grades"]["output_size"] == (2.0, None, False)
    assert alice["grades"]["padding_written"] == (None, None, True)  # waits for a TA
    for sid in ROSTER:
        if sid != "dave":
            assert (world.root / "autograded" / sid / AID / "convolution.ipynb").is_file()


def test_the_late_student_gets_nbgraders_penalty(world: World) -> None:
    carol = submission(world, "carol")
    assert 0 < carol["late"] < 60
    assert carol["score"] == 14.0
    assert carol["penalty"] == pytest.approx(1.4)  # 10 % of the score per started day (course.yml)


def test_a_hostile_notebook_cannot_fake_its_score(world: World) -> None:
    bob = submission(world, "bob")
    assert bob["score"] == 0.0 and bob["max"] == 22.0
    assert bob["comments"]["padding_written"][0] == "No response."
    nb = nbformat.read(str(world.root / "autograded" / "bob" / AID / "convolution.ipynb"), 4)
    released = nbformat.read(str(world.root / "assignments" / AID / "convolution.ipynb"), 4)
    want = {c.metadata.nbgrader.grade_id: c.source for c in released.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")}
    got = {c.metadata.nbgrader.grade_id: (c.source, c.metadata.nbgrader.points) for c in nb.cells
           if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")}
    assert {k: v[0] for k, v in got.items()} == want  # nbgrader restored the locked test cells
    assert all(v[1] <= 6 for v in got.values())
    results = json.loads((world.root / "grades" / AID / "alice" / "results.json").read_text())
    assert results["score"] == 20.0  # bob's glob over / never reached anyone's results


def test_formgrader_shows_our_scores_and_takes_a_tas_grade(world: World) -> None:
    with formgrader_server(world.root, env=world.env) as fg:
        status, subs = fg.api("GET", f"/formgrader/api/submissions/{AID}")
        assert status == 200
        by_student = {s["student"]: s for s in subs if s.get("autograded")}
        assert {k: by_student[k]["score"] for k in ("alice", "bob", "carol")} == {"alice": 20.0, "bob": 0.0,
                                                                                "carol": 14.0}
        assert by_student["carol"]["max_score"] == 22.0
        status, notebooks = fg.api("GET", f"/formgrader/api/submitted_notebooks/{AID}/convolution")
        carol_nb = next(n for n in notebooks if n["student"] == "carol")["id"]
        status, grades = fg.api("GET", f"/formgrader/api/grades?submission_id={carol_nb}")
        per_question = {g["name"]: g["auto_score"] for g in grades}
        assert per_question["zero_pad"] == 0.0 and per_question["convolve2d"] == 6.0
        assert per_question["padding_written"] is None
        written = next(g for g in grades if g["name"] == "padding_written")
        status, comments = fg.api("GET", f"/formgrader/api/comments?submission_id={carol_nb}")
        comment = next(c for c in comments if c["name"] == "padding_written")
        with browser_page() as page:
            open_formgrader(page, fg, f"/formgrader/submissions/{carol_nb}/?index=0")
            page.wait_for_function("() => window.formgrader && window.formgrader.grades "
                                   "&& window.formgrader.grades.loaded")
            assert page.get_attribute("input.score#convolve2d", "placeholder") == "6"
            assert page.get_attribute("input.score#zero_pad", "placeholder") == "0"
            assert "Autograder (hidden tests)" in page.inner_text("#notebook")
            shot = (ARTIFACTS or world.base) / "formgrader-carol.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
            # The TA grades the written answer in the page; it saves through its own XHRs.
            with page.expect_response(lambda r: f"/api/grade/{written['id']}" in r.url
                                      and r.request.method == "PUT") as saved:
                page.fill("input.score#padding_written", str(TA_SCORE))
                page.locator("input.score#padding_written").blur()
            assert saved.value.status == 200
            with page.expect_response(lambda r: f"/api/comment/{comment['id']}" in r.url
                                      and r.request.method == "PUT") as saved:
                page.fill("textarea#padding_written-comment", TA_COMMENT)
                page.locator("textarea#padding_written-comment").blur()
            assert saved.value.status == 200
        status, body = fg.api("GET", f"/formgrader/api/grade/{written['id']}")
        assert body["manual_score"] == TA_SCORE
        # dave submits after the batch; the formgrader's Autograde button grades him in the sandbox
        submit(world, AID, "dave", make_sample(world.course, world.course.assignment(AID), "correct"))
        nbgrader(world, "collect", "--update", AID)
        status, body = fg.api("POST", f"/formgrader/api/submission/{AID}/dave/autograde")
        assert status == 200 and body["success"], body
    assert submission(world, "dave")["score"] == 20.0
    assert json.loads((world.root / "grades" / AID / "dave" / "results.json").read_text())["score"] == 20.0
    carol = submission(world, "carol")
    assert carol["grades"]["padding_written"] == (None, TA_SCORE, False)


def test_a_regrade_keeps_the_tas_work_and_updates_the_penalty(world: World) -> None:
    proc = autograder(world, "grade", AID, "submitted/carol", "--force", "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Graded 1, already done 0" in proc.stdout and "Gradebook: 1 of 1 recorded" in proc.stdout
    carol = submission(world, "carol")
    assert carol["grades"]["padding_written"] == (None, TA_SCORE, False)  # still reviewed
    assert carol["comments"]["padding_written"][1] == TA_COMMENT
    assert carol["score"] == 14.0 + TA_SCORE
    assert carol["penalty"] == pytest.approx(0.1 * (14.0 + TA_SCORE))


def test_html_feedback_has_scores_messages_and_the_ta_comment_but_no_hidden_tests(world: World) -> None:
    proc = autograder(world, "feedback", AID)
    assert proc.returncode == 0, proc.stderr
    html = (world.root / "feedback" / "carol" / AID / "convolution.html").read_text()
    assert re.search(r"convolution \(Score: 13\.95 / 22\.0\)", html)
    assert "Late submission penalty (Score: -1.55)" in html
    assert "(Score: 6.0 / 6.0)" in html and "(Score: 1.5 / 2.0)" in html
    assert "Autograder (hidden tests): 0 of" in html  # a stubbed question's line
    assert TA_COMMENT in html
    hidden = world.course.hidden_suite(world.course.assignment(AID))
    names = {m for f in hidden.glob("test_*.py") for m in re.findall(r"def (test_\w+)", f.read_text())}
    assert names and not [n for n in names if n in html]
    assert "autograder/hidden" not in html and "conftest" not in html


def test_feedback_returns_to_the_student_through_the_exchange(world: World) -> None:
    nbgrader(world, "release_feedback", AID)
    home = world.base / "home" / "alice"
    nbgrader(world, "fetch_feedback", AID, "--student=alice", cwd=home, env=student_env(world, "alice"))
    fetched = list((home / AID / "feedback").glob("*/convolution.html"))
    assert len(fetched) == 1 and "Score: 20.0 / 22.0" in fetched[0].read_text()


def test_canvas_export_has_the_final_numbers(world: World) -> None:
    out = world.base / "canvas.csv"
    nbgrader(world, "export", "--exporter=autograder.nbgrader_plugins.CanvasGradesExport", f"--to={out}",
             f"--assignment={AID}")
    rows = list(csv.reader(out.read_text().splitlines()))
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] and rows[0][5] == AID
    assert rows[1][5] == "22"
    got = {r[2]: (r[1], r[5]) for r in rows[2:]}
    assert got == {"alice": ("2001", "20"), "bob": ("2002", "0"), "carol": ("2003", "13.95"),
                   "dave": ("2004", "18")}  # dave submitted after the due date too: 10 %
