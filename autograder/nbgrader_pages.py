"""nbgrader's pages (the formgrader's view of a submission, ``generate_feedback``'s HTML) readable offline.

nbgrader renders a notebook with nbconvert's classic template, which loads MathJax from a CDN for the notebook's
LaTeX, and shows our pictures as "No description has been provided for this image". Here, as the notebook is
rendered (``HTMLExporter.preprocessors``, after :class:`autograder.nbgrader_bridge.SanitiseStudentCells`):

- :class:`MathAsMathML`: the LaTeX of every Markdown cell (``$...$``, ``$$...$$``, ``\\begin{...}...\\end{...}``, as
  nbconvert's Markdown renderer leaves it) becomes MathML, which browsers render without any script
  (latex2mathml's tree, rebuilt here from an allow-list of MathML elements and attributes, every text escaped: a
  student's ``\\text{<img ...>}`` or ``\\href{javascript:...}`` stays text or is dropped);
- :class:`DescribeGraderPictures`: a picture the grader drew under a test cell gets its description
  (:func:`autograder.figures.alt_text`, the output's ``text/plain``) as its ``alt`` text;
- :class:`EscapeNames`: the student's names (the gradebook's, often imported from the LMS, where students choose
  them) are HTML-escaped before the formgrader's template writes them unescaped into the TA's page.

And the templates of :data:`TEMPLATES` (first in ``HTMLExporter.extra_template_basedirs``, set by
:func:`autograder.nbgrader_bridge.configure`) replace nbconvert's ``mathjax()`` macro: no script is loaded from
another host, and the page gets our style (number tables spaced with borders, messages and code wrapped, links
that read against their background). The formgrader's own script waits for MathJax's start-up signal before it
wires its keyboard shortcuts: its macro gives that signal at once.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from nbconvert.preprocessors import Preprocessor
from nbformat.notebooknode import NotebookNode

TEMPLATES = Path(__file__).parent / "nbgrader_templates"

# MathML Core's elements (and the few latex2mathml writes that browsers know); any other becomes an mrow
MATHML_ELEMENTS = frozenset({
    "math", "mrow", "mi", "mn", "mo", "mtext", "mspace", "ms", "msub", "msup", "msubsup", "mfrac", "msqrt",
    "mroot", "mstyle", "mpadded", "mphantom", "mover", "munder", "munderover", "mtable", "mtr", "mtd",
    "mmultiscripts", "mprescripts", "none", "merror", "menclose",
})
MATHML_ATTRIBUTES = frozenset({
    "display", "displaystyle", "mathvariant", "stretchy", "fence", "form", "separator", "largeop",
    "movablelimits", "accent", "accentunder", "symmetric", "lspace", "rspace", "width", "height", "depth",
    "minsize", "maxsize", "linethickness", "scriptlevel", "columnalign", "columnspacing", "rowspacing",
    "columnlines", "rowlines", "frame", "framespacing", "rowalign", "columnspan", "rowspan", "notation",
    "mathcolor", "mathbackground", "mathsize",
})
_VALUE = re.compile(r"^[A-Za-z0-9#.%+\- ]{0,40}$")  # words, numbers, lengths, colours: nothing else
_ENTITY = re.compile(r"&#x([0-9A-Fa-f]{1,6});")
_TAG = re.compile(r"""<(?:[^>"']|"[^"]*"|'[^']*')*>""")
# nbconvert's Markdown renderer leaves math as $$...$$ (display; \[...\] too), $...$ (inline; \(...\) too) and
# LaTeX environments; the same patterns as its MarkdownWithMath, display first
_MATH = re.compile(
    r"(?<!\\)\$\$(?P<display>.+?)(?<!\\)\$\$"
    r"|(?P<environment>\\begin\{(?P<name>[a-z]*\*?)\}.*?\\end\{(?P=name)\})"
    r"|(?<![$\\])\$(?P<inline>.+?)(?<![$\\])\$",
    re.DOTALL,
)
_NO_MATH = frozenset({"code", "pre", "kbd", "samp", "math"})  # text in these stays as it is


def _serialise(node: Element) -> str:
    """latex2mathml's tree as MathML: allow-listed elements and attributes, every text escaped (latex2mathml puts
    character references in its texts and does not escape the rest: ``&#x0003C;`` is a "<", so is a "<")."""
    tag = node.tag if node.tag in MATHML_ELEMENTS else "mrow"
    attributes = "".join(
        f' {name}="{html.escape(value)}"' for name, value in sorted(node.attrib.items())
        if name in MATHML_ATTRIBUTES and _VALUE.match(value) and (tag == "math" or name != "display"))
    text = html.escape(_ENTITY.sub(lambda m: chr(int(m.group(1), 16)), node.text or ""), quote=False)
    inner = text + "".join(_serialise(child) + html.escape(child.tail or "", quote=False) for child in node)
    return f"<{tag}{attributes}>{inner}</{tag}>"


def mathml(tex: str, *, display: bool) -> str | None:
    """``tex`` (LaTeX maths, without its delimiters) as a ``<math>`` element, or None when latex2mathml cannot
    read it (the page then shows the LaTeX as text, as it does without MathJax)."""
    from latex2mathml.converter import convert_to_element

    try:
        tree = convert_to_element(tex, display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - a student's LaTeX: any parse error means "not converted"
        return None
    # no raw line break: the sanitised cell is one HTML block with no blank line, which a blank line in the
    # student's \text{...} would end (nbconvert would then read the rest of their text as Markdown: links, images)
    math = _serialise(tree).replace("\r", "&#13;").replace("\n", "&#10;")
    return math.replace("<math", '<math xmlns="http://www.w3.org/1998/Math/MathML"', 1)


def _convert_text(text: str, *, html_text: bool = True) -> str:
    """One HTML text node (entities and all; or Markdown, not ``html_text``) with its maths as MathML."""
    def replace(match: re.Match[str]) -> str:
        if match.group("display") is not None:
            tex, display = match.group("display"), True
        elif match.group("environment") is not None:
            tex, display = match.group("environment"), True
        else:
            tex, display = match.group("inline"), False
        converted = mathml(html.unescape(tex) if html_text else tex, display=display)
        return converted if converted is not None else match.group(0)

    # what is not maths: an escaped dollar is a dollar (as MathJax shows it; Markdown does that itself)
    return "".join(part if i % 2 or not html_text else part.replace("\\$", "$")
                   for i, part in enumerate(_split_keep(_MATH, text, replace)))


def _split_keep(pattern: re.Pattern[str], text: str, replace: Any) -> list[str]:
    """``text`` cut at ``pattern``'s matches: the text between them (even places) and each match replaced (odd)."""
    parts, pos = [], 0
    for match in pattern.finditer(text):
        parts += [text[pos:match.start()], replace(match)]
        pos = match.end()
    return parts + [text[pos:]]


def math_to_mathml(fragment: str) -> str:
    """An HTML fragment (a sanitised Markdown cell) with the maths of its text, outside code, as MathML."""
    out: list[str] = []
    skipping: list[str] = []
    pos = 0
    for tag in _TAG.finditer(fragment):
        text = fragment[pos:tag.start()]
        out.append(text if skipping else _convert_text(text))
        out.append(tag.group(0))
        name = re.match(r"</?\s*([A-Za-z0-9]+)", tag.group(0))
        if name and name.group(1).lower() in _NO_MATH and not tag.group(0).endswith("/>"):
            if tag.group(0).startswith("</"):
                if skipping and skipping[-1] == name.group(1).lower():
                    skipping.pop()
            else:
                skipping.append(name.group(1).lower())
        pos = tag.end()
    rest = fragment[pos:]
    out.append(rest if skipping else _convert_text(rest))
    return "".join(out)


_CODE_SPAN = re.compile(r"(`+)[\s\S]*?\1")


def markdown_math_to_mathml(markdown: str) -> str:
    """Markdown (a TA's comment) with the maths outside its code spans as MathML (inline HTML, which Markdown
    keeps)."""
    parts, pos = [], 0
    for span in _CODE_SPAN.finditer(markdown):
        parts += [_convert_text(markdown[pos:span.start()], html_text=False), span.group(0)]
        pos = span.end()
    return "".join(parts) + _convert_text(markdown[pos:], html_text=False)


class MathAsMathML(Preprocessor):
    """Every Markdown cell's maths as MathML (see the module's docstring), and a TA's comments' (which
    ``generate_feedback`` shows under the cell): nbgrader's pages need no MathJax."""

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> tuple[NotebookNode, Any]:
        if cell.get("cell_type") == "markdown" and isinstance(cell.get("source"), str):
            cell["source"] = math_to_mathml(cell["source"])
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if isinstance(meta, dict) and isinstance(meta.get("comment"), str):
            meta["comment"] = markdown_math_to_mathml(meta["comment"])
        return cell, resources


def _is_test_cell(cell: NotebookNode) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


class DescribeGraderPictures(Preprocessor):
    """A picture under a test cell (the grader's, :func:`autograder.nbgrader_bridge.picture_outputs`) gets its
    ``text/plain`` (what it shows, in words) as its ``alt`` text, which nbconvert's template writes escaped.
    Students' own pictures keep nbconvert's "No description has been provided for this image"."""

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> tuple[NotebookNode, Any]:
        if not _is_test_cell(cell):
            return cell, resources
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            words = data.get("text/plain")
            if output.get("output_type") == "display_data" and "image/png" in data and isinstance(words, str):
                output.setdefault("metadata", {}).setdefault("image/png", {})["alt"] = words.strip()[:2000]
        return cell, resources


class EscapeNames(Preprocessor):
    """The formgrader's submission page writes the student's first and last name (or id) as they are (nbconvert's
    templates do not escape): a roster imported from an LMS holds whatever name a student chose there. Escaped
    here, in the resources the template reads, they are shown as text."""

    def preprocess(self, nb: NotebookNode, resources: Any) -> tuple[NotebookNode, Any]:
        for key in ("first_name", "last_name", "student"):
            value = resources.get(key) if isinstance(resources, dict) else None
            if isinstance(value, str):
                resources[key] = html.escape(value)
        return nb, resources
