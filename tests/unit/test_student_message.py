"""suite.student_message: the feedback sentence for each kind of failure, and what it must never quote.

Text that came from the worker (a student's exception message, a class the student defined, why a value
could not be sent) can carry hidden test inputs; it must never reach the student's feedback.
"""

from __future__ import annotations

import pytest

from autograder.session import (
    BUILTIN_EXCEPTIONS,
    BudgetExhausted,
    CallTimeout,
    MissingFunction,
    StudentCodeProblem,
    StudentError,
    UnsendableValue,
    WorkerCrashed,
    quotable_exception_name,
)
from autograder.suite import student_message
from autograder.testing import Fail

LEAK = "LEAK:[[1, 2], [3, 4]]"  # stands for anything derived from a hidden input
DOC = """Convolution with stride 2 matches Keras on a random 7x9 image.

    More detail for instructors.
    """

CASES: list[tuple[str, BaseException, str]] = [
    ("student-error-builtin", StudentError("convolve2d", "ValueError", LEAK),
     "`convolve2d` raised ValueError on this test's input."),
    ("student-error-base-exception", StudentError("relu", "KeyboardInterrupt", LEAK),
     "`relu` raised KeyboardInterrupt on this test's input."),
    ("not-implemented", StudentError("pool2d", "NotImplementedError", LEAK),
     "`pool2d` is not implemented yet (it raises NotImplementedError)."),
    ("custom-class-named-after-input", StudentError("zero_pad", LEAK, LEAK),
     "`zero_pad` raised an exception of a class defined in your notebook on this test's input."),
    ("custom-class-plain-name", StudentError("zero_pad", "MyError", "oops " + LEAK),
     "`zero_pad` raised an exception of a class defined in your notebook on this test's input."),
    ("qualified-name", StudentError("sigmoid", "numpy.linalg.LinAlgError", LEAK),
     "`sigmoid` raised an exception of a class defined in your notebook on this test's input."),
    ("missing", MissingFunction("common_kernel"),
     "`common_kernel` is not defined in your notebook (check its name and that its cell runs)."),
    ("timeout", CallTimeout("output_size", "20"),
     "`output_size` did not return within 20 s (an infinite loop, or far too slow)."),
    ("crashed", WorkerCrashed("conv2d_layer", "the worker was killed by SIGKILL", "SIGKILL"),
     "Your notebook's process stopped while running `conv2d_layer` "
     "(killed, usually for using too much memory: SIGKILL)."),
    ("unsendable", UnsendableValue("leaky_relu", f"cannot send an object of class {LEAK!r}"),
     "`leaky_relu` returned a value the grader cannot accept: only numbers, strings, lists, tuples, dicts, "
     "None and numeric numpy arrays (of reasonable size) can be returned."),
    ("budget", BudgetExhausted("relu", "the time limit for the whole submission was reached " + LEAK),
     "Not run: the time limit for the whole submission was reached."),
    ("assertion", AssertionError(f"assert {LEAK} == [[0]]"),
     "Failed: Convolution with stride 2 matches Keras on a random 7x9 image."),
    ("other-exception", TypeError(LEAK), "Failed: Convolution with stride 2 matches Keras on a random 7x9 image."),
    ("base-student-problem", StudentCodeProblem("f", LEAK),
     "Failed: Convolution with stride 2 matches Keras on a random 7x9 image."),
]


@pytest.mark.parametrize(("exc", "expected"), [(e, m) for _, e, m in CASES], ids=[i for i, _, _ in CASES])
def test_message_for_each_kind_of_failure(exc: BaseException, expected: str) -> None:
    message = student_message(exc, DOC)
    assert message == expected
    assert "LEAK" not in message


def test_a_fail_shows_its_own_grader_written_message() -> None:
    assert student_message(Fail("The output should have shape (3, 4)."), DOC) == "The output should have shape (3, 4)."


def test_a_fail_subclass_is_still_a_fail() -> None:
    class ShapeFail(Fail):
        pass

    assert student_message(ShapeFail("Wrong shape."), DOC) == "Wrong shape."


@pytest.mark.parametrize("docstring", ["", "   \n\t  ", "\n"])
def test_without_a_docstring_the_check_is_unnamed(docstring: str) -> None:
    assert student_message(ValueError(LEAK), docstring) == "Failed: This check"


def test_only_the_first_non_blank_docstring_line_is_used() -> None:
    assert student_message(KeyError(LEAK), "\n\n   Pooling keeps the maximum.\n   Secret: uses [3, 1].\n") == (
        "Failed: Pooling keeps the maximum.")


@pytest.mark.parametrize("name", ["ValueError", "ZeroDivisionError", "StopIteration", "SystemExit",
                                  "BaseException", "NotImplementedError", "ExceptionGroup"])
def test_python_exception_names_are_quotable(name: str) -> None:
    assert name in BUILTIN_EXCEPTIONS
    assert quotable_exception_name(name) == name


@pytest.mark.parametrize("name", ["print", "int", "object", "LEAK_7x9", "valueerror", "ValueError ", "",
                                  "builtins.ValueError", "Warning2"])
def test_anything_else_is_not_quoted(name: str) -> None:
    assert quotable_exception_name(name) == "an exception of a class defined in your notebook"


def test_a_crash_exit_status_chosen_by_the_student_is_not_quoted() -> None:
    # what session.call raises after `os._exit(args[0][0][0])` with a hidden input of 42
    message = student_message(WorkerCrashed("convolve2d", "the worker exited with status 42"), DOC)
    assert "42" not in message and "it exited or closed its channel" in message


@pytest.mark.parametrize("signal", ["SIGUSR1", "SIGTERM", "signal 42", None])
def test_only_crash_and_limit_signals_are_named(signal: str | None) -> None:
    # a signal the student's code can send itself (os.kill) would carry a few bits of a hidden input
    message = student_message(WorkerCrashed("convolve2d", f"the worker was killed by {signal}", signal), DOC)
    assert message.endswith("(it exited or closed its channel).")
    named = student_message(WorkerCrashed("convolve2d", "the worker was killed by SIGSEGV", "SIGSEGV"), DOC)
    assert named.endswith("(a crash: SIGSEGV).")


def test_a_session_that_gave_up_names_no_function() -> None:
    message = student_message(WorkerCrashed("", "the notebook's process failed 7 times; giving up"), DOC)
    assert message == "Not run: your notebook's process kept stopping, so the grader gave up on it."


def test_an_exception_on_public_inputs_is_quoted_as_inline_code_and_only_then() -> None:
    exc = StudentError("build_augmenter", "ValueError", "Argument `factor` must be <= 1.0; got 40\nsecond line")
    assert student_message(exc, DOC, quote=True) == \
        "`build_augmenter` raised ValueError: ``Argument `factor` must be <= 1.0; got 40``."
    hidden = StudentError("convolve2d", "ValueError", LEAK)
    assert LEAK not in student_message(hidden, DOC)  # quote=False: a test with hidden inputs (the default)
    hostile = StudentError("f", "ValueError", "<img src=x onerror=alert(1)>" + "x" * 500)
    quoted = student_message(hostile, DOC, quote=True)
    assert quoted.startswith("`f` raised ValueError: `<img src=x onerror=alert(1)>xxx") and len(quoted) < 260
    assert student_message(StudentError("f", "ValueError", "   "), DOC, quote=True) == \
        "`f` raised ValueError on this test's input."
    custom = StudentError("f", "SecretInputError", "text")
    assert "SecretInputError" not in student_message(custom, DOC, quote=True)


def test_a_keras_not_implemented_error_with_a_known_cause_is_not_called_unfinished() -> None:
    keras = StudentError("build_augmenter", "NotImplementedError",
                         "Unknown `fill_mode` constantt. Expected values are "
                         "['reflect', 'wrap', 'constant', 'nearest']")
    message = student_message(keras, DOC)
    assert message.startswith("fill_mode must be one of") and message.endswith(
        " Case: `build_augmenter` raised NotImplementedError.")
    stub = StudentError("build_augmenter", "NotImplementedError", "")
    assert student_message(stub, DOC) == "`build_augmenter` is not implemented yet (it raises NotImplementedError)."
