"""Benchmark: course.yml's training recipes of 02_mnist_cnn and 03_cats_and_dogs on the reference solutions.

    .venv/bin/python benchmarks/train_recipes_02_03.py [RUNNER]      (default runner: cpu)

Trains each solution's architecture exactly as the hidden accuracy tests do (models.graded_training:
whitelist, rebuild with fresh seeded weights, the solution's compile settings, the recipe's data from
autograder/datasets/). Prints one line per assignment: the data set, train/test counts, epochs and batch
size, the held-out accuracy next to the recipe's min_accuracy, an untrained network's accuracy, and the
seconds spent training and loading the data: the numbers behind each recipe's min_accuracy. Not a test;
evidence for instructors, for the machine it runs on.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder import datasets, models  # noqa: E402
from autograder.config import load_course  # noqa: E402
from autograder.worker.keras_ext import encode_model  # noqa: E402

BUILDERS = {"02_mnist_cnn": "build_mnist_cnn", "03_cats_and_dogs": "build_cats_dogs_cnn"}


def reference_spec(notebook: Path, builder: str, **kwargs: Any) -> models.ModelSpec:
    nb = nbformat.read(str(notebook), 4)
    namespace: dict[str, Any] = {}
    exec(nb.cells[1].source, namespace)  # the imports cell
    [source] = [c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == f"{builder}_code"]
    exec(source, namespace)
    return models.ModelSpec(**encode_model(namespace[builder](**kwargs)))


def main(runner: str = "cpu") -> None:
    course = load_course(REPO / "course.yml")
    for aid, builder in BUILDERS.items():
        a = course.assignment(aid)
        recipe = a.training[runner]
        kwargs = {"input_shape": (recipe.image_size, recipe.image_size, 3)} if recipe.image_size else {}
        spec = reference_spec(course.solution_notebook(a), builder, **kwargs)
        started = time.monotonic()
        train, test = datasets.recipe_data(recipe.dataset, recipe.train_samples, recipe.test_samples, recipe.seed,
                                           recipe.image_size, manifest=course.manifest_path)
        loading = time.monotonic() - started
        result = models.graded_training(spec, recipe, manifest=course.manifest_path)
        untrained = models.accuracy_of(models.rebuild(spec).predict(test[0], verbose=0), test[1])
        print(f"{aid} [{runner}]: {recipe.dataset}, {len(train[0])} train / {len(test[0])} test, {recipe.epochs} "
              f"epochs, batch {recipe.batch_size}: accuracy {result.accuracy:.4f} (needs {recipe.min_accuracy}, "
              f"untrained {untrained:.3f}); training {result.seconds:.1f} s, data {loading:.1f} s")


if __name__ == "__main__":
    main(*sys.argv[1:2])
