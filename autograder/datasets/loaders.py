"""Array loaders for the registered data sets: IDX files (MNIST's format), MNIST, Fashion-MNIST, and
scikit-learn's digits in MNIST's layout (offline). They return plain numpy arrays."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from autograder.datasets.images import Arrays
from autograder.datasets.registry import DatasetError, ManifestSource, require


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST's format; gzipped or not) as a uint8 array."""
    raw = gzip.open(path, "rb").read() if str(path).endswith(".gz") else Path(path).read_bytes()
    if len(raw) < 4:
        raise DatasetError(f"{path} is not an IDX file (too short)")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DatasetError(f"{path} is not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DatasetError(f"{path}: header says {shape} but holds {data.size} values")
    return data.reshape(shape)


def load_mnist(manifest: ManifestSource) -> tuple[Arrays, Arrays]:
    """MNIST from mnist.npz: ((x_train (60000, 28, 28) uint8, y_train), (x_test, y_test))."""
    with np.load(require("mnist", manifest=manifest), allow_pickle=False) as data:
        return (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])


def load_fashion_mnist(manifest: ManifestSource) -> tuple[Arrays, Arrays]:
    """Fashion-MNIST from its four IDX files: ((x_train, y_train), (x_test, y_test)), uint8."""
    files = [require("fashion_mnist", n, manifest=manifest) for n in (
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz")]
    x_train, y_train, x_test, y_test = (read_idx(p) for p in files)
    return (x_train, y_train), (x_test, y_test)


def load_digits_28(test_fraction: float = 0.25) -> tuple[Arrays, Arrays]:
    """scikit-learn's 1,797 digits drawn like MNIST: 8x8 -> 20x20 (bilinear), centred in 28x28, uint8 0-255.

    The split is fixed (every 4th image is a test image), so it is the same everywhere."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = (digits.images * (255.0 / 16.0)).astype(np.uint8)
    x = np.zeros((len(small), 28, 28), dtype=np.uint8)
    for i, img in enumerate(small):
        x[i, 4:24, 4:24] = np.asarray(Image.fromarray(img).resize((20, 20), Image.Resampling.BILINEAR))
    y = digits.target.astype(np.uint8)
    step = max(int(round(1 / test_fraction)), 2)
    test = np.arange(len(x)) % step == step - 1
    return (x[~test], y[~test]), (x[test], y[test])
