"""Generated data, seeded so every run gives the same: the "cats and dogs" shapes of 03_cats_and_dogs (as
image files, and as the practice zip released with it) and the "fur" textures of 04_transfer_learning (as
arrays or image files)."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from autograder.datasets.images import Arrays

SHAPE_CLASSES = ("cats", "dogs")


def _draw_shape(rng: np.random.Generator, label: int, size: int) -> Any:
    """One picture: a "cat" is a round body with tabby stripes, a "dog" an angular body with spots."""
    from PIL import Image, ImageDraw, ImageFilter

    def colour() -> tuple[int, int, int]:
        return (int(rng.integers(0, 256)), int(rng.integers(0, 256)), int(rng.integers(0, 256)))

    background, body = colour(), colour()
    while sum(abs(a - b) for a, b in zip(body, background, strict=True)) < 150:
        body = colour()
    marks = tuple(255 - c for c in body)
    img = Image.new("RGB", (size, size), background)
    r = rng.uniform(0.25, 0.4) * size
    cx, cy = rng.uniform(r, size - r, 2)
    mask = Image.new("L", (size, size), 0)
    shape = ImageDraw.Draw(mask)
    if label == 0:  # round
        ry = r * rng.uniform(0.65, 1.0)
        shape.ellipse([cx - r, cy - ry, cx + r, cy + ry], fill=255)
    else:  # angular: a rotated square or triangle
        corners = 3 if rng.random() < 0.4 else 4
        angle = rng.uniform(0, 2 * np.pi)
        scale = 1.25 if corners == 4 else 1.4  # about the area of the round bodies
        shape.polygon([(cx + scale * r * np.cos(angle + 2 * np.pi * k / corners),
                        cy + scale * r * np.sin(angle + 2 * np.pi * k / corners)) for k in range(corners)], fill=255)
    fur = Image.new("RGB", (size, size), body)
    draw = ImageDraw.Draw(fur)
    width = max(size // 24, 1)
    if label == 0:  # stripes, in a random direction
        angle = rng.uniform(0, np.pi)
        dx, dy = np.cos(angle), np.sin(angle)
        for offset in np.arange(-size, size, 3 * width):
            x0, y0 = size / 2 + offset * -dy, size / 2 + offset * dx
            draw.line([(x0 - size * dx, y0 - size * dy), (x0 + size * dx, y0 + size * dy)], fill=marks, width=width)
    else:  # spots
        for _ in range(int(rng.integers(14, 22))):
            sx, sy = rng.uniform(0, size, 2)
            sr = rng.uniform(1.0, 2.0) * width
            draw.ellipse([sx - sr, sy - sr, sx + sr, sy + sr], fill=marks)
    img.paste(fur, (0, 0), mask)
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0, 0.8)))
    noise = rng.normal(0, 10, (size, size, 3))
    return Image.fromarray(np.clip(np.asarray(img, dtype=np.float64) + noise, 0, 255).astype(np.uint8))


def make_shapes_images(directory: Path, n: int, seed: int, *, image_size: int = 64, corrupt: bool = True) -> Path:
    """Write ``n`` JPEG images per class into ``directory/cats`` (round, striped) and ``directory/dogs``
    (angular, spotted) -- Dogs vs. Cats' layout -- plus one truncated JPEG (``cats/corrupt.jpg``) when
    ``corrupt``, as the real archive has. Seeded: the same arguments give the same files."""
    directory = Path(directory)
    rng = np.random.default_rng(seed)
    for label, cls in enumerate(SHAPE_CLASSES):
        (directory / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            _draw_shape(rng, label, image_size).save(directory / cls / f"{cls[:-1]}.{i}.jpg", quality=90)
    if corrupt:
        buf = io.BytesIO()
        _draw_shape(rng, 0, image_size).save(buf, format="JPEG")
        (directory / SHAPE_CLASSES[0] / "corrupt.jpg").write_bytes(buf.getvalue()[:200])
    return directory


TEXTURE_CLASSES = ("blotchy", "grainy")  # sorted, so folder order gives the labels


def make_textures(n: int, size: int, seed: int) -> Arrays:
    """``n`` RGB images (float32, 0-255) of two kinds of "fur", half each, seeded: label 0 is smooth (large
    blotches of colour), label 1 is grainy (noise in every pixel). The cpu runner profile's data for
    04_transfer_learning's accuracy test; the same generator is in the assignment's notebook."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 2)
    images = np.empty((n, size, size, 3), np.float32)
    for i, label in enumerate(labels):
        colour = rng.uniform(60, 200, 3)
        if label == 0:
            cell = int(rng.integers(size // 8, size // 4 + 1))
            blotches = rng.normal(0, 45, (size // cell + 1, size // cell + 1, 3))
            pattern = np.kron(blotches, np.ones((cell, cell, 1)))[:size, :size]
        else:
            pattern = rng.normal(0, 45, (size, size, 3))
        images[i] = np.clip(colour + pattern, 0, 255)
    return images, labels.astype(np.int64)


def make_textures_images(directory: Path, n: int, seed: int, *, image_size: int = 64) -> Path:
    """Write :func:`make_textures` ``(n, image_size, seed)`` as PNG files (pixels rounded to uint8) into
    ``directory/blotchy`` (label 0) and ``directory/grainy`` (label 1), named ``<class>.<i>.png`` with ``i``
    the image's index in the generated arrays. Seeded: the same arguments give the same files."""
    from PIL import Image

    directory = Path(directory)
    for cls in TEXTURE_CLASSES:
        (directory / cls).mkdir(parents=True, exist_ok=True)
    images, labels = make_textures(n, image_size, seed)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        cls = TEXTURE_CLASSES[int(label)]
        Image.fromarray(np.round(image).astype(np.uint8)).save(directory / cls / f"{cls}.{i}.png")
    return directory


def write_practice_zip(path: Path, *, n_train: int, n_validation: int, seed: int, image_size: int = 64,
                       root: str = "cats_and_dogs_small") -> Path:
    """A reproducible zip of shape images in the lecture's layout (``root/train/cats``, ``root/validation/dogs``,
    ...), one corrupt JPEG in ``train/cats``: the practice data released with 03_cats_and_dogs. Same arguments,
    same bytes (fixed timestamps, sorted entries)."""
    with tempfile.TemporaryDirectory(prefix="ag-practice-") as tmp:
        make_shapes_images(Path(tmp) / "train", n_train, seed, image_size=image_size, corrupt=True)
        make_shapes_images(Path(tmp) / "validation", n_validation, seed + 1, image_size=image_size, corrupt=False)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
            for file in sorted(p for p in Path(tmp).rglob("*") if p.is_file()):
                info = zipfile.ZipInfo(f"{root}/{file.relative_to(tmp).as_posix()}", date_time=(2024, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                zf.writestr(info, file.read_bytes())
    return path
