"""Hidden tests for question save_load_model: a .keras round trip inside the worker preserves predictions.

The grader sends a model of its own into the notebook; the loaded model comes back as plain data and is
rebuilt here (whitelist first). The only model FILE involved in the second test is one the grader wrote.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from autograder import models
from autograder.testing import Fail, SubmissionProxy, expect, question


def _model(seed: int) -> Any:
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input(shape=(12, 12, 3)),
        keras.layers.Conv2D(4, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-4), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def _inputs(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((6, 12, 12, 3)).astype(np.float32)


def _same_predictions(spec: object, model: Any, x: np.ndarray, what: str) -> None:
    if not isinstance(spec, models.ModelSpec):
        raise Fail(f"load_model should return a keras.Model, got {type(spec).__name__}.")
    try:
        restored = models.rebuild(spec)
    except models.ArchitectureError as exc:
        raise Fail(f"The loaded model cannot be checked: {exc}") from None
    expect(np.allclose(np.asarray(restored(x)), np.asarray(model(x)), rtol=1e-5, atol=1e-6),
           f"{what} predicts differently from the model that was saved: save and load the weights too.")


@question("save_load_model", weight=1)
def test_round_trip_preserves_predictions_and_compile_settings(submission: SubmissionProxy) -> None:
    """save_model then load_model gives back a model with the same predictions and compile settings."""
    model = _model(20240711)
    submission.save_model(model, "roundtrip.keras")
    spec = submission.load_model("roundtrip.keras")
    _same_predictions(spec, model, _inputs(20240712), "The model from load_model(save_model(...))")
    if not spec.compile:
        raise Fail("The loaded model lost its compile settings (optimizer, loss, metrics): save the whole model "
                   "(model.save) and load it with keras.models.load_model.")
    # The grader's settings are not quoted: a load_model that compiles with them would pass without loading them.
    expect(not models.compile_problems(spec.compile, optimizer="Adam", loss="binary_crossentropy",
                                       metrics=["accuracy"], learning_rate=3e-4),
           "The loaded model's compile settings (optimizer, learning rate, loss or metrics) differ from the saved "
           "model's: keep the settings the file holds, do not compile the model again with other ones.")


@question("save_load_model", weight=1)
def test_loads_a_keras_file(submission: SubmissionProxy) -> None:
    """load_model reads a .keras file written by Keras's own model.save."""
    model = _model(20240713)
    with tempfile.TemporaryDirectory(prefix="ag-03-save-") as tmp:
        path = Path(tmp) / "model.keras"
        model.save(path)
        folder = models.FolderArg("given_model", {"model.keras": path.read_bytes()}, select="model.keras")
    _same_predictions(submission.load_model(folder), model, _inputs(20240714), "The model loaded from a .keras file")
