"""``autograder validate``: run a notebook's visible tests before submitting, with the same feedback.

The notebook runs in the same limited worker as at grading time. The visible tests executed are the
ones from the RELEASED notebook (by grade_id), so an edited or deleted test cell does not change what
is checked. Visible tests only say whether the lecture's worked examples come out right; the grade is
decided by the hidden tests.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat

from autograder.config import Assignment, Course
from autograder.errors import SubmissionError
from autograder.grade import (
    GradeResult,
    QuestionResult,
    SubmissionInput,
    TestResult,
    Ungradable,
    read_notebook,
    released_test_sources,
    select_cells,
    worker_spec,
)
from autograder.session import BudgetExhausted, CellOutcome, NotebookSession, StudentCodeProblem


def guess_assignment(course: Course, notebook: Path) -> Assignment:
    for a in course.assignments:
        if notebook.name == a.notebook or notebook.parent.name == a.id:
            return a
    names = ", ".join(f"{a.id} ({a.notebook})" for a in course.assignments)
    raise SubmissionError(f"{notebook}: cannot tell which assignment this is; pass --assignment (one of {names}).")


def visible_tests(course: Course, assignment: Assignment) -> list[tuple[str, str]]:
    released = nbformat.read(str(course.released_notebook(assignment)), 4)
    tests = []
    for cell in released.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            tests.append((str(meta["grade_id"]), cell.source))
    return tests


def validate_notebook(course: Course, assignment: Assignment, notebook: Path) -> GradeResult:
    limits = course.limits_for(assignment)
    started = time.monotonic()
    result = GradeResult(student=notebook.stem, assignment=assignment.id, status="graded", score=0.0,
                         max_score=assignment.auto_max_score, runner="validate")
    sub = SubmissionInput(notebook.stem, notebook)
    try:
        nb = read_notebook(sub.notebook, limits)
    except Ungradable as exc:
        result.status, result.message = "ungradable", str(exc)
        return result
    cells = select_cells(nb, released_test_sources(course, assignment))
    spec = worker_spec(course, assignment)
    with NotebookSession(cells, spec, deadline=started + limits.total_timeout_s) as session:
        try:
            session.start()
        except (BudgetExhausted, StudentCodeProblem):
            pass
        for qid, source in visible_tests(course, assignment):
            points = assignment.question(qid).points
            try:
                outcome = session.run_extra(source)
            except (BudgetExhausted, StudentCodeProblem):
                outcome = None
            passed = outcome is not None and outcome.status == "ok"
            message = "" if passed else _message(outcome)
            result.tests.append(TestResult(name=f"visible tests of {qid}", question=qid,
                                           score=points if passed else 0.0, max_score=points,
                                           status="passed" if passed else "failed", output=message,
                                           worked_example=True))
            result.questions.append(QuestionResult(id=qid, title=assignment.question(qid).title,
                                                   score=points if passed else 0.0, max_score=points,
                                                   tests_passed=int(passed), tests=1))
        result.cells = [session.outcomes[i] for i, _ in cells if i in session.outcomes]
    result.score = sum(t.score for t in result.tests)
    result.message = ("Visible tests only check the lecture's worked examples; hidden tests decide the grade.")
    result.execution_time = round(time.monotonic() - started, 2)
    return result


def _message(outcome: CellOutcome | None) -> str:
    if outcome is None:
        return "The visible test did not run: the time limit was reached."
    if outcome.error_type == "NotImplementedError":
        return "Not implemented yet (the function raises NotImplementedError)."
    if outcome.status in ("timeout", "crashed"):
        return f"The visible test was stopped: {outcome.error_message}"
    return f"The visible test failed with {outcome.error_type}: {outcome.error_message}".rstrip(": ")
