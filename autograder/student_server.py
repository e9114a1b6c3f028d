"""A Jupyter server extension: nbgrader's Validate button gives the verdict of ``autograder validate``.

nbgrader's Validate buttons (the notebook's toolbar and the Assignments tab, in Notebook 7 and JupyterLab) post the
notebook's path to the server's ``/assignments/validate`` handler, which runs nbgrader's ``Validator`` in the
student's kernel: the notebook's own test cells, as the student left them. For a notebook with the course's
:data:`~autograder.student_copy.CHECKS_FILE` beside it (the folder ``fetch_assignment`` gives), this extension makes
that handler run :class:`VisibleChecksValidator` instead: the same run as ``autograder validate`` (the notebook in
the limited worker, then the RELEASED visible test cells statement by statement), answered in the shape nbgrader's
dialog shows. Any other notebook is validated by nbgrader as before.

Enabled by the package (``etc/jupyter/jupyter_server_config.d/autograder.json``, like nbgrader's own extensions), or
by hand: ``jupyter server extension enable --sys-prefix autograder.student_server``.

nbgrader's dialog sets each failure's ``error`` as HTML (it expects ``ansi2html`` output): every text here, the
student's error messages included, is HTML-escaped, and the quoted statements go in ``source``, which the dialog
sets as text.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import json
import re
import textwrap
from pathlib import Path
from typing import Any

from nbgrader.validator import Validator
from tornado import web

from autograder.errors import AutograderError

WIDTH = 100  # nbgrader's dialog shows the text in a <pre>: long lines would scroll sideways


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "autograder.student_server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Route nbgrader's Validate handler through :class:`VisibleChecksValidator`."""
    from nbgrader.server_extensions.validate_assignment import handlers

    handlers.Validator = VisibleChecksValidator  # the name the handler instantiates
    # nbgrader's handler runs the check on the server's event loop: the whole server (every tab, every kernel's
    # messages) would wait for it, up to the notebook's time limit. The same handler, the check in a thread:
    handlers.ValidateAssignmentHandler.post = _post_in_a_thread
    serverapp.log.info("autograder: nbgrader's Validate runs the course's visible checks where a notebook has them")


@web.authenticated
async def _post_in_a_thread(self: Any) -> None:
    """nbgrader's ``ValidateAssignmentHandler.post``, with ``validate_notebook`` run in a thread."""
    try:
        data = {"path": self.get_argument("path")}
    except web.MissingArgumentError:
        data = self.get_json_body()
    output = await asyncio.get_running_loop().run_in_executor(None, self.validate_notebook, data["path"])
    self.finish(json.dumps(output))


class VisibleChecksValidator(Validator):
    """nbgrader's Validator, answering with the course's visible checks when the notebook has them."""

    def validate(self, filename: str) -> dict[str, list[dict[str, str]]]:
        from autograder.student_copy import find_target

        notebook = Path(filename)
        try:  # in a course folder (an instructor's, a TA's), the course's checks; else the file beside the notebook
            target = find_target(notebook)
        except AutograderError as exc:
            return _failure("The course's visible checks cannot run", str(exc))
        if target is None:  # not one of the course's notebooks: nbgrader's own validation
            result: dict[str, list[dict[str, str]]] = super().validate(filename)
            return result
        from autograder.validate import validate_notebook

        self.log.info("autograder: visible checks of %s for %s", target.assignment, filename)
        # cold workers: a warm zygote (TensorFlow imported) would stay in this long-running server after the check
        target = dataclasses.replace(target, warm_start=False)
        try:
            checked = validate_notebook(target, notebook)
        except AutograderError as exc:
            return _failure(f"Visible checks of {target.assignment}: nothing was checked", str(exc))
        return verdict(checked)


def _failure(source: str, text: str) -> dict[str, list[dict[str, str]]]:
    return {"failed": [{"source": source, "error": html.escape(text), "raw_error": text}]}


def verdict(checked: Any) -> dict[str, list[dict[str, str]]]:
    """A :class:`~autograder.validate.ValidateResult` in the shape of nbgrader's ``Validator.validate``: ``{}`` when
    every visible check passed (nbgrader's dialog then says so), else one ``failed`` entry per check that did not
    pass, the first one headed by "Visible checks passed N of M." and what went wrong in the notebook's own cells."""
    from autograder.validate import cell_line, check_section

    failing = [c for c in checked.checks if not c.passed]
    if not failing:
        return {}
    head = [f"Visible checks passed {checked.passed} of {len(checked.checks)}.",
            *textwrap.wrap("They check the lecture's worked examples and give no points: hidden tests decide your "
                           "grade after you submit.", WIDTH), ""]
    if checked.sandbox:
        head += [*textwrap.wrap(checked.sandbox, WIDTH), ""]
    problems = [cell for cell in checked.cells if cell.status != "ok"]
    if problems:
        head += ["Your notebook:", *(line for cell in problems for line in cell_line(cell)), ""]
    entries = []
    for i, check in enumerate(failing):
        text = "\n".join(([*head] if i == 0 else []) + plain(check_section(check))).strip("\n")
        source = check.chunk.source if check.chunk is not None else f"{check.title} ({check.grade_id})"
        entries.append({"source": source, "error": html.escape(text), "raw_error": text})
    return {"failed": entries}


def plain(markdown_lines: list[str]) -> list[str]:
    """A check's Markdown section (:func:`autograder.validate.check_section`) as plain text for nbgrader's dialog:
    headings without their marks, fenced blocks indented instead of fenced, sentences wrapped."""
    out: list[str] = []
    fence = ""
    for line in markdown_lines:
        mark = re.match(r"^(`{3,})", line)
        if mark and (not fence or line.strip() == fence):
            fence = "" if fence else mark.group(1)
            continue
        if fence:
            out.append("    " + line)
        else:
            out += textwrap.wrap(line.removeprefix("### "), WIDTH) or [""]
    return out
