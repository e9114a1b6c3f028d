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
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pytest

from autograder.config import TrainingRecipe
from autograder.datasets import make_textures
from autograder.models import ArchitectureError, ModelSpec, check_compile, layer_differences, rebuild, summary
from autograder.suite import GradingContext
from autograder.testing import Fail

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
CPU_BASE_SEED = 1604
LEARNING_RATE = 2e-5  # RMSprop's, for the classifier and the end-to-end model
BINARY_LOSSES = ("binary_crossentropy", "BinaryCrossentropy")
ACCURACY = ("accuracy", "acc", "binary_accuracy")

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


def head_problems(layers: list[dict[str, Any]]) -> list[str]:
    """What is wrong with a Flatten, Dense 256 relu, Dropout 0.5, Dense 1 sigmoid stack (empty when right)."""
    kinds = [layer["class_name"] for layer in layers]
    problems = layer_differences(kinds, list(HEAD))
    if problems:
        return problems
    _, dense, dropout, out = layers
    if dense["config"].get("units") != 256 or dense["config"].get("activation") != "relu":
        problems.append(f"the first Dense layer has {dense['config'].get('units')} units and activation "
                        f"{dense['config'].get('activation')!r}; expected 256 and 'relu'")
    if dropout["config"].get("rate") != 0.5:
        problems.append(f"the Dropout rate is {dropout['config'].get('rate')}; expected 0.5")
    if out["config"].get("units") != 1 or out["config"].get("activation") != "sigmoid":
        problems.append(f"the output layer has {out['config'].get('units')} unit(s) and activation "
                        f"{out['config'].get('activation')!r}; expected 1 and 'sigmoid' (one probability: dog or cat)")
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
        import keras

        keras.utils.set_random_seed(CPU_BASE_SEED)
        base = keras.applications.VGG16(include_top=False, weights=weights, input_shape=(size, size, 3))
        base.trainable = trainable
        return base

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
def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = train.mean(axis=0)
    scale = float((train - mean).std()) or 1.0
    return (train - mean) / scale, (test - mean) / scale


def _instructor_stop(message: str) -> NoReturn:
    """Stop the suite as an instructor error (the grade is not recorded), not as the student's failure."""
    pytest.exit(f"04_transfer_learning accuracy test cannot run: {message}", returncode=3)


@functools.lru_cache(maxsize=2)
def _features(runner: str, dataset: str, train_samples: int, test_samples: int, seed: int,
              size: int, manifest: Path) -> tuple[Split, Split]:
    import keras

    if dataset == "textures":
        (x_train, y_train), (x_test, y_test) = (make_textures(n, size, s) for n, s in
                                                 ((train_samples, seed), (test_samples, seed + 1)))
    else:
        from autograder.datasets import DatasetError, recipe_data

        try:
            (x_train, y_train), (x_test, y_test) = recipe_data(dataset, train_samples, test_samples, seed, size,
                                                               manifest=manifest)
        except DatasetError as exc:
            _instructor_stop(str(exc))
        x_train, x_test = x_train * 255.0, x_test * 255.0
    weights: str | None = None
    if runner != "cpu":
        from autograder.datasets import DatasetError, require

        try:
            weights = str(require("vgg16_notop", manifest=manifest))
        except DatasetError as exc:
            _instructor_stop(f"the {runner!r} profile trains on ImageNet features: {exc}")
    base = Kit.vgg16(size, trainable=False, weights=weights)
    pre = keras.applications.vgg16.preprocess_input
    f_train = base.predict(pre(np.array(x_train, np.float32)), batch_size=32, verbose=0)
    f_test = base.predict(pre(np.array(x_test, np.float32)), batch_size=32, verbose=0)
    f_train, f_test = _standardise(f_train, f_test)
    return (f_train, np.asarray(y_train)), (f_test, np.asarray(y_test))


@pytest.fixture
def feature_data(grading: GradingContext) -> FeatureData:
    """A function returning ((train features, labels), (test features, labels)) for the runner's recipe."""
    recipe = grading.assignment.training.get(grading.runner)
    if recipe is None:
        _instructor_stop(f"course.yml has no training recipe for runner {grading.runner!r}")

    def load() -> tuple[Split, Split]:
        return _features(grading.runner, recipe.dataset, recipe.train_samples, recipe.test_samples, recipe.seed,
                         recipe.image_size or 150, grading.course.manifest_path)

    return recipe, load

