"""Shared fixtures of the 04_transfer_learning hidden suite (trusted side).

``kit`` holds what several test files need: the lecture's VGG16 table, seeded trusted VGG16 bases,
turning a student's returned model into a checked :class:`ModelSpec` plus its summary, the checks of the
classifier head and its compile settings (build_feature_classifier and build_transfer_model share them),
and the data of the feature-classifier accuracy test.

Accuracy data per runner profile (``training:`` of course.yml):

- ``cpu``: the recipe's data set is ``textures`` (``autograder.datasets.make_textures``, listed in
  datasets/manifest.yml: two kinds of "fur", smooth blotches and fine grain), and the convolutional
  base is VGG16 with ``weights=None``, i.e. a *random-feature* extractor (no ImageNet weights offline).
  Random ReLU features are tiny and share a large common offset, so the features are standardised (train
  mean, one global scale) before training; the notebook does the same. Measured with
  benchmarks/train_recipe_04.py: the reference classifier reaches 0.98-0.99 over seeds 0-4; a one-unit
  softmax 0.50 (min_accuracy is 0.9).
- any other profile (``gpu``): the recipe's data set from the manifest (``dogs_vs_cats``) and the real
  ImageNet weights (``vgg16_notop`` of the manifest). If either is missing, the suite stops with an
  instructor error instead of failing the student.

The trusted VGG16 and the features are in features.py, computed once per grader process (not per submission).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from autograder.config import TrainingRecipe
from autograder.datasets import make_textures
from autograder.models import ArchitectureError, ModelSpec, check_compile, layer_differences, rebuild, summary
from autograder.suite import GradingContext
from autograder.testing import Fail, helper_module

# The lecture's table: keras.applications.VGG16(include_top=False), (name, type, channels, params).
VGG16_TABLE: tuple[tuple[str, str, int, int], ...] = (
    ("block1_conv1", "Conv2D", 64, 1792),
    ("block1_conv2", "Conv2D", 64, 36928),
    ("block1_pool", "MaxPooling2D", 64, 0),
    ("block2_conv1", "Conv2D", 128, 73856),
    ("block2_conv2", "Conv2D", 128, 147584),
    ("block2_pool", "MaxPooling2D", 128, 0),
    ("block3_conv1", "Conv2D", 256, 295168),
    ("block3_conv2", "Conv2D", 256, 590080),
    ("block3_conv3", "Conv2D", 256, 590080),
    ("block3_pool", "MaxPooling2D", 256, 0),
    ("block4_conv1", "Conv2D", 512, 1180160),
    ("block4_conv2", "Conv2D", 512, 2359808),
    ("block4_conv3", "Conv2D", 512, 2359808),
    ("block4_pool", "MaxPooling2D", 512, 0),
    ("block5_conv1", "Conv2D", 512, 2359808),
    ("block5_conv2", "Conv2D", 512, 2359808),
    ("block5_conv3", "Conv2D", 512, 2359808),
    ("block5_pool", "MaxPooling2D", 512, 0),
)
VGG16_PARAMS = 14_714_688
HEAD = ("Flatten", "Dense", "Dropout", "Dense")
LEARNING_RATE = 2e-5  # RMSprop's, for the classifier and the end-to-end model
BINARY_LOSSES = ("binary_crossentropy", "BinaryCrossentropy")
ACCURACY = ("accuracy", "acc", "binary_accuracy")

DATA = helper_module(__file__, "features")  # the trusted VGG16 and the features, once per process
_features = DATA.features  # (benchmarks/train_recipe_04.py and gpu_runner.py compute the features through this name)
Split = tuple[np.ndarray, np.ndarray]  # (features or images, labels)
FeatureData = tuple[TrainingRecipe, Callable[[], tuple[Split, Split]]]


def vgg16_output_shapes(size: int) -> list[tuple[int | None, ...]]:
    """Output shape of every layer of the table for a size x size x 3 input ('same' convs, 2x2 pools)."""
    shapes: list[tuple[int | None, ...]] = []
    for _, kind, channels, _ in VGG16_TABLE:
        if kind == "MaxPooling2D":
            size //= 2
        shapes.append((None, size, size, channels))
    return shapes


def leaf_layers(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The layers of a summary with nested models (a conv base inside a Sequential) expanded in place."""
    out: list[dict[str, Any]] = []
    for layer in layers:
        if "layers" in layer:
            out += leaf_layers(layer["layers"])
        else:
            out.append(layer)
    return out


# Classic slips in the classifier's output layer (build_feature_classifier and build_transfer_model share them).
NO_SIGMOID = ("The output layer has no sigmoid: a Dense(1) without an activation (Keras's default is linear) outputs a "
              "score of any size, not the probability between 0 and 1 that binary_crossentropy expects; use "
              "Dense(1, activation='sigmoid').")
ONE_UNIT_SOFTMAX = ("The output layer is a one-unit softmax, which outputs 1 for every image: for two classes use one "
                    "sigmoid unit, Dense(1, activation='sigmoid').")
TWO_UNITS = ("The output layer has 2 units: the lecture's classifier has one sigmoid unit, the probability of the "
             "second class, trained with binary_crossentropy; use Dense(1, activation='sigmoid').")


def head_cause(layers: list[dict[str, Any]]) -> str:
    """The classic slip in the output layer of a classifier (its leaf layers, the head last), or "": only in the
    lecture's classifier otherwise (its layers, the hidden Dense and Dropout as the lecture's), since a diagnosed cause
    costs at most half of its question and another classifier is more than one slip."""
    if tuple(layer["class_name"] for layer in layers) != HEAD or len(head_problems(layers)) != 1:
        return ""
    dense = [layer for layer in layers if layer["class_name"] == "Dense"]
    config = dense[-1]["config"]
    units, activation = config.get("units"), config.get("activation")
    if units == 1 and activation in ("linear", None):
        return NO_SIGMOID
    if units == 1 and activation == "softmax":
        return ONE_UNIT_SOFTMAX
    if units == 2:
        return TWO_UNITS
    return ""


def _activation(config: dict[str, Any]) -> str:
    activation = config.get("activation")
    if activation in ("linear", None):
        return "no activation (Keras's default, 'linear')"
    return f"activation {activation!r}"


def head_problems(layers: list[dict[str, Any]]) -> list[str]:
    """What is wrong with a Flatten, Dense 256 relu, Dropout 0.5, Dense 1 sigmoid stack (empty when right)."""
    kinds = [layer["class_name"] for layer in layers]
    problems = layer_differences(kinds, list(HEAD))
    if problems:
        return problems
    _, dense, dropout, out = layers
    if dense["config"].get("units") != 256 or dense["config"].get("activation") != "relu":
        problems.append(f"the first Dense layer has {dense['config'].get('units')} units and "
                        f"{_activation(dense['config'])}; expected 256 and activation 'relu'")
    if dropout["config"].get("rate") != 0.5:
        problems.append(f"the Dropout rate is {dropout['config'].get('rate')}; expected 0.5")
    if out["config"].get("units") != 1 or out["config"].get("activation") != "sigmoid":
        problems.append(f"the output layer has {out['config'].get('units')} unit(s) and {_activation(out['config'])}; "
                        "expected 1 unit and activation 'sigmoid' (one probability: dog or cat)")
    return problems


def compile_problems(spec: ModelSpec) -> list[str]:
    """How the compile settings differ from RMSprop(learning_rate=2e-5), binary cross-entropy and accuracy."""
    try:
        settings = check_compile(spec)
    except ArchitectureError as exc:
        return [str(exc)]
    problems = []
    optimizer = settings["optimizer"]
    rate = (optimizer.get("config") or {}).get("learning_rate")
    if optimizer["class_name"] != "RMSprop":
        problems.append(f"the optimizer is {optimizer['class_name']}; the lecture uses RMSprop")
    elif not isinstance(rate, int | float) or abs(rate - LEARNING_RATE) > 1e-3 * LEARNING_RATE:
        problems.append(f"the learning rate is {rate!r:.12}; use RMSprop(learning_rate=2e-5)")
    if settings.get("loss") not in BINARY_LOSSES:
        problems.append(f"the loss is {settings.get('loss')!r}; two classes with one sigmoid output need "
                        "'binary_crossentropy'")
    if not any(m in ACCURACY for m in settings.get("metrics") or []):
        problems.append("the metrics do not include 'accuracy' (compile(..., metrics=['accuracy']))")
    return problems


class Kit:
    """Helpers shared by the test files (one instance per graded submission)."""

    table = VGG16_TABLE
    vgg16_params = VGG16_PARAMS
    head = HEAD
    output_shapes = staticmethod(vgg16_output_shapes)
    leaf_layers = staticmethod(leaf_layers)
    make_textures = staticmethod(make_textures)
    head_problems = staticmethod(head_problems)
    head_cause = staticmethod(head_cause)
    compile_problems = staticmethod(compile_problems)

    @staticmethod
    def model(value: Any, function: str) -> tuple[ModelSpec, dict[str, Any]]:
        """A returned value that must be a Keras model: its spec and summary, or a Fail saying why not."""
        if not isinstance(value, ModelSpec):
            raise Fail(f"`{function}` should return a keras.Model, got {type(value).__name__}.")
        try:
            return value, summary(value)
        except ArchitectureError as exc:
            raise Fail(f"The model returned by `{function}` cannot be graded: {exc}") from None

    @staticmethod
    def vgg16(size: int, *, trainable: bool = True, weights: str | None = None) -> Any:
        """A trusted VGG16 without its top, for size x size x 3 images, with seeded random weights."""
        return DATA.vgg16(size, trainable=trainable, weights=weights)

    @staticmethod
    def trainable(spec: ModelSpec) -> list[tuple[str, tuple[int, ...]]]:
        """(layer name, shape) of every weight array that training would change, as Keras decides it on the
        rebuilt model: none if the returned model's own ``trainable`` is False, else every weight whose
        variable is trainable (freezing a nested base marks all its weights non-trainable)."""
        try:
            model = rebuild(spec, weights=False)
        except ArchitectureError as exc:
            raise Fail(f"The model cannot be rebuilt: {exc}") from None
        return [(str(v.path).split("/")[-2] if "/" in str(v.path) else str(v.path), tuple(v.shape))
                for v in model.trainable_weights]


@pytest.fixture(scope="session")
def kit() -> Kit:
    return Kit()


# --- the accuracy test's data ------------------------------------------------------------------------
@pytest.fixture
def feature_data(grading: GradingContext) -> FeatureData:
    """A function returning ((train features, labels), (test features, labels)) for the runner's recipe."""
    recipe = grading.assignment.training.get(grading.runner)
    if recipe is None:
        DATA.instructor_stop(f"course.yml has no training recipe for runner {grading.runner!r}")
    assert recipe is not None  # (instructor_stop does not return; DATA is loaded by path, so mypy cannot see it)

    def load() -> tuple[Split, Split]:
        return DATA.features(grading.runner, recipe.dataset, recipe.train_samples, recipe.test_samples, recipe.seed,
                             recipe.image_size or 150, grading.course.manifest_path)

    return recipe, load

