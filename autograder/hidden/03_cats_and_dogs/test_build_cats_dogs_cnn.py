"""Hidden tests for question build_cats_dogs_cnn: the lecture's network, structure exactly, any input shape.

The lecture's layers for any input size are in conftest.py (the accuracy test uses them too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autograder import models
from autograder.testing import Fail, SubmissionProxy, expect_no_problems, model_summary, question

if TYPE_CHECKING:
    from conftest import LectureCNN


def _summary(submission: SubmissionProxy, **kwargs: Any) -> dict:
    return model_summary(submission, "build_cats_dogs_cnn", **kwargs)


_expect_none = expect_no_problems


def _expect_structure(info: dict, expected: list[models.ExpectedLayer], problems: list[str],
                      compares: tuple[str, ...], check: str) -> None:
    """Fail with the network's root cause first (one mistake, one cause sentence in every test it breaks, whatever
    the input size: charged once), see models.structure_failure."""
    message = models.structure_failure(info, expected, problems, compares=compares, check=check)
    _expect_none([message] if message else [])


@question("build_cats_dogs_cnn", weight=1, worked_example=True)
def test_layers_in_the_lectures_order(submission: SubmissionProxy, lecture_cnn: LectureCNN) -> None:
    """build_cats_dogs_cnn has four Conv2D + MaxPooling2D blocks, then Flatten, Dropout, Dense, Dense."""
    info, expected = _summary(submission), lecture_cnn.expected(150)
    _expect_structure(info, expected, models.layer_type_problems(info, expected), ("types",),
                      "the layer types, in order")


@question("build_cats_dogs_cnn", weight=1, worked_example=True)
def test_output_shapes_and_3453121_parameters(submission: SubmissionProxy, lecture_cnn: LectureCNN) -> None:
    """At 150 x 150 x 3, build_cats_dogs_cnn's output shapes and its 3,453,121 parameters match the lecture."""
    info, expected = _summary(submission), lecture_cnn.expected(150)
    _expect_structure(info, expected, models.output_shape_problems(info, expected, (None, 150, 150, 3))
                      + models.param_count_problems(info, expected), ("shapes", "parameters"),
                      "the output shapes and parameter counts at 150 x 150 x 3")


@question("build_cats_dogs_cnn", weight=1)
def test_built_for_the_input_shape_given(submission: SubmissionProxy, lecture_cnn: LectureCNN) -> None:
    """build_cats_dogs_cnn(input_shape=(64, 64, 3)) is the same network for 64 x 64 images."""
    info = _summary(submission, input_shape=(64, 64, 3))
    if info["input_shape"] != (None, 64, 64, 3):
        # the network's own input shape (the student's code chose it), not anything the grader sent
        raise Fail(f"build_cats_dogs_cnn ignores its input_shape argument: asked for 64 x 64 x 3 images, it built a "
                   f"network whose input shape is {info['input_shape']}; build it with "
                   "keras.Input(shape=input_shape), not with a fixed size. Case: build_cats_dogs_cnn(input_shape=(64, "
                   "64, 3)).")
    expected = lecture_cnn.expected(64)
    _expect_structure(info, expected, models.output_shape_problems(info, expected, (None, 64, 64, 3),
                                                                   reference="the expected"),
                      ("shapes",), "the output shapes at 64 x 64 x 3")


@question("build_cats_dogs_cnn", weight=1)
def test_filters_dropout_and_activations(submission: SubmissionProxy, lecture_cnn: LectureCNN) -> None:
    """build_cats_dogs_cnn: 32/64/128/128 filters of 3x3 with relu, 2x2 pooling, Dropout(0.5), Dense 512 relu,
    Dense 1 sigmoid."""
    info, expected = _summary(submission), lecture_cnn.expected(150)
    _expect_structure(info, expected, models.layer_setting_problems(info, expected), ("settings",),
                      "the layers' settings (filters, kernel sizes, pooling, dropout, activations)")


@question("build_cats_dogs_cnn", weight=1)
def test_compiled_like_the_lecture(submission: SubmissionProxy, lecture_cnn: LectureCNN) -> None:
    """build_cats_dogs_cnn is compiled with RMSprop(learning_rate=1e-4), binary_crossentropy and accuracy."""
    _expect_none(lecture_cnn.compile_problems(_summary(submission)))
