"""`autograder report`: the class report of a grades folder through the real CLI (unit-level numbers:
tests/unit/test_class_report.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from autograder.config import load_course
from autograder.report import write_result
from tests.conftest import REPO
from tests.unit.test_class_report import _class


def test_the_command_writes_both_files_beside_the_grades(tmp_path: Path) -> None:
    a01 = load_course(REPO / "course.yml").assignment("01_convolution")
    grades = tmp_path / "grades"
    for result in _class(a01):
        write_result(result, a01, grades)
    cmd = [sys.executable, "-m", "autograder", "--course", str(REPO / "course.yml"), "report", a01.id]
    proc = subprocess.run([*cmd, "--grades", str(grades)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"Class report: {grades / 'class-report.html'}" in proc.stdout
    assert json.loads((grades / "class-report.json").read_text())["submissions"] == 4
    empty = subprocess.run([*cmd, "--grades", str(tmp_path / "nothing")], capture_output=True, text=True, timeout=120)
    assert empty.returncode == 4 and "no results to report on" in empty.stderr
