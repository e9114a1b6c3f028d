"""Hidden tests for question build_feature_classifier: the densely connected classifier trained on features.

Structure and compile settings are read from the returned model's description (the checks are in
conftest.py: build_transfer_model's classifier is held to the same). The accuracy test rebuilds the
architecture with fresh seeded weights and trains it here, in the trusted process, with the runner
profile's recipe (course.yml ``training``) on features of a VGG16 base computed here (see conftest.py:
random VGG16 features of generated "fur" textures on the cpu profile).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autograder.models import ArchitectureError, TrainingFailed, check_compile, train_and_evaluate
from autograder.testing import Fail, SubmissionProxy, expect, question, record_training

if TYPE_CHECKING:
    from conftest import FeatureData, Kit

DATA_NAMES = {"textures": "generated fur-texture", "dogs_vs_cats": "Dogs vs. Cats"}  # recipe data set -> words


@question("build_feature_classifier", weight=1, worked_example=True)
def test_lecture_classifier(submission: SubmissionProxy, kit: Kit) -> None:
    """build_feature_classifier() is Flatten, Dense(256, relu), Dropout(0.5), Dense(1, sigmoid): 2,097,665 params."""
    spec, info = kit.model(submission.build_feature_classifier(), "build_feature_classifier")
    layers = kit.leaf_layers(info["layers"])
    cause = kit.head_cause(layers)
    if cause:
        raise Fail(f"{cause} Case: build_feature_classifier(), the lecture's classifier.")
    problems = kit.head_problems(layers)
    expect(not problems, "The classifier differs from the lecture's: " + "; ".join(problems[:3]) + ".")
    expect(info["input_shape"] == (None, 4, 4, 512),
           f"build_feature_classifier() takes inputs of shape {info['input_shape']}; by default it takes the "
           "(4, 4, 512) features of 150×150 images.")
    expect(info["total_params"] == 2_097_665,
           f"The classifier has {info['total_params']:,} parameters; expected 2,097,665 (4·4·512·256 + 256 + 257).")


@question("build_feature_classifier", weight=0.5)
def test_feature_shape_argument(submission: SubmissionProxy, kit: Kit) -> None:
    """build_feature_classifier(feature_shape=(2, 2, 512)) takes (2, 2, 512) features: 524,801 params."""
    spec, info = kit.model(submission.build_feature_classifier(feature_shape=(2, 2, 512)), "build_feature_classifier")
    expect(info["input_shape"] == (None, 2, 2, 512),
           f"With feature_shape=(2, 2, 512) the classifier takes inputs of shape {info['input_shape']}.")
    expect(info["total_params"] == 524_801,
           f"With feature_shape=(2, 2, 512) the classifier has {info['total_params']:,} parameters; expected 524,801.")


@question("build_feature_classifier", weight=0.5)
def test_compile_settings(submission: SubmissionProxy, kit: Kit) -> None:
    """build_feature_classifier compiles with RMSprop(learning_rate=2e-5), binary cross-entropy and accuracy."""
    spec, _ = kit.model(submission.build_feature_classifier(), "build_feature_classifier")
    problems = kit.compile_problems(spec)
    expect(not problems, "The classifier's compile settings: " + "; ".join(problems) + ".")


@question("build_feature_classifier", weight=1)
def test_trains_on_conv_base_features(submission: SubmissionProxy, kit: Kit, feature_data: FeatureData) -> None:
    """The classifier, trained by the grader on VGG16 features with the course's recipe, reaches its accuracy."""
    recipe, load = feature_data
    side = (recipe.image_size or 150) // 32
    spec, info = kit.model(submission.build_feature_classifier(feature_shape=(side, side, 512)),
                           "build_feature_classifier")
    try:
        check_compile(spec)  # any built-in optimizer, loss and metrics: test_compile_settings checks the lecture's
    except ArchitectureError as exc:
        raise Fail(f"The classifier cannot be trained as you compiled it: {exc}") from None
    train, test = load()
    data = f"VGG16 features of {len(train[1])} {DATA_NAMES.get(recipe.dataset, repr(recipe.dataset))} images"
    try:
        result = train_and_evaluate(spec, train, test, epochs=recipe.epochs, batch_size=recipe.batch_size,
                                    seed=recipe.seed, time_limit_s=recipe.time_limit_s)
    except TrainingFailed as exc:  # Keras refused, for a reason the grader recognises: its cause, not capped as a
        # diagnosis (Keras's message can hold the student's layer names, which could steer the rule that matched)
        raise Fail(f"The grader cannot train your classifier on {data}. {exc}") from exc
    except ArchitectureError as exc:
        raise Fail(f"The classifier cannot be trained: {exc}") from None
    stopped = record_training("build_feature_classifier()'s classifier", data, result, recipe.min_accuracy,
                              held_out=f" on {len(test[1])} images")
    if result.accuracy >= recipe.min_accuracy:
        return
    reached = (f"the grader trained the classifier ({result.epochs_run} epochs on {data}{stopped}) and it reached a "
               f"held-out accuracy of {result.accuracy:.3f} on {len(test[1])} images; at least "
               f"{recipe.min_accuracy:.2f} is needed")
    layers = kit.leaf_layers(info["layers"])
    cause = kit.head_cause(layers)
    if cause:
        raise Fail(f"{cause} Case: {reached}.")
    problems = kit.head_problems(layers) + kit.compile_problems(spec)
    hint = (f"A likely cause: {problems[0]}." if problems else
            "Its layers and compile settings match the lecture's, so look at what those checks do not compare, "
            "such as initializers or regularizers.")
    raise Fail(f"{reached[0].upper()}{reached[1:]}. {hint}")
