"""The warm worker (autograder.sandbox.warm, autograder/worker/zygote.py): every worker forked from one zygote
is contained exactly as a cold one, and sees nothing of the workers before it.

The zygote is real (bubblewrap, a root grader); so are its children. Tests need what warm workers need and fail
under CI=true when it is missing (`make system-deps` installs bubblewrap; CI runs as root).
"""

from __future__ import annotations

import hashlib
import os
import resource
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from autograder.config import Limits, load_course
from autograder.errors import SandboxError
from autograder.grade import released_imports, worker_spec
from autograder.sandbox import isolation, warm
from autograder.sandbox.process import Worker, WorkerDied, WorkerSpec, prestart_worker, start_worker
from tests.conftest import REPO, require

LIMITS = Limits(cell_timeout_s=20, test_timeout_s=10, total_timeout_s=60, job_disk_mb=64, memory_mb=2048)
WORKBOOK = REPO / "datasets" / "workbooks" / "activation fn.xlsx"


@pytest.fixture(scope="module")
def zygote() -> Iterator[warm.Zygote]:
    ok, why = warm.supported(isolation.probe())
    require(ok, f"warm workers are not available here: {why} (`make system-deps` installs bubblewrap; run as root)")
    key = warm.ZygoteKey(files=(str(WORKBOOK),), extensions=(), limits=LIMITS.model_dump_json(),
                         preload=("numpy", "matplotlib.pyplot"))
    z = warm.Zygote(key, LIMITS)
    yield z
    z.close()


def child(zygote: warm.Zygote) -> Worker:
    return Worker(WorkerSpec(limits=LIMITS), zygote=zygote)


def run(worker: Worker, source: str) -> None:
    reply = worker.request({"op": "run_cell", "source": source, "options": {}}, 30)
    assert reply["ok"], reply


def look(worker: Worker, expression: str) -> object:
    run(worker, f"def _look():\n    import os, sys, socket\n    return {expression}\n")
    reply = worker.request({"op": "call", "name": "_look", "args": [], "kwargs": {}}, 30)
    assert reply["ok"], reply
    return reply["value"]


# --- each child is contained as a cold worker is ----------------------------------------------------
def test_the_first_child_passes_the_probe(zygote: warm.Zygote) -> None:
    course = load_course(REPO / "course.yml")
    seen = warm.check_child(zygote, isolation.course_secrets(course))
    assert seen["pid"] == 1 and seen["ifaces"] == ["lo"] and seen["uid"] in isolation.WORKER_UIDS
    assert seen["cap_eff"] == 0 and not seen["regained_root"] and seen["cwd"] == "/job"


def test_a_child_sees_only_its_job_and_the_libraries(zygote: warm.Zygote) -> None:
    with child(zygote) as w:
        secrets = [str(REPO / "autograder"), str(REPO / "solutions"), str(REPO / "course.yml"), str(zygote.host_dir)]
        assert look(w, f"[p for p in {secrets!r} if os.path.exists(p)]") == []
        assert look(w, "sorted(os.listdir('.'))") == [WORKBOOK.name, "tmp"]
        digest = look(w, f"__import__('hashlib').sha256(open({WORKBOOK.name!r}, 'rb').read()).hexdigest()")
        assert digest == hashlib.sha256(WORKBOOK.read_bytes()).hexdigest()
        assert look(w, f"os.access({WORKBOOK.name!r}, os.W_OK)") is False  # bound read-only
        assert look(w, "[os.access(p, os.W_OK) for p in ('/usr', '/', '/opt/ag')]") == [False, False, False]
        assert look(w, "sorted(int(p) for p in os.listdir('/proc') if p.isdigit())") == [1]
        assert look(w, "[n for _, n in socket.if_nameindex()]") == ["lo"]
        status = look(w, "open('/proc/self/status').read()")
        assert isinstance(status, str)
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        assert int(fields["CapEff"], 16) == int(fields["CapPrm"], 16) == int(fields["CapBnd"], 16) == 0
        assert int(fields["Uid"].split()[0]) in isolation.WORKER_UIDS and fields["NoNewPrivs"].strip() == "1"


def test_a_child_keeps_only_its_channel_and_stdio(zygote: warm.Zygote) -> None:
    with child(zygote) as w:
        fds = look(w, "sorted(int(f) for f in os.listdir('/proc/self/fd'))")
        # stdin, stdout, stderr, the channel's two ends and the listing's own descriptor: not the zygote's socket
        assert isinstance(fds, list) and fds[:3] == [0, 1, 2] and len(fds) == 6


def test_a_child_has_the_cold_workers_limits(zygote: warm.Zygote) -> None:
    with child(zygote) as w:
        uid = w.lease.uid if w.lease else None
        got = look(w, "{n: __import__('resource').getrlimit(getattr(__import__('resource'), n)) for n in "
                      f"{list(isolation.rlimits(LIMITS, uid))!r}}}")
    want = {name: pair for name, pair in isolation.rlimits(LIMITS, uid).items()}
    assert got == want
    assert resource.RLIMIT_DATA  # (the names are resource's)


def test_job_tmp_and_shm_are_fresh_size_limited_tmpfs_per_child(zygote: warm.Zygote) -> None:
    with child(zygote) as w:
        run(w, "for p in ('/job/left', '/tmp/left', '/dev/shm/left', '/job/tmp/left'):\n    open(p, 'w').write('x')\n"
               "import os\ntry:\n    open('big', 'wb').write(b'0' * (100 << 20))\n"
               "except OSError as e:\n    err = e.errno\n")
        assert look(w, "err") == 28  # ENOSPC at 64 MiB
    with child(zygote) as w:
        assert look(w, "[p for p in ('/job/left', '/tmp/left', '/dev/shm/left', '/job/tmp/left') "
                       "if os.path.exists(p)]") == []
        assert look(w, "os.statvfs('/tmp').f_blocks * os.statvfs('/tmp').f_frsize") == 64 << 20


# --- nothing of one child reaches the next ----------------------------------------------------------
def test_monkeypatching_in_one_child_is_not_seen_by_the_next(zygote: warm.Zygote) -> None:
    with child(zygote) as w:
        run(w, "import numpy as np, sys, builtins, os\nnp.allclose = lambda *a, **k: True\n"
               "sys.modules['numpy'].pad = None\nbuiltins.abs = None\nos.environ['AG_LEFT'] = '1'\n"
               "np.random.seed(1)\nsys.modules['fake_left'] = sys\n")
    with child(zygote) as w:
        assert look(w, "__import__('numpy').allclose.__module__") == "numpy"
        assert look(w, "callable(__import__('numpy').pad) and abs(-1) == 1") is True
        assert look(w, "'AG_LEFT' in os.environ or 'fake_left' in sys.modules") is False


def test_threads_and_processes_left_behind_die_with_their_child(zygote: warm.Zygote) -> None:
    tag = f"4{os.getpid()}"
    with child(zygote) as w:
        uid = w.lease.uid if w.lease else -1
        run(w, "import threading, time, subprocess, os\n"
               "def spin():\n    while True:\n        open('/job/tmp/spin', 'w').write(str(time.time()))\n"
               "        time.sleep(0.01)\n"
               "threading.Thread(target=spin, daemon=False).start()\n"
               f"subprocess.Popen(['sleep', '{tag}'], start_new_session=True)\n"
               "if os.fork() == 0:\n    os.setsid()\n    os.execvp('sleep', ['sleep', '" + tag + "1'])\n")
        time.sleep(0.2)
        assert isolation.pids_of_uid(uid)
    assert isolation.pids_of_uid(uid) == []
    assert not [p for p in os.listdir("/proc") if p.isdigit() and _cmdline_has(p, tag)]
    with child(zygote) as w:
        assert look(w, "os.path.exists('/job/tmp/spin')") is False


def _cmdline_has(pid: str, tag: str) -> bool:
    try:
        return tag.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def test_a_child_cannot_reach_the_zygote(zygote: warm.Zygote) -> None:
    with child(zygote) as w:
        assert look(w, "os.getppid()") == 0  # its parent (the monitor) is outside its PID namespace
        run(w, "import os, signal\nfor pid in range(2, 200):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
               "    except OSError:\n        pass\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\n")
    assert zygote.alive
    with child(zygote) as w:
        assert look(w, "1 + 1") == 2


def test_how_a_child_died_is_reported_and_the_zygote_carries_on(zygote: warm.Zygote) -> None:
    for source, reason in [("import os\nos._exit(5)", "exited with status 5"),
                           ("import ctypes\nctypes.string_at(0)", "killed by SIGSEGV")]:
        with child(zygote) as w, pytest.raises(WorkerDied, match=reason):
            w.request({"op": "run_cell", "source": source, "options": {}}, 30)
    assert zygote.alive


def test_values_cross_and_peak_memory_is_reported(zygote: warm.Zygote) -> None:
    with child(zygote) as w:
        run(w, "import numpy as np\nbig = np.ones(30 << 20, np.uint8)\ndef f(x):\n    return np.asarray(x) * 2\n")
        reply = w.request({"op": "call", "name": "f", "args": [np.arange(3)], "kwargs": {}}, 30)
        assert type(reply["value"]) is np.ndarray and reply["value"].tolist() == [0, 2, 4]
    assert w.peak_kib > 30 << 10


# --- in grading --------------------------------------------------------------------------------------
def test_the_zygote_preloads_what_the_released_notebook_imports() -> None:
    course = load_course(REPO / "course.yml")
    assert "numpy" in released_imports(course, course.assignment("01_convolution"))
    assert "keras" in released_imports(course, course.assignment("02_mnist_cnn"))
    spec = worker_spec(course, course.assignment("01_convolution"))
    assert spec.warm_start and spec.preload == released_imports(course, course.assignment("01_convolution"))


def test_a_dead_zygote_is_replaced_and_workers_start_warm_again() -> None:
    ok, why = warm.supported(isolation.probe())
    require(ok, f"warm workers are not available here: {why}")
    spec = WorkerSpec(limits=LIMITS, warm_start=True, preload=("numpy",))
    try:
        with start_worker(spec) as w:
            assert w.zygote is not None
            first = w.zygote
        first.proc.kill()
        first.proc.wait()
        with start_worker(spec) as w:
            assert w.zygote is not None and w.zygote is not first and look(w, "1") == 1
    finally:
        warm.close_current()


def test_the_prestarted_zygote_is_the_one_workers_fork_from_and_a_new_key_replaces_it() -> None:
    """grade_submission prestarts the zygote before reading the notebook; the worker started later is its child,
    and its first child is still probed. Prestarting for another assignment closes the old zygote."""
    ok, why = warm.supported(isolation.probe())
    require(ok, f"warm workers are not available here: {why}")
    spec = WorkerSpec(limits=LIMITS, warm_start=True, preload=("numpy",))
    other = WorkerSpec(limits=LIMITS, warm_start=True, preload=("json",))
    try:
        prestart_worker(spec)
        early = warm._current
        assert early is not None and early.alive and not early.checked
        prestart_worker(spec)  # idempotent
        assert warm._current is early
        with start_worker(spec) as w:
            assert w.zygote is early and early.ready and early.checked and look(w, "1") == 1
        prestart_worker(other)
        assert warm._current is not early and not early.alive
    finally:
        warm.close_current()


def test_without_warm_support_workers_start_cold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOGRADER_WARM", "0")
    spec = WorkerSpec(limits=LIMITS, warm_start=True, preload=("numpy",))
    try:
        with start_worker(spec) as w:
            assert w.zygote is None and look(w, "1") == 1
    finally:
        warm.close_current()
        warm._refused.clear()


def test_a_zygote_that_cannot_start_says_why() -> None:
    ok, why = warm.supported(isolation.probe())
    require(ok, f"warm workers are not available here: {why}")
    key = warm.ZygoteKey(files=(), extensions=("/nonexistent/ext.py",), limits=LIMITS.model_dump_json(), preload=())
    zygote = warm.Zygote(key, LIMITS)  # does not wait for the zygote's imports: the first spawn does
    with pytest.raises(SandboxError, match="zygote stopped answering"):
        zygote.wait_ready()
    assert not zygote.alive


def test_libraries_under_tmp_stay_visible_read_only_in_every_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """A virtual environment that lives under /tmp (a clone in a temporary folder, as the README's fresh-clone
    check makes): bubblewrap binds it inside the zygote's /tmp, and each child's fresh /tmp must not hide it (a
    module imported after the fork would be missing), nor make it writable."""
    ok, why = warm.supported(isolation.probe())
    require(ok, f"warm workers are not available here: {why}")
    site = Path("/tmp") / f"ag-site-{os.getpid()}" / "lib" / "site-packages"
    site.mkdir(parents=True)
    try:
        (site / f"ag_lazy_{os.getpid()}.py").write_text("ANSWER = 42\n")
        monkeypatch.setattr(isolation, "site_dirs", lambda: [*_SITE_DIRS(), str(site)])
        key = warm.ZygoteKey(files=(), extensions=(), limits=LIMITS.model_dump_json(), preload=("numpy",))
        z = warm.Zygote(key, LIMITS)
        try:
            for _ in range(2):  # the second child too: nothing of the first one's mounts is needed
                with child(z) as w:
                    assert look(w, f"__import__('ag_lazy_{os.getpid()}').ANSWER") == 42
                    assert look(w, f"os.access({str(site)!r}, os.W_OK)") is False
                    # (and the grader's own environment, when it lives under /tmp too)
                    own = {Path(d).parts[2] for d in _SITE_DIRS() if d.startswith("/tmp/")}
                    assert look(w, "sorted(os.listdir('/tmp'))") == sorted({site.parts[2], *own})
        finally:
            z.close()
    finally:
        import shutil

        shutil.rmtree(site.parents[1], ignore_errors=True)


_SITE_DIRS = isolation.site_dirs
