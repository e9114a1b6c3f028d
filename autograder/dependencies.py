"""Questions that build on earlier ones: one mistake is counted once, and feedback names the real cause.

course.yml says which question builds on which (``questions[].depends_on``) and how a dependent question is
graded when the student's earlier answer fails (the assignment's ``dependent_questions``):

- ``own``: with the student's own earlier function; the dependent question's feedback says
  "conv2d_layer builds on your convolve2d, which fails its tests: fix that first";
- ``reference``: with the course's own earlier function in its place, so the earlier mistake costs points once,
  in the earlier question; the feedback says so. The course's function never enters the student's process:
  a worker of its own runs the solution notebook (:func:`solution_cells`, nothing of the student's), and the
  student's worker gets a forwarder under each name the earlier question's answer cells define
  (:func:`reference_functions`), whose calls come back to the grader as data and are answered with the value
  the course's function returns (:mod:`autograder.course_functions`).

Hidden tests run prerequisites first (:func:`dependency_order`).
"""

from __future__ import annotations

import ast
import functools

import nbformat

from autograder.config import SKIP_TAG, Assignment, Course, question_sections
from autograder.errors import ConfigError


def dependency_rank(assignment: Assignment) -> dict[str, int]:
    """question id -> how many questions deep it builds (0: on none); questions run in increasing rank."""
    deps = {q.id: list(q.depends_on) for q in assignment.questions}
    rank: dict[str, int] = {}

    def visit(qid: str, path: tuple[str, ...]) -> int:
        if qid in path:
            raise ConfigError(f"assignment {assignment.id}: questions depend on each other in a cycle: "
                              f"{' -> '.join((*path, qid))}; remove one of these depends_on entries.")
        if qid not in rank:
            rank[qid] = 1 + max((visit(d, (*path, qid)) for d in deps.get(qid, [])), default=-1)
        return rank[qid]

    for q in assignment.questions:
        visit(q.id, ())
    return rank


def check_dependencies(assignment: Assignment) -> list[str]:
    """Problems with ``depends_on`` entries (unknown, manual or self references; cycles)."""
    ids = {q.id: q for q in assignment.questions}
    problems = []
    for q in assignment.questions:
        for d in q.depends_on:
            if d == q.id:
                problems.append(f"question {q.id!r} depends on itself")
            elif d not in ids:
                problems.append(f"question {q.id!r} depends on {d!r}, which is not a question of {assignment.id}")
            elif ids[d].manual or q.manual:
                problems.append(f"question {q.id!r} depends on {d!r}: only auto-graded questions can depend "
                                "on each other")
    if not problems:
        try:
            dependency_rank(assignment)
        except ConfigError as exc:
            problems.append(str(exc))
    return problems


def reference_sources(course: Course, assignment: Assignment) -> dict[str, str]:
    """question id -> the solution notebook's answer cells for it (joined), for every question some other
    question depends on, when the assignment grades dependents with the reference (else empty)."""
    if assignment.dependent_questions != "reference":
        return {}
    needed = sorted({d for q in assignment.questions for d in q.depends_on})
    if not needed:
        return {}
    path = course.solution_notebook(assignment)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist: the reference answers of {assignment.id} come from it.") from None
    cells = _answer_cells(str(path), st.st_mtime_ns, st.st_size)
    missing = [qid for qid in needed if not cells.get(qid)]
    if missing:
        raise ConfigError(
            f"{path}: no answer cell before the test cell of question(s) {', '.join(missing)}; a question that "
            "others depend on needs its solution in answer cells (nbgrader 'Autograded answer') right above its "
            "test cell, or set dependent_questions: own."
        )
    return {qid: cells[qid] for qid in needed}


def reference_functions(course: Course, assignment: Assignment) -> dict[str, tuple[str, ...]]:
    """question id -> the functions its solution's answer cells define at top level (sorted), for every question
    some other question depends on, under ``dependent_questions: reference`` (else empty): the names a dependent
    question's grading serves from the course's solution in the student's place."""
    found: dict[str, tuple[str, ...]] = {}
    for qid, source in reference_sources(course, assignment).items():
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            raise ConfigError(f"{course.solution_notebook(assignment)}: the answer cells of question {qid} do not "
                              f"parse ({exc}).") from None
        names = sorted(n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
        if not names:
            raise ConfigError(f"{course.solution_notebook(assignment)}: the answer cells of question {qid} define "
                              "no function, so nothing can stand in for the student's under dependent_questions: "
                              "reference; define the question's function there, or set dependent_questions: own.")
        found[qid] = tuple(names)
    return found


def solution_cells(course: Course, assignment: Assignment) -> list[tuple[int, str]]:
    """(cell index, source) of the solution notebook's code cells a worker runs to serve the course's own
    functions: every code cell but test cells and cells tagged ``skip-grading`` (trusted metadata: the course's
    own notebook)."""
    path = course.solution_notebook(assignment)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist: the reference answers of {assignment.id} come from it.") from None
    return list(_solution_cells(str(path), st.st_mtime_ns, st.st_size))


@functools.lru_cache(maxsize=16)
def _solution_cells(path: str, mtime_ns: int, size: int) -> tuple[tuple[int, str], ...]:
    nb = nbformat.read(path, as_version=4)
    cells = []
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {})
        nbgrader = meta.get("nbgrader", {})
        if cell.cell_type != "code" or (nbgrader.get("grade") and not nbgrader.get("solution")):
            continue
        if SKIP_TAG in (meta.get("tags") or []) or not cell.source.strip():
            continue
        cells.append((index, cell.source))
    return tuple(cells)


@functools.lru_cache(maxsize=16)
def _answer_cells(path: str, mtime_ns: int, size: int) -> dict[str, str]:
    """For each question: the autograded-answer code cells of its section (:func:`question_sections`), joined."""
    nb = nbformat.read(path, as_version=4)
    found: dict[str, str] = {}
    for qid, indices in question_sections(nb).items():
        cells = [nb.cells[i] for i in indices]
        found[qid] = "\n\n".join(c.source for c in cells if c.cell_type == "code"
                                  and c.metadata.get("nbgrader", {}).get("solution")
                                  and not c.metadata.get("nbgrader", {}).get("grade"))
    return found


def prerequisite_note(question: str, failed: list[str], *, substituted: bool) -> str:
    """The sentence a dependent question's feedback starts with when its prerequisites fail."""
    names = " and ".join(f"`{f}`" for f in failed)
    if substituted:
        return (f"`{question}` was graded with the course's own {names} in place of yours, which "
                f"{'fails' if len(failed) == 1 else 'fail'} its tests: that mistake is counted once, in {names}.")
    return (f"`{question}` builds on your {names}, which {'fails' if len(failed) == 1 else 'fail'} its "
            "tests: fix that first.")
