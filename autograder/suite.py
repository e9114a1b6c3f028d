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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from autograder.config import Assignment, Course
from autograder.dependencies import dependency_rank, prerequisite_note
from autograder.errors import AutograderError, ConfigError
from autograder.names import code_span
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
from autograder.testing import ATTACHMENTS, Fail

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
        # only pytest's own plugins and the grader's: the environment's (anyio's, from nbgrader's dependencies,
        # costs 0.35 s to load) have no business in trusted grading
        "--disable-plugin-autoload",
        # pytest's hooks for unraisable and thread exceptions run gc.collect() several times when a session ends
        # (0.5 s of every submission's grading here); the grader reports exceptions of the code it runs itself
        "-p", "no:unraisableexception",
        "-p", "no:threadexception",
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
    figures: list[dict[str, Any]] = field(default_factory=list)  # pictures for the feedback (plain data)
    measurements: dict[str, float] = field(default_factory=dict)  # numbers for the class report
    notes: list[str] = field(default_factory=list)  # grader-made sentences shown passed or failed (testing.note)
    # the diagnosed cause the score may cap (grade.failure_costs): only a hidden test's own Fail, never a message
    # built from the student's exception (its text is the student's: explain() could be steered by it)
    cause: str = ""

    __test__ = False  # not a pytest test class


def diagnosed_cause(message: str) -> str:
    """The cause sentence of a failure the grader diagnosed, ``"<cause> Case: <what was tried>."`` (a trusted
    recomputation or a recognised exception named the mistake); "" for any other message."""
    cause, sep, case = message.partition(" Case: ")
    return cause.strip() if sep and cause.strip() and "\n" not in case else ""


QUOTED_EXCEPTION = 200  # characters of a student's exception text quoted when the call's inputs were public


def explain_exception(type_name: str, message: str) -> str:
    """The grader's sentence for the cause of an exception raised inside Keras or TensorFlow (by the student's
    function, or by the grader's training of their network): :func:`autograder.keras_causes.explain`; "" if no
    rule knows it. The sentence is the grader's own: it never copies the exception's text."""
    from autograder.keras_causes import explain  # (no Keras import: plain text rules)

    return explain(type_name, message)


def raised_message(exc: StudentError, *, quote: bool) -> str:
    """The feedback for a student's function that raised: the cause when the grader recognises the exception
    ("<cause> Case: `fn` raised ValueError."), so every test it breaks merges into one bullet and is charged once;
    with ``quote`` (the call's inputs were all public: the lecture's numbers or the function's defaults, and no
    hidden input had reached the worker yet) the exception's own first line, as inline code."""
    name = quotable_exception_name(exc.type_name)
    raised = f"`{exc.function}` raised {name}"
    text = exc.message.strip().splitlines()[0] if quote and exc.message.strip() else ""
    if text:
        raised += f": {code_span(text, QUOTED_EXCEPTION)}"
    cause = explain_exception(exc.type_name, exc.message)
    if cause:
        return f"{cause} Case: {raised}."
    return f"{raised}." if text else f"{raised} on this test's input."


def student_message(exc: BaseException, docstring: str, *, quote: bool = False) -> str:
    """The feedback sentence for a failed test: never echoes hidden inputs.

    Only grader-made text is quoted: a Fail's message, the function's name, Python's own exception names, the
    grader's limits and its sentence for a recognised exception's cause. A student's exception text is quoted
    only with ``quote`` (a worked-example test, run before any hidden input reached the worker: the text can only
    come from the lecture's public numbers and the student's own code). Other text that came from the worker
    (custom class names, why a value could not be sent) goes to the instructor log only.
    """
    if isinstance(exc, Fail):
        return str(exc)
    if isinstance(exc, StudentError):
        if exc.type_name == "NotImplementedError" and not explain_exception(exc.type_name, exc.message):
            return f"`{exc.function}` is not implemented yet (it raises NotImplementedError)."
        return raised_message(exc, quote=quote)  # (Keras raises NotImplementedError too: "Unknown `fill_mode`")
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


def _instructor_summary(exc: BaseException) -> str:
    """One readable line for instructor.log: the failure's type and text (never a tuple's repr)."""
    if isinstance(exc, StudentCodeProblem):
        kind = f"{exc.type_name} in " if isinstance(exc, StudentError) else ""
        return f"{type(exc).__name__}: {kind}`{exc.function}`" + (f": {exc.detail}" if exc.detail else "")
    return f"{type(exc).__name__}: {exc}"


def student_traceback(exc: BaseException) -> str:
    """The worker's traceback of the student's exception behind ``exc`` (itself, or what it was raised from
    or while handling, as when a test turns a StudentError into a Fail); empty if there is none. Instructors
    only: it is the student's code's text. A test that passed never gets here, so an exception a test provoked
    on purpose (``expect_raises``) leaves no trace."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StudentError) and current.traceback:
            return current.traceback
        current = current.__cause__ or current.__context__
    return ""


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


@dataclass
class SuiteRun:
    """What running a hidden suite produced: the outcomes, pytest's own log (instructors only) and, per
    dependent question whose prerequisites failed, the sentence its feedback starts with."""

    outcomes: list[TestOutcome]
    log: str
    notes: dict[str, str] = field(default_factory=dict)
    substituted: dict[str, list[str]] = field(default_factory=dict)  # question -> prerequisites replaced
    instructor_notes: list[str] = field(default_factory=list)  # e.g. why a substitution could not be made


def _question_of(item: pytest.Item) -> str | None:
    try:
        return question_mark(item).question
    except ValueError:  # reported when the test runs
        return None


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
    """pytest plugin object: fixtures, outcome collection, and the order and set-up of questions that build on
    others (see :mod:`autograder.dependencies`).

    ``substitute`` puts the course's own functions of the given questions in the place of the student's (see
    :mod:`autograder.course_functions`) and returns "" if it could, else what went wrong; it is how a dependent
    question is graded with the course's own earlier functions.
    """

    def __init__(self, proxy: SubmissionProxy, context: GradingContext,
                 substitute: Callable[[list[str]], str] | None = None) -> None:
        super().__init__()
        self.proxy = proxy
        self.context = context
        self.substitute = substitute
        self.outcomes: list[TestOutcome] = []
        self.notes: dict[str, str] = {}
        self.substituted: dict[str, list[str]] = {}
        self.instructor_notes: list[str] = []
        self._rank = dependency_rank(context.assignment)
        self._prepared: set[str] = set()
        self._hidden_inputs_sent = False  # has a test that is not a worked example run in this worker yet?
        self._drawable_student = False  # may the running test draw the student's values?
        self._drawn: set[str] = set()  # questions whose feedback has a picture of arrays

    def _public_first(self, item: pytest.Item) -> bool:
        """A worked-example test of a question that builds on no other: run before every other test, while the
        worker has seen only public inputs (so a picture of its output can show the student's values)."""
        try:
            mark = question_mark(item)
            return mark.worked_example and not self.context.assignment.question(mark.question).depends_on
        except (ValueError, KeyError):  # reported when the test runs
            return False

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Worked examples of independent questions first, then prerequisite questions before the questions
        that build on them (stable: pytest's order otherwise)."""
        items.sort(key=lambda item: (not self._public_first(item), self._rank.get(_question_of(item) or "", 0)))

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Empty the attachments; note whether this test may draw the student's values. Before a dependent
        question's first test: if an earlier question it builds on failed a test, note it and, under
        ``dependent_questions: reference``, put the course's solution of it in the student's place."""
        ATTACHMENTS.take()
        try:
            worked = question_mark(item).worked_example
        except ValueError:
            worked = False
        self._drawable_student = worked and not self._hidden_inputs_sent
        self._hidden_inputs_sent = self._hidden_inputs_sent or not worked
        qid = _question_of(item)
        if qid is None or qid in self._prepared:
            return
        self._prepared.add(qid)
        assignment = self.context.assignment
        try:
            deps = assignment.question(qid).depends_on
        except KeyError:
            return  # reported by score() as a test of an unknown question
        failed = [d for d in deps if any(o.question == d and not o.passed for o in self.outcomes)]
        if not failed:
            return
        substituted = False
        if assignment.dependent_questions == "reference" and self.substitute is not None:
            problem = self.substitute(failed)
            substituted = not problem
            if substituted:
                self.substituted[qid] = failed
                # the course's own functions now run in the worker on calls the student's code makes: treat it as
                # having seen hidden inputs (nothing it computes from here on is quoted or drawn)
                self._hidden_inputs_sent = True
                self._drawable_student = False
            else:  # e.g. the student's worker kept dying: grade with theirs
                self.instructor_notes.append(
                    f"{qid}: could not grade with the course's {', '.join(failed)} in the student's place, so it was "
                    f"graded with the student's own ({problem})")
        self.notes[qid] = prerequisite_note(qid, failed, substituted=substituted)

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
        figures, measurements, notes = ATTACHMENTS.take()
        if any(f.get("kind") == "arrays" for f in figures) and not mark.worked_example:
            self.errors.append(f"{item.nodeid}: show_arrays() in a test that is not a worked example: only the "
                               "lecture's public numbers may be drawn (mark it worked_example=True if they are)")
            return
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
                detail = _instructor_summary(exc)[:2000]
                if isinstance(exc, Fail) and exc.__cause__ is not None \
                        and not isinstance(exc.__cause__, StudentCodeProblem):
                    # the grader's own call that failed (e.g. Keras refusing to train the student's network)
                    detail += "\nBecause of:\n" + "".join(traceback.format_exception(exc.__cause__))[-4000:]
            student_tb = student_traceback(exc)
            if student_tb:
                detail += f"\nTraceback in the student's code (from the worker):\n{student_tb}"
        message = "" if passed else student_message(exc or Exception(), doc, quote=self._drawable_student)
        self.outcomes.append(
            TestOutcome(
                nodeid=item.nodeid,
                name=item.name,
                question=mark.question,
                weight=mark.weight,
                worked_example=mark.worked_example,
                passed=passed,
                message=message,
                cause=diagnosed_cause(message) if isinstance(exc, Fail) and not passed else "",
                detail=detail,
                figures=self._pictures(mark.question, figures, passed),
                measurements=measurements,
                notes=notes,
            )
        )


    def _pictures(self, question: str, figures: list[dict[str, Any]], passed: bool) -> list[dict[str, Any]]:
        """The pictures a test keeps: a training curve always; arrays only when it failed, only the first of its
        question's (the others would show the same mistake), and without the student's values once hidden
        inputs were sent."""
        kept = []
        for figure in figures:
            if figure.get("kind") == "arrays":
                if passed or question in self._drawn:
                    continue
                self._drawn.add(question)
                if not self._drawable_student:
                    figure = {**figure, "student": None, "withheld": True}
            kept.append(figure)
        return kept


def run_suite(
    suite_dir: Path, proxy: SubmissionProxy, context: GradingContext, *, select: str | None = None,
    substitute: Callable[[list[str]], str] | None = None,
) -> SuiteRun:
    """Run every test in ``suite_dir`` (prerequisite questions first); ``substitute`` as in :class:`GradingPlugin`."""
    plugin = GradingPlugin(proxy, context, substitute)
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
    return SuiteRun(plugin.outcomes, log.getvalue(), plugin.notes, plugin.substituted, plugin.instructor_notes)
