"""Hidden tests for question unfreeze_top: fine-tuning unfreezes the top of the base, nothing below it.

The grader sends a trusted VGG16 (64x64 input: the weights do not depend on it) and reads back which of
its weight arrays are trainable (by layer name, e.g. 'block5_conv1/kernel').
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from autograder.testing import Fail, SubmissionProxy, expect, expect_raises, question

if TYPE_CHECKING:
    from conftest import Kit


STILL_FROZEN = ("The base stays frozen: a layer of a frozen model is not trainable, whatever its own flag says; set "
                "conv_base.trainable = True first, then freeze the layers before from_layer.")
WHOLE_BASE = ("The whole base is unfrozen: after conv_base.trainable = True, set layer.trainable = False for every "
              "layer before from_layer, so that only the top layers are fine-tuned.")
FROM_IGNORED = ("from_layer is ignored: the layers from block5_conv1 on are unfrozen whatever from_layer names; "
                "unfreeze from the layer it names.")
FROM_EXCLUDED = ("from_layer itself stays frozen: it is the first layer to train (layer.trainable = i >= its index, "
                 "not i > its index).")
WRONG_END = ("The wrong end of the base is unfrozen: the layers before from_layer are trainable and the top ones "
             "frozen; fine-tuning trains the top layers, from from_layer on.")


def _cause(names: list[str], trainable: set[str], start: str) -> str:
    """The slip that this set of trainable layers shows (recomputed here from the lecture's table), or ""."""
    weighted = [n for n in names if not n.endswith("_pool")]
    index = names.index(start)
    top = {n for n in weighted if names.index(n) >= index}
    choices = [
        (STILL_FROZEN, set()),
        (WHOLE_BASE, set(weighted)),
        (FROM_IGNORED, {n for n in weighted if names.index(n) >= names.index("block5_conv1")}),
        (FROM_EXCLUDED, top - {start}),
        (WRONG_END, set(weighted) - top),
    ]
    return next((cause for cause, chosen in choices if chosen != top and trainable == chosen), "")


def _check(submission: SubmissionProxy, kit: Kit, base: Any, from_layer: str | None, what: str) -> None:
    sent = [np.asarray(w) for w in base.weights]
    value = (submission.unfreeze_top(base) if from_layer is None
             else submission.unfreeze_top(base, from_layer=from_layer))
    spec, info = kit.model(value, "unfreeze_top")
    start = from_layer or "block5_conv1"
    names = [name for name, _, _, _ in kit.table]
    expect([layer["name"] for layer in kit.leaf_layers(info["layers"])] == names,
           f"{what}: unfreeze_top should return the base it was given (VGG16's 18 layers), not a new model.")
    expect(len(spec.weights) == len(sent) and all(np.array_equal(a, b) for a, b in zip(spec.weights, sent,
                                                                                          strict=True)),
           f"{what}: the base's weights changed; unfreeze_top only changes which layers are trainable.")
    want_trainable = {n for n in names[names.index(start):] if not n.endswith("_pool")}
    trainable = {layer for layer, _ in kit.trainable(spec)}
    if trainable != want_trainable:
        cause = _cause(names, trainable, start)
        if cause:
            raise Fail(f"{cause} Case: {what}.")
    wrong_frozen = [n for n in names if n in want_trainable - trainable]
    wrong_trainable = [n for n in names if n in trainable - want_trainable]
    expect(not wrong_frozen, f"{what}: {', '.join(wrong_frozen)} should be trainable (the layers from {start} on "
           "are fine-tuned).")
    expect(not wrong_trainable, f"{what}: {', '.join(wrong_trainable)} should stay frozen (only the layers from "
           f"{start} on are fine-tuned).")


@question("unfreeze_top", weight=1, worked_example=True)
def test_block5_from_a_frozen_base(submission: SubmissionProxy, kit: Kit) -> None:
    """unfreeze_top(frozen_base): block5_conv1-3 trainable (7,079,424 params), block1-4 frozen."""
    _check(submission, kit, kit.vgg16(64, trainable=False), None,
           "A base frozen for feature extraction, unfrozen from block5_conv1 (the default)")


@question("unfreeze_top", weight=0.5)
def test_from_block4_of_a_trainable_base(submission: SubmissionProxy, kit: Kit) -> None:
    """unfreeze_top(base, from_layer='block4_conv1') on a fully trainable base freezes block1 to block3."""
    _check(submission, kit, kit.vgg16(64, trainable=True), "block4_conv1",
           "A fully trainable base with from_layer='block4_conv1'")


@question("unfreeze_top", weight=0.5)
def test_unknown_layer_name(submission: SubmissionProxy, kit: Kit) -> None:
    """unfreeze_top(base, from_layer='block6_conv1') raises ValueError: there is no such layer."""
    expect_raises("ValueError", submission.unfreeze_top, kit.vgg16(32, trainable=False), from_layer="block6_conv1")
