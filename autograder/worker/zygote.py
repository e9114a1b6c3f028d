"""The warm worker's zygote: imports once, then forks a fresh, separately contained worker per submission.

Started by :mod:`autograder.sandbox.warm` inside bubblewrap, like a worker (same filesystem view, cleared
environment, limits), but privileged inside it (root with CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID, CAP_SETPCAP,
CAP_NET_ADMIN and CAP_KILL, in a sandbox that has no network, no course files and nothing of the grader):

    python -I -S -u seccomp.py zygote MODE zygote.py CONTROL_FD SITE_DIRS WIRE_PY MAIN_PY SECCOMP_PY PRELOAD EXT_PY...

(``seccomp.py`` in front: the zygote runs with a fresh session keyring, default signal dispositions and the
``zygote`` seccomp profile, which refuses what the worker profile refuses but ``unshare`` and ``mount``.)

It runs :func:`main.prepare` (site-packages, wire format, converters, an IPython shell) and imports the
modules named in PRELOAD (comma-separated: what the course's released notebook imports), then waits on
CONTROL_FD, a unix SOCK_SEQPACKET socket, for spawn requests: a JSON object
``{"uid", "limits": {name: value}, "files": [[path, name], ...], "job_bytes", "shm_bytes", "seccomp"}`` carrying five
file descriptors (the request and reply ends of the worker's channel, its stdout, the "life" pipe the grader
closes to end the worker, and the status pipe the monitor reports on). For each it answers ``{"ok": true}``
and forks:

- the **monitor** (still privileged, never runs student code) enters new PID, mount, network, IPC and UTS
  namespaces and forks the worker, which is PID 1 of its own namespace. It waits for either the worker's exit
  or the end of the life pipe (then SIGKILLs the worker: the kernel kills every process of the namespace,
  and the wait returns only once the namespace is empty), and writes one JSON line to the status pipe:
  ``{"exit": code, "signal": number, "maxrss_kib": peak}``, then exits.
- the **worker** mounts fresh size-limited tmpfs folders over /job, /tmp and /dev/shm and a /proc of its
  own namespace, brings up loopback, binds the job's files read-only into /job, sets its resource limits,
  starts a new session, switches to its dedicated uid (which clears every capability), asks to be killed if
  the monitor dies, joins a fresh session keyring of its own, puts every signal back as a fresh Python has it
  and installs the ``worker`` seccomp profile on top of the zygote's (``"seccomp"``: "require", "try" or "off",
  see ``seccomp.py``), keeps only stdin, stdout/stderr and its channel, and serves requests exactly as a
  cold worker does (:func:`main.serve`).

Nothing of a submission reaches the zygote: the worker is a copy-on-write fork (its memory changes are its
own), in a PID namespace where the zygote and monitor do not exist, under another uid, holding none of their
file descriptors. Setup problems are written to the status pipe before any student code runs.
Standard library only (and what PRELOAD names); never imports the ``autograder`` package.
"""

import ctypes
import importlib.util
import json
import os
import re
import select
import socket
import sys
from typing import Any

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_RDONLY = 0x2, 0x4, 0x8, 0x1
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
MAX_FDS = 5

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.unshare.argtypes = [ctypes.c_int]


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(), flags,
                       data and data.encode()), f"mount {target}")


def _prctl(option: int, arg: int) -> None:
    _check(_libc.prctl(option, arg, 0, 0, 0), f"prctl({option})")


def _load(path: str, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mounts_under(folders: tuple[str, ...]) -> list[str]:
    """Mount points strictly inside ``folders`` (outermost only): what bubblewrap bound there, e.g. a virtual
    environment that lives under /tmp (a clone in a temporary folder), which a fresh tmpfs would hide."""
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])  # " " is \040
            if any(point.startswith(folder + "/") for folder in folders):
                points.append(point)
    outer: list[str] = []
    for point in sorted(set(points), key=len):
        if not any(point.startswith(o + "/") for o in outer):
            outer.append(point)
    return outer


def _loopback_up() -> None:
    import fcntl
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _become_worker(job: dict[str, Any], fds: tuple[int, int, int, int], worker_main: Any, prepared: Any,
                   contain: Any) -> None:
    """In the worker (PID 1 of fresh namespaces, still privileged): contain it, then serve. Never returns."""
    req_r, rep_w, out_w, status_w = fds
    try:
        _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here propagates anywhere
        replaced = ("/job", "/tmp", "/dev/shm")
        held = [(point, os.open(point, os.O_PATH | os.O_CLOEXEC)) for point in _mounts_under(replaced)]
        size = job["job_bytes"]
        _mount("tmpfs", "/job", "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=0777")
        _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=1777")
        _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"size={job['shm_bytes']},mode=1777")
        for point, fd in held:  # bound again, read-only, inside the fresh folders (root's: a student cannot move it)
            parts = point.strip("/").split("/")
            for i in range(2, len(parts) + 1):
                folder = "/" + "/".join(parts[:i])
                if not os.path.isdir(folder):
                    os.mkdir(folder)
                    os.chmod(folder, 0o755)  # searchable by the worker's uid, whatever the umask
            _mount(f"/proc/self/fd/{fd}", point, None, MS_BIND | MS_REC)
            _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
            os.close(fd)
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        for source, name in job["files"]:
            target = f"/job/{name}"
            with open(target, "wb"):
                pass
            _mount(source, target, None, MS_BIND)
            _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.mkdir("/job/tmp")
        os.chmod("/job/tmp", 0o1777)
        os.chdir("/job")
        _loopback_up()
        import resource

        for name, (soft, hard) in job["limits"].items():
            resource.setrlimit(getattr(resource, name), (soft, hard))
        os.umask(0o077)
        os.setsid()
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        for cap in range(64):  # the bounding set: nothing can be regained, even by a setuid program
            if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == 22:  # EINVAL: past last
                break
        uid = job["uid"]
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)  # from root to another uid: the kernel clears every capability
        with open("/proc/self/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        if (os.getuid(), os.geteuid(), os.getgid()) != (uid, uid, uid) or int(status["CapEff"], 16) \
                or int(status["CapPrm"], 16):
            raise OSError("the worker did not drop its uid and capabilities")
        _prctl(PR_SET_PDEATHSIG, 9)  # (cleared by the uid change above, so set here) SIGKILL if the monitor dies
        # A session keyring of its own (not the zygote's, shared with every other child), signals as a fresh
        # Python has them (not what the zygote's imports set or what it inherited), then the worker's filter.
        contain.contain("worker", job.get("seccomp", "require"))
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        keep = sorted({0, 1, 2, req_r, rep_w})
        for lo, hi in zip(keep, [*keep[1:], 65536], strict=True):
            os.closerange(lo + 1, hi)  # also the status pipe and the zygote's control socket
    except BaseException as exc:  # noqa: BLE001 - reported before any student code runs
        try:
            os.write(status_w, json.dumps({"setup_error": f"{type(exc).__name__}: {exc}"[:500]}).encode() + b"\n")
        finally:
            os._exit(70)
    os._exit(worker_main.serve(req_r, rep_w, prepared))


def _monitor(job: dict[str, Any], fds: list[int], worker_main: Any, prepared: Any, contain: Any) -> None:
    """In the monitor (privileged, in the zygote's namespaces): start the worker, report how it ended."""
    req_r, rep_w, out_w, life_r, status_w = fds
    status: dict[str, Any] = {}
    try:
        _check(_libc.unshare(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
        pid = os.fork()
        if pid == 0:
            os.close(life_r)
            _become_worker(job, (req_r, rep_w, out_w, status_w), worker_main, prepared, contain)
        for fd in (req_r, rep_w, out_w):
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        ready, _, _ = select.select([life_r, pidfd], [], [])
        if life_r in ready and pidfd not in ready:  # the grader is done with it (or died): end it all
            os.kill(pid, 9)
        _, code, usage = os.wait4(pid, 0)  # PID 1 of the namespace is reaped once the namespace is empty
        status = {"exit": os.WEXITSTATUS(code) if os.WIFEXITED(code) else None,
                  "signal": os.WTERMSIG(code) if os.WIFSIGNALED(code) else None, "maxrss_kib": usage.ru_maxrss}
    except BaseException as exc:  # noqa: BLE001
        status = {"setup_error": f"monitor: {type(exc).__name__}: {exc}"[:500]}
    try:
        os.write(status_w, json.dumps(status).encode() + b"\n")
    finally:
        os._exit(0)


def main(argv: list[str]) -> int:
    control = socket.socket(fileno=int(argv[1]))
    worker_main = _load(argv[4], "_autograder_worker_main")
    contain = _load(argv[5], "_autograder_seccomp")
    prepared = worker_main.prepare(argv[2].split(os.pathsep), argv[3], argv[7:])
    for name in filter(None, argv[6].split(",")):
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: BLE001 - the student's import will report it
            pass
    _prctl(PR_SET_DUMPABLE, 0)  # nothing of the same uid may ptrace or read the zygote's memory
    control.sendall(json.dumps({"ready": True, "pid": os.getpid()}).encode())
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, 65536, MAX_FDS)
        except OSError:
            return 0
        if not data:  # the grader closed the control socket
            return 0
        while True:  # reap monitors that have finished
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        try:
            job = json.loads(data)
            if len(fds) != MAX_FDS:
                raise ValueError(f"expected {MAX_FDS} file descriptors, got {len(fds)}")
            pid = os.fork()
        except BaseException as exc:  # noqa: BLE001
            for fd in fds:
                os.close(fd)
            control.sendall(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}).encode())
            continue
        if pid == 0:
            control.close()
            _monitor(job, fds, worker_main, prepared, contain)
        for fd in fds:
            os.close(fd)
        control.sendall(json.dumps({"ok": True}).encode())


if __name__ == "__main__":
    sys.exit(main(sys.argv))
