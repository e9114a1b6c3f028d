"""Hidden tests for question build_cats_dogs_cnn: the lecture's network, structure exactly, any input shape."""

from __future__ import annotations

from typing import Any

from autograder import models
from autograder.testing import SubmissionProxy, expect_no_problems, model_summary, question


def _conv(filters: int, shape: tuple, params: int) -> models.ExpectedLayer:
    return models.ExpectedLayer("Conv2D", shape, params, {"filters": filters, "kernel_size": (3, 3),
                                                          "activation": "relu"})


def _pool(shape: tuple) -> models.ExpectedLayer:
    return models.ExpectedLayer("MaxPooling2D", shape, 0, {"pool_size": (2, 2)})


def expected(size: int) -> list[models.ExpectedLayer]:
    sizes, s = [], size
    for _ in range(4):
        sizes.append((s - 2, (s - 2) // 2))
        s = (s - 2) // 2
    flat = s * s * 128
    return [
        _conv(32, (None, sizes[0][0], sizes[0][0], 32), 896), _pool((None, sizes[0][1], sizes[0][1], 32)),
        _conv(64, (None, sizes[1][0], sizes[1][0], 64), 18496), _pool((None, sizes[1][1], sizes[1][1], 64)),
        _conv(128, (None, sizes[2][0], sizes[2][0], 128), 73856), _pool((None, sizes[2][1], sizes[2][1], 128)),
        _conv(128, (None, sizes[3][0], sizes[3][0], 128), 147584), _pool((None, sizes[3][1], sizes[3][1], 128)),
        models.ExpectedLayer("Flatten", (None, flat), 0),
        models.ExpectedLayer("Dropout", (None, flat), 0, {"rate": 0.5}),
        models.ExpectedLayer("Dense", (None, 512), flat * 512 + 512, {"units": 512, "activation": "relu"}),
        models.ExpectedLayer("Dense", (None, 1), 513, {"units": 1, "activation": "sigmoid"}),
    ]


def _summary(submission: SubmissionProxy, **kwargs: Any) -> dict:
    return model_summary(submission, "build_cats_dogs_cnn", **kwargs)


_expect_none = expect_no_problems


@question("build_cats_dogs_cnn", weight=1, worked_example=True)
def test_layers_in_the_lectures_order(submission: SubmissionProxy) -> None:
    """build_cats_dogs_cnn has four Conv2D + MaxPooling2D blocks, then Flatten, Dropout, Dense, Dense."""
    _expect_none(models.layer_type_problems(_summary(submission), expected(150)))


@question("build_cats_dogs_cnn", weight=1, worked_example=True)
def test_output_shapes_and_3453121_parameters(submission: SubmissionProxy) -> None:
    """At 150 x 150 x 3, build_cats_dogs_cnn's output shapes and its 3,453,121 parameters match the lecture."""
    info = _summary(submission)
    _expect_none(models.output_shape_problems(info, expected(150), (None, 150, 150, 3))
                 + models.param_count_problems(info, expected(150)))


@question("build_cats_dogs_cnn", weight=1)
def test_built_for_the_input_shape_given(submission: SubmissionProxy) -> None:
    """build_cats_dogs_cnn(input_shape=(64, 64, 3)) is the same network for 64 x 64 images."""
    info = _summary(submission, input_shape=(64, 64, 3))
    _expect_none(models.output_shape_problems(info, expected(64), (None, 64, 64, 3), reference="the expected"))


@question("build_cats_dogs_cnn", weight=1)
def test_filters_dropout_and_activations(submission: SubmissionProxy) -> None:
    """build_cats_dogs_cnn: 32/64/128/128 filters of 3x3 with relu, 2x2 pooling, Dropout(0.5), Dense 512 relu,
    Dense 1 sigmoid."""
    _expect_none(models.layer_setting_problems(_summary(submission), expected(150)))


@question("build_cats_dogs_cnn", weight=1)
def test_compiled_like_the_lecture(submission: SubmissionProxy) -> None:
    """build_cats_dogs_cnn is compiled with RMSprop(learning_rate=1e-4), binary_crossentropy and accuracy."""
    _expect_none(models.compile_problems(_summary(submission)["compile"], optimizer="RMSprop",
                                         loss="binary_crossentropy", metrics=["accuracy"], learning_rate=1e-4))
