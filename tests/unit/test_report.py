"""report.py: feedback.md, results.json (written atomically, read back), the batch CSV and the CLI's table."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from autograder.config import Assignment, Question
from autograder.grade import GradeResult, QuestionResult, TestResult
from autograder.late import Late, duration_text, from_timestamp_file, penalty, started_days
from autograder.report import (
    CSV_FIELDS,
    atomic_write,
    feedback_markdown,
    read_result,
    score_table,
    tell_the_story,
    write_csv,
    write_result,
)
from autograder.session import CellOutcome

HW = Assignment(id="hw", title="Homework", notebook="hw.ipynb", hidden_suite=Path("hidden/hw"), questions=[
    Question(id="a", title="Part A", points=2), Question(id="essay", title="Essay", points=1.5, manual=True),
    Question(id="b", title="Part B", points=3),
])
AUTO_ONLY = Assignment(id="auto", title="Auto", notebook="a.ipynb", hidden_suite=Path("h"),
                       questions=[Question(id="a", title="Part A", points=2)])


def tr(question: str, passed: bool, output: str = "", score: float = 1.0, name: str = "t") -> TestResult:
    return TestResult(name=name, question=question, score=score if passed else 0.0, max_score=score,
                      status="passed" if passed else "failed", output="" if passed else output)



def result(tests: list[TestResult], **kw: object) -> GradeResult:
    questions = []
    for q in HW.questions:
        mine = [t for t in tests if t.question == q.id]
        if mine:
            questions.append(QuestionResult(id=q.id, title=q.title, score=sum(t.score for t in mine),
                                            max_score=q.points, tests_passed=sum(t.status == "passed" for t in mine),
                                            tests=len(mine)))
    r = GradeResult(student="alice", assignment="hw", status="graded", score=sum(q.score for q in questions),
                    max_score=HW.auto_max_score, tests=tests, questions=questions)
    for k, v in kw.items():
        setattr(r, k, v)
    return r


ALL_PASS = [tr("a", True, score=2), tr("b", True, score=1.5, name="b1"),
            tr("b", True, score=1.5, name="b2")]


def test_full_marks_feedback_exactly() -> None:
    assert feedback_markdown(result(ALL_PASS), HW) == "\n".join([
        "# hw: Homework",
        "",
        "**Student:** alice  ",
        "**Score:** 5 / 5  (plus 1.5 points graded by a TA)  ",
        "**Status:** graded",
        "",
        "| Question | Score | Tests passed |",
        "|---|---:|---:|",
        "| Part A (`a`) | 2 / 2 | 1 / 1 |",
        "| Part B (`b`) | 3 / 3 | 2 / 2 |",
        "| Essay (`essay`) | graded by a TA / 1.5 | - |",
        "",
        "All hidden tests passed. Well done!",
        "",
    ])


def test_no_manual_questions_no_ta_note() -> None:
    r = GradeResult(student="bob", assignment="auto", status="graded", score=2, max_score=2,
                    tests=[tr("a", True, score=2)],
                    questions=[QuestionResult("a", "Part A", 2, 2, 1, 1)])
    text = feedback_markdown(r, AUTO_ONLY)
    assert "**Score:** 2 / 2  \n" in text and "TA" not in text


def test_failures_are_listed_per_question_in_course_order_merged_by_cause() -> None:
    tests = [tr("b", False, "B is wrong.", 1, "b1"), tr("a", False, "A is wrong.", 1, "a1"),
             tr("b", False, "B is wrong.", 1, "b2"), tr("b", False, "B again.", 0.5, "b3"),
             tr("a", True, score=1, name="a2"), tr("b", True, score=0.5, name="b4"),
             tr("zz", False, "Of no question.", 1, "z")]
    text = feedback_markdown(result(tests), HW)
    assert text.endswith("\n".join([
        "| Part A (`a`) | 1 / 2 | 1 / 2 |",
        "| Part B (`b`) | 0.5 / 3 | 1 / 4 |",
        "| Essay (`essay`) | graded by a TA / 1.5 | - |",
        "",
        "## What to look at",
        "",
        "### Part A (`a`)",
        "- A is wrong.",
        "",
        "### Part B (`b`)",
        "- 2 tests: B is wrong.",
        "- B again.",
        "",
    ]))
    assert "**Start here** (`b`): B is wrong.\n" in text  # the question that lost most, its commonest cause
    assert "**Score:** 1.5 / 5  (plus 1.5" in text
    assert "Well done" not in text and "Of no question" not in text and "Essay (`essay`)\n" not in text


def test_partial_scores_are_rounded_for_people() -> None:
    t = [tr("a", True, score=2 / 3, name="x"), tr("a", True, score=2 / 3, name="y"),
         tr("a", False, "no", 2 / 3, "z"), tr("b", True, score=3)]
    text = feedback_markdown(result(t), HW)
    assert "| Part A (`a`) | 1.33 / 2 | 2 / 3 |" in text and "**Score:** 4.33 / 5" in text


def test_ungradable_has_its_message_and_no_table_and_no_praise() -> None:
    r = GradeResult(student="carol", assignment="hw", status="ungradable", score=0, max_score=5,
                    message="The submitted file is empty.")
    assert feedback_markdown(r, HW) == "\n".join([
        "# hw: Homework", "", "**Student:** carol  ", "**Score:** 0 / 5  (plus 1.5 points graded by a TA)  ",
        "**Status:** ungradable", "", "> The submitted file is empty.", ""])


def test_cell_problems_are_listed_one_based_and_ok_cells_are_not() -> None:
    cells = [CellOutcome(0, "ok"), CellOutcome(2, "error", "NameError", "name 'np' is not defined"),
             CellOutcome(4, "timeout", "", "did not finish within 120 s"),
             CellOutcome(7, "crashed", "", "the worker was killed by SIGKILL"), CellOutcome(9, "skipped")]
    text = feedback_markdown(result(ALL_PASS, cells=cells), HW)
    assert text.endswith("\n".join([
        "All hidden tests passed. Well done!",
        "",
        "## Your notebook",
        "",
        "- Cell 3 raised NameError: name 'np' is not defined",
        "- Cell 5 was stopped: did not finish within 120 s; the rest of the notebook ran without it",
        "- Cell 8 stopped the notebook's process (the worker was killed by SIGKILL); the rest of the notebook ran "
        "without it",
        "- Cell 10 skipped",
        "",
    ]))
    assert "Cell 1 " not in text


def test_worker_output_and_instructor_log_stay_out_of_student_files(tmp_path: Path) -> None:
    r = result(ALL_PASS, worker_output="WORKER-SECRET printed", instructor_log="TRACEBACK-SECRET", execution_time=1.5,
               submission_sha256="ab" * 32, message="note")
    folder = write_result(r, HW, tmp_path)
    assert folder == tmp_path / "alice"
    assert sorted(p.name for p in folder.iterdir()) == ["feedback.html", "feedback.md", "instructor.log",
                                                        "results.json"]
    for name in ("feedback.md", "feedback.html", "results.json"):
        text = (folder / name).read_text(encoding="utf-8")
        assert "SECRET" not in text, name
    log = (folder / "instructor.log").read_text()
    assert log.startswith("student:    alice\nassignment: hw (runner cpu)\nstatus:     graded\nscore:      5 / 5\n")
    assert log.endswith("\n\n--- warnings and failed hidden tests (details for instructors) ---\nTRACEBACK-SECRET\n\n"
                        "--- worker output ---\nWORKER-SECRET printed\n")
    assert (folder / "feedback.md").read_text() == feedback_markdown(r, HW)


def test_results_json_has_gradescopes_keys_and_reads_back(tmp_path: Path) -> None:
    r = result([tr("a", False, "A is wrong.", 2), tr("b", True, score=3)], execution_time=2.25,
               message="hello", cells=[CellOutcome(1, "error", "ValueError", "bad")])
    write_result(r, HW, tmp_path)
    data = read_result(tmp_path, "alice")
    assert data == r.to_json() == json.loads((tmp_path / "alice" / "results.json").read_text())
    assert data is not None
    assert {"score", "max_score", "execution_time", "output", "visibility", "tests"} <= data.keys()
    assert {"worker_output", "instructor_log"}.isdisjoint(data.keys())
    assert (data["score"], data["max_score"], data["output"], data["visibility"]) == (3.0, 5.0, "hello", "visible")
    assert data["tests"] == [
        {"name": "t", "question": "a", "score": 0.0, "max_score": 2.0, "status": "failed", "output": "A is wrong.",
         "worked_example": False, "visibility": "visible", "figures": [], "measurements": {}, "notes": [],
         "charged": True},
        {"name": "t", "question": "b", "score": 3.0, "max_score": 3.0, "status": "passed", "output": "",
         "worked_example": False, "visibility": "visible", "figures": [], "measurements": {}, "notes": [],
         "charged": True}]
    assert data["cells"] == [{"index": 1, "status": "error", "error_type": "ValueError", "error_message": "bad",
                              "label": ""}]


def test_rewriting_a_result_replaces_it_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    write_result(result(ALL_PASS), HW, tmp_path)
    write_result(result(ALL_PASS, status="timeout", message="second"), HW, tmp_path)
    data = read_result(tmp_path, "alice")
    assert data is not None and data["status"] == "timeout" and data["output"] == "second"
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize("content", [None, "", "{not json", "[1, 2]", '"text"', "\udcff"])
def test_read_result_of_a_missing_or_broken_file_is_none(tmp_path: Path, content: str | None) -> None:
    if content is not None:
        (tmp_path / "alice").mkdir()
        (tmp_path / "alice" / "results.json").write_bytes(content.encode("utf-8", "surrogateescape"))
    assert read_result(tmp_path, "alice") is None


def test_atomic_write_makes_folders_overwrites_and_uses_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "f.txt"
    atomic_write(path, "one\r\n")
    atomic_write(path, "two\n")
    assert path.read_bytes() == b"two\n"
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.txt"]


def test_write_csv_sorts_by_student_and_keeps_only_its_columns(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [
        {"student": "zoe", "assignment": "hw", "status": "graded", "score": 4.5, "max_score": 5,
         "execution_time": 1.25, "feedback": "zoe/feedback.md", "extra": "ignored"},
        {"student": "adam", "assignment": "hw", "status": "ungradable", "score": 0.0, "max_score": 5,
         "feedback": 'says "hi", twice\nand more'},
    ]
    path = tmp_path / "out" / "hw-grades.csv"
    write_csv(rows, None, path)
    with path.open(newline="", encoding="utf-8") as f:
        table = list(csv.reader(f))
    assert table == [
        CSV_FIELDS,
        ["adam", "hw", "ungradable", "0.0", "5", "", 'says "hi", twice\nand more'],
        ["zoe", "hw", "graded", "4.5", "5", "1.25", "zoe/feedback.md"],
    ]
    assert CSV_FIELDS == ["student", "assignment", "status", "score", "max_score", "execution_time", "feedback"]


def test_write_csv_of_no_rows_is_just_the_header(tmp_path: Path) -> None:
    write_csv([], None, tmp_path / "g.csv")
    assert (tmp_path / "g.csv").read_bytes() == (",".join(CSV_FIELDS) + "\r\n").encode()


def test_score_table_exactly() -> None:
    rows: list[dict[str, object]] = [
        {"student": "al", "status": "graded", "score": 17.5, "max_score": 20.0, "execution_time": 3.2},
        {"student": "bo", "status": "ungradable", "score": 0.0, "max_score": 20.0, "execution_time": 0.0},
    ]
    assert score_table(rows) == "\n".join([
        "student  status             score  time",
        "al       graded         17.5/20.0  3.2s",
        "bo       ungradable      0.0/20.0  0.0s",
    ])


def test_score_table_widens_for_long_names() -> None:
    rows: list[dict[str, object]] = [{"student": "maximilian.mustermann", "status": "timeout", "score": 1,
                                      "max_score": 2, "execution_time": 900}]
    lines = score_table(rows).splitlines()
    assert lines[0].startswith("student" + " " * (len("maximilian.mustermann") - 7) + "  status")
    assert lines[1] == "maximilian.mustermann  timeout              1/2  900s"
    assert len({line.index("status") if i == 0 else line.index("timeout") for i, line in enumerate(lines)}) == 1


def test_score_table_of_no_rows_is_the_header() -> None:
    assert score_table([]) == "student  status             score  time"


def test_a_long_cell_error_is_kept_whole_in_results_but_cut_in_feedback() -> None:
    long = "y" * 1500  # validate shows all of it; feedback.md the first 300 characters
    r = result(ALL_PASS, cells=[CellOutcome(3, "error", "ValueError", long)])
    text = feedback_markdown(r, HW)
    assert f"- Cell 4 raised ValueError: {'y' * 300}…" in text and "y" * 301 not in text
    assert r.to_json()["cells"][0]["error_message"] == long


# --- the late penalty and the questions a TA still grades (issue 21) -------------------------------------


@pytest.mark.parametrize(("seconds", "days", "text"), [
    (0, 0, "0 s"), (45, 1, "45 s"), (60, 1, "1 min"), (3 * 3600 + 20 * 60, 1, "3 h 20 min"), (86400, 1, "1 day"),
    (29 * 3600, 2, "1 day 5 h"), (3 * 86400 + 1, 4, "3 days"),
])
def test_started_days_and_how_late(seconds: float, days: int, text: str) -> None:
    assert (started_days(seconds), duration_text(seconds)) == (days, text)


def test_the_late_line_has_the_score_before_and_after() -> None:
    late = Late("gradebook", 29 * 3600, 10.0, 18.0, 20.0, penalty(18.0, 29 * 3600, 10.0))
    assert late.line() == "Late by 1 day 5 h (2 started days x 10 %): -3.6 points -> 14.4 / 20"
    assert late.to_json()["score_after"] == pytest.approx(14.4) and late.to_json()["started_days"] == 2
    assert Late("gradebook", 0.0, 10.0, 18.0, 20.0, 0.0).line() == ""  # on time: nothing to say
    assert "no submission time" in Late("lms-mark", None, 10.0, 18.0, 20.0, 0.0).line()
    assert Late("gradebook", 90.0, 0.0, 18.0, 20.0, 0.0).line() == "Late by 1 min (this course has no late penalty)"


def test_feedback_names_the_penalty_and_the_pending_questions() -> None:
    late = Late("gradebook", 86400 + 1, 10.0, 5.0, 6.5, 1.0)
    md = feedback_markdown(result(ALL_PASS), HW, late=late, pending=[("essay", 1.5)])
    assert "**Late:** Late by 1 day (2 started days x 10 %): -1 points -> 4 / 6.5  " in md.splitlines()
    assert "**Not graded yet:** 1.5 points still to be graded by a TA: Essay (`essay`, 1.5)  " in md.splitlines()
    assert feedback_markdown(result(ALL_PASS), HW) == feedback_markdown(result(ALL_PASS), HW, late=None, pending=[])


def test_a_timestamp_txt_outside_the_gradebook(tmp_path: Path) -> None:
    from datetime import datetime

    stamp = tmp_path / "timestamp.txt"
    stamp.write_text("2027-01-27 04:59:00.123456 UTC")
    late = from_timestamp_file(stamp, datetime(2027, 1, 25, 23, 59), 10.0, 18.0, 20.0)
    assert late is not None and late.line() == "Late by 1 day 5 h (2 started days x 10 %): -3.6 points -> 14.4 / 20"
    assert from_timestamp_file(tmp_path / "missing.txt", datetime(2027, 1, 25), 10.0, 18.0, 20.0) is None
    stamp.write_text("yesterday")
    assert from_timestamp_file(stamp, datetime(2027, 1, 25), 10.0, 18.0, 20.0) is None


def test_telling_the_story_rewrites_the_students_files_not_the_log(tmp_path: Path) -> None:
    r = result(ALL_PASS, instructor_log="details")
    folder = write_result(r, HW, tmp_path)
    log = (folder / "instructor.log").read_text()
    before = json.loads((folder / "results.json").read_text())
    late = Late("gradebook", 3600, 10.0, 5.0, 6.5, 0.5)
    assert tell_the_story(tmp_path, HW, "alice", late=late, pending=[("essay", 1.5)])
    data = json.loads((folder / "results.json").read_text())
    assert {k: v for k, v in data.items() if k not in ("late", "ta_grading")} == before  # Gradescope's keys kept
    assert data["late"]["penalty"] == 0.5 and data["late"]["text"] == late.line()
    assert data["ta_grading"] == {"pending_points": 1.5, "pending": [{"id": "essay", "title": "Essay", "points": 1.5}]}
    assert late.line() in (folder / "feedback.md").read_text()
    assert late.line().replace(">", "&gt;") in (folder / "feedback.html").read_text()
    assert (folder / "instructor.log").read_text() == log
    inodes = {p.name: p.stat().st_ino for p in folder.iterdir()}
    assert tell_the_story(tmp_path, HW, "alice", late=late, pending=[("essay", 1.5)])  # says it already: no write
    assert {p.name: p.stat().st_ino for p in folder.iterdir()} == inodes
    assert tell_the_story(tmp_path, HW, "alice", late=None, pending=[])  # again: on time, nothing pending
    assert json.loads((folder / "results.json").read_text())["late"] is None
    assert not tell_the_story(tmp_path, HW, "nobody", late=None, pending=None)


def test_a_diagnosed_cause_starts_the_feedback_even_when_another_question_lost_more() -> None:
    tests = [tr("a", False, "The prepared images should be float32.", 2),
             tr("b", False, "The kernel looks flipped. Case: stride 2.", 1.5, name="b1"),
             tr("b", False, "The kernel looks flipped. Case: padding 'same'.", 1.5, name="b2")]
    text = feedback_markdown(result(tests), HW)
    assert "**Start here** (`b`): The kernel looks flipped." in text
    assert "- 2 tests, one mistake: The kernel looks flipped. (e.g. stride 2; padding 'same')" in text


def test_the_start_line_keeps_the_subject_of_an_undiagnosed_message() -> None:
    tests = [tr("a", False, "The convolutional base is not frozen: its 14,714,688 weights would be trained.", 2)]
    text = feedback_markdown(result(tests), HW)
    assert "**Start here** (`a`): The convolutional base is not frozen: its 14,714,688 weights would be trained." \
        in text


def test_what_the_grader_measured_is_shown_passed_or_failed() -> None:
    passed = tr("a", True, score=2)
    passed.notes = ["The grader trained build_cnn()'s network: held-out accuracy 0.912, at least 0.80 needed."]
    failed = tr("b", False, "Too low.", 1.5, name="b1")
    failed.notes = ["held-out accuracy 0.412, at least 0.80 needed."]
    text = feedback_markdown(result([passed, failed, tr("b", True, score=1.5, name="b2")]), HW)
    assert "## What the grader measured\n\n" \
           "- `a` (passed): The grader trained build_cnn()'s network: held-out accuracy 0.912, at least 0.80 " \
           "needed.\n" \
           "- `b` (not passed): held-out accuracy 0.412, at least 0.80 needed.\n" in text


def test_cells_are_named_by_what_they_define_or_their_first_line() -> None:
    from autograder.grade import cell_label

    assert cell_label("import numpy as np\n\ndef build_augmenter(x):\n    return x\n") == \
        "The cell that defines `build_augmenter`"
    assert cell_label("def f(): pass\nclass G: pass\ndef h(): pass\ndef i(): pass") == \
        "The cell that defines `f`, `G` and `h` (and 1 more)"
    assert cell_label("# train it\n\nhistory = model.fit(x, y, epochs=30)\n") == \
        "The cell that starts `history = model.fit(x, y, epochs=30)`"
    assert cell_label("def broken(:\n") == "The cell that starts `def broken(:`"
    assert cell_label("x = '`<img src=x onerror=alert(1)>`'") == \
        "The cell that starts ``x = '`<img src=x onerror=alert(1)>`'``"  # a code span Markdown shows as text
    assert cell_label("# only a comment\n") == "An empty cell"
    long = cell_label("y = " + "1 + " * 100)
    assert len(long) < 100 and long.endswith("…`")
    cells = [CellOutcome(2, "error", "ValueError", "bad", label=cell_label("def build_augmenter(): ...")),
             CellOutcome(4, "error", "KeyError", "k")]
    text = feedback_markdown(result(ALL_PASS, cells=cells), HW)
    assert "- The cell that defines `build_augmenter` raised ValueError: bad" in text
    assert "- Cell 5 raised KeyError: k" in text  # a result written before cells had labels
