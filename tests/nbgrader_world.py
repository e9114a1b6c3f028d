"""A real nbgrader course with an exchange, shared by the tests that run the course the way a class does.

:func:`exchange_course` copies the repository's course into a temporary folder, points nbgrader's exchange at a
folder of its own, imports a roster, releases the assignment (``autograder release``) and puts it into the exchange
(``nbgrader release_assignment``). Students then fetch and submit through the exchange (:func:`submit`), each
from a home of their own. Every command is the real one, in a subprocess.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.config import Course, load_course
from autograder.demo import make_course_copy
from tests.conftest import REPO, run_cli
from tests.formgrader_harness import isolated_jupyter_env


@dataclass
class World:
    root: Path  # the course folder
    base: Path  # the test's folder: the course, the exchange, the students' homes
    env: dict[str, str]  # an environment reading no Jupyter config but the course's
    course: Course
    out: dict[str, str] = field(default_factory=dict)  # what the module's commands printed, by step
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def db(self) -> str:
        return f"sqlite:///{self.root / 'gradebook.db'}"


def nbgrader(world: World, *args: str, cwd: Path | None = None, check: bool = True,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd or world.root, env=env or world.env,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    if check:
        assert proc.returncode == 0, f"nbgrader {' '.join(args)}: {proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def autograder(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("--course", world.root / "course.yml", *args, cwd=world.root, env=world.env)


def student_env(world: World, student: str) -> dict[str, str]:
    """Each student has a home of their own (nbgrader keeps submission secrets in its data dir there)."""
    home = world.base / "home" / student
    return {**world.env, "HOME": str(home), "JUPYTER_DATA_DIR": str(home / ".local" / "share" / "jupyter")}


def submit(world: World, assignment: str, student: str, text: str) -> None:
    """``student`` fetches ``assignment`` from the exchange, writes ``text`` into its notebook and submits."""
    home = world.base / "home" / student
    home.mkdir(parents=True, exist_ok=True)
    env = student_env(world, student)
    (home / "nbgrader_config.py").write_text(
        f"c = get_config()  # noqa: F821\nc.Exchange.root = {str(world.base / 'exchange')!r}\n"
        f"c.CourseDirectory.course_id = {world.course.course_id!r}\n")
    nbgrader(world, "fetch_assignment", assignment, cwd=home, env=env)
    (home / assignment / world.course.assignment(assignment).notebook).write_text(text)
    nbgrader(world, "submit", assignment, f"--student={student}", cwd=home, env=env)


def exchange_course(base: Path, assignment: str, roster: dict[str, tuple[str, str, str]]) -> World:
    """The course in ``base/course`` with its exchange in ``base/exchange``, ``roster`` (id -> first name, last
    name, LMS user id) in its gradebook, and ``assignment`` released into the exchange."""
    (base / "exchange").mkdir()
    (base / "exchange").chmod(0o777)
    course = make_course_copy(load_course(REPO / "course.yml"), base / "course")
    with (course.root / "nbgrader_config.py").open("a") as f:
        f.write(f"c.Exchange.root = {str(base / 'exchange')!r}\n")
    world = World(root=course.root, base=base, env=isolated_jupyter_env(base / "jupyter"), course=course)
    with (base / "roster.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "first_name", "last_name", "email", "lms_user_id"])
        for sid, (first, last, lms) in roster.items():
            writer.writerow([sid, first, last, f"{sid}@example.edu", lms])
    proc = autograder(world, "release", assignment)
    assert proc.returncode == 0, proc.stderr
    nbgrader(world, "db", "student", "import", str(base / "roster.csv"))
    nbgrader(world, "release_assignment", assignment)
    return world
