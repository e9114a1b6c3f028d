"""The student's likely cause of an exception raised inside Keras or TensorFlow, in the grader's own words.

:func:`explain` reads the exception's type name and text (the student's function raised it, or the grader's
own training of the student's network did) and returns a sentence naming the mistake, most of them the Keras 2
lecture's code carried over to Keras 3: ``RandomRotation(40)`` for ImageDataGenerator's ``rotation_range=40``,
``save_weights`` where the whole model belongs in a .keras file, Dense layers on images without ``Flatten``.

The sentence is the grader's: it never copies the exception's text, which the student's code may have written
(and which may carry a hidden input). The one exception is ``shapes=True``, for the grader's own training of a
network built on public input shapes: the tensor shapes in Keras's message then come from the architecture, and
the sentence may quote them (the batch axis written ``None``). Pure: no Keras import, no state.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# Keras wraps some messages in terminal colour codes (\x1b[1m ... \x1b[0m)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_SHAPE = r"\(([^()]*)\)"
_TARGET_OUTPUT = re.compile(r"target\.shape=" + _SHAPE + r", output\.shape=" + _SHAPE)

SAVE_WHOLE_MODEL = ("save the whole model (architecture, weights and compile settings) to the .keras file with "
                    "model.save(path), and load it with keras.models.load_model(path)")


def _dims(text: str) -> list[int | None] | None:
    """``"None, 3, 3, 10"`` -> [None, 3, 3, 10]; None if it is not a shape."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    out: list[int | None] = []
    for p in parts:
        if p == "None":
            out.append(None)
        elif p.isdigit() and len(p) <= 9:
            out.append(int(p))
        else:
            return None
    return out


def _shape_text(dims: list[int | None]) -> str:
    """A shape as Keras prints it, with the batch axis as None (the grader's batch size is not the network's)."""
    shown = ["None", *(str(d) for d in dims[1:])]
    return f"({shown[0]},)" if len(shown) == 1 else "(" + ", ".join(shown) + ")"


def _target_output(text: str) -> tuple[list[int | None], list[int | None]] | None:
    match = _TARGET_OUTPUT.search(text)
    if not match:
        return None
    target, output = _dims(match[1]), _dims(match[2])
    if target is None or output is None or not target or not output:
        return None
    return target, output


def _flatten_missing(target: list[int | None], output: list[int | None], shapes: bool) -> str:
    quoted = (f" (its output has shape {_shape_text(output)}, the labels {_shape_text(target)})"
              if shapes else "")
    return ("A Flatten layer is missing before the Dense layers: your network's output still has the image's "
            f"height and width axes{quoted}, because a Dense layer on images works on each pixel's channels "
            "separately; put layers.Flatten() between the last convolution or pooling layer and the first Dense "
            "layer, as in the lecture.")


def _same_rank(text: str, shapes: bool) -> str:
    """``Arguments `target` and `output` must have the same rank (ndim)``: the labels and the network's output."""
    found = _target_output(text)
    if found is None:
        return ""
    target, output = found
    if len(output) > len(target) and len(output) >= 3:
        return _flatten_missing(target, output, shapes)
    if len(target) == 1 and len(output) == 2:
        return ("The labels are class numbers (one per image) but the loss, categorical_crossentropy, needs one-hot "
                "labels: one-hot encode them (keras.utils.to_categorical) or compile with "
                "loss='sparse_categorical_crossentropy'.")
    return ""


def _sparse_rank(text: str, shapes: bool) -> str:
    """``Argument `output` must have rank (ndim) `target.ndim - 1```: sparse_categorical_crossentropy's labels."""
    found = _target_output(text)
    if found is None:
        return ""
    target, output = found
    if len(output) >= 3 and len(output) > len(target) + 1:
        return _flatten_missing(target, output, shapes)
    if len(target) == len(output) == 2:
        return ("The labels are one-hot (a row of 0s and a 1 per image) but the loss, "
                "sparse_categorical_crossentropy, needs class numbers: compile with "
                "loss='categorical_crossentropy' for one-hot labels.")
    return ""


def _same_shape(text: str, shapes: bool) -> str:
    """``Arguments `target` and `output` must have the same shape``: the last layer's units and the classes."""
    found = _target_output(text)
    if found is None:
        return ""
    target, output = found
    if len(target) != 2 or len(output) != 2 or target[1] is None or output[1] is None:
        return ""
    classes, units = target[1], output[1]
    if classes == 1:
        return ("Your network's last layer has more than one unit, but the labels are binary (one number per "
                "image, 0 or 1): end with layers.Dense(1, activation='sigmoid') for loss='binary_crossentropy'"
                + (f" (its output has shape {_shape_text(output)})." if shapes else "."))
    detail = f" ({units} unit{'' if units == 1 else 's'} for {classes} classes)" if shapes else ""
    return ("Your network's last Dense layer has not one unit per class" + detail + ": the output layer needs "
            "as many units as there are classes, with activation='softmax' (layers.Dense(10, "
            "activation='softmax') for the 10 digits).")


def _dense_input(text: str, shapes: bool) -> str:
    """A Dense layer given inputs of another size than it was built for: the network's input shape."""
    return ("Your network was built for another image size than the images it was given: a Dense layer after "
            "Flatten expects as many values as its input shape gives, so build the network for the input shape "
            "it is asked for (keras.Input(shape=input_shape) with the function's argument), not for a fixed size.")


def _no_channel_axis(text: str, shapes: bool) -> str:
    return ("A Conv2D layer was given images without a channel axis: it needs (batch, height, width, channels), "
            "so give grey images their channel axis (x[..., np.newaxis]: (N, 28, 28) becomes (N, 28, 28, 1)) and "
            "the network keras.Input(shape=(28, 28, 1)).")


def _too_small(text: str, shapes: bool) -> str:
    return ("The images shrink to nothing inside your network: a pooling or convolution layer gets a smaller "
            "input than its window, so there are more Conv2D / MaxPooling2D blocks (or larger windows) than the "
            "image size allows; compare your layers with the lecture's.")


def _rotation(text: str, shapes: bool) -> str:
    return ("Keras 3's RandomRotation takes a fraction of a full turn, not degrees: ImageDataGenerator's "
            "rotation_range=40 (degrees) is RandomRotation(40 / 360); divide rotation_range by 360.")


def _translation(text: str, shapes: bool) -> str:
    return ("Keras 3's RandomTranslation takes fractions of the image's height and width (between -1 and 1), "
            "as ImageDataGenerator's height_shift_range and width_shift_range did: height_shift_range=0.2 and "
            "width_shift_range=0.2 are RandomTranslation(height_factor=0.2, width_factor=0.2), in that order.")


def _shear(text: str, shapes: bool) -> str:
    return ("Keras 3's RandomShear takes a shear factor between 0 and 1, not degrees: ImageDataGenerator's "
            "shear_range is an angle in degrees, which is RandomShear(x_factor=math.tan(math.radians("
            "shear_range))).")


def _zoom(text: str, shapes: bool) -> str:
    return ("Keras 3's RandomZoom takes how much to zoom in or out (between -1 and 1), not the scales: "
            "ImageDataGenerator's zoom_range=0.2 (scales 0.8 to 1.2) is RandomZoom(0.2, 0.2), not "
            "RandomZoom((0.8, 1.2)).")


def _fill_mode(text: str, shapes: bool) -> str:
    return ("fill_mode must be one of 'reflect', 'wrap', 'constant' or 'nearest' (spelled exactly); "
            "ImageDataGenerator's default, as in the lecture, is fill_mode='nearest'.")


def _save_weights(text: str, shapes: bool) -> str:
    return ("save_weights writes only the weights, and only to a file whose name ends in .weights.h5: "
            f"{SAVE_WHOLE_MODEL}.")


def _loaded_into_other_network(text: str, shapes: bool) -> str:
    return ("The saved weights do not fit the network they are loaded into: a network your code builds is not "
            "the model that was saved (the grader saves models of its own). Do not build a network in load_model: "
            f"{SAVE_WHOLE_MODEL}.")


def _weights_file_missing(text: str, shapes: bool) -> str:
    return ("load_model opens a weights file (.weights.h5) that is not there: the .keras file it is given holds "
            f"the whole model, so read that file itself; {SAVE_WHOLE_MODEL}.")


def _no_model_config(text: str, shapes: bool) -> str:
    return ("The file holds only weights (written by save_weights), so there is no model in it to load: "
            f"{SAVE_WHOLE_MODEL}.")


def _save_extension(text: str, shapes: bool) -> str:
    return ("Keras 3's model.save writes a .keras file: the path must end in .keras (Keras 2's SavedModel folder "
            "is gone; model.export(path) is only for serving). Save with model.save(path) where path ends in "
            ".keras, and load with keras.models.load_model(path).")


def _lr(text: str, shapes: bool) -> str:
    return ("Keras 3's optimizers take learning_rate=..., not Keras 2's lr=...: write "
            "keras.optimizers.RMSprop(learning_rate=1e-4).")


def _generator_methods(text: str, shapes: bool) -> str:
    match = re.search(r"'((?:fit|evaluate|predict)_generator)'", text)
    if not match:
        return ""
    return (f"Keras 3 models have no {match[1]}: model.fit, model.evaluate and model.predict take a "
            "tf.data.Dataset (from keras.utils.image_dataset_from_directory) or a generator directly.")


def _label_out_of_range(text: str, shapes: bool) -> str:
    return ("A label is not a valid class number for your network's output: with "
            "loss='sparse_categorical_crossentropy' the last Dense layer needs one unit per class (labels 0 to 9 "
            "need 10 units).")


def _predict_classes(text: str, shapes: bool) -> str:
    return ("Keras 3 models have no predict_classes: take model.predict(x).argmax(axis=-1) for a softmax "
            "output, or (model.predict(x) > 0.5) for one sigmoid output.")


def _image_data_generator(text: str, shapes: bool) -> str:
    return ("Keras 3 has no ImageDataGenerator: read the pictures with keras.utils.image_dataset_from_directory "
            "(and divide by 255, its rescale=1./255), and augment with the random layers RandomRotation, "
            "RandomTranslation, RandomShear, RandomZoom and RandomFlip.")


def _experimental(text: str, shapes: bool) -> str:
    return ("Keras 3 has its preprocessing layers directly in keras.layers: layers.RandomRotation, "
            "layers.RandomFlip, layers.Rescaling, not layers.experimental.preprocessing.RandomRotation.")


def _unknown_identifier(kind: str, examples: str) -> Callable[[str, bool], str]:
    def cause(text: str, shapes: bool) -> str:
        return f"Keras does not know the {kind} name given: check its spelling ({examples})."
    return cause


def _dropout_rate(text: str, shapes: bool) -> str:
    return "Dropout's rate is the fraction of values dropped, between 0 and 1: layers.Dropout(0.5) drops half."


def _dense_units(text: str, shapes: bool) -> str:
    return ("Dense's first argument is its number of units (a positive whole number); give the activation by "
            "name: layers.Dense(64, activation='relu').")


@dataclass(frozen=True)
class Rule:
    """An exception Keras raises (type name, a regular expression its text matches) and its cause."""

    types: frozenset[str]
    pattern: re.Pattern[str]
    cause: Callable[[str, bool], str]


def _rule(types: str, pattern: str, cause: Callable[[str, bool], str]) -> Rule:
    return Rule(frozenset(types.split()), re.compile(pattern, re.IGNORECASE | re.DOTALL), cause)


# The first rule that matches and gives a sentence wins; the patterns are Keras 3's own message texts.
RULES: tuple[Rule, ...] = (
    _rule("ValueError", r"Arguments `target` and `output` must have the same rank", _same_rank),
    _rule("ValueError", r"Argument `output` must have rank \(ndim\) `target\.ndim - 1`", _sparse_rank),
    _rule("ValueError", r"Arguments `target` and `output` must have the same shape", _same_shape),
    _rule("ValueError", r"of layer '?dense[^']*'? is incompatible with the layer: expected axis -1 of input shape",
          _dense_input),
    _rule("ValueError", r"is incompatible with the layer: expected min_ndim=4, found ndim=3", _no_channel_axis),
    _rule("ValueError", r"Computed output size would be (zero or )?negative|Negative dimension size", _too_small),
    # RandomRotation: "The `factor` argument should be a number (or a list of two numbers) in the range [-1, 1].
    # Received: factor=40"; RandomTranslation says [-1.0, 1.0] and input_number=, RandomShear [0, 1.0]
    _rule("ValueError", r"The `factor` argument should be .* in the range \[-1, 1\]\. Received: factor=", _rotation),
    _rule("ValueError", r"The `factor` argument should be .* in the range \[-1\.0, 1\.0\]", _translation),
    _rule("ValueError", r"The `factor` argument should be .* in the range \[0, 1\.0\]", _shear),
    _rule("ValueError", r"The `height_factor` and `width_factor` arguments should be", _zoom),
    _rule("NotImplementedError ValueError", r"Unknown `fill_mode`", _fill_mode),
    _rule("ValueError", r"The filename must end in `\.weights\.h5`", _save_weights),
    _rule("ValueError", r"could not be loaded\..*variable\.assign\(value\)|Layer count mismatch when loading "
          r"weights|expects \d+ weights?,? but (the )?(saved|received)", _loaded_into_other_network),
    _rule("FileNotFoundError OSError", r"\.weights\.h5", _weights_file_missing),
    _rule("ValueError OSError", r"No model config found in the file", _no_model_config),
    _rule("ValueError", r"Invalid filepath extension for saving", _save_extension),
    _rule("ValueError TypeError", r"Argument\(s\) not recognized: \{'lr'|unexpected keyword argument 'lr'", _lr),
    _rule("AttributeError", r"has no attribute '(fit|evaluate|predict)_generator'", _generator_methods),
    _rule("InvalidArgumentError ValueError", r"Received a label value of -?\d+ which is outside the valid range",
          _label_out_of_range),
    _rule("AttributeError", r"has no attribute 'predict_classes'", _predict_classes),
    _rule("AttributeError ImportError ModuleNotFoundError", r"\bImageDataGenerator\b", _image_data_generator),
    _rule("AttributeError", r"has no attribute 'experimental'", _experimental),
    _rule("ValueError", r"Could not interpret optimizer identifier",
          _unknown_identifier("optimizer", "'rmsprop', 'adam' or keras.optimizers.RMSprop(learning_rate=...)")),
    _rule("ValueError", r"Could not interpret loss identifier",
          _unknown_identifier("loss", "'binary_crossentropy', 'categorical_crossentropy'")),
    _rule("ValueError", r"Could not interpret metric identifier", _unknown_identifier("metric", "'accuracy'")),
    _rule("ValueError", r"Could not interpret activation function identifier",
          _unknown_identifier("activation", "'relu', 'softmax', 'sigmoid'")),
    _rule("ValueError", r"Invalid value received for argument `rate`", _dropout_rate),
    _rule("ValueError", r"Received an invalid value for `units`", _dense_units),
)

MAX_MESSAGE = 20_000  # characters of an exception's text read (a student's text can be of any size)


def explain(type_name: str, message: str, *, shapes: bool = False) -> str:
    """The grader's sentence for the likely cause of an exception raised inside Keras or TensorFlow, or "" if
    no rule knows it.

    ``type_name`` is the exception's class name (``"ValueError"``), ``message`` its text. The sentence never
    copies ``message``; with ``shapes`` (the exception came from the grader's own training of a network built
    on public input shapes) it may quote the tensor shapes Keras's message gives, the batch axis as None.
    """
    text = _ANSI.sub("", str(message)[:MAX_MESSAGE])
    for rule in RULES:
        if type_name in rule.types and rule.pattern.search(text):
            cause = rule.cause(text, shapes)
            if cause:
                return cause
    return ""
