"""Structure checks for hidden tests: a model's :func:`~autograder.models.rebuild.summary` against a reference
architecture. They return sentences; an empty list means "as expected"."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any


def layer_differences(actual: list[str], expected: list[str]) -> list[str]:
    """Human sentences for how a list of layer types differs from the expected one (empty when equal)."""
    out = []
    matcher = difflib.SequenceMatcher(a=expected, b=actual, autojunk=False)
    for op, e1, e2, a1, a2 in matcher.get_opcodes():
        after = f" after layer {a1} ({actual[a1 - 1]})" if a1 > 0 else " at the start"
        if op == "delete":
            out.append(f"missing {', '.join(expected[e1:e2])}{after}")
        elif op == "insert":
            out.append(f"unexpected {', '.join(actual[a1:a2])}{after}")
        elif op == "replace":
            out.append(f"{', '.join(actual[a1:a2])} where the lecture has {', '.join(expected[e1:e2])}{after}")
    return out


@dataclass(frozen=True)
class ExpectedLayer:
    """One layer of a reference architecture, as :func:`summary` describes it."""

    class_name: str
    output_shape: tuple[int | None, ...]
    params: int
    config: dict[str, Any] = field(default_factory=dict)  # settings that must match, e.g. {"filters": 32}


def _types(info: dict[str, Any]) -> list[str]:
    return [str(layer["class_name"]) for layer in info["layers"]]


def layer_type_problems(info: dict[str, Any], expected: list[ExpectedLayer], reference: str = "the lecture's") -> \
        list[str]:
    actual, wanted = _types(info), [e.class_name for e in expected]
    differences = layer_differences(actual, wanted)
    if not differences:
        return []
    return [f"Your layers are {', '.join(actual) or '(none)'}; {reference} are {', '.join(wanted)}: "
            + "; ".join(differences) + "."]


def output_shape_problems(info: dict[str, Any], expected: list[ExpectedLayer], input_shape: tuple[int | None, ...],
                          reference: str = "the lecture's") -> list[str]:
    if info["input_shape"] != input_shape:
        return [f"Your network's input shape is {info['input_shape']}; it should be {input_shape}."]
    layers = info["layers"]
    for i, (layer, want) in enumerate(zip(layers, expected, strict=False), start=1):
        if layer["output_shape"] != want.output_shape:
            return [f"Layer {i} ({layer['class_name']}) outputs {layer['output_shape']}; layer {i} of {reference} "
                    f"network ({want.class_name}) outputs {want.output_shape}."]
    if len(layers) != len(expected):
        return [f"Your network has {len(layers)} layers, {reference} has {len(expected)}; its last output shape is "
                f"{expected[-1].output_shape}."]
    return []


def param_count_problems(info: dict[str, Any], expected: list[ExpectedLayer], reference: str = "the lecture's") -> \
        list[str]:
    total = sum(e.params for e in expected)
    if info["total_params"] == total and [layer["params"] for layer in info["layers"]] == [e.params for e in expected]:
        return []
    message = f"Your network has {info['total_params']:,} parameters; {reference} has {total:,}."
    for i, (layer, want) in enumerate(zip(info["layers"], expected, strict=False), start=1):
        if layer["params"] != want.params:
            message += f" The first difference is layer {i} ({layer['class_name']}: {layer['params']:,}, " \
                       f"expected {want.class_name}: {want.params:,})."
            break
    return [message]


def _same(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, float) and isinstance(value, (int, float)):
        return abs(value - wanted) <= 1e-6 * max(1.0, abs(wanted))
    if isinstance(wanted, tuple):
        return isinstance(value, (list, tuple)) and len(value) == len(wanted) and all(
            _same(v, w) for v, w in zip(value, wanted, strict=True))
    return bool(value == wanted)


def layer_setting_problems(info: dict[str, Any], expected: list[ExpectedLayer]) -> list[str]:
    """Compare the settings of the k-th layer of each type with the k-th expected one of that type (so one
    missing layer does not make every later setting look wrong)."""
    problems = []
    seen: dict[str, int] = {}
    mine: dict[str, list[dict[str, Any]]] = {}
    for layer in info["layers"]:
        mine.setdefault(layer["class_name"], []).append(layer)
    for want in expected:
        k = seen.get(want.class_name, 0)
        seen[want.class_name] = k + 1
        candidates = mine.get(want.class_name, [])
        if k >= len(candidates) or not want.config:
            continue
        layer = candidates[k]
        for key, value in want.config.items():
            got = layer["config"].get(key)
            if not _same(got, value):
                problems.append(f"{want.class_name} number {k + 1} has {key}={got!r}; it should be {value!r}.")
    return problems


def _norm(name: Any) -> str:
    text = str(name).replace("_", "").lower()
    return {"acc": "accuracy"}.get(text, text)


def compile_problems(settings: dict[str, Any] | None, *, optimizer: str, loss: str, metrics: list[str],
                     learning_rate: float | None = None) -> list[str]:
    """How the compile settings differ from the expected optimizer (class name), loss and metrics."""
    if not settings:
        return ["The model is not compiled: call model.compile(optimizer=..., loss=..., metrics=[...]) before "
                "returning it."]
    problems = []
    opt = settings.get("optimizer") if isinstance(settings.get("optimizer"), dict) else {}
    assert isinstance(opt, dict)
    if _norm(opt.get("class_name")) != _norm(optimizer):
        problems.append(f"The optimizer is {opt.get('class_name')}; it should be {optimizer}.")
    elif learning_rate is not None:
        rate = (opt.get("config") or {}).get("learning_rate")
        if not isinstance(rate, (int, float)) or abs(rate - learning_rate) > 1e-3 * learning_rate:
            problems.append(f"The learning rate is {rate!r}; it should be {learning_rate:g}.")
    if _norm(settings.get("loss")) != _norm(loss):
        problems.append(f"The loss is {settings.get('loss')!r}; it should be {loss!r}.")
    got = [_norm(m) for m in settings.get("metrics") or []]
    if got != [_norm(m) for m in metrics]:
        hint = ""
        if [_norm(m) for m in settings.get("loss_weights") or []] == [_norm(m) for m in metrics]:
            hint = (" Your metrics ended up as loss_weights: in Keras 3 the third positional argument of compile() "
                    "is loss_weights, so pass metrics=[...] by keyword.")
        problems.append(f"The metrics are {settings.get('metrics')!r}; they should be {metrics!r}.{hint}")
    return problems


def likely_cause(info: dict[str, Any], expected: list[ExpectedLayer], compile_problems: list[str], *,
                 unchecked: str) -> str:
    """Why a network that falls short in the grader's training likely does: the first difference from the
    expected layers, their settings or the compile settings (``compile_problems``), else ``unchecked``, what
    those checks do not compare."""
    problems = layer_type_problems(info, expected) + layer_setting_problems(info, expected) + compile_problems
    if problems:
        return f"A likely cause: {problems[0]}"
    return ("Your layers, their settings and the compile settings match the lecture's, so look at what those "
            f"checks do not compare: {unchecked}.")
