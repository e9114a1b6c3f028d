"""The Keras assignments (02_mnist_cnn, 03_cats_and_dogs) end to end, through the real CLI.

Each assignment's submissions are graded once, in one batch (module-scoped fixtures): the solution,
the released stub, and named fixture notebooks (tests/fixtures/02_*.ipynb, made by
make_keras_fixtures.py). The cpu runner profile trains on real offline data: Fashion-MNIST for 02,
generated shape pictures for 03.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autograder import datasets, models
from autograder.config import TrainingRecipe, load_course
from autograder.models.training import _labels_for
from autograder.samples import make_sample
from tests.conftest import FIXTURES, REPO, make_course, require, run_cli

pytestmark = pytest.mark.slow
FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


def _grade(tmp: Path, assignment_id: str, subs: dict[str, str | Path]) -> dict[str, Any]:
    course_yml = make_course(tmp / "course", total_timeout_s=300)
    folder = tmp / "subs"
    folder.mkdir()
    for name, source in subs.items():
        target = folder / f"{name}.ipynb"
        if isinstance(source, Path):
            shutil.copy(source, target)
        else:
            target.write_text(source)
    out = tmp / "out"
    proc = run_cli("--course", course_yml, "grade", assignment_id, *sorted(folder.iterdir()), "--out", out,
                   "--jobs", "2", "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/results.json")}


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
    return _grade(tmp_path_factory.mktemp("grade02"), "02_mnist_cnn", subs)


@pytest.fixture(scope="module")
def cats(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    course = load_course(REPO / "course.yml")
    a = course.assignment("03_cats_and_dogs")
    subs: dict[str, str | Path] = {kind: make_sample(course, a, kind) for kind in ("correct", "stub")}
    return _grade(tmp_path_factory.mktemp("grade03"), "03_cats_and_dogs", subs)


def _failed(result: dict[str, Any]) -> dict[str, str]:
    return {t["name"]: t["output"] for t in result["tests"] if t["status"] != "passed"}


def _points(result: dict[str, Any], names: set[str]) -> float:
    return sum(t["max_score"] for t in result["tests"] if t["name"] in names)


STRUCTURE = {"test_layers_in_the_lectures_order", "test_output_shapes_match_the_lectures_summary",
             "test_93322_parameters"}


def test_02_solution_gets_full_marks_and_its_training_cell_is_skipped(mnist: dict[str, Any]) -> None:
    r = mnist["correct"]
    assert (r["status"], r["score"], r["max_score"]) == ("graded", 10, 10), _failed(r)
    assert all(c["status"] == "ok" for c in r["cells"]), r["cells"]


def test_02_grading_twice_gives_the_same_result(mnist: dict[str, Any]) -> None:
    def key(r: dict[str, Any]) -> list[tuple[str, float, str]]:
        return [(t["name"], t["score"], t["output"]) for t in r["tests"]]

    assert key(mnist["correct"]) == key(mnist["correct_again"])


def test_02_stub_gets_zero(mnist: dict[str, Any]) -> None:
    r = mnist["stub"]
    assert (r["status"], r["score"]) == ("graded", 0)
    assert all("not implemented yet" in t["output"] for t in r["tests"])


def test_02_cnn_without_pooling_loses_exactly_the_structure_points(mnist: dict[str, Any]) -> None:
    r = mnist["cnn_without_pooling"]
    failed = _failed(r)
    assert set(failed) == STRUCTURE, failed
    assert r["score"] == pytest.approx(10 - _points(r, STRUCTURE), abs=0.01)
    assert "missing MaxPooling2D after layer 1 (Conv2D)" in failed["test_layers_in_the_lectures_order"]
    assert "2,038,922 parameters; the lecture's has 93,322" in failed["test_93322_parameters"]


def test_02_crippled_network_loses_the_accuracy_points_with_its_accuracy(mnist: dict[str, Any]) -> None:
    r = mnist["crippled_dense_1_unit"]
    [accuracy] = [t for t in r["tests"] if t["question"] == "cnn_accuracy"]
    assert (accuracy["score"], accuracy["max_score"]) == (0, 2)
    assert "reached a held-out accuracy of 0.1" in accuracy["output"]
    assert "at least 0.72 is needed" in accuracy["output"]
    assert "Dense number 1 has units=1; it should be 64." in _failed(r).values()


def test_02_lambda_layer_is_refused_by_the_whitelist(mnist: dict[str, Any]) -> None:
    r = mnist["lambda_layer"]
    failed = {t["question"] for t in r["tests"] if t["status"] == "failed"}
    assert failed == {"build_mnist_cnn", "cnn_accuracy"}
    messages = _failed(r).values()
    assert all("is a Lambda layer. The grader accepts only built-in Keras layers" in m
               for m in messages if "build_mnist_cnn" in m), messages


def test_03_solution_gets_full_marks(cats: dict[str, Any]) -> None:
    r = cats["correct"]
    assert (r["status"], r["score"], r["max_score"]) == ("graded", 14, 14), _failed(r)
    assert all(c["status"] == "ok" for c in r["cells"]), r["cells"]


def test_03_stub_gets_zero(cats: dict[str, Any]) -> None:
    r = cats["stub"]
    assert (r["status"], r["score"]) == ("graded", 0)
    assert all("not implemented yet" in t["output"] for t in r["tests"])


def test_released_notebooks_are_current() -> None:
    proc = run_cli("release", "--check", "02_mnist_cnn", "03_cats_and_dogs")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "02_mnist_cnn: current" in proc.stdout and "03_cats_and_dogs: current" in proc.stdout


def test_practice_zip_is_reproducible(tmp_path: Path) -> None:
    again = datasets.write_practice_zip(tmp_path / "again.zip", n_train=250, n_validation=75, seed=7)
    assert again.read_bytes() == (REPO / "datasets" / "practice" / "cats_and_dogs_small.zip").read_bytes()


def test_fixture_notebooks_are_current(tmp_path: Path) -> None:
    import nbformat

    from tests.fixtures.make_keras_fixtures import FIXTURES as EDITS
    from tests.fixtures.make_keras_fixtures import make

    for name, edits in EDITS.items():
        assert make(name, edits) == nbformat.read(str(FIXTURES / f"{name}.ipynb"), 4), name


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


def test_labels_follow_the_students_loss() -> None:
    spec = _lecture_cnn_spec()
    model = models.rebuild(spec)
    y = np.array([3, 0, 9])
    assert _labels_for(model, "categorical_crossentropy", y).tolist()[0] == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert _labels_for(model, "sparse_categorical_crossentropy", y).tolist() == [3, 0, 9]
