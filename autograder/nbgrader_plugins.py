"""nbgrader plugins for running this course on Canvas.

Four plugins for nbgrader 0.9.x, each used by naming it in ``nbgrader_config.py`` or on the command line:

* :class:`CanvasGradesExport` -- ``nbgrader export`` to a Canvas gradebook-import CSV.
* :class:`QuestionScoresExport` -- ``nbgrader export`` of per-question scores (nbgrader's own CSV only has
  totals).
* :class:`CanvasZipCollector` -- ``nbgrader zip_collect`` for the zip from Canvas's "Download Submissions",
  mapping Canvas user ids to nbgrader students through ``Student.lms_user_id``.
* :class:`PercentPerDayLatePenalty` -- ``nbgrader autograde`` late penalty: a percentage of the score per
  started day late.

A course's ``nbgrader_config.py``::

    c.ExportApp.plugin_class = "autograder.nbgrader_plugins.CanvasGradesExport"   # or pass --exporter=...
    c.ZipCollectApp.collector_plugin = "autograder.nbgrader_plugins.CanvasZipCollector"
    c.AssignLatePenalties.plugin_class = "autograder.nbgrader_plugins.PercentPerDayLatePenalty"
    c.PercentPerDayLatePenalty.percent_per_day = 10.0
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from nbgrader.api import (
    BaseCell,
    Grade,
    Gradebook,
    Notebook,
    SubmittedAssignment,
    SubmittedNotebook,
)
from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins.export import ExportPlugin
from nbgrader.plugins.latesubmission import LateSubmissionPlugin
from nbgrader.plugins.zipcollect import FileNameCollectorPlugin
from nbgrader.utils import find_all_notebooks
from traitlets import Bool, Dict, Float, Unicode

from autograder.bounds import visible
from autograder.gradebook import sqlite_path
from autograder.report import atomic_write, points_text

__all__ = [
    "CANVAS_NAMED_REGEXP",
    "CanvasGradesExport",
    "CanvasZipCollector",
    "PercentPerDayLatePenalty",
    "QuestionScoresExport",
]

#: Default :attr:`CanvasZipCollector.named_regexp`, applied to a file's *base name*. Canvas names the files
#: in its "Download Submissions" zip ``<sortablename>_<user id>_<attachment id>_<original name>``, with
#: ``LATE_`` before the user id for late submissions, and appends ``-1``, ``-2``, ... to the original name
#: (before its extension) for resubmissions. ``file_id`` is the original name without that suffix and
#: without the extension.
CANVAS_NAMED_REGEXP = (
    r"^(?P<sortable_name>.+?)_(?P<late>LATE_)?(?P<student_id>\d+)_(?P<attachment_id>\d+)_"
    r"(?P<file_id>.+?)(?P<resubmission>-\d+)?(?P<extension>\.[^.]*)?$"
)


# ---------------------------------------------------------------------------------------------------------
# helpers shared by the exporters


def score_after_penalty(score: float | None, penalty: float | None) -> float:
    """What nbgrader's own CSV export calls ``score``: the raw score minus the late penalty, at least 0."""
    return max(0.0, float(score or 0.0) - float(penalty or 0.0))


def _as_strings(items: Sequence[Any]) -> list[str]:
    # traitlets may turn ``--student=123`` into an int, hence str() (as nbgrader's CsvExportPlugin does)
    return [str(item) for item in items]


def _write_csv(dest: str, rows: Iterable[Sequence[str]]) -> None:
    """Write ``rows`` as CSV to ``dest`` atomically (a reader never sees half a file)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    atomic_write(Path(dest).absolute(), buffer.getvalue())


class _SelectingExporter(ExportPlugin):
    """Base for the exporters: applies the ``assignment`` and ``student`` traits (``--assignment``,
    ``--student``) the way nbgrader's CsvExportPlugin does -- an empty list means all."""

    default_destination = "grades.csv"

    def _destination(self) -> str:
        return str(self.to) if self.to else self.default_destination

    def _assignments(self, gradebook: Gradebook) -> list[Any]:
        """The assignments to export, in gradebook order (due date, then name)."""
        return self._chosen("assignment", list(gradebook.assignments), self.assignment, lambda a: str(a.name))

    def _students(self, gradebook: Gradebook) -> list[Any]:
        """The students to export, sorted by id."""
        students = sorted(gradebook.students, key=lambda s: str(s.id))
        return self._chosen("student", students, self.student, lambda s: str(s.id))

    def _chosen(self, kind: str, rows: list[Any], trait: Any, key: Callable[[Any], str]) -> list[Any]:
        """``rows`` whose key is in the ``--assignment``/``--student`` list (all when it is empty); names
        that match nothing are logged."""
        wanted = _as_strings(trait)
        if not wanted:
            return rows
        self.log.info("Exporting only %ss: %s", kind, wanted)
        for name in sorted(set(wanted) - {key(r) for r in rows}):
            self.log.warning("No %s %r in the gradebook; left out", kind, name)
        return [r for r in rows if key(r) in wanted]

# ---------------------------------------------------------------------------------------------------------
# 1. Canvas gradebook import


class CanvasGradesExport(_SelectingExporter):
    """Export grades as a CSV for Canvas's gradebook import ("Grades" > "Import").

    ``nbgrader export --exporter=autograder.nbgrader_plugins.CanvasGradesExport --to canvas.csv``
    (``--assignment=...`` and ``--student=...`` restrict the export as for nbgrader's own CSV).

    Layout::

        Student,ID,SIS User ID,SIS Login ID,Section,<assignment 1>,<assignment 2>,...
        Points Possible,,,,,<max score 1>,<max score 2>,...
        "Last, First",<lms_user_id>,<nbgrader id>,<email or nbgrader id>,,<score 1>,<score 2>,...

    One row per student, sorted by nbgrader id. ``ID`` is the student's ``lms_user_id`` (the Canvas user id,
    which Canvas matches students by; empty if unknown), ``Student`` is "Last, First" (the id if the
    gradebook has no name), ``Section`` is left empty.

    A score is the submission's score after the late penalty, ``max(0, score - late_submission_penalty)``,
    rounded to 2 decimals (``17.5``, ``20``). An EMPTY cell means the student has no submission for that
    assignment in the gradebook (not submitted): Canvas leaves those ungraded rather than entering a 0, so
    missing work is visible and a later import can still fill it in. Submissions that still need manual
    grading are exported with the points given so far and reported in the log.

    The column header is the nbgrader assignment name; Canvas matches it against its assignment titles. Map
    a name to Canvas's exact column header ("Title (canvas assignment id)") with :attr:`column_names` if they
    differ. Default destination: ``canvas_grades.csv``. The file is replaced atomically.
    """

    default_destination = "canvas_grades.csv"

    column_names = Dict(
        value_trait=Unicode(),
        key_trait=Unicode(),
        default_value={},
        help="Column header to use instead of the nbgrader assignment name, e.g. {'ps1': 'Problem Set 1 (4711)'}.",
    ).tag(config=True)

    def export(self, gradebook: Gradebook) -> None:
        dest = self._destination()
        self.log.info("Exporting Canvas grades to %s", dest)
        assignments = self._assignments(gradebook)
        students = self._students(gradebook)
        names: dict[str, str] = dict(self.column_names)

        header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
        header += [names.get(a.name, a.name) for a in assignments]
        points = ["Points Possible", "", "", "", ""] + [points_text(a.max_score or 0.0) for a in assignments]
        rows: list[list[str]] = [header, points]

        by_assignment = [{sub.student_id: sub for sub in a.submissions} for a in assignments]
        ungraded: list[str] = []
        for student in students:
            row = [_display_name(student), student.lms_user_id or "", student.id, student.email or student.id, ""]
            for assignment, submissions in zip(assignments, by_assignment, strict=True):
                submission = submissions.get(student.id)
                if submission is None:
                    row.append("")
                    continue
                row.append(points_text(score_after_penalty(submission.score, submission.late_submission_penalty)))
                if submission.needs_manual_grade:
                    ungraded.append(f"{assignment.name}/{student.id}")
            rows.append(row)

        no_lms_id = [s.id for s in students if not s.lms_user_id]
        if no_lms_id:
            self.log.warning("No lms_user_id (Canvas user id) for: %s; Canvas may not match them", ", ".join(no_lms_id))
        if ungraded:
            self.log.warning("Still need manual grading (exported as graded so far): %s", ", ".join(ungraded))
        _write_csv(dest, rows)


def _display_name(student: Any) -> str:
    last = (student.last_name or "").strip()
    first = (student.first_name or "").strip()
    if last and first:
        return f"{last}, {first}"
    return last or first or str(student.id)


# ---------------------------------------------------------------------------------------------------------
# 2. per-question scores


class QuestionScoresExport(_SelectingExporter):
    """Export every graded cell's score: one row per student (sorted by id).

    ``nbgrader export --exporter=autograder.nbgrader_plugins.QuestionScoresExport --to scores.csv``

    Columns: ``student_id,lms_user_id,last_name,first_name,email``, then for each exported assignment (in
    gradebook order: due date, then name):

    * ``<assignment>/<grade_id>`` for each grade cell and task cell (notebooks by name, cells in natural order
      of their ids): the cell's score as nbgrader computes it (manual score if set, else auto score, plus
      extra credit). If two notebooks of an assignment use the same grade id the column is
      ``<assignment>/<notebook>/<grade_id>`` instead.
    * ``<assignment>/late_penalty``: the late submission penalty (sum over the notebooks).
    * ``<assignment>/total``: ``max(0, score - late_penalty)``, as in :class:`CanvasGradesExport`.
    * ``<assignment>/needs_manual_grade``: ``true`` if some cell still needs manual grading, else ``false``.

    All of a student's columns for an assignment are empty if the student has no submission for it. The first
    row after the header has ``student_id`` ``points_possible`` and the maximum scores (empty for the penalty
    and manual-grading columns). Numbers are rounded to 2 decimals. Default destination:
    ``question_scores.csv``. The file is replaced atomically.
    """

    default_destination = "question_scores.csv"

    def export(self, gradebook: Gradebook) -> None:
        dest = self._destination()
        self.log.info("Exporting per-question scores to %s", dest)
        assignments = self._assignments(gradebook)
        students = self._students(gradebook)

        header = ["student_id", "lms_user_id", "last_name", "first_name", "email"]
        points = ["points_possible", "", "", "", ""]
        per_student: dict[str, list[str]] = {s.id: [] for s in students}

        for assignment in assignments:
            cells = _graded_cells(assignment)
            header += [f"{assignment.name}/{column}" for column, _, _, _ in cells]
            header += [f"{assignment.name}/{c}" for c in ("late_penalty", "total", "needs_manual_grade")]
            points += [points_text(max_score) for _, _, _, max_score in cells]
            points += ["", points_text(assignment.max_score or 0.0), ""]

            grades = _grades_by_student(gradebook, assignment)
            submissions = {sub.student_id: sub for sub in assignment.submissions}
            for student_id, row in per_student.items():
                submission = submissions.get(student_id)
                if submission is None:
                    row += [""] * (len(cells) + 3)
                    continue
                scores, needs_manual = grades.get(student_id, ({}, False))
                for _, notebook, cell, _ in cells:
                    score = scores.get((notebook, cell))
                    row.append("" if score is None else points_text(score))
                penalty = float(submission.late_submission_penalty or 0.0)
                row.append(points_text(penalty))
                row.append(points_text(score_after_penalty(submission.score, penalty)))
                row.append("true" if needs_manual else "false")

        rows: list[list[str]] = [header, points]
        for student in students:
            identity = [student.id, student.lms_user_id or "", student.last_name or "", student.first_name or ""]
            rows.append(identity + [student.email or ""] + per_student[student.id])
        _write_csv(dest, rows)


def _natural_key(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _graded_cells(assignment: Any) -> list[tuple[str, str, str, float]]:
    """``(column, notebook, cell, max_score)`` for every grade and task cell of ``assignment``."""
    found: list[tuple[str, str, float]] = []
    for notebook in sorted(assignment.notebooks, key=lambda nb: _natural_key(nb.name)):
        cells = list(notebook.grade_cells) + list(notebook.task_cells)
        for cell in sorted(cells, key=lambda c: _natural_key(c.name)):
            found.append((notebook.name, cell.name, float(cell.max_score or 0.0)))
    counts: dict[str, int] = {}
    for _, cell_name, _ in found:
        counts[cell_name] = counts.get(cell_name, 0) + 1
    return [
        (cell if counts[cell] == 1 else f"{notebook}/{cell}", notebook, cell, max_score)
        for notebook, cell, max_score in found
    ]


def _grades_by_student(gradebook: Gradebook, assignment: Any) -> dict[str, tuple[dict[tuple[str, str], float], bool]]:
    """For each student with a submission of ``assignment``: ``{(notebook, cell): score}`` and whether some
    grade still needs manual grading (what ``SubmittedAssignment.needs_manual_grade`` computes), in one query."""
    query = (
        gradebook.db.query(
            SubmittedAssignment.student_id, Notebook.name, BaseCell.name, Grade.score, Grade.needs_manual_grade
        )
        .join(SubmittedNotebook, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
        .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
        .join(Grade, Grade.notebook_id == SubmittedNotebook.id)
        .join(BaseCell, BaseCell.id == Grade.cell_id)
        .filter(SubmittedAssignment.assignment_id == assignment.id)
    )
    result: dict[str, tuple[dict[tuple[str, str], float], bool]] = {}
    for student_id, notebook, cell, score, needs_manual in query.all():
        scores, needs = result.get(student_id, ({}, False))
        scores[(notebook, cell)] = float(score or 0.0)
        result[student_id] = (scores, needs or bool(needs_manual))
    return result


# ---------------------------------------------------------------------------------------------------------
# 3. zip_collect for Canvas downloads


class CanvasZipCollector(FileNameCollectorPlugin):
    """Collector for ``nbgrader zip_collect`` that understands Canvas's "Download Submissions" zip.

    ``nbgrader zip_collect --collector=autograder.nbgrader_plugins.CanvasZipCollector ASSIGNMENT`` after
    putting the zip into ``downloaded/ASSIGNMENT/archive/``.

    :attr:`named_regexp` (default :data:`CANVAS_NAMED_REGEXP`) is matched against each extracted file's base
    name. The Canvas user id it finds is mapped to the nbgrader student whose ``lms_user_id`` is that id (read
    from the gradebook at ``CourseDirectory.db_url``). A file whose Canvas id no student has is skipped with
    an error saying how to fix it, unless :attr:`lms_id_map_only` is False, in which case the Canvas id is used
    as the student id. Canvas puts no timestamp into the names, so none is returned (no ``timestamp.txt`` is
    written) unless a custom :attr:`named_regexp` has a ``timestamp`` group. What the LMS said of each file (its
    ``LATE`` mark, its time) is recorded by student and sha256 in ``downloaded/<assignment>/lms_marks.json``:
    ``autograder grade`` and ``autograder feedback`` report a LATE file without a time (no penalty could be
    computed), and ``autograder grade`` never lets nbgrader keep an earlier submission's time for a new file.

    A resubmission suffix ``-N`` is removed from the notebook name unless the name with the suffix is itself
    one of the released notebooks (``release/ASSIGNMENT/``) and the name without it is not.
    """

    named_regexp = Unicode(
        default_value=CANVAS_NAMED_REGEXP,
        help=(
            "Regular expression applied to the base name of each submitted file. It must provide the "
            "(?P<student_id>...) group (the Canvas user id) and the (?P<file_id>...) group (the notebook name; "
            "the file's extension is added back if the group does not end with it). Optional groups: "
            "(?P<resubmission>...) (Canvas's -N suffix), (?P<late>...) and (?P<timestamp>...) (the submission "
            "time, for an LMS that puts one in its names)."
        ),
    ).tag(config=True)

    lms_id_map_only = Bool(
        True,
        help=(
            "Only collect files whose Canvas user id is the lms_user_id of a student in the gradebook. If False, "
            "a Canvas user id that no student has is used as the nbgrader student id."
        ),
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lms_map: dict[str, list[str]] | None = None
        self._released: list[str] | None = None

    def collect(self, submitted_file: str) -> dict[str, Any] | None:
        """Map one extracted file to ``{"student_id", "file_id", "timestamp": None}``, or None to skip it."""
        shown = visible(submitted_file, lines=False)  # Canvas's names carry the student's file name: logged escaped
        ext = os.path.splitext(submitted_file)[1]
        if ext not in self.valid_ext:
            self.log.debug("Invalid file extension %s: %s", visible(ext, lines=False), shown)
            return None
        groups = self._match(os.path.basename(submitted_file))
        if not groups:
            return None
        canvas_id = (groups.get("student_id") or "").strip()
        if not canvas_id or not groups.get("file_id"):
            self.log.error("named_regexp found no student_id or no file_id in %s; skipping it", shown)
            return None

        student_id = self._student_for(canvas_id, shown)
        if student_id is None:
            return None
        timestamp = self._timestamp(groups, shown)
        late = bool(groups.get("late"))
        if late and timestamp is None:
            self.log.warning(
                "Canvas marked %s as LATE; its name has no time, so nbgrader cannot compute a late penalty: "
                "`autograder grade` and `autograder feedback` will list it until you write the time Canvas shows "
                "into submitted/%s/<assignment>/timestamp.txt",
                shown,
                visible(student_id, lines=False),
            )
        self._record_mark(submitted_file, student_id, late, timestamp)
        return {"student_id": student_id, "file_id": self._notebook_name(groups, ext), "timestamp": timestamp}

    # -- the LMS's time and LATE mark ------------------------------------------------------------------

    def _timestamp(self, groups: dict[str, Any], submitted_file: str) -> str | None:
        """The submission time in the name when :attr:`named_regexp` has a ``timestamp`` group (other LMSs put
        one there; Canvas does not), checked the way nbgrader will parse it; None otherwise."""
        from nbgrader.utils import parse_utc

        text = (groups.get("timestamp") or "").strip()[:200]
        if not text:
            return None
        try:
            parse_utc(text)
        except Exception:  # noqa: BLE001 - a name's text (dateutil also raises OverflowError)
            self.log.error("%s: %r is not a time; collected without a submission time", submitted_file, text)
            return None
        return text

    def _record_mark(self, submitted_file: str, student_id: str, late: bool, timestamp: str | None) -> None:
        """Note what the LMS said about this student's exact file (by student and sha256: two students may hand in
        the same bytes) in ``downloaded/<assignment>/``
        (:data:`autograder.gradebook.LMS_MARKS`), where `autograder grade` and `autograder feedback` read it: a
        LATE mark without a time is reported there, since no penalty can be computed for it."""
        import hashlib
        import json


        try:
            digest = hashlib.sha256(Path(submitted_file).read_bytes()).hexdigest()
        except OSError:
            return
        path = self._marks_path()
        try:
            marks = json.loads(path.read_text(encoding="utf-8"))
            marks = marks if isinstance(marks, dict) else {}
        except (OSError, ValueError):
            marks = {}
        marks[f"{student_id}/{digest}"] = {"student": student_id, "file": os.path.basename(submitted_file),
                                           "late": late, "timestamp": timestamp}
        atomic_write(path, json.dumps(marks, indent=1, sort_keys=True))

    def _marks_path(self) -> Path:
        from autograder.gradebook import LMS_MARKS

        coursedir = self._coursedir()
        downloaded = getattr(self.parent, "downloaded_directory", "downloaded")
        return Path(coursedir.root) / str(downloaded) / str(coursedir.assignment_id) / LMS_MARKS

    # -- the file name ---------------------------------------------------------------------------------

    def _notebook_name(self, groups: dict[str, Any], ext: str) -> str:
        """The submitted notebook's name with extension. ZipCollectApp strips whatever follows the last dot of
        ``file_id`` and appends the file's real extension, so a dotted name needs its extension here."""
        base = str(groups["file_id"])
        if base.endswith(ext):
            base = base[: -len(ext)]
        name = base + ext
        suffix = groups.get("resubmission") or ""
        if suffix:
            released = self._released_notebooks()
            if name not in released and base + suffix + ext in released:
                name = base + suffix + ext
        return name

    def _released_notebooks(self) -> list[str]:
        if self._released is None:
            coursedir = self._coursedir()
            path = coursedir.format_path(coursedir.release_directory, ".", coursedir.assignment_id)
            self._released = list(find_all_notebooks(path)) if os.path.isdir(path) else []
        return self._released

    # -- the student -----------------------------------------------------------------------------------

    def _student_for(self, canvas_id: str, submitted_file: str) -> str | None:
        students = self._lms_students().get(canvas_id, [])
        canvas_id = visible(canvas_id, lines=False)  # (from here on, only logged)
        if len(students) == 1:
            return students[0]
        if len(students) > 1:
            self.log.error(
                "Skipping %s: students %s all have lms_user_id %s; give it to one of them only "
                "(nbgrader db student add <id> --lms-user-id=...)",
                submitted_file,
                ", ".join(sorted(students)),
                canvas_id,
            )
            return None
        if not self.lms_id_map_only:
            self.log.warning("No student has lms_user_id %s; using it as the student id for %s", canvas_id,
                             submitted_file)
            return canvas_id
        self.log.error(
            "Skipping %s: no student in the gradebook has lms_user_id %s (the Canvas user id). Fix: "
            "`nbgrader db student add <student_id> --lms-user-id=%s` (repeat --first-name/--last-name/--email, "
            "the command overwrites them) or import a roster with an lms_user_id column "
            "(`nbgrader db student import students.csv`), then run zip_collect again with --force.",
            submitted_file,
            canvas_id,
            canvas_id,
        )
        return None

    def _lms_students(self) -> dict[str, list[str]]:
        """``{lms_user_id: [student ids]}`` from the gradebook, read once."""
        if self._lms_map is None:
            self._lms_map = self._read_lms_map()
        return self._lms_map

    def _read_lms_map(self) -> dict[str, list[str]]:
        coursedir = self._coursedir()
        db_url = str(coursedir.db_url)
        if (path := sqlite_path(db_url)) is not None and not path.exists():
            self.log.error("No gradebook at %s: add the students (with their lms_user_id) first", db_url)
            return {}
        mapping: dict[str, list[str]] = {}
        with Gradebook(db_url, coursedir.course_id) as gradebook:
            for student in gradebook.students:
                lms_id = (student.lms_user_id or "").strip()
                if lms_id:
                    mapping.setdefault(lms_id, []).append(str(student.id))
        return mapping

    def _coursedir(self) -> Any:
        """The running app's CourseDirectory (ZipCollectApp creates the plugin with ``parent=self``)."""
        coursedir = getattr(self.parent, "coursedir", None)
        if coursedir is None:
            coursedir = CourseDirectory(parent=self)
        return coursedir


# ---------------------------------------------------------------------------------------------------------
# 4. late penalty


class PercentPerDayLatePenalty(LateSubmissionPlugin):
    """Late penalty of :attr:`percent_per_day` percent of the score per started day (24 h) late.

    ``c.AssignLatePenalties.plugin_class = "autograder.nbgrader_plugins.PercentPerDayLatePenalty"``

    ``nbgrader autograde`` calls :meth:`late_submission_penalty` once per submitted *notebook*, with that
    notebook's score and how late the whole submission is (after extensions), and stores the result as the
    notebook's ``late_submission_penalty``. The inherited ``penalty_method`` trait is not used.
    """

    percent_per_day = Float(
        10.0, min=0.0, help="Percentage of the score taken off per started day (24 hours) late."
    ).tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float:
        """``min(score, score * percent_per_day / 100 * ceil(total_seconds_late / 86400))``; 0 if not late
        (:func:`autograder.late.penalty`, which the student's feedback describes the penalty with too)."""
        from autograder import late

        value = late.penalty(float(score or 0.0), float(total_seconds_late or 0.0), float(self.percent_per_day))
        if value:
            self.log.info("%s is %d day(s) late: penalty %s of %s points", student_id,
                          late.started_days(total_seconds_late), value, score)
        return value
