"""Common convolution mistakes, computed on the trusted side: what a student's convolve2d (and so their
conv2d_layer) returns when it makes one of them. The hidden tests compare a wrong answer with each, and
start their message with the cause that matches (:func:`autograder.testing.first_cause`).

Not a test module (pytest collects only ``test_*.py``); the tests load it by its path with
:func:`autograder.testing.helper_module`. Every sentence here is the grader's own: none quotes an input.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from autograder.conv_reference import correlate2d, same_padding

Pads = tuple[tuple[int, int], tuple[int, int]]


def pair(stride: int | tuple[int, int]) -> tuple[int, int]:
    return (stride, stride) if isinstance(stride, int) else (int(stride[0]), int(stride[1]))


def same_pads(n: int, k: int, s: int, rule: str = "tf") -> tuple[int, int]:
    """Zeros before and after along one axis for padding='same': TensorFlow's rule
    (:func:`autograder.conv_reference.same_padding`), or a mistaken one."""
    total = sum(same_padding(n, k, s)) if rule != "stride1" else k - 1
    if rule == "top":
        return total - total // 2, total // 2
    return total // 2, total - total // 2


def pads_for(shape: tuple[int, ...], kernel_shape: tuple[int, ...], stride: tuple[int, int],
             padding: str | int, same_rule: str = "tf") -> Pads:
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        return (same_pads(shape[0], kernel_shape[0], stride[0], same_rule),
                same_pads(shape[1], kernel_shape[1], stride[1], same_rule))
    p = int(padding)
    return (p, p), (p, p)


def conv(image: np.ndarray, kernel: np.ndarray, stride: tuple[int, int], pads: Pads) -> np.ndarray:
    """Keras's convolution (no flip) of one 2-D image with explicit zero padding, in float64."""
    padded = np.pad(np.asarray(image, np.float64), pads)
    kernel = np.asarray(kernel, np.float64)
    if kernel.shape[0] > padded.shape[0] or kernel.shape[1] > padded.shape[1]:
        raise ValueError("the kernel does not fit")
    return correlate2d(padded, kernel, stride, "valid")


@dataclass(frozen=True)
class Mistake:
    """One way of getting a convolution wrong: the arguments it effectively uses instead of the right ones."""

    cause: str
    flip: bool = False
    transpose: bool = False
    stride: tuple[int, int] | None = None  # the stride used instead
    padding: str | int | None = None  # the padding used instead
    same_rule: str = "tf"  # how 'same' was turned into zeros: "tf", "top" (extra zero on top), "stride1"

    def apply(self, image: np.ndarray, kernel: np.ndarray, stride: tuple[int, int], padding: str | int) -> np.ndarray:
        kernel = np.asarray(kernel, np.float64)
        if self.flip:
            kernel = kernel[::-1, ::-1]
        if self.transpose:
            kernel = kernel.T
        used_stride = self.stride or stride
        used_padding = padding if self.padding is None else self.padding
        pads = pads_for(np.shape(image), kernel.shape, used_stride, used_padding, self.same_rule)
        return conv(image, kernel, used_stride, pads)


def conv_mistakes(kernel: np.ndarray, stride: int | tuple[int, int], padding: str | int) -> Iterator[Mistake]:
    """The mistakes that can show on a case with this kernel, stride and padding, most telling first."""
    kernel = np.asarray(kernel, np.float64)
    sh, sw = pair(stride)
    if not np.allclose(kernel[::-1, ::-1], kernel):
        yield Mistake("The kernel looks flipped (a mathematical convolution): Keras and TensorFlow slide it "
                      "as it is, without flipping it.", flip=True)
    if kernel.shape[0] != kernel.shape[1]:
        yield Mistake("The kernel's rows and columns look swapped: KH (its first dimension) goes down the image's "
                      "rows, KW across its columns.", transpose=True)
    if sh != sw:
        yield Mistake("stride=(SH, SW) looks read as (SH, SH): the column stride SW is ignored. SH is the step "
                      "down the rows, SW the step across the columns.", stride=(sh, sh))
        yield Mistake("stride=(SH, SW) looks read as (SW, SW): the row stride SH is ignored. SH is the step "
                      "down the rows, SW the step across the columns.", stride=(sw, sw))
        yield Mistake("The row and column strides look swapped: stride=(SH, SW) means SH rows down and SW "
                      "columns across.", stride=(sw, sh))
    if sh > 1 or sw > 1:
        yield Mistake("The stride looks ignored: the kernel moved one pixel at a time instead of `stride` "
                      "pixels.", stride=(1, 1))
    if padding == "same":
        yield Mistake("padding='same' looks treated as padding=1: 'same' pads by TensorFlow's rule, "
                      "pad_total = max((out - 1) * S + K - N, 0) with out = ceil(N / S), which is 1 on each side "
                      "only for a 3×3 kernel at stride 1.", padding=1)
        if kernel.shape[0] % 2 == 1 and kernel.shape[1] % 2 == 1 and kernel.shape[0] == kernel.shape[1]:
            yield Mistake("padding='same' looks treated as (K - 1) // 2 zeros on every side: with a stride, "
                          "TensorFlow's rule pads pad_total = max((out - 1) * S + K - N, 0) with out = ceil(N / S).",
                          padding=(kernel.shape[0] - 1) // 2)
        yield Mistake("padding='same' puts the odd row (column) of zeros on top (left): TensorFlow puts "
                      "pad_total // 2 on top and the rest at the bottom (right).", same_rule="top")
        yield Mistake("padding='same' pads as if the stride were 1 (K - 1 zeros in all): TensorFlow's rule is "
                      "pad_total = max((out - 1) * S + K - N, 0) with out = ceil(N / S).", same_rule="stride1")
    if isinstance(padding, int) and padding > 0:
        yield Mistake("The int padding looks ignored: padding=P adds P rows and columns of zeros on every "
                      "side before sliding.", padding="valid")
        yield Mistake("The int padding looks doubled: padding=P adds P (not 2P) rows and columns of zeros on "
                      "each side.", padding=2 * padding)


def wrapped(exact: np.ndarray, input_dtype: np.dtype) -> Iterator[tuple[str, np.ndarray]]:
    """The exact integer result as it comes out when computed in a small integer type that wraps around."""
    if input_dtype.kind not in "iu":
        return
    ints = np.rint(np.asarray(exact, np.float64)).astype(np.int64)
    for dtype in (np.uint8, np.int8, np.int16, np.uint16, np.int32):
        yield (f"The result wrapped around in {np.dtype(dtype).name} integer arithmetic: convert the image to "
               "float before multiplying (np.asarray(image, dtype=float)).", ints.astype(dtype))
