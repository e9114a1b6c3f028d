"""autograder.nbgrader_pages: the notebook's LaTeX as MathML on nbgrader's pages (no MathJax, no script), a student's
LaTeX never turned into markup, and the grader's pictures described in their alt text."""

from __future__ import annotations

import html.parser
import json
import re

import nbformat
import pytest

from autograder.nbgrader_pages import MATHML_ATTRIBUTES, MATHML_ELEMENTS, DescribeGraderPictures, math_to_mathml
from autograder.sanitise import ALLOWED_TAGS, sanitise_markdown
from tests.unit.conftest import REPO


class Parsed(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.text: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.open.append(tag)
        self.attributes += [(tag, k, v or "") for k, v in attrs]

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag):]

    def handle_data(self, data: str) -> None:
        if not {"code", "pre", "math"} & set(self.open):
            self.text.append(data)


def parse(fragment: str) -> Parsed:
    parsed = Parsed()
    parsed.feed(fragment)
    return parsed


def rendered(markdown: str) -> str:
    """A Markdown cell as nbgrader's pages get it: sanitised (SanitiseStudentCells), then its maths as MathML."""
    return math_to_mathml(sanitise_markdown(markdown))


def test_maths_becomes_mathml_and_code_stays_text() -> None:
    page = rendered("The output is $\\left\\lfloor \\frac{N - F + 2P}{S} \\right\\rfloor + 1$ when $x < y$:\n\n"
                    "$$\\text{output} = N \\times F$$\n\n`a $b$ c` and a price of \\$5.")
    parsed = parse(page)
    assert parsed.tags.count("math") == 3 and "mfrac" in parsed.tags
    assert ("math", "display", "block") in parsed.attributes and ("math", "display", "inline") in parsed.attributes
    assert "<mo>&lt;</mo>" in page  # the "<" of x < y, escaped
    assert "<code>a $b$ c</code>" in page  # code is not maths
    assert "$" not in "".join(parsed.text).replace("$5", "")  # a price's dollar (escaped in Markdown) shows as $
    assert "a price of $5." in page
    assert math_to_mathml(page) == page  # nothing left to convert


def test_a_students_latex_never_becomes_markup() -> None:
    hostile = ("$\\text{<img src=x onerror=alert(1)>}$ $\\href{javascript:alert(2)}{x}$ $\\style{color:red}{y}$ "
               "$\\class{navbar}{z}$ $\\color{red}{w}$ $\\mathrm{</math><script>alert(3)</script>}$ "
               "$\\text{\" onmouseover=\"alert(4)}$ $\\operatorname{&lt;b&gt;}$ $\\unknowncommand x$")
    page = rendered(hostile)
    parsed = parse(page)
    assert set(parsed.tags) <= ALLOWED_TAGS | MATHML_ELEMENTS, set(parsed.tags) - ALLOWED_TAGS - MATHML_ELEMENTS
    assert "script" not in parsed.tags and "img" not in parsed.tags and parsed.tags.count("math") == 9
    for tag, name, value in parsed.attributes:
        if tag in MATHML_ELEMENTS:
            assert name in MATHML_ATTRIBUTES | {"xmlns"}, (tag, name, value)
            assert re.fullmatch(r"[A-Za-z0-9#.%+\- :/]*", value), (tag, name, value)
        assert not name.startswith("on") and name not in ("href", "style", "class", "src"), (tag, name)
    # the student's text stays readable, as text
    assert "&lt;img\xa0src=x\xa0onerror=alert(1)&gt;" in page and ("mstyle", "mathcolor", "red") in parsed.attributes


@pytest.mark.parametrize("notebook", sorted(str(p.relative_to(REPO)) for p in (REPO / "assignments").glob("*/*.ipynb")))
def test_every_formula_of_the_course_renders(notebook: str) -> None:
    """No released notebook's Markdown leaves LaTeX as text with its dollars on nbgrader's pages."""
    nb = json.loads((REPO / notebook).read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        text = "".join(parse(rendered(source)).text)
        assert "$" not in text and "\\frac" not in text, (notebook, source[:200], text[:300])


def test_the_graders_pictures_are_described_and_students_are_not() -> None:
    words = "The lecture's 4×6 image: 8 of 8 values differ; yours −19 … −57, expected 19 … 57."
    picture = {"output_type": "display_data", "metadata": {},
               "data": {"image/png": "iVBORw0KGgo=", "text/plain": words}}
    test_cell = nbformat.v4.new_code_cell("assert True", outputs=[nbformat.from_dict(picture)])
    test_cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "convolve2d", "points": 6}
    answer = nbformat.v4.new_code_cell("plt.show()", outputs=[nbformat.from_dict(picture)])
    answer.metadata["nbgrader"] = {"grade": False, "solution": True, "grade_id": "answer"}
    nb = nbformat.v4.new_notebook(cells=[test_cell, answer])
    nb, _ = DescribeGraderPictures().preprocess(nb, {})
    assert nb.cells[0].outputs[0].metadata["image/png"]["alt"] == words
    assert "image/png" not in nb.cells[1].outputs[0].metadata  # a student's picture: not described by us


def test_a_tas_comment_gets_its_maths_too() -> None:
    from autograder.nbgrader_pages import MathAsMathML

    cell = nbformat.v4.new_code_cell("def f(): ...")
    cell.metadata["nbgrader"] = {"solution": True, "grade_id": "f", "comment": "Use $\\frac{1}{n}$, not `$n$` or \\$5."}
    nb, _ = MathAsMathML().preprocess(nbformat.v4.new_notebook(cells=[cell]), {})
    comment = nb.cells[0].metadata["nbgrader"]["comment"]
    assert comment.startswith("Use <math") and "<mfrac>" in comment and comment.endswith(", not `$n$` or \\$5.")


def test_a_blank_line_in_a_students_maths_never_ends_the_sanitised_block() -> None:
    """The sanitised cell is one HTML block with no blank line (its newlines are &#10;): MathML text holding a raw
    blank line (``\\text{a`` newline newline ``b}``) would end it there, and nbconvert's Markdown renderer would read
    the rest of the student's text as Markdown again: a ``javascript:`` link on the TA's formgrader page (whose CSP
    allows inline script), a remote image."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    hostile = ("$$\\text{a\n\n[x](javascript:alert(1)) ![t](http://evil.example/t.png)}$$\n\n"
               "$$\\text{b\r\n\r\n[y](javascript:alert(2))}$$")
    page = markdown2html_mistune(rendered(hostile))
    parsed = parse(page)
    assert "a" not in parsed.tags and "img" not in parsed.tags, page
    assert "javascript:" not in "".join(v for _, _, v in parsed.attributes), page
    assert parsed.tags.count("math") == 2 and "[x](javascript:alert(1))" in page, page  # (as text)
