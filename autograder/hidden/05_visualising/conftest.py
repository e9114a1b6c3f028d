"""Shared fixtures of the 05_visualising hidden suite (trusted side).

``kit`` builds the models the grader sends into the student's functions (live trusted models, rebuilt
in the notebook's process) and the references computed here:

- the lecture's cats-vs-dogs CNN (3,453,121 parameters, 150x150x3 input), seeded random weights;
- a small functional CNN with an AveragePooling2D layer and a Dense head, and a model of Dense layers only;
- purpose-built *colour detectors* with hand-set weights for Grad-CAM: a 5x5 convolution ``detector``
  whose filter 0 responds only to red and filter 1 only to blue (R - G - B and B - R - G, minus a
  threshold, ReLU), global average pooling, and a Dense layer that turns "how much red" and "how much
  blue" into the classes red (0) and blue (1). The class score depends on the detector's output only where
  the square of that colour is, so a correct Grad-CAM heatmap peaks there.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from autograder.models import ArchitectureError, ModelSpec, rebuild
from autograder.testing import Fail

# The lecture's cats-vs-dogs CNN: (layer name, output shape) of its convolution and pooling layers.
LECTURE_MAPS: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("conv1", (148, 148, 32)),
    ("pool1", (74, 74, 32)),
    ("conv2", (72, 72, 64)),
    ("pool2", (36, 36, 64)),
    ("conv3", (34, 34, 128)),
    ("pool3", (17, 17, 128)),
    ("conv4", (15, 15, 128)),
    ("pool4", (7, 7, 128)),
)
SMALL_MAPS = ("c1", "avg", "c2", "mp")
RED, BLUE = 0, 1  # class indices of the colour detectors (and their filters)
CHANNELS = {"red": 0, "blue": 2}  # RGB channel of each colour


def lecture_cnn() -> Any:
    import keras

    keras.utils.set_random_seed(5050)
    layers = keras.layers
    return keras.Sequential([
        keras.Input((150, 150, 3)),
        layers.Conv2D(32, 3, activation="relu", name="conv1"), layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(64, 3, activation="relu", name="conv2"), layers.MaxPooling2D(2, name="pool2"),
        layers.Conv2D(128, 3, activation="relu", name="conv3"), layers.MaxPooling2D(2, name="pool3"),
        layers.Conv2D(128, 3, activation="relu", name="conv4"), layers.MaxPooling2D(2, name="pool4"),
        layers.Flatten(name="flatten"), layers.Dropout(0.5, name="dropout"),
        layers.Dense(512, activation="relu", name="dense"), layers.Dense(1, activation="sigmoid", name="out"),
    ], name="cats_and_dogs")


def small_functional() -> Any:
    import keras

    keras.utils.set_random_seed(5051)
    inputs = keras.Input((24, 24, 3), name="image")
    x = keras.layers.Conv2D(8, 3, activation="relu", name="c1")(inputs)
    x = keras.layers.AveragePooling2D(2, name="avg")(x)
    x = keras.layers.Conv2D(16, 3, activation="tanh", name="c2")(x)
    x = keras.layers.MaxPooling2D(2, name="mp")(x)
    x = keras.layers.Flatten(name="flat")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="small")


def dense_only() -> Any:
    """A model without a convolution or pooling layer: nothing for activation_model to show."""
    import keras

    keras.utils.set_random_seed(5055)
    inputs = keras.Input((6, 6, 3), name="image")
    x = keras.layers.Flatten(name="flat")(inputs)
    outputs = keras.layers.Dense(2, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="dense_only")


def colour_detector(*, binary: bool = False, padding: str = "same", size: int = 24) -> Any:
    """Hand-set weights: conv 'detector' (red, blue) -> [max pool] -> global average -> class scores."""
    import keras

    inputs = keras.Input((size, size, 3), name="image")
    detector = keras.layers.Conv2D(2, 5, padding=padding, activation="relu", name="detector")
    x = detector(inputs)
    if binary:
        x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    head = keras.layers.Dense(1 if binary else 2, activation="sigmoid" if binary else "softmax", name="colour")
    outputs = head(x)
    model = keras.Model(inputs, outputs, name="colour_detector")
    kernel = np.full((5, 5, 3, 2), -1.0 / 25, np.float32)
    kernel[:, :, 0, RED] = kernel[:, :, 2, BLUE] = 1.0 / 25
    detector.set_weights([kernel, np.full(2, -0.3, np.float32)])
    if binary:  # "is there red?", ignoring blue
        head.set_weights([np.array([[20.0], [0.0]], np.float32), np.array([-0.5], np.float32)])
    else:
        head.set_weights([np.array([[20.0, -20.0], [-20.0, 20.0]], np.float32), np.zeros(2, np.float32)])
    return model


def squares_image(squares: list[tuple[str, int, int, int]], size: int = 24, seed: int = 0) -> np.ndarray:
    """A dim noisy background with pure "red" or "blue" squares (colour, top, left, side); float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    image = rng.uniform(0.0, 0.15, (size, size, 3)).astype(np.float32)
    for colour, top, left, side in squares:
        image[top:top + side, left:left + side] = 0.0
        image[top:top + side, left:left + side, CHANNELS[colour]] = 1.0
    return image


def grad_cam(model: Any, image: np.ndarray, layer: str, class_index: int | None = None, *, relu: bool = True,
             normalise: bool = True) -> np.ndarray:
    """The trusted Grad-CAM heatmap (as the notebook's docstring defines it), or one of its classic slips: without
    the ReLU (``relu=False``) or not divided by its maximum (``normalise=False``)."""
    import keras
    import tensorflow as tf

    grad_model = keras.Model(model.inputs[0], [model.get_layer(layer).output, model.outputs[0]])
    batch = tf.convert_to_tensor(np.asarray(image, np.float32)[np.newaxis])
    with tf.GradientTape() as tape:
        maps, predictions = grad_model(batch, training=False)
        index = int(tf.argmax(predictions[0])) if class_index is None else class_index
        score = predictions[:, index]
    grads = tape.gradient(score, maps)
    weights = tf.reduce_mean(grads, axis=(0, 1, 2))
    heat = tf.reduce_sum(maps[0] * weights, axis=-1).numpy().astype(np.float64)
    if relu:
        heat = np.maximum(heat, 0.0)
    top = float(heat.max())
    return heat / top if normalise and top > 0 else heat


# Classic slips in choosing the layers whose maps to show, most telling first: (cause, the layers it takes).
FIRST_8 = ("The layers are the model's first 8, not its Conv2D, MaxPooling2D and AveragePooling2D layers: "
           "model.layers[:8] fits only the lecture's CNN, whose first 8 layers are its convolutions and poolings; pick "
           "the layers by their type, isinstance(layer, (Conv2D, MaxPooling2D, AveragePooling2D)).")
ALL_LAYERS = ("Every layer's output is taken, also Flatten, Dropout and Dense: only the Conv2D, MaxPooling2D and "
              "AveragePooling2D layers output activation maps.")
CONV_ONLY = ("Only the Conv2D layers are taken: the pooling layers (MaxPooling2D, AveragePooling2D) output activation "
             "maps too.")
NO_AVERAGE = ("The AveragePooling2D layers are left out: they output activation maps too, as Conv2D and MaxPooling2D "
              "do.")
NAMES_IGNORED = ("layer_names is ignored: with layer_names, return exactly the layers it names, in its order (all the "
                 "Conv2D and pooling layers only when it is None).")
NAMES_REORDERED = ("The layers are in the model's order, not in the order of layer_names: keep the order in which "
                   "layer_names lists them.")


def map_layers(model: Any, kinds: tuple[str, ...] = ("Conv2D", "MaxPooling2D", "AveragePooling2D")) -> list[str]:
    return [layer.name for layer in model.layers if type(layer).__name__ in kinds]


def layer_choices(model: Any, layer_names: list[str] | None = None) -> list[tuple[str, list[str]]]:
    """What a mistaken activation_model or get_activations takes instead of the right layers: (cause, layer names),
    each different from the right choice (computed here, on the trusted model)."""
    right = map_layers(model) if layer_names is None else list(layer_names)
    choices = [(NAMES_IGNORED, map_layers(model))] if layer_names is not None else []
    if layer_names is not None:
        choices.append((NAMES_REORDERED, [layer.name for layer in model.layers if layer.name in layer_names]))
    choices += [
        (FIRST_8, [layer.name for layer in model.layers[:8]]),
        (ALL_LAYERS, [layer.name for layer in model.layers if type(layer).__name__ != "InputLayer"]),
        (CONV_ONLY, map_layers(model, ("Conv2D",))),
        (NO_AVERAGE, map_layers(model, ("Conv2D", "MaxPooling2D"))),
    ]
    return [(cause, names) for cause, names in choices if names != right]


class Kit:
    lecture_maps = LECTURE_MAPS
    small_maps = SMALL_MAPS
    red, blue = RED, BLUE
    lecture_cnn = staticmethod(lecture_cnn)
    small_functional = staticmethod(small_functional)
    dense_only = staticmethod(dense_only)
    colour_detector = staticmethod(colour_detector)
    squares_image = staticmethod(squares_image)
    grad_cam = staticmethod(grad_cam)
    layer_choices = staticmethod(layer_choices)

    @staticmethod
    def rebuilt(value: Any, function: str) -> Any:
        """A returned value that must be a Keras model, rebuilt here (after the whitelist), or a Fail."""
        if not isinstance(value, ModelSpec):
            raise Fail(f"`{function}` should return a keras.Model, got {type(value).__name__}.")
        try:
            return rebuild(value)
        except ArchitectureError as exc:
            raise Fail(f"The model returned by `{function}` cannot be graded: {exc}") from None

    @staticmethod
    def maps(model: Any, image: np.ndarray, names: list[str] | tuple[str, ...]) -> dict[str, np.ndarray]:
        """Reference: the named layers' outputs for one image, batch dimension removed."""
        import keras

        probe = keras.Model(model.inputs[0], [model.get_layer(n).output for n in names])
        outputs = probe(np.asarray(image, np.float32)[np.newaxis], training=False)
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        return {n: np.asarray(o)[0] for n, o in zip(names, outputs, strict=True)}


@pytest.fixture(scope="session")
def kit() -> Kit:
    return Kit()
