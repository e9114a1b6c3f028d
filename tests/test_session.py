"""A notebook alive in a worker: calls, missing functions, hangs and crashes, replay after a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest

from autograder.config import Limits
from autograder.sandbox.process import WorkerSpec
from autograder.session import CallTimeout, MissingFunction, NotebookSession, StudentError, WorkerCrashed

LIMITS = Limits(cell_timeout_s=5, test_timeout_s=3, total_timeout_s=60)

CELLS = [
    (0, "import numpy as np\ncounter = 0\n"),
    (1, "def double(x):\n    return np.asarray(x) * 2\n"),
    (2, "while True:\n    pass\n"),
    (3, "def boom():\n    import os\n    os._exit(0)\n"),
    (4, "def slow():\n    import time\n    time.sleep(60)\n"),
    (5, "def bad():\n    raise ValueError('nope')\n"),
    (6, "def gen():\n    return (i for i in range(3))\n"),
]


ENDLESS = 2  # the index of the endless cell: a session that has it pays cell_timeout_s at every start


def _open(cells: list[tuple[int, str]]) -> Iterator[NotebookSession]:
    s = NotebookSession(cells, WorkerSpec(limits=LIMITS), deadline=time.monotonic() + 60)
    yield s
    s.close()


@pytest.fixture
def session() -> Iterator[NotebookSession]:
    yield from _open(CELLS)


@pytest.fixture
def quick_session() -> Iterator[NotebookSession]:
    """The same notebook without its endless cell, for the tests that are not about hangs."""
    yield from _open([c for c in CELLS if c[0] != ENDLESS])


def test_hanging_cell_is_skipped_and_the_rest_runs(session: NotebookSession) -> None:
    session.start()
    assert session.outcomes[ENDLESS].status == "timeout"
    assert (session.call("double", np.arange(3)) == [0, 2, 4]).all()


def test_errors_come_back_as_names_and_messages(quick_session: NotebookSession) -> None:
    with pytest.raises(StudentError) as e:
        quick_session.call("bad")
    assert (e.value.type_name, e.value.message) == ("ValueError", "nope")
    with pytest.raises(MissingFunction):
        quick_session.call("nowhere")


def test_crash_and_hang_during_calls_restart_the_worker(session: NotebookSession) -> None:
    with pytest.raises(WorkerCrashed):
        session.call("boom")
    with pytest.raises(CallTimeout):
        session.call("slow")
    assert session.call("double", 2) == 4  # a fresh worker replayed the good cells
    assert session.restarts >= 3


def test_values_that_are_not_plain_data_are_refused(quick_session: NotebookSession) -> None:
    from autograder.session import UnsendableValue

    with pytest.raises(UnsendableValue):
        quick_session.call("gen")
    assert quick_session.call("double", 1) == 2
