"""The seccomp filter of autograder/worker/seccomp.py: its BPF program, run by a small classic-BPF interpreter here
for both architectures, its system-call numbers against the kernel headers, and (in a child process) the real
kernel's answers once it is installed."""

from __future__ import annotations

import errno
import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.worker import seccomp
from tests.conftest import REPO, require

ALLOW, KILL = seccomp.RET_ALLOW, seccomp.RET_KILL_PROCESS
EPERM, ENOSYS = seccomp.RET_ERRNO | errno.EPERM, seccomp.RET_ERRNO | errno.ENOSYS
ARCHES = sorted(seccomp.SYSCALLS)
CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET = 0x10000000, 0x00020000, 0x40000000
THREAD_FLAGS = 0x003D0F00  # what glibc's pthread_create passes to clone
FORK_FLAGS = 0x01200011  # CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD (fork)
ADDR_NO_RANDOMIZE = 0x0040000
# Ordinary calls a Python process makes (x86_64, aarch64): never refused.
ORDINARY = {"x86_64": {"read": 0, "write": 1, "mmap": 9, "futex": 202, "openat": 257, "execve": 59, "setuid": 105,
                       "prctl": 157, "seccomp": 317, "wait4": 61},
            "aarch64": {"read": 63, "write": 64, "mmap": 222, "futex": 98, "openat": 56, "execve": 221,
                        "setuid": 146, "prctl": 167, "seccomp": 277, "wait4": 260}}


def run_bpf(program: list[tuple[int, int, int, int]], nr: int, arch: int, args: tuple[int, ...] = ()) -> int:
    """What the kernel's classic-BPF interpreter returns for ``program`` on this seccomp_data (the subset of
    instructions a seccomp filter uses: absolute word loads, JEQ/JGE/JSET with a constant, RET with a constant)."""
    values = list(args) + [0] * (6 - len(args))
    data = struct.pack("=iIQ6Q", nr, arch, 0, *values)
    acc, pc = 0, 0
    for _ in range(len(program)):
        code, jt, jf, k = program[pc]
        if code == seccomp.LD_W_ABS:
            assert k % 4 == 0 and k + 4 <= len(data)
            acc = struct.unpack_from("=I", data, k)[0]
            pc += 1
        elif code in (seccomp.JEQ_K, seccomp.JGE_K, seccomp.JSET_K):
            taken = {seccomp.JEQ_K: acc == k, seccomp.JGE_K: acc >= k, seccomp.JSET_K: bool(acc & k)}[code]
            pc += 1 + (jt if taken else jf)
        elif code == seccomp.RET_K:
            return k
        else:
            raise AssertionError(f"unexpected instruction {code:#x}")
        assert 0 <= pc < len(program), "the program runs off its end"
    raise AssertionError("no RET reached")


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("profile", ["worker", "zygote"])
def test_the_filter_refuses_what_it_lists_and_allows_the_rest(arch: str, profile: str) -> None:
    program = seccomp.build(profile, arch)
    audit, nr = seccomp.AUDIT_ARCH[arch], seccomp.SYSCALLS[arch]
    assert len(program) < 4096  # BPF_MAXINSNS
    for name in seccomp.refused(profile, arch):
        assert run_bpf(program, nr[name], audit) == EPERM, name
    for name in ("add_key", "request_key", "ptrace", "process_vm_readv", "process_vm_writev", "bpf", "userfaultfd",
                 "perf_event_open", "init_module", "finit_module", "delete_module", "setns", "umount2", "pivot_root",
                 "chroot", "open_tree", "move_mount", "fsopen", "fsmount", "fsconfig", "fspick", "kexec_load",
                 "kexec_file_load", "reboot", "swapon", "swapoff", "acct", "quotactl", "io_uring_setup"):
        assert run_bpf(program, nr[name], audit) == EPERM, name
    for name, number in ORDINARY[arch].items():
        assert run_bpf(program, number, audit) == ALLOW, name
    # clone: refused with any CLONE_NEW* flag, allowed for threads and fork; clone3 ENOSYS (glibc falls back)
    for flags in (CLONE_NEWUSER, CLONE_NEWNS | FORK_FLAGS, CLONE_NEWNET, 0x80):
        assert run_bpf(program, nr["clone"], audit, (flags,)) == EPERM, hex(flags)
    for flags in (THREAD_FLAGS, FORK_FLAGS, 1 << 40):
        assert run_bpf(program, nr["clone"], audit, (flags,)) == ALLOW, hex(flags)
    assert run_bpf(program, nr["clone3"], audit) == ENOSYS
    # personality: reading it and plain PER_LINUX allowed, turning ASLR off refused
    assert run_bpf(program, nr["personality"], audit, (0xFFFFFFFF,)) == ALLOW
    assert run_bpf(program, nr["personality"], audit, (0,)) == ALLOW
    assert run_bpf(program, nr["personality"], audit, (ADDR_NO_RANDOMIZE,)) == EPERM
    # another ABI (32-bit x86 on x86_64, or the other architecture's numbers) is killed, never matched by number
    other = 0x40000003 if arch == "x86_64" else seccomp.AUDIT_ARCH["x86_64"]
    assert run_bpf(program, nr["read"] if "read" in nr else 0, other) == KILL
    assert run_bpf(program, nr["keyctl"], 0x40000003) == KILL  # AUDIT_ARCH_I386


@pytest.mark.parametrize("arch", ARCHES)
def test_only_the_zygote_may_unshare_mount_and_join_a_session_keyring(arch: str) -> None:
    audit, nr = seccomp.AUDIT_ARCH[arch], seccomp.SYSCALLS[arch]
    worker, zygote = seccomp.build("worker", arch), seccomp.build("zygote", arch)
    for name in ("unshare", "mount"):
        assert run_bpf(worker, nr[name], audit) == EPERM
        assert run_bpf(zygote, nr[name], audit) == ALLOW
    join = (seccomp.KEYCTL_JOIN_SESSION_KEYRING, 0)
    assert run_bpf(worker, nr["keyctl"], audit, join) == EPERM
    assert run_bpf(zygote, nr["keyctl"], audit, join) == ALLOW
    for args in [(1, 0x7FFF0000), (1, 1 << 32), (1 | 1 << 32, 0), (0, 0), (10, (1 << 64) - 3), (11, 5)]:
        assert run_bpf(zygote, nr["keyctl"], audit, args) == EPERM, args  # named keyrings, search, read...
    for name in ("add_key", "request_key", "ptrace", "bpf", "setns"):
        assert run_bpf(zygote, nr[name], audit) == EPERM


def test_the_x32_abi_is_refused_on_x86_64() -> None:
    program = seccomp.build("worker", "x86_64")
    for nr in (0x40000000, 0x40000000 | 250, 0x40000000 | 0x200):  # read, keyctl and a call numbered past 512
        assert run_bpf(program, nr, seccomp.AUDIT_ARCH["x86_64"]) == EPERM


def test_the_program_is_packed_as_the_kernel_reads_it() -> None:
    program = seccomp.build("worker", "x86_64")
    code = seccomp.assemble(program)
    assert len(code) == 8 * len(program)
    assert struct.unpack_from("=HBBI", code, 0) == (0x20, 0, 0, 4)  # ld [4]: the architecture
    with pytest.raises(ValueError, match="profile"):
        seccomp.build("student", "x86_64")


HEADERS = {"x86_64": Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
           "aarch64": Path("/usr/include/asm-generic/unistd.h")}


@pytest.mark.parametrize("arch", ARCHES)
def test_syscall_numbers_match_the_kernel_headers(arch: str) -> None:
    header = HEADERS[arch]
    require(header.exists(), f"{header} is missing (Debian package linux-libc-dev; `make system-deps`)")
    text = header.read_text()
    for name, number in seccomp.SYSCALLS[arch].items():
        found = re.search(rf"#define __NR(?:3264)?_{name}\s+(\d+)\b", text)
        assert found is not None and int(found.group(1)) == number, f"{arch} {name}: {number} vs {found}"


# --- the real kernel ------------------------------------------------------------------------------
KERNEL_CHECK = r"""
import ctypes, errno, importlib.util, json, os, signal, subprocess, sys, threading
spec = importlib.util.spec_from_file_location("sc", sys.argv[1]); sc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sc)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
why = sc.contain(sys.argv[2], "try")
nr = sc.SYSCALLS[sc.machine()]
libc = ctypes.CDLL(None, use_errno=True)
def call(name, *args):
    ret = libc.syscall(ctypes.c_long(nr[name]), *(ctypes.c_long(a) for a in args))
    return "ok" if ret >= 0 else errno.errorcode[ctypes.get_errno()]
out = {"why": why, "keyctl": call("keyctl", 0, -3, 0), "add_key": call("add_key", 0, 0, 0, 0, 0),
       "ptrace": call("ptrace", 0, 0, 0, 0), "unshare": call("unshare", 0x10000000),
       "clone_newuser": call("clone", 0x10000000 | 17, 0, 0, 0, 0), "clone3": call("clone3", 0, 0),
       "no_aslr": call("personality", 0x0040000), "bpf": call("bpf", 0, 0, 0), "userfaultfd": call("userfaultfd", 1),
       "perf_event_open": call("perf_event_open", 0, 0, -1, -1, 0), "io_uring_setup": call("io_uring_setup", 1, 0),
       "hup": signal.getsignal(signal.SIGHUP) == signal.SIG_DFL,
       "blocked": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, []))}
box = []
t = threading.Thread(target=lambda: box.append(subprocess.run(["true"]).returncode)); t.start(); t.join()
out["thread_and_subprocess"] = box == [0]
print(json.dumps(out))
"""


@pytest.mark.parametrize("profile", ["worker", "zygote"])
def test_installed_the_kernel_refuses_with_eperm_and_the_rest_works(profile: str) -> None:
    require(bool(seccomp.machine()), f"no seccomp filter for this architecture ({seccomp.os.uname().machine})")
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", KERNEL_CHECK, str(seccomp.__file__), profile],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    require(got["why"] == "", f"this kernel refuses seccomp filters: {got['why']}")
    refused = ["keyctl", "add_key", "ptrace", "clone_newuser", "no_aslr", "bpf", "userfaultfd", "perf_event_open",
               "io_uring_setup"] + (["unshare"] if profile == "worker" else [])
    assert {k: got[k] for k in refused} == dict.fromkeys(refused, "EPERM")
    assert got["clone3"] == "ENOSYS"
    assert got["thread_and_subprocess"], "threads or subprocesses fail under the filter"
    assert got["hup"] and got["blocked"] == [], "contain() left an inherited signal disposition or mask"
