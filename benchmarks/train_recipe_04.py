"""Benchmark: 04_transfer_learning's accuracy test on a runner profile, the reference classifier and broken ones.

    .venv/bin/python benchmarks/train_recipe_04.py [--runner cpu] [--seeds 0 1 2 3 4]

Computes the recipe's features exactly as the hidden suite does (the ``_features`` of
autograder/hidden/04_transfer_learning/conftest.py: on the cpu profile, the ``textures`` data set of
autograder/datasets/ through a random-weight VGG16), then trains the solution notebook's
build_feature_classifier (the instructor's own code, run here) and two broken variants (a softmax on one
unit, a learning rate of 1e-7) with models.train_and_evaluate, as the grader does.

Prints one line about the data (data set, train/test counts, image size, feature shape, seconds to
extract the features), then per model its held-out accuracy for each seed, the seconds of training per
seed and the recipe's min_accuracy from course.yml, which should sit well below the reference and above
the broken ones. Figures are for the machine it runs on.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SUITE = REPO / "autograder" / "hidden" / "04_transfer_learning" / "conftest.py"
SOLUTION = REPO / "solutions" / "04_transfer_learning" / "transfer_learning.ipynb"


def _suite_conftest() -> Any:
    spec = importlib.util.spec_from_file_location("conftest_04", SUITE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reference_builder() -> Any:
    import keras
    import numpy as np

    nb = nbformat.read(str(SOLUTION), 4)
    [source] = [c.source for c in nb.cells
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "build_feature_classifier_code"]
    namespace: dict[str, Any] = {"keras": keras, "np": np}
    exec(source, namespace)  # noqa: S102 - the instructor's own solution cell
    return namespace["build_feature_classifier"]


def _variant(shape: tuple[int, ...], last: str = "sigmoid", rate: float = 2e-5) -> Any:
    import keras

    model = keras.Sequential([keras.Input(shape), keras.layers.Flatten(), keras.layers.Dense(256, activation="relu"),
                              keras.layers.Dropout(0.5), keras.layers.Dense(1, activation=last)])
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=rate), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runner", default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args()

    from autograder.config import load_course
    from autograder.models import ModelSpec, train_and_evaluate
    from autograder.worker.keras_ext import encode_model

    course = load_course(REPO / "course.yml")
    recipe = course.assignment("04_transfer_learning").training[args.runner]
    conftest = _suite_conftest()
    started = time.monotonic()
    train, test = conftest._features(args.runner, recipe.dataset, recipe.train_samples, recipe.test_samples,
                                     recipe.seed, recipe.image_size or 150, course.manifest_path)
    print(f"{recipe.dataset}: {len(train[1])} train / {len(test[1])} test images of {recipe.image_size}px, "
          f"features {train[0].shape[1:]} in {time.monotonic() - started:.1f} s")
    shape = train[0].shape[1:]
    models = {
        "reference (solution)": _reference_builder()(shape),
        "softmax on 1 unit": _variant(shape, last="softmax"),
        "learning rate 1e-7": _variant(shape, rate=1e-7),
    }
    for name, model in models.items():
        spec = ModelSpec(**encode_model(model))
        results = [train_and_evaluate(spec, train, test, epochs=recipe.epochs, batch_size=recipe.batch_size,
                                      seed=seed, time_limit_s=recipe.time_limit_s) for seed in args.seeds]
        accuracies = ", ".join(f"{r.accuracy:.3f}" for r in results)
        seconds = ", ".join(f"{r.seconds:.1f}" for r in results)
        print(f"{name:22s} accuracy per seed {args.seeds}: {accuracies}  (training s: {seconds}); "
              f"threshold {recipe.min_accuracy}")


if __name__ == "__main__":
    main()
