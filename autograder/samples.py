"""Sample submissions derived from a solution and its release (for the demo, tests and benchmarks).

They are made, not stored, so they never go stale when a notebook changes:
``correct`` (the released notebook with every answer cell filled in from the solution, as a student
would submit it), ``stub`` (the released notebook), ``partial`` (solution cells for every other
question, stubs for the rest), ``syntax_error`` (one solution cell broken) and ``not_a_notebook`` (a
text file with the notebook's name).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from pathlib import Path

import nbformat

from autograder.config import Assignment, Course

SAMPLE_KINDS = ("correct", "partial", "stub", "syntax_error", "not_a_notebook")


def _solution_cells(nb: nbformat.NotebookNode, cell_type: str | None = "code") -> dict[str, int]:
    ids = {}
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and (cell_type is None or cell.cell_type == cell_type):
            ids[str(meta.get("grade_id"))] = i
    return ids


def filled_in(course: Course, assignment: Assignment) -> nbformat.NotebookNode:
    """The released notebook with every answer cell (code and written) holding the solution's text."""
    solution = nbformat.read(str(course.solution_notebook(assignment)), 4)
    nb = nbformat.read(str(course.released_notebook(assignment)), 4)
    answers = {gid: solution.cells[i].source for gid, i in _solution_cells(solution, None).items()}
    for gid, i in _solution_cells(nb, None).items():
        if gid in answers:
            nb.cells[i].source = answers[gid]
    return nb


def make_sample(course: Course, assignment: Assignment, kind: str) -> str:
    """The text of one sample submission of the given kind."""
    solution = nbformat.read(str(course.solution_notebook(assignment)), 4)
    released = nbformat.read(str(course.released_notebook(assignment)), 4)
    if kind == "correct":
        return nbformat.writes(filled_in(course, assignment))
    if kind == "stub":
        return nbformat.writes(released)
    if kind == "not_a_notebook":
        return "This is my homework, I wrote it in a text editor.\n"
    nb = copy.deepcopy(solution)
    sol_ids = _solution_cells(nb)
    if kind == "partial":
        stub_cells = _solution_cells(released)
        for k, grade_id in enumerate(sorted(sol_ids, key=sol_ids.__getitem__)):
            if k % 2 == 1 and grade_id in stub_cells:
                nb.cells[sol_ids[grade_id]] = released.cells[stub_cells[grade_id]]
        return nbformat.writes(nb)
    if kind == "syntax_error":
        first = min(sol_ids.values())
        nb.cells[first].source += "\n\ndef oops(:\n    pass\n"
        return nbformat.writes(nb)
    raise ValueError(f"unknown sample kind {kind!r}; known: {', '.join(SAMPLE_KINDS)}")


def write_samples(course: Course, assignment: Assignment, submitted: Path,
                  kinds: tuple[str, ...] = SAMPLE_KINDS) -> list[Path]:
    """Write samples in nbgrader's layout: ``submitted/<kind>/<assignment>/<notebook>``."""
    paths = []
    for kind in kinds:
        path = submitted / kind / assignment.id / assignment.notebook
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make_sample(course, assignment, kind), encoding="utf-8")
        paths.append(path.parent)
    return paths


def write_fixtures(doc: str | None, default_dir: Path, names: Iterable[str], make: Callable[[str], str],
                   argv: list[str] | None = None) -> None:
    """The command line of a fixture generator (``tests/fixtures/**/make_*.py [--out-dir DIR]``): write
    ``make(name)`` to ``DIR/<name>.ipynb`` for every name, and print each path."""
    import argparse

    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0] if doc else None)
    parser.add_argument("--out-dir", type=Path, default=default_dir, help="where to write (default: %(default)s)")
    out = parser.parse_args(argv).out_dir
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        (out / f"{name}.ipynb").write_text(make(name), encoding="utf-8")
        print(out / f"{name}.ipynb")

