"""``autograder doctor``: which protections a worker gets on this machine, and whether course.yml is satisfied.

The answers come from :func:`autograder.sandbox.isolation.probe`, which starts a tiny worker the way real
ones start and looks at what it can see; nothing here is assumed from the kernel version.
"""

from __future__ import annotations

import os
import platform
import sys

from autograder.config import Course
from autograder.sandbox import isolation


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
