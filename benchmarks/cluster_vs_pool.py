"""Benchmark: the same batch graded on a local Dask cluster (``--cluster local``) and on the process pool it replaced.

    .venv/bin/python benchmarks/cluster_vs_pool.py [--copies 50] [--jobs N] [--rounds 2]

Both grade N copies of 01_convolution's solution through :func:`autograder.batch.grade_batch` (results, journal and
CSV written the same way), ``--jobs`` at a time (default: ``autograder grade``'s default), alternating which goes
first in each round. The pool is the one ``autograder grade`` used before issue 11 (``ProcessPoolExecutor`` of
spawned grader processes, reproduced here). Then what Dask itself costs: starting the local cluster (TLS
certificates, worker processes), installing the course bundle on its workers, closing it, and the time per task of
no-op tasks through the same submit/as_completed path. Figures are for this machine; compare ratios of one run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder import batch, fingerprint  # noqa: E402
from autograder.batch import BatchSummary, Outcome, default_jobs, find_submissions, grade_batch, grade_one  # noqa: E402
from autograder.cluster import ClusterChoice, connect, install_bundle  # noqa: E402
from autograder.cluster_task import bundle_files, make_bundle  # noqa: E402
from autograder.config import Assignment, Course, load_course  # noqa: E402
from autograder.grade import SubmissionInput  # noqa: E402
from autograder.samples import make_sample  # noqa: E402

_GRADE_ALL = batch._grade_all


def _pool_grade_all(course: Course, assignment: Assignment, subs: list[SubmissionInput], runner: str, jobs: int,
                    cluster: ClusterChoice) -> Iterator[Outcome]:
    """The grading loop of ``autograder grade`` before Dask: one spawned grader process per job."""
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(grade_one, course, assignment, sub, runner) for sub in subs]
        for future in as_completed(futures):
            result = future.result()
            yield Outcome(result.student, result, worker="pool")


def _noop(i: int) -> int:
    return i


def run(way: str, course: Course, assignment: Assignment, subs: list[SubmissionInput], out: Path,
        jobs: int) -> tuple[float, BatchSummary]:
    batch._grade_all = _pool_grade_all if way == "pool" else _GRADE_ALL
    started = time.perf_counter()
    summary = grade_batch(course, assignment, subs, out, progress=False, jobs=jobs, force=True,
                          cluster=ClusterChoice("local"))
    seconds = time.perf_counter() - started
    batch._grade_all = _GRADE_ALL
    full = sum(float(str(r["score"])) == assignment.auto_max_score for r in summary.rows)
    if full != len(subs):
        raise SystemExit(f"{way}: only {full} of {len(subs)} got full marks: {summary.failures[:3]}")
    return seconds, summary


def dask_costs(course: Course, jobs: int, tasks: int) -> None:
    data = make_bundle(bundle_files(course.source or course.root / "course.yml", course))
    t0 = time.perf_counter()
    with connect(ClusterChoice("local"), jobs, {"CPU": 1}) as client:
        t1 = time.perf_counter()
        install_bundle(client, data, fingerprint.grader_digest())
        t2 = time.perf_counter()
        from distributed import as_completed as dask_completed

        futures = [client.submit(_noop, i, resources={"CPU": 1}, key=f"noop-{i}") for i in range(tasks)]
        for f in dask_completed(futures, loop=client.loop):
            f.result()
        t3 = time.perf_counter()
    t4 = time.perf_counter()
    print(f"dask: local cluster of {jobs} started in {t1 - t0:.2f} s, course bundle ({len(data) / 2**20:.1f} MiB) "
          f"installed on its workers in {t2 - t1:.2f} s, closed in {t4 - t3:.2f} s; {tasks} no-op tasks in "
          f"{t3 - t2:.2f} s = {(t3 - t2) / tasks * 1000:.1f} ms per task")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=None, help="default: autograder grade's (cores, memory)")
    parser.add_argument("--rounds", type=int, default=2, help="each way this many times, alternating (default 2)")
    parser.add_argument("--noop-tasks", type=int, default=500)
    args = parser.parse_args()
    course = load_course(REPO / "course.yml")
    assignment = course.assignment("01_convolution")
    jobs = args.jobs or default_jobs(course.limits_for(assignment))[0]
    times: dict[str, list[float]] = {"pool": [], "dask": []}
    with tempfile.TemporaryDirectory(prefix="ag-bench-cluster-") as tmp:
        folder = Path(tmp) / "submitted"
        text = make_sample(course, assignment, "correct")
        for i in range(args.copies):
            nb = folder / f"student{i:03d}" / assignment.id / assignment.notebook
            nb.parent.mkdir(parents=True)
            nb.write_text(text)
        subs = find_submissions(assignment, [folder])
        for r in range(args.rounds):
            for way in (("pool", "dask") if r % 2 == 0 else ("dask", "pool")):
                seconds, summary = run(way, course, assignment, subs, Path(tmp) / f"out-{way}", jobs)
                times[way].append(seconds)
                inside = sorted(float(str(row["execution_time"])) for row in summary.rows)
                print(f"round {r + 1}: {way:4s} {args.copies} x full marks in {seconds:.1f} s = "
                      f"{seconds / args.copies:.3f} s per submission (in the grader: median "
                      f"{statistics.median(inside):.2f} s, first {max(inside):.2f} s)", flush=True)
    pool, dask = statistics.median(times["pool"]), statistics.median(times["dask"])
    print(f"01_convolution, {args.copies} copies, jobs {jobs}, medians of {args.rounds}: pool {pool:.1f} s, "
          f"--cluster local {dask:.1f} s: dask/pool {dask / pool:.2f}")
    dask_costs(course, jobs, args.noop_tasks)


if __name__ == "__main__":
    main()
