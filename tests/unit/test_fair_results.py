"""Pure pieces of fair, explainable results: scores in hundredths, causes merged per question, the CSV's
question columns and file modes, fingerprints and what changed, questions that build on others."""

from __future__ import annotations

import csv
import json
import os
from fractions import Fraction
from pathlib import Path

import pytest

from autograder.config import Assignment, Question
from autograder.dependencies import check_dependencies, dependency_rank, prerequisite_note
from autograder.errors import ConfigError
from autograder.fingerprint import PARTS, changed_parts, describe_changes
from autograder.grade import apportion, score, total_score
from autograder.report import atomic_write, causes, csv_rows, split_message, write_csv
from autograder.suite import TestOutcome

HW = Assignment(id="hw", title="Homework", notebook="hw.ipynb", hidden_suite=Path("hidden/hw"), questions=[
    Question(id="a", title="Part A", points=2), Question(id="essay", title="Essay", points=1.5, manual=True),
    Question(id="b", title="Part B", points=3, depends_on=["a"]),
])


def outcome(question: str, passed: bool, weight: float = 1.0, name: str = "t", message: str = "") -> TestOutcome:
    return TestOutcome(nodeid=name, name=name, question=question, weight=weight, worked_example=False,
                       passed=passed, message=message)


# --- scores in hundredths -------------------------------------------------------------------------
@pytest.mark.parametrize(("total", "weights", "expected"), [
    (200, [1, 1, 1], [67, 67, 66]),
    (600, [Fraction("0.4"), Fraction("0.5"), Fraction("0.35"), Fraction("0.4"), Fraction("0.5"), Fraction("0.75")],
     [83, 104, 72, 83, 103, 155]),
    (100, [1], [100]),
    (1, [1, 1], [1, 0]),
    (0, [1, 2], [0, 0]),
])
def test_apportion_gives_whole_hundredths_that_add_up(total: int, weights: list[Fraction],
                                                      expected: list[int]) -> None:
    shares = apportion(total, [Fraction(w) for w in weights])
    assert shares == expected
    assert sum(shares) == total


def test_scores_add_up_exactly_at_every_level() -> None:
    outcomes = [outcome("a", True, name="a1"), outcome("a", True, name="a2"), outcome("a", False, name="a3"),
                outcome("b", True, 0.4, "b1"), outcome("b", True, 0.35, "b2"), outcome("b", True, 0.75, "b3")]
    tests, questions = score(HW, outcomes)
    assert [t.max_score for t in tests] == [0.67, 0.67, 0.66, 0.8, 0.7, 1.5]
    assert [q.score for q in questions] == [1.34, 3.0]
    assert total_score(questions) == 4.34
    for q in questions:  # the displayed test scores add up to the question's score
        assert round(sum(t.score for t in tests if t.question == q.id), 9) == q.score
    assert not [t for t in tests if "9999" in repr(t.score) or "0000" in repr(t.score)]


def test_a_negative_weight_is_the_courses_mistake() -> None:
    with pytest.raises(ConfigError, match=r"negative \(or not a number\) weight: bad"):
        score(HW, [outcome("a", True), outcome("a", True, -1.0, "bad"), outcome("b", True)])
    with pytest.raises(ConfigError, match=r"negative \(or not a number\) weight: nan"):
        score(HW, [outcome("a", True), outcome("a", True, float("nan"), "nan"), outcome("b", True)])


def test_a_question_whose_tests_all_weigh_zero_is_the_courses_mistake() -> None:
    with pytest.raises(ConfigError, match="question 'a' has only tests of weight 0"):
        score(HW, [outcome("a", True, 0.0), outcome("b", True)])


def test_points_must_be_whole_hundredths() -> None:
    with pytest.raises(ValueError, match="multiple of 0.01"):
        Question(id="q", title="Q", points=1 / 3)


# --- causes -------------------------------------------------------------------------------------
def test_split_message_finds_what_was_tried_outside_brackets() -> None:
    assert split_message("The kernel looks flipped (a convolution): Keras does not flip it. Case: A 3×3 kernel.") == (
        "A 3×3 kernel", "The kernel looks flipped (a convolution): Keras does not flip it.")
    assert split_message("Stride (2, 2) on a 9×9 image: the kernel looks flipped.") == (
        "Stride (2, 2) on a 9×9 image", "the kernel looks flipped.")
    whole = "Your notebook's process stopped while running `f` (killed: SIGKILL)."
    assert split_message(whole) == ("", whole)
    assert split_message("Not run: the time limit was reached.") == ("", "Not run: the time limit was reached.")
    assert split_message("`f` raised ValueError: on this input") == ("", "`f` raised ValueError: on this input")


def test_identical_problems_are_merged_most_frequent_first() -> None:
    messages = ["A 3×3 kernel: the bias is not added."] + [
        f"Case {i}: the kernel looks flipped." for i in range(12)] + ["", "`f` is not implemented yet."]
    found = causes(messages)
    assert [c.count for c in found] == [12, 1, 1]
    assert found[0].line() == "12 tests: the kernel looks flipped. (e.g. Case 0; Case 1; and 10 more)"
    assert found[1].line() == "A 3×3 kernel: the bias is not added."
    assert found[2].line() == "`f` is not implemented yet."


# --- CSV ----------------------------------------------------------------------------------------
def test_csv_has_a_column_per_auto_question_and_relative_feedback_paths(tmp_path: Path) -> None:
    results: list[dict[str, object]] = [
        {"student": s, "assignment": "hw", "status": "graded", "score": 3.5, "max_score": 5.0, "execution_time": 1.0,
         "questions": [{"id": "a", "score": 2.0}, {"id": "b", "score": 1.5}]} for s in ("zoe", "adam")]
    path = tmp_path / "grades" / "hw-grades.csv"
    write_csv(csv_rows(results, HW), HW, path, mode=0o640)
    with path.open(newline="", encoding="utf-8") as f:
        table = list(csv.reader(f))
    assert table[0] == ["student", "assignment", "status", "score", "max_score", "a", "b", "execution_time",
                        "feedback"]
    assert table[1] == ["adam", "hw", "graded", "3.5", "5.0", "2.0", "1.5", "1.0", "adam/feedback.md"]
    assert [r[0] for r in table[1:]] == ["adam", "zoe"]
    assert path.stat().st_mode & 0o777 == 0o640


def test_files_and_new_folders_get_the_courses_mode(tmp_path: Path) -> None:
    path = tmp_path / "out" / "alice" / "results.json"
    old = os.umask(0o077)  # a grader with a private umask still writes files the TA group can read
    try:
        atomic_write(path, "{}", mode=0o640)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640
    assert path.parent.stat().st_mode & 0o777 == 0o750
    assert json.loads(path.read_text()) == {}


# --- fingerprints -------------------------------------------------------------------------------
def test_changed_parts_name_what_changed_in_order() -> None:
    now = {p: "x" for p in PARTS}
    assert changed_parts(dict(now), now) == []
    assert changed_parts({**now, "hidden_suite": "old", "notebook": "old"}, now) == ["notebook", "hidden_suite"]
    assert changed_parts(None, now) == list(PARTS)  # a result from before fingerprints is regraded
    assert describe_changes({"hidden_suite": 3}) == "hidden suite changed (3)"


# --- questions that build on others -------------------------------------------------------------
def test_prerequisites_run_first_and_mistakes_in_depends_on_are_reported() -> None:
    assert dependency_rank(HW) == {"a": 0, "essay": 0, "b": 1}
    bad = HW.model_copy(update={"questions": [
        Question(id="a", title="A", points=1, depends_on=["b"]), Question(id="b", title="B", points=1,
                                                                          depends_on=["a"]),
        Question(id="c", title="C", points=1, depends_on=["nope"]),
        Question(id="d", title="D", points=1, manual=True, depends_on=["a"])]})
    problems = check_dependencies(bad)
    assert "question 'c' depends on 'nope', which is not a question of hw" in problems
    assert any("only auto-graded" in p for p in problems)
    cyclic = HW.model_copy(update={"questions": bad.questions[:2]})
    assert any("cycle: a -> b -> a" in p for p in check_dependencies(cyclic))


def test_prerequisite_notes() -> None:
    assert prerequisite_note("conv2d_layer", ["convolve2d"], substituted=False) == (
        "`conv2d_layer` builds on your `convolve2d`, which fails its tests: fix that first.")
    assert "graded with the course's own `convolve2d` in place of yours" in prerequisite_note(
        "conv2d_layer", ["convolve2d"], substituted=True)
