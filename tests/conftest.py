"""Shared fixtures: a course folder with small limits, built around the repository's real files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
AUTOGRADER = [sys.executable, "-m", "autograder"]


def make_course(tmp: Path, **limits: float) -> Path:
    """A course folder in ``tmp`` that links the repo's notebooks, workbooks and hidden suites but has
    its own course.yml (with ``limits`` overriding the course-wide ones). Returns course.yml's path."""
    tmp.mkdir(parents=True, exist_ok=True)
    for name in ("solutions", "assignments", "datasets"):
        (tmp / name).symlink_to(REPO / name)
    (tmp / "autograder").mkdir()
    (tmp / "autograder" / "hidden").symlink_to(REPO / "autograder" / "hidden")
    data = yaml.safe_load((REPO / "course.yml").read_text())
    data["limits"] = {**data.get("limits", {}), **limits}
    path = tmp / "course.yml"
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
