"""Student-authored HTML made inert before any page shows it (issue 20).

A submitted notebook's Markdown cells, raw cells and cell outputs are the student's HTML: nbgrader's formgrader
(the TA's session), its feedback pages and JupyterLab render them. Everything here turns such content into
HTML from a fixed allow-list, through `nh3` (the Rust sanitiser ammonia):

- no script, no event handler, no ``style``, ``iframe``, ``object``, ``embed``, ``form``, ``svg``, ``math``,
  ``base`` or ``meta`` element, no ``id``/``name`` (which could shadow the page's own JavaScript globals),
  classes only as Pygments' token names on ``span`` and ``highlight`` on ``div``, no ``style`` attribute but a
  table cell's ``text-align``;
- no link: a link is shown as its text followed by its target as text ("see the notes (http://...)"), so
  nothing is one click away; raw HTML links keep only their text;
- images only as ``data:image/png``, ``image/jpeg`` or ``image/gif`` whose base64 decodes and whose bytes
  start with that format's signature (a raster image in an ``<img>`` cannot run script or fetch anything);
  any other image (remote, relative, SVG, ``javascript:``) becomes the text ``[image: ALT (URL)]``.

Markdown stays readable: it is rendered with nbconvert's own Markdown renderer (the one the formgrader and
the feedback use: headings, lists, emphasis, code with highlighting, tables, ``$...$`` LaTeX left as text, which
nbgrader's pages render as MathML: :mod:`autograder.nbgrader_pages`), sanitised, and stored back as one HTML block
on a single line, which Markdown renderers pass through unchanged (CommonMark's HTML block ends only at a blank
line, and the block has none).
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import hashlib
import html
import re
from typing import Any

import nh3

# Elements a rendered answer may keep. Everything else loses its tags (its text stays), and the elements in
# DROPPED_WITH_CONTENT lose their content too.
ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "b", "i", "u", "s", "del", "ins",
    "sub", "sup", "small", "mark", "abbr", "code", "pre", "kbd", "samp", "var", "blockquote", "q", "ul", "ol",
    "li", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "img", "span",
    "div", "details", "summary", "figure", "figcaption",
})
DROPPED_WITH_CONTENT = frozenset({  # code or raw text, not prose (svg, math, textarea... keep their text)
    "script", "style", "template", "iframe", "frame", "frameset", "noscript", "noembed", "noframes", "xmp",
    "plaintext",
})
ALLOWED_ATTRIBUTES = {
    "img": {"src", "alt", "width", "height"},
    "th": {"align", "colspan", "rowspan", "style"},
    "td": {"align", "colspan", "rowspan", "style"},
    "ol": {"start"},
    "span": {"class"},
    "div": {"class"},
}
RASTER_SIGNATURES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}
MAX_IMAGE_BYTES = 8 << 20
_PYGMENTS_CLASS = re.compile(r"^[a-z]{1,3}[0-9]?$")  # Pygments' short token classes: k, nf, s1, mi, ...
_DATA_URI = re.compile(r"^\s*data:(image/[a-z]+);base64,([A-Za-z0-9+/=\s]*)$", re.IGNORECASE)
_SIZE = re.compile(r"^[0-9]{1,5}$")
_CELL_ALIGN = re.compile(r"^text-align:\s*(left|right|center);?$")  # what Markdown tables write; no other style
MAX_URL_SHOWN = 200

# The policies of our own pages and of nbgrader's feedback pages (``<meta http-equiv>``): a self-contained page
# fetches nothing, runs nothing, and its only images are the ones embedded in it.
SELF_CONTAINED_PAGE_CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
                           "form-action 'none'")
# nbgrader's HTML feedback: its maths is MathML and no MathJax is loaded (autograder/nbgrader_pages.py), so it runs
# no script at all and fetches nothing; its inlined Bootstrap may use fonts embedded as data: URIs.
NBGRADER_FEEDBACK_CSP = ("default-src 'none'; font-src data:; img-src data:; style-src 'unsafe-inline'; "
                         "base-uri 'none'; form-action 'none'")


def csp_meta(policy: str) -> str:
    """The ``<meta>`` element that puts ``policy`` on a page (first thing in its ``<head>``)."""
    content = html.escape(policy, quote=False).replace('"', "&quot;")
    return f'<meta http-equiv="Content-Security-Policy" content="{content}">'


def raster_data_uri(src: str) -> str | None:
    """``src`` as a canonical ``data:image/(png|jpeg|gif);base64,...`` URI when it is one whose bytes really are
    that format (signature checked, base64 strict, at most 8 MiB); None for anything else."""
    match = _DATA_URI.match(src)
    if not match:
        return None
    mime = match.group(1).lower()
    return raster_base64(mime, match.group(2))


def raster_base64(mime: str, data: Any) -> str | None:
    """``data`` (base64, as a notebook stores an image) as a canonical data URI of ``mime``, or None when it is
    not that raster format (see :func:`raster_data_uri`)."""
    if mime not in RASTER_SIGNATURES or not isinstance(data, str) or len(data) > MAX_IMAGE_BYTES * 4 // 3 + 64:
        return None
    try:
        raw = base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(RASTER_SIGNATURES[mime]) or len(raw) > MAX_IMAGE_BYTES:
        return None
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


def _attribute(tag: str, name: str, value: str) -> str | None:
    if tag == "img" and name == "src":
        return raster_data_uri(value)
    if name in ("width", "height"):
        return value if _SIZE.match(value.strip()) else None
    if name == "class":
        keep = [c for c in value.split() if (tag == "span" and _PYGMENTS_CLASS.match(c))
                or (tag == "div" and c == "highlight")]
        return " ".join(keep) or None
    if name in ("colspan", "rowspan", "start"):
        return value if _SIZE.match(value.strip()) else None
    if name == "style":
        return value.strip() if _CELL_ALIGN.match(value.strip()) else None
    if name == "align":
        return value if value.lower() in ("left", "right", "center") else None
    return value  # alt: text


@functools.cache
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS), clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()}, attribute_filter=_attribute,
        strip_comments=True, link_rel=None, url_schemes={"data"}, url_relative="deny",
    )


def clean_html(fragment: str) -> str:
    """``fragment`` (any HTML) reduced to the allow-list above."""
    return str(_cleaner().clean(fragment))


def url_text(url: str) -> str:
    """A URL to show as text: at most 200 characters."""
    url = url.strip()
    return url if len(url) <= MAX_URL_SHOWN else url[:MAX_URL_SHOWN] + "…"


def image_placeholder(alt: str, url: str) -> str:
    """The text an image that is not shown becomes (HTML, escaped)."""
    label = alt.strip() or "no description"
    return html.escape(f"[image: {label} ({url_text(url)})]", quote=False)


def link_as_text(text_html: str, url: str) -> str:
    """A link shown as its text and, when it differs, its target as text."""
    target = url.strip()
    plain = re.sub(r"<[^>]*>", "", text_html)
    if html.unescape(plain).strip() in (target, target.removeprefix("mailto:")):
        return text_html
    return f"{text_html} ({html.escape(url_text(target), quote=False)})"


@functools.cache
def _renderer_class() -> type:
    from nbconvert.filters.markdown_mistune import IPythonRenderer

    class SafeRenderer(IPythonRenderer):
        """nbconvert's Markdown renderer with links as text and images only as checked raster data URIs."""

        def link(self, text: str, url: str, title: str | None = None) -> str:
            return link_as_text(text, url)

        def image(self, text: str, url: str, title: str | None = None) -> str:
            src = self._attachment(url) if url.startswith("attachment:") else raster_data_uri(url)
            if src is None:
                return image_placeholder(html.unescape(re.sub(r"<[^>]*>", "", text)), url)
            return f'<img src="{src}" alt="{html.escape(text)}">'

        def _attachment(self, url: str) -> str | None:
            bundle = self.attachments.get(url[len("attachment:"):])
            if not isinstance(bundle, dict):
                return None
            for mime in RASTER_SIGNATURES:
                src = raster_base64(mime, bundle.get(mime))
                if src is not None:
                    return src
            return None

    return SafeRenderer


def markdown_to_html(source: str, attachments: dict[str, Any] | None = None) -> str:
    """Markdown rendered as nbconvert renders it (math left as ``$...$`` text), then sanitised."""
    from nbconvert.filters.markdown_mistune import MarkdownWithMath

    renderer = _renderer_class()(escape=False, attachments=attachments or {}, exclude_anchor_links=True)
    return clean_html(MarkdownWithMath(renderer=renderer).render(source))


def _one_line(fragment: str) -> str:
    # A newline right after <pre> is dropped by every HTML parser: one that is text needs a second one before it.
    fragment = fragment.replace("\r", "").replace("<pre>\n", "<pre>\n\n")
    return fragment.replace("\n", "&#10;")


def as_html_block(fragment: str) -> str:
    """A sanitised fragment as one line in one ``<div>``: a Markdown renderer passes it through unchanged."""
    return f"<div>{_one_line(fragment)}</div>"


def sanitise_markdown(source: str, attachments: dict[str, Any] | None = None) -> str:
    """A Markdown cell's source replaced by its sanitised rendering, as one HTML block (still valid Markdown).
    Idempotent: a source this made (one ``<div>`` line) renders to itself and is returned as it is."""
    fragment = markdown_to_html(source, attachments).strip()
    if _one_line(fragment) == source:
        return source
    return as_html_block(fragment)


KEPT_MIMETYPES = ("text/plain", "text/html", "text/markdown", "text/latex", *RASTER_SIGNATURES)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return value if isinstance(value, str) else str(value)


def sanitise_output(output: dict[str, Any]) -> dict[str, Any] | None:
    """One cell output rebuilt from what may be shown: streams and errors as text (names checked), display data
    with plain text, sanitised HTML/Markdown, LaTeX as text and checked raster images; no metadata but images'
    numeric width/height. Anything else (JavaScript, SVG, widgets, PDF, unknown types) is dropped; an output left
    with nothing says so in plain text. None for an output of an unknown type."""
    kind = output.get("output_type")
    if kind == "stream":
        name = output.get("name")
        return {"output_type": "stream", "name": name if name in ("stdout", "stderr") else "stdout",
                "text": _text(output.get("text", ""))}
    if kind == "error":
        trace = output.get("traceback")
        return {"output_type": "error", "ename": _text(output.get("ename", "")),
                "evalue": _text(output.get("evalue", "")),
                "traceback": [_text(t) for t in trace] if isinstance(trace, list) else []}
    if kind not in ("display_data", "execute_result"):
        return None
    data: dict[str, Any] = output["data"] if isinstance(output.get("data"), dict) else {}
    meta: dict[str, Any] = output["metadata"] if isinstance(output.get("metadata"), dict) else {}
    kept: dict[str, Any] = {}
    new_meta: dict[str, Any] = {}
    for mime in KEPT_MIMETYPES:
        if mime not in data:
            continue
        value = data[mime]
        if mime in RASTER_SIGNATURES:
            uri = raster_base64(mime, value)
            if uri is None:
                continue
            kept[mime] = uri.split(",", 1)[1]
            sizes: dict[str, Any] = meta[mime] if isinstance(meta.get(mime), dict) else {}
            dims = {k: v for k, v in sizes.items() if k in ("width", "height") and type(v) is int and 0 < v < 100000}
            if dims:
                new_meta[mime] = dims
        elif mime == "text/html":
            kept[mime] = clean_html(_text(value))
        elif mime == "text/markdown":
            kept[mime] = sanitise_markdown(_text(value))
        else:
            kept[mime] = _text(value)
    dropped = sorted(set(data) - set(kept))
    if "text/plain" not in kept and (dropped or not kept):
        kept["text/plain"] = f"[output not shown: {', '.join(dropped) or 'empty'}]"
    rebuilt: dict[str, Any] = {"output_type": kind, "data": kept, "metadata": new_meta}
    if kind == "execute_result":
        count = output.get("execution_count")
        rebuilt["execution_count"] = count if type(count) is int else None
    return rebuilt


_CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_TAG = re.compile(r"^[\w-]{1,64}$")


def sanitise_cell(cell: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``cell`` that any page may render: Markdown as a sanitised HTML block (its attachments inlined
    when they are raster images, then removed), a raw cell's source sanitised as HTML, every output rebuilt by
    :func:`sanitise_output`; its id and tags kept only when they are plain names. Code is left alone (pages
    show it as highlighted text)."""
    cell = copy.deepcopy(cell)
    kind = cell.get("cell_type")
    if kind == "markdown":
        attachments = cell.get("attachments") if isinstance(cell.get("attachments"), dict) else {}
        cell["source"] = sanitise_markdown(_text(cell.get("source", "")), attachments)
        cell.pop("attachments", None)
    elif kind == "raw":
        cell["source"] = clean_html(_text(cell.get("source", "")))
        cell.pop("attachments", None)
    elif kind == "code":
        outputs = [sanitise_output(o) for o in cell.get("outputs", []) if isinstance(o, dict)]
        cell["outputs"] = [o for o in outputs if o is not None]
        if type(cell.get("execution_count")) is not int:
            cell["execution_count"] = None
    if "id" in cell and not (isinstance(cell["id"], str) and _CELL_ID.match(cell["id"])):
        cell["id"] = hashlib.sha256(repr(cell["id"]).encode()).hexdigest()[:16]
    meta = cell.get("metadata")
    if isinstance(meta, dict) and "tags" in meta:
        tags = meta["tags"] if isinstance(meta["tags"], list) else []
        meta["tags"] = [t for t in tags if isinstance(t, str) and _TAG.match(t)]
    return cell
