"""Training a rebuilt model on the trusted side: fresh seeded weights, the student's compile settings, held-out
accuracy. Keras is imported lazily."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from autograder.keras_causes import explain
from autograder.models.rebuild import rebuild
from autograder.models.spec import ArchitectureError, ModelSpec, TrainingFailed


@dataclass
class TrainingResult:
    accuracy: float
    seconds: float
    epochs_run: int
    stopped_early: bool = False
    history: dict[str, list[float]] = field(default_factory=dict)  # per epoch: loss, accuracy (training data)


def _labels_for(model: Any, loss: Any, y: np.ndarray) -> np.ndarray:
    units = int(model.outputs[0].shape[-1])
    y = np.asarray(y)
    if units == 1:
        return y.reshape(-1, 1).astype("float32")
    if isinstance(loss, str) and "sparse" in loss.lower():
        return y.astype("int64")
    return np.eye(units, dtype="float32")[y.astype("int64")]


def accuracy_of(predictions: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of class predictions: argmax for several outputs, 0.5 threshold for one sigmoid output."""
    predictions = np.asarray(predictions)
    predicted = (predictions.reshape(-1) > 0.5).astype(int) if predictions.shape[-1] == 1 else predictions.argmax(-1)
    return float(np.mean(predicted == np.asarray(y).reshape(-1)))


def pinned_seeds(spec: ModelSpec, seed: int) -> ModelSpec:
    """``spec`` with every unset ``seed`` of its configuration (weight initialisers, Dropout, random augmentation
    layers) set from ``seed``, in the configuration's order.

    Keras draws an unset seed from Python's global ``random`` when it builds the layer; in a Dask worker other
    threads (its event loop) draw from the same generator at any moment, so ``keras.utils.set_random_seed`` alone
    gave the same architecture other weights, and another accuracy, from one run to the next."""
    rng = random.Random(seed)

    def pin(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: (rng.randint(1, 2**31 - 1) if k == "seed" and v is None else pin(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [pin(v) for v in node]
        return node

    return replace(spec, config_json=json.dumps(pin(spec.config)))


def train_and_evaluate(
    spec: ModelSpec,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    time_limit_s: float = 300.0,
) -> TrainingResult:
    """Rebuild the architecture with fresh seeded weights, train it with its own compile settings, and
    measure accuracy on ``test``. Labels are class indices; they are one-hot encoded when the loss needs it.

    When Keras refuses to train the network for a reason the grader recognises (a Dense layer on images without
    Flatten, a last layer with the wrong number of units, ...), :class:`TrainingFailed` says the cause in the
    grader's words (an ArchitectureError: the hidden tests that train already catch those); any other exception
    propagates unchanged (its traceback goes to the instructor log)."""
    try:
        return _train_and_evaluate(spec, train, test, epochs=epochs, batch_size=batch_size, seed=seed,
                                   time_limit_s=time_limit_s)
    except ArchitectureError:
        raise
    except Exception as exc:
        # The network was built on the recipe's input shape (the course's, public) and the shapes in Keras's
        # message are its layers' shapes: they may be quoted.
        cause = explain(type(exc).__name__, str(exc), shapes=True)
        if not cause:
            raise
        raise TrainingFailed(cause) from exc


def _train_and_evaluate(spec: ModelSpec, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray],
                        *, epochs: int, batch_size: int, seed: int, time_limit_s: float) -> TrainingResult:
    import keras

    keras.utils.set_random_seed(seed)
    model = rebuild(pinned_seeds(spec, seed), weights=False, compile=True)
    loss = (spec.compile or {}).get("loss")
    started = time.monotonic()

    class _TimeLimit(keras.callbacks.Callback):
        stopped = False

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if time.monotonic() - started > time_limit_s:
                self.stopped = True
                self.model.stop_training = True

    limit = _TimeLimit()
    history = model.fit(
        train[0], _labels_for(model, loss, train[1]), epochs=epochs, batch_size=batch_size, shuffle=True,
        verbose=0, callbacks=[limit],
    )
    predictions = model.predict(test[0], batch_size=256, verbose=0)
    return TrainingResult(
        accuracy=accuracy_of(predictions, test[1]),
        seconds=round(time.monotonic() - started, 2),
        epochs_run=len(history.epoch),
        stopped_early=limit.stopped,
        history={k: [round(float(v), 5) for v in vs] for k, vs in history.history.items()
                 if (k == "loss" or "acc" in k) and len(vs) and all(np.isfinite(vs))},
    )


def graded_training(spec: ModelSpec, recipe: Any, *, manifest: Path) -> TrainingResult:
    """Train ``spec``'s architecture with a course training recipe (config.TrainingRecipe) on its data;
    ``manifest`` is the course's data set manifest (``course.manifest_path``)."""
    from autograder.datasets.recipes import recipe_data

    train, test = recipe_data(recipe.dataset, recipe.train_samples, recipe.test_samples, recipe.seed,
                              recipe.image_size, manifest=manifest)
    return train_and_evaluate(spec, train, test, epochs=recipe.epochs, batch_size=recipe.batch_size,
                              seed=recipe.seed, time_limit_s=recipe.time_limit_s)
