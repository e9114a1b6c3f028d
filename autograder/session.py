"""A student's notebook, alive in a worker, seen from the trusted side as plain data.

:class:`NotebookSession` runs the notebook's code cells in a worker and forwards calls into the
student's functions. When a cell or a call hangs or kills the worker, the session starts a fresh
worker and replays the cells that behaved, skipping the ones that did not, so one bad cell costs
only what depends on it. Every wait is bounded by the submission's total time budget.

The exceptions below are what hidden tests see; :mod:`autograder.suite` turns them into feedback.
Besides its value, every call reports what it did on the side, as plain data checked here: the warnings the
student's code issued and the arguments it changed (:class:`CallReport`, from :meth:`NotebookSession.call_report`);
a call that raised brings its traceback (:attr:`StudentError.traceback`, instructors only). The warnings of all
calls are kept for the instructor log (:attr:`NotebookSession.call_warnings`).

Whatever a worker sends is untrusted data: a call's report names changed arguments only by the keys of the
arguments the grader sent; what a cell does when it is replayed after a call (when hidden inputs may have
reached the notebook) is for instructors only (:attr:`NotebookSession.replay_notes`); a served function
(:meth:`NotebookSession.serve`) is computed on the grader's side and only its value goes back.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy
import numpy.exceptions

from autograder.errors import HiddenSuiteError
from autograder.sandbox.process import Worker, WorkerDied, WorkerSpec, WorkerTimeout, start_worker

MAX_RESTARTS = 6
CELL_MESSAGE_CAP = 2000  # characters of a cell's error message kept (the worker sends at most 2000)
MAX_CALLBACKS = 10_000  # calls into served functions (see NotebookSession.serve) answered per request
REPLAYED = "when it was run again after the notebook's process restarted (details are in the grader's log)"
MAX_REPLAY_NOTES = 20  # cells that behaved differently when replayed, kept for the instructor log

MAX_CALLBACK_BYTES = 16 * 1024 * 1024  # of arrays and strings in one call into a served function

# Computes a served function for the worker: (name, args, kwargs, deadline) -> the answer sent back to the
# worker, {"ok": True, "value": ...} or {"ok": False, "type": <a Python exception name>}, by the deadline
# (time.monotonic()) of the request during which the worker asked.
Server = Callable[[str, list[Any], dict[str, Any], float], dict[str, Any]]


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


# Warning classes whose names feedback may quote: Python's own and NumPy's (numpy.exceptions).
BUILTIN_WARNINGS = frozenset(
    name for name, obj in vars(builtins).items() if isinstance(obj, type) and issubclass(obj, Warning)
)
NUMPY_WARNINGS = frozenset(
    name for name, obj in vars(numpy.exceptions).items() if isinstance(obj, type) and issubclass(obj, Warning)
)
# NumPy's floating-point warnings ("overflow encountered in exp"), by the start of the message: the words in
# parentheses are the grader's, so feedback may name the kind without quoting the student's text.
_FP_KINDS = (("overflow encountered", "overflow"), ("divide by zero encountered", "division by zero"),
             ("invalid value encountered", "invalid value"), ("underflow encountered", "underflow"))

MAX_CALL_WARNINGS = 10  # distinct warnings accepted per call (the worker sends at most this many)
MAX_WARNING_RECORDS = 50  # distinct (function, warning) pairs kept per session for the instructor log


@dataclass(frozen=True)
class StudentWarning:
    """A warning the student's code issued during a call. ``category`` and ``module`` name its class as the
    worker reported it (a class of the student's own may carry any name); ``message`` is the student's code's
    text: instructors only."""

    category: str
    module: str
    message: str

    @property
    def builtin(self) -> bool:
        """Python's or NumPy's own warning class (so its name may be shown to the student)."""
        if self.module == "builtins":
            return self.category in BUILTIN_WARNINGS
        return self.module.split(".")[0] == "numpy" and self.category in NUMPY_WARNINGS

    def quotable(self) -> str:
        """How feedback may name this warning: "RuntimeWarning (overflow)", "UserWarning", or a neutral
        phrase for a class defined in the notebook. Never the message itself."""
        if not self.builtin:
            return "a warning of a class defined in your notebook"
        kind = next((k for start, k in _FP_KINDS if self.message.startswith(start)), "")
        return f"{self.category} ({kind})" if kind and self.category == "RuntimeWarning" else self.category


@dataclass(frozen=True)
class CallReport:
    """One call into the student's code: its value and what it did on the side.

    ``warnings``: the distinct warnings it issued (at most :data:`MAX_CALL_WARNINGS`), ``warnings_total``:
    how many it issued in all; ``mutated``: the arguments whose contents it changed, as ``"args[0]"`` or
    ``"kwargs['x']"``; ``unchecked``: arguments holding values whose contents the worker cannot compare (e.g.
    a Keras model), which are never reported as mutated.
    """

    function: str
    value: Any
    warnings: tuple[StudentWarning, ...] = ()
    warnings_total: int = 0
    mutated: tuple[str, ...] = ()
    unchecked: tuple[str, ...] = ()


@dataclass
class WarningRecord:
    """A warning kept for the instructor log: which function issued it and in how many calls."""

    function: str
    warning: StudentWarning
    calls: int = 1

    def line(self) -> str:
        times = "1 call" if self.calls == 1 else f"{self.calls} calls"
        return f"{self.function}: {self.warning.category}: {self.warning.message} ({times})"


class StudentError(StudentCodeProblem):
    """The student's function raised. Only its type name, message and traceback came back, as strings;
    ``traceback`` (capped) is for the instructor log only."""

    def __init__(self, function: str, type_name: str, message: str, traceback: str = "") -> None:
        super().__init__(function, message)
        self.type_name = type_name
        self.message = message
        self.traceback = traceback


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
    label: str = ""  # how feedback names the cell: "The cell that defines `f`" (grade.cell_label); "" if unknown

    def name(self) -> str:
        """The cell as feedback names it: by the function it defines or its first line (Jupyter shows no cell
        numbers); by its position only in a result written before cells had labels."""
        return self.label or f"Cell {self.index + 1}"


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
        self.call_warnings: list[WarningRecord] = []  # for the instructor log, in the order first seen
        self.call_warnings_dropped = 0  # warnings counted but not kept (over a call's or the session's cap)
        self.peak_kib = 0  # the largest peak resident memory of this session's workers (0 if unknown)
        self.worker_starts: set[str] = set()  # "warm" (forked from a zygote) and/or "cold"
        self.served: tuple[str, ...] = ()  # names the notebook's functions see computed by the grader
        self.server: Server | None = None
        self.calls_made = False  # has a call (and so, maybe, a hidden input) reached a worker yet?
        self.replay_notes: list[str] = []  # instructors only: cells that behaved otherwise when replayed
        self._callbacks = 0  # calls into served functions during the current request

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
            self.peak_kib = max(self.peak_kib, self.worker.peak_kib)
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
            self.worker = start_worker(self.spec)
            self.worker_starts.add("cold" if self.worker.zygote is None else "warm")
            for index, source in self.cells:
                if index in self.bad_cells:
                    continue
                if not self._run_cell(index, source):
                    break  # worker gone: loop starts a fresh one and replays without the bad cell
            else:
                if self.served:
                    self._send_forward()

    def _run_cell(self, index: int, source: str) -> bool:
        assert self.worker is not None
        try:
            reply = self._request({"op": "run_cell", "source": source, "options": self.spec.cell_options},
                                  self._remaining(self.spec.limits.cell_timeout_s))
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
        except Exception as exc:  # a garbled or oversized reply (e.g. the cell wrote to the worker's own channel)
            self._mark_bad(index, "crashed", f"its process answered with something that is not a reply ({exc})"[:300])
            return False
        err = reply.get("error") if isinstance(reply, dict) else None
        if isinstance(err, dict):
            self._record(CellOutcome(
                index, "error", str(err.get("type", ""))[:100], str(err.get("message", ""))[:CELL_MESSAGE_CAP]))
        else:
            self._record(CellOutcome(index, "ok"))
        return True

    def _mark_bad(self, index: int, status: str, message: str) -> None:
        self.bad_cells.add(index)
        self._record(CellOutcome(index, status, "", message))
        self._retire()

    def _record(self, outcome: CellOutcome) -> None:
        """Keep what a cell did the first time it ran, before any call reached the worker: the student may read
        it. A cell replayed in a fresh worker after a call (when hidden inputs may have been sent, and anything
        that survived the old worker could carry them) never changes what the student reads: a different
        outcome goes to :attr:`replay_notes` (instructors only), and a cell that now stops the process is
        reported with the grader's fixed words."""
        first = self.outcomes.get(outcome.index)
        if first is None and (not self.calls_made or outcome.status == "ok"):
            self.outcomes[outcome.index] = outcome
            return
        if first is not None and (first.status, first.error_type, first.error_message) == (
                outcome.status, outcome.error_type, outcome.error_message):
            return
        if len(self.replay_notes) < MAX_REPLAY_NOTES:
            what = f"{outcome.status} {outcome.error_type}: {outcome.error_message}".strip(" :")
            self.replay_notes.append(f"cell {outcome.index + 1} when run again in a fresh worker: {what[:500]}")
        if outcome.status in ("timeout", "crashed"):
            self.outcomes[outcome.index] = CellOutcome(outcome.index, outcome.status, "", REPLAYED)
        elif first is None:
            self.outcomes[outcome.index] = CellOutcome(outcome.index, "error", "an error", REPLAYED)

    def run_extra(self, source: str) -> CellOutcome:
        """Run a cell that is not part of the notebook (e.g. a released visible test); never replayed."""
        self.start()
        index = -(len(self.outcomes) + 1)
        self._run_cell(index, source)
        self.bad_cells.discard(index)
        return self.outcomes.pop(index)

    def call(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Call the student's function ``name`` in the worker and return its (plain) value."""
        return self._call(name, args, kwargs, fp_defaults=False).value

    def call_report(self, name: str, /, *args: Any, **kwargs: Any) -> CallReport:
        """Call ``name`` like :meth:`call`, and return its value with the warnings it issued and the arguments
        it changed. The call runs under NumPy's default floating-point error handling (overflow, division by
        zero and invalid values warn), whatever the notebook set with ``np.seterr``. Raises as :meth:`call`."""
        return self._call(name, args, kwargs, fp_defaults=True)

    def warnings_text(self) -> str:
        """The students' warnings of every call so far, one line each (for the instructor log)."""
        lines = [r.line() for r in self.call_warnings]
        if self.call_warnings_dropped:
            lines.append(f"... and {self.call_warnings_dropped} more warnings not kept (repeats within a call, or "
                         "past the caps)")
        return "\n".join(lines)

    def call_until(self, until: float, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """:meth:`call`, answered by ``until`` (time.monotonic()) at the latest: a served function's call, which
        must end within the student's call it serves. Raises :class:`CallTimeout` if ``until`` has passed."""
        return self._call(name, tuple(args), kwargs, fp_defaults=False, until=until).value

    def _call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], *, fp_defaults: bool,
              until: float | None = None) -> CallReport:
        self.start()
        assert self.worker is not None
        try:
            timeout = self._remaining(self.spec.limits.test_timeout_s)
        except BudgetExhausted as exc:
            raise BudgetExhausted(name, exc.detail) from None
        if until is not None:
            timeout = min(timeout, until - time.monotonic())
            if timeout <= 0:
                raise CallTimeout(name, "0")
        request = {"op": "call", "name": name, "args": list(args), "kwargs": kwargs, "fp_defaults": fp_defaults}
        self.calls_made = True
        try:
            reply = self._request(request, timeout)
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
        report = _report(name, reply, argument_keys(len(args), kwargs))
        self._keep_warnings(report)
        if reply.get("ok") is True:
            return report
        if reply.get("missing"):
            raise MissingFunction(name)
        raw_err = reply.get("error")
        err: dict[str, Any] = raw_err if isinstance(raw_err, dict) else {}
        if reply.get("unsendable"):
            raise UnsendableValue(name, str(err.get("message", ""))[:300])
        raise StudentError(name, str(err.get("type", "Exception"))[:100], str(err.get("message", ""))[:500],
                           str(err.get("traceback", ""))[-3000:])

    def serve(self, names: tuple[str, ...], server: Server) -> None:
        """From now on (in this worker and every fresh one), the notebook's functions see each of ``names``
        computed by ``server`` on the grader's side: the worker holds a forwarder under each name, whose calls
        come back to the grader as data while it waits for a call of its own. How a dependent question is graded
        with the course's own earlier function without that function ever entering the student's process."""
        self.start()
        before = self.served, self.server
        self.served, self.server = tuple(names), server
        try:
            self._send_forward()
        except BaseException:
            self.served, self.server = before  # a fresh worker must not get what this one refused
            raise

    def _send_forward(self) -> None:
        assert self.worker is not None
        try:
            reply = self._request({"op": "forward", "names": list(self.served)},
                                  self._remaining(self.spec.limits.cell_timeout_s))
            if not (isinstance(reply, dict) and reply.get("ok") is True):
                raise ValueError("it answered otherwise")
        except BudgetExhausted:
            self._retire()
            raise
        except Exception as exc:  # it timed out, died, or answered with something else
            self._retire()
            raise WorkerCrashed("", f"the worker did not take the grader's functions ({exc})"[:300]) from None

    def _request(self, message: dict[str, Any], timeout: float) -> Any:
        assert self.worker is not None
        self._callbacks = 0
        return self.worker.request(message, timeout, serve=self._answer if self.served else None)

    def _answer(self, message: dict[str, Any], deadline: float) -> dict[str, Any]:
        """The answer to the worker's call into a served function, computed by ``deadline`` (the request's). The
        message is untrusted: only a served name, a list and a dict with string keys, holding at most
        :data:`MAX_CALLBACK_BYTES` of arrays and strings, are accepted, at most :data:`MAX_CALLBACKS` per request;
        anything else is a protocol error and the worker is not trusted again."""
        name, args, kwargs = message.get("callback"), message.get("args"), message.get("kwargs")
        if not (isinstance(name, str) and name in self.served and isinstance(args, list)
                and isinstance(kwargs, dict) and all(isinstance(k, str) for k in kwargs)):
            raise ValueError("a malformed call into a function the grader serves")
        if _payload_bytes([args, kwargs]) > MAX_CALLBACK_BYTES:
            raise ValueError(f"a call into a function the grader serves with over {MAX_CALLBACK_BYTES} bytes of data")
        self._callbacks += 1
        if self._callbacks > MAX_CALLBACKS or self.server is None:
            raise ValueError(f"more than {MAX_CALLBACKS} calls into functions the grader serves in one request")
        return self.server(name, args, kwargs, deadline)

    def _keep_warnings(self, report: CallReport) -> None:
        self.call_warnings_dropped += report.warnings_total - len(report.warnings)
        for w in report.warnings:
            record = next((r for r in self.call_warnings if r.function == report.function and r.warning == w), None)
            if record is not None:
                record.calls += 1
            elif len(self.call_warnings) < MAX_WARNING_RECORDS:
                self.call_warnings.append(WarningRecord(report.function, w))
            else:
                self.call_warnings_dropped += 1


def _payload_bytes(value: Any) -> int:
    """The bytes of arrays and strings in a decoded (plain) value."""
    total, stack, seen = 0, [value], 0
    while stack:
        v = stack.pop()
        seen += 1
        if seen > 1_000_000:
            return MAX_CALLBACK_BYTES + 1
        if isinstance(v, numpy.ndarray | numpy.generic):
            total += v.nbytes
        elif isinstance(v, str | bytes):
            total += len(v)
        elif isinstance(v, list | tuple):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
    return total


def argument_keys(count: int, kwargs: dict[str, Any]) -> tuple[str, ...]:
    """The keys a call's report may name its arguments by: ``"args[0]"``... and ``"kwargs['x']"``, made on the
    trusted side from the arguments it sent."""
    return (*(f"args[{i}]" for i in range(count)), *(f"kwargs[{k!r}]" for k in kwargs))


def _keys(value: Any, sent: tuple[str, ...]) -> tuple[str, ...]:
    """The argument keys in an untrusted list that are among ``sent`` (each once, in ``sent``'s order): a key
    the grader did not send is dropped, so no text of the worker's choosing is ever kept."""
    named = {x for x in value if isinstance(x, str)} if isinstance(value, list) else set()
    return tuple(k for k in sent if k in named)


def _report(name: str, reply: dict[str, Any], sent: tuple[str, ...] = ()) -> CallReport:
    """The call's report from the worker's (untrusted) answer: malformed parts are dropped, sizes capped; the
    changed and unchecked arguments only by the keys of the arguments the grader sent (``sent``)."""
    raw = reply.get("warnings")
    found: list[StudentWarning] = []
    for w in (raw if isinstance(raw, list) else [])[:MAX_CALL_WARNINGS]:
        if isinstance(w, dict) and all(isinstance(w.get(k), str) for k in ("category", "module", "message")):
            found.append(StudentWarning(w["category"][:100], w["module"][:100], w["message"][:300]))
    unique = tuple(dict.fromkeys(found))
    total = reply.get("warnings_total")
    total = total if isinstance(total, int) and not isinstance(total, bool) and total >= len(unique) else len(unique)
    return CallReport(
        function=name,
        value=reply.get("value") if reply.get("ok") is True else None,
        warnings=unique,
        warnings_total=total,
        mutated=_keys(reply.get("mutated"), sent),
        unchecked=_keys(reply.get("unchecked"), sent),
    )


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

    def call(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        self._check_declared(name)
        return self._session.call(name, *args, **kwargs)

    def _check_declared(self, name: str) -> None:
        if self._declared is not None and name not in self._declared:
            raise HiddenSuiteError(
                f"the hidden test calls `{name}`, which the released notebook of {self._assignment or 'the assignment'}"
                f" does not define (it defines: {', '.join(sorted(self._declared)) or 'no function'}); fix the "
                "name in the hidden test, or add the function to the solution notebook and release again"
            )

    def call_report(self, name: str, /, *args: Any, **kwargs: Any) -> CallReport:
        """Call ``name`` and return its :class:`CallReport` (value, warnings, changed arguments), e.g.
        ``report = submission.call_report("sigmoid", x)``; then ``report.value`` as from ``submission.sigmoid(x)``.
        """
        self._check_declared(name)
        return self._session.call_report(name, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def forward(*args: Any, **kwargs: Any) -> Any:
            return self.call(name, *args, **kwargs)

        forward.__name__ = name
        return forward
