"""autograder/sanitise.py: what survives of a student's HTML, and that the Markdown still reads as Markdown."""

from __future__ import annotations

import base64
import html.parser

import pytest
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

from autograder.nbgrader_bridge import FORMGRADER_CSP, SUBMISSION_FILE_CSP, formgrader_policy
from autograder.report import feedback_html
from autograder.sanitise import (
    ALLOWED_TAGS,
    SELF_CONTAINED_PAGE_CSP,
    clean_html,
    raster_data_uri,
    sanitise_cell,
    sanitise_markdown,
    sanitise_output,
)

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
LEAK = "http://127.0.0.1:9/leak"
PAYLOADS = [
    "<script>window.__pwned=1</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)><circle r=5 /></svg>",
    '<a href="javascript:alert(1)">click</a>',
    "[md](javascript:alert(1))",
    "<iframe srcdoc='<script>parent.x=1</script>'></iframe>",
    f"<style>body{{background:url({LEAK})}}</style>",
    f'<div style="background:url({LEAK})" id="formgrader" class="navbar-fixed-top">x</div>',
    f"![remote]({LEAK})",
    f'<img src="{LEAK}">',
    f'<meta http-equiv="refresh" content="0;url={LEAK}">',
    f'<base href="{LEAK}/">',
    f'<object data="{LEAK}"></object><embed src="{LEAK}">',
    f'<form action="{LEAK}"><input name=a><button>go</button></form>',
    f'<link rel=stylesheet href="{LEAK}">',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",  # a classic mutation-XSS shape
    '<a href="evil.html">my file</a>',
    "```mermaid\ngraph TD; A-->B\n```",
]


def nbconvert_markdown(source: str) -> str:
    """What nbconvert (the formgrader, generate_feedback) makes of a Markdown cell: raw HTML passes through."""
    return str(MarkdownWithMath(renderer=IPythonRenderer(escape=False)).render(source))


class Structure(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [(tag, k, v or "") for k, v in attrs]


def assert_inert(page_html: str) -> None:
    parsed = Structure()
    parsed.feed(page_html)
    assert parsed.tags <= ALLOWED_TAGS, parsed.tags - ALLOWED_TAGS
    for tag, name, value in parsed.attributes:
        assert name in {"src", "alt", "width", "height", "class", "style", "align", "colspan", "rowspan", "start"}
        if name == "src":
            assert value.startswith(("data:image/png;base64,", "data:image/jpeg;base64,", "data:image/gif;base64,"))
        if name == "style":
            assert value in ("text-align:left", "text-align:right", "text-align:center"), value
        if name == "class":
            assert tag in ("span", "div") and "mermaid" not in value and "navbar" not in value


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_payload_renders_inert_through_nbconvert(payload: str) -> None:
    source = sanitise_markdown(f"Before {payload} after\n\n{payload}\n\nThe end")
    rendered = nbconvert_markdown(source)
    assert_inert(rendered)
    if "<math>" not in payload:  # its <style> (HTML inside MathML) is never closed: the rest is style, as in a browser
        assert "The end" in rendered
    assert rendered.rstrip("\n") == source  # one HTML block: nbconvert passes it through as it is
    assert sanitise_markdown(source) == source  # idempotent: the formgrader sanitises once more when rendering


def test_markdown_keeps_its_structure_math_and_code() -> None:
    source = ("# Padding\n\nWith *padding* **P**, `N + 2P - F + 1` outputs: $N_{out} = \\frac{N + 2P - F}{S} + 1$.\n\n"
              "- one\n- two\n\n1. first\n\n| a | b |\n|--:|---|\n| 1 | 2 |\n\n> quoted\n\n"
              "```python\ndef f(x):\n    return x < 2\n```\n\n$$\\sum_i x_i$$\n")
    out = sanitise_markdown(source)
    for piece in ("<h1>Padding</h1>", "<em>padding</em>", "<strong>P</strong>", "<code>N + 2P - F + 1</code>",
                  "$N_{out} = \\frac{N + 2P - F}{S} + 1$", "<li>one</li>", "<ol>", '<th style="text-align:right">a',
                  "<blockquote>", '<div class="highlight"><pre>', '<span class="k">def</span>', "&lt;",
                  "$$\\sum_i x_i$$"):
        assert piece in out, piece
    assert "\n" not in out


def test_links_become_text_and_foreign_images_a_placeholder() -> None:
    out = sanitise_markdown(f"[the notes](https://example.org/n) <https://example.org> [x](javascript:alert(1)) "
                            f"![a plot]({LEAK}) ![ok](data:image/png;base64,{PNG})")
    assert "the notes (https://example.org/n)" in out and "https://example.org " in out
    assert "x (javascript:alert(1))" in out  # shown as text: the TA sees what was tried
    assert f"[image: a plot ({LEAK})]" in out
    assert f'<img src="data:image/png;base64,{PNG}" alt="ok">' in out
    assert "<a " not in out


def test_attachments_are_inlined_only_as_checked_raster_images() -> None:
    cell = {"cell_type": "markdown", "metadata": {}, "id": "c1",
            "source": "![ok](attachment:a.png) ![svg](attachment:b.svg) ![gone](attachment:missing.png)",
            "attachments": {"a.png": {"image/png": PNG},
                            "b.svg": {"image/svg+xml": base64.b64encode(b"<svg onload=alert(1)/>").decode()}}}
    out = sanitise_cell(cell)
    assert "attachments" not in out
    assert f'src="data:image/png;base64,{PNG}"' in out["source"]
    assert "[image: svg (attachment:b.svg)]" in out["source"] and "[image: gone" in out["source"]


def test_raster_data_uris_are_checked() -> None:
    assert raster_data_uri(f"data:image/png;base64,{PNG}") == f"data:image/png;base64,{PNG}"
    assert raster_data_uri("data:image/png;base64,PHN2Zz4=") is None  # "<svg>" labelled PNG
    assert raster_data_uri("data:image/svg+xml;base64,PHN2Zz4=") is None
    assert raster_data_uri("data:text/html;base64,PHNjcmlwdD4=") is None
    assert raster_data_uri('data:image/png;base64,iVBORw0KGgo=" onerror="x') is None
    assert raster_data_uri(LEAK) is None


def test_outputs_are_rebuilt_from_what_may_be_shown() -> None:
    out = sanitise_output({"output_type": "display_data", "data": {
        "text/html": "<b>kept</b><script>x()</script><img src=x onerror=y()>",
        "application/javascript": "x()", "image/svg+xml": "<svg onload=x()>",
        "application/vnd.jupyter.widget-view+json": {"model_id": "m"}, "text/plain": "plain"},
        "metadata": {"text/html": {"isolated": True}}})
    assert out is not None and set(out["data"]) == {"text/html", "text/plain"}
    assert out["data"]["text/html"] == "<b>kept</b><img>" and out["metadata"] == {}
    png = sanitise_output({"output_type": "execute_result", "execution_count": "1<script>", "data": {
        "image/png": PNG}, "metadata": {"image/png": {"width": 10, "height": "1 onerror=x"},
                                        "filenames": {"image/png": LEAK}}})
    assert png == {"output_type": "execute_result", "execution_count": None, "data": {"image/png": PNG},
                   "metadata": {"image/png": {"width": 10}}}
    svg_only = sanitise_output({"output_type": "display_data", "data": {"image/svg+xml": "<svg/>"}, "metadata": {}})
    assert svg_only is not None and svg_only["data"] == {"text/plain": "[output not shown: image/svg+xml]"}
    stream = sanitise_output({"output_type": "stream", "name": 'x"><script>', "text": ["a", "b"]})
    assert stream == {"output_type": "stream", "name": "stdout", "text": "ab"}
    assert sanitise_output({"output_type": "unknown"}) is None


def test_raw_cells_ids_and_tags() -> None:
    cell = sanitise_cell({"cell_type": "raw", "id": 'x"><script>', "source": "<script>x()</script>RAW <b>b</b>",
                          "metadata": {"tags": ["ok-tag", '"><img src=x onerror=y()>']}})
    assert cell["source"] == "RAW <b>b</b>"
    assert cell["id"].isalnum() and cell["metadata"]["tags"] == ["ok-tag"]


def test_clean_html_drops_code_keeps_text() -> None:
    assert clean_html("<p onclick=x()>t<script>s()</script><style>p{}</style><textarea>u</textarea></p>") == "<p>tu</p>"
    assert clean_html("<svg><text>v</text></svg><math><mi>x</mi></math>") == ""  # ammonia drops SVG and MathML


def test_feedback_html_shows_links_and_foreign_images_as_text() -> None:
    page = feedback_html(f"# Q\n\n[notes](http://example.org) [x](javascript:alert(1)) ![leak]({LEAK}) "
                         "<img src=x onerror=alert(1)>", {}, "01: ann")
    assert f'<meta http-equiv="Content-Security-Policy" content="{SELF_CONTAINED_PAGE_CSP}">' in page
    body = page.split("<body>", 1)[1]
    assert_inert(body)
    assert "notes (http://example.org)" in body and "x (javascript:alert(1))" in body
    assert f"[image: leak ({LEAK})]" in body and "&lt;img src=x onerror=alert(1)&gt;" in body


def test_formgrader_policy_by_path() -> None:
    assert formgrader_policy("/lab") is None and formgrader_policy("/api/contents/x") is None
    assert formgrader_policy("/formgraderx") is None
    for path in ("/formgrader", "/formgrader/manage_assignments", "/formgrader/submissions/abc/",
                 "/formgrader/submissions/abc/next", "/formgrader/api/grade/1", "/formgrader/static/js/utils.js",
                 "/formgrader/submissions/components/x.js"):
        assert formgrader_policy(path) == FORMGRADER_CSP, path
    assert formgrader_policy("/formgrader/submissions/abc/evil.html") == SUBMISSION_FILE_CSP
    assert formgrader_policy("/formgrader/submissions/abc/dir/evil.html") == SUBMISSION_FILE_CSP
    assert formgrader_policy("/hub/user/ta/formgrader/submissions/abc/f.html", "/hub/user/ta/") == SUBMISSION_FILE_CSP
    assert "script-src" not in SUBMISSION_FILE_CSP and "default-src 'none'" in SUBMISSION_FILE_CSP
    assert SUBMISSION_FILE_CSP.startswith("sandbox;")
