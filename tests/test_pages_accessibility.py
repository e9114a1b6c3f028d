"""The three pages a student or TA reads, in real headless Chromium with axe-core: offline, accessible, inert.

One nbgrader course, one grading run through the real CLI (`autograder grade`, then `autograder feedback`, which is
nbgrader's generate_feedback, and `autograder report`): erin hands in 01 with the kernel flipped (a failing worked
example, so a picture) and a Markdown cell of her own with LaTeX, script in several disguises and very long words;
her gradebook names are HTML; a second submission sits in a folder named like an HTML tag. Then, each page loaded
with every request that would leave the machine recorded and refused:

- nbgrader's feedback page (``feedback/erin/01_convolution/convolution.html``), our ``feedback.html`` and the class
  report: no request leaves the machine (the feedback page has no script at all: its maths is MathML), axe-core
  finds no critical or serious violation, nothing the student wrote runs;
- nbgrader's feedback page and the formgrader's view of the submission: every formula renders as MathML (no "$"
  LaTeX left in the text), the notebook's number tables are spaced with borders, the grader's messages wrap, and
  the grader's picture has its description as alt text (not "No description has been provided for this image");
- the formgrader (a real Jupyter server on 127.0.0.1): no critical violation, its script starts (its keyboard
  shortcuts wait for MathJax's start-up signal, which no CDN has to give), the hostile names show as text.

axe-core comes from npm (``.ci/system-deps`` installs it); without it the tests skip, and fail under CI=true.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder import class_report, figures
from autograder.config import Course, load_course
from autograder.demo import make_course_copy
from autograder.names import student_id
from tests.conftest import FIXTURES, REPO, require, run_cli
from tests.formgrader_harness import (
    LOOPBACK_HOSTS,
    browser_page,
    formgrader_server,
    isolated_jupyter_env,
    open_formgrader,
)
from tests.formgrader_harness import WATCH_CSP as WATCH

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.slow

AID, NOTEBOOK, STUDENT = "01_convolution", "convolution", "erin"
AXE = "axe-core@4.14.1"
HOSTILE_FOLDER = "<img src=x onerror=window.__pwned=1>"  # a submission's folder name (its id is percent-encoded)
FIRST, LAST = "<img src=x onerror=\"window.__pwned='first'\">", "<script>window.__pwned='last'</script>"
LONG_WORD = "Convolution" * 14
NOTES = (  # erin's own Markdown: her formulas (one that tries to link and to break out of its text) and long words
    "## My notes\n\nA formula of mine: $\\sum_{i=1}^{n} w_i x_i + b$, and $$\\frac{N - F + 2P}{S} + 1$$ "
    "$\\href{javascript:window.__pwned='href'}{x}$ $\\text{\" onmouseover=\"window.__pwned='quote'}$\n\n"
    f"{LONG_WORD} `{'conv2d_layer_' * 9}`\n"
)
HOSTILE = (  # script in several disguises, one inside maths (the sanitiser keeps the text around it, not the maths)
    "<details><summary>Hostile notes</summary>\n\n<script>window.__pwned = 'script'</script>"
    "<img src=x onerror=\"window.__pwned = 'img'\"> $\\text{<img src=x onerror=window.__pwned='mathml'>}$ "
    "<svg onload=\"window.__pwned='svg'\"></svg>\n\n</details>\n"
)
# text nodes that must not hold LaTeX once the page has rendered (code, the maths themselves and the hostile
# details excepted)
RAW_LATEX = """() => {
  const found = [], walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement.closest('code, pre, kbd, samp, script, style, textarea, math, details')) continue;
    if (/\\$|\\\\frac|\\\\left|\\\\text/.test(node.textContent)) found.push(node.textContent.slice(0, 120));
  }
  return found;
}"""
# the formulas are laid out by the browser: a block formula is a MathML block, a fraction's numerator sits above
# its denominator
MATHS = """() => {
  const block = document.querySelector('math[display="block"]'), fraction = document.querySelector('mfrac');
  const [top, bottom] = [fraction.children[0], fraction.children[1]].map(e => e.getBoundingClientRect());
  return {count: document.querySelectorAll('math').length, display: getComputedStyle(block).display,
          stacked: top.bottom <= bottom.top + 1 && top.height > 0 && bottom.height > 0};
}"""
# the row of the lecture's "zero padding" output that starts with -11: its cells' text, borders, and the gap between
# the texts of neighbouring cells
NUMBER_ROW = """() => {
  const cell = [...document.querySelectorAll('.rendered_html td')].find(td => td.textContent.trim() === '\\u221211');
  const cells = [...cell.parentElement.children];
  const boxes = cells.map(td => { const r = document.createRange(); r.selectNodeContents(td);
                                  return r.getBoundingClientRect(); });
  const gaps = boxes.slice(1).map((b, i) => b.left - boxes[i].right);
  const style = getComputedStyle(cell);
  return {texts: cells.map(td => td.textContent.trim()), minGap: Math.min(...gaps),
          border: parseFloat(style.borderLeftWidth), borderStyle: style.borderLeftStyle};
}"""
OVERFLOWING_PRE = """() => [...document.querySelectorAll('.output_area pre')]
  .filter(pre => pre.scrollWidth > pre.clientWidth + 1).map(pre => pre.textContent.slice(0, 80))"""


@dataclass
class World:
    root: Path
    course: Course
    env: dict[str, str]
    results: dict[str, Any]  # erin's results.json

    @property
    def grades(self) -> Path:
        return self.root / "grades" / AID


def axe_source() -> str:
    """axe-core's script, from npm's global folder."""
    root = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True).stdout.strip() \
        if shutil.which("npm") else ""
    path = Path(root) / "axe-core" / "axe.min.js"
    require(bool(root) and path.is_file(), f"axe-core is missing: npm install -g {AXE} (.ci/system-deps does)")
    return path.read_text()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    axe_source()  # skip (fail under CI) before grading when the checker is missing
    base = tmp_path_factory.mktemp("pages")
    course = make_course_copy(load_course(REPO / "course.yml"), base / "course")
    env = isolated_jupyter_env(base / "jupyter")
    proc = run_cli("--course", course.root / "course.yml", "release", AID, cwd=course.root, env=env)
    assert proc.returncode == 0, proc.stderr
    nb = nbformat.read(str(FIXTURES / "01_mistakes" / "flipped_kernel.ipynb"), as_version=4)
    nb.cells[1:1] = [nbformat.v4.new_markdown_cell(NOTES, id="notes"),
                     nbformat.v4.new_markdown_cell(HOSTILE, id="hostile")]
    for folder in (STUDENT, HOSTILE_FOLDER):
        target = course.root / "submitted" / folder / AID / f"{NOTEBOOK}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(nb, str(target))
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}", course.course_id) as gb:
        gb.add_student(STUDENT, first_name=FIRST, last_name=LAST)
    for command in (["grade", AID, "submitted/", "--no-progress"], ["feedback", AID], ["report", AID]):
        proc = run_cli("--course", course.root / "course.yml", *command, cwd=course.root, env=env)
        # the folder named like a tag is graded, and not recorded in the gradebook (exit 6, saying why)
        graded_unrecorded = command[0] == "grade" and proc.returncode == 6 and "is not an nbgrader student id" in (
            proc.stdout + proc.stderr)
        assert proc.returncode == 0 or graded_unrecorded, (command, proc.stdout[-3000:], proc.stderr[-3000:])
    results = json.loads((course.root / "grades" / AID / STUDENT / "results.json").read_text())
    assert (course.root / "grades" / AID / student_id(HOSTILE_FOLDER) / "feedback.html").is_file()
    return World(course.root, course, env, results)


@contextlib.contextmanager
def offline_page(*, width: int = 1100, loopback: bool = False) -> Iterator[tuple[Page, list[str]]]:
    """A Chromium page whose every request that would leave the machine is recorded and refused (file:, data:,
    about: and blob: are local; loopback too when ``loopback``); CSP violations go to ``window.__csp``."""
    outside: list[str] = []

    def route(r: Any) -> None:
        url = urllib.parse.urlsplit(r.request.url)
        if url.scheme in ("file", "data", "about", "blob") or (loopback and url.hostname in LOOPBACK_HOSTS):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort("blockedbyclient")

    with browser_page(block_external=False) as page:
        page.set_viewport_size({"width": width, "height": 900})
        page.context.route("**/*", route)
        page.add_init_script(WATCH)
        yield page, outside


def violations(page: Page, impacts: tuple[str, ...]) -> list[dict[str, Any]]:
    """axe-core's violations of the page with one of ``impacts`` (run in the page's own world, where its
    Content-Security-Policy does not apply to the test's script)."""
    page.evaluate(axe_source())
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations.map("
                          "v => ({id: v.id, impact: v.impact, help: v.help, "
                          "nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))")
    return [v for v in found if v["impact"] in impacts]


def nothing_ran(page: Page, allowed_violations: tuple[str, ...] = ()) -> None:
    page.wait_for_timeout(500)  # a payload's timers and image errors
    assert page.evaluate("() => window.__pwned") is None
    assert page.evaluate("() => document.querySelectorAll('[onerror], [onload]').length") == 0
    assert [v for v in page.evaluate("() => window.__csp") if v not in allowed_violations] == []


def grader_pictures(world: World) -> list[str]:
    return [figures.alt_text(f) for t in world.results["tests"] for f in t.get("figures") or []]


def notebook_checks(page: Page, world: World) -> None:
    """What nbgrader's pages of a notebook show: the formulas as MathML, the number tables spaced, the grader's
    messages wrapped, the grader's pictures described."""
    assert page.evaluate(RAW_LATEX) == []
    maths = page.evaluate(MATHS)
    assert maths["count"] >= 50 and maths["display"] == "block math" and maths["stacked"], maths
    row = page.evaluate(NUMBER_ROW)
    assert row["texts"] == ["\u221211", "24", "56", "48", "57", "50"], row
    assert row["minGap"] >= 8 and row["border"] >= 1 and row["borderStyle"] == "solid", row
    assert page.evaluate(OVERFLOWING_PRE) == []
    assert "The kernel looks flipped" in page.inner_text("body")
    pictures = grader_pictures(world)
    assert pictures and all("values differ" in alt for alt in pictures), pictures
    alts = page.locator(".output_png img").evaluate_all("imgs => imgs.map(i => i.alt)")
    assert alts == pictures
    # the student's own Markdown: shown as text, long words wrapped, her formulas rendered
    assert LONG_WORD[:40] in page.inner_text("body")
    assert page.locator("h2:has-text('My notes') + p math").count() == 4
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_nbgraders_feedback_page_is_offline_accessible_and_inert(world: World) -> None:
    page_file = world.root / "feedback" / STUDENT / AID / f"{NOTEBOOK}.html"
    text = page_file.read_text()
    assert "<script" not in text and "cdnjs" not in text and '<html lang="en">' in text
    with offline_page() as (page, outside):
        page.goto(page_file.as_uri(), wait_until="load")
        # nbgrader's inlined Bootstrap names its glyph fonts beside the page (file:): refused, and unused
        nothing_ran(page, allowed_violations=("font-src file",))
        notebook_checks(page, world)
        assert violations(page, ("critical", "serious")) == []
        assert outside == []


def test_our_feedback_html_is_offline_accessible_and_inert(world: World) -> None:
    for folder in (STUDENT, student_id(HOSTILE_FOLDER)):
        with offline_page(width=420) as (page, outside):  # a phone: every message wraps
            page.goto((world.grades / folder / "feedback.html").as_uri(), wait_until="load")
            nothing_ran(page)
            assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
            alts = page.locator("img").evaluate_all("imgs => imgs.map(i => i.alt)")
            assert alts == grader_pictures(world), alts
            assert violations(page, ("critical", "serious")) == []
            assert outside == []
    assert HOSTILE_FOLDER not in (world.grades / student_id(HOSTILE_FOLDER) / "feedback.html").read_text()


def test_the_class_report_is_offline_accessible_and_inert(world: World) -> None:
    data = json.loads((world.grades / "class-report.json").read_text())
    words = class_report.chart_words(data)
    with offline_page(width=420) as (page, outside):
        page.goto((world.grades / "class-report.html").as_uri(), wait_until="load")
        nothing_ran(page)
        assert page.locator("#histogram").get_attribute("alt") == words["histogram"]
        assert page.locator("#question-chart").get_attribute("alt") == words["questions"]
        assert student_id(HOSTILE_FOLDER) in page.inner_text("body")
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        assert violations(page, ("critical", "serious")) == []
        assert outside == []


def test_the_formgraders_view_of_the_submission(world: World) -> None:
    with formgrader_server(world.root, env=world.env) as fg:
        status, notebooks = fg.api("GET", f"/formgrader/api/submitted_notebooks/{AID}/{NOTEBOOK}")
        assert status == 200
        [submission] = [n["id"] for n in notebooks if n["student"] == STUDENT]
        with offline_page(loopback=True) as (page, outside):
            response = open_formgrader(page, fg, f"/formgrader/submissions/{submission}/?index=0")
            assert response is not None and response.status == 200
            # the formgrader's own script starts to its end offline: its keyboard shortcuts are wired
            page.wait_for_function("() => window.formgrader && window.formgrader.loaded")
            nothing_ran(page)
            notebook_checks(page, world)
            names = page.locator(".name-shown").first.text_content() or ""
            assert LAST in names and FIRST in names  # the gradebook's names, as text
            assert violations(page, ("critical",)) == []
            assert outside == []
