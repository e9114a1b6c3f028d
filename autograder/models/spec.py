"""What a Keras model is on the trusted side: plain data (:class:`ModelSpec`), never a live model.

Also the other values the grader may send into the student's functions: a :class:`Batches` (arrives as a
``tf.data.Dataset``) and a :class:`FolderArg` (a folder of files written into the job directory), and
:class:`ArchitectureError`, raised whenever a model's description is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MAX_CONFIG_CHARS = 4_000_000


class ArchitectureError(Exception):
    """The model's description is refused (not built-in, malformed, too large); the message says why."""


class TrainingFailed(ArchitectureError):
    """The grader's own training of a student's network raised an exception whose cause the grader recognises
    (:func:`autograder.keras_causes.explain`); the message is that cause, in the grader's words."""


@dataclass
class ModelSpec:
    """A Keras model as the worker described it: plain data, not a live model."""

    config_json: str
    weights: list[np.ndarray] = field(default_factory=list)
    weight_names: list[str] = field(default_factory=list)
    trainable: list[bool] = field(default_factory=list)
    compile: dict[str, Any] | None = None
    built: bool = False

    @property
    def config(self) -> dict[str, Any]:
        if len(self.config_json) > MAX_CONFIG_CHARS:
            raise ArchitectureError(f"the model's description is over {MAX_CONFIG_CHARS} characters")
        try:
            value = json.loads(self.config_json)
        except ValueError:
            raise ArchitectureError("the model's description is not valid JSON") from None
        if not isinstance(value, dict):
            raise ArchitectureError("the model's description is not a JSON object")
        return value

    @property
    def param_count(self) -> int:
        return int(sum(w.size for w in self.weights))


@dataclass
class Batches:
    """A dataset to send as an argument: the worker receives a tf.data.Dataset of these batches."""

    batches: list[tuple[np.ndarray, ...]]


@dataclass
class FolderArg:
    """A folder of files to send as an argument: written under ``name/`` in the job directory."""

    name: str
    files: dict[str, bytes]
    select: str | None = None  # the function receives "name/select" (one file of the folder) instead of "name"

    def __post_init__(self) -> None:
        if self.select is not None and self.select not in self.files:
            raise ValueError(f"{self.select!r}: select names one of the files")
        for path in [self.name, *self.files]:
            parts = Path(path).parts
            if not parts or Path(path).is_absolute() or ".." in parts or path.startswith("."):
                raise ValueError(f"{path!r}: names must be relative paths inside the folder")
        if len(Path(self.name).parts) != 1:
            raise ValueError(f"{self.name!r}: the folder name must be one plain name inside the folder")

    @classmethod
    def from_path(cls, folder: Path, name: str | None = None) -> FolderArg:
        folder = Path(folder)
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        return cls(name or folder.name, files)

