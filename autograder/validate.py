"""``autograder validate``: run a notebook's visible checks before submitting, and say which fail and where.

The notebook runs in the same limited worker as at grading time. The visible checks executed are the test
cells of the RELEASED notebook (by grade_id), so an edited or deleted test cell does not change what is
checked. They only say whether the lecture's worked examples come out right: validate reports
"Visible checks passed N of M", never a score, because the grade is decided by the hidden tests after
submission.

Where a check fails is found without trusting the worker: each released test cell is split, here in the
trusted process, into its top-level statements (:func:`statement_chunks`), which run one by one in the
worker (:meth:`~autograder.session.NotebookSession.run_extra`) until one does not finish. That statement's
lines (the course's own code) are quoted; the worker supplies only the error's type and message, which
:func:`validate_markdown` shows in fenced code blocks (numpy's messages span several lines).

Exit codes of the command: 0 when every visible check passes; 1 (:class:`~autograder.errors.AutograderError`)
when some fail or could not run; 4 (:class:`~autograder.errors.SubmissionError`) when the file is not a
notebook that can be run at all.
"""

from __future__ import annotations

import ast
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.bounds import OMITTED, bound_cells
from autograder.config import Assignment, Course
from autograder.errors import SubmissionError
from autograder.grade import Ungradable, labelled, make_worker_spec, read_notebook, select_cells
from autograder.session import CELL_MESSAGE_CAP, BudgetExhausted, CellOutcome, NotebookSession, StudentCodeProblem
from autograder.student_copy import ValidationTarget, target_from_course

# Longest statement quoted in the output; a longer one (a big compound statement) is cut with a note.
MAX_QUOTED_LINES = 12
# The session keeps at most this much of a cell's error message (see NotebookSession._run_cell).
SESSION_MESSAGE_CAP = CELL_MESSAGE_CAP


def visible_tests(course: Course, assignment: Assignment) -> list[tuple[str, str]]:
    """(grade_id, source) of the released notebook's visible test cells, in notebook order."""
    return [(t.grade_id, t.source) for t in target_from_course(course, assignment).tests]


@dataclass(frozen=True)
class Chunk:
    """Whole lines ``first_line``..``last_line`` (1-based, within the cell) holding one or more top-level
    statements: the unit run in the worker, and the lines quoted when it fails."""

    first_line: int
    last_line: int
    source: str


def statement_chunks(source: str) -> list[Chunk] | None:
    """The cell's top-level statements as chunks of whole lines, in order; comments and blank lines between
    statements are left out. Statements that share a line (``a = 1; b = 2``) are one chunk; a decorated
    definition starts at its first decorator. ``None`` when the cell is not plain Python (IPython magics):
    it then runs as one piece."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    lines = source.splitlines()
    spans: list[list[int]] = []
    for node in tree.body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        end = node.end_lineno or node.lineno
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    return [Chunk(a, b, "\n".join(lines[a - 1:b])) for a, b in spans]


@dataclass
class VisibleCheck:
    """One released visible test cell, run against the student's notebook.

    ``status``: "passed", "failed" (a statement raised), "stopped" (a statement hit a time limit or crashed the
    notebook's process) or "not run" (the time budget was used up, or the notebook's process kept dying,
    before the check could start). For a check that did not pass, ``chunk`` is the statement it stopped at
    (``None`` if it never started or the cell could not be split) and ``error_type`` / ``message`` come from
    the worker (untrusted text, shown fenced).
    """

    grade_id: str
    title: str
    status: str
    chunk: Chunk | None = None
    error_type: str = ""
    message: str = ""
    lines_in_cell: int = 0

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class ValidateResult:
    """What ``validate`` found: one entry per visible check, and the notebook's own cells that did not run."""

    assignment: str
    title: str
    notebook: str
    checks: list[VisibleCheck] = field(default_factory=list)
    cells: list[CellOutcome] = field(default_factory=list)
    execution_time: float = 0.0
    sandbox: str = ""  # how the notebook ran, when not in the grader's sandbox (a student's own machine)

    @property
    def passed(self) -> int:
        return sum(c.passed for c in self.checks)

    @property
    def all_passed(self) -> bool:
        return self.passed == len(self.checks)


def released_files(target: ValidationTarget) -> list[Path]:
    """The files released beside the notebook (course.yml's ``files:``, as `autograder release` copies them into
    the assignment's folder): what a student has, and what their notebook reads. A missing one is refused with
    what to do, before anything runs."""
    files = list(target.files)
    missing = [p for p in files if not p.is_file()]
    if missing:
        folder = missing[0].parent
        raise SubmissionError(
            f"{', '.join(str(p) for p in missing)} missing: the notebook of {target.assignment} reads "
            f"{'it' if len(missing) == 1 else 'them'}. Fetch or copy the whole released folder again (it holds "
            f"{'them' if len(missing) > 1 else 'it'} beside the notebook; an instructor: run `autograder release "
            f"{target.assignment}`), or put {'them' if len(missing) > 1 else 'it'} into {folder}. Nothing was "
            "checked.")
    return files


def sandbox_note() -> str:
    """"" when the worker runs in the grader's sandbox (bubblewrap), else a sentence saying it does not and what
    that means for a student checking their own notebook."""
    from autograder.sandbox import isolation

    probe = isolation.probe()
    if probe.mode == "bwrap":
        return ""
    return (f"Not sandboxed on this machine ({probe.bwrap_problem}): your notebook ran as you, with your files, as "
            "it does in Jupyter. That is fine for your own code; at grading time it runs in the grader's sandbox.")


def validate_notebook(target: ValidationTarget, notebook: Path) -> ValidateResult:
    """Run ``notebook`` in the worker, then each released visible test cell statement by statement. ``target``:
    the facts of :mod:`autograder.student_copy`, from a course or from the folder a student fetched.

    Raises :class:`~autograder.errors.SubmissionError` when the file cannot be a notebook (empty, too large,
    not JSON...)."""
    limits = target.limits
    started = time.monotonic()
    try:
        nb = read_notebook(notebook, limits)
    except Ungradable as exc:
        raise SubmissionError(f"{notebook}: {exc} Nothing was checked.") from None
    result = ValidateResult(assignment=target.assignment, title=target.title, notebook=str(notebook))
    cells = select_cells(nb, target.test_sources)
    spec = make_worker_spec(limits=limits, files=released_files(target), run_training_cells=target.run_training_cells,
                            warm_start=target.warm_start, preload=target.preload, secret=target.secret)
    result.sandbox = sandbox_note()
    with NotebookSession(cells, spec, deadline=started + limits.total_timeout_s) as session:
        try:
            session.start()
        except (BudgetExhausted, StudentCodeProblem):
            pass
        for test in target.tests:
            result.checks.append(_run_check(session, test.grade_id, test.title, test.source))
        result.cells = labelled(session.outcomes, cells)
    # at most 20 problem cells listed, the rest counted: "... and 1,480 more cells raised errors (not shown)"
    result.cells = bound_cells(result.cells, max_cells=len(result.cells))
    result.execution_time = round(time.monotonic() - started, 2)
    return result


def _run_check(session: NotebookSession, qid: str, title: str, source: str) -> VisibleCheck:
    check = VisibleCheck(grade_id=qid, title=title, status="passed", lines_in_cell=len(source.splitlines()))
    chunks = statement_chunks(source)
    pieces: list[Chunk | None] = list(chunks) if chunks is not None else [None]
    for chunk in pieces:
        try:
            outcome = session.run_extra(source if chunk is None else chunk.source)
        except (BudgetExhausted, StudentCodeProblem) as exc:
            # Raised before the statement was sent: the budget is spent, or the notebook's process kept dying.
            check.status = "not run" if chunk is pieces[0] else "stopped"
            check.chunk = chunk if check.status == "stopped" else None
            check.message = ("the time limit for the whole notebook was reached" if isinstance(exc, BudgetExhausted)
                             else "the notebook's process kept failing, so the checks could not run")
            return check
        if outcome.status == "ok":
            continue
        check.chunk = chunk
        check.error_type = outcome.error_type
        check.message = outcome.error_message
        check.status = "failed" if outcome.status == "error" else "stopped"
        return check
    return check


# --- rendering -----------------------------------------------------------------------------------
def fenced(text: str, info: str = "", indent: str = "") -> list[str]:
    """``text`` as a Markdown fenced code block whose fence is longer than any run of backticks inside it,
    so no text (numpy's multi-line messages, a student's ```) can close it early or break what follows."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    body = text.splitlines() or [""]
    return [f"{indent}{ticks}{info}", *(f"{indent}{line}" for line in body), f"{indent}{ticks}"]


def _lines_label(chunk: Chunk, total: int) -> str:
    span = (f"line {chunk.first_line}" if chunk.first_line == chunk.last_line
            else f"lines {chunk.first_line}-{chunk.last_line}")
    return f"{span} (of {total})"


def _quoted(chunk: Chunk) -> str:
    lines = chunk.source.splitlines()
    if len(lines) <= MAX_QUOTED_LINES:
        return chunk.source
    return "\n".join(lines[:MAX_QUOTED_LINES] + [f"# ... {len(lines) - MAX_QUOTED_LINES} more lines"])


def check_section(check: VisibleCheck) -> list[str]:
    lines = [f"### {check.title} (`{check.grade_id}`)", ""]
    where = (f"{_lines_label(check.chunk, check.lines_in_cell)} of its visible test cell"
             if check.chunk is not None else "its visible test cell")
    end = ":" if check.chunk is not None else "."  # the quoted statement follows
    if check.status == "not run":
        return lines + [f"Did not run: {check.message}.", ""]
    if check.status == "stopped":
        lines += [f"Stopped ({check.message or 'the notebook process ended'}) at {where}{end}", ""]
    elif check.error_type == "NotImplementedError":
        subject = f"the statement at {where}" if check.chunk is not None else where
        lines += [f"Not implemented yet: {subject} calls a function that still raises NotImplementedError{end}", ""]
    else:
        lines += [f"Failed with {check.error_type or 'an error'} at {where}{end}", ""]
    if check.chunk is not None:
        lines += fenced(_quoted(check.chunk), "python") + [""]
    if check.status == "failed" and check.error_type != "NotImplementedError":
        if check.message.strip():
            lines += ["Message:", ""] + fenced(check.message.strip("\n"), "text") + [""]
            if len(check.message) >= SESSION_MESSAGE_CAP:
                lines += [f"(The message was cut after its first {SESSION_MESSAGE_CAP} characters.)", ""]
        else:
            lines += ["The check has no message: the quoted line is what failed.", ""]
    return lines


def cell_line(c: CellOutcome) -> list[str]:
    if c.status == OMITTED:
        return [f"- {c.error_message}"]
    if c.status == "error":
        message = c.error_message.strip("\n")
        if "\n" in message or "`" in message:
            return [f"- {c.name()} raised {c.error_type}:", "", *fenced(message, indent="  ")]
        return [f"- {c.name()} raised {c.error_type}: {message}".rstrip(": ")]
    what = {
        "timeout": f"was stopped: {c.error_message}; the rest of the notebook ran without it",
        "crashed": f"stopped the notebook's process ({c.error_message}); the rest of the notebook ran without it",
    }.get(c.status, c.status)
    return [f"- {c.name()} {what}"]


def validate_markdown(result: ValidateResult) -> str:
    """The report ``autograder validate`` prints: how many visible checks passed (never a score), and for each
    one that did not, the statement of its test cell where it stopped and the message, fenced."""
    total = len(result.checks)
    lines = [
        f"# {result.assignment}: {result.title} (visible checks)",
        "",
        f"**Visible checks passed {result.passed} of {total}.**",
        "",
        "These are the visible test cells of the released notebook: they check the lecture's worked examples "
        "and give no points. Your grade is decided by hidden tests, run after you submit, that check more "
        "cases than these.",
        "",
    ]
    if result.sandbox:
        lines += [result.sandbox, ""]
    if result.checks:
        lines += ["| Question | Visible check |", "|---|---|"]
        lines += [f"| {c.title} (`{c.grade_id}`) | {c.status} |" for c in result.checks]
        lines.append("")
    problems = [cell for cell in result.cells if cell.status != "ok"]
    if problems:  # first: a cell that did not run (an import, a definition) is often why checks fail
        lines += ["## Your notebook", ""]
        for cell in problems:
            lines += cell_line(cell)
        lines.append("")
    failing = [c for c in result.checks if not c.passed]
    if failing:
        lines += ["## Visible checks that did not pass", ""]
        for c in failing:
            lines += check_section(c)
    return "\n".join(lines).rstrip("\n") + "\n"
