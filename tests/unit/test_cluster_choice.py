"""autograder.cluster and cluster_task's pure parts: which clusters ``--cluster`` accepts, which Dask resource a
task asks for, task keys, the course bundle, and a result's round trip through JSON."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from dataclasses import asdict
from pathlib import Path

import pytest

from autograder.cluster import CPU, INPROCESS, LOCAL, ClusterChoice, choose, task_key, task_resources
from autograder.cluster_task import bundle_digest, bundle_files, make_bundle
from autograder.config import Course
from autograder.errors import ClusterError
from autograder.grade import CellOutcome, GradeResult, QuestionResult, TestResult


@pytest.mark.parametrize("value, kind", [(None, LOCAL), ("local", LOCAL), ("inprocess", INPROCESS),
                                         ("tls://grader.example.edu:8786", "remote"),
                                         ("tcp://127.0.0.1:8786", "remote"), ("tcp://localhost:1", "remote"),
                                         ("tcp://[::1]:8786", "remote")])
def test_accepted_clusters(value: str | None, kind: str) -> None:
    assert choose(value).kind == kind


@pytest.mark.parametrize("value, says", [
    ("tcp://10.0.0.7:8786", "tcp:// is neither encrypted nor authenticated"),
    ("tcp://grader.example.edu:8786", "use tcp:// on 127.0.0.1 only"),
    ("slurm", "is not a cluster"), ("tls://host", "is not a cluster"), ("http://127.0.0.1:8787", "is not a cluster"),
])
def test_refused_clusters_say_what_to_do(value: str, says: str) -> None:
    with pytest.raises(ClusterError, match=says.replace("(", r"\(")) as info:
        choose(value)
    assert info.value.exit_code == 9


def test_scheduler_file(tmp_path: Path) -> None:
    good = tmp_path / "scheduler.json"
    good.write_text(json.dumps({"type": "Scheduler", "address": "tls://10.1.2.3:8786"}))
    assert choose(None, good) == ClusterChoice("remote", "tls://10.1.2.3:8786", good)
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"address": "tcp://10.1.2.3:8786"}))
    with pytest.raises(ClusterError, match="plain.json: refusing"):
        choose(None, plain)
    with pytest.raises(ClusterError, match="not a Dask scheduler file"):
        choose(None, tmp_path / "missing.json")
    with pytest.raises(ClusterError, match="not both"):
        choose("tls://h:1", good)


def test_training_tasks_of_a_gpu_profile_ask_for_its_resource(course: Course) -> None:
    a01, a02 = course.assignment("01_convolution"), course.assignment("02_mnist_cnn")
    assert course.runners["gpu"].resource == "GPU" and course.runners["cpu"].resource == CPU
    assert task_resources(course, a02, "gpu") == {"GPU": 1}
    assert task_resources(course, a02, "cpu") == {CPU: 1}
    assert task_resources(course, a01, "gpu") == {CPU: 1}, "01 trains nothing: any grading worker"


def test_task_keys_hash_everything_that_decides_the_result() -> None:
    key = task_key("01_convolution", "alice", b"{}", "bundle", "cpu", "grader")
    assert key == task_key("01_convolution", "alice", b"{}", "bundle", "cpu", "grader")
    assert key.startswith("grade-01_convolution-")
    others = [task_key("02_mnist_cnn", "alice", b"{}", "bundle", "cpu", "grader"),
              task_key("01_convolution", "bob", b"{}", "bundle", "cpu", "grader"),
              task_key("01_convolution", "alice", b"{ }", "bundle", "cpu", "grader"),
              task_key("01_convolution", "alice", b"{}", "bundle2", "cpu", "grader"),
              task_key("01_convolution", "alice", b"{}", "bundle", "gpu", "grader"),
              task_key("01_convolution", "alice", b"{}", "bundle", "cpu", "grader2")]
    assert key not in others and len(set(others)) == len(others)


def test_the_bundle_is_reproducible_and_holds_what_grading_reads(course: Course) -> None:
    assert course.source is not None
    files = bundle_files(course.source, course)
    data = make_bundle(files)
    assert data == make_bundle(files) and bundle_digest(data) == bundle_digest(make_bundle(files))
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        names = set(tar.getnames())
        assert all(m.mtime == 0 and m.isfile() for m in tar.getmembers())
    for a in course.assignments:
        assert f"solutions/{a.id}/{a.notebook}" in names and f"assignments/{a.id}/{a.notebook}" in names
        assert any(n.startswith(a.hidden_suite.as_posix() + "/test_") for n in names), a.id
        assert all(f.as_posix() in names for f in a.files)
    assert {"course.yml", "datasets/manifest.yml"} <= names
    assert not [n for n in names if "__pycache__" in n]


def test_a_result_survives_its_trip_through_json() -> None:
    result = GradeResult(student="alice", assignment="01_convolution", status="graded", score=1.5, max_score=2,
                         tests=[TestResult("t", "q", 1.5, 2, "failed", "message")],
                         questions=[QuestionResult("q", "Q", 1.5, 2, 1, 2, note="n")],
                         cells=[CellOutcome(3, "error", "ValueError", "bad")], fingerprint={"grader": "x"},
                         worker_output="out", instructor_log="log", worker_start="warm")
    assert GradeResult.from_dict(json.loads(json.dumps(asdict(result)))) == result
    with pytest.raises(TypeError):
        GradeResult.from_dict({**asdict(result), "pickled": "x"})
    with pytest.raises(TypeError):
        GradeResult.from_dict({**asdict(result), "score": "20"})


def test_a_bundle_folder_someone_else_could_write_is_never_used(tmp_path: Path, course: Course,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Its hidden suites run as trusted code: a planted or writable copy is replaced by a private one."""
    from autograder import cluster_task

    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    assert course.source is not None
    data = make_bundle(bundle_files(course.source, course))
    digest = bundle_digest(data)
    planted = tmp_path / "cache" / "bundles" / digest
    planted.mkdir(parents=True)
    (planted / "planted.txt").write_text("a hidden suite of someone else's")
    (planted / ".complete").write_text(digest)
    planted.chmod(0o777)
    got = cluster_task._unpack(data, digest)
    assert got != planted and (got / "course.yml").is_file() and not (got / "planted.txt").exists()
    again = cluster_task._unpack(data, digest)  # still not the planted one
    assert again != planted and (again / "course.yml").is_file()
    planted.chmod(0o700)  # this user's alone and complete (as the folder this code renames into place): reused
    assert cluster_task._unpack(data, digest) == planted
