"""Issue 20: what a submission can put in the files and on the terminal is bounded and visible
(:mod:`autograder.bounds`), and folder and file names map to student ids losslessly (:mod:`autograder.names`)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from autograder import bounds, names
from autograder.bounds import (
    FEEDBACK_MAX,
    INSTRUCTOR_LOG_MAX,
    MAX_CELL_PROBLEMS,
    RESULTS_MAX,
    bound_result,
    results_size,
    visible,
)
from autograder.config import Assignment
from autograder.grade import GradeResult, QuestionResult, TestResult
from autograder.report import feedback_markdown, instructor_log, score_table
from autograder.session import CellOutcome

ESC_TITLE = "\x1b]0;pwned\x07"


def result_with(cells: list[CellOutcome], **kw: object) -> GradeResult:
    tests = [TestResult(name=f"test_{i}", question="output_size", score=0.0, max_score=0.1, status="failed",
                        output=f"Case {i}: wrong") for i in range(10)]
    return GradeResult(student="s", assignment="01_convolution", status="graded", score=0.0, max_score=20.0,
                       tests=tests, questions=[QuestionResult("output_size", "Output size", 0.0, 1.0, 0, 10)],
                       cells=cells, **kw)  # type: ignore[arg-type]


def failing_cells(n: int, message: str = "x" * 5000) -> list[CellOutcome]:
    return [CellOutcome(i, "error", "ValueError", f"cell {i} {message}") for i in range(n)]


# --- visible -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "shown"), [
    (ESC_TITLE, "\\x1b]0;pwned\\x07"),
    ("\x1b[2J\x1b[31mred\x9b2J", "\\x1b[2J\\x1b[31mred\\x9b2J"),  # C1 CSI too
    ("a\r\nb\tc\x00d\x7f", "a\\x0d\nb\tc\\x00d\\x7f"),  # a carriage return could overwrite a line
    ("evil\u202etxt.ipynb", "evil\\u202etxt.ipynb"),  # a bidi override would show it reversed
    ("zero\u200bwidth", "zero\\u200bwidth"),
    ("Müller, 名前, ü", "Müller, 名前, ü"),  # printable Unicode is kept
])
def test_controls_become_visible_escapes(raw: str, shown: str) -> None:
    assert visible(raw) == shown
    assert visible(shown) == shown  # escaping twice changes nothing


def test_one_line_values_escape_newlines_too() -> None:
    assert visible("a\nb\tc", lines=False) == "a\\x0ab\\x09c"


def test_score_table_escapes_names_and_statuses() -> None:
    table = score_table([{"student": f"eve{ESC_TITLE}", "status": "graded\n", "score": 1, "max_score": 2,
                          "execution_time": 0.5}])
    assert "\x1b" not in table and "\x07" not in table and table.count("\n") == 1
    assert "eve\\x1b]0;pwned\\x07" in table


# --- bounded results -------------------------------------------------------------------------------
def test_fifteen_hundred_failing_cells_give_bounded_files_with_the_cut_said(a01: Assignment) -> None:
    result = result_with(failing_cells(1500) + [CellOutcome(1500 + i, "ok") for i in range(5000)])
    unbounded = results_size(result)
    assert unbounded > 3 * 2**20  # what the red team measured: 3 MiB
    bound_result(result)
    assert results_size(result) <= RESULTS_MAX
    listed = [c for c in result.cells if c.status == "error"]
    assert [c.index for c in listed] == list(range(MAX_CELL_PROBLEMS))  # the first ones, in notebook order
    assert all(len(c.error_message) <= bounds.MESSAGE_MAX + 1 for c in listed)
    last = result.cells[-1]
    assert (last.status, last.index) == ("omitted", -1)
    assert last.error_message == ("... and 1,480 more cells raised errors (not shown; 4,820 more that ran are "
                                  "not listed)")
    assert len(result.cells) == bounds.MAX_CELLS + 1
    feedback = feedback_markdown(result, a01)
    assert len(feedback.encode()) <= FEEDBACK_MAX
    assert "- ... and 1,480 more cells raised errors (not shown" in feedback
    assert feedback.count("raised ValueError") == MAX_CELL_PROBLEMS
    # the result survives the trip through JSON (a Dask worker's answer) and stays bounded when bounded again
    again = GradeResult.from_dict(json.loads(json.dumps(dataclasses.asdict(result))))
    assert bound_result(again).cells == result.cells


def test_a_bounded_result_bounded_again_keeps_what_was_left_out() -> None:
    result = bound_result(result_with(failing_cells(30)))
    note = result.cells[-1].error_message
    assert note == "... and 10 more cells raised errors (not shown)"
    assert bound_result(result).cells[-1].error_message == note
    assert len(result.cells) == MAX_CELL_PROBLEMS + 1


def test_few_cells_are_left_alone() -> None:
    cells = failing_cells(3, "short") + [CellOutcome(3, "ok"), CellOutcome(4, "timeout", "", "10 s")]
    result = bound_result(result_with(list(cells)))
    assert [(c.index, c.status) for c in result.cells] == [(0, "error"), (1, "error"), (2, "error"), (3, "ok"),
                                                           (4, "timeout")]


def test_messages_of_many_byte_characters_still_fit() -> None:
    """JSON writes an emoji as 12 bytes: the caps in characters alone would allow 480 KiB; the result is made
    smaller step by step until it fits."""
    result = result_with(failing_cells(40, "\U0001f600" * 3000), message="\U0001f600" * 5000)
    for t in result.tests:
        t.output = "\U0001f600" * 5000
    assert results_size(bound_result(result)) <= RESULTS_MAX
    assert [t.score for t in result.tests] == [0.0] * 10 and len(result.tests) == 10  # scores never dropped


def test_pictures_are_capped_and_the_test_says_so() -> None:
    result = result_with([])
    big = {"kind": "arrays", "student": [[0.123456789] * 64] * 400}
    small = {"kind": "arrays", "student": [[1, 2], [3, 4]]}
    result.tests[0].figures = [big]
    for t in result.tests[1:]:
        t.figures = [small, small]
    bound_result(result)
    assert result.tests[0].figures == []
    assert result.tests[0].output.endswith("(The picture of this test was left out: too large, or too many pictures.)")
    assert sum(len(t.figures) for t in result.tests) == bounds.MAX_FIGURES


def test_instructor_log_is_bounded_and_has_no_raw_escape() -> None:
    result = result_with([], message=f"named {ESC_TITLE}")
    result.worker_output = (ESC_TITLE + "\x1b[2J" + "y" * 1000 + "\n") * 5000  # 5 MB of output
    result.instructor_log = ("Traceback \x1b[31m" + "z" * 1000 + "\n") * 2000
    bound_result(result)
    log = instructor_log(result, sandbox="test")
    assert len(log.encode()) <= INSTRUCTOR_LOG_MAX
    assert "\x1b" not in log and "\x07" not in log
    assert "\\x1b]0;pwned\\x07" in log and "bytes left out" in log


def test_feedback_has_no_raw_control_character(a01: Assignment) -> None:
    result = result_with([CellOutcome(0, "error", "ValueError", ESC_TITLE)])
    result.tests[0].output = f"Case 0: {ESC_TITLE}"
    text = feedback_markdown(bound_result(result), a01)
    assert "\x1b" not in text and "\x07" not in text
    assert "raised ValueError: \\x1b]0;pwned\\x07" in text


def test_feedback_is_cut_at_its_bound_with_a_note(a01: Assignment) -> None:
    result = result_with([])
    result.tests = [TestResult(name=f"t{i}", question="output_size", score=0.0, max_score=0.0, status="failed",
                               output=f"{i} " + "w" * 1999) for i in range(400)]  # 400 different causes
    text = feedback_markdown(result, a01)
    assert len(text.encode()) <= FEEDBACK_MAX
    assert text.endswith("... (the rest of this feedback was cut: it is limited to 64 KiB)")


# --- student ids -----------------------------------------------------------------------------------
NAMES = ["alice", "dave", "dave+", "Dave", "jo.doe@uni.edu", "a b", "a_b", "a%20b", "a%b", ".hidden", "%2Ehidden",
         "-rf", "über", "u\u0308ber", "а", "a", ESC_TITLE, "x/y", "\udcff", "", "%", "名前", "ｄａｖｅ"]


def test_ids_are_lossless_and_never_the_same_for_two_names() -> None:
    ids = [names.student_id(n) for n in NAMES]
    assert len(set(ids)) == len(NAMES)
    assert [names.name_of(i) for i in ids] == NAMES
    for sid in ids:
        assert names.SAFE.fullmatch(sid[0]) or sid[0] == "%"
        assert all(names.SAFE.fullmatch(ch) or ch == "%" for ch in sid)  # 67 characters: safe anywhere
        assert not sid.startswith((".", "-"))


@pytest.mark.parametrize(("name", "sid"), [("dave+", "dave+"), ("dave+cs101@uni.edu", "dave+cs101@uni.edu"),
                                           ("Bob Smith", "Bob%20Smith"), ("über", "%C3%BCber"), ("а", "%D0%B0"),
                                           (".hidden", "%2Ehidden"), ("a%b", "a%25b"),
                                           (ESC_TITLE, "%1B%5D0%3Bpwned%07")])
def test_the_documented_mapping(name: str, sid: str) -> None:
    assert names.student_id(name) == sid


def test_collisions_are_named_and_the_others_are_not() -> None:
    found = names.problems(["dave", "dave+", "Dave", "carol", "erin", "erin", "e" * 129])
    assert set(found) == {"dave", "Dave", "erin", "e" * 129}
    assert found["Dave"].startswith("looks the same as 'dave'")
    assert found["erin"].startswith("2 submissions for this student")
    assert "129 characters long" in found["e" * 129]


def test_the_gradebook_takes_only_names_that_are_their_own_ids() -> None:
    assert names.gradebook_problem("dave+") == ""
    assert names.gradebook_problem("jo.doe@uni.edu") == ""
    problem = names.gradebook_problem(f"eve{ESC_TITLE}")
    assert "graded as 'eve%1B%5D0%3Bpwned%07'" in problem and "\x1b" not in problem
    for glob in ("a*", "a?", "[ab]", " alice", "a,b"):  # nbgrader would glob, strip or split these
        assert names.gradebook_problem(glob)


def test_validate_lists_the_first_problem_cells_and_counts_the_rest() -> None:
    from autograder.validate import ValidateResult, validate_markdown

    result = ValidateResult("01_convolution", "Convolution by hand", "n.ipynb",
                            cells=bounds.bound_cells(failing_cells(1500, ESC_TITLE),
                                                     max_cells=1500))
    text = validate_markdown(result)
    assert text.count("raised ValueError") == MAX_CELL_PROBLEMS
    assert "- ... and 1,480 more cells raised errors (not shown)" in text
