"""The MNIST assignment (02_mnist_cnn) end to end, through the real CLI, and the grader's Keras training.

The submissions are graded once, in one batch (a module-scoped fixture): the solution (twice), the
released stub, and named fixture notebooks (tests/fixtures/02_*.ipynb, made by make_keras_fixtures.py).
The cpu runner profile trains on real offline data: Fashion-MNIST. 03_cats_and_dogs is in
test_assignments_cats.py (a file of its own, so that the two batches can run in parallel).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autograder import datasets, models
from autograder.config import TrainingRecipe, load_course
from autograder.models.training import _labels_for
from autograder.samples import make_sample
from tests.conftest import (
    FIXTURES,
    REPO,
    assert_full_marks,
    assert_stub_gets_zero,
    failed_tests,
    grade_notebooks,
    points_of,
    require,
)

pytestmark = pytest.mark.slow
FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


@pytest.fixture(scope="module")
def mnist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    require(FASHION.is_file() or (datasets.cache_dir() / "fashion_mnist").is_dir(),
            "Fashion-MNIST is not available: `make system-deps` (Debian's dataset-fashion-mnist) or "
            "`autograder datasets fetch fashion_mnist`")
    course = load_course(REPO / "course.yml")
    a = course.assignment("02_mnist_cnn")
    correct = make_sample(course, a, "correct")
    subs: dict[str, str | Path] = {"correct": correct, "correct_again": correct, "stub": make_sample(course, a, "stub")}
    for name in ("02_cnn_without_pooling", "02_crippled_dense_1_unit", "02_lambda_layer"):
        subs[name.removeprefix("02_")] = FIXTURES / f"{name}.ipynb"
    # two grader processes, as in production: the solution and its copy may be trained in different ones and must
    # agree (graded training once differed between Dask worker processes)
    return grade_notebooks(tmp_path_factory.mktemp("grade02"), "02_mnist_cnn", subs, jobs=2)


STRUCTURE = {"test_layers_in_the_lectures_order", "test_output_shapes_match_the_lectures_summary",
             "test_93322_parameters"}


def test_02_solution_gets_full_marks_and_its_training_cell_is_skipped(mnist: dict[str, Any]) -> None:
    assert_full_marks(mnist["correct"], 10)


def test_02_grading_twice_gives_the_same_result(mnist: dict[str, Any]) -> None:
    def key(r: dict[str, Any]) -> list[tuple[str, float, str, dict[str, float]]]:
        return [(t["name"], t["score"], t["output"], t.get("measurements", {})) for t in r["tests"]]

    assert any(k[3] for k in key(mnist["correct"])), "the held-out accuracy is measured"
    assert key(mnist["correct"]) == key(mnist["correct_again"])


def test_02_stub_gets_zero(mnist: dict[str, Any]) -> None:
    assert_stub_gets_zero(mnist["stub"])


def test_02_cnn_without_pooling_loses_its_structure_points_once(mnist: dict[str, Any]) -> None:
    """One mistake (the two poolings left out) breaks three structure tests; each starts with the same cause, so
    the question charges it once: their shares together, at most half of the question's 4 points."""
    r = mnist["cnn_without_pooling"]
    failed = failed_tests(r)
    assert set(failed) == STRUCTURE, failed
    assert points_of(r, STRUCTURE) > 2
    assert r["score"] == pytest.approx(10 - 2, abs=0.01)
    causes = {m.partition(" Case: ")[0] for m in failed.values()}
    assert len(causes) == 1 and "missing MaxPooling2D after layer 1 (Conv2D)" in causes.pop(), failed
    assert "2,038,922 parameters; the lecture's has 93,322" in failed["test_93322_parameters"]


def test_02_crippled_network_loses_the_accuracy_points_with_its_accuracy(mnist: dict[str, Any]) -> None:
    r = mnist["crippled_dense_1_unit"]
    [accuracy] = [t for t in r["tests"] if t["question"] == "cnn_accuracy"]
    assert (accuracy["score"], accuracy["max_score"]) == (0, 2)
    # The figure depends on the grader's CPU (0.221 on the machines of earlier sessions, 0.220 on an AMD EPYC: issue
    # 24), not on the grader process: the message quotes the accuracy the grader measured, far below the threshold
    measured = accuracy["measurements"]["held_out_accuracy"]
    assert 0.1 < measured < 0.4, measured
    assert f"reached a held-out accuracy of {measured:.3f}" in accuracy["output"]
    assert "at least 0.72 is needed" in accuracy["output"]
    assert "A likely cause: Dense number 1 has units=1; it should be 64." in accuracy["output"]  # the hint by cause
    assert failed_tests(r)["test_filters_kernels_and_activations"].startswith(
        "Dense number 1 has units=1; it should be 64. Case: ")


def test_02_lambda_layer_is_refused_by_the_whitelist(mnist: dict[str, Any]) -> None:
    r = mnist["lambda_layer"]
    failed = {t["question"] for t in r["tests"] if t["status"] == "failed"}
    assert failed == {"build_mnist_cnn", "cnn_accuracy"}
    messages = failed_tests(r).values()
    assert all("is a Lambda layer. The grader accepts only built-in Keras layers" in m
               for m in messages if "build_mnist_cnn" in m), messages


def _lecture_cnn_spec() -> models.ModelSpec:
    import keras

    from autograder.worker.keras_ext import encode_model

    cnn = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(32, (3, 3), activation="relu"), keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Conv2D(64, (3, 3), activation="relu"), keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Conv2D(64, (3, 3), activation="relu"), keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10, activation="softmax"),
    ])
    cnn.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return models.ModelSpec(**encode_model(cnn))


def test_grader_training_is_seeded_and_repeatable() -> None:
    recipe = TrainingRecipe(dataset="digits", train_samples=600, test_samples=300, epochs=2, batch_size=32,
                            min_accuracy=0.5, seed=3)
    spec = _lecture_cnn_spec()
    manifest = load_course(REPO / "course.yml").manifest_path
    first = models.graded_training(spec, recipe, manifest=manifest)
    second = models.graded_training(spec, recipe, manifest=manifest)
    assert first.accuracy == second.accuracy and first.epochs_run == 2
    x_test, y_test = datasets.recipe_data("digits", 600, 300, 3, manifest=manifest)[1]
    untrained = models.accuracy_of(models.rebuild(spec).predict(x_test, verbose=0), y_test)
    assert first.accuracy > untrained + 0.3  # it really learned


def test_grader_training_ignores_other_threads_drawing_random_numbers() -> None:
    """A Dask worker's event loop draws from Python's global ``random`` at any moment; Keras draws unset seeds
    from it when it builds a layer. The grader pins every seed of the architecture first, so the same network
    trains to the same weights and accuracy however many numbers other threads drew meanwhile."""
    import random
    import threading

    recipe = TrainingRecipe(dataset="digits", train_samples=300, test_samples=100, epochs=1, batch_size=32,
                            min_accuracy=0.5, seed=5)
    spec = _lecture_cnn_spec()
    manifest = load_course(REPO / "course.yml").manifest_path
    quiet = models.graded_training(spec, recipe, manifest=manifest)
    stop = threading.Event()

    def draw() -> None:
        while not stop.is_set():
            random.random()

    noisy = threading.Thread(target=draw, daemon=True)
    noisy.start()
    try:
        busy = models.graded_training(spec, recipe, manifest=manifest)
    finally:
        stop.set()
        noisy.join()
    assert (busy.accuracy, busy.history) == (quiet.accuracy, quiet.history)
    pinned = json.loads(models.training.pinned_seeds(spec, 5).config_json)
    assert '"seed": null' not in json.dumps(pinned) and '"seed": null' in spec.config_json


def test_labels_follow_the_students_loss() -> None:
    spec = _lecture_cnn_spec()
    model = models.rebuild(spec)
    y = np.array([3, 0, 9])
    assert _labels_for(model, "categorical_crossentropy", y).tolist()[0] == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert _labels_for(model, "sparse_categorical_crossentropy", y).tolist() == [3, 0, 9]


def test_02_training_is_drawn_and_reported_against_the_threshold(mnist: dict[str, Any]) -> None:
    """The grader's training of each architecture is a picture in the student's feedback (per-epoch accuracy,
    the held-out accuracy, the threshold) and a number in the class report's accuracy distribution."""
    from autograder import class_report, figures

    seen = {}
    for student in ("correct", "crippled_dense_1_unit"):
        [test] = [t for t in mnist[student]["tests"] if t["question"] == "cnn_accuracy"]
        m = test["measurements"]
        [figure] = test["figures"]
        assert figure["kind"] == "training" and figure["accuracy"] == m["held_out_accuracy"]
        assert figure["threshold"] == m["threshold"] == 0.72
        assert len(figure["history"]["loss"]) == figure["epochs"] >= 1
        assert figures.draw(figure).startswith(b"\x89PNG")
        seen[student] = m["held_out_accuracy"]
    assert seen["correct"] >= 0.72 > seen["crippled_dense_1_unit"]
    a02 = load_course(REPO / "course.yml").assignment("02_mnist_cnn")
    [entry] = class_report.build(list(mnist.values()), a02)["accuracies"]
    assert entry["threshold"] == 0.72 and seen["correct"] in entry["values"]
    assert entry["reached"] == sum(v >= 0.72 for v in entry["values"]) >= 2  # the solution, graded twice
