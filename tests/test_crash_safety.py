"""A batch killed with SIGKILL and run again: nothing lost, nothing graded twice, no half-written file.

The grader is started as a subprocess (the real CLI), killed with SIGKILL as soon as a few results are
on disk, then the very same command is run again.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from autograder.batch import JOURNAL
from autograder.sandbox import isolation
from tests.conftest import AUTOGRADER, REPO, descendants, make_course, still_running

pytestmark = pytest.mark.slow

STUDENTS = [f"student{i:02d}" for i in range(6)]
LIMITS = {"cell_timeout_s": 20, "test_timeout_s": 10, "total_timeout_s": 120}


def _setup(tmp: Path) -> tuple[list[str], Path]:
    course_yml = make_course(tmp / "course", **LIMITS)
    subs = tmp / "submitted"
    text = (REPO / "solutions/01_convolution/convolution.ipynb").read_text(encoding="utf-8")
    for student in STUDENTS:
        folder = subs / student / "01_convolution"
        folder.mkdir(parents=True)
        (folder / "convolution.ipynb").write_text(text, encoding="utf-8")
    out = tmp / "out"
    return [*AUTOGRADER, "--course", str(course_yml), "grade", "01_convolution", str(subs), "--out", str(out),
            "--no-progress"], out


def _done(out: Path) -> dict[str, tuple[int, int]]:
    """student -> (inode, mtime_ns) of its results.json."""
    found = {}
    for path in out.glob("*/results.json"):
        st = path.stat()
        found[path.parent.name] = (st.st_ino, st.st_mtime_ns)
    return found


def _kill_after(cmd: list[str], out: Path, results: int) -> tuple[set[int], dict[str, tuple[int, int]]]:
    """Kill the batch once ``results`` are on disk; the processes it had started (its local Dask cluster's
    workers, their grader sandboxes) and the results written by then."""
    proc = subprocess.Popen(cmd, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while len(_done(out)) < results and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the batch finished before it could be killed"
    started = descendants(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return started, _done(out)




def _check_complete(out: Path) -> None:
    for student in STUDENTS:
        data = json.loads((out / student / "results.json").read_text(encoding="utf-8"))
        assert data["student"] == student and data["status"] == "graded" and data["score"] == 20
        assert (out / student / "feedback.md").read_text(encoding="utf-8").startswith("# 01_convolution")
    with (out / "01_convolution-grades.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["student"] for r in rows) == STUDENTS
    assert all(float(r["score"]) == 20 for r in rows)
    assert not list(out.glob("**/.*.tmp")), "half-written files left behind"


def test_sigkill_mid_batch_then_the_same_command_finishes_it(tmp_path: Path) -> None:
    cmd, out = _setup(tmp_path)
    started, before = _kill_after(cmd, out, results=3)
    assert 3 <= len(before) < len(STUDENTS)
    assert len(started) >= 2, "the batch grades on a local Dask cluster: its worker processes"
    # the local cluster's worker processes die with the batch, their grader sandboxes with them (bwrap
    # --die-with-parent)
    deadline = time.monotonic() + 15
    while still_running(started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not still_running(started), "processes the killed batch had started are still running"
    rerun = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    graded, skipped = map(int, re.search(r"Graded (\d+), already done (\d+)", rerun.stdout).groups())  # type: ignore[union-attr]
    assert (graded, skipped) == (len(STUDENTS) - len(before), len(before))
    after = _done(out)
    assert {s: after[s] for s in before} == before, "a submission done before the kill was graded again"
    _check_complete(out)
    assert not [p for p in Path(isolation.tempfile.gettempdir()).glob(f"{isolation.JOB_PREFIX}*")
                if int(p.name[len(isolation.JOB_PREFIX):].split("-")[0]) in started]


def test_an_interrupted_force_batch_resumes_instead_of_starting_over(tmp_path: Path) -> None:
    cmd, out = _setup(tmp_path)
    first = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    graded_once = _done(out)
    force = [*cmd, "--force"]
    proc = subprocess.Popen(force, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while sum(_done(out)[s] != graded_once[s] for s in STUDENTS) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # kill it once two submissions are regraded
    assert proc.poll() is None, "the --force batch finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    journal = [json.loads(x) for x in (out / JOURNAL).read_text().splitlines() if x.strip().endswith("}")]
    regraded = {e["done"] for e in journal if "done" in e}
    assert len(regraded) >= 2
    stamp = _done(out)
    rerun = subprocess.run(force, cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"already done {len(regraded)}" in rerun.stdout
    after = _done(out)
    assert all(after[s] == stamp[s] for s in regraded), "--force regraded a submission twice after the kill"
    assert all(after[s] != graded_once[s] for s in STUDENTS), "--force left a submission with its old result"
    _check_complete(out)
