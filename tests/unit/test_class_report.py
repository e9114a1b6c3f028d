"""autograder.class_report: the class report's numbers from results, and its page (escaped, self-contained)."""

from __future__ import annotations

from autograder import class_report
from autograder.config import Assignment
from autograder.grade import GradeResult, QuestionResult, TestResult

HOSTILE = "<script>alert('x')</script>"


def _result(student: str, a01: Assignment, failed: dict[str, str], status: str = "graded") -> GradeResult:
    """A result of 01 where the tests named in ``failed`` (test -> message) failed, one test per question."""
    tests, questions = [], []
    for q in (q for q in a01.questions if not q.manual):
        name = f"test_{q.id}"
        ok = name not in failed
        tests.append(TestResult(name, q.id, q.points if ok else 0.0, q.points, "passed" if ok else "failed",
                                "" if ok else failed[name]))
        questions.append(QuestionResult(q.id, q.title, q.points if ok else 0.0, q.points, int(ok), 1))
    score = sum(q.score for q in questions) if status == "graded" else 0.0
    return GradeResult(student=student, assignment=a01.id, status=status, score=score,
                       max_score=a01.auto_max_score, tests=tests if status == "graded" else [],
                       questions=questions if status == "graded" else [],
                       message="" if status == "graded" else f"The submitted file is empty. {HOSTILE}")


def _class(a01: Assignment) -> list[GradeResult]:
    wrong = "Wrong output for the lecture's 5x5 image.\nexpected [[1]] got [[2]]"
    return [_result("ann", a01, {}), _result("bob", a01, {"test_convolve2d": wrong}),
            _result("cem", a01, {"test_convolve2d": wrong, "test_pool2d": HOSTILE}),
            _result("dee", a01, {}, status="ungradable")]


def test_the_numbers(a01: Assignment) -> None:
    data = class_report.build([r.to_json() for r in _class(a01)], a01)
    assert data["status_counts"] == {"graded": 3, "ungradable": 1}
    full = a01.auto_max_score
    conv = next(q for q in a01.questions if q.id == "convolve2d").points
    pool = next(q for q in a01.questions if q.id == "pool2d").points
    assert data["scores"]["values"] == sorted([full, full - conv, full - conv - pool])
    assert data["scores"]["median"] == full - conv and data["scores"]["max"] == full
    q = next(q for q in data["questions"] if q["id"] == "convolve2d")
    assert (q["full_marks"], q["students"]) == (1, 3)
    assert q["common_failures"] == [{"message": "Wrong output for the lecture's 5x5 image.", "students": 2}]
    assert data["tests"][0] == {"name": "test_convolve2d", "question": "convolve2d", "passed": 1, "students": 3,
                                "pass_rate": 0.333}, "the hardest test first"
    assert data["not_graded"] == [{"student": "dee", "status": "ungradable",
                                   "message": f"The submitted file is empty. {HOSTILE}"}]


def test_the_page_escapes_what_submissions_wrote_and_embeds_its_charts(a01: Assignment) -> None:
    data = class_report.build([r.to_json() for r in _class(a01)], a01)
    page = class_report.render_html(data, class_report.charts(data))
    assert HOSTILE not in page and "&lt;script&gt;" in page
    assert page.count('src="data:image/png;base64,') == 2 and "http" not in page.replace("http-equiv", "")
    for table in ("questions", "tests", "not-graded"):
        assert f'<table id="{table}">' in page


def test_regrade_deltas_say_who_changed_by_how_much_and_why(a01: Assignment) -> None:
    ann, bob, cem, dee = (r.to_json() for r in _class(a01))
    bob["previous"] = {"score": bob["score"] - 1.5, "status": "graded", "reason": "hidden suite changed"}
    cem["previous"] = {"score": cem["score"], "status": "graded", "reason": "hidden suite changed"}
    dee["previous"] = {"score": 3.0, "status": "graded", "reason": "submission changed"}
    data = class_report.build([ann, bob, cem, dee], a01)["regrades"]
    assert data["regraded"] == 3
    assert [(x["student"], x["delta"], x["reason"]) for x in data["changed"]] == [
        ("dee", -3.0, "submission changed"), ("bob", 1.5, "hidden suite changed")], "cem did not change"
    assert data["mean_delta"] == -0.5
    assert class_report.build([ann], a01)["regrades"] == {"regraded": 0, "changed": [], "mean_delta": None}


def test_held_out_accuracies_against_the_threshold(a01: Assignment) -> None:
    results = [r.to_json() for r in _class(a01)[:3]]
    for r, acc in zip(results, (0.91, 0.42, 0.88), strict=True):
        r["tests"][0]["measurements"] = {"held_out_accuracy": acc, "threshold": 0.85}
    [entry] = class_report.build(results, a01)["accuracies"]
    assert entry["values"] == [0.42, 0.88, 0.91] and entry["threshold"] == 0.85
    assert (entry["students"], entry["reached"], entry["median"]) == (3, 2, 0.88)
    data = class_report.build(results, a01)
    page = class_report.render_html(data, class_report.charts(data))
    assert "2 of 3 reached the threshold 0.85" in page and page.count('class="accuracy"') == 1


def test_similar_pairs_show_the_students_code_escaped(a01: Assignment) -> None:
    pair = {"a": "ann", "b": "bob", "score": 0.93, "shared": 40,
            "regions": [{"a_lines": [1, 2], "b_lines": [3, 4], "a_code": "x = '</pre><script>alert(1)</script>'",
                         "b_code": "y = 1"}]}
    data = class_report.build([r.to_json() for r in _class(a01)], a01, [pair])
    page = class_report.render_html(data, class_report.charts(data))
    assert "<script>alert(1)" not in page and "&lt;/pre&gt;&lt;script&gt;" in page
    assert "ann and bob: similarity 0.93 (40 shared fingerprints)" in page



def test_tests_of_two_questions_with_one_name_are_counted_apart(a01: Assignment) -> None:
    results = [r.to_json() for r in _class(a01)[:3]]
    for r in results:
        for t in r["tests"]:
            t["name"] = "test_lecture_worksheet[stride1_4x6]"  # as convolve2d's and conv2d_layer's
    rows = class_report.build(results, a01)["tests"]
    assert len(rows) == len({q.id for q in a01.questions if not q.manual})
    assert all(row["students"] == 3 for row in rows)
