"""Hidden tests for question load_image_dataset: class folders -> batches in [0, 1] with binary labels.

The images are generated here (real JPEG files, a fresh seeded set the student never saw) and written
into the worker's job directory; the reference is keras.utils.image_dataset_from_directory on the same
files, divided by 255.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from autograder import datasets, models
from autograder.testing import Fail, SubmissionProxy, expect, expect_array, question

PER_CLASS = 7


@functools.cache
def _folder() -> models.FolderArg:
    with tempfile.TemporaryDirectory(prefix="ag-03-images-") as tmp:
        datasets.make_shapes_images(Path(tmp), PER_CLASS, seed=20240701, image_size=40, corrupt=False)
        return models.FolderArg.from_path(Path(tmp), name="hidden_images")


def _reference(image_size: tuple[int, int], batch_size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    import keras

    with tempfile.TemporaryDirectory(prefix="ag-03-ref-") as tmp:
        for rel, data in _folder().files.items():
            (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / rel).write_bytes(data)
        ds = keras.utils.image_dataset_from_directory(tmp, label_mode="binary", image_size=image_size,
                                                      batch_size=batch_size, shuffle=False, verbose=False)
        return [(np.asarray(x) / 255.0, np.asarray(y)) for x, y in ds]


def _batches(submission: SubmissionProxy, **kwargs: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    value = submission.load_image_dataset(_folder(), **kwargs)
    if not isinstance(value, list) or not value:
        raise Fail(f"load_image_dataset should return a tf.data.Dataset, got {type(value).__name__}.")
    out = []
    for batch in value:
        if len(batch) != 2:
            raise Fail("Each element of the dataset should be a pair (images, labels).")
        out.append((expect_array(batch[0], kinds="f", what="a batch of images"),
                    expect_array(batch[1], kinds="fiu", what="a batch of labels")))
    return out


def _check_labels(labels: np.ndarray, n: int) -> None:
    # The student's own shapes are not quoted: they could be computed from the hidden pictures.
    expect(labels.shape == (n, 1), f"A batch of {n} images should have labels of shape ({n}, 1): binary labels "
                                   "(label_mode='binary').")
    expect(labels.dtype == np.float32, f"Labels should be float32 (label_mode='binary'), got {labels.dtype}.")
    expect(set(np.unique(labels)) <= {0.0, 1.0}, "Labels should be 0.0 (cats) and 1.0 (dogs).")


NOT_RESCALED = ("The images are not divided by 255: ImageDataGenerator's rescale=1./255 is, after "
                "keras.utils.image_dataset_from_directory, dataset.map(lambda images, labels: (images / 255.0, "
                "labels)).")
RESCALED_TWICE = "The images are divided by 255 twice: divide Keras's pixels (0 to 255) by 255 once."


def _scaling_cause(x: np.ndarray, want: np.ndarray) -> str:
    """The cause of wrong pixel values when they are Keras's images scaled by a classic mistake ("" otherwise)."""
    if x.shape != want.shape:
        return ""
    if np.allclose(x, want * 255.0, atol=1e-3):
        return NOT_RESCALED
    if np.allclose(x, want / 255.0, atol=1e-7):
        return RESCALED_TWICE
    return ""


def _check_range(x: np.ndarray, want: np.ndarray | None = None, case: str = "") -> None:
    if x.min() >= 0.0 and x.max() <= 1.0 and x.max() > 0.5:
        return
    cause = _scaling_cause(x, want) if want is not None else ""
    if cause:
        raise Fail(f"{cause} Case: {case}.")
    if x.max() > 1.0:
        why = "some are above 1: divide the pixels by 255"
    elif x.min() < 0.0:
        why = "some are negative: divide the pixels (0 to 255) by 255, nothing else"
    else:
        why = "the brightest pixels are below 0.5: divide the pixels by 255 once, not twice"
    raise Fail(f"Image values should be between 0.0 and 1.0; {why}.")


@question("load_image_dataset", weight=1.0)
def test_batches_shapes_range_and_labels(submission: SubmissionProxy) -> None:
    """load_image_dataset gives batches of (batch, H, W, 3) float32 images in [0, 1] and (batch, 1) labels, cats 0."""
    batches = _batches(submission, image_size=(32, 32), batch_size=5, shuffle=False)
    expect([len(x) for x, _ in batches] == [5, 5, 4],
           f"{2 * PER_CLASS} images in batches of 5 should give batches of 5, 5 and 4 images (batch_size=5).")
    reference = _reference((32, 32), 5)
    for (x, y), (want, _) in zip(batches, reference, strict=True):
        expect(x.shape[1:] == (32, 32, 3), "With image_size=(32, 32) every image should have shape (32, 32, 3): "
                                           "pass image_size on.")
        expect(x.dtype == np.float32, f"Images should be float32, got {x.dtype}.")
        _check_range(x, want, "the range of the pixel values, images of 32 x 32 in batches of 5")
        _check_labels(y, len(x))
    labels = np.concatenate([y for _, y in batches]).ravel()
    expect(labels.tolist() == [0.0] * PER_CLASS + [1.0] * PER_CLASS,
           "Without shuffling, the cats (label 0) come first, then the dogs (label 1).")


@question("load_image_dataset", weight=1.0)
def test_pixels_match_keras(submission: SubmissionProxy) -> None:
    """load_image_dataset's images are Keras's resized images divided by 255, in file order without shuffling."""
    batches = _batches(submission, image_size=(24, 20), batch_size=8, shuffle=False)
    reference = _reference((24, 20), 8)
    expect(len(batches) == len(reference), "The number of batches is wrong.")
    for (x, _), (want, _) in zip(batches, reference, strict=True):
        if x.shape == want.shape and np.allclose(x, want, atol=1e-5):
            continue
        cause = _scaling_cause(x, want)
        if cause:
            raise Fail(f"{cause} Case: the pixel values against keras.utils.image_dataset_from_directory, images "
                       "of 24 x 20.")
        raise Fail("The pixel values differ from keras.utils.image_dataset_from_directory(...) divided by 255.")


@question("load_image_dataset", weight=0.5)
def test_defaults_are_150_by_150_in_batches_of_32(submission: SubmissionProxy) -> None:
    """load_image_dataset's defaults: image_size=(150, 150), batch_size=32, shuffled."""
    batches = _batches(submission)
    expect(len(batches) == 1 and batches[0][0].shape == (2 * PER_CLASS, 150, 150, 3),
           f"With the defaults, {2 * PER_CLASS} images should come as one batch of shape "
           f"({2 * PER_CLASS}, 150, 150, 3): image_size=(150, 150), batch_size=32.")
    _check_labels(batches[0][1], 2 * PER_CLASS)
    # 14 images in folder order by chance: 1 in 14! (about 1e-11)
    [(in_folder_order, _)] = _reference((150, 150), 32)
    expect(not np.allclose(batches[0][0], in_folder_order, atol=1e-5),
           "With the defaults the images should be shuffled (shuffle=True).")


@question("load_image_dataset", weight=0.5)
def test_a_seed_makes_the_shuffle_repeatable(submission: SubmissionProxy) -> None:
    """load_image_dataset(shuffle=True, seed=s) gives the same order twice, and not the folder order."""
    first = _batches(submission, image_size=(16, 16), batch_size=4, shuffle=True, seed=3)
    second = _batches(submission, image_size=(16, 16), batch_size=4, shuffle=True, seed=3)
    order = [np.concatenate([y for _, y in b]).ravel().tolist() for b in (first, second)]
    expect(order[0] == order[1] and all(np.allclose(a[0], b[0]) for a, b in zip(first, second, strict=True)),
           "Two calls with the same seed should give the same order: pass seed to image_dataset_from_directory.")
    expect(order[0] != [0.0] * PER_CLASS + [1.0] * PER_CLASS, "shuffle=True should shuffle the images.")
