"""Grading one submission: the steps, in order, on one screen.

    read_notebook -> select_cells -> run notebook in a worker -> run the hidden suite -> score

Steps 1, 2, 4 and 5 run here, in the trusted process; step 3 (and every call a hidden test makes
into the student's functions) runs in the untrusted worker of :mod:`autograder.sandbox`. The result
is plain data (:class:`GradeResult`); :mod:`autograder.report` writes it out.
"""

from __future__ import annotations

import ast
import codecs
import dataclasses
import functools
import hashlib
import importlib
import json
import math
import os
import re
import stat
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import nbformat

from autograder.bounds import bound_result, cut, visible
from autograder.config import SKIP_TAG, Assignment, Course, Limits
from autograder.course_functions import CourseFunctions
from autograder.errors import ConfigError
from autograder.models import trusted_extensions
from autograder.sandbox import isolation
from autograder.sandbox.process import WorkerSpec, prestart_worker
from autograder.session import (
    BudgetExhausted,
    CellOutcome,
    NotebookSession,
    StudentCodeProblem,
    SubmissionProxy,
)
from autograder.suite import GradingContext, TestOutcome, run_suite
from autograder.worker import keras_ext

STATUSES = ("graded", "ungradable", "timeout", "error")
KERAS_EXT = Path(keras_ext.__file__)


class Ungradable(Exception):
    """The submission cannot be graded at all; the message tells the student why."""


@dataclass(frozen=True)
class OtherFile:
    """A notebook handed in beside the graded one (``convolution-Copy1.ipynb``): not graded, said so."""

    name: str
    size: int  # bytes
    modified: str  # UTC, "2026-12-07 14:03"


@dataclass
class SubmissionInput:
    student: str
    notebook: Path
    ignored: tuple[OtherFile, ...] = ()  # other notebooks in the submission's folder, not graded


@dataclass
class TestResult:
    """One hidden test, in Gradescope's shape (``output`` is the student-visible message)."""

    name: str
    question: str
    score: float
    max_score: float
    status: str  # "passed" | "failed"
    output: str
    worked_example: bool = False
    visibility: str = "visible"
    figures: list[dict[str, Any]] = field(default_factory=list)  # pictures for the feedback (autograder.figures)
    measurements: dict[str, float] = field(default_factory=dict)  # e.g. held_out_accuracy, for the class report
    notes: list[str] = field(default_factory=list)  # what the grader measured, in words (shown passed or failed)
    charged: bool = True  # False: a failed test whose cause another failed test of its question already costs

    __test__ = False


@dataclass
class QuestionResult:
    """A question's total: the exact sum of its tests' shares (never above its points), as a float."""

    id: str
    title: str
    score: float
    max_score: float
    tests_passed: int
    tests: int
    note: str = ""  # e.g. "graded with the course's convolve2d in place of yours" (see autograder.dependencies)


@dataclass
class GradeResult:
    student: str
    assignment: str
    status: str
    score: float
    max_score: float
    message: str = ""
    tests: list[TestResult] = field(default_factory=list)
    questions: list[QuestionResult] = field(default_factory=list)
    cells: list[CellOutcome] = field(default_factory=list)
    execution_time: float = 0.0
    worker_peak_mib: float = 0.0  # the workers' largest peak memory, rounded up to a power of two (0: unknown)
    runner: str = "cpu"
    submission_sha256: str = ""
    fingerprint: dict[str, str] = field(default_factory=dict)  # what decided the score (autograder.fingerprint)
    worker_output: str = ""  # worker stdout/stderr (instructors only)
    instructor_log: str = ""  # the student's warnings, details of failed tests (instructors only)
    worker_start: str = ""  # how its workers started: "warm" (forked from a zygote), "cold", or both
    # when this result replaced an earlier one: its score and status, and why it was graded again
    previous: dict[str, Any] = field(default_factory=dict)
    # other notebooks handed in beside the graded one, not graded (OtherFile as dicts; results.json has the key
    # only when there are some)
    ignored_files: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GradeResult:
        """The inverse of ``dataclasses.asdict`` (a result that came back from a Dask worker as JSON); a
        TypeError for a key or a type it does not know."""
        data = dict(data)
        tests = [TestResult(**t) for t in data.pop("tests", [])]
        questions = [QuestionResult(**q) for q in data.pop("questions", [])]
        cells = [CellOutcome(**c) for c in data.pop("cells", [])]
        fp = data.pop("fingerprint", {})
        if not isinstance(fp, dict):
            raise TypeError("fingerprint is not a mapping")
        result = cls(**data, tests=tests, questions=questions, cells=cells, fingerprint=fp)
        for name, kind in (("student", str), ("assignment", str), ("status", str), ("message", str)):
            if not isinstance(getattr(result, name), kind):
                raise TypeError(f"{name} is not a {kind.__name__}")
        for name in ("score", "max_score", "execution_time", "worker_peak_mib"):
            if not isinstance(getattr(result, name), (int, float)) or isinstance(getattr(result, name), bool):
                raise TypeError(f"{name} is not a number")
        return result

    def to_json(self) -> dict[str, Any]:
        """Gradescope's results.json keys (score, execution_time, output, visibility, tests with name, score,
        max_score, status, output, visibility), plus ours (student, status, questions, cells, sha256...)."""
        data = asdict(self)
        data.pop("worker_output")
        data.pop("instructor_log")
        data.pop("worker_start")
        if not data["ignored_files"]:
            data.pop("ignored_files")
        data["output"] = self.message
        data["visibility"] = "visible"
        return data


# --- step 1 --------------------------------------------------------------------------------------
def read_notebook(path: Path, limits: Limits) -> nbformat.NotebookNode:
    """Parse a submission as a notebook (v3 is upgraded), refusing files that cannot be one
    (:func:`read_submission`, without its note)."""
    return read_submission(path, limits)[0]


def read_submission(path: Path, limits: Limits) -> tuple[nbformat.NotebookNode, str]:
    """Parse a submission as a notebook (v3 is upgraded), refusing (:class:`Ungradable`, saying what to do) files
    that cannot be one; with a note for the student ("" when none).

    ``limits.max_notebook_mb`` applies to what grading uses: a file over it is parsed, its outputs left out (the
    note says how many and how large), and refused only if it is still over it without them. A file over
    ``limits.max_submission_mb`` is refused unread. A file that is not UTF-8 is refused with where (line and
    column, and which cell) and how to convert it; no other encoding is guessed.
    """
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        raise Ungradable("The submitted notebook is a symbolic link, not a file: submit the notebook itself.")
    if not stat.S_ISREG(st.st_mode):
        raise Ungradable("The submitted notebook is not a regular file: submit the notebook itself.")
    size = st.st_size
    if size == 0:
        raise Ungradable("The submitted file is empty.")
    limit = limits.max_notebook_mb * 1024 * 1024
    if size > limits.max_submission_mb * 1024 * 1024:
        raise Ungradable(
            f"The submitted file is {size / 2**20:.1f} MiB, over the limit of {limits.max_notebook_mb:g} MiB; a "
            f"notebook over it is graded without its outputs, but a file over {limits.max_submission_mb:g} MiB is "
            "not read at all (clear large outputs: Kernel > Restart & Clear Output, then save and submit again)."
        )
    with open_regular(path) as f:  # (checked above; and never a file swapped for a link since)
        raw = f.read(int(limits.max_submission_mb * 1024 * 1024) + 1)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Ungradable(not_utf8_message(raw)) from None
    if size <= limit:
        return _parse(text), ""
    try:
        data = json.loads(text)
        del text, raw
        cells, output_bytes = strip_outputs(data)
        stripped = json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass")
    except (ValueError, RecursionError) as exc:  # (RecursionError: arrays nested thousands deep)
        raise Ungradable(f"The submitted file is not a valid Jupyter notebook ({type(exc).__name__}: "
                         f"{str(exc)[:200]}).") from None
    if len(stripped) > limit:
        raise Ungradable(
            f"The submitted file is {size / 2**20:.1f} MiB, over the limit of {limits.max_notebook_mb:g} MiB even "
            f"without its outputs ({len(stripped) / 2**20:.1f} MiB of code, text, pasted images and metadata): "
            "remove what makes it large (data pasted into cells, images pasted into text cells), save and submit "
            "again."
        )
    nb = _parse(stripped.decode("utf-8", "surrogatepass"))
    if not cells:
        return nb, ""  # (over the limit only by its layout: nothing was left out)
    return nb, (f"Your notebook is {size / 2**20:.1f} MiB, over the limit of {limits.max_notebook_mb:g} MiB, because "
                f"of its outputs: the outputs of {cells} cell{'s' if cells != 1 else ''} "
                f"({output_bytes / 2**20:.1f} MiB) were left out before grading (grading never uses outputs). Your "
                "notebook was graded.")


def _parse(text: str) -> nbformat.NotebookNode:
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several types for malformed JSON / schema
        raise Ungradable(f"The submitted file is not a valid Jupyter notebook ({type(exc).__name__}: "
                         f"{str(exc)[:200]}).") from None
    if not isinstance(nb.get("cells"), list):
        raise Ungradable("The submitted notebook has no list of cells.")
    return nb


def _raw_cells(data: Any) -> list[Any]:
    """The cells of a parsed notebook's JSON, v4 (``cells``) or v3 (``worksheets[].cells``), in order."""
    if not isinstance(data, dict):
        return []
    if isinstance(data.get("cells"), list):
        return list(data["cells"])
    sheets = data.get("worksheets")
    return [c for w in sheets if isinstance(w, dict) and isinstance(w.get("cells"), list) for c in w["cells"]] \
        if isinstance(sheets, list) else []


def strip_outputs(data: Any) -> tuple[int, int]:
    """Empty the outputs of every code cell of a notebook's parsed JSON, in place; (cells that had outputs, bytes of
    those outputs as JSON)."""
    cells = size = 0
    for cell in _raw_cells(data):
        if isinstance(cell, dict) and cell.get("outputs"):
            cells += 1
            size += len(json.dumps(cell["outputs"], ensure_ascii=False).encode("utf-8", "surrogatepass"))
            cell["outputs"] = []
    return cells, size


MAX_BAD_BYTES_COUNTED = 1000
NOT_UTF8_CELL_SEARCH = 20 * 2**20  # the cell of the first bad byte is looked for in files up to this size
_BAD_BYTE = re.compile("[\udc80-\udcff]")
_OTHER_NON_ASCII = re.compile("[\x80-\udc7f\udd00-\U0010ffff]")


def not_utf8_message(raw: bytes) -> str:
    """What a student reads when the file is not UTF-8: where the first byte that is not is (line and column of
    the file; the cell and its line when the file is a notebook otherwise), how many there are, how to fix it. A
    file with NUL bytes is no text at all. Memory stays small for any size: the file is scanned in 1 MiB pieces."""
    if b"\0" in raw:
        return "The submitted file is not a text file, so it cannot be a Jupyter notebook."
    try:
        raw.decode("utf-8")
        return "The submitted file is not UTF-8 text."  # (not reached: called for a file that is not)
    except UnicodeDecodeError as exc:
        first = exc.start
    line = raw.count(b"\n", 0, first) + 1
    start_of_line = raw.rfind(b"\n", 0, first) + 1
    column = len(raw[start_of_line:first].decode("utf-8", "surrogateescape")) + 1
    bad, elsewhere = 0, False
    decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    for offset in range(0, len(raw), 2**20):
        piece = decoder.decode(raw[offset:offset + 2**20], final=offset + 2**20 >= len(raw))
        bad += _BAD_BYTE.subn("", piece)[1]
        elsewhere = elsewhere or _OTHER_NON_ASCII.search(piece) is not None
        if bad > MAX_BAD_BYTES_COUNTED:
            break
    where = f"line {line}, column {column} of the file"
    cell = _cell_of_bad_byte(raw.decode("utf-8", "surrogateescape")) if len(raw) <= NOT_UTF8_CELL_SEARCH else ""
    if cell:
        where += f" ({cell})"
    more = f"; {bad - 1} more such byte{'s' if bad > 2 else ''} after it" if bad > 1 else ""
    if bad > MAX_BAD_BYTES_COUNTED:
        more = f"; more than {MAX_BAD_BYTES_COUNTED:,} such bytes after it"
    start = (f"The submitted file is not UTF-8 text, as every Jupyter notebook is: byte 0x{raw[first]:02X} at {where} "
             f"is not UTF-8{more}. It was probably edited outside Jupyter and saved in another encoding (e.g. "
             "Latin-1 or Windows-1252); Jupyter cannot open it either.")
    if elsewhere:
        # UTF-8 elsewhere (a "×" of the notebook's text): converting the whole file would garble those characters
        return (f"{start} The rest of the file is UTF-8, so do not convert the whole file: open it in a text editor "
                "as UTF-8, retype the character shown as \ufffd at that place (and any other), save it as UTF-8, check "
                "that Jupyter opens it, and submit again.")
    return (f"{start} Convert it to UTF-8 (iconv -f latin1 -t utf-8 old.ipynb > new.ipynb, or your editor's Save As "
            "with the encoding UTF-8), check that Jupyter opens it (File > Save there), and submit again.")


def _cell_of_bad_byte(text: str) -> str:
    """Where the first undecodable byte of a notebook is, as "in cell 3, a code cell, line 2 of its source" (or of
    its outputs / metadata); "" when the file does not parse as a notebook's JSON."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return ""
    for number, cell in enumerate(_raw_cells(data), 1):
        if not isinstance(cell, dict):
            continue
        kind = str(cell.get("cell_type", "?"))[:20]
        source = cell.get("source", cell.get("input", ""))  # (v3 code cells: "input")
        source = "".join(str(s) for s in source) if isinstance(source, list) else str(source)
        if _has_surrogate(source):
            index = next(i for i, ch in enumerate(source) if "\udc80" <= ch <= "\udcff")
            return f"in cell {number}, a {visible(kind)} cell, line {source.count(chr(10), 0, index) + 1} of its source"
        for part in ("outputs", "metadata", "attachments"):
            if _has_surrogate(json.dumps(cell.get(part, ""), ensure_ascii=False)):
                return f"in cell {number}, a {visible(kind)} cell, in its {part}"
    return "outside its cells"


def _has_surrogate(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def has_code(nb: nbformat.NotebookNode, test_sources: frozenset[str] = frozenset()) -> bool:
    """Whether the notebook has a code cell with code in it (a line that is not blank or a comment), other than
    the released visible test cells (``test_sources``)."""
    for cell in nb.cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell_source(cell)
        if source.strip() in test_sources:
            continue
        if any(line.strip() and not line.strip().startswith("#") for line in source.splitlines()):
            return True
    return False


MAX_KINDS_SAID = 5


def no_code_message(nb: nbformat.NotebookNode, notebook: str) -> str:
    """What a student reads when the notebook has no code (:func:`has_code`): one line, not a failed test each."""
    cells = [c for c in nb.cells if isinstance(c, dict)]
    kinds = Counter(str(c.get("cell_type", "?")) for c in cells)
    common = kinds.most_common(MAX_KINDS_SAID)  # (a notebook can name thousands of made-up cell types)
    listed = ", ".join(f"{n} {cut(visible(k), 30)}" for k, n in sorted(common))
    if len(kinds) > MAX_KINDS_SAID:
        listed += f" and {len(kinds) - MAX_KINDS_SAID:,} other cell types"
    if not cells:
        what = "it has no cells at all"
    elif not kinds["code"]:
        what = f"it has {len(cells)} cell{'s' if len(cells) != 1 else ''} ({listed}), none of them a code cell"
    else:
        what = (f"its {kinds['code']} code cell{'s are' if kinds['code'] != 1 else ' is'} empty, comments only or "
                f"the released test cells ({len(cells)} cells: {listed})")
    return (f"Your notebook has no code: {what}. Did you submit the right file? Open your {notebook} in Jupyter, "
            "check that your code is in it, save it (File > Save), and submit again. Nothing was graded.")


# --- step 2 --------------------------------------------------------------------------------------
def is_test_cell(cell: Any) -> bool:
    """An nbgrader autograded-test cell, by its metadata (trusted only in the course's own notebooks)."""
    meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell.get("metadata"), dict) else {}
    return bool(isinstance(meta, dict) and meta.get("grade") and not meta.get("solution"))


def cell_source(cell: Any) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(str(s) for s in source)
    return source if isinstance(source, str) else ""


def released_test_sources(course: Course, assignment: Assignment) -> frozenset[str]:
    """The visible test cells of the released notebook (the course's copy, not the student's)."""
    return _released_facts(course, assignment)[0]


def declared_functions(course: Course, assignment: Assignment) -> frozenset[str]:
    """The functions the released notebook defines at top level: the only names a hidden test may call."""
    return _released_facts(course, assignment)[1]


def released_imports(course: Course, assignment: Assignment) -> tuple[str, ...]:
    """The modules the released notebook imports at the top level of its graded cells (``import numpy as np``,
    ``from scipy.signal import correlate2d``), sorted: what a warm worker's zygote imports before any
    submission. Read from the course's copy, never from a student's."""
    return _released_facts(course, assignment)[2]


def _released_facts(course: Course, assignment: Assignment) -> tuple[frozenset[str], frozenset[str], tuple[str, ...]]:
    path = course.released_notebook(assignment)
    try:
        return read_released_facts(path)
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist: run `autograder release {assignment.id}` first.") from None


def read_released_facts(path: Path) -> tuple[frozenset[str], frozenset[str], tuple[str, ...]]:
    """(visible test cell sources, top-level function names, imported modules) of the released notebook at
    ``path`` (:func:`_read_released`)."""
    st = path.stat()
    return _read_released(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=16)
def _read_released(path: str, mtime_ns: int, size: int) -> tuple[frozenset[str], frozenset[str], tuple[str, ...]]:
    """(visible test cell sources, top-level function names, imported modules) of a released notebook, read
    once per version of the file (a batch grades many submissions against it)."""
    nb = nbformat.read(path, as_version=4)
    tests: set[str] = set()
    names: set[str] = set()
    imports: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if is_test_cell(cell):
            tests.add(cell_source(cell).strip())
        source = "\n".join(line for line in cell_source(cell).splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            raise ConfigError(f"{path}: a code cell does not parse ({exc}); fix the solution notebook and release "
                              "again.") from None
        names.update(n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
        tags = cell.get("metadata", {}).get("tags", [])
        if not (isinstance(tags, list) and SKIP_TAG in tags):
            for node in tree.body:
                if isinstance(node, ast.Import):
                    imports.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    imports.add(node.module)
    return frozenset(tests), frozenset(names), tuple(sorted(imports))


CELL_LABEL_LINE = 60  # characters of a cell's first line quoted in its label


def cell_label(source: str) -> str:
    """How feedback names a code cell, since Jupyter shows no cell numbers: by the functions (or classes) it
    defines, "The cell that defines `build_augmenter`", else by its first line of code, "The cell that starts
    `model.fit(x, y)`" (the student's own text, as an inline code span that Markdown shows as text)."""
    from autograder.names import code_span

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        tree = None
    if tree is not None:
        defined = [node.name for node in tree.body
                   if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]
        if defined:
            names = [code_span(name, CELL_LABEL_LINE) for name in defined[:3]]
            listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
            return f"The cell that defines {listed}" + (f" (and {len(defined) - 3} more)" if len(defined) > 3 else "")
    for line in source.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return f"The cell that starts {code_span(line.strip(), CELL_LABEL_LINE)}"
    return "An empty cell"


def labelled(outcomes: dict[int, CellOutcome], cells: list[tuple[int, str]]) -> list[CellOutcome]:
    """The outcomes of the cells that ran, in order, each with its :func:`cell_label`."""
    return [dataclasses.replace(outcomes[i], label=cell_label(source)) for i, source in cells if i in outcomes]


def select_cells(nb: nbformat.NotebookNode, test_sources: frozenset[str] = frozenset()) -> list[tuple[int, str]]:
    """The code cells to run at grading time.

    Left out: exact copies of the released visible test cells (``test_sources``; the hidden suite grades the
    same questions), recognised by their source, never by the submission's own metadata (which a student can
    edit), and cells tagged ``skip-grading`` (pictures and demos; removing the tag only costs time).
    """
    cells = []
    for index, cell in enumerate(nb.cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", []) if isinstance(cell.get("metadata"), dict) else []
        if isinstance(tags, list) and SKIP_TAG in tags:
            continue
        source = cell_source(cell)
        if source.strip() and source.strip() not in test_sources:
            cells.append((index, source))
    return cells


# --- step 5 --------------------------------------------------------------------------------------
def apportion(total: int, weights: list[Fraction]) -> list[int]:
    """Split ``total`` hundredths among ``weights`` in proportion, as whole hundredths that add up to ``total``
    exactly (largest remainder; ties go to the earlier test)."""
    whole = sum(weights, Fraction(0))
    exact = [total * w / whole for w in weights]
    shares = [int(x) for x in exact]  # floor: every x >= 0
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def score(assignment: Assignment, outcomes: list[TestOutcome]) -> tuple[list[TestResult], list[QuestionResult]]:
    """Apply course.yml's points: each auto-graded question's points are shared among its tests by weight.

    Scores are counted in whole hundredths of a point: a question's points are split among its tests as
    hundredths that add up to the points exactly (three tests of a 2-point question get 0.67, 0.67 and 0.66),
    so every score shown (test, question, total) is the exact sum of the ones below it, never "1.9999".
    Manually graded questions (``manual: true``) have no hidden tests: a TA grades them in nbgrader.
    """
    by_question: dict[str, list[TestOutcome]] = {}
    for o in outcomes:
        by_question.setdefault(o.question, []).append(o)
    auto = [q for q in assignment.questions if not q.manual]
    unknown = by_question.keys() - {q.id for q in auto}
    if unknown:
        raise ConfigError(f"Hidden suite of {assignment.id} grades unknown or manual questions: {sorted(unknown)}")
    results: list[TestResult] = []
    questions: list[QuestionResult] = []
    for q in auto:
        tests = by_question.get(q.id, [])
        if not tests:
            raise ConfigError(f"Hidden suite of {assignment.id} has no test for question {q.id!r}")
        bad = sorted({t.name for t in tests if not t.weight >= 0})
        if bad or not any(t.weight > 0 for t in tests):
            raise ConfigError(
                f"Hidden suite of {assignment.id}: question {q.id!r} "
                + (f"has tests with a negative (or not a number) weight: {', '.join(bad)}" if bad else
                   "has only tests of weight 0, so its points cannot be shared")
                + "; give each @question(...) a weight >= 0, and at least one test of the question a weight > 0.")
        shares = apportion(hundredths(q.points), [Fraction(t.weight) for t in tests])
        costs = failure_costs(tests, shares, hundredths(q.points))
        earned = 0
        for t, share, cost in zip(tests, shares, costs, strict=True):
            earned += share - cost
            results.append(
                TestResult(
                    name=t.name,
                    question=q.id,
                    score=(share - cost) / 100,
                    max_score=share / 100,
                    status="passed" if t.passed else "failed",
                    output=t.message,
                    worked_example=t.worked_example,
                    figures=t.figures,
                    measurements=t.measurements,
                    notes=t.notes,
                    charged=t.passed or cost > 0,
                )
            )
        questions.append(QuestionResult(
            id=q.id, title=q.title, score=earned / 100, max_score=hundredths(q.points) / 100,
            tests_passed=sum(t.passed for t in tests), tests=len(tests),
        ))
    return results, questions


def failure_costs(tests: list[TestOutcome], shares: list[int], points: int) -> list[int]:
    """What each test of one question costs, in hundredths: a passed test nothing; a failure without a diagnosed
    cause (``TestOutcome.cause``: a hidden test's own "<cause> Case: ..." Fail) its whole share; the failures of
    one diagnosed cause together their shares, at most half of the question's ``points``: a mistake the grader
    recognised, computed exactly on the trusted side, is one slip in an otherwise right method, so it never costs
    most of a question, however many tests it breaks. Within a cause the heaviest tests are charged first (the
    earlier of equals). The README's authoring section, "Penalties"."""
    costs = [0 if t.passed else share for t, share in zip(tests, shares, strict=True)]
    by_cause: dict[str, list[int]] = {}
    for i, t in enumerate(tests):
        cause = "" if t.passed else t.cause
        if cause:
            by_cause.setdefault(cause, []).append(i)
    for members in by_cause.values():
        left = points // 2
        for i in sorted(members, key=lambda i: (-shares[i], i)):
            costs[i] = min(shares[i], left)
            left -= costs[i]
    return costs


def hundredths(points: float) -> int:
    """Points as whole hundredths (course.yml's points are multiples of 0.01)."""
    return round(Fraction(points) * 100)


def total_score(questions: list[QuestionResult]) -> float:
    """The exact sum of the questions' scores (summed in hundredths)."""
    return sum(hundredths(q.score) for q in questions) / 100


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading if it is a regular file; OSError for a symbolic link (never followed: a student's
    link to /etc/shadow), a FIFO (it would block), a device (/dev/zero never ends) or a folder."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def sha256_file(path: Path) -> str:
    """The sha256 of a regular file (:func:`open_regular`)."""
    h = hashlib.sha256()
    with open_regular(path) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _sha256_or_empty(path: Path) -> str:
    try:
        return sha256_file(path)
    except OSError:  # not a regular file: read_submission refuses it with what to do
        return ""


def grade_submission(
    course: Course, assignment: Assignment, sub: SubmissionInput, *, runner: str = "cpu"
) -> GradeResult:
    """Grade one submission. Never raises for anything the submission does."""
    limits = course.limits_for(assignment)
    started = time.monotonic()
    result = GradeResult(
        student=sub.student, assignment=assignment.id, status="graded", score=0.0,
        max_score=assignment.auto_max_score, runner=runner, submission_sha256=_sha256_or_empty(sub.notebook),
    )
    spec = worker_spec(course, assignment, runner)
    if sub.notebook.lstat().st_size <= limits.max_submission_mb * 1024 * 1024:  # (else refused below, unread)
        prestart_worker(spec)  # a warm zygote's imports run while this process reads the notebook and the suite
        _preimport_keras(spec.preload)
    try:
        nb, note = read_submission(sub.notebook, limits)  # 1
    except Ungradable as exc:
        result.status, result.message = "ungradable", str(exc)
        return bound_result(result)
    test_sources = released_test_sources(course, assignment)
    if not has_code(nb, test_sources):  # one line for the student, not a failed test per function
        result.status, result.message = "ungradable", no_code_message(nb, assignment.notebook)
        return bound_result(result)
    result.message = note  # (the outputs left out, if any)
    cells = select_cells(nb, test_sources)  # 2
    deadline = started + limits.total_timeout_s
    with NotebookSession(list(cells), spec, deadline=deadline) as session, \
            CourseFunctions(course, assignment, spec, deadline=deadline) as course_functions:
        context = GradingContext(course, assignment, runner)
        proxy = SubmissionProxy(session, declared_functions(course, assignment), assignment.id)
        # 3, 4: the worker starts and runs the notebook's cells when the first hidden test calls into it (pytest
        # collects the suite meanwhile); a test that never does leaves the cells to the start below
        _keras_imported()
        run = run_suite(course.hidden_suite(assignment), proxy, context,
                        substitute=functools.partial(course_functions.substitute, session))
        if session.restarts == 0:
            try:
                session.start()
            except (BudgetExhausted, StudentCodeProblem):
                pass  # recorded in session.outcomes
        result.cells = labelled(session.outcomes, cells)
        result.worker_output = session.output_text()
        session.close()  # (the workers' peak memory is known once they have ended)
        peak_mib = round(session.peak_kib / 1024, 1)
        result.worker_peak_mib = memory_bucket(peak_mib)
        replay_notes = session.replay_notes
        result.worker_start = ", ".join(sorted(session.worker_starts))
        student_warnings = session.warnings_text()
        timed_out = session.timed_out
    result.tests, result.questions = score(assignment, run.outcomes)  # 5
    for q in result.questions:
        if q.id in run.substituted or (q.id in run.notes and q.tests_passed < q.tests):
            q.note = run.notes[q.id]
    result.score = total_score(result.questions)
    sections = [*run.instructor_notes, *course_functions.notes,
                *(["Cells that behaved otherwise when run again in a fresh worker (after calls, so the student "
                   "does not see this):\n" + "\n".join(replay_notes)] if replay_notes else []),
                *([f"Worker peak memory: {peak_mib:g} MiB"] if peak_mib else []),
                *([f"Warnings from the student's code:\n{student_warnings}"] if student_warnings else []),
                *(f"{o.nodeid}\n{o.detail}" for o in run.outcomes if o.detail)]
    result.instructor_log = "\n\n".join(sections)
    if timed_out:
        result.status = "timeout"
        result.message = " ".join(x for x in (f"The submission used up its {limits.total_timeout_s:g} s time limit.",
                                              note) if x)
    result.execution_time = round(time.monotonic() - started, 2)
    return bound_result(result)  # whatever the notebook did, its files stay small


_KERAS_MODULES = frozenset({"tensorflow", "keras", "tf_keras"})
_keras_import: threading.Thread | None = None


def _preimport_keras(preload: tuple[str, ...]) -> None:
    """When the notebook uses Keras, the hidden tests rebuild its models with Keras here (the trusted side):
    import it in the background, once per grader process, while the worker's zygote imports it too, instead of
    after the first model arrives (seconds each). Only for such notebooks: grading 01 never imports TensorFlow."""
    global _keras_import
    if _keras_import is None and any(m.split(".")[0] in _KERAS_MODULES for m in preload):
        _keras_import = threading.Thread(target=_import_quietly, args=("keras",), name="keras-import", daemon=True)
        _keras_import.start()


def _keras_imported() -> None:
    """Wait for the background import of Keras (once per grader process; at once afterwards) before the hidden suite
    imports anything: two threads importing TensorFlow's modules at the same time can deadlock on Python's import
    locks, which Python breaks by handing one of them a half-initialised module ("module 'keras' has no attribute
    'saving'", seen once in 1,230 tests on a fresh clone, failing a student's test)."""
    if _keras_import is not None:
        _keras_import.join()


def _import_quietly(name: str) -> None:
    try:
        importlib.import_module(name)
    except Exception:  # noqa: BLE001 - the test that needs it imports it again and reports the problem
        pass


def memory_bucket(mib: float) -> float:
    """A worker's peak memory as results.json keeps it: rounded up to a power of two (0 if unknown). The student's
    code chooses how much memory it uses, after hidden inputs have reached it; the exact figure is in
    instructor.log only."""
    return 0.0 if mib <= 0 else float(2 ** math.ceil(math.log2(max(mib, 1.0))))


def worker_spec(course: Course, assignment: Assignment, runner: str = "cpu") -> WorkerSpec:
    """How the worker for this assignment is set up: limits, files next to the notebook, converters."""
    return make_worker_spec(
        limits=course.limits_for(assignment),
        files=[course.root / f for f in assignment.files],  # released with the notebook (e.g. workbooks)
        run_training_cells=assignment.run_training_cells,
        warm_start=course.sandbox.warm,
        preload=released_imports(course, assignment),
        secret=isolation.course_secrets(course),
    )


def make_worker_spec(*, limits: Limits, files: list[Path], run_training_cells: bool, warm_start: bool,
                     preload: tuple[str, ...], secret: tuple[str, ...]) -> WorkerSpec:
    """A worker for a course's notebooks (grading, and validate in a student's folder): its limits and files,
    Keras models and datasets as plain data, fit() in notebook cells skipped unless ``run_training_cells``."""
    return WorkerSpec(
        limits=limits,
        files=files,
        extensions=[KERAS_EXT],
        trusted_ext=trusted_extensions(),
        cell_options={"skip_training": not run_training_cells},
        warm_start=warm_start,
        preload=preload,
        secret=secret,
    )
