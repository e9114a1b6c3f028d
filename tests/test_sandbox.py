"""The worker's sandbox: what it can see and do, how it ends, and how missing protections are reported.

Tests that need a protection this machine does not give are skipped, naming it; the plain fallback
(no bubblewrap) is exercised too, by setting AUTOGRADER_SANDBOX=plain.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from autograder.config import PROTECTIONS, Limits, load_course
from autograder.errors import SandboxError
from autograder.sandbox import isolation
from autograder.sandbox.process import Worker, WorkerDied, WorkerSpec
from tests.conftest import REPO, make_course, require, run_cli

LIMITS = Limits(cell_timeout_s=20, test_timeout_s=10, total_timeout_s=60, job_disk_mb=64)
WORKBOOK = REPO / "datasets" / "workbooks" / "activation fn.xlsx"


def needs(*names: str) -> None:
    """Skip (fail under CI=true) unless the protections are active: `make system-deps` installs bubblewrap."""
    active = isolation.probe().active()
    missing = [n for n in names if not active[n][0]]
    require(not missing, f"needs {', '.join(missing)}, not active on this machine: "
            + "; ".join(f"{n}: {active[n][1]}" for n in missing) + " (`make system-deps` installs bubblewrap)")


def run(worker: Worker, source: str) -> dict[str, object]:
    reply = worker.request({"op": "run_cell", "source": source, "options": {}}, 30)
    assert reply["ok"], reply
    return reply


def look(worker: Worker, expression: str) -> object:
    run(worker, f"def _look():\n    return {expression}\n")
    reply = worker.request({"op": "call", "name": "_look", "args": [], "kwargs": {}}, 30)
    assert reply["ok"], reply
    return reply["value"]


@pytest.fixture
def plain(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Workers started without bubblewrap, as on a machine that lacks it."""
    monkeypatch.setenv("AUTOGRADER_SANDBOX", "plain")
    isolation.probe.cache_clear()
    yield
    monkeypatch.delenv("AUTOGRADER_SANDBOX")
    isolation.probe.cache_clear()


@pytest.fixture(params=["best", "plain"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Both ways of starting a worker: the best this machine offers, and the plain fallback."""
    if request.param == "plain":
        monkeypatch.setenv("AUTOGRADER_SANDBOX", "plain")
    isolation.probe.cache_clear()
    yield isolation.probe().mode
    monkeypatch.delenv("AUTOGRADER_SANDBOX", raising=False)
    isolation.probe.cache_clear()


# --- reporting -----------------------------------------------------------------------------------
def test_doctor_prints_every_protection() -> None:
    proc = run_cli("doctor")
    assert proc.returncode == 0, proc.stderr
    for name in PROTECTIONS:
        assert name in proc.stdout
    assert "batches: Dask distributed " in proc.stdout and "127.0.0.1 with TLS" in proc.stdout, proc.stdout
    print(proc.stdout)


def test_a_required_protection_that_is_missing_refuses_to_grade(tmp_path: Path) -> None:
    course_yml = make_course(tmp_path / "course")
    data = yaml.safe_load(course_yml.read_text())
    data["sandbox"] = {"require": ["filesystem_view"]}
    course_yml.write_text(yaml.safe_dump(data))
    nb = tmp_path / "alice.ipynb"
    nb.write_text((REPO / "solutions/01_convolution/convolution.ipynb").read_text())
    env = {**os.environ, "AUTOGRADER_SANDBOX": "plain"}  # a machine without bubblewrap
    proc = subprocess.run([str(REPO / ".venv/bin/autograder"), "--course", str(course_yml), "grade",
                           "01_convolution", str(nb), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert "filesystem_view" in proc.stderr and "refuse" not in proc.stdout
    assert not (tmp_path / "out" / "alice").exists()
    doctor = subprocess.run([str(REPO / ".venv/bin/autograder"), "--course", str(course_yml), "doctor"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert doctor.returncode == 5 and "REFUSED" in doctor.stdout


def test_a_course_that_requires_the_syscall_filter_refuses_to_grade_without_it(tmp_path: Path) -> None:
    course_yml = make_course(tmp_path / "course")
    data = yaml.safe_load(course_yml.read_text())
    data["sandbox"] = {"require": ["syscall_filter"]}
    course_yml.write_text(yaml.safe_dump(data))
    env = {**os.environ, "AUTOGRADER_SECCOMP": "0"}  # as on a kernel without seccomp
    doctor = subprocess.run([str(REPO / ".venv/bin/autograder"), "--course", str(course_yml), "doctor"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert doctor.returncode == 5 and "REFUSED" in doctor.stdout and "syscall_filter" in doctor.stdout
    satisfied = subprocess.run([str(REPO / ".venv/bin/autograder"), "--course", str(course_yml), "doctor"],
                               capture_output=True, text=True, timeout=300)
    assert satisfied.returncode == 0, satisfied.stdout + satisfied.stderr


def test_missing_protections_only_warn_by_default(plain: None) -> None:
    warnings = isolation.enforce([])
    assert any("filesystem_view" in w for w in warnings)
    with pytest.raises(SandboxError, match="network_namespace"):
        isolation.enforce(["network_namespace"])


# --- what the worker sees ------------------------------------------------------------------------
def test_the_worker_sees_only_what_it_needs() -> None:
    needs("filesystem_view")
    with Worker(WorkerSpec(limits=LIMITS, files=[WORKBOOK])) as w:
        seen = look(w, "{p: __import__('os').path.exists(p) for p in PATHS}".replace(
            "PATHS", repr([str(REPO / "autograder"), str(REPO / "solutions"), str(REPO / "course.yml"),
                           str(REPO / "tests"), str(w.job_dir)])))
        assert isinstance(seen, dict) and seen == dict.fromkeys(seen, False)
        assert look(w, "sorted(__import__('os').listdir('.'))") == [".ipython", WORKBOOK.name, "tmp"]
        run(w, "import numpy, IPython, matplotlib")  # the libraries are there
        denied = look(w, "[__import__('os').access(p, __import__('os').W_OK) for p in ('/usr', '/', '/opt/ag')]")
        assert denied == [False, False, False]


def test_the_probe_checks_the_package_and_the_courses_secrets() -> None:
    course = load_course(REPO / "course.yml")
    secret = isolation.course_secrets(course)
    assert str(REPO / "solutions") in secret and str(REPO / "autograder/hidden/02_mnist_cnn") in secret
    assert isolation.PACKAGE_DIR == REPO / "autograder"  # the package, wherever it is installed
    needs("filesystem_view")
    assert isolation.probe(secret).fs
    shown = isolation.probe(("/usr/lib", *secret))  # a path the worker does see: the probe notices
    assert not shown.fs and "/usr/lib" in shown.details["fs"]


def test_a_package_installed_in_site_packages_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    needs("filesystem_view")
    installed = Path(isolation.site_dirs()[0]).resolve() / "yaml"  # stands in for site-packages/autograder
    assert (installed / "__init__.py").is_file()
    monkeypatch.setattr(isolation, "PACKAGE_DIR", installed)
    isolation.probe.cache_clear()
    try:
        assert isolation.probe().fs
        with Worker(WorkerSpec(limits=LIMITS)) as w:
            assert look(w, f"__import__('os').listdir({str(installed)!r})") == []
            run(w, "import numpy, IPython")  # the rest of site-packages is still there
    finally:
        isolation.probe.cache_clear()


def test_the_worker_runs_as_an_unprivileged_uid() -> None:
    needs("unprivileged_uid")
    with Worker(WorkerSpec(limits=LIMITS)) as w:
        uid = look(w, "__import__('os').getuid()")
        assert uid != 0
        if os.getuid() == 0:
            assert uid in isolation.WORKER_UIDS
            assert look(w, "open('/proc/self/status').read().split('CapEff:')[1].split()[0]") == "0" * 16


def test_the_worker_has_loopback_only() -> None:
    needs("network_namespace")
    with Worker(WorkerSpec(limits=LIMITS)) as w:
        assert look(w, "[n for _, n in __import__('socket').if_nameindex()]") == ["lo"]


def test_the_worker_sees_only_its_own_processes() -> None:
    needs("pid_namespace")
    with Worker(WorkerSpec(limits=LIMITS)) as w:
        pids = look(w, "sorted(int(p) for p in __import__('os').listdir('/proc') if p.isdigit())")
        assert isinstance(pids, list) and max(pids) < 10


def test_the_job_directory_has_a_size_limit() -> None:
    needs("disk_quota")
    with Worker(WorkerSpec(limits=LIMITS)) as w:
        run(w, "import os\ntry:\n    open('big', 'wb').write(b'0' * (100 << 20))\nexcept OSError as e:\n"
               "    err = e.errno\n")
        assert look(w, "err") == 28  # ENOSPC at 64 MiB
        assert look(w, "os.statvfs('/tmp').f_blocks * os.statvfs('/tmp').f_frsize") == 64 << 20


# --- how it ends ---------------------------------------------------------------------------------
def _procs_with(marker: bytes) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        try:
            if marker in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found


DETACHED = '''import os, subprocess
subprocess.Popen(["sleep", "{tag}"], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    os.execvp("sleep", ["sleep", "{tag}1"])
'''


def test_everything_the_worker_started_dies_with_it(mode: str) -> None:
    kill_all = isolation.probe().active()["kill_all"][0]
    if not kill_all and mode == "plain":
        # The plain fallback cannot promise it (e.g. as root when no worker uid can run this Python): then
        # the promise is that doctor says so and a course that requires it is refused.
        with pytest.raises(SandboxError, match=r"kill_all: "):
            isolation.enforce(["kill_all"])
        assert any("'kill_all' is not active" in w for w in isolation.enforce([]))
        return
    needs("kill_all")
    tag = str(27000 + os.getpid() % 1000)
    w = Worker(WorkerSpec(limits=LIMITS))
    job = w.job_dir
    assert job is not None
    run(w, DETACHED.format(tag=tag))
    time.sleep(0.3)
    assert len(_procs_with(f"sleep\0{tag}".encode())) >= 2
    w.close()
    assert _procs_with(f"sleep\0{tag}".encode()) == []
    assert not job.exists()


def test_a_forked_child_cannot_answer_for_the_worker(mode: str) -> None:
    with Worker(WorkerSpec(limits=LIMITS)) as w:
        run(w, "import os\nchild = os.fork()\nwho = 'child' if child == 0 else 'parent'\n")
        for _ in range(5):  # the child came back to the loop too, but must have left quietly
            assert look(w, "who") == "parent"


def test_how_a_worker_died_is_reported(mode: str) -> None:
    for source, reason in [("import os\nos._exit(5)", "exited with status 5"),
                           ("import ctypes\nctypes.string_at(0)", "killed by SIGSEGV")]:
        with Worker(WorkerSpec(limits=LIMITS)) as w, pytest.raises(WorkerDied, match=reason):
            w.request({"op": "run_cell", "source": source, "options": {}}, 30)


def test_a_chmod_ed_job_directory_is_still_removed(mode: str) -> None:
    w = Worker(WorkerSpec(limits=LIMITS, files=[WORKBOOK]))
    run(w, "import os\nos.makedirs('a/b')\nopen('a/b/c', 'w').close()\nfor p in ('a/b/c', 'a/b', 'a', '.'):\n"
           "    try:\n        os.chmod(p, 0)\n    except OSError:\n        pass\n")
    job = w.job_dir
    assert job is not None
    w.close()
    assert not job.exists()


def test_values_still_cross_in_both_modes(mode: str) -> None:
    with Worker(WorkerSpec(limits=LIMITS)) as w:
        run(w, "import numpy as np\ndef f(x):\n    return np.asarray(x) * 2\n")
        reply = w.request({"op": "call", "name": "f", "args": [np.arange(3)], "kwargs": {}}, 30)
        assert type(reply["value"]) is np.ndarray and reply["value"].tolist() == [0, 2, 4]


# --- uids and leftovers --------------------------------------------------------------------------
def test_uid_leases_are_exclusive_and_kill_leftovers() -> None:
    if os.getuid() != 0:
        require(False, "dedicated worker uids need a grader running as root (run the tests as root, as CI does)")
    a, b = isolation.UidLease.take(), isolation.UidLease.take()
    try:
        assert a.uid != b.uid
        stray = subprocess.Popen(["sleep", "600"], preexec_fn=lambda: os.setuid(a.uid))
        time.sleep(0.1)
        a.release()
        assert stray.wait(timeout=10) == -9
    finally:
        b.release()


def test_job_directories_of_dead_graders_are_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = Path(isolation.tempfile.gettempdir()) / f"{isolation.JOB_PREFIX}{dead.pid}-test"
    stale.mkdir()
    (stale / "x").write_text("left by a grader killed with SIGKILL")
    isolation.remove_stale_jobs.__wrapped__()
    assert not stale.exists()


def test_the_probe_result_is_plain_data() -> None:
    p = isolation.probe()
    json.dumps({"mode": p.mode, "active": p.active()})


IGNORE_32 = """
import ctypes, os, platform, sys
nr = {"x86_64": 13, "aarch64": 134}[platform.machine()]
act = (ctypes.c_ulong * 4)(1, 0, 0, 0)  # SIG_IGN for glibc's reserved real-time signal 32
assert ctypes.CDLL(None, use_errno=True).syscall(ctypes.c_long(nr), ctypes.c_int(32), ctypes.byref(act), None,
                                                 ctypes.c_size_t(8)) == 0
os.execv(sys.argv[1], sys.argv[1:])
"""


def test_a_grader_started_with_glibcs_own_signals_ignored_still_gets_filtered_warm_workers() -> None:
    """Some job runners start the grader with signal 32 ignored, which neither glibc nor Python will set back: the
    workers reset it with the system call itself (else every probe refused the filter and warm workers)."""
    proc = subprocess.run([sys.executable, "-c", IGNORE_32, str(REPO / ".venv/bin/autograder"), "doctor"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "\nseccomp: yes" in proc.stdout and "\nwarm workers: yes" in proc.stdout, proc.stdout
