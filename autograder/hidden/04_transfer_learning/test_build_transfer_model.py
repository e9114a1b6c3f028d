"""Hidden tests for question build_transfer_model: the frozen base plus the classifier, end to end.

The grader sends a trusted VGG16 (150x150, every layer trainable, seeded weights) and reads back the model:
its layers (nested or not), which weights are trainable, that the base's weights are the ones sent, and
what one training step on the rebuilt model changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from autograder.models import ArchitectureError, layer_differences, rebuild
from autograder.testing import Fail, SubmissionProxy, expect, question

if TYPE_CHECKING:
    from conftest import Kit

HEAD_PARAMS = 2_097_665
HEAD_SHAPES = [(8192, 256), (256,), (256, 1), (1,)]
NOT_FROZEN = ("The convolutional base is not frozen: set conv_base.trainable = False before compiling, or training "
              "changes VGG16's weights and destroys what it learnt.")


def _transfer_model(submission: SubmissionProxy, kit: Kit, augmenter: Any = None) -> tuple[Any, dict[str, Any], Any]:
    base = kit.vgg16(150, trainable=True)
    value = (submission.build_transfer_model(base) if augmenter is None
             else submission.build_transfer_model(base, augmenter=augmenter))
    spec, info = kit.model(value, "build_transfer_model")
    return spec, info, base


def _in_base(spec: Any, kit: Any) -> list[bool]:
    """Which of the model's weight arrays belong to the VGG16 base (by layer name, e.g. 'block1_conv1/kernel')."""
    names = {name for name, _, _, _ in kit.table}
    return [len(n.split("/")) >= 2 and n.split("/")[-2] in names for n in spec.weight_names]


def _check_layers(kit: Kit, info: dict[str, Any], prefix: list[str]) -> None:
    kinds = [layer["class_name"] for layer in kit.leaf_layers(info["layers"])]
    want = prefix + [kind for _, kind, _, _ in kit.table] + list(kit.head)
    problems = layer_differences(kinds, want)
    expect(not problems, "The model's layers differ from the augmentation (if any), the VGG16 base and the "
           "classifier (Flatten, Dense, Dropout, Dense): " + "; ".join(problems[:3]) + ".")


@question("build_transfer_model", weight=1.5, worked_example=True)
def test_base_is_frozen(submission: SubmissionProxy, kit: Kit) -> None:
    """build_transfer_model: VGG16 plus the classifier, 16,812,353 params, only the classifier's 4 weights trainable."""
    spec, info, base = _transfer_model(submission, kit)
    _check_layers(kit, info, [])
    total = kit.vgg16_params + HEAD_PARAMS
    expect(info["total_params"] == total, f"The model has {info['total_params']:,} parameters; the base and the "
           f"classifier have {total:,}.")
    trainable = kit.trainable(spec)
    params = sum(int(np.prod(shape)) for _, shape in trainable)
    base_layers = {name for name, _, _, _ in kit.table}
    base_trainable = sum(int(np.prod(shape)) for layer, shape in trainable if layer in base_layers)
    if base_trainable:
        raise Fail(f"{NOT_FROZEN} Case: build_transfer_model(VGG16), where {base_trainable:,} of the base's "
                   f"{kit.vgg16_params:,} parameters stay trainable.")
    expect(sorted(shape for _, shape in trainable) == sorted(HEAD_SHAPES),
           f"Only the classifier's weights should be trainable (2 kernels and 2 biases, {HEAD_PARAMS:,} parameters); "
           f"{len(trainable)} weight arrays with {params:,} parameters are.")
    sent = [np.asarray(v) for v in base.weights]
    kept = [w for w, is_base in zip(spec.weights, _in_base(spec, kit), strict=True) if is_base]
    same = len(kept) == len(sent) and all(np.array_equal(a, b) for a, b in zip(kept, sent, strict=True))
    expect(same, "The base's weights are not the ones of the conv_base passed in: build the model around that "
           "conv_base (do not build a new VGG16).")


@question("build_transfer_model", weight=1)
def test_training_changes_only_the_classifier(submission: SubmissionProxy, kit: Kit) -> None:
    """One training step on the rebuilt model changes the classifier's weights and none of the base's."""
    spec, info, _ = _transfer_model(submission, kit)
    try:
        model = rebuild(spec, compile=True)
    except ArchitectureError as exc:
        raise Fail(f"The model cannot be trained as returned: {exc}") from None
    before = [np.array(w) for w in model.get_weights()]
    rng = np.random.default_rng(4043)
    x = rng.uniform(-120, 130, (4, 150, 150, 3)).astype(np.float32)
    model.train_on_batch(x, np.array([[0.0], [1.0], [1.0], [0.0]], np.float32))
    after = model.get_weights()
    changed = [not np.array_equal(a, b) for a, b in zip(before, after, strict=True)]
    in_base = _in_base(spec, kit)
    base_changed = sum(c for c, is_base in zip(changed, in_base, strict=True) if is_base)
    if base_changed:
        raise Fail(f"{NOT_FROZEN} Case: one training step of build_transfer_model's model, which changed "
                   f"{base_changed} of the base's {sum(in_base)} weight arrays.")
    expect(sum(changed) == 4, f"One training step changed {sum(changed)} weight arrays; the classifier's 4 (two "
           "Dense kernels and biases) should change.")


@question("build_transfer_model", weight=0.5)
def test_classifier_and_compile_settings(submission: SubmissionProxy, kit: Kit) -> None:
    """build_transfer_model's classifier is Dense(256, relu), Dropout(0.5), Dense(1, sigmoid), compiled with
    RMSprop(learning_rate=2e-5), binary cross-entropy and accuracy."""
    spec, info, _ = _transfer_model(submission, kit)
    head = kit.leaf_layers(info["layers"])[-len(kit.head):]
    cause = kit.head_cause(head)
    if cause:
        raise Fail(f"{cause} Case: build_transfer_model(VGG16), the classifier on top of the base.")
    problems = kit.head_problems(head) + kit.compile_problems(spec)
    expect(not problems, "The classifier on top of the base, or the compile settings: " + "; ".join(problems[:3])
           + ".")


@question("build_transfer_model", weight=0.5)
def test_augmenter_goes_before_the_base(submission: SubmissionProxy, kit: Kit) -> None:
    """build_transfer_model(conv_base, augmenter=...) puts the augmentation layers first, before the base."""
    import keras

    augmenter = keras.Sequential([
        keras.Input((150, 150, 3)),
        keras.layers.RandomFlip("horizontal"),
        keras.layers.RandomRotation(0.1),
        keras.layers.RandomZoom(0.2),
    ], name="augmentation")
    spec, info, _ = _transfer_model(submission, kit, augmenter)
    _check_layers(kit, info, ["RandomFlip", "RandomRotation", "RandomZoom"])
    expect(info["total_params"] == kit.vgg16_params + HEAD_PARAMS,
           "With an augmenter the model should have the same parameters as without (augmentation has none).")
