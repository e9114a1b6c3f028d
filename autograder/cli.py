"""The ``autograder`` command: a thin click layer over plain functions.

User mistakes raise :class:`autograder.errors.AutograderError`; :func:`main` is the one place that
catches them, prints the message (no traceback) and exits with the error's code.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from autograder.bounds import visible
from autograder.config import Course, describe_schema, load_course
from autograder.errors import AutograderError, ConfigError, ReleaseError

if TYPE_CHECKING:
    from autograder.batch import Refused
    from autograder.config import Assignment
    from autograder.grade import SubmissionInput
    from autograder.gradebook import Recorded


def _echo(message: str = "", *, err: bool = False, nl: bool = True) -> None:
    """Print a line to the instructor's terminal: file names, student ids, messages and a notebook's output
    come from submissions, so control characters are shown as escapes (:func:`autograder.bounds.visible`)."""
    click.echo(visible(message), err=err, nl=nl)


def find_course_file(start: Path) -> Path:
    """``course.yml`` in ``start`` or the nearest folder above it (as git finds its repository)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / "course.yml").is_file():
            return folder / "course.yml"
    raise ConfigError(f"No course.yml in {start} or any folder above it: run `autograder` inside a course folder, "
                      "or pass --course PATH/course.yml.")


def _course(ctx: click.Context, *, released_only: bool = False) -> Course:
    path: Path | None = ctx.obj.get("course_path")
    return load_course(path if path is not None else find_course_file(Path.cwd()), released_only=released_only)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--course", "course_path", type=click.Path(path_type=Path), default=None,
              help="course.yml to use (default: the one in this folder or the nearest folder above it).")
@click.pass_context
def cli(ctx: click.Context, course_path: Path | None) -> None:
    """Release, grade and validate the course's notebook assignments."""
    ctx.ensure_object(dict)
    ctx.obj["course_path"] = course_path


@cli.command()
@click.argument("assignment_ids", nargs=-1)
@click.option("--check", is_flag=True,
              help="Do not write; exit 3 if assignments/ is stale against solutions/ and course.yml.")
@click.pass_context
def release(ctx: click.Context, assignment_ids: tuple[str, ...], check: bool) -> None:
    """Generate the student notebooks in assignments/ from solutions/ (with nbgrader).

    course.yml is the source of the points: each question's points are written into its grade cell's nbgrader
    metadata in the notebook nbgrader generates from (and so into the release and the gradebook). A question whose
    text says "(N points)" with another N is refused (exit 3), naming the cell and what to write.
    """
    from autograder import release as rel

    course = _course(ctx)
    chosen = [course.assignment(a) for a in assignment_ids] or course.assignments
    stale: list[str] = []
    for a in chosen:
        if check:
            problems = rel.stale_files(course, a)
            stale += problems
            _echo(f"{a.id}: {'STALE' if problems else 'current'}")
        else:
            target = rel.release(course, a)
            _echo(f"{a.id}: released to {target}")
    if stale:
        raise ReleaseError("The release is stale:\n" + "\n".join(f"  - {p}" for p in stale)
                           + "\nRun `autograder release` and commit assignments/.")


@cli.command()
@click.argument("assignment_id")
@click.argument("submissions", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Folder for results.json / feedback.md per student and the batch CSV (default for the course's "
              "submitted/ folder: <course>/grades/<assignment>; required for submissions elsewhere).")
@click.option("--runner", default="cpu", show_default=True, help="Runner profile from course.yml.")
@click.option("--force", is_flag=True, help="Regrade submissions that already have results.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--jobs", "-j", default=None, type=click.IntRange(1, 64), envvar="AUTOGRADER_JOBS", show_envvar=True,
              help="Submissions graded at a time on this machine (each in its own grader process). Default: this "
              "machine's cores, fewer when memory cannot hold that many workers at their limits.memory_mb. A running "
              "cluster (--cluster ADDRESS) grades as many at a time as it has workers. 1 grades in this process, "
              "without starting a cluster.")
@click.option("--cluster", default="local", show_default=True, metavar="local|inprocess|tls://HOST:PORT",
              help="Where to grade: a Dask cluster of --jobs processes on this machine (local, on 127.0.0.1 with "
              "TLS), one Dask worker thread in this process (inprocess), or a running Dask scheduler (tls://; "
              "tcp:// on 127.0.0.1 only). See README, 'Grading on a cluster'.")
@click.option("--scheduler-file", type=click.Path(path_type=Path), default=None,
              help="A running Dask cluster's scheduler file (`dask scheduler --scheduler-file`), instead of --cluster.")
@click.option("--no-gradebook", is_flag=True,
              help="Do not record the scores in nbgrader's gradebook (done by default for <course>/submitted/).")
@click.pass_context
def grade(ctx: click.Context, assignment_id: str, submissions: tuple[Path, ...], out_dir: Path | None, runner: str,
          force: bool, no_progress: bool, jobs: int | None, cluster: str, scheduler_file: Path | None,
          no_gradebook: bool) -> None:
    """Grade SUBMISSIONS (notebooks, nbgrader submitted/<student>/<assignment>/ folders, or submitted/).

    Submissions in the course's own submitted/ folder (nbgrader's collect or zip_collect put them there) are
    then recorded in nbgrader's gradebook by nbgrader's autograde step, with the scores from the sandbox:
    the formgrader, `nbgrader generate_feedback` and `nbgrader export` see them.
    """
    from autograder import gradebook
    from autograder.batch import (
        default_jobs,
        grade_batch,
        refuse_lookalikes_of_results,
        refused_message,
        scan_submissions,
    )
    from autograder.cluster import choose
    from autograder.config import check_notebook_points
    from autograder.errors import GradebookError, SubmissionError
    from autograder.report import score_table

    course = _course(ctx)
    assignment = course.assignment(assignment_id)
    where = choose(cluster, scheduler_file)
    if runner not in course.runners:
        raise AutograderError(f"Unknown runner {runner!r}; course.yml defines: {', '.join(course.runners)}.")
    subs, refused = scan_submissions(assignment, submissions)
    check_notebook_points(course, assignment)
    in_course = {s.student: gradebook.submitted_student(course, assignment, s.notebook) for s in subs}
    use_gradebook = not no_gradebook and all(in_course.values())
    if out_dir is None:
        if not all(in_course.values()):
            raise SubmissionError("--out is required for submissions outside the course's submitted/ folder "
                                  f"({course.root / 'submitted'}).")
        out_dir = course.root / "grades" / assignment.id
    # a name that looks the same as a result already in the output folder (Dave, then dave) is refused too
    subs, lookalikes = refuse_lookalikes_of_results(subs, out_dir)
    refused += lookalikes
    if refused:
        _echo(refused_message(refused), err=True)
    if not subs:
        raise SubmissionError("Nothing graded: every submission was refused because of its name (see above).")
    if use_gradebook:
        gradebook.check_gradebook(course, assignment)  # before grading: fail early, write nothing
    if jobs is None:
        jobs, why = default_jobs(course.limits_for(assignment))
        if why:
            _echo(why, err=True)
    summary = grade_batch(course, assignment, subs, out_dir, runner=runner, force=force,
                          progress=not no_progress, jobs=jobs, cluster=where)
    _echo(score_table(summary.rows))
    _echo(f"\nGraded {summary.graded_now}, already done {summary.skipped}.")
    if summary.graded_now or summary.infra_failed:
        _echo(f"Graded on {summary.where}.")
    if summary.regrade_line():
        _echo(summary.regrade_line())
    _echo(f"Grades: {summary.csv_path} ({summary.csv_rows} students, one column per question)")
    _echo(f"Feedback: {out_dir}/<student>/feedback.md, its HTML twin feedback.html with the pictures "
               "(results.json beside them)")
    if summary.class_report:
        _echo(f"Class report: {summary.class_report} (numbers: class-report.json beside it)")
    else:
        _echo(f"Class report: not written ({summary.class_report_error}); the grades are. Retry with "
                   f"`autograder report {assignment.id}`.", err=True)
    if summary.failures:
        _echo("Not graded normally:\n" + "\n".join(f"  - {f}" for f in summary.failures))
    if not use_gradebook:
        if any(in_course.values()) and not no_gradebook:
            _echo("Gradebook: not updated (only submissions in the course's submitted/ folder are recorded).")
        _late_from_timestamps(course, assignment, subs, out_dir)
        _infra_failures(summary.infra_failed)
        _refused(refused)
        return
    outcomes = gradebook.sync(course, assignment, [str(in_course[s.student]) for s in subs], out_dir)
    failed = [o for o in outcomes if not o.ok and not o.skipped]
    recorded = sum(o.ok for o in outcomes)
    _echo(f"Gradebook: {recorded} of {len(outcomes)} recorded by nbgrader's autograde "
               f"({course.root / 'autograded'}/); the formgrader shows them.")
    for o in outcomes:
        if o.skipped:
            _echo(f"  - {o.student}: {o.message}")
        for note in o.notes:
            _echo(f"  - {o.student}: {note}")
    _tell_the_gradebooks_story(course, assignment, [o.student for o in outcomes if o.ok], out_dir)
    if failed:
        raise GradebookError("Not recorded in the gradebook (their sandbox results are kept):\n"
                             + "\n".join(f"  - {o.student}: {o.message}" for o in failed)
                             + (f"\nAlso {refused_message(refused)}" if refused else ""))
    _infra_failures(summary.infra_failed)
    _refused(refused)


def _tell_the_gradebooks_story(course: Course, assignment: Assignment, students: list[str],
                               out_dir: Path) -> dict[str, Recorded]:
    """Rewrite the recorded students' feedback.md, feedback.html and results.json so they say what the gradebook
    says (its late penalty, the questions a TA still grades); print who is late and without a penalty."""
    from autograder import gradebook, report

    states = gradebook.recorded(course, assignment, students, out_dir)
    for student, state in states.items():
        report.tell_the_story(out_dir, assignment, student, late=state.late(course.late_penalty_percent_per_day),
                              pending=state.pending, mode=int(course.output_mode, 8))
    late = [s for s, state in sorted(states.items()) if state.seconds_late > 0]
    if late:
        _echo(f"Late (penalty from the gradebook, in their feedback): {', '.join(late)}")
    return states


def _late_from_timestamps(course: Course, assignment: Assignment, subs: list[SubmissionInput], out_dir: Path) -> None:
    """Submissions not recorded in the gradebook with a timestamp.txt beside the notebook: their feedback shows the
    late penalty course.yml's policy gives for it, and every manual question as still to grade (without one, the
    files stay as grading wrote them)."""
    from autograder import late, report

    pending = [(q.id, float(q.points)) for q in assignment.questions if q.manual]
    for sub in subs:
        data = report.read_result(out_dir, sub.student)
        if data is None:
            continue
        found = late.from_timestamp_file(sub.notebook.parent / "timestamp.txt", assignment.due,
                                         course.late_penalty_percent_per_day, float(str(data.get("score") or 0)),
                                         float(str(data.get("max_score") or 0)))
        if found is not None:  # without a timestamp.txt there is nothing to add to what grading wrote
            report.tell_the_story(out_dir, assignment, sub.student, late=found, pending=pending,
                                  mode=int(course.output_mode, 8))


def _refused(refused: list[Refused]) -> None:
    """Exit 4 when submissions were refused because of their names: the others were graded (and recorded)."""
    from autograder.batch import refused_message
    from autograder.errors import SubmissionError

    if refused:
        raise SubmissionError(refused_message(refused))


def _infra_failures(failed: dict[str, str]) -> None:
    """Exit 9 when the cluster could not grade some submissions: nothing was recorded for them."""
    from autograder.errors import ClusterError

    if failed:
        raise ClusterError(f"{len(failed)} submission(s) were not graded because their grading workers kept dying "
                           f"({', '.join(sorted(failed)[:10])}{' ...' if len(failed) > 10 else ''}); nothing was "
                           "recorded for them. Run the same command again: it grades those, and only those.")


@cli.command()
@click.argument("assignment_id")
@click.option("--grades", "grades_dir", type=click.Path(path_type=Path), default=None,
              help="The folder `grade --out` wrote (default: <course>/grades/<assignment>).")
@click.argument("submissions", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
def report(ctx: click.Context, assignment_id: str, grades_dir: Path | None, submissions: tuple[Path, ...]) -> None:
    """Write the class report of ASSIGNMENT (class-report.html and .json beside the grades CSV): the score
    distribution, each question's mean, each test's pass rate, the commonest failure messages, who was not graded,
    regrade deltas, held-out accuracies, and the most similar pairs of SUBMISSIONS (as for `grade`; default: the
    course's submitted/ folder, when it exists)."""
    from autograder import class_report
    from autograder.batch import refused_message, scan_submissions
    from autograder.errors import SubmissionError

    course = _course(ctx)
    assignment = course.assignment(assignment_id)
    grades = grades_dir or course.root / "grades" / assignment.id
    if not list(grades.glob("*/results.json")):
        raise SubmissionError(f"{grades}: no results to report on. Grade first (`autograder grade {assignment.id} "
                              "...`), or pass --grades with the folder `grade --out` wrote.")
    paths = list(submissions) or [p for p in [course.root / "submitted"] if p.is_dir()]
    subs, refused = scan_submissions(assignment, paths) if paths else ([], [])
    if refused:
        _echo(f"Similar submissions: not compared, {refused_message(refused)}", err=True)
    if not subs:
        _echo("Similar submissions: not compared (no submissions given, and no submitted/ folder).", err=True)
    json_path, html_path = class_report.write(grades, assignment, mode=int(course.output_mode, 8), submissions=subs,
                                              stub=course.released_notebook(assignment),
                                              reference=course.solution_notebook(assignment))
    _echo(f"Class report: {html_path} (numbers: {json_path})")


@cli.command()
@click.argument("assignment_id")
@click.option("--student", default=None, help="Only this student (default: every autograded submission).")
@click.pass_context
def feedback(ctx: click.Context, assignment_id: str, student: str | None) -> None:
    """Write nbgrader's HTML feedback (scores per question, our test messages, TA comments) for ASSIGNMENT.

    Runs `nbgrader generate_feedback --force`; files go to <course>/feedback/<student>/<assignment>/. Return them
    with `nbgrader release_feedback ASSIGNMENT` (exchange) or upload them to the LMS. Also brings each student's
    grades/<assignment>/<student>/feedback.md, feedback.html and results.json up to date with the gradebook (late
    penalty, questions a TA still grades), and warns while manual grading is pending, about LATE marks without a
    time, and about submissions release_feedback cannot return (no submission_secret.txt).
    """
    from autograder import gradebook

    course = _course(ctx)
    assignment = course.assignment(assignment_id)
    paths = gradebook.feedback(course, assignment, student)
    for path in paths:
        _echo(str(path))
    students = sorted({p.parent.parent.name for p in paths})
    grades = course.root / "grades" / assignment.id
    states = _tell_the_gradebooks_story(course, assignment, students, grades)
    pending = {s: st.pending for s, st in sorted(states.items()) if st.pending}
    if pending:
        _echo(f"Warning: manual grading is not finished for {len(pending)} submission(s); their feedback says "
              "what a TA still grades (grade them in the formgrader, then run this command again):", err=True)
        for s, items in pending.items():
            _echo(f"  - {s}: " + ", ".join(f"{gid} ({points:g} points)" for gid, points in items), err=True)
    lms_late = [s for s, st in sorted(states.items()) if st.lms_late]
    if lms_late:
        _echo("Warning: the LMS marked these submissions LATE without a time, so no late penalty was computed: "
              + ", ".join(lms_late) + f". Write the time into submitted/<student>/{assignment.id}/timestamp.txt "
              f"and run `autograder grade {assignment.id} submitted/` again.", err=True)
    secretless = gradebook.without_secret(course, assignment, students)
    returnable = len(students) - len(secretless)
    _echo(f"{len(paths)} feedback file(s). `nbgrader release_feedback {assignment.id}` returns those of "
          f"{returnable} student(s) through the exchange (they run `nbgrader fetch_feedback`).")
    if secretless:
        _echo(f"Not through the exchange ({len(secretless)}: collected by zip_collect or placed by hand, no "
              "submission_secret.txt; release_feedback skips them): upload their files to the LMS:", err=True)
        for s in secretless:
            _echo(f"  - {s}: {course.root / 'feedback' / s / assignment.id}/*.html "
                  f"(or {grades / s / 'feedback.html'})", err=True)


@cli.command()
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--assignment", "assignment_id", default=None, help="Assignment id (default: from the file name).")
@click.pass_context
def validate(ctx: click.Context, notebook: Path, assignment_id: str | None) -> None:
    """Run NOTEBOOK's visible checks (the released notebook's test cells) in the grading sandbox and print which
    pass, and for each that does not, the line of its test cell where it stopped and the message. No score: hidden
    tests decide the grade after submission. Exit 0 when every visible check passes, 1 when some do not, 4 when
    NOTEBOOK is not a notebook that can run.

    Where the checks come from: the course (--course, or a course.yml in this folder, the notebook's or one above
    them); else the .autograder-checks.json that `autograder release` puts beside the released notebook, which
    nbgrader's fetch_assignment gives a student with it."""
    from autograder.student_copy import CHECKS_FILE, find_target
    from autograder.validate import validate_markdown, validate_notebook

    target = find_target(notebook, course_file=ctx.obj.get("course_path"), assignment_id=assignment_id,
                         search=(Path.cwd(),))
    if target is None:
        raise ConfigError(f"No course.yml in {Path.cwd()}, in {notebook.absolute().parent} or any folder above them, "
                          f"and nothing beside {notebook}: a student's folder needs {CHECKS_FILE} beside the notebook "
                          "(nbgrader's fetch_assignment gives it with the released notebook): fetch the assignment "
                          "again and copy your notebook into the new folder. An instructor: pass --course "
                          "PATH/course.yml.")
    result = validate_notebook(target, notebook)
    _echo(validate_markdown(result), nl=False)
    if not result.all_passed:
        failing = ", ".join(c.grade_id for c in result.checks if not c.passed)
        raise AutograderError(f"{len(result.checks) - result.passed} of {len(result.checks)} visible checks did "
                              f"not pass ({failing}); see above.")


@cli.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("demo-output"), show_default=True)
@click.pass_context
def demo(ctx: click.Context, out_dir: Path) -> None:
    """The instructor workflow on sample students, in OUT/course: release every assignment, grade sample
    submissions of the first one, record them in nbgrader's gradebook, write feedback and a Canvas export."""
    from autograder.demo import run_demo

    run_demo(_course(ctx), out_dir, _echo)


@cli.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Show which worker protections are active on this machine and whether course.yml's are met."""
    from autograder.doctor import doctor_report

    try:
        course: Course | None = _course(ctx)
    except ConfigError:
        course = None
    text, ok = doctor_report(course)
    _echo(text)
    if not ok:
        sys.exit(5)


@cli.command("config")
@click.option("--describe", is_flag=True, help="Print every course.yml key with its default and meaning.")
@click.pass_context
def config_cmd(ctx: click.Context, describe: bool) -> None:
    """Check the course without grading anyone, or describe course.yml's schema.

    Runs every check `grade` makes before or while grading: course.yml, the notebooks' questions and points (and the
    points their text states), limits that contradict each other, and each hidden suite as pytest collects it (it
    holds tests, each marked @question with a question course.yml auto-grades and a positive weight, and every
    auto-graded question has a test). Prints a table per assignment; exit 2 listing every problem found. Notes what
    to set in nbgrader_config.py when it has no c.Exchange.root (nbgrader would use /srv/nbgrader/exchange).
    """
    from autograder.suite_check import check_course, config_table, exchange_notes, raise_problems

    if describe:
        _echo(describe_schema())
        return
    course = _course(ctx)
    checks, course_problems = check_course(course)
    raise_problems(course, checks, course_problems)
    _echo(config_table(course, checks))
    _echo(f"{course.root / 'course.yml'}: OK ({len(course.assignments)} assignments)")
    for note in exchange_notes(course):
        _echo(f"Note: {note}")


@cli.command("check-solution")
@click.argument("assignment_ids", nargs=-1)
@click.option("--runner", default="cpu", show_default=True, help="Runner profile from course.yml.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Keep the results (OUT/<assignment>/solution/: results.json, feedback.md, instructor.log); "
              "default: a temporary folder, removed.")
@click.pass_context
def check_solution_cmd(ctx: click.Context, assignment_ids: tuple[str, ...], runner: str, out_dir: Path | None) -> None:
    """Grade each assignment's solution notebook (solutions/<id>/) as a submission: it must get full marks.

    The real grading path (sandboxed worker, hidden suite, scoring; no gradebook). Default: every assignment.
    Exit 2 listing the failed tests and cells of a solution that does not get full marks.
    """
    import tempfile

    from autograder.suite_check import check_solution

    course = _course(ctx)
    if runner not in course.runners:
        raise AutograderError(f"Unknown runner {runner!r}; course.yml defines: {', '.join(course.runners)}.")
    chosen = [course.assignment(a) for a in assignment_ids] or course.assignments
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ag-check-solution-") as tmp:
        for a in chosen:
            result = check_solution(course, a, (out_dir or Path(tmp)) / a.id, runner=runner)
            verdict = "full marks" if result.full_marks else "NOT full marks"
            _echo(f"{a.id}: {verdict} ({result.score:g} / {result.max_score:g}, {result.notebook})")
            if not result.full_marks:
                failed.append(f"{a.id} ({result.notebook}): {result.score:g} / {result.max_score:g}\n"
                              + "\n".join(f"    - {p}" for p in result.problems))
                details = result.instructor_log.split("--- worker output ---", 1)[0].strip()
                if details:  # the failed tests' details and tracebacks, not the notebook's own output
                    _echo(f"--- {a.id}: failed tests in instructor.log ---\n{details[-3000:]}")
    if failed:
        keep = "" if out_dir else " Keep the results with --out DIR."
        raise ConfigError("A solution notebook does not get full marks: fix the solution or its hidden tests."
                          f"{keep}\n" + "\n".join(f"  - {f}" for f in failed))


@cli.group("datasets")
def datasets_group() -> None:
    """List, download and check the data sets of the course's dataset_manifest (cache: $AUTOGRADER_DATA,
    else ~/.cache/cnn-autograder)."""


@datasets_group.command("list")
@click.pass_context
def datasets_list(ctx: click.Context) -> None:
    """Every data set with its size, licence and where it is (or is not) available."""
    from autograder import datasets as ds

    _echo(f"cache: {ds.cache_dir()}")
    for d in ds.load_manifest(_course(ctx).manifest_path).values():
        found = [ds.find_file(d, f) for f in d.files]
        state = "offline" if d.offline else ("available" if all(found) else
                                             "missing" if not any(found) else "incomplete")
        _echo(f"{d.name:<14} {state:<11} {d.size:<22} {d.title}\n{'':<14} licence: {d.licence}")


@datasets_group.command("fetch")
@click.argument("name")
@click.pass_context
def datasets_fetch(ctx: click.Context, name: str) -> None:
    """Download data set NAME into the cache (checksums verified; nothing kept if they do not match)."""
    from autograder import datasets as ds

    ds.fetch(name, manifest=_course(ctx).manifest_path, echo=_echo)


@datasets_group.command("verify")
@click.argument("name", required=False)
@click.pass_context
def datasets_verify(ctx: click.Context, name: str | None) -> None:
    """Check the checksums of data set NAME (or of every data set present); non-zero exit on a problem."""
    from autograder import datasets as ds

    statuses = ds.verify(name, manifest=_course(ctx).manifest_path)
    bad = [s for s in statuses if s.state == "corrupt" or (name and s.state == "missing")]
    for s in statuses:
        where = f" ({s.path})" if s.path else ""
        _echo(f"{s.dataset}/{s.file}: {s.state}{where}" + (f"\n    {s.message}" if s.message else ""))
    if bad:
        raise ds.DatasetError(f"{len(bad)} file(s) missing or corrupt; see above for what to do.")


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="autograder", standalone_mode=False)
    except AutograderError as exc:
        _echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        _echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:  # a usage error quotes the command line: file names, escaped
        import io

        buf = io.StringIO()
        exc.show(file=buf)
        _echo(buf.getvalue(), err=True, nl=False)
        sys.exit(exc.exit_code)
