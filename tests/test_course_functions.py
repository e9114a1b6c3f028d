"""Functions the grader serves to a student's worker (a dependent question graded with the course's own earlier
function): the student's worker holds only a forwarder, the value is computed on the other side, and every
message of the worker about it is untrusted data. Real workers throughout; the course's side is a real
:class:`~autograder.course_functions.CourseFunctions` on 01's solution where it matters.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from autograder.config import Limits, load_course
from autograder.course_functions import CourseFunctions
from autograder.grade import memory_bucket, worker_spec
from autograder.sandbox.process import WorkerSpec
from autograder.session import (
    REPLAYED,
    CellOutcome,
    NotebookSession,
    StudentError,
    UnsendableValue,
    WorkerCrashed,
)
from tests.conftest import REPO

LIMITS = Limits(cell_timeout_s=10, test_timeout_s=10, total_timeout_s=120)
SECRET = "COURSE-ONLY-4242"  # stands for the course's source: it exists only on the grader's side here

STUDENT = '''
import inspect, gc
import numpy as np

def square(x):
    raise ValueError("my square is broken")

def layer(x):
    return [square(v) + 1 for v in x]

def what_square_is():
    found = [inspect.getsource(square)]
    found += [repr(c.cell_contents)[:500] for c in (square.__closure__ or ())]
    found += [o for o in gc.get_objects() if isinstance(o, str) and "COURSE-ONLY" in o]
    return "\\n".join(found)

def calls_with(*args, **kwargs):
    return square(*args, **kwargs)

def calls_with_an_object():
    return square(object())

def calls_with_too_much():
    return square(np.zeros(3_000_000))  # 24 MB: over what a served function takes

def served_twice_as_late(x):
    import time
    time.sleep(x)
    return square(x)

def forges(name):
    wire = next(m for m in gc.get_objects() if type(m).__name__ == "module"
                and getattr(m, "__name__", "") == "_autograder_wire")
    cells = dict(zip(square.__code__.co_freevars, (c.cell_contents for c in square.__closure__)))
    wire.write_message(cells["reply_fd"], {"callback": name, "args": [], "kwargs": {}}, wire.Extensions())
    return wire.read_message(cells["request_fd"], wire.Extensions())
'''


class CourseSide:
    """The grader's side of ``square``: computes with a value only it knows, records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[Any], dict[str, Any]]] = []

    def __call__(self, name: str, args: list[Any], kwargs: dict[str, Any], deadline: float) -> dict[str, Any]:
        self.calls.append((name, args, kwargs))
        assert SECRET  # the "course's code" lives here only
        if args and isinstance(args[0], str):
            return {"ok": False, "type": "TypeError"}
        return {"ok": True, "value": args[0] ** 2}


@pytest.fixture
def served() -> Iterator[tuple[NotebookSession, CourseSide]]:
    session = NotebookSession([(0, STUDENT)], WorkerSpec(limits=LIMITS), deadline=time.monotonic() + 120)
    course = CourseSide()
    session.serve(("square",), course)
    yield session, course
    session.close()


def test_the_students_function_gets_the_value_computed_on_the_graders_side(
        served: tuple[NotebookSession, CourseSide]) -> None:
    session, course = served
    assert session.call("layer", [1, 2, 3]) == [2, 5, 10]
    assert [c[0] for c in course.calls] == ["square"] * 3
    assert [c[1] for c in course.calls] == [[1], [2], [3]]


def test_nothing_of_the_course_is_in_the_students_process(served: tuple[NotebookSession, CourseSide]) -> None:
    session, _ = served
    found = session.call("what_square_is")
    assert SECRET not in found and "def forward" in found  # the forwarder's own code: the worker's, public


def test_an_exception_of_the_course_comes_back_by_its_python_name_only(
        served: tuple[NotebookSession, CourseSide]) -> None:
    session, _ = served
    with pytest.raises(StudentError) as info:
        session.call("calls_with", "not a number")
    assert info.value.type_name == "TypeError"
    assert info.value.message == "the course's square raised TypeError on these arguments"


def test_arguments_that_cannot_cross_raise_in_the_students_code(served: tuple[NotebookSession, CourseSide]) -> None:
    session, course = served
    with pytest.raises(StudentError) as info:
        session.call("calls_with_an_object")
    assert info.value.type_name == "TypeError" and not course.calls


def test_a_forged_call_of_a_name_not_served_ends_the_worker(served: tuple[NotebookSession, CourseSide]) -> None:
    session, course = served
    with pytest.raises(UnsendableValue):
        session.call("forges", "open")  # the grader serves `square` only
    assert session.worker is None and not course.calls
    assert session.call("layer", [4]) == [17]  # a fresh worker, the cells replayed, `square` served again


def test_a_call_with_too_much_data_ends_the_worker_before_the_course_computes(
        served: tuple[NotebookSession, CourseSide]) -> None:
    session, course = served
    with pytest.raises(UnsendableValue):
        session.call("calls_with_too_much")
    assert not course.calls


def test_a_served_call_ends_within_the_students_call() -> None:
    """The course's side computes by the deadline of the student's call it serves: a call that asks late gets
    no fresh time limit of its own."""
    limits = Limits(cell_timeout_s=10, test_timeout_s=4, total_timeout_s=120)
    seen: list[float] = []

    def slow(name: str, args: list[Any], kwargs: dict[str, Any], deadline: float) -> dict[str, Any]:
        seen.append(deadline - time.monotonic())
        return {"ok": True, "value": 0}

    with NotebookSession([(0, STUDENT)], WorkerSpec(limits=limits), deadline=time.monotonic() + 60) as session:
        session.serve(("square",), slow)
        session.call("served_twice_as_late", 1.0)
        assert 0 < seen[0] <= 3.0  # what is left of the student's 4 s after its 1 s sleep, not a fresh 4 s


def test_a_worker_that_refuses_the_forwarders_is_not_served_later() -> None:
    with NotebookSession([(0, STUDENT)], WorkerSpec(limits=LIMITS), deadline=time.monotonic() + 60) as session:
        session.start()
        # in a moment the worker thinks it is a forked child, and leaves after its next request without answering
        session.run_extra("import os, threading\nthreading.Timer(0.2, setattr, (os, 'getpid', lambda: -1)).start()\n")
        time.sleep(0.5)
        with pytest.raises(WorkerCrashed):
            session.serve(("square",), CourseSide())
        assert session.served == () and session.server is None
        with pytest.raises(StudentError):  # a fresh worker: the student's own square, not the course's
            session.call("layer", [2])


def test_the_course_functions_of_01_serve_conv2d_layer() -> None:
    """CourseFunctions runs 01's solution in a worker of its own; a student notebook whose convolve2d is broken
    gets the course's values through the forwarder."""
    course = load_course(REPO / "course.yml")
    assignment = course.assignment("01_convolution")
    spec = worker_spec(course, assignment)
    student_cells = [(0, "import numpy as np\n" + STUDENT.replace("square", "convolve2d"))]
    deadline = time.monotonic() + 120
    with NotebookSession(student_cells, spec, deadline=deadline) as student, \
            CourseFunctions(course, assignment, spec, deadline=deadline) as functions:
        assert functions.substitute(student, ["convolve2d"]) == ""
        image, kernel = np.arange(16.0).reshape(4, 4), np.ones((2, 2))
        out = student.call("calls_with", image, kernel, stride=2)
        assert np.array_equal(out, [[10, 18], [42, 50]])
        with pytest.raises(StudentError) as info:  # the course's convolve2d refuses a 3-D image
            student.call("calls_with", np.zeros((2, 2, 2)), kernel)
        assert info.value.type_name == "ValueError" and "kernel must" not in info.value.message
        assert "### BEGIN SOLUTION" not in student.call("what_convolve2d_is")


def test_a_replayed_cell_never_changes_what_the_student_reads() -> None:
    session = NotebookSession([], WorkerSpec(limits=LIMITS), deadline=time.monotonic() + 60)
    session._record(CellOutcome(1, "ok"))
    session._record(CellOutcome(2, "error", "ValueError", "the student's own message"))
    session.calls_made = True  # from now on hidden inputs may have reached the notebook
    session._record(CellOutcome(1, "error", "KeyError", "LEAK: a hidden input"))  # replayed, now fails
    session._record(CellOutcome(2, "error", "ValueError", "the student's own message"))  # replayed, the same
    session._record(CellOutcome(3, "error", "ValueError", "LEAK: first run after a call"))
    session._record(CellOutcome(4, "crashed", "", "LEAK: exit status 42"))
    assert session.outcomes[1] == CellOutcome(1, "ok")
    assert session.outcomes[2] == CellOutcome(2, "error", "ValueError", "the student's own message")
    assert session.outcomes[3] == CellOutcome(3, "error", "an error", REPLAYED)
    assert session.outcomes[4] == CellOutcome(4, "crashed", "", REPLAYED)
    assert len(session.replay_notes) == 3 and all("LEAK" in n for n in session.replay_notes)


@pytest.mark.parametrize("mib, bucket", [(0, 0), (0.4, 1), (1, 1), (118.2, 128), (128, 128), (129, 256)])
def test_peak_memory_is_kept_as_a_power_of_two(mib: float, bucket: float) -> None:
    assert memory_bucket(mib) == bucket
