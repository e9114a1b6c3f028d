"""benchmarks/vs_nbgrader.py runs end to end: real nbgrader and our CLI grade the same two notebooks.

A smoke test of the benchmark itself (it prints figures; no timing is asserted here): it builds its nbgrader
course with ``nbgrader generate_assignment``, both tools grade two copies of the picture-free 01 solution,
and the benchmark refuses to print a summary unless each gave every student full marks.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO, require

pytestmark = pytest.mark.slow


def test_benchmark_compares_both_tools_on_two_notebooks() -> None:
    require(importlib.util.find_spec("ipykernel") is not None,
            "nbgrader's autograde runs notebooks in a Python kernel: pip install ipykernel")
    # --jobs 1: no local cluster (two notebooks); the benchmark's parallel rows are the same code
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "vs_nbgrader.py"), "--copies", "2",
                           "--assignment", "01_convolution", "--jobs", "1"], cwd=REPO, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    assert re.search(r"^machine: \d+ cores", out, re.MULTILINE), out
    # both tools, full marks for each of the two students (the benchmark exits 1 otherwise, naming who)
    assert "marks: 2 of 2 at 20/20 (+2 written, for a TA)" in out, out  # nbgrader's gradebook
    assert "marks: 2 of 2 graded at 20/20" in out, out  # our results.json files
    assert "marks: 1 of 1 graded at 20/20" in out, out  # the cold single submission
    # the ratio line of the batch, and the summary rows with a ratio against nbgrader
    assert re.search(r"autograder .* 2 notebooks in .* s/notebook, nbgrader/ours \d+\.\d\dx", out), out
    rows = [line.split() for line in out.splitlines() if line.startswith("01_convolution ")]
    assert [r[1] for r in rows].count("nbgrader") == 2, out
    ours = [r for r in rows if r[1] == "autograder"]
    assert ours and all(any(re.fullmatch(r"\d+\.\d\dx", cell) for cell in r) for r in ours), out
