"""Build the course's two spreadsheets from the lecture's data, with live Excel formulas.

The committed workbooks in ``datasets/workbooks`` are the course's source of truth: an instructor
edits them in Excel or LibreOffice and the reference answers follow (:mod:`autograder.references`).
This module is the tool that first wrote them from the lecture's slides, kept to start a new course
or to restore the lecture's originals: ``python -m autograder.workbooks OUT_DIR [--force]`` writes

* ``convolution operation.xlsx`` - worksheets ``stride=1``, ``stride=2``, ``zero padding``,
  ``max pooling`` and ``average pooling``;
* ``activation fn.xlsx`` - worksheet ``activation functions``.

Only the lecture's *inputs* (images, kernels, the activation map, the activation grid) and each
case's *parameters* are stored as values.  Every output cell is a live formula over its window
(``=SUMPRODUCT(B10:D12,$I$10:$K$12)``, ``=MAX(B10:C11)``, ``=AVERAGE(B10:C11)``,
``=MAX(0,B8)``, ``=1/(1+EXP(-B8))``, ``=IF(B8>0,B8,$R$5*B8)`` with the alpha cell R5), so a
student can open the file, change an input and watch the outputs follow.  :mod:`autograder.references`
evaluates these formulas to obtain the reference answers; it never reads the constants of this module.

Defined names
=============
Every case is a block of cells on one worksheet, registered as workbook-level defined names
``<case>_<field>``.  ``<case>`` is a lower-case identifier (``stride1_4x6``, ``max_2x2_stride2``,
``relu``...) and ``<field>`` is one of the fields below.  The *kind* of a case follows from its
fields: a case with a ``kernel`` is a convolution, one with a ``mode`` is a pooling, one with a
``function`` is an activation.  Readers look blocks up by these names only, never by address, so an
instructor adds a case by adding a block and its names (e.g. in Excel's Name Manager).

=============  ==============================================================================
kind           fields (``<case>_<field>``)
=============  ==============================================================================
convolution    ``image`` (values), ``kernel`` (values), ``stride_rows``, ``stride_cols``,
               ``padding`` (0 = 'valid', P = P rings of zeros), ``output`` (formulas);
               ``padded`` (the zero-padded image, formulas and zeros) when ``padding`` > 0
pooling        ``input`` (values), ``size`` (square window side), ``stride``,
               ``mode`` (``"max"`` or ``"average"``), ``output`` (formulas)
activation     ``function`` (``"relu"``, ``"sigmoid"`` or ``"leaky_relu"``), ``input`` (values),
               ``output`` (formulas); ``alpha`` (the leaky-ReLU slope) when the function has one
=============  ==============================================================================

Parameters are single cells holding values, each with its label in the cell to its left.  Several
cases may share an input block (the three activation cases share one grid).

The files are deterministic: fixed creation/modification times and fixed zip entry times, so
rebuilding from the same data gives byte-identical files.
"""

from __future__ import annotations

import datetime
import io
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

__all__ = [
    "ACTIVATION_WORKBOOK",
    "CONVOLUTION_WORKBOOK",
    "build_activation_workbook",
    "build_convolution_workbook",
    "build_workbooks",
    "main",
]

Matrix = tuple[tuple[float, ...], ...]

CONVOLUTION_WORKBOOK = "convolution operation.xlsx"
ACTIVATION_WORKBOOK = "activation fn.xlsx"

# Fixed document times: rebuilding must not change the files.
_FIXED_TIME = datetime.datetime(2024, 1, 1, 0, 0, 0)
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)
_AUTHOR = "Introduction to Convolutional Neural Networks"

# --------------------------------------------------------------------------------------------
# The lecture's data ("Understanding Convolutions", "Zero Padding", "Common Activation
# Functions", "Pooling Layer").
# --------------------------------------------------------------------------------------------

IMAGE_4X6: Matrix = (
    (10, 12, 3, 4, 3, 15),
    (6, 8, 4, 5, 12, 5),
    (22, 12, 10, 7, 16, 12),
    (0, 9, 32, 4, 34, 19),
)

IMAGE_10X10: Matrix = (
    (10, 12, 3, 4, 3, 10, 12, 3, 4, 3),
    (6, 8, 4, 5, 12, 6, 8, 4, 5, 12),
    (22, 12, 10, 7, 16, 22, 12, 10, 7, 16),
    (0, 9, 32, 4, 34, 0, 9, 32, 4, 34),
    (10, 12, 3, 4, 3, 10, 12, 3, 4, 3),
    (6, 8, 4, 5, 12, 6, 8, 4, 5, 12),
    (22, 12, 10, 7, 16, 22, 12, 10, 7, 16),
    (0, 9, 32, 4, 34, 0, 9, 32, 4, 34),
    (6, 8, 4, 5, 12, 6, 8, 4, 5, 12),
    (22, 12, 10, 7, 16, 22, 12, 10, 7, 16),
)

BOTTOM_SOBEL: Matrix = (
    (-1, -2, -1),
    (0, 0, 0),
    (1, 2, 1),
)

ACTIVATION_MAP_4X4: Matrix = (
    (10, 12, 3, 4),
    (6, 8, 4, 5),
    (22, 12, 10, 7),
    (0, 9, 32, 4),
)

ACTIVATION_GRID: Matrix = (
    (0.5, 0.3, -1.2, 0.6),
    (-2.2, -0.2, 1.4, -0.4),
)

LEAKY_RELU_ALPHA = 0.1


@dataclass(frozen=True)
class ConvolutionSpec:
    """One convolution case: an image, a kernel, a stride (rows, cols) and a zero padding."""

    name: str
    description: str
    image_label: str
    image: Matrix
    kernel_label: str
    kernel: Matrix
    stride: tuple[int, int]
    padding: int = 0


@dataclass(frozen=True)
class PoolingSpec:
    """One pooling case: a square ``size`` window moved by ``stride``; mode "max" or "average"."""

    name: str
    description: str
    x: Matrix
    size: int
    stride: int
    mode: str


@dataclass(frozen=True)
class ActivationSpec:
    """One activation case applied element-wise to the shared input grid."""

    name: str
    function: str
    title: str
    formula_text: str
    alpha: float | None = None


CONVOLUTION_SHEETS: dict[str, tuple[str, tuple[ConvolutionSpec, ...]]] = {
    "stride=1": (
        "Convolution with stride 1 (no padding)",
        (
            ConvolutionSpec(
                "stride1_4x6",
                "4×6 image, Bottom Sobel kernel, stride (1, 1), no padding",
                "Image (4×6)",
                IMAGE_4X6,
                "Kernel: Bottom Sobel",
                BOTTOM_SOBEL,
                (1, 1),
            ),
            ConvolutionSpec(
                "stride1_10x10",
                "10×10 image, Bottom Sobel kernel, stride (1, 1), no padding",
                "Image (10×10)",
                IMAGE_10X10,
                "Kernel: Bottom Sobel",
                BOTTOM_SOBEL,
                (1, 1),
            ),
        ),
    ),
    "stride=2": (
        "Convolution with larger strides (no padding)",
        (
            ConvolutionSpec(
                "stride2_4x6",
                "4×6 image, Bottom Sobel kernel, stride (1, 2): rows step 1, columns step 2",
                "Image (4×6)",
                IMAGE_4X6,
                "Kernel: Bottom Sobel",
                BOTTOM_SOBEL,
                (1, 2),
            ),
            ConvolutionSpec(
                "stride2_10x10",
                "10×10 image, Bottom Sobel kernel, stride (2, 2)",
                "Image (10×10)",
                IMAGE_10X10,
                "Kernel: Bottom Sobel",
                BOTTOM_SOBEL,
                (2, 2),
            ),
        ),
    ),
    "zero padding": (
        "Zero padding: recover the original size ('same')",
        (
            ConvolutionSpec(
                "zero_padding_4x6",
                "4×6 image padded with one ring of zeros, Bottom Sobel kernel, stride (1, 1)",
                "Image (4×6)",
                IMAGE_4X6,
                "Kernel: Bottom Sobel",
                BOTTOM_SOBEL,
                (1, 1),
                padding=1,
            ),
        ),
    ),
}

POOLING_SHEETS: dict[str, tuple[str, tuple[PoolingSpec, ...]]] = {
    "max pooling": (
        "Max pooling of a single activation map",
        (
            PoolingSpec("max_2x2_stride2", "Max pool, 2×2 window, stride 2", ACTIVATION_MAP_4X4, 2, 2, "max"),
            PoolingSpec("max_2x2_stride1", "Max pool, 2×2 window, stride 1", ACTIVATION_MAP_4X4, 2, 1, "max"),
        ),
    ),
    "average pooling": (
        "Average pooling of a single activation map",
        (
            PoolingSpec(
                "average_2x2_stride2",
                "Average pool, 2×2 window, stride 2",
                ACTIVATION_MAP_4X4,
                2,
                2,
                "average",
            ),
            PoolingSpec(
                "average_2x2_stride1",
                "Average pool, 2×2 window, stride 1",
                ACTIVATION_MAP_4X4,
                2,
                1,
                "average",
            ),
        ),
    ),
}

ACTIVATION_SHEET = "activation functions"
ACTIVATIONS: tuple[ActivationSpec, ...] = (
    ActivationSpec("relu", "relu", "Output: ReLU", "ReLU(x) = max(0, x)  →  =MAX(0,x)"),
    ActivationSpec("sigmoid", "sigmoid", "Output: sigmoid", "sigmoid(x) = 1 / (1 + e^-x)  →  =1/(1+EXP(-x))"),
    ActivationSpec(
        "leaky_relu",
        "leaky_relu",
        "Output: leaky ReLU",
        "leaky ReLU(x) = x if x > 0 else alpha·x  →  =IF(x>0,x,alpha*x)",
        alpha=LEAKY_RELU_ALPHA,
    ),
)

# --------------------------------------------------------------------------------------------
# Styles
# --------------------------------------------------------------------------------------------

_THIN = Side(style="thin", color="808080")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTER = Alignment(horizontal="center", vertical="center")
_TITLE_FONT = Font(bold=True, size=14)
_HEADER_FONT = Font(bold=True, size=12, color="1F3864")
_LABEL_FONT = Font(bold=True)
_NOTE_FONT = Font(italic=True, color="595959")


def _fill(rgb: str) -> PatternFill:
    return PatternFill(fill_type="solid", start_color=rgb, end_color=rgb)


_FILLS = {
    "input": _fill("DDEBF7"),  # light blue: values you may edit
    "kernel": _fill("FCE4D6"),  # light orange: the filter
    "padding": _fill("EDEDED"),  # grey: the zeros added around the image
    "output": _fill("E2EFDA"),  # light green: formulas
    "param": _fill("FFF2CC"),  # light yellow: parameters
    "header": _fill("D9E1F2"),
}

_LABEL_COLUMN_WIDTH = 16
_GRID_COLUMN_WIDTH = 7.5

# --------------------------------------------------------------------------------------------
# Low-level writers
# --------------------------------------------------------------------------------------------


def _addr(row: int, col: int, absolute: bool = False) -> str:
    letter = get_column_letter(col)
    return f"${letter}${row}" if absolute else f"{letter}{row}"


def _range(top: int, left: int, height: int, width: int, absolute: bool = False) -> str:
    first = _addr(top, left, absolute)
    last = _addr(top + height - 1, left + width - 1, absolute)
    return first if first == last else f"{first}:{last}"


def _define(
    wb: Workbook, name: str, ws: Worksheet, top: int, left: int, height: int = 1, width: int = 1
) -> None:
    ref = f"{quote_sheetname(ws.title)}!{_range(top, left, height, width, absolute=True)}"
    wb.defined_names[name] = DefinedName(name=name, attr_text=ref)


def _write_block(
    ws: Worksheet,
    top: int,
    left: int,
    label: str,
    cells: Sequence[Sequence[float | str]],
    role: str,
    number_format: str,
) -> tuple[int, int]:
    """Write ``label`` above a bordered grid of values or formulas; return the grid's top-left."""
    label_cell = ws.cell(row=top, column=left, value=label)
    label_cell.font = _LABEL_FONT
    grid_top = top + 1
    for i, row in enumerate(cells):
        for j, value in enumerate(row):
            cell = ws.cell(row=grid_top + i, column=left + j, value=value)
            cell.border = _BORDER
            cell.alignment = _CENTER
            cell.fill = _FILLS[role]
            cell.number_format = number_format
    return grid_top, left


def _write_param(
    ws: Worksheet, row: int, col: int, label: str, value: float | str, number_format: str = "General"
) -> tuple[int, int]:
    """Write ``label`` in (row, col) and the value in the cell to its right; return the value's cell."""
    ws.cell(row=row, column=col, value=label).font = _LABEL_FONT
    cell = ws.cell(row=row, column=col + 1, value=value)
    cell.border = _BORDER
    cell.fill = _FILLS["param"]
    cell.alignment = _CENTER
    cell.number_format = number_format
    return row, col + 1


def _write_title(ws: Worksheet, title: str, note: str) -> None:
    ws.cell(row=1, column=1, value=title).font = _TITLE_FONT
    ws.cell(row=2, column=1, value=note).font = _NOTE_FONT


def _write_case_header(ws: Worksheet, row: int, name: str, description: str, width: int) -> None:
    for col in range(1, width + 1):
        ws.cell(row=row, column=col).fill = _FILLS["header"]
    ws.cell(row=row, column=1, value=f"Case {name}: {description}").font = _HEADER_FONT


def _write_note(ws: Worksheet, row: int, text: str) -> None:
    ws.cell(row=row, column=1, value=text).font = _NOTE_FONT


def _set_widths(ws: Worksheet, last_col: int) -> None:
    ws.column_dimensions["A"].width = _LABEL_COLUMN_WIDTH
    for col in range(2, last_col + 1):
        ws.column_dimensions[get_column_letter(col)].width = _GRID_COLUMN_WIDTH


def _output_size(n: int, f: int, padding: int, stride: int) -> int:
    return (n - f + 2 * padding) // stride + 1


def _size_text(n: int, f: int, padding: int, stride: int) -> str:
    pad = f" + 2×{padding}" if padding else ""
    exact = (n - f + 2 * padding) / stride + 1
    result = _output_size(n, f, padding, stride)
    shown = f"{exact:g}" if exact == result else f"{exact:g} → {result}"
    return f"({n} − {f}{pad}) / {stride} + 1 = {shown}"


# --------------------------------------------------------------------------------------------
# Sheets
# --------------------------------------------------------------------------------------------


def _write_convolution_case(wb: Workbook, ws: Worksheet, top: int, spec: ConvolutionSpec) -> tuple[int, int]:
    """Write one convolution case starting at row ``top``; return (next free row, last column)."""
    n_rows, n_cols = len(spec.image), len(spec.image[0])
    k_rows, k_cols = len(spec.kernel), len(spec.kernel[0])
    s_rows, s_cols = spec.stride
    pad = spec.padding
    out_rows = _output_size(n_rows, k_rows, pad, s_rows)
    out_cols = _output_size(n_cols, k_cols, pad, s_cols)

    # Block positions: image | padded image | kernel | output, one empty column apart.
    image_left = 2
    padded_left = image_left + n_cols + 1
    kernel_left = padded_left + (n_cols + 2 * pad + 1 if pad else 0)
    output_left = kernel_left + k_cols + 1
    last_col = output_left + max(out_cols, 3) - 1

    _write_case_header(ws, top, spec.name, spec.description, last_col)
    p = top + 1
    _write_param(ws, p, 1, "stride rows", s_rows)
    _define(wb, f"{spec.name}_stride_rows", ws, p, 2)
    _write_param(ws, p + 1, 1, "stride cols", s_cols)
    _define(wb, f"{spec.name}_stride_cols", ws, p + 1, 2)
    _write_param(ws, p + 2, 1, "padding", pad)
    _define(wb, f"{spec.name}_padding", ws, p + 2, 2)

    label_row = p + 4
    image_top, _ = _write_block(ws, label_row, image_left, spec.image_label, spec.image, "input", "0")
    _define(wb, f"{spec.name}_image", ws, image_top, image_left, n_rows, n_cols)

    if pad:
        padded: list[list[float | str]] = []
        for i in range(n_rows + 2 * pad):
            row: list[float | str] = []
            for j in range(n_cols + 2 * pad):
                inside = pad <= i < pad + n_rows and pad <= j < pad + n_cols
                row.append(f"={_addr(image_top + i - pad, image_left + j - pad)}" if inside else 0)
            padded.append(row)
        source_top, source_left = _write_block(
            ws, label_row, padded_left, f"Padded image (pad {pad})", padded, "input", "0"
        )
        for i in range(n_rows + 2 * pad):
            for j in range(n_cols + 2 * pad):
                if not (pad <= i < pad + n_rows and pad <= j < pad + n_cols):
                    ws.cell(row=source_top + i, column=source_left + j).fill = _FILLS["padding"]
        _define(wb, f"{spec.name}_padded", ws, source_top, source_left, n_rows + 2 * pad, n_cols + 2 * pad)
    else:
        source_top, source_left = image_top, image_left

    kernel_top, _ = _write_block(ws, label_row, kernel_left, spec.kernel_label, spec.kernel, "kernel", "0")
    _define(wb, f"{spec.name}_kernel", ws, kernel_top, kernel_left, k_rows, k_cols)
    kernel_ref = _range(kernel_top, kernel_left, k_rows, k_cols, absolute=True)

    windows = [
        [_range(source_top + i * s_rows, source_left + j * s_cols, k_rows, k_cols) for j in range(out_cols)]
        for i in range(out_rows)
    ]
    outputs = [[f"=SUMPRODUCT({window},{kernel_ref})" for window in row] for row in windows]
    stride_text = f"stride {s_rows}" if s_rows == s_cols else f"stride {s_rows}×{s_cols}"
    output_label = f"Output ({stride_text}{', same' if pad else ''})"
    output_top, _ = _write_block(ws, label_row, output_left, output_label, outputs, "output", "0")
    _define(wb, f"{spec.name}_output", ws, output_top, output_left, out_rows, out_cols)

    source = "padded image" if pad else "image"
    note_row = label_row + 1 + max(n_rows + 2 * pad, k_rows, out_rows) + 1
    _write_note(
        ws,
        note_row,
        f"Each output cell {outputs[0][0]} is SUMPRODUCT(window of the {source}, kernel): the sum of the "
        f"element-wise products. The window moves {s_rows} row(s) down and {s_cols} column(s) across.",
    )
    _write_note(
        ws,
        note_row + 1,
        f"Output size (N − F + 2P) / S + 1, rounded down: rows {_size_text(n_rows, k_rows, pad, s_rows)}; "
        f"columns {_size_text(n_cols, k_cols, pad, s_cols)}.",
    )
    return note_row + 3, last_col


def _write_pooling_case(wb: Workbook, ws: Worksheet, top: int, spec: PoolingSpec) -> tuple[int, int]:
    n_rows, n_cols = len(spec.x), len(spec.x[0])
    out_rows = _output_size(n_rows, spec.size, 0, spec.stride)
    out_cols = _output_size(n_cols, spec.size, 0, spec.stride)
    input_left = 2
    output_left = input_left + n_cols + 1
    last_col = output_left + max(out_cols, 3) - 1
    function = {"max": "MAX", "average": "AVERAGE"}[spec.mode]
    number_format = "0" if spec.mode == "max" else "0.00"

    _write_case_header(ws, top, spec.name, spec.description, last_col)
    p = top + 1
    _write_param(ws, p, 1, "pool size", spec.size)
    _define(wb, f"{spec.name}_size", ws, p, 2)
    _write_param(ws, p + 1, 1, "stride", spec.stride)
    _define(wb, f"{spec.name}_stride", ws, p + 1, 2)
    _write_param(ws, p + 2, 1, "mode", spec.mode)
    _define(wb, f"{spec.name}_mode", ws, p + 2, 2)

    label_row = p + 4
    input_top, _ = _write_block(ws, label_row, input_left, "Activation map", spec.x, "input", "0")
    _define(wb, f"{spec.name}_input", ws, input_top, input_left, n_rows, n_cols)
    step, size, top, left = spec.stride, spec.size, input_top, input_left
    outputs = [
        [f"={function}({_range(top + i * step, left + j * step, size, size)})" for j in range(out_cols)]
        for i in range(out_rows)
    ]
    label = f"Output ({spec.mode} {spec.size}×{spec.size}, stride {spec.stride})"
    output_top, _ = _write_block(ws, label_row, output_left, label, outputs, "output", number_format)
    _define(wb, f"{spec.name}_output", ws, output_top, output_left, out_rows, out_cols)

    note_row = label_row + 1 + max(n_rows, out_rows) + 1
    _write_note(
        ws,
        note_row,
        f"Each output cell {outputs[0][0]} is the {spec.mode} of a {spec.size}×{spec.size} window; "
        f"the window moves {spec.stride} cell(s) at a time.",
    )
    _write_note(
        ws,
        note_row + 1,
        f"Output size (N − F) / S + 1, rounded down: rows {_size_text(n_rows, spec.size, 0, spec.stride)}; "
        f"columns {_size_text(n_cols, spec.size, 0, spec.stride)}.",
    )
    return note_row + 3, last_col


def _new_workbook(title: str, subject: str) -> Workbook:
    wb = Workbook()
    wb.remove(wb.active)
    props = wb.properties
    props.title = title
    props.subject = subject
    props.creator = _AUTHOR
    props.lastModifiedBy = _AUTHOR
    props.created = _FIXED_TIME
    props.modified = _FIXED_TIME
    return wb


def _write_case_sheet(wb: Workbook, sheet: str, title: str, names: str, specs: Sequence[Any],
                      write_case: Callable[[Workbook, Worksheet, int, Any], tuple[int, int]]) -> None:
    """One worksheet: the title and legend, then each case's blocks below the previous one."""
    ws = wb.create_sheet(sheet)
    _write_title(
        ws,
        title,
        "Blue cells are values (edit them); green cells are formulas; yellow cells are parameters. "
        f"Blocks are named {names}, <case>_output... (Formulas → Name Manager).",
    )
    row, last_col = 4, 1
    for spec in specs:
        row, used = write_case(wb, ws, row, spec)
        last_col = max(last_col, used)
    _set_widths(ws, last_col)


def build_convolution_workbook() -> Workbook:
    """The ``convolution operation.xlsx`` workbook: convolution and pooling worksheets."""
    wb = _new_workbook("Convolution operation", "Introduction to Convolutional Neural Networks")
    for sheet, (title, conv_specs) in CONVOLUTION_SHEETS.items():
        _write_case_sheet(wb, sheet, title, "<case>_image, <case>_kernel", conv_specs, _write_convolution_case)
    for sheet, (title, pool_specs) in POOLING_SHEETS.items():
        _write_case_sheet(wb, sheet, title, "<case>_input", pool_specs, _write_pooling_case)
    return wb


def build_activation_workbook() -> Workbook:
    """The ``activation fn.xlsx`` workbook: ReLU, sigmoid and leaky ReLU of one grid."""
    wb = _new_workbook("Activation functions", "Introduction to Convolutional Neural Networks")
    ws = wb.create_sheet(ACTIVATION_SHEET)
    _write_title(
        ws,
        "Common activation functions, applied element-wise",
        "Blue cells are values (edit them); green cells are formulas; yellow cells are parameters. "
        "Outputs are stored at full precision and shown to 1 decimal.",
    )
    n_rows, n_cols = len(ACTIVATION_GRID), len(ACTIVATION_GRID[0])
    block_width = n_cols + 1
    param_row, label_row = 4, 7
    input_left = 2
    input_top, _ = _write_block(
        ws, label_row, input_left, "Input (a convolution output)", ACTIVATION_GRID, "input", "0.0"
    )
    for i, spec in enumerate(ACTIVATIONS):
        left = input_left + block_width * (i + 1)
        _write_param(ws, param_row, left, "function", spec.function)
        _define(wb, f"{spec.name}_function", ws, param_row, left + 1)
        alpha_ref = ""
        if spec.alpha is not None:
            _write_param(ws, param_row + 1, left, "alpha", spec.alpha, "0.0#")
            _define(wb, f"{spec.name}_alpha", ws, param_row + 1, left + 1)
            alpha_ref = _addr(param_row + 1, left + 1, absolute=True)
        _define(wb, f"{spec.name}_input", ws, input_top, input_left, n_rows, n_cols)
        outputs: list[list[float | str]] = []
        for r in range(n_rows):
            row: list[float | str] = []
            for c in range(n_cols):
                x = _addr(input_top + r, input_left + c)
                row.append(
                    {
                        "relu": f"=MAX(0,{x})",
                        "sigmoid": f"=1/(1+EXP(-{x}))",
                        "leaky_relu": f"=IF({x}>0,{x},{alpha_ref}*{x})",
                    }[spec.function]
                )
            outputs.append(row)
        output_top, _ = _write_block(ws, label_row, left, spec.title, outputs, "output", "0.0")
        _define(wb, f"{spec.name}_output", ws, output_top, left, n_rows, n_cols)

    note_row = label_row + n_rows + 2
    for i, spec in enumerate(ACTIVATIONS):
        _write_note(ws, note_row + i, spec.formula_text)
    _write_note(
        ws,
        note_row + len(ACTIVATIONS),
        "Each output cell applies its function to the input cell in the same position; "
        "ReLU keeps positive numbers and replaces negative ones by zero.",
    )
    _set_widths(ws, input_left + block_width * (len(ACTIVATIONS) + 1))
    return wb


# --------------------------------------------------------------------------------------------
# Saving
# --------------------------------------------------------------------------------------------


def save_deterministic(wb: Workbook, path: Path) -> Path:
    """Save ``wb`` with fixed document and zip-entry times, so equal workbooks give equal bytes."""
    wb.properties.created = _FIXED_TIME
    wb.properties.modified = _FIXED_TIME
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()  # unlike Workbook.save, keeps properties.modified
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, src.read(info.filename))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(out.getvalue())
    tmp.replace(path)
    return path


def build_workbooks(out_dir: Path) -> list[Path]:
    """Write both course workbooks into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    return [
        save_deterministic(build_convolution_workbook(), out_dir / CONVOLUTION_WORKBOOK),
        save_deterministic(build_activation_workbook(), out_dir / ACTIVATION_WORKBOOK),
    ]


USAGE = (
    "usage: python -m autograder.workbooks OUT_DIR [--force]\n"
    "  writes the lecture's two workbooks into OUT_DIR; --force replaces workbooks already there\n"
    "  (the course's workbooks may hold an instructor's edits: they are the source of the answers)"
)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m autograder.workbooks OUT_DIR [--force]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print(USAGE)
        return 0
    force = "--force" in args
    paths = [a for a in args if a != "--force"]
    if len(paths) != 1 or any(a.startswith("-") for a in paths):
        print(USAGE, file=sys.stderr)
        return 2
    out_dir = Path(paths[0])
    existing = [out_dir / name for name in (CONVOLUTION_WORKBOOK, ACTIVATION_WORKBOOK) if (out_dir / name).exists()]
    if existing and not force:
        print(f"error: {', '.join(map(str, existing))} already exist(s) and may hold an instructor's edits; "
              "nothing was written. Pass --force to replace them with the lecture's originals.", file=sys.stderr)
        return 2
    for path in build_workbooks(out_dir):
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
