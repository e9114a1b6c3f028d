"""Golden files: feedback.md, results.json and instructor.log of a fixed set of results for 01_convolution.

The results are built from fixed hidden-test outcomes through the real code (``suite.student_message`` for
each failure, ``grade.score`` for the points, ``grade.read_notebook`` for the ungradable one) and written by
``report.write_result``; the files must equal the committed ones under ``tests/golden/01_convolution/``.
Volatile text is normalised first: the temporary folder's path becomes ``<tmp>`` and ``execution_time``
becomes ``"<seconds>"``.

When the output changes on purpose, regenerate the goldens and review the diff before committing:

    .venv/bin/python -m pytest tests/unit/test_golden_feedback.py --update-goldens

(``--update-goldens`` is registered by tests/unit/conftest.py, so pytest must be given tests/unit or a file in
it; from anywhere else use ``UPDATE_GOLDENS=1 .venv/bin/python -m pytest tests/unit/test_golden_feedback.py``.)
"""

from __future__ import annotations

import difflib
import re
import shutil
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest

from autograder.batch import unreadable_message
from autograder.config import Assignment, Limits
from autograder.grade import GradeResult, Ungradable, read_notebook, score
from autograder.report import write_result
from autograder.session import (
    BudgetExhausted,
    CallTimeout,
    CellOutcome,
    MissingFunction,
    StudentCodeProblem,
    StudentError,
    UnsendableValue,
    WorkerCrashed,
)
from autograder.suite import TestOutcome, student_message
from autograder.testing import Fail

from .conftest import REPO, update_goldens

GOLDEN = REPO / "tests" / "golden" / "01_convolution"
REGENERATE = ".venv/bin/python -m pytest tests/unit/test_golden_feedback.py --update-goldens"
LEAK = "LEAK:[[3, 1, 4], [1, 5, 9]]"  # stands for hidden inputs that reached the worker: must never be shown

# Three hidden tests per auto-graded question: (name suffix, weight, worked_example, docstring).
TESTS: list[tuple[str, float, bool, str]] = [
    ("worked_example", 0.5, True, "Reproduces the lecture's worked example."),
    ("random_input", 1.0, False, "Matches the reference on a random input.\n\n    Seeded; instructors only."),
    ("edge_case", 0.25, False, ""),
]

# What a test raises, by (question, test suffix); None: it passed.
Outcomes = Callable[[str, str], BaseException | None]


def passing(qid: str, test: str) -> BaseException | None:
    return None


def partial(qid: str, test: str) -> BaseException | None:
    if qid == "convolve2d" and test != "worked_example":
        return Fail("The output of `convolve2d` with stride 2 has the wrong shape.")
    if qid == "zero_pad" and test == "edge_case":
        return StudentError("zero_pad", "ValueError", f"operands could not be broadcast {LEAK}")
    if qid == "conv2d_layer":
        return StudentError("conv2d_layer", "NotImplementedError", "")
    if qid == "activations" and test == "random_input":
        return AssertionError(f"assert {LEAK} == [[0.5, 0.3]]")  # a plain assert in a hidden test: docstring
    return None


FAILING: dict[str, Callable[[str, str], BaseException]] = {
    "output_size": lambda q, t: StudentError(q, LEAK.replace(":", "_"), LEAK),  # a class named after inputs
    "zero_pad": lambda q, t: MissingFunction(q),
    "convolve2d": lambda q, t: CallTimeout(q, "20"),
    "common_kernel": lambda q, t: WorkerCrashed(q, "the worker was killed by SIGKILL", "SIGKILL"),
    "activations": lambda q, t: UnsendableValue(q, f"cannot send an object of class {LEAK}"),
    "pool2d": lambda q, t: BudgetExhausted(q, "the time limit for the whole submission was reached"),
    "conv2d_layer": lambda q, t: ValueError(LEAK),  # docstring's first line, or "This check"
}


def failing(qid: str, test: str) -> BaseException | None:
    return FAILING[qid](qid, test)


def graded(a01: Assignment, student: str, raises: Outcomes, **extra: object) -> GradeResult:
    """A result as grade_submission assembles it from the hidden suite's outcomes."""
    outcomes = []
    for q in a01.questions:
        if q.manual:
            continue
        for suffix, weight, worked, doc in TESTS:
            exc = raises(q.id, suffix)
            detail = "" if exc is None else f"{type(exc).__name__}: {exc.args!r}"
            if exc is not None and not isinstance(exc, (Fail, StudentCodeProblem)):
                detail = f"Traceback (most recent call last):\n  ...\n{type(exc).__name__}: {exc}"
            outcomes.append(TestOutcome(
                nodeid=f"test_{q.id}.py::test_{suffix}", name=f"test_{suffix}", question=q.id, weight=weight,
                worked_example=worked, passed=exc is None,
                message="" if exc is None else student_message(exc, doc), detail=detail))
    tests, questions = score(a01, outcomes)
    result = GradeResult(
        student=student, assignment=a01.id, status="graded", tests=tests, questions=questions,
        score=float(sum(Fraction(q.score) for q in questions)), max_score=a01.auto_max_score,
        instructor_log="\n\n".join(f"{o.nodeid}\n{o.detail}" for o in outcomes if o.detail),
        execution_time=12.34, submission_sha256="0" * 64,
    )
    for key, value in extra.items():
        setattr(result, key, value)
    return result


def results(a01: Assignment, tmp_path: Path) -> list[GradeResult]:
    not_a_notebook = tmp_path / "dave.ipynb"
    not_a_notebook.write_text("My answers: 8, 4, 26 (I did it on paper)\n", encoding="utf-8")
    try:
        read_notebook(not_a_notebook, Limits())
        raise AssertionError("prose was read as a notebook")
    except Ungradable as exc:
        ungradable = str(exc)
    try:
        (tmp_path / "gone.ipynb").read_bytes()
        raise AssertionError("the file exists")
    except OSError as exc:
        unreadable = unreadable_message(exc)
    return [
        graded(a01, "alice_full_marks", passing, cells=[CellOutcome(0, "ok"), CellOutcome(3, "ok")],
               worker_output=f"epoch 1/1 {LEAK}"),
        graded(a01, "bob_partial", partial, worker_output=f"Traceback ... {LEAK}", cells=[
            CellOutcome(2, "ok"), CellOutcome(5, "error", "NameError", "name 'np' is not defined")]),
        graded(a01, "carol_every_failure", failing, status="timeout",
               message="The submission used up its 900 s time limit.", worker_output=f"printed {LEAK}", cells=[
                   CellOutcome(4, "timeout", "", "did not finish within 120 s"),
                   CellOutcome(9, "crashed", "", "the worker was killed by SIGSEGV"), CellOutcome(11, "ok")]),
        GradeResult(student="dave_ungradable", assignment=a01.id, status="ungradable", score=0.0,
                    max_score=a01.auto_max_score, message=ungradable, submission_sha256="1" * 64),
        GradeResult(student="erin_unreadable", assignment=a01.id, status="error", score=0.0,
                    max_score=a01.auto_max_score, message=unreadable),
    ]


def normalise(text: str, tmp_path: Path) -> str:
    text = text.replace(str(tmp_path), "<tmp>")
    text = re.sub(r"graded at:  .* in [0-9.eE+-]+ s", "graded at:  <time> in <seconds> s", text)
    return re.sub(r'"execution_time": [0-9.eE+-]+', '"execution_time": "<seconds>"', text)


def rendered(a01: Assignment, tmp_path: Path) -> dict[str, str]:
    """relative path -> normalised text of every file write_result wrote."""
    out = tmp_path / "out"
    for result in results(a01, tmp_path):
        write_result(result, a01, out)
    return {p.relative_to(out).as_posix(): normalise(p.read_text(encoding="utf-8"), tmp_path)
            for p in sorted(out.rglob("*")) if p.is_file()}


def test_feedback_and_results_match_the_goldens(a01: Assignment, tmp_path: Path,
                                                request: pytest.FixtureRequest) -> None:
    files = rendered(a01, tmp_path)
    if update_goldens(request.config):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for rel, text in files.items():
            (GOLDEN / rel).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / rel).write_text(text, encoding="utf-8", newline="")
        return
    committed = {p.relative_to(GOLDEN).as_posix(): p.read_text(encoding="utf-8")
                 for p in sorted(GOLDEN.rglob("*")) if p.is_file()} if GOLDEN.is_dir() else {}
    problems = []
    for rel in sorted(files.keys() | committed.keys()):
        if rel not in committed:
            problems.append(f"new file {rel} (not in tests/golden/01_convolution/)")
        elif rel not in files:
            problems.append(f"{rel} is in tests/golden/01_convolution/ but no longer written")
        elif files[rel] != committed[rel]:
            diff = difflib.unified_diff(committed[rel].splitlines(keepends=True), files[rel].splitlines(keepends=True),
                                        f"golden/{rel}", f"now/{rel}")
            problems.append("".join(diff))
    if problems:
        pytest.fail("Feedback files differ from the goldens:\n\n" + "\n".join(problems)
                    + f"\n\nIf the change is intended, regenerate them and review the diff:\n    {REGENERATE}\n"
                    "(or UPDATE_GOLDENS=1 .venv/bin/python -m pytest tests/unit/test_golden_feedback.py)",
                    pytrace=False)


def test_nothing_from_the_worker_reaches_student_files(a01: Assignment, tmp_path: Path) -> None:
    files = rendered(a01, tmp_path)
    student_files = {rel: text for rel, text in files.items() if not rel.endswith("instructor.log")}
    assert len(student_files) == 15  # feedback.md, feedback.html, results.json of 5 students
    assert not [rel for rel, text in student_files.items() if "LEAK" in text]
    assert "LEAK" in files["carol_every_failure/instructor.log"]  # instructors see it


def test_the_goldens_cover_every_kind_of_message() -> None:
    feedback = "\n".join(p.read_text() for p in sorted(GOLDEN.glob("*/feedback.md")))
    for phrase in [
        "All hidden tests passed. Well done!", "(plus 2 points graded by a TA)", "graded by a TA / 2",
        "has the wrong shape", "raised ValueError on this test's input", "is not implemented yet",
        "Failed: Matches the reference on a random input.", "an exception of a class defined in your notebook",
        "is not defined in your notebook", "did not return within 20 s", "Your notebook's process stopped",
        "returned a value the grader cannot accept", "Not run: the time limit", "Failed: This check",
        "**Status:** ungradable", "not a valid Jupyter notebook", "**Status:** error",
        "Could not read the submission (No such file or directory)",
        "- Cell 6 raised NameError", "- Cell 5 was stopped", "- Cell 10 stopped the notebook's process",
    ]:
        assert phrase in feedback, phrase


def test_an_unreadable_file_never_shows_the_grading_machines_path() -> None:
    feedback = "\n".join(p.read_text() for p in sorted(GOLDEN.glob("*/*")))
    assert "<tmp>" not in feedback and "gone.ipynb" not in feedback
