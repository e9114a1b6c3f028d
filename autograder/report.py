"""Writing results: results.json (Gradescope's shape), feedback.md and instructor.log per submission, a CSV
per assignment (one row per student, one column per question, paths relative to the CSV).

Every file is written atomically (a temporary file in the same folder, then ``os.replace``), so a
grader killed at any moment never leaves half a file behind, with the course's ``output_mode``.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.bounds import (
    FEEDBACK_MAX,
    INSTRUCTOR_LOG_MAX,
    MAX_CELL_PROBLEMS,
    NOTES_MAX,
    OMITTED,
    WORKER_OUTPUT_MAX,
    cut_bytes,
    cut_middle,
    visible,
)
from autograder.config import Assignment
from autograder.figures import alt_text
from autograder.grade import GradeResult
from autograder.late import Late
from autograder.suite import diagnosed_cause

CSV_FIELDS = ["student", "assignment", "status", "score", "max_score", "execution_time", "feedback"]


def folder_mode(mode: int) -> int:
    """The folder permissions that go with file permissions ``mode``: a search bit wherever there is a read bit."""
    return mode | (mode & 0o444) >> 2


def _make_dirs(folder: Path, mode: int | None) -> None:
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for d in reversed(missing):
        d.mkdir(exist_ok=True)
        if mode is not None:
            os.chmod(d, folder_mode(mode))


def atomic_write(path: Path, text: str, *, mode: int | None = None) -> None:
    """Write ``text`` (UTF-8) to ``path``: see :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``, so a reader
    (or a kill) never sees half a file. The file gets ``mode`` (folders it creates the matching search bits),
    or the usual ``0o666 & ~umask`` when ``mode`` is None (never mkstemp's 0600, which would hide it from a
    TA group)."""
    _make_dirs(path.parent, mode)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
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


@dataclass
class Cause:
    """Failed tests of one question that report the same problem: "12 tests: the kernel looks flipped"."""

    problem: str
    examples: list[str]  # what each test tried ("Stride 2 on a 9×9 image"), in test order
    count: int
    diagnosed: bool = False  # "<cause> Case: <what>.": the grader named the mistake (at most half its question)
    first: str = ""  # the first test's whole message

    def line(self) -> str:
        if self.count == 1:
            if self.diagnosed:
                return f"{self.problem} (Case: {self.examples[0]}.)" if self.examples[0] else self.problem
            return f"{self.examples[0]}: {self.problem}" if self.examples[0] else self.problem
        shown = "; ".join(e for e in self.examples[:2] if e)
        more = f"; and {self.count - 2} more" if self.count > 2 and shown else ""
        counted = ", one mistake" if self.diagnosed else ""
        return f"{self.count} tests{counted}: {self.problem}" + (f" (e.g. {shown}{more})" if shown else "")

    def start(self) -> str:
        """The sentence for the "Start here" line: the cause a diagnosis named, else the first test's whole
        message (so its subject stays: "The convolutional base is not frozen: ...")."""
        return self.problem if self.diagnosed or not self.first else self.first


_GENERIC_PREFIXES = ("Not run", "Failed")  # the grader's own "<prefix>: <why>" sentences: nothing was "tried"


def split_message(message: str) -> tuple[str, str]:
    """A failure message -> (what was tried, the problem), to merge tests that report the same problem.

    Two conventions of the hidden tests: ``"<cause sentence> Case: <what was tried>."`` (a cause a check
    found), and ``"<what was tried>: <problem>"``. In the second, the prefix ends at the first ": " outside
    brackets, on the first line, within 160 characters; a message that starts with a function name
    (`convolve2d` raised ...) or one of the grader's generic sentences is all problem.
    """
    cause = diagnosed_cause(message)
    if cause:
        return message.partition(" Case: ")[2].strip().removesuffix("."), cause
    first_line = message.split("\n", 1)[0]
    depth = 0
    for i, ch in enumerate(first_line[:160]):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == ":" and depth == 0 and first_line[i + 1:i + 2] == " " and message[i + 2:].strip():
            what = message[:i]
            if what.startswith("`") or what in _GENERIC_PREFIXES:
                break
            return what, message[i + 2:]
    return "", message


def causes(messages: Iterable[str]) -> list[Cause]:
    """Group failure messages by the problem they report, most frequent first (ties: first seen first).

    A message is "<what was tried>: <problem>" (the hidden tests' convention) or just "<problem>"; tests whose
    problems read the same are merged, however many inputs each one tried.
    """
    groups: dict[str, Cause] = {}
    for message in messages:
        if not message:
            continue
        what, problem = split_message(message)
        cause = groups.setdefault(problem, Cause(problem, [], 0, bool(diagnosed_cause(message)), message))
        cause.count += 1
        if what not in cause.examples or not what:
            cause.examples.append(what)
    # the causes the grader diagnosed first (the clearest: they name the mistake), then the most frequent;
    # stable: ties stay in the order first seen
    return sorted(groups.values(), key=lambda c: (not c.diagnosed, -c.count))


def _bullet(text: str) -> str:
    """A Markdown list item; a message of several lines is kept as a fenced block inside the item."""
    if "\n" not in text:
        return f"- {text}"
    first, rest = text.split("\n", 1)
    fence = "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", rest)), default=0))
    body = "\n".join(f"  {line}" for line in rest.splitlines())
    return f"- {first}\n  {fence}text\n{body}\n  {fence}"


def question_causes(result: GradeResult, qid: str) -> list[Cause]:
    return causes(t.output for t in result.tests if t.question == qid and t.status == "failed")


def main_cause(result: GradeResult) -> str:
    """The one sentence to start with: the most frequent problem of the question that lost the most points."""
    # most points lost first; ties in the course's order, which result.questions follows (a stable sort)
    lost = sorted((q for q in result.questions if q.score < q.max_score), key=lambda q: q.score - q.max_score)
    found = [(q, question_causes(result, q.id)) for q in lost]
    # a cause the grader diagnosed first (it names the mistake), else the question that lost the most
    for q, causes_of_q in sorted(found, key=lambda pair: not (pair[1] and pair[1][0].diagnosed)):
        if causes_of_q:
            return f"(`{q.id}`): {causes_of_q[0].start()}"
    return ""


def measured_lines(result: GradeResult) -> list[str]:
    """The "What the grader measured" section: every sentence the hidden tests attached with
    :func:`autograder.testing.note` (e.g. the held-out accuracy and its threshold), passed or failed."""
    lines = []
    for t in result.tests:
        for text in t.notes:
            mark = "passed" if t.status == "passed" else "not passed"
            lines.append(_bullet(f"`{t.question}` ({mark}): {text}"))
    return ["## What the grader measured", "", *lines, ""] if lines else []


FEEDBACK_CELL_MESSAGE = 300  # characters of a notebook cell's error message shown in feedback.md


def _cut(text: str, limit: int = FEEDBACK_CELL_MESSAGE) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def pending_text(pending: list[tuple[str, float]], assignment: Assignment) -> str:
    """ "2 points still to be graded by a TA: In your own words... (`padding_written`)"; "" when none."""
    if not pending:
        return ""
    titles = {q.id: q.title for q in assignment.questions}
    total = sum(points for _, points in pending)
    named = "; ".join(f"{titles[gid]} (`{gid}`, {points_text(points)})" if gid in titles else f"`{gid}`"
                      f" ({points_text(points)})" for gid, points in pending)
    return f"{points_text(total)} point{'s' if total != 1 else ''} still to be graded by a TA: {named}"


def feedback_markdown(result: GradeResult, assignment: Assignment, *, late: Late | None = None,
                      pending: list[tuple[str, float]] | None = None) -> str:
    """The student's feedback.md. ``late``: the late penalty (the gradebook's, or computed from timestamp.txt) shown
    with the score before and after it; ``pending``: (question id, points) a TA still grades (None: not known)."""
    manual = [q for q in assignment.questions if q.manual]
    lines = [
        f"# {assignment.id}: {assignment.title}",
        "",
        f"**Student:** {result.student}  ",
        f"**Score:** {points_text(result.score)} / {points_text(result.max_score)}  "
        + (f"(plus {points_text(assignment.max_score - assignment.auto_max_score)} points graded by a TA)  "
           if manual else ""),
    ]
    if late is not None and late.line():
        lines.append(f"**Late:** {late.line()}  ")
    if pending:
        lines.append(f"**Not graded yet:** {pending_text(pending, assignment)}  ")
    lines += [
        f"**Status:** {result.status}",
        "",
    ]
    if result.message:
        lines += [f"> {result.message}", ""]
    start = main_cause(result)
    if start:
        lines += [f"**Start here** {start}", ""]
    if result.questions:
        lines += ["| Question | Score | Tests passed |", "|---|---:|---:|"]
        for qr in result.questions:
            lines.append(f"| {qr.title} (`{qr.id}`) | {points_text(qr.score)} / {points_text(qr.max_score)} "
                         f"| {qr.tests_passed} / {qr.tests} |")
        for q in manual:
            lines.append(f"| {q.title} (`{q.id}`) | graded by a TA / {points_text(q.points)} | - |")
        lines.append("")
        notes = {qr.id: qr.note for qr in result.questions if qr.note}
        failed = {t.question for t in result.tests if t.status == "failed"}
        if failed or notes:
            lines += ["## What to look at", ""]
            for q in assignment.questions:
                found = question_causes(result, q.id)
                if found or q.id in notes:
                    lines.append(f"### {q.title} (`{q.id}`)")
                    if q.id in notes:
                        lines += [notes[q.id], ""]
                    lines += [_bullet(c.line()) for c in found]
                    lines.append("")
        if not failed:
            lines += ["All hidden tests passed. Well done!", ""]
    lines += measured_lines(result)
    lines += _pictures_markdown(result, assignment)
    problems = [c for c in result.cells if c.status != "ok"]
    if problems:
        lines += ["## Your notebook", ""]
        shown = [c for c in problems if c.status != OMITTED][:MAX_CELL_PROBLEMS]
        for c in shown:
            what = {
                "error": f"raised {c.error_type}: {_cut(c.error_message)}",
                "timeout": f"was stopped: {c.error_message}; the rest of the notebook ran without it",
                "crashed": f"stopped the notebook's process ({c.error_message}); "
                "the rest of the notebook ran without it",
            }.get(c.status, c.status)
            lines.append(_bullet(f"{c.name()} {what}"))
        more = len([c for c in problems if c.status != OMITTED]) - len(shown)
        omitted = [c.error_message for c in problems if c.status == OMITTED]
        if more or omitted:  # what bounds.bound_result left out: "... and 1,480 more cells raised errors"
            lines.append(f"- {omitted[0] if omitted else f'... and {more:,} more cells with problems (not shown)'}")
        lines.append("")
    return cut_bytes(visible("\n".join(lines)), FEEDBACK_MAX,
                     f"... (the rest of this feedback was cut: it is limited to {FEEDBACK_MAX // 1024} KiB)")


def pictures(tests: Iterable[tuple[str, list[dict[str, Any]]]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(question, path relative to the student's folder, picture) for each picture of the tests, given as
    (question, figures) pairs in results.json's order: ``figures/01.png``, ``figures/02.png``..."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    for question, figures in tests:
        for figure in figures:
            found.append((question, f"figures/{len(found) + 1:02d}.png", figure))
    return found


def result_pictures(result: GradeResult) -> list[tuple[str, str, dict[str, Any]]]:
    return pictures((t.question, t.figures) for t in result.tests)


def _pictures_markdown(result: GradeResult, assignment: Assignment) -> list[str]:
    found = result_pictures(result)
    if not found:
        return []
    lines = ["## Pictures", ""]
    for q in assignment.questions:
        mine = [(path, f) for qid, path, f in found if qid == q.id]
        if mine:
            lines += [f"### {q.title} (`{q.id}`)", ""]
            for path, figure in mine:
                # the picture in words and numbers ("...: 8 of 8 values differ; yours −19 … −57, expected 19 … 57")
                alt = alt_text(figure).replace("[", "(").replace("]", ")").replace("\n", " ")
                lines += [f"![{alt}]({path})", ""]
    return lines


@functools.cache
def _markdown_renderer() -> Any:
    """mistune's Markdown renderer for feedback.html, made once per process (a batch renders every result): raw
    HTML escaped, links shown as text (their target beside them), images only as the embedded pictures, each with
    its Markdown text (what the picture shows, in words) as its ``alt``."""
    import html

    import mistune

    from autograder.sanitise import image_placeholder, link_as_text, raster_data_uri

    class FeedbackRenderer(mistune.HTMLRenderer):
        def link(self, text: str, url: str, title: str | None = None) -> str:
            return link_as_text(text, url)

        def image(self, text: str, url: str, title: str | None = None) -> str:
            if raster_data_uri(url) is None:
                return image_placeholder(html.unescape(text), url)
            return f'<img src="{url}" alt="{text or "a picture drawn by the grader"}">'  # text: escaped by mistune

    return mistune.create_markdown(renderer=FeedbackRenderer(escape=True), plugins=["table"])


def feedback_html(markdown: str, images: dict[str, bytes], title: str) -> str:
    """feedback.md as one self-contained HTML page: Markdown rendered with any HTML in it escaped, the
    pictures embedded (``images``: path in the Markdown -> PNG bytes), links as text, any other image as text,
    the result passed through the sanitiser's allow-list (:mod:`autograder.sanitise`), and a
    Content-Security-Policy that lets the page fetch and run nothing. Every message wraps, however long its words
    or inline code (a test's name, a shape, a path), and a message of several lines (a fenced block) wraps too
    instead of scrolling sideways."""
    import html

    from autograder.figures import data_uri
    from autograder.sanitise import SELF_CONTAINED_PAGE_CSP, clean_html, csp_meta

    for path, png in images.items():
        markdown = markdown.replace(f"]({path})", f"]({data_uri(png)})")
    body = clean_html(str(_markdown_renderer()(markdown)))
    style = ("body{font-family:sans-serif;max-width:50em;margin:auto;padding:0 1em;line-height:1.45;color:#1a1a1a;"
             "overflow-wrap:anywhere}"
             "table{border-collapse:collapse}td,th{border:1px solid #888;padding:2px 6px;overflow-wrap:anywhere}"
             "code{background:#f2f2f2;padding:0 .15em;overflow-wrap:anywhere}"
             "pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f2f2f2;padding:.4em .6em}pre code{padding:0}"
             "img{max-width:100%;height:auto}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">{csp_meta(SELF_CONTAINED_PAGE_CSP)}'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title>\n<style>{style}</style></head><body>\n"
            f"{body}</body></html>\n")


def instructor_log(result: GradeResult, sandbox: str = "") -> str:
    """instructor.log: a header (student, score, when, how long, sandbox), the student's warnings, the
    tracebacks of tests that failed unexpectedly, then the worker's own output."""
    header = [
        f"student:    {result.student}",
        f"assignment: {result.assignment} (runner {result.runner})",
        f"status:     {result.status}",
        f"score:      {points_text(result.score)} / {points_text(result.max_score)}",
        f"graded at:  {time.strftime('%Y-%m-%d %H:%M:%S %Z')} in {result.execution_time:g} s",
    ]
    if sandbox:
        header.append(f"sandbox:    {sandbox}" + (f"; workers started {result.worker_start}" if result.worker_start
                                                   else ""))
    if result.message:
        header.append(f"message:    {result.message}")
    parts = ["\n".join(header)]
    parts.append("--- warnings and failed hidden tests (details for instructors) ---\n"
                 + (cut_middle(result.instructor_log, NOTES_MAX) or "(none)"))
    parts.append("--- worker output ---\n" + (cut_middle(result.worker_output, WORKER_OUTPUT_MAX) or "(none)"))
    # every text from the submission (its output, messages, names) with control characters escaped
    return cut_bytes(visible("\n\n".join(parts)) + "\n", INSTRUCTOR_LOG_MAX,
                     f"... (instructor.log is limited to {INSTRUCTOR_LOG_MAX // 1024} KiB)\n")


def write_result(result: GradeResult, assignment: Assignment, out_dir: Path, *, mode: int | None = None,
                 sandbox: str = "") -> Path:
    """Write one submission's files (its pictures, feedback.md and its HTML twin feedback.html,
    instructor.log); results.json last, since its presence marks the job done."""
    from autograder.figures import draw

    folder = student_dir(out_dir, result.student)
    images = {path: draw(figure) for _, path, figure in result_pictures(result)}
    for old in folder.glob("figures/*.png"):
        if old.relative_to(folder).as_posix() not in images:
            old.unlink(missing_ok=True)
    for path, png in images.items():
        atomic_write_bytes(folder / path, png, mode=mode)
    markdown = feedback_markdown(result, assignment)
    atomic_write(folder / "feedback.md", markdown, mode=mode)
    atomic_write(folder / "feedback.html", feedback_html(markdown, images, f"{assignment.id}: {result.student}"),
                 mode=mode)
    atomic_write(folder / "instructor.log", instructor_log(result, sandbox), mode=mode)
    atomic_write(folder / "results.json", json.dumps(result.to_json(), indent=2), mode=mode)
    return folder


def result_from_json(data: dict[str, Any]) -> GradeResult:
    """results.json back into the GradeResult it was written from (the keys only results.json has are left out:
    Gradescope's ``output``/``visibility``, the ``late`` and ``ta_grading`` blocks). A TypeError for one that is
    not a result."""
    from dataclasses import fields

    known = {f.name for f in fields(GradeResult)}
    return GradeResult.from_dict({k: v for k, v in data.items() if k in known})


def tell_the_story(out_dir: Path, assignment: Assignment, student: str, *, late: Late | None,
                   pending: list[tuple[str, float]] | None, mode: int | None = None) -> bool:
    """Rewrite ``student``'s feedback.md, feedback.html and results.json (not instructor.log, nor the pictures)
    so they say what the gradebook says: the late penalty with the score before and after it, and the questions a TA
    still grades. results.json keeps every key and gets ``late`` (None when on time or unknown) and ``ta_grading``
    blocks. False when there is no readable result to rewrite."""
    folder = student_dir(out_dir, student)
    data = read_result(out_dir, student)
    if data is None:
        return False
    try:
        result = result_from_json(data)
    except (TypeError, ValueError):
        return False
    images: dict[str, bytes] = {}
    for _, path, _ in result_pictures(result):
        try:
            images[path] = (folder / path).read_bytes()
        except OSError:
            continue
    markdown = feedback_markdown(result, assignment, late=late, pending=pending)
    data["late"] = late.to_json() if late is not None and late.is_late else None
    titles = {q.id: q.title for q in assignment.questions}
    data["ta_grading"] = None if pending is None else {
        "pending_points": sum(p for _, p in pending),
        "pending": [{"id": gid, "title": titles.get(gid, gid), "points": p} for gid, p in pending],
    }
    # only what changed is written: a file that already says it keeps its inode and time (a batch that is run
    # again, or resumed after a kill, leaves the results it did not grade untouched)
    _write_if_changed(folder / "feedback.md", markdown, mode)
    _write_if_changed(folder / "feedback.html", feedback_html(markdown, images, f"{assignment.id}: {result.student}"),
                      mode)
    _write_if_changed(folder / "results.json", json.dumps(data, indent=2), mode)
    return True


def _write_if_changed(path: Path, text: str, mode: int | None) -> None:
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write(path, text, mode=mode)


def read_result(out_dir: Path, student: str) -> dict[str, object] | None:
    path = student_dir(out_dir, student) / "results.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def all_results(out_dir: Path, assignment_id: str) -> list[dict[str, object]]:
    """Every readable result of ``assignment_id`` in ``out_dir`` (one folder per student), by student."""
    found = []
    for path in sorted(out_dir.glob("*/results.json")):
        data = read_result(out_dir, path.parent.name)
        if data is not None and data.get("assignment") == assignment_id:
            found.append(data)
    return found


def question_columns(assignment: Assignment) -> list[str]:
    """The CSV's per-question columns: the auto-graded questions' ids (prefixed when one would clash)."""
    return [q.id if q.id not in CSV_FIELDS else f"q_{q.id}" for q in assignment.questions if not q.manual]


def csv_rows(results: Iterable[dict[str, object]], assignment: Assignment) -> list[dict[str, object]]:
    """CSV rows of results: totals, one column per auto-graded question, the feedback's path relative to the
    CSV's folder."""
    rows = []
    columns = dict(zip([q.id for q in assignment.questions if not q.manual], question_columns(assignment),
                       strict=True))
    for data in results:
        student = str(data.get("student", ""))
        row: dict[str, object] = {k: data.get(k, "") for k in CSV_FIELDS}
        row["feedback"] = f"{student}/feedback.md"
        questions = data.get("questions")
        for q in questions if isinstance(questions, list) else []:
            if isinstance(q, dict) and q.get("id") in columns:
                row[columns[str(q["id"])]] = q.get("score", "")
        rows.append(row)
    return rows


def write_csv(rows: list[dict[str, object]], assignment: Assignment | None, path: Path, *,
              mode: int | None = None) -> None:
    fields = CSV_FIELDS[:-2] + (question_columns(assignment) if assignment else []) + CSV_FIELDS[-2:]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for row in sorted(rows, key=lambda r: str(r["student"])):
        writer.writerow(row)
    atomic_write(path, buf.getvalue(), mode=mode)


def score_table(rows: list[dict[str, object]]) -> str:
    """The batch's rows as the fixed-width table the CLI prints (control characters escaped)."""
    def cell(value: object) -> str:
        return visible(str(value), lines=False)

    width = max([len(cell(r["student"])) for r in rows] + [7])
    lines = [f"{'student':<{width}}  {'status':<10}  {'score':>12}  time"]
    for r in rows:
        score = cell(f"{r['score']}/{r['max_score']}")
        lines.append(f"{cell(r['student']):<{width}}  {cell(r['status']):<10}  {score:>12}  "
                     f"{cell(r['execution_time'])}s")
    return "\n".join(lines)
