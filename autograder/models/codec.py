"""The wire extensions of the trusted side: decoders for what the worker sends (models, datasets) and
encoders for what the grader sends as arguments (specs, live trusted models, batches, folders)."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from autograder.models.spec import MAX_CONFIG_CHARS, Batches, FolderArg, ModelSpec
from autograder.worker import keras_ext, wire

MAX_WEIGHTS = 5_000


def _decode_model(data: Any) -> ModelSpec:
    if not isinstance(data, dict):
        raise wire.WireError("malformed model")
    config_json, weights = data.get("config_json"), data.get("weights")
    names, trainable = data.get("weight_names"), data.get("trainable")
    if not isinstance(config_json, str) or len(config_json) > MAX_CONFIG_CHARS:
        raise wire.WireError("the model's description is missing or over the size cap")
    if not (isinstance(weights, list) and isinstance(names, list) and isinstance(trainable, list)):
        raise wire.WireError("malformed model weights")
    if len(weights) > MAX_WEIGHTS or not len(weights) == len(names) == len(trainable):
        raise wire.WireError("malformed model weights")
    for w in weights:
        if type(w) is not np.ndarray or w.dtype.kind not in "fiub":
            raise wire.WireError("model weights must be numeric arrays")
    settings = data.get("compile")
    if settings is not None and not isinstance(settings, dict):
        raise wire.WireError("malformed compile settings")
    return ModelSpec(
        config_json=config_json,
        weights=list(weights),
        weight_names=[str(n) for n in names],
        trainable=[bool(t) for t in trainable],
        compile=settings,
        built=bool(data.get("built")),
    )


def _decode_dataset(data: Any) -> list[tuple[np.ndarray, ...]]:
    batches = data.get("batches") if isinstance(data, dict) else None
    if not isinstance(batches, list):
        raise wire.WireError("malformed dataset")
    out = []
    for batch in batches:
        if not isinstance(batch, list) or not batch or not all(type(a) is np.ndarray for a in batch):
            raise wire.WireError("malformed dataset batch: expected arrays (x, y)")
        out.append(tuple(batch))
    return out


def _encode_spec(spec: ModelSpec) -> dict[str, Any]:
    return {
        "config_json": spec.config_json,
        "weights": list(spec.weights),
        "weight_names": list(spec.weight_names),
        "trainable": list(spec.trainable),
        "compile": spec.compile,
        "built": spec.built,
    }


def _is_live_model(value: Any) -> bool:
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(value, keras.Model)


def register_trusted(ext: wire.Extensions) -> None:
    """Decoders for what the worker sends; encoders for what the grader sends as arguments."""
    ext.add_decoder("keras_model", _decode_model)
    ext.add_decoder("dataset", _decode_dataset)
    ext.add_encoder("keras_model", lambda v: isinstance(v, ModelSpec), _encode_spec)
    ext.add_encoder("keras_model", _is_live_model, keras_ext.encode_model)
    ext.add_encoder("dataset", lambda v: isinstance(v, Batches), lambda v: {"batches": [list(b) for b in v.batches]})
    ext.add_encoder(
        "files",
        lambda v: isinstance(v, FolderArg),
        lambda v: {"name": v.name, "select": v.select,
                   "files": [[k, np.frombuffer(b, dtype=np.uint8)] for k, b in v.files.items()]},
    )


def trusted_extensions() -> wire.Extensions:
    ext = wire.Extensions()
    register_trusted(ext)
    return ext
