"""nbgrader's Validate button, in a real Notebook 7 server and headless Chromium, gives our visible checks' verdict.

The server reads the environment's Jupyter config (``.venv/etc/jupyter``: Notebook 7, nbgrader's extensions and
``autograder.student_server``, which `make venv` enables as a wheel install does) and nothing of the user's. The
student's folder is what ``fetch_assignment`` gives (the released 01 files and ``.autograder-checks.json``) with a
notebook whose ``output_size`` returns HTML that would run script if the dialog set it as markup.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from autograder.config import load_course
from autograder.samples import filled_in
from tests.conftest import REPO, descendants
from tests.formgrader_harness import _free_port, _stop, browser_page, isolated_jupyter_env

COURSE = load_course(REPO / "course.yml")
ARTIFACTS = Path(os.environ.get("AUTOGRADER_TEST_ARTIFACTS") or REPO / "test-artifacts")
HOSTILE = '<img src=x onerror="window.__validatePwned=1">'


def _student_folder(root: Path) -> Path:
    folder = root / "01_convolution"
    shutil.copytree(REPO / "assignments" / "01_convolution", folder)
    nb = filled_in(COURSE, COURSE.assignment("01_convolution"))
    cell = next(c for c in nb.cells if c.cell_type == "code" and "def output_size(" in c.source)
    cell.source = cell.source.replace("def output_size(", "def _right_output_size(") + (
        f"\n\ndef output_size(n, f, stride=1, padding=0):\n    return {HOSTILE!r}\n")
    nbformat.write(nb, str(folder / "convolution.ipynb"))
    slow = filled_in(COURSE, COURSE.assignment("01_convolution"))
    slow.cells.insert(1, nbformat.v4.new_code_cell("import time\ntime.sleep(8)"))
    nbformat.write(slow, str(folder / "slow.ipynb"))
    return folder


@pytest.fixture(scope="module")
def notebook_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path, int]]:
    """(url, token, student folder, pid) of a Notebook 7 server on a free loopback port, stopped at the end."""
    tmp = tmp_path_factory.mktemp("validate-button")
    root = tmp / "student"
    root.mkdir()
    folder = _student_folder(root)
    env = isolated_jupyter_env(tmp / "env")
    env.pop("JUPYTER_NO_CONFIG")  # the environment's config is what enables the extensions under test
    token, port = secrets.token_hex(16), _free_port()
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "notebook", "--no-browser", "--allow-root", "--ip=127.0.0.1",
                             f"--port={port}", "--port-retries=0", f"--ServerApp.root_dir={root}",
                             f"--IdentityProvider.token={token}"], cwd=root, env=env, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp / "server.log").read_text(errors="replace")[-3000:]) from None
                time.sleep(0.3)
        yield url, token, folder, proc.pid
    finally:
        _stop(proc)
        log.close()
        print((tmp / "server.log").read_text(errors="replace")[-2000:], file=sys.stderr)


def test_the_validate_handler_answers_with_the_visible_checks(notebook_server: tuple[str, str, Path, int]) -> None:
    url, token, _, pid = notebook_server
    request = urllib.request.Request(f"{url}/assignments/validate", method="POST",
                                     data=b"path=01_convolution/convolution.ipynb",
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=300) as response:
        answer = json.loads(response.read())
    assert answer["success"] is True, answer
    failed = answer["value"]["failed"]
    assert len(failed) == 1, failed  # output_size only: every other answer is the solution's
    assert failed[0]["raw_error"].startswith("Visible checks passed 6 of 7.")
    assert failed[0]["source"].startswith("assert size == 8, ")
    assert HOSTILE in failed[0]["raw_error"] and HOSTILE not in failed[0]["error"]
    assert "&lt;img src=x onerror=" in failed[0]["error"]
    # nothing of the check stays in the student's server: no worker, no zygote, no bubblewrap
    left = {p: Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ")[:120] for p in descendants(pid)}
    assert not left, left


def test_the_validate_button_shows_the_verdict_and_runs_nothing(notebook_server: tuple[str, str, Path, int]) -> None:
    url, token, _, _ = notebook_server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with browser_page(timeout_ms=60_000) as page:
        page.goto(f"{url}/notebooks/01_convolution/convolution.ipynb?token={token}")
        button = page.get_by_role("button", name=re.compile("Validate", re.I)).first
        button.wait_for(state="visible")
        button.click()
        dialog = page.locator(".jp-Dialog").filter(has_text="Validation Results")
        dialog.wait_for(state="visible", timeout=240_000)
        text = dialog.inner_text()
        page.screenshot(path=str(ARTIFACTS / "validate-button-01.png"))
        assert "Visible checks passed 6 of 7." in text, text
        assert "assert size == 8, " in text, text  # the statement where it stopped
        assert HOSTILE in text, "the student's value is shown as text"
        assert page.evaluate("window.__validatePwned") is None, "the student's HTML ran in the dialog"
        assert dialog.locator("img").count() == 0


def test_the_server_answers_while_a_check_runs(notebook_server: tuple[str, str, Path, int]) -> None:
    """The check runs in a thread: the student's other tabs and kernels do not wait for it (nbgrader's own handler
    would hold the server's event loop for the whole check)."""
    url, token, _, _ = notebook_server
    answer: list[dict[str, object]] = []

    def validate() -> None:
        request = urllib.request.Request(f"{url}/assignments/validate", method="POST",
                                         data=b"path=01_convolution/slow.ipynb",
                                         headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(request, timeout=300) as response:
            answer.append(json.loads(response.read()))

    check = threading.Thread(target=validate)
    check.start()
    time.sleep(2)  # the check has started: its notebook sleeps 8 s in the worker
    with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as response:
        assert response.status == 200
    assert check.is_alive(), "the check ended before the server was asked: this test did not test anything"
    check.join(timeout=300)
    assert answer and answer[0]["success"] is True and answer[0]["value"] == {}, answer
