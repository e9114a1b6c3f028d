"""End-to-end harness for nbgrader's formgrader: a real Jupyter server and a real headless Chromium.

Nothing is mocked. ``formgrader_server`` starts ``python -m jupyter_server`` in its own process group with
the nbgrader formgrader server extension, a random token, a free loopback port and throw-away
HOME / JUPYTER_* folders, so neither the user's Jupyter config nor an inherited ``JUPYTER_TOKEN`` or
``JUPYTER_PORT`` is read; the course's ``nbgrader_config.py`` is picked up because the formgrader loads
config from the server's cwd, which is the course root. ``browser_page`` drives Debian's
``/usr/bin/chromium`` through Playwright (its own browser download is not reachable) and aborts every
request that is not for a loopback address (the course's formgrader asks for none: its maths is MathML,
``autograder/nbgrader_pages.py``; nbgrader's own pages would ask a CDN for MathJax).

Authentication and XSRF (jupyter_server 2.21, tornado 6.6): a request that carries the token
(``Authorization: token ...`` or ``?token=...``) is exempt from the XSRF check
(``jupyter_server/base/handlers.py`` ``check_xsrf_cookie``: ``if self.token_authenticated ...: return``),
so ``Formgrader.api`` works for GET, PUT and POST without any ``_xsrf`` cookie. A browser that logged in
with ``?token=`` goes on with the login *cookie* alone, and then PUT/POST need the ``_xsrf`` cookie echoed
in an ``X-XSRFToken``/``X-CSRFToken`` header, which the formgrader's own JavaScript does
(``static/js/backbone_xsrf.js``). That login cookie must come from a plain jupyter_server URL: one set by a
``/formgrader/...?token=`` page has no Path (see ``login``), so ``open_formgrader`` logs in first.

The submission page's ``FormGrader.init`` waits for MathJax's start-up signal before it wires the keyboard
shortcuts (``formgrader/static/js/formgrade.js`` ``configureScrolling``); the course's template gives that signal
at once (no MathJax is loaded), so ``formgrader.loaded`` becomes true offline. The grade and comment boxes are
wired before that: wait for ``formgrader.grades.loaded`` when only they matter.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tests.conftest import require

if TYPE_CHECKING:
    from playwright.sync_api import Page, Response

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
FORMGRADER_EXTENSION = "nbgrader.server_extensions.formgrader"
READY_PATH = "/formgrader/api/assignments"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

# Records CSP violations before any script of the page runs (Playwright's init scripts are not the page's: no
# policy applies to them). Read back with page.evaluate("window.__csp").
WATCH_CSP = ("window.__csp = []; document.addEventListener('securitypolicyviolation', "
             "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")


def isolated_jupyter_env(base: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a Jupyter/nbgrader subprocess that reads no Jupyter config but the course's.

    HOME, JUPYTER_CONFIG_DIR, JUPYTER_DATA_DIR, JUPYTER_RUNTIME_DIR, IPYTHONDIR and TMPDIR point into
    ``base`` (created here); every inherited ``JUPYTER_*`` variable is dropped. ``JUPYTER_NO_CONFIG=1``
    also keeps the environment-wide config out (``.venv/etc/jupyter``: its ``jupyter_server_config.d``
    would load jupyterlab, notebook, jupyter_lsp, terminals and the other nbgrader extensions, a second
    slower); jupyter_core then ignores JUPYTER_CONFIG_DIR too and uses a fresh empty config dir that it
    makes under TMPDIR, so inside ``base``.
    ``nbgrader_config.py`` in the cwd is still read: nbgrader loads it on its own. The interpreter's own ``bin``
    folder goes first on PATH: nbgrader runs the ``alembic`` command by name for its migrations (a new
    gradebook is stamped in-process: ``autograder.gradebook.prepare_nbgrader``, via nbgrader_config.py).
    The python3 kernelspec is still found: it lives in the environment's ``share/jupyter`` and ipykernel
    provides it as the native kernel anyway.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_")}
    dirs = {
        "HOME": base / "home",
        "JUPYTER_CONFIG_DIR": base / "jupyter-config",
        "JUPYTER_DATA_DIR": base / "jupyter-data",
        "JUPYTER_RUNTIME_DIR": base / "jupyter-runtime",
        "IPYTHONDIR": base / "ipython",
        "TMPDIR": base / "tmp",
    }
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bindir, env.get("PATH", os.defpath)])
    env["JUPYTER_NO_CONFIG"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Formgrader:
    """A running formgrader: ``url`` is the server's base URL (no trailing slash)."""

    url: str
    token: str
    log_path: Path
    pid: int

    def api(
        self, method: str, path: str, json: Any = None, *, headers: Mapping[str, str] | None = None,
        timeout: float = 30,
    ) -> tuple[int, Any]:
        """Send ``method path`` with the token header and, if given, ``json`` as the body.

        Returns ``(status, body)`` for every status, errors included: the body parsed as JSON, else its
        text, else None when empty. ``path`` is a server path such as ``/formgrader/api/students``.
        """
        return http_request(method, self.url + path, json, headers={"Authorization": f"token {self.token}",
                                                                     **(headers or {})}, timeout=timeout)

    def log_tail(self, lines: int = 80) -> str:
        """The last ``lines`` lines of the server's log."""
        return _tail(self.log_path, lines)


def http_request(
    method: str, url: str, json_body: Any = None, *, headers: Mapping[str, str] | None = None,
    timeout: float = 30, opener: urllib.request.OpenerDirector | None = None,
) -> tuple[int, Any]:
    """A plain urllib request; returns ``(status, parsed JSON | text | None)`` without raising on HTTP errors.

    The default opener ignores proxy variables and does not follow redirects (a 302 comes back as 302).
    """
    data = None
    all_headers = {"Accept": "application/json", **(headers or {})}
    if json_body is not None or method.upper() in {"PUT", "POST", "PATCH"}:
        data = json.dumps(json_body).encode() if json_body is not None else b""
        all_headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, method=method.upper(), headers=all_headers)
    open_ = (opener or _NO_PROXY).open
    try:
        with open_(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        with err:
            status, raw = err.code, err.read()
    text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        return status, None
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report a redirect (e.g. jupyter_server's 302 to /login for an unauthenticated GET) as its status."""

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: Any, newurl: str) -> None:
        return None


# Loopback traffic must never go through an http_proxy from the environment, and redirects are not followed.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as err:
        return f"(no log: {err})"


def _stop(proc: subprocess.Popen[bytes], grace: float = 10) -> None:
    """SIGTERM the server, wait, SIGKILL it if needed; then kill whatever is left in its process group
    (kernels or terminals it started). Only the group that ``formgrader_server`` created is touched."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _start(
    course_root: Path, env: dict[str, str], token: str, log: IO[bytes], port: int
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable, "-m", "jupyter_server",
        "--no-browser",
        "--allow-root",  # CI runs as root; jupyter_server refuses to start as root without it
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--ServerApp.root_dir={course_root}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.jpserver_extensions", f"{FORMGRADER_EXTENSION}=True",
    ]
    return subprocess.Popen(cmd, cwd=course_root, env=env, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


@contextlib.contextmanager
def formgrader_server(
    course_root: Path, *, env: dict[str, str] | None = None, timeout: float = 60, log_path: Path | None = None
) -> Iterator[Formgrader]:
    """Run a real Jupyter server with the formgrader for the course in ``course_root``.

    ``env`` adds to (or overrides) the isolated environment. The server's stdout and stderr go to
    ``log_path`` (default: a file in the throw-away folder, deleted on exit). Waits until
    ``GET /formgrader/api/assignments`` answers 200; raises RuntimeError with the log if the server dies
    first and TimeoutError after ``timeout`` seconds. On exit the server, and anything it started, is gone.
    """
    course_root = Path(course_root).resolve()
    if not course_root.is_dir():
        raise FileNotFoundError(f"course root {course_root} is not a folder")
    scratch = Path(tempfile.mkdtemp(prefix="formgrader-harness-"))
    try:
        full_env = isolated_jupyter_env(scratch, env)
        log_file = Path(log_path) if log_path is not None else scratch / "jupyter-server.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(24)
        deadline = time.monotonic() + timeout
        for attempt in range(3):  # a port taken between choosing it and the server binding it: try another
            port = _free_port()
            with log_file.open("ab") as log:
                proc = _start(course_root, full_env, token, log, port)
            fg = Formgrader(url=f"http://127.0.0.1:{port}", token=token, log_path=log_file, pid=proc.pid)
            try:
                if _wait_ready(fg, proc, deadline):
                    break
            except BaseException:
                _stop(proc)
                raise
            _stop(proc)
            tail = fg.log_tail()
            if attempt < 2 and "is not available" in tail:
                continue
            raise RuntimeError(f"jupyter server exited with code {proc.returncode} before the formgrader "
                               f"answered; log {log_file}:\n{tail}")
        try:
            yield fg
        except Exception:
            print(f"--- jupyter server log ({log_file}) ---\n{fg.log_tail()}", file=sys.stderr)
            raise
        finally:
            _stop(proc)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _wait_ready(fg: Formgrader, proc: subprocess.Popen[bytes], deadline: float) -> bool:
    """True once the formgrader answers 200; False if the process exited; TimeoutError at the deadline."""
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            status, body = fg.api("GET", READY_PATH, timeout=5)
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as err:
            last = repr(err)
        else:
            if status == 200:
                return True
            last = f"HTTP {status}: {str(body)[:300]}"
        time.sleep(0.2)
    raise TimeoutError(f"formgrader at {fg.url} not ready ({last}); log {fg.log_path}:\n{fg.log_tail()}")


@contextlib.contextmanager
def browser_page(*, block_external: bool = True, timeout_ms: float = 15_000) -> Iterator[Page]:
    """A Playwright page in headless Debian Chromium with a fresh profile; everything closes at exit.

    Skips (fails under CI=true) when Playwright or /usr/bin/chromium is missing. With ``block_external``,
    requests for anything but loopback addresses (and data:/blob:/about:/file: URLs) are aborted.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "pip install playwright")
        raise  # not reached: require() skipped or failed
    require(CHROMIUM.exists(), "chromium is not installed: apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="formgrader-chromium-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            context.set_default_timeout(timeout_ms)
            if block_external:
                context.route("**/*", _loopback_only)
            page = context.pages[0] if context.pages else context.new_page()
            yield page
        finally:
            context.close()


def _loopback_only(route: Any) -> None:
    url = urllib.parse.urlsplit(route.request.url)
    if url.scheme in {"data", "blob", "about", "file"} or url.hostname in LOOPBACK_HOSTS:
        route.continue_()
    else:
        route.abort("blockedbyclient")


def formgrader_url(fg: Formgrader, path: str, *, with_token: bool = True) -> str:
    """``fg.url + path`` with ``token=...`` added to the query (kept with any query ``path`` has)."""
    parts = urllib.parse.urlsplit(fg.url + path)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    if with_token:
        query.append(("token", fg.token))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def login(page: Page, fg: Formgrader) -> None:
    """Log the page's browser context in, as an instructor who opened Jupyter first would be.

    The token has to be presented to a plain jupyter_server URL, not to a formgrader page: the login
    cookie's Path is the handler's ``base_url`` (``jupyter_server/auth/identity.py`` ``set_login_cookie``),
    and the formgrader's handlers strip the trailing slash off it (``nbgrader/server_extensions/formgrader/
    base.py`` ``BaseHandler.base_url``), so a cookie set by ``/formgrader/...?token=`` has no Path and only
    covers that page's folder: the page's own XHRs to ``/formgrader/api/...`` then get 302 to ``/login``.
    """
    response = page.request.get(formgrader_url(fg, "/api/status"))
    if response.status != 200:
        raise RuntimeError(f"login to {fg.url} failed: HTTP {response.status} {response.text()[:300]}")


def open_formgrader(page: Page, fg: Formgrader, path: str) -> Response | None:
    """Open ``fg.url + path`` (e.g. ``/formgrader/manage_students``) logged in, and wait for network idle.

    Logs the browser context in with the token first (see ``login``; cheap, so done every time), then
    navigates with ``?token=...`` on the URL as well; the page's own XHRs go with the login cookie and the
    ``_xsrf`` cookie, as for a real instructor. Returns the navigation's response.
    """
    login(page, fg)
    return page.goto(formgrader_url(fg, path), wait_until="networkidle")
