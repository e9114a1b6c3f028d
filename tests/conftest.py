"""Shared fixtures: a course folder with small limits, built around the repository's real files."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
import pytest
import yaml

from autograder.config import load_course
from autograder.demo import make_course_copy

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
AUTOGRADER = [sys.executable, "-m", "autograder"]
# `autograder grade` without --jobs grades in the command's own process here, not on a local Dask cluster of one
# process per core: `make test` already runs two test processes on two cores, and the cluster of a small batch
# costs more than it saves (3 copies of 01: 6.9 s and 6.4 s of CPU on a cluster of 2 against 5.0 s and 2.6 s in
# one process; 4 of 04: 83 s of CPU against 61 s). Tests about the cluster and the batches graded in parallel pass
# --jobs themselves (test_cluster, the nbgrader course, the hostile corpus, 02's two grader processes, ...).
# Set, not defaulted: a value in the developer's shell must not change what the tests exercise.
os.environ["AUTOGRADER_JOBS"] = "1"


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
    *args: str | os.PathLike[str], cwd: Path | None = None, timeout: float = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real `autograder` command in a subprocess (as an instructor would), with ``env`` added to the
    environment."""
    return subprocess.run([*AUTOGRADER, *map(str, args)], cwd=cwd or REPO, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})


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


def grade_notebooks(tmp: Path, assignment_id: str, subs: dict[str, str | Path], *, jobs: int = 1) -> dict[str, Any]:
    """Grade ``subs`` (name -> notebook text or a file to copy) as one batch of ``assignment_id`` in a course
    copy under ``tmp``, through the real CLI (``jobs`` grader processes, on a local Dask cluster when more than
    one); return each student's results.json."""
    course_yml = make_course(tmp / "course", total_timeout_s=300)
    folder = tmp / "subs"
    folder.mkdir()
    for name, source in subs.items():
        target = folder / f"{name}.ipynb"
        if isinstance(source, Path):
            shutil.copy(source, target)
        else:
            target.write_text(source)
    out = tmp / "out"
    proc = run_cli("--course", course_yml, "grade", assignment_id, *sorted(folder.iterdir()), "--out", out,
                   "--jobs", str(jobs), "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/results.json")}


def failed_tests(result: dict[str, Any]) -> dict[str, str]:
    """A result's failed tests, name -> feedback (for assertion messages)."""
    return {t["name"]: t["output"] for t in result["tests"] if t["status"] != "passed"}


def points_of(result: dict[str, Any], names: set[str]) -> float:
    """The points a result's tests named ``names`` are worth."""
    return sum(t["max_score"] for t in result["tests"] if t["name"] in names)


def assert_full_marks(result: dict[str, Any], points: float) -> None:
    """Graded, every point earned, every notebook cell ran."""
    assert (result["status"], result["score"], result["max_score"]) == ("graded", points, points), failed_tests(result)
    assert all(c["status"] == "ok" for c in result["cells"]), result["cells"]


def assert_stub_gets_zero(result: dict[str, Any]) -> None:
    """The released stub: graded, no point, every test says what is not implemented yet."""
    assert (result["status"], result["score"]) == ("graded", 0)
    assert all("not implemented yet" in t["output"] for t in result["tests"])


def descendants(pid: int) -> set[int]:
    """Every process started, directly or not, by ``pid`` (from /proc, now)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text() if entry.isdigit() else ""
        except OSError:
            continue
        if stat:
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def still_running(pids: set[int]) -> set[int]:
    """The processes of ``pids`` that still run (zombies waiting for their parent do not)."""
    alive = set()
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                alive.add(pid)
        except OSError:
            pass
    return alive


def loopback_listener(received: list[bytes]) -> socket.socket:
    """A server on 127.0.0.1:<free port> of the host, recording in ``received`` whatever connects (the port a
    hostile notebook aims at: nothing may reach it from a sandbox). Close it to stop."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def accept() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            conn.settimeout(2)
            try:
                received.append(conn.recv(1000) or b"(connected)")
            except OSError:
                received.append(b"(connected)")
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    return srv


def with_cell(notebook: str, code: str) -> str:
    """``notebook`` (its text) with one more code cell, ``code``, at the end."""
    nb = nbformat.reads(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(code))
    return nbformat.writes(nb)


def benchmark_module(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` imported as a module (the benchmarks folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "benchmarks" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
