"""Files that are not regular files, and hostile timestamp.txt, in a batch graded through the real CLI (on a local
Dask cluster, the path that reads notebooks before sending them): nothing follows a link, waits on a FIFO or reads
a device, the batch finishes and every other student is graded."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from autograder.config import load_course
from autograder.grade import not_utf8_message
from autograder.samples import make_sample
from tests.conftest import REPO, make_course, run_cli

COURSE = load_course(REPO / "course.yml")
A = COURSE.assignment("01_convolution")
Batch = tuple[Path, str, dict[str, dict[str, object]]]  # the temporary folder, what the command printed, results


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    tmp = tmp_path_factory.mktemp("special")
    course_yml = make_course(tmp / "course")
    correct = make_sample(COURSE, A, "correct")
    subs = tmp / "subs"
    for student in ("carl", "dina", "fay", "gus"):
        (subs / student).mkdir(parents=True)
        (subs / student / A.notebook).write_text(correct, encoding="utf-8")
    (subs / "carl" / "Untitled.ipynb").symlink_to("/dev/zero")  # a link beside the notebook: never read
    os.mkfifo(subs / "carl" / "waiting.ipynb")  # a FIFO: never opened
    (subs / "carl" / "secret.ipynb").symlink_to("/etc/hostname")  # never its size or time
    (subs / "erin").mkdir()
    (subs / "erin" / A.notebook).symlink_to("/etc/hostname")  # the notebook itself a link: refused, unread
    (subs / "fay" / "timestamp.txt").write_text("99999999999999999999")  # dateutil: OverflowError
    os.mkfifo(subs / "gus" / "timestamp.txt")
    proc = run_cli("--course", course_yml, "grade", A.id, *sorted(subs.iterdir()), "--out", tmp / "out", "--jobs", "2",
                   "--no-progress", timeout=600)
    results = {p.parent.name: json.loads(p.read_text()) for p in (tmp / "out").glob("*/results.json")}
    return tmp, proc.stdout + proc.stderr + f"\nexit {proc.returncode}", results


def test_the_batch_finishes_and_grades_everyone_else(batch: Batch) -> None:
    _, out, results = batch
    assert out.endswith("exit 0"), out
    assert sorted(results) == ["carl", "dina", "erin", "fay", "gus"], out
    for student in ("carl", "dina", "fay", "gus"):
        assert (results[student]["status"], results[student]["score"]) == ("graded", 20.0), (student, out)


def test_only_regular_files_beside_the_notebook_are_named(batch: Batch) -> None:
    _, _, results = batch
    assert "ignored_files" not in results["carl"], results["carl"].get("ignored_files")
    assert "Also handed in" not in str(results["carl"]["output"])


def test_a_notebook_that_is_a_link_is_refused_unread(batch: Batch) -> None:
    tmp, _, results = batch
    erin = results["erin"]
    assert erin["status"] == "ungradable"
    assert erin["output"] == "The submitted notebook is a symbolic link, not a file: submit the notebook itself."
    hostname = Path("/etc/hostname").read_text().strip()
    feedback = (tmp / "out" / "erin" / "feedback.md").read_text()
    assert not hostname or hostname not in feedback + json.dumps(erin)


def test_a_hostile_timestamp_is_no_time(batch: Batch) -> None:
    _, out, results = batch
    assert "Traceback" not in out
    assert results["fay"].get("late") is None and results["gus"].get("late") is None


def test_the_not_utf8_message_of_a_large_file_is_quick_and_bounded() -> None:
    raw = b'{"cells": [{"cell_type": "code", "source": "# caf' + b"\xe9" * (8 * 2**20) + b'"}]}'
    message = not_utf8_message(raw)
    column = raw.index(b"\xe9") + 1
    assert f"byte 0xE9 at line 1, column {column} of the file (in cell 1, a code cell, line 1 of its source)" in message
    assert "more than 1,000 such bytes after it" in message and "iconv -f latin1" in message
