"""What ``autograder validate`` needs, in the folder a student works in.

A student never has the course: ``nbgrader fetch_assignment`` gives them the released notebook and the files
released beside it (the workbooks), nothing else. ``autograder release`` therefore writes one more file beside the
released notebook, :data:`CHECKS_FILE`: the assignment's id and title, the notebook's name, its limits, the files
released with it, what the released notebook imports (a warm worker preloads it), and the VISIBLE test cells of the
released notebook, each with its question's title. Everything in it is already in the released notebook or in
course.yml's public part: no solution, hidden test, hidden input or training recipe (``tests/test_student_copy.py``
checks that the file holds no line of the solution or the hidden suite).

``autograder validate NOTEBOOK`` and nbgrader's Validate button (:mod:`autograder.student_server`) find what to
run with :func:`find_target`: a course first (``--course``, or a course.yml in a folder above the current one or the
notebook's: :func:`target_from_course`), else the file beside the notebook (:func:`target_from_folder`). In that
order so that in an instructor's or a TA's course folder the file beside a SUBMITTED notebook, which its student
could have written (its limits, its checks), is never what runs. Either way validate runs a :class:`ValidationTarget`.

Grading never reads this file: it is part of what a student hands in (nbgrader submits the whole folder), so it is
student data there. Grading takes the visible tests from the course's own released notebook.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from autograder.config import Assignment, Course, Limits, load_course
from autograder.errors import ConfigError, SubmissionError

CHECKS_FILE = ".autograder-checks.json"
FORMAT = 1
MAX_CHECKS_FILE_BYTES = 2 * 2**20  # the 01 file is about 10 KiB


@dataclass(frozen=True)
class VisibleTest:
    """One visible test cell of the released notebook: the question's id (the cell's grade_id), its title, the
    cell's source."""

    grade_id: str
    title: str
    source: str


@dataclass(frozen=True)
class ValidationTarget:
    """Everything validate runs a notebook against, whichever copy of the course it came from."""

    assignment: str
    title: str
    notebook: str
    limits: Limits
    tests: tuple[VisibleTest, ...]
    files: tuple[Path, ...]  # released beside the notebook; placed in the worker's job directory
    preload: tuple[str, ...]  # what the released notebook imports (a warm zygote imports it first)
    run_training_cells: bool
    warm_start: bool
    secret: tuple[str, ...]  # paths the worker must not see (the course's solutions and hidden suites)
    source: str  # where these facts came from: the course's course.yml, or the checks file

    @property
    def test_sources(self) -> frozenset[str]:
        """The visible test cells' sources, as :func:`autograder.grade.select_cells` leaves them out."""
        return frozenset(t.source.strip() for t in self.tests)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Check(_Strict):
    grade_id: str
    title: str
    source: str


class ChecksFile(_Strict):
    """The JSON of :data:`CHECKS_FILE` (written by ``autograder release``)."""

    format: int = Field(description="Version of this file's layout.")
    course_id: str
    assignment: str
    title: str
    notebook: str
    files: list[str] = Field(description="Names of the files released beside the notebook.")
    limits: Limits
    run_training_cells: bool
    preload: list[str]
    checks: list[_Check]

    def model_post_init(self, __context: Any) -> None:
        for name in [self.notebook, *self.files]:
            if not name or Path(name).name != name or name in (".", ".."):
                raise ValueError(f"{name!r} is not a file name (files are released beside the notebook)")


def visible_tests(notebook: Path, assignment: Assignment) -> tuple[VisibleTest, ...]:
    """The visible test cells of a released notebook (grade cells that are not answers), in notebook order."""
    released = nbformat.read(str(notebook), 4)
    tests = []
    for cell in released.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            qid = str(meta["grade_id"])
            tests.append(VisibleTest(qid, assignment.question(qid).title, cell.source))
    return tuple(tests)


def checks_document(course: Course, assignment: Assignment, released_notebook: Path) -> dict[str, Any]:
    """The content of :data:`CHECKS_FILE` for ``released_notebook`` (the notebook nbgrader generated)."""
    from autograder.grade import read_released_facts

    _, _, imports = read_released_facts(released_notebook)
    document = ChecksFile(
        format=FORMAT, course_id=course.course_id, assignment=assignment.id, title=assignment.title,
        notebook=assignment.notebook, files=[Path(f).name for f in assignment.files],
        limits=course.limits_for(assignment), run_training_cells=assignment.run_training_cells,
        preload=list(imports),
        checks=[_Check(grade_id=t.grade_id, title=t.title, source=t.source)
                for t in visible_tests(released_notebook, assignment)],
    )
    return document.model_dump(mode="json")


def write_checks_file(course: Course, assignment: Assignment, folder: Path) -> Path:
    """Write :data:`CHECKS_FILE` into ``folder``, the generated release holding the notebook."""
    path = folder / CHECKS_FILE
    text = json.dumps(checks_document(course, assignment, folder / assignment.notebook), indent=1, sort_keys=True)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def target_from_course(course: Course, assignment: Assignment) -> ValidationTarget:
    """The facts validate needs, read from a course (the instructor's, or a students' copy of it)."""
    from autograder.grade import released_imports
    from autograder.sandbox import isolation

    folder = course.released_notebook(assignment).parent
    return ValidationTarget(
        assignment=assignment.id, title=assignment.title, notebook=assignment.notebook,
        limits=course.limits_for(assignment),
        tests=visible_tests(course.released_notebook(assignment), assignment),
        files=tuple(folder / Path(f).name for f in assignment.files),
        preload=released_imports(course, assignment), run_training_cells=assignment.run_training_cells,
        warm_start=course.sandbox.warm, secret=isolation.course_secrets(course),
        source=str(course.source or course.root / "course.yml"),
    )


def target_from_folder(notebook: Path) -> ValidationTarget | None:
    """The facts validate needs, from the :data:`CHECKS_FILE` beside ``notebook`` (a student's fetched folder);
    ``None`` when there is none. A file that is there but cannot be read raises :class:`ConfigError` saying so."""
    path = notebook.absolute().parent / CHECKS_FILE
    if not path.is_file():
        return None
    again = ("Fetch the assignment again into a new folder (nbgrader: the Assignments tab or `nbgrader "
             "fetch_assignment`), or ask your instructor for the released folder; copy your notebook into it.")
    try:
        if path.stat().st_size > MAX_CHECKS_FILE_BYTES:
            raise ValueError(f"it is larger than {MAX_CHECKS_FILE_BYTES // 2**20} MiB")
        document = ChecksFile.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e["loc"])
        raise ConfigError(f"{path} cannot be read ({where + ': ' if where else ''}{e['msg']}), so the visible "
                          f"checks are unknown. {again}") from None
    except (OSError, ValueError, RecursionError) as exc:  # (RecursionError: JSON nested thousands deep)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path} cannot be read ({first}), so the visible checks are unknown. {again}") from None
    if document.format != FORMAT:
        raise ConfigError(f"{path} has layout {document.format}; this autograder reads layout {FORMAT}. Install the "
                          f"autograder version your course uses, or {again[0].lower()}{again[1:]}")
    return ValidationTarget(
        assignment=document.assignment, title=document.title, notebook=document.notebook, limits=document.limits,
        tests=tuple(VisibleTest(c.grade_id, c.title, c.source) for c in document.checks),
        files=tuple(path.parent / name for name in document.files),
        preload=tuple(document.preload), run_training_cells=document.run_training_cells,
        warm_start=True, secret=(), source=str(path),
    )


def guess_assignment(course: Course, notebook: Path) -> Assignment:
    """The assignment a notebook is for: by its file name, else by its folder's name."""
    for a in course.assignments:
        if notebook.name == a.notebook or notebook.parent.name == a.id:
            return a
    names = ", ".join(f"{a.id} ({a.notebook})" for a in course.assignments)
    raise SubmissionError(f"{notebook}: cannot tell which assignment this is; pass --assignment (one of {names}).")


def course_file_above(*starts: Path) -> Path | None:
    """The OUTERMOST ``course.yml`` in the first of ``starts`` or a folder above it that has one: a course.yml that
    a student handed in beside a submitted notebook is inside the instructor's course folder, never above it."""
    for start in starts:
        start = start.resolve()
        found = [folder / "course.yml" for folder in (start, *start.parents) if (folder / "course.yml").is_file()]
        if found:
            return found[-1]
    return None


def find_target(notebook: Path, *, course_file: Path | None = None, assignment_id: str | None = None,
                search: tuple[Path, ...] = ()) -> ValidationTarget | None:
    """What to validate ``notebook`` against: the course at ``course_file``, else the course of a course.yml above
    ``search`` or the notebook's folder (a students' copy of the course needs only its released part), else the
    :data:`CHECKS_FILE` beside the notebook; ``None`` when there is none of them."""
    course_file = course_file or course_file_above(*search, notebook.absolute().parent)
    if course_file is not None:
        course = load_course(course_file, released_only=True)  # students have no solutions or hidden suites
        assignment = course.assignment(assignment_id) if assignment_id else guess_assignment(course, notebook)
        return target_from_course(course, assignment)
    target = target_from_folder(notebook)
    if target is not None and assignment_id and assignment_id != target.assignment:
        raise ConfigError(f"--assignment {assignment_id}: the checks beside {notebook} are those of "
                          f"{target.assignment}. Leave --assignment out, or pass --course.")
    return target
