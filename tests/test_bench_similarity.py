"""benchmarks/similarity.py runs end to end on a small class and prints its figures (no timing is asserted).

A class of 30: one copy group, two canonical fills (fewer than the common cut of 4: without a reference they
score as a copy, which the benchmark reports and does not count against the ranking), the stub, independents.
"""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO


def test_benchmark_prints_its_figures_and_the_ranking_holds() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "similarity.py"), "--n", "30"], cwd=REPO,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    assert "hand-written answers: 12 of 12 agree with the course solution" in out, out
    assert re.search(r"^class: 30 notebooks: 1 copy groups \(\d students\), 2 canonical fills", out, re.M), out
    assert len(re.findall(r"prepare: \d+\.\d\d s for 30 notebooks", out)) == 2, out
    assert len(re.findall(r"rank \(top 20 with their regions\): \d+\.\d\d s; \d+ of 435 pairs", out)) == 2, out
    ranking = re.findall(r"ranking: min copy-pair score (\d\.\d+), max independent-pair score (\d\.\d+): holds", out)
    assert len(ranking) == 2 and all(float(low) > float(high) for low, high in ranking), out
    canonical = re.findall(r"canonical fills: max pair score (\d\.\d+) over 1 pairs", out)
    assert canonical == ["1.000", "0.000"], out  # the limit without a reference; none with the solution as one
