"""The unit layer: pure functions only, no worker processes, no batch grading, no Keras training.

Runs in seconds: ``.venv/bin/python -m pytest tests/unit -q``.

``--update-goldens`` (or ``UPDATE_GOLDENS=1`` in the environment, which also works when pytest is run from the
repository root without naming ``tests/unit``) rewrites the committed files under ``tests/golden/`` instead
of comparing with them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autograder.config import Assignment, Course, load_course

REPO = Path(__file__).resolve().parents[2]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens", action="store_true", default=False,
        help="rewrite the golden files under tests/golden/ from the current code instead of comparing",
    )


def update_goldens(config: pytest.Config) -> bool:
    """Whether to rewrite goldens: ``--update-goldens`` (registered when pytest is given tests/unit or a file in
    it) or ``UPDATE_GOLDENS=1``."""
    flag = bool(config.getoption("--update-goldens", default=False))
    return flag or os.environ.get("UPDATE_GOLDENS", "").strip() not in ("", "0")


@pytest.fixture(scope="session")
def course() -> Course:
    """The repository's real course.yml."""
    return load_course(REPO / "course.yml")


@pytest.fixture(scope="session")
def a01(course: Course) -> Assignment:
    """01_convolution: seven auto-graded questions and one manual one (padding_written, 2 points)."""
    return course.assignment("01_convolution")
