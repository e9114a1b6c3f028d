"""What a Dask worker runs for a batch (trusted code: it decides scores; student code only runs in its sandbox).

The driver (:mod:`autograder.cluster`) sends each worker the course once, as a :class:`CourseBundle` plugin:
a deterministic tar.gz of everything grading reads (course.yml, the hidden suites, solutions, released notebooks,
the assignments' files, the dataset manifest), named by its sha256. The plugin checks that the worker runs the
same grader as the driver (:func:`autograder.fingerprint.grader_digest`), then unpacks the bundle into a private
folder of the worker's machine, verified and reused by every task and every later batch with the same bundle.
No shared filesystem is needed. Held-out data sets are not in the bundle: each worker machine reads them from
its own data cache (``autograder datasets fetch``), checked against the manifest's sha256 like everywhere else.

Each submission is one call of :func:`grade_task`: the notebook's bytes in, its result out as a JSON string
(plain data; the driver rebuilds and checks it, then writes it). Grading is seeded and has no side effect outside
the worker's scratch folders, so a task Dask runs twice gives the same result, and the driver records the first.
Tasks that train on a GPU run the grader in a fresh process (``python -m autograder.cluster_task``): TensorFlow
keeps the GPU memory it took until its process ends.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from autograder import fingerprint

_BUNDLES: dict[str, Path] = {}  # bundle digest -> unpacked course folder, in this worker process
_LOCK = threading.Lock()


def _cache_root() -> Path:
    from autograder.cache import cache_root

    return cache_root() / "bundles"


def _private(*paths: Path) -> bool:
    """Each path belongs to this user and nobody else may write it: a bundle folder someone else could have
    planted or changed (its hidden suites run as trusted code) is never used."""
    try:
        return all((st := p.lstat()).st_uid == os.getuid() and not st.st_mode & 0o022 for p in paths)
    except OSError:
        return False


def bundle_files(course_yml: Path, course: Any) -> dict[str, Path]:
    """Bundle path -> file: everything grading any assignment of ``course`` reads under its root."""
    root = course.root
    files: dict[str, Path] = {"course.yml": course_yml}
    folders = [root / "solutions" / a.id for a in course.assignments]
    folders += [root / "assignments" / a.id for a in course.assignments]
    folders += [course.hidden_suite(a) for a in course.assignments]
    for folder in folders:
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            rel = path.relative_to(root)
            if path.is_file() and not {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"} & set(rel.parts):
                files[rel.as_posix()] = path
    for path in [*(root / f for a in course.assignments for f in a.files), course.manifest_path]:
        if path.is_file():
            files[path.relative_to(root).as_posix()] = path
    return files


def make_bundle(files: dict[str, Path]) -> bytes:
    """A reproducible tar.gz of ``files`` (sorted, no times or owners): the same course gives the same bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            data = files[name].read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)


def bundle_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _unpack(data: bytes, digest: str) -> Path:
    """The bundle's folder on this machine: unpacked once (into a temporary folder, then renamed), 0700."""
    root = _cache_root()
    target = root / digest
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    if _private(root, target, target / ".complete"):
        return target
    tmp = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=root if _private(root) else None))
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(tmp, filter="data")  # refuses absolute paths, "..", links out of the folder
    (tmp / ".complete").write_text(digest, encoding="ascii")
    if tmp.parent != root:  # a cache folder others may write: this worker keeps its own private copy
        return tmp
    try:
        os.rename(tmp, target)
    except OSError:  # another worker process of this machine got there first (or an untrusted entry is there)
        if _private(target, target / ".complete"):
            shutil.rmtree(tmp, ignore_errors=True)
            return target
        return tmp
    return target


class CourseBundle(WorkerPlugin):
    """Installs one course bundle on every worker of the cluster, now and when a worker (re)starts (unpacked once
    per machine: later batches of the same course find it there)."""

    def __init__(self, data: bytes, grader: str) -> None:
        self.data = data
        self.digest = bundle_digest(data)
        self.grader = grader
        # one plugin per batch (several batches may share a running cluster; each removes only its own)
        self.name = f"autograder-course-{self.digest[:16]}-{secrets.token_hex(4)}"

    def setup(self, worker: Any) -> None:
        mine = fingerprint.grader_digest()
        if mine != self.grader:
            raise RuntimeError(
                f"worker {getattr(worker, 'address', '?')} runs another version of the autograder than the driver "
                f"(grader {mine[:12]}, driver {self.grader[:12]}): install the same version on every worker")
        if bundle_digest(self.data) != self.digest:
            raise RuntimeError("the course bundle was damaged on its way to the worker")
        with _LOCK:
            _BUNDLES[self.digest] = _unpack(self.data, self.digest)


def installed_bundle(digest: str) -> Path:
    try:
        return _BUNDLES[digest]
    except KeyError:
        raise RuntimeError(f"course bundle {digest[:12]} is not installed on this worker") from None


@functools.lru_cache(maxsize=4)
def _course(folder: str) -> Any:
    from autograder.config import load_course

    return load_course(Path(folder) / "course.yml")


def grade_task(digest: str, assignment_id: str, student: str, notebook: bytes, runner: str,
               fresh_process: bool = False) -> str:
    """Grade one submission on this worker; its :class:`~autograder.grade.GradeResult` as JSON, plus
    ``"_worker"``: which worker graded it. Raises only for problems of the worker, never of the submission."""
    folder = installed_bundle(digest)
    with tempfile.TemporaryDirectory(prefix="ag-task-") as tmp:
        course = _course(str(folder))
        path = Path(tmp) / course.assignment(assignment_id).notebook
        path.write_bytes(notebook)
        if fresh_process:
            data = json.loads(_grade_in_fresh_process(folder, assignment_id, student, path, runner))
        else:
            data = _grade(course, assignment_id, student, path, runner)
    data["_worker"] = _worker_name()
    return json.dumps(data)


def _grade(course: Any, assignment_id: str, student: str, path: Path, runner: str) -> dict[str, Any]:
    from dataclasses import asdict

    from autograder.batch import grade_one
    from autograder.grade import SubmissionInput

    result = grade_one(course, course.assignment(assignment_id), SubmissionInput(student, path), runner)
    return asdict(result)


def _grade_in_fresh_process(folder: Path, assignment_id: str, student: str, path: Path, runner: str) -> str:
    env = {**os.environ, "TF_FORCE_GPU_ALLOW_GROWTH": "true"}
    out = path.parent / "result.json"
    proc = subprocess.run(
        [sys.executable, "-m", "autograder.cluster_task", "--course", str(folder / "course.yml"), "--assignment",
         assignment_id, "--student", student, "--notebook", str(path), "--runner", runner, "--result", str(out)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0 or not out.is_file():
        raise RuntimeError(f"the grading process exited with code {proc.returncode}: {proc.stderr[-2000:]}")
    return out.read_text(encoding="utf-8")


def _worker_name() -> str:
    try:
        from distributed import get_worker

        w = get_worker()
        return str(w.name if w.name not in (None, "") else w.address)
    except ValueError:  # not in a Dask worker
        return "driver"


def main(argv: list[str] | None = None) -> int:
    """``python -m autograder.cluster_task``: grade one submission, write its result as JSON (a fresh process)."""
    parser = argparse.ArgumentParser(description="Grade one submission in this process; write its result as JSON.")
    for name in ("--course", "--assignment", "--student", "--notebook", "--runner", "--result"):
        parser.add_argument(name, required=True)
    args = parser.parse_args(argv)
    course = _course(str(Path(args.course).parent))
    result = _grade(course, args.assignment, args.student, Path(args.notebook), args.runner)
    Path(args.result).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
