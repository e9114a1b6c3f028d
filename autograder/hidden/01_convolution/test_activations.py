"""Hidden tests for question activations: relu, sigmoid and leaky_relu, element by element."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.conv_reference import sigmoid as reference_sigmoid
from autograder.references import ReferenceBook
from autograder.testing import (
    Fail,
    SubmissionProxy,
    expect_array,
    expect_no_warnings,
    expect_unchanged,
    question,
    show_arrays,
)

STABLE = ("Take exp only of numbers <= 0: with z = np.exp(-np.abs(x)), sigmoid is 1 / (1 + z) where x >= 0 and "
          "z / (1 + z) where x < 0 (np.where computes both formulas for every element, so each must be safe).")
NEW_ARRAY = "its docstring says it returns a new array and leaves x unchanged (e.g. np.where(x > 0, x, 0.0))"


def _leaky(x: np.ndarray, alpha: float) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return np.where(x > 0, x, alpha * x)


def _integer_cause(function: str, x: np.ndarray, value: object, want: np.ndarray) -> str:
    """For an integer input: the cause when the answer is integers, or the right values cut to whole numbers."""
    if np.asarray(x).dtype.kind not in "iu" or type(value) is not np.ndarray or value.shape != want.shape:
        return ""
    truncated = value.dtype.kind in "fiu" and np.allclose(value, np.trunc(want)) and not np.allclose(value, want)
    if truncated:
        product = " (alpha * x is truncated)" if function == "leaky_relu" else ""
        return (f"`{function}` cuts its results to whole numbers for an integer input{product}: convert x to "
                "float first, np.asarray(x, dtype=float), and return float64.")
    if value.dtype.kind in "iu":
        return (f"`{function}` returns integers for an integer input; its docstring promises float64: convert x "
                "to float first, np.asarray(x, dtype=float).")
    return ""


def _check(submission: SubmissionProxy, function: str, x: np.ndarray, want: np.ndarray, what: str,
           **kwargs: float) -> np.ndarray:
    """Call ``function`` (float64 results, input left unchanged) and compare with ``want``; messages start with
    the cause when a check finds it, and name only ``what``, never the inputs."""
    report = submission.call_report(function, x, **kwargs)
    cause = _integer_cause(function, x, report.value, want)
    if cause:
        raise Fail(f"{cause} Case: {what}.")
    try:
        out = expect_array(report.value, shape=x.shape, kinds="f")
    except Fail as exc:
        raise Fail(f"{function} on {what}: {exc}") from None
    if not np.allclose(out, want, rtol=1e-7, atol=1e-12):
        raise Fail(f"{function} gives wrong values on {what}.")
    expect_unchanged(report, case=what, names={"args[0]": "its input x"}, why=NEW_ARRAY)
    return out


def _random_inputs(seed: int) -> list[tuple[np.ndarray, str]]:
    rng = np.random.default_rng(seed)
    with_zeros = rng.standard_normal((4, 5)) * 3
    with_zeros[rng.random((4, 5)) < 0.3] = 0.0
    return [
        (rng.standard_normal(7) * 5, "a 1-D array"),
        (with_zeros, "a 2-D array that contains zeros"),
        (rng.standard_normal((3, 4, 2)) * 10, "a 3-D array"),
        (rng.integers(-50, 50, size=(5, 3)), "an integer array"),
    ]


@question("activations", weight=1 / 3, worked_example=True)
@pytest.mark.parametrize("function", ["relu", "sigmoid", "leaky_relu"])
def test_lecture_activation_grid(submission: SubmissionProxy, function: str, reference_book: ReferenceBook) -> None:
    """relu, sigmoid and leaky_relu reproduce the worksheet of activation fn.xlsx (full precision)."""
    case = reference_book.activations[function]
    kwargs = {"alpha": case.alpha} if case.alpha is not None else {}
    what = "the lecture's 2×4 grid"
    report = submission.call_report(function, case.x, **kwargs)
    value = report.value
    if not (type(value) is np.ndarray and value.shape == case.expected.shape
            and np.allclose(value, case.expected, rtol=1e-9, atol=1e-12)):
        show_arrays(f"{function} on {what}", value, case.expected)
    try:
        out = expect_array(report.value, shape=case.x.shape, kinds="f")
    except Fail as exc:
        raise Fail(f"{function} on {what}: {exc}") from None
    if not np.allclose(out, case.expected, rtol=1e-9, atol=1e-12):
        raise Fail(
            f"{function} on {what} differs from the worksheet of activation fn.xlsx "
            "(compared at full precision, not rounded to 1 decimal)."
        )
    expect_unchanged(report, case=what, names={"args[0]": "its input x"}, why=NEW_ARRAY)


@question("activations", weight=0.5)
def test_relu_on_random_arrays(submission: SubmissionProxy) -> None:
    """relu(x) is max(0, x) element by element, for arrays of any shape, including zeros and integers."""
    for x, what in _random_inputs(20240531):
        _check(submission, "relu", x, np.maximum(x, 0).astype(np.float64), what)


@question("activations", weight=0.5)
def test_sigmoid_on_random_arrays(submission: SubmissionProxy) -> None:
    """sigmoid(x) is 1 / (1 + exp(-x)) element by element (the reference is held to scipy.special.expit by
    tests/test_conv_reference.py)."""
    for x, what in _random_inputs(20240532):
        _check(submission, "sigmoid", x, reference_sigmoid(x), what)


@question("activations", weight=0.5)
def test_sigmoid_is_stable_for_large_inputs(submission: SubmissionProxy) -> None:
    """sigmoid gives 0 and 1, never NaN or inf, for inputs as large as +-1000."""
    x = np.array([-1000.0, -745.0, -710.0, -50.0, -1e-3, 0.0, 1e-3, 50.0, 710.0, 745.0, 1000.0])
    what = "very large positive and negative inputs (up to ±1000)"
    report = submission.call_report("sigmoid", x)
    try:
        out = expect_array(report.value, shape=x.shape, kinds="f")
    except Fail as exc:
        raise Fail(f"sigmoid on {what}: {exc} {STABLE}") from None
    if not np.all((out >= 0) & (out <= 1)):
        raise Fail(f"sigmoid on {what}: values must lie between 0 and 1.")
    if not np.allclose(out, reference_sigmoid(x), rtol=1e-7, atol=1e-12):
        raise Fail(f"sigmoid of {what} should be (almost) exactly 1 and 0.")
    expect_no_warnings(report, case=what, why="its docstring says it must not overflow or warn", hint=STABLE)
    expect_unchanged(report, case=what, names={"args[0]": "its input x"}, why=NEW_ARRAY)


@question("activations", weight=0.5)
def test_leaky_relu_default_and_other_alphas(submission: SubmissionProxy) -> None:
    """leaky_relu(x, alpha) is x for x > 0 and alpha * x otherwise; alpha defaults to 0.1."""
    inputs = _random_inputs(20240533)
    for x, what in inputs:
        _check(submission, "leaky_relu", x, _leaky(x, 0.1), f"{what} with the default alpha (0.1)")
    for alpha in (0.3, 0.01):
        for x, what in inputs[:3]:
            _check(submission, "leaky_relu", x, _leaky(x, alpha), f"{what} with alpha={alpha}", alpha=alpha)
