"""Questions that build on earlier ones: one mistake is counted once, and feedback names the real cause.

course.yml says which question builds on which (``questions[].depends_on``) and how a dependent question is
graded when the student's earlier answer fails (the assignment's ``dependent_questions``):

- ``own``: with the student's own earlier function; the dependent question's feedback says
  "conv2d_layer builds on your convolve2d, which fails its tests: fix that first";
- ``reference``: with the course's own earlier function in its place (the solution notebook's answer cells of
  that question, run in the student's worker after their notebook), so the earlier mistake costs points once,
  in the earlier question; the feedback says so.

Hidden tests run prerequisites first (:func:`dependency_order`). Trusted code: the reference source comes from
the course's solution notebook; the worker only runs it.
"""

from __future__ import annotations

import functools

import nbformat

from autograder.config import Assignment, Course, question_sections
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
