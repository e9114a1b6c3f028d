"""Shared fixtures: a course folder with small limits, built around the repository's real files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from autograder.config import load_course
from autograder.demo import make_course_copy

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
AUTOGRADER = [sys.executable, "-m", "autograder"]


def make_course(tmp: Path, **limits: float) -> Path:
    """A copy of the repository's course in ``tmp`` (:func:`autograder.demo.make_course_copy`: its own
    course.yml, nbgrader_config.py and assignments/, links to the notebooks, workbooks and hidden suites),
    with ``limits`` overriding the course-wide ones. Returns course.yml's path."""
    course = make_course_copy(load_course(REPO / "course.yml"), tmp)
    path = course.root / "course.yml"
    data = yaml.safe_load(path.read_text())
    data["limits"] = {**data.get("limits", {}), **limits}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_cli(
    *args: str | os.PathLike[str], cwd: Path | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run the real `autograder` command in a subprocess (as an instructor would)."""
    return subprocess.run([*AUTOGRADER, *map(str, args)], cwd=cwd or REPO, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def require(ok: bool, message: str) -> None:
    """Skip the calling test with ``message`` (which says what to install) unless ``ok``; under ``CI=true``
    fail instead: a skipped check in CI is a failure hidden."""
    if ok:
        return
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
