"""Run a hidden pytest suite in the trusted process against one submission.

pytest runs in-process (the reference libraries are imported once per batch) with a plugin that
provides the ``submission``, ``grading`` and ``reference_book`` fixtures, registers the ``question``
marker, and turns each test's outcome into a :class:`TestOutcome` whose message is safe to show the
student.  A test stopped by an :class:`~autograder.errors.AutograderError` (a workbook, a dataset, a
misnamed student function) is the course's fault: the suite is reported broken, no student loses points.
"""

from __future__ import annotations

import contextlib
import io
import math
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from autograder.config import Assignment, Course
from autograder.errors import AutograderError, ConfigError
from autograder.references import ReferenceBook, course_reference_book
from autograder.session import (
    BudgetExhausted,
    CallTimeout,
    MissingFunction,
    StudentCodeProblem,
    StudentError,
    SubmissionProxy,
    UnsendableValue,
    WorkerCrashed,
    quotable_exception_name,
)
from autograder.testing import Fail

SUITE_INI = Path(__file__).with_name("suite_pytest.ini")  # in the package: the hidden suites are not
QUESTION_MARKER = "question(qid, weight=1.0, worked_example=False): the question a hidden test grades"


@dataclass(frozen=True)
class QuestionMark:
    """A hidden test's ``@question(qid, weight=..., worked_example=...)`` marker, checked."""

    question: str
    weight: float
    worked_example: bool


def question_mark(item: pytest.Item) -> QuestionMark:
    """Read and check a collected hidden test's ``question`` marker (the one reader of it, for grading and for
    `autograder config`). Raises :class:`ValueError` saying what is wrong and what to write instead."""
    marker = item.get_closest_marker("question")
    if marker is None or not marker.args:
        raise ValueError("hidden test without @question(...) marker: mark it with the question it grades, "
                         "e.g. @question(\"convolve2d\") (from autograder.testing import question)")
    qid = marker.args[0]
    if not isinstance(qid, str) or not qid:
        raise ValueError(f"@question({qid!r}): the question id must be a non-empty string from course.yml")
    weight = marker.kwargs.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight) or weight <= 0:
        raise ValueError(f"@question({qid!r}, weight={weight!r}): the weight must be a positive number (a test's "
                         "share of the question's points is its weight over the sum of the question's weights)")
    worked = marker.kwargs.get("worked_example", False)
    if not isinstance(worked, bool):
        raise ValueError(f"@question({qid!r}, worked_example={worked!r}): worked_example must be True or False")
    return QuestionMark(qid, float(weight), worked)


def pytest_args(suite_dir: Path) -> list[str]:
    """pytest's command line for a hidden suite run in-process (grading adds its options to it)."""
    return [
        str(suite_dir),
        "-c", str(SUITE_INI),
        "--rootdir", str(suite_dir),
        "-q",
        "-p", "no:cacheprovider",
        "-p", "no:stepwise",
        "--import-mode=importlib",
    ]


@dataclass
class TestOutcome:
    """One hidden test's result, before points are applied."""

    nodeid: str
    name: str
    question: str
    weight: float
    worked_example: bool
    passed: bool
    message: str  # student-safe
    detail: str = ""  # for instructors only (never in student feedback)

    __test__ = False  # not a pytest test class


def student_message(exc: BaseException, docstring: str) -> str:
    """The feedback sentence for a failed test: never echoes hidden inputs or student output.

    Only grader-made text is quoted: a Fail's message, the function's name, Python's own exception names
    and the grader's limits. Text that came from the worker (exception messages, custom class names,
    why a value could not be sent) goes to the instructor log only.
    """
    if isinstance(exc, Fail):
        return str(exc)
    if isinstance(exc, StudentError):
        if exc.type_name == "NotImplementedError":
            return f"`{exc.function}` is not implemented yet (it raises NotImplementedError)."
        return f"`{exc.function}` raised {quotable_exception_name(exc.type_name)} on this test's input."
    if isinstance(exc, MissingFunction):
        return f"`{exc.function}` is not defined in your notebook (check its name and that its cell runs)."
    if isinstance(exc, CallTimeout):
        return f"`{exc.function}` did not return within {exc.detail} s (an infinite loop, or far too slow)."
    if isinstance(exc, WorkerCrashed):
        if not exc.function:
            return "Not run: your notebook's process kept stopping, so the grader gave up on it."
        return f"Your notebook's process stopped while running `{exc.function}` ({_crash_reason(exc.signal)})."
    if isinstance(exc, UnsendableValue):
        return (f"`{exc.function}` returned a value the grader cannot accept: only numbers, strings, lists, "
                "tuples, dicts, None and numeric numpy arrays (of reasonable size) can be returned.")
    if isinstance(exc, BudgetExhausted):
        return "Not run: the time limit for the whole submission was reached."
    summary = docstring.strip().splitlines()[0] if docstring.strip() else "This check"
    return f"Failed: {summary}"


# Signals worth naming to a student (a crash in native code, a limit of the grader). An exit status or any
# other signal is not quoted: the student's code chooses it (os._exit(n), os.kill) and could encode a hidden
# input in it.
_NAMED_SIGNALS = {"SIGSEGV": "a crash", "SIGBUS": "a crash", "SIGABRT": "an abort",
                  "SIGKILL": "killed, usually for using too much memory", "SIGXCPU": "the CPU time limit",
                  "SIGXFSZ": "the file size limit"}


def _crash_reason(signal: str | None) -> str:
    why = _NAMED_SIGNALS.get(signal or "")
    return f"{why}: {signal}" if why else "it exited or closed its channel"


@dataclass(frozen=True)
class GradingContext:
    """What a hidden test may know about the grading run (fixture ``grading``)."""

    course: Course
    assignment: Assignment
    runner: str  # runner profile name from course.yml, e.g. "cpu" or "gpu"


class SuitePlugin:
    """What every in-process pytest run of a hidden suite needs (grading, and collection by `autograder config`):
    the ``question`` marker registered, collection errors kept in ``errors``."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", QUESTION_MARKER)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(f"collection of {report.nodeid} failed:\n{report.longreprtext}")


class GradingPlugin(SuitePlugin):
    """pytest plugin object: fixtures, marker, and outcome collection."""

    def __init__(self, proxy: SubmissionProxy, context: GradingContext) -> None:
        super().__init__()
        self.proxy = proxy
        self.context = context
        self.outcomes: list[TestOutcome] = []

    @pytest.fixture
    def submission(self) -> SubmissionProxy:
        return self.proxy

    @pytest.fixture
    def grading(self) -> GradingContext:
        return self.context

    @pytest.fixture
    def reference_book(self) -> ReferenceBook:
        """The reference answers from this course's own workbooks (the assignment's ``files:``)."""
        return course_reference_book(self.context.course, self.context.assignment)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        if call.when == "call" or (call.when == "setup" and report.failed):
            self._record(item, call, report)
        return report

    def _record(self, item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
        try:
            mark = question_mark(item)
        except ValueError as problem:
            self.errors.append(f"{item.nodeid}: {problem}")
            return
        doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
        exc = call.excinfo.value if call.excinfo is not None else None
        if isinstance(exc, AutograderError | NameError | ImportError):
            # the course's own setup failed (a workbook, a dataset, a misnamed function) or the hidden test
            # itself is wrong (a typo, a missing import): never the student's fault
            self.errors.append(f"{item.nodeid}: {type(exc).__name__}: {exc}")
            return
        passed = report.passed
        detail = ""
        if exc is not None and not passed:
            if not isinstance(exc, (Fail, StudentCodeProblem)):
                detail = "".join(traceback.format_exception(exc))[-4000:]
            else:
                detail = f"{type(exc).__name__}: {exc.args!r}"[:2000]
        self.outcomes.append(
            TestOutcome(
                nodeid=item.nodeid,
                name=item.name,
                question=mark.question,
                weight=mark.weight,
                worked_example=mark.worked_example,
                passed=passed,
                message="" if passed else student_message(exc or Exception(), doc),
                detail=detail,
            )
        )


def run_suite(
    suite_dir: Path, proxy: SubmissionProxy, context: GradingContext, *, select: str | None = None
) -> tuple[list[TestOutcome], str]:
    """Run every test in ``suite_dir``; return the outcomes and pytest's own (instructor-only) log."""
    plugin = GradingPlugin(proxy, context)
    args = [*pytest_args(suite_dir), "--tb=short"]
    if select:
        args += ["-k", select]
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        code = pytest.main(args, plugins=[plugin])
    if plugin.errors or code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        problems = "\n".join(plugin.errors) or f"pytest exited with {code!r}"
        raise ConfigError(
            f"The hidden suite {suite_dir} is broken (instructor error):\n{problems}\n{log.getvalue()[-3000:]}"
        )
    return plugin.outcomes, log.getvalue()
