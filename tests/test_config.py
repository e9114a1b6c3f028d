"""course.yml: clear errors naming the key and the file; points agree with the notebooks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from autograder.config import check_notebook_points, describe_schema, load_course
from autograder.errors import ConfigError
from tests.conftest import REPO, make_course, run_cli


def _course_with(tmp_path: Path, edit: dict[str, object]) -> Path:
    path = make_course(tmp_path / "c")
    data = yaml.safe_load(path.read_text())
    data.update(edit)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_repository_course_loads() -> None:
    course = load_course(REPO / "course.yml")
    a = course.assignment("01_convolution")
    assert (a.auto_max_score, a.max_score) == (20, 22)  # 2 points are a TA-graded written answer
    assert course.limits_for(a).cell_timeout_s > 0
    for assignment in course.assignments:
        check_notebook_points(course, assignment)


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = _course_with(tmp_path, {"limitz": {}})
    with pytest.raises(ConfigError, match=r"unknown key 'limitz'") as e:
        load_course(path)
    assert str(path) in str(e.value)


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    path = _course_with(tmp_path, {"limits": {"cell_timeout_s": "soon"}})
    with pytest.raises(ConfigError, match=r"limits\.cell_timeout_s"):
        load_course(path)


def test_missing_notebook_is_named(tmp_path: Path) -> None:
    path = make_course(tmp_path / "c")
    data = yaml.safe_load(path.read_text())
    data["assignments"][0]["notebook"] = "nope.ipynb"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError, match=r"notebook: .*nope\.ipynb does not exist"):
        load_course(path)


def test_points_mismatch_is_an_error(tmp_path: Path) -> None:
    path = make_course(tmp_path / "c")
    data = yaml.safe_load(path.read_text())
    data["assignments"][0]["questions"][0]["points"] = 1000
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    course = load_course(path)
    with pytest.raises(ConfigError, match=r"course\.yml says 1000 points, the released notebook's test cell says 2"):
        check_notebook_points(course, course.assignments[0])


def test_cli_reports_config_errors_without_traceback(tmp_path: Path) -> None:
    path = _course_with(tmp_path, {"limitz": {}})
    proc = run_cli("--course", path, "config")
    assert proc.returncode == 2
    assert "unknown key 'limitz'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "course.yml"
    bad.write_text("course_id: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_course(bad)
    with pytest.raises(ConfigError, match="course file not found"):
        load_course(tmp_path / "missing.yml")


def test_describe_lists_every_limit() -> None:
    text = describe_schema()
    for key in ("course_id", "limits.cell_timeout_s", "limits.memory_mb", "hidden_suite", "points"):
        assert key in text


def test_unknown_assignment_and_runner(tmp_path: Path) -> None:
    proc = run_cli("grade", "99_nope", str(tmp_path), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "Unknown assignment '99_nope'" in proc.stderr
    nb = tmp_path / "a.ipynb"
    shutil.copy(REPO / "assignments/01_convolution/convolution.ipynb", nb)
    proc = run_cli("grade", "01_convolution", nb, "--out", tmp_path / "o", "--runner", "tpu")
    assert proc.returncode == 1 and "Unknown runner 'tpu'" in proc.stderr


def test_manual_question_must_be_a_manually_graded_answer_cell(tmp_path: Path) -> None:
    data = yaml.safe_load((REPO / "course.yml").read_text())
    questions = data["assignments"][0]["questions"]
    next(q for q in questions if q["id"] == "padding_written")["manual"] = False
    next(q for q in questions if q["id"] == "zero_pad")["manual"] = True
    path = tmp_path / "course.yml"
    for name in ("solutions", "assignments", "datasets", "autograder"):
        (tmp_path / name).symlink_to(REPO / name)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    course = load_course(path)
    with pytest.raises(ConfigError) as e:
        check_notebook_points(course, course.assignments[0])
    message = str(e.value)
    assert "'padding_written': course.yml says autograded, the notebook's cell is a manually graded answer" in message
    assert "'zero_pad': course.yml says manual, the notebook's cell is an autograded test" in str(e.value)
