"""01_convolution's contracts and causes, graded through the real path (the CLI, the sandbox, the hidden suite).

One batch: the solution, ten notebooks that each make one realistic mistake (the solution with one function
redefined in a last cell), and one whose function raises. Checked: the solution keeps full marks; the
overflowing sigmoid and the in-place relu lose their points although their values are right; every failed
test of a mistake starts with that mistake's cause, and no other cause's hint shows; an exception a hidden test
provokes on purpose leaves no traceback in instructor.log, an unexpected one does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograder.config import load_course
from autograder.samples import make_sample
from tests.conftest import REPO, assert_full_marks, failed_tests, grade_notebooks

pytestmark = pytest.mark.slow

# name -> (the cell that makes the mistake, the questions it costs, the cause every failed test starts with)
MISTAKES: dict[str, tuple[str, set[str], str]] = {
    "flipped_kernel": ('''
_right_convolve2d = convolve2d
def convolve2d(image, kernel, stride=1, padding="valid"):
    return _right_convolve2d(image, np.asarray(kernel)[::-1, ::-1], stride, padding)
''', {"convolve2d", "conv2d_layer"}, "The kernel looks flipped"),
    "ceil_output_size": ('''
import math
def output_size(n, f, stride=1, padding=0):
    if n < 1 or f < 1 or stride < 1 or padding < 0 or f > n + 2 * padding:
        raise ValueError("bad arguments")
    return math.ceil((n - f + 2 * padding) / stride) + 1
''', {"output_size"}, "output_size rounds up (ceil) where it must round down (floor)"),
    "same_as_padding_1": ('''
_right_convolve2d = convolve2d
def convolve2d(image, kernel, stride=1, padding="valid"):
    return _right_convolve2d(image, kernel, stride, 1 if padding == "same" else padding)
''', {"convolve2d", "conv2d_layer"}, "padding='same' looks treated as padding=1"),
    "stride_tuple_read_as_s0_s0": ('''
_right_convolve2d = convolve2d
def convolve2d(image, kernel, stride=1, padding="valid"):
    s = stride[0] if isinstance(stride, tuple) else stride
    return _right_convolve2d(image, kernel, s, padding)
''', {"convolve2d", "conv2d_layer"}, "stride=(SH, SW) looks read as (SH, SH): the column stride SW is ignored"),
    "integer_leaky_relu": ('''
def leaky_relu(x, alpha=0.1):
    out = np.array(x)
    out[out < 0] = alpha * out[out < 0]
    return out
''', {"activations"}, "`leaky_relu` cuts its results to whole numbers for an integer input"),
    "pool2d_ignores_stride": ('''
_right_pool2d = pool2d
def pool2d(x, size=2, stride=None, mode="max"):
    return _right_pool2d(x, size, None, mode)
''', {"pool2d"}, "pool2d ignores the stride"),
    "overflowing_sigmoid": ('''
def sigmoid(x):
    return 1 / (1 + np.exp(-np.asarray(x, dtype=float)))
''', {"activations"}, "`sigmoid` issued a RuntimeWarning (overflow); its docstring says it must not overflow"),
    "missing_bias": ('''
_right_conv2d_layer = conv2d_layer
def conv2d_layer(x, kernels, bias, stride=1, padding="valid"):
    return _right_conv2d_layer(x, kernels, np.zeros(np.shape(bias)), stride, padding)
''', {"conv2d_layer"}, "The bias is not added"),
    "in_place_relu": ('''
def relu(x):
    x = np.asarray(x, dtype=float)
    x[x < 0] = 0
    return x
''', {"activations"}, "`relu` changed its input x in place"),
    "zero_pad_pads_channels": ('''
def zero_pad(image, pad):
    if pad < 0:
        raise ValueError("pad must be >= 0")
    return np.pad(image, pad)
''', {"zero_pad"}, "zero_pad also pads the channel axis"),
}
# Failures that follow from a mistake without being that mistake's cause (test name -> why)
CONSEQUENCES = {("stride_tuple_read_as_s0_s0", "test_invalid_stride_or_padding_raises_value_error"):
                "stride (1, 0) read as (1, 1) is accepted"}
# Each cause's own words: no other mistake's feedback may contain them (a hint shown without its cause).
HINT_WORDS = ["flipped", "rounds up (ceil)", "treated as padding=1", "(SH, SH)", "whole numbers", "ignores the stride",
              "RuntimeWarning", "bias is not added", "in place", "channel axis", "wrapped around",
              "Convert to float"]

RAISES = '''
def common_kernel(name):
    def lookup_that_breaks(key):
        return {}[key]
    return lookup_that_breaks(name)
'''


def _with_cell(base: str, code: str) -> str:
    nb = nbformat.reads(base, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(code))
    return nbformat.writes(nb)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    tmp = tmp_path_factory.mktemp("contracts")
    course = load_course(REPO / "course.yml")
    correct = make_sample(course, course.assignment("01_convolution"), "correct")
    subs: dict[str, str | Path] = {"solution": correct, "common_kernel_raises": _with_cell(correct, RAISES)}
    subs.update({name: _with_cell(correct, code) for name, (code, _, _) in MISTAKES.items()})
    return grade_notebooks(tmp, "01_convolution", subs), tmp / "out"


def test_the_solution_keeps_full_marks(batch: tuple[dict[str, Any], Path]) -> None:
    results, _ = batch
    assert_full_marks(results["solution"], 20)


@pytest.mark.parametrize("name", ["overflowing_sigmoid", "in_place_relu"])
def test_a_broken_contract_loses_its_points_although_the_values_are_right(batch: tuple[dict[str, Any], Path],
                                                                          name: str) -> None:
    result = batch[0][name]
    activations = next(q for q in result["questions"] if q["id"] == "activations")
    assert result["status"] == "graded" and result["score"] < 20
    assert activations["score"] < activations["max_score"] == 3, failed_tests(result)
    assert result["score"] == 20 - activations["max_score"] + activations["score"]  # nothing else is lost


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_feedback_names_the_mistake_and_only_that(batch: tuple[dict[str, Any], Path], name: str) -> None:
    result = batch[0][name]
    _, questions, cause = MISTAKES[name]
    failed = [t for t in result["tests"] if t["status"] == "failed"]
    assert {t["question"] for t in failed} == questions, failed_tests(result)
    for t in failed:
        if (name, t["name"]) in CONSEQUENCES:
            continue
        assert t["output"].startswith(cause), (t["name"], t["output"])
        others = [w for w in HINT_WORDS if w in t["output"] and w not in cause]
        assert not others, (t["name"], others, t["output"])


def test_expected_exceptions_leave_no_traceback_and_unexpected_ones_do(batch: tuple[dict[str, Any], Path]) -> None:
    """The solution raises ValueError for every invalid-argument test (on purpose): instructor.log stays quiet.
    A function that raises by mistake: its failed tests carry the student's traceback, for the instructor only."""
    results, out = batch
    quiet = (out / "solution" / "instructor.log").read_text()
    assert "Traceback" not in quiet and "ValueError" not in quiet, quiet[:2000]
    log = (out / "common_kernel_raises" / "instructor.log").read_text()
    assert "lookup_that_breaks" in log and "KeyError" in log, log[:2000]
    feedback = (out / "common_kernel_raises" / "feedback.md").read_text()
    assert "`common_kernel` raised KeyError on this test's input." in feedback
    assert "lookup_that_breaks" not in feedback
    assert results["common_kernel_raises"]["score"] == 19
