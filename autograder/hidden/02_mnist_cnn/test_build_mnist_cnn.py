"""Hidden tests for question build_mnist_cnn: the lecture's CNN, structure exactly, compile settings.

Layer types, output shapes and parameter counts come from the model's plain-data description
(models.summary after the whitelist check), never from a model object built by the student's code.
The lecture's layers are in conftest.py (the accuracy test uses them too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autograder import models
from autograder.testing import SubmissionProxy, expect, expect_no_problems, model_summary, question

if TYPE_CHECKING:
    from conftest import LectureCNN


def _summary(submission: SubmissionProxy, builder: str = "build_mnist_cnn") -> dict:
    return model_summary(submission, builder)


_expect_none = expect_no_problems


def _expect_structure(info: dict, lecture_cnn: LectureCNN, problems: list[str], compares: tuple[str, ...],
                      check: str) -> None:
    """Fail with the network's root cause first (one mistake, one cause sentence in every test it breaks: charged
    once), see models.structure_failure."""
    message = models.structure_failure(info, lecture_cnn.layers, problems, compares=compares, check=check)
    _expect_none([message] if message else [])


@question("build_mnist_cnn", weight=2, worked_example=True)
def test_layers_in_the_lectures_order(submission: SubmissionProxy, lecture_cnn: LectureCNN) -> None:
    """build_mnist_cnn has the lecture's layers in order: Conv2D, MaxPooling2D, Conv2D, MaxPooling2D, Conv2D,
    Flatten, Dense, Dense."""
    info = _summary(submission)
    _expect_structure(info, lecture_cnn, models.layer_type_problems(info, lecture_cnn.layers), ("types",),
                      "the layer types, in order")


@question("build_mnist_cnn", weight=1, worked_example=True)
def test_output_shapes_match_the_lectures_summary(submission: SubmissionProxy, lecture_cnn: LectureCNN) -> None:
    """build_mnist_cnn takes (28, 28, 1) images and every layer's output shape matches the lecture's summary."""
    info = _summary(submission)
    _expect_structure(info, lecture_cnn, models.output_shape_problems(info, lecture_cnn.layers, (None, 28, 28, 1)),
                      ("shapes",), "the output shapes")


@question("build_mnist_cnn", weight=1, worked_example=True)
def test_93322_parameters(submission: SubmissionProxy, lecture_cnn: LectureCNN) -> None:
    """build_mnist_cnn has 93,322 parameters, layer by layer as in the lecture's summary."""
    info = _summary(submission)
    _expect_structure(info, lecture_cnn, models.param_count_problems(info, lecture_cnn.layers), ("parameters",),
                      "the parameter counts")


@question("build_mnist_cnn", weight=1)
def test_filters_kernels_and_activations(submission: SubmissionProxy, lecture_cnn: LectureCNN) -> None:
    """build_mnist_cnn's convolutions have 32, 64, 64 filters of 3x3 with relu; Dense 64 relu, Dense 10 softmax."""
    info = _summary(submission)
    _expect_structure(info, lecture_cnn, models.layer_setting_problems(info, lecture_cnn.layers), ("settings",),
                      "the layers' settings (filters, kernel sizes, activations)")


@question("build_mnist_cnn", weight=1)
def test_compiled_like_the_lecture(submission: SubmissionProxy, lecture_cnn: LectureCNN) -> None:
    """build_mnist_cnn is compiled with rmsprop, categorical_crossentropy and metrics=['accuracy']."""
    _expect_none(lecture_cnn.compile_problems(_summary(submission)))


@question("build_mnist_cnn", weight=0.5)
def test_every_call_builds_a_fresh_model(submission: SubmissionProxy) -> None:
    """build_mnist_cnn returns a new, untrained model each time (not one model trained at the top level)."""
    first, second = submission.build_mnist_cnn(), submission.build_mnist_cnn()
    expect(isinstance(first, models.ModelSpec) and isinstance(second, models.ModelSpec),
           "build_mnist_cnn() should return a keras.Model.")
    same = len(first.weights) == len(second.weights) and all(
        a.shape == b.shape and (a == b).all() for a, b in zip(first.weights, second.weights, strict=True) if a.ndim > 1)
    expect(not same, "Two calls of build_mnist_cnn() returned the same weights: build and return a new model inside "
                     "the function instead of returning one made earlier.")
