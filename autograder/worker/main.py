"""The untrusted worker: runs a student's notebook cells and answers calls into its functions.

Started by :mod:`autograder.sandbox.process` as
``python -I -S -u main.py [--as-uid UID] REQ_FD,REPLY_FD SITE_DIRS WIRE_PY [EXT_PY ...]``
where SITE_DIRS is the grader's site-packages folders joined with os.pathsep,
in an empty job directory, with a cleared environment, stdin from /dev/null and resource limits
(inside bubblewrap where the machine allows, see :mod:`autograder.sandbox.isolation`).
With ``--as-uid`` (a privileged sandbox started by root) it first switches to that uid, which also
drops every capability, and closes every file descriptor it was not given: all before it reads a
request. It cannot import the ``autograder`` package (``-I -S``: no PYTHONPATH, no current
directory, no .pth files); it loads the wire format and any value converters from the file paths
it is given.

Requests arrive on REQ_FD and answers leave on REPLY_FD, as :mod:`autograder.worker.wire` messages:

- ``{"op": "run_cell", "source": str, "options": dict}`` -> ``{"ok": bool, "error": {"type", "message"} | None}``
  (each extension module may define ``around_cell(options)``, a context manager wrapped around
  the cell, e.g. to skip Keras training in notebook cells at grading time)
- ``{"op": "call", "name": str, "args": list, "kwargs": dict, "fp_defaults": bool}`` -> ``{"ok": True,
  "value": ..., "warnings": [...], "warnings_total": int, "mutated": [...], "unchecked": [...]}`` or
  ``{"ok": False, "error": {"type", "message", "traceback"}, "missing": bool, "unsendable": bool,
  "warnings": [...], "warnings_total": int, "mutated": [...], "unchecked": [...]}``. What the call did besides
  returning, as data (see :func:`_call`): ``warnings``, at most :data:`MAX_WARNINGS` distinct ``{"category",
  "module", "message"}`` the student's code issued (``warnings_total`` counts all of them); ``mutated``, the
  arguments whose contents the call changed (``"args[0]"``, ``"kwargs['x']"``); ``unchecked``, arguments
  holding values whose contents cannot be compared (extension values such as a Keras model). With
  ``fp_defaults`` the call runs under NumPy's default floating-point error handling (overflow, division by
  zero and invalid values warn), so a notebook-wide ``np.seterr(all="ignore")`` cannot hide an overflow.
  A traceback is data too: nothing about a call is printed.
- ``{"op": "forward", "names": [str, ...]}`` -> ``{"ok": True}``: each name in the notebook's namespace becomes
  a forwarder (:func:`_forwarder`) of a function the grader computes (the course's own, for a question graded
  with it in the student's place). A forwarder's call sends ``{"callback": name, "args": [...], "kwargs":
  {...}}`` on REPLY_FD while a request is being answered, and reads ``{"ok": True, "value": ...}`` or ``{"ok":
  False, "type": <a Python exception name>}`` from REQ_FD. The course's code never enters this process.
- ``{"op": "exit"}``

Nothing here decides a score. Whatever this process sends back is treated as untrusted data.
"""

import builtins
import contextlib
import hashlib
import importlib.util
import os
import struct
import sys
import traceback
import warnings
from typing import Any

MAX_WARNINGS = 10  # distinct warnings reported per call; the rest are only counted
WARNING_CHARS = 300  # of a warning's message (instructors only)
TRACEBACK_CHARS = 3000  # of an exception's traceback (instructors only)
DIGEST_ITEMS = 200_000  # values visited to fingerprint one argument; more counts as changed

# Bound now, before any student code runs: a notebook that replaces these module attributes does not
# change how the worker fingerprints arguments, records warnings or formats tracebacks.
_blake2b = hashlib.blake2b
_pack_double = struct.Struct("<d").pack
_format_exception = traceback.format_exception
_warnings = warnings
_TYPE_NAME, _TYPE_MODULE = type.__dict__["__name__"], type.__dict__["__module__"]
_catch_warnings = warnings.catch_warnings
_EXCEPTIONS = {n: c for n, c in vars(builtins).items() if isinstance(c, type) and issubclass(c, Exception)}
_simplefilter = warnings.simplefilter
_errstate: Any = None  # numpy's, bound by _bind_numpy() once the grader's site-packages are on the path
_ndarray: Any = None
_generic: Any = None


def _bind_numpy() -> None:
    global _errstate, _ndarray, _generic
    import numpy

    _errstate, _ndarray, _generic = numpy.errstate, numpy.ndarray, numpy.generic


def _load(path: str, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _text(obj: object, cap: int) -> str:
    """``str(obj)``, capped; the student's ``__str__`` may raise or return something else."""
    try:
        text = str(obj)
    except BaseException:  # noqa: BLE001 (student code: anything can come out of it)
        return "<str() failed>"
    return text[:cap] if isinstance(text, str) else "<str() did not return a string>"


def _error(exc: BaseException, with_traceback: bool = False) -> dict[str, str]:
    error = {"type": type(exc).__name__, "message": _text(exc, 2000)}
    if with_traceback:
        try:
            tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None  # from the student's frame
            error["traceback"] = "".join(_format_exception(type(exc), exc, tb, limit=-8))[-TRACEBACK_CHARS:]
        except BaseException:  # noqa: BLE001
            error["traceback"] = ""
    return error


def _drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)  # from root to another uid: the kernel clears every capability
    if os.getuid() != uid or os.geteuid() != uid or os.getgid() != uid:
        raise SystemExit("could not switch to the worker uid")


def _close_other_fds(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    os.closerange(3, lo)
    os.closerange(lo + 1, hi)
    os.closerange(hi + 1, 65536)


def main(argv: list[str]) -> int:
    if argv[1] == "--as-uid":
        _drop_privileges(int(argv[2]))
        argv = argv[:1] + argv[3:]
    request_fd, reply_fd = (int(x) for x in argv[1].split(","))
    _close_other_fds(request_fd, reply_fd)
    worker = prepare(argv[2].split(os.pathsep), argv[3], argv[4:])
    return serve(request_fd, reply_fd, worker)


class Prepared:
    """What :func:`prepare` made: the wire module, its extensions, the cell wrappers and the IPython shell.

    A warm worker (:mod:`autograder.worker.zygote`) prepares once and forks a child per submission, which
    serves with the same, untouched copy: a child's changes to it never reach the zygote or another child.
    """

    def __init__(self, wire: Any, ext: Any, wrappers: list[Any], shell: Any) -> None:
        self.wire, self.ext, self.wrappers, self.shell = wire, ext, wrappers, shell


def prepare(site_dirs: list[str], wire_path: str, ext_paths: list[str]) -> Prepared:
    """Everything before the first request that does not depend on the submission: the grader's site-packages
    on the path (without processing .pth files: an editable install of the autograder is such a file, and stays
    out of reach), the wire format and value converters loaded from their paths, an IPython shell."""
    for path in site_dirs:
        if path and path not in sys.path:
            sys.path.append(path)
    _bind_numpy()
    wire = _load(wire_path, "_autograder_wire")
    ext = wire.Extensions()
    wrappers = []
    for i, ext_path in enumerate(ext_paths):
        module = _load(ext_path, f"_autograder_ext{i}")
        module.register(ext)
        if hasattr(module, "around_cell"):
            wrappers.append(module.around_cell)

    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    shell = InteractiveShell.instance(config=config)
    return Prepared(wire, ext, wrappers, shell)


def serve(request_fd: int, reply_fd: int, worker: Prepared) -> int:
    """Answer requests until ``exit`` or the end of the channel. Every file descriptor but the channel and
    stdin/stdout/stderr is already closed."""
    for fd in (request_fd, reply_fd):
        os.set_inheritable(fd, False)  # programs the student starts do not get the channel
    worker_pid = os.getpid()
    # A child the student forks must not answer requests: it loses the channel, and leaves if it
    # ever gets back to the loop below.
    def lose_channel() -> None:
        for fd in (request_fd, reply_fd):
            os.closerange(fd, fd + 1)  # closes without raising

    os.register_at_fork(after_in_child=lose_channel)
    wire, ext, wrappers, shell = worker.wire, worker.ext, worker.wrappers, worker.shell
    sys.path.insert(0, "")  # the job directory, as in a notebook (only now: the worker's own imports are done)

    while True:
        try:
            request = wire.read_message(request_fd, ext)
        except EOFError:
            return 0
        except Exception as exc:  # an argument this side cannot rebuild: answer, and stay in step
            reply = {"ok": False, "error": _error(exc), "missing": False, "unsendable": True}
            wire.write_message(reply_fd, reply, ext)
            continue
        op = request.get("op")
        if op == "exit":
            return 0
        if op == "run_cell":
            with contextlib.ExitStack() as stack:
                for wrap in wrappers:
                    stack.enter_context(wrap(request.get("options") or {}))
                result = shell.run_cell(request["source"], store_history=False)
            err = result.error_before_exec or result.error_in_exec
            reply = {"ok": err is None, "error": None if err is None else _error(err)}
        elif op == "call":
            reply = _call(shell.user_ns, request)
        elif op == "forward":
            reply = _forward(shell.user_ns, request, request_fd, reply_fd, worker)
        else:
            reply = {"ok": False, "error": {"type": "ProtocolError", "message": f"unknown op {op!r}"}}
        if os.getpid() != worker_pid:  # a forked child came back from the student's code
            os._exit(0)
        try:
            wire.write_message(reply_fd, reply, ext)
        except wire.WireError as exc:  # the value cannot be sent: say so, keep what the call did besides
            fallback: dict[str, Any] = {"ok": False, "error": _error(exc), "missing": False, "unsendable": True}
            fallback.update((k, reply[k]) for k in ("warnings", "warnings_total", "mutated", "unchecked") if k in reply)
            wire.write_message(reply_fd, fallback, ext)


def _forward(namespace: dict[str, Any], request: dict[str, Any], request_fd: int, reply_fd: int,
             worker: Prepared) -> dict[str, Any]:
    """Put a forwarder (:func:`_forwarder`) in the notebook's namespace under each of ``request["names"]``."""
    names = request.get("names")
    if not isinstance(names, list) or not all(isinstance(n, str) and n.isidentifier() for n in names):
        return {"ok": False, "error": {"type": "ProtocolError", "message": "forward: names must be identifiers"}}
    for name in names:
        namespace[name] = _forwarder(name, request_fd, reply_fd, worker)
    return {"ok": True}


def _forwarder(name: str, request_fd: int, reply_fd: int, worker: Prepared) -> Any:
    """A stand-in for the function ``name`` that the grader computes: a call sends its arguments to the grader
    as data (``{"callback": name, "args": [...], "kwargs": {...}}``) and returns the value that comes back, or
    raises an exception of the type the grader's function raised. Nothing of that function is in this process;
    the grader answers only while it waits for one of its own calls into the notebook."""
    wire, ext, worker_pid = worker.wire, worker.ext, os.getpid()

    def forward(*args: Any, **kwargs: Any) -> Any:
        if os.getpid() != worker_pid:
            raise RuntimeError(f"{name} is computed by the grader: it cannot be called from another process")
        try:
            wire.write_message(reply_fd, {"callback": name, "args": list(args), "kwargs": kwargs}, ext)
        except wire.WireError:
            raise TypeError(f"{name} was given arguments the grader cannot accept (only numbers, strings, "
                            "lists, tuples, dicts, None and numeric numpy arrays)") from None
        answer = wire.read_message(request_fd, ext)
        if isinstance(answer, dict) and answer.get("ok") is True:
            return answer.get("value")
        kind = answer.get("type") if isinstance(answer, dict) else None
        cls = _EXCEPTIONS.get(kind, RuntimeError) if isinstance(kind, str) else RuntimeError
        raise cls(f"the course's {name} raised {cls.__name__} on these arguments")

    forward.__name__ = forward.__qualname__ = name
    forward.__doc__ = f"{name}, computed by the grader (the course's own) in place of this notebook's."
    return forward


class _WarningLog:
    """Stands in for ``warnings.showwarning`` during a call: counts every warning, keeps the first
    :data:`MAX_WARNINGS` distinct ones (a storm of 10**5 costs a counter, not memory)."""

    def __init__(self) -> None:
        self.kept: dict[tuple[str, str, str], None] = {}
        self.total = 0

    def __call__(self, message: object, category: object, *rest: object, **more: object) -> None:
        self.total += 1
        if len(self.kept) >= MAX_WARNINGS:
            return
        try:  # type's own descriptors: a metaclass of the student's cannot answer instead
            name, module = _TYPE_NAME.__get__(category), _TYPE_MODULE.__get__(category)
        except BaseException:  # noqa: BLE001 (not a class at all)
            name, module = "", ""
        key = (str(name)[:100] if isinstance(name, str) else "", str(module)[:100] if isinstance(module, str) else "",
               _text(message, WARNING_CHARS))
        self.kept[key] = None

    def report(self) -> list[dict[str, str]]:
        return [{"category": c, "module": m, "message": t} for c, m, t in self.kept]


def _fingerprint(value: Any) -> tuple[bytes, bool]:
    """A digest of ``value``'s contents, and whether all of it could be read.

    Reads only plain data (exact list, tuple, dict, ndarray, numpy scalar, str, bytes, int, float, bool,
    None), never calling a method the student could have defined: anything else is fingerprinted by its
    identity (its contents cannot be compared), so an object that replaced an element counts as a change.
    A value too large or nested too deep (the student may have made it so) counts as changed.
    """
    h = _blake2b(digest_size=16)
    complete = True
    stack: list[Any] = [value]
    seen = 0
    while stack:
        v = stack.pop()
        seen += 1
        if seen > DIGEST_ITEMS:
            h.update(b"!too-many-items")
            break
        t = type(v)
        if t is _ndarray:
            if v.dtype.hasobject:
                h.update(b"O" + id(v).to_bytes(8, "little"))
                complete = False
                continue
            h.update(f"a{v.dtype.str}{v.shape}".encode())
            h.update(v.tobytes())
        elif issubclass(t, _generic):  # a numpy scalar: immutable, but its type and bytes tell it apart
            h.update(b"s" + id(t).to_bytes(8, "little"))
            h.update(_generic.tobytes(v))
        elif t is list or t is tuple:
            h.update(f"{'l' if t is list else 't'}{len(v)}".encode())
            stack.extend(v)
        elif t is dict:
            h.update(f"d{len(v)}".encode())
            for k, x in dict.items(v):
                stack.append(x)
                stack.append(k)
        elif t is str:
            h.update(b"u" + v.encode("utf-8", "surrogatepass") + b"\0")
        elif t is bytes:
            h.update(b"b" + len(v).to_bytes(8, "little") + v)
        elif t is bool or v is None:
            h.update(repr(v).encode())
        elif t is int:
            h.update(b"i" + v.to_bytes((v.bit_length() + 8) // 8, "little", signed=True))
        elif t is float:
            h.update(b"f" + _pack_double(v))
        else:
            h.update(b"?" + id(t).to_bytes(8, "little") + id(v).to_bytes(8, "little"))
            complete = False
    return h.digest(), complete


_IMMUTABLE = (type(None), bool, int, float, str, bytes)


def _snapshot(args: list[Any], kwargs: dict[str, Any]) -> dict[str, tuple[bytes, bool]]:
    named = [(f"args[{i}]", a) for i, a in enumerate(args)] + [(f"kwargs[{k!r}]", v) for k, v in kwargs.items()]
    return {name: _fingerprint(v) for name, v in named if type(v) not in _IMMUTABLE}


def _call(namespace: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """Call a student's function; the value, or the exception (with its traceback as data), plus what the
    call did besides: the warnings it issued and the arguments it changed."""
    name = request["name"]
    func = namespace.get(name)
    if func is None or not callable(func):
        return {"ok": False, "error": None, "missing": True, "unsendable": False}
    args, kwargs = request.get("args", []), request.get("kwargs", {})
    try:
        before = _snapshot(args, kwargs)
    except BaseException:  # noqa: BLE001 (a notebook that broke the builtins): nothing can be compared
        before = {}
    log = _WarningLog()
    reply: dict[str, Any]
    with contextlib.ExitStack() as stack:
        stack.enter_context(_catch_warnings(module=_warnings))  # restores filters and showwarning afterwards
        _simplefilter("always")
        _warnings.showwarning = log
        if request.get("fp_defaults"):
            stack.enter_context(_errstate(over="warn", divide="warn", invalid="warn", under="ignore"))
        try:
            reply = {"ok": True, "value": func(*args, **kwargs)}
        except BaseException as exc:  # the student's code raised: type, message and traceback, as data
            reply = {"ok": False, "error": _error(exc, with_traceback=True), "missing": False, "unsendable": False}
    reply["warnings"] = log.report()
    reply["warnings_total"] = log.total
    try:
        after = _snapshot(args, kwargs)
        reply["mutated"] = [k for k, (digest, _) in before.items() if after.get(k, (b"", False))[0] != digest]
        reply["unchecked"] = [k for k, (_, complete) in before.items() if not complete]
    except BaseException:  # noqa: BLE001 (the call broke what fingerprints need): count them all as changed
        reply["mutated"] = list(before)
        reply["unchecked"] = []
    return reply


if __name__ == "__main__":
    sys.exit(main(sys.argv))
