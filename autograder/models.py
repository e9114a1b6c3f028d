"""Keras models on the trusted side: plain data in, whitelisted rebuilds out.

A student's model reaches the grader only as a :class:`ModelSpec`: the architecture as Keras JSON,
the weight arrays and the compile settings (encoded in the worker by
:mod:`autograder.worker.keras_ext`). No model file written by the worker is ever loaded here and
nothing is unpickled. Before Keras sees the JSON, :func:`check_architecture` walks it and refuses
anything but built-in layers (no ``Lambda``, no custom classes, no unknown keys); only then does
:func:`rebuild` deserialise it, with ``safe_mode=True``.

Values the grader may send into the student's functions: a :class:`ModelSpec` or a live (trusted)
Keras model, a :class:`Batches` (arrives as a ``tf.data.Dataset``) and a :class:`FolderArg` (a folder
of files written into the job directory; the function receives its relative path).

Keras is imported lazily: grading an assignment without models never loads it.
"""

from __future__ import annotations

import difflib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autograder.worker import keras_ext, wire

MAX_CONFIG_CHARS = 4_000_000
MAX_WEIGHTS = 5_000
MAX_PARAMS = 50_000_000


class ArchitectureError(Exception):
    """The model's description is refused (not built-in, malformed, too large); the message says why."""


@dataclass
class ModelSpec:
    """A Keras model as the worker described it: plain data, not a live model."""

    config_json: str
    weights: list[np.ndarray] = field(default_factory=list)
    weight_names: list[str] = field(default_factory=list)
    trainable: list[bool] = field(default_factory=list)
    compile: dict[str, Any] | None = None
    built: bool = False

    @property
    def config(self) -> dict[str, Any]:
        if len(self.config_json) > MAX_CONFIG_CHARS:
            raise ArchitectureError(f"the model's description is over {MAX_CONFIG_CHARS} characters")
        try:
            value = json.loads(self.config_json)
        except ValueError:
            raise ArchitectureError("the model's description is not valid JSON") from None
        if not isinstance(value, dict):
            raise ArchitectureError("the model's description is not a JSON object")
        return value

    @property
    def param_count(self) -> int:
        return int(sum(w.size for w in self.weights))


@dataclass
class Batches:
    """A dataset to send as an argument: the worker receives a tf.data.Dataset of these batches."""

    batches: list[tuple[np.ndarray, ...]]


@dataclass
class FolderArg:
    """A folder of files to send as an argument: written under ``name/`` in the job directory."""

    name: str
    files: dict[str, bytes]
    select: str | None = None  # the function receives "name/select" (one file of the folder) instead of "name"

    def __post_init__(self) -> None:
        if self.select is not None and self.select not in self.files:
            raise ValueError(f"{self.select!r}: select names one of the files")
        for path in [self.name, *self.files]:
            parts = Path(path).parts
            if not parts or Path(path).is_absolute() or ".." in parts or path.startswith("."):
                raise ValueError(f"{path!r}: names must be relative paths inside the folder")
        if len(Path(self.name).parts) != 1:
            raise ValueError(f"{self.name!r}: the folder name must be one plain name inside the folder")

    @classmethod
    def from_path(cls, folder: Path, name: str | None = None) -> FolderArg:
        folder = Path(folder)
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        return cls(name or folder.name, files)


# --- wire: decoders and encoders ------------------------------------------------------------------
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


# --- the whitelist --------------------------------------------------------------------------------
LAYERS = frozenset({
    "InputLayer", "Conv1D", "Conv2D", "SeparableConv2D", "DepthwiseConv2D", "Conv2DTranspose",
    "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
    "Flatten", "Reshape", "Dense", "Dropout", "SpatialDropout2D", "GaussianNoise",
    "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "BatchNormalization", "LayerNormalization",
    "ZeroPadding2D", "Cropping2D", "Add", "Concatenate", "Multiply", "Average",
    "Rescaling", "Resizing", "CenterCrop",
    "RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom", "RandomShear", "RandomCrop",
    "RandomContrast", "RandomBrightness", "RandomHue", "RandomSaturation", "RandomGrayscale", "RandomSharpness",
    "RandomColorJitter", "RandomColorDegeneration", "RandomErasing", "RandomGaussianBlur", "RandomInvert",
    "RandomPerspective", "RandomPosterization", "RandomElasticTransform",
})
MODELS = frozenset({"Sequential", "Functional"})
MODEL_MODULES = frozenset({"keras", "keras.models", "keras.src.models.functional", "keras.src.models.sequential"})
OBJECTS: dict[str, frozenset[str]] = {
    "keras.layers": LAYERS,
    "keras.initializers": frozenset({
        "Zeros", "Ones", "Constant", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform",
        "LecunNormal", "RandomNormal", "RandomUniform", "TruncatedNormal", "Orthogonal", "OrthogonalInitializer",
        "Identity", "IdentityInitializer", "VarianceScaling",
    }),
    "keras.regularizers": frozenset({"L1", "L2", "L1L2", "OrthogonalRegularizer"}),
    "keras.constraints": frozenset({"MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm"}),
    "keras.dtype_policies": frozenset({"DTypePolicy", "FloatDTypePolicy"}),
    "keras.optimizers": frozenset({
        "SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl", "Lion",
    }),
    "keras.optimizers.schedules": frozenset({
        "ExponentialDecay", "PiecewiseConstantDecay", "PolynomialDecay", "InverseTimeDecay", "CosineDecay",
        "CosineDecayRestarts",
    }),
}
KERAS_OBJECTS = frozenset({"DTypePolicy", "FloatDTypePolicy"})  # module "keras"
PSEUDO_OBJECTS = frozenset({"__keras_tensor__", "__tuple__"})  # Keras's own markers, no code
OBJECT_KEYS = frozenset({
    "module", "class_name", "config", "registered_name", "build_config", "compile_config", "name",
    "inbound_nodes", "shared_object_id",
})
ACTIVATIONS = frozenset({
    "relu", "sigmoid", "softmax", "tanh", "linear", "elu", "selu", "softplus", "softsign", "swish", "silu",
    "gelu", "exponential", "hard_sigmoid", "leaky_relu", "relu6", "mish", "log_softmax", "hard_silu",
    "hard_swish", "celu", "glu", "log_sigmoid",
})
LOSSES = frozenset({
    "categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy", "mean_squared_error",
    "mse", "mean_absolute_error", "mae", "hinge", "squared_hinge", "categorical_hinge", "kl_divergence",
    "poisson", "huber", "log_cosh", "binary_focal_crossentropy", "categorical_focal_crossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "BinaryCrossentropy", "MeanSquaredError",
    "MeanAbsoluteError", "Hinge", "SquaredHinge", "CategoricalHinge", "KLDivergence", "Poisson", "Huber",
})
METRICS = frozenset({
    "accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "mse", "mae", "mean_squared_error",
    "mean_absolute_error", "AUC", "auc", "Precision", "Recall", "BinaryAccuracy", "CategoricalAccuracy",
    "SparseCategoricalAccuracy", "Accuracy", "precision", "recall",
})


def _describe(node: dict[str, Any]) -> str:
    cls = node.get("class_name")
    config = node.get("config")
    name = config.get("name") if isinstance(config, dict) else None
    return f"{cls} {name!r}" if isinstance(name, str) else str(cls)


def _check_object(node: dict[str, Any], where: str) -> None:
    cls, module, registered = node.get("class_name"), node.get("module"), node.get("registered_name")
    what = _describe(node) + (f" (in {where})" if where else "")
    if cls == "Lambda":
        raise ArchitectureError(
            f"{what} is a Lambda layer. The grader accepts only built-in Keras layers: a Lambda layer runs "
            "arbitrary Python code. Use a built-in layer (e.g. Rescaling, Activation, Resizing) instead."
        )
    if not isinstance(cls, str):
        raise ArchitectureError(f"an object without a class name in {where or 'the model'}")
    unknown = sorted(set(node) - OBJECT_KEYS)
    if unknown:
        raise ArchitectureError(f"{what} has unknown key(s) {unknown} in its description")
    if cls in PSEUDO_OBJECTS:
        if module is not None or registered is not None:
            raise ArchitectureError(f"{what} is not a plain Keras marker")
        return
    if cls in MODELS and module in MODEL_MODULES and registered in (None, cls):
        return
    if module == "keras" and cls in KERAS_OBJECTS and registered is None:
        return
    allowed = OBJECTS.get(module) if isinstance(module, str) else None
    if allowed is not None and cls in allowed and registered is None:
        return
    if registered is not None or module is None or not str(module).startswith("keras"):
        raise ArchitectureError(
            f"{what} is a custom class (module {module!r}, registered as {registered!r}). The grader accepts "
            "only built-in Keras layers; build the model from keras.layers with keras.Sequential or the "
            "functional API."
        )
    raise ArchitectureError(
        f"{what} ({module}.{cls}) is not among the built-in Keras classes the grader accepts. Allowed layers: "
        + ", ".join(sorted(LAYERS))
    )


def _walk(node: Any, where: str, depth: int = 0) -> None:
    """Check every serialised object under ``node``; ``where`` names the enclosing layer ("" at the top)."""
    if depth > 60:
        raise ArchitectureError("the model's description is nested too deeply")
    if isinstance(node, list):
        for item in node:
            _walk(item, where, depth + 1)
        return
    if not isinstance(node, dict):
        return
    if {"class_name", "module", "registered_name"} & node.keys():
        _check_object(node, where)
        if node.get("module") == "keras.layers" or (node.get("class_name") in MODELS and depth > 0):
            where = f"layer {_describe(node)}"
    for key, value in node.items():
        if key == "activation" and isinstance(value, str) and value not in ACTIVATIONS:
            raise ArchitectureError(f"{where or 'the model'}: activation {value!r} is not a built-in Keras activation")
        if key == "activation" and isinstance(value, dict):
            raise ArchitectureError(
                f"{where or 'the model'}: the activation is a Python function object; name a built-in activation "
                "as a string, e.g. activation='relu'"
            )
        _walk(value, where, depth + 1)


def check_architecture(spec: ModelSpec) -> None:
    """Refuse anything but built-in Keras layers and models; raise :class:`ArchitectureError` saying why."""
    config = spec.config
    if config.get("class_name") not in MODELS:
        raise ArchitectureError(
            f"the model is a {config.get('class_name')!r}; the grader accepts keras.Sequential or a functional "
            "keras.Model built from built-in layers (not a subclass of keras.Model)"
        )
    _walk(config, "")
    if spec.param_count > MAX_PARAMS:
        raise ArchitectureError(f"the model has {spec.param_count:,} parameters, over the grader's limit")


def check_compile(spec: ModelSpec) -> dict[str, Any]:
    """The compile settings, checked against built-in optimizers, losses and metrics."""
    settings = spec.compile
    if not settings:
        raise ArchitectureError("the model is not compiled: call model.compile(optimizer=..., loss=..., metrics=...)")
    opt = settings.get("optimizer")
    if not isinstance(opt, dict) or opt.get("class_name") not in OBJECTS["keras.optimizers"]:
        raise ArchitectureError(f"the optimizer {opt!r:.80} is not a built-in Keras optimizer")
    _walk(opt.get("config") or {}, "the optimizer")
    losses = settings.get("loss")
    for loss in losses if isinstance(losses, list) else [losses]:
        if loss not in LOSSES:
            raise ArchitectureError(f"the loss {loss!r:.80} is not a built-in Keras loss named by a string")
    metrics = settings.get("metrics") or []
    if not isinstance(metrics, list) or not all(isinstance(m, str) and m in METRICS for m in metrics):
        raise ArchitectureError(f"the metrics {metrics!r:.80} are not built-in Keras metrics named by strings")
    return settings


# --- rebuilding and describing --------------------------------------------------------------------
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


def layer_differences(actual: list[str], expected: list[str]) -> list[str]:
    """Human sentences for how a list of layer types differs from the expected one (empty when equal)."""
    out = []
    matcher = difflib.SequenceMatcher(a=expected, b=actual, autojunk=False)
    for op, e1, e2, a1, a2 in matcher.get_opcodes():
        after = f" after layer {a1} ({actual[a1 - 1]})" if a1 > 0 else " at the start"
        if op == "delete":
            out.append(f"missing {', '.join(expected[e1:e2])}{after}")
        elif op == "insert":
            out.append(f"unexpected {', '.join(actual[a1:a2])}{after}")
        elif op == "replace":
            out.append(f"{', '.join(actual[a1:a2])} where the lecture has {', '.join(expected[e1:e2])}{after}")
    return out


# --- training a rebuilt model ---------------------------------------------------------------------
@dataclass
class TrainingResult:
    accuracy: float
    seconds: float
    epochs_run: int
    stopped_early: bool = False


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
    measure accuracy on ``test``. Labels are class indices; they are one-hot encoded when the loss needs it."""
    import keras

    keras.utils.set_random_seed(seed)
    model = rebuild(spec, weights=False, compile=True)
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
    )


# --- structure checks for hidden tests (they return sentences; an empty list means "as expected") ----
@dataclass(frozen=True)
class ExpectedLayer:
    """One layer of a reference architecture, as :func:`summary` describes it."""

    class_name: str
    output_shape: tuple[int | None, ...]
    params: int
    config: dict[str, Any] = field(default_factory=dict)  # settings that must match, e.g. {"filters": 32}


def _types(info: dict[str, Any]) -> list[str]:
    return [str(layer["class_name"]) for layer in info["layers"]]


def layer_type_problems(info: dict[str, Any], expected: list[ExpectedLayer], reference: str = "the lecture's") -> \
        list[str]:
    actual, wanted = _types(info), [e.class_name for e in expected]
    differences = layer_differences(actual, wanted)
    if not differences:
        return []
    return [f"Your layers are {', '.join(actual) or '(none)'}; {reference} are {', '.join(wanted)}: "
            + "; ".join(differences) + "."]


def output_shape_problems(info: dict[str, Any], expected: list[ExpectedLayer], input_shape: tuple[int | None, ...],
                          reference: str = "the lecture's") -> list[str]:
    if info["input_shape"] != input_shape:
        return [f"Your network's input shape is {info['input_shape']}; it should be {input_shape}."]
    layers = info["layers"]
    for i, (layer, want) in enumerate(zip(layers, expected, strict=False), start=1):
        if layer["output_shape"] != want.output_shape:
            return [f"Layer {i} ({layer['class_name']}) outputs {layer['output_shape']}; layer {i} of {reference} "
                    f"network ({want.class_name}) outputs {want.output_shape}."]
    if len(layers) != len(expected):
        return [f"Your network has {len(layers)} layers, {reference} has {len(expected)}; its last output shape is "
                f"{expected[-1].output_shape}."]
    return []


def param_count_problems(info: dict[str, Any], expected: list[ExpectedLayer], reference: str = "the lecture's") -> \
        list[str]:
    total = sum(e.params for e in expected)
    if info["total_params"] == total and [layer["params"] for layer in info["layers"]] == [e.params for e in expected]:
        return []
    message = f"Your network has {info['total_params']:,} parameters; {reference} has {total:,}."
    for i, (layer, want) in enumerate(zip(info["layers"], expected, strict=False), start=1):
        if layer["params"] != want.params:
            message += f" The first difference is layer {i} ({layer['class_name']}: {layer['params']:,}, " \
                       f"expected {want.class_name}: {want.params:,})."
            break
    return [message]


def _same(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, float) and isinstance(value, (int, float)):
        return abs(value - wanted) <= 1e-6 * max(1.0, abs(wanted))
    if isinstance(wanted, tuple):
        return isinstance(value, (list, tuple)) and len(value) == len(wanted) and all(
            _same(v, w) for v, w in zip(value, wanted, strict=True))
    return bool(value == wanted)


def layer_setting_problems(info: dict[str, Any], expected: list[ExpectedLayer]) -> list[str]:
    """Compare the settings of the k-th layer of each type with the k-th expected one of that type (so one
    missing layer does not make every later setting look wrong)."""
    problems = []
    seen: dict[str, int] = {}
    mine: dict[str, list[dict[str, Any]]] = {}
    for layer in info["layers"]:
        mine.setdefault(layer["class_name"], []).append(layer)
    for want in expected:
        k = seen.get(want.class_name, 0)
        seen[want.class_name] = k + 1
        candidates = mine.get(want.class_name, [])
        if k >= len(candidates) or not want.config:
            continue
        layer = candidates[k]
        for key, value in want.config.items():
            got = layer["config"].get(key)
            if not _same(got, value):
                problems.append(f"{want.class_name} number {k + 1} has {key}={got!r}; it should be {value!r}.")
    return problems


def _norm(name: Any) -> str:
    text = str(name).replace("_", "").lower()
    return {"acc": "accuracy"}.get(text, text)


def compile_problems(settings: dict[str, Any] | None, *, optimizer: str, loss: str, metrics: list[str],
                     learning_rate: float | None = None) -> list[str]:
    """How the compile settings differ from the expected optimizer (class name), loss and metrics."""
    if not settings:
        return ["The model is not compiled: call model.compile(optimizer=..., loss=..., metrics=[...]) before "
                "returning it."]
    problems = []
    opt = settings.get("optimizer") if isinstance(settings.get("optimizer"), dict) else {}
    assert isinstance(opt, dict)
    if _norm(opt.get("class_name")) != _norm(optimizer):
        problems.append(f"The optimizer is {opt.get('class_name')}; it should be {optimizer}.")
    elif learning_rate is not None:
        rate = (opt.get("config") or {}).get("learning_rate")
        if not isinstance(rate, (int, float)) or abs(rate - learning_rate) > 1e-3 * learning_rate:
            problems.append(f"The learning rate is {rate!r}; it should be {learning_rate:g}.")
    if _norm(settings.get("loss")) != _norm(loss):
        problems.append(f"The loss is {settings.get('loss')!r}; it should be {loss!r}.")
    got = [_norm(m) for m in settings.get("metrics") or []]
    if got != [_norm(m) for m in metrics]:
        hint = ""
        if [_norm(m) for m in settings.get("loss_weights") or []] == [_norm(m) for m in metrics]:
            hint = (" Your metrics ended up as loss_weights: in Keras 3 the third positional argument of compile() "
                    "is loss_weights, so pass metrics=[...] by keyword.")
        problems.append(f"The metrics are {settings.get('metrics')!r}; they should be {metrics!r}.{hint}")
    return problems


def graded_training(spec: ModelSpec, recipe: Any) -> TrainingResult:
    """Train ``spec``'s architecture with a course training recipe (config.TrainingRecipe) on its data."""
    from autograder import datasets

    train, test = datasets.recipe_data(recipe.dataset, recipe.train_samples, recipe.test_samples, recipe.seed,
                                       recipe.image_size)
    return train_and_evaluate(spec, train, test, epochs=recipe.epochs, batch_size=recipe.batch_size,
                              seed=recipe.seed, time_limit_s=recipe.time_limit_s)
