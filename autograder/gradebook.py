"""The course as an nbgrader course: its configuration, gradebook checks, and the autograde step.

Trusted code. ``autograder grade`` grades in the sandbox first; :func:`sync` then runs nbgrader's own
``autograde`` (with :mod:`autograder.nbgrader_bridge` in its pipeline) for each student, so the
gradebook, ``autograded/`` and everything nbgrader builds on them (formgrader, feedback, export) hold
our scores. Problems a user can fix raise :class:`GradebookError` with what to do.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import sys
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder import names
from autograder.config import Assignment, Course
from autograder.errors import GradebookError

if TYPE_CHECKING:
    from autograder.late import Late

CONFIG_FILE = "nbgrader_config.py"
# What the LMS said of each file `nbgrader zip_collect` took (its LATE mark, its time), by student and sha256, in
# <course>/downloaded/<assignment>/: written by autograder.nbgrader_plugins.CanvasZipCollector.
LMS_MARKS = "lms_marks.json"
# The course's nbgrader_config.py: this package's template, which the repository's own course links to.
CONFIG_TEMPLATE = Path(__file__).with_name("nbgrader_config_template.py")


def ensure_config(course: Course) -> Path:
    """The course's nbgrader_config.py, written from the template if the course has none."""
    path = course.root / CONFIG_FILE
    if not path.exists():
        shutil.copyfile(CONFIG_TEMPLATE, path)
    return path


def load_config(course: Course, **overrides: dict[str, Any]) -> Any:
    """The course's nbgrader configuration (a traitlets Config), with per-class ``overrides``."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    path = course.root / CONFIG_FILE
    if not path.is_file():
        raise GradebookError(
            f"{path} is missing, so {course.root} is not an nbgrader course yet: run `autograder release` "
            "(it writes one) or copy it from the course template."
        )
    prepare_nbgrader()
    try:
        config = PyFileConfigLoader(CONFIG_FILE, path=str(course.root)).load_config()
    except Exception as exc:  # traitlets wraps whatever the file raised
        raise GradebookError(f"{path} could not be loaded: {exc}") from None
    extra = Config()
    for section, values in overrides.items():
        for key, value in values.items():
            extra[section][key] = value
    config.merge(extra)
    return config


def prepare_nbgrader() -> None:
    """Prepare nbgrader, in this process, to create gradebooks.

    nbgrader stamps a new gradebook with the schema version it gets by running the `alembic heads` command
    (a subprocess: about 3 s for every new gradebook, scratch ones included). It gets the same answer from
    alembic's own ScriptDirectory here, in this process (:func:`expected_schema`). The `alembic` command of
    this environment stays on PATH for nbgrader's other uses of it (``nbgrader db upgrade``).
    """
    import nbgrader.api

    nbgrader.api.get_alembic_version = expected_schema
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def nbgrader_api(config: Any) -> Any:
    """nbgrader's own API object for a course configuration (what the formgrader uses)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def db_url(config: Any) -> str:
    """The gradebook's URL in a course configuration (from :func:`load_config`)."""
    from nbgrader.coursedir import CourseDirectory

    return str(CourseDirectory(config=config).db_url)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite gradebook URL; None for other databases (and in-memory SQLite)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _timeout(url: str) -> float:
    from sqlalchemy.engine import make_url

    return float(make_url(url).query.get("timeout", 5.0))  # type: ignore[arg-type]  # SQLite's default: 5 s


def expected_schema() -> str:
    """The gradebook schema (alembic revision) this nbgrader writes."""
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    return str(ScriptDirectory(ALEMBIC_DIR).get_current_head())


def check_gradebook(course: Course, assignment: Assignment, config: Any = None) -> str:
    """The gradebook exists, has this nbgrader's schema, is not locked, and knows the assignment.

    Returns its db_url. Raises :class:`GradebookError` saying what to do otherwise.
    """
    url = db_url(config if config is not None else load_config(course))
    path = sqlite_path(url)
    if path is not None:
        path = path if path.is_absolute() else course.root / path
        if not path.is_file():
            raise GradebookError(
                f"No gradebook at {path}: run `autograder release {assignment.id}` first (it records the "
                "assignment's notebook, grade cells and points in the gradebook)."
            )
        try:
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=_timeout(url))) as conn:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
                conn.execute("BEGIN IMMEDIATE")  # waits like nbgrader will; fails if a writer holds the lock
                conn.rollback()
        except sqlite3.OperationalError as exc:
            raise _db_error(path, exc) from None
        except sqlite3.DatabaseError as exc:
            raise GradebookError(f"{path} is not an nbgrader gradebook ({exc}). Move it away and run "
                                 f"`autograder release` to make a new one.") from None
        want = expected_schema()
        if row is None or row[0] != want:
            raise GradebookError(
                f"{path} has gradebook schema {row[0] if row else 'unknown'!r}, but this nbgrader expects {want!r}. "
                "Back the file up, then run `nbgrader db upgrade` with the nbgrader version pinned in "
                "constraints.txt (use the same nbgrader version for the formgrader and the grader)."
            )
    from nbgrader.api import Gradebook, MissingEntry

    try:
        with Gradebook(url, course.course_id) as gb:
            gb.find_assignment(assignment.id)
            gb.find_notebook(Path(assignment.notebook).stem, assignment.id)
    except MissingEntry:
        raise GradebookError(
            f"Assignment {assignment.id} (notebook {assignment.notebook}) is not in the gradebook {url}: run "
            f"`autograder release {assignment.id}` first."
        ) from None
    except Exception as exc:  # sqlalchemy's OperationalError (locked) and friends
        raise _db_error(path or Path(url), exc) from None
    return url


def _db_error(path: Path, exc: BaseException) -> GradebookError:
    if "locked" in str(exc):
        return GradebookError(
            f"The gradebook {path} stayed locked by another process (a formgrader request, another "
            "`autograder grade` or `nbgrader` command?) longer than the configured timeout. Nothing was "
            "written. Wait for it to finish and run the same command again."
        )
    return GradebookError(f"The gradebook {path} cannot be used: {exc}")


def record_release(course: Course, assignment: Assignment, url: str) -> None:
    """Set the assignment's due date (course.yml ``due``) in the gradebook at ``url``; generate_assignment made
    the rest."""
    from nbgrader.api import Gradebook

    due = assignment.due
    if due is not None and due.tzinfo is not None:
        due = due.astimezone(UTC).replace(tzinfo=None)  # nbgrader stores naive UTC
    with Gradebook(url, course.course_id) as gb:
        gb.update_or_create_assignment(assignment.id, duedate=due)


@dataclass
class SyncOutcome:
    student: str
    ok: bool
    message: str = ""
    skipped: bool = False  # not an error: e.g. an ungradable file, which nbgrader cannot read either
    notes: list[str] = field(default_factory=list)  # recorded, with something the instructor must know


def submitted_student(course: Course, assignment: Assignment, notebook: Path) -> str | None:
    """The nbgrader student id if ``notebook`` is ``<course>/submitted/<student>/<assignment>/<notebook>``."""
    submitted = (course.root / "submitted").resolve()
    try:
        rel = notebook.absolute().relative_to(submitted)
    except ValueError:
        try:
            rel = notebook.resolve().relative_to(submitted)
        except ValueError:
            return None
    parts = rel.parts
    if len(parts) == 3 and parts[1] == assignment.id and parts[2] == assignment.notebook:
        return parts[0]
    return None


def _symlinks(folder: Path) -> list[Path]:
    found = [folder] if folder.is_symlink() else []
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            if (Path(dirpath) / name).is_symlink():
                found.append(Path(dirpath) / name)
    return found


def sync(course: Course, assignment: Assignment, students: list[str], results_dir: Path) -> list[SyncOutcome]:
    """Run nbgrader's autograde (our pipeline) for ``students``; one outcome each, none stops the others.

    Before nbgrader touches a student's submission: the student must be in the gradebook (or is added, as
    ``c.Autograde.create_student`` in the course's nbgrader config says: nbgrader's default True adds them, with a
    note; False refuses them with what to do), the submission folder must hold no symbolic link (nbgrader would
    copy what it points to), and our result must be for exactly the submitted file. A student who fails a check
    gets no gradebook write at all. A submission without timestamp.txt whose file is not the one recorded last
    does not keep the earlier file's time in the gradebook (nbgrader would keep it): see :func:`_submission_time`.
    ``students`` are the names of the folders in ``submitted/``; one that is not its own student id
    (:mod:`autograder.names`: nbgrader would take ``*?[]`` as a glob, strip spaces, ...) is not recorded, with
    what to rename.
    """
    from nbgrader.api import Gradebook

    from autograder.nbgrader_bridge import ResultsUnavailable, current_results

    config = load_config(course, InjectResults={"results_directory": str(results_dir.resolve()),
                                                "grade_missing": False})
    url = check_gradebook(course, assignment, config)
    api = nbgrader_api(config)
    create_student = bool(config.Autograde.get("create_student", True))  # nbgrader's default: True
    marks = lms_marks(course, assignment)
    with Gradebook(url, course.course_id) as gb:
        roster = {str(s.id) for s in gb.students}
    outcomes: list[SyncOutcome] = []
    for student in students:
        problem = names.gradebook_problem(student)
        if problem:  # nbgrader would glob, strip or mis-store the raw name; our results are under its id
            outcomes.append(SyncOutcome(student, False, problem))
            continue
        folder = course.root / "submitted" / student / assignment.id
        links = _symlinks(folder)
        if links:
            outcomes.append(SyncOutcome(student, False, f"{links[0]} is a symbolic link: nbgrader would copy what it "
                                        "points to into autograded/. Replace it with the file itself (or remove it) "
                                        "and run the same command again."))
            continue
        notes: list[str] = []
        if student not in roster and not create_student:
            outcomes.append(SyncOutcome(student, False, f"student {student!r} is not in the gradebook: add them "
                                        f"with `nbgrader db student add {student} --last-name=... --first-name=... "
                                        "--lms-user-id=...` (or `nbgrader db student import roster.csv`), then run "
                                        "the same command again (c.Autograde.create_student is False in "
                                        f"{CONFIG_FILE}: students are not added by grading)."))
            continue
        if student not in roster:
            notes.append(f"not in the roster: added to the gradebook without a name or lms_user_id "
                         f"(c.Autograde.create_student is True, nbgrader's default). Give them theirs with "
                         f"`nbgrader db student add {student} --last-name=... --first-name=... --lms-user-id=...` "
                         f"(the Canvas export matches on lms_user_id), or set c.Autograde.create_student = False "
                         f"in {CONFIG_FILE} to refuse students outside the roster.")
        if not (folder / assignment.notebook).is_file():  # e.g. only convolution-Copy1.ipynb was submitted
            outcomes.append(SyncOutcome(student, False, f"not recorded: no {assignment.notebook} in {folder} (the "
                                        "student's feedback.md says what to rename; they must submit again)",
                                        skipped=True))
            continue
        try:  # nbgrader's InjectResults checks it too, but only after nbgrader has updated the submission row
            data = current_results(results_dir, student, folder / assignment.notebook, assignment.id)
        except ResultsUnavailable as exc:
            outcomes.append(SyncOutcome(student, False, str(exc)))
            continue
        if data.get("status") == "ungradable":  # nbgrader cannot read it either; it would only log a traceback
            outcomes.append(SyncOutcome(student, False, f"not recorded: {data.get('output') or 'ungradable'} "
                                        "(the student's feedback.md says so; enter a grade in the formgrader "
                                        "if your policy gives one)", skipped=True))
            continue
        notes += _submission_time(url, course, assignment, student, folder, results_dir, data, marks)
        with warnings.catch_warnings():
            # nbgrader's update_or_create_submission triggers SQLAlchemy autoflush warnings of its own
            # ("... not in session, add operation ... will not proceed"); the rows are added right after.
            warnings.filterwarnings("ignore", module="nbgrader", message=".*not in session.*")
            outcome = api.autograde(assignment.id, student, force=True, create=student not in roster)
        if outcome.get("success"):
            outcomes.append(SyncOutcome(student, True, notes=notes))
        else:
            outcomes.append(SyncOutcome(student, False, "nbgrader autograde failed: " + _failure(outcome)))
    return outcomes


def lms_marks(course: Course, assignment: Assignment) -> dict[str, dict[str, Any]]:
    """What the LMS said of the files `nbgrader zip_collect` took for ``assignment``, by ``<student>/<sha256>``
    ({} if none)."""
    import json

    path = course.root / "downloaded" / assignment.id / LMS_MARKS
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def lms_late_without_time(marks: dict[str, dict[str, Any]], data: dict[str, Any]) -> bool:
    """The LMS marked exactly this student's graded file (``data``: its results.json) LATE and gave no time."""
    mark = marks.get(f"{data.get('student', '')}/{data.get('submission_sha256', '')}")
    return bool(mark and mark.get("late") and not mark.get("timestamp"))


def _submission_time(url: str, course: Course, assignment: Assignment, student: str, folder: Path,
                     results_dir: Path, data: dict[str, Any], marks: dict[str, dict[str, Any]]) -> list[str]:
    """Before nbgrader records ``student``'s submission: nbgrader keeps the gradebook's time when the folder has no
    timestamp.txt (an LMS download, a file placed by hand), so a resubmission would keep the time of the file
    before it. When the file is not the one recorded last (its sync record), that old time is cleared: the
    submission is recorded without a time (no penalty) and the instructor is told. Returns notes for the
    instructor (also: the LMS marked this file LATE without a time)."""
    from nbgrader.api import Gradebook, MissingEntry

    from autograder.nbgrader_bridge import SYNC_RECORD, _read_sync

    notes: list[str] = []
    late_mark = lms_late_without_time(marks, data)
    if (folder / "timestamp.txt").is_file():
        return notes
    if _read_sync(results_dir / student / SYNC_RECORD) != data.get("submission_sha256"):
        with Gradebook(url, course.course_id) as gb:
            try:
                sub = gb.find_submission(assignment.id, student)
            except MissingEntry:
                sub = None
            if sub is not None and sub.timestamp is not None:
                notes.append(f"the time of the previous file ({sub.timestamp:%Y-%m-%d %H:%M:%S} UTC) was not kept "
                             f"for this new file, which has no timestamp.txt")
                sub.timestamp = None
                gb.db.commit()
    if late_mark:
        notes.append(f"the LMS marked this file LATE but gave no time, so no late penalty was computed: write the "
                     f"time the LMS shows (UTC, e.g. 2027-01-26 14:03:00) into {folder / 'timestamp.txt'} and run "
                     "the same command again")
    elif notes:
        notes.append(f"recorded without a submission time (no late penalty): if it was late, write its time into "
                     f"{folder / 'timestamp.txt'} and run the same command again")
    return notes


@dataclass
class Recorded:
    """A submission as the gradebook holds it after nbgrader's autograde: what the student's files must say."""

    student: str
    score: float  # nbgrader's: auto scores and a TA's scores so far, before the penalty
    max_score: float
    penalty: float
    seconds_late: float
    submitted_at: datetime | None
    due: datetime | None  # with the student's extension
    pending: list[tuple[str, float]]  # (grade id, points) a TA has not graded yet
    lms_late: bool = False  # the LMS marked the file LATE without a time: no penalty could be computed

    def late(self, percent_per_day: float) -> Late | None:
        """The penalty as the student is told it: exactly the gradebook's (extensions included); None if on time."""
        from autograder.late import Late

        when = f"{self.submitted_at:%Y-%m-%d %H:%M:%S}" if self.submitted_at else ""
        due = f"{self.due:%Y-%m-%d %H:%M:%S}" if self.due else ""
        if self.lms_late:
            return Late("lms-mark", None, percent_per_day, self.score, self.max_score, 0.0, when, due)
        if self.seconds_late <= 0:
            return None
        return Late("gradebook", self.seconds_late, percent_per_day, self.score, self.max_score, self.penalty, when,
                    due)


def recorded(course: Course, assignment: Assignment, students: list[str],
             results_dir: Path | None = None) -> dict[str, Recorded]:
    """The gradebook's view of ``students``' submissions of ``assignment`` (those it has)."""
    from nbgrader.api import Gradebook, MissingEntry

    from autograder.report import read_result

    marks = lms_marks(course, assignment)
    found: dict[str, Recorded] = {}
    with Gradebook(db_url(load_config(course)), course.course_id) as gb:
        for student in students:
            try:
                sub = gb.find_submission(assignment.id, student)
            except MissingEntry:
                continue
            grades = [g for nb in sub.notebooks for g in nb.grades]
            pending = [(str(g.name), float(g.max_score or 0.0)) for g in grades
                       if g.auto_score is None and g.manual_score is None]
            data = read_result(results_dir, student) if results_dir is not None else None
            found[student] = Recorded(
                student=student, score=float(sub.score or 0.0), max_score=float(sub.max_score or 0.0),
                penalty=float(sum(float(nb.late_submission_penalty or 0.0) for nb in sub.notebooks)),
                seconds_late=float(sub.total_seconds_late or 0.0), submitted_at=sub.timestamp, due=sub.duedate,
                pending=pending,
                lms_late=bool(data) and sub.timestamp is None and lms_late_without_time(marks, data or {}))
    return found


def without_secret(course: Course, assignment: Assignment, students: list[str]) -> list[str]:
    """Of ``students`` with feedback, those whose submission has no submission_secret.txt: nbgrader's exchange
    cannot return their feedback (collected by zip_collect, placed by hand)."""
    return [s for s in students
            if not (course.root / "autograded" / s / assignment.id / "submission_secret.txt").is_file()
            and not (course.root / "submitted" / s / assignment.id / "submission_secret.txt").is_file()]


def _failure(outcome: dict[str, Any]) -> str:
    """The exception line of nbgrader's captured log (the rest is in its log)."""
    log = f"{outcome.get('log') or ''}\n{outcome.get('error') or ''}"
    found = [m.group(1) for m in re.finditer(r"^\s*(?:\[ERROR\]\s*)?((?:[\w.]+)(?:Error|Exception|Unavailable): .*)$",
                                             log, re.M)]
    specific = [f for f in found if not f.startswith("nbgrader.converters.base.NbGraderException")]
    found = specific or found
    return found[-1] if found else (log.strip().splitlines() or ["(no log)"])[-1]


def feedback(course: Course, assignment: Assignment, student: str | None = None) -> list[Path]:
    """nbgrader's generate_feedback (HTML per student, ``feedback/<student>/<assignment>/``), forced."""
    config = load_config(course)
    check_gradebook(course, assignment, config)
    outcome = nbgrader_api(config).generate_feedback(assignment.id, student, force=True)
    if not outcome.get("success"):
        raise GradebookError(f"nbgrader generate_feedback failed:\n{outcome.get('error') or outcome.get('log')}")
    pattern = f"{student or '*'}/{assignment.id}/*.html"
    return sorted((course.root / "feedback").glob(pattern))
