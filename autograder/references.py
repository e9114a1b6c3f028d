"""Reference answers derived from the course's workbooks, never typed in by hand.

The workbooks an assignment lists under ``files:`` in course.yml (for 01: ``convolution
operation.xlsx`` and ``activation fn.xlsx`` in ``datasets/workbooks`` of the course root) hold the
lecture's inputs as values and every output as a live formula.  :func:`load_reference_book` opens
them with openpyxl, evaluates the formulas with the ``formulas`` engine and reads every block
through its workbook-level defined name ``<case>_<field>`` (the scheme is documented in
:mod:`autograder.workbooks`).  Cases are discovered from those names, so adding a block and its
names in Excel or LibreOffice adds a case; editing a value changes the answers.  The hidden suites
receive the book of their course through the ``reference_book`` fixture (:func:`course_reference_book`).

A file saved by Excel or LibreOffice also carries the values the program computed: they are checked
against the engine's, so a formula the engine reads differently from the spreadsheet program is
refused instead of grading against a wrong answer.  A file written by openpyxl has no such values
and is trusted to the engine alone.

A workbook named like a course workbook (:data:`REQUIRED_CASES`) must hold the lecture's cases.
Results are cached in memory (``functools.lru_cache``) keyed on the resolved paths, modification
times and sizes of the files: editing a workbook invalidates the cache.  Evaluating the formulas takes
seconds, so the evaluated book is also kept on disk, as JSON (never pickle), in
``$AUTOGRADER_CACHE/references`` (default ``~/.cache/cnn-autograder/references``, a folder only the
grader's user may enter), named by the sha256 of the workbooks' bytes, of this module's source and of
the engine's versions: a grader process reads it in milliseconds, any change to a workbook or to the
reader makes a new entry, and an entry that is unreadable, malformed, or writable by another user is
ignored and rewritten.  Arrays are float64 and read-only; the book's dictionaries refuse changes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import threading
import types
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import numpy as np
from openpyxl import load_workbook
from openpyxl.utils.cell import range_boundaries
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from autograder.errors import WorkbookError

if TYPE_CHECKING:
    from autograder.config import Assignment, Course

__all__ = [
    "ActivationCase",
    "ConvolutionCase",
    "PoolingCase",
    "REQUIRED_CASES",
    "ReferenceBook",
    "WorkbookError",
    "course_reference_book",
    "load_reference_book",
    "workbook_files",
]

#: The lecture's cases, by the workbook that holds them: a course workbook lacking one is refused.
REQUIRED_CASES: Mapping[str, Mapping[str, str]] = types.MappingProxyType(
    {
        "convolution operation.xlsx": types.MappingProxyType(
            {
                "stride1_4x6": "convolution",
                "stride1_10x10": "convolution",
                "stride2_4x6": "convolution",
                "stride2_10x10": "convolution",
                "zero_padding_4x6": "convolution",
                "max_2x2_stride2": "pooling",
                "max_2x2_stride1": "pooling",
                "average_2x2_stride2": "pooling",
                "average_2x2_stride1": "pooling",
            }
        ),
        "activation fn.xlsx": types.MappingProxyType(
            {"relu": "activation", "sigmoid": "activation", "leaky_relu": "activation"}
        ),
    }
)

POOLING_MODES = ("max", "average")
ACTIVATION_FUNCTIONS = ("relu", "sigmoid", "leaky_relu")

# Fields of each kind of case: (required, optional).  The kind of a case is told by the fields
# that only that kind has.
_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "convolution": (("image", "kernel", "stride_rows", "stride_cols", "padding", "output"), ("padded",)),
    "pooling": (("input", "size", "stride", "mode", "output"), ()),
    "activation": (("function", "input", "output"), ("alpha",)),
}
_SHARED_FIELDS = frozenset({"input", "output"})
_ALL_FIELDS = sorted({f for req, opt in _FIELDS.values() for f in req + opt}, key=len, reverse=True)
_NAME_RE = re.compile(r"^[a-z_][a-z0-9_.]*$")
# Saved values (Excel, LibreOffice) and the engine's may differ in the last bits of a double.
_SAVED_RTOL = _SAVED_ATOL = 1e-9


@dataclass(frozen=True)
class ConvolutionCase:
    """A convolution block: ``expected`` is the workbook's output for ``image`` * ``kernel``."""

    name: str
    sheet: str
    image: np.ndarray
    kernel: np.ndarray
    stride: tuple[int, int]
    padding: int
    expected: np.ndarray


@dataclass(frozen=True)
class PoolingCase:
    """A pooling block; ``mode`` is "max" or "average", the window is ``size``×``size``."""

    name: str
    sheet: str
    x: np.ndarray
    size: int
    stride: int
    mode: str
    expected: np.ndarray


@dataclass(frozen=True)
class ActivationCase:
    """An activation block; ``function`` is "relu", "sigmoid" or "leaky_relu"; full precision."""

    name: str
    sheet: str
    function: str
    x: np.ndarray
    alpha: float | None
    expected: np.ndarray


_K = TypeVar("_K")
_V = TypeVar("_V")


class _FrozenDict(dict[_K, _V]):
    """A dict that refuses changes: the cached :class:`ReferenceBook` is shared between callers."""

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("ReferenceBook dictionaries are read-only")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self),))


@dataclass(frozen=True)
class ReferenceBook:
    """Every case of the course workbooks, by case name."""

    convolutions: dict[str, ConvolutionCase]
    poolings: dict[str, PoolingCase]
    activations: dict[str, ActivationCase]


# ----------------------------------------------------------------------------------------------
# Public entry point
# ----------------------------------------------------------------------------------------------


def load_reference_book(source: Path | Sequence[Path]) -> ReferenceBook:
    """Read and evaluate workbooks: one ``.xlsx`` file, a folder (every ``*.xlsx`` in it) or a list of files.

    Raises :class:`WorkbookError` naming the file, worksheet and defined name when a workbook is
    missing, a case is incomplete, or a formula cannot be evaluated.  The result is cached until a
    workbook file changes (modification time or size).
    """
    paths = _workbook_paths(source)
    key = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError as exc:
            raise WorkbookError(f"{path}: cannot read the workbook ({exc.strerror or exc})") from None
        key.append((str(path), stat.st_mtime_ns, stat.st_size))
    return _load_cached(tuple(key))


def workbook_files(course: Course, assignment: Assignment) -> list[Path]:
    """The workbooks (``*.xlsx``) the assignment lists under ``files:``, under the course root."""
    return [course.root / f for f in assignment.files if f.suffix.lower() == ".xlsx"]


def course_reference_book(course: Course, assignment: Assignment) -> ReferenceBook:
    """The reference book of one assignment: its own course's workbooks, wherever the course lives."""
    paths = workbook_files(course, assignment)
    if not paths:
        raise WorkbookError(
            f"{course.root / 'course.yml'}: assignment {assignment.id} lists no workbook (.xlsx) under `files:`, "
            "but its hidden suite asks for the reference book; add the workbooks to `files:`"
        )
    return load_reference_book(paths)


def _workbook_paths(source: Path | Sequence[Path]) -> list[Path]:
    if isinstance(source, Path) and source.is_dir():
        paths = sorted(
            p for p in source.iterdir()
            if p.suffix.lower() == ".xlsx" and p.is_file() and not p.name.startswith(("~$", "."))
        )
        if not paths:
            raise WorkbookError(f"{source}: no workbook (*.xlsx) in this folder")
    else:
        paths = [source] if isinstance(source, Path) else list(source)
    resolved = []
    for path in paths:
        if not path.is_file():
            raise WorkbookError(f"{path}: workbook not found (check `files:` in course.yml)")
        resolved.append(path.resolve())
    return resolved


@functools.lru_cache(maxsize=32)
def _load_cached(key: tuple[tuple[str, int, int], ...]) -> ReferenceBook:
    paths = [Path(path_text) for path_text, _mtime, _size in key]
    try:
        digest = _book_digest(paths)
    except OSError as exc:
        raise WorkbookError(f"cannot read the workbooks {', '.join(map(str, paths))} ({exc})") from None
    entry = _cache_dir() / f"{digest}.json"
    book = _read_entry(entry)
    if book is None:
        book = _evaluate_book(key)
        _write_entry(entry, book)
    return book


# --- the evaluated book on disk ----------------------------------------------------------------


def _cache_dir() -> Path:
    from autograder.cache import cache_root

    return cache_root() / "references"


def _book_digest(paths: Sequence[Path]) -> str:
    """sha256 of the workbooks' names and bytes, of this module's source and of the engine's versions."""
    import formulas
    import openpyxl

    h = hashlib.sha256()
    h.update(f"openpyxl {openpyxl.__version__}; formulas {formulas.__version__}\n".encode())
    h.update(Path(__file__).read_bytes())
    for path in paths:
        h.update(f"\0{path.name}\0".encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _array_json(a: np.ndarray) -> dict[str, Any]:
    return {"shape": list(a.shape), "values": [float(v) for v in a.ravel()]}


def _array(d: dict[str, Any]) -> np.ndarray:
    a = np.array(d["values"], dtype=np.float64).reshape(d["shape"])
    a.flags.writeable = False
    return a


def _book_json(book: ReferenceBook) -> dict[str, Any]:
    return {
        "convolutions": [
            {"name": c.name, "sheet": c.sheet, "image": _array_json(c.image), "kernel": _array_json(c.kernel),
             "stride": list(c.stride), "padding": c.padding, "expected": _array_json(c.expected)}
            for c in book.convolutions.values()],
        "poolings": [
            {"name": c.name, "sheet": c.sheet, "x": _array_json(c.x), "size": c.size, "stride": c.stride,
             "mode": c.mode, "expected": _array_json(c.expected)}
            for c in book.poolings.values()],
        "activations": [
            {"name": c.name, "sheet": c.sheet, "function": c.function, "x": _array_json(c.x), "alpha": c.alpha,
             "expected": _array_json(c.expected)}
            for c in book.activations.values()],
    }


def _book_from_json(data: dict[str, Any]) -> ReferenceBook:
    convolutions = {d["name"]: ConvolutionCase(
        name=str(d["name"]), sheet=str(d["sheet"]), image=_array(d["image"]), kernel=_array(d["kernel"]),
        stride=(int(d["stride"][0]), int(d["stride"][1])), padding=int(d["padding"]), expected=_array(d["expected"]),
    ) for d in data["convolutions"]}
    poolings = {d["name"]: PoolingCase(
        name=str(d["name"]), sheet=str(d["sheet"]), x=_array(d["x"]), size=int(d["size"]), stride=int(d["stride"]),
        mode=str(d["mode"]), expected=_array(d["expected"]),
    ) for d in data["poolings"]}
    activations = {d["name"]: ActivationCase(
        name=str(d["name"]), sheet=str(d["sheet"]), function=str(d["function"]), x=_array(d["x"]),
        alpha=None if d["alpha"] is None else float(d["alpha"]), expected=_array(d["expected"]),
    ) for d in data["activations"]}
    return ReferenceBook(
        convolutions=_FrozenDict(sorted(convolutions.items())),
        poolings=_FrozenDict(sorted(poolings.items())),
        activations=_FrozenDict(sorted(activations.items())),
    )


def _read_entry(entry: Path) -> ReferenceBook | None:
    """The cached book, or None when there is none to trust: missing, malformed, or a file or folder that
    someone but this user could have written (the book decides scores)."""
    try:
        fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            st, folder = os.fstat(f.fileno()), entry.parent.stat()
            if any(x.st_uid != os.getuid() or x.st_mode & 0o022 for x in (st, folder)):
                return None
            return _book_from_json(json.loads(f.read()))
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def _write_entry(entry: Path, book: ReferenceBook) -> None:
    """Keep the book for the next grader process (atomically; a cache that cannot be written is skipped)."""
    tmp = entry.with_name(f".{entry.name}.{os.getpid()}.tmp")
    try:
        entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(_book_json(book), f)
        os.replace(tmp, entry)
    except OSError:
        tmp.unlink(missing_ok=True)


def _evaluate_book(key: tuple[tuple[str, int, int], ...]) -> ReferenceBook:
    convolutions: dict[str, ConvolutionCase] = {}
    poolings: dict[str, PoolingCase] = {}
    activations: dict[str, ActivationCase] = {}
    seen: dict[str, Path] = {}
    for path_text, _mtime, _size in key:
        path = Path(path_text)
        cases = _WorkbookReader(path).cases()
        for case in cases:
            if case.name in seen:
                raise WorkbookError(
                    f"{path}: case {case.name!r} is defined again (already in {seen[case.name].name})"
                )
            seen[case.name] = path
            if isinstance(case, ConvolutionCase):
                convolutions[case.name] = case
            elif isinstance(case, PoolingCase):
                poolings[case.name] = case
            else:
                activations[case.name] = case
        kinds = {c.name: _kind(c) for c in cases}
        for name, kind in REQUIRED_CASES.get(path.name, {}).items():
            if kinds.get(name) != kind:
                fields = ", ".join(f"{name}_{f}" for f in _FIELDS[kind][0])
                raise WorkbookError(
                    f"{path}: the lecture's {kind} case {name!r} is missing: expected the defined names {fields}"
                )
    return ReferenceBook(
        convolutions=_FrozenDict(sorted(convolutions.items())),
        poolings=_FrozenDict(sorted(poolings.items())),
        activations=_FrozenDict(sorted(activations.items())),
    )


def _kind(case: ConvolutionCase | PoolingCase | ActivationCase) -> str:
    if isinstance(case, ConvolutionCase):
        return "convolution"
    return "pooling" if isinstance(case, PoolingCase) else "activation"


# ----------------------------------------------------------------------------------------------
# The formulas engine
# ----------------------------------------------------------------------------------------------

_ENGINE_LOCK = threading.Lock()
_CELL_KEY_RE = re.compile(r"^'?\[(?P<book>[^\]]*)\](?P<sheet>.*?)'?!\$?(?P<col>[A-Z]+)\$?(?P<row>\d+)$")


class _QuietTqdm:
    """Stands in for the ``tqdm`` module inside ``formulas.excel``: no progress bar on stderr."""

    @staticmethod
    def tqdm(*args: Any, **kwargs: Any) -> Any:
        import tqdm

        kwargs["disable"] = True
        return tqdm.tqdm(*args, **kwargs)


class _EngineFailure(Exception):
    """The formulas engine failed on the whole workbook; the reader finds the culprit cell."""


def _formula_problem(formula: str) -> str | None:
    """Why the formulas engine cannot compile ``formula``, or None if it can."""
    import formulas

    try:
        with warnings.catch_warnings():
            for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
                warnings.simplefilter("ignore", category)
            formulas.Parser().ast(formula)[1].compile()
    except Exception as exc:  # parse errors come in many classes
        return f"{type(exc).__name__}: {exc}"
    return None


def _evaluate(path: Path) -> dict[tuple[str, str], Any]:
    """Evaluate every formula of ``path``; return {(SHEET (upper case), "B3"): value}."""
    try:
        import formulas
        import formulas.excel as formulas_excel
        import schedula
    except ImportError as exc:  # pragma: no cover - the package is a hard requirement
        raise WorkbookError(f"{path}: the 'formulas' package is needed to evaluate workbooks: {exc}") from exc
    with _ENGINE_LOCK, warnings.catch_warnings():
        # The engine (formulas, schedula, numpy underneath) may warn about its own internals or
        # about an overflowing EXP; the outcome is judged from the values it returns.
        for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning, RuntimeWarning):
            warnings.simplefilter("ignore", category)
        saved_tqdm = formulas_excel.__dict__.get("tqdm")
        formulas_excel.tqdm = _QuietTqdm
        try:
            model = formulas.ExcelModel().loads(str(path)).finish()
            solution = model.calculate()
        except Exception as exc:  # the engine raises many kinds (parse errors, unknown ranges...)
            raise _EngineFailure(f"{type(exc).__name__}: {exc}") from exc
        finally:
            formulas_excel.tqdm = saved_tqdm
    values: dict[tuple[str, str], Any] = {}
    for node, result in solution.items():
        match = _CELL_KEY_RE.match(str(node))
        if match is None:
            continue
        value = getattr(result, "value", result)
        if isinstance(value, np.ndarray):
            if value.size != 1:
                continue
            value = value.reshape(-1)[0]
        if value is schedula.EMPTY:
            value = None
        sheet = match["sheet"].replace("''", "'").upper()
        values[(sheet, f"{match['col']}{match['row']}")] = value
    return values


def _xl_error_type() -> type:
    from formulas.tokens.operand import XlError

    return XlError


# ----------------------------------------------------------------------------------------------
# Reading one workbook
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Block:
    name: str
    sheet: str
    min_col: int
    min_row: int
    max_col: int
    max_row: int

    @property
    def shape(self) -> tuple[int, int]:
        return (self.max_row - self.min_row + 1, self.max_col - self.min_col + 1)


class _WorkbookReader:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.book: Workbook = load_workbook(path, data_only=False)
            # What Excel or LibreOffice computed when it saved the file (None everywhere for openpyxl's files)
            self.saved: Workbook = load_workbook(path, data_only=True)
        except Exception as exc:
            raise WorkbookError(f"{path}: cannot open the workbook: {type(exc).__name__}: {exc}") from exc
        self.names = {
            d.name.lower(): d
            for d in self.book.defined_names.values()
            if not d.hidden and not d.name.startswith("_xlnm.")
        }
        self._values: dict[tuple[str, str], Any] | None = None

    # -- names and blocks ----------------------------------------------------------------------

    def block(self, case: str, field: str) -> _Block:
        name = f"{case}_{field}"
        defined = self.names.get(name)
        if defined is None:
            raise WorkbookError(f"{self.path}: defined name {name!r} is missing")
        parsed = self._parse_reference(name, defined)
        if parsed is None:
            raise WorkbookError(
                f"{self.path}: defined name {name!r} refers to {defined.attr_text!r}, "
                "not to one range of cells on a worksheet"
            )
        return parsed

    def _parse_reference(self, name: str, defined: DefinedName) -> _Block | None:
        """The one worksheet range a defined name refers to (openpyxl parses it), or None."""
        try:
            destinations = list(defined.destinations) if defined.type == "RANGE" else []
        except Exception:  # openpyxl's tokenizer refuses the text
            return None
        if len(destinations) != 1:
            return None
        sheet, cells = destinations[0]
        titles = {title.upper(): title for title in self.book.sheetnames}
        if sheet.upper() not in titles:
            raise WorkbookError(f"{self.path}: defined name {name!r} refers to a missing worksheet {sheet!r}")
        min_col, min_row, max_col, max_row = range_boundaries(cells.replace("$", ""))
        if None in (min_col, min_row, max_col, max_row):  # whole rows or columns
            return None
        assert min_col is not None and min_row is not None and max_col is not None and max_row is not None
        return _Block(name, titles[sheet.upper()], min_col, min_row, max_col, max_row)

    # -- values ----------------------------------------------------------------------------------

    def _cells(self, block: _Block) -> list[list[tuple[str, Any]]]:
        """The block's (coordinate, value) rows; formulas are evaluated (and checked against saved values)."""
        ws, saved = self.book[block.sheet], self.saved[block.sheet]
        rows = ws.iter_rows(min_row=block.min_row, max_row=block.max_row, min_col=block.min_col,
                            max_col=block.max_col)
        return [[(cell.coordinate, self._value(cell, saved, block)) for cell in row] for row in rows]

    def _value(self, cell: Any, saved: Worksheet, block: _Block) -> Any:
        if cell.data_type != "f":
            return cell.value
        if self._values is None:
            self._values = self._evaluate()
        where = f"{self.path}: sheet {block.sheet!r}, cell {cell.coordinate} of {block.name!r}"
        key = (block.sheet.upper(), cell.coordinate)
        if key not in self._values:
            raise WorkbookError(f"{where}: the formulas engine gave no value for {cell.value!r}")
        value = self._values[key]
        if isinstance(value, _xl_error_type()):
            raise WorkbookError(f"{where}: formula {cell.value!r} evaluates to the error {value}")
        kept = saved[cell.coordinate].value
        if _is_number(kept) and _is_number(value) and not math.isclose(
            float(value), float(kept), rel_tol=_SAVED_RTOL, abs_tol=_SAVED_ATOL
        ):
            raise WorkbookError(
                f"{where}: formula {cell.value!r} gives {value!r} in the grader's formula engine but {kept!r} "
                "in the program that saved the file; open the workbook, recalculate (Ctrl+Shift+F9 in "
                "LibreOffice, Ctrl+Alt+F9 in Excel), save, and if they still differ, rewrite the formula"
            )
        return value

    def _evaluate(self) -> dict[tuple[str, str], Any]:
        quoted = [title for title in self.book.sheetnames if "'" in title]
        if quoted:  # formulas 1.3 turns references to such sheets into #REF! or crashes
            raise WorkbookError(
                f"{self.path}: sheet {quoted[0]!r}: the formulas engine cannot evaluate a workbook whose "
                "sheet names contain an apostrophe; rename the sheet"
            )
        try:
            return _evaluate(self.path)
        except _EngineFailure as failure:
            culprit = self._find_bad_formula()
            raise WorkbookError(
                f"{self.path}: the formulas engine could not evaluate the workbook"
                f"{culprit or f': {failure}'}"
            ) from failure.__cause__

    def _find_bad_formula(self) -> str:
        """Describe the first formula the engine cannot compile: sheet, cell, defined names."""
        blocks = [b for n, t in self.names.items() if (b := self._parse_reference(n, t)) is not None]
        for ws in self.book.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    if cell.data_type != "f" or not isinstance(cell.value, str):
                        continue
                    problem = _formula_problem(cell.value)
                    if problem is None:
                        continue
                    r, c = cell.row, cell.column
                    inside = [
                        repr(b.name)
                        for b in blocks
                        if b.sheet == ws.title and b.min_row <= r <= b.max_row and b.min_col <= c <= b.max_col
                    ]
                    where = f" (in {', '.join(inside)})" if inside else ""
                    return f": sheet {ws.title!r}, cell {cell.coordinate}{where}: formula {cell.value!r}: {problem}"
        return ""

    def matrix(self, case: str, field: str) -> np.ndarray:
        block = self.block(case, field)
        rows = [[self._number(block, coordinate, value) for coordinate, value in row] for row in self._cells(block)]
        return _frozen(np.array(rows, dtype=np.float64))

    def _number(self, block: _Block, coordinate: str, value: Any) -> float:
        if not _is_number(value):
            what = "is empty" if value is None or value == "" else f"holds {value!r}, not a number"
            raise WorkbookError(
                f"{self.path}: sheet {block.sheet!r}, cell {coordinate} of {block.name!r} {what}"
            )
        number = float(value)
        if not math.isfinite(number):
            raise WorkbookError(
                f"{self.path}: sheet {block.sheet!r}, cell {coordinate} of {block.name!r} "
                f"is not finite ({number})"
            )
        return number

    def scalar(self, case: str, field: str) -> tuple[_Block, str, Any]:
        block = self.block(case, field)
        if block.shape != (1, 1):
            raise WorkbookError(
                f"{self.path}: defined name {block.name!r} on sheet {block.sheet!r} must be a single cell, "
                f"not a {block.shape[0]}×{block.shape[1]} range"
            )
        ((coordinate, value),) = self._cells(block)[0]
        return block, coordinate, value

    def integer(self, case: str, field: str, minimum: int) -> int:
        block, coordinate, value = self.scalar(case, field)
        number = self._number(block, coordinate, value)
        if number != int(number) or number < minimum:
            raise WorkbookError(
                f"{self.path}: sheet {block.sheet!r}, cell {coordinate} of {block.name!r} must be a whole "
                f"number ≥ {minimum}, not {value!r}"
            )
        return int(number)

    def real(self, case: str, field: str) -> float:
        block, coordinate, value = self.scalar(case, field)
        return self._number(block, coordinate, value)

    def choice(self, case: str, field: str, allowed: Iterable[str]) -> str:
        block, coordinate, value = self.scalar(case, field)
        allowed = tuple(allowed)
        text = re.sub(r"[\s-]+", "_", str(value).strip().lower()) if isinstance(value, str) else None
        if text not in allowed:
            raise WorkbookError(
                f"{self.path}: sheet {block.sheet!r}, cell {coordinate} of "
                f"{block.name!r} must be one of {', '.join(allowed)}, not {value!r}"
            )
        return text

    # -- cases ---------------------------------------------------------------------------------

    def _case_fields(self) -> dict[str, set[str]]:
        cases: dict[str, set[str]] = {}
        for name in self.names:
            for field in _ALL_FIELDS:
                case = name.removesuffix(f"_{field}")
                if case != name and case and _NAME_RE.match(case):
                    cases.setdefault(case, set()).add(field)
                    break
        return cases

    def cases(self) -> list[ConvolutionCase | PoolingCase | ActivationCase]:
        result: list[ConvolutionCase | PoolingCase | ActivationCase] = []
        for case, fields in sorted(self._case_fields().items()):
            kinds = [
                kind for kind, (req, opt) in _FIELDS.items() if fields & (set(req + opt) - _SHARED_FIELDS)
            ]
            if len(kinds) != 1:
                listed = ", ".join(f"{case}_{f}" for f in sorted(fields))
                problem = "mixes fields of " + " and ".join(kinds) if kinds else "has only"
                raise WorkbookError(
                    f"{self.path}: case {case!r} {problem} ({listed}); a convolution needs {case}_kernel, "
                    f"a pooling {case}_mode, an activation {case}_function"
                )
            kind = kinds[0]
            missing = [f"{case}_{f}" for f in _FIELDS[kind][0] if f not in fields]
            if missing:
                sheet = self._sheet_of(case, fields)
                raise WorkbookError(
                    f"{self.path}: {kind} case {case!r}{sheet} is incomplete: defined name(s) "
                    f"{', '.join(repr(m) for m in missing)} missing"
                )
            if kind == "convolution":
                result.append(self._convolution(case))
            elif kind == "pooling":
                result.append(self._pooling(case))
            else:
                result.append(self._activation(case, "alpha" in fields))
        return result

    def _sheet_of(self, case: str, fields: set[str]) -> str:
        for field in sorted(fields):
            parsed = self._parse_reference(f"{case}_{field}", self.names[f"{case}_{field}"])
            if parsed is not None:
                return f" (sheet {parsed.sheet!r})"
        return ""

    def _check_shape(self, case: str, output: np.ndarray, expected: tuple[int, int], why: str) -> None:
        if output.shape != expected:
            block = self.block(case, "output")
            raise WorkbookError(
                f"{self.path}: sheet {block.sheet!r}: {block.name!r} is {output.shape[0]}×{output.shape[1]} "
                f"but {why} give {expected[0]}×{expected[1]}"
            )

    def _convolution(self, case: str) -> ConvolutionCase:
        image = self.matrix(case, "image")
        kernel = self.matrix(case, "kernel")
        stride = (self.integer(case, "stride_rows", 1), self.integer(case, "stride_cols", 1))
        padding = self.integer(case, "padding", 0)
        expected = self.matrix(case, "output")
        shape = (
            (image.shape[0] - kernel.shape[0] + 2 * padding) // stride[0] + 1,
            (image.shape[1] - kernel.shape[1] + 2 * padding) // stride[1] + 1,
        )
        self._check_shape(case, expected, shape, f"the image, kernel, stride {stride} and padding {padding}")
        return ConvolutionCase(
            name=case,
            sheet=self.block(case, "output").sheet,
            image=image,
            kernel=kernel,
            stride=stride,
            padding=padding,
            expected=expected,
        )

    def _pooling(self, case: str) -> PoolingCase:
        x = self.matrix(case, "input")
        size = self.integer(case, "size", 1)
        stride = self.integer(case, "stride", 1)
        mode = self.choice(case, "mode", POOLING_MODES)
        expected = self.matrix(case, "output")
        shape = ((x.shape[0] - size) // stride + 1, (x.shape[1] - size) // stride + 1)
        self._check_shape(case, expected, shape, f"the input, pool size {size} and stride {stride}")
        return PoolingCase(
            name=case,
            sheet=self.block(case, "output").sheet,
            x=x,
            size=size,
            stride=stride,
            mode=mode,
            expected=expected,
        )

    def _activation(self, case: str, has_alpha: bool) -> ActivationCase:
        function = self.choice(case, "function", ACTIVATION_FUNCTIONS)
        if function == "leaky_relu" and not has_alpha:
            raise WorkbookError(
                f"{self.path}: activation case {case!r} uses leaky_relu but defined name {case + '_alpha'!r} "
                f"is missing"
            )
        alpha = self.real(case, "alpha") if has_alpha else None
        x = self.matrix(case, "input")
        expected = self.matrix(case, "output")
        self._check_shape(case, expected, (x.shape[0], x.shape[1]), "the input's dimensions")
        return ActivationCase(
            name=case,
            sheet=self.block(case, "output").sheet,
            function=function,
            x=x,
            alpha=alpha,
            expected=expected,
        )


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float | np.integer | np.floating)


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=np.float64, copy=True)
    array.setflags(write=False)
    return array
