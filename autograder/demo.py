"""``autograder demo``: the whole instructor workflow on sample students, in a course folder of its own.

``<out>/course`` is a copy of the course (course.yml, nbgrader_config.py, assignments/; links to
solutions/, datasets/ and the hidden suites): every assignment is released into its own gradebook, a
roster of sample students is imported, their submissions of the first assignment are put in nbgrader's
``submitted/`` layout (with ``timestamp.txt``, one of them late), graded in the sandbox, recorded in the
gradebook by nbgrader's autograde step, and nbgrader's HTML feedback is generated. The repository's own
course folder is never touched.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from autograder.config import Course, load_course
from autograder.errors import AutograderError
from autograder.report import score_table

MARKER = ".autograder-demo"  # the demo only ever deletes a folder that holds this file
SAMPLE_STUDENTS = {  # sample kind -> (last name, first name, LMS user id)
    "correct": ("Lovelace", "Ada", "1001"),
    "partial": ("Turing", "Alan", "1002"),
    "stub": ("Hopper", "Grace", "1003"),
    "syntax_error": ("Hamilton", "Margaret", "1004"),
    "not_a_notebook": ("Liskov", "Barbara", "1005"),
}
LATE = "partial"  # submitted 26 hours after the due date


def make_course_copy(source: Course, target: Path) -> Course:
    """A course folder at ``target`` sharing ``source``'s notebooks, data and hidden suites."""
    target.mkdir(parents=True)
    shutil.copy2(source.root / "course.yml", target / "course.yml")
    shutil.copy2(source.root / "nbgrader_config.py", target / "nbgrader_config.py")
    shutil.copytree(source.root / "assignments", target / "assignments")
    for name in ("solutions", "datasets"):
        (target / name).symlink_to((source.root / name).resolve())
    for a in source.assignments:
        link = target / a.hidden_suite
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(source.hidden_suite(a).resolve())
    return load_course(target / "course.yml")


def _nbgrader(course: Course, *args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course.root, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise AutograderError(f"nbgrader {' '.join(args)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")


def run_demo(source: Course, out_dir: Path, echo: Callable[[str], None]) -> None:
    from autograder import gradebook
    from autograder import release as rel
    from autograder.batch import default_jobs, find_submissions, grade_batch
    from autograder.samples import write_samples

    if out_dir.exists():
        if not (out_dir / MARKER).is_file():
            raise AutograderError(f"{out_dir} exists and was not made by `autograder demo`: choose another --out "
                                  "(the demo deletes and rebuilds its folder).")
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    (out_dir / MARKER).write_text("made by `autograder demo`; deleted by the next demo run\n")
    course = make_course_copy(source, out_dir / "course")
    for a in course.assignments:
        echo(f"released {a.id} -> {rel.release(course, a)} (and into {course.root / 'gradebook.db'})")
    roster = (out_dir / "roster.csv").resolve()
    with roster.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "last_name", "first_name", "email", "lms_user_id"])
        for kind, (last, first, lms) in SAMPLE_STUDENTS.items():
            writer.writerow([kind, last, first, f"{first.lower()}@example.edu", lms])
    _nbgrader(course, "db", "student", "import", str(roster))
    assignment = course.assignments[0]
    submitted = course.root / "submitted"
    write_samples(course, assignment, submitted, tuple(SAMPLE_STUDENTS))
    if assignment.due is not None:  # nbgrader's timestamp.txt, as `nbgrader collect` writes it
        for kind in SAMPLE_STUDENTS:
            when = assignment.due + (timedelta(hours=26) if kind == LATE else timedelta(hours=-2))
            (submitted / kind / assignment.id / "timestamp.txt").write_text(f"{when:%Y-%m-%d %H:%M:%S.%f} UTC")
    echo(f"\nSample submissions of {assignment.id} in {submitted}/ (nbgrader's layout; {LATE!r} is 26 h late): "
         + ", ".join(SAMPLE_STUDENTS) + "\n")
    out = course.root / "grades" / assignment.id
    subs = find_submissions(assignment, [submitted])
    summary = grade_batch(course, assignment, subs, out, progress=True,
                          jobs=default_jobs(course.limits_for(assignment))[0])
    echo(score_table(summary.rows))
    outcomes = gradebook.sync(course, assignment, [s.student for s in subs], out)
    recorded = [o.student for o in outcomes if o.ok]
    echo(f"\nGradebook ({course.root / 'gradebook.db'}): {len(recorded)} recorded by nbgrader's autograde")
    for o in outcomes:
        if not o.ok:
            echo(f"  {o.student}: {o.message}")
    html = gradebook.feedback(course, assignment)
    canvas = (out_dir / "canvas_grades.csv").resolve()
    _nbgrader(course, "export", "--exporter=autograder.nbgrader_plugins.CanvasGradesExport", f"--to={canvas}")
    echo(f"\nGrades CSV:      {summary.csv_path}")
    echo(f"Feedback (text): {out}/<student>/feedback.md (its HTML twin with pictures: feedback.html; "
         "results.json beside them)")
    echo(f"Feedback (HTML): {course.root / 'feedback'}/<student>/{assignment.id}/{Path(assignment.notebook).stem}.html "
         f"({len(html)} files, from nbgrader generate_feedback)")
    echo(f"Canvas import:   {canvas} (nbgrader export, late penalty applied)")
    echo(f"Formgrader:      `make formgrader` (or: cd {course.root} && {Path(sys.executable).parent / 'jupyter'} "
         "server --ip=127.0.0.1), then open the printed URL's /formgrader (TAs grade the written answers there)")
    echo(f"Class report:    {summary.class_report or 'not written: ' + summary.class_report_error} "
         "(for TAs: scores, hardest tests, common failures, regrades, similar submissions)")
