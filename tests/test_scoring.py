"""Scores are exact: a question's tests share its points in whole hundredths that add up, at every level."""

from __future__ import annotations

import json

import pytest

from autograder.config import load_course
from autograder.errors import ConfigError
from autograder.grade import GradeResult, score
from autograder.report import feedback_markdown, points_text
from autograder.suite import TestOutcome
from tests.conftest import REPO

COURSE = load_course(REPO / "course.yml")
A01 = COURSE.assignment("01_convolution")


def outcome(question: str, passed: bool, weight: float = 1, name: str = "t") -> TestOutcome:
    return TestOutcome(nodeid=name, name=name, question=question, weight=weight, worked_example=False,
                       passed=passed, message="" if passed else f"{name} failed")


def all_auto(passed: bool = True, per_question: int = 3) -> list[TestOutcome]:
    return [outcome(q.id, passed, name=f"{q.id}_{i}") for q in A01.questions if not q.manual
            for i in range(per_question)]


def test_three_thirds_of_two_points_are_two_not_two_point_0001() -> None:
    tests, questions = score(A01, all_auto(True, per_question=3))
    by_id = {q.id: q for q in questions}
    assert by_id["output_size"].score == 2.0 == by_id["output_size"].max_score
    assert sum(q.score for q in questions) == A01.auto_max_score == 20
    assert all(q.score <= q.max_score for q in questions)
    # per-test shares are whole hundredths that add up to the points (the displayed numbers add up)
    assert [t.max_score for t in tests if t.question == "output_size"] == [0.67, 0.67, 0.66]


def test_partial_question_total_is_the_exact_sum_and_never_above_points() -> None:
    outcomes = [outcome("output_size", True, 1, "a"), outcome("output_size", True, 1, "b"),
                outcome("output_size", False, 1, "c")]
    outcomes += [o for o in all_auto(False) if o.question != "output_size"]
    tests, questions = score(A01, outcomes)
    q = next(q for q in questions if q.id == "output_size")
    assert q.score == 1.34 and q.tests_passed == 2 and q.tests == 3
    assert points_text(q.score) == "1.34"


def test_weights_share_points_exactly() -> None:
    outcomes = [outcome("convolve2d", True, 0.1, "a"), outcome("convolve2d", True, 0.2, "b"),
                outcome("convolve2d", True, 0.7, "c")]
    outcomes += [o for o in all_auto(True) if o.question != "convolve2d"]
    _, questions = score(A01, outcomes)
    assert next(q for q in questions if q.id == "convolve2d").score == 6.0


def test_manual_questions_take_no_hidden_tests() -> None:
    with pytest.raises(ConfigError, match="unknown or manual questions.*padding_written"):
        score(A01, [*all_auto(True), outcome("padding_written", True)])
    _, questions = score(A01, all_auto(True))
    assert "padding_written" not in {q.id for q in questions}


def test_feedback_shows_whole_points_and_the_ta_graded_question() -> None:
    tests, questions = score(A01, all_auto(True, per_question=3))
    result = GradeResult(student="s", assignment=A01.id, status="graded", score=20.0, max_score=20.0,
                         tests=tests, questions=questions)
    text = feedback_markdown(result, A01)
    assert "1.9999" not in text and "2.0001" not in text
    assert "| 2 / 2 | 3 / 3 |" in text
    assert "graded by a TA / 2" in text
    assert "plus 2 points graded by a TA" in text


def test_results_json_has_gradescopes_test_keys() -> None:
    tests, questions = score(A01, all_auto(False, per_question=1))
    result = GradeResult(student="s", assignment=A01.id, status="graded", score=0.0, max_score=20.0,
                         message="note", tests=tests, questions=questions)
    data = json.loads(json.dumps(result.to_json()))
    assert data["output"] == "note" and data["visibility"] == "visible"
    t = data["tests"][0]
    assert {"name", "score", "max_score", "status", "output", "visibility"} <= t.keys()
    assert "message" not in t and t["output"].endswith("failed")
    assert "worker_output" not in data and "instructor_log" not in data


@pytest.mark.parametrize(("value", "text"), [
    (17.5, "17.5"), (20.0, "20"), (20, "20"), (16.666, "16.67"), (1.10, "1.1"), (100.0, "100"),
    (0.004, "0"), (-0.001, "0"), (0.0, "0"), (3.14159, "3.14"), (1234567.0, "1234567"),
])
def test_points_text_rounds_for_display_only(value: float, text: str) -> None:
    assert points_text(value) == text
