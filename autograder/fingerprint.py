"""What decided a score: a fingerprint of everything that goes into grading one submission.

A result records the digest of each part; a rerun of the same ``grade`` command compares them and regrades
exactly the submissions whose fingerprint changed, naming what changed ("hidden suite changed"). The parts:

- ``notebook``: the submitted file (sha256 of its bytes);
- ``assignment``: the assignment's course.yml entry (questions, points, policies, training recipes) with the
  limits it is graded under;
- ``hidden_suite``: every file of the assignment's hidden suite;
- ``workbooks``: the reference workbooks and other files listed under the assignment's ``files:``;
- ``released``: what the released notebook decides at grading time (its visible test cells and the functions a
  hidden test may call) and the solution cells a dependent question may be graded with;
- ``runner``: the runner profile's name and course.yml entry;
- ``grader``: the autograder's version and the digest of its own source files.

Trusted code: reads course files only, never a submission's content beyond hashing it.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from autograder.config import Assignment, Course

PARTS = ("notebook", "assignment", "hidden_suite", "workbooks", "released", "runner", "grader")

# How a changed part is named in "3 regraded: hidden suite changed".
PART_NAMES = {
    "notebook": "submission changed",
    "assignment": "course.yml entry changed",
    "hidden_suite": "hidden suite changed",
    "workbooks": "workbooks changed",
    "released": "released notebook changed",
    "runner": "runner profile changed",
    "grader": "grader version changed",
}

PACKAGE_DIR = Path(__file__).resolve().parent
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache"}


def _json_digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _files_digest(root: Path, files: Iterable[Path]) -> str:
    """sha256 over (relative path, content digest) of ``files``; a missing file counts as its own state."""
    h = hashlib.sha256()
    for path in sorted(files):
        try:
            rel = path.relative_to(root).as_posix()
        except ValueError:
            rel = path.as_posix()
        try:
            content = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            content = "missing"
        h.update(f"{rel}\0{content}\n".encode())
    return h.hexdigest()


def _tree(folder: Path, suffixes: tuple[str, ...] | None = None) -> list[Path]:
    if not folder.is_dir():
        return []
    return [p for p in folder.rglob("*") if p.is_file() and not _SKIP_DIRS & set(p.relative_to(folder).parts)
            and (suffixes is None or p.suffix in suffixes)]


@functools.lru_cache(maxsize=1)
def grader_digest() -> str:
    """The autograder's version and its own source (its hidden suites excluded: they are course files)."""
    from importlib import metadata

    try:
        version = metadata.version("cnn-autograder")
    except metadata.PackageNotFoundError:
        version = "unknown"
    sources = [p for p in _tree(PACKAGE_DIR, (".py", ".ini"))
               if p.relative_to(PACKAGE_DIR).parts[0] != "hidden"]
    return _json_digest([version, _files_digest(PACKAGE_DIR, sources)])


def course_fingerprint(course: Course, assignment: Assignment, runner: str) -> dict[str, str]:
    """Every part of the fingerprint except ``notebook`` (the same for a whole batch)."""
    from autograder.dependencies import reference_sources, solution_cells
    from autograder.grade import declared_functions, released_test_sources

    entry = assignment.model_dump(mode="json")
    entry["_limits"] = course.limits_for(assignment).model_dump(mode="json")
    runner_entry = course.runners.get(runner)
    released = [sorted(released_test_sources(course, assignment)), sorted(declared_functions(course, assignment)),
                reference_sources(course, assignment),
                # the course's functions are served from a worker running these cells
                solution_cells(course, assignment) if reference_sources(course, assignment) else []]
    return {
        "assignment": _json_digest(entry),
        "hidden_suite": _files_digest(course.root, _tree(course.hidden_suite(assignment))),
        "workbooks": _files_digest(course.root, [course.root / f for f in assignment.files]),
        "released": _json_digest(released),
        "runner": _json_digest([runner, runner_entry.model_dump(mode="json") if runner_entry else None]),
        "grader": grader_digest(),
    }


def changed_parts(previous: object, current: dict[str, str]) -> list[str]:
    """The parts of ``current`` that ``previous`` (a result's recorded fingerprint) does not match, in
    :data:`PARTS` order; every part when there is no usable record (a result from before fingerprints)."""
    if not isinstance(previous, dict):
        return [p for p in PARTS if p in current]
    return [p for p in PARTS if p in current and previous.get(p) != current[p]]


def describe_changes(counts: dict[str, int]) -> str:
    """``{"hidden_suite": 3, "notebook": 1}`` -> ``"hidden suite changed (3), submission changed (1)"``."""
    return ", ".join(f"{PART_NAMES.get(part, part)} ({n})" for part, n in counts.items())
