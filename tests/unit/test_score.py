"""grade.score: course.yml's points shared among a question's hidden tests by weight, exactly; report.points_text."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from autograder.config import Assignment, Question
from autograder.errors import ConfigError
from autograder.grade import score
from autograder.report import points_text
from autograder.suite import TestOutcome, diagnosed_cause


def small(*questions: Question) -> Assignment:
    return Assignment(id="hw", title="Homework", notebook="hw.ipynb", hidden_suite=Path("hidden/hw"),
                      questions=list(questions))


def q(qid: str, points: float, manual: bool = False) -> Question:
    return Question(id=qid, title=qid.upper(), points=points, manual=manual)


def out(question: str, passed: bool, weight: float = 1.0, name: str = "t", worked_example: bool = False,
        message: str | None = None) -> TestOutcome:
    text = "" if passed else (message if message is not None else f"{name} failed")
    return TestOutcome(nodeid=f"hidden/{name}", name=name, question=question, weight=weight,
                       worked_example=worked_example, passed=passed, message=text, cause=diagnosed_cause(text))


def test_equal_weights_share_the_points_and_all_passing_earns_exactly_the_points() -> None:
    tests, [qr] = score(small(q("a", 2)), [out("a", True, name=f"t{i}") for i in range(3)])
    assert qr.score == 2.0 and qr.max_score == 2.0 and (qr.tests_passed, qr.tests) == (3, 3)
    assert [t.max_score for t in tests] == [0.67, 0.67, 0.66]  # whole hundredths that add up to the points
    assert [t.score for t in tests] == [0.67, 0.67, 0.66]
    assert all(t.status == "passed" and t.output == "" for t in tests)


def test_ten_tenths_sum_to_one_exactly_where_a_float_sum_would_not() -> None:
    assert sum([0.1] * 10) != 1.0  # the trap the fractions avoid
    _, [qr] = score(small(q("a", 1)), [out("a", True, name=f"t{i}") for i in range(10)])
    assert qr.score == 1.0


def test_unrepresentable_float_weights_still_add_up_to_the_points() -> None:
    weights = [0.1, 0.2, 0.7, 1 / 3, 1 / 3, 1 / 3]
    tests, [qr] = score(small(q("a", 3)), [out("a", True, w, f"t{i}") for i, w in enumerate(weights)])
    assert qr.score == 3.0
    assert sum(Fraction(t.max_score) for t in tests) == pytest.approx(3, abs=1e-12)


def test_shares_are_proportional_to_weight_and_only_passed_tests_earn() -> None:
    tests, [qr] = score(small(q("a", 4)), [out("a", False, 1, "light"), out("a", True, 3, "heavy")])
    by_name = {t.name: t for t in tests}
    assert (by_name["light"].score, by_name["light"].max_score, by_name["light"].status) == (0.0, 1.0, "failed")
    assert (by_name["heavy"].score, by_name["heavy"].max_score, by_name["heavy"].status) == (3.0, 3.0, "passed")
    assert (qr.score, qr.max_score, qr.tests_passed, qr.tests) == (3.0, 4.0, 1, 2)


def test_partial_score_is_the_sum_of_the_passed_shares_in_hundredths() -> None:
    _, [qr] = score(small(q("a", 2)), [out("a", True, name="x"), out("a", True, name="y"), out("a", False, name="z")])
    assert qr.score == 1.34


def test_nothing_passed_scores_zero_out_of_the_points() -> None:
    tests, [qr] = score(small(q("a", 5)), [out("a", False, 2, "x"), out("a", False, 3, "y")])
    assert (qr.score, qr.max_score, qr.tests_passed) == (0.0, 5.0, 0)
    assert [t.score for t in tests] == [0.0, 0.0] and [t.max_score for t in tests] == [2.0, 3.0]


def test_a_zero_weight_test_is_worth_nothing_and_the_others_share_the_points() -> None:
    tests, [qr] = score(small(q("a", 2)), [out("a", True, 0, "free"), out("a", False, 1, "real")])
    assert [(t.name, t.score, t.max_score) for t in tests] == [("free", 0.0, 0.0), ("real", 0.0, 2.0)]
    assert qr.score == 0.0


def test_a_negative_weight_is_refused_instead_of_pushing_a_score_above_the_points() -> None:
    with pytest.raises(ConfigError, match="negative"):
        score(small(q("a", 1)), [out("a", True, 2, "x"), out("a", False, -1, "y")])


def test_failed_test_keeps_its_message_and_worked_example_flag() -> None:
    tests, _ = score(small(q("a", 1)), [out("a", False, name="x", worked_example=True, message="Look at the sign.")])
    assert (tests[0].output, tests[0].worked_example, tests[0].question, tests[0].visibility) == (
        "Look at the sign.", True, "a", "visible")


def test_results_follow_course_order_not_outcome_order() -> None:
    a = small(q("first", 1), q("second", 1))
    tests, questions = score(a, [out("second", True, name="s1"), out("first", True, name="f1"),
                                 out("second", False, name="s2")])
    assert [qr.id for qr in questions] == ["first", "second"]
    assert [t.name for t in tests] == ["f1", "s1", "s2"]
    assert [qr.title for qr in questions] == ["FIRST", "SECOND"]


def test_manual_questions_get_no_result_and_no_tests() -> None:
    a = small(q("auto", 3), q("essay", 2, manual=True))
    tests, questions = score(a, [out("auto", True)])
    assert [qr.id for qr in questions] == ["auto"]
    assert sum(qr.max_score for qr in questions) == a.auto_max_score == 3.0
    assert a.max_score == 5.0


def test_a_hidden_test_for_a_manual_question_is_a_config_error() -> None:
    a = small(q("auto", 3), q("essay", 2, manual=True))
    with pytest.raises(ConfigError, match=r"unknown or manual questions: \['essay'\]"):
        score(a, [out("auto", True), out("essay", True)])


def test_a_hidden_test_for_an_unknown_question_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"hw grades unknown or manual questions: \['nope', 'zzz'\]"):
        score(small(q("a", 1)), [out("a", True), out("zzz", True), out("nope", False)])


def test_a_question_without_tests_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="has no test for question 'b'"):
        score(small(q("a", 1), q("b", 1)), [out("a", True)])


def test_zero_point_question_scores_zero() -> None:
    tests, [qr] = score(small(q("a", 0)), [out("a", True)])
    assert (qr.score, qr.max_score, tests[0].max_score) == (0.0, 0.0, 0.0)


def test_real_course_full_marks_are_the_auto_max_score(a01: Assignment) -> None:
    outcomes = [out(qq.id, True, w, f"{qq.id}_{i}") for qq in a01.questions if not qq.manual
                for i, w in enumerate([0.75, 0.5, 1 / 3, 0.35])]
    tests, questions = score(a01, outcomes)
    assert [qr.id for qr in questions] == [qq.id for qq in a01.questions if not qq.manual]
    assert "padding_written" not in {qr.id for qr in questions}
    assert all(qr.score == qr.max_score == a01.question(qr.id).points for qr in questions)
    assert sum(Fraction(qr.score) for qr in questions) == Fraction(a01.auto_max_score) == 20
    assert len(tests) == 4 * len(questions)


@pytest.mark.parametrize(("value", "text"), [
    (17.5, "17.5"), (20, "20"), (20.0, "20"), (10, "10"), (100, "100"), (0, "0"), (0.0, "0"), (-0.0, "0"),
    (-0.001, "0"), (4 / 3, "1.33"), (2 / 3, "0.67"), (1.999, "2"), (2.5, "2.5"), (0.1 + 0.2, "0.3"),
    (-1.5, "-1.5"), (1234.5, "1234.5"), (1e-9, "0"), (0.125, "0.12"),
])
def test_points_text(value: float, text: str) -> None:
    assert points_text(value) == text


# --- one diagnosed cause costs at most half of its question (README: "Penalties") --------------------------
def test_one_diagnosed_cause_costs_at_most_half_of_its_question_heaviest_tests_first() -> None:
    cause = "pool2d ignores the stride: the windows moved by the window size."
    outcomes = [out("a", False, 1, "t1", message=f"{cause} Case: stride 1."),
                out("a", False, 2, "t2", message=f"{cause} Case: the lecture's 4×4 map."),
                out("a", False, 1, "t3", message=f"{cause} Case: 3 channels."),
                out("a", True, 1, "t4")]
    tests, [qr] = score(small(q("a", 5)), outcomes)
    assert [t.max_score for t in tests] == [1.0, 2.0, 1.0, 1.0]
    # 4 points of failures, capped at 2.5: the heaviest (t2) first, then t1 in part, t3 costs nothing
    assert [t.score for t in tests] == [0.5, 0.0, 1.0, 1.0]
    assert [t.charged for t in tests] == [True, True, False, True]
    assert [t.status for t in tests] == ["failed", "failed", "failed", "passed"]  # still shown as failed
    assert qr.score == 2.5 and qr.tests_passed == 1


def test_a_cause_that_costs_less_than_half_costs_all_its_tests() -> None:
    outcomes = [out("a", False, 1, "t1", message="Cause. Case: x."), out("a", True, 3, "t2")]
    tests, [qa] = score(small(q("a", 4)), outcomes)
    assert qa.score == 3.0 and tests[0].charged


def test_failures_without_a_diagnosis_each_cost_their_share_and_causes_are_capped_one_by_one() -> None:
    outcomes = [out("a", False, 1, "t1", message="Cause one. Case: x."),
                out("a", False, 1, "t2", message="Cause one. Case: y."),
                out("a", False, 1, "t3", message="Cause two. Case: x."),
                out("a", False, 1, "t4", message="Cause two. Case: y."),
                out("b", False, 1, "t5", message="`f` raised ValueError on this test's input."),
                out("b", False, 1, "t6", message="`f` raised ValueError on this test's input."),
                out("c", False, 1, "t7", message="Cause one. Case: x.")]
    tests, [qa, qb, qc] = score(small(q("a", 4), q("b", 2), q("c", 1)), outcomes)
    assert qa.score == 0.0  # two causes, each capped at half: the whole question
    assert qb.score == 0.0  # not diagnosed: every failure costs its share
    assert qc.score == 0.5  # the same cause in another question costs there too (at most half)


def test_a_cause_read_from_the_students_exception_is_not_capped() -> None:
    """suite: a message built from a student's exception (explain() read its text) carries no cause to cap: a
    student whose function raises a message that names a known cause must not earn half of every question."""
    steered = out("a", False, 1, "t1",
                  message="Keras 3's RandomRotation takes a fraction. Case: `f` raised ValueError.")
    steered.cause = ""
    _, [qa] = score(small(q("a", 2)), [steered, out("a", False, 1, "t2", message="Same. Case: x.")])
    assert qa.score == 0.0
