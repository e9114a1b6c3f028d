"""Kernel isolation of real workers, cold and warm: the seccomp filter, the session keyring, the uid and the
signals a worker starts with.

Each scenario runs in a grader subprocess (:func:`grader`) that first joins an anonymous session keyring of its
own (nothing here touches the machine's keyrings) and puts a secret in it, as an SSH or Kerberos login's keyring
holds one; it ignores SIGHUP and blocks SIGUSR2, as a grader under ``nohup`` or a careless parent would. It then
starts two workers in a row, cold and warm, and reports what each saw from inside.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from autograder.sandbox import isolation
from autograder.worker import seccomp
from tests.conftest import REPO, require

pytestmark = pytest.mark.slow

SECRET = f"ag-grader-secret-{os.getpid()}"
STASH = f"ag-worker-stash-{os.getpid()}"

# Run in each worker: the hostile calls, the keyrings and the signals, as data.
CELL = r'''
import ctypes, errno, os, signal
_NR = {"x86_64": dict(add_key=248, keyctl=250, ptrace=101, process_vm_readv=310, unshare=272, clone=56, bpf=321,
                      userfaultfd=323, perf_event_open=298, io_uring_setup=425),
       "aarch64": dict(add_key=217, keyctl=219, ptrace=117, process_vm_readv=270, unshare=97, clone=220, bpf=280,
                       userfaultfd=282, perf_event_open=241, io_uring_setup=425)}[os.uname().machine]
_LIBC = ctypes.CDLL(None, use_errno=True)
_RINGS = {"session": -3, "user": -4, "user-session": -5}


def _call(name, *args):
    ret = _LIBC.syscall(ctypes.c_long(_NR[name]), *(a if isinstance(a, bytes) else ctypes.c_long(a) for a in args))
    return ret if ret >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")


def _find(description):
    """Where a "user" key so described is reachable (keyctl KEYCTL_SEARCH), and its payload."""
    found = {}
    for ring, spec in _RINGS.items():
        key = _call("keyctl", 10, spec, b"user", description.encode(), 0)
        if isinstance(key, int):
            buf = ctypes.create_string_buffer(256)
            n = _call("keyctl", 11, key, ctypes.addressof(buf), 256)
            found[ring] = buf.raw[:n].decode() if isinstance(n, int) else f"(unreadable: {n})"
        else:
            found[ring] = key
    return found


def kernel_report(secret, stash, hostile):
    status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    calls = {} if not hostile else {  # (not without the filter: a PTRACE_TRACEME that works stops the worker)
        "keyctl": _call("keyctl", 0, -3, 0),  # KEYCTL_GET_KEYRING_ID of the session keyring
        "add_key": _call("add_key", b"user", b"x", b"x", 1, -3),
        "ptrace_traceme": _call("ptrace", 0, 0, 0, 0),
        "ptrace_attach_1": _call("ptrace", 16, 1, 0, 0),
        "process_vm_readv": _call("process_vm_readv", os.getpid(), 0, 0, 0, 0, 0),
        "unshare_newuser": _call("unshare", 0x10000000),
        "clone_newuser": _call("clone", 0x10000000 | 17, 0, 0, 0, 0),
        "bpf": _call("bpf", 0, 0, 0),
        "userfaultfd": _call("userfaultfd", 1),  # UFFD_USER_MODE_ONLY: allowed to anyone without the filter
        "perf_event_open": _call("perf_event_open", 0, 0, -1, -1, 0),
        "io_uring_setup": _call("io_uring_setup", 1, 0),
    }
    stored = {}
    if stash:  # (with the filter off) leave a key for the next worker, in every keyring it can write
        payload = ("LEAK:" + stash).encode()
        for ring, spec in _RINGS.items():
            stored[ring] = _call("add_key", b"user", stash.encode(), payload, len(payload), spec)
    return {"uid": os.getuid(), "seccomp": int(status["Seccomp"]), "calls": calls, "keyctl": _call("keyctl", 0, -3, 0),
            "grader_secret": _find(secret), "stash_seen": _find("ag-worker-stash-" + secret.rsplit("-", 1)[1]),
            "stored": stored, "sig_ign": int(status["SigIgn"], 16), "sig_blk": int(status["SigBlk"], 16),
            "sighup_default": signal.getsignal(signal.SIGHUP) == signal.SIG_DFL,
            "sigint": signal.getsignal(signal.SIGINT).__name__}
'''

GRADER = r'''
import json, signal, sys
from autograder.worker import seccomp
seccomp.join_fresh_session_keyring()  # this test's own keyring: the machine's stays untouched
secret, stash, hostile = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
payload = ("LEAK:" + secret).encode()
assert seccomp._libc.syscall(248, b"user", secret.encode(), payload, len(payload), -3) > 0  # add_key to @s
signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
from autograder.config import Limits
from autograder.sandbox import warm
from autograder.sandbox.process import Worker, WorkerSpec
from tests.test_kernel_isolation import CELL
spec = WorkerSpec(limits=Limits(cell_timeout_s=30, test_timeout_s=20, total_timeout_s=90, job_disk_mb=64))
out = {}
for kind in ("cold", "warm"):
    zygote = None
    if kind == "warm":
        zygote = warm.zygote_for(spec.zygote_key(), spec.limits)
        assert zygote is not None, "no warm worker"
    out[kind] = []
    for i in range(2):
        with Worker(spec, zygote=zygote) as worker:
            assert worker.request({"op": "run_cell", "source": CELL, "options": {}}, 60)["ok"], worker.output.text()
            reply = worker.request({"op": "call", "name": "kernel_report", "kwargs": {},
                                    "args": [secret, stash if i == 0 else "", hostile]}, 60)
            assert reply["ok"], reply
            out[kind].append(reply["value"])
print("REPORT " + json.dumps(out))
'''


def grader(filter_on: bool) -> dict[str, list[dict[str, Any]]]:
    """Two cold workers, then two warm ones, started by a grader with a secret in its session keyring; the first of
    each pair stores a key for the second. ``filter_on=False``: ``AUTOGRADER_SECCOMP=0``, so what keeps the keys
    apart is the fresh session keyring and the uid, not the filter."""
    env = {**os.environ, "AUTOGRADER_SECCOMP": "1" if filter_on else "0"}
    proc = subprocess.run([sys.executable, "-c", GRADER, SECRET, STASH, "1" if filter_on else "0"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("REPORT "))
    report: dict[str, list[dict[str, Any]]] = json.loads(line[len("REPORT "):])
    return report


@pytest.fixture(scope="module")
def warm_root() -> None:
    probe = isolation.probe()
    require(probe.mode == "bwrap" and probe.drop_uid, "needs bubblewrap and a grader running as root (cold and warm "
            "workers with their own uids; `make system-deps` installs bubblewrap)")
    require(probe.syscall_filter, f"this kernel refuses the seccomp filter: {probe.filter_problem}")


@pytest.fixture(scope="module")
def filtered(warm_root: None) -> dict[str, list[dict[str, Any]]]:
    return grader(filter_on=True)


@pytest.fixture(scope="module")
def unfiltered(warm_root: None) -> dict[str, list[dict[str, Any]]]:
    return grader(filter_on=False)


KINDS = ["cold", "warm"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_dangerous_call_fails_with_eperm(filtered: dict[str, list[dict[str, Any]]], kind: str) -> None:
    for seen in filtered[kind]:
        assert seen["seccomp"] == 2
        assert len(seen["calls"]) == 11 and seen["calls"] == dict.fromkeys(seen["calls"], "EPERM"), seen["calls"]
        assert seen["grader_secret"] == dict.fromkeys(seen["grader_secret"], "EPERM")


@pytest.mark.parametrize("kind", KINDS)
def test_without_the_filter_the_calls_go_through(unfiltered: dict[str, list[dict[str, Any]]], kind: str) -> None:
    """The switch the tests below use (``AUTOGRADER_SECCOMP=0``) does turn the filter off: what they show is the
    keyring's and the uid's doing."""
    seen = unfiltered[kind][0]
    assert seen["seccomp"] == 0
    assert isinstance(seen["keyctl"], int) and all(isinstance(k, int) for k in seen["stored"].values())


@pytest.mark.parametrize("kind", KINDS)
def test_a_worker_cannot_reach_the_graders_session_keyring(unfiltered: dict[str, list[dict[str, Any]]],
                                                           kind: str) -> None:
    for seen in unfiltered[kind]:
        assert seen["grader_secret"] == {"session": "ENOKEY", "user": "ENOKEY", "user-session": "ENOKEY"}, \
            f"the worker found the grader's secret: {seen['grader_secret']}"


@pytest.mark.parametrize("kind", KINDS)
def test_a_key_one_worker_stored_is_not_seen_by_the_next(unfiltered: dict[str, list[dict[str, Any]]],
                                                         kind: str) -> None:
    first, second = unfiltered[kind]
    assert all(isinstance(k, int) for k in first["stored"].values()), first["stored"]  # it did store them
    assert second["stash_seen"] == {"session": "ENOKEY", "user": "ENOKEY", "user-session": "ENOKEY"}, \
        f"the next worker found the key: {second['stash_seen']}"


@pytest.mark.parametrize("kind", KINDS)
def test_consecutive_workers_get_different_uids(filtered: dict[str, list[dict[str, Any]]], kind: str) -> None:
    first, second = filtered[kind]
    assert first["uid"] != second["uid"] and {first["uid"], second["uid"]} <= set(isolation.WORKER_UIDS)


@pytest.mark.parametrize("kind", KINDS)
def test_signals_start_at_their_defaults(filtered: dict[str, list[dict[str, Any]]], kind: str) -> None:
    """The grader ignores SIGHUP and blocks SIGUSR2; a worker ignores only what every Python ignores (SIGPIPE,
    SIGXFSZ), blocks nothing, and SIGINT raises KeyboardInterrupt."""
    for seen in filtered[kind]:
        assert seen["sig_ign"] == isolation.PYTHON_IGNORES, f"{seen['sig_ign']:x}"
        assert seen["sig_blk"] == 0, f"{seen['sig_blk']:x}"
        assert seen["sighup_default"] and seen["sigint"] == "default_int_handler"


def test_a_released_uids_keyrings_are_emptied_when_it_is_leased_again() -> None:
    """A key left in a worker uid's user keyring (which outlives its processes) is gone once the uid is leased
    again (isolation.clear_keyrings): with a uid in use 512 leases later, or by another grader."""
    require(os.getuid() == 0, "dedicated worker uids need a grader running as root (run the tests as root, as CI does)")
    lease = isolation.UidLease.take()
    uid = lease.uid
    lease.release()
    def as_uid(what: str) -> int:
        """In a child running as ``uid`` (with a session keyring of its own): store the key in the uid's user
        keyring, or look for it there; the key's id or -errno."""
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                lib = seccomp._libc
                add_key = {"x86_64": 248, "aarch64": 217}[seccomp.machine()]
                seccomp.join_fresh_session_keyring()
                ret = (lib.syscall(add_key, b"user", STASH.encode(), b"LEAK", 4, -4) if what == "store" else
                       lib.syscall(seccomp.SYSCALLS[seccomp.machine()]["keyctl"], 10, -4, b"user", STASH.encode(), 0))
                os.write(write, str(ret if ret >= 0 else -seccomp.ctypes.get_errno()).encode())
            finally:
                os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        with os.fdopen(read) as f:
            return int(f.read())

    assert as_uid("store") > 0 and as_uid("look") > 0, "the key was not stored in the uid's user keyring"
    assert isolation.clear_keyrings(uid)
    assert as_uid("look") < 0, "the uid's user keyring still holds the key"


def test_doctor_reports_the_filter(warm_root: None) -> None:
    line = isolation.filter_line(isolation.probe())
    assert line.startswith("yes - ") and "keyrings, ptrace, bpf" in line, line
