"""Hidden tests for question extract_features: run a frozen base over a batched dataset, stack the results.

The grader sends the base (a live trusted model, rebuilt in the notebook's process) and a
``tf.data.Dataset`` of (images, labels) batches; the reference is the same base run here on the same images.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from autograder.models import Batches
from autograder.testing import Fail, SubmissionProxy, expect, expect_array, question

if TYPE_CHECKING:
    from conftest import Kit


def _small_base() -> Any:
    import keras

    keras.utils.set_random_seed(404)
    inputs = keras.Input((20, 20, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(8, 3, activation="relu")(x)
    return keras.Model(inputs, x, name="small_base")  # (None, 7, 7, 8)


def _batches(x: np.ndarray, y: np.ndarray, size: int) -> Batches:
    return Batches([(x[i:i + size], y[i:i + size]) for i in range(0, len(x), size)])


def _check(submission: SubmissionProxy, base: Any, x: np.ndarray, y: np.ndarray, batch: int, what: str) -> None:
    want = np.asarray(base.predict(x, verbose=0))
    result = submission.extract_features(base, _batches(x, y, batch))
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise Fail(f"{what}: extract_features should return a tuple (features, labels), got "
                   f"{type(result).__name__}.")
    n = len(x)
    features = expect_array(result[0], shape=want.shape, kinds="f", what=f"{what}: the features")
    labels = expect_array(result[1], what=f"{what}: the labels")
    if labels.shape != (n,):
        flatten = " (reshape the label batches of shape (B, 1))" if labels.size == n else ""
        raise Fail(f"{what}: the labels should have shape ({n},): one label per image, in a flat array{flatten}.")
    scale = float(np.abs(want).max()) or 1.0
    if not np.allclose(features, want, rtol=1e-4, atol=1e-5 * scale):
        hint = ""
        order = [np.flatnonzero([np.allclose(f, w, rtol=1e-4, atol=1e-5 * scale) for w in want]) for f in features]
        if all(len(o) == 1 for o in order):
            hint = " They are the right features in a different order: keep the dataset's order (do not shuffle)."
        raise Fail(f"{what}: the features differ from running the base on the images.{hint}")
    expect(np.array_equal(labels.astype(np.float64), np.asarray(y, np.float64).reshape(-1)),
           f"{what}: the labels are not the dataset's labels in the dataset's order.")


@question("extract_features", weight=1)
def test_small_base_uneven_batches(submission: SubmissionProxy) -> None:
    """extract_features stacks a small base's outputs over 3 batches (4, 4 and 2 images) with their labels."""
    rng = np.random.default_rng(4041)
    x = rng.random((10, 20, 20, 3), dtype=np.float32)
    y = np.array([1, 0, 0, 1, 1, 0, 1, 0, 0, 1], dtype=np.int64)
    _check(submission, _small_base(), x, y, 4, "A small base over 10 images in batches of 4, 4 and 2")


@question("extract_features", weight=1, worked_example=True)
def test_vgg16_features(submission: SubmissionProxy, kit: Kit) -> None:
    """extract_features with VGG16 on 64x64 images gives (N, 2, 2, 512) features and (N,) labels."""
    rng = np.random.default_rng(4042)
    x = rng.uniform(-120, 130, (6, 64, 64, 3)).astype(np.float32)
    y = np.array([[0.0], [1.0], [1.0], [0.0], [1.0], [0.0]], dtype=np.float32)  # label_mode="binary" batches
    _check(submission, kit.vgg16(64, trainable=False), x, y, 4,
           "VGG16 (random weights) over 6 images of 64×64 in batches of 4 and 2, labels of shape (B, 1)")
