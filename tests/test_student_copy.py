"""``autograder validate`` in the folder a student fetched: what `autograder release` puts beside the released notebook
(``.autograder-checks.json``), fetched through nbgrader's real exchange, and validated there with no course.yml."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.config import load_course
from autograder.samples import filled_in
from autograder.student_copy import CHECKS_FILE
from tests.conftest import REPO, make_course, run_cli

COURSE = load_course(REPO / "course.yml")


def _own_lines(text: str, released: str) -> list[str]:
    """Lines of ``text`` long enough to be its own and not in the released notebook (what must never leak)."""
    return [ln.strip() for ln in text.splitlines() if len(ln.strip()) >= 30 and ln.strip() not in released]


@pytest.mark.parametrize("assignment", [a.id for a in COURSE.assignments])
def test_the_checks_file_holds_nothing_of_the_solution_or_the_hidden_suite(assignment: str) -> None:
    a = COURSE.assignment(assignment)
    folder = COURSE.released_notebook(a).parent
    checks = (folder / CHECKS_FILE).read_text(encoding="utf-8")
    decoded = json.dumps(json.loads(checks), ensure_ascii=False, indent=0)  # sources with real newlines
    decoded = decoded.replace("\\n", "\n").replace('\\"', '"')
    released = "\n".join(c.source for c in nbformat.read(COURSE.released_notebook(a), as_version=4).cells)
    secret: list[str] = []
    for cell in nbformat.read(COURSE.solution_notebook(a), as_version=4).cells:
        if "### BEGIN SOLUTION" in cell.source:
            body = cell.source.split("### BEGIN SOLUTION", 1)[1].split("### END SOLUTION", 1)[0]
            secret += _own_lines(body, released)
    for test_file in sorted(COURSE.hidden_suite(a).glob("*.py")):
        secret += _own_lines(test_file.read_text(encoding="utf-8"), released)
    assert secret, "nothing to look for: the check would pass vacuously"
    leaked = [line for line in secret if line in decoded]
    assert not leaked, f"{CHECKS_FILE} of {assignment} quotes the solution or the hidden suite: {leaked[:3]}"
    data = json.loads(checks)
    assert data["assignment"] == assignment and data["checks"], data.keys()
    assert not (set(data) & {"training", "hidden_suite", "questions"}), "course.yml's private part is not released"


def _nbgrader(*args: str, cwd: Path, exchange: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args, f"--Exchange.root={exchange}",
                           f"--CourseDirectory.course_id={COURSE.course_id}"], cwd=cwd, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def fetched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """01_convolution as a student gets it: released by the instructor to nbgrader's exchange, fetched by the
    student into an empty folder (no course.yml anywhere above it)."""
    tmp = tmp_path_factory.mktemp("student-copy")
    course_yml = make_course(tmp / "course")
    release = run_cli("--course", course_yml, "release", "01_convolution")
    assert release.returncode == 0, release.stderr
    exchange = tmp / "exchange"
    exchange.mkdir()
    _nbgrader("release_assignment", "01_convolution", cwd=course_yml.parent, exchange=exchange)
    home = tmp / "student"
    home.mkdir()
    _nbgrader("fetch_assignment", "01_convolution", cwd=home, exchange=exchange)
    folder = home / "01_convolution"
    assert not any((p / "course.yml").exists() for p in (folder, *folder.parents))
    return folder


def test_the_fetched_folder_holds_the_notebook_its_files_and_the_checks(fetched: Path) -> None:
    names = sorted(p.name for p in fetched.iterdir())
    assert names == sorted([CHECKS_FILE, "convolution.ipynb", *(Path(f).name for f in
                                                                COURSE.assignment("01_convolution").files)])


def test_validate_runs_the_visible_checks_in_the_fetched_folder(fetched: Path) -> None:
    stub = run_cli("validate", "convolution.ipynb", cwd=fetched)
    assert stub.returncode == 1, stub.stdout + stub.stderr
    assert "**Visible checks passed 0 of 7.**" in stub.stdout
    assert "Not implemented yet" in stub.stdout and "No course.yml" not in stub.stderr

    work = fetched.parent / "work"
    work.mkdir()
    for f in fetched.iterdir():  # the student's finished copy, in another folder holding the same files
        (work / f.name).write_bytes(f.read_bytes())
    nbformat.write(filled_in(COURSE, COURSE.assignment("01_convolution")), str(work / "convolution.ipynb"))
    done = run_cli("validate", work / "convolution.ipynb", cwd=fetched.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "**Visible checks passed 7 of 7.**" in done.stdout
    assert "Not sandboxed" not in done.stdout  # bubblewrap is there (conftest requires it for the sandbox tests)

    plain = run_cli("validate", work / "convolution.ipynb", cwd=work, env={"AUTOGRADER_SANDBOX": "plain"})
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "Not sandboxed on this machine (AUTOGRADER_SANDBOX=plain is set): your notebook ran as you" in plain.stdout


def test_a_fetched_folder_missing_a_workbook_or_with_a_broken_checks_file_says_what_to_do(fetched: Path) -> None:
    broken = fetched.parent / "broken"
    broken.mkdir()
    (broken / "convolution.ipynb").write_bytes((fetched / "convolution.ipynb").read_bytes())
    (broken / CHECKS_FILE).write_bytes((fetched / CHECKS_FILE).read_bytes())
    missing = run_cli("validate", "convolution.ipynb", cwd=broken)
    assert missing.returncode == 4, missing.stdout + missing.stderr
    assert "convolution operation.xlsx" in missing.stderr and "Nothing was checked." in missing.stderr

    (broken / CHECKS_FILE).write_text('{"format": 1, "checks": [', encoding="utf-8")
    garbled = run_cli("validate", "convolution.ipynb", cwd=broken)
    assert garbled.returncode == 2, garbled.stdout + garbled.stderr
    assert f"{CHECKS_FILE} cannot be read" in garbled.stderr and "Fetch the assignment again" in garbled.stderr

    data = json.loads((fetched / CHECKS_FILE).read_text(encoding="utf-8"))
    data["files"] = ["../../etc/passwd"]
    (broken / CHECKS_FILE).write_text(json.dumps(data), encoding="utf-8")
    outside = run_cli("validate", "convolution.ipynb", cwd=broken)
    assert outside.returncode == 2 and "is not a file name" in outside.stderr, outside.stderr

    (broken / CHECKS_FILE).unlink()
    alone = run_cli("validate", "convolution.ipynb", cwd=broken)
    assert alone.returncode == 2, alone.stdout + alone.stderr
    assert f"needs {CHECKS_FILE} beside the notebook" in alone.stderr


def test_in_a_course_folder_the_course_decides_not_the_file_a_student_handed_in(fetched: Path) -> None:
    """A submitted folder holds the student's copy of the checks file: run from the instructor's course, validate
    (and the Validate button, which finds the course above the notebook the same way) uses the course's checks."""
    course = fetched.parent.parent / "course"
    submitted = course / "submitted" / "mallory" / "01_convolution"
    submitted.mkdir(parents=True)
    for f in fetched.iterdir():
        (submitted / f.name).write_bytes(f.read_bytes())
    data = json.loads((submitted / CHECKS_FILE).read_text(encoding="utf-8"))
    data["checks"] = [{"grade_id": "output_size", "title": "mine", "source": "print('HOSTILE CHECK RAN')"}]
    data["limits"]["total_timeout_s"] = 10**9
    (submitted / CHECKS_FILE).write_text(json.dumps(data), encoding="utf-8")
    # and a course of the student's own beside it, whose visible checks all pass
    (submitted / "course.yml").write_bytes((course / "course.yml").read_bytes())
    own = submitted / "assignments" / "01_convolution"
    own.mkdir(parents=True)
    released = nbformat.read(course / "assignments" / "01_convolution" / "convolution.ipynb", as_version=4)
    for cell in released.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade") and cell.cell_type == "code":
            cell.source = "assert True"
    nbformat.write(released, str(own / "convolution.ipynb"))
    for cwd in (course, submitted):
        proc = run_cli("validate", submitted / "convolution.ipynb", cwd=cwd)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "**Visible checks passed 0 of 7.**" in proc.stdout and "HOSTILE" not in proc.stdout
    # nbgrader's Validate button in the instructor's Jupyter finds the instructor's course the same way
    from autograder.student_server import VisibleChecksValidator

    answer = VisibleChecksValidator().validate(str(submitted / "convolution.ipynb"))
    assert answer["failed"][0]["raw_error"].startswith("Visible checks passed 0 of 7."), answer
