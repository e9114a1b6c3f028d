"""What a worker (or a warm zygote) does to itself before any student code runs: a fresh session keyring, every
signal back to what a freshly started Python has, and a seccomp filter that refuses the system calls a notebook
never needs and a sandbox escape always does.

Standard library only, loaded by path (the worker cannot import the ``autograder`` package). Two uses:

- as the program bubblewrap (or the plain fallback) starts, in front of the real one::

      python -I -S -u seccomp.py PROFILE MODE PROGRAM [ARGS...]

  contains this process (:func:`contain`), then runs PROGRAM as ``__main__`` with ``sys.argv = [PROGRAM, *ARGS]``
  (a cold worker's ``main.py``, a zygote's ``zygote.py``, the sandbox probe). PROFILE is ``worker`` or
  ``zygote``; MODE is ``require`` (a filter that cannot be installed ends the process with status 70), ``try``
  (the probe: go on without it, say why on stderr) or ``off`` (``AUTOGRADER_SECCOMP=0`` in the grader: tests
  that need a worker without the filter).
- by the zygote, which installs the ``zygote`` profile on itself this way and the ``worker`` profile on each
  child it forks, once the child is in its own namespaces (seccomp filters stack: the child has both).

The filter is classic BPF built here (:func:`build`), for x86_64 and aarch64: a call from another architecture
(the 32-bit ABI of an x86_64 process) kills the process; an x32 call (``nr`` with bit 30) and every refused call
return EPERM, clone3 ENOSYS (glibc then falls back to clone, whose flags the filter can read), so a notebook
that tries one gets a readable ``PermissionError``, not a dead worker. The ``zygote`` profile allows ``unshare``
and ``mount``, which the zygote needs to put each child in namespaces of its own; the ``worker`` profile
refuses them too.
"""

import ctypes
import errno
import os
import signal
import struct
import sys
from typing import Any

# --- the system calls ------------------------------------------------------------------------------
# Refused by name, in groups (what ``autograder doctor`` prints). x86_64 and aarch64 (asm-generic) numbers.
GROUPS: dict[str, tuple[str, ...]] = {
    "keyrings": ("add_key", "request_key", "keyctl"),
    "ptrace": ("ptrace", "process_vm_readv", "process_vm_writev"),
    "bpf": ("bpf",),
    "userfaultfd": ("userfaultfd",),
    "perf_event_open": ("perf_event_open",),
    "io_uring": ("io_uring_setup", "io_uring_enter", "io_uring_register"),
    "kernel modules": ("init_module", "finit_module", "delete_module"),
    "namespaces and mounts": ("unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree",
                              "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr"),
    "kexec": ("kexec_load", "kexec_file_load"),
    "machine administration": ("reboot", "swapon", "swapoff", "iopl", "ioperm", "acct", "quotactl", "quotactl_fd",
                               "syslog", "vhangup", "settimeofday", "clock_settime", "sethostname", "setdomainname",
                               "open_by_handle_at", "lookup_dcookie"),
}
# Refused only with some arguments (see build()): clone with a CLONE_NEW* flag, personality() that weakens ASLR;
# clone3 (its flags are in memory the filter cannot read) answers ENOSYS.
CONDITIONAL = ("clone", "clone3", "personality")
# The zygote puts each child in new namespaces and mounts its tmpfs folders; each child joins a session keyring of
# its own (keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL), the only keyctl the zygote profile allows) before the worker
# profile refuses every keyctl.
ZYGOTE_ALLOWS = ("unshare", "mount", "keyctl")

SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {
        "add_key": 248, "request_key": 249, "keyctl": 250, "ptrace": 101, "process_vm_readv": 310,
        "process_vm_writev": 311, "bpf": 321, "userfaultfd": 323, "perf_event_open": 298, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "init_module": 175, "finit_module": 313,
        "delete_module": 176, "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
        "chroot": 161, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "fspick": 433, "mount_setattr": 442, "kexec_load": 246, "kexec_file_load": 320, "reboot": 169,
        "swapon": 167, "swapoff": 168, "iopl": 172, "ioperm": 173, "acct": 163, "quotactl": 179, "quotactl_fd": 443,
        "syslog": 103, "vhangup": 153, "settimeofday": 164, "clock_settime": 227, "sethostname": 170,
        "setdomainname": 171, "open_by_handle_at": 304, "lookup_dcookie": 212,
        "clone": 56, "clone3": 435, "personality": 135, "seccomp": 317, "rt_sigaction": 13,
    },
    "aarch64": {  # no iopl/ioperm on arm64
        "add_key": 217, "request_key": 218, "keyctl": 219, "ptrace": 117, "process_vm_readv": 270,
        "process_vm_writev": 271, "bpf": 280, "userfaultfd": 282, "perf_event_open": 241, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "init_module": 105, "finit_module": 273,
        "delete_module": 106, "unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41,
        "chroot": 51, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "fspick": 433, "mount_setattr": 442, "kexec_load": 104, "kexec_file_load": 294, "reboot": 142,
        "swapon": 224, "swapoff": 225, "acct": 89, "quotactl": 60, "quotactl_fd": 443,
        "syslog": 116, "vhangup": 58, "settimeofday": 170, "clock_settime": 112, "sethostname": 161,
        "setdomainname": 162, "open_by_handle_at": 265, "lookup_dcookie": 18,
        "clone": 220, "clone3": 435, "personality": 92, "seccomp": 277, "rt_sigaction": 134,
    },
}
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}  # AUDIT_ARCH_X86_64, AUDIT_ARCH_AARCH64
X32_SYSCALL_BIT = 0x40000000
# CLONE_NEWTIME, CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET
CLONE_NEW_FLAGS = 0x00000080 | 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
# ADDR_NO_RANDOMIZE, MMAP_PAGE_ZERO, ADDR_COMPAT_LAYOUT, READ_IMPLIES_EXEC, ADDR_LIMIT_32BIT, ADDR_LIMIT_3GB
PERSONALITY_WEAKENING = 0x0040000 | 0x0100000 | 0x0200000 | 0x0400000 | 0x0800000 | 0x8000000
PERSONALITY_QUERY = 0xFFFFFFFF

# classic BPF (linux/filter.h, linux/seccomp.h)
LD_W_ABS, JEQ_K, JGE_K, JSET_K, RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
RET_KILL_PROCESS, RET_ALLOW, RET_ERRNO = 0x80000000, 0x7FFF0000, 0x00050000
OFF_NR, OFF_ARCH, OFF_ARGS = 0, 4, 16  # struct seccomp_data: int nr; u32 arch; u64 ip; u64 args[6]
INSTRUCTION = struct.Struct("=HBBI")  # struct sock_filter: u16 code; u8 jt; u8 jf; u32 k


def machine() -> str:
    """This machine's architecture as :data:`SYSCALLS` names it ("" when the filter does not know it)."""
    machine = os.uname().machine.lower()
    name = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    return name if name in SYSCALLS else ""


def refused(profile: str, arch: str) -> list[str]:
    """The calls ``profile`` refuses outright on ``arch`` (those the architecture has)."""
    names = [n for group in GROUPS.values() for n in group if n in SYSCALLS[arch]]
    return [n for n in names if not (profile == "zygote" and n in ZYGOTE_ALLOWS)]


def build(profile: str, arch: str) -> list[tuple[int, int, int, int]]:
    """The filter for ``profile`` ("worker" or "zygote") on ``arch``, as (code, jt, jf, k) instructions."""
    if profile not in ("worker", "zygote"):
        raise ValueError(f"unknown seccomp profile {profile!r}")
    nr = SYSCALLS[arch]
    low, high = (OFF_ARGS, OFF_ARGS + 4) if sys.byteorder == "little" else (OFF_ARGS + 4, OFF_ARGS)  # of args[0]
    program: list[tuple[int, int | str, int | str, int]] = []  # jt/jf may name a label, resolved below
    labels: dict[str, int] = {}

    def emit(code: int, k: int, jt: int | str = 0, jf: int | str = 0) -> None:
        program.append((code, jt, jf, k))

    emit(LD_W_ABS, OFF_ARCH)
    emit(JEQ_K, AUDIT_ARCH[arch], 1, 0)
    emit(RET_K, RET_KILL_PROCESS)  # another ABI (32-bit x86) numbers its calls differently: never let it in
    emit(LD_W_ABS, OFF_NR)
    if arch == "x86_64":
        emit(JGE_K, X32_SYSCALL_BIT, "eperm", 0)  # the x32 ABI: same arch, nr | 0x40000000
    for name in refused(profile, arch):
        emit(JEQ_K, nr[name], "eperm", 0)
    emit(JEQ_K, nr["clone3"], "enosys", 0)
    emit(JEQ_K, nr["clone"], "clone", 0)
    emit(JEQ_K, nr["personality"], "personality", 0)
    if profile == "zygote":
        emit(JEQ_K, nr["keyctl"], "keyctl", 0)
    labels["allow"] = len(program)
    emit(RET_K, RET_ALLOW)
    labels["eperm"] = len(program)
    emit(RET_K, RET_ERRNO | errno.EPERM)
    labels["enosys"] = len(program)
    emit(RET_K, RET_ERRNO | errno.ENOSYS)
    labels["clone"] = len(program)  # clone(flags, ...) on both architectures: flags is args[0]
    emit(LD_W_ABS, low)
    emit(JSET_K, CLONE_NEW_FLAGS, 0, 1)
    emit(RET_K, RET_ERRNO | errno.EPERM)
    emit(RET_K, RET_ALLOW)
    labels["personality"] = len(program)
    emit(LD_W_ABS, low)
    emit(JEQ_K, PERSONALITY_QUERY, 2, 0)  # personality(0xffffffff) only reads it
    emit(JSET_K, PERSONALITY_WEAKENING, 0, 1)
    emit(RET_K, RET_ERRNO | errno.EPERM)
    emit(RET_K, RET_ALLOW)
    if profile == "zygote":  # keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL) only: a fresh anonymous session keyring
        labels["keyctl"] = len(program)
        emit(LD_W_ABS, low)
        emit(JEQ_K, KEYCTL_JOIN_SESSION_KEYRING, 0, 6)  # (6, 4, 2, 0: to the EPERM below)
        emit(LD_W_ABS, high)
        emit(JEQ_K, 0, 0, 4)
        emit(LD_W_ABS, OFF_ARGS + 8)  # args[1], both halves: NULL
        emit(JEQ_K, 0, 0, 2)
        emit(LD_W_ABS, OFF_ARGS + 12)
        emit(JEQ_K, 0, 1, 0)
        emit(RET_K, RET_ERRNO | errno.EPERM)
        emit(RET_K, RET_ALLOW)

    out = []
    for i, (code, jt, jf, k) in enumerate(program):
        offsets = [labels[j] - i - 1 if isinstance(j, str) else j for j in (jt, jf)]
        if not all(0 <= o <= 255 for o in offsets):
            raise ValueError(f"jump out of range at instruction {i}: {offsets}")
        out.append((code, offsets[0], offsets[1], k))
    return out


def assemble(program: list[tuple[int, int, int, int]]) -> bytes:
    """The instructions as the kernel reads them (struct sock_filter[], native byte order)."""
    return b"".join(INSTRUCTION.pack(*ins) for ins in program)


# --- installing it ---------------------------------------------------------------------------------
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC = 1, 1
KEYCTL_JOIN_SESSION_KEYRING = 1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(profile: str) -> int:
    """Install ``profile``'s filter on this process (every thread: TSYNC) with no_new_privs; returns how many
    calls it refuses outright. OSError if the kernel refuses it (no seccomp filters, an unknown architecture)."""
    arch = machine()
    if not arch:
        raise OSError(errno.ENOSYS, f"no seccomp filter for the architecture {os.uname().machine!r}")
    code = assemble(build(profile, arch))
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _Fprog(len(code) // INSTRUCTION.size, ctypes.cast(buf, ctypes.c_void_p))
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(err)}")
    ret = _libc.syscall(ctypes.c_long(SYSCALLS[arch]["seccomp"]), ctypes.c_long(SECCOMP_SET_MODE_FILTER),
                        ctypes.c_long(SECCOMP_FILTER_FLAG_TSYNC), ctypes.byref(prog))
    if ret != 0 and ctypes.get_errno() == errno.ENOSYS:  # a kernel before seccomp(2) (3.17): this thread only
        ret = _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0)
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp filter: {os.strerror(err)}")
    return len(refused(profile, arch))


KEYCTL_CLEAR, KEYCTL_GET_PERSISTENT = 7, 22
KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING = -3, -4, -5


def _keyctl(*args: int) -> int:
    """keyctl(2) with integer arguments: its result, or -errno."""
    nr = SYSCALLS.get(machine(), {}).get("keyctl")
    if nr is None:
        return -errno.ENOSYS
    ret = _libc.syscall(ctypes.c_long(nr), *(ctypes.c_long(a) for a in args))
    return int(ret) if ret >= 0 else -ctypes.get_errno()


def join_fresh_session_keyring() -> None:
    """keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL): an anonymous session keyring of this process's own, in place of
    the one inherited from the grader (an SSH or Kerberos login's, with its keys: possession gives access,
    whatever the uid). OSError where it fails, unless the kernel has no keyrings (nothing to inherit then)."""
    ret = _keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0)
    if ret < 0 and ret != -errno.ENOSYS:
        raise OSError(-ret, f"keyctl(KEYCTL_JOIN_SESSION_KEYRING): {os.strerror(-ret)}")


def clear_own_keyrings() -> bool:
    """Empty this uid's user, user-session and persistent keyrings (they outlive its processes). Called by the
    grader in a child that has become a worker uid (``isolation.clear_keyrings``). False on a failure."""
    if _keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0) == -errno.ENOSYS:
        return True  # no keyrings in this kernel
    ok = all(_keyctl(KEYCTL_CLEAR, ring) == 0 for ring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING))
    persistent = _keyctl(KEYCTL_GET_PERSISTENT, -1, KEY_SPEC_SESSION_KEYRING)  # (linked into the fresh keyring)
    if persistent > 0:
        ok = _keyctl(KEYCTL_CLEAR, persistent) == 0 and ok
    return ok


PYTHON_DEFAULTS: dict[int, Any] = {signal.SIGINT: signal.default_int_handler, signal.SIGPIPE: signal.SIG_IGN,
                   signal.SIGXFSZ: signal.SIG_IGN}  # what CPython sets at startup; every other signal: SIG_DFL


def reset_signals(python: bool = True) -> None:
    """Every signal's disposition as a freshly started Python has it (``python``; else SIG_DFL for all, as a
    program about to be executed should get them), whatever was inherited (``nohup`` ignores SIGHUP; a parent
    may ignore or block others), and an empty signal mask."""
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(sig, PYTHON_DEFAULTS.get(sig, signal.SIG_DFL) if python else signal.SIG_DFL)
        except (OSError, ValueError):  # the C library's own real-time signals
            pass
    for reserved in RESERVED_SIGNALS:
        _raw_default(reserved)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


RESERVED_SIGNALS = (32, 33)  # glibc's own real-time signals: neither it nor Python will set them


def _raw_default(sig: int) -> None:
    """SIG_DFL for a signal the C library will not let Python set, through the rt_sigaction system call itself: a
    parent that ignored one (some job runners do) must not pass that on to a worker."""
    nr = SYSCALLS.get(machine(), {}).get("rt_sigaction")
    if nr is None:
        return
    act = (ctypes.c_ulong * 4)()  # handler SIG_DFL, no flags, no restorer, an empty mask
    _libc.syscall(ctypes.c_long(nr), ctypes.c_long(sig), ctypes.byref(act), None, ctypes.c_long(8))


def contain(profile: str, mode: str) -> str:
    """Fresh session keyring, signals as a fresh Python has them, then the filter (``mode``: "require", "try",
    "off"). Returns "" or, with "try", why the filter is not on; raises OSError with "require"."""
    if mode not in ("require", "try", "off"):
        raise ValueError(f"unknown seccomp mode {mode!r}")
    join_fresh_session_keyring()
    reset_signals()
    if mode == "off":
        return "off"
    try:
        install(profile)
    except OSError as exc:
        if mode == "require":
            raise
        return str(exc)
    return ""


def _launch(argv: list[str]) -> None:
    """``seccomp.py PROFILE MODE PROGRAM [ARGS...]``: contain, then run PROGRAM as ``__main__``."""
    import runpy

    profile, mode, program = argv[1], argv[2], argv[3]
    try:
        why = contain(profile, mode)
    except OSError as exc:
        print(f"seccomp: the system-call filter could not be installed: {exc}", file=sys.stderr, flush=True)
        os._exit(70)
    if why and mode == "try":
        print(f"seccomp: not active: {why}", file=sys.stderr, flush=True)
    sys.argv = [program, *argv[4:]]
    runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    _launch(sys.argv)
