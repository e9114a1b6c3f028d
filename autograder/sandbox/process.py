"""Trusted-side plumbing for one untrusted worker process: start it contained, talk to it, kill it.

This module runs no student code. It starts :mod:`autograder.worker.main` the way
:mod:`autograder.sandbox.isolation` found best on this machine (bubblewrap namespaces and a minimal
filesystem view, else a plain child process), in a fresh job directory, with a cleared environment,
stdin from /dev/null, resource limits and, when the grader is root, a dedicated uid. It exchanges
:mod:`autograder.worker.wire` messages with the worker under deadlines, captures its output with a byte cap
(head and tail kept) and, on close, kills everything the worker started (PID-namespace teardown
and/or every process of its uid) before it removes the job directory and returns.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from autograder.config import Limits
from autograder.errors import SandboxError
from autograder.sandbox import isolation, warm
from autograder.sandbox.isolation import remove_tree
from autograder.worker import wire

__all__ = ["CappedOutput", "Worker", "WorkerDied", "WorkerSpec", "WorkerTimeout", "remove_tree"]

# The worker program and the wire format, handed to the worker by path (it cannot import this package).
WIRE_PY = Path(wire.__file__)
WORKER_PY = WIRE_PY.with_name("main.py")


# Answers a worker's request for a call into a function the grader serves (the message is untrusted data), by the
# deadline (time.monotonic()) of the request during which it came.
Callback = Callable[[dict[str, Any], float], dict[str, Any]]


class WorkerDied(Exception):
    """The worker exited or closed its channel (os._exit, a crash, the memory limit...).

    ``signal`` names the signal that killed it (``"SIGSEGV"``), or is None when it exited by itself.
    """

    def __init__(self, reason: str, signal: str | None = None) -> None:
        super().__init__(reason)
        self.signal = signal


class WorkerTimeout(Exception):
    """The worker did not answer before the deadline; it has been killed."""


class CappedOutput:
    """Keeps the first and last ``cap // 2`` bytes of a stream, counting what was dropped."""

    def __init__(self, cap: int) -> None:
        self.half = max(cap // 2, 1)
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self.lock = threading.Lock()

    def feed(self, data: bytes) -> None:
        with self.lock:
            room = self.half - len(self.head)
            if room > 0:
                self.head += data[:room]
                data = data[room:]
            self.tail += data
            if len(self.tail) > self.half:
                cut = len(self.tail) - self.half
                self.dropped += cut
                del self.tail[:cut]

    def text(self) -> str:
        with self.lock:
            middle = f"\n... [{self.dropped} bytes of output dropped] ...\n" if self.dropped else ""
            return (bytes(self.head).decode("utf-8", "replace") + middle
                    + bytes(self.tail).decode("utf-8", "replace"))


def _pump(stream: IO[bytes], sink: CappedOutput) -> None:
    try:
        while chunk := stream.read1(65536):  # type: ignore[attr-defined]
            sink.feed(chunk)
    except (OSError, ValueError):
        pass


@dataclass
class WorkerSpec:
    """What a worker needs: its limits, files to place in its job directory, value converters."""

    limits: Limits
    files: list[Path] = field(default_factory=list)
    extensions: list[Path] = field(default_factory=list)
    cell_options: dict[str, Any] = field(default_factory=dict)  # sent with every run_cell request
    trusted_ext: wire.Extensions = field(default_factory=wire.Extensions)
    warm_start: bool = False  # fork workers from a warm zygote where the machine allows (autograder.sandbox.warm)
    preload: tuple[str, ...] = ()  # modules the zygote imports (what the released notebook imports)
    secret: tuple[str, ...] = ()  # paths a worker must not see (checked in a warm zygote's first child)

    def zygote_key(self) -> warm.ZygoteKey:
        return warm.ZygoteKey(files=tuple(str(Path(f).resolve()) for f in self.files),
                              extensions=tuple(str(e) for e in self.extensions),
                              limits=self.limits.model_dump_json(), preload=self.preload)


def prestart_worker(spec: WorkerSpec) -> None:
    """Start the warm zygote that :func:`start_worker` will fork ``spec``'s worker from, without waiting for its
    imports, so that they run while the grader prepares. Nothing happens for cold workers."""
    if spec.warm_start:
        warm.prelaunch(spec.zygote_key(), spec.limits, spec.secret)


def start_worker(spec: WorkerSpec) -> Worker:
    """A worker for ``spec``: forked from this process's warm zygote when ``spec.warm_start`` and the machine allows,
    else started cold. A zygote that fails to fork is replaced once (then workers start cold)."""
    if spec.warm_start:
        for _ in range(2):
            zygote = warm.zygote_for(spec.zygote_key(), spec.limits, spec.secret)
            if zygote is None:
                break
            try:
                return Worker(spec, zygote=zygote)
            except SandboxError:
                warm.close_current()
    return Worker(spec)


class Worker:
    """One running worker process. Use as a context manager; :meth:`close` always cleans up.

    With ``zygote`` (:mod:`autograder.sandbox.warm`) the worker is forked from that warm zygote instead of
    started cold; everything else (the channel, deadlines, output cap, uid lease, kill on close) is the same.
    """

    def __init__(self, spec: WorkerSpec, zygote: warm.Zygote | None = None) -> None:
        self.spec = spec
        self.output = CappedOutput(spec.limits.output_bytes)
        self.closed = False
        self.peak_kib = 0  # the worker's peak resident memory, once it has ended (0 if unknown)
        self.sandbox = isolation.probe()
        self.zygote = zygote
        if zygote is not None:
            self._start_warm(zygote)
            return
        bwrap = self.sandbox.mode == "bwrap"
        self.lease = isolation.UidLease.take() if self.sandbox.drop_uid else None
        uid = self.lease.uid if self.lease else None
        self.job_dir: Path | None = isolation.new_job_dir()  # the job directory itself (plain) or its host side (bwrap)
        req_r, self._req_w = os.pipe()
        os.set_blocking(self._req_w, False)  # writes wait with select, up to a request's deadline
        self._rep_r, rep_w = os.pipe()
        info_r, info_w = os.pipe() if bwrap else (-1, -1)
        code = {"@worker": WORKER_PY, "@wire": WIRE_PY}
        code.update({f"@ext{i}": Path(e) for i, e in enumerate(spec.extensions)})
        as_uid = ["--as-uid", str(uid)] if bwrap and uid is not None else []
        program = ["@worker", *as_uid, f"{req_r},{rep_w}", os.pathsep.join(isolation.site_dirs()), "@wire",
                   *(f"@ext{i}" for i in range(len(spec.extensions)))]
        child_fds = (req_r, rep_w, info_w) if bwrap else (req_r, rep_w)
        self.child_pid = 0  # bwrap: the sandbox's PID 1; killing it tears its PID namespace down
        try:
            ln = isolation.launch(self.sandbox.mode, self.job_dir, program=program, code=code, files=spec.files,
                                  limits=spec.limits, uid=None if bwrap else uid, info_fd=info_w if bwrap else None)
            self.proc = subprocess.Popen(
                ln.argv, cwd=ln.cwd, env=ln.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, pass_fds=child_fds, preexec_fn=ln.preexec, start_new_session=True,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            for fd in (*child_fds, self._req_w, self._rep_r, info_r):
                _close(fd)
            self._release()
            raise SandboxError(f"Could not start a worker ({self.sandbox.mode} mode): {exc}") from None
        for fd in child_fds:
            _close(fd)
        assert self.proc.stdout is not None
        self._pump = threading.Thread(target=_pump, args=(self.proc.stdout, self.output), daemon=True)
        self._pump.start()
        if bwrap:
            self.child_pid = _read_child_pid(info_r, time.monotonic() + 30)

    def _start_warm(self, zygote: warm.Zygote) -> None:
        self.lease = isolation.UidLease.take()
        self.job_dir = None
        self.child_pid = 0
        req_r, self._req_w = os.pipe()
        os.set_blocking(self._req_w, False)  # writes wait with select, up to a request's deadline
        self._rep_r, rep_w = os.pipe()
        out_r, out_w = os.pipe()
        life_r, self._life_w = os.pipe()
        self._status_r, status_w = os.pipe()
        child_ends = (req_r, rep_w, out_w, life_r, status_w)
        try:
            zygote.spawn(self.lease.uid, child_ends)
        except SandboxError:
            for fd in (*child_ends, self._req_w, self._rep_r, out_r, self._life_w, self._status_r):
                _close(fd)
            self._release()
            raise
        finally:
            for fd in child_ends:
                _close(fd)
        self._stdout = os.fdopen(out_r, "rb")
        self._pump = threading.Thread(target=_pump, args=(self._stdout, self.output), daemon=True)
        self._pump.start()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, message: dict[str, Any], timeout: float, serve: Callback | None = None) -> Any:
        """Send one request and wait at most ``timeout`` seconds for its answer.

        Before it answers, the worker may ask for calls into functions the grader serves (``{"callback": name,
        "args": [...], "kwargs": {...}}``, see :mod:`autograder.worker.main`): each is answered with what
        ``serve`` returns for it, within the same deadline. Without ``serve`` such a message is a protocol error
        (:class:`~autograder.worker.wire.WireError`). A worker that stops reading cannot block the grader: every
        write has the deadline too."""
        if self.closed:
            raise WorkerDied("the worker is already closed")
        deadline = time.monotonic() + max(timeout, 0.0)
        try:
            wire.write_message(self._req_w, message, self.spec.trusted_ext, deadline=deadline)
            while True:
                reply = wire.read_message(self._rep_r, self.spec.trusted_ext, deadline=deadline)
                if not (isinstance(reply, dict) and "callback" in reply):
                    return reply
                if serve is None:
                    raise wire.WireError("the worker asked for a function the grader does not serve")
                wire.write_message(self._req_w, serve(reply, deadline), self.spec.trusted_ext, deadline=deadline)
        except TimeoutError:
            self.close()
            raise WorkerTimeout(f"no answer within {timeout:.0f} s") from None
        except (EOFError, BrokenPipeError):
            died = self._death()
            self.close()
            raise died from None

    def _death(self, grace: float = 2.0) -> WorkerDied:
        """Why the worker is gone, and the signal that killed it if one did."""
        if self.zygote is not None:
            return self._warm_death(grace)
        try:  # the channel closes a moment before the process (and bwrap after it) is gone
            code: int | None = self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            return WorkerDied("the worker closed its channel")
        if self.sandbox.mode == "bwrap" and code > 128:  # bwrap reports a signal as 128 + its number
            code = -(code - 128)
        if code < 0:
            return _signalled(-code)
        return WorkerDied(f"the worker exited with status {code}")

    def _warm_death(self, grace: float) -> WorkerDied:
        status = warm.wait_status(self._status_r, grace)
        self._status_seen = status
        if status is None:
            return WorkerDied("the worker closed its channel")
        self.peak_kib = int(status.get("maxrss_kib") or 0)
        if status.get("setup_error"):
            return WorkerDied(f"the worker could not be set up: {status['setup_error']}")
        number = status.get("signal")
        if isinstance(number, int):
            return _signalled(number)
        return WorkerDied(f"the worker exited with status {status.get('exit')}")

    def close(self) -> None:
        """Kill the worker and everything it started, then remove the job directory."""
        if self.closed:
            return
        self.closed = True
        if self.zygote is not None:
            self._close_warm()
            return
        if self.child_pid and self.proc.poll() is None:
            try:  # the sandbox's PID 1: the kernel kills every process of its namespace
                os.kill(self.child_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.proc.returncode is None:  # bwrap waits for its PID 1, which waits for its whole namespace
            try:
                _, status, usage = os.wait4(self.proc.pid, 0)  # (wait4: the peak memory of it and its children)
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                self.peak_kib = usage.ru_maxrss
            except ChildProcessError:
                self.proc.wait()
        if self.lease is not None:  # whatever still runs as the worker's uid, however it detached
            isolation.kill_uid(self.lease.uid)
        elif self.sandbox.mode != "bwrap":  # best effort: the worker's session
            for pid in isolation.live_pids(lambda st: st.get("NSsid", "").split()[-1:] == [str(self.proc.pid)]):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self._pump.join(timeout=5)
        if self.proc.stdout is not None and not self._pump.is_alive():  # (an escaped process may hold it)
            self.proc.stdout.close()
        for fd in (self._req_w, self._rep_r):
            _close(fd)
        self._release()

    def _close_warm(self) -> None:
        """Close the life pipe: the monitor kills the worker's PID namespace and reports once it is empty. If it
        does not, the zygote and everything under it are killed (the next worker starts a new zygote)."""
        assert self.zygote is not None
        _close(self._life_w)
        status = getattr(self, "_status_seen", None) or warm.wait_status(self._status_r, warm.CLOSE_TIMEOUT_S)
        if status is None:
            self.zygote.close()
        else:
            self.peak_kib = int(status.get("maxrss_kib") or 0) or self.peak_kib
        self._pump.join(timeout=5)
        if not self._pump.is_alive():
            self._stdout.close()
        for fd in (self._req_w, self._rep_r, self._status_r):
            _close(fd)
        self._release()

    def _release(self) -> None:
        if self.lease is not None:
            isolation.kill_uid(self.lease.uid)
            if self.sandbox.mode != "bwrap":
                isolation.remove_files_of_uid(self.lease.uid)
            self.lease.release()
            self.lease = None
        if self.job_dir is not None:
            remove_tree(self.job_dir)


def _signalled(number: int) -> WorkerDied:
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    hint = {"SIGXCPU": " (CPU time limit)", "SIGXFSZ": " (file size limit)"}.get(name, "")
    return WorkerDied(f"the worker was killed by {name}{hint}", signal=name)


def _close(fd: int) -> None:
    if fd >= 0:
        try:
            os.close(fd)
        except OSError:
            pass


def _read_child_pid(fd: int, deadline: float) -> int:
    """bwrap's --info-fd JSON: {"child-pid": N}. 0 if bwrap failed before writing it."""
    data = b""
    try:
        while not data.rstrip().endswith(b"}"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    try:
        pid = json.loads(data).get("child-pid", 0)
    except (ValueError, AttributeError):
        return 0
    return pid if isinstance(pid, int) and pid > 0 else 0
