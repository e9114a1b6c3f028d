"""nbgrader's own ``autograde``, with our sandboxed scores instead of running the notebook.

Trusted code: it runs inside nbgrader (``nbgrader autograde``, the formgrader's Autograde button,
``autograder grade``) and never runs student code. The course's ``nbgrader_config.py`` calls
:func:`configure`, which puts two preprocessors in nbgrader's autograde pipeline:

- :class:`InjectResults` replaces nbgrader's ``Execute``. It reads our ``results.json`` for the
  submission (refusing one whose ``submission_sha256`` is not the submitted file's), and writes into each
  question's locked test cell a plain-text stdout (the question's feedback) and an ``execute_result``
  whose text is the question's score, which nbgrader's ``determine_grade`` takes as the partial credit.
  A submission without a current result (e.g. the formgrader's button on a new submission) is first
  graded in the sandbox by ``autograder grade`` in a subprocess.
- :class:`SaveAutoGradesKeepingReview` replaces ``SaveAutoGrades``: the same scores and comments, written
  in one transaction per notebook, and a TA's reviewed manual score stays reviewed when a regrade of the
  same submission leaves its cell's auto score unchanged (nbgrader would flag every manually graded cell
  for review again).
- :class:`SanitiseStudentCells`, last: the notebook written to ``autograded/`` (which the formgrader, the
  HTML feedback and "Open live notebook" show) has its Markdown, raw cells and outputs made inert
  (:mod:`autograder.sanitise`). The same preprocessor runs again whenever nbgrader renders a notebook as HTML
  (``HTMLExporter.preprocessors``: the formgrader's pages, ``generate_feedback``), so a notebook autograded
  before it existed is shown sanitised too.

Pages: the formgrader's responses carry a Content-Security-Policy header (:func:`install_formgrader_csp`, from
``configure`` when it runs inside a Jupyter server), and nbgrader's HTML feedback a ``<meta>`` one
(:class:`FeedbackHTMLExporter`), which also names the questions a TA still grades and describes the late penalty
as the student's feedback.md does. ``release_feedback`` is :class:`ReleaseFeedbackSkippingUnreturnable`: every file
it can return, a warning for each submission without submission_secret.txt.

Everything else (students, submissions, timestamps, restoring locked cells, late penalties, autograded/)
is nbgrader's default pipeline.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

from nbconvert.exporters import HTMLExporter
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode, from_dict
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
from nbgrader.preprocessors import NbGraderPreprocessor, SaveAutoGrades
from traitlets import Bool, Float, Unicode
from traitlets.config import Config

from autograder.bounds import visible
from autograder.late import read_timestamp_file
from autograder.nbgrader_pages import TEMPLATES

# nbgrader's own templates (the formgrader's pages, the feedback page), after ours
NBGRADER_TEMPLATES = Path(utils.__file__).parent / "server_extensions" / "formgrader" / "templates"

RESULTS_DIRECTORY = "grades/{assignment}"  # <course>/grades/<assignment>/<student>/results.json
SYNC_RECORD = ".gradebook-sync.json"  # beside results.json: the file last written into the gradebook


class ResultsUnavailable(Exception):
    """No usable sandbox result for a submission; the message says what to do."""


def configure(c: Config, config_file: str) -> None:
    """Make the nbgrader course at ``config_file``'s folder grade with our results (see module docstring).

    Called from the course's ``nbgrader_config.py`` (``configure(c, __file__)``), so the CLI, the
    formgrader and ``autograder`` all use the same settings. The course id and the late penalty come
    from course.yml (read and checked by :func:`autograder.config.load_course`).
    """
    from autograder.config import load_course
    from autograder.gradebook import prepare_nbgrader

    prepare_nbgrader()  # a gradebook this nbgrader creates is stamped in-process (no 3 s `alembic heads`)
    root = Path(os.path.abspath(config_file)).parent  # not resolved: the file may be a link to the template
    course = load_course(root / "course.yml")
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.course_id = course.course_id
    c.CourseDirectory.source_directory = "solutions"
    c.CourseDirectory.release_directory = "assignments"
    # SQLite waits 5 s for a lock by default; a formgrader request that loses that race leaves its
    # session broken until the server restarts. 30 s makes collisions with a grading run harmless.
    c.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}?timeout=30"
    c.Autograde.autograde_preprocessors = [
        "autograder.nbgrader_bridge.InjectResults",  # instead of nbgrader.preprocessors.Execute
        "nbgrader.preprocessors.IgnorePattern",
        "nbconvert.preprocessors.ClearMetadataPreprocessor",
        "nbgrader.preprocessors.LimitOutput",
        "autograder.nbgrader_bridge.SaveAutoGradesKeepingReview",  # instead of SaveAutoGrades
        "nbgrader.preprocessors.AssignLatePenalties",
        "nbgrader.preprocessors.CheckCellMetadata",
        # last, after the checksums and comments were taken from what the student wrote
        "autograder.nbgrader_bridge.SanitiseStudentCells",
    ]
    # Every notebook nbgrader renders as HTML (the formgrader's submission pages, generate_feedback) is sanitised
    # once more as it is rendered, its maths becomes MathML, the grader's pictures get their descriptions as alt
    # text and the student's names are escaped (autograder/nbgrader_pages.py); our templates come first (no
    # MathJax from a CDN, our style), and the feedback pages carry a Content-Security-Policy.
    c.HTMLExporter.preprocessors = ["autograder.nbgrader_bridge.SanitiseStudentCells",
                                    "autograder.nbgrader_pages.MathAsMathML",
                                    "autograder.nbgrader_pages.DescribeGraderPictures",
                                    "autograder.nbgrader_pages.EscapeNames"]
    c.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), str(NBGRADER_TEMPLATES)]
    c.GenerateFeedback.exporter_class = "autograder.nbgrader_bridge.FeedbackHTMLExporter"
    # release_feedback returns what it can and skips (with a warning) submissions that did not come through the
    # exchange (no submission_secret.txt); nbgrader's own stops at the first with a traceback.
    c.ExchangeFactory.release_feedback = "autograder.nbgrader_bridge.ReleaseFeedbackSkippingUnreturnable"
    install_formgrader_csp()
    # LMS downloads (`nbgrader zip_collect`): Canvas's file names, Canvas user id -> student by lms_user_id.
    c.ZipCollectApp.collector_plugin = "autograder.nbgrader_plugins.CanvasZipCollector"
    if course.late_penalty_percent_per_day > 0:
        c.AssignLatePenalties.plugin_class = "autograder.nbgrader_plugins.PercentPerDayLatePenalty"
        c.PercentPerDayLatePenalty.percent_per_day = course.late_penalty_percent_per_day


def current_results(results_dir: Path, student: str, submitted: Path, assignment: str) -> dict[str, Any]:
    """``<results_dir>/<student>/results.json``, refused (:class:`ResultsUnavailable`, saying why) when it is
    missing or broken, or was not made from exactly the ``submitted`` file of this student and assignment."""
    from autograder.grade import sha256_file
    from autograder.report import read_result, student_dir

    path = student_dir(results_dir, student) / "results.json"
    data = read_result(results_dir, student)
    if data is None:
        raise ResultsUnavailable(f"{path} is missing or unreadable.")
    if data.get("assignment") != assignment or data.get("student") != student:
        raise ResultsUnavailable(
            f"{path} is for {data.get('student')!r}/{data.get('assignment')!r}, not {student!r}/{assignment!r}."
        )
    if data.get("submission_sha256") != sha256_file(submitted):
        raise ResultsUnavailable(
            f"{path} was made from another file than {submitted} (sha256 differs): the submission changed "
            f"since it was graded. Run `autograder grade {assignment} {submitted.parent}` again."
        )
    return data


def question_score(question: dict[str, Any]) -> float:
    """The question's score as nbgrader will read it: never above its points, never below 0."""
    points = Fraction(float(question["max_score"]))
    return float(max(Fraction(0), min(Fraction(float(question["score"])), points)))


def cell_feedback(data: dict[str, Any], question: dict[str, Any] | None, *, first: bool = False) -> str:
    """Plain text for a test cell's stdout: the question's score and our student-safe messages. The ``first``
    question's also carries the submission's own note of a graded result (another notebook beside it that was not
    graded, outputs left out before grading), which feedback.md shows at its top."""
    from autograder.report import causes, points_text

    if question is None:
        status = data.get("status", "error")
        message = data.get("output") or data.get("message") or ""
        return f"Autograder: not graded ({status}). {message}".rstrip() + "\n"
    lines = [f"Autograder (hidden tests): {question['tests_passed']} of {question['tests']} passed, "
             f"{points_text(float(question['score']))} / {points_text(float(question['max_score']))} points."]
    if question.get("note"):
        lines.append(str(question["note"]))
    messages = [str(t.get("output", "")) for t in data.get("tests", [])
                if t.get("question") == question["id"] and t.get("status") != "passed"]
    lines += [f"- {c.line()}" for c in causes(messages)]
    note = data.get("output") or data.get("message")
    if note and (data.get("status") == "timeout" or (first and data.get("status") == "graded")):
        lines.append(f"Note: {note}")
    return "\n".join(lines) + "\n"


def picture_outputs(data: dict[str, Any], question_id: str, folder: Path) -> list[NotebookNode]:
    """The question's feedback pictures (PNG files the grader drew beside results.json) as ``display_data``
    outputs, which nbgrader's HTML feedback shows under the test cell, with what it shows in words as its text
    (:func:`autograder.figures.alt_text`: the picture's alt text on nbgrader's pages). A picture whose file is
    missing is left out (feedback.md still names it)."""
    import base64

    from autograder.figures import alt_text
    from autograder.report import pictures

    tests = [(str(t.get("question")), list(t.get("figures") or [])) for t in data.get("tests", [])
             if isinstance(t, dict)]
    outputs = []
    for qid, rel, figure in pictures(tests):
        if qid != question_id:
            continue
        try:
            png = (folder / rel).read_bytes()
        except OSError:
            continue
        outputs.append(from_dict({"output_type": "display_data", "metadata": {},
                                  "data": {"image/png": base64.b64encode(png).decode("ascii"),
                                           "text/plain": alt_text(figure)[:2000]}}))
    return outputs


class InjectResults(NbGraderPreprocessor):
    """Write our sandbox's per-question scores and feedback into the notebook's test cells."""

    results_directory = Unicode(
        RESULTS_DIRECTORY,
        help="Folder (relative to the course root, or absolute; {assignment} is replaced by the assignment id) "
        "holding <student>/results.json.",
    ).tag(config=True)
    grade_missing = Bool(
        True,
        help="Grade a submission without a current result in the sandbox first (`autograder grade` in a "
        "subprocess), e.g. when the formgrader's Autograde button is pressed. When False, such a "
        "submission fails with a message saying which command to run.",
    ).tag(config=True)
    grade_timeout = Float(3600, help="Seconds the sandbox grading of one submission may take.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        info = resources["nbgrader"]
        student, assignment = str(info["student"]), str(info["assignment"])
        coursedir = CourseDirectory(config=self.config)
        root = Path(coursedir.root)
        submitted = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment)) / (
            f"{info['notebook']}.ipynb")
        results_dir = Path(self.results_directory.format(assignment=assignment))
        if not results_dir.is_absolute():
            results_dir = root / results_dir
        path = results_dir / student / "results.json"
        data = self._current_results(submitted, root, results_dir, assignment, student)
        questions = {q["id"]: q for q in data.get("questions", [])}
        first = True
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
                continue
            grade_id = str(meta.get("grade_id"))
            question = questions.get(grade_id)
            if question is None and data.get("status") == "graded":
                raise ResultsUnavailable(
                    f"{path} has no score for test cell {grade_id!r}: is it a question in course.yml? "
                    f"Check with `autograder config`, then regrade with --force."
                )
            score = question_score(question) if question is not None else 0.0
            cell.outputs = [
                from_dict({"output_type": "stream", "name": "stdout",
                           "text": cell_feedback(data, question, first=first)}),
                *picture_outputs(data, grade_id, path.parent),
                from_dict({"output_type": "execute_result", "execution_count": None, "metadata": {},
                           "data": {"text/plain": repr(score)}}),
            ]
            first = False
        previous = _read_sync(path.parent / SYNC_RECORD)
        resources["autograder"] = {
            "same_submission": previous == data.get("submission_sha256"),
            "sync_record": str(path.parent / SYNC_RECORD),
            "submission_sha256": data.get("submission_sha256"),
        }
        return nb, resources

    def _current_results(self, submitted: Path, root: Path, out: Path, assignment: str,
                         student: str) -> dict[str, Any]:
        """The result for exactly the submitted file; graded first in the sandbox if need be (and allowed)."""
        try:
            return current_results(out, student, submitted, assignment)
        except ResultsUnavailable as exc:
            if not self.grade_missing:
                raise ResultsUnavailable(
                    f"{exc} Grade it first: `autograder grade {assignment} {submitted.parent}`."
                ) from None
        self.log.info("No current sandbox result for %s/%s: grading it now in the sandbox", student, assignment)
        cmd = [sys.executable, "-m", "autograder", "--course", str(root / "course.yml"), "grade", assignment,
               str(submitted.parent), "--out", str(out), "--no-progress", "--no-gradebook", "--force"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=self.grade_timeout,
                              stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONNOUSERSITE": "1"})
        if proc.returncode != 0:
            raise ResultsUnavailable(f"Grading {submitted} in the sandbox failed:\n{proc.stderr[-2000:]}")
        return current_results(out, student, submitted, assignment)


def _read_sync(path: Path) -> str | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("submission_sha256")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


class SaveAutoGradesKeepingReview(SaveAutoGrades):
    """nbgrader's SaveAutoGrades, in one transaction per notebook, keeping TA reviews of unchanged cells.

    nbgrader marks every cell that has a manual score as needing review on each autograde. Here a cell
    a TA has reviewed (manual score set, not flagged) stays reviewed when the submitted file is the one
    last written into the gradebook and the cell's auto score did not change; a new submission, or a
    changed auto score (e.g. after a hidden test was fixed), flags it for review again. Manual scores and
    comments are never touched (nbgrader keeps them too).
    """

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        self._same_submission = bool(resources.get("autograder", {}).get("same_submission"))
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.student_id = resources["nbgrader"]["student"]
        self.gradebook = Gradebook(resources["nbgrader"]["db_url"])
        with self.gradebook:
            try:
                for index, cell in enumerate(nb.cells):
                    nb.cells[index], resources = self.preprocess_cell(cell, resources, index)
                self.gradebook.db.commit()
            except BaseException:
                self.gradebook.db.rollback()
                raise
        record = resources.get("autograder", {}).get("sync_record")
        if record:
            from autograder.report import atomic_write

            atomic_write(Path(record), json.dumps(
                {"submission_sha256": resources["autograder"]["submission_sha256"]}))
        return nb, resources

    def _add_score(self, cell: NotebookNode, resources: ResourcesDict) -> None:
        grade = self.gradebook.find_grade(
            cell.metadata["nbgrader"]["grade_id"], self.notebook_id, self.assignment_id, self.student_id)
        old_auto, was_reviewed = grade.auto_score, not grade.needs_manual_grade
        auto_score, _ = utils.determine_grade(cell, self.log)
        grade.auto_score = auto_score
        if grade.manual_score is not None:
            keep = was_reviewed and self._same_submission and old_auto == auto_score
            grade.needs_manual_grade = not keep
        else:
            grade.needs_manual_grade = auto_score is None

    def _add_comment(self, cell: NotebookNode, resources: ResourcesDict) -> None:
        comment = self.gradebook.find_comment(
            cell.metadata["nbgrader"]["grade_id"], self.notebook_id, self.assignment_id, self.student_id)
        unchanged = cell.metadata.nbgrader.get("checksum", None) == utils.compute_checksum(cell)
        comment.auto_comment = "No response." if unchanged and not utils.is_task(cell) else None


class SanitiseStudentCells(NbGraderPreprocessor):
    """Make every Markdown cell, raw cell and cell output safe to render (:func:`autograder.sanitise.sanitise_cell`):
    no script, no event handler, no link, no remote or SVG image; the text stays. Drops the notebook's widget state
    (nbconvert's templates would load a widget renderer from unpkg.com for it)."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        from autograder.sanitise import sanitise_cell

        nb.cells = [from_dict(sanitise_cell(cell)) for cell in nb.cells]
        nb.metadata.pop("widgets", None)
        return nb, resources


_PENDING = float("nan")  # a cell's score while a TA has not graded it: nbgrader's template prints it as "nan"
_PENDING_SCORE = re.compile(r"Score: nan / ([0-9.]+)")


class FeedbackHTMLExporter(HTMLExporter):
    """nbgrader's HTML feedback (``generate_feedback``) with a Content-Security-Policy ``<meta>`` first in its head
    (:data:`autograder.sanitise.NBGRADER_FEEDBACK_CSP`): no script runs, nothing is loaded (the maths is MathML,
    :mod:`autograder.nbgrader_pages`), and its language is set (``<html lang="en">``).

    It tells the story the student's feedback.md tells: a question a TA has not graded yet reads "not graded yet:
    2 points still to be graded by a TA" (nbgrader would show "0.0 / 2.0"), and the late penalty is described with
    the score before and after it (:mod:`autograder.late`), below nbgrader's own "Late submission penalty" line."""

    def _preprocess(self, nb: NotebookNode, resources: Any) -> tuple[NotebookNode, Any]:
        nb, resources = super()._preprocess(nb, resources)
        info = resources.get("nbgrader") if isinstance(resources, dict) else None
        if isinstance(info, dict) and info.get("db_url") and info.get("student"):
            self._mark_story(nb, resources, info)
        return nb, resources

    def _mark_story(self, nb: NotebookNode, resources: Any, info: dict[str, Any]) -> None:
        from nbgrader.api import MissingEntry

        from autograder.late import Late

        pending: list[tuple[str, float]] = []
        story: dict[str, Any] = {"pending": pending, "late": ""}
        resources["autograder_story"] = story
        try:
            with Gradebook(info["db_url"]) as gb:
                sub = gb.find_submission(info["assignment"], info["student"])
                notebook = gb.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
                grades = {str(g.name): g for g in notebook.grades}
                for cell in nb.cells:
                    meta = cell.get("metadata", {}).get("nbgrader", {})
                    grade = grades.get(str(meta.get("grade_id"))) if meta.get("grade") or meta.get("task") else None
                    if grade is not None and grade.auto_score is None and grade.manual_score is None:
                        meta["score"] = _PENDING
                        pending.append((str(grade.name), float(grade.max_score or 0.0)))
                seconds = float(sub.total_seconds_late or 0.0)
                if seconds > 0:
                    percent = float(self.config.PercentPerDayLatePenalty.get("percent_per_day", 0.0))
                    story["late"] = Late("gradebook", seconds, percent, float(notebook.score or 0.0),
                                         float(notebook.max_score or 0.0),
                                         float(notebook.late_submission_penalty or 0.0)).line()
        except MissingEntry:
            return

    def from_notebook_node(  # type: ignore[override]
        self, nb: NotebookNode, resources: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[str, dict[str, Any]]:
        import html

        from autograder.report import points_text
        from autograder.sanitise import NBGRADER_FEEDBACK_CSP, csp_meta

        output, resources = super().from_notebook_node(nb, resources, **kw)
        output = _PENDING_SCORE.sub(lambda m: f"not graded yet: {points_text(float(m.group(1)))} points still to be "
                                    "graded by a TA", output)
        story = resources.get("autograder_story") or {}
        items = []
        if story.get("late"):
            items.append(f'<li class="late-penalty">{html.escape(story["late"])}</li>')
        pending = story.get("pending") or []
        if pending:
            total = sum(p for _, p in pending)
            names = ", ".join(f"{gid} ({points_text(p)})" for gid, p in pending)
            items.append(f'<li class="pending-grading">{points_text(total)} point{"s" if total != 1 else ""} still '
                         f"to be graded by a TA: {html.escape(names)}</li>")
        toc = output.find('<div id="toc">')
        end = output.find("</ol>", toc) if toc >= 0 else -1
        if items and end >= 0:
            output = output[:end] + "\n".join(items) + "\n" + output[end:]
        output = output.replace("<html>", '<html lang="en">', 1)
        head = output.find("<head>")
        if head < 0:
            raise ValueError("nbgrader's feedback template has no <head>: cannot add its Content-Security-Policy")
        at = head + len("<head>")
        return f"{output[:at]}\n{csp_meta(NBGRADER_FEEDBACK_CSP)}{output[at:]}", resources


class ReleaseFeedbackSkippingUnreturnable(ExchangeReleaseFeedback):
    """``nbgrader release_feedback`` that releases every feedback file it can and skips, with a warning naming the
    student and where the file is, those it cannot return through the exchange: a submission that did not come
    through ``nbgrader submit``/``collect`` (zip_collect from an LMS, placed by hand) has no submission_secret.txt
    (nbgrader's own class stops at the first with a FileNotFoundError and releases nothing after it).

    ``c.ExchangeFactory.release_feedback = "autograder.nbgrader_bridge.ReleaseFeedbackSkippingUnreturnable"``
    (set by :func:`configure`)."""

    def copy_files(self) -> None:
        import glob
        import re as regex
        import shutil

        from nbgrader.utils import notebook_hash

        exclude = set(self.coursedir.student_id_exclude.split(",")) if self.coursedir.student_id_exclude else set()
        pattern = regex.escape(os.path.sep).join([
            self.coursedir.format_path(self.coursedir.feedback_directory, "(?P<student_id>.*)",
                                       self.coursedir.assignment_id, escape=True),
            "(?P<notebook_id>.*).html"])
        skipped: list[str] = []
        released = 0
        for html_file in sorted(glob.glob(os.path.join(self.src_path, "*.html"))):
            m = regex.match(pattern, html_file)
            if m is None:
                self.log.error("Could not match '%s' with regexp '%s'", html_file, pattern)
                continue
            student_id, notebook_id = m.group("student_id"), m.group("notebook_id")
            if student_id in exclude:
                continue
            folder = os.path.dirname(html_file)
            try:
                with open(os.path.join(folder, "submission_secret.txt")) as fh:
                    secret = fh.read()
            except OSError:
                skipped.append(visible(f"{student_id}: {html_file}", lines=False))
                self.log.warning(
                    "Not released: %s (student %r): the submission did not come through the exchange (no "
                    "submission_secret.txt: collected by zip_collect or placed by hand), so `nbgrader fetch_feedback` "
                    "could not find it. Give the student the file another way (e.g. upload it to the LMS).",
                    visible(html_file, lines=False), visible(student_id, lines=False))
                continue
            try:  # the student's own `nbgrader submit` wrote it: a few bytes, shown escaped
                timestamp = visible(read_timestamp_file(Path(folder) / "timestamp.txt"), lines=False)
            except (OSError, UnicodeDecodeError):
                timestamp = "no timestamp.txt"
            checksum = notebook_hash(secret=secret, notebook_id=notebook_id)
            dest = os.path.join(self.dest_path, f"{checksum}-tmp.html")
            self.log.info("Releasing feedback for student '%s' on assignment '%s/%s/%s' (%s)", visible(student_id),
                          self.coursedir.course_id, self.coursedir.assignment_id, visible(notebook_id), timestamp)
            shutil.copy(html_file, dest)
            shutil.move(dest, os.path.join(self.dest_path, f"{checksum}.html"))
            released += 1
        if skipped:
            self.log.warning("Released %d feedback file(s); skipped %d that cannot go through the exchange (no "
                             "submission_secret.txt), give them to the students another way:\n  %s",
                             released, len(skipped), "\n  ".join(skipped))


# The formgrader's pages: its own templates have inline <script> blocks (one sets the submission's id) and onclick
# attributes, so 'unsafe-inline' must stay for scripts (no nonce or hash can be set from configuration). No MathJax
# (it evaluated its configuration block): the maths is MathML (autograder/nbgrader_pages.py), and nothing else
# evaluates strings. Everything is this server only: no script, font or request from another host, no image but this
# server's and data: ones, no frame, plugin, <base>, or form posted elsewhere, and no other site may frame the
# formgrader.
FORMGRADER_CSP = (
    "default-src 'self'; "
    "script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; "
    "font-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; frame-src 'none'; worker-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)
# A student's own file served by the formgrader (``/formgrader/submissions/<id>/<file>``, e.g. an .html handed in
# beside the notebook): shown in a sandbox, as a page of its own origin where no script runs.
SUBMISSION_FILE_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_NAVIGATION = ("next", "prev", "next_incorrect", "prev_incorrect")


def formgrader_policy(path: str, base_url: str = "/") -> str | None:
    """The Content-Security-Policy for a response to ``path`` on a Jupyter server at ``base_url``: None outside
    the formgrader, :data:`SUBMISSION_FILE_CSP` for a file of a submission, :data:`FORMGRADER_CSP` otherwise."""
    prefix = base_url.rstrip("/") + "/formgrader"
    if path != prefix and not path.startswith(prefix + "/"):
        return None
    parts = path[len(prefix):].strip("/").split("/")
    if (len(parts) >= 3 and parts[0] == "submissions" and parts[1] != "components"
            and not (len(parts) == 3 and parts[2] in _NAVIGATION)):
        return SUBMISSION_FILE_CSP
    return FORMGRADER_CSP


def install_formgrader_csp() -> bool:
    """Inside a running Jupyter server (the formgrader loads ``nbgrader_config.py`` there), add a tornado output
    transform that puts :func:`formgrader_policy`'s header on every formgrader response; other pages (JupyterLab,
    the notebook) keep the server's own. Does nothing elsewhere (nbgrader commands, ``autograder``) or when
    already done; True when the transform is in place."""
    if "jupyter_server.serverapp" not in sys.modules:
        return False
    from jupyter_server.serverapp import ServerApp

    if not ServerApp.initialized():
        return False
    web_app = getattr(ServerApp.instance(), "web_app", None)
    if web_app is None:
        return False
    if any(getattr(t, "is_formgrader_csp", False) for t in web_app.transforms):
        return True
    from tornado.web import OutputTransform

    base_url = str(web_app.settings.get("base_url", "/"))

    class FormgraderCSP(OutputTransform):
        is_formgrader_csp = True

        def __init__(self, request: Any) -> None:
            super().__init__(request)
            self._policy = formgrader_policy(request.path, base_url)

        def transform_first_chunk(self, status_code: int, headers: Any, chunk: bytes,
                                  finishing: bool) -> tuple[int, Any, bytes]:
            if self._policy is not None:
                headers["Content-Security-Policy"] = self._policy
            return status_code, headers, chunk

    web_app.add_transform(FormgraderCSP)
    return True
