"""Hidden tests for question get_activations: layer name -> activation maps of one image (batch removed).

References are the trusted model's own layer outputs for the same image, computed here. *Which* maps (the layers,
the pattern of each map) and *how much* (the values as the layer outputs them, not rescaled) are graded by
different tests: maps rescaled for plotting lose only test_maps_are_not_rescaled. A wrong choice of layers is
compared with the classic slips (conftest.layer_choices) and the message starts with the cause it shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from autograder.testing import Fail, SubmissionProxy, expect, expect_array, question, show_arrays

if TYPE_CHECKING:
    from conftest import Kit

BATCH_KEPT = ("The batch dimension is not removed: the model's output for one image has shape (1, h, w, channels); "
              "take [0] of it.")
NOT_FLOAT32 = ("The maps are not float32: return the model's own output as it is (float32), not a copy in another "
               "dtype.")
RESCALED = ("The maps are rescaled (e.g. divided by their maximum to plot them): return each layer's output as it "
            "is, and scale the maps only where you plot them.")


def _thumbnail(maps: np.ndarray) -> tuple[np.ndarray, int]:
    """The first 4 channels of (H, W, C) maps, every s-th pixel so that each side is at most 32: a picture."""
    step = max(1, -(-max(maps.shape[:2]) // 32))
    return maps[::step, ::step, :4], step


def _close(got: np.ndarray, want: np.ndarray) -> bool:
    scale = float(np.abs(want).max()) or 1.0
    return bool(np.allclose(got, want, rtol=1e-4, atol=1e-5 * scale))


def _up_to_scale(got: np.ndarray, want: np.ndarray) -> bool:
    """``got`` is ``want`` times a positive number (the same pattern, another scale)."""
    norm = float(np.vdot(want, want))
    if norm == 0:
        return False
    factor = float(np.vdot(got.astype(np.float64), want)) / norm
    return factor > 0 and _close(got, factor * want)


def _check(kit: Kit, got: Any, model: Any, image: np.ndarray, names: list[str], what: str, *,
           given: list[str] | None = None, public: bool = False, exact: bool = False) -> None:
    """``given``: the call's layer_names (None: the default layers). ``public``: the image and the model are the
    notebook's own (its demo cell), so wrong maps may be drawn. Without ``exact``, maps right up to a positive scale
    pass (test_maps_are_not_rescaled grades the scale)."""
    if not isinstance(got, dict):
        raise Fail(f"{what}: get_activations should return a dict (layer name -> maps), got {type(got).__name__}.")
    if set(got) != set(names):  # the student's own keys are never quoted: they could carry inputs
        for cause, chosen in kit.layer_choices(model, given):
            if set(got) == set(chosen):
                raise Fail(f"{cause} Case: {what}, whose maps are the outputs of {', '.join(names)}.")
    missing = [n for n in names if n not in got]
    expect(set(got) == set(names), f"{what}: the keys should be exactly the layer names {sorted(names)}"
           + (f" (missing: {', '.join(missing)})." if missing else " (there are extra keys)."))
    want = kit.maps(model, image, names)
    for name in names:
        shape = want[name].shape
        value = got[name]
        if isinstance(value, np.ndarray) and value.shape == (1, *shape):
            raise Fail(f"{BATCH_KEPT} Case: {what}, the maps of {name}, of shape {shape}.")
        maps = expect_array(value, shape=shape, kinds="f", what=f"{what}: the maps of {name}")
        if maps.dtype != np.float32:
            raise Fail(f"{NOT_FLOAT32} Case: {what}, the maps of {name}.")
        if _close(maps, want[name]):
            continue
        if _up_to_scale(maps, want[name]):
            if exact:
                raise Fail(f"{RESCALED} Case: {what}, the maps of {name}.")
            continue
        if public:
            expected, step = _thumbnail(want[name])
            show_arrays(f"{name}: channels 0-{expected.shape[2] - 1}, every {step} pixel(s)",
                        _thumbnail(maps)[0], expected)
        raise Fail(f"{what}: the maps of {name} differ from that layer's output for this image.")


@question("get_activations", weight=1.5, worked_example=True)
def test_lecture_cnn(submission: SubmissionProxy, kit: Kit) -> None:
    """get_activations(lecture's CNN, one 150x150 image) gives its 8 maps, (148, 148, 32) to (7, 7, 128)."""
    model = kit.lecture_cnn()
    # the released notebook's own demo image (its cell "image = np.random.default_rng(1).random(...)"), as float32
    image = np.random.default_rng(1).random((150, 150, 3)).astype(np.float32)
    names = [n for n, _ in kit.lecture_maps]
    got = submission.get_activations(model, image)
    _check(kit, got, model, image, names, "The lecture's cats-vs-dogs CNN", public=True)
    expect(list(got) == names, f"The keys should be in the order of the model's layers: {', '.join(names)}.")


@question("get_activations", weight=0.75)
def test_layer_names_and_a_float64_or_uint8_image(submission: SubmissionProxy, kit: Kit) -> None:
    """get_activations(model, image, layer_names=['c2', 'avg']) gives only those layers; a float64 or a uint8 image
    works."""
    model = kit.small_functional()
    image = np.random.default_rng(5061).random((24, 24, 3))  # float64
    got = submission.get_activations(model, image, layer_names=["c2", "avg"])
    _check(kit, got, model, image, ["c2", "avg"], "layer_names=['c2', 'avg'] on a float64 image",
           given=["c2", "avg"])
    pixels = np.random.default_rng(5063).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    got = submission.get_activations(model, pixels, layer_names=["c1"])
    _check(kit, got, model, pixels, ["c1"], "layer_names=['c1'] on a uint8 image (convert it to float32)",
           given=["c1"])


@question("get_activations", weight=0.75)
def test_all_maps_of_a_functional_model(submission: SubmissionProxy, kit: Kit) -> None:
    """get_activations on a functional model gives its Conv2D and pooling layers, not Flatten or Dense."""
    model = kit.small_functional()
    image = np.random.default_rng(5062).random((24, 24, 3), dtype=np.float32)
    _check(kit, submission.get_activations(model, image), model, image, list(kit.small_maps),
           "A functional model (Conv2D, AveragePooling2D, Conv2D, MaxPooling2D, Flatten, Dense)")


@question("get_activations", weight=0.75)
def test_maps_are_not_rescaled(submission: SubmissionProxy, kit: Kit) -> None:
    """get_activations returns each layer's output as the layer computes it, not rescaled (e.g. not divided by its
    maximum for a plot)."""
    model = kit.small_functional()
    image = np.random.default_rng(5064).random((24, 24, 3), dtype=np.float32)
    names = ["c1", "c2"]
    _check(kit, submission.get_activations(model, image, layer_names=names), model, image, names,
           "layer_names=['c1', 'c2'] on a functional model", given=names, exact=True)
