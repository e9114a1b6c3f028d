"""The nbgrader plugins in autograder/nbgrader_plugins.py, run through nbgrader's real CLI on a real gradebook.

One SQLite gradebook is built per module with nbgrader's own API; each test works on its own copy inside its
own course folder.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
import shutil
import stat
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.preprocessors import AssignLatePenalties
from sqlalchemy.exc import SAWarning
from traitlets.config import Config

from autograder import nbgrader_plugins, report
from autograder.gradebook import prepare_nbgrader
from autograder.nbgrader_plugins import (
    CANVAS_NAMED_REGEXP,
    CanvasGradesExport,
    CanvasZipCollector,
    PercentPerDayLatePenalty,
    QuestionScoresExport,
    score_after_penalty,
)

NBGRADER = [sys.executable, "-m", "nbgrader"]
COURSE_ID = "cnn-test"
PLUGINS = "autograder.nbgrader_plugins"


def _grade(
    gb: Gradebook, cell: str, notebook: str, assignment: str, student: str, *,
    auto: float | None = None, manual: float | None = None, extra: float | None = None, needs_manual: bool = False,
) -> None:
    grade = gb.find_grade(cell, notebook, assignment, student)
    grade.auto_score = auto
    grade.manual_score = manual
    grade.extra_credit = extra
    grade.needs_manual_grade = needs_manual
    gb.db.commit()


def _penalty(gb: Gradebook, notebook: str, assignment: str, student: str, penalty: float) -> None:
    gb.find_submission_notebook(notebook, assignment, student).late_submission_penalty = penalty
    gb.db.commit()


def _build_gradebook(path: Path) -> None:
    """ps1 (due 1 March, notebook `convolution`: q1 code 10, q2 markdown 5, q10 code 5 = 20 points) and
    ps2 (due 15 March, notebooks `pooling` and `strides`, both with a cell `p1`: 6 + 4 = 10 points).

    s1 Ada Lovelace (Canvas 1001): ps1 on time 8 + 4.5 (manual) + 5 = 17.5; ps2 late, 6 + 4 - (1.5 + 0.5) = 8
    s2 Alan Turing  (Canvas 1002): ps1 late, 10 + (manual 3 over auto 0, +1 extra credit) + 5 - 2.5 = 16.5;
                                   no ps2
    s3 (no name, no Canvas id):    ps1 10 + q2 not graded yet + 5 = 15; ps2 6 + 4 = 10
    """
    with warnings.catch_warnings():
        # nbgrader 0.9.6's add_submission trips an SAWarning under SQLAlchemy 2.x (api.py:2229); not ours.
        warnings.simplefilter("ignore", SAWarning)
        with Gradebook(f"sqlite:///{path}", COURSE_ID) as gb:
            gb.add_assignment("ps1", duedate="2024-03-01 23:59:00 UTC")
            gb.update_or_create_notebook("convolution", "ps1")
            gb.update_or_create_grade_cell("q1", "convolution", "ps1", max_score=10.0, cell_type="code")
            gb.update_or_create_grade_cell("q2", "convolution", "ps1", max_score=5.0, cell_type="markdown")
            gb.update_or_create_grade_cell("q10", "convolution", "ps1", max_score=5.0, cell_type="code")
            gb.add_assignment("ps2", duedate="2024-03-15 23:59:00 UTC")
            for notebook, points in (("strides", 4.0), ("pooling", 6.0)):
                gb.update_or_create_notebook(notebook, "ps2")
                gb.update_or_create_grade_cell("p1", notebook, "ps2", max_score=points, cell_type="code")

            gb.add_student("s1", first_name="Ada", last_name="Lovelace", email="ada@example.org", lms_user_id="1001")
            gb.add_student("s2", first_name="Alan", last_name="Turing", lms_user_id="1002")
            gb.add_student("s3")

            gb.add_submission("ps1", "s1", timestamp="2024-03-01 20:00:00 UTC")
            _grade(gb, "q1", "convolution", "ps1", "s1", auto=8.0)
            _grade(gb, "q2", "convolution", "ps1", "s1", manual=4.5)
            _grade(gb, "q10", "convolution", "ps1", "s1", auto=5.0)
            gb.update_or_create_submission("ps2", "s1", timestamp="2024-03-17 10:00:00 UTC")
            _grade(gb, "p1", "pooling", "ps2", "s1", auto=6.0)
            _grade(gb, "p1", "strides", "ps2", "s1", auto=4.0)
            _penalty(gb, "pooling", "ps2", "s1", 1.5)
            _penalty(gb, "strides", "ps2", "s1", 0.5)

            gb.update_or_create_submission("ps1", "s2", timestamp="2024-03-03 10:00:00 UTC")
            _grade(gb, "q1", "convolution", "ps1", "s2", auto=10.0)
            _grade(gb, "q2", "convolution", "ps1", "s2", auto=0.0, manual=3.0, extra=1.0)
            _grade(gb, "q10", "convolution", "ps1", "s2", auto=5.0)
            _penalty(gb, "convolution", "ps1", "s2", 2.5)

            gb.add_submission("ps1", "s3", timestamp="2024-03-01 12:00:00 UTC")
            _grade(gb, "q1", "convolution", "ps1", "s3", auto=10.0)
            _grade(gb, "q2", "convolution", "ps1", "s3", needs_manual=True)
            _grade(gb, "q10", "convolution", "ps1", "s3", auto=5.0)
            gb.add_submission("ps2", "s3", timestamp="2024-03-14 12:00:00 UTC")
            _grade(gb, "p1", "pooling", "ps2", "s3", auto=6.0)
            _grade(gb, "p1", "strides", "ps2", "s3", auto=4.0)


@pytest.fixture(scope="module")
def gradebook_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gradebook") / "gradebook.db"
    prepare_nbgrader()  # the new gradebook is stamped in-process, as everywhere in the package
    _build_gradebook(path)
    return path


def make_course(root: Path, gradebook_template: Path) -> Path:
    """A course folder with its own copy of the gradebook and an nbgrader_config.py pointing at it."""
    root.mkdir(parents=True)
    shutil.copy(gradebook_template, root / "gradebook.db")
    (root / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{root}/gradebook.db'\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
    )
    return root


@pytest.fixture
def course(tmp_path: Path, gradebook_template: Path) -> Path:
    return make_course(tmp_path / "course", gradebook_template)


@pytest.fixture
def gradebook(course: Path) -> Iterator[Gradebook]:
    with Gradebook(f"sqlite:///{course}/gradebook.db", COURSE_ID) as gb:
        yield gb


class CliRun:
    """`nbgrader ...` running in its own course folder; :meth:`log` waits for it and checks it succeeded."""

    def __init__(self, course: Path, *args: str) -> None:
        self.course = course
        self.proc = subprocess.Popen([*NBGRADER, *args], cwd=course, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        self._log: str | None = None

    def log(self) -> str:
        if self._log is None:
            self._log, _ = self.proc.communicate(timeout=120)
        assert self.proc.returncode == 0, self._log
        return self._log

    def stop(self) -> None:
        if self._log is None:  # nobody waited for it (a test failed early, or was deselected)
            self.proc.kill()
            self._log, _ = self.proc.communicate()


def _notebook(text: str) -> bytes:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])
    return nbformat.writes(nb).encode()


def _release(course: Path, assignment: str, *notebooks: str) -> None:
    folder = course / "release" / assignment
    folder.mkdir(parents=True)
    for name in notebooks:
        (folder / name).write_bytes(_notebook("released"))


# what Canvas's "Download Submissions" zip holds
CANVAS_ZIP = {
    "lovelaceada_1001_555001_convolution.ipynb": _notebook("ada on time"),
    "turingalan_LATE_1002_555002_convolution-1.ipynb": _notebook("alan late resubmission"),
    "hoppergrace_9999_555003_convolution.ipynb": _notebook("grace not in the gradebook"),
    "lovelaceada_1001_555004_notes.txt": b"not a notebook",
}


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory, gradebook_template: Path) -> Iterator[dict[str, CliRun]]:
    """The real nbgrader commands the tests check, each in its own course, started at once: each takes ~3 s,
    nearly all of it nbgrader starting up."""
    base = tmp_path_factory.mktemp("cli")
    zip_course = make_course(base / "zip", gradebook_template)
    _release(zip_course, "ps1", "convolution.ipynb")
    archive = zip_course / "downloaded" / "ps1" / "archive"
    archive.mkdir(parents=True)
    with zipfile.ZipFile(archive / "submissions.zip", "w") as zf:
        for name, data in CANVAS_ZIP.items():
            zf.writestr(name, data)

    commands = {
        "canvas": ["export", f"--exporter={PLUGINS}.CanvasGradesExport", "--to=canvas.csv"],
        "canvas_some": ["export", f"--exporter={PLUGINS}.CanvasGradesExport", "--to=some.csv",
                        "--assignment=ps2", "--student=s3", "--student=s1"],
        "questions": ["export", f"--exporter={PLUGINS}.QuestionScoresExport", "--to=questions.csv"],
    }
    runs = {name: CliRun(make_course(base / name, gradebook_template), *args) for name, args in commands.items()}
    runs["zip"] = CliRun(zip_course, "zip_collect", f"--collector={PLUGINS}.CanvasZipCollector", "ps1")
    yield runs
    for run in runs.values():
        run.stop()


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


# --- CanvasGradesExport ---------------------------------------------------------------------------------

CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def test_canvas_export_through_the_cli(cli: dict[str, CliRun]) -> None:
    run = cli["canvas"]
    assert "Using exporter: CanvasGradesExport" in run.log()
    assert read_csv(run.course / "canvas.csv") == [
        [*CANVAS_HEADER, "ps1", "ps2"],
        ["Points Possible", "", "", "", "", "20", "10"],
        # on time with a manual score; late on ps2 with a penalty split over two notebooks (6 + 4 - 2)
        ["Lovelace, Ada", "1001", "s1", "ada@example.org", "", "17.5", "8"],
        # manual 3 overrides auto 0 (+1 extra credit), late penalty 2.5; no ps2 submission -> empty
        ["Turing, Alan", "1002", "s2", "s2", "", "16.5", ""],
        # no name, no Canvas id
        ["s3", "", "s3", "s3", "", "15", "10"],
    ]
    text = (run.course / "canvas.csv").read_text()
    assert text.startswith("Student,ID,SIS User ID,SIS Login ID,Section,ps1,ps2\nPoints Possible,,,,,20,10\n")
    assert '"Lovelace, Ada",1001,s1,ada@example.org,,17.5,8\n' in text


def test_canvas_export_respects_assignment_and_student(cli: dict[str, CliRun]) -> None:
    run = cli["canvas_some"]
    assert "Exporting only assignments: ['ps2']" in run.log()
    assert read_csv(run.course / "some.csv") == [
        [*CANVAS_HEADER, "ps2"],
        ["Points Possible", "", "", "", "", "10"],
        ["Lovelace, Ada", "1001", "s1", "ada@example.org", "", "8"],
        ["s3", "", "s3", "s3", "", "10"],
    ]


def test_canvas_export_defaults_and_column_names(course: Path, gradebook: Gradebook,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.chdir(course)
    exporter = CanvasGradesExport(column_names={"ps1": "Problem Set 1 (4711)"}, student=["s2", "nobody"])
    with caplog.at_level(logging.INFO):
        exporter.export(gradebook)
    assert read_csv(course / "canvas_grades.csv") == [
        [*CANVAS_HEADER, "Problem Set 1 (4711)", "ps2"],
        ["Points Possible", "", "", "", "", "20", "10"],
        ["Turing, Alan", "1002", "s2", "s2", "", "16.5", ""],
    ]
    assert "No student 'nobody' in the gradebook" in caplog.text


def test_canvas_export_reports_ungraded_and_unmatched(course: Path, gradebook: Gradebook,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        CanvasGradesExport(to=str(course / "c.csv")).export(gradebook)
    assert "Still need manual grading (exported as graded so far): ps1/s3" in caplog.text
    assert "No lms_user_id (Canvas user id) for: s3;" in caplog.text


# --- QuestionScoresExport -------------------------------------------------------------------------------


def test_question_scores_through_the_cli(cli: dict[str, CliRun]) -> None:
    run = cli["questions"]
    assert "Using exporter: QuestionScoresExport" in run.log()
    assert read_csv(run.course / "questions.csv") == [
        ["student_id", "lms_user_id", "last_name", "first_name", "email",
         # q10 after q2 (natural order); the cell id p1 is in two notebooks, hence notebook/cell
         "ps1/q1", "ps1/q2", "ps1/q10", "ps1/late_penalty", "ps1/total", "ps1/needs_manual_grade",
         "ps2/pooling/p1", "ps2/strides/p1", "ps2/late_penalty", "ps2/total", "ps2/needs_manual_grade"],
        ["points_possible", "", "", "", "", "10", "5", "5", "", "20", "", "6", "4", "", "10", ""],
        ["s1", "1001", "Lovelace", "Ada", "ada@example.org", "8", "4.5", "5", "0", "17.5", "false",
         "6", "4", "2", "8", "false"],
        ["s2", "1002", "Turing", "Alan", "", "10", "4", "5", "2.5", "16.5", "false", "", "", "", "", ""],
        ["s3", "", "", "", "", "10", "0", "5", "0", "15", "true", "6", "4", "0", "10", "false"],
    ]


def test_question_scores_default_destination_and_filters(course: Path, gradebook: Gradebook,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(course)
    QuestionScoresExport(assignment=["ps1"], student=["s2"]).export(gradebook)
    assert read_csv(course / "question_scores.csv") == [
        ["student_id", "lms_user_id", "last_name", "first_name", "email",
         "ps1/q1", "ps1/q2", "ps1/q10", "ps1/late_penalty", "ps1/total", "ps1/needs_manual_grade"],
        ["points_possible", "", "", "", "", "10", "5", "5", "", "20", ""],
        ["s2", "1002", "Turing", "Alan", "", "10", "4", "5", "2.5", "16.5", "false"],
    ]


# --- shared helpers -------------------------------------------------------------------------------------


def test_score_after_penalty_is_floored_at_zero() -> None:
    assert score_after_penalty(10.0, 12.0) == 0.0
    assert score_after_penalty(10.0, 2.5) == 7.5
    assert score_after_penalty(10.0, None) == 10.0


def test_export_writes_atomically_and_group_readable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "grades.csv"
    dest.write_text("old\n")
    old_umask = os.umask(0o022)
    try:
        nbgrader_plugins._write_csv(str(dest), [["a", "b, c"], ["1", "2"]])
    finally:
        os.umask(old_umask)
    assert dest.read_text() == 'a,"b, c"\n1,2\n'
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grades.csv"]

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(report.os, "replace", broken_replace)  # report.atomic_write does the writing
    with pytest.raises(OSError, match="disk full"):
        nbgrader_plugins._write_csv(str(dest), [["new"]])
    assert dest.read_text() == 'a,"b, c"\n1,2\n'  # untouched, and no temporary file left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grades.csv"]


# --- CanvasZipCollector ---------------------------------------------------------------------------------


def test_zip_collect_through_the_cli(cli: dict[str, CliRun]) -> None:
    log = cli["zip"].log()
    course = cli["zip"].course
    submitted = course / "submitted"
    assert sorted(p.relative_to(submitted).as_posix() for p in submitted.rglob("*") if p.is_file()) == [
        "s1/ps1/convolution.ipynb",
        "s2/ps1/convolution.ipynb",
    ]
    assert (submitted / "s1/ps1/convolution.ipynb").read_bytes() == CANVAS_ZIP[
        "lovelaceada_1001_555001_convolution.ipynb"]
    assert (submitted / "s2/ps1/convolution.ipynb").read_bytes() == CANVAS_ZIP[
        "turingalan_LATE_1002_555002_convolution-1.ipynb"]
    assert "Skipping" in log and "hoppergrace_9999_555003_convolution.ipynb" in log
    assert "no student in the gradebook has lms_user_id 9999" in log
    assert "nbgrader db student add <student_id> --lms-user-id=9999" in log
    assert "turingalan_LATE_1002_555002_convolution-1.ipynb as LATE" in log
    assert "2 files collected, 2 files skipped" in log
    assert "Invalid submission notebook name" not in log


@pytest.fixture
def collector(course: Path, monkeypatch: pytest.MonkeyPatch) -> CanvasZipCollector:
    """A collector as ZipCollectApp would make it, minus the app: its CourseDirectory is the cwd."""
    monkeypatch.chdir(course)
    config = Config()
    config.CourseDirectory.assignment_id = "ps1"
    config.CourseDirectory.course_id = COURSE_ID
    return CanvasZipCollector(config=config)


def test_collector_maps_canvas_ids(collector: CanvasZipCollector, course: Path) -> None:
    _release(course, "ps1", "convolution.ipynb", "part-2.ipynb", "data.prep.ipynb")
    extracted = course / "downloaded" / "ps1" / "extracted" / "submissions"

    def collect(name: str) -> dict[str, object] | None:
        return collector.collect(str(extracted / name))

    assert collect("lovelaceada_1001_9_convolution.ipynb") == {
        "student_id": "s1", "file_id": "convolution.ipynb", "timestamp": None}
    assert collect("turingalan_LATE_1002_9_convolution-3.ipynb") == {
        "student_id": "s2", "file_id": "convolution.ipynb", "timestamp": None}
    # a released name that ends in -N keeps it; a resubmission of it loses only Canvas's suffix
    assert collect("lovelaceada_1001_9_part-2.ipynb") == {"student_id": "s1", "file_id": "part-2.ipynb",
                                                          "timestamp": None}
    assert collect("lovelaceada_1001_9_part-2-1.ipynb") == {"student_id": "s1", "file_id": "part-2.ipynb",
                                                            "timestamp": None}
    # ZipCollectApp strips the text after the last dot of file_id, so a dotted name keeps its extension
    assert collect("lovelaceada_1001_9_data.prep.ipynb") == {"student_id": "s1", "file_id": "data.prep.ipynb",
                                                             "timestamp": None}
    # a file name with underscores of its own
    assert collect("lovelaceada_1001_9_my_convolution_v2.ipynb") == {
        "student_id": "s1", "file_id": "my_convolution_v2.ipynb", "timestamp": None}
    assert collect("lovelaceada_1001_9_notes.txt") is None  # not a valid extension
    assert collect("not-a-canvas-name.ipynb") is None
    assert collect("someone_4242_9_convolution.ipynb") is None  # unknown Canvas id


def test_collector_can_use_unknown_canvas_ids(collector: CanvasZipCollector, caplog: pytest.LogCaptureFixture) -> None:
    collector.lms_id_map_only = False
    with caplog.at_level(logging.WARNING):
        info = collector.collect("/x/someone_4242_9_convolution.ipynb")
    assert info == {"student_id": "4242", "file_id": "convolution.ipynb", "timestamp": None}
    assert "No student has lms_user_id 4242" in caplog.text
    # a known id still maps to the student
    assert collector.collect("/x/lovelaceada_1001_9_convolution.ipynb") == {
        "student_id": "s1", "file_id": "convolution.ipynb", "timestamp": None}


def test_collector_takes_the_lms_time_and_records_its_marks(collector: CanvasZipCollector, course: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """A LATE file without a time is recorded (by its sha256) for `autograder grade`/`feedback` to report; an LMS
    whose names carry the time (a ``timestamp`` group) gives nbgrader that time, and a bad one is not used."""
    import hashlib

    _release(course, "ps1", "convolution.ipynb")
    extracted = course / "downloaded" / "ps1" / "extracted"
    extracted.mkdir(parents=True)
    late = extracted / "turingalan_LATE_1002_9_convolution-1.ipynb"
    late.write_bytes(_notebook("late"))
    with caplog.at_level(logging.WARNING):
        assert collector.collect(str(late)) == {"student_id": "s2", "file_id": "convolution.ipynb", "timestamp": None}
    assert "`autograder grade` and `autograder feedback` will list it" in caplog.text
    marks = json.loads((course / "downloaded" / "ps1" / "lms_marks.json").read_text())
    assert marks == {"s2/" + hashlib.sha256(late.read_bytes()).hexdigest(): {
        "student": "s2", "file": late.name, "late": True, "timestamp": None}}
    collector.named_regexp = r"^(?P<student_id>\d+)_(?P<timestamp>[0-9-]+T[0-9:]+)_(?P<file_id>.+)$"
    timed = extracted / "1001_2027-01-26T14:03:00_convolution.ipynb"
    timed.write_bytes(_notebook("timed"))
    info = collector.collect(str(timed))
    assert info == {"student_id": "s1", "file_id": "convolution.ipynb", "timestamp": "2027-01-26T14:03:00"}
    bad = extracted / "1001_2027-99-99T99:99:99_convolution.ipynb"
    bad.write_bytes(_notebook("bad"))
    with caplog.at_level(logging.ERROR):
        assert collector.collect(str(bad))["timestamp"] is None  # type: ignore[index]
    assert "is not a time; collected without a submission time" in caplog.text
    marks = json.loads((course / "downloaded" / "ps1" / "lms_marks.json").read_text())
    assert sorted(m["file"] for m in marks.values()) == sorted([late.name, timed.name, bad.name])


def test_collector_refuses_ambiguous_ids(collector: CanvasZipCollector, gradebook: Gradebook,
                                         caplog: pytest.LogCaptureFixture) -> None:
    gradebook.update_or_create_student("s3", lms_user_id="1001")
    with caplog.at_level(logging.ERROR):
        assert collector.collect("/x/lovelaceada_1001_9_convolution.ipynb") is None
    assert "students s1, s3 all have lms_user_id 1001" in caplog.text


def test_collector_without_gradebook_does_not_create_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.ERROR):
        assert CanvasZipCollector().collect(str(tmp_path / "lovelaceada_1001_9_convolution.ipynb")) is None
    assert "No gradebook at sqlite:///" in caplog.text
    assert not (tmp_path / "gradebook.db").exists()


def test_default_regexp_groups() -> None:
    match = re.match(CANVAS_NAMED_REGEXP, "van_der_berg_LATE_123_456_conv_net-12.ipynb")
    assert match is not None
    assert match.group("sortable_name", "late", "student_id", "attachment_id", "file_id", "resubmission",
                       "extension") == ("van_der_berg", "LATE_", "123", "456", "conv_net", "-12", ".ipynb")
    assert CanvasZipCollector().named_regexp == CANVAS_NAMED_REGEXP


# --- PercentPerDayLatePenalty ---------------------------------------------------------------------------


@pytest.mark.parametrize(("score", "seconds_late", "percent", "expected"), [
    (20.0, 0.0, 10.0, 0.0),  # on time
    (20.0, 1.0, 10.0, 2.0),  # one second late is a started day
    (20.0, 86400.0, 10.0, 2.0),  # exactly one day
    (20.0, 86401.0, 10.0, 4.0),  # a second into day two
    (17.0, 3 * 86400.0, 10.0, 17.0 * 0.3),
    (20.0, 10 * 86400.0, 25.0, 20.0),  # capped at the score
    (0.0, 5 * 86400.0, 10.0, 0.0),
    (20.0, 86400.0, 0.0, 0.0),
])
def test_percent_per_day(score: float, seconds_late: float, percent: float, expected: float) -> None:
    from autograder import late

    plugin = PercentPerDayLatePenalty(percent_per_day=percent)
    assert plugin.late_submission_penalty("s1", score, seconds_late) == pytest.approx(expected)
    # the student's feedback describes the penalty with the same arithmetic
    assert late.penalty(score, seconds_late, percent) == plugin.late_submission_penalty("s1", score, seconds_late)


def test_percent_per_day_is_configurable_and_defaults_to_ten() -> None:
    assert PercentPerDayLatePenalty().percent_per_day == 10.0
    config = Config({"PercentPerDayLatePenalty": {"percent_per_day": 5.0}})
    assert PercentPerDayLatePenalty(config=config).late_submission_penalty("s", 40.0, 2 * 86400.0 + 1) == 6.0


def test_percent_per_day_inside_assign_late_penalties(course: Path, gradebook: Gradebook) -> None:
    """nbgrader's AssignLatePenalties (what `nbgrader autograde` runs) stores the plugin's penalty."""
    db_url = f"sqlite:///{course}/gradebook.db"
    # s2 handed ps1 in 2024-03-03 10:00, due 2024-03-01 23:59: two started days; notebook score 19
    preprocessor = AssignLatePenalties(plugin_class=PercentPerDayLatePenalty)
    resources = {"nbgrader": {"notebook": "convolution", "assignment": "ps1", "student": "s2", "db_url": db_url}}
    preprocessor.preprocess(nbformat.v4.new_notebook(), resources)
    gradebook.db.expire_all()
    penalty = gradebook.find_submission_notebook("convolution", "ps1", "s2").late_submission_penalty
    assert penalty == pytest.approx(19.0 * 0.10 * math.ceil((34 * 3600 + 60) / 86400))
    assert penalty == pytest.approx(3.8)

