"""Bounded, clean outputs: what one submission can put in the files the grader writes and the lines it prints.

A notebook decides how many of its cells fail, what they print and what its errors say; nbgrader's autograde,
the class report and every TA who opens a file read those files again. So a result is bounded once, where it is
finalised (:func:`bound_result`, at the end of :func:`autograder.grade.grade_submission` and of
:func:`autograder.validate.validate_notebook`), and every text from a submission is made visible before it
reaches a terminal or a log (:func:`visible`).

The bounds, whatever the notebook does (the hidden suite's own size is the instructor's: the figures hold for
suites of up to about 500 tests; the course's are 10 to 60):

- ``results.json`` at most :data:`RESULTS_MAX` (1 MiB): room for 200 cells, the 20 first problems with their
  whole messages, every test with a 2,000-character message and the pictures' numbers (a correct submission's
  is 10 to 40 KiB), and small enough that nbgrader's autograde and a class report of 500 students (125 MiB at
  most) parse them in seconds; when the caps below are not enough (pictures of large arrays, messages of
  many-byte characters), messages get shorter and pictures are left out until it fits;
- ``feedback.md`` at most :data:`FEEDBACK_MAX` (64 KiB, about 20 printed pages: more is not read; past it, cut
  with a line saying so), and its twin ``feedback.html`` that text rendered (about 1.2 times its size; at most 6
  times for text made only of characters HTML escapes, ``&"<>``) plus the pictures (at most
  :data:`MAX_FIGURES` PNGs);
- ``instructor.log`` at most :data:`INSTRUCTOR_LOG_MAX` (1 MiB): the notes (failed tests' tracebacks, warnings)
  up to 256 KiB, the worker's output up to 640 KiB (its head and its tail; course.yml's ``limits.output_bytes``,
  200,000 by default, usually cuts it first).

Per submission: at most :data:`MAX_CELL_PROBLEMS` cells that did not run cleanly are listed (the first ones, in
notebook order) and :data:`MAX_CELLS` cells in all; what is left out is counted in one last entry of ``cells``
with status ``"omitted"`` whose message the student reads ("... and 1,480 more cells raised errors (not
shown)"). Messages are cut at :data:`MESSAGE_MAX` characters with "…"; a picture whose numbers take more than
:data:`FIGURE_MAX` bytes, or past the 12th, is left out and its test's message says so.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autograder.grade import GradeResult, TestResult
    from autograder.session import CellOutcome

RESULTS_MAX = 1024 * 1024  # bytes of results.json, as written (UTF-8, indented: 05's picture alone is ~300 KB so)
FEEDBACK_MAX = 64 * 1024  # bytes of feedback.md
INSTRUCTOR_LOG_MAX = 1024 * 1024  # bytes of instructor.log
NOTES_MAX = 256 * 1024  # bytes of the instructor notes (tracebacks of failed tests, warnings)
WORKER_OUTPUT_MAX = 640 * 1024  # bytes of the worker's output kept in instructor.log (head and tail)
MAX_CELLS = 200  # cells listed in results.json (the problems first, then cells that ran, in notebook order)
MAX_CELL_PROBLEMS = 20  # cells that did not run cleanly listed in results.json and feedback
MESSAGE_MAX = 2000  # characters of one message: a cell's error, a test's output, the result's message
MAX_FIGURES = 12  # pictures per submission
FIGURE_MAX = 192 * 1024  # bytes of one picture's numbers (as JSON): 05's two 30x30x4 activation maps take 151 KB
OMITTED = "omitted"  # the status of the last entry of ``cells`` when some were left out
CUT = "…"

# C0 and C1 controls, DEL, and the invisible format characters that reorder or hide text on a terminal (bidi
# overrides and isolates, zero-width characters, line and paragraph separators, BOM), and lone surrogates.
_INVISIBLE = "\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb" \
             "\ud800-\udfff"
_CONTROLS = re.compile(f"[{_INVISIBLE}]")
_CONTROLS_BUT_LINES = re.compile(f"[{_INVISIBLE.replace(chr(0) + '-' + chr(0x1f), chr(0) + '-' + chr(8))}"
                                 "\x0b-\x1f]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: str, *, lines: bool = True) -> str:
    """``text`` safe to print on a terminal or write to a log: every control character (C0, DEL, C1) and the
    invisible characters that reorder or hide text (bidi overrides, zero-width, line separators) as a visible
    escape (``\\x1b``, ``\\u202e``), so a file name or a notebook's output cannot retitle the window, move the
    cursor or hide a line. Newline and tab are kept when ``lines`` (a log, a report); pass ``lines=False`` for a
    value on one line (a name in a table). Escaping an already escaped text changes nothing."""
    return (_CONTROLS_BUT_LINES if lines else _CONTROLS).sub(_escape, text)


def cut(text: str, limit: int = MESSAGE_MAX) -> str:
    """``text`` if it has at most ``limit`` characters, else its first ``limit`` and "…"."""
    return text if len(text) <= limit else text[:limit] + CUT


def cut_middle(text: str, limit: int) -> str:
    """``text`` if its UTF-8 encoding has at most ``limit`` bytes, else its head and its tail (``limit`` bytes
    together) around a line saying how much of the middle was left out."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    half = limit // 2
    head, tail = data[:half].decode("utf-8", "ignore"), data[len(data) - half:].decode("utf-8", "ignore")
    return f"{head}\n... [{len(data) - 2 * half:,} bytes left out: over the {limit:,}-byte limit] ...\n{tail}"


def cut_bytes(text: str, limit: int, note: str) -> str:
    """``text`` whose UTF-8 encoding has at most ``limit`` bytes: else its first lines that fit, then ``note``."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = max(0, limit - len(note.encode("utf-8")) - 2)
    head = data[:room].decode("utf-8", "ignore")
    if "\n" in head:
        head = head[:head.rindex("\n")]
    return f"{head}\n\n{note}"


PROBLEM_WORDS = {"error": "raised errors", "timeout": "hit the time limit",
                 "crashed": "stopped the notebook's process", "skipped": "were not run"}


def omitted_note(counts: Counter[str]) -> str:
    """What the student reads about the cells left out, e.g. "... and 1,480 more cells raised errors (not
    shown)"; cells that ran cleanly are counted too, so the entry says everything ``cells`` is missing."""
    problems = {status: n for status, n in counts.items() if status != "ok" and n}
    ok = counts.get("ok", 0)
    if not problems:
        return f"... {ok:,} more cells that ran are not listed"
    if len(problems) == 1:
        [(status, n)] = problems.items()
        text = f"... and {n:,} more {'cell' if n == 1 else 'cells'} {PROBLEM_WORDS.get(status, status)}"
    else:
        text = "... and more cells with problems: " + ", ".join(
            f"{n:,} {PROBLEM_WORDS.get(status, status)}" for status, n in problems.items())
    return text + " (not shown" + (f"; {ok:,} more that ran are not listed" if ok else "") + ")"


def bound_cells(cells: list[CellOutcome], max_cells: int = MAX_CELLS, max_problems: int = MAX_CELL_PROBLEMS,
                message_max: int = MESSAGE_MAX) -> list[CellOutcome]:
    """At most ``max_problems`` cells that did not run cleanly (the first, in notebook order) and ``max_cells``
    entries in all (then cells that ran), messages cut; when some are left out, one last entry
    ``CellOutcome(-1, "omitted", "", <what was left out>)``."""
    from autograder.session import CellOutcome  # (not at the top: the CLI imports this module to start)

    earlier = [c for c in cells if c.status == OMITTED]  # a result bounded before (e.g. read back)
    cells = [c for c in cells if c.status != OMITTED]
    problems = [c for c in cells if c.status != "ok"]
    keep_problems = problems[:max_problems]
    room = max(0, max_cells - len(keep_problems))
    keep_ok = [c for c in cells if c.status == "ok"][:room]
    kept_ids = {id(c) for c in keep_problems + keep_ok}
    dropped: Counter[str] = Counter(c.status for c in cells if id(c) not in kept_ids)
    kept = [c for c in cells if id(c) in kept_ids]
    for c in kept:
        c.error_type = cut(str(c.error_type), 100)
        c.error_message = cut(str(c.error_message), message_max)
    notes = [cut(str(c.error_message), 300) for c in earlier[:1]] + ([omitted_note(dropped)] if dropped else [])
    if notes:
        kept.append(CellOutcome(-1, OMITTED, "", "; ".join(notes)))
    return kept


def bound_figures(tests: list[TestResult], max_figures: int = MAX_FIGURES, figure_max: int = FIGURE_MAX) -> None:
    """At most ``max_figures`` pictures in all, each's numbers at most ``figure_max`` bytes as JSON; a test whose
    picture was left out says so in its message."""
    count = 0
    for t in tests:
        kept = []
        for figure in t.figures:
            try:
                size = len(json.dumps(figure))
            except (TypeError, ValueError):
                size = figure_max + 1
            if count < max_figures and size <= figure_max:
                kept.append(figure)
                count += 1
        if len(kept) < len(t.figures):
            t.output = f"{t.output}\n(The picture of this test was left out: too large, or too many pictures.)" \
                .lstrip("\n")
        t.figures = kept


def results_size(result: GradeResult) -> int:
    """Bytes of ``result``'s results.json as :func:`autograder.report.write_result` writes it."""
    return len(json.dumps(result.to_json(), indent=2).encode("utf-8"))


def bound_result(result: GradeResult, limit: int = RESULTS_MAX) -> GradeResult:
    """Bound a finished :class:`~autograder.grade.GradeResult` in place (and return it): the caps above, then, in
    the unlikely case results.json is still over ``limit``, shorter messages and fewer entries until it fits.
    Scores, statuses and the tests themselves are never dropped. The texts for instructors (worker output,
    notes) are made visible (:func:`visible`) and cut too."""
    cells = list(result.cells)
    result.message = cut(str(result.message))
    result.cells = bound_cells(cells)
    for t in result.tests:
        t.output = cut(str(t.output))
    bound_figures(result.tests)
    result.worker_output = cut_middle(visible(str(result.worker_output)), WORKER_OUTPUT_MAX)
    result.instructor_log = cut_middle(visible(str(result.instructor_log)), NOTES_MAX)

    def shorter_cell_messages() -> None:
        result.cells = bound_cells(cells, message_max=300)

    def no_pictures() -> None:
        bound_figures(result.tests, max_figures=0)

    def shorter_test_messages(limit: int) -> None:
        for t in result.tests:
            t.output = cut(t.output, limit)

    def fewer_cells() -> None:
        result.cells = bound_cells(cells, max_cells=20, max_problems=5, message_max=300)

    def shorter_message() -> None:
        result.message = cut(result.message, 300)

    steps: list[Callable[[], None]] = [shorter_cell_messages, no_pictures, lambda: shorter_test_messages(300),
                                       fewer_cells, lambda: shorter_test_messages(80), shorter_message]
    for step in steps:
        if results_size(result) <= limit:
            break
        step()
    return result
