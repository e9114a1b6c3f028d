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


def _first_type_difference(info: dict[str, Any], expected: list[ExpectedLayer]) -> int | None:
    """The position (1-based, in the student's layers) where the layer types first differ from ``expected``."""
    actual, wanted = _types(info), [e.class_name for e in expected]
    matcher = difflib.SequenceMatcher(a=wanted, b=actual, autojunk=False)
    for op, _, _, a1, _ in matcher.get_opcodes():
        if op != "equal":
            return a1 + 1
    return None


def _one_layer_edit(info: dict[str, Any], expected: list[ExpectedLayer]) -> bool:
    """The layer types are the expected ones, or differ by one slip: one layer missing, extra or of another type,
    or two layers of one kind left out or added (the lecture's two MaxPooling2D layers forgotten). A network that
    differs in more places, or in layers of several kinds, is not one mistake (an empty network is not a slip)."""
    actual, wanted = _types(info), [e.class_name for e in expected]
    edits = [(wanted[e1:e2], actual[a1:a2]) for op, e1, e2, a1, a2 in
             difflib.SequenceMatcher(a=wanted, b=actual, autojunk=False).get_opcodes() if op != "equal"]
    size = sum(max(len(w), len(a)) for w, a in edits)
    kinds = {name for w, a in edits for name in w + a}
    return size <= 1 or (size == 2 and len(kinds) == 1 and all(not w or not a for w, a in edits))


def _first_shape_difference(info: dict[str, Any], expected: list[ExpectedLayer]) -> int | None:
    for i, (layer, want) in enumerate(zip(info["layers"], expected, strict=False), start=1):
        if layer["output_shape"] != want.output_shape:
            return i
    return None if len(info["layers"]) == len(expected) else min(len(info["layers"]), len(expected)) + 1


def _first_param_difference(info: dict[str, Any], expected: list[ExpectedLayer]) -> int | None:
    for i, (layer, want) in enumerate(zip(info["layers"], expected, strict=False), start=1):
        if layer["params"] != want.params:
            return i
    return None if len(info["layers"]) == len(expected) else min(len(info["layers"]), len(expected)) + 1


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


def _setting_sentence(class_name: str, k: int, key: str, got: Any, value: Any) -> str:
    if key == "activation" and got in ("linear", None):
        # Keras writes "linear" for Dense(10), Dense(10, activation=None) and activation="linear" alike
        return f"{class_name} number {k + 1} has no activation (Keras's default, 'linear'); it should be {value!r}."
    return f"{class_name} number {k + 1} has {key}={got!r}; it should be {value!r}."


def _setting_differences(info: dict[str, Any], expected: list[ExpectedLayer]) -> list[tuple[int, str]]:
    """(position in the student's layers, 1-based; sentence) for each setting that differs."""
    found = []
    seen: dict[str, int] = {}
    mine: dict[str, list[int]] = {}
    for i, layer in enumerate(info["layers"]):
        mine.setdefault(layer["class_name"], []).append(i)
    for want in expected:
        k = seen.get(want.class_name, 0)
        seen[want.class_name] = k + 1
        candidates = mine.get(want.class_name, [])
        if k >= len(candidates) or not want.config:
            continue
        layer = info["layers"][candidates[k]]
        for key, value in want.config.items():
            got = layer["config"].get(key)
            if not _same(got, value):
                found.append((candidates[k] + 1, _setting_sentence(want.class_name, k, key, got, value)))
    return found


def layer_setting_problems(info: dict[str, Any], expected: list[ExpectedLayer]) -> list[str]:
    """Compare the settings of the k-th layer of each type with the k-th expected one of that type (so one
    missing layer does not make every later setting look wrong)."""
    return [sentence for _, sentence in _setting_differences(info, expected)]


@dataclass(frozen=True)
class RootCause:
    """The first structural difference of a network from the expected one: its sentence, and the position
    (1-based, in the student's layers) from which it changes the output shapes and parameter counts."""

    sentence: str
    layer: int


def root_cause(info: dict[str, Any], expected: list[ExpectedLayer], reference: str = "the lecture's") -> \
        RootCause | None:
    """The difference that comes first in the network: a layer missing, extra or of another type (the sentence
    of :func:`layer_type_problems`, which lists them all) or a layer's setting (:func:`layer_setting_problems`);
    on the same layer, the layer types first. None if the layers and their settings are as expected.

    Every structure test that one mistake makes fail starts with this sentence (:func:`structure_failure`), so
    the grader charges the mistake once per question and the feedback merges its failures into one bullet."""
    candidates: list[tuple[int, int, str]] = []
    types = layer_type_problems(info, expected, reference)
    position = _first_type_difference(info, expected)
    if types and position is not None:
        candidates.append((position, 0, types[0]))
    candidates += [(layer, 1, sentence) for layer, sentence in _setting_differences(info, expected)]
    if not candidates:
        return None
    layer, _, sentence = min(candidates)
    return RootCause(sentence, layer)


def _case(problem: str) -> str:
    """A problem sentence as the case of a diagnosed failure ("<cause> Case: <case>."), on one line."""
    text = " ".join(problem.split()).rstrip(".")
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text


COMPARED = ("types", "settings", "shapes", "parameters")


def structure_failure(info: dict[str, Any], expected: list[ExpectedLayer], problems: list[str], *,
                      compares: tuple[str, ...], check: str, reference: str = "the lecture's") -> str:
    """The message of a failed structure test: ``problems`` are its checker's sentences ("" if there are none),
    ``compares`` what it compares (of :data:`COMPARED`), ``check`` those words for the student ("the output
    shapes").

    When the network's :func:`root_cause` explains the failure, the message is ``"<root cause> Case: <check>:
    <the test's other problems>."``: every test of a question that one mistake breaks carries the same cause
    sentence, so the mistake is charged once and its failures share one bullet. It explains a test of the layer
    types or settings whose only problem it is, and a test of output shapes or parameter counts whose first
    difference is at or after the root cause's layer (a layer changes every shape and count after it). Any other
    failure (a second mistake) is the test's own sentences, and costs its own share; so is every failure of a network
    whose layer types differ in more than one layer (not one slip: capping it would pay half for no network)."""
    if not problems:
        return ""
    unknown = set(compares) - set(COMPARED)
    if unknown:
        raise ValueError(f"structure_failure: compares={compares!r}; each must be one of {COMPARED}")
    root = root_cause(info, expected, reference)
    if root is None or not _one_layer_edit(info, expected):  # (a network unlike the expected one: no capped cause)
        return " ".join(problems)
    if set(compares) <= {"types", "settings"}:
        explained = problems == [root.sentence]
    else:
        firsts = ([_first_shape_difference(info, expected)] if "shapes" in compares else []) + (
            [_first_param_difference(info, expected)] if "parameters" in compares else [])
        found = [p for p in firsts if p is not None]
        explained = bool(found) and min(found) >= root.layer and not any(p.startswith("Your network's input shape")
                                                                          for p in problems)
    if not explained:
        return " ".join(problems)
    detail = "; ".join(_case(p) for p in problems if p != root.sentence)
    return f"{root.sentence} Case: {check}" + (f": {detail}." if detail else ".")


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
    root = root_cause(info, expected)
    problems = ([root.sentence] if root else []) + compile_problems
    if problems:
        return f"A likely cause: {problems[0]}"
    return ("Your layers, their settings and the compile settings match the lecture's, so look at what those "
            f"checks do not compare: {unchecked}.")
