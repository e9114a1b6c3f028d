"""The worker-side modules (autograder/worker/) import only what the untrusted worker can import.

The worker runs as ``python -I -S`` and loads these modules from their file paths: the ``autograder``
package is out of its reach. At module level they import only the standard library and numpy;
anything else (Keras, TensorFlow, IPython) only inside functions, and ``autograder`` never.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import autograder.worker

WORKER_DIR = Path(autograder.worker.__file__).parent
MODULE_LEVEL = frozenset(sys.stdlib_module_names) | {"numpy", "__future__"}
LAZY_ONLY = {"keras", "tensorflow"}  # and only in keras_ext


def _imports(tree: ast.AST) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement with whether it is inside a function (lazy)."""
    found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append((child, lazy))
            visit(child, lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

    visit(tree, False)
    return found


def violations(source: str, module: str) -> list[str]:
    """Sentences naming every import of ``source`` (the module ``module`` of autograder/worker/) that breaks
    the rule; empty when it keeps it."""
    out = []
    for node, lazy in _imports(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level:
            out.append(f"{module}:{node.lineno}: relative import (the worker loads its modules by path)")
            continue
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        for name in names:
            top = name.split(".")[0]
            where = f"{module}:{node.lineno}: import of {name}"
            if top == "autograder":
                out.append(f"{where} (the worker cannot import the autograder package)")
            elif top in LAZY_ONLY and not (lazy and module == "keras_ext"):
                out.append(f"{where} (Keras/TensorFlow only lazily, inside keras_ext's functions)")
            elif not lazy and top not in MODULE_LEVEL:
                out.append(f"{where} at module level (only the standard library and numpy)")
    return out


def test_every_worker_module_imports_only_what_the_worker_has() -> None:
    modules = sorted(WORKER_DIR.glob("*.py"))
    assert {p.stem for p in modules} >= {"__init__", "main", "wire", "keras_ext"}
    problems = [v for p in modules for v in violations(p.read_text(encoding="utf-8"), p.stem)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("source", "module", "expected"), [
    ("import keras\n", "keras_ext", "Keras/TensorFlow only lazily"),
    ("def f():\n    import tensorflow as tf\n", "main", "Keras/TensorFlow only lazily"),
    ("from autograder.config import Limits\n", "wire", "cannot import the autograder package"),
    ("def f():\n    from autograder import models\n", "keras_ext", "cannot import the autograder package"),
    ("import yaml\n", "wire", "at module level"),
    ("if True:\n    from IPython import get_ipython\n", "main", "at module level"),
    ("class A:\n    import pydantic\n", "main", "at module level"),
    ("from . import wire\n", "main", "relative import"),
])
def test_a_breach_of_the_rule_is_detected(source: str, module: str, expected: str) -> None:
    [problem] = violations(source, module)
    assert expected in problem and problem.startswith(f"{module}:")


@pytest.mark.parametrize(("source", "module"), [
    ("from __future__ import annotations\nimport os, json\nfrom collections.abc import Callable\n", "wire"),
    ("import numpy as np\nimport importlib.util\n", "main"),
    ("def f():\n    import keras\n    import tensorflow as tf\n", "keras_ext"),
    ("def main():\n    from IPython.core.interactiveshell import InteractiveShell\n", "main"),
])
def test_what_the_rule_allows_passes(source: str, module: str) -> None:
    assert violations(source, module) == []
