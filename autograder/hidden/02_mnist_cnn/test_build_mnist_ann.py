"""Hidden tests for question build_mnist_ann: Flatten -> Dense(512, relu) -> Dense(10, softmax)."""

from __future__ import annotations

from autograder import models
from autograder.testing import SubmissionProxy, expect_no_problems, model_summary, question

ANN = [
    models.ExpectedLayer("Flatten", (None, 784), 0),
    models.ExpectedLayer("Dense", (None, 512), 401920, {"units": 512, "activation": "relu"}),
    models.ExpectedLayer("Dense", (None, 10), 5130, {"units": 10, "activation": "softmax"}),
]


def _summary(submission: SubmissionProxy) -> dict:
    return model_summary(submission, "build_mnist_ann")


_expect_none = expect_no_problems


def _expect_structure(info: dict, problems: list[str], compares: tuple[str, ...], check: str) -> None:
    """Fail with the network's root cause first (one mistake, one cause sentence: charged once)."""
    message = models.structure_failure(info, ANN, problems, compares=compares, check=check)
    _expect_none([message] if message else [])


@question("build_mnist_ann", weight=1, worked_example=True)
def test_layers_and_shapes(submission: SubmissionProxy) -> None:
    """build_mnist_ann is Flatten -> Dense -> Dense on (28, 28, 1) images with outputs 784, 512, 10."""
    info = _summary(submission)
    types = models.layer_type_problems(info, ANN)
    _expect_structure(info, types or models.output_shape_problems(info, ANN, (None, 28, 28, 1)),
                      ("types",) if types else ("shapes",), "the layer types and output shapes")


@question("build_mnist_ann", weight=1, worked_example=True)
def test_407050_parameters(submission: SubmissionProxy) -> None:
    """build_mnist_ann has 407,050 parameters: 784 x 512 + 512 and 512 x 10 + 10."""
    info = _summary(submission)
    _expect_structure(info, models.param_count_problems(info, ANN), ("parameters",), "the parameter counts")


@question("build_mnist_ann", weight=1)
def test_activations_and_compile_settings(submission: SubmissionProxy) -> None:
    """build_mnist_ann uses relu then softmax, compiled with rmsprop, categorical_crossentropy, accuracy."""
    info = _summary(submission)
    compiled = models.compile_problems(info["compile"], optimizer="RMSprop", loss="categorical_crossentropy",
                                       metrics=["accuracy"])
    _expect_structure(info, models.layer_setting_problems(info, ANN) + compiled, ("settings",),
                      "the activations and compile settings")
