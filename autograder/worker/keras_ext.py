"""Worker-side Keras converters: models and datasets as plain data, and skipped training in cells.

Loaded by the untrusted worker from its file path (``register(ext)`` and ``around_cell(options)``,
see :mod:`autograder.worker.main`). Only the standard library and numpy are imported here; Keras
and TensorFlow are imported lazily, and only once the student's code has imported them, so an
assignment without Keras pays nothing.

Values sent to the trusted side (:mod:`autograder.models` decodes them):

- ``"keras_model"``: any ``keras.Model`` (Sequential, Functional) becomes
  ``{"config_json", "weights", "weight_names", "trainable", "compile", "built"}``;
- ``"dataset"``: a ``tf.data.Dataset`` becomes ``{"batches": [[x, y], ...]}``, at most
  :data:`MAX_BATCHES` batches and :data:`MAX_BYTES` bytes.

Values the trusted side may send as arguments (decoded here, on the untrusted side, so rebuilding
them needs no whitelist): the same two kinds, plus ``"files"``, a small folder of files written into
the job directory whose relative path the student's function receives.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import numpy as np

MAX_BATCHES = 64
MAX_BYTES = 200 * 1024 * 1024
SKIP_MESSAGE = "[autograder] training skipped at grading time"

# The wire module is loaded from its file path, so its WireError is not importable by name: it is
# found through the Extensions object handed to register(). Raising it turns an unsendable value
# into an ordinary "cannot send" answer instead of a dead worker.
_WireError: type[Exception] = ValueError


def _keras() -> Any:
    return sys.modules.get("keras")


def _is_model(value: Any) -> bool:
    keras = _keras()
    return keras is not None and isinstance(value, keras.Model)


def _is_dataset(value: Any) -> bool:
    tf = sys.modules.get("tensorflow")
    data = getattr(tf, "data", None) if tf is not None else None
    return data is not None and isinstance(value, data.Dataset)


def _plain(value: Any, depth: int = 0) -> Any:
    """A JSON-like copy of a config value; anything exotic becomes its type name."""
    if depth > 20:
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    return f"<{type(value).__name__}>"


def _object_name(value: Any) -> Any:
    """A loss or metric as the user named it: a string, or the class name of a serialised object."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return [_object_name(v) for v in value]
    if isinstance(value, dict) and "class_name" in value:
        config = value.get("config")
        if value.get("class_name") == "function" and isinstance(config, str):
            return config
        return str(value["class_name"])
    if isinstance(value, dict):
        return {str(k): _object_name(v) for k, v in value.items()}
    return str(getattr(value, "__name__", type(value).__name__))


def compile_info(model: Any) -> dict[str, Any] | None:
    """The model's compile settings as plain data, or None if it was never compiled."""
    if not getattr(model, "compiled", False):
        return None
    config = model.get_compile_config() or {}
    optimizer = config.get("optimizer")
    if isinstance(optimizer, dict):
        optimizer = {"class_name": str(optimizer.get("class_name")), "config": _plain(optimizer.get("config"))}
    elif isinstance(optimizer, str):
        optimizer = {"class_name": optimizer, "config": {}}
    metrics = config.get("metrics")
    return {
        "optimizer": optimizer,
        "loss": _object_name(config.get("loss")),
        "metrics": [] if metrics is None else _object_name(list(metrics) if isinstance(metrics, tuple) else metrics),
        "loss_weights": _plain(config.get("loss_weights")),
    }


def encode_model(model: Any) -> dict[str, Any]:
    """A Keras model as plain data: architecture JSON, weights in ``model.weights`` order, compile settings."""
    try:
        config_json = model.to_json()
    except Exception as exc:  # subclassed models without get_config, unserialisable arguments...
        raise _WireError(
            f"the Keras model cannot be described as JSON ({type(exc).__name__}: {str(exc)[:200]}); "
            "build it from built-in layers with keras.Sequential or the functional API"
        ) from None
    weights = list(model.weights)
    return {
        "config_json": config_json,
        "weights": [np.asarray(w.numpy()) for w in weights],
        "weight_names": [str(getattr(w, "path", w.name)) for w in weights],
        "trainable": [bool(w.trainable) for w in weights],
        "compile": compile_info(model),
        "built": bool(model.built),
    }


def _numpy(value: Any) -> Any:
    if isinstance(value, dict):
        raise _WireError("dataset elements that are dicts are not supported; yield (x, y) tuples")
    if isinstance(value, (tuple, list)):
        return [_numpy(v) for v in value]
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)


def encode_dataset(dataset: Any) -> dict[str, Any]:
    """The first :data:`MAX_BATCHES` elements (batches) of a tf.data.Dataset as lists of arrays."""
    batches: list[list[np.ndarray]] = []
    size = 0
    for element in dataset.take(MAX_BATCHES):
        arrays = _numpy(element)
        arrays = arrays if isinstance(arrays, list) else [arrays]
        size += sum(int(a.nbytes) for a in arrays)
        if size > MAX_BYTES:
            raise _WireError(
                f"the dataset's first {len(batches) + 1} batches are over {MAX_BYTES // (1024 * 1024)} MB; "
                "use smaller images or batches"
            )
        batches.append(arrays)
    return {"batches": batches}


def fix_known_config_bugs(node: Any) -> Any:
    """Work around Keras 3 layers whose saved config their own constructor rejects (edits numbers only).

    RandomShear (Keras 3.15) saves ``x_factor=0.1`` as ``[-0.1, 0.1]`` but accepts only values in
    [0, 1]; a float ``a`` means the same range [-a, a], so a symmetric pair becomes that float again.
    """
    if isinstance(node, list):
        return [fix_known_config_bugs(v) for v in node]
    if not isinstance(node, dict):
        return node
    fixed = {k: fix_known_config_bugs(v) for k, v in node.items()}
    if fixed.get("class_name") == "RandomShear" and isinstance(fixed.get("config"), dict):
        config = dict(fixed["config"])
        for key in ("x_factor", "y_factor"):
            value = config.get(key)
            if (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)
                    and value[0] == -value[1]):
                config[key] = abs(float(value[1]))
        fixed["config"] = config
    return fixed


def decode_model(data: Any) -> Any:
    """Rebuild a model sent by the trusted side (compiled again if it was compiled)."""
    import json

    import keras

    config = fix_known_config_bugs(json.loads(data["config_json"]))
    model = keras.saving.deserialize_keras_object(config)
    weights = data.get("weights") or []
    if weights:
        if not model.built or len(model.weights) != len(weights):
            raise _WireError("the model sent to the notebook has weights that do not fit its architecture")
        model.set_weights(weights)
    settings = data.get("compile")
    if settings:
        optimizer = settings.get("optimizer") or "rmsprop"
        if isinstance(optimizer, dict):
            optimizer = keras.optimizers.get(
                {"class_name": optimizer["class_name"], "config": optimizer.get("config") or {}}
            )
        model.compile(optimizer=optimizer, loss=settings.get("loss"), metrics=settings.get("metrics") or None)
    return model


def decode_dataset(data: Any) -> Any:
    """A tf.data.Dataset yielding exactly the batches sent (tuples, or single arrays)."""
    import tensorflow as tf

    batches = data.get("batches") or []
    if not batches:
        raise _WireError("an empty dataset cannot be sent")
    datasets = [tf.data.Dataset.from_tensors(tuple(b) if len(b) > 1 else b[0]) for b in batches]
    dataset = datasets[0]
    for more in datasets[1:]:
        dataset = dataset.concatenate(more)
    return dataset


def decode_files(data: Any) -> str:
    """Write a folder of files into the job directory; the function receives its relative path (or the path
    of the one file named by ``select``)."""
    name = str(data["name"])
    root = os.path.realpath(name)
    if os.path.dirname(root) != os.path.realpath(".") or name.startswith("."):
        raise _WireError(f"bad folder name {name!r}")
    for rel, content in data["files"]:
        target = os.path.realpath(os.path.join(root, str(rel)))
        if not target.startswith(root + os.sep):
            raise _WireError(f"bad file path {rel!r}")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(np.asarray(content, dtype=np.uint8).tobytes())
    select = data.get("select")
    return name if select is None else os.path.join(name, str(select))


def register(ext: Any) -> None:
    """Called by the worker with its wire.Extensions."""
    global _WireError
    func = getattr(ext.add_encoder, "__func__", ext.add_encoder)
    _WireError = getattr(func, "__globals__", {}).get("WireError", ValueError)
    ext.add_encoder("keras_model", _is_model, encode_model)
    ext.add_encoder("dataset", _is_dataset, encode_dataset)
    ext.add_decoder("keras_model", decode_model)
    ext.add_decoder("dataset", decode_dataset)
    ext.add_decoder("files", decode_files)


# --- skipped training in notebook cells ------------------------------------------------------------
_in_skipping_cell = False
_saved_fit: list[Any] = []  # [original Model.__dict__ entry or None] while patched


def _skipped_fit(self: Any, *args: Any, **kwargs: Any) -> Any:
    import keras

    print(SKIP_MESSAGE, flush=True)
    history = keras.callbacks.History()
    history.set_model(self)
    history.epoch = []
    history.history = defaultdict(list)  # history.history["accuracy"] is [] so plots still run
    history.params = {"epochs": kwargs.get("epochs", 1), "verbose": 0, "steps": 0}
    return history


def _patch() -> None:
    keras = _keras()
    if keras is None or _saved_fit or not hasattr(keras, "Model"):
        return
    _saved_fit.append(keras.Model.__dict__.get("fit"))
    keras.Model.fit = _skipped_fit


def _unpatch() -> None:
    keras = _keras()
    if not _saved_fit or keras is None:
        _saved_fit.clear()
        return
    original = _saved_fit.pop()
    if original is None:
        del keras.Model.fit
    else:
        keras.Model.fit = original


class _PatchWhenImported(importlib.abc.MetaPathFinder):
    """Patches keras.Model.fit as soon as a cell imports keras for the first time."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "keras" or not _in_skipping_cell:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module: Any) -> None:
            original_exec(module)
            if _in_skipping_cell:
                _patch()

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


_FINDER = _PatchWhenImported()


@contextlib.contextmanager
def around_cell(options: dict[str, Any]) -> Iterator[None]:
    """While a notebook cell runs with ``skip_training``, ``keras.Model.fit`` only prints a note."""
    global _in_skipping_cell
    if not options.get("skip_training"):
        yield
        return
    _in_skipping_cell = True
    if _keras() is None and _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    _patch()
    try:
        yield
    finally:
        _in_skipping_cell = False
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(_FINDER)
        _unpatch()


