"""Data sets: manifest, checksums, IDX parsing of the real Fashion-MNIST files, fetch over local HTTP."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from autograder import datasets as ds
from autograder.cli import cli
from autograder.config import load_course
from tests.conftest import REPO, make_course, require

FASHION = Path("/usr/share/datasets/fashion-mnist")
MANIFEST = load_course(REPO / "course.yml").manifest_path  # the course's manifest, datasets/manifest.yml


@pytest.fixture
def needs_fashion() -> None:
    require((FASHION / "t10k-labels-idx1-ubyte.gz").is_file(),
            "dataset-fashion-mnist is not installed: `make system-deps` (apt-get install dataset-fashion-mnist)")


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("AUTOGRADER_DATA", str(cache))
    return cache


def test_manifest_lists_the_courses_data_with_sources_and_licences() -> None:
    manifest = ds.load_manifest(MANIFEST)
    assert {"mnist", "fashion_mnist", "digits", "dogs_vs_cats", "vgg16_notop", "shapes", "textures"} <= \
        manifest.keys()
    for entry in manifest.values():
        assert entry.source and entry.licence and entry.size, entry.name
        assert entry.offline or entry.files, entry.name
    assert manifest["mnist"].files[0].sha256 == "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
    assert manifest["vgg16_notop"].files[0].md5 == "6d6bbae143d832006294945121d1f1fc"
    assert manifest["dogs_vs_cats"].files[0].extract == {"cats": "PetImages/Cat", "dogs": "PetImages/Dog"}


def test_unknown_manifest_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yml"
    path.write_text("datasets:\n  x:\n    title: X\n    licnece: MIT\n")
    with pytest.raises(ds.DatasetError, match=r"datasets.x: unknown key\(s\) \['licnece'\]"):
        ds.load_manifest(path)


def test_the_manifest_comes_from_the_course_and_a_missing_one_says_what_to_do(tmp_path: Path) -> None:
    course_yml = make_course(tmp_path / "course")
    data = yaml.safe_load(course_yml.read_text())
    data["dataset_manifest"] = "data/sets.yml"
    course_yml.write_text(yaml.safe_dump(data, sort_keys=False))
    course = load_course(course_yml)
    assert course.manifest_path == course.root / "data" / "sets.yml"
    runner = CliRunner()
    missing = runner.invoke(cli, ["--course", str(course_yml), "datasets", "list"])
    assert missing.exit_code != 0 and isinstance(missing.exception, ds.DatasetError)
    assert f"{course.manifest_path}: the data set manifest does not exist" in str(missing.exception)
    assert "dataset_manifest" in str(missing.exception)
    with pytest.raises(ds.DatasetError, match="the data set manifest does not exist"):
        ds.recipe_data("mnist", 10, 10, 0, manifest=course.manifest_path)
    course.manifest_path.parent.mkdir()
    course.manifest_path.write_text("datasets:\n  toy:\n    title: Toy\n    source: generated\n    licence: none\n"
                                    "    size: 0 kB\n    offline: true\n")
    listing = runner.invoke(cli, ["--course", str(course_yml), "datasets", "list"])
    assert listing.exit_code == 0, listing.output
    assert [line.split()[:2] for line in listing.output.splitlines()[1:]] == [["toy", "offline"], ["licence:", "none"]]
    with pytest.raises(ds.DatasetError, match="Unknown data set 'mnist'. The manifest lists: toy."):
        ds.recipe_data("mnist", 10, 10, 0, manifest=course.manifest_path)


def test_cache_is_outside_git_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOGRADER_DATA")
    assert ds.cache_dir() == Path.home() / ".cache" / "cnn-autograder"


@pytest.mark.usefixtures("needs_fashion")
def test_fashion_mnist_checksums_and_idx_parsing_on_the_real_files() -> None:
    statuses = ds.verify("fashion_mnist", manifest=MANIFEST)
    assert [s.state for s in statuses] == ["ok"] * 4
    (x_train, y_train), (x_test, y_test) = ds.load_fashion_mnist(MANIFEST)
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == (
        (60000, 28, 28), (60000,), (10000, 28, 28), (10000,))
    assert x_train.dtype == np.uint8 and x_train.max() == 255
    assert np.bincount(y_test).tolist() == [1000] * 10  # 10 balanced classes
    assert y_train[:5].tolist() == [9, 0, 0, 3, 0]  # ankle boot, T-shirt, T-shirt, dress, T-shirt


def test_idx_header_is_checked(tmp_path: Path) -> None:
    good = tmp_path / "ok.idx"
    good.write_bytes(struct.pack(">HBB", 0, 8, 2) + struct.pack(">II", 2, 3) + bytes(range(6)))
    assert ds.read_idx(good).tolist() == [[0, 1, 2], [3, 4, 5]]
    short = tmp_path / "short.idx.gz"
    short.write_bytes(gzip.compress(struct.pack(">HBB", 0, 8, 1) + struct.pack(">I", 9) + b"abc"))
    with pytest.raises(ds.DatasetError, match=r"header says \(9,\) but holds 3"):
        ds.read_idx(short)
    with pytest.raises(ds.DatasetError, match="not an unsigned-byte IDX"):
        good.write_bytes(b"\x00\x00\x0d\x01" + bytes(8))
        ds.read_idx(good)


def test_digits_in_mnist_layout() -> None:
    (x_train, y_train), (x_test, y_test) = ds.load_digits_28()
    assert x_train.shape[1:] == (28, 28) and x_train.dtype == np.uint8
    assert len(x_train) + len(x_test) == 1797 and len(x_test) == 449
    assert x_train[:, :4].max() == 0 and x_train[:, 24:].max() == 0  # a 4-pixel empty frame, as in MNIST
    assert x_train.max() == 255 and set(np.unique(y_test)) == set(range(10))


def test_shapes_images_are_real_jpegs_with_one_corrupt_file(tmp_path: Path) -> None:
    raw = ds.make_shapes_images(tmp_path / "raw", 6, seed=3, image_size=32)
    assert sorted(p.name for p in (raw / "dogs").iterdir())[:2] == ["dog.0.jpg", "dog.1.jpg"]
    assert len(list((raw / "cats").iterdir())) == 7  # 6 + corrupt.jpg
    assert (raw / "dogs" / "dog.0.jpg").read_bytes()[:2] == b"\xff\xd8"  # JPEG magic
    report = ds.prepare_image_folder(raw, tmp_path / "clean")
    assert (report.kept, report.skipped) == (12, ["cats/corrupt.jpg"])
    x, y = ds.load_image_folder(tmp_path / "clean", 16)
    assert x.shape == (12, 16, 16, 3) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert y.tolist() == [0] * 6 + [1] * 6
    again = ds.make_shapes_images(tmp_path / "again", 6, seed=3, image_size=32)
    assert (again / "cats" / "cat.4.jpg").read_bytes() == (raw / "cats" / "cat.4.jpg").read_bytes()


def test_textures_are_seeded_and_written_as_real_images_in_class_folders(tmp_path: Path) -> None:
    from PIL import Image

    x, y = ds.make_textures(10, 16, seed=5)
    assert x.shape == (10, 16, 16, 3) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 255
    assert y.dtype == np.int64 and np.bincount(y).tolist() == [5, 5]
    x_again, y_again = ds.make_textures(10, 16, seed=5)
    np.testing.assert_array_equal(x, x_again)
    np.testing.assert_array_equal(y, y_again)
    assert not np.array_equal(ds.make_textures(10, 16, seed=6)[0], x)
    # blotchy images are constant within cells of 2-4 pixels; grainy ones change at (almost) every pixel
    same_as_left = (np.diff(x, axis=2) == 0).mean(axis=(1, 2, 3))
    assert same_as_left[y == 0].min() > 0.4 and same_as_left[y == 1].max() < 0.1

    folder = ds.make_textures_images(tmp_path / "textures", 10, seed=5, image_size=16)
    assert sorted(p.name for p in folder.iterdir()) == ["blotchy", "grainy"]
    files = sorted(folder.rglob("*"))
    assert sorted(p.name for p in files if p.is_file()) == sorted(
        f"{ds.TEXTURE_CLASSES[label]}.{i}.png" for i, label in enumerate(y))
    for i, label in enumerate(y):
        path = folder / ds.TEXTURE_CLASSES[label] / f"{ds.TEXTURE_CLASSES[label]}.{i}.png"
        with Image.open(path) as img:
            assert (img.format, img.mode, img.size) == ("PNG", "RGB", (16, 16))
            np.testing.assert_array_equal(np.asarray(img), np.round(x[i]).astype(np.uint8))
    loaded_x, loaded_y = ds.load_image_folder(folder, 16)  # folder order gives the generator's labels
    assert loaded_x.shape == (10, 16, 16, 3) and sorted(loaded_y.tolist()) == sorted(y.tolist())
    again = ds.make_textures_images(tmp_path / "again", 10, seed=5, image_size=16)
    assert [p.read_bytes() for p in sorted(again.rglob("*.png"))] == [p.read_bytes() for p in files if p.is_file()]

    listing = CliRunner().invoke(cli, ["datasets", "list"])
    assert listing.exit_code == 0
    assert [line.split()[:2] for line in listing.output.splitlines() if line.startswith("textures")] == \
        [["textures", "offline"]]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()


def _manifest(tmp_path: Path, url: str, sha256: str) -> dict[str, ds.Dataset]:
    path = tmp_path / "manifest.yml"
    path.write_text(f"datasets:\n  toy:\n    title: Toy\n    source: test\n    licence: none\n    size: 1 kB\n"
                    f"    files:\n      - name: toy.bin\n        url: {url}\n        sha256: '{sha256}'\n")
    return ds.load_manifest(path)


def test_fetch_downloads_verifies_and_is_atomic(tmp_path: Path, server: tuple[str, Path],
                                                private_cache: Path) -> None:
    base, root = server
    payload = bytes(range(256)) * 40
    (root / "toy.bin").write_bytes(payload)
    manifest = _manifest(tmp_path, f"{base}/toy.bin", hashlib.sha256(payload).hexdigest())
    messages: list[str] = []
    [path] = ds.fetch("toy", manifest=manifest, echo=messages.append)
    assert path == private_cache / "toy" / "toy.bin" and path.read_bytes() == payload
    assert [p.name for p in path.parent.iterdir()] == ["toy.bin"]  # no partial file left behind
    assert [s.state for s in ds.verify("toy", manifest=manifest)] == ["ok"]
    ds.fetch("toy", manifest=manifest, echo=messages.append)
    assert "already present" in messages[-1]


def test_a_bad_checksum_keeps_nothing_and_says_so(tmp_path: Path, server: tuple[str, Path],
                                                  private_cache: Path) -> None:
    base, root = server
    (root / "toy.bin").write_bytes(b"tampered")
    manifest = _manifest(tmp_path, f"{base}/toy.bin", "0" * 64)
    with pytest.raises(ds.DatasetError, match=r"does not match its checksum.*expects 0{64}.*not kept"):
        ds.fetch("toy", manifest=manifest, echo=lambda _: None)
    assert not any((private_cache / "toy").iterdir())


def test_a_corrupt_cached_file_is_reported_by_verify(tmp_path: Path, private_cache: Path) -> None:
    manifest = _manifest(tmp_path, "http://127.0.0.1:9/toy.bin", hashlib.sha256(b"right").hexdigest())
    (private_cache / "toy").mkdir(parents=True)
    (private_cache / "toy" / "toy.bin").write_bytes(b"wrong")
    [status] = ds.verify("toy", manifest=manifest)
    assert status.state == "corrupt" and "the manifest expects" in status.message


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_network_error_says_where_to_put_the_file(tmp_path: Path, private_cache: Path) -> None:
    manifest = _manifest(tmp_path, f"http://127.0.0.1:{_closed_port()}/toy.bin", "0" * 64)
    with pytest.raises(ds.DatasetError) as err:
        ds.fetch("toy", manifest=manifest, echo=lambda _: None, timeout=5)
    message = str(err.value)
    assert "Could not download toy.bin" in message and "No network here?" in message
    assert str(private_cache / "toy" / "toy.bin") in message


def test_cli_verify_and_missing_file_exit_non_zero(private_cache: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["datasets", "verify", "mnist"])
    assert result.exit_code != 0
    assert "autograder datasets fetch mnist" in result.output and "place it by hand at" in result.output
    listing = runner.invoke(cli, ["datasets", "list"])
    assert listing.exit_code == 0 and "fashion_mnist" in listing.output and "licence: MIT" in listing.output
    with pytest.raises(ds.DatasetError, match="mnist.npz is missing.*place it by hand"):
        ds.load_mnist(MANIFEST)


def test_cli_main_prints_the_error_without_traceback(private_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from autograder.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["datasets", "fetch", "no_such_set"])
    assert exit_info.value.code == ds.DatasetError.exit_code
    assert "Unknown data set 'no_such_set'" in capsys.readouterr().err


def test_fetch_extracts_class_folders_and_skips_corrupt_images(tmp_path: Path, server: tuple[str, Path],
                                                                private_cache: Path) -> None:
    import zipfile

    base, root = server
    raw = ds.make_shapes_images(tmp_path / "raw", 3, seed=1, image_size=24)  # cats/ has corrupt.jpg
    with zipfile.ZipFile(root / "pets.zip", "w") as zf:
        for cls, folder in (("cats", "PetImages/Cat"), ("dogs", "PetImages/Dog")):
            for path in sorted((raw / cls).iterdir()):
                zf.write(path, f"{folder}/{path.name}")
        zf.writestr("PetImages/Dog/empty.jpg", b"")  # the real archive has 0-byte files too
        zf.writestr("readme.txt", "not an image")
    path = tmp_path / "manifest.yml"
    path.write_text(f"datasets:\n  pets:\n    title: Pets\n    source: test\n    licence: none\n    size: 1 kB\n"
                    f"    files:\n      - name: pets.zip\n        url: {base}/pets.zip\n        sha256: null\n"
                    f"        extract: {{cats: PetImages/Cat, dogs: PetImages/Dog}}\n")
    messages: list[str] = []
    ds.fetch("pets", manifest=ds.load_manifest(path), echo=messages.append)
    assert "warning: no checksum pinned; sha256" in "\n".join(messages)
    assert "6 images kept, 2 corrupt ones skipped" in messages[-1]
    images = private_cache / "pets" / "images"
    assert sorted(p.name for p in (images / "dogs").iterdir()) == ["dog.0.jpg", "dog.1.jpg", "dog.2.jpg"]
    x, y = ds.load_image_folder(images, 8)
    assert x.shape == (6, 8, 8, 3) and y.tolist() == [0, 0, 0, 1, 1, 1]
