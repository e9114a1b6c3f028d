"""Pictures for the student's feedback, drawn by the grader (trusted code) from plain data in results.json.

A hidden test attaches a picture with :func:`autograder.testing.show_arrays` (a failing worked example: the
student's array beside the expected one, differing cells marked) or, through
:func:`~autograder.testing.expect_trained_accuracy`, the grader's training curve of the student's architecture
with its held-out accuracy against the threshold. The grading plugin (:mod:`autograder.suite`) decides what may
be drawn: arrays only from worked-example tests (the lecture's public numbers), the student's side only while
no hidden input had been sent to the worker. Here the numbers become PNG images: the only thing from a
submission in a picture is numbers, never text, HTML or script.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

import numpy as np

MAX_ANNOTATED = 64  # cells: a smaller array gets its values written in its cells
MAX_CHANNELS = 4  # of a 3-D (H, W, C) array, the first channels drawn


def new_figure(figsize: tuple[float, float], dpi: int = 100) -> Any:
    """A matplotlib Figure drawn by Agg, without pyplot (its import and global state cost a third of a second in
    every `grade` command; a Figure of its own is also safe in a thread)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, dpi=dpi)


def png_bytes(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
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


def _panel(ax: Any, a: np.ndarray, title: str, marks: np.ndarray | None, vmin: float, vmax: float) -> None:
    ax.imshow(np.ma.masked_invalid(a), cmap="viridis", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    h, w = a.shape
    if a.size <= MAX_ANNOTATED:
        middle = (vmin + vmax) / 2
        for i in range(h):
            for j in range(w):
                v = a[i, j]
                text = "NaN" if not math.isfinite(v) else f"{v:.3g}"
                # viridis is dark below the middle of the scale and light above it
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="white" if not math.isfinite(v) or v < middle else "black")
    if marks is not None and a.size <= MAX_ANNOTATED:  # on a larger array the outlines would hide the values
        from matplotlib.patches import Rectangle

        for i, j in zip(*np.nonzero(marks), strict=True):
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2))


def _note(ax: Any, text: str, title: str) -> None:
    ax.set_title(title, fontsize=9)
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=8, transform=ax.transAxes)
    ax.set_axis_off()


def differing_cells(student: np.ndarray, expected: np.ndarray) -> np.ndarray | None:
    """Where the arrays differ (same shape only): a boolean mask, NaN counting as a difference."""
    if student.shape != expected.shape:
        return None
    close = np.isclose(student, expected, rtol=1e-6, atol=1e-9)
    return np.asarray(~close)


def draw_arrays(figure: dict[str, Any]) -> bytes:
    """The student's array (or why it is not drawn) beside the expected one; differing cells outlined in red."""
    expected = _array(figure.get("expected"))
    if expected is None:
        raise ValueError("a picture of arrays without an expected array")
    student = _array(figure.get("student"))
    labels = [str(x) for x in figure.get("labels", ["your output", "expected"])][:2]
    rows = max(len(_channels(expected)), len(_channels(student)) if student is not None else 1)
    h, w = expected.shape[:2]
    cell = 0.45 if h * w <= MAX_ANNOTATED else 0.12
    size = (max(5.0, 2 * w * cell + 1.5), max(1.6, rows * (h * cell + 0.7)))
    fig = new_figure((min(size[0], 10), min(size[1], 12)))
    axes = fig.subplots(rows, 2, squeeze=False)
    values = [expected] + ([student] if student is not None else [])
    finite = np.concatenate([v[np.isfinite(v)].ravel() for v in values])
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    marks_all = differing_cells(student, expected) if student is not None else None
    for r in range(rows):
        exp_c = _channels(expected)
        if r < len(exp_c):
            _panel(axes[r][1], exp_c[r], labels[1] + (f" (channel {r})" if expected.ndim == 3 else ""), None,
                   vmin, vmax)
        else:
            axes[r][1].set_axis_off()
        if student is None:
            if r == 0:
                why = ("not drawn: this test ran after tests with hidden inputs" if figure.get("withheld")
                       else "not drawn: not a numeric array of 1 to 3 dimensions (or too large)")
                _note(axes[r][0], why, labels[0])
            else:
                axes[r][0].set_axis_off()
            continue
        stu_c = _channels(student)
        if r < len(stu_c):
            marks = _channels(marks_all)[r] if marks_all is not None else None
            suffix = (f" (channel {r})" if student.ndim == 3 else "")
            if r == 0 and marks_all is None:
                suffix += f", shape {tuple(student.shape)}: expected {tuple(expected.shape)}"
            elif r == 0 and marks_all is not None:
                differ = int(marks_all.sum())
                suffix += (f", {differ} cells differ (red)" if marks_all.size <= MAX_ANNOTATED
                           else f", {differ} of {marks_all.size} values differ")
            _panel(axes[r][0], stu_c[r], labels[0] + suffix, marks, vmin, vmax)
        else:
            axes[r][0].set_axis_off()
    fig.suptitle(str(figure.get("title", ""))[:160], fontsize=10)
    # fixed margins: tight_layout would draw the figure once more to measure it (a third of the time)
    fig.subplots_adjust(left=0.03, right=0.97, bottom=0.04, top=1 - 0.8 / fig.get_figheight(), wspace=0.1,
                        hspace=0.25)
    return png_bytes(fig)


def draw_training(figure: dict[str, Any]) -> bytes:
    """The grader's training of the student's architecture: loss and accuracy per epoch on the training data,
    the held-out accuracy it reached and the threshold."""
    history = figure.get("history") or {}
    fig = new_figure((6, 3))
    ax = fig.subplots()
    accuracy_keys = [k for k in history if "acc" in k]
    for key in accuracy_keys:
        ys = [float(v) for v in history[key]]
        ax.plot(range(1, len(ys) + 1), ys, marker="o", label=f"training {key}")
    epochs = int(figure.get("epochs") or max((len(v) for v in history.values()), default=1))
    threshold = float(figure.get("threshold", 0))
    accuracy = float(figure.get("accuracy", 0))
    ax.axhline(threshold, color="red", linestyle="--", label=f"threshold {threshold:.2f}")
    ax.plot([epochs], [accuracy], marker="*", markersize=14, color="green" if accuracy >= threshold else "red",
            linestyle="none", label=f"held-out accuracy {accuracy:.3f}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0.5, max(epochs, 1) + 0.5)
    if "loss" in history:
        ax2 = ax.twinx()
        ys = [float(v) for v in history["loss"]]
        ax2.plot(range(1, len(ys) + 1), ys, color="grey", alpha=0.6, label="training loss")
        ax2.set_ylabel("loss", color="grey")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(str(figure.get("title", ""))[:100], fontsize=9)
    fig.tight_layout()
    return png_bytes(fig)


def draw(figure: dict[str, Any]) -> bytes:
    """A picture's PNG bytes (its ``kind``: ``arrays`` or ``training``)."""
    kind = figure.get("kind")
    if kind == "arrays":
        return draw_arrays(figure)
    if kind == "training":
        return draw_training(figure)
    raise ValueError(f"unknown kind of picture: {kind!r}")


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
