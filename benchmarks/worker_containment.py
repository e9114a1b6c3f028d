"""What the kernel isolation of a worker costs: the seccomp filter, the fresh session keyring, the signal reset and
the keyring clearing of a leased uid (autograder/worker/seccomp.py, autograder/sandbox/isolation.py).

Starts N cold workers and N warm ones (forked from one zygote) with the filter on, then with it off
(``AUTOGRADER_SECCOMP=0``), each in a grader subprocess of its own, and prints the median time from
``Worker(...)`` to the answer of a first trivial cell; then the time of building and installing the filter alone
and of one :meth:`UidLease.take` (which forks to clear the uid's keyrings).

    .venv/bin/python benchmarks/worker_containment.py [--n 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

GRADER = r'''
import json, sys, time
from autograder.config import Limits
from autograder.sandbox import isolation, warm
from autograder.sandbox.process import Worker, WorkerSpec
n = int(sys.argv[1])
spec = WorkerSpec(limits=Limits(job_disk_mb=64))
isolation.probe()
out = {}
for kind in ("cold", "warm"):
    zygote = warm.zygote_for(spec.zygote_key(), spec.limits) if kind == "warm" else None
    times = []
    for _ in range(n):
        t = time.perf_counter()
        with Worker(spec, zygote=zygote) as worker:
            assert worker.request({"op": "run_cell", "source": "x = 1", "options": {}}, 60)["ok"]
            times.append(time.perf_counter() - t)
    out[kind] = times
t = time.perf_counter()
for _ in range(n):
    isolation.UidLease.take().release()
out["lease"] = [(time.perf_counter() - t) / n]
print(json.dumps(out))
'''

FILTER_ALONE = r'''
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("s", sys.argv[1]); s = importlib.util.module_from_spec(spec)
t = time.perf_counter(); spec.loader.exec_module(s); s.contain("worker", "require")
print((time.perf_counter() - t) * 1000)
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=15)
    n = parser.parse_args().n
    results = {}
    for label, value in (("filter off", "0"), ("filter on", "1"), ("filter off again", "0")):
        proc = subprocess.run([sys.executable, "-c", GRADER, str(n)], cwd=REPO, capture_output=True, text=True,
                              env={**os.environ, "AUTOGRADER_SECCOMP": value}, check=True)
        results[label] = json.loads(proc.stdout.splitlines()[-1])
    for kind in ("cold", "warm"):
        print(f"{kind} worker to its first cell, median of {n}: " + ", ".join(
            f"{label} {statistics.median(r[kind]) * 1000:.0f} ms" for label, r in results.items()))
    lease = results["filter on"]["lease"][0] * 1000
    print(f"UidLease.take + release (kill sweep, keyring clearing fork): {lease:.1f} ms")
    seccomp_py = REPO / "autograder" / "worker" / "seccomp.py"
    alone = [float(subprocess.run([sys.executable, "-I", "-S", "-c", FILTER_ALONE, str(seccomp_py)],
                                  capture_output=True, text=True, check=True).stdout) for _ in range(n)]
    print(f"loading seccomp.py + keyring + signals + building and installing the filter: "
          f"{statistics.median(alone):.2f} ms")


if __name__ == "__main__":
    main()
