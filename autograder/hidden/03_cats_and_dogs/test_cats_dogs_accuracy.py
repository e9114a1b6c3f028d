"""Hidden test for question cats_dogs_accuracy: the grader trains the student's architecture itself.

build_cats_dogs_cnn(input_shape=(S, S, 3)) comes back as plain data, passes the whitelist and is
rebuilt here with fresh seeded weights, trained with the student's compile settings and the course's
recipe for this runner (course.yml: assignments[].training.<runner>), and evaluated on held-out
pictures. A missing recipe or data set stops grading with an instructor error.
"""

from __future__ import annotations

import pytest

from autograder import datasets, models
from autograder.testing import Fail, expect, question

DATA_NAMES = {"shapes": "generated shape pictures", "dogs_vs_cats": "Dogs vs. Cats photographs"}


@question("cats_dogs_accuracy", weight=1)
def test_trained_network_reaches_the_accuracy_threshold(submission, grading):
    """build_cats_dogs_cnn's architecture, trained by the grader, reaches the course's held-out accuracy."""
    recipe = grading.assignment.training.get(grading.runner)
    if recipe is None or recipe.image_size is None:
        pytest.exit(f"course.yml: assignment {grading.assignment.id} needs a training recipe with image_size for "
                    f"runner {grading.runner!r} (assignments[].training.{grading.runner}).", returncode=3)
    size = recipe.image_size
    spec = submission.build_cats_dogs_cnn(input_shape=(size, size, 3))
    if not isinstance(spec, models.ModelSpec):
        raise Fail(f"build_cats_dogs_cnn() should return a keras.Model, got {type(spec).__name__}.")
    try:
        result = models.graded_training(spec, recipe)
    except models.ArchitectureError as exc:
        raise Fail(f"The grader cannot train build_cats_dogs_cnn()'s network: {exc}") from None
    except datasets.DatasetError as exc:
        pytest.exit(f"instructor error, data for runner {grading.runner!r} missing: {exc}", returncode=3)
    data = DATA_NAMES.get(recipe.dataset, recipe.dataset)
    stopped = " (training was stopped early: it took too long)" if result.stopped_early else ""
    expect(result.accuracy >= recipe.min_accuracy,
           f"The grader trained your network ({data}, {recipe.train_samples:,} images of {size}x{size}, "
           f"{result.epochs_run} epochs{stopped}) and it reached a held-out accuracy of {result.accuracy:.3f}; at "
           f"least {recipe.min_accuracy:.2f} is needed. Check the activations (sigmoid output), the layers and the "
           "compile settings.")
