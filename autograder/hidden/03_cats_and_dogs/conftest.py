"""Shared by the 03_cats_and_dogs hidden suite (trusted side): the lecture's cats-vs-dogs CNN, layer by layer,
for any square input size.

``lecture_cnn`` gives the structure tests their reference and gives the accuracy test a diagnosis: when
the grader's training falls short, the hint names a difference from the lecture's layers, settings or
compile settings only if there is one.
"""

from __future__ import annotations

from typing import Any

import pytest

from autograder import models


def _conv(filters: int, shape: tuple, params: int) -> models.ExpectedLayer:
    return models.ExpectedLayer("Conv2D", shape, params, {"filters": filters, "kernel_size": (3, 3),
                                                          "activation": "relu"})


def _pool(shape: tuple) -> models.ExpectedLayer:
    return models.ExpectedLayer("MaxPooling2D", shape, 0, {"pool_size": (2, 2)})


def expected(size: int) -> list[models.ExpectedLayer]:
    """The lecture's network for size x size x 3 images."""
    sizes, s = [], size
    for _ in range(4):
        sizes.append((s - 2, (s - 2) // 2))
        s = (s - 2) // 2
    flat = s * s * 128
    return [
        _conv(32, (None, sizes[0][0], sizes[0][0], 32), 896), _pool((None, sizes[0][1], sizes[0][1], 32)),
        _conv(64, (None, sizes[1][0], sizes[1][0], 64), 18496), _pool((None, sizes[1][1], sizes[1][1], 64)),
        _conv(128, (None, sizes[2][0], sizes[2][0], 128), 73856), _pool((None, sizes[2][1], sizes[2][1], 128)),
        _conv(128, (None, sizes[3][0], sizes[3][0], 128), 147584), _pool((None, sizes[3][1], sizes[3][1], 128)),
        models.ExpectedLayer("Flatten", (None, flat), 0),
        models.ExpectedLayer("Dropout", (None, flat), 0, {"rate": 0.5}),
        models.ExpectedLayer("Dense", (None, 512), flat * 512 + 512, {"units": 512, "activation": "relu"}),
        models.ExpectedLayer("Dense", (None, 1), 513, {"units": 1, "activation": "sigmoid"}),
    ]


class LectureCNN:
    expected = staticmethod(expected)

    @staticmethod
    def compile_problems(info: dict[str, Any]) -> list[str]:
        return models.compile_problems(info["compile"], optimizer="RMSprop", loss="binary_crossentropy",
                                       metrics=["accuracy"], learning_rate=1e-4)

    def training_hint(self, info: dict[str, Any], size: int) -> str:
        """Why a network that falls short in the grader's training likely does: the first difference from the
        lecture's layers, their settings or the compile settings, else what those checks do not compare."""
        return models.likely_cause(info, expected(size), self.compile_problems(info),
                                   unchecked="initializers or regularizers")


@pytest.fixture(scope="session")
def lecture_cnn() -> LectureCNN:
    return LectureCNN()
