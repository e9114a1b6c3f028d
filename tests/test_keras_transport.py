"""Keras values across the sandbox boundary: real worker round trips, the whitelist, skipped training."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autograder.config import Limits
from autograder.grade import KERAS_EXT
from autograder.models import (
    ArchitectureError,
    Batches,
    FolderArg,
    ModelSpec,
    check_architecture,
    check_compile,
    layer_differences,
    rebuild,
    summary,
    trusted_extensions,
)
from autograder.sandbox.process import Worker, WorkerSpec
from autograder.worker import wire
from autograder.worker.keras_ext import SKIP_MESSAGE, encode_model

CELL = '''
import keras
import numpy as np
import tensorflow as tf

def small_cnn():
    model = keras.Sequential([
        keras.Input(shape=(12, 12, 1)),
        keras.layers.Conv2D(4, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return model

def freeze_first(model):
    model.layers[0].trainable = False
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model

def predict(model, x):
    return np.asarray(model(x))

def with_lambda():
    return keras.Sequential([keras.Input(shape=(4,)), keras.layers.Lambda(lambda t: t * 2)])

@keras.saving.register_keras_serializable(package="student")
class Doubler(keras.layers.Layer):
    def call(self, x):
        return x * 2

def with_custom_layer():
    return keras.Sequential([keras.Input(shape=(4,)), Doubler(), keras.layers.Dense(2)])

class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2)
    def call(self, x):
        return self.dense(x)

def subclassed():
    model = Subclassed()
    model(np.zeros((1, 3), "float32"))
    return model

def dataset(n=10, batch=4):
    x = np.arange(n * 2, dtype="float32").reshape(n, 2)
    return tf.data.Dataset.from_tensor_slices((x, np.arange(n))).batch(batch)

def count_dataset(ds):
    return [int(x.shape[0]) for x, y in ds], float(sum(float(np.sum(x)) for x, y in ds))

def fit_epochs(model, x, y):
    return len(model.fit(x, y, epochs=2, verbose=0).epoch)

def read_text(path):
    return open(path).read()

def read_folder(path):
    import os
    return sorted((os.path.relpath(os.path.join(d, f), path), open(os.path.join(d, f), "rb").read().decode())
                  for d, _, files in os.walk(path) for f in files)
'''

TRAIN_CELL = '''
_history = small_cnn().fit(np.zeros((4, 12, 12, 1)), np.eye(3)[[0, 1, 2, 0]], epochs=3, verbose=0)
cell_epochs = len(_history.epoch)
'''


def _spec(skip: bool = True) -> WorkerSpec:
    return WorkerSpec(limits=Limits(), extensions=[KERAS_EXT], trusted_ext=trusted_extensions(),
                      cell_options={"skip_training": skip})


class Notebook:
    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def cell(self, source: str) -> dict[str, Any]:
        reply = self.worker.request({"op": "run_cell", "source": source, "options": self.worker.spec.cell_options},
                                    120)
        assert reply["ok"], reply
        return reply

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        reply = self.worker.request({"op": "call", "name": name, "args": list(args), "kwargs": kwargs}, 120)
        assert reply["ok"], reply
        return reply["value"]

    def reply(self, name: str, *args: Any) -> dict[str, Any]:
        return self.worker.request({"op": "call", "name": name, "args": list(args), "kwargs": {}}, 120)


@pytest.fixture(scope="module")
def notebook() -> Iterator[Notebook]:
    with Worker(_spec()) as worker:
        nb = Notebook(worker)
        nb.cell(CELL)
        yield nb


def test_a_model_comes_back_as_plain_data(notebook: Notebook) -> None:
    spec = notebook.call("small_cnn")
    assert isinstance(spec, ModelSpec)
    assert spec.built and spec.param_count == 40 + 303
    assert spec.compile is not None and spec.compile["optimizer"]["class_name"] == "RMSprop"
    assert (spec.compile["loss"], spec.compile["metrics"]) == ("categorical_crossentropy", ["accuracy"])
    assert [w.shape for w in spec.weights] == [(3, 3, 1, 4), (4,), (100, 3), (3,)]
    info = summary(spec)
    assert [layer["class_name"] for layer in info["layers"]] == ["Conv2D", "MaxPooling2D", "Flatten", "Dense"]
    assert [layer["output_shape"] for layer in info["layers"]] == [
        (None, 10, 10, 4), (None, 5, 5, 4), (None, 100), (None, 3)
    ]
    assert [layer["params"] for layer in info["layers"]] == [40, 0, 0, 303]
    assert info["total_params"] == 343 and info["trainable_params"] == 343
    assert info["layers"][0]["config"]["activation"] == "relu"


def test_the_rebuilt_model_predicts_like_the_students(notebook: Notebook) -> None:
    spec = notebook.call("small_cnn")
    x = np.random.default_rng(0).random((5, 12, 12, 1), dtype=np.float32)
    theirs = notebook.call("predict", spec, x)
    ours = np.asarray(rebuild(spec)(x))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_a_model_sent_as_an_argument_comes_back_modified(notebook: Notebook) -> None:
    spec = notebook.call("small_cnn")
    back = notebook.call("freeze_first", spec)
    assert back.trainable == [False, False, True, True]
    for a, b in zip(spec.weights, back.weights, strict=True):
        np.testing.assert_array_equal(a, b)
    assert back.compile is not None and back.compile["optimizer"]["class_name"] == "Adam"
    info = summary(back)
    assert info["layers"][0]["trainable"] is False
    assert (info["trainable_params"], info["non_trainable_params"]) == (303, 40)


def test_a_live_trusted_model_can_be_sent(notebook: Notebook) -> None:
    import keras

    model = keras.Sequential([keras.Input(shape=(12, 12, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
    x = np.ones((2, 12, 12, 1), dtype=np.float32)
    np.testing.assert_allclose(notebook.call("predict", model, x), np.asarray(model(x)), rtol=1e-5, atol=1e-6)


def _frozen_models() -> dict[str, Any]:
    """Models whose trainable weights Keras counts in different ways (built live on the trusted side)."""
    import keras

    def base(name: str) -> Any:
        return keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, name=f"{name}_a"),
                                 keras.layers.Dense(3, name=f"{name}_b")], name=name)

    frozen = base("frozen")
    frozen.trainable = False
    reopened = base("reopened")
    reopened.trainable = False
    reopened.layers[-1].trainable = True  # Keras does train this layer of a frozen nested model
    whole = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4), keras.layers.Dense(2)], name="whole")
    whole.trainable = False
    whole.layers[0].trainable = True  # ... but nothing of a model whose own trainable is False
    nested = base("nested")
    nested.trainable = False
    inputs = keras.Input((8,))
    return {
        "frozen nested model": keras.Sequential([keras.Input((8,)), frozen, keras.layers.Dense(2)]),
        "layer re-enabled in a frozen nested model": keras.Sequential([keras.Input((8,)), reopened,
                                                                       keras.layers.Dense(2)]),
        "frozen Sequential with a re-enabled layer": whole,
        "functional model around a frozen Sequential": keras.Model(inputs, keras.layers.Dense(2)(nested(inputs))),
    }


@pytest.mark.parametrize("case", list(_frozen_models()))
def test_summary_counts_trainable_weights_as_keras_does(case: str) -> None:
    model = _frozen_models()[case]
    model.compile(optimizer="adam", loss="mse")
    spec = ModelSpec(**encode_model(model))
    info = summary(spec)
    assert info["trainable_params"] == sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert info["non_trainable_params"] == sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    assert [layer["trainable"] for layer in info["layers"]] == [
        layer.trainable for layer in model.layers if type(layer).__name__ != "InputLayer"]
    rebuilt = rebuild(spec)  # (nested layers' variable paths lose the model's name when rebuilt)
    assert [v.path.split("/")[-2:] for v in rebuilt.trainable_weights] == [
        v.path.split("/")[-2:] for v in model.trainable_weights]


def test_datasets_cross_both_ways(notebook: Notebook) -> None:
    batches = notebook.call("dataset", 10, 4)
    assert [b[0].shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), np.arange(10))
    sizes, total = notebook.call("count_dataset", Batches([(np.ones((3, 2)), np.zeros(3)), (np.ones((1, 2)),
                                                                                            np.zeros(1))]))
    assert (sizes, total) == ([3, 1], 8.0)


def test_a_folder_is_written_into_the_job_directory(notebook: Notebook) -> None:
    folder = FolderArg("images", {"cats/a.txt": b"meow", "dogs/b.txt": b"woof"})
    assert notebook.call("read_folder", folder) == [("cats/a.txt", "meow"), ("dogs/b.txt", "woof")]
    assert notebook.call("read_text", FolderArg("more", {"x/c.txt": b"!"}, select="x/c.txt")) == "!"


def test_a_folder_cannot_escape_the_job_directory() -> None:
    for name, files in (("x", {"../../evil": b"!"}), ("../x", {"a": b""}), ("x", {"/etc/passwd": b""})):
        with pytest.raises(ValueError, match="inside the folder"):
            FolderArg(name, files)


def test_lambda_layer_is_refused_before_keras_sees_it(notebook: Notebook) -> None:
    spec = notebook.call("with_lambda")
    with pytest.raises(ArchitectureError, match=r"Lambda layer.*only built-in Keras layers"):
        check_architecture(spec)
    with pytest.raises(ArchitectureError, match="Lambda"):
        rebuild(spec)


def test_custom_layer_is_refused(notebook: Notebook) -> None:
    spec = notebook.call("with_custom_layer")
    with pytest.raises(ArchitectureError, match=r"Doubler.*custom class.*student>Doubler"):
        check_architecture(spec)


def test_subclassed_model_is_refused(notebook: Notebook) -> None:
    spec = notebook.call("subclassed")
    with pytest.raises(ArchitectureError, match=r"'Subclassed'.*not a subclass of keras.Model"):
        check_architecture(spec)


def _tampered(spec: ModelSpec, edit: Any) -> ModelSpec:
    config = json.loads(spec.config_json)
    edit(config)
    return ModelSpec(json.dumps(config), spec.weights, spec.weight_names, spec.trainable, spec.compile, spec.built)


def test_unknown_keys_modules_and_activations_are_refused(notebook: Notebook) -> None:
    spec = notebook.call("small_cnn")
    check_architecture(spec)

    def extra_key(c: dict[str, Any]) -> None:
        c["config"]["layers"][1]["exec"] = "print(1)"

    def other_module(c: dict[str, Any]) -> None:
        c["config"]["layers"][1]["module"] = "os"

    def bad_activation(c: dict[str, Any]) -> None:
        c["config"]["layers"][1]["config"]["activation"] = "os.system"

    def unknown_layer(c: dict[str, Any]) -> None:
        c["config"]["layers"][2]["class_name"] = "TFSMLayer"

    for edit, message in ((extra_key, r"unknown key\(s\) \['exec'\]"), (other_module, "custom class"),
                          (bad_activation, "not a built-in Keras activation"),
                          (unknown_layer, "TFSMLayer.*not among the built-in")):
        with pytest.raises(ArchitectureError, match=message):
            check_architecture(_tampered(spec, edit))


def test_compile_settings_are_checked(notebook: Notebook) -> None:
    spec = notebook.call("small_cnn")
    assert check_compile(spec)["loss"] == "categorical_crossentropy"
    spec.compile = None
    with pytest.raises(ArchitectureError, match="not compiled"):
        check_compile(spec)


def test_malformed_model_data_is_a_wire_error() -> None:
    ext = trusted_extensions()
    bad = {"config_json": "{}", "weights": [[1, 2]], "weight_names": ["w"], "trainable": [True]}
    message = wire.encode({"x": 1})
    assert message  # sanity: plain values still encode
    with pytest.raises(wire.WireError, match="numeric arrays"):
        ext.decoders["keras_model"](bad)
    with pytest.raises(wire.WireError, match="malformed dataset"):
        ext.decoders["dataset"]({"batches": [["not an array"]]})


def _output_shows(worker: Worker, count: int, timeout: float = 10.0) -> bool:
    """The worker's output is read by a thread: give it a moment to arrive after the cell's reply."""
    deadline = time.monotonic() + timeout
    while worker.output.text().count(SKIP_MESSAGE) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return worker.output.text().count(SKIP_MESSAGE) == count


def test_training_is_skipped_in_cells_but_not_in_calls(notebook: Notebook) -> None:
    before = notebook.worker.output.text().count(SKIP_MESSAGE)
    notebook.cell(TRAIN_CELL + "assert cell_epochs == 0 and _history.history['accuracy'] == []\n")
    assert _output_shows(notebook.worker, before + 1)
    spec = notebook.call("small_cnn")
    x, y = np.zeros((4, 12, 12, 1), "float32"), np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    assert notebook.call("fit_epochs", spec, x, y) == 2


def test_training_skip_covers_a_cell_that_first_imports_keras() -> None:
    with Worker(_spec()) as worker:
        nb = Notebook(worker)
        nb.cell(CELL + TRAIN_CELL + "assert cell_epochs == 0\n")
        assert _output_shows(worker, 1)


def test_training_cells_run_when_the_course_says_so() -> None:
    with Worker(_spec(skip=False)) as worker:
        nb = Notebook(worker)
        nb.cell(CELL + TRAIN_CELL + "assert cell_epochs == 3\n")
        assert SKIP_MESSAGE not in worker.output.text()


def test_layer_differences_name_the_missing_layer() -> None:
    lecture = ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D", "Flatten", "Dense", "Dense"]
    assert layer_differences(lecture, lecture) == []
    no_pool = ["Conv2D", "Conv2D", "MaxPooling2D", "Conv2D", "Flatten", "Dense", "Dense"]
    assert layer_differences(no_pool, lecture) == ["missing MaxPooling2D after layer 1 (Conv2D)"]


def test_grading_spec_carries_the_extension(repo: Path) -> None:
    from autograder.config import load_course
    from autograder.grade import worker_spec

    course = load_course(repo / "course.yml")
    spec = worker_spec(course, course.assignments[0])
    assert spec.extensions == [KERAS_EXT] and spec.cell_options == {"skip_training": True}
    assert "keras_model" in spec.trusted_ext.decoders
