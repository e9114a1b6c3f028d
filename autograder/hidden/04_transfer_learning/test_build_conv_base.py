"""Hidden tests for question build_conv_base: VGG16 without its top, exactly the lecture's table.

Graded with ``weights=None`` (no ImageNet download at grading time); the architecture, output shapes and
parameter counts do not depend on the weights. That ``weights`` is passed on is checked with a weights file
the grader writes (a seeded VGG16 of its own).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from autograder.models import ArchitectureError, FolderArg, ModelSpec, layer_differences
from autograder.session import StudentError
from autograder.testing import Fail, SubmissionProxy, expect, question

if TYPE_CHECKING:
    from conftest import Kit


INCLUDE_TOP = ("The base keeps VGG16's own classifier (Flatten, fc1, fc2, predictions): include_top=True is Keras's "
               "default. Pass include_top=False: the lecture's convolutional base ends at block5_pool.")
NO_INPUT_SHAPE = ("input_shape is not passed on to VGG16: without it the base takes images of any size, "
                  "(None, None, None, 3), so its output shapes are unknown. Pass input_shape=input_shape.")
VGG16_CONVOLUTIONS = 13


def _leaf_classes(config: Any) -> list[str]:
    """The class names of every layer in a model's description, nested models expanded."""
    inner = config.get("config", {}) if isinstance(config, dict) else {}
    layers = inner.get("layers") if isinstance(inner, dict) else None
    if not isinstance(layers, list):
        return [str(config.get("class_name"))] if isinstance(config, dict) else []
    return [name for layer in layers for name in _leaf_classes(layer)]


def _has_top(value: Any) -> bool:
    """The returned model ends with VGG16's classifier (Flatten and Dense layers): include_top=True."""
    if not isinstance(value, ModelSpec):
        return False
    try:
        classes = _leaf_classes(value.config)
    except (ArchitectureError, RecursionError):  # (the whitelist says what is wrong with such a description)
        return False
    # VGG16's 13 convolutions too: a network that is not VGG16 is not this (capped) cause
    return classes.count("Conv2D") == VGG16_CONVOLUTIONS and "Flatten" in classes and "Dense" in classes


def _base(submission: SubmissionProxy, kit: Kit, what: str, *, top: bool = True, **kwargs: Any) -> dict[str, Any]:
    """Call build_conv_base(**kwargs) and return the summary of its model; a base with VGG16's classifier (when
    ``top``) or without the input shape fails with that cause."""
    value = submission.build_conv_base(**kwargs)
    if top and _has_top(value):
        raise Fail(f"{INCLUDE_TOP} Case: {what}.")
    _, info = kit.model(value, "build_conv_base")
    if tuple(info["input_shape"]) == (None, None, None, 3):
        raise Fail(f"{NO_INPUT_SHAPE} Case: {what}.")
    return info


def _check_layers(kit: Kit, info: dict[str, Any], size: int) -> None:
    layers = kit.leaf_layers(info["layers"])
    kinds = [layer["class_name"] for layer in layers]
    want_kinds = [kind for _, kind, _, _ in kit.table]
    problems = layer_differences(kinds, want_kinds)
    expect(not problems, "The layers differ from the lecture's VGG16 without its top: " + "; ".join(problems[:3])
           + ". Use keras.applications.VGG16(include_top=False, ...).")
    names = [layer["name"] for layer in layers]
    expect(names == [name for name, _, _, _ in kit.table],
           f"The layers are not named as in the lecture's table (block1_conv1 ... block5_pool); got {names[:3]}...")
    for layer, (name, _, _, params), shape in zip(layers, kit.table, kit.output_shapes(size), strict=True):
        expect(layer["params"] == params, f"{name} has {layer['params']:,} parameters; the lecture's table says "
               f"{params:,}.")
        expect(tuple(layer["output_shape"]) == shape,
               f"For {size}×{size}×3 images, {name} outputs {tuple(layer['output_shape'])}, expected {shape}.")
    expect(info["total_params"] == kit.vgg16_params,
           f"The base has {info['total_params']:,} parameters; VGG16 without its top has {kit.vgg16_params:,}.")


@question("build_conv_base", weight=2, worked_example=True)
def test_lecture_vgg16_table(submission: SubmissionProxy, kit: Kit) -> None:
    """build_conv_base(weights=None) has the lecture's 18 layers, output shapes and 14,714,688 parameters."""
    info = _base(submission, kit, "build_conv_base(weights=None), the lecture's table", weights=None)
    expect(info["input_shape"] == (None, 150, 150, 3),
           f"build_conv_base(weights=None) takes inputs of shape {info['input_shape']}; the default input_shape "
           "is (150, 150, 3).")
    _check_layers(kit, info, 150)


@question("build_conv_base", weight=1)
def test_other_input_shape(submission: SubmissionProxy, kit: Kit) -> None:
    """build_conv_base(weights=None, input_shape=(64, 64, 3)) builds the same 18 layers for 64x64 images."""
    info = _base(submission, kit, "build_conv_base(weights=None, input_shape=(64, 64, 3))", weights=None,
                 input_shape=(64, 64, 3))
    expect(info["input_shape"] == (None, 64, 64, 3),
           f"With input_shape=(64, 64, 3) the base takes inputs of shape {info['input_shape']}; pass input_shape "
           "on to VGG16.")
    _check_layers(kit, info, 64)


@question("build_conv_base", weight=0.5)
def test_every_weight_is_trainable_as_built(submission: SubmissionProxy, kit: Kit) -> None:
    """build_conv_base returns VGG16 as Keras builds it: freezing is build_transfer_model's job."""
    info = _base(submission, kit, "build_conv_base(weights=None, input_shape=(32, 32, 3))", top=False, weights=None,
                 input_shape=(32, 32, 3))  # (VGG16's classifier, if any, is as trainable as the rest)
    frozen = info["non_trainable_params"]
    expect(frozen == 0, f"{frozen:,} of the base's parameters are frozen already. build_conv_base should return the "
           "base as VGG16 builds it (the lecture's table: Trainable params 14,714,688); build_transfer_model "
           "freezes it.")


@question("build_conv_base", weight=0.5)
def test_weights_from_a_file(submission: SubmissionProxy, kit: Kit) -> None:
    """build_conv_base(weights=path) loads the weights of that file (one saved with model.save_weights)."""
    trusted = kit.vgg16(32)
    with tempfile.TemporaryDirectory(prefix="ag-04-weights-") as tmp:
        path = Path(tmp) / "base.weights.h5"
        trusted.save_weights(path)
        folder = FolderArg("given_weights", {path.name: path.read_bytes()}, select=path.name)
    what = "build_conv_base(weights=path of a weights file of VGG16 without its top)"
    try:
        value = submission.build_conv_base(weights=folder, input_shape=(32, 32, 3))
    except StudentError as err:
        if err.type_name == "NotImplementedError":
            raise
        # Does the base carry VGG16's classifier? Then the file's weights cannot fit it: that is the cause.
        try:
            probe = submission.build_conv_base(weights=None, input_shape=(32, 32, 3))
        except StudentError:
            raise err from None
        if _has_top(probe):
            raise Fail(f"{INCLUDE_TOP} Case: {what}, whose loading failed.") from None
        raise
    if _has_top(value):
        raise Fail(f"{INCLUDE_TOP} Case: {what}.")
    spec, _ = kit.model(value, "build_conv_base")
    sent = [np.asarray(w) for w in trusted.weights]
    expect(len(spec.weights) == len(sent) and all(np.array_equal(a, b) for a, b in zip(spec.weights, sent,
                                                                                          strict=True)),
           "build_conv_base(weights=path) returned other weights than the file's: pass weights on to VGG16.")
