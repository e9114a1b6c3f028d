"""What recording scores in nbgrader's gradebook adds to a batch.

Builds a temp course (a copy of this one), releases 01_convolution into its gradebook, imports a roster of
N students, puts N copies of the solution in nbgrader's submitted/ layout, grades them in the sandbox
(``autograder grade --no-gradebook``), then times the gradebook step alone (``gradebook.sync``: nbgrader's
autograde with our preprocessors, one submission at a time) and prints seconds per submission for both.

    .venv/bin/python benchmarks/gradebook_step.py [--copies 50] [--jobs 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nbgrader.api import Gradebook

from autograder import gradebook
from autograder import release as rel
from autograder.config import load_course
from autograder.demo import make_course_copy
from autograder.samples import make_sample

REPO = Path(__file__).resolve().parent.parent
AID = "01_convolution"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ag-bench-gradebook-") as tmp:
        course = make_course_copy(load_course(REPO / "course.yml"), Path(tmp) / "course")
        assignment = course.assignment(AID)
        rel.release(course, assignment)
        url = gradebook.db_url(gradebook.load_config(course))
        text = make_sample(course, assignment, "correct")
        students = [f"s{i:03d}" for i in range(args.copies)]
        with Gradebook(url, course.course_id) as gb:
            for sid in students:
                gb.update_or_create_student(sid)
        for sid in students:
            folder = course.root / "submitted" / sid / AID
            folder.mkdir(parents=True)
            (folder / assignment.notebook).write_text(text)
            (folder / "timestamp.txt").write_text("2027-01-20 10:00:00.000000 UTC")
        out = course.root / "grades" / AID
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "autograder", "--course", str(course.root / "course.yml"),
                               "grade", AID, str(course.root / "submitted"), "--out", str(out), "--no-gradebook",
                               "--jobs", str(args.jobs), "--no-progress"], capture_output=True, text=True)
        sandbox = time.perf_counter() - started
        if proc.returncode != 0:
            sys.exit(f"grading failed:\n{proc.stdout}\n{proc.stderr}")
        started = time.perf_counter()
        outcomes = gradebook.sync(course, assignment, students, out)
        step = time.perf_counter() - started
        failed = [o for o in outcomes if not o.ok]
        if failed:
            sys.exit(f"{len(failed)} not recorded: {failed[0]}")
        with Gradebook(url, course.course_id) as gb:
            scores = {gb.find_submission(AID, s).score for s in students}
        n = args.copies
        print(f"{n} submissions of {AID}, all recorded with score(s) {sorted(scores)}")
        print(f"sandbox grading (--jobs {args.jobs}, incl. process start): {sandbox:.1f} s = {sandbox / n:.2f} s "
              "per submission")
        print(f"gradebook step (nbgrader autograde with our preprocessors, one process): {step:.1f} s = "
              f"{step / n:.3f} s per submission ({100 * step / sandbox:.0f} % of the sandbox time)")


if __name__ == "__main__":
    main()
