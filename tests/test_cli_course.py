"""Which course the CLI works on, and the demo's care with folders it did not make."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.cli import find_course_file
from autograder.config import load_course
from autograder.errors import ConfigError
from autograder.samples import make_sample
from tests.conftest import REPO, run_cli


def test_course_file_is_found_here_or_above(tmp_path: Path) -> None:
    assert find_course_file(REPO) == REPO / "course.yml"
    assert find_course_file(REPO / "autograder" / "hidden") == REPO / "course.yml"
    (tmp_path / "course.yml").write_text("course_id: x\n")
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert find_course_file(tmp_path / "a" / "b") == tmp_path / "course.yml"


def test_no_course_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No course.yml in .* or any folder above it.*--course"):
        find_course_file(Path("/"))
    proc = run_cli("grade", "01_convolution", "x.ipynb", "--out", tmp_path / "out", cwd=Path("/"))
    assert proc.returncode == 2
    assert "No course.yml in /" in proc.stderr and "Traceback" not in proc.stderr


def test_demo_never_deletes_a_folder_it_did_not_make(tmp_path: Path) -> None:
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("years of work")
    proc = run_cli("demo", "--out", precious)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "was not made by `autograder demo`" in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(p.name for p in precious.iterdir()) == ["chapter1.tex"]
    assert (precious / "chapter1.tex").read_text() == "years of work"


def test_autograder_jobs_sets_the_default_jobs_and_a_bad_value_is_named(tmp_path: Path) -> None:
    course = load_course(REPO / "course.yml")
    text = make_sample(course, course.assignment("01_convolution"), "correct")
    subs = [tmp_path / f"{name}.ipynb" for name in ("ann", "ben")]
    for path in subs:
        path.write_text(text)
    out = tmp_path / "out"
    # two submissions on two cores would start a local cluster by default
    proc = run_cli("grade", "01_convolution", *subs, "--out", out, "--no-progress", env={"AUTOGRADER_JOBS": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Graded 2, already done 0." in proc.stdout and "Graded on this process." in proc.stdout
    # --jobs wins: the variable is not even read
    proc = run_cli("grade", "01_convolution", *subs, "--out", out, "--no-progress", "--jobs", "1",
                   env={"AUTOGRADER_JOBS": "many"})
    assert proc.returncode == 0 and "Graded 0, already done 2." in proc.stdout, proc.stdout + proc.stderr
    proc = run_cli("grade", "01_convolution", *subs, "--out", tmp_path / "out2", env={"AUTOGRADER_JOBS": "many"})
    assert proc.returncode == 2
    assert "Invalid value for '--jobs' / '-j' (env var: 'AUTOGRADER_JOBS'): 'many'" in proc.stderr
    assert not (tmp_path / "out2").exists()
