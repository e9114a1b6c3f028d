"""Pictures in the student's feedback, through the real path (the CLI, the sandbox, the hidden suite of 01):

- a failing worked example (the lecture's public numbers) gets a picture of the student's output beside the
  expected one, as a PNG beside feedback.md, in feedback.md, embedded in feedback.html, and in nbgrader's test
  cell outputs and HTML feedback, described in words and numbers (its alt text there), at most 800 px wide (shown
  at its own size);
- a test with hidden inputs never draws (the grading plugin refuses it: tests/test_hidden_suite_errors.py);
- a hostile notebook that stashes the inputs its functions are given and returns them later cannot get a hidden
  input drawn: the hidden inputs of 01 are random floats and the lecture's numbers are whole numbers, so no
  drawn value of the student's may be a fraction; a worked example graded after hidden inputs were sent (the
  dependent conv2d_layer) shows the expected output only.
"""

from __future__ import annotations

import base64
import json
import shutil
import struct
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from autograder.config import load_course
from autograder.demo import make_course_copy
from autograder.figures import alt_text
from autograder.nbgrader_bridge import picture_outputs
from autograder.samples import make_sample
from tests.conftest import FIXTURES, REPO, grade_notebooks, run_cli, with_cell

pytestmark = pytest.mark.slow

PNG = b"\x89PNG\r\n\x1a\n"

# Every input the functions see is kept; the lecture's worksheets are whole numbers, the hidden tests' inputs
# random fractions. convolve2d answers the lecture's worksheets wrongly (+1) until it has seen a fraction, then
# returns the fractions it saw instead of any answer; conv2d_layer does the same with what convolve2d saw.
STASHER = '''
import numpy as _np
_SEEN = []
_real_convolve2d, _real_conv2d_layer = convolve2d, conv2d_layer


def _leak(out):
    fractions = [s.ravel() for s in _SEEN if not _np.all(s == _np.round(s))]
    if not fractions:
        return out + 1.0
    return _np.resize(_np.concatenate(fractions), out.shape)


def convolve2d(image, kernel, *args, **kwargs):
    out = _real_convolve2d(image, kernel, *args, **kwargs)
    answer = _leak(out)
    _SEEN.append(_np.array(image, dtype=float))
    return answer


def conv2d_layer(x, kernels, bias, *args, **kwargs):
    return _leak(_real_conv2d_layer(x, kernels, bias, *args, **kwargs))
'''


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    tmp = tmp_path_factory.mktemp("pictures")
    course = load_course(REPO / "course.yml")
    correct = make_sample(course, course.assignment("01_convolution"), "correct")
    subs: dict[str, str | Path] = {
        "correct": correct,
        "flipped_kernel": FIXTURES / "01_mistakes" / "flipped_kernel.ipynb",
        "pool2d_ignores_stride": FIXTURES / "01_mistakes" / "pool2d_ignores_stride.ipynb",
        "stasher": with_cell(correct, STASHER),
    }
    return grade_notebooks(tmp, "01_convolution", subs), tmp / "out"


class _Images(HTMLParser):
    """The alt text of every image of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.alts: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.alts.append(dict(attrs).get("alt"))


def _figures(result: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(t, f) for t in result["tests"] for f in t.get("figures", [])]


def _values(data: Any) -> list[float | None]:
    return [v for x in data for v in _values(x)] if isinstance(data, list) else [data]


def test_a_failing_worked_example_is_drawn(batch: tuple[dict[str, Any], Path]) -> None:
    results, out = batch
    figures = _figures(results["flipped_kernel"])
    assert figures, "the flipped kernel fails the lecture's worksheets: they should be drawn"
    assert len(figures) == 1, "one picture per question: the first failing worksheet (the others show the same)"
    for test, figure in figures:
        assert test["status"] == "failed" and test["worked_example"], test["name"]
        assert test["question"] == "convolve2d"
        assert figure["kind"] == "arrays" and figure["student"] is not None and not figure.get("withheld")
        assert figure["student"] != figure["expected"]
    folder = out / "flipped_kernel"
    pngs = sorted(folder.glob("figures/*.png"))
    assert len(pngs) == len(figures) and all(p.read_bytes().startswith(PNG) for p in pngs)
    for png in pngs:  # the PNG header's width and height: never scaled down in feedback.html's 800 px column
        width, height = struct.unpack(">II", png.read_bytes()[16:24])
        assert 300 <= width <= 800 and height <= 1200, (png.name, width, height)
    markdown = (folder / "feedback.md").read_text()
    assert "## Pictures" in markdown
    for png in pngs:
        assert f"]({png.relative_to(folder).as_posix()})" in markdown
    page = (folder / "feedback.html").read_text()
    assert page.count('src="data:image/png;base64,') == len(pngs)
    assert "figures/" not in page  # every picture embedded: the page alone is enough
    # the pooling mistake is drawn under its own question
    pooled = _figures(results["pool2d_ignores_stride"])
    assert pooled and {t["question"] for t, _ in pooled} == {"pool2d"}


def test_passing_tests_and_hidden_tests_draw_nothing(batch: tuple[dict[str, Any], Path]) -> None:
    results, out = batch
    assert not _figures(results["correct"])
    assert not (out / "correct" / "figures").exists()
    assert "## Pictures" not in (out / "correct" / "feedback.md").read_text()
    for result in results.values():
        for test, _ in _figures(result):
            assert test["worked_example"] and test["status"] == "failed"


def test_a_stashed_hidden_input_is_never_drawn(batch: tuple[dict[str, Any], Path]) -> None:
    result = batch[0]["stasher"]
    figures = _figures(result)
    drawn = [(t, f) for t, f in figures if f["student"] is not None]
    withheld = [(t, f) for t, f in figures if f.get("withheld")]
    # the lecture's worksheets are graded first, while the worker has seen only public numbers: drawn
    assert drawn and {t["question"] for t, _ in drawn} == {"convolve2d"}
    for _, f in drawn:
        assert all(v is None or float(v).is_integer() for v in _values(f["student"])), f["title"]
    # conv2d_layer builds on convolve2d, so its worksheets are graded after hidden inputs were sent: the
    # stasher returned them, and the picture shows the expected output only
    assert withheld and {t["question"] for t, _ in withheld} == {"conv2d_layer"}
    assert all(f["student"] is None for _, f in withheld)


def test_nbgrader_test_cells_get_the_pictures(batch: tuple[dict[str, Any], Path]) -> None:
    results, out = batch
    data = json.loads((out / "flipped_kernel" / "results.json").read_text())
    outputs = picture_outputs(data, "convolve2d", out / "flipped_kernel")
    assert len(outputs) == len(_figures(results["flipped_kernel"]))
    for o, (_, figure) in zip(outputs, _figures(results["flipped_kernel"]), strict=True):
        assert o["output_type"] == "display_data"
        assert base64.b64decode(o["data"]["image/png"]).startswith(PNG)
        assert o["data"]["text/plain"] == alt_text(figure) and "8 of 8 values differ" in alt_text(figure)
    assert picture_outputs(data, "zero_pad", out / "flipped_kernel") == []


def test_nbgraders_html_feedback_shows_the_pictures(tmp_path: Path) -> None:
    """The real path for a TA: a submission in an nbgrader course's submitted/ folder, `autograder grade` (which
    records it through nbgrader's autograde), `autograder feedback` (nbgrader's generate_feedback): the HTML
    the student gets has the pictures under the question's test cell."""
    course = make_course_copy(load_course(REPO / "course.yml"), tmp_path / "course")
    assignment = course.assignment("01_convolution")
    run = [sys.executable, "-m", "nbgrader"]
    assert run_cli("--course", course.root / "course.yml", "release", assignment.id).returncode == 0
    subprocess.run([*run, "db", "student", "add", "erin"], cwd=course.root, check=True, capture_output=True)
    target = course.root / "submitted" / "erin" / assignment.id / assignment.notebook
    target.parent.mkdir(parents=True)
    shutil.copy(FIXTURES / "01_mistakes" / "flipped_kernel.ipynb", target)
    for command in (["grade", assignment.id, "submitted/", "--no-progress"], ["feedback", assignment.id]):
        proc = run_cli("--course", course.root / "course.yml", *command, cwd=course.root)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    pictures = len(list((course.root / "grades" / assignment.id / "erin" / "figures").glob("*.png")))
    html = (course.root / "feedback" / "erin" / assignment.id / "convolution.html").read_text()
    assert pictures and html.count('src="data:image/png;base64,') == pictures
    # each described in its alt text (nbconvert's default would be "No description has been provided...")
    result = json.loads((course.root / "grades" / assignment.id / "erin" / "results.json").read_text())
    images = _Images()
    images.feed(html)
    assert images.alts == [alt_text(figure) for _, figure in _figures(result)]
