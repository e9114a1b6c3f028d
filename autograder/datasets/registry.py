"""The data sets a course names: its manifest, a cache outside git, checksums and downloads.

The manifest (course.yml ``dataset_manifest``, ``datasets/manifest.yml`` under the course root by
default: :attr:`autograder.config.Course.manifest_path`) names every data set, its files, checksums,
source and licence. Files are looked for in the cache (``$AUTOGRADER_DATA``, else
``~/.cache/cnn-autograder``) and then in the places a system package may hold them (Debian's
``dataset-fashion-mnist``). :func:`fetch` downloads into the cache atomically and keeps a file only when
its checksum matches; every failure says what to do.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from autograder.datasets.images import extract_image_archive
from autograder.errors import DatasetError

DEFAULT_CACHE = Path("~/.cache/cnn-autograder")
CHUNK = 1 << 20


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


class Manifest(dict[str, Dataset]):
    """The data sets of one manifest file, by name; ``path`` is that file (named in messages)."""

    def __init__(self, path: Path, datasets: dict[str, Dataset]) -> None:
        super().__init__(datasets)
        self.path = path


ManifestSource = Path | dict[str, Dataset]  # a manifest file (course.manifest_path), or one already read


def load_manifest(path: Path) -> Manifest:
    """Read the manifest at ``path``; a missing file and unknown keys are errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(
            f"{path}: the data set manifest does not exist. course.yml's dataset_manifest names it, relative to "
            "the course root (default: datasets/manifest.yml); put the course's manifest there, or set "
            "dataset_manifest to where it is."
        )
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DatasetError(f"{path}: cannot read the data set manifest ({exc})") from None
    entries = raw.get("datasets") if isinstance(raw, dict) else None
    if not isinstance(entries, dict):
        raise DatasetError(f"{path}: expected a top-level 'datasets:' mapping")
    out: dict[str, Dataset] = {}
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
    return Manifest(path, out)


def read_manifest(manifest: ManifestSource) -> dict[str, Dataset]:
    """The data sets of ``manifest``: read from its file, or as given."""
    return manifest if isinstance(manifest, dict) else load_manifest(manifest)


def _manifest_name(manifest: ManifestSource) -> str:
    if isinstance(manifest, Manifest):
        return str(manifest.path)
    return "the data set manifest" if isinstance(manifest, dict) else str(manifest)


def get(name: str, manifest: ManifestSource) -> Dataset:
    """The data set ``name`` of ``manifest``; a clear error naming the known ones if there is none."""
    manifest = read_manifest(manifest)
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


def require(name: str, filename: str | None = None, *, manifest: ManifestSource) -> Path:
    """The path of a data set's file (its only file by default); a clear error if it is not there."""
    dataset = get(name, manifest)
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


def verify(name: str | None = None, *, manifest: ManifestSource) -> list[FileStatus]:
    """Check every file of one data set (or all) that is present against its checksum."""
    where = _manifest_name(manifest)
    manifest = read_manifest(manifest)
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
                                      f"no checksum pinned; its sha256 is {actual} (add it to {where})"))
            else:
                problem = checksum_problem(f, path)
                out.append(FileStatus(dataset.name, f.name, path, "corrupt" if problem else "ok", problem or ""))
    return out


# --- downloading --------------------------------------------------------------------------------------
def download(url: str, target: Path, f: DataFile, *, timeout: float = 30.0,
             progress: Callable[[int], None] | None = None, manifest_name: str = "the data set manifest") -> Path:
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
                f"source really changed, check it by hand before updating {manifest_name}."
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


def fetch(name: str, *, manifest: ManifestSource, echo: Callable[[str], None] = print,
          timeout: float = 30.0) -> list[Path]:
    """Make every file of a data set available in the cache (download what is missing or corrupt)."""
    where = _manifest_name(manifest)
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
            path = download(f.url, cache_path(dataset, f), f, timeout=timeout, manifest_name=where)
            if not f.pinned:
                echo(f"  warning: no checksum pinned; sha256 {_hash_stream(_read_chunks(path), 'sha256')} "
                     f"(pin it in {where})")
            paths.append(path)
        target = cache_dir() / name / "images"
        if f.extract and target.is_dir() and any(target.iterdir()):
            echo(f"  already extracted to {target}")
        elif f.extract:
            report = extract_image_archive(paths[-1], f.extract, target)
            echo(f"  extracted to {target}: {report.kept} images kept, {len(report.skipped)} corrupt ones skipped")
    return paths
