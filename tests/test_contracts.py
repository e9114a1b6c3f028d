"""Contracts beyond the value: what a call into the student's code did on the side, reported as data.

A real worker runs each notebook here (as in tests/test_session.py). Checked: warnings are captured (also
where the notebook silenced them), counted and capped; changed arguments are named; an exception's traceback
comes back as data and is not printed; the report survives hostile code (a warning class named after a hidden
input, a storm of 10**5 warnings, arguments changed into things that cannot be compared, a notebook that
replaces the tools the worker uses); the trusted side refuses a malformed report; the hidden-test helpers
give student-safe messages.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from autograder.config import Limits
from autograder.sandbox.process import WorkerSpec
from autograder.session import (
    MAX_CALL_WARNINGS,
    CallReport,
    NotebookSession,
    StudentError,
    StudentWarning,
    SubmissionProxy,
    UnsendableValue,
    _report,
    argument_keys,
)
from autograder.suite import student_message, student_traceback
from autograder.testing import Fail, expect_no_warnings, expect_raises, expect_unchanged, first_cause

LIMITS = Limits(cell_timeout_s=10, test_timeout_s=10, total_timeout_s=120)
LEAK = "LEAK_31415"  # stands for a hidden input the student's code put somewhere

NOTEBOOK = f'''
import numpy as np, warnings
np.seterr(all="ignore")              # a notebook that silences NumPy ...
warnings.filterwarnings("ignore")    # ... and Python's warnings

def overflowing_sigmoid(x):
    return 1 / (1 + np.exp(-x))

def stable_sigmoid(x):
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))

def in_place_relu(x):
    x[x < 0] = 0
    return x

def returns_its_input(x):
    return x

def appends(items, extra=None):
    items.append(1)
    if extra is not None:
        extra["k"] = 2
    return len(items)

def changes_kwarg(a, *, x):
    x += 1
    return a

def user_warning():
    warnings.warn("careful", UserWarning)
    warnings.warn("careful", UserWarning)   # the same warning twice: kept once, counted twice
    return 1

def raises_deep():
    def inner_helper_frame():
        raise ValueError("nope")
    inner_helper_frame()

def raises_expected(x):
    raise ValueError("bad argument")

def leaky_class_name(x):
    cls = type("{LEAK}_" + str(int(np.sum(x))), (UserWarning,), {{}})
    warnings.warn("text carrying " + str(x.tolist()), cls)
    return 0

class RuntimeWarning(Warning):        # a class of the notebook's own, named like Python's
    pass

def fake_builtin_name():
    warnings.warn("from a notebook class", RuntimeWarning)
    return 0

def storm(n):
    for i in range(n):
        warnings.warn("storm " + str(i), UserWarning)
    return n

class Evil:
    def __eq__(self, other): raise RuntimeError("eq")
    def __hash__(self): raise RuntimeError("hash")
    def __repr__(self): raise RuntimeError("repr")
    def __str__(self): raise RuntimeError("str")

def replace_with_evil(items):
    items[0] = Evil()
    return 0

def contains_itself(items):
    items.append(items)
    return 0

def grows_huge(items):
    items.extend(range(300_000))
    return 0

def nested_change(d):
    d["a"][0][1] = -1.0
    return 0


class EvilError(Exception):
    def __str__(self): raise RuntimeError("no str")

def raises_evil():
    raise EvilError()

def breaks_issubclass(items):
    import builtins
    builtins.issubclass = None
    return 0

def patches_the_tools():
    import hashlib, traceback
    hashlib.blake2b = None
    warnings.catch_warnings = None
    warnings.simplefilter = None
    traceback.format_exception = None
    return 0
'''


@pytest.fixture(scope="module")
def session() -> Iterator[NotebookSession]:
    s = NotebookSession([(0, NOTEBOOK)], WorkerSpec(limits=LIMITS), deadline=time.monotonic() + 300)
    s.start()
    assert s.outcomes[0].status == "ok", s.outcomes[0]
    yield s
    s.close()


# --- warnings ----------------------------------------------------------------------------------------
def test_an_overflow_is_reported_even_where_the_notebook_silenced_warnings(session: NotebookSession) -> None:
    x = np.array([-1000.0, 0.0, 1000.0])
    report = session.call_report("overflowing_sigmoid", x)
    np.testing.assert_array_equal(report.value, [0.0, 0.5, 1.0])  # right values: only the warning tells
    assert [(w.category, w.module, w.builtin) for w in report.warnings] == [("RuntimeWarning", "builtins", True)]
    assert report.warnings[0].message.startswith("overflow encountered")
    assert report.warnings[0].quotable() == "RuntimeWarning (overflow)"
    assert report.mutated == () and report.unchecked == ()
    clean = session.call_report("stable_sigmoid", x)
    assert clean.warnings == () and clean.warnings_total == 0
    np.testing.assert_allclose(clean.value, [0.0, 0.5, 1.0])


def test_plain_calls_keep_their_value_and_the_session_keeps_the_warnings(session: NotebookSession) -> None:
    assert session.call("user_warning") == 1
    report = session.call_report("user_warning")
    assert report.warnings == (StudentWarning("UserWarning", "builtins", "careful"),)
    assert report.warnings_total == 2
    line = next(r.line() for r in session.call_warnings if r.function == "user_warning")
    assert line == "user_warning: UserWarning: careful (2 calls)"
    assert "user_warning: UserWarning: careful" in session.warnings_text()


def test_a_warning_class_named_after_a_hidden_input_is_never_quoted(session: NotebookSession) -> None:
    report = session.call_report("leaky_class_name", np.array([3, 1, 4]))
    (w,) = report.warnings
    assert w.category == f"{LEAK}_8" and not w.builtin  # kept as data, for the instructor
    with pytest.raises(Fail) as info:
        expect_no_warnings(report, case="a small array")
    assert LEAK not in str(info.value) and "[3, 1, 4]" not in str(info.value)
    assert "a warning of a class defined in your notebook" in str(info.value)
    # a notebook class that takes a built-in's name is not taken for it either
    fake = session.call_report("fake_builtin_name")
    assert fake.warnings[0].category == "RuntimeWarning" and not fake.warnings[0].builtin


def test_a_storm_of_100000_warnings_is_counted_not_kept(session: NotebookSession) -> None:
    started = time.monotonic()
    report = session.call_report("storm", 100_000)
    assert time.monotonic() - started < 10
    assert report.value == 100_000 and report.warnings_total == 100_000
    assert len(report.warnings) == MAX_CALL_WARNINGS
    assert "more warnings not kept" in session.warnings_text()
    assert len(session.call_warnings) <= 50


# --- changed arguments -------------------------------------------------------------------------------
def test_changed_arguments_are_named(session: NotebookSession) -> None:
    x = np.array([-1.0, 2.0])
    report = session.call_report("in_place_relu", x)
    np.testing.assert_array_equal(report.value, [0.0, 2.0])
    assert report.mutated == ("args[0]",)
    np.testing.assert_array_equal(x, [-1.0, 2.0])  # the trusted side's own array never left this process
    assert session.call_report("appends", [1, 2], extra={"a": 1}).mutated == ("args[0]", "kwargs['extra']")
    assert session.call_report("changes_kwarg", 5, x=np.zeros(3)).mutated == ("kwargs['x']",)
    assert session.call_report("nested_change", {"a": [np.zeros(3)]}).mutated == ("args[0]",)
    assert session.call_report("returns_its_input", np.arange(4)).mutated == ()  # returned, not changed
    assert session.call_report("in_place_relu", np.array([1.0, 2.0])).mutated == ()  # nothing to clip


@pytest.mark.parametrize("function", ["replace_with_evil", "contains_itself", "grows_huge"])
def test_arguments_changed_into_what_cannot_be_compared_count_as_changed(session: NotebookSession,
                                                                         function: str) -> None:
    """An element replaced by an object whose every method raises, a list that contains itself, a list grown
    past the fingerprint's item cap: reported as changed, without running the student's methods."""
    report = session.call_report(function, [1, 2, 3])
    assert report.value == 0 and report.mutated == ("args[0]",)
    assert session.call("returns_its_input", 7) == 7  # the worker carries on


# --- exceptions --------------------------------------------------------------------------------------
def test_a_traceback_comes_back_as_data_and_is_not_printed(session: NotebookSession) -> None:
    before = session.output_text()
    with pytest.raises(StudentError) as info:
        session.call("raises_deep")
    err = info.value
    assert (err.type_name, err.message) == ("ValueError", "nope")
    assert "inner_helper_frame" in err.traceback and "ValueError: nope" in err.traceback
    assert "_call" not in err.traceback  # starts at the student's frame, not the worker's
    for _ in range(5):  # errors a hidden test provokes on purpose, five times
        expect_raises("ValueError", SubmissionProxy(session).raises_expected, np.zeros(2))
    assert session.output_text() == before  # nothing about them reached the worker's output
    assert student_traceback(Fail("test message").with_traceback(None)) == ""
    try:  # a test that turns the student's error into its own Fail keeps the traceback for the instructor
        try:
            session.call("raises_deep")
        except StudentError:
            raise Fail("`raises_deep` raised ValueError") from None
    except Fail as fail:
        assert "inner_helper_frame" in student_traceback(fail)
        assert "inner_helper_frame" not in student_message(fail, "")


def test_an_exception_whose_text_cannot_be_read_keeps_the_worker_alive(session: NotebookSession) -> None:
    with pytest.raises(StudentError) as info:
        session.call("raises_evil")
    assert info.value.type_name == "EvilError" and info.value.message == "<str() failed>"
    assert session.call("returns_its_input", 3) == 3


def test_replacing_the_workers_tools_does_not_switch_the_checks_off() -> None:
    """The worker bound hashlib, warnings and traceback before any student code ran."""
    with NotebookSession([(0, NOTEBOOK)], WorkerSpec(limits=LIMITS), deadline=time.monotonic() + 60) as s:
        s.call("patches_the_tools")
        assert s.call_report("in_place_relu", np.array([-1.0])).mutated == ("args[0]",)
        report = s.call_report("overflowing_sigmoid", np.array([-1000.0]))
        assert report.warnings[0].quotable() == "RuntimeWarning (overflow)"
        with pytest.raises(StudentError) as info:
            s.call("raises_deep")
        assert "inner_helper_frame" in info.value.traceback


def test_a_call_that_breaks_the_builtins_counts_its_arguments_as_changed() -> None:
    """The fingerprint after the call fails (issubclass is gone): every compared argument counts as changed, and
    the worker answers the next calls."""
    with NotebookSession([(0, NOTEBOOK)], WorkerSpec(limits=LIMITS), deadline=time.monotonic() + 60) as s:
        assert s.call_report("breaks_issubclass", [1, 2]).mutated == ("args[0]",)
        assert s.call_report("returns_its_input", 7).value == 7


def test_an_unsendable_value_keeps_what_the_call_did_besides() -> None:
    cells = [(0, "import warnings\ndef gen(x):\n    x.append(0)\n    warnings.warn('w')\n    return iter([])\n")]
    with NotebookSession(cells, WorkerSpec(limits=LIMITS), deadline=time.monotonic() + 60) as s:
        with pytest.raises(UnsendableValue):
            s.call_report("gen", [1])
        assert [r.warning.category for r in s.call_warnings] == ["UserWarning"]


# --- the trusted side: untrusted reports, helpers ----------------------------------------------------
@pytest.mark.parametrize("reply, expected", [
    ({"ok": True, "value": 1, "warnings": "not a list", "warnings_total": -5, "mutated": {"a": 1}},
     CallReport("f", 1)),
    ({"ok": True, "value": 1, "warnings": [{"category": 1, "module": "builtins", "message": "m"}, "x", None],
      "warnings_total": True, "mutated": ["args[0]", 7, None], "unchecked": "args[1]"},
     CallReport("f", 1, mutated=("args[0]",))),
    ({"ok": False, "value": "ignored when not ok", "warnings": [{"category": "C" * 500, "module": "m",
                                                               "message": "M" * 5000}] * 40,
      "warnings_total": 10**9, "mutated": ["k" * 1000] * 1000},
     CallReport("f", None, (StudentWarning("C" * 100, "m", "M" * 300),), 10**9)),
    # argument keys the grader did not send (text of the worker's choosing, e.g. the course's source or a hidden
    # input) are dropped; those it sent are kept once each, in the order sent
    ({"ok": True, "value": 0, "mutated": [f"kwargs['{LEAK}']", "args[7]", "kwargs['stride']", "args[0]", "args[0]"],
      "unchecked": ["args[1]", f"args[0]{LEAK}"]},
     CallReport("f", 0, mutated=("args[0]", "kwargs['stride']"), unchecked=("args[1]",))),
])
def test_a_malformed_or_oversized_report_is_dropped_or_capped(reply: dict[str, Any], expected: CallReport) -> None:
    assert _report("f", reply, argument_keys(2, {"stride": 2})) == expected


def test_helpers_name_the_cause_and_never_the_students_text() -> None:
    overflow = StudentWarning("RuntimeWarning", "builtins", f"overflow encountered in exp {LEAK}")
    report = CallReport("sigmoid", np.zeros(2), (overflow,), 3, ("args[0]",))
    with pytest.raises(Fail) as info:
        expect_no_warnings(report, case="very large inputs", why="its docstring says it must not warn")
    assert str(info.value) == ("`sigmoid` issued a RuntimeWarning (overflow); its docstring says it must not warn. "
                               "Case: very large inputs.")
    expect_no_warnings(report, categories=("DeprecationWarning",))  # another category: passes
    numpy_warning = StudentWarning("ComplexWarning", "numpy.exceptions", LEAK)
    with pytest.raises(Fail, match=r"issued a ComplexWarning;") as info:
        expect_no_warnings(CallReport("f", 0, (numpy_warning,)))
    assert LEAK not in str(info.value)
    with pytest.raises(Fail) as info:
        expect_unchanged(report, case="a 2-D array", names={"args[0]": "its input x"})
    assert str(info.value) == ("`sigmoid` changed its input x in place; it must return a new array and leave its "
                               "input unchanged. Case: a 2-D array.")
    with pytest.raises(Fail, match=r"changed its argument `x` in place"):
        expect_unchanged(CallReport("f", 0, mutated=("kwargs['x']",)))
    expect_unchanged(CallReport("f", 0))


def test_first_cause_names_the_mistake_that_reproduces_the_answer() -> None:
    right = np.arange(6.0).reshape(2, 3)
    mistakes = [("not this one", lambda: right + 1), ("shape differs", lambda: right.T),
                ("cannot happen here", lambda: np.ones((2, 2))[5]),
                ("flipped", lambda: right[::-1, ::-1])]
    assert first_cause(right[::-1, ::-1].copy(), mistakes) == "flipped"
    assert first_cause(right * 7, mistakes) == ""
    assert first_cause([1, 2], mistakes) == ""  # not an array: no cause
