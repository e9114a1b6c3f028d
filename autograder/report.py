"""Writing results: results.json (Gradescope's shape), feedback.md per submission, a CSV per batch.

Every file is written atomically (a temporary file in the same folder, then ``os.replace``), so a
grader killed at any moment never leaves half a file behind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

from autograder.config import Assignment
from autograder.grade import GradeResult

CSV_FIELDS = ["student", "assignment", "status", "score", "max_score", "execution_time", "feedback"]


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``, so a reader
    (or a kill) never sees half a file. The file gets the usual ``0o666 & ~umask`` mode (mkstemp's 0600
    would hide it from a TA group)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def student_dir(out_dir: Path, student: str) -> Path:
    return out_dir / student


def points_text(value: float) -> str:
    """A score for people: rounded to 2 decimals, no trailing zeros (17.5, 20, 1.33); exact values stay in
    results.json."""
    rounded = round(float(value), 2) + 0.0  # + 0.0: no "-0"
    return f"{rounded:.2f}".rstrip("0").rstrip(".")


def feedback_markdown(result: GradeResult, assignment: Assignment) -> str:
    manual = [q for q in assignment.questions if q.manual]
    lines = [
        f"# {assignment.id}: {assignment.title}",
        "",
        f"**Student:** {result.student}  ",
        f"**Score:** {points_text(result.score)} / {points_text(result.max_score)}  "
        + (f"(plus {points_text(assignment.max_score - assignment.auto_max_score)} points graded by a TA)  "
           if manual else ""),
        f"**Status:** {result.status}",
        "",
    ]
    if result.message:
        lines += [f"> {result.message}", ""]
    if result.questions:
        lines += ["| Question | Score | Tests passed |", "|---|---:|---:|"]
        for qr in result.questions:
            lines.append(f"| {qr.title} (`{qr.id}`) | {points_text(qr.score)} / {points_text(qr.max_score)} "
                         f"| {qr.tests_passed} / {qr.tests} |")
        for q in manual:
            lines.append(f"| {q.title} (`{q.id}`) | graded by a TA / {points_text(q.points)} | - |")
        lines.append("")
        failed = [t for t in result.tests if t.status == "failed"]
        if failed:
            lines += ["## What to look at", ""]
            for q in assignment.questions:
                msgs = list(dict.fromkeys(t.output for t in failed if t.question == q.id))
                if msgs:
                    lines.append(f"### {q.title} (`{q.id}`)")
                    lines += [f"- {m}" for m in msgs]
                    lines.append("")
        else:
            lines += ["All hidden tests passed. Well done!", ""]
    problems = [c for c in result.cells if c.status != "ok"]
    if problems:
        lines += ["## Your notebook", ""]
        for c in problems:
            what = {
                "error": f"raised {c.error_type}: {c.error_message}",
                "timeout": f"was stopped: {c.error_message}; the rest of the notebook ran without it",
                "crashed": f"stopped the notebook's process ({c.error_message}); "
                "the rest of the notebook ran without it",
            }.get(c.status, c.status)
            lines.append(f"- Cell {c.index + 1} {what}")
        lines.append("")
    return "\n".join(lines)


def write_result(result: GradeResult, assignment: Assignment, out_dir: Path) -> Path:
    """Write one submission's files; results.json last, since its presence marks the job done."""
    folder = student_dir(out_dir, result.student)
    atomic_write(folder / "feedback.md", feedback_markdown(result, assignment))
    atomic_write(folder / "instructor.log", f"{result.instructor_log}\n\n--- worker output ---\n{result.worker_output}")
    atomic_write(folder / "results.json", json.dumps(result.to_json(), indent=2))
    return folder


def read_result(out_dir: Path, student: str) -> dict[str, object] | None:
    path = student_dir(out_dir, student) / "results.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_csv(rows: list[dict[str, object]], path: Path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in sorted(rows, key=lambda r: str(r["student"])):
        writer.writerow(row)
    atomic_write(path, buf.getvalue())


def score_table(rows: list[dict[str, object]]) -> str:
    """The batch's rows as the fixed-width table the CLI prints."""
    width = max([len(str(r["student"])) for r in rows] + [7])
    lines = [f"{'student':<{width}}  {'status':<10}  {'score':>12}  time"]
    for r in rows:
        score = f"{r['score']}/{r['max_score']}"
        lines.append(f"{r['student']!s:<{width}}  {r['status']!s:<10}  {score:>12}  {r['execution_time']}s")
    return "\n".join(lines)
