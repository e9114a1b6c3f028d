"""Files students hand in that are not what grading expects (issue 21): the pure parts.

Reading (:func:`autograder.grade.read_submission`): outputs left out of a notebook over ``max_notebook_mb`` only
because of them, the hard cap ``max_submission_mb``, a file that is not UTF-8 (where, and how to fix it), a
notebook with no code. Finding (:func:`autograder.batch.scan_submissions`): the other notebooks of a submission's
folder, said in its message. The class report: the files not graded, and an ungradable submission out of the
per-test and per-question numbers. The whole path through the CLI is tests/test_bad_files.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograder import class_report
from autograder.batch import note_ignored, other_notebooks, scan_submissions
from autograder.config import Assignment, Course, Limits, limit_problems
from autograder.grade import (
    GradeResult,
    OtherFile,
    SubmissionInput,
    Ungradable,
    has_code,
    no_code_message,
    not_utf8_message,
    read_submission,
    strip_outputs,
)

AID, NB = "01_convolution", "convolution.ipynb"
MiB = 1024 * 1024


def notebook(*cells: dict[str, Any]) -> dict[str, Any]:
    return {"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": list(cells)}


def code(source: str, outputs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"cell_type": "code", "source": source, "metadata": {}, "outputs": outputs or [], "execution_count": None}


def markdown(source: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "source": source, "metadata": {}}


def image(nbytes: int) -> dict[str, Any]:
    return {"output_type": "display_data", "metadata": {}, "data": {"image/png": "A" * nbytes}}


def write(path: Path, data: dict[str, Any] | bytes) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    return path


# --- outputs over the limit ------------------------------------------------------------------------

def test_a_notebook_under_the_limit_is_read_as_it_is(tmp_path: Path) -> None:
    nb, note = read_submission(write(tmp_path / "a.ipynb", notebook(code("x = 1", [image(1000)]))), Limits())
    assert note == "" and len(nb.cells[0].outputs) == 1


def test_outputs_over_the_limit_are_left_out_and_said(tmp_path: Path) -> None:
    limits = Limits(max_notebook_mb=1, max_submission_mb=4)
    path = write(tmp_path / "a.ipynb", notebook(code("x = 1", [image(2 * MiB)]), markdown("hi"),
                                                code("y = 2", [image(MiB // 2), image(MiB // 2)]), code("z = 3")))
    nb, note = read_submission(path, limits)
    assert [c.get("outputs") for c in nb.cells if c.cell_type == "code"] == [[], [], []]
    assert [c.source for c in nb.cells] == ["x = 1", "hi", "y = 2", "z = 3"]
    assert note.startswith(f"Your notebook is {path.stat().st_size / MiB:.1f} MiB, over the limit of 1 MiB, because "
                           "of its outputs: the outputs of 2 cells (3.0 MiB) were left out before grading")


def test_a_v3_notebooks_outputs_are_left_out_too(tmp_path: Path) -> None:
    v4 = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("y = 2", id="c")])
    v4.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * (2 * MiB))]
    path = tmp_path / "v3.ipynb"
    path.write_text(nbformat.writes(nbformat.convert(v4, 3), version=3))
    nb, note = read_submission(path, Limits(max_notebook_mb=1))
    assert nb.nbformat == 4 and nb.cells[0].source == "y = 2" and nb.cells[0].outputs == []
    assert "the outputs of 1 cell (2.0 MiB) were left out" in note


def test_still_over_the_limit_without_outputs_is_ungradable(tmp_path: Path) -> None:
    path = write(tmp_path / "a.ipynb", notebook(code("data = '" + "a" * (2 * MiB) + "'", [image(MiB)])))
    with pytest.raises(Ungradable, match=r"over the limit of 1 MiB even without its outputs \(2\.0 MiB of code"):
        read_submission(path, Limits(max_notebook_mb=1))


def test_over_the_hard_cap_is_refused_unread(tmp_path: Path) -> None:
    path = write(tmp_path / "a.ipynb", b"\xff" * (3 * MiB))  # not even text: never read
    with pytest.raises(Ungradable, match=r"^The submitted file is 3\.0 MiB, over the limit of 1 MiB; a notebook "
                                         r"over it is graded without its outputs, but a file over 2 MiB is not read"):
        read_submission(path, Limits(max_notebook_mb=1, max_submission_mb=2))


@pytest.mark.parametrize(("data", "error"), [(b"[" * (2 * MiB), "RecursionError"),  # nested far too deep
                                             (b'{"cells": "' + b"a" * (2 * MiB), "JSONDecodeError")])
def test_over_the_limit_and_not_json_is_not_a_notebook(tmp_path: Path, data: bytes, error: str) -> None:
    with pytest.raises(Ungradable, match=rf"^The submitted file is not a valid Jupyter notebook \({error}: "):
        read_submission(write(tmp_path / "a.ipynb", data), Limits(max_notebook_mb=1))


def test_strip_outputs_counts_cells_and_bytes() -> None:
    data = notebook(code("a", [image(10)]), code("b"), markdown("c"))
    cells, size = strip_outputs(data)
    assert (cells, size) == (1, len(json.dumps([image(10)])))
    assert data["cells"][0]["outputs"] == []


# --- not UTF-8 -------------------------------------------------------------------------------------

def test_a_latin1_byte_says_where_and_how_to_convert() -> None:
    text = json.dumps(notebook(markdown("intro"), code("x = 1\ny = 2  # café\n")), indent=1, ensure_ascii=False)
    raw = text.encode("latin-1")
    line = text[:text.index("é")].count("\n") + 1
    column = text.index("é") - text.rfind("\n", 0, text.index("é"))
    message = not_utf8_message(raw)
    assert message.startswith(f"The submitted file is not UTF-8 text, as every Jupyter notebook is: byte 0xE9 at "
                              f"line {line}, column {column} of the file (in cell 2, a code cell, line 2 of its "
                              "source) is not UTF-8.")
    assert "iconv -f latin1 -t utf-8" in message  # (the whole file is Latin-1: converting it is right)


def test_a_latin1_byte_in_a_utf8_file_is_not_converted_whole() -> None:
    text = json.dumps(notebook(markdown("3×3 filters"), code("# café")), ensure_ascii=False)
    raw = text.encode("utf-8").replace("é".encode(), b"\xe9")
    message = not_utf8_message(raw)
    assert "in cell 2, a code cell, line 1 of its source" in message
    assert "do not convert the whole file" in message and "iconv" not in message


def test_several_bad_bytes_are_counted_and_outputs_named() -> None:
    nb = notebook(code("x = 1", [{"output_type": "stream", "name": "stdout", "text": "ü ü ü"}]))
    message = not_utf8_message(json.dumps(nb, ensure_ascii=False).encode("latin-1"))
    assert "(in cell 1, a code cell, in its outputs) is not UTF-8; 2 more such bytes after it." in message


def test_not_json_says_the_line_only() -> None:
    message = not_utf8_message("my answers\nsont: 8, 4, 26 déjà\n".encode("latin-1"))
    assert "byte 0xE9 at line 2, column 17 of the file is not UTF-8; 1 more such byte after it" in message


def test_nul_bytes_are_no_text_at_all(tmp_path: Path) -> None:
    assert not_utf8_message(bytes(range(256))) == ("The submitted file is not a text file, so it cannot be a "
                                                   "Jupyter notebook.")


def test_read_submission_refuses_latin1_without_guessing(tmp_path: Path) -> None:
    path = write(tmp_path / "a.ipynb", json.dumps(notebook(code("# café"))).replace("\\u00e9", "é").encode("cp1252"))
    with pytest.raises(Ungradable, match=r"not UTF-8 text.*line 1, column \d+ of the file \(in cell 1, a code cell"):
        read_submission(path, Limits())


# --- no code -----------------------------------------------------------------------------------------

def nb(*cells: dict[str, Any]) -> nbformat.NotebookNode:
    return nbformat.from_dict(notebook(*cells))


def test_has_code() -> None:
    assert has_code(nb(code("x = 1")))
    assert not has_code(nb())
    assert not has_code(nb(markdown("x = 1"), code("   \n# only a comment\n"), code("")))
    assert not has_code(nb(code("assert f(1) == 2")), frozenset({"assert f(1) == 2"}))  # a released test cell


def test_no_code_message_says_what_is_there() -> None:
    assert no_code_message(nb(), NB) == (
        "Your notebook has no code: it has no cells at all. Did you submit the right file? Open your "
        "convolution.ipynb in Jupyter, check that your code is in it, save it (File > Save), and submit again. "
        "Nothing was graded.")
    assert "Your notebook has no code: its 1 code cell is empty, comments only or the released test cells (3 " \
           "cells: 1 code, 2 markdown). Did you" in no_code_message(nb(markdown("a"), markdown("b"), code("")), NB)
    assert "Your notebook has no code: it has 2 cells (2 markdown), none of them a code cell. Did you" in \
        no_code_message(nb(markdown("a"), markdown("b")), NB)


# --- other notebooks beside the graded one ------------------------------------------------------------

def touch(path: Path, text: str = "{}", mtime: float = 1_780_000_000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime, mtime))
    return path


def test_the_other_notebooks_of_a_folder_are_carried(a01: Assignment, tmp_path: Path) -> None:
    root = tmp_path / "submitted"
    graded = touch(root / "carol" / AID / NB)
    touch(root / "carol" / AID / "convolution-Copy1.ipynb", "x" * 3000)
    touch(root / "carol" / AID / ".ipynb_checkpoints" / "convolution-checkpoint.ipynb")
    touch(root / "carol" / AID / "timestamp.txt")
    touch(root / "alice" / AID / NB)
    touch(root / "dave" / AID / "convolution-Copy1.ipynb")  # only the copy: ungradable, as before
    subs, refused = scan_submissions(a01, [root])
    by = {s.student: s for s in subs}
    assert not refused and by["carol"].notebook == graded
    assert by["carol"].ignored == (OtherFile("convolution-Copy1.ipynb", 3000, "2026-05-28 20:26"),)
    assert by["alice"].ignored == () and by["dave"].ignored == ()
    # every layout that names a folder carries them; a file named on the command line carries none
    for path in (root / "carol", root / "carol" / AID):
        assert scan_submissions(a01, [path])[0][0].ignored == by["carol"].ignored
    assert scan_submissions(a01, [graded])[0][0].ignored == ()
    assert other_notebooks(root / "dave" / AID / NB) == ()


def test_the_message_and_the_result_name_each_ignored_file() -> None:
    sub = SubmissionInput("carol", Path("x") / NB, (OtherFile("convolution-Copy1.ipynb", 12_595, "2026-12-07 14:03"),
                                                   OtherFile("Untitled\x1b[2J.ipynb", 72, "2026-12-07 14:05")))
    result = GradeResult("carol", AID, "graded", 0.0, 20.0, message="Your notebook is 47.7 MiB ...")
    note_ignored(result, sub, NB)
    assert result.message == (
        "Also handed in, and NOT graded: `convolution-Copy1.ipynb` (12.3 KiB, modified 2026-12-07 14:03 UTC); "
        "`Untitled\\x1b[2J.ipynb` (72 bytes, modified 2026-12-07 14:05 UTC). Only convolution.ipynb is graded, as "
        "released: if your work is in another file, rename that file to convolution.ipynb and submit again. "
        "Your notebook is 47.7 MiB ...")
    assert result.to_json()["ignored_files"][0] == {"name": "convolution-Copy1.ipynb", "size": 12_595,
                                                    "modified": "2026-12-07 14:03"}
    assert "ignored_files" not in GradeResult("a", AID, "graded", 0.0, 20.0).to_json()  # only when there are some
    many = SubmissionInput("dee", Path("x") / NB, tuple(OtherFile(f"c{i}.ipynb", 10, "2026-12-07 14:03")
                                                        for i in range(20)))
    crowded = GradeResult("dee", AID, "graded", 0.0, 20.0, message="m" * 2000)
    note_ignored(crowded, many, NB)
    assert "`c4.ipynb` (10 bytes, modified 2026-12-07 14:03 UTC) and 15 more. Only" in crowded.message
    assert len(crowded.message) <= 2001 and len(crowded.ignored_files) == 20  # (bounds.MESSAGE_MAX, and "…")
    data = json.loads(json.dumps(result.to_json()))  # results.json, read back (as from a Dask worker)
    del data["output"], data["visibility"]
    assert GradeResult.from_dict(data).ignored_files == result.ignored_files


# --- the class report ---------------------------------------------------------------------------------

def test_the_class_report_lists_ignored_files_and_leaves_ungradable_out_of_the_statistics(a01: Assignment) -> None:
    def result(student: str, status: str, passed: bool, **extra: Any) -> dict[str, Any]:
        tests = [{"name": "test_x", "question": q.id, "status": "passed" if passed else "failed", "output": "no",
                  "score": 1.0 if passed else 0.0, "max_score": 1.0} for q in a01.questions if not q.manual]
        questions = [{"id": q.id, "score": q.points if passed else 0.0, "max_score": q.points}
                     for q in a01.questions if not q.manual]
        return {"student": student, "status": status, "score": 20.0 if passed else 0.0,
                "tests": tests if status == "graded" else [], "questions": questions if status == "graded" else [],
                "message": "", **extra}

    copy = {"name": "convolution-Copy1.ipynb", "size": 12_595, "modified": "2026-12-07 14:03"}
    data = class_report.build([
        result("alice", "graded", True),
        result("carol", "graded", False, ignored_files=[copy]),
        result("heidi", "ungradable", False, message="Your notebook has no code: it has no cells at all."),
    ], a01)
    assert data["status_counts"] == {"graded": 2, "ungradable": 1}
    assert all(t["students"] == 2 and t["passed"] == 1 for t in data["tests"])
    assert all(q["students"] == 2 for q in data["questions"])
    assert data["not_graded"] == [{"student": "heidi", "status": "ungradable",
                                   "message": "Your notebook has no code: it has no cells at all."}]
    assert data["ignored_files"] == [{"student": "carol", **copy}]
    page = class_report.render_html(data, {"histogram": "", "questions": ""})
    assert ("<tr><td>carol</td><td>convolution-Copy1.ipynb</td><td>12.3 KiB</td><td>2026-12-07 14:03 UTC</td>"
            "<td>not graded</td></tr>") in page


def test_a_hard_cap_below_the_limit_is_a_problem(course: Course) -> None:
    bad = course.model_copy(update={"limits": Limits(max_notebook_mb=30, max_submission_mb=20)})
    assert limit_problems(bad) == ["limits: max_submission_mb (20 MiB) is below max_notebook_mb (30 MiB): raise "
                                   "max_submission_mb, the largest file read at all, to at least max_notebook_mb"]
    assert limit_problems(course) == []


def test_a_file_name_is_text_in_the_feedbacks_markdown() -> None:
    from autograder.names import code_span

    assert code_span("![x](y.png).ipynb") == "`![x](y.png).ipynb`"
    assert code_span("a`b``c.ipynb") == "```a`b``c.ipynb```"
    assert code_span("`x.ipynb") == "`` `x.ipynb ``"
    assert code_span("<img src=x onerror=alert(1)>.ipynb") == "`<img src=x onerror=alert(1)>.ipynb`"
