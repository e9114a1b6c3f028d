"""batch.find_submissions: which notebook belongs to which student, in every layout `autograder grade` accepts.

Layouts: notebook files named after the student (``alice.ipynb``; a folder of them is passed as its files),
a student's folder (``alice/convolution.ipynb`` or ``alice/01_convolution/convolution.ipynb``), an nbgrader
assignment folder (``submitted/alice/01_convolution/``), and nbgrader's whole ``submitted/`` folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.batch import find_submissions, refuse_lookalikes_of_results, scan_submissions
from autograder.config import Assignment
from autograder.errors import SubmissionError
from autograder.grade import SubmissionInput

NB = "convolution.ipynb"
AID = "01_convolution"


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}")
    return path


def found(a01: Assignment, *paths: Path) -> list[tuple[str, Path]]:
    return [(s.student, s.notebook) for s in find_submissions(a01, paths)]


def test_the_real_assignment_names(a01: Assignment) -> None:
    assert (a01.id, a01.notebook) == (AID, NB)


def test_a_single_notebook_file_is_named_after_its_file(a01: Assignment, tmp_path: Path) -> None:
    nb = touch(tmp_path / "alice.ipynb")
    assert found(a01, nb) == [("alice", nb)]


def test_a_folder_of_student_notebooks_is_passed_as_its_files(a01: Assignment, tmp_path: Path) -> None:
    files = [touch(tmp_path / "subs" / f"{name}.ipynb") for name in ("carol", "alice", "bob")]
    assert found(a01, *files) == [("carol", files[0]), ("alice", files[1]), ("bob", files[2])]


def test_the_folder_itself_of_student_notebooks_is_refused_with_the_layouts(a01: Assignment, tmp_path: Path) -> None:
    touch(tmp_path / "subs" / "alice.ipynb")
    with pytest.raises(SubmissionError, match=r"subs: no submissions found\. Expected .*subs/<student>/"
                                              r"01_convolution/convolution\.ipynb .*or notebook files\."):
        find_submissions(a01, [tmp_path / "subs"])


def test_nbgrader_submitted_root(a01: Assignment, tmp_path: Path) -> None:
    root = tmp_path / "submitted"
    bob = touch(root / "bob" / AID / NB)
    alice = touch(root / "alice" / AID / NB)
    touch(root / "alice" / AID / "timestamp.txt")
    touch(root / "carol" / "02_mnist_cnn" / "mnist_cnn.ipynb")  # another assignment only
    touch(root / "dave" / AID / "convolution-Copy1.ipynb")  # not the assignment's notebook name: see below
    touch(root / "stray.ipynb")
    assert found(a01, root) == [("alice", alice), ("bob", bob), ("dave", root / "dave" / AID / NB)]


def test_a_renamed_notebook_is_ungradable_with_what_to_rename_never_skipped(a01: Assignment,
                                                                           tmp_path: Path) -> None:
    from autograder.batch import grade_one

    folder = tmp_path / "submitted" / "dave" / AID
    touch(folder / "convolution-Copy1.ipynb")
    [sub] = find_submissions(a01, [tmp_path / "submitted"])
    result = grade_one(None, a01, sub, "cpu")  # type: ignore[arg-type]  # never reaches the course
    assert (result.student, result.status, result.score) == ("dave", "ungradable", 0.0)
    assert result.message == ("No convolution.ipynb was submitted (the submission has `convolution-Copy1.ipynb`): "
                              "name your notebook convolution.ipynb, as released, and submit again.")


def test_nbgrader_student_folder_and_assignment_folder(a01: Assignment, tmp_path: Path) -> None:
    alice = touch(tmp_path / "submitted" / "alice" / AID / NB)
    bob = touch(tmp_path / "submitted" / "bob" / AID / NB)
    assert found(a01, tmp_path / "submitted" / "alice", tmp_path / "submitted" / "bob" / AID) == [
        ("alice", alice), ("bob", bob)]


def test_nbgrader_notebook_file_is_named_after_the_student_folder(a01: Assignment, tmp_path: Path) -> None:
    nb = touch(tmp_path / "submitted" / "alice" / AID / NB)
    assert found(a01, nb) == [("alice", nb)]


def test_a_students_plain_folder(a01: Assignment, tmp_path: Path) -> None:
    nb = touch(tmp_path / "downloads" / "erin" / NB)
    assert found(a01, tmp_path / "downloads" / "erin") == [("erin", nb)]
    assert found(a01, nb) == [("erin", nb)]


def test_layouts_mix(a01: Assignment, tmp_path: Path) -> None:
    one = touch(tmp_path / "zed.ipynb")
    two = touch(tmp_path / "submitted" / "amy" / AID / NB)
    assert found(a01, one, tmp_path / "submitted") == [("zed", one), ("amy", two)]


@pytest.mark.parametrize(("name", "student"), [
    ("Bob Smith.ipynb", "Bob%20Smith"),
    ("jo.doe@uni.edu.ipynb", "jo.doe@uni.edu"),
    ("dave+.ipynb", "dave+"),
    ("o'brien; rm -rf ~.ipynb", "o%27brien%3B%20rm%20-rf%20%7E"),
    ("über.ipynb", "%C3%BCber"),
    (".hidden.ipynb", "%2Ehidden"),
    ("-rf.ipynb", "%2Drf"),
    ("50%.ipynb", "50%25"),
    ("x\x1b]0;pwned\x07.ipynb", "x%1B%5D0%3Bpwned%07"),
    ("___.ipynb", "___"),
])
def test_student_ids_are_the_names_percent_encoded_where_unsafe(a01: Assignment, tmp_path: Path, name: str,
                                                                 student: str) -> None:
    nb = touch(tmp_path / name)
    assert found(a01, nb) == [(student, nb)]


def test_student_folder_names_are_encoded_too(a01: Assignment, tmp_path: Path) -> None:
    nb = touch(tmp_path / "submitted" / "Anna Lee" / AID / NB)
    assert found(a01, tmp_path / "submitted") == [("Anna%20Lee", nb)]


def scan(a01: Assignment, *paths: Path) -> tuple[list[tuple[str, Path]], dict[str, str]]:
    subs, refused = scan_submissions(a01, paths)
    return [(s.student, s.notebook) for s in subs], {r.name: r.reason for r in refused}


def test_names_that_differ_are_never_the_same_student(a01: Assignment, tmp_path: Path) -> None:
    """The old mapping graded both `dave` and `dave+` (and `a b`, `a_b`) as one student."""
    files = [touch(tmp_path / "submitted" / n / AID / NB) for n in ("dave", "dave+", "a b", "a_b")]
    assert scan(a01, tmp_path / "submitted") == (
        [("a%20b", files[2]), ("a_b", files[3]), ("dave", files[0]), ("dave+", files[1])], {})


def test_two_submissions_for_one_student_are_refused_by_name_and_the_others_kept(a01: Assignment,
                                                                                 tmp_path: Path) -> None:
    first, second = touch(tmp_path / "a" / "alice.ipynb"), touch(tmp_path / "b" / "alice.ipynb")
    bob = touch(tmp_path / "bob.ipynb")
    subs, refused = scan_submissions(a01, [first, bob, second])
    assert [(s.student, s.notebook) for s in subs] == [("bob", bob)]
    assert [(r.name, r.notebook) for r in refused] == [("alice", first), ("alice", second)]
    assert refused[0].reason.startswith("2 submissions for this student: none of them was graded")
    with pytest.raises(SubmissionError, match="2 submission.s. not graded because of their names") as info:
        find_submissions(a01, [first, second])
    assert str(first) in str(info.value) and str(second) in str(info.value)


def test_names_the_same_but_for_case_or_compatibility_forms_are_refused(a01: Assignment, tmp_path: Path) -> None:
    names = ("Dave", "dave", "\uff44\uff41\uff56\uff45", "carol")  # the third: full-width letters
    files = [touch(tmp_path / "submitted" / n / AID / NB) for n in names]
    subs, why = scan(a01, tmp_path / "submitted")
    assert subs == [("carol", files[3])]
    assert set(why) == set(names[:3])
    assert why["dave"].startswith("looks the same as 'Dave', '\uff44\uff41\uff56\uff45'")


def test_the_same_student_in_two_layouts_is_refused(a01: Assignment, tmp_path: Path) -> None:
    loose = touch(tmp_path / "alice.ipynb")
    touch(tmp_path / "submitted" / "alice" / AID / NB)
    with pytest.raises(SubmissionError, match="'alice'.*2 submissions for this student"):
        find_submissions(a01, [loose, tmp_path / "submitted"])


def test_a_name_too_long_for_an_id_is_refused(a01: Assignment, tmp_path: Path) -> None:
    long = touch(tmp_path / f"{'ü' * 30}.ipynb")  # 30 characters, 180 encoded
    ok = touch(tmp_path / f"{'u' * 128}.ipynb")
    subs, why = scan(a01, long, ok)
    assert subs == [("u" * 128, ok)]
    assert why == {"ü" * 30: "its student id would be 180 characters long, over nbgrader's 128: rename it to the "
                              "student's roster id"}


def test_a_lookalike_of_an_earlier_result_is_refused(a01: Assignment, tmp_path: Path) -> None:
    out = tmp_path / "out"
    touch(out / "Dave" / "results.json")
    subs = [SubmissionInput("dave", tmp_path / "dave.ipynb"), SubmissionInput("Dave", tmp_path / "Dave.ipynb"),
            SubmissionInput("erin", tmp_path / "erin.ipynb")]
    kept, refused = refuse_lookalikes_of_results(subs, out)
    assert [s.student for s in kept] == ["Dave", "erin"]
    assert [r.student for r in refused] == ["dave"]
    assert refused[0].reason.startswith("looks the same as 'Dave', already graded in the output folder")


def test_a_missing_path_is_refused(a01: Assignment, tmp_path: Path) -> None:
    with pytest.raises(SubmissionError, match=r"nothing\.ipynb: no such file or folder\.$"):
        find_submissions(a01, [tmp_path / "nothing.ipynb"])


def test_an_empty_folder_is_refused(a01: Assignment, tmp_path: Path) -> None:
    with pytest.raises(SubmissionError, match="no submissions found"):
        find_submissions(a01, [tmp_path])


def test_no_paths_no_submissions(a01: Assignment) -> None:
    assert find_submissions(a01, []) == []
