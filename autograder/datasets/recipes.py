"""The data of a training recipe (course.yml ``assignments[].training``): seeded train and held-out test
arrays from a registered, generated or prepared data set."""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from autograder.datasets.images import Arrays, image_files, load_image_folder, load_images, prepare_image_folder
from autograder.datasets.loaders import load_digits_28, load_fashion_mnist, load_mnist
from autograder.datasets.registry import DatasetError, cache_dir
from autograder.datasets.synthetic import make_shapes_images


def _sample(x: np.ndarray, y: np.ndarray, n: int, rng: np.random.Generator) -> Arrays:
    idx = rng.permutation(len(x))[: min(n, len(x))]
    return x[idx], y[idx]


@lru_cache(maxsize=4)
def recipe_data(dataset: str, train_samples: int, test_samples: int, seed: int,
                image_size: int | None = None, *, manifest: Path) -> tuple[Arrays, Arrays]:
    """A recipe's (x_train, y_train), (x_test, y_test): grey images as (N, 28, 28, 1) float32 in [0, 1],
    colour images as (N, S, S, 3); labels are class indices. Seeded, so every grading run sees the same.
    ``manifest`` is the course's data set manifest (``course.manifest_path``)."""
    rng = np.random.default_rng(seed)
    if dataset in ("mnist", "fashion_mnist", "digits"):
        if dataset == "digits":
            (x_train, y_train), (x_test, y_test) = load_digits_28()
        else:
            loader = {"mnist": load_mnist, "fashion_mnist": load_fashion_mnist}[dataset]
            (x_train, y_train), (x_test, y_test) = loader(manifest)
        train, test = _sample(x_train, y_train, train_samples, rng), _sample(x_test, y_test, test_samples, rng)
        return ((train[0][..., None] / np.float32(255)).astype(np.float32), train[1].astype(np.int64)), \
               ((test[0][..., None] / np.float32(255)).astype(np.float32), test[1].astype(np.int64))
    size = image_size or 64
    if dataset == "shapes":
        with tempfile.TemporaryDirectory(prefix="ag-shapes-") as tmp:
            made = {}
            for part, count, part_seed in (("train", train_samples, seed), ("test", test_samples, seed + 1)):
                raw = make_shapes_images(Path(tmp) / f"raw-{part}", (count + 1) // 2, part_seed, image_size=size)
                prepare_image_folder(raw, Path(tmp) / part)
                made[part] = _sample(*load_image_folder(Path(tmp) / part, size), count, rng)
            return made["train"], made["test"]
    if dataset == "dogs_vs_cats":
        folder = cache_dir() / "dogs_vs_cats" / "images"
        if not folder.is_dir():
            raise DatasetError("Dogs vs. Cats is not prepared: run `autograder datasets fetch dogs_vs_cats` "
                               f"(or unpack PetImages/Cat and PetImages/Dog into {folder}/cats and {folder}/dogs).")
        files = image_files(folder)
        order = rng.permutation(len(files))
        train = load_images([files[i] for i in order[:train_samples]], size)
        test = load_images([files[i] for i in order[train_samples:train_samples + test_samples]], size)
        return train, test
    raise DatasetError(f"No loader for the data set {dataset!r} (known: mnist, fashion_mnist, digits, shapes, "
                       "dogs_vs_cats).")
