"""benchmarks/gpu_runner.py, the GPU runner's check, runs end to end (here on the cpu profile's 04 recipe: the same
code path as the gpu profile, without a download). Without a GPU it refuses unless told to run on the CPU."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

CMD = [sys.executable, str(REPO / "benchmarks" / "gpu_runner.py"), "--runner", "cpu", "--no-fetch",
       "--assignments", "04_transfer_learning"]


def run(*extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CMD, *extra], cwd=REPO, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)


def test_without_a_gpu_it_refuses_unless_allowed() -> None:
    proc = run()
    if "devices: CPU only" in proc.stdout:
        assert proc.returncode == 2, proc.stdout + proc.stderr[-2000:]
        assert "No GPU is visible to TensorFlow" in proc.stdout and "--allow-cpu" in proc.stdout
    else:  # a machine with a GPU: the check runs
        assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]


def test_it_trains_the_reference_and_says_whether_the_threshold_holds() -> None:
    proc = run("--allow-cpu")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    line = re.search(r"^04_transfer_learning \[cpu\] on .*: accuracy (0\.\d+), threshold 0\.9 holds; "
                     r"data \d+\.\d s, training \d+\.\d s$", proc.stdout, re.MULTILINE)
    assert line and float(line.group(1)) >= 0.9, proc.stdout
    assert proc.stdout.rstrip().endswith("every threshold holds")
