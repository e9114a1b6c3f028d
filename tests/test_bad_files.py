"""Files students hand in that are not what grading expects (issue 21), through the real CLI on a real course.

One batch of `autograder grade 01_convolution submitted/ --jobs 2` (a local Dask cluster; nbgrader's autograde
records the results in the gradebook) holds every bad file beside good submissions:

- alice (the solution) and bob (partial credit): graded and recorded, as always;
- carol: convolution.ipynb (the released stub) and convolution-Copy1.ipynb (her work): the released name is
  graded; her feedback and the class report name the copy, its size and time, and that it was not graded;
- dave: only convolution-Copy1.ipynb: ungradable, with what to rename (as before);
- erin: the solution with one comment saved in Latin-1: ungradable, where the byte is (line, column, cell) and
  how to fix it, no encoding guessed;
- frank: the solution with a 47.7 MiB embedded image in its outputs (over max_notebook_mb, 20 MiB, only because
  of it): graded without the outputs, full marks, the feedback says so; nbgrader's autograde records it;
- grace: outputs past max_submission_mb (50 MiB in this course): refused unread, with the limits;
- heidi (no cells) and ivan (text cells only): "Your notebook has no code", one line; out of the per-test and
  per-question statistics of the class report, listed under "not graded".

`autograder config` on the same course says what to set when nbgrader_config.py has no c.Exchange.root.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from nbgrader.api import Gradebook, MissingEntry

from autograder.config import Course, load_course
from autograder.samples import make_sample
from tests.conftest import make_course, run_cli
from tests.fixtures.bad_files.make_bad_files import LATIN1_CELL, write_big_outputs
from tests.formgrader_harness import isolated_jupyter_env

pytestmark = pytest.mark.slow

AID, NB = "01_convolution", "convolution.ipynb"
BAD = Path(__file__).resolve().parent / "fixtures" / "bad_files"
STUDENTS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan")
RECORDED = {"alice": 20.0, "bob": 14.0, "carol": 0.0, "frank": 20.0}  # their auto scores in the gradebook
COPY_MTIME = 1_796_000_000  # 2026-11-30 00:53:20 UTC
BIG_OUTPUT = 50_000_000  # base64 characters of frank's image: 47.7 MiB


def submitted(root: Path, student: str) -> Path:
    folder = root / "submitted" / student / AID
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("badfiles")
    course_yml = make_course(tmp / "course", total_timeout_s=300, max_submission_mb=50)
    course = load_course(course_yml)
    root, a = course.root, course.assignment(AID)
    env = isolated_jupyter_env(tmp / "jupyter")
    config = run_cli("--course", course_yml, "config", cwd=root)
    proc = run_cli("--course", course_yml, "release", AID, cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with (tmp / "roster.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "first_name", "last_name", "email", "lms_user_id"])
        writer.writerows([s, s.title(), "Student", f"{s}@example.edu", str(3000 + i)] for i, s in enumerate(STUDENTS))
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "db", "student", "import", str(tmp / "roster.csv")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (submitted(root, "alice") / NB).write_text(make_sample(course, a, "correct"))
    (submitted(root, "bob") / NB).write_text(make_sample(course, a, "partial"))
    (submitted(root, "carol") / NB).write_text(make_sample(course, a, "stub"))
    copy = submitted(root, "carol") / "convolution-Copy1.ipynb"
    copy.write_text(make_sample(course, a, "correct"))
    os.utime(copy, (COPY_MTIME, COPY_MTIME))
    (submitted(root, "dave") / "convolution-Copy1.ipynb").write_text(make_sample(course, a, "correct"))
    shutil.copy(BAD / "latin1_in_a_comment.ipynb", submitted(root, "erin") / NB)
    write_big_outputs(submitted(root, "frank") / NB, BIG_OUTPUT)
    write_big_outputs(submitted(root, "grace") / NB, 54_000_000)
    shutil.copy(BAD / "no_cells.ipynb", submitted(root, "heidi") / NB)
    shutil.copy(BAD / "only_markdown.ipynb", submitted(root, "ivan") / NB)
    assert a.due is not None
    on_time = f"{a.due - timedelta(hours=2):%Y-%m-%d %H:%M:%S.%f} UTC"  # timestamp.txt, as `nbgrader collect` writes
    for student in STUDENTS:
        (submitted(root, student) / "timestamp.txt").write_text(on_time)
    proc = run_cli("--course", course_yml, "grade", AID, "submitted/", "--jobs", "2", "--no-progress", cwd=root,
                   env=env)
    out = root / "grades" / AID
    results = {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/results.json")}
    journal = [json.loads(line) for line in (out / ".grading-journal.jsonl").read_text().splitlines()]
    workers = {str(x["done"]): str(x["worker"]) for x in journal if "done" in x}
    return {"course": course, "proc": proc, "out": out, "results": results, "config": config, "copy": copy,
            "course_yml": course_yml, "workers": workers}


def feedback(batch: dict[str, Any], student: str) -> str:
    return str((batch["out"] / student / "feedback.md").read_text(encoding="utf-8"))


def test_one_batch_grades_every_submission_and_records_the_good_ones(batch: dict[str, Any]) -> None:
    proc = batch["proc"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(batch["results"]) == sorted(STUDENTS)
    assert {s: r["status"] for s, r in batch["results"].items()} == {
        "alice": "graded", "bob": "graded", "carol": "graded", "frank": "graded", "dave": "ungradable",
        "erin": "ungradable", "grace": "ungradable", "heidi": "ungradable", "ivan": "ungradable"}
    assert {s: r["score"] for s, r in batch["results"].items() if r["status"] == "graded"} == RECORDED
    assert f"Gradebook: {len(RECORDED)} of {len(STUDENTS)} recorded by nbgrader's autograde" in proc.stdout
    course: Course = batch["course"]
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}", course.course_id) as gb:
        for student in STUDENTS:
            if student in RECORDED:
                sub = gb.find_submission(AID, student)
                assert sub.score == RECORDED[student], student  # nothing graded by a TA yet: the auto score
            else:
                with pytest.raises(MissingEntry):
                    gb.find_submission(AID, student)
    for student in set(STUDENTS) - set(RECORDED):  # listed as not recorded, with why
        assert f"  - {student}: not recorded" in proc.stdout
    assert (course.root / "autograded" / "frank" / AID / NB).is_file()
    assert "similarity:" not in proc.stderr  # the files that could not be graded are not compared either


def test_a_copy_beside_the_released_name_is_named_not_graded(batch: dict[str, Any]) -> None:
    carol = batch["results"]["carol"]
    size = batch["copy"].stat().st_size
    assert carol["score"] == 0.0  # the released name is graded: the stub
    assert carol["ignored_files"] == [{"name": "convolution-Copy1.ipynb", "size": size, "modified": "2026-11-30 00:53"}]
    assert (f"Also handed in, and NOT graded: `convolution-Copy1.ipynb` ({size / 1024:.1f} KiB, modified "
            "2026-11-30 00:53 UTC). Only convolution.ipynb is graded, as released: if your work is in another file, "
            "rename that file to convolution.ipynb and submit again.") in feedback(batch, "carol")
    assert "ignored_files" not in batch["results"]["alice"]
    # nbgrader's HTML feedback says it too: under the first question of the autograded notebook
    autograded = json.loads((batch["course"].root / "autograded" / "carol" / AID / NB).read_text(encoding="utf-8"))
    tests = [c for c in autograded["cells"] if c["metadata"].get("nbgrader", {}).get("grade")
             and not c["metadata"]["nbgrader"].get("solution")]
    said = ["Note: Also handed in, and NOT graded: `convolution-Copy1.ipynb`" in "".join(o.get("text", ""))
            for c in tests for o in c["outputs"]]
    assert said.count(True) == 1 and said[0], said


def test_only_a_copy_is_still_ungradable_with_what_to_rename(batch: dict[str, Any]) -> None:
    assert batch["results"]["dave"]["message"] == (
        "No convolution.ipynb was submitted (the submission has `convolution-Copy1.ipynb`): name your notebook "
        "convolution.ipynb, as released, and submit again.")


def test_latin1_says_where_and_how_to_fix_it(batch: dict[str, Any]) -> None:
    raw = (BAD / "latin1_in_a_comment.ipynb").read_bytes()
    at = raw.index(b"\xe9")
    line, column = raw.count(b"\n", 0, at) + 1, len(raw[raw.rindex(b"\n", 0, at) + 1:at].decode()) + 1
    cells = json.loads(raw.decode("utf-8", "replace"))["cells"]
    cell = next(i for i, c in enumerate(cells, 1) if c["metadata"].get("nbgrader", {}).get("grade_id") == LATIN1_CELL)
    message = batch["results"]["erin"]["message"]
    assert message.startswith(f"The submitted file is not UTF-8 text, as every Jupyter notebook is: byte 0xE9 at line "
                              f"{line}, column {column} of the file (in cell {cell}, a code cell, line 2 of its "
                              "source) is not UTF-8.")
    assert "retype the character" in message and "Jupyter cannot open it either" in message
    assert (batch["results"]["erin"]["score"], batch["results"]["erin"]["tests"]) == (0.0, [])


def test_outputs_over_the_limit_are_left_out_and_the_notebook_graded(batch: dict[str, Any]) -> None:
    frank = batch["results"]["frank"]
    size = (batch["course"].root / "submitted" / "frank" / AID / NB).stat().st_size
    assert (frank["status"], frank["score"]) == ("graded", 20.0)
    assert frank["message"] == (
        f"Your notebook is {size / 2**20:.1f} MiB, over the limit of 20 MiB, because of its outputs: the outputs of "
        "1 cell (47.7 MiB) were left out before grading (grading never uses outputs). Your notebook was graded.")
    assert frank["message"] in feedback(batch, "frank")
    # graded on the cluster without its outputs, recorded as the file handed in (nbgrader's InjectResults checks it)
    assert batch["workers"]["frank"] != "this process" and batch["workers"]["grace"] == "this process"
    path = batch["course"].root / "submitted" / "frank" / AID / NB
    assert frank["submission_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_past_the_hard_cap_is_refused_unread(batch: dict[str, Any]) -> None:
    grace = batch["results"]["grace"]
    assert grace["status"] == "ungradable"
    assert "over the limit of 20 MiB; a notebook over it is graded without its outputs, but a file over 50 MiB " \
           "is not read at all" in grace["message"]


@pytest.mark.parametrize("student", ["heidi", "ivan"])
def test_a_notebook_without_code_gets_one_line(batch: dict[str, Any], student: str) -> None:
    result = batch["results"][student]
    assert result["status"] == "ungradable" and result["tests"] == []
    assert result["message"].startswith("Your notebook has no code: ")
    assert "Did you submit the right file?" in result["message"]
    assert ("it has no cells at all" if student == "heidi" else "it has 15 cells (15 markdown), none of them a code "
            "cell") in result["message"]
    text = feedback(batch, student)
    assert "not defined" not in text and text.count("Your notebook has no code") == 1


def test_the_class_report_counts_the_bad_files_apart(batch: dict[str, Any]) -> None:
    data = json.loads((batch["out"] / "class-report.json").read_text())
    assert data["submissions"] == len(STUDENTS)
    assert data["status_counts"] == {"graded": 4, "ungradable": 5}
    assert data["scores"]["values"] == [0.0, 14.0, 20.0, 20.0]
    assert data["tests"] and all(t["students"] == 4 for t in data["tests"])
    assert all(q["students"] == 4 for q in data["questions"])
    assert [n["student"] for n in data["not_graded"]] == ["dave", "erin", "grace", "heidi", "ivan"]
    assert data["ignored_files"] == [{"student": "carol", "name": "convolution-Copy1.ipynb",
                                      "size": batch["copy"].stat().st_size, "modified": "2026-11-30 00:53"}]
    page = (batch["out"] / "class-report.html").read_text()
    assert "<td>carol</td><td>convolution-Copy1.ipynb</td>" in page and "<td>not graded</td>" in page


def test_config_says_what_to_set_for_the_exchange(batch: dict[str, Any]) -> None:
    proc = batch["config"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "does not set c.Exchange.root: nbgrader's release_assignment, collect and release_feedback would use " \
           "/srv/nbgrader/exchange" in proc.stdout
    assert "c.Exchange.root = \"/path/to/exchange\"" in proc.stdout
    assert "notebook 20 MiB without its outputs (a file up to 50 MiB is read)" in proc.stdout
    root = batch["course"].root
    with (root / "nbgrader_config.py").open("a") as f:
        f.write(f"c.Exchange.root = {str(root.parent / 'exchange')!r}\n")
    proc = run_cli("--course", batch["course_yml"], "config", cwd=root)
    assert proc.returncode == 0 and "OK (5 assignments)" in proc.stdout and "Exchange" not in proc.stdout


def test_adding_or_removing_a_copy_regrades_and_the_feedback_follows(batch: dict[str, Any]) -> None:
    """(Last: it changes the course.) A copy is part of what was handed in: the same command regrades exactly
    the submissions whose copies changed, and their feedback names the copies there are now."""
    root, course_yml = batch["course"].root, batch["course_yml"]
    batch["copy"].unlink()
    (submitted(root, "alice") / "Untitled.ipynb").write_text("{}")
    proc = run_cli("--course", course_yml, "grade", AID, "submitted/", "--no-progress", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Graded 2, already done 7." in proc.stdout and "2 regraded: submission changed (2)" in proc.stdout
    assert "NOT graded" not in feedback(batch, "carol")
    assert "Also handed in, and NOT graded: `Untitled.ipynb` (2 bytes, modified " in feedback(batch, "alice")
    alice = json.loads((batch["out"] / "alice" / "results.json").read_text())
    assert alice["score"] == 20.0 and [f["name"] for f in alice["ignored_files"]] == ["Untitled.ipynb"]
