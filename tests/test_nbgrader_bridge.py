"""The preprocessor that puts our sandbox's scores into nbgrader's autograde step (no sandbox run here)."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbconvert.exporters.exporter import ResourcesDict
from nbgrader import utils
from traitlets.config import Config

from autograder.gradebook import CONFIG_TEMPLATE
from autograder.nbgrader_bridge import InjectResults, ResultsUnavailable, cell_feedback, question_score
from tests.conftest import REPO

RELEASED = REPO / "assignments" / "01_convolution" / "convolution.ipynb"


def results_for(submitted: Path, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "student": "alice", "assignment": "01_convolution", "status": "graded", "output": "",
        "submission_sha256": hashlib.sha256(submitted.read_bytes()).hexdigest(),
        "questions": [{"id": q, "title": q, "score": s, "max_score": m, "tests_passed": 1, "tests": 2}
                      for q, s, m in [("output_size", 2 / 3 * 3, 2.0), ("zero_pad", 1.0, 2.0), ("convolve2d", 6.0, 6.0),
                                      ("common_kernel", 0.0, 1.0), ("activations", 3.0, 3.0), ("pool2d", 3.0, 3.0),
                                      ("conv2d_layer", 3.0, 3.0)]],
        "tests": [{"name": "t", "question": "zero_pad", "status": "failed", "output": "zero_pad: <b>wrong</b> frame"}],
    }
    data.update(changes)
    return data


@pytest.fixture
def course(tmp_path: Path) -> dict[str, Any]:
    submitted = tmp_path / "submitted" / "alice" / "01_convolution" / "convolution.ipynb"
    submitted.parent.mkdir(parents=True)
    submitted.write_bytes(RELEASED.read_bytes())
    results = tmp_path / "grades" / "01_convolution" / "alice" / "results.json"
    results.parent.mkdir(parents=True)
    results.write_text(json.dumps(results_for(submitted)))
    config = Config()
    config.CourseDirectory.root = str(tmp_path)
    config.InjectResults.grade_missing = False
    return {"root": tmp_path, "submitted": submitted, "results": results, "config": config}


def inject(course: dict[str, Any]) -> tuple[nbformat.NotebookNode, dict[str, Any]]:
    nb = nbformat.read(str(course["submitted"]), 4)
    resources = ResourcesDict(nbgrader={"student": "alice", "assignment": "01_convolution",
                                        "notebook": "convolution", "db_url": "sqlite://"})
    return InjectResults(config=course["config"]).preprocess(copy.deepcopy(nb), resources)


def grades(nb: nbformat.NotebookNode) -> dict[str, float | None]:
    return {c.metadata.nbgrader.grade_id: utils.determine_grade(c)[0] for c in nb.cells
            if c.cell_type == "code" and utils.is_grade(c)}


def test_nbgrader_reads_each_questions_score_from_the_test_cell(course: dict[str, Any]) -> None:
    nb, resources = inject(course)
    assert grades(nb) == {"output_size": 2.0, "zero_pad": 1.0, "convolve2d": 6.0, "common_kernel": 0.0,
                          "activations": 3.0, "pool2d": 3.0, "conv2d_layer": 3.0}
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "zero_pad")
    assert [o.output_type for o in cell.outputs] == ["stream", "execute_result"]
    assert cell.outputs[0].name == "stdout"  # stderr would make nbgrader give 0
    assert "1 of 2 passed, 1 / 2 points" in cell.outputs[0].text
    assert "zero_pad: <b>wrong</b> frame" in cell.outputs[0].text  # plain text: nbconvert escapes it in HTML
    assert resources["autograder"]["same_submission"] is False


def test_a_score_above_the_points_is_clamped_so_nbgrader_does_not_raise() -> None:
    assert question_score({"score": 2.0000000001, "max_score": 2}) == 2.0
    assert question_score({"score": -0.5, "max_score": 2}) == 0.0


def test_a_result_made_from_another_file_is_refused(course: dict[str, Any]) -> None:
    other = results_for(course["submitted"], submission_sha256="0" * 64)
    course["results"].write_text(json.dumps(other))
    with pytest.raises(ResultsUnavailable, match="made from another file.*sha256 differs"):
        inject(course)


def test_a_result_for_another_student_is_refused(course: dict[str, Any]) -> None:
    course["results"].write_text(json.dumps(results_for(course["submitted"], student="bob")))
    with pytest.raises(ResultsUnavailable, match="is for 'bob'"):
        inject(course)


def test_a_missing_result_says_which_command_grades_it(course: dict[str, Any]) -> None:
    course["results"].unlink()
    with pytest.raises(ResultsUnavailable, match="autograder grade 01_convolution"):
        inject(course)


def test_a_test_cell_without_a_question_is_an_instructor_error(course: dict[str, Any]) -> None:
    data = results_for(course["submitted"])
    data["questions"] = [q for q in data["questions"] if q["id"] != "pool2d"]
    course["results"].write_text(json.dumps(data))
    with pytest.raises(ResultsUnavailable, match="no score for test cell 'pool2d'"):
        inject(course)


def test_ungradable_results_give_zero_with_the_reason(course: dict[str, Any]) -> None:
    data = results_for(course["submitted"], status="ungradable", questions=[], tests=[],
                       output="The submitted file is empty.")
    course["results"].write_text(json.dumps(data))
    nb, _ = inject(course)
    assert set(grades(nb).values()) == {0.0}
    assert "not graded (ungradable). The submitted file is empty." in cell_feedback(data, None)


def test_the_repositorys_nbgrader_config_is_the_packages_template() -> None:
    assert (REPO / "nbgrader_config.py").resolve() == CONFIG_TEMPLATE.resolve()  # one file, linked
