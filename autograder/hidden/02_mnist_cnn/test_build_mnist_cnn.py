"""Hidden tests for question build_mnist_cnn: the lecture's CNN, structure exactly, compile settings.

Layer types, output shapes and parameter counts come from the model's plain-data description
(models.summary after the whitelist check), never from a model object built by the student's code.
"""

from __future__ import annotations

from autograder import models
from autograder.testing import SubmissionProxy, expect, expect_no_problems, model_summary, question

LECTURE = [
    models.ExpectedLayer("Conv2D", (None, 26, 26, 32), 320,
                         {"filters": 32, "kernel_size": (3, 3), "activation": "relu"}),
    models.ExpectedLayer("MaxPooling2D", (None, 13, 13, 32), 0, {"pool_size": (2, 2)}),
    models.ExpectedLayer("Conv2D", (None, 11, 11, 64), 18496,
                         {"filters": 64, "kernel_size": (3, 3), "activation": "relu"}),
    models.ExpectedLayer("MaxPooling2D", (None, 5, 5, 64), 0, {"pool_size": (2, 2)}),
    models.ExpectedLayer("Conv2D", (None, 3, 3, 64), 36928,
                         {"filters": 64, "kernel_size": (3, 3), "activation": "relu"}),
    models.ExpectedLayer("Flatten", (None, 576), 0),
    models.ExpectedLayer("Dense", (None, 64), 36928, {"units": 64, "activation": "relu"}),
    models.ExpectedLayer("Dense", (None, 10), 650, {"units": 10, "activation": "softmax"}),
]


def _summary(submission: SubmissionProxy, builder: str = "build_mnist_cnn") -> dict:
    return model_summary(submission, builder)


_expect_none = expect_no_problems


@question("build_mnist_cnn", weight=2, worked_example=True)
def test_layers_in_the_lectures_order(submission: SubmissionProxy) -> None:
    """build_mnist_cnn has the lecture's layers in order: Conv2D, MaxPooling2D, Conv2D, MaxPooling2D, Conv2D,
    Flatten, Dense, Dense."""
    _expect_none(models.layer_type_problems(_summary(submission), LECTURE))


@question("build_mnist_cnn", weight=1, worked_example=True)
def test_output_shapes_match_the_lectures_summary(submission: SubmissionProxy) -> None:
    """build_mnist_cnn takes (28, 28, 1) images and every layer's output shape matches the lecture's summary."""
    _expect_none(models.output_shape_problems(_summary(submission), LECTURE, (None, 28, 28, 1)))


@question("build_mnist_cnn", weight=1, worked_example=True)
def test_93322_parameters(submission: SubmissionProxy) -> None:
    """build_mnist_cnn has 93,322 parameters, layer by layer as in the lecture's summary."""
    _expect_none(models.param_count_problems(_summary(submission), LECTURE))


@question("build_mnist_cnn", weight=1)
def test_filters_kernels_and_activations(submission: SubmissionProxy) -> None:
    """build_mnist_cnn's convolutions have 32, 64, 64 filters of 3x3 with relu; Dense 64 relu, Dense 10 softmax."""
    _expect_none(models.layer_setting_problems(_summary(submission), LECTURE))


@question("build_mnist_cnn", weight=1)
def test_compiled_like_the_lecture(submission: SubmissionProxy) -> None:
    """build_mnist_cnn is compiled with rmsprop, categorical_crossentropy and metrics=['accuracy']."""
    info = _summary(submission)
    _expect_none(models.compile_problems(info["compile"], optimizer="RMSprop", loss="categorical_crossentropy",
                                         metrics=["accuracy"]))


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
