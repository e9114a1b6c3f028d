"""The course's own functions, served to a student's worker in place of the student's (``dependent_questions:
reference``), without the course's code ever entering the student's process.

When a question that others build on fails, its dependents are graded with the course's function in its place
(:mod:`autograder.dependencies`). :class:`CourseFunctions` runs the course's solution notebook in a worker of
its own (the same sandbox and limits as a student's worker, nothing of the student's in it) and tells the
student's worker to forward calls of those names (:meth:`~autograder.session.NotebookSession.serve`). A call the
student's code makes comes to the grader as data; the grader calls the solution worker with the same arguments
and sends back only the value, or the name of the Python exception the course's function raised. The student's
code can call the forwarder, inspect it and rewrite it: it holds no source, no object and no text of the course's.
"""

from __future__ import annotations

from typing import Any

from autograder.config import Assignment, Course
from autograder.dependencies import reference_functions, solution_cells
from autograder.sandbox.process import WorkerSpec
from autograder.session import (
    BUILTIN_EXCEPTIONS,
    NotebookSession,
    StudentCodeProblem,
    StudentError,
)

MAX_NOTES = 10  # problems of the course's worker kept for the instructor log


class CourseFunctions:
    """The solution notebook alive in a worker of its own, started on the first substitution of a submission.
    Always :meth:`close` it (or use ``with``)."""

    def __init__(self, course: Course, assignment: Assignment, spec: WorkerSpec, *, deadline: float) -> None:
        self.course, self.assignment, self.spec, self.deadline = course, assignment, spec, deadline
        self.session: NotebookSession | None = None
        self.notes: list[str] = []  # instructors only

    def __enter__(self) -> CourseFunctions:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.session is not None:
            self.session.close()

    def substitute(self, student: NotebookSession, questions: list[str]) -> str:
        """Serve the course's functions of ``questions`` to ``student``'s notebook in place of its own. "" if done,
        else what went wrong (for the instructor log: the question is then graded with the student's own)."""
        names = reference_functions(self.course, self.assignment)
        wanted = {n for q in questions for n in names[q]}
        if self.session is None:
            self.session = NotebookSession(solution_cells(self.course, self.assignment), self.spec,
                                           deadline=self.deadline)
        try:
            self.session.start()
            broken = [o for o in self.session.outcomes.values() if o.status != "ok"]
            if broken:
                return (f"the solution notebook's cell {broken[0].index + 1} {broken[0].status} in the course's "
                        f"worker: {broken[0].error_type} {broken[0].error_message}"[:500])
            student.serve(tuple(sorted(set(student.served) | wanted)), self.compute)
        except StudentCodeProblem as exc:
            return f"{type(exc).__name__}: {exc.detail}"[:500]
        return ""

    def compute(self, name: str, args: list[Any], kwargs: dict[str, Any], deadline: float) -> dict[str, Any]:
        """The answer to one call the student's code made, by ``deadline`` (that of the student's call it serves):
        the course's value, or the name of the Python exception the course's function raised on these arguments
        (never its message or traceback: the course's text)."""
        assert self.session is not None
        try:
            return {"ok": True, "value": self.session.call_until(deadline, name, args, kwargs)}
        except StudentError as exc:  # the course's function refused these arguments (e.g. a kernel too large)
            return {"ok": False, "type": exc.type_name if exc.type_name in BUILTIN_EXCEPTIONS else "RuntimeError"}
        except StudentCodeProblem as exc:  # it timed out or crashed on arguments the student's code chose
            if len(self.notes) < MAX_NOTES:
                self.notes.append(f"the course's {name}, called by the student's code: {type(exc).__name__} "
                                  f"{exc.detail}"[:300])
            return {"ok": False, "type": "RuntimeError"}
