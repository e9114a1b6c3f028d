"""Data sets: the manifest, a cache outside git, downloads with checksums, and loaders.

``datasets/manifest.yml`` names every data set, its files, checksums, source and licence. Files are
looked for in the cache (``$AUTOGRADER_DATA``, else ``~/.cache/cnn-autograder``) and then in the
places a system package may hold them (Debian's ``dataset-fashion-mnist``). ``fetch`` downloads into
the cache atomically and keeps a file only when its checksum matches; every failure says what to do.

Loaders return plain numpy arrays: :func:`load_mnist`, :func:`load_fashion_mnist` (IDX files),
:func:`load_digits_28` (scikit-learn's digits in MNIST's layout, offline), and for image folders
:func:`make_shapes_images`, :func:`prepare_image_folder` and :func:`load_image_folder`. The generated
"fur" textures of 04_transfer_learning come as arrays (:func:`make_textures`) or as image files
(:func:`make_textures_images`).
:func:`recipe_data` gives a training recipe's (seeded) train and held-out test arrays.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import shutil
import struct
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from autograder.errors import AutograderError

MANIFEST = Path(__file__).resolve().parent.parent / "datasets" / "manifest.yml"
DEFAULT_CACHE = Path("~/.cache/cnn-autograder")
CHUNK = 1 << 20
Arrays = tuple[np.ndarray, np.ndarray]


class DatasetError(AutograderError):
    """A data set is missing, corrupt or cannot be downloaded; the message says what to do."""

    exit_code = 6


@dataclass(frozen=True)
class DataFile:
    name: str
    url: str | None = None
    sha256: str | None = None
    md5: str | None = None
    content_sha256: str | None = None  # of the gunzipped bytes
    upstream_md5: str | None = None  # informative: the .gz as published upstream
    size_bytes: int | None = None
    system_paths: tuple[str, ...] = ()
    extract: dict[str, str] | None = None

    @property
    def pinned(self) -> bool:
        return bool(self.sha256 or self.md5 or self.content_sha256)


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    description: str
    source: str
    licence: str
    size: str
    offline: bool = False
    files: tuple[DataFile, ...] = field(default_factory=tuple)


def cache_dir() -> Path:
    """Where downloads live: $AUTOGRADER_DATA, else ~/.cache/cnn-autograder (never inside git)."""
    return Path(os.environ.get("AUTOGRADER_DATA") or DEFAULT_CACHE).expanduser()


_FILE_KEYS = {"name", "url", "sha256", "md5", "content_sha256", "upstream_md5", "size_bytes", "system_paths",
              "extract"}
_DATASET_KEYS = {"title", "description", "source", "licence", "size", "offline", "files"}


def load_manifest(path: Path = MANIFEST) -> dict[str, Dataset]:
    """Read the manifest; unknown keys are errors naming the key and the file."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DatasetError(f"{path}: cannot read the data set manifest ({exc})") from None
    entries = raw.get("datasets") if isinstance(raw, dict) else None
    if not isinstance(entries, dict):
        raise DatasetError(f"{path}: expected a top-level 'datasets:' mapping")
    out = {}
    for name, entry in entries.items():
        unknown = set(entry) - _DATASET_KEYS
        if unknown:
            raise DatasetError(f"{path}: datasets.{name}: unknown key(s) {sorted(unknown)}")
        files = []
        for f in entry.get("files") or []:
            bad = set(f) - _FILE_KEYS
            if bad:
                raise DatasetError(f"{path}: datasets.{name}.files: unknown key(s) {sorted(bad)}")
            for key in ("sha256", "md5", "content_sha256", "upstream_md5"):
                if f.get(key) is not None and not isinstance(f[key], str):
                    raise DatasetError(f"{path}: datasets.{name}.files.{key}: put the checksum in quotes")
            files.append(DataFile(**{**f, "system_paths": tuple(f.get("system_paths") or ())}))
        out[name] = Dataset(
            name=name, title=entry.get("title", name), description=" ".join(str(entry.get("description", "")).split()),
            source=entry.get("source", ""), licence=entry.get("licence", ""), size=str(entry.get("size", "")),
            offline=bool(entry.get("offline", False)), files=tuple(files),
        )
    return out


def get(name: str, manifest: dict[str, Dataset] | None = None) -> Dataset:
    manifest = load_manifest() if manifest is None else manifest
    if name not in manifest:
        raise DatasetError(f"Unknown data set {name!r}. The manifest lists: {', '.join(manifest)}.")
    return manifest[name]


def cache_path(dataset: Dataset, f: DataFile) -> Path:
    return cache_dir() / dataset.name / f.name


def find_file(dataset: Dataset, f: DataFile) -> Path | None:
    """The first copy that exists: the cache, then the system paths."""
    for candidate in (cache_path(dataset, f), *map(Path, f.system_paths)):
        if candidate.is_file():
            return candidate
    return None


def _placement_hint(dataset: Dataset, f: DataFile) -> str:
    where = f"place it by hand at {cache_path(dataset, f)}"
    if f.url:
        where = f"download {f.url} on a machine with internet and {where}"
    return (f"Run `autograder datasets fetch {dataset.name}`, or {where}; "
            f"then `autograder datasets verify {dataset.name}`.")


def require(name: str, filename: str | None = None) -> Path:
    """The path of a data set's file (its only file by default); a clear error if it is not there."""
    dataset = get(name)
    if not dataset.files:
        raise DatasetError(f"The data set {name!r} has no files: it is available offline.")
    f = next((x for x in dataset.files if x.name == filename), None) if filename else dataset.files[0]
    if f is None:
        raise DatasetError(f"The data set {name!r} has no file {filename!r}.")
    path = find_file(dataset, f)
    if path is None:
        raise DatasetError(f"The data set {name!r} is not available: {f.name} is missing. "
                           + _placement_hint(dataset, f))
    return path


# --- checksums --------------------------------------------------------------------------------------
def _hash_stream(chunks: Iterator[bytes], algorithm: str) -> str:
    h = hashlib.new(algorithm)
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()


def _read_chunks(path: Path, *, gunzip: bool = False) -> Iterator[bytes]:
    opener: Callable[[], Any] = (lambda: gzip.open(path, "rb")) if gunzip else (lambda: path.open("rb"))
    with opener() as stream:
        yield from iter(lambda: stream.read(CHUNK), b"")


def checksum_problem(f: DataFile, path: Path) -> str | None:
    """None when ``path`` matches the manifest's checksum; otherwise a sentence saying how it differs."""
    checks = (("sha256", f.sha256, False), ("md5", f.md5, False), ("content_sha256", f.content_sha256, True))
    for label, expected, gunzip in checks:
        if not expected:
            continue
        algorithm = "sha256" if "sha256" in label else "md5"
        try:
            actual = _hash_stream(_read_chunks(path, gunzip=gunzip), algorithm)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            return f"{path} cannot be read ({type(exc).__name__}: {exc}): it is truncated or not the right file"
        if actual != expected.lower():
            what = "the gunzipped content's sha256" if gunzip else label
            return f"{path}: {what} is {actual}, the manifest expects {expected}"
    return None


@dataclass
class FileStatus:
    dataset: str
    file: str
    path: Path | None
    state: str  # "ok" | "missing" | "corrupt" | "unpinned"
    message: str = ""


def verify(name: str | None = None, *, manifest: dict[str, Dataset] | None = None) -> list[FileStatus]:
    """Check every file of one data set (or all) that is present against its checksum."""
    manifest = load_manifest() if manifest is None else manifest
    chosen = [get(name, manifest)] if name else list(manifest.values())
    out = []
    for dataset in chosen:
        for f in dataset.files:
            path = find_file(dataset, f)
            if path is None:
                out.append(FileStatus(dataset.name, f.name, None, "missing", _placement_hint(dataset, f)))
            elif not f.pinned:
                actual = _hash_stream(_read_chunks(path), "sha256")
                out.append(FileStatus(dataset.name, f.name, path, "unpinned",
                                      f"no checksum pinned; its sha256 is {actual} (add it to {MANIFEST.name})"))
            else:
                problem = checksum_problem(f, path)
                out.append(FileStatus(dataset.name, f.name, path, "corrupt" if problem else "ok", problem or ""))
    return out


# --- downloading --------------------------------------------------------------------------------------
def download(url: str, target: Path, f: DataFile, *, timeout: float = 30.0,
             progress: Callable[[int], None] | None = None) -> Path:
    """Download ``url`` to ``target`` atomically: a temporary file next to it, renamed only if the checksum
    matches. Raises :class:`DatasetError` with what to do on any failure."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            with contextlib.closing(urllib.request.urlopen(url, timeout=timeout)) as response:  # noqa: S310
                done = 0
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done)
        problem = checksum_problem(f, tmp)
        if problem:
            raise DatasetError(
                f"The download of {f.name} from {url} does not match its checksum ({problem.replace(str(tmp), 'it')}). "
                "The file was not kept. Retry later (a proxy or an interrupted transfer can corrupt it); if the "
                f"source really changed, check it by hand before updating {MANIFEST}."
            )
        os.replace(tmp, target)
        return target
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DatasetError(
            f"Could not download {f.name} from {url} ({reason}). No network here? Download it on a machine with "
            f"internet access and copy it to {target}, then run `autograder datasets verify`."
        ) from None
    finally:
        tmp.unlink(missing_ok=True)


def fetch(name: str, *, manifest: dict[str, Dataset] | None = None, echo: Callable[[str], None] = print,
          timeout: float = 30.0) -> list[Path]:
    """Make every file of a data set available in the cache (download what is missing or corrupt)."""
    dataset = get(name, manifest)
    if dataset.offline:
        echo(f"{name}: nothing to download ({dataset.source}).")
        return []
    paths = []
    for f in dataset.files:
        existing = find_file(dataset, f)
        if existing is not None and f.pinned and checksum_problem(f, existing) is None:
            echo(f"{name}/{f.name}: already present at {existing} (checksum OK)")
            paths.append(existing)
        elif existing is not None and not f.pinned:
            echo(f"{name}/{f.name}: already present at {existing} (no checksum pinned; sha256 "
                 f"{_hash_stream(_read_chunks(existing), 'sha256')})")
            paths.append(existing)
        else:
            if not f.url:
                raise DatasetError(f"{name}/{f.name} has no download URL. " + _placement_hint(dataset, f))
            echo(f"{name}/{f.name}: downloading {f.url}")
            path = download(f.url, cache_path(dataset, f), f, timeout=timeout)
            if not f.pinned:
                echo(f"  warning: no checksum pinned; sha256 {_hash_stream(_read_chunks(path), 'sha256')} "
                     f"(pin it in {MANIFEST})")
            paths.append(path)
        target = cache_dir() / name / "images"
        if f.extract and target.is_dir() and any(target.iterdir()):
            echo(f"  already extracted to {target}")
        elif f.extract:
            report = extract_image_archive(paths[-1], f.extract, target)
            echo(f"  extracted to {target}: {report.kept} images kept, {len(report.skipped)} corrupt ones skipped")
    return paths


# --- array loaders --------------------------------------------------------------------------------
def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST's format; gzipped or not) as a uint8 array."""
    raw = gzip.open(path, "rb").read() if str(path).endswith(".gz") else Path(path).read_bytes()
    if len(raw) < 4:
        raise DatasetError(f"{path} is not an IDX file (too short)")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DatasetError(f"{path} is not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DatasetError(f"{path}: header says {shape} but holds {data.size} values")
    return data.reshape(shape)


def load_mnist() -> tuple[Arrays, Arrays]:
    """MNIST from mnist.npz: ((x_train (60000, 28, 28) uint8, y_train), (x_test, y_test))."""
    with np.load(require("mnist"), allow_pickle=False) as data:
        return (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])


def load_fashion_mnist() -> tuple[Arrays, Arrays]:
    """Fashion-MNIST from its four IDX files: ((x_train, y_train), (x_test, y_test)), uint8."""
    files = [require("fashion_mnist", n) for n in (
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz")]
    x_train, y_train, x_test, y_test = (read_idx(p) for p in files)
    return (x_train, y_train), (x_test, y_test)


def load_digits_28(test_fraction: float = 0.25) -> tuple[Arrays, Arrays]:
    """scikit-learn's 1,797 digits drawn like MNIST: 8x8 -> 20x20 (bilinear), centred in 28x28, uint8 0-255.

    The split is fixed (every 4th image is a test image), so it is the same everywhere."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = (digits.images * (255.0 / 16.0)).astype(np.uint8)
    x = np.zeros((len(small), 28, 28), dtype=np.uint8)
    for i, img in enumerate(small):
        x[i, 4:24, 4:24] = np.asarray(Image.fromarray(img).resize((20, 20), Image.Resampling.BILINEAR))
    y = digits.target.astype(np.uint8)
    step = max(int(round(1 / test_fraction)), 2)
    test = np.arange(len(x)) % step == step - 1
    return (x[~test], y[~test]), (x[test], y[test])


# --- image folders ---------------------------------------------------------------------------------
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


# --- the data of a training recipe ----------------------------------------------------------------
def _sample(x: np.ndarray, y: np.ndarray, n: int, rng: np.random.Generator) -> Arrays:
    idx = rng.permutation(len(x))[: min(n, len(x))]
    return x[idx], y[idx]


@lru_cache(maxsize=4)
def recipe_data(dataset: str, train_samples: int, test_samples: int, seed: int,
                image_size: int | None = None) -> tuple[Arrays, Arrays]:
    """A recipe's (x_train, y_train), (x_test, y_test): grey images as (N, 28, 28, 1) float32 in [0, 1],
    colour images as (N, S, S, 3); labels are class indices. Seeded, so every grading run sees the same."""
    rng = np.random.default_rng(seed)
    if dataset in ("mnist", "fashion_mnist", "digits"):
        loader = {"mnist": load_mnist, "fashion_mnist": load_fashion_mnist, "digits": load_digits_28}[dataset]
        (x_train, y_train), (x_test, y_test) = loader()
        train, test = _sample(x_train, y_train, train_samples, rng), _sample(x_test, y_test, test_samples, rng)
        return ((train[0][..., None] / np.float32(255)).astype(np.float32), train[1].astype(np.int64)), \
               ((test[0][..., None] / np.float32(255)).astype(np.float32), test[1].astype(np.int64))
    size = image_size or 64
    if dataset == "shapes":
        with tempfile.TemporaryDirectory(prefix="ag-shapes-") as tmp:
            made = {}
            for part, count, part_seed in (("train", train_samples, seed), ("test", test_samples, seed + 1)):
                raw = make_shapes_images(Path(tmp) / f"raw-{part}", (count + 1) // 2, part_seed, image_size=size)
                prepare_image_folder(raw, Path(tmp) / part)
                made[part] = _sample(*load_image_folder(Path(tmp) / part, size), count, rng)
            return made["train"], made["test"]
    if dataset == "dogs_vs_cats":
        folder = cache_dir() / "dogs_vs_cats" / "images"
        if not folder.is_dir():
            raise DatasetError("Dogs vs. Cats is not prepared: run `autograder datasets fetch dogs_vs_cats` "
                               f"(or unpack PetImages/Cat and PetImages/Dog into {folder}/cats and {folder}/dogs).")
        files = image_files(folder)
        order = rng.permutation(len(files))
        train = load_images([files[i] for i in order[:train_samples]], size)
        test = load_images([files[i] for i in order[train_samples:train_samples + test_samples]], size)
        return train, test
    raise DatasetError(f"No loader for the data set {dataset!r} (known: mnist, fashion_mnist, digits, shapes, "
                       "dogs_vs_cats).")


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
