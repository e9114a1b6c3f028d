"""Ten students, one realistic mistake each (tests/fixtures/01_mistakes/, made by make_01_mistakes.py), graded
as one batch through the real path (the CLI, the sandbox, the hidden suite) with the solution and a notebook
whose function raises. Golden: each mistake gets the score course.yml's policy gives (conv2d_layer builds on
convolve2d and is graded with the course's convolve2d when the student's fails: one mistake costs once; a
diagnosed mistake costs at most half of its question, however many of its tests it breaks), and
its feedback opens with the real cause; every failed test starts with that cause, and no other cause's hint
shows. The overflowing sigmoid and the in-place relu lose their points although their values are right.
(tests/test_regrade.py checks that regrading some students keeps every row of the CSV.)
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograder.config import load_course
from autograder.samples import make_sample
from tests.conftest import (
    FIXTURES,
    REPO,
    assert_full_marks,
    benchmark_module,
    failed_tests,
    grade_notebooks,
    with_cell,
)
from tests.formgrader_harness import browser_page

GOLDEN_REPORT = REPO / "tests" / "golden" / "class-report-01-mistakes.json"
ARTIFACTS = Path(os.environ.get("AUTOGRADER_TEST_ARTIFACTS") or REPO / "test-artifacts")

pytestmark = pytest.mark.slow
MISTAKE_FIXTURES = FIXTURES / "01_mistakes"

# fixture -> (exact score out of 20, the questions it costs, the cause every failed test (and the feedback's
# "Start here" line) starts with)
MISTAKES: dict[str, tuple[float, set[str], str]] = {
    "flipped_kernel": (17.0, {"convolve2d"}, "The kernel looks flipped"),
    "ceil_output_size": (19.0, {"output_size"}, "output_size rounds up (ceil) where it must round down (floor)"),
    "same_as_padding_1": (18.8, {"convolve2d"}, "padding='same' looks treated as padding=1"),
    "stride_tuple_s0": (18.04, {"convolve2d"},
                        "stride=(SH, SW) looks read as (SH, SH): the column stride SW is ignored"),
    "integer_leaky_relu": (19.17, {"activations"}, "the result should have a floating-point dtype, got integer"),
    "pool2d_ignores_stride": (18.5, {"pool2d"}, "pool2d ignores the stride"),
    "overflowing_sigmoid": (19.5, {"activations"},
                            "`sigmoid` issued a RuntimeWarning (overflow); its docstring says it must not overflow"),
    "missing_bias": (18.5, {"conv2d_layer"}, "The bias is not added"),
    "inplace_relu": (19.16, {"activations"}, "`relu` changed its input x in place"),
    "zero_pad_channels": (19.61, {"zero_pad"}, "zero_pad also pads the channel axis"),
}
# A message in the older "<what was tried>: <problem>" form: the cause follows the case
CAUSE_AFTER_CASE = {"integer_leaky_relu"}
# Failures that follow from a mistake without being that mistake's cause (test name -> why)
CONSEQUENCES = {("stride_tuple_s0", "test_invalid_stride_or_padding_raises_value_error"):
                "stride (1, 0) read as (1, 1) is accepted"}
# Each cause's own words: no other mistake's feedback may contain them (a hint shown without its cause).
HINT_WORDS = ["flipped", "rounds up (ceil)", "treated as padding=1", "(SH, SH)", "whole numbers", "ignores the stride",
              "RuntimeWarning", "bias is not added", "in place", "channel axis", "wrapped around",
              "Convert to float"]

RAISES = '''
def common_kernel(name):
    def lookup_that_breaks(key):
        return {}[key]
    return lookup_that_breaks(name)
'''

# A hostile student: every pool2d call raises a message that a Keras rule recognises, hoping its cause is capped
# like a diagnosis (at most half the question). A cause read from the student's own text is shown, never capped.
STEERS_A_CAUSE = '''
def pool2d(x, size=2, stride=None, mode="max"):
    raise ValueError("The `factor` argument should be a number (or a list of two numbers) in the range [-1, 1]. "
                     "Received: factor=40")
'''


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    tmp = tmp_path_factory.mktemp("mistakes")
    course = load_course(REPO / "course.yml")
    correct = make_sample(course, course.assignment("01_convolution"), "correct")
    subs: dict[str, str | Path] = {"solution": correct, "common_kernel_raises": with_cell(correct, RAISES),
                                   "steers_a_cause": with_cell(correct, STEERS_A_CAUSE)}
    subs.update({name: MISTAKE_FIXTURES / f"{name}.ipynb" for name in MISTAKES})
    subs.update(_copied_pair())
    return grade_notebooks(tmp, "01_convolution", subs), tmp / "out"


def _copied_pair() -> dict[str, str | Path]:
    """Two correct answers written in their own style, the second a renamed copy of the first
    (benchmarks/similarity.py's hand-written answers): the class report must list them as similar."""
    bench = benchmark_module("similarity")
    stub = nbformat.read(str(bench.STUB), as_version=4)
    return {"copy_source": nbformat.writes(bench.build_notebook(bench.STYLES[0], stub)),
            "copy_renamed": nbformat.writes(bench.build_notebook(bench.RENAMED, stub, docstrings=False))}


def test_the_fixtures_are_the_ten_mistakes() -> None:
    assert sorted(p.stem for p in MISTAKE_FIXTURES.glob("*.ipynb")) == sorted(MISTAKES)


def test_the_solution_keeps_full_marks(batch: tuple[dict[str, Any], Path]) -> None:
    results, _ = batch
    assert_full_marks(results["solution"], 20)


@pytest.mark.parametrize("name", ["overflowing_sigmoid", "inplace_relu"])
def test_a_broken_contract_loses_its_points_although_the_values_are_right(batch: tuple[dict[str, Any], Path],
                                                                          name: str) -> None:
    result = batch[0][name]
    activations = next(q for q in result["questions"] if q["id"] == "activations")
    assert result["status"] == "graded" and result["score"] < 20
    assert activations["score"] < activations["max_score"] == 3, failed_tests(result)
    assert result["score"] == 20 - activations["max_score"] + activations["score"]  # nothing else is lost


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_each_mistake_costs_what_the_policy_says(batch: tuple[dict[str, Any], Path], name: str) -> None:
    result = batch[0][name]
    score, questions, _ = MISTAKES[name]
    assert result["status"] == "graded"
    assert {q["id"] for q in result["questions"] if q["score"] < q["max_score"]} == questions, failed_tests(result)
    assert result["score"] == score, failed_tests(result)
    assert round(sum(q["score"] for q in result["questions"]), 2) == result["score"]  # the numbers add up


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_feedback_opens_with_the_real_cause(batch: tuple[dict[str, Any], Path], name: str) -> None:
    _, questions, cause = MISTAKES[name]
    feedback = (batch[1] / name / "feedback.md").read_text()
    start = re.search(r"^\*\*Start here\*\* \(`(\w+)`\): (.*)$", feedback, re.MULTILINE)
    assert start, feedback
    assert start[1] in questions and cause in start[2], feedback
    assert feedback.index("**Start here**") < feedback.index("| Question |")


def test_a_question_built_on_a_failing_one_says_how_it_was_graded(batch: tuple[dict[str, Any], Path]) -> None:
    feedback = (batch[1] / "flipped_kernel" / "feedback.md").read_text()
    assert ("`conv2d_layer` was graded with the course's own `convolve2d` in place of yours, which fails its "
            "tests: that mistake is counted once, in `convolve2d`.") in feedback
    assert re.search(r"^- 1[0-9] tests, one mistake: The kernel looks flipped", feedback, re.MULTILINE), feedback


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_feedback_names_the_mistake_and_only_that(batch: tuple[dict[str, Any], Path], name: str) -> None:
    result = batch[0][name]
    _, questions, cause = MISTAKES[name]
    failed = [t for t in result["tests"] if t["status"] == "failed"]
    assert {t["question"] for t in failed} == questions, failed_tests(result)
    for t in failed:
        if (name, t["name"]) in CONSEQUENCES:
            continue
        if name in CAUSE_AFTER_CASE:
            assert cause in t["output"], (t["name"], t["output"])
        else:
            assert t["output"].startswith(cause), (t["name"], t["output"])
        others = [w for w in HINT_WORDS if w in t["output"] and w not in cause]
        assert not others, (t["name"], others, t["output"])


def test_expected_exceptions_leave_no_traceback_and_unexpected_ones_do(batch: tuple[dict[str, Any], Path]) -> None:
    """The solution raises ValueError for every invalid-argument test (on purpose): instructor.log stays quiet.
    A function that raises by mistake: its failed tests carry the student's traceback, for the instructor only."""
    results, out = batch
    quiet = (out / "solution" / "instructor.log").read_text()
    assert "Traceback" not in quiet and "ValueError" not in quiet, quiet[:2000]
    log = (out / "common_kernel_raises" / "instructor.log").read_text()
    assert "lookup_that_breaks" in log and "KeyError" in log, log[:2000]
    feedback = (out / "common_kernel_raises" / "feedback.md").read_text()
    # its worked-example tests ran on the lecture's kernel names before any hidden input: the exception is quoted
    assert "`common_kernel` raised KeyError: `'sharpen'`." in feedback
    assert "lookup_that_breaks" not in feedback
    assert results["common_kernel_raises"]["score"] == 19



def test_the_class_report_of_the_batch_matches_its_golden(batch: tuple[dict[str, Any], Path]) -> None:
    """The batch wrote its class report; its numbers (scores, per question and test, failure messages, similar
    pairs) are the golden's. UPDATE_GOLDENS=1 rewrites the golden (review the diff)."""
    report = json.loads((batch[1] / "class-report.json").read_text())
    if os.environ.get("UPDATE_GOLDENS"):
        GOLDEN_REPORT.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert report == json.loads(GOLDEN_REPORT.read_text(encoding="utf-8")), (
        f"the class report differs from {GOLDEN_REPORT}; if intended: UPDATE_GOLDENS=1 pytest {__file__}")
    assert report["submissions"] == len(MISTAKES) + 5
    assert [(p["a"], p["b"]) for p in report["similar"]][:1] == [("copy_renamed", "copy_source")]
    assert report["similar"][0]["score"] > 0.8 and report["similar"][0]["regions"]
    hardest = report["tests"][0]
    assert hardest["pass_rate"] == min(t["pass_rate"] for t in report["tests"])
    causes = {f["message"] for q in report["questions"] for f in q["common_failures"]}
    for _, _, cause in MISTAKES.values():
        assert any(m.startswith(cause) or cause in m for m in causes), cause


def test_the_class_report_opens_in_a_browser(batch: tuple[dict[str, Any], Path]) -> None:
    """Headless Chromium opens class-report.html from disk: the histogram is drawn, the per-test table lists
    every test hardest first, nothing is fetched from anywhere; a screenshot is kept in test-artifacts/."""
    out = batch[1]
    report = json.loads((out / "class-report.json").read_text())
    with browser_page() as page:
        fetched: list[str] = []
        page.on("request", lambda r: fetched.append(r.url))
        page.goto((out / "class-report.html").as_uri())
        assert page.title() == "01_convolution: class report"
        width = page.eval_on_selector("#histogram", "img => img.complete ? img.naturalWidth : 0")
        assert width > 100, "the histogram image did not load"
        rows = page.locator("#tests tr").all_inner_texts()
        assert len(rows) == 1 + len(report["tests"])
        assert rows[1].split("\t")[0] == report["tests"][0]["name"]
        assert page.locator("#similar details.pair").count() == len(report["similar"])
        assert all(u.startswith(("file:", "data:")) for u in fetched), fetched
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "class-report-01-mistakes.png"), full_page=True)
    assert (ARTIFACTS / "class-report-01-mistakes.png").stat().st_size > 10_000


def test_a_cause_steered_by_the_students_own_exception_text_is_not_capped(batch: tuple[dict[str, Any], Path]) -> None:
    results, out = batch
    pool = {q["id"]: q for q in results["steers_a_cause"]["questions"]}["pool2d"]
    # only its invalid-arguments test passes (it raises ValueError): 0.2 of 3; capped, it would have kept 1.5
    assert pool["score"] == 0.2 and results["steers_a_cause"]["score"] == 17.2, failed_tests(results["steers_a_cause"])
    assert all(t["charged"] for t in results["steers_a_cause"]["tests"])
    feedback = (out / "steers_a_cause" / "feedback.md").read_text()
    assert "Keras 3's RandomRotation takes a fraction of a full turn" in feedback  # the cause is shown, not capped
