"""validate.py's pure parts: splitting a visible test cell into statements, and the Markdown validate prints
(read back with a CommonMark parser, so a message can never break what follows it)."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.token import Token

from autograder.session import CELL_MESSAGE_CAP, CellOutcome
from autograder.validate import (
    MAX_QUOTED_LINES,
    Chunk,
    ValidateResult,
    VisibleCheck,
    fenced,
    statement_chunks,
    validate_markdown,
)

# What numpy's assert_allclose says (it starts with a newline), plus the worst a message can hold: a fence of
# its own, a heading, a table row and a line that looks like a list item.
HOSTILE = ("\nNot equal to tolerance rtol=1e-07, atol=0\n\nMismatched elements: 2 / 8 (25%)\n"
           " ACTUAL: array([[0.5, 0.3, 1.2, 0.6],\n       [2.2, 0.2, 1.4, 0.4]])\n"
           "```\n## Not a heading\n| not | a table |\n- not a list\n````` five ticks\n")


def tokens(markdown: str) -> list[Token]:
    return MarkdownIt("commonmark").parse(markdown)


def fence_blocks(markdown: str) -> list[tuple[str, str]]:
    return [(t.info, t.content) for t in tokens(markdown) if t.type == "fence"]


def headings(markdown: str) -> list[str]:
    ts = tokens(markdown)
    return [ts[i + 1].content for i, t in enumerate(ts) if t.type == "heading_open"]


def result(checks: list[VisibleCheck], cells: list[CellOutcome] | None = None) -> ValidateResult:
    return ValidateResult(assignment="hw", title="Homework", notebook="hw.ipynb", checks=checks, cells=cells or [])


def test_statement_chunks_are_whole_top_level_statements() -> None:
    source = ("# a comment before anything\n"
              "x = f(1,\n"
              "      2)   # a trailing comment\n"
              "\n"
              "a = 1; b = 2\n"
              "@decorator\n"
              "def g():\n"
              "    # indented comment\n"
              "    return 1\n"
              "try:\n"
              "    h()\n"
              "except ValueError:\n"
              "    pass\n"
              "else:\n"
              "    raise AssertionError('h() should raise')\n"
              "assert x  # last\n")
    assert statement_chunks(source) == [
        Chunk(2, 3, "x = f(1,\n      2)   # a trailing comment"),
        Chunk(5, 5, "a = 1; b = 2"),
        Chunk(6, 9, "@decorator\ndef g():\n    # indented comment\n    return 1"),
        Chunk(10, 15, "try:\n    h()\nexcept ValueError:\n    pass\nelse:\n"
                      "    raise AssertionError('h() should raise')"),
        Chunk(16, 16, "assert x  # last"),
    ]


def test_a_cell_that_is_not_plain_python_runs_as_one_piece() -> None:
    assert statement_chunks("%matplotlib inline\nassert f(1) == 2\n") is None


def test_a_fence_is_longer_than_any_backticks_inside() -> None:
    block = fenced(HOSTILE.strip("\n"), "text")
    assert block[0] == "``````text" and block[-1] == "``````"
    markdown = "\n".join(["before", "", *block, "", "## After"])
    assert fence_blocks(markdown) == [("text", HOSTILE.strip("\n") + "\n")]
    assert headings(markdown) == ["After"]


def test_a_failed_check_quotes_its_line_and_fences_a_multiline_message() -> None:
    checks = [
        VisibleCheck("a", "Part A", "failed", Chunk(4, 5, "np.testing.assert_allclose(relu(grid),\n    [[0.5]])"),
                     "AssertionError", HOSTILE, lines_in_cell=25),
        VisibleCheck("b", "Part B", "passed"),
        VisibleCheck("c", "Part C", "failed", Chunk(3, 3, "assert output_size(10, 3, stride=2) == 4"),
                     "AssertionError", "", lines_in_cell=17),
    ]
    md = validate_markdown(result(checks))
    assert "**Visible checks passed 1 of 3.**" in md
    assert "score" not in md.lower()
    assert "Your grade is decided by hidden tests, run after you submit" in md
    # the hostile message stays inside its fence: every heading after it is still a heading
    assert headings(md) == ["hw: Homework (visible checks)", "Visible checks that did not pass", "Part A (`a`)",
                            "Part C (`c`)"]
    assert fence_blocks(md) == [
        ("python", "np.testing.assert_allclose(relu(grid),\n    [[0.5]])\n"),
        ("text", HOSTILE.strip("\n") + "\n"),
        ("python", "assert output_size(10, 3, stride=2) == 4\n"),
    ]
    assert "Failed with AssertionError at lines 4-5 (of 25) of its visible test cell:" in md
    assert "Failed with AssertionError at line 3 (of 17) of its visible test cell:" in md
    assert "The check has no message: the quoted line is what failed." in md
    assert "| Part A (`a`) | failed |\n| Part B (`b`) | passed |\n| Part C (`c`) | failed |" in md


def test_a_message_cut_by_the_session_says_so() -> None:
    cap = CELL_MESSAGE_CAP
    cut = VisibleCheck("a", "Part A", "failed", Chunk(1, 1, "check()"), "AssertionError", "x" * cap, lines_in_cell=1)
    assert f"(The message was cut after its first {cap} characters.)" in validate_markdown(result([cut]))
    whole = VisibleCheck("a", "Part A", "failed", Chunk(1, 1, "check()"), "AssertionError", "x" * (cap - 1),
                         lines_in_cell=1)
    assert "was cut" not in validate_markdown(result([whole]))


def test_not_implemented_stopped_and_not_run_checks() -> None:
    checks = [
        VisibleCheck("a", "Part A", "failed", Chunk(2, 2, "padded = zero_pad(image, 1)"), "NotImplementedError",
                     "", lines_in_cell=14),
        VisibleCheck("b", "Part B", "stopped", Chunk(7, 7, "out = slow(image)"), "", "did not finish within 5 s",
                     lines_in_cell=9),
        VisibleCheck("c", "Part C", "not run", None, "", "the time limit for the whole notebook was reached"),
    ]
    md = validate_markdown(result(checks))
    assert "**Visible checks passed 0 of 3.**" in md
    assert ("Not implemented yet: the statement at line 2 (of 14) of its visible test cell calls a function that "
            "still raises NotImplementedError:") in md
    assert "Stopped (did not finish within 5 s) at line 7 (of 9) of its visible test cell:" in md
    assert "Did not run: the time limit for the whole notebook was reached." in md
    assert [b for _, b in fence_blocks(md)] == ["padded = zero_pad(image, 1)\n", "out = slow(image)\n"]
    assert "| Part C (`c`) | not run |" in md


def test_a_long_statement_is_cut_in_the_quote() -> None:
    body = "\n".join(f"    assert f({i})" for i in range(30))
    chunk = Chunk(1, 31, "for i in range(3):\n" + body)
    md = validate_markdown(result([VisibleCheck("a", "A", "failed", chunk, "AssertionError", "", 31)]))
    quoted = fence_blocks(md)[0][1].splitlines()
    assert len(quoted) == MAX_QUOTED_LINES + 1 and quoted[-1] == f"# ... {31 - MAX_QUOTED_LINES} more lines"


def test_notebook_cells_that_raised_are_listed_and_multiline_messages_stay_in_their_item() -> None:
    cells = [CellOutcome(2, "error", "NameError", "name 'np' is not defined"),
             CellOutcome(4, "ok"),
             CellOutcome(5, "error", "ValueError", "line one\n```\n## line two"),
             CellOutcome(7, "timeout", "", "did not finish within 5 s")]
    md = validate_markdown(result([VisibleCheck("a", "A", "passed")], cells))
    assert "- Cell 3 raised NameError: name 'np' is not defined" in md
    assert "- Cell 8 was stopped: did not finish within 5 s; the rest of the notebook ran without it" in md
    assert "Cell 5" not in md
    assert headings(md) == ["hw: Homework (visible checks)", "Your notebook"]
    ts = tokens(md)
    fence = next(t for t in ts if t.type == "fence")
    assert fence.content == "line one\n```\n## line two\n"
    assert fence.level > 0  # inside the list item of cell 6, not after the list
    assert [t.type for t in ts].count("list_item_open") == 3
