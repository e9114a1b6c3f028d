"""autograder.figures and the pictures' plumbing: what a hidden test may attach, how it is drawn, and the
feedback page that embeds it (escaped, self-contained)."""

from __future__ import annotations

import numpy as np

from autograder import figures, testing
from autograder.config import Assignment
from autograder.grade import GradeResult, QuestionResult, TestResult
from autograder.report import feedback_html, feedback_markdown, result_pictures

PNG = b"\x89PNG\r\n\x1a\n"


def test_only_small_numeric_arrays_travel_as_plain_data() -> None:
    assert testing.drawable(np.array([[1, 2], [3, 4]])) == [[1.0, 2.0], [3.0, 4.0]]
    assert testing.drawable(np.array([1.0, np.nan, np.inf])) == [1.0, None, None]
    assert testing.drawable(np.zeros((65, 65))) is None  # too large to read
    assert testing.drawable([[1, 2]]) is None and testing.drawable("1 2") is None  # not an ndarray
    assert testing.drawable(np.array(["a"])) is None and testing.drawable(np.zeros((2, 2, 2, 2))) is None


def test_show_arrays_attaches_to_the_running_test() -> None:
    testing.ATTACHMENTS.take()
    testing.show_arrays("The lecture's 2×2 map", np.array([[1.0, 2.0]]), np.array([[1.0, 3.0]]))
    testing.measure("held_out_accuracy", 0.9)
    taken, measured, _notes = testing.ATTACHMENTS.take()
    assert taken == [{"kind": "arrays", "title": "The lecture's 2×2 map", "labels": ["your output", "expected"],
                      "student": [[1.0, 2.0]], "expected": [[1.0, 3.0]]}]
    assert measured == {"held_out_accuracy": 0.9}
    assert testing.ATTACHMENTS.take() == ([], {}, [])


def test_differing_cells_are_marked() -> None:
    marks = figures.differing_cells(np.array([[1.0, 2.0], [np.nan, 4.0]]), np.array([[1.0, 2.5], [3.0, 4.0]]))
    assert marks is not None and marks.tolist() == [[False, True], [True, False]]
    assert figures.differing_cells(np.zeros((2, 2)), np.zeros((3, 3))) is None


def test_every_kind_of_picture_is_a_png() -> None:
    arrays = {"kind": "arrays", "title": "t", "labels": ["yours", "expected"], "student": [[1.0, None]],
              "expected": [[1.0, 2.0]]}
    for figure in (arrays, {**arrays, "student": None, "withheld": True}, {**arrays, "student": [[1.0]]},
                   {**arrays, "student": [[[1.0, 2.0]]], "expected": [[[1.0, 2.0]]]},
                   {"kind": "training", "title": "t", "history": {"loss": [0.9, 0.5], "accuracy": [0.6, 0.8]},
                    "accuracy": 0.82, "threshold": 0.85, "epochs": 2}):
        assert figures.draw(figure).startswith(PNG)


def test_the_feedback_page_embeds_the_pictures_and_escapes_the_rest(a01: Assignment) -> None:
    figure = {"kind": "arrays", "title": "The lecture's [4×6] image", "labels": ["your output", "expected"],
              "student": [[1.0]], "expected": [[2.0]]}
    test = TestResult("test_lecture_worksheet[stride1]", "convolve2d", 0.0, 1.0, "failed",
                      "<img src=x onerror=alert(1)> differs", worked_example=True, figures=[figure])
    result = GradeResult(student="ann", assignment=a01.id, status="graded", score=0.0, max_score=1.0, tests=[test],
                         questions=[QuestionResult("convolve2d", "Convolution", 0.0, 1.0, 0, 1)])
    [(qid, path, _)] = result_pictures(result)
    assert (qid, path) == ("convolve2d", "figures/01.png")
    markdown = feedback_markdown(result, a01)
    assert "![The lecture's (4×6) image](figures/01.png)" in markdown
    page = feedback_html(markdown, {path: figures.draw(figure)}, "01: ann")
    assert 'src="data:image/png;base64,' in page and 'src="figures/01.png"' not in page
    assert "<img src=x" not in page and "&lt;img src=x" in page
