"""Hidden test for question cnn_accuracy: the grader trains the student's architecture on held-out data.

The architecture comes back as plain data, passes the whitelist of built-in layers, and is rebuilt
here with fresh seeded weights; it is trained with the student's compile settings and the course's
recipe for this runner (course.yml: assignments[].training.<runner>), then evaluated on a test split
the student never sees. A missing recipe or data set stops grading with an instructor error.
"""

from __future__ import annotations

from autograder.suite import GradingContext
from autograder.testing import SubmissionProxy, expect_trained_accuracy, question, training_recipe

DATA_NAMES = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST", "digits": "scikit-learn digits"}


@question("cnn_accuracy", weight=1)
def test_trained_cnn_reaches_the_accuracy_threshold(submission: SubmissionProxy, grading: GradingContext) -> None:
    """build_mnist_cnn's architecture, trained by the grader, reaches the course's held-out accuracy."""
    recipe = training_recipe(grading)
    data = f"{DATA_NAMES.get(recipe.dataset, recipe.dataset)}, {recipe.train_samples:,} images"
    expect_trained_accuracy(submission, grading, recipe, "build_mnist_cnn", data=data,
                            hint="Check the activations, the order of the layers and the compile settings.")
