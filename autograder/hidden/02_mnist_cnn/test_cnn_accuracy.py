"""Hidden test for question cnn_accuracy: the grader trains the student's architecture on held-out data.

The architecture comes back as plain data, passes the whitelist of built-in layers, and is rebuilt
here with fresh seeded weights; it is trained with the student's compile settings and the course's
recipe for this runner (course.yml: assignments[].training.<runner>), then evaluated on a test split
the student never sees. A missing recipe or data set stops grading with an instructor error.
The hint on a shortfall names a difference from the lecture's network only if there is one (conftest.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autograder.suite import GradingContext
from autograder.testing import (
    SubmissionProxy,
    expect_trained_accuracy,
    model_summary,
    note,
    question,
    training_recipe,
)

if TYPE_CHECKING:
    from conftest import LectureCNN

DATA_NAMES = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST", "digits": "scikit-learn digits"}
# Why the grader trains on another data set than the assignment's digits (shown passed or failed)
WHY_DATA = {
    "fashion_mnist": "Why Fashion-MNIST in an MNIST assignment: the grader trains your architecture on "
                     "Fashion-MNIST, pictures of clothes in MNIST's exact format (28 x 28 grey "
                     "images, 10 classes) that your notebook never sees, so the accuracy shows how well the "
                     "architecture learns, not what it has seen. These pictures are harder than digits: the "
                     "threshold is lower than the lecture's 0.99 on MNIST.",
}


@question("cnn_accuracy", weight=1)
def test_trained_cnn_reaches_the_accuracy_threshold(submission: SubmissionProxy, grading: GradingContext,
                                                     lecture_cnn: LectureCNN) -> None:
    """build_mnist_cnn's architecture, trained by the grader, reaches the course's held-out accuracy."""
    recipe = training_recipe(grading)
    data = f"{DATA_NAMES.get(recipe.dataset, recipe.dataset)}, {recipe.train_samples:,} images"
    if recipe.dataset in WHY_DATA:
        note(WHY_DATA[recipe.dataset])
    hint = lecture_cnn.training_hint(model_summary(submission, "build_mnist_cnn"))
    expect_trained_accuracy(submission, grading, recipe, "build_mnist_cnn", data=data, hint=hint)
