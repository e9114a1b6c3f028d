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
from autograder.testing import SubmissionProxy, expect_trained_accuracy, model_summary, question, training_recipe

if TYPE_CHECKING:
    from conftest import LectureCNN

DATA_NAMES = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST", "digits": "scikit-learn digits"}


@question("cnn_accuracy", weight=1)
def test_trained_cnn_reaches_the_accuracy_threshold(submission: SubmissionProxy, grading: GradingContext,
                                                     lecture_cnn: LectureCNN) -> None:
    """build_mnist_cnn's architecture, trained by the grader, reaches the course's held-out accuracy."""
    recipe = training_recipe(grading)
    data = f"{DATA_NAMES.get(recipe.dataset, recipe.dataset)}, {recipe.train_samples:,} images"
    hint = lecture_cnn.training_hint(model_summary(submission, "build_mnist_cnn"))
    expect_trained_accuracy(submission, grading, recipe, "build_mnist_cnn", data=data, hint=hint)
