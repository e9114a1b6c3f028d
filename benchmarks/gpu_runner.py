"""The GPU grading runner's check: train the reference solutions with course.yml's gpu recipes, say if they pass.

    .venv/bin/python benchmarks/gpu_runner.py                      # on the GPU runner (needs a GPU and the data)
    .venv/bin/python benchmarks/gpu_runner.py --runner cpu --allow-cpu --assignments 04_transfer_learning

One command for a machine with a GPU (install ``tensorflow[and-cuda]`` of the pinned version beside the CPU build):
it fetches the data sets the profile's recipes name (``autograder datasets fetch``: their real download paths,
checked against the manifest's sha256), then for 02_mnist_cnn and 03_cats_and_dogs trains the solution's
architecture exactly as the hidden accuracy tests do (:func:`autograder.models.graded_training`), and for
04_transfer_learning computes the hidden suite's VGG16 features and trains the solution's classifier. It prints,
per assignment, the data, the held-out accuracy against the recipe's ``min_accuracy``, the seconds of data
loading and training and the device TensorFlow trained on, then whether every threshold holds (exit 0) or not
(exit 1). Without a GPU it refuses (exit 2) unless ``--allow-cpu``: then it checks the script itself, e.g. on
the cpu profile. Record its output in course.yml's gpu recipe descriptions and the README's "Measured" table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
ALL = ("02_mnist_cnn", "03_cats_and_dogs", "04_transfer_learning")


def _train_02_03(course: Any, aid: str, runner: str) -> tuple[float, float, float, str]:
    import train_recipes_02_03 as recipes  # the benchmark beside this one: how it builds the reference

    from autograder import datasets, models
    a = course.assignment(aid)
    recipe = a.training[runner]
    kwargs = {"input_shape": (recipe.image_size, recipe.image_size, 3)} if recipe.image_size else {}
    spec = recipes.reference_spec(course.solution_notebook(a), recipes.BUILDERS[aid], **kwargs)
    started = time.monotonic()
    train, test = datasets.recipe_data(recipe.dataset, recipe.train_samples, recipe.test_samples, recipe.seed,
                                       recipe.image_size, manifest=course.manifest_path)
    loading = time.monotonic() - started
    result = models.graded_training(spec, recipe, manifest=course.manifest_path)
    return result.accuracy, loading, result.seconds, f"{len(train[0])} train / {len(test[0])} test"


def _train_04(course: Any, runner: str) -> tuple[float, float, float, str]:
    import train_recipe_04 as bench  # the benchmark beside this one: the hidden suite's features

    from autograder.models import ModelSpec, train_and_evaluate
    from autograder.worker.keras_ext import encode_model
    recipe = course.assignment("04_transfer_learning").training[runner]
    started = time.monotonic()
    train, test = bench._suite_conftest()._features(runner, recipe.dataset, recipe.train_samples,
                                                    recipe.test_samples, recipe.seed, recipe.image_size or 150,
                                                    course.manifest_path)
    loading = time.monotonic() - started
    spec = ModelSpec(**encode_model(bench._reference_builder()(train[0].shape[1:])))
    result = train_and_evaluate(spec, train, test, epochs=recipe.epochs, batch_size=recipe.batch_size,
                                seed=recipe.seed, time_limit_s=recipe.time_limit_s)
    return result.accuracy, loading, result.seconds, f"{len(train[1])} train / {len(test[1])} test (features)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runner", default="gpu", help="runner profile of course.yml (default: gpu)")
    parser.add_argument("--assignments", nargs="+", default=list(ALL), choices=ALL)
    parser.add_argument("--allow-cpu", action="store_true", help="run without a GPU (to check the script)")
    parser.add_argument("--no-fetch", action="store_true", help="use the data sets already in the cache")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")

    import tensorflow as tf

    from autograder.config import load_course
    from autograder.datasets import registry

    gpus = tf.config.list_physical_devices("GPU")
    device = ", ".join(g.name for g in gpus) or "CPU only"
    print(f"TensorFlow {tf.__version__}; devices: {device}")
    if not gpus and not args.allow_cpu:
        print("No GPU is visible to TensorFlow: install tensorflow[and-cuda] of the pinned version and check "
              "nvidia-smi, or pass --allow-cpu to check the script on this machine.")
        return 2
    course = load_course(REPO / "course.yml")
    recipes = {aid: course.assignment(aid).training.get(args.runner) for aid in args.assignments}
    missing = [aid for aid, r in recipes.items() if r is None]
    if missing:
        print(f"course.yml has no {args.runner!r} recipe for {', '.join(missing)}")
        return 2
    if not args.no_fetch:
        names = {r.dataset for r in recipes.values() if r is not None}
        if "04_transfer_learning" in recipes and args.runner != "cpu":
            names.add("vgg16_notop")  # the ImageNet weights 04's features come from off the cpu profile
        for name in sorted(names):
            if name in registry.read_manifest(course.manifest_path):
                registry.fetch(name, manifest=course.manifest_path)
    failed = []
    for aid, recipe in recipes.items():
        assert recipe is not None
        accuracy, loading, training, data = (_train_04(course, args.runner) if aid == "04_transfer_learning"
                                             else _train_02_03(course, aid, args.runner))
        holds = accuracy >= recipe.min_accuracy
        failed += [] if holds else [aid]
        print(f"{aid} [{args.runner}] on {device}: {recipe.dataset}, {data}, {recipe.epochs} epochs: accuracy "
              f"{accuracy:.4f}, threshold {recipe.min_accuracy} {'holds' if holds else 'NOT MET'}; data "
              f"{loading:.1f} s, training {training:.1f} s", flush=True)
    print("every threshold holds" if not failed else f"thresholds not met: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
