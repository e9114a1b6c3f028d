"""Image folders (``<folder>/<class>/<image>``): checking that images decode, preparing a clean copy,
unpacking an archive's class folders, and loading the images as arrays."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

Arrays = tuple[np.ndarray, np.ndarray]


def is_valid_image(path: Path) -> bool:
    """A JPEG/PNG that PIL can decode completely (the archive's 0-byte and truncated files are not)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.load()
        return True
    except Exception:  # PIL raises many types for broken files
        return False


@dataclass
class PrepareReport:
    kept: int = 0
    skipped: list[str] = field(default_factory=list)


def prepare_image_folder(source: Path, target: Path, classes: dict[str, str] | None = None) -> PrepareReport:
    """Copy the images of each class folder (``classes``: name -> sub-folder of ``source``; default: the
    class folders themselves) into ``target/<class>/``, skipping and counting files that do not decode."""
    source, target = Path(source), Path(target)
    classes = classes or {p.name: p.name for p in sorted(source.iterdir()) if p.is_dir()}
    report = PrepareReport()
    for cls, sub in classes.items():
        (target / cls).mkdir(parents=True, exist_ok=True)
        for path in sorted((source / sub).iterdir()):
            if not path.is_file() or path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
                continue
            if is_valid_image(path):
                shutil.copy2(path, target / cls / path.name)
                report.kept += 1
            else:
                report.skipped.append(f"{cls}/{path.name}")
    return report


def extract_image_archive(archive: Path, classes: dict[str, str], target: Path) -> PrepareReport:
    """Unpack the class folders of a zip archive (e.g. PetImages/Cat) and prepare them into ``target``."""
    with tempfile.TemporaryDirectory(prefix="ag-extract-", dir=target.parent if target.parent.exists() else None) \
            as tmp, zipfile.ZipFile(archive) as zf:
        members = [m for m in zf.namelist() if any(m.startswith(sub.rstrip("/") + "/") for sub in classes.values())]
        for member in members:
            if ".." in Path(member).parts or member.startswith("/"):
                continue
            zf.extract(member, tmp)
        if target.exists():
            shutil.rmtree(target)
        return prepare_image_folder(Path(tmp), target, classes)


def image_files(directory: Path) -> list[tuple[Path, int]]:
    """(path, class index) of every file in ``directory/<class>/``, classes in sorted order."""
    classes = sorted(p.name for p in Path(directory).iterdir() if p.is_dir())
    return [(path, label) for label, cls in enumerate(classes) for path in sorted((Path(directory) / cls).iterdir())
            if path.is_file()]


def load_images(files: list[tuple[Path, int]], image_size: int) -> Arrays:
    """The decodable images among ``files`` resized (bilinear) to image_size x image_size RGB:
    (x float32 in [0, 1], y int64 class indices)."""
    from PIL import Image

    xs, ys = [], []
    for path, label in files:
        if not is_valid_image(path):
            continue
        with Image.open(path) as img:
            xs.append(np.asarray(img.convert("RGB").resize((image_size, image_size), Image.Resampling.BILINEAR)))
        ys.append(label)
    x = np.stack(xs).astype(np.float32) / 255.0 if xs else np.zeros((0, image_size, image_size, 3), np.float32)
    return x, np.asarray(ys, dtype=np.int64)


def load_image_folder(directory: Path, image_size: int) -> Arrays:
    """Every decodable image of ``directory/<class>/`` (see :func:`load_images`)."""
    return load_images(image_files(directory), image_size)
