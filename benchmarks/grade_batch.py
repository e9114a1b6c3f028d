"""Benchmark: grade N copies of an assignment's solution notebook; print time per submission and peak memory.

    .venv/bin/python benchmarks/grade_batch.py [--assignment 01_convolution] [--copies 50]

Figures are for the machine it runs on; compare runs made on the same machine at the same time.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder.batch import find_submissions, grade_batch  # noqa: E402
from autograder.config import load_course  # noqa: E402
from autograder.samples import make_sample  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="01_convolution")
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--runner", default="cpu")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at a time")
    args = parser.parse_args()

    course = load_course(REPO / "course.yml")
    assignment = course.assignment(args.assignment)
    with tempfile.TemporaryDirectory(prefix="ag-bench-") as tmp:
        subs_dir = Path(tmp) / "submitted"
        text = make_sample(course, assignment, "correct")
        for i in range(args.copies):
            nb = subs_dir / f"student{i:03d}" / assignment.id / assignment.notebook
            nb.parent.mkdir(parents=True)
            nb.write_text(text)
        subs = find_submissions(assignment, [subs_dir])
        started = time.perf_counter()
        summary = grade_batch(course, assignment, subs, Path(tmp) / "out", runner=args.runner, progress=False,
                              jobs=args.jobs)
        wall = time.perf_counter() - started
        # the same command again: every fingerprint matches, nothing is regraded (the cost of deciding that)
        started = time.perf_counter()
        again = grade_batch(course, assignment, subs, Path(tmp) / "out", runner=args.runner, progress=False,
                            jobs=args.jobs)
        rerun = time.perf_counter() - started
        assert again.graded_now == 0 and again.skipped == args.copies, (again.graded_now, again.skipped)
    scores = {float(str(r["score"])) for r in summary.rows}
    statuses = {str(r["status"]) for r in summary.rows}
    per_nb = [float(str(r["execution_time"])) for r in summary.rows]
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"assignment {assignment.id}, runner {args.runner}, {args.copies} copies of the solution, jobs {args.jobs}")
    print(f"statuses {sorted(statuses)}, scores {sorted(scores)} (max {assignment.max_score:g})")
    print(f"wall time {wall:.1f} s = {wall / args.copies:.2f} s per submission "
          f"(per-submission times: min {min(per_nb):.2f} s, max {max(per_nb):.2f} s; the first includes imports)")
    print(f"the same batch again (fingerprints match, nothing regraded): {rerun:.2f} s = "
          f"{rerun / args.copies * 1000:.1f} ms per submission, CSV rebuilt with {again.csv_rows} rows")
    print(f"peak memory: this process {me:.0f} MiB, largest child {kids:.0f} MiB "
          "(children: workers, and with --jobs > 1 the grader processes)")


if __name__ == "__main__":
    main()
