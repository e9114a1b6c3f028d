"""What this machine lets the grader do to contain a worker, found out once, and the command that does it.

A worker is started in one of two ways, chosen by :func:`probe` (which actually starts a tiny sandbox):

- **bwrap** (bubblewrap, Debian package ``bubblewrap``): new network (loopback only), PID, IPC, UTS and,
  where possible, cgroup namespaces, and a filesystem of only what the worker needs: ``/usr`` (system
  libraries), the Python installation and site-packages folders (read-only), the worker's own files at
  ``/opt/ag`` and size-limited tmpfs mounts at ``/job`` (the job directory) and ``/tmp``. The course
  (hidden suites, solutions, held-out data), the grader's own package (masked by an empty tmpfs when it is
  installed in site-packages), the output folder and other submissions do not exist there.
  When the grader is root, bwrap runs privileged and the worker switches to its dedicated uid first thing,
  before it reads any request; otherwise bwrap makes a user namespace.
- **plain**: a child process with the same resource limits in a fresh job directory on disk, switched to
  its dedicated uid in ``preexec`` when the grader is root and the interpreter is readable by that uid.

Every worker uid comes from :data:`WORKER_UIDS` and is leased (an abstract unix socket named after it is
bound) for the worker's lifetime, so "kill every process of that uid" kills exactly that worker's
processes, however they detached themselves, even with several graders on one machine; a uid's leftovers
(from a grader killed with SIGKILL) are killed when the uid is leased again.

``autograder doctor`` prints :func:`protections`; course.yml's ``sandbox.require`` names the ones whose
absence refuses to grade (:func:`enforce`). ``AUTOGRADER_SANDBOX=plain`` in the grader's environment
skips bubblewrap (to test the fallback).
"""

from __future__ import annotations

import functools
import json
import os
import resource
import secrets
import shutil
import signal
import site
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.config import PROTECTIONS, Course, Limits
from autograder.errors import SandboxError
from autograder.worker import seccomp

WORKER_UIDS = range(990_000, 990_512)  # dedicated, unnamed uids; one per live worker
JOB_IN_SANDBOX = "/job"
CODE_IN_SANDBOX = "/opt/ag"
JOB_PREFIX = "ag-job-"
# The grader's own code: never shown to a worker. Found from this file, not from ``autograder.__file__``: run
# from a course folder, the course's own ``autograder/hidden/`` can make ``autograder`` a namespace package
# (no ``__file__``) in front of an editable install.
PACKAGE_DIR = Path(__file__).resolve().parent.parent
# Started in front of every sandboxed program (a worker, a zygote, the probe): a fresh session keyring, default
# signal dispositions, the seccomp filter (autograder/worker/seccomp.py), then the program.
SECCOMP_PY = PACKAGE_DIR / "worker" / "seccomp.py"
ZYGOTE_CAPS = ("CAP_SYS_ADMIN", "CAP_SETPCAP", "CAP_NET_ADMIN", "CAP_KILL")
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives", "fonts", "mime.types")


# --- what the probe found -------------------------------------------------------------------------
@dataclass(frozen=True)
class Probe:
    """The protections a worker gets on this machine, as observed from inside a probe sandbox."""

    mode: str  # "bwrap" | "plain"
    bwrap: str  # path of bwrap ("" if not installed)
    bwrap_problem: str  # why bwrap is not used ("" if it is)
    root: bool  # the grader runs as root
    drop_uid: bool  # workers switch to a dedicated uid from WORKER_UIDS
    uid_problem: str
    net: bool
    pid: bool
    fs: bool
    quota: bool
    kill_all: bool
    details: dict[str, str] = field(default_factory=dict)
    syscall_filter: bool = False  # the seccomp filter was on in the probe's worker (keyctl: EPERM)
    filter_problem: str = ""  # why not

    def active(self) -> dict[str, tuple[bool, str]]:
        """protection name -> (active, how or why not)."""
        sandbox = "bubblewrap" if self.mode == "bwrap" else ""
        no_bwrap = f"needs bubblewrap ({self.bwrap_problem})"
        if self.drop_uid:
            uid_how = f"dedicated uid {WORKER_UIDS.start}-{WORKER_UIDS.stop - 1} per worker, RLIMIT_NPROC on it"
        elif not self.root:
            uid_how = f"the grader is not root: the worker keeps its uid {os.getuid()}" + (
                " (in a user namespace)" if self.mode == "bwrap" else " and could signal the grader")
        else:
            uid_how = self.uid_problem
        if self.mode == "bwrap":
            kill_how = "PID-namespace teardown" + (", then a sweep of the worker's uid" if self.drop_uid else "")
        elif self.drop_uid:
            kill_how = "SIGKILL to every process of the worker's dedicated uid"
        else:
            kill_how = "process group and session only: a process that calls setsid() again can escape"
        rows = {
            "unprivileged_uid": (self.drop_uid or not self.root, uid_how),
            "network_namespace": (self.net, f"{sandbox}: loopback only" if self.net else no_bwrap),
            "pid_namespace": (self.pid, f"{sandbox}: sees only its own processes" if self.pid else no_bwrap),
            "filesystem_view": (
                self.fs,
                f"{sandbox}: /usr, Python, site-packages read-only; tmpfs {JOB_IN_SANDBOX}; no repository, "
                "output or other submissions" if self.fs else self.details.get("fs", no_bwrap),
            ),
            "disk_quota": (self.quota, f"{sandbox}: job directory and /tmp are size-limited tmpfs mounts "
                           "(limits.job_disk_mb)" if self.quota else
                           "only RLIMIT_FSIZE per file: " + no_bwrap),
            "kill_all": (self.kill_all, kill_how),
            "syscall_filter": (self.syscall_filter, filter_line(self).removeprefix("yes - ").removeprefix("NO - ")),
        }
        assert rows.keys() == PROTECTIONS.keys()
        return rows

    def missing(self) -> list[str]:
        return [name for name, (ok, _) in self.active().items() if not ok]


ALWAYS = {
    "fresh_job_directory": "a new directory per worker process, removed when it ends",
    "cleared_environment": "only PATH, HOME, TMPDIR, locale and library settings; stdin from /dev/null",
    "resource_limits": "RLIMIT_CPU, RLIMIT_DATA (limits.memory_mb), RLIMIT_FSIZE, RLIMIT_NOFILE, no core dumps",
    "wall_clock_limits": "per cell, per call and per submission; a late worker is killed",
    "output_cap": "stdout/stderr kept up to limits.output_bytes (head and tail)",
    "plain_data_only": "values cross as JSON and .npy without pickle, with size caps; the worker cannot "
    "import the autograder package (-I -S, explicit site-packages, no .pth files)",
}


def course_secrets(course: Course) -> tuple[str, ...]:
    """What a worker must not see of ``course`` (its solutions and hidden suites), for :func:`probe` to check."""
    paths = [course.root / "solutions", *(course.hidden_suite(a) for a in course.assignments)]
    return tuple(sorted({str(p) for p in paths} | {os.path.realpath(p) for p in paths}))


def protections(secret: tuple[str, ...] = ()) -> list[tuple[str, bool, str]]:
    """Every protection with whether it is active here and how: the table ``autograder doctor`` prints.
    ``secret``: paths the worker must not see besides the grader's package (see :func:`course_secrets`)."""
    p = probe(secret)
    rows = [(name, True, how) for name, how in ALWAYS.items()]
    rows += [(name, ok, how) for name, (ok, how) in p.active().items()]
    return rows


def enforce(required: list[str], secret: tuple[str, ...] = ()) -> list[str]:
    """Refuse (SandboxError) if a required protection is missing; return warnings for the others missing.
    ``secret``: paths the worker must not see besides the grader's package (see :func:`course_secrets`)."""
    p = probe(secret)
    missing = p.missing()
    refused = [name for name in required if name in missing]
    if refused:
        why = "\n".join(f"  - {name}: {p.active()[name][1]}" for name in refused)
        raise SandboxError(
            "course.yml (sandbox.require) needs protections this machine does not give the worker:\n"
            f"{why}\nRun `autograder doctor` for the full picture (install bubblewrap; run where user and "
            "network namespaces are allowed)."
        )
    return [f"warning: worker protection '{name}' is not active ({p.active()[name][1]}); "
            f"add it to sandbox.require in course.yml to refuse grading without it" for name in missing]


# --- uids ----------------------------------------------------------------------------------------
class UidLease:
    """A dedicated worker uid, held while a worker runs. :meth:`release` kills whatever still runs as it."""

    def __init__(self, uid: int, holder: socket.socket) -> None:
        self.uid = uid
        self._holder = holder

    @classmethod
    def take(cls) -> UidLease:
        """The next free uid after the one this process leased last (round-robin through :data:`WORKER_UIDS`
        from a random start), so that consecutive workers of a grader, a crashed worker and the fresh one that
        replays its cells, or two submissions of a batch, never share a uid. Several graders on one machine
        each go round from their own start; a uid is held by one of them at a time (the bound socket), and one
        released by a grader may be taken by another soon after: nothing of its last worker is left by then
        (its processes are killed, its keyrings cleared here, its files were in a sandbox's tmpfs or removed)."""
        global _next_uid
        n = len(WORKER_UIDS)
        with _uid_lock:
            start = _next_uid if _next_uid is not None else secrets.randbelow(n)
            for i in range(n):
                index = (start + i) % n
                uid = WORKER_UIDS[index]
                holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    holder.bind(f"\0autograder-worker-uid-{uid}")
                except OSError:
                    holder.close()
                    continue
                _next_uid = (index + 1) % n
                break
            else:
                raise SandboxError(f"All {len(WORKER_UIDS)} worker uids are in use.")
        kill_uid(uid)  # leftovers of a grader that was killed before it could clean up
        clear_keyrings(uid)
        return cls(uid, holder)

    def release(self) -> None:
        kill_uid(self.uid)
        self._holder.close()


_next_uid: int | None = None  # index in WORKER_UIDS of the uid this process tries first next time
_uid_lock = threading.Lock()


def clear_keyrings(uid: int) -> bool:
    """Empty the user, user-session and persistent keyrings of ``uid`` (the grader must be root): they outlive
    every process of the uid, so a worker whose filter was off (or a kernel without seccomp) could leave keys
    there for the next worker of that uid. Done in a child that becomes ``uid``; False if that failed (no
    keyrings in this kernel is not a failure)."""
    if os.getuid() != 0:
        return False
    pid = os.fork()
    if pid == 0:  # (a forked grader: only system calls until _exit)
        code = 1
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            code = 0 if seccomp.clear_own_keyrings() else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _proc_status(pid: str) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                out[key] = value.strip()
    except OSError:
        pass
    return out


def live_pids(match: Callable[[dict[str, str]], bool]) -> list[int]:
    """Processes (not zombies) whose /proc/PID/status fields satisfy ``match``."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _proc_status(entry)
            if st and not st.get("State", "").startswith(("Z", "X")) and match(st):
                pids.append(int(entry))
    return pids


def pids_of_uid(uid: int) -> list[int]:
    return live_pids(lambda st: str(uid) in st.get("Uid", "").split())


def kill_uid(uid: int, timeout: float = 10.0) -> bool:
    """SIGKILL every process running as ``uid`` until none is left; False if some survived ``timeout``."""
    if os.getuid() == uid:
        raise SandboxError("refusing to kill the grader's own uid")
    deadline = time.monotonic() + timeout
    while pids := pids_of_uid(uid):
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def remove_files_of_uid(uid: int, places: tuple[str, ...] = ("/tmp", "/var/tmp", "/dev/shm")) -> None:
    """Without a filesystem view a worker can leave files in world-writable places: remove them."""
    for place in places:
        try:
            entries = list(os.scandir(place))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    remove_tree(Path(entry.path))
                else:
                    os.unlink(entry.path)
            except OSError:
                pass


# --- job directories -----------------------------------------------------------------------------
def new_job_dir() -> Path:
    """A fresh host directory for one worker, named after this grader's pid (see :func:`remove_stale_jobs`)."""
    remove_stale_jobs()
    return Path(tempfile.mkdtemp(prefix=f"{JOB_PREFIX}{os.getpid()}-"))


@functools.cache
def remove_stale_jobs() -> None:
    """Once per grader: remove job directories left by graders that were killed (their pid is gone)."""
    root = Path(tempfile.gettempdir())
    for path in root.glob(f"{JOB_PREFIX}*-*"):
        owner = path.name[len(JOB_PREFIX):].split("-", 1)[0]
        if owner.isdigit() and int(owner) != os.getpid() and not Path(f"/proc/{owner}").exists():
            try:
                st = path.lstat()  # ours, or (plain mode) handed to a worker uid
                if stat.S_ISDIR(st.st_mode) and (st.st_uid == os.getuid() or st.st_uid in WORKER_UIDS):
                    remove_tree(path)
            except OSError:
                pass


def remove_tree(path: Path) -> None:
    """Remove a directory even if the student chmod-ed parts of it read-only."""

    def onerror(func: Callable[..., Any], p: str, _exc: Any) -> None:
        try:
            os.chmod(os.path.dirname(p), stat.S_IRWXU)
            os.chmod(p, stat.S_IRWXU)
            func(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=onerror)  # noqa: B904 - onexc needs 3.12


# --- the command ---------------------------------------------------------------------------------
def python_executable() -> str:
    """The real interpreter (not the venv's symlink): the worker adds site-packages itself."""
    return os.path.realpath(sys.executable)


def site_dirs() -> list[str]:
    """The grader's site-packages folders (third-party libraries only: not this package's source)."""
    return [d for d in site.getsitepackages() if Path(d).is_dir()]


def environment(home: str) -> dict[str, str]:
    """The worker's whole environment: nothing is inherited from the grader."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": f"{home}/tmp",
        "USER": "student",
        "LOGNAME": "student",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{home}/tmp",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "KERAS_HOME": f"{home}/.keras",
    }


def _user_tasks(uid: int) -> int:
    """Processes and threads of real uid ``uid`` (what RLIMIT_NPROC counts)."""
    pids = live_pids(lambda st: st.get("Uid", "").split()[:1] == [str(uid)])
    return sum(int(_proc_status(str(pid)).get("Threads") or 1) for pid in pids)


def rlimits(limits: Limits, uid: int | None) -> dict[str, tuple[int, int]]:
    """The worker's resource limits, (soft, hard) by :mod:`resource` name: the same for a cold worker
    (:func:`limiter`) and a warm one (set by the worker itself before it drops its privileges)."""
    memory = limits.memory_mb * 1024 * 1024
    fsize = limits.max_file_mb * 1024 * 1024
    cpu = int(limits.total_timeout_s * max(os.cpu_count() or 1, 1)) + 10
    # RLIMIT_NPROC counts every process of the real uid: exact for a dedicated uid, else on top of ours.
    nproc = limits.max_processes if uid is not None or os.getuid() == 0 else (
        limits.max_processes + _user_tasks(os.getuid()))
    return {"RLIMIT_CORE": (0, 0), "RLIMIT_DATA": (memory, memory), "RLIMIT_FSIZE": (fsize, fsize),
            "RLIMIT_NOFILE": (1024, 1024), "RLIMIT_CPU": (cpu, cpu + 5), "RLIMIT_NPROC": (nproc, nproc)}


def limiter(limits: Limits, uid: int | None) -> Callable[[], None]:
    """Runs in the child between fork and exec: limits the worker cannot raise, then (plain mode) its uid."""
    values = [(getattr(resource, name), pair) for name, pair in rlimits(limits, uid).items()]

    def apply() -> None:
        seccomp.reset_signals(python=False)  # nothing the grader ignores or blocks (nohup: SIGHUP) is inherited
        try:  # nor its session keyring (the sandboxed program joins one of its own again, and fails if it cannot)
            seccomp.join_fresh_session_keyring()
        except OSError:
            pass
        os.umask(0o077)
        for which, pair in values:
            resource.setrlimit(which, pair)
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)

    return apply


def _dirs_for(path: str) -> list[str]:
    """``--dir`` arguments that create every ancestor of ``path`` world-traversable (bwrap makes them 0700)."""
    args: list[str] = []
    parts = Path(path).parts
    for i in range(2, len(parts)):
        args += ["--perms", "0755", "--dir", str(Path(*parts[:i]))]
    return args


def _covered(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


@dataclass
class Launch:
    """How to start one sandboxed program: pass these to :class:`subprocess.Popen`."""

    argv: list[str]
    cwd: str
    env: dict[str, str]
    preexec: Callable[[], None]
    inside: dict[str, str] = field(default_factory=dict)  # bwrap: where each ``code`` file is in the sandbox


def launch(
    mode: str,
    host_dir: Path,
    *,
    program: list[str],
    code: dict[str, Path],
    files: list[Path],
    limits: Limits,
    uid: int | None,
    info_fd: int | None = None,
    zygote: bool = False,
    filter_mode: str | None = None,
) -> Launch:
    """Build the command for ``program`` (argv whose items may be keys of ``code``: files the program loads).

    ``host_dir`` is the worker's host directory (fresh, removed by the caller). In plain mode it is the
    job directory (``files`` are copied in, owned by ``uid``); in bwrap mode it only holds the made-up
    /etc/passwd, and the job directory is a tmpfs of ``limits.job_disk_mb`` MiB with ``files`` bound in.

    ``zygote`` (bwrap mode, grader running as root): the program is a warm worker's zygote
    (:mod:`autograder.sandbox.warm`), which keeps the capabilities it needs to put each worker it forks into
    namespaces, mounts and a uid of its own; /etc/passwd names every worker uid.

    A program that is a file (``program[0]`` a key of ``code``) starts behind ``autograder/worker/seccomp.py``:
    a fresh session keyring, default signal dispositions and the seccomp filter (the ``zygote`` profile for a
    zygote, else the ``worker`` one) before its first line runs. ``filter_mode``: "require", "try" or "off";
    by default :func:`seccomp_mode`.
    """
    python = python_executable()
    if program and program[0] in code:
        code = {**code, "@seccomp": SECCOMP_PY}
        program = ["@seccomp", "zygote" if zygote else "worker", filter_mode or seccomp_mode(), *program]
    if mode != "bwrap":
        (host_dir / "tmp").mkdir()
        for f in files:
            shutil.copy2(f, host_dir / f.name)
        if uid is not None:
            for p in [host_dir, *host_dir.rglob("*")]:
                os.chown(p, uid, uid, follow_symlinks=False)
        argv = [python, "-I", "-S", "-u", *(str(code[a]) if a in code else a for a in program)]
        return Launch(argv, str(host_dir), environment(str(host_dir)), limiter(limits, uid))

    root = os.getuid() == 0
    etc = host_dir / "etc"
    etc.mkdir()
    worker_id = uid if uid is not None else os.getuid()
    ids = list(WORKER_UIDS) if zygote else [worker_id]
    (etc / "passwd").write_text("root:x:0:0::/:/usr/sbin/nologin\n" + "".join(
        f"student:x:{i}:{i}::{JOB_IN_SANDBOX}:/usr/sbin/nologin\n" for i in ids))
    (etc / "group").write_text("root:x:0:\n" + "".join(f"student:x:{i}:\n" for i in ids))
    for f in etc.iterdir():
        f.chmod(0o644)
    args = [bwrap_path(), "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--hostname", "sandbox", "--die-with-parent", "--new-session"]
    if root:  # privileged: no user namespace; the worker switches to `uid` itself, then has no capability
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        if zygote:  # namespaces, mounts and loopback for each worker, and killing it (see worker/zygote.py)
            args += [arg for cap in ZYGOTE_CAPS for arg in ("--cap-add", cap)]
    else:
        args += ["--unshare-user-try"]
    if info_fd is not None:
        args += ["--info-fd", str(info_fd)]
    args += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), f"/{name}"]
        elif host.is_dir():
            args += ["--ro-bind", str(host), f"/{name}"]
    for name in ETC_FILES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    args += ["--ro-bind", str(etc / "passwd"), "/etc/passwd", "--ro-bind", str(etc / "group"), "/etc/group"]
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(64 << 20), "--tmpfs", "/dev/shm"]
    size = limits.job_disk_mb * 1024 * 1024
    # /tmp is a size-limited tmpfs of its own, mounted BEFORE the Python paths: a virtual environment that
    # lives under /tmp (a CI clone, say) is then bound inside it instead of clashing with it.
    args += ["--perms", "1777", "--size", str(size), "--tmpfs", "/tmp"]
    bound = ["/usr"]
    for path in [sys.base_prefix, os.path.dirname(python), *site_dirs()]:
        path = os.path.realpath(path)
        if not _covered(path, bound):
            args += _dirs_for(path) + ["--ro-bind", path, path]
            bound.append(path)
    if _covered(str(PACKAGE_DIR), bound):  # a non-editable install: the grader's package is in site-packages
        args += ["--perms", "0555", "--size", str(64 << 10), "--tmpfs", str(PACKAGE_DIR)]
    inside: dict[str, str] = {}
    args += ["--perms", "0755", "--dir", CODE_IN_SANDBOX]
    for i, (key, host) in enumerate(code.items()):
        inside[key] = f"{CODE_IN_SANDBOX}/{i}_{host.name}"
        args += ["--ro-bind", str(host), inside[key]]
    args += ["--perms", "0777", "--size", str(size), "--tmpfs", JOB_IN_SANDBOX,
             "--perms", "1777", "--dir", f"{JOB_IN_SANDBOX}/tmp"]
    for f in files:
        args += ["--ro-bind", str(Path(f).resolve()), f"{JOB_IN_SANDBOX}/{f.name}"]
    args += ["--chdir", JOB_IN_SANDBOX, "--", python, "-I", "-S", "-u", *(inside.get(a, a) for a in program)]
    return Launch(args, str(host_dir), environment(JOB_IN_SANDBOX), limiter(limits, None), inside)


# --- the probe -----------------------------------------------------------------------------------
# Python source defining _ag_kernel(), run inside a worker by both probes (a cold worker's, below, and a warm
# zygote's first child's, autograder.sandbox.warm): the seccomp mode, whether keyctl is refused (reading the id of
# its session keyring, creating nothing) and the signals it ignores and blocks, from /proc/self/status.
KERNEL_PROBE = r"""
def _ag_kernel():
    import ctypes, errno, os
    status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    nr = KEYCTL_NUMBERS.get(os.uname().machine)
    libc = ctypes.CDLL(None, use_errno=True)
    ret = libc.syscall(ctypes.c_long(nr), ctypes.c_long(0), ctypes.c_long(-3), ctypes.c_long(0)) if nr else -1
    return {"seccomp": int(status["Seccomp"]), "sig_ign": int(status["SigIgn"], 16),
            "sig_blk": int(status["SigBlk"], 16),
            "keyctl": "ok" if ret >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")}
""".replace("KEYCTL_NUMBERS", repr({arch: numbers["keyctl"] for arch, numbers in seccomp.SYSCALLS.items()}))

# Run as a file behind autograder/worker/seccomp.py, like a worker: argv is [probe.py, UID or "", *paths].
PROBE_CODE = KERNEL_PROBE + r"""
import json, os, socket, sys
if sys.argv[1]:
    uid = int(sys.argv[1]); os.setgroups([]); os.setgid(uid); os.setuid(uid)
out = {"uid": os.getuid(), "euid": os.geteuid(), "pid": os.getpid(),
       "ifaces": sorted(name for _, name in socket.if_nameindex()),
       "visible": [p for p in sys.argv[2:] if os.path.exists(p)]}
st = os.statvfs(".")
out["job_bytes"] = st.f_blocks * st.f_frsize
with open("probe.txt", "w") as f:
    f.write("the job directory is writable")
try:
    os.setuid(0)
    out["regained_root"] = True
except OSError:
    out["regained_root"] = False
out.update(_ag_kernel())
print(json.dumps(out))
"""
# What a freshly started Python ignores (SIGPIPE, SIGXFSZ): a worker ignores nothing else and blocks nothing.
PYTHON_IGNORES = (1 << (signal.SIGPIPE - 1)) | (1 << (signal.SIGXFSZ - 1))


def kernel_problems(seen: dict[str, Any], *, filter_expected: bool) -> list[str]:
    """What :data:`KERNEL_PROBE` saw that is weaker than a worker must be: the filter off where it was expected
    (keyctl not refused), signals ignored or blocked beyond what a freshly started Python has."""
    problems = []
    if filter_expected and (seen["seccomp"] != 2 or seen["keyctl"] != "EPERM"):
        problems.append(f"has no seccomp filter (keyctl: {seen['keyctl']})")
    if seen["sig_ign"] != PYTHON_IGNORES or seen["sig_blk"]:
        problems.append(f"ignores or blocks signals (SigIgn {seen['sig_ign']:x}, SigBlk {seen['sig_blk']:x})")
    return problems
_filter_seen: bool | None = None  # whether the probe's worker had the filter (the kernel's answer, once known)


def seccomp_mode() -> str:
    """How sandboxed programs install the seccomp filter: "off" when ``AUTOGRADER_SECCOMP=0`` (tests that need a
    worker without it), "require" where the probe's worker had it (a worker that cannot is refused), else "try"."""
    if os.environ.get("AUTOGRADER_SECCOMP", "1") == "0":
        return "off"
    if _filter_seen is None:
        probe()
    return "require" if _filter_seen else "try"


def filter_line(p: Probe) -> str:
    """``autograder doctor``'s line about the seccomp filter (and the keyring and signals that go with it)."""
    arch = seccomp.machine()
    if p.syscall_filter:
        groups = [g for g, names in seccomp.GROUPS.items() if any(n in seccomp.SYSCALLS[arch] for n in names)]
        return (f"yes - {len(seccomp.refused('worker', arch))} system calls refused with EPERM ({', '.join(groups)}), "
                "clone with CLONE_NEW* flags and personality() weakening ASLR too, clone3 answers ENOSYS; probed: "
                "keyctl fails with EPERM in a worker. Each worker joins a fresh session keyring and starts with "
                "default signal dispositions")
    return f"NO - {p.filter_problem}"


def bwrap_path() -> str:
    return shutil.which("bwrap") or ("/usr/bin/bwrap" if Path("/usr/bin/bwrap").exists() else "")


def _run_probe(mode: str, uid: int | None, limits: Limits,
               hidden: tuple[str, ...]) -> tuple[dict[str, Any] | None, str]:
    host_dir = new_job_dir()
    try:  # the package's files (its folder is an empty mount point when masked), the caller's paths, the job's
        secret = [str(PACKAGE_DIR / "__init__.py"), *hidden, str(host_dir)]
        in_worker_uid = str(uid) if (mode == "bwrap" and uid is not None) else ""
        program = host_dir / "probe.py"
        program.write_text(PROBE_CODE, encoding="utf-8")
        off = os.environ.get("AUTOGRADER_SECCOMP", "1") == "0"
        ln = launch(mode, host_dir, program=["@probe", in_worker_uid, *secret], code={"@probe": program},
                    files=[], limits=limits, uid=None if mode == "bwrap" else uid, filter_mode="off" if off else "try")
        try:
            proc = subprocess.run(ln.argv, cwd=ln.cwd, env=ln.env, preexec_fn=ln.preexec, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            return None, f"{type(exc).__name__}: {exc}"
        if proc.returncode != 0:
            return None, (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1][:300]
        try:
            seen = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return None, f"unexpected probe output: {proc.stdout[-200:]!r}"
        assert isinstance(seen, dict)
        why = [line.split(":", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("seccomp:")]
        problems = kernel_problems(seen, filter_expected=True)
        seen["filter_problem"] = (
            "AUTOGRADER_SECCOMP=0 is set" if off else
            f"the kernel refused it: {why[-1]}" if why else
            f"the probe's worker {problems[0]}" if problems else "")
        return seen, ""
    finally:
        remove_tree(host_dir)


@functools.cache
def probe(secret: tuple[str, ...] = ()) -> Probe:
    """Start a tiny worker the way real ones start and look at what it can see (once per process and
    ``secret``): the grader's package, the job's host directory and ``secret``, paths the caller knows the
    worker must not see (a course's solutions and hidden suites: :func:`course_secrets`), must be invisible."""
    global _filter_seen
    root = os.getuid() == 0
    limits = Limits(job_disk_mb=64)
    lease = UidLease.take() if root else None
    uid = lease.uid if lease else None
    try:
        found = bwrap_path()
        seen, problem = (None, "bwrap is not installed (apt-get install bubblewrap)")
        if os.environ.get("AUTOGRADER_SANDBOX") == "plain":
            seen, problem = (None, "AUTOGRADER_SANDBOX=plain is set")
        elif found:
            seen, problem = _run_probe("bwrap", uid, limits, secret)
            if seen is not None and root and (seen["uid"] != uid or seen["regained_root"]):
                seen, problem = None, "the worker did not switch to its uid inside bwrap"
        if seen is not None:
            _filter_seen = not seen["filter_problem"]
            return Probe(
                mode="bwrap", bwrap=found, bwrap_problem="", root=root, drop_uid=root, uid_problem="",
                net=seen["ifaces"] == ["lo"], pid=seen["pid"] <= 3, fs=not seen["visible"],
                quota=0 < seen["job_bytes"] <= 2 * limits.job_disk_mb * 1024 * 1024,
                kill_all=seen["pid"] <= 3 or root,
                details={"fs": f"the worker can see {seen['visible']}"} if seen["visible"] else {},
                syscall_filter=not seen["filter_problem"], filter_problem=seen["filter_problem"],
            )
        drop, uid_problem = False, "the grader is not root, so the worker keeps its uid"
        plain, why = _run_probe("plain", uid, limits, secret)
        if root:
            drop = plain is not None and plain["uid"] == uid and not plain["regained_root"]
            uid_problem = "" if drop else (
                f"RUNS AS ROOT: uid {uid} cannot start {python_executable()} ({why}); make the Python "
                "installation and site-packages readable by all, or install bubblewrap")
        filter_problem = plain["filter_problem"] if plain is not None else f"the probe's worker did not run ({why})"
        _filter_seen = not filter_problem
        return Probe(mode="plain", bwrap=found, bwrap_problem=problem, root=root, drop_uid=drop,
                     uid_problem=uid_problem, net=False, pid=False, fs=False, quota=False, kill_all=drop,
                     syscall_filter=not filter_problem, filter_problem=filter_problem)
    finally:
        if lease is not None:
            lease.release()
