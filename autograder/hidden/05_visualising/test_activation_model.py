"""Hidden tests for question activation_model: one model whose outputs are a model's activation maps.

The grader sends a model (a live trusted model, rebuilt in the notebook's process), rebuilds the returned
model here after the whitelist, and compares its outputs with the trusted model's own layer outputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from autograder.session import StudentError, quotable_exception_name
from autograder.testing import Fail, SubmissionProxy, expect, expect_raises, question

if TYPE_CHECKING:
    from conftest import Kit


def _outputs(model: Any, image: np.ndarray) -> list[np.ndarray]:
    out = model(np.asarray(image, np.float32)[np.newaxis], training=False)
    return [np.asarray(o)[0] for o in (out if isinstance(out, list | tuple) else [out])]


def _shapes(model: Any, names: list[str]) -> list[tuple[Any, ...]]:
    return [tuple(model.get_layer(n).output.shape) for n in names]


def _layer_cause(kit: Kit, shapes: list[tuple[Any, ...]], model: Any, names: list[str] | None) -> str:
    """The slip in choosing the layers that the activation model's output shapes show ("" if none does)."""
    for cause, chosen in kit.layer_choices(model, names):
        if shapes == _shapes(model, chosen):
            return cause
    return ""


def _check(kit: Kit, act: Any, model: Any, names: list[str], what: str, seed: int, *,
           given: list[str] | None = None) -> None:
    """``given``: the layer_names argument of the call (None: the default layers)."""
    want_shapes = _shapes(model, names)
    shapes = [tuple(o.shape) for o in act.outputs]
    if shapes != want_shapes:
        cause = _layer_cause(kit, shapes, model, given)
        if cause:
            raise Fail(f"{cause} Case: {what}, whose maps are the outputs of {', '.join(names)}.")
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
    _check(kit, act, model, ["c2", "c1"], "layer_names=['c2', 'c1']", 5054, given=["c2", "c1"])


@question("activation_model", weight=0.25)
def test_unknown_layer_name(submission: SubmissionProxy, kit: Kit) -> None:
    """activation_model raises ValueError for layer_names=['nope'], and for a model without convolution or pooling
    layers."""
    expect_raises("ValueError", submission.activation_model, kit.small_functional(), layer_names=["nope"])
    model = kit.dense_only()
    try:
        value = submission.activation_model(model)
    except StudentError as err:
        if err.type_name == "ValueError":
            return
        if err.type_name == "NotImplementedError":
            raise  # reported as "not implemented yet", like any other call
        raise Fail(f"activation_model raised {quotable_exception_name(err.type_name)} for a model without convolution "
                   "or pooling layers; expected ValueError.") from None
    what = ("A model of Flatten and Dense layers only, which has no maps to show (activation_model should raise "
            "ValueError)")
    act = kit.rebuilt(value, "activation_model")
    cause = _layer_cause(kit, [tuple(o.shape) for o in act.outputs], model, None)
    if cause:
        raise Fail(f"{cause} Case: {what}.")
    raise Fail("activation_model accepted a model without convolution or pooling layers; it should raise ValueError.")
