"""The formgrader harness against a real, tiny nbgrader course: real `nbgrader` commands, a real Jupyter
server with the formgrader, real headless Chromium. The course is built once per module (about 10 s);
the tests that change a grade put it back, so each test sees the freshly autograded state."""

from __future__ import annotations

import http.cookiejar
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tests.formgrader_harness import (
    Formgrader,
    browser_page,
    formgrader_server,
    formgrader_url,
    http_request,
    isolated_jupyter_env,
    open_formgrader,
)

COURSE_ID = "cnn-formgrader-test"
ANSWER = "A convolution slides a small learned kernel over the image."


def _nbgrader_meta(grade_id: str, points: float, *, solution: bool, locked: bool) -> dict[str, Any]:
    return {"nbgrader": {"schema_version": 3, "grade": True, "solution": solution, "locked": locked,
                         "task": False, "points": points, "grade_id": grade_id}}


def _nbgrader(root: Path, env: dict[str, str], *args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"


@dataclass(frozen=True)
class Course:
    root: Path


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Course:
    """source/ps1 with one autograded test cell (q1, 2 points) and one manually graded markdown answer
    (q2, 3 points); released with `nbgrader generate_assignment`, submitted by alice, `nbgrader autograde`d."""
    base = tmp_path_factory.mktemp("formgrader")
    root = base / "course"
    (root / "source" / "ps1").mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        f'c.CourseDirectory.db_url = f"sqlite:///{root}/gradebook.db?timeout=30"\n'
    )
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"}})
    nb.cells = [
        new_markdown_cell("Explain what a convolution does.\n\nYOUR ANSWER HERE",
                          metadata=_nbgrader_meta("q2", 3, solution=True, locked=False)),
        new_code_cell("assert 1 + 1 == 2", metadata=_nbgrader_meta("q1", 2, solution=False, locked=True)),
    ]
    nbformat.write(nb, root / "source" / "ps1" / "ps1.ipynb")
    env = isolated_jupyter_env(base / "nbgrader-env")

    _nbgrader(root, env, "generate_assignment", "ps1")
    _nbgrader(root, env, "db", "student", "add", "alice", "--first-name=Alice", "--last-name=Liddell")

    released = nbformat.read(root / "release" / "ps1" / "ps1.ipynb", as_version=4)
    assert [c.metadata["nbgrader"]["grade_id"] for c in released.cells] == ["q2", "q1"]
    released.cells[0].source = ANSWER
    submitted = root / "submitted" / "alice" / "ps1"
    submitted.mkdir(parents=True)
    nbformat.write(released, submitted / "ps1.ipynb")
    (submitted / "timestamp.txt").write_text("2024-01-15 10:00:00.000000 UTC\n")

    _nbgrader(root, env, "autograde", "ps1")
    assert (root / "autograded" / "alice" / "ps1" / "ps1.ipynb").is_file()
    return Course(root=root)


@pytest.fixture(scope="module")
def fg(course: Course) -> Iterator[Formgrader]:
    with formgrader_server(course.root, timeout=60) as server:
        yield server


def _ok(fg: Formgrader, method: str, path: str, body: Any = None) -> Any:
    status, data = fg.api(method, path, body)
    assert status == 200, f"{method} {path} -> {status}: {data}"
    return data


def _submission_notebook_id(fg: Formgrader) -> str:
    rows = _ok(fg, "GET", "/formgrader/api/submitted_notebooks/ps1/ps1")
    assert [r["student"] for r in rows] == ["alice"]
    return str(rows[0]["id"])


def _grade(fg: Formgrader, name: str) -> dict[str, Any]:
    grades = _ok(fg, "GET", f"/formgrader/api/grades?submission_id={_submission_notebook_id(fg)}")
    by_name = {g["name"]: g for g in grades}
    assert set(by_name) == {"q1", "q2"}, grades
    return dict(by_name[name])


def _reset_manual_grade(fg: Formgrader, grade_id: str) -> None:
    data = _ok(fg, "PUT", f"/formgrader/api/grade/{grade_id}", {"manual_score": None, "extra_credit": None})
    assert data["manual_score"] is None and data["needs_manual_grade"] is True


def _artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("AUTOGRADER_TEST_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_server_is_isolated_and_serves_the_course(fg: Formgrader, course: Course) -> None:
    assert fg.url.startswith("http://127.0.0.1:") and len(fg.token) >= 32
    status, _ = http_request("GET", fg.url + "/formgrader/api/assignments")  # no token: sent to /login
    assert status == 302
    status, _ = http_request("PUT", fg.url + "/formgrader/api/student/mallory", {})  # no token: forbidden
    assert status == 403
    [assignment] = _ok(fg, "GET", "/formgrader/api/assignments")
    assert (assignment["name"], assignment["max_score"], assignment["num_submissions"]) == ("ps1", 5.0, 1)
    log = fg.log_path.read_text()
    assert "nbgrader.server_extensions.formgrader | extension was successfully loaded" in log
    assert str(course.root) in log  # root_dir is the course
    loaded = [line for line in log.splitlines() if "extension was successfully loaded" in line]
    assert len(loaded) == 1, loaded  # only the formgrader: the venv's jupyter_server_config.d is not read
    status, html = fg.api("GET", "/formgrader/manage_assignments")
    assert status == 200 and f'"course_id": "{COURSE_ID}"' in html  # the course's nbgrader_config.py


def test_submissions_list_alice_as_autograded(fg: Formgrader) -> None:
    [sub] = _ok(fg, "GET", "/formgrader/api/submissions/ps1")
    assert sub["student"] == "alice"
    assert (sub["first_name"], sub["last_name"]) == ("Alice", "Liddell")
    assert sub["autograded"] is True and sub["submitted"] is True
    assert (sub["score"], sub["max_score"]) == (2.0, 5.0)
    assert (sub["code_score"], sub["written_score"]) == (2.0, 0.0)
    assert sub["needs_manual_grade"] is True
    assert sub["timestamp"] == "2024-01-15T10:00:00"


def test_put_manual_score_and_read_it_back(fg: Formgrader) -> None:
    q2 = _grade(fg, "q2")
    assert (q2["auto_score"], q2["manual_score"], q2["max_score"]) == (None, None, 3.0)
    assert q2["cell_type"] == "markdown" and q2["needs_manual_grade"] is True
    try:
        put = _ok(fg, "PUT", f"/formgrader/api/grade/{q2['id']}", {"manual_score": 2.5})
        assert (put["id"], put["manual_score"], put["needs_manual_grade"]) == (q2["id"], 2.5, False)
        got = _ok(fg, "GET", f"/formgrader/api/grade/{q2['id']}")
        assert got["manual_score"] == 2.5
        sub = _ok(fg, "GET", "/formgrader/api/submission/ps1/alice")
        assert (sub["score"], sub["written_score"], sub["needs_manual_grade"]) == (4.5, 2.5, False)
        # POST works with the token alone too: flag and unflag the submitted notebook.
        nb_id = _submission_notebook_id(fg)
        assert _ok(fg, "POST", f"/formgrader/api/submitted_notebook/{nb_id}/flag")["flagged"] is True
        assert _ok(fg, "POST", f"/formgrader/api/submitted_notebook/{nb_id}/flag")["flagged"] is False
    finally:
        _reset_manual_grade(fg, q2["id"])
    assert fg.api("GET", "/formgrader/api/grade/no-such-grade")[0] == 404


def test_xsrf_rules(fg: Formgrader) -> None:
    """Token requests skip the XSRF check; a cookie-only session must echo the _xsrf cookie."""
    q2 = _grade(fg, "q2")
    url = f"{fg.url}/formgrader/api/grade/{q2['id']}"
    jar = http.cookiejar.CookieJar()
    session = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(jar))
    status, _ = http_request("GET", formgrader_url(fg, "/formgrader/api/status"), opener=session)
    assert status == 200
    xsrf = {c.name: c.value for c in jar}.get("_xsrf")
    assert xsrf, f"no _xsrf cookie after a formgrader GET: {[c.name for c in jar]}"
    try:
        status, _ = http_request("PUT", url, {"manual_score": 1.0}, opener=session)
        assert status == 403  # logged in by cookie, but no X-XSRFToken
        status, data = http_request("PUT", url, {"manual_score": 1.0}, opener=session,
                                    headers={"X-XSRFToken": xsrf})
        assert status == 200 and data["manual_score"] == 1.0
    finally:
        _reset_manual_grade(fg, q2["id"])


def test_submission_page_shows_score_boxes(fg: Formgrader, tmp_path: Path) -> None:
    q1, q2 = _grade(fg, "q1"), _grade(fg, "q2")
    nb_id = _submission_notebook_id(fg)
    _ok(fg, "PUT", f"/formgrader/api/grade/{q2['id']}", {"manual_score": 1.5})
    try:
        with browser_page() as page:
            response = open_formgrader(page, fg, f"/formgrader/submissions/{nb_id}/?index=0")
            assert response is not None and response.status == 200
            page.wait_for_function("() => window.formgrader && formgrader.grades && formgrader.grades.loaded")
            page.screenshot(path=str(_artifacts(tmp_path) / "formgrader-submission-alice.png"), full_page=True)

            assert page.title() == "ps1"
            assert "Submission 1 / 1" in page.inner_text(".panel-title")
            assert ANSWER in page.inner_text("#notebook")
            manual, auto = page.locator("input.score#q2"), page.locator("input.score#q1")
            assert manual.count() == 1 and auto.count() == 1
            assert manual.input_value() == "1.5"  # manual score from the gradebook
            assert auto.input_value() == "" and auto.get_attribute("placeholder") == "2"  # auto score
            assert page.locator("input.extra-credit#q2_extra_credit").count() == 1
            assert page.locator("textarea#q2-comment").count() == 1

            # Grade as an instructor would: the page saves through its own XHR (cookie + X-CSRFToken).
            with page.expect_response(lambda r: f"/formgrader/api/grade/{q2['id']}" in r.url
                                      and r.request.method == "PUT") as saved:
                manual.fill("3")
                manual.blur()
            assert saved.value.status == 200
        assert _grade(fg, "q2")["manual_score"] == 3.0
        assert _grade(fg, "q1") == q1
    finally:
        _reset_manual_grade(fg, q2["id"])


def test_manage_students_page_lists_alice(fg: Formgrader) -> None:
    with browser_page() as page:
        response = open_formgrader(page, fg, "/formgrader/manage_students")
        assert response is not None and response.status == 200
        page.wait_for_function("() => window.models && models.loaded")
        rows = page.locator("#main-table tr")
        assert rows.count() == 1
        assert rows.locator("td.id").inner_text() == "alice"
        assert rows.locator("td.name").inner_text() == "Liddell, Alice"
        assert rows.locator("td.score").inner_text() == "2 / 5"
        link = rows.locator("td.name a").get_attribute("href")
        assert link == "/formgrader/manage_students/alice"


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
