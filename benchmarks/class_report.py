"""Benchmark: the class report of a batch of 50 submissions of 01_convolution (issue 12).

    .venv/bin/python benchmarks/class_report.py [--students 50]

Twelve distinct real submissions (the solution, the ten one-mistake fixtures of tests/fixtures/01_mistakes/, the
released stub) are graded once through the real CLI; their results.json and notebooks are then copied to
``--students`` students (student NNN gets distinct submission NNN mod 12), so the report reads a class of that
size. Timed, each repeated 3 times (median printed): the numbers alone (:func:`autograder.class_report.build`
from the results), the charts (matplotlib), the similarity of every pair of submissions, and the whole
``autograder report`` command (a subprocess: interpreter start and imports included).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from autograder import class_report  # noqa: E402
from autograder.batch import find_submissions  # noqa: E402
from autograder.config import load_course  # noqa: E402
from autograder.report import all_results  # noqa: E402
from autograder.samples import make_sample  # noqa: E402

AID = "01_convolution"
MISTAKES = REPO / "tests" / "fixtures" / "01_mistakes"


def _median_seconds(fn: object, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=50)
    args = parser.parse_args()
    course = load_course(REPO / "course.yml")
    assignment = course.assignment(AID)
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp_name:
        tmp = Path(tmp_name)
        distinct = tmp / "distinct"
        distinct.mkdir()
        (distinct / "solution.ipynb").write_text(make_sample(course, assignment, "correct"))
        (distinct / "stub.ipynb").write_text(make_sample(course, assignment, "stub"))
        for nb in sorted(MISTAKES.glob("*.ipynb")):
            shutil.copy(nb, distinct / nb.name)
        graded = tmp / "graded"
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "autograder", "grade", AID, *sorted(distinct.iterdir()),
                               "--out", str(graded), "--no-progress"], cwd=REPO, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"grading the distinct submissions failed:\n{proc.stdout}{proc.stderr}")
        grading_s = time.perf_counter() - started
        sources = sorted(distinct.iterdir())
        subs_dir, grades = tmp / "class", tmp / "grades"
        subs_dir.mkdir()
        for i in range(args.students):
            source = sources[i % len(sources)]
            student = f"student{i:03d}"
            shutil.copy(source, subs_dir / f"{student}.ipynb")
            (grades / student).mkdir(parents=True)
            data = json.loads((graded / source.stem / "results.json").read_text())
            data["student"] = student
            (grades / student / "results.json").write_text(json.dumps(data))
        notebooks = sorted(subs_dir.iterdir())
        subs = find_submissions(assignment, notebooks)
        stub = course.released_notebook(assignment)
        results = [dict(r) for r in all_results(grades, AID)]
        data = class_report.build(results, assignment)
        numbers_s = _median_seconds(lambda: class_report.build(results, assignment))
        charts_s = _median_seconds(lambda: class_report.charts(data))
        solution = course.solution_notebook(assignment)
        similar_s = _median_seconds(lambda: class_report.similar_pairs(subs, stub, reference=solution))
        cmd = [sys.executable, "-m", "autograder", "report", AID, "--grades", str(grades), *map(str, notebooks)]
        command_s = _median_seconds(lambda: subprocess.run(cmd, cwd=REPO, check=True, capture_output=True))
        size = (grades / "class-report.html").stat().st_size
        print(f"class report of {args.students} submissions of {AID} ({len(sources)} distinct, graded once in "
              f"{grading_s:.1f} s)")
        print(f"  numbers (build):            {numbers_s * 1000:8.1f} ms")
        print(f"  charts (matplotlib):        {charts_s * 1000:8.1f} ms")
        print(f"  similar pairs ({args.students * (args.students - 1) // 2} pairs):  {similar_s * 1000:8.1f} ms")
        print(f"  `autograder report` (whole command, median of 3): {command_s:.2f} s; "
              f"class-report.html {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
