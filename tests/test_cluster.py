"""Grading on Dask: a real ``dask scheduler`` and two ``dask worker`` processes over 127.0.0.1 (one advertising
``GPU=1``, the other ``CPU=1``), started and stopped here, and the real CLI as the driver.

- the same batch graded ``--cluster local``, ``--cluster inprocess`` and on the running cluster gives the same
  results;
- the gpu profile's training tasks run only on the GPU worker (in a fresh grader process), the others only on the
  CPU worker; a cluster without the resource a batch needs is refused before anything is graded;
- SIGKILL of a worker in the middle of a batch: the batch finishes, every submission recorded once, none lost,
  nothing the killed worker started left running.
(SIGKILL of the driver followed by the same command: tests/test_crash_safety.py, on the default local cluster.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from autograder.batch import JOURNAL
from tests.conftest import FIXTURES, REPO, descendants, make_course, run_cli, still_running

pytestmark = pytest.mark.slow

DASK = Path(sys.executable).parent / "dask"
LIMITS = {"cell_timeout_s": 20, "test_timeout_s": 10, "total_timeout_s": 120}
SOLUTION = REPO / "solutions/01_convolution/convolution.ipynb"
MISTAKES = ["flipped_kernel", "missing_bias", "pool2d_ignores_stride"]
VARYING = {"execution_time", "worker_peak_mib"}  # what may differ between two gradings of the same notebook


@dataclass
class Cluster:
    address: str
    scheduler_file: Path
    procs: dict[str, subprocess.Popen[bytes]]

    def worker_pids(self) -> dict[str, int]:
        """Worker name -> pid of its worker process (the nanny's child, which runs the tasks)."""
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as client:
            pids = client.run(os.getpid)
            names = {a: w["name"] for a, w in client.scheduler_info(n_workers=-1)["workers"].items()}
        return {str(names[a]): pid for a, pid in pids.items()}


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as f:
        return subprocess.Popen([str(DASK), *args], stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                cwd=REPO, start_new_session=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("dask")
    sched_file = tmp / "scheduler.json"
    procs = {"scheduler": _start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(sched_file)], tmp / "scheduler.log")}
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        for name, resource in (("cpu-0", "CPU=1"), ("gpu-0", "GPU=1")):
            procs[name] = _start(["worker", address, "--name", name, "--nthreads", "1", "--nworkers", "1",
                                  "--resources", resource, "--no-dashboard", "--death-timeout", "60"],
                                 tmp / f"{name}.log")
        from distributed import Client

        with Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=120)
        yield Cluster(address, sched_file, procs)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _course(tmp: Path) -> Path:
    """A course copy whose gpu profile trains on GPU workers, with a gpu recipe for 01 (the recipe only routes
    the task here: 01's hidden suite trains nothing)."""
    course_yml = make_course(tmp / "course", **LIMITS)
    data = yaml.safe_load(course_yml.read_text())
    data["runners"]["gpu"]["resource"] = "GPU"
    a01 = next(a for a in data["assignments"] if a["id"] == "01_convolution")
    a01["training"] = {"gpu": {"dataset": "digits", "train_samples": 100, "test_samples": 50, "epochs": 1,
                               "min_accuracy": 0.5}}
    course_yml.write_text(yaml.safe_dump(data, sort_keys=False))
    return course_yml


def _submissions(tmp: Path, copies: int = 0, mistakes: list[str] = MISTAKES) -> Path:
    folder = tmp / "subs"
    folder.mkdir()
    (folder / "solution.ipynb").write_bytes(SOLUTION.read_bytes())
    for name in mistakes:
        (folder / f"{name}.ipynb").write_bytes((FIXTURES / "01_mistakes" / f"{name}.ipynb").read_bytes())
    for i in range(copies):
        (folder / f"copy{i:02d}.ipynb").write_bytes(SOLUTION.read_bytes())
    return folder


def _grade(course_yml: Path, subs: Path, out: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return run_cli("--course", course_yml, "grade", "01_convolution", *sorted(subs.iterdir()), "--out", out,
                   "--no-progress", *options, timeout=600)


def _results(out: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in out.glob("*/results.json"):
        data = json.loads(path.read_text())
        found[path.parent.name] = {k: v for k, v in data.items() if k not in VARYING}
    return found


def _journal(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / JOURNAL).read_text().splitlines() if line.strip()]




def test_local_inprocess_and_a_running_cluster_give_the_same_results(tmp_path: Path, cluster: Cluster) -> None:
    course_yml = _course(tmp_path)
    subs = _submissions(tmp_path)
    got = {}
    for name, options in (("local", ["--cluster", "local", "--jobs", "2"]), ("inprocess", ["--cluster", "inprocess"]),
                          ("scheduler", ["--scheduler-file", str(cluster.scheduler_file)]),
                          ("this process", ["--jobs", "1"])):
        out = tmp_path / f"out-{name.replace(' ', '-')}"
        proc = _grade(course_yml, subs, out, *options)
        assert proc.returncode == 0, f"{name}: {proc.stdout[-2000:]}{proc.stderr[-3000:]}"
        got[name] = _results(out)
        assert len(got[name]) == 1 + len(MISTAKES), name
        assert got[name]["solution"]["score"] == 20 and all(got[name][m]["score"] < 20 for m in MISTAKES)
        where = {"local": "a local Dask cluster", "inprocess": "an in-process Dask worker",
                 "scheduler": f"the Dask cluster at {cluster.address} ({cluster.scheduler_file})"}.get(name, name)
        assert f"Graded on {where}." in proc.stdout, proc.stdout
        assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr, proc.stderr
    assert got["local"] == got["inprocess"] == got["scheduler"] == got["this process"]
    workers = {e["worker"] for e in _journal(tmp_path / "out-scheduler") if "done" in e}
    assert workers == {"cpu-0"}, "the cpu profile's tasks ran elsewhere than on the CPU worker"


def test_gpu_training_tasks_run_only_on_the_gpu_worker(tmp_path: Path, cluster: Cluster) -> None:
    course_yml = _course(tmp_path)
    subs = _submissions(tmp_path, mistakes=MISTAKES[:1])  # (each in a fresh grader process: seconds apiece)
    out = tmp_path / "out"
    proc = _grade(course_yml, subs, out, "--runner", "gpu", "--cluster", cluster.address)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    done = [e for e in _journal(out) if "done" in e]
    assert sorted(e["done"] for e in done) == sorted(["solution", *MISTAKES[:1]])
    assert {e["worker"] for e in done} == {"gpu-0"}
    results = _results(out)
    assert results["solution"]["score"] == 20 and results["solution"]["runner"] == "gpu"
    from distributed import Client

    with Client(cluster.address, timeout=30, set_as_default=False) as client:
        plugins = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.worker_plugins))
    assert not [p for p in plugins if p.startswith("autograder-course-")], "the batch left its bundle plugin behind"


def test_a_cluster_without_the_needed_resource_is_refused(tmp_path: Path, cluster: Cluster) -> None:
    """The gpu profile's training tasks ask for a resource (here A100) that no worker advertises: refused with
    what to start, before anything is graded."""
    course_yml = _course(tmp_path)
    data = yaml.safe_load(course_yml.read_text())
    data["runners"]["gpu"]["resource"] = "A100"
    course_yml.write_text(yaml.safe_dump(data, sort_keys=False))
    subs = _submissions(tmp_path)
    proc = _grade(course_yml, subs, tmp_path / "out", "--runner", "gpu", "--cluster", cluster.address)
    assert proc.returncode == 9, proc.stdout + proc.stderr
    assert "advertises the resource A100" in proc.stderr and "--resources A100=1" in proc.stderr, proc.stderr
    assert not list((tmp_path / "out").glob("*/results.json"))


def test_sigkill_of_a_worker_mid_batch_loses_nothing_and_grades_nothing_twice(tmp_path: Path,
                                                                            cluster: Cluster) -> None:
    course_yml = _course(tmp_path)
    subs = _submissions(tmp_path, copies=6)
    students = sorted(p.stem for p in subs.iterdir())
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "autograder", "--course", str(course_yml), "grade", "01_convolution",
           *map(str, sorted(subs.iterdir())), "--out", str(out), "--no-progress", "--cluster", cluster.address]
    victim = cluster.worker_pids()["cpu-0"]
    with subprocess.Popen(cmd, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as driver:
        deadline = time.monotonic() + 300
        while not list(out.glob("*/results.json")) and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert driver.poll() is None, "the batch finished before its worker could be killed"
        started_by_worker = descendants(victim)  # its zygote's sandbox, and a submission's worker if one runs
        os.kill(victim, signal.SIGKILL)
        stdout, stderr = driver.communicate(timeout=600)
    assert driver.returncode == 0, stdout[-2000:] + stderr[-3000:]
    done = [e["done"] for e in _journal(out) if "done" in e]
    assert sorted(done) == students, "every submission recorded exactly once"
    assert not [e for e in _journal(out) if "infra_failed" in e]
    results = _results(out)
    assert sorted(results) == students and all(results[s]["score"] == 20 for s in students if s.startswith("copy"))
    deadline = time.monotonic() + 20
    while still_running(started_by_worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert started_by_worker and not still_running(started_by_worker), \
        "processes the killed worker started are still running"
    assert cluster.worker_pids()["cpu-0"] != victim  # its nanny started a new one, which graded the rest


def _die() -> None:
    os._exit(1)


def test_a_task_whose_workers_keep_dying_is_an_infrastructure_failure_never_a_zero(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask gives up on a task whose workers died too often (KilledWorker); the batch records nothing for that
    submission, journals why, and lists it: the next run grades it again."""
    import dask
    from distributed import Client, LocalCluster

    from autograder import batch
    from autograder.cluster import ClusterChoice
    from autograder.config import load_course

    course = load_course(make_course(tmp_path / "course", **LIMITS))
    a01 = course.assignment("01_convolution")
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                         dashboard_address=None, worker_dashboard_address="127.0.0.1:0",
                         scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"}) as local, \
            Client(local, set_as_default=False) as client:
        future = client.submit(_die, key="dies")
        try:
            future.result(timeout=120)
        except Exception:  # noqa: BLE001 - KilledWorker, checked below through the batch's own reading of it
            pass
        outcome = batch._outcome(future, "alice", a01)
    assert outcome.result is None and "KilledWorker" in outcome.error

    subs = _submissions(tmp_path)
    found = batch.find_submissions(a01, sorted(subs.iterdir()))

    def grade_all(course: Any, assignment: Any, subs: list[Any], runner: str, jobs: int,
                  cluster: Any) -> Iterator[batch.Outcome]:
        for sub in subs:
            yield batch.Outcome(sub.student, None, error=outcome.error) if sub.student == "solution" else batch.Outcome(
                sub.student, batch.grade_one(course, assignment, sub, runner))

    monkeypatch.setattr(batch, "_grade_all", grade_all)
    out = tmp_path / "out"
    summary = batch.grade_batch(course, a01, found, out, progress=False, cluster=ClusterChoice("local"))
    assert list(summary.infra_failed) == ["solution"] and summary.graded_now == len(MISTAKES)
    assert not (out / "solution" / "results.json").exists(), "nothing is recorded for it"
    assert any(f.startswith("solution: not graded - the grading infrastructure failed (KilledWorker")
               for f in summary.failures), summary.failures
    assert {"infra_failed": "solution", "error": outcome.error[:500]} in _journal(out)
    monkeypatch.undo()
    again = batch.grade_batch(course, a01, found, out, progress=False, cluster=ClusterChoice("local"), jobs=1)
    assert (again.graded_now, again.skipped, again.infra_failed) == (1, len(MISTAKES), {})


HOSTILE_CELL = '''# Hostile: reach the grading cluster from inside the sandbox
import os, socket
for host, port in (("127.0.0.1", {port}), ("{host}", {port})):
    s = socket.socket()
    s.settimeout(1)
    try:
        s.connect((host, port))
        print(f"ATTACK scheduler {{host}}:{{port}}: ESCAPED connected")
    except OSError as e:
        print(f"ATTACK scheduler {{host}}:{{port}}: refused ({{type(e).__name__}})")
    finally:
        s.close()
for place in ("{bundles}", os.path.expanduser("~/.cache/cnn-autograder"), "{repo}/autograder/hidden"):
    print(f"ATTACK read {{place}}:", "ESCAPED visible" if os.path.exists(place) else "refused")
seen = []
for pid in os.listdir("/proc"):
    try:
        seen.append(open(f"/proc/{{pid}}/cmdline", "rb").read())
    except OSError:
        pass
print("ATTACK processes:", "ESCAPED dask visible" if any(b"dask" in c or b"distributed" in c for c in seen)
      else "refused")
'''


def test_a_submission_cannot_reach_the_cluster_that_grades_it(tmp_path: Path, cluster: Cluster) -> None:
    """Graded on the running cluster: the notebook tries the scheduler's port, the worker's course bundle and
    the Dask processes around it. Its sandbox has none of them; it still gets its marks."""
    from urllib.parse import urlsplit

    import nbformat

    from autograder.cluster_task import _cache_root

    course_yml = _course(tmp_path)
    where = urlsplit(cluster.address)
    nb = nbformat.read(str(SOLUTION), 4)
    nb.cells.append(nbformat.v4.new_code_cell(HOSTILE_CELL.format(
        port=where.port, host=where.hostname, bundles=_cache_root(), repo=REPO)))
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(nb, str(subs / "intruder.ipynb"))
    (subs / "solution.ipynb").write_bytes(SOLUTION.read_bytes())
    out = tmp_path / "out"
    proc = _grade(course_yml, subs, out, "--cluster", cluster.address)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    log = (out / "intruder" / "instructor.log").read_text()
    attacks = [line for line in log.splitlines() if line.startswith("ATTACK")]
    assert len(attacks) == 6, log
    assert not [a for a in attacks if "ESCAPED" in a], attacks
    assert _results(out)["intruder"]["score"] == 20


def test_workers_of_another_grader_version_refuse_the_course(cluster: Cluster) -> None:
    """The bundle is checked against the worker's own grader before anything is graded there."""
    from distributed import Client

    from autograder.cluster import install_bundle
    from autograder.errors import ClusterError

    with Client(cluster.address, timeout=30, set_as_default=False) as client, \
            pytest.raises(ClusterError, match="another version of the autograder than the driver") as info:
        install_bundle(client, b"not even a bundle", "0" * 64)
    assert info.value.exit_code == 9
