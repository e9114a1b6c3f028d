"""Hidden tests for question activation_model: one model whose outputs are a model's activation maps.

The grader sends a model (a live trusted model, rebuilt in the notebook's process), rebuilds the returned
model here after the whitelist, and compares its outputs with the trusted model's own layer outputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from autograder.testing import Fail, SubmissionProxy, expect, expect_raises, question

if TYPE_CHECKING:
    from conftest import Kit


def _outputs(model: Any, image: np.ndarray) -> list[np.ndarray]:
    out = model(np.asarray(image, np.float32)[np.newaxis], training=False)
    return [np.asarray(o)[0] for o in (out if isinstance(out, list | tuple) else [out])]


def _check(kit: Kit, act: Any, model: Any, names: list[str], what: str, seed: int) -> None:
    want_shapes = [tuple(model.get_layer(n).output.shape) for n in names]
    shapes = [tuple(o.shape) for o in act.outputs]
    expect(len(shapes) == len(names), f"{what}: the activation model has {len(shapes)} output(s); expected "
           f"{len(names)}, one per layer: {', '.join(names)}.")
    expect(shapes == want_shapes, f"{what}: the outputs have shapes {shapes}; expected {want_shapes} "
           f"(the outputs of {', '.join(names)}, in that order).")
    expect([tuple(i.shape) for i in act.inputs] == [tuple(i.shape) for i in model.inputs],
           f"{what}: the activation model should take the same input as the model.")
    image = np.random.default_rng(seed).random(tuple(model.inputs[0].shape[1:]), dtype=np.float32)
    ours = kit.maps(model, image, names)
    for name, got in zip(names, _outputs(act, image), strict=True):
        scale = float(np.abs(ours[name]).max()) or 1.0
        if not np.allclose(got, ours[name], rtol=1e-4, atol=1e-5 * scale):
            raise Fail(f"{what}: the output for {name} differs from that layer's activation maps: use the "
                       "layers' outputs of the model you were given (layer.output), do not build new layers.")


@question("activation_model", weight=1, worked_example=True)
def test_lecture_cnn(submission: SubmissionProxy, kit: Kit) -> None:
    """activation_model(lecture's CNN) outputs its 8 maps, (148, 148, 32) down to (7, 7, 128), with its weights."""
    model = kit.lecture_cnn()
    act = kit.rebuilt(submission.activation_model(model), "activation_model")
    _check(kit, act, model, [n for n, _ in kit.lecture_maps], "The lecture's cats-vs-dogs CNN", 5052)


@question("activation_model", weight=0.75)
def test_functional_model_with_average_pooling(submission: SubmissionProxy, kit: Kit) -> None:
    """activation_model keeps Conv2D, MaxPooling2D and AveragePooling2D outputs and leaves out Flatten and Dense."""
    model = kit.small_functional()
    act = kit.rebuilt(submission.activation_model(model), "activation_model")
    _check(kit, act, model, list(kit.small_maps), "A functional model (Conv2D, AveragePooling2D, Conv2D, "
           "MaxPooling2D, Flatten, Dense)", 5053)


@question("activation_model", weight=0.5)
def test_layer_names_in_the_given_order(submission: SubmissionProxy, kit: Kit) -> None:
    """activation_model(model, layer_names=['c2', 'c1']) outputs exactly those two layers, in that order."""
    model = kit.small_functional()
    act = kit.rebuilt(submission.activation_model(model, layer_names=["c2", "c1"]), "activation_model")
    _check(kit, act, model, ["c2", "c1"], "layer_names=['c2', 'c1']", 5054)


@question("activation_model", weight=0.25)
def test_unknown_layer_name(submission: SubmissionProxy, kit: Kit) -> None:
    """activation_model raises ValueError for layer_names=['nope'], and for a model without convolution or pooling
    layers."""
    expect_raises("ValueError", submission.activation_model, kit.small_functional(), layer_names=["nope"])
    expect_raises("ValueError", submission.activation_model, kit.dense_only())
