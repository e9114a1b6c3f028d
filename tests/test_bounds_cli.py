"""Issue 20 through the real CLI: a notebook of 1,500 failing cells gets bounded files that say what was cut, and
nothing a submission names or prints reaches the instructor's terminal or a log as a raw control character."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from autograder.bounds import FEEDBACK_MAX, RESULTS_MAX
from autograder.cli import main
from tests.conftest import run_cli
from tests.hostile.make_corpus import ESCAPES, nb_text, released, with_cell

pytestmark = pytest.mark.slow

AID = "01_convolution"
TITLE = "\x1b]0;pwned\x07"  # retitles the terminal's window
RAW = ("\x1b", "\x07", "\x9b")


def no_raw_controls(text: str) -> bool:
    return not any(c in text for c in RAW)


def test_fifteen_hundred_failing_cells_and_escape_sequences(tmp_path: Path) -> None:
    nb = with_cell(ESCAPES)  # the solution, then a cell that prints escape sequences and raises with one
    nb.cells += [nbformat.v4.new_code_cell(f"raise ValueError('cell {i} ' + 'x' * 5000)") for i in range(1500)]
    loose = tmp_path / "subs" / f"{TITLE}eve.ipynb"
    loose.parent.mkdir()
    loose.write_text(nb_text(nb), encoding="utf-8")
    misnamed = tmp_path / "submitted" / "mallory" / AID / f"{TITLE}.ipynb"  # not convolution.ipynb: ungradable
    misnamed.parent.mkdir(parents=True)
    misnamed.write_text(nb_text(released()), encoding="utf-8")
    out = tmp_path / "out"
    proc = run_cli("grade", AID, loose, tmp_path / "submitted", "--out", out)  # with the progress bar
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert no_raw_controls(proc.stdout + proc.stderr), proc.stdout + proc.stderr
    eve = out / "%1B%5D0%3Bpwned%07eve"  # the file's name, percent-encoded: nothing lost, nothing raw
    assert eve.is_dir() and "%1B%5D0%3Bpwned%07eve  graded" in proc.stdout
    assert "(the submission has `\\x1b]0;pwned\\x07.ipynb`)" in proc.stdout  # mallory's line names the file
    results = (eve / "results.json").read_bytes()
    feedback = (eve / "feedback.md").read_text(encoding="utf-8")
    assert len(results) <= RESULTS_MAX and len(feedback.encode()) <= FEEDBACK_MAX  # were 3.1 MiB and 490 KiB
    assert len((eve / "feedback.html").read_bytes()) <= FEEDBACK_MAX
    assert json.loads(results)["score"] == 20
    assert "- ... and 1,481 more cells raised errors (not shown)" in feedback
    assert "raised ValueError: \\x1b]0;pwned\\x07" in feedback
    log = (eve / "instructor.log").read_text(encoding="utf-8")
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mred\\x9b2J" in log  # the worker's output, escaped
    for path in [*out.rglob("*.log"), *out.rglob("*.md"), *out.rglob("*.json*"), *out.rglob("*.csv"),
                 *out.rglob("*.html"), out / ".grading-journal.jsonl"]:
        assert no_raw_controls(path.read_text(encoding="utf-8")), path


def test_error_messages_naming_a_file_escape_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / f"{TITLE}.ipynb"
    with pytest.raises(SystemExit) as info:
        main(["grade", AID, str(missing), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert info.value.code == 4 and "\\x1b]0;pwned\\x07.ipynb: no such file or folder." in err
    assert no_raw_controls(err)
    with pytest.raises(SystemExit) as info:
        main(["validate", str(missing)])  # click's own message ("does not exist") quotes it
    err = capsys.readouterr().err
    assert info.value.code == 2 and "\\x1b]0;pwned\\x07" in err and no_raw_controls(err), err
