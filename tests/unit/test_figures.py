"""autograder.figures and the pictures' plumbing: what a hidden test may attach, how it is drawn, and the
feedback page that embeds it (escaped, self-contained).

The pictures read well at the size they are saved: every text inside the picture (titles and captions wrap,
never cut), numbers in array cells at least 10 pt at 100 dpi (14 px) or none at all with the count of differing
values in a caption, the training legend clear of the plot, whole epochs; and their alt text says the difference
in numbers without describing a student's value the picture does not show.
"""

from __future__ import annotations

import html
import re
from typing import Any

import numpy as np
import pytest

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
    # the picture's alt text starts with its title, brackets made parentheses (its numbers may follow)
    assert re.search(r"!\[The lecture's \(4×6\) image[^\]\n]*\]\(figures/01\.png\)", markdown), markdown
    page = feedback_html(markdown, {path: figures.draw(figure)}, "01: ann")
    assert 'src="data:image/png;base64,' in page and 'src="figures/01.png"' not in page
    assert "<img src=x" not in page and "&lt;img src=x" in page


LECTURE_YOURS = [[-19.0, -17.0, -26.0, -26.0], [-24.0, -56.0, -48.0, -57.0]]
LECTURE_EXPECTED = [[19.0, 17.0, 26.0, 26.0], [24.0, 56.0, 48.0, 57.0]]
LONG_TITLE = ("Max pooling of the lecture's 4×4 activation map with a 2×2 window and stride 1 (worksheet 'max "
              "pooling', first table), and a title that goes on for a while after that")
RNG = np.random.default_rng(0)


def _arrays(student: Any, expected: Any, title: str = "The lecture's 4×6 image, stride (1, 1), padding 0",
            **extra: Any) -> dict[str, Any]:
    return {"kind": "arrays", "title": title, "labels": ["your output", "expected"], "student": student,
            "expected": expected, **extra}


def _training(epochs: int, accuracy: float, threshold: float = 0.8, title: str = "The grader's training") -> dict[
        str, Any]:
    history = {"loss": list(np.linspace(0.9, 0.3, epochs)), "accuracy": list(np.linspace(0.5, 0.9, epochs))}
    return {"kind": "training", "title": title, "history": history, "accuracy": accuracy, "threshold": threshold,
            "epochs": epochs}


PICTURES = {
    "lecture": _arrays(LECTURE_YOURS, LECTURE_EXPECTED),
    "long title": _arrays([[1.5, 2.25, 3.125], [4, 5, 6]], [[1.5, 2.25, 3.0], [4, 5, 6]], LONG_TITLE),
    "long word": _arrays([[1.0]], [[2.0]], "x" * 300),
    "long labels": {**_arrays([[1.0, 2.0]], [[1.0, 3.0]]), "labels": ["the output of your own conv2d_layer " * 3,
                                                                      "what the course's conv2d_layer returns " * 3]},
    "8x8": _arrays(RNG.integers(-60, 60, (8, 8)).tolist(), RNG.integers(-60, 60, (8, 8)).tolist()),
    "fractions": _arrays([[-0.0625, 0.125], [1e-5, -123456.5]], [[0.0625, 0.125], [1e-5, 2.5]]),
    "withheld": _arrays(None, LECTURE_EXPECTED, withheld=True),
    "shape": _arrays([[0.0, 1.0, 0.0]], np.zeros((6, 8)).tolist()),
    "nan": _arrays([[0.5, None, 0.731]], [[0.5, 0.881, 0.731]]),
    "3-D small": _arrays([[[1, 2], [3, 4]], [[5, 6], [7, 9]]], [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]),
    "3-D thumbnails": _arrays(RNG.random((32, 32, 4)).tolist(), RNG.random((32, 32, 4)).tolist(), LONG_TITLE),
    "3-D many channels": _arrays(RNG.random((3, 3, 9)).tolist(), RNG.random((3, 3, 9)).tolist()),
    "large": _arrays(RNG.random((64, 64)).tolist(), RNG.random((64, 64)).tolist()),
    "1-D": _arrays([-2.0, -1.0, 0.0, 1.0, 2.0], [0.0, 0.0, 0.0, 1.0, 2.0]),
    "long row": _arrays(list(range(200)), list(range(1, 201))),
    "training": _training(3, 0.912, title=LONG_TITLE),
    "training failed": _training(5, 0.31, 0.7),
    "training 1 epoch": _training(1, 0.5),
    "training 30 epochs": _training(30, 0.95),
}


def _figure(picture: dict[str, Any]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = figures.arrays_figure(picture) if picture["kind"] == "arrays" else figures.training_figure(picture)
    FigureCanvasAgg(fig).draw()  # the canvas savefig draws the PNG with
    return fig


def _texts(fig: Any) -> list[Any]:
    """The texts a picture draws (matplotlib keeps labels for ticks outside an axis' limits, which it does not
    draw)."""
    from matplotlib.text import Text

    undrawn = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            undrawn |= {id(label) for tick in axis.get_major_ticks() if not low - 1e-9 <= tick.get_loc() <= high + 1e-9
                        for label in (tick.label1, tick.label2)}
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and id(t) not in undrawn]


@pytest.mark.parametrize("name", sorted(PICTURES))
def test_no_text_is_cut_and_the_picture_is_shown_at_its_own_size(name: str) -> None:
    fig = _figure(PICTURES[name])
    width, height = fig.bbox.width, fig.bbox.height
    # feedback.html's column is 800 px wide (50em): the picture is never scaled down there
    assert fig.dpi == 100 and width <= 800, (name, width)
    renderer = fig.canvas.get_renderer()
    for text in _texts(fig):
        box = text.get_window_extent(renderer)
        assert box.x0 >= -0.5 and box.y0 >= -0.5 and box.x1 <= width + 0.5 and box.y1 <= height + 0.5, (
            name, text.get_text()[:60], box.bounds, (width, height))
        assert text.get_fontsize() >= 10, (name, text.get_text()[:40], text.get_fontsize())
    # the whole title is drawn, wrapped to the picture's width
    title = " ".join(str(PICTURES[name]["title"]).split())
    drawn = [t.get_text() for t in _texts(fig)]
    assert any(re.sub(r"\s+", "", title) == re.sub(r"\s+", "", t) for t in drawn), (name, drawn[:3])


def _cell_numbers(fig: Any) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_small_arrays_carry_readable_numbers_and_large_ones_a_count() -> None:
    fig = _figure(PICTURES["lecture"])
    assert sorted(_cell_numbers(fig)) == sorted(figures.number(v) for row in LECTURE_YOURS + LECTURE_EXPECTED
                                                for v in row)
    assert "\u221219" in _cell_numbers(fig)  # a true minus sign
    cells = [t for ax in fig.axes for t in ax.texts]
    assert min(t.get_fontsize() for t in cells) * fig.dpi / 72 >= 13.8  # px at the saved size
    assert "your output: 8 of 8 values differ (outlined in red)" in [" ".join(t.get_text().split())
                                                                     for t in _texts(fig)]
    # a number fits its cell
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        cell_px = ax.get_window_extent(renderer).width / len(ax.images[0].get_array()[0])
        for t in ax.texts:
            assert t.get_window_extent(renderer).width < cell_px, (t.get_text(), cell_px)
    for name in ("large", "3-D thumbnails", "long row"):
        fig = _figure(PICTURES[name])
        assert _cell_numbers(fig) == [], name
        words = " ".join(" ".join(t.get_text().split()) for t in _texts(fig))
        assert re.search(r"\d+ of \d+ values differ", words) and "Colours:" in words, (name, words)


def test_the_training_legend_is_clear_of_the_plot_and_epochs_are_whole() -> None:
    for name in ("training", "training failed", "training 1 epoch", "training 30 epochs"):
        fig = _figure(PICTURES[name])
        renderer = fig.canvas.get_renderer()
        legend = fig.legends[0].get_window_extent(renderer)
        for ax in fig.axes:
            assert not legend.overlaps(ax.get_window_extent(renderer)), name
            assert not legend.overlaps(ax.xaxis.label.get_window_extent(renderer)), name
        ax = fig.axes[0]
        low, high = ax.get_xlim()
        ticks = [x for x in ax.get_xticks() if low <= x <= high]
        assert ticks and all(float(x).is_integer() for x in ticks), (name, ticks)
        labels = {t.get_text() for t in ax.get_xticklabels() if t.get_text()}
        assert all(re.fullmatch(r"\d+", s) for s in labels), (name, labels)
        # the held-out star is drawn at the last epoch, inside the plot
        star = [line for line in ax.lines if line.get_marker() == "*"]
        assert star and star[0].get_xdata()[0] == PICTURES[name]["epochs"]


def test_alt_text_states_the_difference_in_numbers() -> None:
    assert figures.alt_text(PICTURES["lecture"]) == (
        "The lecture's 4×6 image, stride (1, 1), padding 0: 8 of 8 values differ; yours \u221219 … \u221257, "
        "expected 19 … 57.")
    assert figures.alt_text(PICTURES["long title"]).endswith(
        "1 of 6 values differ; row 1, column 3: yours 3.12, expected 3.")
    assert figures.alt_text(PICTURES["nan"]).endswith("row 1, column 2: yours NaN, expected 0.881.")
    assert figures.alt_text(PICTURES["1-D"]).endswith(
        "2 of 5 values differ; position 1: yours \u22122, expected 0; position 2: yours \u22121, expected 0.")
    assert "row 2, column 2, channel 1: yours 9, expected 8" in figures.alt_text(PICTURES["3-D small"])
    assert "your output has shape 1×3, expected 6×8" in figures.alt_text(PICTURES["shape"])
    assert re.search(r"4096 of 4096 values differ|\d+ of 4096 values differ; where they differ, yours [\d.]+ to "
                     r"[\d.]+, expected [\d.]+ to [\d.]+\.$", figures.alt_text(PICTURES["large"]))
    assert figures.alt_text(_arrays(LECTURE_EXPECTED, LECTURE_EXPECTED, "t")) == (
        "t: all 8 values match (19, 17, 26, 26, 24, 56, 48, 57).")
    assert figures.alt_text(PICTURES["training failed"]) == (
        "The grader's training: 5 epochs; training accuracy 0.50, 0.60, 0.70, 0.80, 0.90; training loss 0.90, "
        "0.75, 0.60, 0.45, 0.30; held-out accuracy 0.310 against the threshold 0.70: not reached.")
    assert "0.50 (epoch 1) to 0.90 (epoch 30)" in figures.alt_text(PICTURES["training 30 epochs"])


def test_a_withheld_output_stays_withheld_in_words() -> None:
    """The student's side of a picture graded after hidden inputs is not drawn, and its alt text describes the
    expected values only: every number in it is the title's or the expected array's."""
    for picture in (PICTURES["withheld"], _arrays(None, RNG.random((20, 20)).tolist(), withheld=True),
                    _arrays(None, [[1.0, 2.0]])):
        alt = figures.alt_text(picture).replace("1 to 3 dimensions", "")
        assert "your output is not" in alt
        expected = np.array(picture["expected"], dtype=float)
        allowed = {figures.number(float(v)) for v in expected.ravel()}
        allowed |= {figures.number(float(expected.min())), figures.number(float(expected.max()))}
        allowed |= {str(n) for n in expected.shape} | {str(expected.size)} | set(re.findall(r"\d+", picture["title"]))
        after_title = alt[len(picture["title"]) + 2:]
        for found in re.findall(r"\u2212?[\d.]+(?:e[+\u2212]?\d+)?", after_title):
            assert found.rstrip(".") in allowed, (found, alt)
        fig = _figure(picture)
        assert len(fig.axes) == 1  # only the expected side is drawn


def test_the_class_reports_charts_say_their_numbers(a01: Assignment) -> None:
    from autograder import class_report

    def result(student: str, convolve2d: float, accuracy: float) -> dict[str, Any]:
        questions = [{"id": q.id, "score": convolve2d if q.id == "convolve2d" else q.points, "max_score": q.points}
                     for q in a01.questions if not q.manual]
        test = {"name": "test_accuracy", "question": "convolve2d", "status": "passed",
                "measurements": {"held_out_accuracy": accuracy, "threshold": 0.8}}
        return {"student": student, "assignment": a01.id, "status": "graded", "questions": questions,
                "score": sum(q["score"] for q in questions), "tests": [test]}

    data = class_report.build([result("ann", 6.0, 0.91), result("bob", 1.5, 0.42), result("cem", 3.0, 0.88)], a01)
    words = class_report.chart_words(data)
    assert words["histogram"] == "Histogram of the 3 graded scores, out of 20: mean 17.5, median 17, quartiles " \
                                 "16.25, 17, 18.5; lowest 15.5, highest 20."
    assert "convolve2d 58 %" in words["questions"] and "pool2d 100 %" in words["questions"]
    assert words["accuracy-0"] == ("Histogram of the held-out accuracies of 3 students' networks (test_accuracy): "
                                   "2 reached the threshold 0.8; lowest 0.42, median 0.88, highest 0.91.")
    page = class_report.render_html(data, class_report.charts(data))
    for key, text in words.items():
        assert f'alt="{html.escape(text)}"' in page, key
    assert "<main>" in page and "white-space:pre-wrap" in page
