"""The hostile corpus: every notebook in tests/hostile/ graded in one batch through the real CLI.

Each case is checked against tests/hostile/expected.yml (status, score, feedback), and the batch as a
whole against the promise of issue #4: the batch carries on, no process is left behind, nothing is
written outside the job and output directories, no hidden test text or hidden input reaches feedback.
A case that needs a protection this machine does not give is not run and its test is skipped (failed under
CI=true), naming the protection (``autograder doctor`` shows them).
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml

from autograder.sandbox import isolation, warm
from tests.conftest import AUTOGRADER, REPO, loopback_listener, make_course, require
from tests.hostile.make_corpus import LISTEN_PORT, VICTIM, write_huge_notebook

pytestmark = pytest.mark.slow

HOSTILE = Path(__file__).resolve().parent / "hostile"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((HOSTILE / "expected.yml").read_text(encoding="utf-8"))
GENERATED = {"huge_notebook_200mb"}  # made at test time
# (64 processes: the fork bomb reaches RLIMIT_NPROC in ~1 s instead of ~4 s at the default 256, well inside its
# 10 s cell on a loaded 2-core machine)
LIMITS = {"cell_timeout_s": 10, "test_timeout_s": 4, "total_timeout_s": 60, "memory_mb": 1024, "job_disk_mb": 256,
          "max_processes": 64}
# Text of the hidden suite that no feedback may contain (checked to exist in the suite below).
HIDDEN_MARKERS = ["_random_arguments(seed=20240501", "def _formula(n: int",
                  "conv_reference.correlate2d(image, kernel, stride", "def _cause(value: object, image"]
LEAK_MARKER = "LEAK:"


def _solution_lines(cell_id: str = "") -> list[str]:
    """The lines of the course's solution code (between nbgrader's solution markers; of one cell, or all) long
    enough to be its own, and not in the released notebook."""
    nb = nbformat.read(REPO / "solutions" / "01_convolution" / "convolution.ipynb", as_version=4)
    released = nbformat.writes(nbformat.read(REPO / "assignments" / "01_convolution" / "convolution.ipynb",
                                             as_version=4))
    lines = []
    for cell in nb.cells:
        if cell.cell_type == "code" and "### BEGIN SOLUTION" in cell.source and cell_id in ("", cell.get("id")):
            body = cell.source.split("### BEGIN SOLUTION", 1)[1].split("### END SOLUTION", 1)[0]
            lines += [ln.strip() for ln in body.splitlines() if len(ln.strip()) >= 30 and ln.strip() not in released]
    return lines


# No file a student receives quotes the solution, whatever the notebook does (most cases are the solution with one
# change: their own instructor.log may show their own code). Where the notebook's convolve2d is not the course's
# and a dependent question is graded with the course's, not even instructor.log has it: it runs in a worker of its
# own, never in the student's.
SOLUTION_LINES = _solution_lines()
CONVOLVE2D_LINES = _solution_lines("convolve2d-code")
REFERENCE_CASES = {"sabotage_the_reference_substitution", "steal_the_reference_convolve2d",
                   "forge_replies_with_the_reference_convolve2d"}
# The committed fixtures' markers, made unique per run (several test runs may share a machine).
RUN = str(os.getpid())
FAKE_MARKER = f"ag-hostile-fake-{RUN}"
BG_NAME = f"ag-hb-{RUN}"[:15]  # a process name (comm) has at most 15 characters
SLEEP_ARG = f"3{RUN}"


def personalize(text: str, port: int) -> str:
    return (text.replace("ag-hostile-fake", FAKE_MARKER).replace("ag-hostile-bg", BG_NAME)
            .replace("31415", SLEEP_ARG).replace(str(LISTEN_PORT), str(port)))


@dataclass
class Batch:
    out: Path
    course_dir: Path
    proc: subprocess.CompletedProcess[str]
    seconds: float
    skipped: dict[str, str]  # case -> why it was not run
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: list[bytes] = field(default_factory=list)  # what reached the loopback listener
    new_job_dirs: list[Path] = field(default_factory=list)  # job directories that appeared during the batch

    def text(self, student: str, name: str) -> str:
        path = self.out / student / name
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""



def _marked_files(roots: list[Path], depth: int = 6) -> list[Path]:
    """Files or folders named like the fake results a hostile notebook tries to plant."""
    found = []
    for root in roots:
        base = len(root.parts)
        for dirpath, dirnames, filenames in os.walk(root):
            here = Path(dirpath)
            dirnames[:] = [d for d in dirnames if d not in (".git", ".venv", "node_modules")
                           and len(here.parts) - base < depth]
            found += [here / n for n in dirnames + filenames if FAKE_MARKER in n]
    return found


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    tmp = tmp_path_factory.mktemp("hostile")
    course_yml = make_course(tmp / "course", **LIMITS)
    active = {name: ok for name, (ok, _) in isolation.probe().active().items()}
    received: list[bytes] = []
    srv = loopback_listener(received)
    skipped: dict[str, str] = {}
    subs = tmp / "subs"
    subs.mkdir()
    for name, exp in EXPECTED.items():
        missing = [p for p in exp.get("needs", []) if not active[p]]
        if missing:
            skipped[name] = f"needs {', '.join(missing)}, not active on this machine (see `autograder doctor`)"
        elif name in GENERATED:
            write_huge_notebook(subs / f"{name}.ipynb")
        else:
            raw = (HOSTILE / f"{name}.ipynb").read_bytes()
            try:
                raw = personalize(raw.decode("utf-8"), srv.getsockname()[1]).encode("utf-8")
            except UnicodeDecodeError:  # binary_file
                pass
            (subs / f"{name}.ipynb").write_bytes(raw)
    out = tmp / "out"
    jobs_before = set(_job_dirs())
    started = time.monotonic()
    # Four grader processes on two cores: most of the corpus waits on time limits (sleeps, hangs, floods), and
    # the batch must stay correct when its submissions compete for the CPU.
    with subprocess.Popen([*AUTOGRADER, "--course", str(course_yml), "grade", "01_convolution",
                           *sorted(map(str, subs.iterdir())), "--out", str(out), "--no-progress", "--jobs", "4"],
                          cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as popen:
        stdout, stderr = popen.communicate(timeout=900)
    seconds = time.monotonic() - started
    proc = subprocess.CompletedProcess(popen.args, popen.returncode, stdout, stderr)
    time.sleep(0.5)  # let a stray connection attempt be accepted, if any got through
    srv.close()
    result = Batch(out=out, course_dir=tmp / "course", proc=proc, seconds=seconds, skipped=skipped,
                   received=received, new_job_dirs=sorted(set(_job_dirs()) - jobs_before))
    for path in out.glob("*/results.json"):
        result.results[path.parent.name] = json.loads(path.read_text(encoding="utf-8"))
    print(f"\nhostile corpus: {len(result.results)} graded in {seconds:.0f} s; not run: {skipped or 'none'}")
    return result


def _job_dirs() -> list[Path]:
    return list(Path(isolation.tempfile.gettempdir()).glob(f"{isolation.JOB_PREFIX}*"))


def _protections_note() -> str:
    return ", ".join(name for name, (ok, _) in isolation.probe().active().items() if ok) or "none"


# --- the corpus itself ---------------------------------------------------------------------------
def test_corpus_has_a_fixture_per_expected_outcome() -> None:
    committed = {p.stem for p in HOSTILE.glob("*.ipynb")}
    assert committed | GENERATED == set(EXPECTED), "tests/hostile/*.ipynb and expected.yml disagree"
    assert len(EXPECTED) >= 40
    suite = "".join(p.read_text() for p in (REPO / "autograder/hidden/01_convolution").glob("test_*.py"))
    for marker in HIDDEN_MARKERS:
        assert marker in suite, f"{marker!r} is no longer in the hidden suite: update HIDDEN_MARKERS"


# --- each case -----------------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_case_outcome(batch: Batch, case: str) -> None:
    if case in batch.skipped:
        require(False, f"{case}: {batch.skipped[case]} (`make system-deps` installs bubblewrap)")
    exp = EXPECTED[case]
    assert case in batch.results, f"{case}: no results.json\n{batch.proc.stdout[-3000:]}\n{batch.proc.stderr[-3000:]}"
    got = batch.results[case]
    feedback = batch.text(case, "feedback.md")
    assert got["status"] == exp["status"], feedback
    lo, hi = exp["score"] if isinstance(exp["score"], list) else (exp["score"], exp["score"])
    assert lo - 0.01 <= got["score"] <= hi + 0.01, \
        f"{case}: score {got['score']} (protections: {_protections_note()})\n{feedback}"
    for text in exp.get("feedback", []):
        assert text in feedback, f"{case}: {text!r} not in feedback:\n{feedback}"


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_no_hidden_test_text_or_other_students_work_in_its_outputs(batch: Batch, case: str) -> None:
    if case in batch.skipped:
        require(False, f"{case}: {batch.skipped[case]} (`make system-deps` installs bubblewrap)")
    files = ["feedback.md", "results.json"] + (["instructor.log"] if EXPECTED[case].get("secrets") else [])
    for name in files:
        text = batch.text(case, name)
        for marker in HIDDEN_MARKERS:
            assert marker not in text, f"{case}/{name} contains hidden test text {marker!r}"
        assert "solutions/01_convolution" not in text, f"{case}/{name} names the solutions folder"
        if name != "instructor.log":  # the course's own solution code never reaches a student's files
            assert "BEGIN SOLUTION" not in text, f"{case}/{name} quotes the course's solution"
    for name in ("feedback.md", "feedback.html", "results.json", "instructor.log"):
        if name == "instructor.log" and case not in REFERENCE_CASES:
            continue
        text = " ".join(batch.text(case, name).split())
        quoted = [line for line in (CONVOLVE2D_LINES if name == "instructor.log" else SOLUTION_LINES) if line in text]
        assert not quoted, f"{case}/{name} quotes the course's solution: {quoted[:3]}"
    if case != "victim_submission":
        for name in ("feedback.md", "results.json", "instructor.log"):
            assert VICTIM not in batch.text(case, name), f"{case}/{name} contains another student's work"
    assert str(batch.out) not in batch.text(case, "feedback.md"), "feedback names the output folder"


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_feedback_never_echoes_hidden_inputs(batch: Batch, case: str, request: pytest.FixtureRequest) -> None:
    if case in batch.skipped:
        require(False, f"{case}: {batch.skipped[case]} (`make system-deps` installs bubblewrap)")
    if EXPECTED[case].get("known_leak"):
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"known leak: {EXPECTED[case]['known_leak']}"))
    # A student's exception text is quoted only on a worked example (the lecture's public numbers) that ran before
    # any hidden input reached the worker: text derived from those may show; nothing from any other test may.
    result = batch.results.get(case) or {}
    public = [t["output"] for t in result.get("tests", []) if t["worked_example"]]
    hidden = [t["output"] for t in result.get("tests", []) if not t["worked_example"]]
    assert not [o for o in hidden if LEAK_MARKER in o], f"{case}: a test with hidden inputs quotes their text"
    for name in ("feedback.md", "results.json"):
        text = batch.text(case, name)
        for quoted in set(re.findall(re.escape(LEAK_MARKER) + r"[^`\n]*", text)):
            assert any(quoted.rstrip('\\"') in o for o in public), \
                f"{case}/{name} quotes {quoted!r}, which no worked example's message holds"


# --- the batch as a whole ------------------------------------------------------------------------
def test_the_batch_carried_on(batch: Batch) -> None:
    assert batch.proc.returncode == 0, batch.proc.stderr[-3000:]
    ran = set(EXPECTED) - set(batch.skipped)
    assert set(batch.results) == ran
    with (batch.out / "01_convolution-grades.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["student"] for r in rows} == ran
    for r in batch.results.values():
        assert 0 <= r["score"] <= r["max_score"] == 20


def test_no_process_left_behind(batch: Batch) -> None:
    def stray(st: dict[str, str]) -> bool:
        return st.get("Name", "") == BG_NAME

    left = isolation.live_pids(stray)
    sleepers = []
    for pid in os.listdir("/proc"):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if cmd.startswith(f"sleep\0{SLEEP_ARG}".encode()):
            sleepers.append(pid)
    assert not left and not sleepers, f"processes left behind: {left} {sleepers}"


def test_job_directories_are_gone(batch: Batch) -> None:
    def owner_alive(path: Path) -> bool:  # another grader on this machine, still at work
        return Path("/proc", path.name[len(isolation.JOB_PREFIX):].split("-")[0]).exists()

    assert [p for p in batch.new_job_dirs if p.exists() and not owner_alive(p)] == []


def test_nothing_written_outside_the_job_and_output_directories(batch: Batch) -> None:
    roots = [batch.out.parent, REPO, Path("/tmp"), Path("/var/tmp"), Path("/dev/shm")]
    assert not _marked_files([r for r in roots if r.is_dir()])
    for student, r in batch.results.items():
        assert r["student"] == student and r["score"] <= 20  # no planted results.json was picked up


def test_the_network_was_out_of_reach(batch: Batch) -> None:
    if "network_socket" in batch.skipped:
        require(False, batch.skipped["network_socket"] + " (`make system-deps` installs bubblewrap)")
    assert batch.received == []
    assert "ConnectionRefusedError" in batch.text("network_socket", "instructor.log") or \
        "OSError" in batch.text("network_socket", "instructor.log")


def test_output_is_capped(batch: Batch) -> None:
    size = (batch.out / "output_100mb" / "instructor.log").stat().st_size
    assert size < 200_000 * 1.5 + 20_000  # output_bytes (course default) plus the instructor notes
    assert "bytes of output dropped" in batch.text("output_100mb", "instructor.log")


def test_the_corpus_runs_in_reasonable_time(batch: Batch) -> None:
    print(f"hostile batch: {batch.seconds:.0f} s for {len(batch.results)} submissions on {os.cpu_count()} cores "
          f"(protections: {_protections_note()}; python {sys.version.split()[0]})")
    assert batch.seconds < 600


def test_the_corpus_ran_in_warm_workers(batch: Batch) -> None:
    """Where warm workers are available, every case whose notebook ran did so in workers forked from a zygote: the
    outcomes above are the warm worker's (a broken zygote would silently fall back to cold workers)."""
    ok, why = warm.supported(isolation.probe())
    require(ok, f"warm workers are not available here: {why} (`make system-deps` installs bubblewrap; run as root)")
    ran = [case for case, result in batch.results.items() if result.get("cells")]
    assert len(ran) > 40
    starts = {case: re.search(r"workers started (.*)", batch.text(case, "instructor.log")) for case in ran}
    cold = {case: m.group(1) if m else "(no header)" for case, m in starts.items() if not m or m.group(1) != "warm"}
    assert not cold, f"cases not graded in warm workers: {cold}\n{batch.proc.stderr[-2000:]}"
