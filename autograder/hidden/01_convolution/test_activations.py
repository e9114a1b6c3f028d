"""Hidden tests for question activations: relu, sigmoid and leaky_relu, element by element."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from autograder.references import ReferenceBook
from autograder.testing import Fail, SubmissionProxy, expect_array, question


def _leaky(x: np.ndarray, alpha: float) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return np.where(x > 0, x, alpha * x)


def _check(submission: SubmissionProxy, function: str, x: np.ndarray, want: np.ndarray, what: str, *,
           kinds: str = "fiu", **kwargs: float) -> np.ndarray:
    try:
        out = expect_array(getattr(submission, function)(x, **kwargs), shape=x.shape, kinds=kinds)
    except Fail as exc:
        raise Fail(f"{function} on {what}: {exc}") from None
    if not np.allclose(out, want, rtol=1e-7, atol=1e-12):
        raise Fail(f"{function} gives wrong values on {what}.")
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
    try:
        out = expect_array(getattr(submission, function)(case.x, **kwargs), shape=case.x.shape)
    except Fail as exc:
        raise Fail(f"{function} on the lecture's 2×4 grid: {exc}") from None
    if not np.allclose(out, case.expected, rtol=1e-9, atol=1e-12):
        raise Fail(
            f"{function} on the lecture's 2×4 grid differs from the worksheet of activation fn.xlsx "
            "(compared at full precision, not rounded to 1 decimal)."
        )


@question("activations", weight=0.5)
def test_relu_on_random_arrays(submission: SubmissionProxy) -> None:
    """relu(x) is max(0, x) element by element, for arrays of any shape, including zeros and integers."""
    for x, what in _random_inputs(20240531):
        _check(submission, "relu", x, np.maximum(x, 0), what)


@question("activations", weight=0.5)
def test_sigmoid_matches_scipy(submission: SubmissionProxy) -> None:
    """sigmoid(x) is 1 / (1 + exp(-x)) element by element (compared with scipy.special.expit)."""
    for x, what in _random_inputs(20240532):
        _check(submission, "sigmoid", x, expit(np.asarray(x, np.float64)), what, kinds="f")


@question("activations", weight=0.5)
def test_sigmoid_is_stable_for_large_inputs(submission: SubmissionProxy) -> None:
    """sigmoid gives 0 and 1, never NaN or inf, for inputs as large as +-1000."""
    x = np.array([-1000.0, -745.0, -710.0, -50.0, -1e-3, 0.0, 1e-3, 50.0, 710.0, 745.0, 1000.0])
    try:
        out = expect_array(submission.sigmoid(x), shape=x.shape, kinds="f")
    except Fail as exc:
        raise Fail(
            f"sigmoid on very large positive and negative numbers: {exc} For x < 0 use "
            "exp(x) / (1 + exp(x)), so that exp never gets a large positive argument."
        ) from None
    if not np.all((out >= 0) & (out <= 1)):
        raise Fail("sigmoid on very large positive and negative numbers: values must lie between 0 and 1.")
    if not np.allclose(out, expit(x), rtol=1e-7, atol=1e-12):
        raise Fail("sigmoid of very large positive and negative numbers should be (almost) exactly 1 and 0.")


@question("activations", weight=0.5)
def test_leaky_relu_default_and_other_alphas(submission: SubmissionProxy) -> None:
    """leaky_relu(x, alpha) is x for x > 0 and alpha * x otherwise; alpha defaults to 0.1."""
    inputs = _random_inputs(20240533)
    for x, what in inputs:
        _check(submission, "leaky_relu", x, _leaky(x, 0.1), f"{what} with the default alpha (0.1)")
    for alpha in (0.3, 0.01):
        for x, what in inputs[:3]:
            _check(submission, "leaky_relu", x, _leaky(x, alpha), f"{what} with alpha={alpha}", alpha=alpha)
