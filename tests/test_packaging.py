"""Students may install the package to get `autograder validate`: no package built from the repository holds a hidden
suite. A wheel and an sdist are built (setuptools, no network) from a copy of the repository, hidden suites included,
and their file lists are checked; the grader's own files, the suites' pytest configuration among them, are there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

# what a checkout holds besides its tracked files (a stale build/ would be reused by setuptools)
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
                                     ".cache", "demo-output", "grades", "submitted", "autograded", "feedback",
                                     "downloaded", "gradebook.db*")
PACKAGE_FILES = {"autograder/cli.py", "autograder/suite.py", "autograder/suite_pytest.ini", "autograder/validate.py",
                 "autograder/worker/main.py", "autograder/nbgrader_config_template.py"}


def _build(*args: str, cwd: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """The files of a wheel and of an sdist built from a copy of the repository, by kind."""
    base = tmp_path_factory.mktemp("packaging")
    source = base / "repo"
    shutil.copytree(REPO, source, ignore=NOT_SOURCES, symlinks=True)
    hidden = list((source / "autograder" / "hidden").rglob("test_*.py"))
    assert len(hidden) > 10, "the copy must hold the hidden suites for this test to mean anything"
    _build("-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--disable-pip-version-check",
           "-q", "-w", str(base / "wheel"), ".", cwd=source)
    _build("-c", f"from setuptools import build_meta; build_meta.build_sdist({str(base / 'sdist')!r})", cwd=source)
    (wheel,) = (base / "wheel").glob("*.whl")
    (sdist,) = (base / "sdist").glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as z:
        wheel_files = set(z.namelist())
    with tarfile.open(sdist) as t:  # "cnn-autograder-0.1.0/autograder/cli.py" -> "autograder/cli.py"
        sdist_files = {m.name.split("/", 1)[1] for m in t.getmembers() if m.isfile() and "/" in m.name}
    return {"wheel": wheel_files, "sdist": sdist_files}


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_no_hidden_suite_in_a_package(built: dict[str, set[str]], kind: str) -> None:
    files = built[kind]
    assert PACKAGE_FILES <= files, PACKAGE_FILES - files
    hidden = sorted(f for f in files if f.startswith("autograder/hidden/") or "/hidden/" in f)
    assert not hidden, f"the {kind} holds hidden suite files: {hidden[:5]}"
    tests = sorted(f for f in files if Path(f).name.startswith("test_") or Path(f).name == "conftest.py")
    assert not tests, f"the {kind} holds test files: {tests[:5]}"


def students_copy(course_root: Path, target: Path) -> Path:
    """What students get of a course: course.yml and the released folders (each notebook with the files it reads;
    no solutions, no hidden suites, no datasets/ folder)."""
    target.mkdir(parents=True)
    shutil.copy2(course_root / "course.yml", target / "course.yml")
    shutil.copytree(course_root / "assignments", target / "assignments")
    return target


def test_validate_runs_in_a_students_copy_without_hidden_suites(tmp_path: Path) -> None:
    from autograder.config import load_course
    from autograder.samples import make_sample
    from tests.conftest import run_cli

    course = load_course(REPO / "course.yml")
    a = course.assignment("01_convolution")
    student = students_copy(REPO, tmp_path / "student")
    mine = student / "assignments" / a.id / "mine.ipynb"
    mine.write_text(make_sample(course, a, "correct"))
    ok = run_cli("validate", mine, "--assignment", a.id, cwd=student)
    assert ok.returncode == 0, ok.stdout + ok.stderr  # every visible test passes
    stub = student / "assignments" / a.id / "stub.ipynb"
    stub.write_text(make_sample(course, a, "stub"))
    bad = run_cli("validate", stub, "--assignment", a.id, cwd=student)
    assert bad.returncode == 1, bad.stdout + bad.stderr  # the stub's visible tests fail
    assert "conv2d_layer" in bad.stdout
    # grading needs what students do not have
    grade = run_cli("grade", a.id, mine, "--out", tmp_path / "out", cwd=student)
    assert grade.returncode == 2, grade.stdout + grade.stderr
    assert "hidden_suite: folder" in grade.stderr and "does not exist" in grade.stderr
    # a released file the notebook reads went missing from the student's folder: said before anything runs
    (student / "assignments" / a.id / "activation fn.xlsx").unlink()
    lost = run_cli("validate", mine, "--assignment", a.id, cwd=student)
    assert lost.returncode == 4, lost.stdout + lost.stderr
    assert "activation fn.xlsx missing: the notebook of 01_convolution reads it. Fetch or copy the whole released " \
        "folder again" in lost.stderr and lost.stdout == ""
