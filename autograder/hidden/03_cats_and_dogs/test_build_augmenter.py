"""Hidden tests for question build_augmenter: ImageDataGenerator's arguments as Keras 3 random layers.

The settings are read from the augmenter's plain-data description; its behaviour is checked by
rebuilding it here (random preprocessing layers are on the whitelist) and running it on images.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autograder import models
from autograder.testing import Fail, SubmissionProxy, expect, question

GEOMETRIC = ("RandomRotation", "RandomTranslation", "RandomShear", "RandomZoom")


def _augmenter(submission: SubmissionProxy, *args: Any, **kwargs: Any) -> tuple[models.ModelSpec, dict]:
    spec = submission.build_augmenter(*args, **kwargs)
    if not isinstance(spec, models.ModelSpec):
        raise Fail(f"build_augmenter should return a keras.Sequential, got {type(spec).__name__}.")
    try:
        return spec, models.summary(spec)
    except models.ArchitectureError as exc:
        raise Fail(f"build_augmenter(): {exc}") from None


def _layers(info: dict, name: str) -> list[dict]:
    return [layer for layer in info["layers"] if layer["class_name"] == name]


def _range(value: object) -> tuple[float, float] | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return (-abs(float(value)), abs(float(value)))
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return (float(value[0]), float(value[1]))
    return None


def _close(r: tuple[float, float] | None, amount: float, rel: float = 0.02) -> bool:
    tolerance = rel * max(amount, 1e-9) + 1e-12
    return r is not None and all(abs(a - b) <= tolerance for a, b in zip(r, (-amount, amount), strict=True))


def _nonzero_layers(info: dict, name: str) -> list[dict]:
    keys = {"RandomRotation": ("factor",), "RandomTranslation": ("height_factor", "width_factor"),
            "RandomShear": ("x_factor", "y_factor"), "RandomZoom": ("height_factor", "width_factor")}[name]
    return [layer for layer in _layers(info, name)
            if any((_range(layer["config"].get(k)) or (0.0, 0.0)) != (0.0, 0.0) for k in keys)]


def _one(info: dict, name: str, why: str) -> dict:
    found = _nonzero_layers(info, name) if name in GEOMETRIC else _layers(info, name)
    if len(found) != 1:
        raise Fail(f"{why} needs exactly one {name} layer; your augmenter has {len(found)}.")
    return found[0]


def _check_settings(info: dict, rotation: float, width: float, height: float, shear: float, zoom: float,
                    flip: str | None, call: str) -> None:
    problems = []
    if rotation:
        r = _range(_one(info, "RandomRotation", f"rotation_range={rotation:g}")["config"].get("factor"))
        if not _close(r, rotation / 360):
            problems.append(f"RandomRotation's factor is {r}; rotation_range={rotation:g} degrees is a factor of "
                            f"{rotation:g}/360 = {rotation / 360:.4f} of a full turn.")
    if width or height:
        config = _one(info, "RandomTranslation", "A shift range")["config"]
        for key, amount, arg in (("width_factor", width, "width_shift_range"),
                                 ("height_factor", height, "height_shift_range")):
            # A factor that is missing (or unreadable) is no shift, as in _nonzero_layers: right for a range of 0.
            if not _close(_range(config.get(key)) or (0.0, 0.0), amount):
                problems.append(f"RandomTranslation's {key} should be {amount:g} ({arg}={amount:g}).")
    if shear:
        config = _one(info, "RandomShear", f"shear_range={shear:g}")["config"]
        want = math.tan(math.radians(shear))
        if not _close(_range(config.get("x_factor")), want, rel=0.03):
            problems.append(f"RandomShear's x_factor is {_range(config.get('x_factor'))}; shear_range={shear:g} is "
                            f"an angle in degrees, a shear of tan({shear:g} degrees) = {want:.4f}.")
        if any(_range(config.get("y_factor")) or (0.0, 0.0)):
            problems.append("RandomShear's y_factor should be 0: ImageDataGenerator shears along one axis.")
    if zoom:
        config = _one(info, "RandomZoom", f"zoom_range={zoom:g}")["config"]
        width_range = _range(config.get("width_factor"))
        if not _close(_range(config.get("height_factor")), zoom) or not (width_range is None
                                                                           or _close(width_range, zoom)):
            problems.append(f"RandomZoom's factors should be {zoom:g} (zoom_range={zoom:g}: scales "
                            f"{1 - zoom:g} to {1 + zoom:g}).")
    flips = _layers(info, "RandomFlip")
    modes = [layer["config"].get("mode") for layer in flips]
    if flip is None and flips:
        problems.append("With horizontal_flip=False and vertical_flip=False there should be no RandomFlip layer.")
    elif flip is not None and modes != [flip]:
        problems.append(f"The flips should be one RandomFlip({flip!r}); yours: {modes}.")
    for name, amount in zip(GEOMETRIC, (rotation, width or height, shear, zoom), strict=True):
        if not amount and _nonzero_layers(info, name):
            problems.append(f"A range of 0 means no {name}, but your augmenter has one.")
    if problems:
        raise Fail(f"{call}: " + " ".join(problems))


# Rotation is tested apart from the other transformations (rotation_range=0 for those): the classic mistake of
# this question, ImageDataGenerator's degrees passed to RandomRotation (a fraction of a turn), then costs the
# rotation's share, not the shifts', zoom's and flips' too. Every test it breaks names its cause (Keras's
# ValueError, recognised by autograder.keras_causes); read from an exception's text, that cause costs in full.
@question("build_augmenter", weight=1, worked_example=True)
def test_the_lectures_rotation(submission: SubmissionProxy) -> None:
    """build_augmenter(40, 0, 0, 0, 0, horizontal_flip=False): rotation_range=40 degrees alone is one
    RandomRotation with a factor of 40 / 360 of a full turn."""
    _, info = _augmenter(submission, 40, 0, 0, 0, 0, horizontal_flip=False)
    _check_settings(info, 40, 0, 0, 0, 0, None, "build_augmenter(40, 0, 0, 0, 0, horizontal_flip=False)")


@question("build_augmenter", weight=1, worked_example=True)
def test_the_lectures_shifts_shear_zoom_and_flip(submission: SubmissionProxy) -> None:
    """build_augmenter(rotation_range=0) maps the lecture's other ImageDataGenerator arguments onto
    RandomTranslation, RandomShear, RandomZoom and RandomFlip."""
    _, info = _augmenter(submission, rotation_range=0)
    _check_settings(info, 0, 0.2, 0.2, 0.2, 0.2, "horizontal", "build_augmenter(rotation_range=0)")


@question("build_augmenter", weight=0.5, worked_example=True)
def test_the_lectures_arguments_together(submission: SubmissionProxy) -> None:
    """build_augmenter() maps all the lecture's ImageDataGenerator arguments onto the five random layers."""
    _, info = _augmenter(submission)
    _check_settings(info, 40, 0.2, 0.2, 0.2, 0.2, "horizontal", "build_augmenter()")


@question("build_augmenter", weight=1)
def test_other_arguments(submission: SubmissionProxy) -> None:
    """build_augmenter uses its arguments: other shifts, shear and zoom, a vertical flip, no horizontal flip."""
    _, info = _augmenter(submission, rotation_range=0, width_shift_range=0.1, height_shift_range=0.05,
                         shear_range=15, zoom_range=0.3, horizontal_flip=False, vertical_flip=True)
    _check_settings(info, 0, 0.1, 0.05, 15, 0.3, "vertical", "build_augmenter(rotation_range=0, "
                    "width_shift_range=0.1, ...)")
    _, both = _augmenter(submission, 0, 0, 0, 0, 0, horizontal_flip=True, vertical_flip=True)
    _check_settings(both, 0, 0, 0, 0, 0, "horizontal_and_vertical", "Only both flips")


@question("build_augmenter", weight=0.5)
def test_empty_space_is_filled_with_the_nearest_pixel(submission: SubmissionProxy) -> None:
    """build_augmenter's rotation, shift, shear and zoom layers use fill_mode='nearest', as ImageDataGenerator."""
    _, others = _augmenter(submission, rotation_range=0)
    _, rotation = _augmenter(submission, 30, 0, 0, 0, 0, horizontal_flip=False)
    wrong = [layer["class_name"] for info in (rotation, others) for layer in info["layers"]
             if layer["class_name"] in GEOMETRIC and layer["config"].get("fill_mode") != "nearest"]
    expect(not wrong, f"{', '.join(wrong)} should use fill_mode='nearest' (the layers' default is 'reflect').")


def _run(spec: models.ModelSpec, x: np.ndarray, training: bool = True) -> np.ndarray:
    return np.asarray(models.rebuild(spec)(x, training=training))


@question("build_augmenter", weight=0.5)
def test_shape_kept_and_images_unchanged_at_inference(submission: SubmissionProxy) -> None:
    """build_augmenter(rotation_range=0) keeps the images' shape; with training=False it returns them unchanged."""
    spec, _ = _augmenter(submission, rotation_range=0, seed=20240721)
    x = np.random.default_rng(20240721).random((3, 40, 48, 3)).astype(np.float32)
    out = _run(spec, x)
    expect(out.shape == x.shape, "Augmented images should keep the shape of the images given (batch, height, "
                                 "width, channels).")
    expect(not np.allclose(out, x), "With training=True the images should change.")
    expect(np.allclose(_run(spec, x, training=False), x, atol=1e-6),
           "With training=False (at prediction time) the augmenter should return the images unchanged.")


@question("build_augmenter", weight=0.5)
def test_the_same_seed_gives_the_same_images(submission: SubmissionProxy) -> None:
    """build_augmenter(rotation_range=0, seed=s) twice augments identically; another seed differently (the
    rotation's seed: test_rotation_stays_within_the_range)."""
    x = np.random.default_rng(20240722).random((4, 32, 32, 3)).astype(np.float32)
    a, b, c = (_run(_augmenter(submission, rotation_range=0, seed=s)[0], x) for s in (11, 11, 12))
    expect(np.allclose(a, b, atol=1e-6), "Two augmenters built with the same seed should produce the same images: "
                                         "pass the seed to every random layer.")
    expect(not np.allclose(a, c), "Augmenters built with different seeds should produce different images.")


def _asymmetric() -> np.ndarray:
    img = np.zeros((16, 20, 3), dtype=np.float32)
    img[2:6, 1:9] = 1.0
    img[10:15, 14:17, 1] = 0.5
    return img


@question("build_augmenter", weight=0.5)
def test_a_flip_really_flips(submission: SubmissionProxy) -> None:
    """With only horizontal_flip, each image comes out unchanged or mirrored left-right, both happening."""
    spec, _ = _augmenter(submission, 0, 0, 0, 0, 0, horizontal_flip=True, vertical_flip=False, seed=20240723)
    img = _asymmetric()
    out = _run(spec, np.repeat(img[np.newaxis], 24, axis=0))
    same = [np.allclose(o, img, atol=1e-5) for o in out]
    mirrored = [np.allclose(o, img[:, ::-1], atol=1e-5) for o in out]
    expect(all(s or m for s, m in zip(same, mirrored, strict=True)),
           "With only horizontal_flip=True, every image should be either unchanged or mirrored left-right.")
    expect(any(same) and any(mirrored), "Of 24 images, some should be flipped and some not (each with chance 1/2).")


@question("build_augmenter", weight=0.5)
def test_rotation_stays_within_the_range(submission: SubmissionProxy) -> None:
    """With only rotation_range=30, a dot off the centre turns by at most 30 degrees either way, and by the same
    angles again with the same seed."""
    spec, _ = _augmenter(submission, 30, 0, 0, 0, 0, horizontal_flip=False, seed=20240724)
    img = np.zeros((41, 41, 1), dtype=np.float32)
    img[19:22, 32:35] = 1.0  # a dot 13 pixels right of the centre (angle 0)
    batch = np.repeat(img[np.newaxis], 32, axis=0)
    out = _run(spec, batch)
    again = _run(_augmenter(submission, 30, 0, 0, 0, 0, horizontal_flip=False, seed=20240724)[0], batch)
    expect(np.allclose(out, again, atol=1e-6), "Two augmenters built with the same seed rotated the pictures "
                                               "differently: pass the seed to RandomRotation too.")
    ys, xs = np.mgrid[0:41, 0:41]
    angles = []
    for o in out[..., 0]:
        weight = np.clip(o, 0, None)
        if weight.sum() < 1:
            raise Fail("After rotation_range=30 the dot left the image: the rotation is far too large.")
        cy, cx = (weight * ys).sum() / weight.sum() - 20, (weight * xs).sum() / weight.sum() - 20
        angles.append(math.degrees(math.atan2(cy, cx)))
    biggest = max(abs(a) for a in angles)
    expect(biggest <= 33, f"With rotation_range=30 a picture turned by {biggest:.0f} degrees: the factor of "
                          "RandomRotation is a fraction of a full turn (30 / 360).")
    expect(biggest >= 10, "With rotation_range=30, 32 pictures all stayed within 10 degrees: the rotation is too "
                          "small (the factor is 30 / 360 of a full turn).")
