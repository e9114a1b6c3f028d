"""Pictures for the student's feedback, drawn by the grader (trusted code) from plain data in results.json.

A hidden test attaches a picture with :func:`autograder.testing.show_arrays` (a failing worked example: the
student's array beside the expected one, differing cells marked) or, through
:func:`~autograder.testing.expect_trained_accuracy`, the grader's training curve of the student's architecture
with its held-out accuracy against the threshold. The grading plugin (:mod:`autograder.suite`) decides what may
be drawn: arrays only from worked-example tests (the lecture's public numbers), the student's side only while
no hidden input had been sent to the worker. Here the numbers become PNG images: the only thing from a
submission in a picture is numbers, never text, HTML or script.

Every picture is laid out in inches at :data:`DPI` and saved at that size, at most :data:`MAX_WIDTH_IN` wide, so
feedback.html (a column of 800 px) and nbgrader's pages show it at its own size: text is never smaller than
:data:`FONT_PT` points (14 px), titles and captions wrap to the picture's width instead of being cut, and a
number is written in an array's cells only when it fits there at that size (otherwise the caption counts the
differing values and a line gives the colour scale). :func:`alt_text` says in words what a picture shows, with
its numbers, for the page's ``alt`` text: never anything of the student's that the picture does not draw.
"""

from __future__ import annotations

import base64
import io
import math
import textwrap
from typing import Any

import numpy as np

MAX_ANNOTATED = 64  # cells: a larger array is drawn without its values (and without outlines)
MAX_CHANNELS = 4  # of a 3-D (H, W, C) array, the first channels drawn
DPI = 100  # the saved size is the drawn size: 1 pt = 1.39 px
MAX_WIDTH_IN = 8.0  # 800 px: feedback.html's column (50em) shows the picture unscaled
FONT_PT = 10.0  # cell numbers, captions, notes
TITLE_PT = 11.0
CHAR_EM = 0.64  # DejaVu Sans' advance of a digit (and of most letters), in em: to size cells and wrap text
MARGIN_IN = 0.15
GAP_IN = 0.35  # between the two columns
MIN_COLUMN_IN = 2.6  # a column is at least this wide, so its caption wraps to a few lines at most
ACROSS_PANEL_IN = 1.6  # a channel of a large 3-D array, when the channels are drawn side by side
MINUS = "\u2212"


def new_figure(figsize: tuple[float, float], dpi: int = DPI) -> Any:
    """A matplotlib Figure drawn by Agg, without pyplot (its import and global state cost a third of a second in
    every `grade` command; a Figure of its own is also safe in a thread)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, dpi=dpi)


def png_bytes(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return buf.getvalue()


def _array(data: Any) -> np.ndarray | None:
    if data is None:
        return None
    try:
        a = np.array(data, dtype=np.float64)  # None (NaN or infinite in the student's array) -> nan
    except (TypeError, ValueError):
        return None
    if a.ndim == 1:
        a = a[None, :]
    return a if a.ndim in (2, 3) and a.size else None


def _channels(a: np.ndarray) -> list[np.ndarray]:
    return [a] if a.ndim == 2 else [a[:, :, c] for c in range(min(a.shape[2], MAX_CHANNELS))]


def number(v: float) -> str:
    """A value as the picture and its description write it: whole numbers whole, others to 3 significant
    digits, a true minus sign, NaN for a missing value (NaN or infinite in the student's array)."""
    if not math.isfinite(v):
        return "NaN"
    text = f"{v:.0f}" if float(v).is_integer() and abs(v) < 1e6 else f"{v:.3g}"
    return text.replace("-", MINUS)


def _char_in(pt: float) -> float:
    return CHAR_EM * pt / 72


def _line_in(pt: float) -> float:
    return 1.3 * pt / 72


def wrap(text: str, width_in: float, pt: float) -> list[str]:
    """``text`` wrapped to lines that fit ``width_in`` inches at ``pt`` points; a word longer than a line is
    broken (nothing is ever cut)."""
    chars = max(8, int(width_in / _char_in(pt)))
    return textwrap.wrap(" ".join(text.split()), chars, break_long_words=True, break_on_hyphens=False) or [""]


def differing_cells(student: np.ndarray, expected: np.ndarray) -> np.ndarray | None:
    """Where the arrays differ (same shape only): a boolean mask, NaN counting as a difference."""
    if student.shape != expected.shape:
        return None
    close = np.isclose(student, expected, rtol=1e-6, atol=1e-9)
    return np.asarray(~close)


def _shape(a: np.ndarray) -> str:
    return "×".join(str(n) for n in a.shape)


def _cell_size(arrays: list[np.ndarray], annotate: bool, across: bool = False) -> tuple[float, float]:
    """(width, height) of one cell in inches: wide enough for its longest number, or, when no number is written,
    small enough that the array fits a panel of about 3.4 inches (1.6 for channels drawn side by side)."""
    if annotate:
        longest = max(len(number(float(v))) for a in arrays for v in a.ravel())
        return max(0.45, longest * _char_in(FONT_PT) + 0.14), 0.42
    largest = max(max(a.shape[:2]) for a in arrays)
    side = min(0.3, (ACROSS_PANEL_IN if across else 3.4) / largest)
    return side, side


def _annotated(arrays: list[np.ndarray]) -> bool:
    """Numbers in the cells: every array small enough, and both columns then fit the picture's width."""
    if any(a.shape[0] * a.shape[1] > MAX_ANNOTATED for a in arrays):
        return False
    cell_w, _ = _cell_size(arrays, True)
    columns = sum(max(MIN_COLUMN_IN, a.shape[1] * cell_w) for a in arrays[:2])
    return columns + GAP_IN + 2 * MARGIN_IN <= MAX_WIDTH_IN


class _Layout:
    """Text and panels placed top-down in inches; figure coordinates once the height is known."""

    def __init__(self, width: float) -> None:
        self.width = width
        self.y = MARGIN_IN  # from the top
        self.texts: list[tuple[float, float, str, float, str, dict[str, Any]]] = []
        self.axes: list[tuple[float, float, float, float, Any]] = []

    def text(self, x: float, lines: list[str], pt: float, ha: str = "center", **kw: Any) -> float:
        """Lines of text whose top is at the current height; their height in inches."""
        self.texts.append((x, self.y, "\n".join(lines), pt, ha, kw))
        return len(lines) * _line_in(pt)

    def figure(self) -> Any:
        height = self.y + MARGIN_IN
        fig = new_figure((self.width, height))
        for x, top, text, pt, ha, kw in self.texts:
            fig.text(x / self.width, 1 - top / height, text, ha=ha, va="top", fontsize=pt, linespacing=1.2, **kw)
        for x, top, w, h, draw in self.axes:
            ax = fig.add_axes((x / self.width, 1 - (top + h) / height, w / self.width, h / height))
            draw(ax)
        return fig


def _panel(a: np.ndarray, marks: np.ndarray | None, vmin: float, vmax: float, annotate: bool) -> Any:
    def draw(ax: Any) -> None:
        ax.imshow(np.ma.masked_invalid(a), cmap="viridis", vmin=vmin, vmax=vmax, interpolation="nearest",
                  aspect="auto")
        ax.set_xticks([])
        ax.set_yticks([])
        if annotate:
            middle = (vmin + vmax) / 2
            for (i, j), v in np.ndenumerate(a):
                # viridis is dark below the middle of the scale and light above it; NaN cells are blank (white)
                colour = "black" if not math.isfinite(v) or v >= middle else "white"
                ax.text(j, i, number(float(v)), ha="center", va="center", fontsize=FONT_PT, color=colour)
            if marks is not None:
                from matplotlib.patches import Rectangle

                for i, j in zip(*np.nonzero(marks), strict=True):
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.5))

    return draw


def arrays_figure(figure: dict[str, Any]) -> Any:
    """The matplotlib Figure of an ``arrays`` picture (see :func:`draw_arrays`): a grid of panels, each with its
    caption above it. Channel by channel, the student's beside the expected; or, for the channels of a large 3-D
    array (no numbers), the student's channels in one row and the expected ones below them."""
    expected = _array(figure.get("expected"))
    if expected is None:
        raise ValueError("a picture of arrays without an expected array")
    student = _array(figure.get("student"))
    labels = [str(x) for x in figure.get("labels", ["your output", "expected"])][:2]
    exp_c = _channels(expected)
    stu_c = _channels(student) if student is not None else []
    drawn = exp_c + stu_c
    annotate = _annotated([expected] + ([student] if student is not None else []))
    across = not annotate and max(len(exp_c), len(stu_c)) > 1  # channels across, yours above expected
    cell_w, cell_h = _cell_size(drawn, annotate, across)
    values = np.concatenate([c[np.isfinite(c)].ravel() for c in drawn])
    vmin, vmax = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    if vmin == vmax:
        vmin, vmax = vmin - 1, vmax + 1
    marks_all = differing_cells(student, expected) if student is not None else None
    mark_c = _channels(marks_all) if marks_all is not None and annotate else []
    summary = _student_caption(labels[0], student, expected, marks_all, annotate)
    lead = ""
    channels = across or (student is not None and student.ndim == 3)
    if channels and ": " in summary:  # channels: the count goes above them, the captions stay short
        lead, summary = summary[:1].upper() + summary[1:] + ".", labels[0]
    if student is None:
        why = ("Not shown: this test ran after tests with hidden inputs, so your code could have returned one of "
               "them." if figure.get("withheld") else
               "Not drawn: not a numeric array of 1 to 3 dimensions (or too large).")
        yours: list[_Entry] = [(summary, None, None, why)]
    else:
        yours = [(summary if c == 0 else labels[0], a, mark_c[c] if c < len(mark_c) else None, "")
                 for c, a in enumerate(stu_c)]
    theirs: list[_Entry] = [(labels[1], a, None, "") for a in exp_c]
    for entries, ndim in ((yours, student.ndim if student is not None else 2), (theirs, expected.ndim)):
        if ndim == 3:
            entries[:] = [(_with_channel(cap, c), a, m, n) for c, (cap, a, m, n) in enumerate(entries)]
    grid: list[list[_Entry | None]]
    if across:
        grid = [list(yours), list(theirs)]
    else:
        rows = max(len(yours), len(theirs))
        grid = [[yours[r] if r < len(yours) else None, theirs[r] if r < len(theirs) else None] for r in range(rows)]
    return _grid_figure(figure, grid, cell_w, cell_h, vmin, vmax, annotate, lead=lead,
                        min_column=ACROSS_PANEL_IN if across else MIN_COLUMN_IN, student=student, expected=expected)


_Entry = tuple[str, "np.ndarray | None", "np.ndarray | None", str]  # caption, array, marks, note (no array)


def _with_channel(caption: str, c: int) -> str:
    head, sep, tail = caption.partition(": ")
    return f"{head}, channel {c}{sep}{tail}"


def _grid_figure(figure: dict[str, Any], grid: list[list[_Entry | None]], cell_w: float, cell_h: float,
                 vmin: float, vmax: float, annotate: bool, *, lead: str, min_column: float,
                 student: np.ndarray | None, expected: np.ndarray) -> Any:
    def panel_size(a: np.ndarray) -> tuple[float, float]:
        return a.shape[1] * cell_w, max(a.shape[0] * cell_h, 0.25)

    ncols = max(len(row) for row in grid)
    col_w = [max([min_column] + [panel_size(e[1])[0] for row in grid for e in row[c:c + 1]
                                  if e is not None and e[1] is not None])
             for c in range(ncols)]
    width = 2 * MARGIN_IN + GAP_IN * (ncols - 1) + sum(col_w)
    left = [MARGIN_IN + sum(col_w[:c]) + GAP_IN * c for c in range(ncols)]
    lay = _Layout(width)
    lay.y += lay.text(width / 2, wrap(str(figure.get("title", "")), width - 2 * MARGIN_IN, TITLE_PT), TITLE_PT)
    lay.y += 0.12
    if lead:
        lay.y += lay.text(MARGIN_IN, wrap(lead, width - 2 * MARGIN_IN, FONT_PT), FONT_PT, ha="left") + 0.1
    for row in grid:
        wrapped = [wrap(e[0], col_w[c], FONT_PT) if e is not None and e[0] else [] for c, e in enumerate(row)]
        for c, lines in enumerate(wrapped):
            if lines:
                lay.text(left[c] + col_w[c] / 2, lines, FONT_PT)
        lay.y += max(len(w) for w in wrapped) * _line_in(FONT_PT) + 0.06
        row_h = 0.0
        for c, entry in enumerate(row):
            if entry is None:
                continue
            _, a, marks, note = entry
            if a is not None:
                pw, ph = panel_size(a)
                lay.axes.append((left[c] + (col_w[c] - pw) / 2, lay.y, pw, ph, _panel(a, marks, vmin, vmax, annotate)))
                row_h = max(row_h, ph)
            elif note:
                lines = wrap(note, col_w[c] - 0.2, FONT_PT)
                lay.text(left[c] + col_w[c] / 2, lines, FONT_PT, style="italic")
                row_h = max(row_h, len(lines) * _line_in(FONT_PT))
        lay.y += row_h + 0.2
    notes = []
    if not annotate:
        notes.append(f"Colours: {number(vmin)} (dark purple) to {number(vmax)} (yellow), the same scale in all.")
    hidden = [a.shape[2] for a in (student, expected) if a is not None and a.ndim == 3 and a.shape[2] > MAX_CHANNELS]
    if hidden:
        notes.append(f"Channels 0 to {MAX_CHANNELS - 1} of {max(hidden)} are drawn.")
    if notes:
        lay.y += lay.text(MARGIN_IN, wrap(" ".join(notes), width - 2 * MARGIN_IN, FONT_PT), FONT_PT, ha="left")
    return lay.figure()


def _student_caption(label: str, student: np.ndarray | None, expected: np.ndarray, marks: np.ndarray | None,
                     annotate: bool) -> str:
    """The first caption of the student's side: how many values differ, or how the shapes differ."""
    if student is None:
        return label
    if marks is None:
        return f"{label}: shape {tuple(student.shape)}, expected {tuple(expected.shape)}"
    differ = int(marks.sum())
    if not differ:
        return f"{label}: all {marks.size} values match"
    return f"{label}: {differ} of {marks.size} values differ" + (" (outlined in red)" if annotate else "")


def draw_arrays(figure: dict[str, Any]) -> bytes:
    """The student's array (or why it is not drawn) beside the expected one; differing cells outlined in red."""
    return png_bytes(arrays_figure(figure))


def _accuracy_keys(history: dict[str, Any]) -> list[str]:
    return [k for k in history if "acc" in k and not k.startswith("val")]


def training_figure(figure: dict[str, Any]) -> Any:
    """The matplotlib Figure of a ``training`` picture (see :func:`draw_training`)."""
    history = figure.get("history") or {}
    epochs = int(figure.get("epochs") or max((len(v) for v in history.values()), default=1))
    threshold = float(figure.get("threshold", 0))
    accuracy = float(figure.get("accuracy", 0))
    width, plot_h = 6.4, 2.6
    title = wrap(str(figure.get("title", "")), width - 2 * MARGIN_IN, TITLE_PT)
    legend_h = 2 * 0.27  # two rows of the legend (the star's marker is taller than a line of text)
    top = MARGIN_IN + len(title) * _line_in(TITLE_PT) + 0.15
    bottom = MARGIN_IN + legend_h + 0.6  # below the plot: the x axis' ticks and label, then the legend
    height = top + plot_h + bottom
    fig = new_figure((width, height))
    fig.text(0.5, 1 - MARGIN_IN / height, "\n".join(title), ha="center", va="top", fontsize=TITLE_PT,
             linespacing=1.2)
    left_in, right_in = 0.75, 0.75
    ax = fig.add_axes((left_in / width, bottom / height, (width - left_in - right_in) / width, plot_h / height))
    handles = []
    for key in _accuracy_keys(history):
        ys = [float(v) for v in history[key]]
        handles += ax.plot(range(1, len(ys) + 1), ys, marker="o", label=f"training {key}")
    handles.append(ax.axhline(threshold, color="red", linestyle="--", label=f"threshold {threshold:.2f}"))
    handles += ax.plot([epochs], [accuracy], marker="*", markersize=16, color="green" if accuracy >= threshold
                       else "red", markeredgecolor="black", linestyle="none", label=f"held-out accuracy {accuracy:.3f}")
    ax.set_xlabel("epoch", fontsize=FONT_PT)
    ax.set_ylabel("accuracy", fontsize=FONT_PT)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0.5, max(epochs, 1) + 0.5)
    ax.set_xticks(range(1, max(epochs, 1) + 1, math.ceil(max(epochs, 1) / 10)))  # whole epochs, at most 10 ticks
    ax.tick_params(labelsize=FONT_PT)
    if "loss" in history:
        ax2 = ax.twinx()
        ys = [float(v) for v in history["loss"]]
        handles += ax2.plot(range(1, len(ys) + 1), ys, color="grey", alpha=0.7, label="training loss")
        ax2.set_ylabel("loss", color="dimgrey", fontsize=FONT_PT)
        ax2.tick_params(labelsize=FONT_PT)
        low, high = min(ys + [0.0]), max(ys + [1e-9])
        ax2.set_ylim(low, high * 1.05)
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=FONT_PT, frameon=False,
               bbox_to_anchor=(0.5, MARGIN_IN / height))
    return fig


def draw_training(figure: dict[str, Any]) -> bytes:
    """The grader's training of the student's architecture: accuracy per epoch on the training data (and the
    training loss on a second axis), the held-out accuracy it reached and the threshold; the legend below the
    plot, whole epochs on the x axis."""
    return png_bytes(training_figure(figure))


def draw(figure: dict[str, Any]) -> bytes:
    """A picture's PNG bytes (its ``kind``: ``arrays`` or ``training``)."""
    kind = figure.get("kind")
    if kind == "arrays":
        return draw_arrays(figure)
    if kind == "training":
        return draw_training(figure)
    raise ValueError(f"unknown kind of picture: {kind!r}")


# --- the pictures in words --------------------------------------------------------------------------------


def _where(index: tuple[int, ...], ndim: int) -> str:
    parts = [f"row {index[0] + 1}", f"column {index[1] + 1}"] if ndim >= 2 else [f"position {index[-1] + 1}"]
    if ndim == 3:
        parts.append(f"channel {index[2]}")
    return ", ".join(parts)


def _values(a: np.ndarray, limit: int = 8) -> str:
    """An array's values in words: all of them when few, else how many and their range."""
    flat = a.ravel()
    if flat.size <= limit:
        return ", ".join(number(float(v)) for v in flat)
    finite = flat[np.isfinite(flat)]
    if not finite.size:
        return f"{flat.size} values, all NaN"
    return f"{flat.size} values from {number(float(finite.min()))} to {number(float(finite.max()))}"


def _original(data: Any) -> np.ndarray | None:
    a = _array(data)
    if a is not None and isinstance(data, list) and data and not isinstance(data[0], list):
        return a[0]  # a 1-D array stays 1-D in words
    return a


def alt_text(figure: dict[str, Any]) -> str:
    """What a picture shows, in words and numbers, for its ``alt`` text: "The lecture's 4×6 image...: 8 of 8 values
    differ; yours −19 … −57, expected 19 … 57." The student's values are described only when the picture draws
    them (a withheld output stays withheld)."""
    title = " ".join(str(figure.get("title", "")).split()).rstrip(".")
    kind = figure.get("kind")
    if kind == "training":
        body = _training_words(figure)
    elif kind == "arrays":
        body = _arrays_words(figure)
    else:
        body = "a picture"
    return f"{title}: {body}" if title else body[:1].upper() + body[1:]


def _arrays_words(figure: dict[str, Any]) -> str:
    expected = _original(figure.get("expected"))
    if expected is None:
        return "no expected array"
    student = _original(figure.get("student"))
    labels = [str(x) for x in figure.get("labels", ["your output", "expected"])][:2]
    if student is None:
        why = ("is not shown (this test ran after tests with hidden inputs)" if figure.get("withheld")
               else "is not drawn (not a numeric array of 1 to 3 dimensions, or too large)")
        return f"{labels[0]} {why}; {labels[1]} ({_shape(expected)}): {_values(expected)}."
    marks = differing_cells(student, expected)
    if marks is None:
        return (f"{labels[0]} has shape {_shape(student)}, {labels[1]} {_shape(expected)}; "
                f"{labels[0]}: {_values(student)}; {labels[1]}: {_values(expected)}.")
    differ = [tuple(int(i) for i in index) for index in zip(*np.nonzero(marks), strict=True)]
    if not differ:
        return f"all {marks.size} values match ({_values(expected)})."
    count = f"{len(differ)} of {marks.size} values differ"
    if len(differ) <= 3:
        cells = "; ".join(f"{_where(i, student.ndim)}: yours {number(float(student[i]))}, expected "
                          f"{number(float(expected[i]))}" for i in differ)
        return f"{count}; {cells}."
    if marks.size > MAX_ANNOTATED:  # a large array (drawn without numbers): the ranges of the differing values
        mask = marks.astype(bool)
        return f"{count}; where they differ, yours {_range(student[mask])}, expected {_range(expected[mask])}."
    first, last = differ[0], differ[-1]
    return (f"{count}; yours {number(float(student[first]))} … {number(float(student[last]))}, expected "
            f"{number(float(expected[first]))} … {number(float(expected[last]))}.")


def _range(values: np.ndarray) -> str:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return "all NaN"
    low, high = number(float(finite.min())), number(float(finite.max()))
    nan = f" and {values.size - finite.size} NaN" if finite.size < values.size else ""
    return (f"{low}" if low == high else f"{low} to {high}") + nan


def _series(ys: list[float]) -> str:
    if len(ys) <= 5:
        return ", ".join(f"{y:.2f}" for y in ys)
    return f"{ys[0]:.2f} (epoch 1) to {ys[-1]:.2f} (epoch {len(ys)})"


def _training_words(figure: dict[str, Any]) -> str:
    history = figure.get("history") or {}
    epochs = int(figure.get("epochs") or max((len(v) for v in history.values()), default=1))
    threshold = float(figure.get("threshold", 0))
    accuracy = float(figure.get("accuracy", 0))
    parts = [f"{epochs} epoch{'s' if epochs != 1 else ''}"]
    for key in _accuracy_keys(history):
        parts.append(f"training {key} {_series([float(v) for v in history[key]])}")
    if "loss" in history:
        parts.append(f"training loss {_series([float(v) for v in history['loss']])}")
    verdict = "reached" if accuracy >= threshold else "not reached"
    return (f"{'; '.join(parts)}; held-out accuracy {accuracy:.3f} against the threshold {threshold:.2f}: "
            f"{verdict}.")


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
