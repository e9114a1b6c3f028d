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
- ``{"op": "call", "name": str, "args": list, "kwargs": dict}`` -> ``{"ok": True, "value": ...}`` or
  ``{"ok": False, "error": {...}, "missing": bool, "unsendable": bool}``
- ``{"op": "exit"}``

Nothing here decides a score. Whatever this process sends back is treated as untrusted data.
"""

import contextlib
import importlib.util
import os
import sys
import traceback
from typing import Any


def _load(path: str, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _error(exc: BaseException) -> dict[str, str]:
    return {"type": type(exc).__name__, "message": str(exc)[:2000]}


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
    for fd in (request_fd, reply_fd):
        os.set_inheritable(fd, False)  # programs the student starts do not get the channel
    worker_pid = os.getpid()
    # A child the student forks must not answer requests: it loses the channel, and leaves if it
    # ever gets back to the loop below.
    def lose_channel() -> None:
        for fd in (request_fd, reply_fd):
            os.closerange(fd, fd + 1)  # closes without raising

    os.register_at_fork(after_in_child=lose_channel)
    # -S skipped site: add the grader's site-packages folders, without processing .pth files
    # (an editable install of the autograder is such a .pth file: it stays out of reach).
    for path in argv[2].split(os.pathsep):
        if path and path not in sys.path:
            sys.path.append(path)
    wire = _load(argv[3], "_autograder_wire")
    ext = wire.Extensions()
    wrappers = []
    for i, ext_path in enumerate(argv[4:]):
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
        else:
            reply = {"ok": False, "error": {"type": "ProtocolError", "message": f"unknown op {op!r}"}}
        if os.getpid() != worker_pid:  # a forked child came back from the student's code
            os._exit(0)
        try:
            wire.write_message(reply_fd, reply, ext)
        except wire.WireError as exc:
            wire.write_message(
                reply_fd,
                {"ok": False, "error": _error(exc), "missing": False, "unsendable": True},
                ext,
            )


def _call(namespace: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    name = request["name"]
    func = namespace.get(name)
    if func is None or not callable(func):
        return {"ok": False, "error": None, "missing": True, "unsendable": False}
    try:
        value = func(*request.get("args", []), **request.get("kwargs", {}))
    except BaseException as exc:  # the student's code raised: report type and message only
        if isinstance(exc, SystemExit):
            sys.stderr.write(f"SystemExit raised by {name}\n")
        else:
            traceback.print_exc(limit=-3)
        return {"ok": False, "error": _error(exc), "missing": False, "unsendable": False}
    return {"ok": True, "value": value}


if __name__ == "__main__":
    sys.exit(main(sys.argv))
