"""Benchmark: nbgrader's own ``autograde`` against ``autograder grade``, on the same notebooks, in the same run.

    .venv/bin/python benchmarks/vs_nbgrader.py [--copies 50] [--copies-02 20]
                                               [--assignment 01_convolution|02_mnist_cnn|both] [--jobs N]

Both tools grade the same files: N copies of a fully correct submission in nbgrader's
``submitted/studentNNN/<assignment>/<notebook>`` layout of a temporary, plain nbgrader course (nbgrader's
default autograde pipeline: it executes each notebook in a Jupyter kernel and scores the visible test cells).
Our grader runs the same notebooks' code in its sandboxed worker and scores them with the hidden suite.

- 01_convolution: the course's solution notebook with the picture cells (tagged ``skip-grading``) removed,
  released by real ``nbgrader generate_assignment``; the submissions are that release with the solution
  filled in (:func:`autograder.samples.make_sample`). Graded with the repository's own course.yml.
- 02_mnist_cnn, the structure question only (``build_mnist_cnn``: layers, output shapes, 93,322 parameters,
  filters/kernels/activations, compile settings, a fresh model per call): the solution reduced to its
  imports and that question, whose visible test cell is extended to check what the hidden tests check
  (optimizer RMSprop among them); the data, ANN and training cells are removed for both tools. Graded with a
  course copy whose 02 entry and hidden suite keep only ``build_mnist_cnn`` (checked by ``autograder config``).

Timed, each as one subprocess: ``nbgrader autograde`` of all N; ``autograder grade`` of all N with the CLI's
default --jobs (or ``--jobs N`` given here) and with ``--jobs 1``, each into a fresh --out folder; one cold
submission with each tool (the whole command, process start included). Every run must give every student full
marks (nbgrader: its gradebook's code score; ours: each results.json), else the benchmark stops. Peak memory is
sampled from /proc every 50 ms: the grader (the command's own process and the same-uid, same-session python
processes it starts) and the workers (python processes in a session of their own: our sandboxed workers,
nbgrader's kernels). ``worker_peak_mib`` is read from results.json when the grader records it.

Figures are for the machine and the moment it runs on (the top line says which); compare runs made together.
Expected duration with the defaults on 2 cores: about 15 minutes (01: about 3 s per notebook per run,
3 runs of 50; 02: about 5 s per notebook per run, 3 runs of 20; plus setup). ``--copies 10 --copies-02 5``
takes about 4 minutes.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from autograder.config import Course, apply_course_points, load_course  # noqa: E402
from autograder.demo import make_course_copy  # noqa: E402
from autograder.grade import SKIP_TAG  # noqa: E402
from autograder.samples import make_sample  # noqa: E402

COURSE_ID = "bench-vs-nbgrader"
A01, A02 = "01_convolution", "02_mnist_cnn"
STRUCTURE_02 = "build_mnist_cnn"  # the one 02 question kept: no data, no training
HIDDEN_02_KEPT = ("conftest.py", f"test_{STRUCTURE_02}.py")
SAMPLE_S = 0.05

# Appended to 02's visible test cell before its closing print, so that nbgrader's test checks what the hidden
# suite's test_build_mnist_cnn.py checks: besides types, shapes, parameters, loss and metrics (already there),
# the layers' settings and the optimizer.
EXTRA_02_CHECKS = '''
convs = [(layer.filters, tuple(layer.kernel_size), layer.activation.__name__) for layer in cnn.layers
         if type(layer).__name__ == "Conv2D"]
assert convs == [(32, (3, 3), "relu"), (64, (3, 3), "relu"), (64, (3, 3), "relu")], \\
    f"the convolutions should have 32, 64, 64 filters of 3 x 3 with relu; yours: {convs}"
pools = [tuple(layer.pool_size) for layer in cnn.layers if type(layer).__name__ == "MaxPooling2D"]
assert pools == [(2, 2), (2, 2)], f"the pooling layers should be 2 x 2; yours: {pools}"
dense = [(layer.units, layer.activation.__name__) for layer in cnn.layers if type(layer).__name__ == "Dense"]
assert dense == [(64, "relu"), (10, "softmax")], f"the Dense layers should be 64 relu, 10 softmax; yours: {dense}"
assert type(cnn.optimizer).__name__ == "RMSprop", \\
    f"compile with optimizer=\\"rmsprop\\"; yours: {type(cnn.optimizer).__name__}"
'''


class BenchmarkError(Exception):
    """A step failed or a tool did not give full marks; the message says which and shows its output."""


# --- the machine and the processes -------------------------------------------------------------------------
def machine_line() -> str:
    """Cores, memory and load: the figures only compare within one run on one machine."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 0
    mem = _meminfo_mib("MemTotal")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"machine: {cores} cores usable ({os.cpu_count()} online), {mem / 1024:.1f} GiB memory, "
            f"load average {load}; Python {sys.version.split()[0]}")


def _meminfo_mib(key: str) -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, session id) of a process, None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()  # after "(comm) ": state ppid pgrp session ...
    return int(fields[1]), int(fields[3])


def _status(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status") as f:
            return {k: v.strip() for k, _, v in (line.partition(":") for line in f)}
    except OSError:
        return {}


def _kib(value: str) -> float:
    return int(value.split()[0]) / 1024 if value else 0.0


@dataclass
class Memory:
    """Peaks seen while a command ran, in MiB. ``grader``: the largest VmHWM of one grader process;
    ``grader_total``: the largest sum of the grader processes' VmRSS at one sample; the same for workers."""

    grader: float = 0.0
    grader_total: float = 0.0
    worker: float = 0.0
    worker_total: float = 0.0
    grader_processes: int = 0
    worker_processes: int = 0


class Sampler(threading.Thread):
    """Samples the process tree under ``root`` every 50 ms.

    Grader processes: ``root`` itself and the python processes it starts in its own session with its uid
    (our grader processes with --jobs, multiprocessing's helpers). Worker processes: python processes under
    ``root`` in a session of their own (our sandboxed workers, started with a new session and, under
    bubblewrap or as root, another uid; nbgrader's Jupyter kernels) and everything below them.
    """

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.memory = Memory()
        self.stop = threading.Event()
        self.uid = str(os.getuid())
        self.seen: dict[str, set[int]] = {"grader": set(), "worker": set()}

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(SAMPLE_S)

    def sample(self) -> None:
        stats: dict[int, tuple[int, int]] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                st = _stat(int(entry.name))
                if st is not None:
                    stats[int(entry.name)] = st
        if self.root not in stats:
            return
        root_sid = stats[self.root][1]
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in stats.items():
            children.setdefault(ppid, []).append(pid)
        totals = {"grader": 0.0, "worker": 0.0}
        stack: list[tuple[int, bool]] = [(self.root, False)]
        while stack:
            pid, in_worker = stack.pop()
            status = _status(pid)
            if not status:
                continue
            in_worker = in_worker or stats[pid][1] != root_sid or (
                pid != self.root and status.get("Uid", "").split()[:1] != [self.uid])
            stack += [(child, in_worker) for child in children.get(pid, [])]
            if pid != self.root and not status.get("Name", "").startswith("python"):
                continue  # bubblewrap, shells: not the grader's or the worker's Python
            kind = "worker" if in_worker else "grader"
            self.seen[kind].add(pid)
            totals[kind] += _kib(status.get("VmRSS", ""))
            peak = max(_kib(status.get("VmHWM", "")), _kib(status.get("VmRSS", "")))
            setattr(self.memory, kind, max(getattr(self.memory, kind), peak))
        self.memory.grader_total = max(self.memory.grader_total, totals["grader"])
        self.memory.worker_total = max(self.memory.worker_total, totals["worker"])
        self.memory.grader_processes = len(self.seen["grader"])
        self.memory.worker_processes = len(self.seen["worker"])


@dataclass
class Run:
    """One timed command."""

    label: str
    cmd: list[str]
    wall: float
    returncode: int
    output: str
    memory: Memory


def timed(label: str, cmd: list[str], *, cwd: Path, env: dict[str, str], log_dir: Path) -> Run:
    """Run ``cmd`` as a subprocess, its wall time from start to exit, its memory sampled meanwhile."""
    log = log_dir / f"{label.replace(' ', '_').replace('/', '-')}.log"
    with log.open("w") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        sampler = Sampler(proc.pid)
        sampler.start()
        code = proc.wait()
        wall = time.perf_counter() - started
        sampler.stop.set()
        sampler.join()
    return Run(label, cmd, wall, code, log.read_text(errors="replace"), sampler.memory)


def checked(run: Run) -> Run:
    if run.returncode != 0:
        raise BenchmarkError(f"{run.label}: `{' '.join(run.cmd)}` exited with {run.returncode}:\n{run.output[-4000:]}")
    return run


def bench_env(base: Path) -> dict[str, str]:
    """One environment for both tools: no Jupyter configuration but the nbgrader course's, a home of its own,
    this repository's ``autograder`` package first on the path, this interpreter's bin folder first on PATH
    (nbgrader runs ``alembic`` by name). AUTOGRADER_JOBS is left out: the runs without --jobs measure the CLI's own
    default, as their rows say."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_") and k != "AUTOGRADER_JOBS"}
    for name, sub in (("HOME", "home"), ("JUPYTER_CONFIG_DIR", "jupyter-config"), ("JUPYTER_DATA_DIR", "jupyter-data"),
                      ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"), ("IPYTHONDIR", "ipython"), ("TMPDIR", "tmp")):
        (base / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(base / sub)
    env["JUPYTER_NO_CONFIG"] = "1"
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return env


def default_jobs() -> int:
    """The `autograder grade` command's own default for --jobs on this machine (for 01's limits: the CLI's
    choice, :func:`autograder.batch.default_jobs`, with the message it prints when memory lowers it)."""
    from autograder.batch import default_jobs as cli_default_jobs

    course = load_course(REPO / "course.yml")
    jobs, why = cli_default_jobs(course.limits_for(course.assignment(A01)))
    if why:
        print(why)
    return jobs


# --- the notebooks and the courses -------------------------------------------------------------------------
def notebook_01(course: Course) -> nbformat.NotebookNode:
    """01's solution without its picture cells (tagged skip-grading), so both tools run the same code."""
    nb = nbformat.read(str(course.solution_notebook(course.assignment(A01))), 4)
    nb.cells = [c for c in nb.cells if SKIP_TAG not in c.get("metadata", {}).get("tags", [])]
    return nb


def notebook_02(course: Course) -> nbformat.NotebookNode:
    """02's solution reduced to its imports and the structure question, whose test cell checks what the hidden
    tests of that question check. The data, the ANN, the training cells and the other questions are removed."""
    nb = nbformat.read(str(course.solution_notebook(course.assignment(A02))), 4)
    by_id = {c.get("id"): c for c in nb.cells}
    keep = ["imports", "cnn-intro", "cnn-code", "cnn-test"]
    missing = [k for k in keep if k not in by_id]
    if missing:
        raise BenchmarkError(f"{course.solution_notebook(course.assignment(A02))} has no cells {missing}: update "
                             "notebook_02 in benchmarks/vs_nbgrader.py to the notebook's cells.")
    test = copy.deepcopy(by_id["cnn-test"])
    if test.metadata.get("nbgrader", {}).get("grade_id") != STRUCTURE_02:
        raise BenchmarkError(f"cell cnn-test is not the {STRUCTURE_02} test cell any more: update notebook_02.")
    lines = test.source.rstrip("\n").split("\n")
    last_print = max(i for i, line in enumerate(lines) if line.startswith("print("))
    test.source = "\n".join([*lines[:last_print], EXTRA_02_CHECKS.strip("\n"), *lines[last_print:]])
    header = nbformat.v4.new_markdown_cell(
        "# Assignment 2, the structure question only (benchmarks/vs_nbgrader.py)\n\n"
        "The solution's imports and `build_mnist_cnn` with its test; no data, no ANN, no training.")
    nb.cells = [header, *(copy.deepcopy(by_id[k]) for k in keep[:-1]), test]
    return nb


def reduced_course_yml(source: Path, target: Path, assignments: list[str]) -> None:
    """course.yml with only ``assignments``, and 02's questions reduced to the structure question."""
    data = yaml.safe_load(source.read_text())
    data["assignments"] = [a for a in data["assignments"] if a["id"] in assignments]
    for a in data["assignments"]:
        if a["id"] == A02:
            a["questions"] = [q for q in a["questions"] if q["id"] == STRUCTURE_02]
    target.write_text(yaml.safe_dump(data, sort_keys=False))


@dataclass
class Setup:
    base: Path
    env: dict[str, str]
    nbgrader_root: Path  # the plain nbgrader course: source/, release/, submitted/, autograded/, gradebook.db
    bench_course: Course  # our course copy with the benchmark notebooks (01 picture-free, 02 structure only)
    students: dict[str, list[str]] = field(default_factory=dict)  # assignment -> students who submitted it
    logs: Path = Path()


def nbgrader_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "nbgrader", *args]


def autograder_cmd(course_yml: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "autograder", "--course", str(course_yml), *args]


def run_quiet(cmd: list[str], *, cwd: Path, env: dict[str, str], what: str) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise BenchmarkError(f"{what} failed (`{' '.join(cmd)}`, exit {proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout + proc.stderr


def build(base: Path, assignments: list[str], copies: dict[str, int]) -> Setup:
    """The nbgrader course (released by nbgrader, roster, submissions) and our course copy, from one source."""
    repo_course = load_course(REPO / "course.yml")
    env = bench_env(base / "env")
    root = base / "nbgrader-course"
    logs = base / "logs"
    logs.mkdir()
    (root / "source").mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(
        "# A plain nbgrader course: nbgrader's default autograde pipeline (Execute runs the notebook).\n"
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(root / 'gradebook.db')!r}\n"
        "c.Execute.timeout = 300  # seconds per cell (default 30): a TensorFlow import on a busy machine\n")
    # the gradebook and its roster first, with nbgrader's own API in this process: a gradebook nbgrader's command
    # creates is stamped by running `alembic heads` (3 s); prepare_nbgrader gets the same stamp in-process
    from nbgrader.api import Gradebook

    from autograder.gradebook import prepare_nbgrader

    prepare_nbgrader()
    everyone = [f"student{i:03d}" for i in range(max(copies[a] for a in assignments))]
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", COURSE_ID) as gb:
        for sid in everyone:
            gb.update_or_create_student(sid, first_name="Bench", last_name=sid, email=f"{sid}@example.edu")
    builders = {A01: notebook_01, A02: notebook_02}
    sources = {}
    for aid in assignments:
        a = repo_course.assignment(aid)
        nb = builders[aid](repo_course)
        reduced = a.model_copy(update={"questions": [q for q in a.questions
                                                     if aid != A02 or q.id == STRUCTURE_02]})
        apply_course_points(nb, reduced)  # course.yml is the source of the points
        path = root / "source" / aid / a.notebook
        path.parent.mkdir(parents=True)
        nbformat.write(nb, str(path))
        sources[aid] = path
        run_quiet(nbgrader_cmd("generate_assignment", aid, "--create"), cwd=root, env=env,
                  what=f"nbgrader generate_assignment {aid}")
    # our course copy: its own course.yml (only these assignments; 02 reduced), the benchmark solutions and
    # nbgrader's releases of them, 02's hidden suite reduced to the structure question's files
    course = make_course_copy(repo_course, base / "course")
    reduced_course_yml(REPO / "course.yml", course.root / "course.yml", assignments)
    (course.root / "solutions").unlink()
    for aid in assignments:
        a = repo_course.assignment(aid)
        (course.root / "solutions" / aid).mkdir(parents=True)
        shutil.copy2(sources[aid], course.root / "solutions" / aid / a.notebook)
        shutil.copy2(root / "release" / aid / a.notebook, course.root / "assignments" / aid / a.notebook)
    if A02 in assignments:
        suite = course.root / repo_course.assignment(A02).hidden_suite
        suite.unlink()
        suite.mkdir()
        for name in HIDDEN_02_KEPT:
            shutil.copy2(repo_course.hidden_suite(repo_course.assignment(A02)) / name, suite / name)
    bench_course = load_course(course.root / "course.yml")
    if A02 in assignments:  # 02 is graded with this copy (01 with the repository's course.yml)
        run_quiet(autograder_cmd(course.root / "course.yml", "config"), cwd=base, env=env,
                  what="`autograder config` on the benchmark's course copy")
    # N submissions each: the release with the solution filled in
    setup = Setup(base=base, env=env, nbgrader_root=root, bench_course=bench_course, logs=logs)
    for aid in assignments:
        a = bench_course.assignment(aid)
        text = make_sample(bench_course, a, "correct")
        setup.students[aid] = everyone[:copies[aid]]
        for sid in setup.students[aid]:
            path = root / "submitted" / sid / aid / a.notebook
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return setup


# --- full marks ----------------------------------------------------------------------------------------------
def nbgrader_marks(setup: Setup, aid: str, students: list[str], points: float) -> str:
    """Every student's autograded (code) score in nbgrader's gradebook is ``points``, out of ``points``."""
    from nbgrader.api import Gradebook

    wrong = []
    manual = 0.0
    with Gradebook(f"sqlite:///{setup.nbgrader_root / 'gradebook.db'}", COURSE_ID) as gb:
        for sid in students:
            sub = gb.find_submission(aid, sid)
            if (sub.code_score, sub.max_code_score) != (points, points):
                failed = {g.name: (g.auto_score, g.max_score) for nb in sub.notebooks for g in nb.grades
                          if g.auto_score != g.max_score and g.cell.cell_type == "code"}
                wrong.append(f"{sid}: {sub.code_score}/{sub.max_code_score} {failed}")
            manual = sub.max_written_score
    if wrong:
        raise BenchmarkError(f"nbgrader did not give full marks for {aid} (expected {points:g}):\n  "
                             + "\n  ".join(wrong[:10]))
    extra = f" (+{manual:g} written, for a TA)" if manual else ""
    return f"{len(students)} of {len(students)} at {points:g}/{points:g}{extra}"


def our_marks(out: Path, aid: str, students: list[str], points: float) -> tuple[str, list[float]]:
    """Every student's results.json: status graded, score == its max_score == ``points``. Also the workers'
    recorded peaks (``worker_peak_mib``), where the grader records them."""
    wrong, peaks = [], []
    for sid in students:
        path = out / sid / "results.json"
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            wrong.append(f"{sid}: no results.json ({exc})")
            continue
        if (data.get("status"), data.get("score"), data.get("max_score")) != ("graded", points, points):
            failed = [t["name"] for t in data.get("tests", []) if t.get("status") != "passed"]
            wrong.append(f"{sid}: {data.get('status')} {data.get('score')}/{data.get('max_score')} "
                         f"{data.get('message', '')} {failed}")
        if isinstance(data.get("worker_peak_mib"), int | float):
            peaks.append(float(data["worker_peak_mib"]))
    if wrong:
        raise BenchmarkError(f"autograder did not give full marks for {aid} (expected {points:g}):\n  "
                             + "\n  ".join(wrong[:10]))
    return f"{len(students)} of {len(students)} graded at {points:g}/{points:g}", peaks


# --- the runs -------------------------------------------------------------------------------------------------
@dataclass
class Row:
    assignment: str
    tool: str
    jobs: str
    notebooks: int
    wall: float
    memory: Memory
    worker_recorded: list[float] | None = None  # ours: worker_peak_mib from results.json ([] if not recorded)
    baseline: float | None = None  # nbgrader's s/notebook for the same kind of run

    @property
    def per_notebook(self) -> float:
        return self.wall / self.notebooks

    @property
    def ratio(self) -> str:
        return "" if self.baseline is None else f"{self.baseline / self.per_notebook:.2f}x"


def recorded_text(peaks: list[float] | None) -> str:
    if peaks is None:
        return ""
    if not peaks:
        return "not recorded"
    return f"max {max(peaks):.0f}, median {statistics.median(peaks):.0f}"


def describe(row: Row, marks: str) -> None:
    m = row.memory
    print(f"  {row.tool:<10} {row.jobs:<14} {row.notebooks:>3} notebooks in {row.wall:7.1f} s = "
          f"{row.per_notebook:6.2f} s/notebook" + (f", nbgrader/ours {row.ratio}" if row.ratio else ""))
    print(f"      marks: {marks}")
    print(f"      peak memory (sampled): grader {m.grader:.0f} MiB (largest of {m.grader_processes} processes, "
          f"{m.grader_total:.0f} MiB together), workers {m.worker:.0f} MiB (largest of {m.worker_processes}, "
          f"{m.worker_total:.0f} MiB together)")
    if row.worker_recorded is not None:
        print(f"      worker_peak_mib in results.json: {recorded_text(row.worker_recorded)}")


def bench_assignment(setup: Setup, aid: str, course_yml: Path, points: float, jobs: int | None,
                     cli_default: int) -> list[Row]:
    """nbgrader autograde of all, ours with the default (or given) --jobs and with --jobs 1, one cold each."""
    students = setup.students[aid]
    n = len(students)
    root, env = setup.nbgrader_root, setup.env
    submitted = root / "submitted"
    rows: list[Row] = []
    print(f"\n{aid}: {n} copies of a correct submission in {submitted}/ (auto-graded points: {points:g})")

    run = checked(timed(f"{aid} nbgrader all", nbgrader_cmd("autograde", aid, "--force"), cwd=root, env=env,
                        log_dir=setup.logs))
    nb_row = Row(aid, "nbgrader", "1 (serial)", n, run.wall, run.memory)
    describe(nb_row, nbgrader_marks(setup, aid, students, points))
    rows.append(nb_row)

    parallel = jobs if jobs is not None else cli_default
    variants = [(["--jobs", str(jobs)] if jobs is not None else [], f"{parallel}" + ("" if jobs else " (default)"))]
    if parallel != 1:
        variants.append((["--jobs", "1"], "1"))
    else:
        print("  (our parallel run has --jobs 1: it is the --jobs 1 run too)")
    for flag, label in variants:
        out = setup.base / "out" / f"{aid}-jobs{label.split()[0]}"
        run = checked(timed(f"{aid} autograder jobs {label}", autograder_cmd(
            course_yml, "grade", aid, str(submitted), "--out", str(out), "--no-progress", "--no-gradebook", *flag),
            cwd=setup.base, env=env, log_dir=setup.logs))
        marks, peaks = our_marks(out, aid, students, points)
        row = Row(aid, "autograder", label, n, run.wall, run.memory, peaks, baseline=nb_row.per_notebook)
        describe(row, marks)
        rows.append(row)

    one = students[0]
    run = checked(timed(f"{aid} nbgrader single", nbgrader_cmd("autograde", aid, f"--student={one}", "--force"),
                        cwd=root, env=env, log_dir=setup.logs))
    nb_single = Row(aid, "nbgrader", "cold, 1 nb", 1, run.wall, run.memory)
    describe(nb_single, nbgrader_marks(setup, aid, [one], points))
    rows.append(nb_single)
    out = setup.base / "out" / f"{aid}-single"
    run = checked(timed(f"{aid} autograder single", autograder_cmd(
        course_yml, "grade", aid, str(submitted / one / aid), "--out", str(out), "--no-progress", "--no-gradebook",
        *(["--jobs", str(jobs)] if jobs is not None else [])), cwd=setup.base, env=env, log_dir=setup.logs))
    marks, peaks = our_marks(out, aid, [one], points)
    row = Row(aid, "autograder", "cold, 1 nb", 1, run.wall, run.memory, peaks, baseline=nb_single.per_notebook)
    describe(row, marks)
    rows.append(row)
    return rows


def summary_table(rows: list[Row]) -> str:
    head = ["assignment", "tool", "jobs", "n", "s/notebook", "ratio vs nbgrader", "grader peak MiB",
            "worker peak MiB (sampled)", "worker_peak_mib (results.json)"]
    body = [[r.assignment, r.tool, r.jobs, str(r.notebooks), f"{r.per_notebook:.2f}", r.ratio or "-",
             f"{r.memory.grader:.0f}", f"{r.memory.worker:.0f}", recorded_text(r.worker_recorded) or "-"]
            for r in rows]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=50, help="submissions of 01_convolution (default 50)")
    parser.add_argument("--copies-02", type=int, default=20,
                        help="submissions of 02_mnist_cnn (default 20: each notebook imports TensorFlow)")
    parser.add_argument("--assignment", choices=[A01, A02, "both"], default="both")
    parser.add_argument("--jobs", type=int, default=None,
                        help="--jobs for our parallel run (default: the CLI's own default); a --jobs 1 run is "
                        "always made as well")
    parser.add_argument("--keep", type=Path, default=None,
                        help="build everything in this (new) folder and keep it, instead of a temporary one")
    args = parser.parse_args(argv)
    if args.copies < 1 or args.copies_02 < 1 or (args.jobs is not None and args.jobs < 1):
        parser.error("--copies, --copies-02 and --jobs must be at least 1")
    if args.keep is not None and args.keep.exists():
        parser.error(f"--keep {args.keep}: choose a folder that does not exist yet")
    assignments = [A01, A02] if args.assignment == "both" else [args.assignment]
    copies = {A01: args.copies, A02: args.copies_02}
    print(machine_line())
    cli_default = default_jobs()
    print(f"autograder grade's default --jobs: {cli_default}"
          + (f"; this run: --jobs {args.jobs} and --jobs 1" if args.jobs else ""))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ag-vs-nbgrader-") as tmp:
        base = Path(tmp) if args.keep is None else args.keep.resolve()
        base.mkdir(parents=True, exist_ok=True)
        try:
            setup = build(base, assignments, copies)
            print(f"set up in {time.perf_counter() - started:.0f} s: nbgrader course {setup.nbgrader_root}, "
                  f"our course copy {setup.bench_course.root}")
            rows: list[Row] = []
            for aid in assignments:
                # 01: the repository's own course.yml grades the picture-free notebooks (the skipped cells are
                # the only difference); 02: the course copy, whose 02 entry is the structure question only
                course_yml = REPO / "course.yml" if aid == A01 else setup.bench_course.root / "course.yml"
                points = setup.bench_course.assignment(aid).auto_max_score
                rows += bench_assignment(setup, aid, course_yml, points, args.jobs, cli_default)
        except BenchmarkError as exc:
            print(f"\nbenchmark failed: {exc}", file=sys.stderr)
            return 1
    print("\nSummary (s/notebook: wall time of the whole command / notebooks; ratio: nbgrader's s/notebook / ours, "
          "above 1 means ours is faster; peaks: largest single process)")
    print(summary_table(rows))
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
