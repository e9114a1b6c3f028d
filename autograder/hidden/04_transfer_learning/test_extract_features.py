"""Hidden tests for question extract_features: run a frozen base over a batched dataset, stack the results.

The grader sends the base (a live trusted model, rebuilt in the notebook's process) and a
``tf.data.Dataset`` of (images, labels) batches; the reference is the same base run here on the same images.

*Which* features (the base's output pattern, in the dataset's order) and *how much* (the values as the base outputs
them, not rescaled) are graded by different tests: features standardised or divided by a constant inside
extract_features lose test_features_are_not_rescaled only. Wrong features are compared with the classic slips
computed here (the images preprocessed a second time, the base run in training mode, one batch kept, another order),
and the message starts with the cause it shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from autograder.models import Batches
from autograder.testing import Fail, SubmissionProxy, expect, expect_array, first_cause, question

if TYPE_CHECKING:
    from conftest import Kit

DROPOUT = 0.5  # the small base's last layer: in training mode it drops half of the features
PREPROCESSED_TWICE = ("extract_features applies preprocess_input to images that are already preprocessed: the "
                      "notebook's datasets map VGG16's preprocess_input over the raw images before extraction, so run "
                      "the base on the images as they come.")
TRAINING_MODE = ("extract_features runs the base in training mode (training=True): its Dropout layers then drop "
                 "features at random, as in fit(). Call conv_base(images, training=False) or "
                 "conv_base.predict(images).")
RESCALED = ("The features are rescaled (standardised, or divided by a constant): return the base's output as it is; "
            "the notebook standardises the features after extraction, with the training set's mean and scale.")
LAST_BATCH = ("Only the last batch's features are returned: append each batch's features to a list inside the loop, "
              "and concatenate them after it (np.concatenate).")
FIRST_BATCH = ("Only the first batch's features are returned: go through every batch of the dataset, and concatenate "
               "their features after the loop.")
SHUFFLED = ("The features are in another order than the dataset's images: keep the dataset's order (do not "
            "shuffle), so that the labels match the features.")


def _small_base() -> Any:
    import keras

    keras.utils.set_random_seed(404)
    inputs = keras.Input((20, 20, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(8, 3, activation="relu")(x)
    x = keras.layers.Dropout(DROPOUT)(x)  # nothing in inference; half the features dropped in training mode
    return keras.Model(inputs, x, name="small_base")  # (None, 7, 7, 8)


def _batches(x: np.ndarray, y: np.ndarray, size: int) -> Batches:
    return Batches([(x[i:i + size], y[i:i + size]) for i in range(0, len(x), size)])


def _close(got: np.ndarray, want: np.ndarray) -> bool:
    scale = float(np.abs(want).max()) or 1.0
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=1e-4, atol=1e-5 * scale))


def _affine(got: np.ndarray, want: np.ndarray) -> bool:
    """``got`` is ``a * want + b`` with a > 0: the base's output, scaled and shifted (e.g. divided by its maximum)."""
    w = want.astype(np.float64).ravel()
    g = got.astype(np.float64).ravel()
    if w.std() == 0:
        return False
    a, b = np.polyfit(w, g, 1)
    return bool(a > 0) and _close(got, a * want + b)


def _standardised(want: np.ndarray) -> np.ndarray:
    """The features standardised as the notebook does after extraction (mean per feature, one global scale)."""
    values = want.astype(np.float64)
    centred = values - values.mean(axis=0)
    return centred / (float(centred.std()) or 1.0)


def _dropped(got: np.ndarray, want: np.ndarray) -> bool:
    """``got`` is ``want`` through Dropout in training mode: each value 0 or scaled by 1 / (1 - rate), some dropped."""
    scale = float(np.abs(want).max()) or 1.0
    zero = np.abs(got) <= 1e-5 * scale
    kept = np.isclose(got, want / (1 - DROPOUT), rtol=1e-4, atol=1e-5 * scale)
    return bool(np.all(zero | kept)) and bool(np.any(zero & (np.abs(want) > 1e-3 * scale)))


def _cause(got: np.ndarray, want: np.ndarray, x: np.ndarray, base: Any, sizes: list[int]) -> str:
    """The slip that the wrong features show (recomputed here), or ""."""
    import keras

    if got.shape == want.shape and _dropped(got, want):
        return TRAINING_MODE
    if got.shape == want.shape and all(
            len(np.flatnonzero([_close(f, w) for w in want])) == 1 for f in got):
        return SHUFFLED
    return first_cause(got, [
        (PREPROCESSED_TWICE, lambda: base.predict(keras.applications.vgg16.preprocess_input(x.copy()), verbose=0)),
        (RESCALED, lambda: _standardised(want)),
        (LAST_BATCH, lambda: want[len(want) - sizes[-1]:]),
        (FIRST_BATCH, lambda: want[:sizes[0]]),
    ], rtol=1e-4, atol=1e-5 * (float(np.abs(want).max()) or 1.0))


def _check(submission: SubmissionProxy, base: Any, x: np.ndarray, y: np.ndarray, batch: int, what: str, *,
           exact: bool = False) -> None:
    """Without ``exact``, features that are the base's output scaled and shifted pass: test_features_are_not_rescaled
    grades the scale."""
    want = np.asarray(base.predict(x, verbose=0))
    sizes = [len(x[i:i + batch]) for i in range(0, len(x), batch)]
    result = submission.extract_features(base, _batches(x, y, batch))
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise Fail(f"{what}: extract_features should return a tuple (features, labels), got "
                   f"{type(result).__name__}.")
    n = len(x)
    got = result[0]
    if isinstance(got, np.ndarray) and got.dtype.kind == "f" and not _close(got, want):
        cause = _cause(got, want, x, base, sizes)
        if cause and not (cause == RESCALED and not exact):
            raise Fail(f"{cause} Case: {what}.")
    features = expect_array(got, shape=want.shape, kinds="f", what=f"{what}: the features")
    labels = expect_array(result[1], what=f"{what}: the labels")
    if labels.shape != (n,):
        flatten = " (reshape the label batches of shape (B, 1))" if labels.size == n else ""
        raise Fail(f"{what}: the labels should have shape ({n},): one label per image, in a flat array{flatten}.")
    if not _close(features, want):
        if not _affine(features, want) and not _close(features, _standardised(want)):
            raise Fail(f"{what}: the features differ from running the base on the images.")
        if exact:
            raise Fail(f"{RESCALED} Case: {what}.")
    expect(np.array_equal(labels.astype(np.float64), np.asarray(y, np.float64).reshape(-1)),
           f"{what}: the labels are not the dataset's labels in the dataset's order.")


@question("extract_features", weight=1)
def test_small_base_uneven_batches(submission: SubmissionProxy) -> None:
    """extract_features stacks a small base's outputs (in inference mode) over 3 batches (4, 4 and 2 images) with
    their labels."""
    rng = np.random.default_rng(4041)
    x = rng.random((10, 20, 20, 3), dtype=np.float32)
    y = np.array([1, 0, 0, 1, 1, 0, 1, 0, 0, 1], dtype=np.int64)
    _check(submission, _small_base(), x, y, 4, "A small base (ending with Dropout) over 10 images in batches of 4, 4 "
           "and 2")


# Not a worked example: its images and labels are the grader's, not the lecture's (a worked example runs first and
# quotes the student's exception text, which their code may fill with its inputs)
@question("extract_features", weight=1)
def test_vgg16_features(submission: SubmissionProxy, kit: Kit) -> None:
    """extract_features with VGG16 on 64x64 images gives (N, 2, 2, 512) features and (N,) labels."""
    rng = np.random.default_rng(4042)
    x = rng.uniform(-120, 130, (6, 64, 64, 3)).astype(np.float32)
    y = np.array([[0.0], [1.0], [1.0], [0.0], [1.0], [0.0]], dtype=np.float32)  # label_mode="binary" batches
    _check(submission, kit.vgg16(64, trainable=False), x, y, 4,
           "VGG16 (random weights) over 6 images of 64×64 in batches of 4 and 2, labels of shape (B, 1)")


@question("extract_features", weight=0.5)
def test_features_are_not_rescaled(submission: SubmissionProxy) -> None:
    """extract_features returns the base's output as it is: not standardised, not divided by a constant (the notebook
    standardises the features after extraction)."""
    rng = np.random.default_rng(4044)
    x = rng.random((6, 20, 20, 3), dtype=np.float32)
    y = np.array([0, 1, 1, 0, 0, 1], dtype=np.int64)
    _check(submission, _small_base(), x, y, 3, "A small base over 6 images in batches of 3", exact=True)
