"""``autograder doctor``: which protections a worker gets on this machine, and whether course.yml is satisfied.

The answers come from :func:`autograder.sandbox.isolation.probe`, which starts a tiny worker the way real
ones start and looks at what it can see; nothing here is assumed from the kernel version.
"""

from __future__ import annotations

import os
import platform
import sys

from autograder.config import Course, Limits
from autograder.errors import SandboxError
from autograder.sandbox import isolation, warm


def doctor_report(course: Course | None) -> tuple[str, bool]:
    """The report as text, and False when course.yml requires a protection that is not active."""
    secret = isolation.course_secrets(course) if course is not None else ()
    probe = isolation.probe(secret)
    rows = isolation.protections(secret)
    width = max(len(name) for name, _, _ in rows)
    required = set(course.sandbox.require) if course is not None else set()
    lines = [
        f"machine: {platform.system()} {platform.release()}, grader uid {os.getuid()}, python {sys.version.split()[0]}",
        f"worker start: {'bubblewrap (' + probe.bwrap + ')' if probe.mode == 'bwrap' else 'plain child process'}"
        + (f" - bubblewrap not used: {probe.bwrap_problem}" if probe.mode != "bwrap" else ""),
        f"warm workers: {warm_line(course, secret)}",
        f"seccomp: {isolation.filter_line(probe)}",
        f"batches: {cluster_line()}",
        "",
        f"{'protection':<{width}}  active  how",
    ]
    for name, ok, how in rows:
        mark = "yes" if ok else ("NO (required)" if name in required else "no")
        lines.append(f"{name:<{width}}  {mark:<6}  {how}")
    missing = [name for name, ok, _ in rows if not ok]
    refused = sorted(required & set(missing))
    lines.append("")
    if course is None:
        lines.append("No course.yml found: nothing is required.")
    elif refused:
        lines.append(f"course.yml requires {', '.join(refused)}: grading is REFUSED on this machine.")
    else:
        req = ", ".join(sorted(required)) or "nothing"
        warn = f"; missing ones only warn: {', '.join(missing)}" if missing else ""
        lines.append(f"course.yml (sandbox.require) requires {req}: satisfied{warn}.")
    return "\n".join(lines), not refused


def cluster_line() -> str:
    """What grades a batch by default (``--cluster local``) and whether its TLS certificates can be made here."""
    from importlib import metadata

    try:
        version = metadata.version("distributed")
    except metadata.PackageNotFoundError:
        return "Dask distributed is NOT installed: `make venv` (or pip install -c constraints.txt .) installs it"
    try:
        import cryptography  # noqa: F401 - the local cluster's temporary TLS certificates
    except ImportError:
        return f"Dask distributed {version}; the local cluster needs cryptography for its TLS: pip install cryptography"
    return (f"Dask distributed {version}: a local cluster of --jobs processes on 127.0.0.1 with TLS "
            "(--cluster tls://HOST:PORT for a running one)")


def warm_line(course: Course | None, secret: tuple[str, ...]) -> str:
    """Whether submissions' workers are forked from a warm zygote here, checked by forking one and probing it."""
    if course is not None and not course.sandbox.warm:
        return "no - course.yml sets sandbox.warm: false (every worker starts cold)"
    ok, why = warm.supported(isolation.probe(secret))
    if not ok:
        return f"no - {why} (every worker starts cold)"
    limits = Limits(job_disk_mb=64)
    key = warm.ZygoteKey(files=(), extensions=(), limits=limits.model_dump_json(), preload=())
    try:
        zygote = warm.Zygote(key, limits)
        try:
            seen = warm.check_child(zygote, secret)
        finally:
            zygote.close()
    except SandboxError as exc:
        return f"NO - a warm worker failed its probe, so workers start cold: {exc}"
    return (f"yes - one zygote per grader process forks each worker into new PID, mount, network, IPC and UTS "
            f"namespaces, fresh tmpfs /job, /tmp and /dev/shm, its own uid and limits (probed: uid {seen['uid']}, "
            f"PID {seen['pid']}, interfaces {', '.join(seen['ifaces'])}, no capabilities, no course files)")
