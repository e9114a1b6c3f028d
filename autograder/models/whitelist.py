"""The whitelist: a model's description is walked before Keras sees it, and anything but built-in layers,
models, initializers, optimizers, losses and metrics is refused with a sentence saying why."""

from __future__ import annotations

from typing import Any

from autograder.models.spec import ArchitectureError, ModelSpec

MAX_PARAMS = 50_000_000

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
