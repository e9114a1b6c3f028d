"""The trusted side's VGG16 and the accuracy test's features (04_transfer_learning's hidden suite).

Not a test module (pytest collects only ``test_*.py``): conftest.py loads it with
:func:`autograder.testing.helper_module`, which keeps it for the grader process's life, while pytest imports
conftest.py anew for every submission. So the features of the recipe's images (VGG16 over a few hundred images: most
of the suite's time on the cpu profile) are computed once per grader process, not once per student: they depend
only on the recipe, the runner and the seeded base, never on a submission.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pytest

from autograder.datasets import make_textures

CPU_BASE_SEED = 1604
Split = tuple[np.ndarray, np.ndarray]  # (features or images, labels)


def vgg16(size: int, *, trainable: bool = True, weights: str | None = None) -> Any:
    """A trusted VGG16 without its top, for size x size x 3 images, with seeded random weights."""
    import keras

    keras.utils.set_random_seed(CPU_BASE_SEED)
    base = keras.applications.VGG16(include_top=False, weights=weights, input_shape=(size, size, 3))
    base.trainable = trainable
    return base


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = train.mean(axis=0)
    scale = float((train - mean).std()) or 1.0
    return (train - mean) / scale, (test - mean) / scale


def instructor_stop(message: str) -> NoReturn:
    """Stop the suite as an instructor error (the grade is not recorded), not as the student's failure."""
    pytest.exit(f"04_transfer_learning accuracy test cannot run: {message}", returncode=3)


@functools.lru_cache(maxsize=2)
def features(runner: str, dataset: str, train_samples: int, test_samples: int, seed: int,
             size: int, manifest: Path) -> tuple[Split, Split]:
    """((train features, labels), (test features, labels)): the recipe's images through a frozen VGG16,
    standardised (train mean, one global scale), as the notebook does."""
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
            instructor_stop(str(exc))
        x_train, x_test = x_train * 255.0, x_test * 255.0
    weights: str | None = None
    if runner != "cpu":
        from autograder.datasets import DatasetError, require

        try:
            weights = str(require("vgg16_notop", manifest=manifest))
        except DatasetError as exc:
            instructor_stop(f"the {runner!r} profile trains on ImageNet features: {exc}")
    base = vgg16(size, trainable=False, weights=weights)
    pre = keras.applications.vgg16.preprocess_input
    f_train = base.predict(pre(np.array(x_train, np.float32)), batch_size=32, verbose=0)
    f_test = base.predict(pre(np.array(x_test, np.float32)), batch_size=32, verbose=0)
    f_train, f_test = _standardise(f_train, f_test)
    return (f_train, np.asarray(y_train)), (f_test, np.asarray(y_test))
