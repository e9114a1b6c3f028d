"""Hidden tests for question output_size: floor((N - F + 2P) / S) + 1, and ValueError for nonsense."""

from __future__ import annotations

import numpy as np

from autograder.references import ReferenceBook
from autograder.testing import Fail, SubmissionProxy, expect, expect_int, expect_raises, question


def _formula(n: int, f: int, stride: int, padding: int) -> int:
    return (n - f + 2 * padding) // stride + 1


MISTAKES = (
    ("output_size rounds up (ceil) where it must round down (floor): a last step that would hang over the edge is "
     "dropped.", lambda top, s: -(-top // s) + 1),
    ("output_size rounds to the nearest integer where it must round down (floor): a last step that would hang "
     "over the edge is dropped.", lambda top, s: int(np.floor(top / s + 0.5)) + 1),
    ("output_size forgets the + 1 (the first filter position counts too).", lambda top, s: top // s),
)


def _cause(answers: list[tuple[int, tuple[int, int, int, int]]]) -> str:
    """The common mistake that explains every (answer, (n, f, stride, padding)) of a test, right and wrong ones
    alike (the grader's own sentence; "" if none does)."""
    for cause, size in MISTAKES:
        if all(got == size(n - f + 2 * p, s) for got, (n, f, s, p) in answers):
            return cause
    if all(got == (n - f + p) // s + 1 for got, (n, f, s, p) in answers):
        return "output_size counts the padding once: P zeros go on EACH side, so the formula has + 2P."
    return ""


def _answers(submission: SubmissionProxy, cases: list[tuple[int, int, int, int]]) -> list[int]:
    return [expect_int(submission.output_size(n, f, stride=s, padding=p), what="output_size") for n, f, s, p in cases]


def _random_arguments(seed: int, count: int, exact: bool) -> list[tuple[int, int, int, int]]:
    """(n, f, stride, padding) where (n - f + 2P) is (exact=True) or is not a multiple of the stride."""
    rng = np.random.default_rng(seed)
    found: list[tuple[int, int, int, int]] = []
    while len(found) < count:
        n, f = int(rng.integers(1, 300)), int(rng.integers(1, 12))
        stride, padding = int(rng.integers(1, 6)), int(rng.integers(0, 4))
        if f > n + 2 * padding or (stride == 1 and not exact):
            continue
        if ((n - f + 2 * padding) % stride == 0) == exact:
            found.append((n, f, stride, padding))
    return found


@question("output_size", weight=0.75, worked_example=True)
def test_lecture_examples(submission: SubmissionProxy, reference_book: ReferenceBook) -> None:
    """output_size gives the output sizes of the lecture's convolution and pooling worksheets."""

    cases: list[tuple[str, tuple[int, int, int, int], int]] = []
    for case in reference_book.convolutions.values():
        for axis in (0, 1):
            args = (case.image.shape[axis], case.kernel.shape[axis], case.stride[axis], case.padding)
            cases.append((case.name, args, case.expected.shape[axis]))
    for pool in reference_book.poolings.values():
        cases.append((pool.name, (pool.x.shape[0], pool.size, pool.stride, 0), pool.expected.shape[0]))
    answers = _answers(submission, [args for _, args, _ in cases])
    cause = _cause(list(zip(answers, [args for _, args, _ in cases], strict=True)))
    for got, (name, (n, f, stride, padding), want) in zip(answers, cases, strict=True):
        expect(
            got == want,
            f"{cause} Case: output_size(n={n}, f={f}, stride={stride}, padding={padding}) returned {got}; the "
            f"lecture's worksheet ({name}) has {want}." if cause else
            f"output_size(n={n}, f={f}, stride={stride}, padding={padding}) returned {got}; the lecture's "
            f"worksheet ({name}) has {want}.",
        )


@question("output_size", weight=0.5)
def test_exact_divisions(submission: SubmissionProxy) -> None:
    """output_size follows the formula when (N - F + 2P) is a multiple of the stride, defaults included."""
    cases = _random_arguments(seed=20240501, count=25, exact=True)
    answers = _answers(submission, cases)
    for got, (n, f, stride, padding) in zip(answers, cases, strict=True):
        if got != _formula(n, f, stride, padding):
            detail = "with padding > 0" if padding else "without padding"
            cause = _cause(list(zip(answers, cases, strict=True)))
            raise Fail(f"{cause + ' ' if cause else ''}output_size gives a wrong size {detail} (a case where the "
                       "stride divides exactly).")
    for n, f in ((28, 3), (7, 7), (64, 5), (1, 1)):
        got = expect_int(submission.output_size(n, f), what="output_size with the default stride and padding")
        expect(
            got == _formula(n, f, 1, 0),
            f"output_size(n={n}, f={f}) returned {got}: the defaults are stride=1 and padding=0.",
        )


@question("output_size", weight=0.5)
def test_rounds_down_when_the_stride_does_not_divide(submission: SubmissionProxy) -> None:
    """output_size rounds (N - F + 2P) / S down when the stride does not divide it (the last step drops)."""
    cases = _random_arguments(seed=20240502, count=25, exact=False)
    answers = _answers(submission, cases)
    if any(got != _formula(*args) for got, args in zip(answers, cases, strict=True)):
        cause = _cause(list(zip(answers, cases, strict=True)))
        raise Fail(f"{cause} Case: (N - F + 2P) is not a multiple of the stride." if cause else
                   "output_size is wrong when (N - F + 2P) is not a multiple of the stride: the fraction must be "
                   "rounded down (floor) before adding 1.")


@question("output_size", weight=0.5)
def test_invalid_arguments_raise_value_error(submission: SubmissionProxy) -> None:
    """output_size raises ValueError for sizes or a stride below 1, negative padding, or a filter too big."""
    invalid = [
        ("n = 0", (0, 1), {}),
        ("f = 0", (5, 0), {}),
        ("a stride of 0", (5, 3), {"stride": 0}),
        ("a negative stride", (9, 3), {"stride": -2}),
        ("negative padding", (5, 3), {"padding": -1}),
        ("a filter larger than the input", (3, 5), {}),
        ("a filter larger than the padded input", (2, 7), {"padding": 2}),
    ]
    for why, args, kwargs in invalid:
        try:
            expect_raises("ValueError", submission.output_size, *args, **kwargs)
        except Fail as exc:
            raise Fail(f"{exc} (case: {why})") from None
