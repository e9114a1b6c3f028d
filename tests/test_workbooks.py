"""The course workbooks: the lecture's numbers, read from the workbooks' own formulas.

Every expected value below is the lecture's, compared with what :func:`course_reference_book` evaluates
from the committed ``.xlsx`` files that course.yml lists; numpy re-computations use the inputs read from the
same workbooks.  Nothing pins the committed files to :mod:`autograder.workbooks` (the tool that first wrote
them): an instructor may edit them in Excel or LibreOffice (see test_libreoffice.py).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from openpyxl import load_workbook
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.workbook.workbook import Workbook

from autograder import references, workbooks
from autograder.config import load_course
from autograder.references import (
    ActivationCase,
    ConvolutionCase,
    PoolingCase,
    ReferenceBook,
    WorkbookError,
    course_reference_book,
    load_reference_book,
    workbook_files,
)
from tests.conftest import REPO

COURSE = load_course(REPO / "course.yml")
CONVOLUTION = COURSE.assignment("01_convolution")
WORKBOOK_DIR = REPO / "datasets" / "workbooks"
WORKBOOK_FILES = ("convolution operation.xlsx", "activation fn.xlsx")
CONVOLUTION_XLSX = WORKBOOK_DIR / "convolution operation.xlsx"
ACTIVATION_XLSX = WORKBOOK_DIR / "activation fn.xlsx"


@pytest.fixture(scope="module")
def book() -> ReferenceBook:
    return course_reference_book(COURSE, CONVOLUTION)


def test_the_course_lists_its_workbooks() -> None:
    assert workbook_files(COURSE, CONVOLUTION) == [CONVOLUTION_XLSX, ACTIVATION_XLSX]
    assert workbook_files(COURSE, COURSE.assignment("02_mnist_cnn")) == []
    with pytest.raises(WorkbookError, match="02_mnist_cnn lists no workbook"):
        course_reference_book(COURSE, COURSE.assignment("02_mnist_cnn"))


def correlate(image: np.ndarray, kernel: np.ndarray, stride: tuple[int, int], padding: int) -> np.ndarray:
    """Direct cross-correlation (what a CNN calls convolution), independent of the workbook."""
    padded = np.pad(image, padding)
    windows = sliding_window_view(padded, kernel.shape)[:: stride[0], :: stride[1]]
    return np.einsum("ijkl,kl->ij", windows, kernel)


def pool(x: np.ndarray, size: int, stride: int, mode: str) -> np.ndarray:
    windows = sliding_window_view(x, (size, size))[::stride, ::stride]
    return windows.max(axis=(2, 3)) if mode == "max" else windows.mean(axis=(2, 3))


def name_range(wb: Workbook, name: str) -> tuple[str, str]:
    ((sheet, coordinates),) = list(wb.defined_names[name].destinations)
    return sheet, coordinates.replace("$", "")


def copy_workbooks(destination: Path, names: tuple[str, ...] = WORKBOOK_FILES) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy2(WORKBOOK_DIR / name, destination / name)
    return destination


# --------------------------------------------------------------------------------------------
# The lecture's numbers
# --------------------------------------------------------------------------------------------


def test_cases_are_discovered_from_the_defined_names(book: ReferenceBook) -> None:
    assert set(book.convolutions) == {
        "stride1_4x6",
        "stride1_10x10",
        "stride2_4x6",
        "stride2_10x10",
        "zero_padding_4x6",
    }
    assert set(book.poolings) == {
        "max_2x2_stride2",
        "max_2x2_stride1",
        "average_2x2_stride2",
        "average_2x2_stride1",
    }
    assert set(book.activations) == {"relu", "sigmoid", "leaky_relu"}
    assert all(isinstance(c, ConvolutionCase) for c in book.convolutions.values())
    assert all(isinstance(c, PoolingCase) for c in book.poolings.values())
    assert all(isinstance(c, ActivationCase) for c in book.activations.values())


def test_4x6_stride_1(book: ReferenceBook) -> None:
    case = book.convolutions["stride1_4x6"]
    assert case.sheet == "stride=1"
    assert case.image.shape == (4, 6)
    assert case.kernel.tolist() == [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]  # Bottom Sobel
    assert (case.stride, case.padding) == ((1, 1), 0)
    assert case.expected.tolist() == [[19, 17, 26, 26], [24, 56, 48, 57]]


def test_4x6_stride_1_by_2(book: ReferenceBook) -> None:
    case = book.convolutions["stride2_4x6"]
    assert case.sheet == "stride=2"
    assert (case.stride, case.padding) == ((1, 2), 0)
    assert case.expected.tolist() == [[19, 26], [24, 48]]


def test_zero_padding_recovers_the_4x6_size(book: ReferenceBook) -> None:
    case = book.convolutions["zero_padding_4x6"]
    assert case.sheet == "zero padding"
    assert (case.stride, case.padding) == ((1, 1), 1)
    assert case.expected.shape == case.image.shape == (4, 6)
    assert case.expected[0].tolist() == [20, 26, 21, 26, 34, 22]
    assert case.expected[-1].tolist() == [-56, -56, -39, -40, -51, -40]
    assert case.expected[1:3].tolist() == [[24, 19, 17, 26, 26, 7], [-11, 24, 56, 48, 57, 50]]


@pytest.mark.parametrize(("name", "shape"), [("stride1_10x10", (8, 8)), ("stride2_10x10", (4, 4))])
def test_10x10_output_size_and_values(book: ReferenceBook, name: str, shape: tuple[int, int]) -> None:
    case = book.convolutions[name]
    assert case.image.shape == (10, 10)
    assert case.expected.shape == shape  # (10 - 3) / S + 1, rounded down: 8 and 4.5 -> 4
    np.testing.assert_array_equal(case.expected, correlate(case.image, case.kernel, case.stride, 0))


def test_every_convolution_matches_numpy(book: ReferenceBook) -> None:
    for case in book.convolutions.values():
        np.testing.assert_array_equal(
            case.expected, correlate(case.image, case.kernel, case.stride, case.padding), err_msg=case.name
        )


def test_max_pooling(book: ReferenceBook) -> None:
    stride2 = book.poolings["max_2x2_stride2"]
    assert stride2.x.tolist() == [[10, 12, 3, 4], [6, 8, 4, 5], [22, 12, 10, 7], [0, 9, 32, 4]]
    assert (stride2.size, stride2.stride, stride2.mode) == (2, 2, "max")
    assert stride2.expected.tolist() == [[12, 5], [22, 32]]
    stride1 = book.poolings["max_2x2_stride1"]
    assert (stride1.size, stride1.stride, stride1.mode) == (2, 1, "max")
    assert stride1.expected.tolist() == [[12, 12, 5], [22, 12, 10], [22, 32, 32]]


def test_average_pooling(book: ReferenceBook) -> None:
    stride2 = book.poolings["average_2x2_stride2"]
    assert (stride2.size, stride2.stride, stride2.mode) == (2, 2, "average")
    assert stride2.expected.tolist() == [[9, 4], [10.75, 13.25]]
    assert book.poolings["average_2x2_stride1"].expected.shape == (3, 3)
    for case in book.poolings.values():
        np.testing.assert_allclose(case.expected, pool(case.x, case.size, case.stride, case.mode), err_msg=case.name)


def test_relu(book: ReferenceBook) -> None:
    case = book.activations["relu"]
    assert case.function == "relu" and case.alpha is None
    assert case.x.tolist() == [[0.5, 0.3, -1.2, 0.6], [-2.2, -0.2, 1.4, -0.4]]
    assert case.expected.tolist() == [[0.5, 0.3, 0.0, 0.6], [0.0, 0.0, 1.4, 0.0]]


def test_sigmoid_full_precision_and_lecture_rounding(book: ReferenceBook) -> None:
    case = book.activations["sigmoid"]
    assert case.function == "sigmoid"
    np.testing.assert_allclose(case.expected, 1 / (1 + np.exp(-case.x)), rtol=1e-12)
    assert np.round(case.expected, 1).tolist() == [[0.6, 0.6, 0.2, 0.6], [0.1, 0.5, 0.8, 0.4]]
    assert case.expected[0, 0] != 0.6  # stored at full precision, only shown to one decimal


def test_leaky_relu(book: ReferenceBook) -> None:
    case = book.activations["leaky_relu"]
    assert case.function == "leaky_relu" and case.alpha == pytest.approx(0.1)
    np.testing.assert_allclose(case.expected, np.where(case.x > 0, case.x, 0.1 * case.x), rtol=1e-12)
    assert np.round(case.expected, 1).tolist() == [[0.5, 0.3, -0.1, 0.6], [-0.2, -0.0, 1.4, -0.0]]


def test_arrays_are_read_only_float64(book: ReferenceBook) -> None:
    for case in [*book.convolutions.values(), *book.poolings.values(), *book.activations.values()]:
        for value in vars(case).values():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float64
                with pytest.raises(ValueError):
                    value[0, 0] = 1.0
    with pytest.raises(TypeError):
        book.convolutions["x"] = book.convolutions["stride1_4x6"]


def test_load_is_cached_until_a_file_changes(book: ReferenceBook, tmp_path: Path) -> None:
    assert course_reference_book(COURSE, CONVOLUTION) is book
    assert load_reference_book([CONVOLUTION_XLSX, ACTIVATION_XLSX]) is book
    directory = copy_workbooks(tmp_path / "copy")
    first = load_reference_book(directory)
    assert load_reference_book(directory) is first
    path = directory / "activation fn.xlsx"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert load_reference_book(directory) is not first


# --------------------------------------------------------------------------------------------
# The workbooks themselves
# --------------------------------------------------------------------------------------------


def test_worksheet_names() -> None:
    assert load_workbook(CONVOLUTION_XLSX).sheetnames == [
        "stride=1",
        "stride=2",
        "zero padding",
        "max pooling",
        "average pooling",
    ]
    assert load_workbook(ACTIVATION_XLSX).sheetnames == ["activation functions"]


@pytest.mark.parametrize("path", [CONVOLUTION_XLSX, ACTIVATION_XLSX], ids=lambda p: p.name)
def test_outputs_are_formulas_and_inputs_are_values(path: Path) -> None:
    wb = load_workbook(path)
    names = list(wb.defined_names)
    outputs = [n for n in names if n.endswith("_output")]
    inputs = [n for n in names if n.endswith(("_image", "_kernel", "_input"))]
    assert outputs and inputs
    for name in outputs:
        sheet, coordinates = name_range(wb, name)
        for row in wb[sheet][coordinates]:
            for cell in row:
                assert cell.data_type == "f", f"{name} {cell.coordinate} is not a formula: {cell.value!r}"
    for name in inputs:
        sheet, coordinates = name_range(wb, name)
        for row in wb[sheet][coordinates]:
            for cell in row:
                assert cell.data_type == "n", f"{name} {cell.coordinate} is not a number: {cell.value!r}"


def test_output_formulas_follow_the_lecture() -> None:
    conv = load_workbook(CONVOLUTION_XLSX)
    sheet, coordinates = name_range(conv, "stride1_4x6_output")
    first = conv[sheet][coordinates][0][0].value
    assert first.startswith("=SUMPRODUCT(")
    sheet, coordinates = name_range(conv, "max_2x2_stride2_output")
    assert conv[sheet][coordinates][0][0].value.startswith("=MAX(")
    sheet, coordinates = name_range(conv, "average_2x2_stride2_output")
    assert conv[sheet][coordinates][0][0].value.startswith("=AVERAGE(")
    act = load_workbook(ACTIVATION_XLSX)
    alpha_sheet, alpha = name_range(act, "leaky_relu_alpha")
    sheet, coordinates = name_range(act, "leaky_relu_output")
    leaky = act[sheet][coordinates][0][0]
    assert leaky.value.startswith("=IF(") and f"${alpha[0]}${alpha[1:]}" in leaky.value
    sheet, coordinates = name_range(act, "sigmoid_output")
    sigmoid = act[sheet][coordinates][0][0]
    assert "EXP(" in sigmoid.value and sigmoid.number_format == "0.0"


def test_builder_is_deterministic(tmp_path: Path) -> None:
    first = workbooks.build_workbooks(tmp_path / "a")
    second = workbooks.build_workbooks(tmp_path / "b")
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
        assert a.stat().st_size < 64_000


# --------------------------------------------------------------------------------------------
# References are derived from the workbooks, and broken workbooks are refused clearly
# --------------------------------------------------------------------------------------------


def test_edited_workbook_changes_the_reference(book: ReferenceBook, tmp_path: Path) -> None:
    directory = copy_workbooks(tmp_path / "edited", ("convolution operation.xlsx",))
    path = directory / "convolution operation.xlsx"
    wb = load_workbook(path)
    sheet, coordinates = name_range(wb, "stride1_4x6_image")
    wb[sheet][coordinates][0][0].value = 100  # was 10
    wb.save(path)

    edited_book = load_reference_book(directory)
    assert edited_book.activations == {}  # only the copied workbook is read
    edited = edited_book.convolutions["stride1_4x6"]
    original = book.convolutions["stride1_4x6"]
    assert edited.image[0, 0] == 100
    assert not np.array_equal(edited.expected, original.expected)
    np.testing.assert_array_equal(edited.expected, correlate(edited.image, edited.kernel, (1, 1), 0))
    assert edited.expected[0, 0] == 19 - 90  # the kernel's top-left weight is -1


def test_missing_defined_name_is_reported(tmp_path: Path) -> None:
    directory = copy_workbooks(tmp_path / "missing")
    path = directory / "convolution operation.xlsx"
    wb = load_workbook(path)
    del wb.defined_names["stride1_4x6_kernel"]
    wb.save(path)
    with pytest.raises(WorkbookError, match="stride1_4x6_kernel") as info:
        load_reference_book(directory)
    assert "convolution operation.xlsx" in str(info.value)


def test_formula_error_is_reported(tmp_path: Path) -> None:
    directory = copy_workbooks(tmp_path / "broken")
    path = directory / "activation fn.xlsx"
    wb = load_workbook(path)
    sheet, coordinates = name_range(wb, "relu_output")
    wb[sheet][coordinates][0][0].value = "=1/0"
    wb.save(path)
    with pytest.raises(WorkbookError, match=r"relu_output.*#DIV/0!") as info:
        load_reference_book(directory)
    assert "activation functions" in str(info.value)


def test_missing_workbooks_are_reported(tmp_path: Path) -> None:
    with pytest.raises(WorkbookError, match="nowhere.xlsx: workbook not found"):
        load_reference_book(tmp_path / "nowhere.xlsx")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WorkbookError, match="no workbook"):
        load_reference_book(tmp_path / "empty")


def test_missing_lecture_case_is_reported(tmp_path: Path) -> None:
    directory = copy_workbooks(tmp_path / "no-sigmoid", ("activation fn.xlsx",))
    path = directory / "activation fn.xlsx"
    wb = load_workbook(path)
    for name in [n for n in wb.defined_names if n.startswith("sigmoid_")]:
        del wb.defined_names[name]
    wb.save(path)
    with pytest.raises(WorkbookError, match="sigmoid_output"):
        load_reference_book(directory)


def test_instructor_can_add_a_case(tmp_path: Path) -> None:
    directory = copy_workbooks(tmp_path / "added", ("convolution operation.xlsx",))
    path = directory / "convolution operation.xlsx"
    wb = load_workbook(path)
    ws = wb.create_sheet("sharpen, new")
    for r, row in enumerate([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]], start=1):
        for c, value in enumerate(row, start=1):
            ws.cell(row=r, column=c, value=value)
    for r, row in enumerate([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], start=1):
        for c, value in enumerate(row, start=6):
            ws.cell(row=r, column=c, value=value)
    ws["J1"], ws["K1"] = "=SUMPRODUCT(A1:C3,$F$1:$H$3)", "=SUMPRODUCT(B1:D3,$F$1:$H$3)"
    ws["A5"], ws["A6"], ws["A7"] = 1, 1, 0
    sheet = "'sharpen, new'"
    for field, ref in {
        "image": "$A$1:$D$3",
        "kernel": "$F$1:$H$3",
        "output": "$J$1:$K$1",
        "stride_rows": "$A$5",
        "stride_cols": "$A$6",
        "padding": "$A$7",
    }.items():
        name = f"sharpen_3x4_{field}"
        wb.defined_names[name] = DefinedName(name=name, attr_text=f"{sheet}!{ref}")
    wb.save(path)

    case = load_reference_book(directory).convolutions["sharpen_3x4"]
    assert case.sheet == "sharpen, new"
    assert case.expected.tolist() == [[6, 7]]
    np.testing.assert_array_equal(case.expected, correlate(case.image, case.kernel, case.stride, case.padding))


def test_builder_never_overwrites_edited_workbooks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert workbooks.main([str(tmp_path)]) == 0
    edited = tmp_path / "activation fn.xlsx"
    wb = load_workbook(edited)
    sheet, coordinates = name_range(wb, "relu_input")
    wb[sheet][coordinates][0][0].value = 99  # an instructor's edit
    wb.save(edited)
    assert workbooks.main([str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err
    assert load_reference_book(edited).activations["relu"].x[0, 0] == 99  # the edit is still there
    assert workbooks.main([str(tmp_path), "--force"]) == 0
    assert load_reference_book(edited).activations["relu"].x[0, 0] == 0.5  # the lecture's original, on request
    assert workbooks.main([]) == 2


# --------------------------------------------------------------------------------------------
# The evaluated book on disk: a new grader process reads it instead of evaluating the formulas
# --------------------------------------------------------------------------------------------


def same_book(a: ReferenceBook, b: ReferenceBook) -> bool:
    def flat(book: ReferenceBook) -> list[tuple[str, object]]:
        cases: list[ConvolutionCase | PoolingCase | ActivationCase] = [
            *book.convolutions.values(), *book.poolings.values(), *book.activations.values()]
        return [(f"{c.name}.{k}", v.tolist() if isinstance(v, np.ndarray) else v) for c in cases
                for k, v in vars(c).items()]
    return flat(a) == flat(b)


def fresh_load(paths: list[Path]) -> ReferenceBook:
    """Load as a new grader process would: nothing in this process's memory."""
    references._load_cached.cache_clear()
    return load_reference_book(paths)


def test_the_evaluated_book_is_kept_on_disk_and_read_back_exactly(book: ReferenceBook, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    paths = [CONVOLUTION_XLSX, ACTIVATION_XLSX]
    evaluated = fresh_load(paths)
    entries = list((tmp_path / "cache" / "references").iterdir())
    assert [e.suffix for e in entries] == [".json"]
    assert (entries[0].stat().st_mode & 0o777, entries[0].parent.stat().st_mode & 0o777) == (0o600, 0o700)

    def no_evaluation(key: object) -> ReferenceBook:
        raise AssertionError("the formulas were evaluated again")

    monkeypatch.setattr(references, "_evaluate_book", no_evaluation)
    cached = fresh_load(paths)
    assert cached is not evaluated and same_book(cached, evaluated) and same_book(cached, book)
    test_arrays_are_read_only_float64(cached)


@pytest.mark.parametrize("spoil", ["garbage", "truncated", "writable by others"])
def test_an_entry_that_cannot_be_trusted_is_evaluated_again(book: ReferenceBook, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch, spoil: str) -> None:
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    paths = [CONVOLUTION_XLSX, ACTIVATION_XLSX]
    fresh_load(paths)
    (entry,) = (tmp_path / "cache" / "references").iterdir()
    text = entry.read_text()
    if spoil == "garbage":
        entry.write_text('{"convolutions": 42}')
    elif spoil == "truncated":
        entry.write_text(text[: len(text) // 2])
    else:  # a valid book with a wrong answer, in a file anyone could have written
        entry.write_text(text.replace('"values": [', '"values": [9', 1))
        entry.chmod(0o666)
    reloaded = fresh_load(paths)
    assert same_book(reloaded, book)
    assert entry.stat().st_mode & 0o777 == 0o600 and entry.read_text() == text  # rewritten


def test_an_edited_workbook_gets_a_new_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    directory = copy_workbooks(tmp_path / "copy")
    first = fresh_load([directory / n for n in WORKBOOK_FILES])
    wb = load_workbook(directory / "activation fn.xlsx")
    sheet, cell = name_range(wb, "relu_input")
    wb[sheet][cell.split(":")[0]] = 123.0
    wb.save(directory / "activation fn.xlsx")
    second = fresh_load([directory / n for n in WORKBOOK_FILES])
    assert len(list((tmp_path / "cache" / "references").iterdir())) == 2
    assert not same_book(first, second)
    assert second.activations["relu"].x.ravel()[0] == 123.0
