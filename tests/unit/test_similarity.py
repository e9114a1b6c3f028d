"""autograder/similarity.py: similar submissions of 01_convolution, on a class of hand-written answers.

The class (``benchmarks/similarity.py`` holds its code): ten independent correct answers in different styles
(``s0``..``s9``); two copies of ``s0``, one with every name renamed, comments, spacing and literals changed
(``renamed``), one with functions, statements, imports and cells moved (``reordered``); five students who submit
the course solution unchanged (``canon0``..``canon4``); one who submits the released notebook (``stub``). All are
notebooks built on the real released notebook, which is the stub.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograder.similarity import Pair, Submission, from_notebooks, prepare, rank, solution_code
from tests.conftest import benchmark_module

REPO = Path(__file__).resolve().parents[2]
COPIES = ("s0", "renamed", "reordered")
CANONICAL = tuple(f"canon{i}" for i in range(5))


BENCH = benchmark_module("similarity")
STUB_NB = nbformat.read(str(BENCH.STUB), as_version=4)
STUB_CODE = solution_code(STUB_NB)


def family(student: str) -> str:
    return "s0" if student in COPIES else "canonical" if student in CANONICAL else student


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    solution_nb = nbformat.read(str(BENCH.SOLUTION), as_version=4)
    nbs = {f"s{i}": BENCH.build_notebook(code, STUB_NB) for i, code in enumerate(BENCH.STYLES)}
    nbs["renamed"] = BENCH.build_notebook(BENCH.RENAMED, STUB_NB, docstrings=False)
    nbs["reordered"] = BENCH.build_notebook(BENCH.REORDERED, STUB_NB, reverse=True)
    nbs.update({name: BENCH.canonical_notebook(STUB_NB, solution_nb) for name in CANONICAL})
    nbs["stub"] = STUB_NB
    folder = tmp_path_factory.mktemp("class")
    for name, nb in nbs.items():
        nbformat.write(nb, str(folder / f"{name}.ipynb"))
    return {name: folder / f"{name}.ipynb" for name in nbs}


@pytest.fixture(scope="module")
def ranked(notebooks: dict[str, Path]) -> tuple[list[Pair], dict[str, Submission]]:
    pairs, subs = from_notebooks(notebooks, BENCH.STUB, top=10_000)
    return pairs, {s.student: s for s in subs}


def scores(pairs: list[Pair]) -> dict[tuple[str, str], float]:
    return {(p.a, p.b): p.score for p in pairs}


def score(table: dict[tuple[str, str], float], a: str, b: str) -> float:
    return table.get((min(a, b), max(a, b)), 0.0)


def test_the_hand_written_answers_and_copies_are_correct() -> None:
    reference = BENCH.solution_functions()
    wrong = {i: w for i, code in enumerate([*BENCH.STYLES, BENCH.RENAMED, BENCH.REORDERED])
             if (w := BENCH.check(code, reference))}
    assert wrong == {}


def test_every_copy_pair_ranks_above_every_independent_pair(notebooks: dict[str, Path],
                                                            ranked: tuple[list[Pair], Any]) -> None:
    pairs, _ = ranked
    table = scores(pairs)
    copies = {pair: score(table, *pair) for pair in itertools.combinations(COPIES, 2)}
    independent = max(score(table, a, b) for a, b in itertools.combinations(notebooks, 2) if family(a) != family(b))
    # renaming, comments, spacing, literals, moved functions, statements, imports and cells are all undone
    assert copies == {pair: 1.0 for pair in copies}, copies
    assert independent < 0.2, independent  # 0.117 (s2 and s4: validation helpers written alike)
    top = [(p.a, p.b) for p in pairs[:3]]
    assert sorted(top) == sorted(tuple(sorted(pair)) for pair in copies)


def test_students_who_submit_the_course_solution_are_not_flagged(
        notebooks: dict[str, Path], ranked: tuple[list[Pair], dict[str, Submission]]) -> None:
    # Five identical answers in a class of 18 are more than the common cut (4): common vocabulary, not a copy.
    pairs, subs = ranked
    table = scores(pairs)
    independent = max(score(table, a, b) for a, b in itertools.combinations(notebooks, 2) if family(a) != family(b))
    canonical = [score(table, a, b) for a, b in itertools.combinations(CANONICAL, 2)]
    assert max(canonical) <= independent and max(canonical) == 0.0, canonical
    # With the course solution as reference its code never counts, however few students hand it in.
    few = {name: path for name, path in notebooks.items() if name not in CANONICAL[2:]}
    plain = scores(from_notebooks(few, BENCH.STUB, top=10_000)[0])
    pairs, subs_ref = from_notebooks(few, BENCH.STUB, reference=[BENCH.SOLUTION], top=10_000)
    assert score(plain, "canon0", "canon1") == 1.0  # the limit: 2 identical answers look like a copy
    assert score(scores(pairs), "canon0", "canon1") == 0.0
    shares = {s.student: s.reference_share for s in subs_ref}
    assert shares["canon0"] == shares["canon1"] == 1.0
    assert max(v for k, v in shares.items() if k not in CANONICAL) < 0.3  # s0's loops are partly the solution's
    assert score(scores(pairs), "renamed", "s0") == 1.0
    assert subs["canon0"].reference_share == 0.0


def test_the_released_notebook_unchanged_scores_nothing(ranked: tuple[list[Pair], dict[str, Submission]]) -> None:
    pairs, subs = ranked
    assert subs["stub"].text == "" and not subs["stub"].fingerprints
    assert not [p for p in pairs if "stub" in (p.a, p.b)]
    # its whole code, even if the cells were not recognised as the release's: every k-gram is the stub's
    assert not prepare("x", STUB_CODE, STUB_CODE).fingerprints


def function_lines(text: str) -> dict[str, tuple[int, int]]:
    """Line range of each required function in a Submission.text (from its def to the next def or cell)."""
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines, 1) if re.match(r"(def |# %%)", line)] + [len(lines) + 1]
    return {m.group(1): (a, b - 1) for a, b in itertools.pairwise(starts)
            if (m := re.match(r"def (\w+)", lines[a - 1])) and m.group(1) in BENCH.REQUIRED}


def test_regions_pair_each_function_with_its_copy(ranked: tuple[list[Pair], dict[str, Submission]]) -> None:
    pairs, subs = ranked
    for pair in (p for p in pairs if {p.a, p.b} <= set(COPIES)):
        a_text, b_text = subs[pair.a].text, subs[pair.b].text
        for region in pair.regions:
            assert 1 <= region.a_lines[0] <= region.a_lines[1] <= len(a_text.split("\n")), region
            assert 1 <= region.b_lines[0] <= region.b_lines[1] <= len(b_text.split("\n")), region
        in_a, in_b = function_lines(a_text), function_lines(b_text)
        assert set(in_a) == set(in_b) == set(BENCH.REQUIRED)
        for name in BENCH.REQUIRED:  # some region shows this function of A beside the same function of B
            assert any(r.a_lines[0] <= in_a[name][1] and in_a[name][0] <= r.a_lines[1]
                       and r.b_lines[0] <= in_b[name][1] and in_b[name][0] <= r.b_lines[1] for r in pair.regions), name


def test_what_the_normalisation_ignores_and_what_it_keeps() -> None:
    def same(a: str, b: str) -> bool:
        return prepare("a", a, "").fingerprints == prepare("b", b, "").fingerprints != frozenset()

    body = "    h = x.shape[0] * 2\n    w = np.sum(x, axis=1) + 0.5\n    out = np.zeros((h, len(w)))\n    return out\n"
    base = f"import numpy as np\n\ndef f(x):\n{body}\n\ndef g(y):\n    return np.max(y, axis=0) + 10\n"
    renamed = ("import numpy as np\n\ndef f(img):\n    n = img.shape[0] * 2\n    s = np.sum(img, axis=1) + 0.5\n"
               "    res = np.zeros((n, len(s)))\n    return res\n\ndef g(z):\n    return np.max(z, axis=0) + 10\n")
    assert same(base, renamed)
    assert same(base, base.replace("0.5", "5").replace("10", "'ten'") + "# a comment\n\n\n")
    swapped = body.split("\n")
    assert same(base, base.replace(body, "\n".join([swapped[1], swapped[0], *swapped[2:]])))  # independent
    g_first = base[base.index("def g"):] + "\n" + base[:base.index("def g")]
    assert same(base, g_first)
    assert same(base, base.replace("import numpy as np", "from numpy import sum, zeros, max").replace("np.", ""))
    assert same(base, base.replace("def f(x):", 'def f(x: np.ndarray) -> int:\n    """Doc."""'))
    assert same("def f(a, b):\n    a += b\n    return a * 3\n", "def f(p, q):\n    p = p + q\n    return p * 3\n")
    # what a rewrite changes, and what nobody can rename, still counts
    assert not same(base, base.replace("axis=1", "keepdims=1"))
    assert not same(base, base.replace("np.sum", "np.mean"))
    dependent = "def f(x):\n    y = x + 1\n    x = y * 2\n    return x + y\n"
    assert not same(dependent, "def f(x):\n    x = y * 2\n    y = x + 1\n    return x + y\n")


def test_solution_code_reads_only_the_students_own_cells() -> None:
    nb = BENCH.build_notebook(BENCH.STYLES[1], STUB_NB)
    test_cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") and "zero_pad" in c.source)
    test_cell.metadata["nbgrader"] = {}  # the student removed the metadata: still the release's cell, by source
    nb.cells.append(nbformat.v4.new_code_cell("%matplotlib inline\n!pip install foo\nfiles = !ls\nprint(relu(2))"))
    text = solution_code(nb, STUB_NB)
    assert "assert_array_equal(padded, expected)" not in text  # the test cell
    assert "load_sample_image" not in text  # the release's imports cell
    assert "pip" not in text and "%" not in text.replace("# %%", "") and "files" not in text
    assert "print(relu(2))" in text and "sliding_window_view(img" in text
    assert solution_code({"cells": "no"}, None) == solution_code({}, STUB_NB) == ""
    odd = {"cells": [1, None, {"cell_type": "code", "source": ["x = ", "1"]}, {"cell_type": "code", "source": 7}]}
    assert solution_code(odd, STUB_NB) == "x = 1"


def test_hostile_input_never_crashes(tmp_path: Path, notebooks: dict[str, Path]) -> None:
    hostile = {
        "syntax_error": "def relu(x:\n    return np.maximum(x, 0)\n",
        "five_mb_cell": "data = [" + "1.5, " * 1_000_000 + "]\n",
        "deep_parens": "y = " + "(" * 5000 + "1" + ")" * 5000,
        "deep_unary": "y = " + "-" * 50_000 + "1",
        "deep_blocks": "".join(" " * i + "if x:\n" for i in range(500)) + " " * 500 + "pass\n",
        "null_bytes": "def f(x):\n    return x\x00 + 1\n",
        "lone_surrogate": "x = '\ud800'\ny = x * 2\n",
        "unterminated": 'x = """never closed\n' * 3 + "def f(:\n",
    }
    started = time.perf_counter()
    subs = [prepare(name, code, STUB_CODE) for name, code in hostile.items()]
    assert time.perf_counter() - started < 10
    assert len(subs[1].text) <= 100_000  # the cell is cut
    rank(subs)
    # a copy whose convolve2d cell (a quarter of the code) no longer parses still matches on the other cells
    s0 = solution_code(nbformat.read(str(notebooks["s0"]), as_version=4), STUB_NB)
    broken = s0.replace("def convolve2d(image, kernel, stride=1, padding=\"valid\"):", "def convolve2d(image, kernel:")
    assert broken != s0
    pair = rank([prepare("a", s0, STUB_CODE), prepare("b", broken, STUB_CODE)])[0]
    assert pair.score > 0.6, pair.score  # 0.75: the broken cell is read lexically, in written order
    # files that are not notebooks are left out and named; a notebook nbformat warns about (cells without ids) is read
    (tmp_path / "text.ipynb").write_text("This is my homework.\n")
    no_ids = json.loads(notebooks["s0"].read_text())
    for cell in no_ids["cells"]:
        del cell["id"]
    (tmp_path / "no_ids.ipynb").write_text(json.dumps(no_ids))
    (tmp_path / "binary.ipynb").write_bytes(b"\xff\xfe\x00garbage")
    skipped: dict[str, str] = {}
    pairs, compared = from_notebooks({"text": tmp_path / "text.ipynb", "binary": tmp_path / "binary.ipynb",
                                      "missing": tmp_path / "none.ipynb", "s0": tmp_path / "no_ids.ipynb",
                                      "renamed": notebooks["renamed"]}, BENCH.STUB, skipped=skipped)
    assert sorted(skipped) == ["binary", "missing", "text"]
    assert [s.student for s in compared] == ["renamed", "s0"] and pairs[0].score == 1.0


def test_rank_orders_best_first_and_checks_its_input() -> None:
    codes = {name: BENCH.STYLES[i] for i, name in enumerate("abcd")}
    codes["e"] = BENCH.RENAMED
    subs = [prepare(name, code, STUB_CODE) for name, code in codes.items()]
    pairs = rank(subs, top=10, max_df=2)
    assert [p.score for p in pairs] == sorted((p.score for p in pairs), reverse=True)
    assert all(p.a < p.b and 0 < p.score <= 1 and p.shared > 0 for p in pairs)
    assert (pairs[0].a, pairs[0].b, pairs[0].score) == ("a", "e", 1.0)
    assert rank(subs, top=1, max_df=2) == pairs[:1]
    assert [p.score for p in rank(subs, min_score=0.05, max_df=2)] == [p.score for p in pairs if p.score >= 0.05]
    with pytest.raises(ValueError, match="unique"):
        rank([subs[0], subs[0]])


DETERMINISM = """
import json, sys
from autograder.similarity import prepare, rank
codes = json.loads(sys.stdin.read())
subs = [prepare(name, code, codes["stub"]) for name, code in codes.items() if name != "stub"]
print(json.dumps([[p.a, p.b, p.score, p.shared, [[*r.a_lines, *r.b_lines] for r in p.regions]] for p in rank(subs)]
                 + [sorted(s.fingerprints) for s in subs]))
"""


def test_results_do_not_depend_on_the_run_or_the_hash_seed() -> None:
    # "\d" and "is 1" warn while parsing: the result must not depend on the warning filters (pytest's are errors)
    codes = {"a": BENCH.STYLES[0], "b": BENCH.RENAMED, "c": BENCH.STYLES[2], "d": BENCH.STYLES[4], "stub": STUB_CODE,
             "warns": 'import re\n\ndef f(s):\n    return re.findall("\\d+", s) + [x for x in s if x is 1]\n'}
    seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"  # not this process's (random unless set)
    proc = subprocess.run([sys.executable, "-c", DETERMINISM], input=json.dumps(codes), capture_output=True,
                          text=True, cwd=REPO, env={**os.environ, "PYTHONHASHSEED": seed}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    subs = [prepare(name, code, STUB_CODE) for name, code in codes.items() if name != "stub"]
    here = [[p.a, p.b, p.score, p.shared, [[*r.a_lines, *r.b_lines] for r in p.regions]] for p in rank(subs)]
    assert here + [sorted(s.fingerprints) for s in subs] == json.loads(proc.stdout)
    assert here[0][:3] == ["a", "b", 1.0]
