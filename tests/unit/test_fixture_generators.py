"""The committed fixture notebooks are exactly what their generator scripts write from the current notebooks.

Each generator runs in-process into a temporary folder (``--out-dir``); every file it writes must equal the
committed one byte for byte, and every committed notebook beside it must come from a generator. A solution or
released notebook edited since the fixtures were made shows up here as stale fixtures, with the command
that regenerates them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import REPO

GENERATORS = [
    "tests/fixtures/make_01_fixtures.py",
    "tests/fixtures/01_mistakes/make_01_mistakes.py",
    "tests/fixtures/make_keras_fixtures.py",
    "tests/fixtures/04_05_make_fixtures.py",
    "tests/hostile/make_corpus.py",
    "tests/fixtures/warm/make_warm.py",
    "tests/fixtures/make_student_html_fixture.py",
    "tests/fixtures/bad_files/make_bad_files.py",
    "tests/fixtures/mistakes_02_03/make_mistakes_02_03.py",
    "tests/fixtures/mistakes_04_05/make_mistakes_04_05.py",
]


def load(script: str) -> ModuleType:
    path = REPO / script
    spec = importlib.util.spec_from_file_location(f"_fixture_generator_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generate(script: str, out: Path) -> list[str]:
    """Run ``script`` into ``out``; the names of the files it wrote."""
    load(script).main(["--out-dir", str(out)])
    return sorted(p.name for p in out.iterdir())


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """script -> the folder it was run into (each generator runs once per module)."""
    outs = {}
    for script in GENERATORS:
        outs[script] = tmp_path_factory.mktemp(Path(script).stem)
        generate(script, outs[script])
    return outs


@pytest.mark.parametrize("script", GENERATORS)
def test_committed_fixtures_are_what_the_generator_writes(script: str, generated: dict[str, Path]) -> None:
    out = generated[script]
    written = sorted(p.name for p in out.iterdir())
    assert written, f"{script} wrote nothing"
    committed = (REPO / script).parent
    stale = [name for name in written
             if not (committed / name).is_file() or (committed / name).read_bytes() != (out / name).read_bytes()]
    if stale:
        pytest.fail(f"{len(stale)} committed fixture(s) in {committed.relative_to(REPO)}/ differ from what {script} "
                    "writes now (missing or stale):\n  " + "\n  ".join(stale)
                    + f"\nRegenerate them, check the tests that use them, and commit:\n    .venv/bin/python {script}",
                    pytrace=False)


@pytest.mark.parametrize("folder", sorted({str(Path(s).parent) for s in GENERATORS}))
def test_every_committed_notebook_has_a_generator(folder: str, generated: dict[str, Path]) -> None:
    names = {p.name for script, out in generated.items() if str(Path(script).parent) == folder for p in out.iterdir()}
    orphans = sorted(p.name for p in (REPO / folder).glob("*.ipynb") if p.name not in names)
    if orphans:
        pytest.fail(f"notebooks in {folder}/ that no generator writes (delete them with `git rm`, or add them to a "
                    "generator):\n  " + "\n  ".join(orphans), pytrace=False)


def test_the_generators_are_deterministic(generated: dict[str, Path], tmp_path: Path) -> None:
    """The corpus is the largest generator and adds cells: two runs must agree (cell ids are fixed, not random)."""
    script = "tests/hostile/make_corpus.py"
    generate(script, tmp_path)
    differ = [p.name for p in sorted(generated[script].iterdir())
              if p.read_bytes() != (tmp_path / p.name).read_bytes()]
    assert not differ
