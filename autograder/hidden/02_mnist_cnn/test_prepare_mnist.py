"""Hidden tests for question prepare_mnist: channel axis, float32 in [0, 1], one-hot labels."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograder.testing import Fail, SubmissionProxy, expect, expect_array, question


def _batch(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    x[0, 0, 0], x[-1, -1, -1] = 0, 255  # both ends of the range occur
    return x, rng.integers(0, 10, size=n).astype(np.uint8)


def _prepare(submission: SubmissionProxy, x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    value = submission.prepare_mnist(x, y)
    if not (isinstance(value, tuple) and len(value) == 2):
        raise Fail(f"prepare_mnist should return a tuple (x, y), got {type(value).__name__}.")
    return value


def _channel_cause(images: Any, n: int) -> str:
    """The cause of prepared images of the wrong shape, when their shape shows it ("" otherwise). Only the kind of
    mistake is named: the student's shape is not quoted (its numbers could come from hidden inputs)."""
    shape = getattr(images, "shape", None) if type(images) is np.ndarray else None
    if shape == (n, 28, 28):
        return ("The prepared images have no channel axis: Conv2D needs images of shape (N, 28, 28, 1), so add the "
                "axis at the end (x[..., np.newaxis] or x.reshape(-1, 28, 28, 1)).")
    if shape == (n, 1, 28, 28):
        return ("The prepared images have their channel axis first (N, 1, 28, 28); Keras expects it last: "
                "(N, 28, 28, 1), with x[..., np.newaxis].")
    if shape == (n, 784):
        return ("The prepared images are flattened to rows of 784; the CNN needs images of shape (N, 28, 28, 1) "
                "(the networks flatten them themselves, with a Flatten layer).")
    return ""


def _expect_images(images: Any, n: int, case: str) -> np.ndarray:
    cause = _channel_cause(images, n)
    if cause:
        raise Fail(f"{cause} Case: {case}.")
    return expect_array(images, shape=(n, 28, 28, 1), kinds="f", what=f"the prepared images ({case})")


@question("prepare_mnist", weight=1.0)
def test_images_get_a_channel_axis_and_values_in_0_1(submission: SubmissionProxy) -> None:
    """prepare_mnist turns (N, 28, 28) uint8 images into (N, 28, 28, 1) float32 values pixel / 255."""
    x, y = _batch(20240601, 13)
    x_ready, _ = _prepare(submission, x, y)
    x_ready = _expect_images(x_ready, 13, "13 images of 28 x 28 bytes")
    expect(x_ready.dtype == np.float32, f"The prepared images should be float32, got {x_ready.dtype}.")
    pixels, want = x_ready[..., 0], x / 255.0
    if not np.allclose(pixels, want, atol=1e-6):
        why = ""
        if np.allclose(np.sort(pixels, axis=None), np.sort(want, axis=None), atol=1e-6):
            why = " The values are right but not in their places: add the channel axis at the end (x[..., np.newaxis])."
        elif pixels.max() > 1.0:
            why = " Some values are above 1.0: divide the bytes by 255."
        raise Fail("The prepared pixels should be the original bytes divided by 255 (0 -> 0.0, 255 -> 1.0)." + why)


@question("prepare_mnist", weight=1.0)
def test_labels_become_one_hot(submission: SubmissionProxy) -> None:
    """prepare_mnist turns labels 0-9 into float32 one-hot rows of 10."""
    x, y = _batch(20240602, 17)
    _, y_ready = _prepare(submission, x, y)
    y_ready = expect_array(y_ready, shape=(17, 10), kinds="f", what="the prepared labels")
    expect(y_ready.dtype == np.float32, f"The prepared labels should be float32, got {y_ready.dtype}.")
    expect(np.array_equal(y_ready, np.eye(10)[y]),
           "Each prepared label should be one-hot: a 1.0 at the label's index and 0.0 everywhere else.")


@question("prepare_mnist", weight=0.5)
def test_single_image_and_integer_label_types(submission: SubmissionProxy) -> None:
    """prepare_mnist works for one image and for int64 labels (as returned by other loaders)."""
    x, y = _batch(20240603, 1)
    x_ready, y_ready = _prepare(submission, x, y.astype(np.int64))
    _expect_images(x_ready, 1, "a single image (N = 1)")
    expect_array(y_ready, shape=(1, 10), kinds="f", what="the prepared label (N = 1)")
    expect(y_ready[0].argmax() == y[0] and y_ready.sum() == 1.0, "A single int64 label is not one-hot encoded.")
