"""course.yml: the one schema, every key described, with defaults.

``autograder config --describe`` prints this schema; :func:`load_course` reads and checks a file.
Points have one source of truth (``assignments[].questions[].points``): ``autograder release`` writes them into
the nbgrader metadata of the notebook it hands nbgrader (:func:`apply_course_points`) and refuses prose "(N points)"
that disagrees (:func:`prose_points_problems`); :func:`check_notebook_points` checks, before grading, that the
released notebook (what the gradebook holds) has them. :func:`limit_problems` finds contradictory limits.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import nbformat
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from autograder.errors import ConfigError

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Strict):
    """Resource limits for one submission's worker process."""

    cell_timeout_s: float = Field(120, gt=0, description="Wall-clock seconds one notebook cell may run.")
    test_timeout_s: float = Field(20, gt=0, description="Wall-clock seconds one call into student code may run.")
    total_timeout_s: float = Field(
        900, gt=0, description="Wall-clock seconds for a whole submission (notebook and hidden tests)."
    )
    memory_mb: int = Field(4096, ge=256, description="Writable memory of the worker (RLIMIT_DATA), in MiB.")
    output_bytes: int = Field(
        200_000, ge=1000, description="Bytes of the worker's stdout/stderr kept (half head, half tail)."
    )
    max_notebook_mb: float = Field(
        20, gt=0, description="Largest notebook graded, its outputs left out (grading never uses outputs): a file "
        "over it only because of its outputs is graded without them, and the feedback says so."
    )
    max_submission_mb: float = Field(
        100, gt=0, description="Largest submitted file the grader reads at all, outputs included (the trusted "
        "process parses it to leave the outputs out); larger files are ungradable, unread."
    )
    max_processes: int = Field(
        256, ge=16, description="Processes/threads the worker's user may run (RLIMIT_NPROC, when it has its own uid)."
    )
    max_file_mb: int = Field(256, ge=1, description="Largest file the worker may write (RLIMIT_FSIZE), in MiB.")
    job_disk_mb: int = Field(
        1024, ge=16, description="Size of the worker's job directory and /tmp together, in MiB (a tmpfs, in RAM, "
        "when bubblewrap gives the worker its own filesystem view; see `autograder doctor`)."
    )


class LimitsOverride(_Strict):
    """Per-assignment overrides of the course-wide limits; unset keys inherit."""

    cell_timeout_s: float | None = Field(None, gt=0)
    test_timeout_s: float | None = Field(None, gt=0)
    total_timeout_s: float | None = Field(None, gt=0)
    memory_mb: int | None = Field(None, ge=256)
    output_bytes: int | None = Field(None, ge=1000)
    max_notebook_mb: float | None = Field(None, gt=0)
    max_submission_mb: float | None = Field(None, gt=0)
    max_processes: int | None = Field(None, ge=16)
    max_file_mb: int | None = Field(None, ge=1)
    job_disk_mb: int | None = Field(None, ge=16)


PROTECTIONS: dict[str, str] = {
    "unprivileged_uid": "the worker runs as an unprivileged uid (its own, when the grader is root)",
    "network_namespace": "the worker has its own network namespace with loopback only",
    "pid_namespace": "the worker has its own PID namespace (sees only its own processes)",
    "filesystem_view": "the worker sees only system libraries, Python and its job directory (no repository, "
    "hidden suites, solutions, output folder or other submissions)",
    "disk_quota": "the worker's job directory and /tmp have a size limit (limits.job_disk_mb)",
    "kill_all": "everything the worker started is killed before a result is written, even detached processes",
    "syscall_filter": "a seccomp filter refuses keyrings, ptrace, bpf, userfaultfd, perf_event_open, io_uring, "
    "kernel modules and namespace escapes; each worker has a fresh session keyring",
}


class Sandbox(_Strict):
    """How strict to be about the worker's protections (`autograder doctor` shows which are active)."""

    require: list[str] = Field(
        default_factory=list,
        description="Protections whose absence refuses to grade; any other missing one only warns. Names: "
        + ", ".join(PROTECTIONS) + ".",
    )
    warm: bool = Field(
        True,
        description="Fork each submission's worker from a warm zygote that has already imported what the released "
        "notebook imports (bubblewrap and a root grader needed; elsewhere workers start cold). Every protection "
        "stays per submission: `autograder doctor` shows how workers start.",
    )

    def model_post_init(self, __context: Any) -> None:
        unknown = [r for r in self.require if r not in PROTECTIONS]
        if unknown:
            raise ValueError(f"unknown protection(s) {unknown}; known: {', '.join(PROTECTIONS)}")


class Question(_Strict):
    """One graded question: the notebook's visible test cell (or, for a manual question, its answer cell)
    has ``grade_id == id``."""

    id: str = Field(pattern=ID_PATTERN, description="nbgrader grade_id of the question's visible test cell "
                    "(of its answer cell, for a manual question).")
    title: str = Field(description="Shown in feedback.")
    points: float = Field(ge=0, description="The question's points; the one source of truth.")
    manual: bool = Field(
        False, description="Graded by a TA in nbgrader's formgrader (a 'Manually graded answer' cell), not by "
        "hidden tests."
    )
    depends_on: list[str] = Field(
        default_factory=list, description="Ids of earlier questions whose functions this question's answer uses "
        "(e.g. conv2d_layer uses convolve2d): their tests run first, and the assignment's dependent_questions "
        "decides how this question is graded when they fail."
    )

    def model_post_init(self, __context: Any) -> None:
        if round(self.points * 100) != self.points * 100:
            raise ValueError(f"points must be a multiple of 0.01 (scores are shown and summed in hundredths), "
                             f"got {self.points!r}")


class Runner(_Strict):
    """A runner profile (``--runner``): where and how heavily models are trained."""

    description: str = Field(description="What this profile trains on and where it runs.")
    resource: str = Field(
        "CPU", pattern=r"^[A-Za-z][A-Za-z0-9_]*$",
        description="Dask worker resource that this profile's training tasks ask for (e.g. GPU: only workers "
        "started with `dask worker --resources GPU=1` take them, each in a fresh grader process); other tasks ask "
        "for CPU, which grading workers advertise."
    )


class TrainingRecipe(_Strict):
    """How the grader trains a student's architecture for one runner profile (it never reuses their weights)."""

    description: str = Field("", description="What this profile trains on, and why (shown to instructors).")
    dataset: str = Field(
        description="Dataset the grader trains and evaluates on: a name from the course's dataset_manifest "
        "('mnist', 'fashion_mnist', 'digits', 'dogs_vs_cats', 'shapes'); the student never sees its test split."
    )
    train_samples: int = Field(gt=0, description="Training images drawn (seeded) from the dataset's training split.")
    test_samples: int = Field(gt=0, description="Held-out images the accuracy is measured on.")
    epochs: int = Field(gt=0, description="Training epochs.")
    batch_size: int = Field(32, gt=0, description="Training batch size.")
    image_size: int | None = Field(
        None, gt=0, description="Side in pixels of the square images the model is built for and trained on "
        "(image-folder datasets; the student's builder is called with this input shape)."
    )
    min_accuracy: float = Field(
        ge=0, le=1, description="Held-out accuracy the trained model must reach for the accuracy points."
    )
    seed: int = Field(0, description="Seed for sampling, weight initialisation and training (same score twice).")
    time_limit_s: float = Field(
        300, gt=0, description="Training stops after the epoch that passes this many seconds (trusted process)."
    )


class Assignment(_Strict):
    """One assignment: a solution notebook, its released copy and its hidden suite."""

    id: str = Field(pattern=ID_PATTERN, description="Folder name under solutions/ and assignments/.")
    title: str = Field(description="Human title.")
    notebook: str = Field(description="Notebook file name inside the assignment folder.")
    hidden_suite: Path = Field(description="Folder of pytest files that grade it (never released).")
    due: datetime | None = Field(
        None, description="Due date and time (UTC unless an offset is given), recorded in nbgrader's gradebook by "
        "`autograder release`; nbgrader's late penalties count from it."
    )
    files: list[Path] = Field(default_factory=list, description="Extra files copied into the release folder.")
    questions: list[Question] = Field(min_length=1, description="Graded questions, in notebook order.")
    limits: LimitsOverride = Field(default_factory=lambda: LimitsOverride(), description="Overrides of course limits.")
    run_training_cells: bool = Field(
        False, description="Run the notebook's own training (keras Model.fit in notebook cells) at grading time; "
        "when false, fit() in a cell only prints a note (calls from hidden tests always train)."
    )
    training: dict[str, TrainingRecipe] = Field(
        default_factory=dict, description="Per runner profile (key: runner name), how the grader trains the "
        "student's architecture for the accuracy tests."
    )
    dependent_questions: Literal["own", "reference"] = Field(
        "own", description="How a question with depends_on is graded when the student's earlier question fails: "
        "'own' grades it with the student's own earlier functions (its feedback says to fix those first); "
        "'reference' runs the course's solution of the earlier question in its place (the solution notebook's "
        "answer cells above that question's test cell), so one mistake costs points once."
    )

    @property
    def max_score(self) -> float:
        """All points, manual questions included (nbgrader's maximum)."""
        return float(sum(q.points for q in self.questions))

    @property
    def auto_max_score(self) -> float:
        """The points the hidden suite decides (what results.json is out of)."""
        return float(sum(q.points for q in self.questions if not q.manual))

    def question(self, qid: str) -> Question:
        for q in self.questions:
            if q.id == qid:
                return q
        raise KeyError(qid)


class Course(_Strict):
    """The whole course.yml."""

    course_id: str = Field(pattern=ID_PATTERN, description="Short course identifier (nbgrader course id).")
    title: str = Field("", description="Human title.")
    limits: Limits = Field(default_factory=lambda: Limits(), description="Default limits for every assignment.")
    runners: dict[str, Runner] = Field(
        default_factory=lambda: {"cpu": Runner(description="CPU profile")},
        description="Runner profiles selectable with --runner; 'cpu' must exist.",
    )
    assignments: list[Assignment] = Field(min_length=1, description="The assignments, in course order.")
    sandbox: Sandbox = Field(default_factory=lambda: Sandbox(), description="Required worker protections.")
    late_penalty_percent_per_day: float = Field(
        0, ge=0, le=100, description="nbgrader's late penalty: this percentage of the earned score per started day "
        "after the assignment's `due` (0: no penalty). Applied by nbgrader's autograde step, shown in its feedback "
        "and export."
    )
    output_mode: str = Field(
        "0640", pattern=r"^0?[0-7]{3}$", description="Permissions (octal) of the files `grade` writes (results, "
        "feedback, logs, the CSV); folders get the matching search bits. The default lets the owner write and "
        "the course's group (TAs) read; '0600' keeps them private, '0644' readable by everyone."
    )
    dataset_manifest: Path = Field(
        Path("datasets/manifest.yml"),
        description="Manifest of downloadable datasets, relative to the course root.",
    )
    # Not part of the file: where it was read from.
    root: Path = Field(Path("."), exclude=True, description="(set by the loader) folder holding course.yml")
    source: Path | None = Field(None, exclude=True, description="(set by the loader) the course file itself")

    def assignment(self, aid: str) -> Assignment:
        for a in self.assignments:
            if a.id == aid:
                return a
        known = ", ".join(a.id for a in self.assignments)
        raise ConfigError(f"Unknown assignment {aid!r}. course.yml defines: {known}.")

    def limits_for(self, assignment: Assignment) -> Limits:
        overrides = {k: v for k, v in assignment.limits.model_dump().items() if v is not None}
        return self.limits.model_copy(update=overrides)

    def solution_notebook(self, assignment: Assignment) -> Path:
        return self.root / "solutions" / assignment.id / assignment.notebook

    def released_notebook(self, assignment: Assignment) -> Path:
        return self.root / "assignments" / assignment.id / assignment.notebook

    def hidden_suite(self, assignment: Assignment) -> Path:
        return self.root / assignment.hidden_suite

    @property
    def manifest_path(self) -> Path:
        """The course's data set manifest (``dataset_manifest`` under the course root)."""
        return self.root / self.dataset_manifest


def _format_validation(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: invalid course file ({err.error_count()} problem(s)):"]
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            lines.append(f"  - unknown key '{where}' (check the spelling; see `autograder config --describe`)")
        else:
            lines.append(f"  - {where}: {e['msg']}")
    return "\n".join(lines)


def load_course(path: Path, *, released_only: bool = False) -> Course:
    """Read and check course.yml; raise :class:`ConfigError` naming the key and the file.

    ``released_only``: a students' copy of the course (course.yml, the released ``assignments/`` and the assignments'
    ``files:``), as ``autograder validate`` needs it: solution notebooks and hidden suites are not required (students
    never get them), nor the files of assignments not released yet."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: course file not found. Run from the course folder or pass --course PATH.")
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {type(raw).__name__}.")
    try:
        course = Course.model_validate({**raw, "root": path.resolve().parent, "source": path.resolve()})
    except ValidationError as e:
        raise ConfigError(_format_validation(path, e)) from None
    _check_course(path, course, released_only)
    return course


def _check_course(path: Path, course: Course, released_only: bool = False) -> None:
    from autograder.dependencies import check_dependencies  # it imports this module

    problems: list[str] = []
    if "cpu" not in course.runners:
        problems.append("runners: a 'cpu' runner profile is required")
    seen: set[str] = set()
    for i, a in enumerate(course.assignments):
        where = f"assignments[{i}] ({a.id})"
        if a.id in seen:
            problems.append(f"{where}: duplicate assignment id")
        seen.add(a.id)
        qids = [q.id for q in a.questions]
        for q in {q for q in qids if qids.count(q) > 1}:
            problems.append(f"{where}.questions: duplicate question id {q!r}")
        if not released_only:  # a students' copy holds neither, and only the assignments released so far
            if not course.solution_notebook(a).is_file():
                problems.append(f"{where}.notebook: {course.solution_notebook(a)} does not exist")
            if not course.hidden_suite(a).is_dir():
                problems.append(f"{where}.hidden_suite: folder {course.hidden_suite(a)} does not exist")
            for f in a.files:
                if not (course.root / f).is_file():
                    problems.append(f"{where}.files: {course.root / f} does not exist")
        problems += [f"{where}.questions: {p}" for p in check_dependencies(a)]
        for runner in a.training.keys() - course.runners.keys():
            problems.append(f"{where}.training: runner {runner!r} is not defined under runners")
    if problems:
        raise ConfigError(f"{path}:\n" + "\n".join(f"  - {p}" for p in problems))


def notebook_grade_cells(nb_path: Path) -> dict[str, tuple[float, bool]]:
    """grade_id -> (points, manual) of every nbgrader grade cell in a notebook: autograded test cells
    (grade, not solution) and manually graded answer cells (grade and solution)."""
    nb = nbformat.read(str(nb_path), as_version=4)
    cells: dict[str, tuple[float, bool]] = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            cells[str(meta.get("grade_id"))] = (float(meta.get("points", 0)), bool(meta.get("solution")))
    return cells


def notebook_test_points(nb_path: Path) -> dict[str, float]:
    """grade_id -> points of every nbgrader autograded-test cell in a notebook."""
    return {gid: pts for gid, (pts, manual) in notebook_grade_cells(nb_path).items() if not manual}


def _cell_problems(assignment: Assignment, nb_path: Path, *, points: bool) -> list[str]:
    """Questions without their grade cell, cells of the wrong kind, grade cells that are no question (and, with
    ``points``, points that differ from course.yml's)."""
    found = notebook_grade_cells(nb_path)
    problems = []
    for q in assignment.questions:
        kind = "manually graded answer cell" if q.manual else "test cell"
        if q.id not in found:
            problems.append(f"question {q.id!r}: no {kind} with grade_id {q.id!r} in {nb_path}")
            continue
        pts, manual = found[q.id]
        if manual != q.manual:
            problems.append(
                f"question {q.id!r}: course.yml says {'manual' if q.manual else 'autograded'}, the notebook's cell is "
                f"{'a manually graded answer' if manual else 'an autograded test'} cell"
            )
        elif points and pts != q.points:
            problems.append(f"question {q.id!r}: course.yml says {q.points:g} points, the released notebook's {kind} "
                            f"says {pts:g} ({nb_path})")
    for qid in sorted(found.keys() - {q.id for q in assignment.questions}):
        problems.append(f"grade cell {qid!r} in {nb_path} is not a question in course.yml")
    return problems


def solution_cell_problems(course: Course, assignment: Assignment) -> list[str]:
    """The solution notebook has one grade cell per question, of the question's kind (test cell, or manually graded
    answer cell for ``manual: true``), and no other grade cell. Its points are not compared: course.yml is their
    source, and `autograder release` writes them into the notebook it hands nbgrader."""
    return _cell_problems(assignment, course.solution_notebook(assignment), points=False)


def released_points_problems(course: Course, assignment: Assignment) -> list[str]:
    """The released notebook (what nbgrader recorded in the gradebook) has course.yml's questions and points:
    empty when it does, else what differs and that ``autograder release`` fixes it."""
    path = course.released_notebook(assignment)
    if not path.is_file():
        return [f"{path} does not exist: run `autograder release {assignment.id}`"]
    problems = _cell_problems(assignment, path, points=True)
    if problems:
        problems.append(f"the release is older than course.yml or the solution notebook: run `autograder release "
                        f"{assignment.id}` (it writes course.yml's points into the notebook and the gradebook)")
    return problems


def check_notebook_points(course: Course, assignment: Assignment) -> None:
    """Before grading: the solution notebook has course.yml's questions, and the released notebook (what nbgrader's
    gradebook holds) also their points. Raises :class:`ConfigError` listing every difference."""
    problems = solution_cell_problems(course, assignment) or released_points_problems(course, assignment)
    if problems:
        raise ConfigError(
            f"The notebooks disagree with course.yml for assignment {assignment.id} (course.yml is the source of the "
            "questions and their points):\n" + "\n".join(f"  - {p}" for p in problems)
        )


def course_points(points: float) -> int | float:
    """Points as nbgrader's metadata writes them: 2, not 2.0 (so a release does not rewrite every notebook)."""
    return int(points) if float(points).is_integer() else float(points)


def apply_course_points(nb: nbformat.NotebookNode, assignment: Assignment) -> list[str]:
    """Write course.yml's points into the nbgrader metadata of each question's grade cell (by grade_id); return the
    ids of the questions whose points changed."""
    points = {q.id: course_points(q.points) for q in assignment.questions}
    changed = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = str(meta.get("grade_id"))
        if meta.get("grade") and gid in points:
            if meta.get("points") != points[gid]:
                changed.append(gid)
            meta["points"] = points[gid]
    return changed


# "(2 points)", "(1 point)", "(2 points, graded by a TA)": points stated in a question's prose
POINTS_PROSE = re.compile(r"\(\s*(\d+(?:\.\d+)?)\s+(points?)\b[^()]*\)", re.IGNORECASE)


SKIP_TAG = "skip-grading"  # cells with this tag (pictures, demos) are not run at grading time


def question_sections(nb: nbformat.NotebookNode) -> dict[str, list[int]]:
    """grade_id -> the indices of a question's cells: those after the previous grade cell, up to and including
    its own grade cell (its heading, task text, answer cells and test cell, in the course's notebook layout)."""
    sections: dict[str, list[int]] = {}
    pending: list[int] = []
    for index, cell in enumerate(nb.cells):
        pending.append(index)
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            sections[str(meta.get("grade_id"))] = pending
            pending = []
    return sections


def prose_points(nb: nbformat.NotebookNode, assignment: Assignment) -> list[tuple[str, int, re.Match[str]]]:
    """(question id, cell index, match) for every "(N points)" in the markdown of a question's section
    (:func:`question_sections`: its heading and task text). Answer cells (a student's or the solution's text)
    are not prose."""
    found: list[tuple[str, int, re.Match[str]]] = []
    sections = question_sections(nb)
    for q in assignment.questions:
        for i in sections.get(q.id, []):
            cell = nb.cells[i]
            if cell.get("cell_type") == "markdown" and not cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                found += [(q.id, i, m) for m in POINTS_PROSE.finditer(str(cell.get("source", "")))]
    return sorted(found, key=lambda f: (f[1], f[2].start()))


def prose_points_problems(course: Course, assignment: Assignment) -> list[str]:
    """Each "(N points)" in a question's prose in the solution notebook that disagrees with course.yml, naming the
    cell, the text and what to change it to."""
    nb_path = course.solution_notebook(assignment)
    nb = nbformat.read(str(nb_path), as_version=4)
    problems = []
    for qid, index, match in prose_points(nb, assignment):
        want = assignment.question(qid).points
        if float(match.group(1)) == want:
            continue
        unit = "point" if want == 1 else "points"
        fixed = (match.group(0)[: match.start(1) - match.start(0)] + f"{want:g} {unit}"
                 + match.group(0)[match.end(2) - match.start(0):])
        heading = str(nb.cells[index].get("source", "")).strip().splitlines()[0][:80]
        problems.append(f"{nb_path}, markdown cell {index} (question {qid!r}: {heading!r}) says {match.group(0)!r} but "
                        f"course.yml gives {want:g} {unit}: change the text to {fixed!r} (or the points in course.yml)")
    return problems


def limit_problems(course: Course) -> list[str]:
    """Limits that contradict each other, course-wide or once an assignment's overrides apply: a cell or a call into
    student code allowed longer than the whole submission."""
    problems = []
    scopes: list[tuple[str, Limits]] = [("limits", course.limits)]
    scopes += [(f"assignments[{i}] ({a.id}) limits", course.limits_for(a)) for i, a in enumerate(course.assignments)
               if a.limits.model_dump(exclude_none=True)]
    for where, limits in scopes:
        for key in ("cell_timeout_s", "test_timeout_s"):
            if getattr(limits, key) > limits.total_timeout_s:
                problems.append(f"{where}: {key} ({getattr(limits, key):g} s) is above total_timeout_s "
                                f"({limits.total_timeout_s:g} s), the time for the whole submission: lower {key} or "
                                "raise total_timeout_s")
        if limits.max_submission_mb < limits.max_notebook_mb:
            problems.append(f"{where}: max_submission_mb ({limits.max_submission_mb:g} MiB) is below max_notebook_mb "
                            f"({limits.max_notebook_mb:g} MiB): raise max_submission_mb, the largest file read at "
                            "all, to at least max_notebook_mb")
    return problems


def describe_schema() -> str:
    """Every key of course.yml with its type, default and description."""
    out: list[str] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            if field.exclude:
                continue
            ann = field.annotation
            default = "required" if field.is_required() else repr(field.get_default(call_default_factory=True))
            tname = getattr(ann, "__name__", str(ann))
            out.append(f"{prefix}{name}: {tname} (default: {default})\n    {field.description or ''}")
            if name == "limits" and model is Course:
                walk(Limits, prefix + name + ".")
            if name == "sandbox" and model is Course:
                walk(Sandbox, prefix + name + ".")
        return None

    walk(Course, "")
    out.append("assignments[] keys:")
    walk(Assignment, "  ")
    out.append("assignments[].questions[] keys:")
    walk(Question, "    ")
    out.append("runners.<name> keys:")
    walk(Runner, "  ")
    out.append("assignments[].training.<runner> keys:")
    walk(TrainingRecipe, "    ")
    return "\n".join(out)
