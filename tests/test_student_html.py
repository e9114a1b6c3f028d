"""Issue 20: a student's Markdown, raw cells and outputs run no script and fetch nothing in any page that shows them.

One course, one grading run: the hostile submission tests/fixtures/markdown_runs_script_in_the_formgrader.ipynb
(made by tests/fixtures/make_student_html_fixture.py; its docstring states the expected outcome) with an
``evil.html`` beside it, aimed at a loopback listener, handed in by two students and graded by `autograder grade`
(sandbox, then nbgrader's autograde with our preprocessors). mallory's autograded notebook is what the pipeline
wrote; oscar's is then replaced by the submission itself, outputs and all, as a notebook autograded before the
sanitiser existed would be (the sanitiser must then act when nbgrader renders it). Then, in headless Chromium: the
formgrader as a TA opens both (real Jupyter server), nbgrader's HTML feedback (`autograder feedback`, i.e.
generate_feedback) and our feedback.html. In each:
nothing sets ``window.__pwned`` or the title, no grade changes (nbgrader's Gradebook API), no request reaches the
listener nor leaves for any other host but the formgrader itself (the maths is MathML: no MathJax, no CDN), no
Content-Security-Policy violation is reported (our content does not need one blocked, and the formgrader works under
its policy), and the TA still reads the answer's text.
"""

from __future__ import annotations

import html.parser
import os
import re
import socket
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.config import Course, load_course
from autograder.demo import make_course_copy
from autograder.nbgrader_bridge import FORMGRADER_CSP, SUBMISSION_FILE_CSP
from autograder.sanitise import ALLOWED_TAGS, NBGRADER_FEEDBACK_CSP, SELF_CONTAINED_PAGE_CSP, csp_meta
from tests.conftest import FIXTURES, REPO, loopback_listener, run_cli
from tests.fixtures.make_student_html_fixture import EVIL_HTML, PORT, VISIBLE, VISIBLE_OUTPUTS
from tests.formgrader_harness import WATCH_CSP as WATCH
from tests.formgrader_harness import browser_page, formgrader_server, isolated_jupyter_env, open_formgrader

if TYPE_CHECKING:
    from playwright.sync_api import Page, Request

pytestmark = pytest.mark.slow

AID, NOTEBOOK, STUDENT, OLD = "01_convolution", "convolution", "mallory", "oscar"
HOSTILE = FIXTURES / "markdown_runs_script_in_the_formgrader.ipynb"


@dataclass
class World:
    root: Path
    course: Course
    env: dict[str, str]
    port: int
    received: list[bytes]
    grades_before: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    @property
    def db(self) -> str:
        return f"sqlite:///{self.root / 'gradebook.db'}"


def grades(world: World) -> dict[str, tuple[Any, ...]]:
    """Every grade of the hostile submissions, as nbgrader's Gradebook has it."""
    with Gradebook(world.db, world.course.course_id) as gb:
        return {f"{sid}/{g.name}": (g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade)
                for sid in (STUDENT, OLD) for g in gb.find_submission_notebook(NOTEBOOK, AID, sid).grades}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("student-html")
    received: list[bytes] = []
    listener = loopback_listener(received)
    port = int(listener.getsockname()[1])
    try:
        course = make_course_copy(load_course(REPO / "course.yml"), base / "course")
        w = World(root=course.root, course=course, env=isolated_jupyter_env(base / "jupyter"), port=port,
                  received=received)
        proc = run_cli("--course", w.root / "course.yml", "release", AID, cwd=w.root)
        assert proc.returncode == 0, proc.stderr
        hostile = HOSTILE.read_text().replace(str(PORT), str(port))
        for sid in (STUDENT, OLD):
            folder = w.root / "submitted" / sid / AID
            folder.mkdir(parents=True)
            (folder / f"{NOTEBOOK}.ipynb").write_text(hostile)
            (folder / "evil.html").write_text(EVIL_HTML.replace(str(PORT), str(port)))
        with Gradebook(w.db, course.course_id) as gb:
            gb.add_student(STUDENT, first_name="Mal", last_name="Lory")
            gb.add_student(OLD, first_name="Os", last_name="Car")
        proc = run_cli("--course", w.root / "course.yml", "grade", AID, "submitted/", "--no-progress", cwd=w.root)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "Gradebook: 2 of 2 recorded" in proc.stdout, proc.stdout
        (w.root / "autograded" / OLD / AID / f"{NOTEBOOK}.ipynb").write_text(hostile)
        w.grades_before = grades(w)
        yield w
    finally:
        listener.close()


class Structure(html.parser.HTMLParser):
    """Every element and attribute of an HTML text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(tag, k, v or "") for k, v in attrs]


def assert_inert(fragment: str, where: str) -> None:
    """Only allow-listed elements, no event handler, no URL but a raster data: image."""
    parsed = Structure()
    parsed.feed(fragment)
    assert set(parsed.tags) <= ALLOWED_TAGS, (where, set(parsed.tags) - ALLOWED_TAGS)
    for tag, name, value in parsed.attributes:
        assert not name.startswith("on") and name not in ("href", "style", "id", "name", "srcdoc"), (where, tag, name)
        if name == "src":
            assert re.match(r"data:image/(png|jpeg|gif);base64,", value), (where, value[:80])


def test_the_autograded_notebook_keeps_the_text_and_nothing_that_runs(world: World) -> None:
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    nb = nbformat.read(str(world.root / "autograded" / STUDENT / AID / f"{NOTEBOOK}.ipynb"), 4)
    text = nbformat.writes(nb)
    for marker in VISIBLE:
        assert marker in text
    assert "widgets" not in nb.metadata
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":  # rendered as the formgrader renders it (raw HTML passes through)
            assert_inert(MarkdownWithMath(renderer=IPythonRenderer(escape=False)).render(cell.source), f"cell {index}")
        elif cell.cell_type == "raw":
            assert_inert(cell.source, f"raw cell {index}")
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            assert set(data) <= {"text/plain", "text/html", "text/markdown", "image/png"}, (index, set(data))
            assert_inert(data.get("text/html", ""), f"cell {index}: text/html")
            assert set(output.get("metadata", {})) <= {"image/png"}
    # the score is the sandbox's, the student's file is untouched
    assert world.grades_before[f"{STUDENT}/convolve2d"][0] == 6.0
    assert world.grades_before[f"{STUDENT}/padding_written"][1:3] == (None, None)
    submitted = (world.root / "submitted" / STUDENT / AID / f"{NOTEBOOK}.ipynb").read_text()
    assert "<script>window.__pwned = 'script'" in submitted


def _watch(page: Page, world: World) -> list[str]:
    """The URLs the page requests that are not loopback pages of the test (appended as they go),
    but for those its Content-Security-Policy blocked. (The harness aborts any request for another host; such a
    request is still counted here: it would have left.)"""
    seen: list[str] = []

    def on_request(request: Request) -> None:
        url = urllib.parse.urlsplit(request.url)
        if url.scheme in ("data", "about", "blob"):
            return
        if url.scheme == "file" or (url.hostname == "127.0.0.1" and url.port != world.port):
            return
        seen.append(request.url)

    def on_failed(request: Request) -> None:
        if request.failure in ("csp", "net::ERR_BLOCKED_BY_CSP") and request.url in seen:
            seen.remove(request.url)  # the policy stopped it before it left (Chromium still reports it)

    page.on("request", on_request)
    page.on("requestfailed", on_failed)
    page.add_init_script(WATCH)
    _received(world)  # what earlier pages sent is theirs
    return seen


def _assert_nothing_ran(page: Page, world: World, outside: list[str], title: str, *,
                        allowed_violations: tuple[str, ...] = ()) -> None:
    page.wait_for_timeout(1000)  # time for a payload's timers and image loads
    assert page.evaluate("() => window.__pwned") is None
    assert page.title() == title
    assert [v for v in page.evaluate("() => window.__csp") if v not in allowed_violations] == []
    assert outside == [] and _received(world) == []


def _received(world: World) -> list[bytes]:
    with socket.create_connection(("127.0.0.1", world.port), timeout=5):
        pass  # one connection of our own, so everything the listener got before it has been recorded
    deadline = time.monotonic() + 5
    while b"(connected)" not in world.received and time.monotonic() < deadline:
        time.sleep(0.05)
    got = [r for r in world.received if r != b"(connected)"]
    world.received.clear()
    return got


def test_the_formgrader_shows_the_answer_and_runs_none_of_it(world: World) -> None:
    with formgrader_server(world.root, env=world.env) as fg:
        status, notebooks = fg.api("GET", f"/formgrader/api/submitted_notebooks/{AID}/{NOTEBOOK}")
        assert status == 200
        ids = {n["student"]: n["id"] for n in notebooks}
        with browser_page() as page:
            outside = _watch(page, world)
            for sid, markers in ((STUDENT, VISIBLE), (OLD, VISIBLE + VISIBLE_OUTPUTS)):
                response = open_formgrader(page, fg, f"/formgrader/submissions/{ids[sid]}/?index=0")
                page.wait_for_function("() => window.formgrader && window.formgrader.grades "
                                       "&& window.formgrader.grades.loaded")
                _assert_nothing_ran(page, world, outside, NOTEBOOK)
                assert grades(world) == world.grades_before
                shown = page.inner_text("#notebook")
                for marker in markers:
                    assert marker in shown, (sid, marker)
                assert page.locator("math mfrac").count() > 0  # the LaTeX, as MathML (no MathJax from a CDN)
                assert response is not None and response.headers.get("content-security-policy") == FORMGRADER_CSP
            sub_id = ids[STUDENT]
            # a file handed in beside the notebook is served as an inert page of its own origin
            response = page.goto(fg.url + f"/formgrader/submissions/{sub_id}/evil.html", wait_until="load")
            page.wait_for_timeout(500)
            assert outside == [] and _received(world) == []
            assert response is not None and response.headers.get("content-security-policy") == SUBMISSION_FILE_CSP
            # the rest of the formgrader works under its policy: no violation on its own pages
            for path in ("/formgrader/manage_assignments", f"/formgrader/gradebook/{AID}/{NOTEBOOK}",
                         f"/formgrader/manage_submissions/{AID}", "/formgrader/manage_students"):
                response = open_formgrader(page, fg, path)
                assert response is not None and response.status == 200, path
                page.wait_for_timeout(300)
                assert page.evaluate("() => window.__csp") == [], path
            assert outside == []
        # JupyterLab's and the server's other pages keep the server's own policy
        status, _ = fg.api("GET", "/api/status")
        assert status == 200
    assert grades(world) == world.grades_before


def test_nbgraders_feedback_page_runs_and_fetches_nothing(world: World) -> None:
    proc = run_cli("--course", world.root / "course.yml", "feedback", AID, cwd=world.root, env=world.env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with browser_page() as page:
        outside = _watch(page, world)
        for sid, markers in ((STUDENT, VISIBLE), (OLD, VISIBLE + VISIBLE_OUTPUTS)):
            page_file = world.root / "feedback" / sid / AID / f"{NOTEBOOK}.html"
            page.goto(page_file.as_uri(), wait_until="load")
            # nbgrader's inlined bootstrap.css asks for its glyph fonts beside the page (file:): blocked, unused
            _assert_nothing_ran(page, world, outside, NOTEBOOK, allowed_violations=("font-src file",))
            shown = page.inner_text("body")
            for marker in markers:
                assert marker in shown, (sid, marker)
            text = page_file.read_text()
            body = text[text.index("</head>"):]
            assert "<script" not in body and "onerror" not in body, sid
            head = text[text.index("<head>"):text.index("</head>")]
            assert head.split("\n", 2)[1] == csp_meta(NBGRADER_FEEDBACK_CSP)


def test_our_feedback_html_runs_and_fetches_nothing(world: World) -> None:
    page_file = world.root / "grades" / AID / STUDENT / "feedback.html"
    text = page_file.read_text()
    assert f'content="{SELF_CONTAINED_PAGE_CSP}"' in text.split("</head>")[0]
    with browser_page() as page:
        outside = _watch(page, world)
        page.goto(page_file.as_uri(), wait_until="load")
        _assert_nothing_ran(page, world, outside, f"{AID}: {STUDENT}")
        assert "20 / 20" in page.inner_text("body")


def test_the_fixture_is_what_its_generator_writes() -> None:
    from tests.fixtures.make_student_html_fixture import build

    assert HOSTILE.read_text() == build(), "run tests/fixtures/make_student_html_fixture.py"
    assert os.path.getsize(HOSTILE) < 200_000
