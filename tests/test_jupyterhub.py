"""Issue 21: the course on a real JupyterHub, as nbgrader courses run: a student logs in, fetches, edits,
validates and submits in the browser; the instructor collects, grades and releases feedback; the student fetches
the feedback and reads it.

Nothing is mocked. The recipe's own files (deploy/jupyterhub/: jupyterhub_config.py unchanged, setup-host.sh,
the students' nbgrader_config.py) run a real JupyterHub on 127.0.0.1 with its real proxy (configurable-http-proxy
from npm), PAM logins and LocalProcessSpawner: the student is a real Unix account made for the test (useradd,
removed afterwards), whose Jupyter server runs as that account, so nbgrader's exchange sees a real student, with
real file permissions between the student and the instructor (root here, in a course folder only root can read).
The command line overrides only the ports, the hub's state files and the folder of the students' global Jupyter
config (JUPYTER_CONFIG_PATH: setup-host.sh fills a temporary one, not /etc/jupyter). The browser is Debian's
headless Chromium through Playwright; every step leaves a screenshot in test-artifacts/jupyterhub/.

The venv must be usable by the student: where a folder above it (or above the interpreter it was made from, or
the checkout its editable autograder lives in) is closed to other users (pyenv under /root here), the test gives
the student's account search (x) permission on that folder alone with a POSIX ACL, and takes it back at the end.
Needs root (useradd, setuid), configurable-http-proxy, setfacl and chromium: `.ci/system-deps` installs them;
under CI=true a missing one fails with what to install.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest

from autograder.config import Course, load_course
from autograder.demo import make_course_copy
from tests.conftest import REPO, require, run_cli
from tests.formgrader_harness import browser_page, isolated_jupyter_env

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.slow

DEPLOY = REPO / "deploy" / "jupyterhub"
ARTIFACTS = Path(os.environ.get("AUTOGRADER_TEST_ARTIFACTS") or REPO / "test-artifacts") / "jupyterhub"
AID, NOTEBOOK = "01_convolution", "convolution"
GROUP = "cnn-students"  # jupyterhub_config.py's PAMAuthenticator.allowed_groups
BIN = Path(sys.executable).parent
# The student's answer to section 2, typed into the notebook: output_size's visible checks then pass
OUTPUT_SIZE = '''def output_size(n, f, stride=1, padding=0):
    for value in (n, f, stride, padding):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{value!r} is not an int")
    if n < 1 or f < 1 or stride < 1 or padding < 0 or f > n + 2 * padding:
        raise ValueError("the filter does not fit")
    return (n - f + 2 * padding) // stride + 1
'''


@dataclass
class Hub:
    url: str
    student: str
    password: str
    home: Path
    course: Course
    env: dict[str, str]
    log: Path
    exchange: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(*cmd: str | os.PathLike[str], input: str | None = None, env: dict[str, str] | None = None,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(c) for c in cmd], input=input, capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=300, stdin=None if input is not None else subprocess.DEVNULL)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
    return proc


def _requirements() -> None:
    require(sys.platform == "linux" and os.geteuid() == 0,
            "the JupyterHub test needs root (it creates Unix users and the hub starts their servers with setuid): "
            "run the tests as root, as CI does")
    require(shutil.which("configurable-http-proxy") is not None,
            "JupyterHub's proxy is missing: npm install -g configurable-http-proxy (.ci/system-deps does)")
    require(shutil.which("setfacl") is not None, "setfacl is missing: apt-get install acl (.ci/system-deps does)")
    require((BIN / "jupyterhub").exists(), "JupyterHub is missing from the venv: make venv (requirements-dev.txt)")


def _closed_folders(paths: list[Path]) -> list[Path]:
    """The folders above (and including the folders among) ``paths`` that other users cannot search."""
    closed: list[Path] = []
    for path in paths:
        for folder in [*reversed(path.parents), path] if path.is_dir() else reversed(path.parents):
            if not folder.stat().st_mode & stat.S_IXOTH and folder not in closed:
                closed.append(folder)
    return closed


@contextlib.contextmanager
def unix_student(tag: str) -> Iterator[tuple[str, str, Path]]:
    """A fresh Unix account in the course's group, with a password; deleted (with its processes and home) at exit."""
    name = f"agst{tag}"
    password = secrets.token_urlsafe(12)
    _run("useradd", "--create-home", "--shell", "/bin/bash", "--groups", GROUP, name)
    try:
        _run("chpasswd", input=f"{name}:{password}\n")
        yield name, password, Path(f"/home/{name}")
    finally:
        for line in subprocess.run(["ps", "-o", "pid=", "-u", name], capture_output=True, text=True).stdout.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(line), signal.SIGKILL)
        time.sleep(0.2)
        subprocess.run(["userdel", "--remove", name], capture_output=True)


@contextlib.contextmanager
def search_permission(user: str, folders: list[Path]) -> Iterator[None]:
    """``user`` may search (x) ``folders`` (a POSIX ACL entry each), until exit."""
    done: list[tuple[Path, bool]] = []
    try:
        for folder in folders:
            had_acl = bool(_run("getfacl", "--skip-base", "--omit-header", "--absolute-names", folder).stdout.strip())
            _run("setfacl", "-m", f"u:{user}:x", folder)
            done.append((folder, had_acl))
        yield
    finally:
        for folder, had_acl in done:  # as it was: without an ACL (setfacl -x would leave a mask entry behind)
            subprocess.run(["setfacl", "-x", f"u:{user}", str(folder)] if had_acl else ["setfacl", "-b", str(folder)],
                           capture_output=True)


@contextlib.contextmanager
def jupyterhub(state: Path, config_dir: Path, log: Path) -> Iterator[str]:
    """The recipe's jupyterhub_config.py, unchanged but for ports, state files and the students' config folder."""
    port, hub_port, api_port = _free_port(), _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "CONFIGPROXY"))}
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", os.defpath)])
    cmd = [
        str(BIN / "jupyterhub"), "-f", str(DEPLOY / "jupyterhub_config.py"),
        f"--JupyterHub.bind_url=http://127.0.0.1:{port}",
        f"--JupyterHub.hub_bind_url=http://127.0.0.1:{hub_port}",
        f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{api_port}",
        f"--JupyterHub.db_url=sqlite:///{state / 'jupyterhub.sqlite'}",
        f"--JupyterHub.cookie_secret_file={state / 'jupyterhub_cookie_secret'}",
        f"--ConfigurableHTTPProxy.pid_file={state / 'jupyterhub-proxy.pid'}",
        f"--Spawner.environment=JUPYTER_CONFIG_PATH={config_dir}",
    ]
    url = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=state, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"jupyterhub exited {proc.returncode}:\n{log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"jupyterhub did not answer in 60 s:\n{log.read_text()[-4000:]}"
            with contextlib.suppress(OSError, urllib.error.URLError):
                with urllib.request.urlopen(f"{url}/hub/api", timeout=5) as answer:
                    if answer.status == 200:
                        break
            time.sleep(0.3)
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # the hub stops the students' servers and its proxy
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def hub() -> Iterator[Hub]:
    _requirements()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in [*ARTIFACTS.glob("*.png"), *ARTIFACTS.glob("*.log")]:
        old.unlink()
    base = Path(tempfile.mkdtemp(prefix="ag-jupyterhub-"))
    group_existed = subprocess.run(["getent", "group", GROUP], capture_output=True).returncode == 0
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, base, ignore_errors=True)
        if not group_existed:
            stack.callback(subprocess.run, ["groupdel", GROUP], capture_output=True)
        base.chmod(0o755)  # the exchange and the students' config below it must be reachable by students
        exchange, config_dir, state = base / "exchange", base / "students-jupyter-config", base / "hub"
        state.mkdir(mode=0o700)
        # The recipe's host setup: the group, the exchange, the students' nbgrader_config.py, the Validate extension
        _run("bash", DEPLOY / "setup-host.sh",
             env={**os.environ, "VENV": sys.prefix, "EXCHANGE": str(exchange), "CONFIG_DIR": str(config_dir)})
        name, password, home = stack.enter_context(unix_student(secrets.token_hex(3)))
        stack.enter_context(search_permission(name, _closed_folders(
            [Path(sys.executable).resolve(), Path(sys.prefix), Path(sys.base_prefix).resolve(), REPO, base])))
        probe = subprocess.run(["runuser", "-u", name, "--", sys.executable, "-c", "import os, sys, autograder, "
                                "jupyterhub, nbgrader; [os.listdir(p) for p in sys.argv[1:]]", config_dir, exchange],
                               capture_output=True, text=True)
        assert probe.returncode == 0, f"the venv {sys.prefix} is not usable by the student {name}:\n{probe.stderr}"
        # The instructor's course folder (only root can read it): the course, its exchange, the roster, released
        course = make_course_copy(load_course(REPO / "course.yml"), base / "course")
        assert f'c.CourseDirectory.course_id = "{course.course_id}"' in (DEPLOY / "nbgrader_config.py").read_text(), \
            f"deploy/jupyterhub/nbgrader_config.py must name course.yml's course_id, {course.course_id!r}"
        (base / "course").chmod(0o700)
        with (course.root / "nbgrader_config.py").open("a") as f:
            f.write(f"c.Exchange.root = {str(exchange)!r}\n")
        env = isolated_jupyter_env(base / "instructor")
        record("autograder release", run_cli("release", AID, cwd=course.root, env=env))
        record("nbgrader db student add", _nbgrader("db", "student", "add", name, "--first-name=Ada",
                                                    "--last-name=Student", cwd=course.root, env=env))
        record("nbgrader release_assignment", _nbgrader("release_assignment", AID, cwd=course.root, env=env))
        modes = {d: stat.S_IMODE((exchange / course.course_id / d).stat().st_mode) for d in ("outbound", "inbound")}
        assert modes == {"outbound": 0o755, "inbound": 0o2733}, modes  # as the README says
        url = stack.enter_context(jupyterhub(state, config_dir, ARTIFACTS / "jupyterhub.log"))
        yield Hub(url=url, student=name, password=password, home=home, course=course, env=env,
                  log=ARTIFACTS / "jupyterhub.log", exchange=exchange)


def _nbgrader(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


def record(what: str, proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """An instructor's command, which must exit 0; its output goes to test-artifacts/jupyterhub/instructor.log."""
    with (ARTIFACTS / "instructor.log").open("a") as out:
        out.write(f"$ {what} (exit {proc.returncode})\n{proc.stdout}{proc.stderr}\n")
    assert proc.returncode == 0, f"{what} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
    return proc


_last_shot = [time.monotonic()]


def shot(page: Page, name: str) -> None:
    """A screenshot of the step ``name``; steps.log gets the seconds since the previous one."""
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    now = time.monotonic()
    with (ARTIFACTS / "steps.log").open("a") as out:
        out.write(f"{name}: {now - _last_shot[0]:.1f} s\n")
    _last_shot[0] = now


def open_assignments(page: Page, hub: Hub) -> None:
    """Notebook 7's file browser, then nbgrader's Assignments tab (menu Nbgrader > Assignment List)."""
    page.goto(f"{hub.url}/user/{hub.student}/tree")
    page.get_by_role("menuitem", name="Nbgrader").click()
    page.get_by_role("menuitem", name="Assignment List").click()
    page.locator("#released_assignments_list, #fetched_assignments_list").first.wait_for()


def test_student_and_instructor_on_jupyterhub(hub: Hub) -> None:
    with browser_page(timeout_ms=60_000) as page:
        try:
            _student_and_instructor(page, hub)
        except BaseException:
            shot(page, "failed-here")
            print(f"--- the page at the failure ({page.url}) ---\n{page.locator('body').inner_text()[-3000:]}\n"
                  f"--- jupyterhub.log ---\n{hub.log.read_text(errors='replace')[-6000:]}", file=sys.stderr)
            raise


def _student_and_instructor(page: Page, hub: Hub) -> None:
    _last_shot[0] = time.monotonic()
    # Log in with the Unix password; the hub starts the student's server as the student
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", hub.student)
    page.fill("#password_input", hub.password)
    shot(page, "01-login")
    page.click("#login_submit")
    page.wait_for_url(re.compile(rf"/user/{hub.student}/tree"), timeout=120_000)
    owner = subprocess.run(["ps", "-ww", "-o", "args=", "-u", hub.student], capture_output=True, text=True).stdout
    assert "jupyterhub-singleuser" in owner, f"no server runs as {hub.student}:\n{owner}"
    open_assignments(page, hub)
    row = page.locator("#released_assignments_list .list_item", has_text=AID)
    row.wait_for()
    shot(page, "02-assignments-released")
    row.get_by_role("button", name="Fetch").click()
    fetched = page.locator("#fetched_assignments_list .list_item", has_text=AID)
    fetched.wait_for()
    notebook_file = hub.home / AID / f"{NOTEBOOK}.ipynb"
    assert notebook_file.stat().st_uid == _uid(hub.student), "the fetched notebook is not the student's"
    shot(page, "03-fetched")

    # Open the notebook, answer output_size, save
    page.goto(f"{hub.url}/user/{hub.student}/notebooks/{AID}/{NOTEBOOK}.ipynb")
    cell = page.locator(".jp-CodeCell", has_text="def output_size").first
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(OUTPUT_SIZE)
    page.keyboard.press("Escape")
    page.locator("[data-command='docmanager:save']").first.click()  # the toolbar's Save
    deadline = time.monotonic() + 30
    while "return (n - f + 2 * padding) // stride + 1" not in _cell_sources(notebook_file):
        assert time.monotonic() < deadline, "the edited notebook was not saved"
        page.wait_for_timeout(300)  # not time.sleep: the page's requests pass the route only while Playwright runs
    shot(page, "04-notebook-edited")

    # Validate: our visible checks' verdict in nbgrader's dialog
    page.locator(".validate-button").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    dialog.get_by_text(re.compile("Visible checks passed")).first.wait_for(timeout=180_000)
    verdict = dialog.inner_text()
    shot(page, "05-validate")
    assert re.search(r"Visible checks passed [1-9]\d* of \d+", verdict), verdict
    assert "zero_pad" in verdict, verdict  # a check that did not pass, with its statement
    _memory(hub, "the student's server and kernel, after Validate")
    dialog.get_by_role("button").last.click()

    # Submit from the Assignments tab
    open_assignments(page, hub)
    page.locator("#fetched_assignments_list .list_item", has_text=AID).get_by_role(
        "button", name="Submit").click()
    page.locator("#submitted_assignments_list .list_item", has_text=AID).wait_for()
    shot(page, "06-submitted")

    # The instructor, in the course folder
    root, env = hub.course.root, hub.env
    record("nbgrader collect", _nbgrader("collect", AID, cwd=root, env=env))
    assert (root / "submitted" / hub.student / AID / f"{NOTEBOOK}.ipynb").exists()
    record("autograder grade", run_cli("grade", AID, "submitted/", "--no-progress", cwd=root, env=env))
    result = json.loads((root / "grades" / AID / hub.student / "results.json").read_text())
    assert result["status"] == "graded" and result["score"] > 0, result  # output_size earned its points
    record("autograder feedback", run_cli("feedback", AID, cwd=root, env=env))
    record("nbgrader release_feedback", _nbgrader("release_feedback", AID, cwd=root, env=env))
    feedback_dir = hub.exchange / hub.course.course_id / "feedback"
    assert stat.S_IMODE(feedback_dir.stat().st_mode) == 0o711, oct(feedback_dir.stat().st_mode)
    submissions = list((hub.exchange / hub.course.course_id / "inbound").iterdir())
    assert [p.stat().st_uid for p in submissions] == [_uid(hub.student)], submissions  # the student's own

    # The student fetches the feedback and reads it
    open_assignments(page, hub)
    submitted = page.locator("#submitted_assignments_list .list_item", has_text=AID)
    submitted.get_by_role("button", name=re.compile("Fetch Feedback", re.I)).click()
    view = submitted.get_by_text("(view feedback)")
    view.wait_for()
    shot(page, "07-feedback-fetched")
    html_files = list((hub.home / AID / "feedback").glob(f"*/{NOTEBOOK}.html"))
    assert len(html_files) == 1, html_files
    assert html_files[0].stat().st_uid == _uid(hub.student), "the fetched feedback is not the student's"
    view.click()  # nbgrader's link: the file browser in the feedback's folder
    page.get_by_text(f"{NOTEBOOK}.html").first.wait_for()
    shot(page, "08-feedback-folder")
    relative = html_files[0].relative_to(hub.home)
    page.goto(f"{hub.url}/user/{hub.student}/files/{relative}")
    page.get_by_text(f"{NOTEBOOK} (Score: ").first.wait_for()
    shot(page, "09-feedback")


def _memory(hub: Hub, what: str) -> None:
    """The resident memory of every process of the student, in steps.log (how a hub of many students scales)."""
    ps = subprocess.run(["ps", "-o", "rss=,comm=", "-u", hub.student], capture_output=True, text=True).stdout
    rows = [line.split(None, 1) for line in ps.splitlines() if line.strip()]
    total = sum(int(kb) for kb, _ in rows) / 1024
    with (ARTIFACTS / "steps.log").open("a") as out:
        out.write(f"memory, {what}: {total:.0f} MiB resident in {len(rows)} processes "
                  f"({', '.join(sorted(name.strip() for _, name in rows))})\n")


def _uid(name: str) -> int:
    import pwd
    return pwd.getpwnam(name).pw_uid


def _cell_sources(path: Path) -> str:
    try:
        return "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
    except (OSError, ValueError):
        return ""
