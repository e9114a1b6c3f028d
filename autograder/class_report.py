"""The class report of one assignment: how the class did and where it struggled, for TAs (issue 12, first part).

``autograder report ASSIGNMENT`` reads every results.json of the assignment in a grades folder and writes
``class-report.json`` (the numbers) and ``class-report.html`` (one self-contained page: the charts are PNG images
embedded in it, nothing is fetched) beside the CSV:

- the score distribution (histogram; mean, median, quartiles, min, max) and counts by status;
- per question: mean score against its points and how many students got it all;
- per test: pass rate, hardest first;
- per question, the most common failure messages (the student-visible message of each failed test, as
  feedback.md shows it: never a hidden input) with how many students got each;
- the submissions that were not graded, with their status and message;
- the notebooks handed in beside the graded one (``convolution-Copy1.ipynb``), which were not graded: their
  student, name, size and modification time;
- regrade deltas: who changed, by how much and why, from the last regrade of each student (a fixed test, a new
  workbook, a resubmission);
- for the Keras assignments, the held-out accuracies the grader's training reached, against the threshold;
- similar submissions: pairs whose solution code is unusually alike after normalising what copying disguises,
  the released stub's code not counting (:mod:`autograder.similarity`), with their matching regions side by side.

Everything in the page that comes from a submission is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from autograder.bounds import visible
from autograder.config import Assignment
from autograder.grade import SubmissionInput
from autograder.report import all_results, atomic_write, split_message

TOP_MESSAGES = 5
TOP_PAIRS = 10  # similar pairs listed
MAX_REGIONS = 5  # matching regions shown per pair


def _escape(text: str) -> str:
    """Text from a submission for the page: HTML-escaped, control characters as visible escapes."""
    return html.escape(visible(text))


def _first_line(message: str) -> str:
    line = next((x.strip() for x in message.splitlines() if x.strip()), "")
    return line[:300]


def _quartiles(values: list[float]) -> list[float]:
    if len(values) < 2:
        return [values[0]] * 3 if values else []
    return [round(q, 3) for q in statistics.quantiles(values, n=4, method="inclusive")]


def regrades(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Who the last regrade of each student changed, by how much, and why (results' ``previous``)."""
    rows = []
    for r in results:
        before = r.get("previous") or {}
        if not isinstance(before, dict) or not before:
            continue
        old, new = before.get("score"), r.get("score")
        delta = round(float(new) - float(old), 3) if isinstance(old, int | float) and isinstance(new, int | float) \
            else None
        rows.append({"student": str(r.get("student")), "before": old, "after": new, "delta": delta,
                     "status_before": str(before.get("status")), "status_after": str(r.get("status")),
                     "reason": str(before.get("reason", ""))})
    changed = [x for x in rows if x["delta"] != 0 or x["status_before"] != x["status_after"]]
    changed.sort(key=lambda x: (-abs(float(x["delta"] or 0)), str(x["student"])))
    return {"regraded": len(rows), "changed": changed,
            "mean_delta": round(statistics.fmean(float(x["delta"]) for x in rows if x["delta"] is not None), 3)
            if any(x["delta"] is not None for x in rows) else None}


def ignored_files(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The notebooks handed in beside a graded one and not graded (results' ``ignored_files``), by student."""
    rows = []
    for r in sorted(results, key=lambda r: str(r.get("student"))):
        files = r.get("ignored_files")
        for f in files if isinstance(files, list) else []:
            if isinstance(f, dict):
                rows.append({"student": str(r.get("student")), "name": str(f.get("name", "")),
                             "size": f.get("size") if isinstance(f.get("size"), int) else None,
                             "modified": str(f.get("modified", ""))})
    return rows


def accuracies(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per hidden test that trains the student's architecture: the held-out accuracies it reached and its
    threshold (tests' ``measurements``)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for r in results:
        for t in r.get("tests", []):
            m = t.get("measurements") or {}
            if "held_out_accuracy" not in m:
                continue
            key = (str(t.get("question")), str(t.get("name")))
            entry = found.setdefault(key, {"test": key[1], "question": key[0], "values": [],
                                           "threshold": m.get("threshold")})
            entry["values"].append(round(float(m["held_out_accuracy"]), 4))
    for entry in found.values():
        values = sorted(entry["values"])
        entry["values"] = values
        entry["students"] = len(values)
        entry["median"] = round(statistics.median(values), 4)
        entry["reached"] = sum(v >= (entry["threshold"] or 0) for v in values)
    return sorted(found.values(), key=lambda e: (e["question"], e["test"]))


def build(results: list[dict[str, Any]], assignment: Assignment,
          similar: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The report's numbers from results.json dicts and the similar pairs found (pure: no files)."""
    graded = [r for r in results if r.get("status") == "graded"]
    scores = sorted(float(r.get("score", 0)) for r in graded)
    auto = [q for q in assignment.questions if not q.manual]
    questions = []
    for q in auto:
        got: list[dict[str, Any]] = [x for r in graded for x in r.get("questions", []) if x.get("id") == q.id]
        messages: Counter[str] = Counter()
        for r in graded:
            # the problem each failed test reports, without the case it tried (as feedback.md groups them)
            failed = {_first_line(split_message(str(t.get("output", "")))[1]) for t in r.get("tests", [])
                      if t.get("question") == q.id and t.get("status") != "passed"}
            messages.update(m for m in failed if m)
        common = sorted(messages.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_MESSAGES]
        questions.append({
            "id": q.id, "title": q.title, "points": float(q.points), "students": len(got),
            "mean": round(statistics.fmean(float(x.get("score", 0)) for x in got), 3) if got else None,
            "full_marks": sum(float(x.get("score", 0)) >= float(x.get("max_score", q.points)) for x in got),
            "common_failures": [{"message": m, "students": n} for m, n in common],
        })
    tests: dict[tuple[str, str], dict[str, Any]] = {}
    for r in graded:
        for t in r.get("tests", []):
            # keyed by question too: two questions' tests may share a name (test_lecture_worksheet[...])
            key = (str(t.get("question")), str(t.get("name")))
            entry = tests.setdefault(key, {"name": key[1], "question": key[0], "passed": 0, "students": 0})
            entry["students"] += 1
            entry["passed"] += t.get("status") == "passed"
    for entry in tests.values():
        entry["pass_rate"] = round(entry["passed"] / entry["students"], 3)
    return {
        "assignment": assignment.id, "title": assignment.title, "max_score": assignment.auto_max_score,
        "submissions": len(results),
        "status_counts": dict(sorted(Counter(str(r.get("status")) for r in results).items())),
        "scores": {"graded": len(scores),
                   "mean": round(statistics.fmean(scores), 3) if scores else None,
                   "median": statistics.median(scores) if scores else None,
                   "quartiles": _quartiles(scores), "min": scores[0] if scores else None,
                   "max": scores[-1] if scores else None, "values": scores},
        "questions": questions,
        "tests": sorted(tests.values(), key=lambda e: (e["pass_rate"], e["name"], e["question"])),
        "not_graded": [{"student": str(r.get("student")), "status": str(r.get("status")),
                        "message": _first_line(str(r.get("message") or r.get("output") or ""))}
                       for r in sorted(results, key=lambda r: str(r.get("student"))) if r.get("status") != "graded"],
        "ignored_files": ignored_files(results),
        "regrades": regrades(results),
        "accuracies": accuracies(results),
        "similar": similar or [],
    }


def _png(draw: Any) -> str:
    from autograder.figures import new_figure, png_bytes

    fig = new_figure((6, 2.6))
    draw(fig.subplots())
    fig.tight_layout()
    return base64.b64encode(png_bytes(fig)).decode("ascii")


def charts(data: dict[str, Any]) -> dict[str, str]:
    """The report's charts as base64 PNGs: the score histogram, the mean score per question."""
    scores = data["scores"]["values"]
    top = float(data["max_score"]) or 1.0

    def histogram(ax: Any) -> None:
        ax.hist(scores, bins=min(20, max(5, len(set(scores)))), range=(0, top), color="#4472c4")
        ax.set_xlabel(f"score (out of {top:g})")
        ax.set_ylabel("students")

    def per_question(ax: Any) -> None:
        qs = data["questions"]
        ax.barh([q["id"] for q in qs][::-1], [(q["mean"] or 0) / q["points"] * 100 for q in qs][::-1],
                color="#70ad47")
        ax.set_xlim(0, 100)
        ax.set_xlabel("mean score, % of the question's points")

    images = {"histogram": _png(histogram), "questions": _png(per_question)}
    for i, entry in enumerate(data["accuracies"]):
        def accuracy_chart(ax: Any, entry: dict[str, Any] = entry) -> None:
            ax.hist(entry["values"], bins=20, range=(0, 1), color="#4472c4")
            if entry["threshold"] is not None:
                ax.axvline(entry["threshold"], color="red", linestyle="--",
                           label=f"threshold {entry['threshold']:.2f}")
                ax.legend(fontsize=8)
            ax.set_xlabel(f"held-out accuracy ({entry['test']})")
            ax.set_ylabel("students")

        images[f"accuracy-{i}"] = _png(accuracy_chart)
    return images


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def chart_words(data: dict[str, Any]) -> dict[str, str]:
    """What each chart of the report shows, in words and numbers: the charts' ``alt`` text (keys as
    :func:`charts`')."""
    s = data["scores"]
    if s["graded"]:
        quartiles = ", ".join(_number(q) for q in s["quartiles"])
        histogram = (f"Histogram of the {s['graded']} graded score{'s' if s['graded'] != 1 else ''}, out of "
                     f"{data['max_score']:g}: mean {_number(s['mean'])}, median {_number(s['median'])}, quartiles "
                     f"{quartiles}; lowest {_number(s['min'])}, highest {_number(s['max'])}.")
    else:
        histogram = "Histogram of the scores: no submission was graded."
    shares = "; ".join(f"{q['id']} {(q['mean'] or 0) / q['points'] * 100:.0f} %" for q in data["questions"]
                       if q["points"])
    words = {"histogram": histogram,
             "questions": f"Mean score per question, as a share of its points: {shares or 'no question'}."}
    for i, a in enumerate(data["accuracies"]):
        values = a["values"]
        words[f"accuracy-{i}"] = (
            f"Histogram of the held-out accuracies of {a['students']} student{'s' if a['students'] != 1 else ''}' "
            f"networks ({a['test']}): {a['reached']} reached the threshold {_number(a['threshold'])}; lowest "
            f"{_number(values[0])}, median {_number(a['median'])}, highest {_number(values[-1])}.")
    return words


def render_html(data: dict[str, Any], images: dict[str, str]) -> str:
    """The page: every text from a submission escaped, the charts embedded with what they show in words as their
    ``alt`` text (:func:`chart_words`), long messages and code wrapped, a Content-Security-Policy that lets it fetch
    and run nothing."""
    from autograder.sanitise import SELF_CONTAINED_PAGE_CSP, csp_meta

    e = _escape
    s = data["scores"]
    rows_q = "".join(
        f"<tr><td>{e(q['id'])}</td><td>{e(q['title'])}</td><td>{_number(q['mean'])} / "
        f"{q['points']:g}</td><td>{q['full_marks']} of {q['students']}</td></tr>" for q in data["questions"])
    rows_t = "".join(
        f"<tr><td>{e(t['name'])}</td><td>{e(t['question'])}</td><td>{t['pass_rate'] * 100:.0f} %</td>"
        f"<td>{t['passed']} of {t['students']}</td></tr>" for t in data["tests"])
    failures = "".join(
        f"<h3>{e(q['id'])}</h3><ol>" + "".join(f"<li>{e(f['message'])} <b>({f['students']} students)</b></li>"
                                              for f in q["common_failures"]) + "</ol>"
        for q in data["questions"] if q["common_failures"])
    rows_n = "".join(f"<tr><td>{e(n['student'])}</td><td>{e(n['status'])}</td><td>{e(n['message'])}</td></tr>"
                     for n in data["not_graded"]) or "<tr><td colspan=3>none</td></tr>"
    rows_i = "".join(
        f"<tr><td>{e(x['student'])}</td><td>{e(x['name'])}</td><td>{_size(x['size'])}</td>"
        f"<td>{e(x['modified'])} UTC</td><td>not graded</td></tr>" for x in data.get("ignored_files", []))
    ignored_html = (f"<p>Notebooks handed in beside the graded one, which were not graded (each student's feedback "
                    f"says so):</p><table id=\"ignored\"><tr><th>student</th><th>file</th><th>size</th>"
                    f"<th>modified</th><th></th></tr>{rows_i}</table>" if rows_i else "<p>none</p>")
    counts = ", ".join(f"{e(k)} {v}" for k, v in data["status_counts"].items())
    rg = data["regrades"]
    rows_r = "".join(
        f"<tr><td>{e(x['student'])}</td><td>{e(str(x['before']))} ({e(x['status_before'])})</td>"
        f"<td>{e(str(x['after']))} ({e(x['status_after'])})</td><td>{_signed(x['delta'])}</td>"
        f"<td>{e(x['reason'])}</td></tr>" for x in rg["changed"])
    regrade_html = (f"<p>{rg['regraded']} submissions regraded, {len(rg['changed'])} changed; mean change "
                    f"{_signed(rg['mean_delta'])}.</p><table id=\"regrades\"><tr><th>student</th><th>before</th>"
                    f"<th>after</th><th>change</th><th>why regraded</th></tr>{rows_r}</table>"
                    if rg["regraded"] else "<p>No submission has been regraded.</p>")
    alt = {k: html.escape(v) for k, v in chart_words(data).items()}  # ids and test names come from the suite
    accuracy_html = "".join(
        f"<h3>{e(a['test'])} ({e(a['question'])})</h3><p>{a['reached']} of {a['students']} reached the threshold "
        f"{_number(a['threshold'])}; median {a['median']:g}.</p><img class=\"accuracy\" alt=\"{alt[f'accuracy-{i}']}\" "
        f"src=\"data:image/png;base64,{images[f'accuracy-{i}']}\">" for i, a in enumerate(data["accuracies"]))
    similar_html = "".join(_pair_html(i, pair) for i, pair in enumerate(data["similar"])) or (
        "<p>No pair of submissions is unusually similar.</p>")
    summary = (f"mean {s['mean']}, median {s['median']}, quartiles {s['quartiles']}, min {s['min']}, max {s['max']}"
               if s["graded"] else "no graded submission")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">{csp_meta(SELF_CONTAINED_PAGE_CSP)}
<title>{e(data['assignment'])}: class report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:sans-serif;max-width:60em;margin:auto;padding:0 1em;color:#1a1a1a;overflow-wrap:anywhere}}
table{{border-collapse:collapse}}td,th{{border:1px solid #888;padding:2px 6px;text-align:left;vertical-align:top;
overflow-wrap:anywhere}}pre{{margin:0;font-size:85%;white-space:pre-wrap;overflow-wrap:anywhere}}img{{max-width:100%;
height:auto}}</style></head><body><main>
<h1>{e(data['assignment'])}: {e(data['title'])}</h1>
<p id="counts">{data['submissions']} submissions: {counts}. Graded scores (out of {data['max_score']:g}): {summary}.</p>
<h2>Scores</h2><img id="histogram" alt="{alt['histogram']}" src="data:image/png;base64,{images['histogram']}">
<h2>Questions</h2><img id="question-chart" alt="{alt['questions']}"
 src="data:image/png;base64,{images['questions']}">
<table id="questions"><tr><th>question</th><th>title</th><th>mean</th><th>full marks</th></tr>{rows_q}</table>
<h2>Tests, hardest first</h2>
<table id="tests"><tr><th>test</th><th>question</th><th>pass rate</th><th>passed</th></tr>{rows_t}</table>
<h2>Most common failure messages</h2>{failures or '<p>none</p>'}
<h2>Not graded</h2>
<table id="not-graded"><tr><th>student</th><th>status</th><th>message</th></tr>{rows_n}</table>
<h2>Files not graded</h2>{ignored_html}
<h2>Regrades</h2>{regrade_html}
{'<h2>Held-out accuracy of the trained models</h2>' + accuracy_html if accuracy_html else ''}
<h2>Similar submissions</h2><div id="similar">{similar_html}</div>
</main></body></html>
"""


def _size(size: int | None) -> str:
    if size is None:
        return "-"
    return f"{size} bytes" if size < 1024 else f"{size / 1024:.1f} KiB" if size < 2**20 else f"{size / 2**20:.1f} MiB"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+g}"


def _pair_html(index: int, pair: dict[str, Any]) -> str:
    """One similar pair: its score, then each matching region side by side (the students' code, escaped)."""
    e = _escape
    regions = "".join(
        f"<tr><td><pre>{e(r['a_code'])}</pre></td><td><pre>{e(r['b_code'])}</pre></td></tr>"
        for r in pair.get("regions", []))
    return (f"<details class=\"pair\"{' open' if index < 3 else ''}><summary>{e(pair['a'])} and {e(pair['b'])}: "
            f"similarity {pair['score']:.2f} ({pair['shared']} shared fingerprints)</summary>"
            f"<table class=\"regions\"><tr><th>{e(pair['a'])}</th><th>{e(pair['b'])}</th></tr>{regions}</table>"
            "</details>")


def similar_pairs(submissions: list[SubmissionInput], stub: Path | None, *, reference: Path | None = None,
                  top: int = TOP_PAIRS) -> list[dict[str, Any]]:
    """The most similar pairs of ``submissions`` (their solution code; the code of ``stub``, the released notebook,
    and of ``reference``, the course's solution, does not count: many students write the one obvious answer),
    with the matching regions' code for a side-by-side view."""
    from autograder import similarity

    if stub is None or len(submissions) < 2:
        return []
    pairs, subs = similarity.from_notebooks({s.student: s.notebook for s in submissions}, stub, top=top,
                                            reference=[reference] if reference else [])
    texts = {sub.student: sub.text.split("\n") for sub in subs}

    def lines(student: str, span: tuple[int, int]) -> str:
        return "\n".join(texts.get(student, [])[span[0] - 1:span[1]])

    return [{"a": p.a, "b": p.b, "score": round(p.score, 3), "shared": p.shared,
             "regions": [{"a_lines": list(r.a_lines), "b_lines": list(r.b_lines), "a_code": lines(p.a, r.a_lines),
                          "b_code": lines(p.b, r.b_lines)} for r in p.regions[:MAX_REGIONS]]}
            for p in pairs]


def write(grades: Path, assignment: Assignment, *, mode: int | None = None,
          submissions: list[SubmissionInput] | None = None, stub: Path | None = None,
          reference: Path | None = None) -> tuple[Path, Path]:
    """Build the report from ``grades``' results (and, given the ``submissions``, the released ``stub`` and the
    course's solution as ``reference``, the similar pairs) and write its JSON and HTML there; their paths."""
    results = [dict(r) for r in all_results(grades, assignment.id)]
    # a file that could not be graded (not a notebook, not UTF-8, no code, only a misnamed copy) is not compared
    unreadable = {str(r.get("student")) for r in results if r.get("status") == "ungradable"}
    similar = similar_pairs([s for s in submissions or [] if s.student not in unreadable], stub, reference=reference)
    data = build(results, assignment, similar)
    json_path, html_path = grades / "class-report.json", grades / "class-report.html"
    atomic_write(json_path, json.dumps(data, indent=1) + "\n", mode=mode)
    atomic_write(html_path, render_html(data, charts(data)), mode=mode)
    return json_path, html_path
