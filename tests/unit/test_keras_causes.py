"""autograder.keras_causes.explain against Keras 3's real messages (Keras 3.15.1, TensorFlow 2.21: each text below
is what that Keras raised for the mistake named; tests/test_mistakes_02_03.py checks, with the real Keras, that it
still raises them), and its promise never to copy the exception's text."""

from __future__ import annotations

import pytest

from autograder.keras_causes import RULES, explain

# mistake -> (exception type, Keras's text, words the cause must contain)
REAL: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "no Flatten, categorical_crossentropy (the grader's fit of 02)": (
        "ValueError",
        "Arguments `target` and `output` must have the same rank (ndim). Received: target.shape=(32, 10), "
        "output.shape=(32, 3, 3, 10)",
        ("A Flatten layer is missing before the Dense layers",)),
    "no Flatten, binary_crossentropy (the grader's fit of 03)": (
        "ValueError",
        "Arguments `target` and `output` must have the same rank (ndim). Received: target.shape=(None, 1), "
        "output.shape=(None, 15, 15, 1)",
        ("A Flatten layer is missing",)),
    "no Flatten, sparse_categorical_crossentropy": (
        "ValueError",
        "Argument `output` must have rank (ndim) `target.ndim - 1`. Received: target.shape=(32,), "
        "output.shape=(32, 13, 13, 10)",
        ("A Flatten layer is missing",)),
    "one-hot labels with sparse_categorical_crossentropy": (
        "ValueError",
        "Argument `output` must have rank (ndim) `target.ndim - 1`. Received: target.shape=(None, 10), "
        "output.shape=(None, 10)",
        ("sparse_categorical_crossentropy", "loss='categorical_crossentropy'")),
    "class numbers with categorical_crossentropy": (
        "ValueError",
        "Arguments `target` and `output` must have the same rank (ndim). Received: target.shape=(None,), "
        "output.shape=(None, 10)",
        ("one-hot", "sparse_categorical_crossentropy")),
    "1 unit for 10 classes": (
        "ValueError",
        "Arguments `target` and `output` must have the same shape. Received: target.shape=(32, 10), "
        "output.shape=(32, 1)",
        ("one unit per class",)),
    "2 softmax units for binary labels": (
        "ValueError",
        "Arguments `target` and `output` must have the same shape. Received: target.shape=(None, 1), "
        "output.shape=(None, 2)",
        ("Dense(1, activation='sigmoid')",)),
    "a label beyond the last layer's units (sparse)": (
        "InvalidArgumentError",
        "Graph execution error:\n\nDetected at node compile_loss/sparse_categorical_crossentropy/...\n\nReceived a "
        "label value of 9 which is outside the valid range of [0, 5).  Label values: 8 5 2 0 9 4 4 0 6 5 3 2 3 7 1 1",
        ("one unit per class",)),
    "network built for 150 x 150, trained on 64 x 64": (
        "ValueError",
        "Exception encountered when calling Sequential.call().\n\n\x1b[1mInput 0 with name 'None' of layer "
        "'dense_2' is incompatible with the layer: expected axis -1 of input shape to have value 6272, but received "
        "input with shape (None, 512)\x1b[0m\n\nArguments received by Sequential.call():\n  • inputs=tf.Tensor("
        "shape=(None, 64, 64, 3), dtype=float32)\n  • training=True\n  • mask=None",
        ("keras.Input(shape=input_shape)",)),
    "images without a channel axis": (
        "ValueError",
        "Input 0 with name 'None' of layer 'conv2d_17' is incompatible with the layer: expected min_ndim=4, found "
        "ndim=3. Full shape received: (None, 28, 28)",
        ("channel axis", "(N, 28, 28, 1)")),
    "too many pooling blocks for the image": (
        "ValueError",
        "Exception encountered when calling MaxPooling2D.call().\n\n\x1b[1mComputed output size would be zero or "
        "negative. Received: `inputs.shape=[None 1 1 32]`, `pool_size=[2 2]`, `strides=(2, 2)`, "
        "`padding=valid`.\x1b[0m",
        ("shrink to nothing",)),
    "RandomRotation(40): degrees": (
        "ValueError",
        "The `factor` argument should be a number (or a list of two numbers) in the range [-1, 1]. Received: "
        "factor=40",
        ("RandomRotation takes a fraction of a full turn, not degrees", "RandomRotation(40 / 360)")),
    "RandomTranslation(20, 20): pixels": (
        "ValueError",
        "The `factor` argument should be a number (or a list of two numbers) in the range [-1.0, 1.0]. Received: "
        "input_number=20",
        ("RandomTranslation takes fractions", "RandomTranslation(height_factor=0.2, width_factor=0.2)")),
    "RandomShear(20): degrees": (
        "ValueError",
        "The `factor` argument should be a number (or a list of two numbers) in the range [0, 1.0]. Received: "
        "input_number=20",
        ("RandomShear takes a shear factor", "math.tan(math.radians(")),
    "RandomZoom((0.8, 1.2)): ImageDataGenerator's scales": (
        "ValueError",
        "The `height_factor` and `width_factor` arguments should be a number (or a list of two numbers) in the "
        "range (-1.0, 1.0]. Received: input_number=1.2",
        ("RandomZoom(0.2, 0.2)",)),
    "a misspelt fill_mode": (
        "NotImplementedError",
        "Unknown `fill_mode` nearst. Expected of one ('reflect', 'wrap', 'constant', 'nearest').",
        ("fill_mode='nearest'",)),
    "save_weights to a .keras file": (
        "ValueError",
        "The filename must end in `.weights.h5`. Received: filepath=roundtrip.keras",
        ("save_weights writes only the weights", "model.save(path)", "keras.models.load_model(path)")),
    "weights loaded into a network load_model built": (
        "ValueError",
        "A total of 6 objects could not be loaded. Example error message for object <Conv2D name=conv2d_1, "
        "built=True>:\n\nThe shape of the target variable and the shape of the target value in "
        "`variable.assign(value)` must match. variable.shape=(3, 3, 3, 32), Received: value.shape=(3, 3, 3, 4). "
        "Target variable: <Variable path=sequential_1/conv2d_1/kernel, shape=(3, 3, 3, 32), dtype=float32, "
        "value=[[[[ 0.04899268 -0.06966232",
        ("Do not build a network in load_model", "keras.models.load_model(path)")),
    "a weights file beside the .keras file": (
        "FileNotFoundError",
        "[Errno 2] Unable to synchronously open file (unable to open file: name = 'given_model/model.weights.h5', "
        "errno = 2, error message = 'No such file or directory', flags = 0, o_flags = 0)",
        ("weights file (.weights.h5)", "keras.models.load_model(path)")),
    "load_model on a weights file": (
        "ValueError", "No model config found in the file at rt.weights.h5.",
        ("only weights", "model.save(path)")),
    "model.save without .keras": (
        "ValueError",
        "Invalid filepath extension for saving. Please add either a `.keras` extension for the native Keras format "
        "(recommended) or a `.h5` extension. Use `model.export(filepath)` if you want to export a SavedModel for use "
        "with TFLite/TFServing/etc. Received: filepath=noext.",
        ("must end in .keras",)),
    "RMSprop(lr=1e-4)": (
        "ValueError", "Argument(s) not recognized: {'lr': 0.0001}",
        ("learning_rate=", "not Keras 2's lr=")),
    "fit_generator": (
        "AttributeError", "'Sequential' object has no attribute 'fit_generator'",
        ("no fit_generator",)),
    "predict_classes": (
        "AttributeError", "'Sequential' object has no attribute 'predict_classes'",
        ("argmax(axis=-1)",)),
    "ImageDataGenerator": (
        "AttributeError", "module 'keras.preprocessing.image' has no attribute 'ImageDataGenerator'",
        ("no ImageDataGenerator", "image_dataset_from_directory")),
    "layers.experimental.preprocessing": (
        "AttributeError", "module 'keras.layers' has no attribute 'experimental'",
        ("directly in keras.layers",)),
    "a misspelt optimizer": (
        "ValueError", "Could not interpret optimizer identifier: rmsprob", ("optimizer name",)),
    "a misspelt loss": (
        "ValueError", "Could not interpret loss identifier: categorical_crossentopy", ("loss name",)),
    "a misspelt metric": (
        "ValueError", "Could not interpret metric identifier: acuracy", ("metric name",)),
    "a misspelt activation": (
        "ValueError", "Could not interpret activation function identifier: softamx", ("activation name",)),
    "Dropout(5)": (
        "ValueError",
        "Invalid value received for argument `rate`. Expected a float value between 0 and 1. Received: rate=5",
        ("between 0 and 1",)),
    "Dense('relu')": (
        "ValueError",
        "Received an invalid value for `units`, expected a positive integer. Received: units=relu",
        ("number of units",)),
}


@pytest.mark.parametrize("mistake", sorted(REAL))
def test_each_real_keras_message_gets_its_cause(mistake: str) -> None:
    type_name, text, words = REAL[mistake]
    cause = explain(type_name, text)
    assert cause, mistake
    for word in words:
        assert word in cause, (mistake, word, cause)
    assert cause.endswith("."), cause


def test_every_rule_is_exercised_by_a_real_message() -> None:
    used = set()
    for type_name, text, _ in REAL.values():
        for i, rule in enumerate(RULES):
            if type_name in rule.types and rule.pattern.search(text.replace("\x1b[1m", "").replace("\x1b[0m", "")):
                used.add(i)
                break
    assert used == set(range(len(RULES))), [RULES[i].pattern.pattern for i in set(range(len(RULES))) - used]


def test_the_shapes_are_quoted_only_when_they_come_from_the_architecture() -> None:
    """The grader's own training (shapes=True) may quote the shapes, the batch axis as None; a student's function
    (the default) never does: its shapes could come from hidden inputs."""
    _, text, _ = REAL["no Flatten, categorical_crossentropy (the grader's fit of 02)"]
    assert "(None, 3, 3, 10)" in explain("ValueError", text, shapes=True)
    assert "(None, 10)" in explain("ValueError", text, shapes=True)
    assert "32" not in explain("ValueError", text, shapes=True)  # the grader's batch size is not the network's
    assert "3, 3" not in explain("ValueError", text)
    units = REAL["1 unit for 10 classes"][1]
    assert "(1 unit for 10 classes)" in explain("ValueError", units, shapes=True)
    assert "1 unit" not in explain("ValueError", units)


def test_the_cause_never_copies_the_exceptions_text() -> None:
    """A student's code can raise any text (a hidden input in it); the cause is the grader's words only."""
    secret = "SECRET_hidden_input_0.123456"
    for type_name, text, _ in REAL.values():
        hostile = f"{text} {secret} factor={secret} filepath={secret}.weights.h5 '{secret}_generator'"
        assert secret not in explain(type_name, hostile)
        assert secret not in explain(type_name, hostile, shapes=True)
    shapes = f"Arguments `target` and `output` must have the same rank (ndim). Received: target.shape=({secret}), " \
             "output.shape=(None, 3, 3, 10)"
    assert secret not in explain("ValueError", shapes, shapes=True)


def test_other_exceptions_and_types_get_no_cause() -> None:
    assert explain("ValueError", "something else entirely") == ""
    assert explain("KeyError", "'conv2d'") == ""
    # the right text under another exception type is not Keras's exception
    assert explain("KeyError", REAL["RandomRotation(40): degrees"][1]) == ""
    # a rank mismatch the rules do not know (a rank-3 target) gets no guess
    assert explain("ValueError", "Arguments `target` and `output` must have the same rank (ndim). Received: "
                                 "target.shape=(None, 5, 2), output.shape=(None, 10)") == ""
    assert explain("ValueError", "x" * 1_000_000) == ""


# --- one structural mistake, one cause sentence (autograder.models.expectations) --------------------------------

def _lecture_02() -> list:
    from autograder import models

    conv = {"kernel_size": (3, 3), "activation": "relu"}
    return [
        models.ExpectedLayer("Conv2D", (None, 26, 26, 32), 320, {"filters": 32, **conv}),
        models.ExpectedLayer("MaxPooling2D", (None, 13, 13, 32), 0, {"pool_size": (2, 2)}),
        models.ExpectedLayer("Conv2D", (None, 11, 11, 64), 18496, {"filters": 64, **conv}),
        models.ExpectedLayer("MaxPooling2D", (None, 5, 5, 64), 0, {"pool_size": (2, 2)}),
        models.ExpectedLayer("Conv2D", (None, 3, 3, 64), 36928, {"filters": 64, **conv}),
        models.ExpectedLayer("Flatten", (None, 576), 0),
        models.ExpectedLayer("Dense", (None, 64), 36928, {"units": 64, "activation": "relu"}),
        models.ExpectedLayer("Dense", (None, 10), 650, {"units": 10, "activation": "softmax"}),
    ]


def _info(layers: list[tuple[str, tuple, int, dict]]) -> dict:
    """models.summary's plain data for a network of (class, output shape, params, settings) layers."""
    return {"input_shape": (None, 28, 28, 1), "total_params": sum(p for _, _, p, _ in layers),
            "layers": [{"class_name": c, "output_shape": s, "params": p, "config": dict(cfg)}
                       for c, s, p, cfg in layers]}


def _as_lecture(**changes: tuple) -> list[tuple[str, tuple, int, dict]]:
    """The lecture's 02 network as summary rows, with rows replaced (index -> row) or removed (index -> ())."""
    rows = [(e.class_name, e.output_shape, e.params, dict(e.config)) for e in _lecture_02()]
    for key, row in sorted(changes.items(), reverse=True):
        i = int(key.removeprefix("at"))
        if row:
            rows[i] = row
        else:
            del rows[i]
    return rows


def _failures(info: dict) -> dict[str, str]:
    from autograder import models

    expected = _lecture_02()
    checks = {
        "types": (models.layer_type_problems(info, expected), ("types",), "the layer types, in order"),
        "shapes": (models.output_shape_problems(info, expected, (None, 28, 28, 1)), ("shapes",), "the output shapes"),
        "params": (models.param_count_problems(info, expected), ("parameters",), "the parameter counts"),
        "settings": (models.layer_setting_problems(info, expected), ("settings",), "the layers' settings"),
    }
    out = {}
    for name, (problems, compares, check) in checks.items():
        message = models.structure_failure(info, expected, problems, compares=compares, check=check)
        if message:
            out[name] = message
    return out


def _cause(message: str) -> str:
    cause, sep, _ = message.partition(" Case: ")
    return cause if sep else ""


def test_a_third_convolution_with_32_filters_is_one_cause_in_three_tests() -> None:
    conv = {"kernel_size": (3, 3), "activation": "relu"}
    info = _info(_as_lecture(at4=("Conv2D", (None, 3, 3, 32), 18464, {"filters": 32, **conv}),
                             at5=("Flatten", (None, 288), 0, {}),
                             at6=("Dense", (None, 64), 18496, {"units": 64, "activation": "relu"})))
    failures = _failures(info)
    assert set(failures) == {"shapes", "params", "settings"}, failures
    assert {_cause(m) for m in failures.values()} == {"Conv2D number 3 has filters=32; it should be 64."}
    assert failures["shapes"].endswith("Case: the output shapes: layer 5 (Conv2D) outputs (None, 3, 3, 32); layer 5 "
                                       "of the lecture's network (Conv2D) outputs (None, 3, 3, 64).")
    assert failures["settings"] == "Conv2D number 3 has filters=32; it should be 64. Case: the layers' settings."


def test_a_missing_flatten_is_one_cause_in_three_tests() -> None:
    info = _info(_as_lecture(at5=(), at6=("Dense", (None, 3, 3, 64), 4160, {"units": 64, "activation": "relu"}),
                             at7=("Dense", (None, 3, 3, 10), 650, {"units": 10, "activation": "softmax"})))
    failures = _failures(info)
    assert set(failures) == {"types", "shapes", "params"}, failures
    [cause] = {_cause(m) for m in failures.values()}
    assert cause.startswith("Your layers are Conv2D, MaxPooling2D, Conv2D, MaxPooling2D, Conv2D, Dense, Dense;")
    assert cause.endswith("missing Flatten after layer 5 (Conv2D).")


def test_two_mistakes_are_two_causes() -> None:
    """Conv2D 1 with 16 filters and Dense 1 with 1 unit: the shapes and parameter counts follow from the first
    (merged with it); the settings test, which sees both, is charged on its own (no shared cause)."""
    conv = {"kernel_size": (3, 3), "activation": "relu"}
    info = _info(_as_lecture(at0=("Conv2D", (None, 26, 26, 16), 160, {"filters": 16, **conv}),
                             at1=("MaxPooling2D", (None, 13, 13, 16), 0, {"pool_size": (2, 2)}),
                             at2=("Conv2D", (None, 11, 11, 64), 9280, {"filters": 64, **conv}),
                             at6=("Dense", (None, 1), 577, {"units": 1, "activation": "relu"}),
                             at7=("Dense", (None, 10), 20, {"units": 10, "activation": "softmax"})))
    failures = _failures(info)
    root = "Conv2D number 1 has filters=16; it should be 32."
    assert _cause(failures["shapes"]) == _cause(failures["params"]) == root
    assert _cause(failures["settings"]) == ""
    assert failures["settings"] == f"{root} Dense number 1 has units=1; it should be 64."


def test_no_activation_is_worded_as_keras_default() -> None:
    from autograder import models

    info = _info(_as_lecture(at7=("Dense", (None, 10), 650, {"units": 10, "activation": "linear"})))
    assert _failures(info) == {"settings": "Dense number 2 has no activation (Keras's default, 'linear'); it should "
                                           "be 'softmax'. Case: the layers' settings."}
    assert models.likely_cause(info, _lecture_02(), [], unchecked="x") == (
        "A likely cause: Dense number 2 has no activation (Keras's default, 'linear'); it should be 'softmax'.")


def test_a_structure_check_without_problems_passes_and_compares_are_checked() -> None:
    from autograder import models

    info = _info(_as_lecture())
    assert _failures(info) == {}
    with pytest.raises(ValueError, match="compares"):
        models.structure_failure(info, _lecture_02(), ["x"], compares=("shape",), check="x")
