"""Keras models on the trusted side: plain data in, whitelisted rebuilds out.

A student's model reaches the grader only as a :class:`ModelSpec`: the architecture as Keras JSON,
the weight arrays and the compile settings (encoded in the worker by
:mod:`autograder.worker.keras_ext`). No model file written by the worker is ever loaded here and
nothing is unpickled. Before Keras sees the JSON, :func:`check_architecture` walks it and refuses
anything but built-in layers (no ``Lambda``, no custom classes, no unknown keys); only then does
:func:`rebuild` deserialise it, with ``safe_mode=True``.

Values the grader may send into the student's functions: a :class:`ModelSpec` or a live (trusted)
Keras model, a :class:`Batches` (arrives as a ``tf.data.Dataset``) and a :class:`FolderArg` (a folder
of files written into the job directory; the function receives its relative path).

One module per job:

- :mod:`~autograder.models.spec`: ModelSpec, Batches, FolderArg, ArchitectureError, TrainingFailed;
- :mod:`~autograder.models.codec`: the wire decoders and encoders of the trusted side;
- :mod:`~autograder.models.whitelist`: the built-in classes accepted, check_architecture, check_compile;
- :mod:`~autograder.models.rebuild`: rebuild and summary;
- :mod:`~autograder.models.training`: train_and_evaluate, graded_training, accuracy_of;
- :mod:`~autograder.models.expectations`: structure checks for hidden tests (ExpectedLayer, *_problems).

This package re-exports their public names for hidden suites (``models.summary(...)``); code inside the
package imports from the specific module. Keras is imported lazily: grading an assignment without models
never loads it.
"""

from autograder.models.codec import register_trusted, trusted_extensions
from autograder.models.expectations import (
    ExpectedLayer,
    compile_problems,
    layer_differences,
    layer_setting_problems,
    layer_type_problems,
    likely_cause,
    output_shape_problems,
    param_count_problems,
    root_cause,
    structure_failure,
)
from autograder.models.rebuild import rebuild, summary
from autograder.models.spec import ArchitectureError, Batches, FolderArg, ModelSpec, TrainingFailed
from autograder.models.training import TrainingResult, accuracy_of, graded_training, train_and_evaluate
from autograder.models.whitelist import check_architecture, check_compile

__all__ = [
    "ArchitectureError",
    "Batches",
    "ExpectedLayer",
    "FolderArg",
    "ModelSpec",
    "TrainingFailed",
    "TrainingResult",
    "accuracy_of",
    "check_architecture",
    "check_compile",
    "compile_problems",
    "graded_training",
    "layer_differences",
    "layer_setting_problems",
    "likely_cause",
    "layer_type_problems",
    "output_shape_problems",
    "param_count_problems",
    "rebuild",
    "register_trusted",
    "root_cause",
    "structure_failure",
    "summary",
    "train_and_evaluate",
    "trusted_extensions",
]
