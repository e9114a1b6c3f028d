"""Shared by the 02_mnist_cnn hidden suite (trusted side): the lecture's CNN, layer by layer.

``lecture_cnn`` gives the structure tests their reference and gives the accuracy test a diagnosis: when
the grader's training falls short, the hint names a difference from the lecture's layers, settings or
compile settings only if there is one.
"""

from __future__ import annotations

from typing import Any

import pytest

from autograder import models

LECTURE = (
    models.ExpectedLayer("Conv2D", (None, 26, 26, 32), 320,
                         {"filters": 32, "kernel_size": (3, 3), "activation": "relu"}),
    models.ExpectedLayer("MaxPooling2D", (None, 13, 13, 32), 0, {"pool_size": (2, 2)}),
    models.ExpectedLayer("Conv2D", (None, 11, 11, 64), 18496,
                         {"filters": 64, "kernel_size": (3, 3), "activation": "relu"}),
    models.ExpectedLayer("MaxPooling2D", (None, 5, 5, 64), 0, {"pool_size": (2, 2)}),
    models.ExpectedLayer("Conv2D", (None, 3, 3, 64), 36928,
                         {"filters": 64, "kernel_size": (3, 3), "activation": "relu"}),
    models.ExpectedLayer("Flatten", (None, 576), 0),
    models.ExpectedLayer("Dense", (None, 64), 36928, {"units": 64, "activation": "relu"}),
    models.ExpectedLayer("Dense", (None, 10), 650, {"units": 10, "activation": "softmax"}),
)


class LectureCNN:
    layers = list(LECTURE)

    def compile_problems(self, info: dict[str, Any]) -> list[str]:
        return models.compile_problems(info["compile"], optimizer="RMSprop", loss="categorical_crossentropy",
                                       metrics=["accuracy"])

    def training_hint(self, info: dict[str, Any]) -> str:
        """Why a network that falls short in the grader's training likely does: the first difference from the
        lecture's layers, their settings or the compile settings, else what those checks do not compare."""
        return models.likely_cause(info, self.layers, self.compile_problems(info),
                                   unchecked="the optimizer's learning rate, initializers or regularizers")


@pytest.fixture(scope="session")
def lecture_cnn() -> LectureCNN:
    return LectureCNN()
