"""The package installed non-editable (``pip install .``) grades a course copied to another folder.

A fresh virtual environment gets the package built from a copy of the sources (no checkout on its path).
Its site-packages first receives this environment's installed libraries (hard links: seconds, no disk),
without our own editable install, and ``pip --no-index`` must accept them as they are: so the
dependencies pyproject.toml declares are satisfied by the pinned set, with no download (the libraries'
commands, such as nbgrader's ``alembic``, are copied beside it). The course (course.yml, notebooks, hidden
suites, workbooks, data manifest) is copied to a folder of its own; `autograder` is run there, and in
another folder with ``--course``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from autograder.config import load_course
from autograder.samples import make_sample
from tests.conftest import REPO

pytestmark = pytest.mark.slow

COURSE_PARTS = ("course.yml", "nbgrader_config.py", "assignments", "solutions", "datasets", "autograder/hidden")


def _run(*args: str | Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=env)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the fresh environment's bin folder, the copied course's root)."""
    base = tmp_path_factory.mktemp("installed")
    source = base / "src"  # only what a source distribution holds: no tests, no course
    source.mkdir()
    shutil.copy2(REPO / "pyproject.toml", source / "pyproject.toml")
    shutil.copytree(REPO / "autograder", source / "autograder", ignore=shutil.ignore_patterns("__pycache__"))
    venv = base / "venv"
    made = _run(sys.executable, "-m", "venv", venv, cwd=base)
    assert made.returncode == 0, made.stderr
    site = Path(_run(venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                     cwd=base).stdout.strip())
    ours = ("__editable__", "cnn_autograder", "autograder")
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(ours) and not (site / entry.name).exists():
            linked = _run("cp", "-al", entry, site / entry.name, cwd=base)
            assert linked.returncode == 0, f"cannot hard-link {entry} into the fresh environment: {linked.stderr}"
    for script in Path(sys.executable).parent.iterdir():  # the libraries' commands (nbgrader runs `alembic`)
        if not script.name.startswith(("python", "pip", "activate", "autograder")) and script.is_file():
            if not (venv / "bin" / script.name).exists():
                shutil.copy2(script, venv / "bin" / script.name)
    pip = _run(venv / "bin" / "python", "-m", "pip", "install", "--no-index", "--no-build-isolation",
               "--disable-pip-version-check", source, cwd=base)
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    course = base / "elsewhere" / "my-course"
    for part in COURSE_PARTS:
        target = course / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / part).is_dir():
            shutil.copytree(REPO / part, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / part, target)
    return venv / "bin", course


def test_the_installed_package_is_not_the_checkout(installed: tuple[Path, Path]) -> None:
    bin_dir, course = installed
    where = _run(bin_dir / "python", "-c", "import autograder, sys; print(autograder.__file__)", cwd=Path("/"))
    assert where.returncode == 0, where.stderr
    location = Path(where.stdout.strip())
    assert location.is_relative_to(bin_dir.parent), location  # site-packages of the fresh environment
    assert not location.is_relative_to(REPO)
    files = {p.name for p in location.parent.rglob("*") if p.is_file()}
    assert {"main.py", "wire.py", "keras_ext.py", "suite_pytest.ini", "nbgrader_config_template.py"} <= files
    # the hidden suites are the course's (copied with it below), never the package's: the grader works without them
    assert not (location.parent / "hidden").exists()
    assert not [p for p in location.parent.rglob("*") if p.name.startswith("test_") or p.name == "conftest.py"]


def test_installed_cli_grades_a_copied_course(installed: tuple[Path, Path]) -> None:
    bin_dir, course = installed
    repo_course = load_course(REPO / "course.yml")
    submissions = course.parent / "submissions"
    submissions.mkdir(exist_ok=True)
    (submissions / "ada.ipynb").write_text(make_sample(repo_course, repo_course.assignment("01_convolution"),
                                                       "correct"))
    out = course.parent / "out"
    proc = _run(bin_dir / "autograder", "grade", "01_convolution", submissions / "ada.ipynb", "--out", out,
                "--no-gradebook", "--no-progress", cwd=course)  # course.yml found in the working folder
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((out / "ada" / "results.json").read_text())
    assert (result["status"], result["score"], result["max_score"]) == ("graded", 20, 20)

    check = _run(bin_dir / "autograder", "--course", course / "course.yml", "release", "--check", "01_convolution",
                 cwd=Path("/"))
    assert check.returncode == 0, check.stdout + check.stderr
    data = _run(bin_dir / "autograder", "--course", course / "course.yml", "datasets", "list", cwd=Path("/"))
    assert data.returncode == 0 and "fashion_mnist" in data.stdout, data.stdout + data.stderr


def test_the_copied_courses_own_workbooks_are_used(installed: tuple[Path, Path]) -> None:
    """Remove the copy's workbooks: grading there fails for want of them, though the checkout still has its own."""
    bin_dir, course = installed
    broken = course.parent / "no-workbooks"
    shutil.copytree(course, broken)
    shutil.rmtree(broken / "datasets" / "workbooks")
    proc = _run(bin_dir / "autograder", "grade", "01_convolution", course.parent / "submissions" / "ada.ipynb",
                "--out", broken.parent / "out-broken", "--no-gradebook", "--no-progress", cwd=broken)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "datasets/workbooks/convolution operation.xlsx" in proc.stderr and "does not exist" in proc.stderr


def test_installed_validate_in_a_students_copy(installed: tuple[Path, Path]) -> None:
    """The installed package (no hidden suite) and a students' copy of the course (no solutions, no hidden suites)
    are enough for `autograder validate`."""
    from tests.test_packaging import students_copy

    bin_dir, course = installed
    student = students_copy(course, course.parent / "student")
    repo_course = load_course(REPO / "course.yml")
    mine = student / "assignments" / "01_convolution" / "mine.ipynb"
    mine.write_text(make_sample(repo_course, repo_course.assignment("01_convolution"), "correct"))
    proc = _run(bin_dir / "autograder", "validate", mine, cwd=student)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
