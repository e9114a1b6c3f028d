"""Release: nbgrader's own generate_assignment turns solutions/ into assignments/.

nbgrader generates in a scratch folder; the result is then copied into ``assignments/<id>/`` together with the files
listed in course.yml and ``.autograder-checks.json``, the visible checks a student's ``autograder validate`` runs
(:mod:`autograder.student_copy`). course.yml is the one source of points: the copy nbgrader generates from gets each
question's points from course.yml (in its grade cell's nbgrader metadata, by grade_id), and prose "(N points)" in a
question's text that disagrees is refused. A release records the assignment (notebook, grade cells, points, locked
cells' checksums, due date) in the course's gradebook, which nbgrader's autograde, formgrader, feedback and export
need. ``check`` generates the same way against a scratch gradebook and compares, so CI can refuse a stale release
without touching the course's gradebook.
"""

from __future__ import annotations

import contextlib
import filecmp
import io
import logging
import shutil
import tempfile
from pathlib import Path

import nbformat

from autograder.config import (
    Assignment,
    Course,
    apply_course_points,
    prose_points_problems,
    solution_cell_problems,
)
from autograder.errors import ConfigError, ReleaseError
from autograder.student_copy import write_checks_file


def check_source(course: Course, assignment: Assignment) -> None:
    """What a release refuses before nbgrader runs: a solution notebook whose grade cells are not course.yml's
    questions (:class:`ConfigError`), or prose "(N points)" that disagrees with course.yml (:class:`ReleaseError`)."""
    cells = solution_cell_problems(course, assignment)
    if cells:
        raise ConfigError(f"The solution notebook of {assignment.id} does not match course.yml's questions:\n"
                          + "\n".join(f"  - {p}" for p in cells))
    prose = prose_points_problems(course, assignment)
    if prose:
        raise ReleaseError(f"Not released: the text of {assignment.id} states points that disagree with course.yml "
                           "(the source of the points, which the release writes into the notebook's grade cells):\n"
                           + "\n".join(f"  - {p}" for p in prose))


def _write_course_points(notebook: Path, assignment: Assignment) -> None:
    """course.yml's points into the grade cells of the (scratch) notebook nbgrader generates from."""
    nb = nbformat.read(str(notebook), as_version=4)
    if apply_course_points(nb, assignment):
        nbformat.write(nb, str(notebook))


def _generate(course: Course, assignment: Assignment, scratch: Path, db_url: str | None = None) -> Path:
    """Run nbgrader generate_assignment in ``scratch`` (recording it in the gradebook at ``db_url``, else in a
    scratch one); return the generated release folder."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    from autograder.gradebook import prepare_nbgrader

    check_source(course, assignment)
    prepare_nbgrader()
    shutil.copytree(course.root / "solutions" / assignment.id, scratch / "source" / assignment.id,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    _write_course_points(scratch / "source" / assignment.id / assignment.notebook, assignment)
    config = Config()
    config.CourseDirectory.root = str(scratch)
    config.CourseDirectory.course_id = course.course_id
    config.CourseDirectory.source_directory = "source"
    config.CourseDirectory.release_directory = "release"
    config.CourseDirectory.db_url = db_url or f"sqlite:///{scratch / 'gradebook.db'}"
    config.GenerateAssignment.create_assignment = True
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        api = NbGraderAPI(config=config)
        api.log.addHandler(handler)
        outcome = api.generate_assignment(assignment.id, force=True, create=True)
    if not outcome.get("success"):
        text = f"{outcome.get('error') or ''}\n{outcome.get('log') or log.getvalue()}"
        if "because there are submissions" in text:
            raise ReleaseError(
                f"{assignment.id} already has submissions in the gradebook, and nbgrader cannot add or remove grade "
                "cells of a notebook once students have submitted it. Keep the cells (text and points may change) "
                "or release the change as a new assignment id."
            )
        raise ReleaseError(f"nbgrader generate_assignment failed for {assignment.id}:\n{text}")
    released = scratch / "release" / assignment.id
    for f in assignment.files:
        shutil.copy2(course.root / f, released / Path(f).name)
    write_checks_file(course, assignment, released)  # what `autograder validate` needs in a student's folder
    return released


def release(course: Course, assignment: Assignment) -> Path:
    """Regenerate ``assignments/<id>/`` from ``solutions/<id>/`` and record it in the course's gradebook."""
    from autograder import gradebook

    gradebook.ensure_config(course)
    url = gradebook.db_url(gradebook.load_config(course))
    target = course.root / "assignments" / assignment.id
    with tempfile.TemporaryDirectory(prefix="ag-release-") as tmp:
        generated = _generate(course, assignment, Path(tmp), url)
        gradebook.record_release(course, assignment, url)
        _check_no_solutions(generated / assignment.notebook)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(generated, target)
    return target


def stale_files(course: Course, assignment: Assignment) -> list[str]:
    """Differences between the committed release and a fresh one (empty when current)."""
    target = course.root / "assignments" / assignment.id
    with tempfile.TemporaryDirectory(prefix="ag-release-") as tmp:
        generated = _generate(course, assignment, Path(tmp))
        if not target.is_dir():
            return [f"{target} is missing"]
        cmp = filecmp.dircmp(generated, target)
        problems = [f"{target / n} is missing" for n in cmp.left_only]
        problems += [f"{target / n} should not be there" for n in cmp.right_only]
        for name in cmp.common_files:
            a, b = generated / name, target / name
            if name.endswith(".ipynb"):
                if nbformat.read(str(a), 4) != nbformat.read(str(b), 4):
                    problems.append(f"{b} differs from what solutions/ generates")
            elif not filecmp.cmp(a, b, shallow=False):
                problems.append(f"{b} differs from its source")
        return problems


def _check_no_solutions(notebook: Path) -> None:
    text = notebook.read_text(encoding="utf-8")
    for marker in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"):
        if marker in text:
            raise ReleaseError(f"{notebook}: the released notebook still contains {marker!r}.")
