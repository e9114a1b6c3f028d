"""Hostile submissions followed by a canary, in one batch of one grader process (``--jobs 1``).

A warm worker forks every submission's process from one long-lived zygote, so consecutive submissions of a
batch are children of the same process: whatever one of them leaves in that process, its files, sockets,
shared memory or children must not reach the next. Each hostile case of tests/fixtures/warm/ (made by
make_warm.py) is graded followed by the canary, a correct submission that looks for every trace the hostile
cells try to leave and sabotages itself when it finds one; the canary must get full marks and say it found
nothing. The self-check notebook runs the canary's checks in the SAME process as every hostile cell and must
find each case's traces: the canary's clean bill is a check that can fail. Today's cold workers (one fresh
bubblewrap sandbox per submission) pass all of it; the warm worker must too.

After the batch: no process of the batch's worker uids and nothing carrying the run's marker is left on the
machine (files, unix sockets, shared memory), no job directory is left, and nothing reached the loopback port
the attacker aims at. Needs every worker protection (`autograder doctor`): without them the canary would see
the machine's own processes and files.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy
import pytest
import yaml

from autograder.sandbox import isolation
from tests.conftest import AUTOGRADER, REPO, assert_full_marks, loopback_listener, make_course, require
from tests.fixtures.warm.make_warm import PORT, RUN_PLACEHOLDER

pytestmark = pytest.mark.slow

WARM = Path(__file__).resolve().parent / "fixtures" / "warm"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((WARM / "expected.yml").read_text(encoding="utf-8"))
HOSTILE = [name for name, exp in EXPECTED.items() if "traces" in exp]  # in expected.yml's order
SELF_CHECK = "canary_beside_every_hostile_cell"
OWN_CHANNEL = "garbage_on_its_own_channel"
LIMITS = {"cell_timeout_s": 10, "test_timeout_s": 4, "total_timeout_s": 60, "memory_mb": 1024, "job_disk_mb": 256}
# The fixtures' markers, unique per run (several test runs may share a machine).
RUN = str(os.getpid())
MARK = f"ag-warm-{RUN}"
MARK_ID = MARK.replace("-", "_")
ATTACKER_NAME = f"agw-{RUN}"[:15]  # the detached attacker's process name (comm)
SYSV_KEY = zlib.crc32(MARK.encode()) & 0x7FFFFFFF or 1


def personalize(text: str, port: int) -> str:
    return text.replace(RUN_PLACEHOLDER, RUN).replace(str(PORT), str(port))


def fill(expected: str, port: int) -> str:
    """An expected.yml substring with this run's marker and port."""
    return (expected.replace("{MARK}", MARK).replace("{MARK_ID}", MARK_ID)
            .replace("{MARK_ID_UPPER}", MARK_ID.upper()).replace("{PORT}", str(port)))


@dataclass
class Batch:
    out: Path
    order: list[str]  # students, in the order given on the command line
    proc: subprocess.CompletedProcess[str]
    seconds: float
    port: int
    grader_pid: int
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: list[bytes] = field(default_factory=list)  # what reached the host's loopback listener
    new_job_dirs: list[Path] = field(default_factory=list)

    def text(self, student: str, name: str = "instructor.log") -> str:
        path = self.out / student / name
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def why(self, student: str) -> str:
        return (f"{student}:\n{self.text(student)[-4000:]}\n--- batch stderr ---\n{self.proc.stderr[-2000:]}")



def _job_dirs() -> set[Path]:
    return set(Path(isolation.tempfile.gettempdir()).glob(f"{isolation.JOB_PREFIX}*"))


def grade_in_order(tmp: Path, subs: list[tuple[str, str]]) -> Batch:
    """Grade ``subs`` (student, fixture name) in ONE batch with ``--jobs 1``, in this order, through the real CLI."""
    course_yml = make_course(tmp / "course", **LIMITS)
    received: list[bytes] = []
    srv = loopback_listener(received)
    port = srv.getsockname()[1]
    folder = tmp / "subs"
    folder.mkdir()
    paths = []
    for student, fixture in subs:
        path = folder / f"{student}.ipynb"
        path.write_text(personalize((WARM / f"{fixture}.ipynb").read_text(encoding="utf-8"), port), encoding="utf-8")
        paths.append(str(path))
    out = tmp / "out"
    jobs_before = _job_dirs()
    started = time.monotonic()
    with subprocess.Popen([*AUTOGRADER, "--course", str(course_yml), "grade", "01_convolution", *paths, "--out",
                           str(out), "--no-progress", "--jobs", "1"], cwd=REPO, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as popen:
        stdout, stderr = popen.communicate(timeout=600)
    seconds = time.monotonic() - started
    time.sleep(0.5)  # a stray connection attempt, if any got through, is accepted by now
    srv.close()
    batch = Batch(out=out, order=[s for s, _ in subs], proc=subprocess.CompletedProcess(popen.args, popen.returncode,
                                                                                        stdout, stderr),
                  seconds=seconds, port=port, grader_pid=popen.pid, received=received,
                  new_job_dirs=sorted(_job_dirs() - jobs_before))
    for path in out.glob("*/results.json"):
        batch.results[path.parent.name] = json.loads(path.read_text(encoding="utf-8"))
    return batch


@pytest.fixture(scope="module")
def protections() -> None:
    probe = isolation.probe()
    missing = probe.missing() + ([] if probe.syscall_filter else [f"seccomp filter ({probe.filter_problem})"])
    require(not missing, f"the warm-worker checks need every worker protection; missing here: {', '.join(missing)} "
                         "(`autograder doctor`; `make system-deps` installs bubblewrap)")


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory, protections: None) -> Batch:
    subs: list[tuple[str, str]] = []
    for i, case in enumerate(HOSTILE, 1):  # named so that sorting them keeps the order too
        subs += [(f"{i:02d}a_{case}", case), (f"{i:02d}b_canary", "canary")]
    subs.append((f"{len(HOSTILE) + 1:02d}_{SELF_CHECK}", SELF_CHECK))
    result = grade_in_order(tmp_path_factory.mktemp("warm"), subs)
    print(f"\nwarm isolation: {len(result.results)} submissions graded in {result.seconds:.0f} s on "
          f"{os.cpu_count()} cores (--jobs 1)")
    return result


def _student(batch: Batch, case: str) -> str:
    return next(s for s in batch.order if s.endswith(f"_{case}"))


def _canary_after(batch: Batch, case: str) -> str:
    return batch.order[batch.order.index(_student(batch, case)) + 1]


# --- the fixtures ----------------------------------------------------------------------------------
def test_every_fixture_has_an_expected_outcome() -> None:
    committed = {p.stem for p in WARM.glob("*.ipynb")}
    assert committed == set(EXPECTED) | {"canary"}, "tests/fixtures/warm/*.ipynb and expected.yml disagree"
    assert len(HOSTILE) >= 5
    assert all(RUN_PLACEHOLDER in (WARM / f"{name}.ipynb").read_text() for name in committed)


# --- the batch -------------------------------------------------------------------------------------
def test_the_batch_graded_everything_in_the_order_given(batch: Batch) -> None:
    assert batch.proc.returncode == 0, batch.proc.stderr[-3000:]
    assert set(batch.results) == set(batch.order)
    journal = [json.loads(line) for line in (batch.out / ".grading-journal.jsonl").read_text().splitlines()]
    assert [e["done"] for e in journal if "done" in e] == batch.order, "with --jobs 1 grading follows the command line"


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_case_outcome(batch: Batch, case: str) -> None:
    student, exp = _student(batch, case), EXPECTED[case]
    got = batch.results.get(student)
    assert got is not None, batch.why(student)
    assert got["status"] == exp["status"], batch.why(student)
    assert got["score"] == pytest.approx(exp["score"], abs=0.01), batch.why(student)
    log = batch.text(student)
    for text in exp["log"]:
        assert fill(text, batch.port) in log, f"{case}: the attack {fill(text, batch.port)!r} did not happen:\n{log}"
    escaped = [line for line in log.splitlines() if line.startswith("ATTACK") and line.endswith("ESCAPED")]
    assert not escaped, f"{case}: attempts the sandbox must refuse worked: {escaped}"
    assert f"{MARK} attacker round" not in log, f"{case}: its detached attacker acted while its own worker ran"


@pytest.mark.parametrize("case", HOSTILE)
def test_the_canary_after_it_sees_nothing_of_it(batch: Batch, case: str) -> None:
    canary = _canary_after(batch, case)
    assert canary.endswith("_canary")
    got = batch.results.get(canary)
    assert got is not None, batch.why(canary)
    log = batch.text(canary)
    traces = [line for line in log.splitlines() if line.startswith("CANARY-TRACE")]
    assert not traces, f"the canary graded after {case} found its traces:\n" + "\n".join(traces)
    assert "CANARY-CHECKED" in log and "CANARY-CLEAN" in log, f"the canary's checks did not all run:\n{log}"
    assert_full_marks(got, 20)
    for name in ("instructor.log", "feedback.md", "results.json"):
        assert MARK not in batch.text(canary, name), f"{canary}/{name} shows something of {case}"
        assert "ATTACK" not in batch.text(canary, name), f"{canary}/{name} shows {case}'s output"


def test_every_canary_starts_from_its_own_random_state(batch: Batch) -> None:
    """A fresh process seeds NumPy's and Python's global generators from the OS: processes forked from one
    zygote without reseeding would all draw the same "random" numbers."""
    states = [line.split()[1] for s in batch.order if s.endswith("_canary")
              for line in batch.text(s).splitlines() if line.startswith("CANARY-RANDOM")]
    assert len(states) == len(HOSTILE), states
    assert len(set(states)) == len(states), f"canaries share a random state: {states}"


def test_the_canary_finds_each_case_s_traces_in_its_own_process(batch: Batch) -> None:
    student = _student(batch, SELF_CHECK)
    got = batch.results.get(student)
    assert got is not None, batch.why(student)
    log = batch.text(student)
    traces = "\n".join(line for line in log.splitlines() if line.startswith("CANARY-TRACE"))
    missed = {case: [fill(t, batch.port) for t in EXPECTED[case]["traces"] if fill(t, batch.port) not in traces]
              for case in HOSTILE}
    assert not any(missed.values()), f"the canary missed traces: {missed}\nit found:\n{traces}"
    assert "CANARY-SABOTAGED" in log
    assert (got["status"], got["score"]) == (EXPECTED[SELF_CHECK]["status"], EXPECTED[SELF_CHECK]["score"]), \
        batch.why(student)


# --- the machine after the batch -----------------------------------------------------------------
def _lease_held(uid: int) -> bool:
    """Another grader holds ``uid`` now (its lease socket is bound): its processes are its own business."""
    with open("/proc/net/unix", encoding="utf-8") as f:
        return any(line.rstrip().endswith(f"@autograder-worker-uid-{uid}") for line in f)


def test_no_process_left_behind(batch: Batch) -> None:
    # A grader goes round the worker uids (isolation.UidLease.take): any of them may be the batch's.
    def worker_uid(st: dict[str, str]) -> int:
        return int((st.get("Uid") or "0").split()[0])

    pids = isolation.live_pids(lambda st: worker_uid(st) in isolation.WORKER_UIDS)
    uids = {pid: worker_uid(isolation._proc_status(str(pid))) for pid in pids}
    left = {pid: uid for pid, uid in uids.items() if uid in isolation.WORKER_UIDS and not _lease_held(uid)}
    assert not left, f"processes of worker uids that no grader holds still run: {left}"

    def marked(st: dict[str, str]) -> bool:
        return st.get("Name", "") == ATTACKER_NAME

    sleepers = []
    for pid in os.listdir("/proc"):
        try:
            if MARK.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                sleepers.append(pid)
        except OSError:
            continue
    assert not isolation.live_pids(marked) and not sleepers, "a hostile notebook's process is still running"


def test_job_directories_are_gone(batch: Batch) -> None:
    def owner_alive(path: Path) -> bool:  # another grader on this machine, still at work
        return Path("/proc", path.name[len(isolation.JOB_PREFIX):].split("-")[0]).exists()

    assert [p for p in batch.new_job_dirs if p.exists() and not owner_alive(p)] == []


def test_nothing_reached_the_host(batch: Batch) -> None:
    assert batch.received == [], "a connection from a worker reached the host's loopback"
    places = [Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), batch.out]
    libraries = [Path(numpy.__file__).parent, Path(os.__file__).parent, Path(yaml.__file__).parent.parent]
    found = []
    for top in [p for p in places if p.is_dir()]:
        for root, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if not d.startswith(".") and root.count("/") - str(top).count("/") < 4]
            found += [os.path.join(root, n) for n in dirs + files if MARK in n or MARK_ID in n]
    for lib in libraries:
        for folder in (lib, lib / "__pycache__"):
            found += [str(p) for p in folder.glob(f"*{MARK_ID}*")]
    assert not found, f"files of a hostile notebook outside its sandbox: {found}"
    unix = Path("/proc/net/unix").read_text(encoding="utf-8", errors="replace")
    assert f"@{MARK}" not in unix, "a hostile notebook's abstract unix socket is bound outside its sandbox"
    sysv = Path("/proc/sysvipc/shm")
    if sysv.exists():
        keys = [line.split()[0] for line in sysv.read_text().splitlines()[1:] if line.split()]
        assert str(SYSV_KEY) not in keys, "a hostile notebook's System V shared memory exists outside its sandbox"


# --- writing garbage to the worker's own channel ---------------------------------------------------
def test_garbage_on_its_own_channel_does_not_stop_the_batch(tmp_path: Path, protections: None) -> None:
    """The notebook writes garbage to every file descriptor it has open (but 0, 1, 2): its reply channel too.
    The batch must carry on to the canary after it."""
    got = grade_in_order(tmp_path, [("01a_" + OWN_CHANNEL, OWN_CHANNEL), ("01b_canary", "canary")])
    assert got.proc.returncode == 0, got.proc.stderr[-3000:]
    exp = EXPECTED[OWN_CHANNEL]
    result = got.results["01a_" + OWN_CHANNEL]
    assert result["status"] == exp["status"]
    assert exp["score"][0] <= result["score"] <= exp["score"][1]
    assert "CANARY-CLEAN" in got.text("01b_canary")
    assert_full_marks(got.results["01b_canary"], 20)
