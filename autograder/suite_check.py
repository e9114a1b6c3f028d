"""Checks an instructor runs before students do: ``autograder config`` and ``autograder check-solution``.

:func:`check_course` runs, without grading anyone, every check ``grade`` makes before or while grading, and
more: the notebooks agree with course.yml (:mod:`autograder.config`), the limits do not contradict each
other, and each hidden suite, collected by pytest itself (``--collect-only``, in-process, with the same
command line and ``@question`` reader as grading), holds tests, marks every test with a question course.yml
auto-grades, with a positive weight, and tests every auto-graded question. :func:`config_table` prints what
it found; :func:`raise_problems` turns problems into one :class:`ConfigError` listing them all.

:func:`check_solution` grades the solution notebook through the real grading path (the sandboxed worker, the
hidden suite, the scoring) into a folder and says whether it earns every auto-graded point.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from autograder.config import (
    Assignment,
    Course,
    limit_problems,
    prose_points_problems,
    released_points_problems,
    solution_cell_problems,
)
from autograder.dependencies import reference_functions
from autograder.errors import ConfigError
from autograder.suite import QuestionMark, SuitePlugin, pytest_args, question_mark


@dataclass(frozen=True)
class CollectedTest:
    """A hidden test as pytest collected it, with its checked ``@question`` marker."""

    nodeid: str
    mark: QuestionMark


class _Collector(SuitePlugin):
    """Keeps the collected items (and, from :class:`SuitePlugin`, the marker and the collection errors)."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[pytest.Item] = []

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.items = list(session.items)


def collect_suite(suite_dir: Path) -> tuple[list[CollectedTest], list[str]]:
    """Collect a hidden suite with pytest (``--collect-only``, in-process, nothing run); return its tests and the
    problems found: collection errors, tests without a valid ``@question`` marker, an empty suite."""
    if not suite_dir.is_dir():
        return [], [f"hidden suite folder {suite_dir} does not exist"]
    plugin = _Collector()
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        code = pytest.main([*pytest_args(suite_dir), "--collect-only", "--tb=short"], plugins=[plugin])
    problems = list(plugin.errors)
    tests: list[CollectedTest] = []
    for item in plugin.items:
        try:
            tests.append(CollectedTest(item.nodeid, question_mark(item)))
        except ValueError as exc:
            problems.append(f"{item.nodeid}: {exc}")
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED) and not problems:
        problems.append(f"pytest could not collect it ({code!r}):\n{log.getvalue()[-2000:]}")
    if not plugin.items and not problems:
        problems.append(f"hidden suite folder {suite_dir} holds no tests: add test_*.py files with test_* functions "
                        "marked @question(\"<question id>\") (from autograder.testing import question)")
    return tests, problems


@dataclass
class AssignmentCheck:
    """What ``autograder config`` found for one assignment."""

    assignment: Assignment
    tests: list[CollectedTest] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def tests_of(self, qid: str) -> int:
        return sum(t.mark.question == qid for t in self.tests)


def check_assignment(course: Course, assignment: Assignment) -> AssignmentCheck:
    """Every check of one assignment: notebooks against course.yml, prose points, the hidden suite's tests."""
    check = AssignmentCheck(assignment)
    cells = solution_cell_problems(course, assignment)
    check.problems += cells or released_points_problems(course, assignment)
    check.problems += prose_points_problems(course, assignment)
    try:  # the solution cells a dependent question is graded with (dependent_questions: reference)
        reference_functions(course, assignment)
    except ConfigError as exc:
        check.problems.append(str(exc))
    suite = course.hidden_suite(assignment)
    check.tests, suite_problems = collect_suite(suite)
    where = assignment.hidden_suite
    check.problems += [f"hidden suite {where}: {p}" for p in suite_problems]
    auto = {q.id for q in assignment.questions if not q.manual}
    manual = {q.id for q in assignment.questions if q.manual}
    for t in check.tests:
        if t.mark.question in manual:
            check.problems.append(f"{where}/{t.nodeid}: @question({t.mark.question!r}) grades a manual question "
                                  "(manual: true in course.yml; a TA grades it in nbgrader): remove the test, or make "
                                  "the question auto-graded")
        elif t.mark.question not in auto:
            known = ", ".join(q.id for q in assignment.questions if not q.manual)
            check.problems.append(f"{where}/{t.nodeid}: @question({t.mark.question!r}) is not a question of "
                                  f"{assignment.id} in course.yml (its auto-graded questions: {known})")
    collected_all = bool(check.tests) and not any(p.startswith("collection of ") for p in suite_problems)
    if collected_all:  # (a file that failed to collect would make its question look untested)
        for q in assignment.questions:
            if not q.manual and not check.tests_of(q.id):
                check.problems.append(f"question {q.id!r} ({q.points:g} points) has no hidden test in {where}: add a "
                                      f"test marked @question({q.id!r}), or set manual: true if a TA grades it")
    return check


def check_course(course: Course) -> tuple[list[AssignmentCheck], list[str]]:
    """Every assignment's check, and the course-wide problems (limits)."""
    return [check_assignment(course, a) for a in course.assignments], limit_problems(course)


NBGRADER_EXCHANGE_DEFAULT = "/srv/nbgrader/exchange"  # nbgrader's Exchange.root when nothing sets it


def exchange_notes(course: Course) -> list[str]:
    """What to set in the course's nbgrader_config.py for nbgrader's exchange (``release_assignment``, ``collect``,
    ``release_feedback``): a sentence when ``c.Exchange.root`` is not set there, nothing when it is. Not a problem:
    a course that only uses ``zip_collect`` needs no exchange."""
    from autograder.errors import GradebookError
    from autograder.gradebook import load_config

    path = course.root / "nbgrader_config.py"
    try:
        config = load_config(course)
    except GradebookError as exc:
        return [str(exc)]
    if "root" in config.get("Exchange", {}):
        return []
    return [f"{path} does not set c.Exchange.root: nbgrader's release_assignment, collect and release_feedback "
            f"would use {NBGRADER_EXCHANGE_DEFAULT} (and, run as root, create that system folder without a word). "
            f"Add a line `c.Exchange.root = \"/path/to/exchange\"` to {path.name} (a folder the students' and the "
            "instructor's accounts share; nbgrader's docs: 'Exchange'), or ignore this if you collect with "
            "`nbgrader zip_collect` only."]


def raise_problems(course: Course, checks: list[AssignmentCheck], course_problems: list[str]) -> None:
    """One :class:`ConfigError` naming every problem found, by assignment; nothing when there is none."""
    lines = [f"  - {p}" for p in course_problems]
    for c in checks:
        lines += [f"  - {c.assignment.id}: {p}" for p in c.problems]
    if lines:
        raise ConfigError(f"{course.root / 'course.yml'}: {len(lines)} problem(s):\n" + "\n".join(lines))


def config_table(course: Course, checks: list[AssignmentCheck]) -> str:
    """Per assignment: its limits, then each question with its points, how it is graded and its hidden tests."""
    out = []
    for c in checks:
        a = c.assignment
        lim = course.limits_for(a)
        out += [
            f"{a.id}: {a.title}",
            f"  notebook {a.notebook}, hidden suite {a.hidden_suite}",
            f"  limits: cell {lim.cell_timeout_s:g} s, test {lim.test_timeout_s:g} s, total {lim.total_timeout_s:g} s, "
            f"memory {lim.memory_mb} MiB, notebook {lim.max_notebook_mb:g} MiB without its outputs (a file up to "
            f"{lim.max_submission_mb:g} MiB is read)",
        ]
        width = max(len("question"), *(len(q.id) for q in a.questions))
        out.append(f"  {'question':<{width}}  {'points':>6}  {'graded':<6}  {'hidden tests':>12}")
        for q in a.questions:
            tests = "-" if q.manual else str(c.tests_of(q.id))
            out.append(f"  {q.id:<{width}}  {q.points:>6g}  {'manual' if q.manual else 'auto':<6}  {tests:>12}")
        out += [f"  {'total':<{width}}  {a.max_score:>6g}  ({a.auto_max_score:g} auto, "
                f"{a.max_score - a.auto_max_score:g} manual; {len(c.tests)} hidden tests)", ""]
    return "\n".join(out)


@dataclass
class SolutionCheck:
    """The solution notebook graded like a submission: full marks when ``problems`` is empty."""

    assignment: str
    notebook: Path
    status: str
    score: float
    max_score: float
    problems: list[str]
    instructor_log: str = ""

    @property
    def full_marks(self) -> bool:
        return not self.problems


def check_solution(course: Course, assignment: Assignment, out_dir: Path, *, runner: str = "cpu") -> SolutionCheck:
    """Grade ``solutions/<id>/<notebook>`` through the real grading path into ``out_dir`` (student ``solution``)
    and list what keeps it from full marks: a status other than graded, a failed hidden test, a cell that failed."""
    from autograder.batch import grade_batch
    from autograder.config import check_notebook_points
    from autograder.grade import SubmissionInput

    check_notebook_points(course, assignment)
    notebook = course.solution_notebook(assignment)
    grade_batch(course, assignment, [SubmissionInput("solution", notebook)], out_dir, runner=runner, force=True,
                progress=False)
    result = json.loads((out_dir / "solution" / "results.json").read_text(encoding="utf-8"))
    problems = []
    if result.get("status") != "graded":
        problems.append(f"status {result.get('status')}: {result.get('message', '')}")
    for t in result.get("tests", []):
        if t.get("status") != "passed":
            problems.append(f"hidden test {t.get('name')} (question {t.get('question')}) failed: {t.get('output')}")
    for cell in result.get("cells", []):
        if cell.get("status") != "ok":
            problems.append(f"notebook cell {cell.get('index')} did not run cleanly: {cell.get('status')} "
                            f"{cell.get('error_type') or ''} {cell.get('error_message') or ''}".rstrip())
    score, max_score = float(result.get("score", 0)), float(result.get("max_score", 0))
    if not problems and score != max_score:
        problems.append(f"score {score:g} is below the maximum {max_score:g}")
    log_path = out_dir / "solution" / "instructor.log"
    log = log_path.read_text(encoding="utf-8") if log_path.is_file() else ""
    return SolutionCheck(assignment.id, notebook, str(result.get("status")), score, max_score, problems, log)
