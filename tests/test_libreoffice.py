"""An instructor edits a course workbook in a real spreadsheet program; the reference answers follow.

LibreOffice Calc (Debian's libreoffice-calc-nogui, driven headless through python3-uno by
tests/libreoffice_edit.py) changes one pixel of the lecture's 4×6 image, recalculates and saves. The
course copy that holds the edited file then grades against the new numbers, with no code changed; the
repository's own workbooks and answers are untouched.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from autograder.config import Course, load_course
from autograder.demo import make_course_copy
from autograder.references import WorkbookError, course_reference_book, load_reference_book
from tests.conftest import FIXTURES, REPO, require, run_cli

SYSTEM_PYTHON = Path("/usr/bin/python3")
EDITOR = Path(__file__).with_name("libreoffice_edit.py")
BOOK = Path("datasets") / "workbooks" / "convolution operation.xlsx"


def _libreoffice_ready() -> bool:
    if shutil.which("soffice") is None or not SYSTEM_PYTHON.exists():
        return False
    probe = subprocess.run([str(SYSTEM_PYTHON), "-c", "import uno"], capture_output=True)
    return probe.returncode == 0


@pytest.fixture(scope="module")
def edited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Course, float]:
    """A course copy whose convolution workbook LibreOffice edited: image (0, 0) of stride1_4x6 = 100."""
    require(_libreoffice_ready(), "LibreOffice Calc with its Python bridge is missing: "
                                  "apt-get install libreoffice-calc-nogui python3-uno (or bash .ci/system-deps)")
    course = make_course_copy(load_course(REPO / "course.yml"), tmp_path_factory.mktemp("lo") / "course")
    (course.root / "datasets").unlink()  # a linked copy: give this course workbooks of its own
    shutil.copytree(REPO / "datasets", course.root / "datasets")
    proc = subprocess.run([str(SYSTEM_PYTHON), str(EDITOR), str(course.root / BOOK), "stride1_4x6_image", "0", "0",
                           "100"], capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return course, float(proc.stdout.strip().splitlines()[-1])


def test_edited_workbook_gives_new_references(edited: tuple[Course, float]) -> None:
    course, computed_by_libreoffice = edited
    original = course_reference_book(load_course(REPO / "course.yml"), course.assignment("01_convolution"))
    book = course_reference_book(course, course.assignment("01_convolution"))
    case, before = book.convolutions["stride1_4x6"], original.convolutions["stride1_4x6"]
    assert before.image[0, 0] == 10 and before.expected[0, 0] == 19  # the lecture's numbers, still in the repo
    assert case.image[0, 0] == 100
    assert case.expected[0, 0] == 19 - 90 == computed_by_libreoffice  # the Sobel kernel's top-left weight is -1
    np.testing.assert_array_equal(case.expected[:, 1:], before.expected[:, 1:])  # windows without the pixel
    np.testing.assert_array_equal(book.convolutions["stride1_10x10"].expected,
                                  original.convolutions["stride1_10x10"].expected)


def test_saved_values_that_disagree_with_the_formulas_are_refused(edited: tuple[Course, float], tmp_path: Path) -> None:
    """LibreOffice stored its results beside the formulas; a file whose stored result is not what its formula
    computes (a spreadsheet program reading a formula differently from the grader) is refused."""
    course, _ = edited
    source = course.root / BOOK
    tampered = tmp_path / BOOK.name
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(tampered, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":  # the "stride=1" worksheet
                text, count = re.subn(r"(<f[^>]*>SUMPRODUCT\([^<]*</f><v>)-71(</v>)", r"\g<1>-70\g<2>", data.decode())
                assert count == 1, "LibreOffice stored no value for stride1_4x6's first output cell"
                data = text.encode()
            zout.writestr(info, data)
    with pytest.raises(WorkbookError, match=r"stride1_4x6_output.*-71.*-70.*recalculate"):
        load_reference_book(tampered)


def test_grading_follows_the_edited_workbook(edited: tuple[Course, float], tmp_path: Path) -> None:
    """A notebook that typed in the lecture's answers loses the edited case, keeps the others."""
    course, _ = edited
    out = tmp_path / "out"
    proc = run_cli("--course", course.root / "course.yml", "grade", "01_convolution",
                   FIXTURES / "01_hardcoded_lecture_answers.ipynb", "--out", out, "--no-gradebook", "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((out / "01_hardcoded_lecture_answers" / "results.json").read_text())
    status = {(t["question"], t["name"]): t["status"] for t in result["tests"] if t["worked_example"]}
    assert status[("convolve2d", "test_lecture_worksheet[stride1_4x6]")] == "failed", status  # typed in: stale
    assert status[("convolve2d", "test_lecture_worksheet[stride2_4x6]")] == "passed", status
