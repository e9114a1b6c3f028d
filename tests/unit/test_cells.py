"""grade.py steps 1 and 2: reading a submission as a notebook, and choosing the code cells to run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograder.config import Assignment, Course, Limits, Question
from autograder.errors import ConfigError
from autograder.grade import (
    SKIP_TAG,
    Ungradable,
    cell_source,
    is_test_cell,
    read_notebook,
    released_test_sources,
    select_cells,
)

REPO = Path(__file__).resolve().parents[2]
LIMITS = Limits()


def v44(cells: list[dict[str, Any]]) -> str:
    """A v4.4 notebook (no cell ids required) as JSON text."""
    return json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": cells})


def code(source: str | list[str], **metadata: Any) -> dict[str, Any]:
    return {"cell_type": "code", "source": source, "metadata": metadata, "outputs": [], "execution_count": None}


def markdown(source: str, **metadata: Any) -> dict[str, Any]:
    return {"cell_type": "markdown", "source": source, "metadata": metadata}


def nb_of(*cells: dict[str, Any]) -> nbformat.NotebookNode:
    return nbformat.reads(v44(list(cells)), as_version=4)


def write(tmp_path: Path, data: str | bytes, name: str = "sub.ipynb") -> Path:
    path = tmp_path / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


# --- read_notebook -------------------------------------------------------------------------------

def test_reads_a_v4_notebook(tmp_path: Path) -> None:
    nb = read_notebook(write(tmp_path, v44([code("x = 1"), markdown("# hi")])), LIMITS)
    assert nb.nbformat == 4 and [c.cell_type for c in nb.cells] == ["code", "markdown"]
    assert nb.cells[0].source == "x = 1"


def test_reads_the_real_released_notebook(course: Course, a01: Assignment) -> None:
    nb = read_notebook(course.released_notebook(a01), LIMITS)
    assert nb.nbformat == 4 and len(nb.cells) > 10


def test_v3_notebook_is_upgraded_to_v4(tmp_path: Path) -> None:
    v4 = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("intro", id="m"),
                                         nbformat.v4.new_code_cell("y = 2\nprint(y)", id="c")])
    path = write(tmp_path, nbformat.writes(nbformat.convert(v4, 3), version=3))
    assert json.loads(path.read_text())["nbformat"] == 3
    nb = read_notebook(path, LIMITS)
    assert nb.nbformat == 4
    assert [(c.cell_type, c.source) for c in nb.cells] == [("markdown", "intro"), ("code", "y = 2\nprint(y)")]


def test_the_hostile_corpus_v3_notebook_is_readable() -> None:
    nb = read_notebook(REPO / "tests" / "hostile" / "nbformat_v3.ipynb", LIMITS)
    assert nb.nbformat == 4 and any(c.cell_type == "code" for c in nb.cells)


def test_empty_file_is_ungradable(tmp_path: Path) -> None:
    with pytest.raises(Ungradable, match="^The submitted file is empty.$"):
        read_notebook(write(tmp_path, b""), LIMITS)


def test_binary_file_is_ungradable(tmp_path: Path) -> None:
    with pytest.raises(Ungradable, match="not a text file"):
        read_notebook(write(tmp_path, bytes(range(256)) * 4), LIMITS)


def padded_notebook(tmp_path: Path, size: int) -> Path:
    """A valid notebook of exactly ``size`` bytes (JSON allows trailing whitespace)."""
    text = v44([code("x = 1")])
    assert len(text) < size
    return write(tmp_path, text + " " * (size - len(text)), f"nb{size}.ipynb")


def test_size_limit_is_in_mebibytes_and_inclusive(tmp_path: Path) -> None:
    limits = Limits(max_notebook_mb=0.001)  # 1048.576 bytes
    assert read_notebook(padded_notebook(tmp_path, 1048), limits).cells[0].source == "x = 1"
    # over it by its layout only: what grading uses (the notebook without outputs, as compact JSON) is small
    assert read_notebook(padded_notebook(tmp_path, 1049), limits).cells[0].source == "x = 1"
    big = write(tmp_path, v44([code("x = '" + "a" * 1100 + "'")]))
    with pytest.raises(Ungradable, match=r"over the limit of 0\.001 MiB even without its outputs"):
        read_notebook(big, limits)


def test_size_is_checked_before_the_file_is_parsed(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xff" * 3_000_000)  # not even text: the size decides first
    with pytest.raises(Ungradable, match=r"^The submitted file is 2\.9 MiB, over the limit of 1 MiB; .* a file over "
                                         r"2 MiB is not read at all \(clear large outputs"):
        read_notebook(path, Limits(max_notebook_mb=1, max_submission_mb=2))


@pytest.mark.parametrize("text", [
    "My answers: 8, 4, 26",
    '{"cells": [{"cell_type": "code", "source": "x = 1"',
    "[1, 2]",
    "null",
    "{}",
    json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}}),
    json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": "x = 1"}),
    json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": [1, 2]}),
    "\ufeff" + v44([code("x = 1")]),  # a byte-order mark: Jupyter cannot open it either
], ids=["prose", "truncated", "list", "null", "empty-object", "no-cells", "cells-string", "cells-ints", "bom"])
def test_not_a_notebook_is_ungradable(tmp_path: Path, text: str) -> None:
    with pytest.raises(Ungradable, match=r"^The submitted file is not a valid Jupyter notebook \(\w+: ") as info:
        read_notebook(write(tmp_path, text), LIMITS)
    assert len(str(info.value)) < 300  # the parser's message is cut short


def test_unsupported_nbformat_version_is_ungradable(tmp_path: Path) -> None:
    text = json.dumps({"nbformat": 5, "nbformat_minor": 0, "metadata": {}, "cells": []})
    with pytest.raises(Ungradable, match="Unsupported nbformat version 5"):
        read_notebook(write(tmp_path, text), LIMITS)


# --- is_test_cell / cell_source ------------------------------------------------------------------

@pytest.mark.parametrize(("cell", "expected"), [
    (code("assert f(1) == 2", nbgrader={"grade": True, "solution": False, "points": 2}), True),
    (code("assert f(1) == 2", nbgrader={"grade": True, "points": 2}), True),
    (code("def f(x): ...", nbgrader={"grade": False, "solution": True}), False),
    (code("answer", nbgrader={"grade": True, "solution": True, "points": 2}), False),  # manually graded answer
    (code("x = 1", nbgrader={"locked": True}), False),
    (code("x = 1"), False),
    ({"cell_type": "code", "source": "x"}, False),
    ({"cell_type": "code", "source": "x", "metadata": "grade"}, False),
    ({"cell_type": "code", "source": "x", "metadata": {"nbgrader": ["grade"]}}, False),
], ids=["test", "test-no-solution-key", "solution", "manual-answer", "locked", "plain", "no-metadata",
        "metadata-not-dict", "nbgrader-not-dict"])
def test_is_test_cell(cell: dict[str, Any], expected: bool) -> None:
    assert is_test_cell(cell) is expected


@pytest.mark.parametrize(("cell", "expected"), [
    ({"source": "a = 1\nb = 2"}, "a = 1\nb = 2"),
    ({"source": ["a = 1\n", "b = 2"]}, "a = 1\nb = 2"),
    ({"source": ["a", 1, None]}, "a1None"),
    ({"source": []}, ""),
    ({"source": None}, ""),
    ({"source": 42}, ""),
    ({}, ""),
], ids=["str", "list", "list-of-non-str", "empty-list", "none", "int", "missing"])
def test_cell_source(cell: dict[str, Any], expected: str) -> None:
    assert cell_source(cell) == expected


# --- released_test_sources -----------------------------------------------------------------------

def test_released_test_sources_of_the_real_release(course: Course, a01: Assignment) -> None:
    sources = released_test_sources(course, a01)
    released = nbformat.read(str(course.released_notebook(a01)), as_version=4)
    tests = [c for c in released.cells if c.cell_type == "code" and is_test_cell(c)]
    assert sources == frozenset(cell_source(c).strip() for c in tests)
    assert len(tests) >= len(sources) >= 7  # a visible test cell per auto-graded question at least
    assert all(s == s.strip() and s for s in sources)
    solutions = [c for c in released.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    assert solutions and not any(cell_source(c).strip() in sources for c in solutions)


def small_course(tmp_path: Path, cells: list[dict[str, Any]] | None) -> tuple[Course, Assignment]:
    a = Assignment(id="hw", title="Homework", notebook="hw.ipynb", hidden_suite=Path("hidden/hw"),
                   questions=[Question(id="q1", title="Q1", points=1)])
    c = Course(course_id="c", assignments=[a], root=tmp_path)
    if cells is not None:
        (tmp_path / "assignments" / "hw").mkdir(parents=True)
        (tmp_path / "assignments" / "hw" / "hw.ipynb").write_text(v44(cells), encoding="utf-8")
    return c, a


def test_released_test_sources_takes_only_code_test_cells(tmp_path: Path) -> None:
    course, a = small_course(tmp_path, [
        markdown("Question 1"),
        code("def f(x):\n    raise NotImplementedError()", nbgrader={"solution": True, "grade": False}),
        code(["assert f(1) == 2\n", "  "], nbgrader={"grade": True, "solution": False, "grade_id": "q1"}),
        code("# answer here", nbgrader={"solution": True, "grade": True, "grade_id": "essay"}),
        markdown("read-only graded text", nbgrader={"grade": True, "solution": False}),
        code("print('demo')"),
    ])
    assert released_test_sources(course, a) == frozenset({"assert f(1) == 2"})


def test_released_test_sources_without_a_release_says_what_to_run(tmp_path: Path) -> None:
    course, a = small_course(tmp_path, None)
    with pytest.raises(ConfigError, match=r"does not exist: run `autograder release hw` first"):
        released_test_sources(course, a)


# --- select_cells --------------------------------------------------------------------------------

TEST = "assert f(1) == 2"


def test_selects_non_empty_code_cells_with_their_notebook_index() -> None:
    nb = nb_of(markdown("# Title"), code("import numpy as np"), code("   \n"), code(""),
               {"cell_type": "raw", "source": "raw text", "metadata": {}}, code(["def f(x):\n", "    return x\n"]))
    assert select_cells(nb) == [(1, "import numpy as np"), (5, "def f(x):\n    return x\n")]


def test_source_is_passed_unchanged_magics_included() -> None:
    source = "%matplotlib inline\n!pip install foo\nx = 1  \n"
    assert select_cells(nb_of(code(source))) == [(0, source)]


def test_skip_grading_tag_leaves_a_cell_out() -> None:
    nb = nb_of(code("plot()", tags=[SKIP_TAG]), code("a = 1", tags=["other", SKIP_TAG]), code("b = 2", tags=["x"]),
               code("c = 3", tags=SKIP_TAG))  # a string, not a list of tags: not honoured
    assert SKIP_TAG == "skip-grading"
    assert select_cells(nb) == [(2, "b = 2"), (3, "c = 3")]


def test_exact_copies_of_released_tests_are_left_out_whatever_their_metadata() -> None:
    nb = nb_of(code("def f(x):\n    return 2 * x"),
               code(TEST, nbgrader={"grade": True, "solution": False}),  # the visible test as released
               code(f"\n\n{TEST}  \n"),  # same test, metadata stripped, whitespace around it
               code(TEST + "\nprint('mine')", nbgrader={"grade": True}),  # an edited test is the student's code
               code("pass  # the tests all pass now", nbgrader={"grade": True, "solution": False}))
    assert select_cells(nb, frozenset({TEST})) == [
        (0, "def f(x):\n    return 2 * x"), (3, TEST + "\nprint('mine')"), (4, "pass  # the tests all pass now")]


def test_without_test_sources_test_cells_run() -> None:
    nb = nb_of(code(TEST, nbgrader={"grade": True, "solution": False}))
    assert select_cells(nb) == [(0, TEST)]


def test_odd_cells_are_skipped_not_fatal() -> None:
    nb = nb_of(code("a = 1"))
    nb.cells += [5, "text", None, {"cell_type": "code", "source": "b = 2", "metadata": "tags"},
                 {"cell_type": "code", "source": "c = 3", "metadata": {"tags": None}},
                 {"cell_type": "code", "source": ["d", " = 4"]}]
    assert select_cells(nb) == [(0, "a = 1"), (4, "b = 2"), (5, "c = 3"), (6, "d = 4")]


def test_real_solution_runs_every_code_cell_except_released_tests_and_pictures(course: Course,
                                                                                a01: Assignment) -> None:
    sources = released_test_sources(course, a01)
    nb = read_notebook(course.solution_notebook(a01), LIMITS)
    selected = select_cells(nb, sources)
    chosen = {i for i, _ in selected}
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code" or not cell_source(c).strip():
            assert i not in chosen
            continue
        left_out = cell_source(c).strip() in sources or SKIP_TAG in c.metadata.get("tags", [])
        assert (i not in chosen) == left_out, (i, cell_source(c)[:80])
    assert any(is_test_cell(c) for c in nb.cells) and not any(is_test_cell(nb.cells[i]) for i in chosen)
    solution_ids = {i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution")}
    assert solution_ids - chosen <= {i for i, c in enumerate(nb.cells) if c.cell_type != "code"}
