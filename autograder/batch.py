"""A batch: find the submissions, grade each one, keep going whatever one of them does.

Crash safety and fair reuse: a submission's ``results.json`` is written atomically and last, and records the
fingerprint of everything that decided its score (:mod:`autograder.fingerprint`: the notebook, the course.yml
entry, the hidden suite, the workbooks, the released notebook, the runner, the grader). Re-running the same
command regrades exactly the submissions whose fingerprint changed, and says what changed; the others are
reused (so a batch killed with SIGKILL finishes where it stopped, none graded twice); ``force=True`` regrades
everything. A journal (``.grading-journal.jsonl``, append-only) records which submissions a ``--force`` batch has
finished (and which Dask worker graded each), so re-running an interrupted ``--force`` command resumes it instead
of regrading those again. Submissions are graded on Dask (:mod:`autograder.cluster`: this machine's cores by
default, or any cluster); this process is the only writer. Temporary files of writes cut short by a kill are
removed. The CSV is rebuilt at the end from every result of the assignment in the output folder (not only this
run's submissions), one row per student, one column per question.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from autograder import class_report, fingerprint, names
from autograder.bounds import cut, visible
from autograder.cluster import LOCAL, ClusterChoice
from autograder.config import Assignment, Course, Limits
from autograder.errors import SubmissionError
from autograder.grade import (
    GradeResult,
    OtherFile,
    SubmissionInput,
    Ungradable,
    grade_submission,
    open_regular,
    read_submission,
    sha256_file,
)
from autograder.names import code_span, shown
from autograder.report import all_results, csv_rows, read_result, write_csv, write_result
from autograder.sandbox import isolation

JOURNAL = ".grading-journal.jsonl"



@dataclass
class Refused:
    """A submission not graded because of its name (:func:`autograder.names.problems`)."""

    student: str  # the id it would have had
    name: str  # the folder or file name it came from
    notebook: Path
    reason: str

    def line(self) -> str:
        return f"'{shown(self.name)}' ({visible(str(self.notebook), lines=False)}): {self.reason}"


def refused_message(refused: list[Refused]) -> str:
    return (f"{len(refused)} submission(s) not graded because of their names (the others were graded):\n"
            + "\n".join(f"  - {r.line()}" for r in refused))


def scan_submissions(assignment: Assignment, paths: Iterable[Path]) -> tuple[list[SubmissionInput], list[Refused]]:
    """The submissions in ``paths`` (notebook files, nbgrader ``<student>/<assignment>/`` folders, a student's
    folder, or a ``submitted/`` root) with their student ids (:func:`autograder.names.student_id`), and those
    refused by name: an id too long, or names that would collide. A path that does not exist, or holds no
    submission, stops everything (:class:`SubmissionError`): that is a typo in the command. A submission found
    in a folder carries the other notebooks of its folder (``convolution-Copy1.ipynb``: :func:`other_notebooks`),
    which are not graded and which its feedback names."""
    paths = [Path(p) for p in paths]
    found: list[tuple[str, Path]] = []  # (name, notebook)
    nb_name = assignment.notebook
    for path in paths:
        path = Path(path)
        if path.is_file():
            stem_is_generic = path.name == nb_name
            owner = path.parent.parent.name if path.parent.name == assignment.id else path.parent.name
            found.append((owner if stem_is_generic else path.stem, path))
        elif path.is_dir() and (path / nb_name).exists():
            owner = path.parent.name if path.name == assignment.id else path.name
            found.append((owner, path / nb_name))
        elif path.is_dir() and (path / assignment.id / nb_name).exists():
            found.append((path.name, path / assignment.id / nb_name))
        elif path.is_dir():
            # a student folder holding notebooks, but not one with the released name (convolution-Copy1.ipynb):
            # graded as ungradable with a message saying what to rename, never skipped silently
            folders = {p.parent for p in path.glob(f"*/{assignment.id}/*.ipynb")}
            notebooks = sorted({*path.glob(f"*/{assignment.id}/{nb_name}"), *(f / nb_name for f in folders)})
            if not notebooks:
                raise SubmissionError(
                    f"{visible(str(path))}: no submissions found. Expected {visible(str(path))}/<student>/"
                    f"{assignment.id}/{nb_name} (nbgrader's submitted/ layout), a student's folder, or notebook "
                    "files."
                )
            found += [(f.parent.parent.name, f) for f in notebooks]
        else:
            raise SubmissionError(f"{visible(str(path))}: no such file or folder.")
    bad = names.problems(n for n, _ in found)
    # a folder given (not a file): the other notebooks beside the graded one are named in its feedback, not graded
    given = {p for p in paths if p.is_file()}
    subs = [SubmissionInput(names.student_id(n), nb, () if nb in given else other_notebooks(nb))
            for n, nb in found if n not in bad]
    refused = [Refused(names.student_id(n), n, nb, bad[n]) for n, nb in found if n in bad]
    return subs, refused


MAX_OTHER_FILES = 20  # other notebooks recorded per submission (results.json's ignored_files)
MAX_FILES_SAID = 5  # of which named in its message


def other_notebooks(notebook: Path) -> tuple[OtherFile, ...]:
    """The notebooks beside ``notebook`` (``convolution-Copy1.ipynb``, ``Untitled.ipynb``), with their size and
    modification time, when ``notebook`` exists (a folder with only a copy is ungradable: :func:`misnamed_message`).
    Hidden files (Jupyter's ``.ipynb_checkpoints/``) are not looked at."""
    if not notebook.is_file():
        return ()
    out = []
    for p in sorted(notebook.parent.glob("*.ipynb")):
        if p.name == notebook.name or p.name.startswith("."):
            continue
        try:
            st = p.lstat()  # never what a link points to (/etc/shadow's size and time), never a FIFO or a device
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        when = datetime.fromtimestamp(st.st_mtime, UTC).strftime("%Y-%m-%d %H:%M")
        out.append(OtherFile(p.name, st.st_size, when))
    return tuple(out)


def human_size(size: int) -> str:
    """``812 bytes``, ``12.3 KiB``, ``47.7 MiB``."""
    if size < 1024:
        return f"{size} bytes"
    return f"{size / 1024:.1f} KiB" if size < 1024 * 1024 else f"{size / 2**20:.1f} MiB"


def ignored_message(expected: str, ignored: Iterable[OtherFile]) -> str:
    """What a student reads at the top of the feedback when other notebooks were handed in beside the graded one."""
    ignored = list(ignored)
    files = "; ".join(f"{code_span(f.name)} ({human_size(f.size)}, modified {f.modified} UTC)"
                      for f in ignored[:MAX_FILES_SAID])
    if len(ignored) > MAX_FILES_SAID:
        files += f" and {len(ignored) - MAX_FILES_SAID} more"
    return (f"Also handed in, and NOT graded: {files}. Only {expected} is graded, as released: if your work is in "
            f"another file, rename that file to {expected} and submit again.")


def note_ignored(result: GradeResult, sub: SubmissionInput, expected: str) -> None:
    """Record in ``result`` the other notebooks of ``sub`` (not graded), and say so first in its message."""
    if not sub.ignored:
        return
    result.ignored_files = [asdict(f) for f in sub.ignored[:MAX_OTHER_FILES]]
    result.message = cut(" ".join(x for x in (ignored_message(expected, sub.ignored), result.message) if x))


def find_submissions(assignment: Assignment, paths: Iterable[Path]) -> list[SubmissionInput]:
    """:func:`scan_submissions`, refusing (:class:`SubmissionError`, naming them) any submission it refuses."""
    subs, refused = scan_submissions(assignment, paths)
    if refused:
        raise SubmissionError(refused_message(refused))
    return subs


def refuse_lookalikes_of_results(subs: list[SubmissionInput],
                                 out_dir: Path) -> tuple[list[SubmissionInput], list[Refused]]:
    """``subs`` less those whose name looks the same as (:func:`autograder.names.collision_key`), but is not,
    the name of a result already in ``out_dir`` (``dave`` after ``Dave`` was graded: one folder on a
    case-insensitive file system), which are returned refused."""
    earlier = {names.collision_key(names.name_of(p.parent.name)): p.parent.name
               for p in (out_dir.glob("*/results.json") if out_dir.is_dir() else [])}
    kept, refused = [], []
    for sub in subs:
        other = earlier.get(names.collision_key(names.name_of(sub.student)))
        if other is None or other == sub.student:
            kept.append(sub)
            continue
        refused.append(Refused(sub.student, names.name_of(sub.student), sub.notebook,
                               f"looks the same as '{names.shown(names.name_of(other))}', already graded in the "
                               "output folder (one folder on a case-insensitive file system): not graded. Rename "
                               "it to the student's roster id, or move the other result away, and run the same "
                               "command again"))
    return kept, refused


@dataclass
class BatchSummary:
    rows: list[dict[str, object]] = field(default_factory=list)  # this run's submissions
    graded_now: int = 0
    skipped: int = 0
    csv_path: Path = Path()
    csv_rows: int = 0  # every student with a result in the output folder
    failures: list[str] = field(default_factory=list)
    regraded: dict[str, int] = field(default_factory=dict)  # fingerprint part -> submissions regraded for it
    infra_failed: dict[str, str] = field(default_factory=dict)  # student -> why the cluster could not grade it
    where: str = "this process"  # where the batch was graded
    class_report: Path | None = None  # class-report.html, written at the end of the batch
    class_report_error: str = ""  # why it could not be written (the grades are written all the same)

    def regrade_line(self) -> str:
        """E.g. "3 regraded: hidden suite changed (3)" (empty when nothing previously graded was regraded)."""
        n = sum(self.regraded.values())
        return f"{n} regraded: {fingerprint.describe_changes(self.regraded)}" if n else ""


def grade_batch(
    course: Course,
    assignment: Assignment,
    subs: list[SubmissionInput],
    out_dir: Path,
    *,
    runner: str = "cpu",
    force: bool = False,
    progress: bool = True,
    jobs: int = 1,
    cluster: ClusterChoice | None = None,
) -> BatchSummary:
    """Grade ``subs`` into ``out_dir`` on ``cluster`` (default: ``jobs`` submissions at a time on this machine),
    skip those already graded for the same file unless ``force``, then write the CSV. Submissions the cluster
    could not grade (its workers kept dying) are listed in ``infra_failed`` and get no result."""
    cluster = cluster or ClusterChoice(LOCAL)
    summary = BatchSummary(csv_path=out_dir / f"{assignment.id}-grades.csv")
    # refuses if a required protection is missing (the probe checks that the course's secrets are out of sight)
    secrets = isolation.course_secrets(course)
    for warning in isolation.enforce(course.sandbox.require, secrets):
        print(warning, file=sys.stderr)
    probe = isolation.probe(secrets)
    sandbox = f"{probe.mode}; protections missing: {', '.join(probe.missing()) or 'none'}"
    out_dir.mkdir(parents=True, exist_ok=True)
    for tmp in [*out_dir.glob(".*.tmp"), *out_dir.glob("*/.*.tmp")]:  # writes cut short by a kill
        tmp.unlink(missing_ok=True)
    mode = int(course.output_mode, 8)
    current = fingerprint.course_fingerprint(course, assignment, runner)
    # the other notebooks of a submission's folder are part of what was handed in: adding or removing a copy
    # regrades it ("submission changed"), so its feedback names the copies there are
    others = {s.student: _others_digest(s) for s in subs}
    digests = {s.student: _digest(s.notebook) + others[s.student] for s in subs}  # each file read once here
    journal = _Journal(out_dir / JOURNAL, assignment, digests, runner, force, mode)
    todo = []
    before: dict[str, dict[str, Any]] = {}  # student -> the result a regrade replaces (for the class report)
    for sub in subs:
        if sub.student in journal.done:
            summary.skipped += 1
            continue
        previous = read_result(out_dir, sub.student)
        if previous is None or previous.get("assignment") != assignment.id:
            todo.append(sub)
            continue
        changed = fingerprint.changed_parts(previous.get("fingerprint"),
                                            {"notebook": digests[sub.student], **current})
        if changed or force:
            todo.append(sub)
            reason = fingerprint.PART_NAMES.get(changed[0], changed[0]) if changed else "regraded with --force"
            before[sub.student] = {"score": previous.get("score"), "status": previous.get("status"),
                                   "reason": reason}
            if changed:
                summary.regraded[changed[0]] = summary.regraded.get(changed[0], 0) + 1
        else:
            summary.skipped += 1
    bar = tqdm(total=len(todo), desc=f"grading {assignment.id}", unit="nb", disable=not progress, file=sys.stderr)
    recorded: set[str] = set()
    by_student = {s.student: s for s in todo}
    summary.where = "this process" if _in_this_process(cluster, jobs, len(todo)) else cluster.describe()
    for outcome in _grade_all(course, assignment, todo, runner, jobs, cluster):
        if outcome.result is None:  # an infrastructure failure: nothing recorded, the next run grades it
            summary.infra_failed[outcome.student] = outcome.error
            journal.record({"infra_failed": outcome.student, "error": outcome.error[:500]})
        elif outcome.student not in recorded:  # the first result of a submission wins
            result = outcome.result
            if result.student in by_student:
                note_ignored(result, by_student[result.student], assignment.notebook)
            result.fingerprint = {"notebook": result.submission_sha256 + others.get(result.student, ""), **current}
            result.previous = before.get(result.student, {})
            write_result(result, assignment, out_dir, mode=mode, sandbox=sandbox)
            journal.record({"done": result.student, "worker": outcome.worker})
            recorded.add(result.student)
            summary.graded_now += 1
        bar.set_postfix_str(visible(outcome.student, lines=False))
        bar.update()
    bar.close()
    journal.record({"complete": True})
    results = all_results(out_dir, assignment.id)
    rows = {str(r["student"]): r for r in csv_rows(results, assignment)}
    for sub in subs:
        row = rows.get(sub.student, {"student": sub.student, "status": "missing", "score": "", "max_score": "",
                                     "execution_time": ""})
        summary.rows.append(row)
        if sub.student in summary.infra_failed:
            summary.failures.append(f"{sub.student}: not graded - the grading infrastructure failed "
                                    f"({summary.infra_failed[sub.student][:300]}); the same command grades it again")
        elif row.get("status") != "graded":
            data = read_result(out_dir, sub.student) or {}
            summary.failures.append(f"{sub.student}: {row.get('status')} - {data.get('message', '')}")
    write_csv(list(rows.values()), assignment, summary.csv_path, mode=mode)
    summary.csv_rows = len(rows)
    try:
        summary.class_report = class_report.write(out_dir, assignment, mode=mode, submissions=subs,
                                                  stub=course.released_notebook(assignment),
                                                  reference=course.solution_notebook(assignment))[1]
    except Exception as exc:  # noqa: BLE001 - the grades are written; a broken report must not hide them
        summary.class_report_error = f"{type(exc).__name__}: {exc}"
    return summary


class _Journal:
    """Append-only lines: a header naming the batch, ``{"done": student}`` per result, ``{"complete": true}``.

    A ``--force`` batch whose header matches an unfinished journal (same assignment, runner and files)
    resumes it: the students it already finished are not graded again.
    """

    def __init__(self, path: Path, assignment: Assignment, digests: dict[str, str], runner: str,
                 force: bool, mode: int = 0o600) -> None:
        files = sorted(digests.items())
        key = hashlib.sha256(json.dumps([assignment.id, runner, force, files]).encode()).hexdigest()
        self.path = path
        self.mode = mode
        self.done: set[str] = set()
        lines: list[dict[str, object]] = []
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            text = ""
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:  # a line torn by a kill
                continue
            if isinstance(entry, dict):
                lines.append(entry)
        if force and lines and lines[0].get("batch") == key and not any(x.get("complete") for x in lines):
            self.done = {str(x["done"]) for x in lines if "done" in x}
        else:
            path.unlink(missing_ok=True)
            self.record({"batch": key})

    def record(self, entry: dict[str, object]) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, self.mode)
        try:
            os.write(fd, (json.dumps(entry) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)


def _others_digest(sub: SubmissionInput) -> str:
    """"" without other notebooks beside the graded one, else "+" and a digest of their names and contents."""
    if not sub.ignored:
        return ""
    files = [[f.name, _digest(sub.notebook.parent / f.name)] for f in sub.ignored[:MAX_OTHER_FILES]]
    files.append([str(len(sub.ignored)), ""])  # a 21st copy added or removed changes it too
    return "+" + hashlib.sha256(json.dumps(files).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _digest(path: Path) -> str:
    try:
        return sha256_file(path)
    except OSError:
        return ""


GRADER_MIB = 1024  # a trusted grader process (pytest, the reference libraries; TensorFlow for the Keras assignments)


def default_jobs(limits: Limits) -> tuple[int, str]:
    """How many submissions to grade at a time by default: one per core this process may use, fewer when the
    available memory cannot hold that many grader processes plus workers at their memory limit. Returns the
    count and, when memory lowered it, a sentence saying so (empty otherwise)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    available = _available_mib()
    per_job = limits.memory_mb + GRADER_MIB
    if available is None or available >= cores * per_job:
        return max(cores, 1), ""
    jobs = max(1, int(available // per_job))
    return jobs, (f"Grading {jobs} submission(s) at a time, not {cores} (one per core): {available:.0f} MiB of memory "
                  f"is available and each needs up to {per_job} MiB (limits.memory_mb {limits.memory_mb} for the "
                  f"worker, about {GRADER_MIB} for its grader). Pass --jobs to choose.")


def _available_mib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


@dataclass
class Outcome:
    """One submission's grading: its result, or (``result`` None) why the infrastructure could not grade it."""

    student: str
    result: GradeResult | None
    worker: str = "this process"  # the Dask worker that graded it
    error: str = ""


def _in_this_process(cluster: ClusterChoice, jobs: int, submissions: int) -> bool:
    """``--jobs 1`` or a single submission on the local default: no cluster to start."""
    return cluster.kind == LOCAL and (jobs <= 1 or submissions <= 1)


def _grade_all(course: Course, assignment: Assignment, subs: list[SubmissionInput], runner: str, jobs: int,
               cluster: ClusterChoice) -> Iterator[Outcome]:
    """Outcomes in completion order: in this process (:func:`_in_this_process`), else one task per submission on
    ``cluster``. Submissions no worker needs to see (misnamed, unreadable, too large) are answered here; a notebook
    over ``max_notebook_mb`` only because of its outputs goes to the cluster without them (:func:`_without_outputs`),
    its result then names the submitted file and says what was left out."""
    if _in_this_process(cluster, jobs, len(subs)):
        for sub in subs:
            yield Outcome(sub.student, grade_one(course, assignment, sub, runner))
        return
    limits = course.limits_for(assignment)
    limit = limits.max_notebook_mb * 1024 * 1024
    notebooks: dict[str, bytes] = {}
    stripped: dict[str, tuple[str, str]] = {}  # student -> (the note, the submitted file's sha256)
    for sub in subs:
        try:
            if 0 <= _regular_size(sub.notebook) <= limit:  # never a link's target (grade_one refuses links)
                with open_regular(sub.notebook) as f:
                    notebooks[sub.student] = f.read()
                continue
            smaller = _without_outputs(sub.notebook, limits)
            if smaller is not None:
                notebooks[sub.student], stripped[sub.student] = smaller[0], smaller[1:]
                continue
        except OSError:
            pass
        yield Outcome(sub.student, grade_one(course, assignment, sub, runner))  # says what is wrong with it
    if notebooks:
        for outcome in _grade_on_cluster(course, assignment, [s for s in subs if s.student in notebooks], notebooks,
                                         runner, jobs, cluster):
            if outcome.result is not None and outcome.student in stripped:
                note, sha = stripped[outcome.student]
                outcome.result.submission_sha256 = sha  # (the file nbgrader records, not the copy graded)
                outcome.result.message = " ".join(x for x in (note, outcome.result.message) if x)
            yield outcome


def _without_outputs(path: Path, limits: Limits) -> tuple[bytes, str, str] | None:
    """A notebook over ``limits.max_notebook_mb`` only because of its outputs: (the notebook without them, as
    compact JSON within the limit, the note for its feedback, the submitted file's sha256); None for any other file
    (refused by :func:`grade_one` in this process, with why)."""
    if not 0 <= _regular_size(path) <= limits.max_submission_mb * 1024 * 1024:
        return None
    sha = sha256_file(path)
    try:
        nb, note = read_submission(path, limits)
    except Ungradable:
        return None
    data = json.dumps(nb, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if not note or len(data) > limits.max_notebook_mb * 1024 * 1024:
        return None
    return data, note, sha


def _regular_size(path: Path) -> float:
    """The size of ``path`` if it is a regular file (not a link to one), else -1."""
    try:
        st = path.lstat()
    except OSError:
        return -1
    return st.st_size if stat.S_ISREG(st.st_mode) else -1


def _grade_on_cluster(course: Course, assignment: Assignment, subs: list[SubmissionInput],
                      notebooks: dict[str, bytes], runner: str, jobs: int,
                      cluster: ClusterChoice) -> Iterator[Outcome]:
    from distributed import as_completed

    from autograder import cluster as dask_cluster
    from autograder.cluster_task import bundle_files, grade_task, make_bundle

    resources = dask_cluster.task_resources(course, assignment, runner)
    fresh_process = next(iter(resources)) != dask_cluster.CPU
    bundle = make_bundle(bundle_files(course.source or course.root / "course.yml", course))
    grader = fingerprint.grader_digest()
    with dask_cluster.connect(cluster, jobs, resources) as client:
        digest, plugin = dask_cluster.install_bundle(client, bundle, grader)
        try:
            futures = {}
            for sub in subs:
                nb = notebooks[sub.student]
                key = dask_cluster.task_key(assignment.id, sub.student, nb, digest, runner, grader)
                future = client.submit(grade_task, digest, assignment.id, sub.student, nb, runner, fresh_process,
                                       key=key, resources=resources, retries=1)
                futures[future] = sub.student
            for future in as_completed(list(futures), loop=client.loop):
                student = futures.pop(future)
                yield _outcome(future, student, assignment)
                future.release()
        finally:
            if cluster.kind == "remote":
                dask_cluster.uninstall_bundle(client, plugin)


def _outcome(future: Any, student: str, assignment: Assignment) -> Outcome:
    if future.status != "finished":
        exc = future.exception() if future.status == "error" else None
        why = f"{type(exc).__name__}: {exc}" if exc is not None else f"the task was {future.status}"
        return Outcome(student, None, error=why)
    try:
        data = json.loads(future.result())
        worker = str(data.pop("_worker", "?"))
        result = GradeResult.from_dict(data)
    except (TypeError, ValueError, KeyError) as exc:
        return Outcome(student, None, error=f"the worker's answer could not be read: {type(exc).__name__}: {exc}")
    if (result.student, result.assignment) != (student, assignment.id):
        return Outcome(student, None, error=f"the worker answered for {result.student}/{result.assignment}")
    return Outcome(student, result, worker=worker)


def unreadable_message(exc: OSError) -> str:
    """What a student reads when their file could not be read: the reason, never the grading machine's path."""
    return f"Could not read the submission ({exc.strerror or type(exc).__name__}); submit it again."


def misnamed_message(expected: str, folder: Path) -> str:
    """What a student reads when their folder holds notebooks, but none with the released name."""
    others = sorted(code_span(p.name) for p in folder.glob("*.ipynb"))
    listed = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
    return (f"No {expected} was submitted (the submission has {listed}): name your notebook {expected}, as "
            "released, and submit again.")


def grade_one(course: Course, assignment: Assignment, sub: SubmissionInput, runner: str) -> GradeResult:
    """One submission, in this process; a missing or unreadable file becomes a result that says so."""
    if not sub.notebook.exists() and sub.notebook.parent.is_dir():
        return GradeResult(student=sub.student, assignment=assignment.id, status="ungradable", score=0.0,
                           max_score=assignment.auto_max_score, runner=runner,
                           message=misnamed_message(assignment.notebook, sub.notebook.parent))
    try:
        return grade_submission(course, assignment, sub, runner=runner)
    except OSError as exc:  # e.g. the file vanished or cannot be read: record it, keep going
        return GradeResult(student=sub.student, assignment=assignment.id, status="error", score=0.0,
                           max_score=assignment.auto_max_score, runner=runner,
                           message=unreadable_message(exc))
