"""A student's notebook, alive in a worker, seen from the trusted side as plain data.

:class:`NotebookSession` runs the notebook's code cells in a worker and forwards calls into the
student's functions. When a cell or a call hangs or kills the worker, the session starts a fresh
worker and replays the cells that behaved, skipping the ones that did not, so one bad cell costs
only what depends on it. Every wait is bounded by the submission's total time budget.

The exceptions below are what hidden tests see; :mod:`autograder.suite` turns them into feedback.
"""

from __future__ import annotations

import builtins
import time
from dataclasses import dataclass
from typing import Any

from autograder.errors import HiddenSuiteError
from autograder.sandbox.process import Worker, WorkerDied, WorkerSpec, WorkerTimeout

MAX_RESTARTS = 6


class StudentCodeProblem(Exception):
    """Base: something about the student's code stopped a call from returning a value."""

    def __init__(self, function: str, detail: str = "") -> None:
        super().__init__(function, detail)
        self.function = function
        self.detail = detail


# Exception names feedback may quote: Python's own. A class the student defined could be named after a
# hidden input, so its name is never echoed.
BUILTIN_EXCEPTIONS = frozenset(
    name for name, obj in vars(builtins).items() if isinstance(obj, type) and issubclass(obj, BaseException)
)


def quotable_exception_name(type_name: str) -> str:
    """The name to show a student: Python's own exception names, else a neutral phrase."""
    return type_name if type_name in BUILTIN_EXCEPTIONS else "an exception of a class defined in your notebook"


class StudentError(StudentCodeProblem):
    """The student's function raised. Only its type name and message came back, as strings."""

    def __init__(self, function: str, type_name: str, message: str) -> None:
        super().__init__(function, message)
        self.type_name = type_name
        self.message = message


class MissingFunction(StudentCodeProblem):
    """The notebook does not define a callable with that name."""


class CallTimeout(StudentCodeProblem):
    """The call did not return within the per-test limit."""


class WorkerCrashed(StudentCodeProblem):
    """The worker died during the call (os._exit, a segfault, the memory limit...); ``signal`` as in
    :class:`~autograder.sandbox.process.WorkerDied`. ``function`` is empty when the notebook's process kept
    dying and the session gave up on it."""

    def __init__(self, function: str, detail: str = "", signal: str | None = None) -> None:
        super().__init__(function, detail)
        self.signal = signal


class UnsendableValue(StudentCodeProblem):
    """The function returned something that is not plain data (or is over a size cap)."""


class BudgetExhausted(StudentCodeProblem):
    """The submission's total time budget is used up."""


@dataclass
class CellOutcome:
    """What happened to one code cell (index among the notebook's cells)."""

    index: int
    status: str  # "ok" | "error" | "timeout" | "crashed" | "skipped"
    error_type: str = ""
    error_message: str = ""


class NotebookSession:
    """Owns the worker for one submission. Always :meth:`close` it (or use ``with``)."""

    def __init__(
        self,
        cells: list[tuple[int, str]],
        spec: WorkerSpec,
        *,
        deadline: float,
    ) -> None:
        self.cells = cells  # (notebook cell index, source) of the code cells to run, in order
        self.spec = spec
        self.deadline = deadline
        self.outcomes: dict[int, CellOutcome] = {}
        self.bad_cells: set[int] = set()
        self.restarts = 0
        self.worker: Worker | None = None
        self.outputs: list[str] = []

    def __enter__(self) -> NotebookSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def timed_out(self) -> bool:
        return time.monotonic() >= self.deadline

    def _remaining(self, cap: float) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise BudgetExhausted("", "the time limit for the whole submission was reached")
        return min(cap, left)

    def _retire(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.outputs.append(self.worker.output.text())
            self.worker = None

    def close(self) -> None:
        self._retire()

    def output_text(self) -> str:
        live = [self.worker.output.text()] if self.worker is not None else []
        return "\n".join(self.outputs + live)

    def start(self) -> None:
        """Start a worker and run every cell not known to be bad. Idempotent while alive."""
        while self.worker is None:
            if self.restarts > MAX_RESTARTS:
                raise WorkerCrashed("", f"the notebook's process failed {self.restarts} times; giving up")
            self.restarts += 1
            self.worker = Worker(self.spec)
            for index, source in self.cells:
                if index in self.bad_cells:
                    continue
                if not self._run_cell(index, source):
                    break  # worker gone: loop starts a fresh one and replays without the bad cell

    def _run_cell(self, index: int, source: str) -> bool:
        assert self.worker is not None
        try:
            reply = self.worker.request(
                {"op": "run_cell", "source": source, "options": self.spec.cell_options},
                self._remaining(self.spec.limits.cell_timeout_s),
            )
        except WorkerTimeout:
            self._mark_bad(index, "timeout", f"did not finish within {self.spec.limits.cell_timeout_s:g} s")
            return False
        except WorkerDied as exc:
            self._mark_bad(index, "crashed", str(exc))
            return False
        except BudgetExhausted:
            self._mark_bad(index, "timeout", "the time limit for the whole submission was reached")
            self._retire()
            raise
        err = reply.get("error") if isinstance(reply, dict) else None
        if isinstance(err, dict):
            self.outcomes[index] = CellOutcome(
                index, "error", str(err.get("type", ""))[:100], str(err.get("message", ""))[:300]
            )
        else:
            self.outcomes[index] = CellOutcome(index, "ok")
        return True

    def _mark_bad(self, index: int, status: str, message: str) -> None:
        self.bad_cells.add(index)
        self.outcomes[index] = CellOutcome(index, status, "", message)
        self._retire()

    def run_extra(self, source: str) -> CellOutcome:
        """Run a cell that is not part of the notebook (e.g. a released visible test); never replayed."""
        self.start()
        index = -(len(self.outcomes) + 1)
        self._run_cell(index, source)
        self.bad_cells.discard(index)
        return self.outcomes.pop(index)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the student's function ``name`` in the worker and return its (plain) value."""
        self.start()
        assert self.worker is not None
        try:
            timeout = self._remaining(self.spec.limits.test_timeout_s)
        except BudgetExhausted as exc:
            raise BudgetExhausted(name, exc.detail) from None
        try:
            reply = self.worker.request({"op": "call", "name": name, "args": list(args), "kwargs": kwargs}, timeout)
        except WorkerTimeout:
            self._retire()
            raise CallTimeout(name, f"{timeout:g}") from None
        except WorkerDied as exc:
            self._retire()
            raise WorkerCrashed(name, str(exc), exc.signal) from None
        except Exception as exc:  # a malformed or oversized answer: never trust the channel again
            self._retire()
            raise UnsendableValue(name, str(exc)) from None
        if not isinstance(reply, dict):
            self._retire()
            raise UnsendableValue(name, "malformed answer")
        if reply.get("ok") is True:
            return reply.get("value")
        if reply.get("missing"):
            raise MissingFunction(name)
        raw_err = reply.get("error")
        err: dict[str, Any] = raw_err if isinstance(raw_err, dict) else {}
        if reply.get("unsendable"):
            raise UnsendableValue(name, str(err.get("message", ""))[:300])
        raise StudentError(name, str(err.get("type", "Exception"))[:100], str(err.get("message", ""))[:500])


class SubmissionProxy:
    """What a hidden test receives as ``submission``: ``submission.convolve2d(img, k, stride=2)``.

    Only the functions the released notebook defines (``declared``) may be called: any other name is a
    mistake in the hidden test (``submission.convolve_2d``), reported to the instructor as a broken suite
    (:class:`~autograder.errors.HiddenSuiteError`), never to the student as a function missing from their
    notebook. ``declared=None`` allows every name (tools that drive a session directly).
    """

    def __init__(self, session: NotebookSession, declared: frozenset[str] | None = None,
                 assignment: str = "") -> None:
        self._session = session
        self._declared = declared
        self._assignment = assignment

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self._declared is not None and name not in self._declared:
            raise HiddenSuiteError(
                f"the hidden test calls `{name}`, which the released notebook of {self._assignment or 'the assignment'}"
                f" does not define (it defines: {', '.join(sorted(self._declared)) or 'no function'}); fix the "
                "name in the hidden test, or add the function to the solution notebook and release again"
            )
        return self._session.call(name, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def forward(*args: Any, **kwargs: Any) -> Any:
            return self.call(name, *args, **kwargs)

        forward.__name__ = name
        return forward
