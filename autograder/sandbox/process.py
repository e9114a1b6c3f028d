"""Trusted-side plumbing for one untrusted worker process: start it limited, talk to it, kill it.

This module runs no student code. It starts :mod:`autograder.sandbox.worker` in a fresh job
directory with a cleared environment, stdin from /dev/null, resource limits and its own session,
exchanges :mod:`autograder.wire` messages with it under deadlines, captures its output with a byte
cap (head and tail kept) and, on close, kills everything it started and removes the job directory.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import site
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from autograder import wire
from autograder.config import Limits

WORKER_PY = Path(__file__).with_name("worker.py")
WIRE_PY = Path(wire.__file__)


class WorkerDied(Exception):
    """The worker exited or closed its channel (os._exit, a crash, the memory limit...)."""


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


def site_dirs() -> str:
    """The grader's site-packages folders (third-party libraries only: not this package's source)."""
    dirs = [d for d in site.getsitepackages() if Path(d).is_dir()]
    return os.pathsep.join(dirs)


def worker_environment(job_dir: Path) -> dict[str, str]:
    """The worker's whole environment: nothing is inherited from the grader."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(job_dir),
        "TMPDIR": str(job_dir / "tmp"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(job_dir / "tmp"),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "KERAS_HOME": str(job_dir / ".keras"),
    }


def _limiter(limits: Limits) -> Callable[[], None]:
    """Runs in the child between fork and exec: limits that the worker cannot raise again."""
    memory = limits.memory_mb * 1024 * 1024
    fsize = limits.max_file_mb * 1024 * 1024
    cpu = int(limits.total_timeout_s * max(os.cpu_count() or 1, 1)) + 10

    def apply() -> None:
        os.umask(0o077)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))

    return apply


@dataclass
class WorkerSpec:
    """What a worker needs: its limits, files to place in its job directory, value converters."""

    limits: Limits
    files: list[Path] = field(default_factory=list)
    extensions: list[Path] = field(default_factory=list)
    cell_options: dict[str, Any] = field(default_factory=dict)  # sent with every run_cell request
    trusted_ext: wire.Extensions = field(default_factory=wire.Extensions)


class Worker:
    """One running worker process. Use as a context manager; :meth:`close` always cleans up."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.output = CappedOutput(spec.limits.output_bytes)
        self.job_dir = Path(tempfile.mkdtemp(prefix="ag-job-"))
        (self.job_dir / "tmp").mkdir()
        for f in spec.files:
            shutil.copy2(f, self.job_dir / f.name)
        req_r, self._req_w = os.pipe()
        self._rep_r, rep_w = os.pipe()
        cmd = [sys.executable, "-I", "-S", "-u", str(WORKER_PY), f"{req_r},{rep_w}", site_dirs(),
               str(WIRE_PY), *map(str, spec.extensions)]
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.job_dir,
            env=worker_environment(self.job_dir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(req_r, rep_w),
            preexec_fn=_limiter(spec.limits),
            start_new_session=True,
        )
        os.close(req_r)
        os.close(rep_w)
        assert self.proc.stdout is not None
        self._pump = threading.Thread(target=_pump, args=(self.proc.stdout, self.output), daemon=True)
        self._pump.start()
        self.closed = False

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, message: dict[str, Any], timeout: float) -> Any:
        """Send one request and wait at most ``timeout`` seconds for its answer."""
        if self.closed:
            raise WorkerDied("the worker is already closed")
        deadline = time.monotonic() + max(timeout, 0.0)
        try:
            wire.write_message(self._req_w, message, self.spec.trusted_ext)
            return wire.read_message(self._rep_r, self.spec.trusted_ext, deadline=deadline)
        except TimeoutError:
            self.close()
            raise WorkerTimeout(f"no answer within {timeout:.0f} s") from None
        except (EOFError, BrokenPipeError):
            self.close()
            raise WorkerDied(self._death_reason()) from None

    def _death_reason(self) -> str:
        code = self.proc.poll()
        if code is None:
            return "the worker closed its channel"
        if code < 0:
            name = signal.Signals(-code).name
            hint = " (CPU time limit)" if name == "SIGXCPU" else ""
            return f"the worker was killed by {name}{hint}"
        return f"the worker exited with status {code}"

    def close(self) -> None:
        """Kill the worker and everything in its session, then remove the job directory."""
        if self.closed:
            return
        self.closed = True
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self._pump.join(timeout=5)
        for fd in (self._req_w, self._rep_r):
            try:
                os.close(fd)
            except OSError:
                pass
        remove_tree(self.job_dir)


def remove_tree(path: Path) -> None:
    """Remove a job directory even if the student chmod-ed parts of it read-only."""

    def onerror(func: Callable[..., Any], p: str, _exc: Any) -> None:
        try:
            os.chmod(os.path.dirname(p), stat.S_IRWXU)
            os.chmod(p, stat.S_IRWXU)
            func(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=onerror)  # noqa: B904 - onexc needs 3.12
