"""Hidden test for question cnn_accuracy: the grader trains the student's architecture on held-out data.

The architecture comes back as plain data, passes the whitelist of built-in layers, and is rebuilt
here with fresh seeded weights; it is trained with the student's compile settings and the course's
recipe for this runner (course.yml: assignments[].training.<runner>), then evaluated on a test split
the student never sees. A missing recipe or data set stops grading with an instructor error.
"""

from __future__ import annotations

import pytest

from autograder import datasets, models
from autograder.testing import Fail, expect, question

DATA_NAMES = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST", "digits": "scikit-learn digits"}


def _recipe(grading):
    recipe = grading.assignment.training.get(grading.runner)
    if recipe is None:
        pytest.exit(f"course.yml: assignment {grading.assignment.id} has no training recipe for runner "
                    f"{grading.runner!r}; add assignments[].training.{grading.runner}.", returncode=3)
    return recipe


@question("cnn_accuracy", weight=1)
def test_trained_cnn_reaches_the_accuracy_threshold(submission, grading):
    """build_mnist_cnn's architecture, trained by the grader, reaches the course's held-out accuracy."""
    recipe = _recipe(grading)
    spec = submission.build_mnist_cnn()
    if not isinstance(spec, models.ModelSpec):
        raise Fail(f"build_mnist_cnn() should return a keras.Model, got {type(spec).__name__}.")
    try:
        result = models.graded_training(spec, recipe)
    except models.ArchitectureError as exc:
        raise Fail(f"The grader cannot train build_mnist_cnn()'s network: {exc}") from None
    except datasets.DatasetError as exc:
        pytest.exit(f"instructor error, data for runner {grading.runner!r} missing: {exc}", returncode=3)
    data = DATA_NAMES.get(recipe.dataset, recipe.dataset)
    stopped = " (training was stopped early: it took too long)" if result.stopped_early else ""
    expect(result.accuracy >= recipe.min_accuracy,
           f"The grader trained your network ({data}, {recipe.train_samples:,} images, {result.epochs_run} epochs"
           f"{stopped}) and it reached a held-out accuracy of {result.accuracy:.3f}; at least "
           f"{recipe.min_accuracy:.2f} is needed. Check the activations, the order of the layers and the compile "
           "settings.")
