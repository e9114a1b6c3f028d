"""``autograder validate`` through the real CLI, on student notebooks made from the real release of 01_convolution.

Each student notebook is the released notebook with every answer filled in from the solution (as a student would
submit it), with one function changed where a test needs a mistake. The expected failing lines are read from the
released notebook's visible test cells, so the tests follow the course's own test code.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import nbformat
import pytest
from markdown_it import MarkdownIt

from autograder.config import load_course
from autograder.samples import filled_in, make_sample
from autograder.validate import visible_tests
from tests.conftest import REPO, make_course, run_cli

COURSE = load_course(REPO / "course.yml")
CONV = COURSE.assignment("01_convolution")
QUESTIONS = [qid for qid, _ in visible_tests(COURSE, CONV)]


def student_notebook(path: Path, changes: dict[str, tuple[str, str]]) -> Path:
    """The filled-in release, with ``changes``: function name -> (regex, replacement) applied once to the answer
    cell defining that function (the change must apply)."""
    nb = filled_in(COURSE, CONV)
    for function, (pattern, replacement) in changes.items():
        cells = [c for c in nb.cells if c.cell_type == "code" and f"def {function}(" in c.source]
        assert len(cells) == 1, function
        new, n = re.subn(pattern, replacement, cells[0].source, count=1)
        assert n == 1, f"{pattern!r} is not in the answer cell of {function}"
        cells[0].source = new
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def released_line(grade_id: str, contains: str) -> tuple[int, str, ast.stmt]:
    """(1-based line number, text, top-level statement) of the line of a released visible test cell holding
    ``contains``."""
    source = dict(visible_tests(COURSE, CONV))[grade_id]
    numbers = [i for i, line in enumerate(source.splitlines(), 1) if contains in line]
    assert len(numbers) == 1, (grade_id, contains, numbers)
    statement = next(s for s in ast.parse(source).body if s.lineno == numbers[0])
    return numbers[0], source.splitlines()[numbers[0] - 1], statement


def fences(markdown: str) -> list[tuple[str, str]]:
    """(info, content) of every fenced code block, as a CommonMark parser reads the text."""
    return [(t.info, t.content) for t in MarkdownIt("commonmark").parse(markdown) if t.type == "fence"]


def headings(markdown: str) -> list[str]:
    tokens = MarkdownIt("commonmark").parse(markdown)
    return [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]


def section(markdown: str, grade_id: str) -> str:
    """The text of one failed check's section (from its heading to the next heading)."""
    start = markdown.index(f"### {CONV.question(grade_id).title} (`{grade_id}`)\n")
    ends = [i for i in (markdown.find("\n### ", start), markdown.find("\n## ", start)) if i >= 0]
    return markdown[start:min(ends, default=len(markdown))]


def prose(markdown: str) -> str:
    """The text outside fenced code blocks (quoted test code and messages)."""
    lines = markdown.splitlines()
    for t in MarkdownIt("commonmark").parse(markdown):
        if t.type == "fence" and t.map:
            lines[t.map[0]:t.map[1]] = [""] * (t.map[1] - t.map[0])
    return "\n".join(lines)


def assert_no_score(proc: subprocess.CompletedProcess[str]) -> None:
    assert "score" not in proc.stdout.lower()
    assert not re.search(r"\d+(\.\d+)? / \d", prose(proc.stdout)), "validate must not print points"
    assert "points" not in prose(proc.stdout).replace("give no points", "")
    assert "grade is decided by hidden tests" in proc.stdout


@pytest.fixture(scope="module")
def two_mistakes(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """output_size rounds up (a bare assert fails) and relu returns |x| (numpy's assert_allclose fails)."""
    nb = student_notebook(tmp_path_factory.mktemp("validate") / "convolution.ipynb", {
        "output_size": (r"\n    return int\(.*\)\n", "\n    return int(np.ceil((n - f + 2 * padding) / stride)) + 1\n"),
        "relu": (r"return np\.where\(x > 0, x, 0\.0\)", "return np.abs(x)"),
    })
    return run_cli("validate", nb)


def test_all_visible_checks_pass_exits_0(tmp_path: Path) -> None:
    good = tmp_path / "convolution.ipynb"
    good.write_text(make_sample(COURSE, CONV, "correct"))
    proc = run_cli("validate", good)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Visible checks passed {len(QUESTIONS)} of {len(QUESTIONS)}." in proc.stdout
    assert len(QUESTIONS) == 7
    assert_no_score(proc)
    assert "did not pass" not in proc.stdout and proc.stderr == ""


def test_some_failing_checks_exit_1_and_are_counted(two_mistakes: subprocess.CompletedProcess[str]) -> None:
    proc = two_mistakes
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Visible checks passed 5 of 7." in proc.stdout
    assert "2 of 7 visible checks did not pass (output_size, activations)" in proc.stderr
    assert_no_score(proc)
    rows = dict(re.findall(r"^\| .* \(`(\w+)`\) \| (\w[\w ]*) \|$", proc.stdout, re.M))
    assert rows == {q: "failed" if q in ("output_size", "activations") else "passed" for q in QUESTIONS}
    # the failed checks have their own sections, in notebook order, and nothing broke the Markdown's headings
    assert headings(proc.stdout) == [f"{CONV.id}: {CONV.title} (visible checks)", "Visible checks that did not pass",
                                     *(f"{CONV.question(q).title} (`{q}`)" for q in ("output_size", "activations"))]


def test_a_failing_assert_shows_its_line_and_message(two_mistakes: subprocess.CompletedProcess[str]) -> None:
    number, line, statement = released_line("output_size", "assert size == 4,")
    text = section(two_mistakes.stdout, "output_size")
    assert f"Failed with AssertionError at line {number} (of " in text
    assert ("python", line + "\n") in fences(text)
    assert isinstance(statement, ast.Assert)
    if statement.msg is None:  # the released check has no message of its own: the line is all there is
        assert "The check has no message: the quoted line is what failed." in text
    else:
        assert "Message:" in text


def test_a_multiline_numpy_message_is_fenced(two_mistakes: subprocess.CompletedProcess[str]) -> None:
    first, _, statement = released_line("activations", "np.testing.assert_allclose(relu(grid.copy())")
    text = section(two_mistakes.stdout, "activations")
    assert f"Failed with AssertionError at lines {first}-{statement.end_lineno} (of " in text
    blocks = fences(text)
    assert blocks[0][0] == "python" and blocks[0][1].startswith("np.testing.assert_allclose(relu(grid.copy()),")
    info, message = blocks[1]
    assert info == "text"
    assert message.startswith("Not equal to tolerance") and "Mismatched elements: 4 / 8" in message
    assert len(message.splitlines()) >= 4


def test_a_stub_is_not_implemented_at_its_first_call(tmp_path: Path) -> None:
    stub = tmp_path / "01_convolution" / "mine.ipynb"  # the assignment is told by the folder's name
    stub.parent.mkdir()
    stub.write_text(make_sample(COURSE, CONV, "stub"))
    proc = run_cli("validate", stub)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Visible checks passed 0 of 7." in proc.stdout
    assert_no_score(proc)
    number, line, _ = released_line("zero_pad", "padded = zero_pad(image, 1)")
    text = section(proc.stdout, "zero_pad")
    assert f"Not implemented yet: the statement at line {number} (of " in text
    assert ("python", line + "\n") in fences(text)
    assert proc.stdout.count("Not implemented yet") == 7


def test_notebook_cells_that_raised_are_listed(tmp_path: Path) -> None:
    nb = tmp_path / "convolution.ipynb"
    nb.write_text(make_sample(COURSE, CONV, "syntax_error"))
    proc = run_cli("validate", nb)
    assert proc.returncode == 1
    notebook_part = proc.stdout[proc.stdout.index("## Your notebook"):proc.stdout.index("## Visible checks that")]
    assert re.search(r"^- The cell that (defines|starts) `[^`]+` raised SyntaxError: invalid syntax", notebook_part,
                     re.M), notebook_part
    # the broken cell defined output_size: its check fails on the first line that calls it
    number, _, _ = released_line("output_size", "size = output_size(10, 3, stride=1)")
    assert f"Failed with NameError at line {number} (of " in section(proc.stdout, "output_size")


def test_a_file_that_is_not_a_notebook_exits_4(tmp_path: Path) -> None:
    nb = tmp_path / "convolution.ipynb"
    nb.write_text(make_sample(COURSE, CONV, "not_a_notebook"))
    proc = run_cli("validate", nb)
    assert proc.returncode == 4
    assert proc.stdout == ""
    assert "is not a valid Jupyter notebook" in proc.stderr and "Nothing was checked." in proc.stderr


def test_a_check_that_hangs_is_stopped_at_its_line_and_the_next_checks_still_run(tmp_path: Path) -> None:
    course_yml = make_course(tmp_path / "course", cell_timeout_s=10)
    nb = student_notebook(tmp_path / "convolution.ipynb", {
        "pool2d": (r"(?s)(def pool2d\(.*?### BEGIN SOLUTION\n)", r"\1    while True:\n        pass\n"),
    })
    proc = run_cli("--course", course_yml, "validate", nb)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Visible checks passed 6 of 7." in proc.stdout  # conv2d_layer, after pool2d, ran in a fresh worker
    assert "1 of 7 visible checks did not pass (pool2d)" in proc.stderr
    number, _, statement = released_line("pool2d", "pool2d(activation_map, size=2, stride=2)")
    text = section(proc.stdout, "pool2d")
    assert f"Stopped (did not finish within 10 s) at lines {number}-{statement.end_lineno} (of " in text
    assert fences(text)[0][1].startswith("np.testing.assert_array_equal(pool2d(activation_map, size=2, stride=2)")
