"""The formgrader harness's own failure paths (a server that dies, one that never answers).

The harness's normal use (a real Jupyter server with the formgrader on a real course, its REST API and
headless Chromium) is exercised by tests/test_nbgrader_course.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.formgrader_harness import formgrader_server


def _fake_jupyter_server(tmp_path: Path, main: str) -> dict[str, str]:
    """PYTHONPATH that shadows ``python -m jupyter_server`` with ``main``, to drive the harness's failure paths."""
    package = tmp_path / "shadow" / "jupyter_server"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(main)
    return {"PYTHONPATH": str(package.parent)}


def test_server_that_dies_raises_with_its_log(tmp_path: Path) -> None:
    env = _fake_jupyter_server(tmp_path, "import sys\nprint('fake server: boom', flush=True)\nsys.exit(3)\n")
    with pytest.raises(RuntimeError, match=r"(?s)exited with code 3 .*fake server: boom"):
        with formgrader_server(tmp_path, env=env, timeout=30):
            pytest.fail("the body must not run")


def test_server_that_never_answers_times_out_and_is_stopped(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    main = f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n"
    with pytest.raises(TimeoutError, match="not ready"):
        with formgrader_server(tmp_path, env=_fake_jupyter_server(tmp_path, main), timeout=2):
            pytest.fail("the body must not run")
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
