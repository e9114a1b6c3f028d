"""Trusted-side plumbing of the warm worker: a zygote per grader process that forks each submission's worker.

A cold worker (:class:`autograder.sandbox.process.Worker` without a zygote) starts Python in a fresh
bubblewrap sandbox and imports numpy, IPython and whatever the notebook imports: about 1.5 s per submission
for 01, several seconds with TensorFlow. A :class:`Zygote` pays that once per grader process: it is started
the same way (same filesystem view, cleared environment, limits, no network) with the modules the course's
released notebook imports already loaded, and forks a child per submission
(:mod:`autograder.worker.zygote` does the forking; read its docstring for what each child gets: new PID,
mount, network, IPC and UTS namespaces, fresh tmpfs /job, /tmp and /dev/shm, its own uid and limits).

What stays with the trusted side, as for a cold worker: the uid lease (and the sweep of every process of that
uid when the worker closes), the deadlines, the output cap, the plain-data channel. Closing a warm worker
closes its "life" pipe: its monitor kills the worker's PID namespace and reports when it is empty (and the
exit status and peak memory); if the monitor does not answer, the zygote and everything under it are killed.

The first child of every zygote is a probe (:func:`check_child`): it must see exactly what a cold worker
sees (its own uid, loopback only, PID 1 of its namespace, none of the course's secrets, a size-limited job
directory), else the zygote is refused and grading goes on with cold workers, saying why once.

Warm workers need bubblewrap and a grader running as root (dedicated uids); anywhere else workers start cold.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.config import Limits
from autograder.errors import SandboxError
from autograder.sandbox import isolation
from autograder.worker import wire

ZYGOTE_PY = Path(wire.__file__).with_name("zygote.py")
WORKER_PY = Path(wire.__file__).with_name("main.py")
WIRE_PY = Path(wire.__file__)
SHM_BYTES = 64 << 20
READY_TIMEOUT_S = 180.0  # importing TensorFlow on a busy 2-core machine can take half a minute
SPAWN_TIMEOUT_S = 30.0
CLOSE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ZygoteKey:
    """What makes two workers interchangeable children of one zygote."""

    files: tuple[str, ...]
    extensions: tuple[str, ...]
    limits: str  # the Limits as JSON
    preload: tuple[str, ...]


def supported(probe: isolation.Probe) -> tuple[bool, str]:
    """Whether this machine can run warm workers, and why not."""
    if os.environ.get("AUTOGRADER_WARM", "1") == "0":
        return False, "AUTOGRADER_WARM=0 is set"
    if probe.mode != "bwrap":
        return False, f"needs bubblewrap ({probe.bwrap_problem})"
    if not probe.drop_uid:
        return False, "needs a grader running as root (each worker gets its own uid)"
    return True, ""


class Zygote:
    """One warm zygote in its own bubblewrap sandbox. Thread-unsafe: one grader process, one submission at a time."""

    def __init__(self, key: ZygoteKey, limits: Limits) -> None:
        self.key = key
        self.limits = limits
        self.host_dir = isolation.new_job_dir()
        self.output = bytearray()
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.control = parent
        code = {"@zygote": ZYGOTE_PY, "@worker": WORKER_PY, "@wire": WIRE_PY, "@seccomp": isolation.SECCOMP_PY}
        code.update({f"@ext{i}": Path(e) for i, e in enumerate(key.extensions)})
        code.update({f"@file{i}": Path(f) for i, f in enumerate(key.files)})
        program = ["@zygote", str(child.fileno()), os.pathsep.join(isolation.site_dirs()), "@wire", "@worker",
                   "@seccomp", ",".join(key.preload), *(f"@ext{i}" for i in range(len(key.extensions)))]
        try:
            ln = isolation.launch("bwrap", self.host_dir, program=program, code=code, files=[], limits=limits,
                                  uid=None, zygote=True)
            self.files = [(ln.inside[f"@file{i}"], Path(f).name) for i, f in enumerate(key.files)]
            self.proc = subprocess.Popen(
                ln.argv, cwd=ln.cwd, env=ln.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, pass_fds=(child.fileno(),), preexec_fn=ln.preexec, start_new_session=True,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            parent.close()
            isolation.remove_tree(self.host_dir)
            raise SandboxError(f"Could not start a warm worker: {exc}") from None
        finally:
            child.close()
        assert self.proc.stdout is not None
        self._pump = threading.Thread(target=self._read_output, args=(self.proc.stdout,), daemon=True)
        self._pump.start()
        self.ready = False  # its imports go on while the grader does its own work; the first spawn waits
        self.checked = False  # its first child has passed check_child

    def wait_ready(self) -> None:
        """Wait until the zygote has imported what it preloads (SandboxError if it fails or takes too long)."""
        if self.ready:
            return
        reply = self._receive(READY_TIMEOUT_S)
        if not reply.get("ready"):
            self.close()
            raise SandboxError(f"The warm worker did not start: {reply}")
        self.ready = True

    def _read_output(self, stream: Any) -> None:
        try:
            while chunk := stream.read1(65536):
                if len(self.output) < 20000:
                    self.output += chunk
        except (OSError, ValueError):
            pass

    def _receive(self, timeout: float) -> dict[str, Any]:
        ready, _, _ = select.select([self.control], [], [], timeout)
        data = self.control.recv(65536) if ready else b""
        if not data:
            tail = bytes(self.output[-1500:]).decode("utf-8", "replace")
            self.close()
            why = "it exited" if ready else "no answer in time"
            raise SandboxError(f"The warm worker's zygote stopped answering ({why}):\n{tail}")
        try:
            reply = json.loads(data)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            self.close()
            raise SandboxError("The warm worker's zygote sent a malformed answer.")
        return reply

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def spawn(self, uid: int, fds: tuple[int, int, int, int, int]) -> None:
        """Fork a worker running as ``uid`` with (request read end, reply write end, stdout, life read end, status
        write end); the caller keeps the other ends and closes its copies of these."""
        self.wait_ready()
        job = {"uid": uid, "limits": isolation.rlimits(self.limits, uid), "files": self.files,
               "job_bytes": self.limits.job_disk_mb * 1024 * 1024, "shm_bytes": SHM_BYTES,
               "seccomp": isolation.seccomp_mode()}
        try:
            socket.send_fds(self.control, [json.dumps(job).encode()], list(fds))
        except OSError as exc:
            self.close()
            raise SandboxError(f"The warm worker's zygote is gone: {exc}") from None
        reply = self._receive(SPAWN_TIMEOUT_S)
        if reply.get("ok") is not True:
            raise SandboxError(f"The warm worker's zygote could not fork a worker: {reply.get('error')}")

    def close(self) -> None:
        """Kill the zygote and everything under it (its PID namespace), remove its host folder."""
        try:
            self.control.close()
        except OSError:
            pass
        if getattr(self, "proc", None) is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self._pump.join(timeout=5)
            if self.proc.stdout is not None and not self._pump.is_alive():
                self.proc.stdout.close()
        isolation.remove_tree(self.host_dir)


# --- one zygote per grader process ---------------------------------------------------------------
_current: Zygote | None = None
_refused: dict[ZygoteKey, str] = {}


def prelaunch(key: ZygoteKey, limits: Limits, secret: tuple[str, ...] = ()) -> None:
    """Start this process's zygote for ``key`` without waiting for it (a zygote for another key is closed), so
    that its imports overlap the grader's own work (reading the notebook, collecting the hidden suite). Does
    nothing when the machine cannot run warm workers or the zygote for ``key`` runs already."""
    global _current
    if key in _refused:
        return
    if _current is not None and _current.key == key and _current.alive:
        return
    close_current()
    ok, why = supported(isolation.probe(secret))
    if not ok:
        _refused[key] = why
        return
    try:
        _current = Zygote(key, limits)
    except SandboxError as exc:
        _refuse(key, exc)


def zygote_for(key: ZygoteKey, limits: Limits, secret: tuple[str, ...] = ()) -> Zygote | None:
    """This process's zygote for ``key`` (started, and its first child checked, on first use; a zygote for
    another key is closed), or None when workers must start cold (a warning says why, once per key)."""
    global _current
    prelaunch(key, limits, secret)
    if key in _refused or _current is None:
        return None
    if not _current.checked:
        try:
            check_child(_current, secret)
        except SandboxError as exc:
            close_current()
            _refuse(key, exc)
            return None
        _current.checked = True
    return _current


def _refuse(key: ZygoteKey, exc: SandboxError) -> None:
    _refused[key] = str(exc)
    print(f"warning: workers start cold (no warm worker): {exc}", file=sys.stderr)


def close_current() -> None:
    """Kill this process's zygote (a test's or a batch's end); the next warm worker starts a new one."""
    global _current
    if _current is not None:
        _current.close()
        _current = None


atexit.register(close_current)


PROBE_CELL = isolation.KERNEL_PROBE + r"""
def _ag_probe(paths):
    import os, socket
    st = os.statvfs(".")
    try:
        os.setuid(0)
        regained = True
    except OSError:
        regained = False
    status = dict(l.split(":", 1) for l in open("/proc/self/status") if ":" in l)
    return {**_ag_kernel(),
            "uid": os.getuid(), "pid": os.getpid(), "ifaces": sorted(n for _, n in socket.if_nameindex()),
            "visible": [p for p in paths if os.path.exists(p)], "job_bytes": st.f_blocks * st.f_frsize,
            "regained_root": regained, "cap_eff": int(status["CapEff"], 16), "cwd": os.getcwd(),
            "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit())}
"""


def check_child(zygote: Zygote, secret: tuple[str, ...] = ()) -> dict[str, Any]:
    """Fork one child and check, from inside it, what a cold worker's probe checks; SandboxError if any
    protection is weaker. Returns what the child saw."""
    from autograder.sandbox.process import Worker, WorkerDied, WorkerSpec, WorkerTimeout

    spec = WorkerSpec(limits=zygote.limits)
    hidden = [str(isolation.PACKAGE_DIR / "__init__.py"), *secret, str(zygote.host_dir)]
    try:
        with Worker(spec, zygote=zygote) as worker:
            uid = worker.lease.uid if worker.lease else None
            reply = worker.request({"op": "run_cell", "source": PROBE_CELL, "options": {}}, 30)
            if not (isinstance(reply, dict) and reply.get("ok")):
                raise SandboxError(f"The warm worker's probe cell failed: {reply}")
            seen = worker.request({"op": "call", "name": "_ag_probe", "args": [hidden], "kwargs": {}}, 30)
    except (WorkerDied, WorkerTimeout) as exc:
        raise SandboxError(f"The warm worker's probe did not run: {exc}\n{worker.output.text()[-1500:]}") from None
    if not isinstance(seen, dict) or not seen.get("ok"):
        raise SandboxError(f"The warm worker's probe failed: {seen}")
    value = seen["value"]
    limit = zygote.limits.job_disk_mb * 1024 * 1024
    problems = [what for what, bad in (
        (f"runs as uid {value['uid']}, not its own uid {uid}", value["uid"] != uid),
        ("could regain root", value["regained_root"]),
        ("kept capabilities", value["cap_eff"] != 0),
        (f"sees network interfaces {value['ifaces']}", value["ifaces"] != ["lo"]),
        (f"is not PID 1 of its own namespace (sees {value['pids']})", value["pid"] != 1 or value["pids"] != [1]),
        (f"can see {value['visible']}", bool(value["visible"])),
        (f"has a job directory of {value['job_bytes']} bytes", not 0 < value["job_bytes"] <= limit),
    ) if bad] + isolation.kernel_problems(value, filter_expected=isolation.seccomp_mode() == "require")
    if problems:
        raise SandboxError("A warm worker would be less contained than a cold one: it " + "; ".join(problems))
    return dict(value)


def wait_status(fd: int, timeout: float) -> dict[str, Any] | None:
    """The monitor's JSON line from the status pipe (None if nothing came before ``timeout`` or EOF).
    A setup problem of the worker comes first as ``{"setup_error": ...}``; the monitor's line after it."""
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    merged: dict[str, Any] = {}
    for line in data.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            merged.update(entry)
    return merged
