"""Helpers for hidden test suites (trusted code; student values arrive as plain data).

A hidden test is an ordinary pytest function that takes the ``submission`` fixture and is marked
with the question it grades::

    @question("convolve2d", weight=2)
    def test_stride_two_matches_keras(submission):
        \"\"\"convolve2d with stride 2 matches Keras on a random 7x9 image.\"\"\"
        out = expect_array(submission.convolve2d(img, k, stride=2), shape=(3, 4))
        expect_close(out, reference, "The values differ from Keras's Conv2D.")

Feedback rules (enforced by :mod:`autograder.suite`): a :class:`Fail` shows its message; a problem in
the student's code (raised, missing, hung, crashed) shows a generic sentence naming the function; any
other failure shows the test's docstring. Messages must never contain hidden inputs.

Contracts beyond the value: ``report = submission.call_report("sigmoid", x)`` returns a
:class:`~autograder.session.CallReport` (``report.value``, the warnings the call issued, the arguments it
changed); :func:`expect_no_warnings` and :func:`expect_unchanged` turn it into a student-safe failure::

    report = submission.call_report("relu", x)
    out = expect_array(report.value, shape=x.shape)
    expect_unchanged(report, case="a 2-D array")
    expect_no_warnings(report, case="a 2-D array")
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from autograder.session import CallReport, StudentError, SubmissionProxy, quotable_exception_name

__all__ = [
    "CallReport",
    "Fail",
    "SubmissionProxy",
    "expect",
    "expect_array",
    "expect_close",
    "expect_int",
    "expect_no_problems",
    "expect_no_warnings",
    "expect_raises",
    "expect_unchanged",
    "first_cause",
    "helper_module",
    "expect_trained_accuracy",
    "measure",
    "model_summary",
    "note",
    "training_recipe",
    "question",
    "record_training",
    "show_arrays",
]


class Fail(AssertionError):
    """A test failure whose message is safe to show the student."""


# --- pictures and measurements a test attaches to its result -----------------------------------------
MAX_DRAWN_CELLS = 4096  # an array larger than this is not drawn (a picture of it would not be readable)


class Attachments:
    """What the running hidden test attached: pictures for the student's feedback (plain data: the grader
    draws them) and numbers for the class report. The grading plugin empties it before each test and takes
    it after (see :mod:`autograder.suite`, which also decides what a test may draw)."""

    def __init__(self) -> None:
        self.figures: list[dict[str, Any]] = []
        self.measurements: dict[str, float] = {}
        self.notes: list[str] = []

    def take(self) -> tuple[list[dict[str, Any]], dict[str, float], list[str]]:
        taken = (self.figures, self.measurements, self.notes)
        self.figures, self.measurements, self.notes = [], {}, []
        return taken


ATTACHMENTS = Attachments()


def drawable(value: Any) -> list[Any] | None:
    """``value`` as nested lists of floats (None for NaN and infinities) if it is a numeric array of 1 to 3
    dimensions and at most :data:`MAX_DRAWN_CELLS` cells; else None (the picture then says it cannot be
    drawn). Plain data only: results.json stores it and the grader draws it."""
    if type(value) is not np.ndarray or value.dtype.kind not in "fiub" or not 1 <= value.ndim <= 3 \
            or value.size > MAX_DRAWN_CELLS or value.size == 0:
        return None
    data = value.astype(np.float64)
    cleaned: list[Any] = np.where(np.isfinite(data), data, np.nan).tolist()

    def finite(x: Any) -> Any:
        return [finite(y) for y in x] if isinstance(x, list) else (None if x != x else x)

    return [finite(x) for x in cleaned]


def show_arrays(title: str, student: Any, expected: np.ndarray, *, labels: tuple[str, str] = (
        "your output", "expected")) -> None:
    """Draw, in the student's feedback if this test fails, the student's array beside the expected one, the
    differing cells marked.

    Only a worked-example test (``@question(..., worked_example=True)``) may call it, and both arrays must come
    from public inputs only (the lecture's numbers): the grading plugin refuses a picture from any other test,
    and draws the student's side only while no test with hidden inputs has run in the submission's worker (its
    code could otherwise return what it was shown). ``title`` is grader-made text, like a :class:`Fail`'s."""
    want = drawable(np.asarray(expected))
    if want is None:
        raise ValueError(f"show_arrays({title!r}): the expected value is not a drawable array (a numeric array of "
                         f"1 to 3 dimensions, at most {MAX_DRAWN_CELLS} cells)")
    ATTACHMENTS.figures.append({"kind": "arrays", "title": title, "labels": list(labels),
                                "student": drawable(student), "expected": want})


def measure(name: str, value: float) -> None:
    """Attach a number to this test's result for the class report (e.g. ``held_out_accuracy``)."""
    ATTACHMENTS.measurements[name] = float(value)


def note(text: str) -> None:
    """Attach a grader-made sentence to this test's result, shown in the student's feedback under "What the grader
    measured" whether the test passes or fails (e.g. the held-out accuracy the grader measured and the threshold).
    Like a :class:`Fail`'s message, it must never contain hidden inputs."""
    ATTACHMENTS.notes.append(str(text))


def question(qid: str, *, weight: float = 1.0, worked_example: bool = False) -> pytest.MarkDecorator:
    """Mark a hidden test as grading question ``qid`` with a share ``weight`` of its points.

    ``worked_example`` marks tests that use the lecture's (public) numbers; feedback may say so.
    """
    return pytest.mark.question(qid, weight=weight, worked_example=worked_example)


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Fail(message)


def _kind_name(kind: str) -> str:
    names = {"f": "floating-point", "i": "integer", "u": "unsigned integer", "b": "boolean"}
    return " or ".join(names.get(k, k) for k in kind)


def expect_array(
    value: Any,
    *,
    shape: tuple[int, ...] | None = None,
    kinds: str = "fiu",
    finite: bool = True,
    what: str = "the result",
) -> np.ndarray:
    """Check a returned value is exactly a numpy ndarray of the right shape, dtype kind, all finite."""
    if type(value) is not np.ndarray:
        raise Fail(f"{what} should be a numpy ndarray, got {type(value).__name__}.")
    if value.dtype.kind not in kinds:
        raise Fail(f"{what} should have a {_kind_name(kinds)} dtype, got {_kind_name(value.dtype.kind)}.")
    if shape is not None and value.shape != tuple(shape):
        # The student's own shape is not quoted: its numbers could be computed from hidden inputs.
        raise Fail(f"{what} has the wrong shape: expected {tuple(shape)}.")
    if finite and value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        raise Fail(f"{what} contains NaN or infinite values.")
    return value


def expect_int(value: Any, *, what: str = "the result") -> int:
    """Check a returned value is an integer (Python int or numpy integer scalar), not bool or float."""
    if isinstance(value, bool) or isinstance(value, np.bool_):
        raise Fail(f"{what} should be an int, got a bool.")
    if isinstance(value, (int, np.integer)):
        return int(value)
    raise Fail(f"{what} should be an int, got {type(value).__name__}.")  # never the value: it may echo inputs


def expect_close(
    actual: np.ndarray, expected: np.ndarray, message: str, *, rtol: float = 1e-6, atol: float = 1e-6
) -> None:
    if actual.shape != expected.shape or not np.allclose(actual, expected, rtol=rtol, atol=atol):
        raise Fail(message)


def expect_no_problems(problems: list[str]) -> None:
    """Fail with the grader's own problem sentences (e.g. from autograder.models' structure checks)."""
    if problems:
        raise Fail(" ".join(problems))


def model_summary(submission: SubmissionProxy, builder: str, **kwargs: Any) -> dict[str, Any]:
    """Call the student's ``builder`` and return ``models.summary`` of the Keras model it returns.

    The model arrives as plain data and is checked against the whitelist of built-in layers first.
    """
    from autograder import models  # imports Keras: only suites about models pay for it

    spec = submission.call(builder, **kwargs)
    if not isinstance(spec, models.ModelSpec):
        raise Fail(f"{builder}() should return a keras.Model, got {type(spec).__name__}.")
    try:
        return models.summary(spec)
    except models.ArchitectureError as exc:
        raise Fail(f"{builder}(): {exc}") from None


def training_recipe(grading: Any, *, needs: tuple[str, ...] = ()) -> Any:
    """The course's training recipe for this runner (course.yml: assignments[].training.<runner>).

    A missing recipe, or one without the fields in ``needs``, is the instructor's mistake: grading stops
    with a message instead of failing students.
    """
    recipe = grading.assignment.training.get(grading.runner)
    missing = [] if recipe is None else [k for k in needs if getattr(recipe, k) is None]
    if recipe is None or missing:
        what = f"a training recipe with {', '.join(missing)}" if missing else "a training recipe"
        pytest.exit(f"course.yml: assignment {grading.assignment.id} needs {what} for runner {grading.runner!r} "
                    f"(assignments[].training.{grading.runner}).", returncode=3)
    return recipe


def record_training(subject: str, data: str, result: Any, threshold: float, *, held_out: str = "") -> str:
    """What a test that trained a network on the trusted side reports, passed or failed: the held-out accuracy and
    the threshold measured for the class report, stated in words for the student (:func:`note`), and the training
    curve drawn. ``subject`` names the network ("build_cnn()'s network"), ``held_out`` may say on what ("on 160
    images"). Returns the words for an early stop ("" if none), for the test's own message."""
    stopped = " (training was stopped early: it took too long)" if result.stopped_early else ""
    measure("held_out_accuracy", result.accuracy)
    measure("threshold", threshold)
    verdict = "enough" if result.accuracy >= threshold else "not enough"
    note(f"The grader trained {subject} ({data}, {result.epochs_run} epochs{stopped}): held-out accuracy "
         f"{result.accuracy:.3f}{held_out}, at least {threshold:.2f} needed ({verdict}).")
    ATTACHMENTS.figures.append({"kind": "training", "title": f"The grader's training of {subject} ({data})",
                                "history": result.history, "accuracy": result.accuracy,
                                "threshold": float(threshold), "epochs": result.epochs_run})
    return stopped


def expect_trained_accuracy(submission: SubmissionProxy, grading: Any, recipe: Any, builder: str, *,
                            data: str, hint: str, **kwargs: Any) -> None:
    """Train the architecture returned by ``builder(**kwargs)`` with ``recipe`` on the trusted side (fresh
    seeded weights, the student's compile settings) and hold it to the recipe's held-out accuracy."""
    from autograder import datasets, models  # imports Keras: only suites about models pay for it

    spec = submission.call(builder, **kwargs)
    if not isinstance(spec, models.ModelSpec):
        raise Fail(f"{builder}() should return a keras.Model, got {type(spec).__name__}.")
    try:
        result = models.graded_training(spec, recipe, manifest=grading.course.manifest_path)
    except models.TrainingFailed as exc:  # Keras refused to train it; the cause is the grader's sentence
        # (not a "<cause> Case:" diagnosis: a network that cannot be trained reaches no accuracy, so the whole
        # question is lost; the structure tests name the same cause and are capped there). Chained: the Keras
        # traceback goes to instructor.log.
        raise Fail(f"The grader cannot train {builder}()'s network. {exc}") from exc
    except models.ArchitectureError as exc:
        raise Fail(f"The grader cannot train {builder}()'s network: {exc}") from None
    except datasets.DatasetError as exc:
        pytest.exit(f"instructor error, data for runner {grading.runner!r} missing: {exc}", returncode=3)
    stopped = record_training(f"{builder}()'s network", data, result, recipe.min_accuracy)
    expect(result.accuracy >= recipe.min_accuracy,
           f"The grader trained your network ({data}, {result.epochs_run} epochs{stopped}) and it reached a "
           f"held-out accuracy of {result.accuracy:.3f}; at least {recipe.min_accuracy:.2f} is needed. {hint}")


def expect_raises(
    type_names: str | tuple[str, ...], call: Callable[..., Any], *args: Any, **kwargs: Any
) -> StudentError:
    """Check that the student's function raises one of ``type_names`` (by name) for these arguments."""
    names = (type_names,) if isinstance(type_names, str) else type_names
    fname = getattr(call, "__name__", "the function")
    try:
        call(*args, **kwargs)
    except StudentError as err:
        if err.type_name in names:
            return err
        if err.type_name == "NotImplementedError":
            raise  # reported as "not implemented yet", like any other call
        raise Fail(f"{fname} raised {quotable_exception_name(err.type_name)} for invalid arguments; "
                   f"expected {' or '.join(names)}.") from None
    raise Fail(f"{fname} accepted invalid arguments; it should raise {' or '.join(names)}.")


def expect_no_warnings(report: CallReport, *, case: str = "", categories: tuple[str, ...] | None = None,
                       why: str = "its docstring allows no warnings", hint: str = "") -> None:
    """Fail if the reported call issued a warning (any, or one of the built-in ``categories`` by name).

    The message starts with the cause: the function and the warning's class when it is Python's or NumPy's
    own, with NumPy's floating-point kind ("`sigmoid` issued a RuntimeWarning (overflow); ..."), then ``hint``
    and ``case`` (grader-made words for the input, e.g. "very large inputs"). Never the warning's message,
    which the student's code wrote.
    """
    found = [w for w in report.warnings if categories is None or (w.builtin and w.category in categories)]
    if not found:
        return
    named = found[0].quotable()
    what = f"a {named}" if found[0].builtin else named
    raise Fail(_sentences(f"`{report.function}` issued {what}; {why}.", hint, case))


def _sentences(cause: str, hint: str, case: str) -> str:
    return " ".join([cause] + ([hint] if hint else []) + ([f"Case: {case}."] if case else []))


def _argument_name(key: str) -> str:
    if key.startswith("args[") and key.endswith("]") and key[5:-1].isdigit():
        n = int(key[5:-1]) + 1
        return {1: "its first argument", 2: "its second argument", 3: "its third argument"}.get(n, f"argument {n}")
    if key.startswith("kwargs[") and key.endswith("]"):
        return f"its argument `{key[7:-1].strip(chr(39))}`"
    return "an argument"


def expect_unchanged(report: CallReport, *, case: str = "", names: dict[str, str] | None = None,
                     why: str = "it must return a new array and leave its input unchanged", hint: str = "") -> None:
    """Fail if the reported call changed any of its arguments in place.

    ``names`` maps the report's argument keys (``"args[0]"``, ``"kwargs['x']"``) to words for the message
    (e.g. ``{"args[0]": "its input x"}``); by default "its first argument", "its argument `x`". The message
    starts with the cause ("`relu` changed its input x in place; ..."), then ``hint`` and ``case``.
    """
    if not report.mutated:
        return
    key = report.mutated[0]
    name = (names or {}).get(key) or _argument_name(key)
    raise Fail(_sentences(f"`{report.function}` changed {name} in place; {why}.", hint, case))


def first_cause(value: Any, mistakes: Iterable[tuple[str, Callable[[], Any]]], *, rtol: float = 1e-6,
                atol: float = 1e-6) -> str:
    """The cause of a wrong answer, when a check shows it: the sentence of the first of ``mistakes`` (cause,
    a function computing on the trusted side what that mistake would return) whose output ``value``
    reproduces (same shape, close values); "" if none does. Call it only once ``value`` is known to be wrong.

    A hidden test starts its message with the cause it found, so feedback names the mistake, and gives a
    fixed hint only when its cause is likely. Causes are grader-made sentences: they never quote inputs.
    """
    if type(value) is not np.ndarray or value.dtype.kind not in "fiub":
        return ""
    for cause, compute in mistakes:
        try:
            mistaken = np.asarray(compute(), dtype=np.float64)
        except (ValueError, IndexError, ZeroDivisionError):  # the mistake cannot happen on this input
            continue
        if mistaken.shape == value.shape and np.allclose(value, mistaken, rtol=rtol, atol=atol):
            return cause
    return ""


def helper_module(test_file: str, name: str) -> ModuleType:
    """A helper module that sits next to a hidden test file (``name``.py, not collected: pytest collects only
    ``test_*.py``), loaded by its path once per suite folder: a hidden suite is not a package, so the tests
    cannot import it by name. Usage: ``MISTAKES = helper_module(__file__, "mistakes")``."""
    path = Path(test_file).resolve().with_name(f"{name}.py")
    key = f"_autograder_hidden_helper_{abs(hash(str(path)))}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"hidden suite helper {path} cannot be loaded")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[key]
            raise
    return sys.modules[key]
