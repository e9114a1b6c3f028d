"""Rebuilding a live keras.Model from a checked :class:`~autograder.models.spec.ModelSpec`, and describing it
as plain data (:func:`summary`). Keras is imported lazily."""

from __future__ import annotations

from typing import Any

from autograder.models.spec import ArchitectureError, ModelSpec
from autograder.models.whitelist import check_architecture, check_compile
from autograder.worker import keras_ext


def rebuild(spec: ModelSpec, *, weights: bool = True, compile: bool = False) -> Any:
    """A live keras.Model from a spec, only after :func:`check_architecture` (and :func:`check_compile`)."""
    check_architecture(spec)
    settings = check_compile(spec) if compile else None
    import keras

    config = keras_ext.fix_known_config_bugs(spec.config)
    config.pop("compile_config", None)
    try:
        model = keras.saving.deserialize_keras_object(config, safe_mode=True)
    except Exception as exc:
        raise ArchitectureError(f"Keras cannot rebuild the model ({type(exc).__name__}: {str(exc)[:300]})") from None
    _restore_trainable(model, spec.config)  # afresh: deserialising empties the dicts it is given
    if weights and spec.weights:
        shapes = [tuple(w.shape) for w in model.weights]
        if shapes != [tuple(w.shape) for w in spec.weights]:
            raise ArchitectureError("the model's weights do not fit its architecture")
        model.set_weights(spec.weights)
    if settings is not None:
        opt = settings["optimizer"]
        optimizer = keras.optimizers.deserialize(
            {"module": "keras.optimizers", "class_name": opt["class_name"], "config": opt.get("config") or {},
             "registered_name": None}
        )
        model.compile(optimizer=optimizer, loss=settings.get("loss"), metrics=settings.get("metrics") or None)
    return model


def _restore_trainable(model: Any, config: dict[str, Any]) -> None:
    """Give the rebuilt model (and every nested model) the ``trainable`` flag of its config.

    Keras's ``Sequential.from_config`` drops a Sequential's own ``trainable=False`` (its layers keep
    theirs; functional models keep it). The flag is set without the ``trainable`` setter, which would
    also overwrite the flags of the layers inside, so layers re-enabled after freezing stay as they were.
    """
    inner = config.get("config")
    if not isinstance(inner, dict):
        return
    if inner.get("trainable") is False and model.trainable and hasattr(model, "_trainable"):
        model._trainable = False
    for layer_config in inner.get("layers") or []:
        nested = layer_config.get("config") if isinstance(layer_config, dict) else None
        if not (isinstance(nested, dict) and "layers" in nested and isinstance(nested.get("name"), str)):
            continue
        try:
            layer = model.get_layer(nested["name"])
        except ValueError:
            continue
        _restore_trainable(layer, layer_config)


_SKIPPED_CONFIG = ("dtype", "trainable", "name")


def _layer_config(layer: Any) -> dict[str, Any]:
    config = layer.get_config()
    return {
        k: keras_ext._plain(v) for k, v in config.items()
        if k not in _SKIPPED_CONFIG and not k.endswith(("_initializer", "_regularizer", "_constraint"))
        and k != "quantization_config" and k != "layers"
    }


def _describe_layers(model: Any) -> list[dict[str, Any]]:
    import keras

    layers = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            shape: tuple[int | None, ...] | None = tuple(layer.output.shape)
        except (AttributeError, ValueError):
            shape = None
        entry: dict[str, Any] = {
            "name": layer.name,
            "class_name": type(layer).__name__,
            "output_shape": shape,
            "params": int(layer.count_params()) if layer.built else 0,
            "trainable": bool(layer.trainable),
            "config": _layer_config(layer) if not isinstance(layer, keras.Model) else {},
        }
        if isinstance(layer, keras.Model):
            entry["layers"] = _describe_layers(layer)
        layers.append(entry)
    return layers


def summary(spec: ModelSpec) -> dict[str, Any]:
    """What ``model.summary()`` shows, as plain data: layer types, output shapes, params, trainable flags."""
    model = rebuild(spec, weights=False)
    # Keras's rule (Layer.trainable_weights, what fit() updates): nothing when the model's own `trainable`
    # is False; otherwise every weight whose variable is trainable. Freezing a nested model marks its
    # variables non-trainable, and a layer re-enabled inside a frozen nested model is trained.
    trainable = sum(int(w.size) for w, t in zip(spec.weights, spec.trainable, strict=True) if t) \
        if model.trainable else 0
    try:
        input_shape: tuple[int | None, ...] | None = tuple(model.inputs[0].shape) if model.built else None
    except (AttributeError, IndexError, TypeError, ValueError):
        input_shape = None
    return {
        "model": spec.config.get("class_name"),
        "input_shape": input_shape,
        "layers": _describe_layers(model),
        "total_params": spec.param_count,
        "trainable_params": trainable,
        "non_trainable_params": spec.param_count - trainable,
        "compile": spec.compile,
        "built": spec.built,
    }
