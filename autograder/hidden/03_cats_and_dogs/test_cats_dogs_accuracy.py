"""Hidden test for question cats_dogs_accuracy: the grader trains the student's architecture itself.

build_cats_dogs_cnn(input_shape=(S, S, 3)) comes back as plain data, passes the whitelist and is
rebuilt here with fresh seeded weights, trained with the student's compile settings and the course's
recipe for this runner (course.yml: assignments[].training.<runner>), and evaluated on held-out
pictures. A missing recipe or data set stops grading with an instructor error.
The hint on a shortfall names a difference from the lecture's network only if there is one (conftest.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autograder.suite import GradingContext
from autograder.testing import SubmissionProxy, expect_trained_accuracy, model_summary, question, training_recipe

if TYPE_CHECKING:
    from conftest import LectureCNN

DATA_NAMES = {"shapes": "generated shape pictures", "dogs_vs_cats": "Dogs vs. Cats photographs"}


@question("cats_dogs_accuracy", weight=1)
def test_trained_network_reaches_the_accuracy_threshold(submission: SubmissionProxy, grading: GradingContext,
                                                         lecture_cnn: LectureCNN) -> None:
    """build_cats_dogs_cnn's architecture, trained by the grader, reaches the course's held-out accuracy."""
    recipe = training_recipe(grading, needs=("image_size",))
    size = recipe.image_size
    data = f"{DATA_NAMES.get(recipe.dataset, recipe.dataset)}, {recipe.train_samples:,} images of {size}x{size}"
    hint = lecture_cnn.training_hint(model_summary(submission, "build_cats_dogs_cnn", input_shape=(size, size, 3)),
                                     size)
    expect_trained_accuracy(submission, grading, recipe, "build_cats_dogs_cnn", data=data, hint=hint,
                            input_shape=(size, size, 3))
