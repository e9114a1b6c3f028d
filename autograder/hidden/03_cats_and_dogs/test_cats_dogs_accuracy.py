"""Hidden test for question cats_dogs_accuracy: the grader trains the student's architecture itself.

build_cats_dogs_cnn(input_shape=(S, S, 3)) comes back as plain data, passes the whitelist and is
rebuilt here with fresh seeded weights, trained with the student's compile settings and the course's
recipe for this runner (course.yml: assignments[].training.<runner>), and evaluated on held-out
pictures. A missing recipe or data set stops grading with an instructor error.
"""

from __future__ import annotations

from autograder.suite import GradingContext
from autograder.testing import SubmissionProxy, expect_trained_accuracy, question, training_recipe

DATA_NAMES = {"shapes": "generated shape pictures", "dogs_vs_cats": "Dogs vs. Cats photographs"}


@question("cats_dogs_accuracy", weight=1)
def test_trained_network_reaches_the_accuracy_threshold(submission: SubmissionProxy, grading: GradingContext) -> None:
    """build_cats_dogs_cnn's architecture, trained by the grader, reaches the course's held-out accuracy."""
    recipe = training_recipe(grading, needs=("image_size",))
    size = recipe.image_size
    data = f"{DATA_NAMES.get(recipe.dataset, recipe.dataset)}, {recipe.train_samples:,} images of {size}x{size}"
    expect_trained_accuracy(submission, grading, recipe, "build_cats_dogs_cnn", data=data,
                            hint="Check the activations (sigmoid output), the layers and the compile settings.",
                            input_shape=(size, size, 3))
