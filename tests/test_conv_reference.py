"""autograder.conv_reference against TensorFlow itself: the oracle for the hidden suite of 01.

Grading 01 computes its references with NumPy (autograder/conv_reference.py) so that it never imports
TensorFlow; these tests hold those functions to tf.nn.conv2d, keras.layers.Conv2D, tf.nn.max_pool2d and
tf.nn.avg_pool2d, in float64, over every combination of small image sizes (odd and even, non-square, smaller
than the kernel), kernel sizes (odd and even, non-square) and strides 1 to 3 per axis.
"""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from autograder import conv_reference as ref

SIZES = (1, 2, 3, 4, 5, 7, 8)
KERNELS = ((1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (1, 3), (3, 1), (2, 3), (4, 5))
STRIDES: tuple[tuple[int, int], ...] = tuple((a, b) for a in (1, 2, 3) for b in (1, 2, 3))
TOL = 1e-12  # float64 on both sides: only the order of the sums differs


def _tf_conv(x: np.ndarray, kernels: np.ndarray, stride: tuple[int, int], padding: str | int) -> np.ndarray:
    """tf.nn.conv2d of one (H, W, C) image in float64; an int padding as TensorFlow's explicit padding."""
    pads: str | list[list[int]] = (padding.upper() if isinstance(padding, str)
                                   else [[0, 0], [padding, padding], [padding, padding], [0, 0]])
    out = tf.nn.conv2d(tf.constant(x[np.newaxis], tf.float64), tf.constant(kernels, tf.float64), strides=stride,
                       padding=pads)
    return out.numpy()[0]


def _fits(h: int, w: int, kh: int, kw: int, padding: str | int) -> bool:
    extra = 2 * padding if isinstance(padding, int) else 0
    return padding == "same" or (kh <= h + extra and kw <= w + extra)


@pytest.mark.parametrize("padding", ["same", "valid", 1, 2])
def test_correlate2d_equals_tf_nn_conv2d(padding: str | int) -> None:
    rng = np.random.default_rng(7)
    compared = 0
    for h, w in itertools.product(SIZES, repeat=2):
        for (kh, kw), stride in itertools.product(KERNELS, STRIDES):
            if not _fits(h, w, kh, kw, padding):
                continue
            image, kernel = rng.standard_normal((h, w)), rng.standard_normal((kh, kw))
            want = _tf_conv(image[:, :, np.newaxis], kernel[:, :, np.newaxis, np.newaxis], stride, padding)[:, :, 0]
            got = ref.correlate2d(image, kernel, stride, padding)
            case = f"image {h}x{w}, kernel {kh}x{kw}, stride {stride}, padding {padding!r}"
            assert got.dtype == np.float64, case
            assert got.shape == want.shape, case
            np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL, err_msg=case)
            compared += 1
    assert compared > 1000  # the grid is really walked


def test_same_padding_is_tensorflows_rule_for_images_smaller_than_the_kernel() -> None:
    """SAME still gives ceil(n / s) positions when the image is smaller than the kernel (more zeros than pixels)."""
    rng = np.random.default_rng(8)
    for (h, w), (kh, kw), stride in (((1, 1), (5, 5), (1, 1)), ((2, 3), (5, 4), (2, 1)), ((3, 2), (4, 5), (3, 3))):
        image, kernel = rng.standard_normal((h, w)), rng.standard_normal((kh, kw))
        want = _tf_conv(image[:, :, np.newaxis], kernel[:, :, np.newaxis, np.newaxis], stride, "same")[:, :, 0]
        got = ref.correlate2d(image, kernel, stride, "same")
        assert got.shape == (-(-h // stride[0]), -(-w // stride[1]))
        np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)


@pytest.mark.parametrize(("n", "k", "s", "pads"), [
    (5, 3, 1, (1, 1)), (5, 2, 1, (0, 1)), (6, 4, 1, (1, 2)),  # odd total: the extra zero goes after
    (8, 3, 2, (0, 1)), (7, 3, 2, (1, 1)), (7, 5, 2, (2, 2)), (9, 3, 3, (0, 0)), (10, 3, 3, (1, 1)),
    (1, 5, 1, (2, 2)), (2, 5, 3, (1, 2)),
])
def test_same_padding_examples(n: int, k: int, s: int, pads: tuple[int, int]) -> None:
    assert ref.same_padding(n, k, s) == pads


def test_conv2d_equals_keras_conv2d_layer() -> None:
    """Several channels in and out, bias, strides and both named paddings, as keras.layers.Conv2D computes."""
    rng = np.random.default_rng(9)
    for (h, w, c), (kh, kw, c_out), stride, padding in (
        ((7, 8, 3), (3, 3, 4), (1, 1), "valid"),
        ((8, 8, 3), (3, 3, 2), (2, 2), "same"),
        ((6, 9, 2), (3, 3, 5), (1, 2), "valid"),
        ((10, 7, 2), (2, 2, 3), (3, 2), "same"),
        ((5, 9, 2), (2, 3, 3), (2, 3), "same"),
        ((4, 4, 5), (1, 1, 1), (1, 1), "valid"),
    ):
        x, kernels, bias = rng.standard_normal((h, w, c)), rng.standard_normal((kh, kw, c, c_out)), \
            rng.standard_normal(c_out)
        layer = keras.layers.Conv2D(c_out, (kh, kw), strides=stride, padding=padding, dtype="float64")
        layer.build((None, h, w, c))
        layer.set_weights([kernels, bias])
        want = np.asarray(layer(x[np.newaxis]))[0]
        got = ref.conv2d(x, kernels, bias, stride, padding)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL, err_msg=f"{x.shape} {kernels.shape} {stride}")


@pytest.mark.parametrize("padding", ["same", "valid", 0, 1, 2])
def test_conv2d_equals_tf_nn_conv2d_with_channels(padding: str | int) -> None:
    rng = np.random.default_rng(10)
    for (h, w), (kh, kw), stride in itertools.product(((5, 6), (6, 5), (3, 3)), ((3, 3), (2, 3), (4, 2)),
                                                      ((1, 1), (2, 1), (3, 2))):
        if not _fits(h, w, kh, kw, padding):
            continue
        x, kernels = rng.standard_normal((h, w, 3)), rng.standard_normal((kh, kw, 3, 2))
        bias = rng.standard_normal(2)
        want = _tf_conv(x, kernels, stride, padding) + bias
        np.testing.assert_allclose(ref.conv2d(x, kernels, bias, stride, padding), want, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("mode", ["max", "average"])
def test_pool2d_equals_tf_pooling(mode: str) -> None:
    rng = np.random.default_rng(11)
    pool = tf.nn.max_pool2d if mode == "max" else tf.nn.avg_pool2d
    compared = 0
    for h, w in itertools.product((2, 3, 4, 5, 7, 8), repeat=2):
        for size, stride, channels in itertools.product((1, 2, 3, 4), (None, 1, 2, 3), (0, 1, 3)):
            if size > min(h, w):
                continue
            shape = (h, w, channels) if channels else (h, w)
            x = rng.standard_normal(shape)
            batch = x[np.newaxis] if channels else x[np.newaxis, :, :, np.newaxis]
            want = pool(tf.constant(batch, tf.float64), ksize=size, strides=stride or size,
                        padding="VALID").numpy()[0]
            want = want if channels else want[:, :, 0]
            got = ref.pool2d(x, size, stride, mode)
            assert got.shape == want.shape, (shape, size, stride)
            np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL, err_msg=f"{shape} {size} {stride}")
            compared += 1
    assert compared > 500


def test_integer_inputs_give_float64() -> None:
    image = np.arange(20, dtype=np.uint8).reshape(4, 5)
    kernel = np.array([[1, -1], [2, 0]], dtype=np.int64)
    got = ref.correlate2d(image, kernel)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, _tf_conv(image[:, :, np.newaxis].astype(np.float64),
                                                kernel[:, :, np.newaxis, np.newaxis].astype(np.float64),
                                                (1, 1), "valid")[:, :, 0])
    assert ref.pool2d(image, 2, mode="average").dtype == np.float64


@pytest.mark.parametrize(("call", "words"), [
    (lambda: ref.correlate2d(np.ones((3, 3)), np.ones((2, 2)), stride=0), "stride"),
    (lambda: ref.correlate2d(np.ones((3, 3)), np.ones((2, 2)), stride=(1, -1)), "stride"),
    (lambda: ref.correlate2d(np.ones((3, 3)), np.ones((2, 2)), padding="full"), "padding"),
    (lambda: ref.correlate2d(np.ones((3, 3)), np.ones((2, 2)), padding=-1), "padding"),
    (lambda: ref.correlate2d(np.ones((3, 3)), np.ones((4, 4))), "does not fit"),
    (lambda: ref.conv2d(np.ones((3, 3, 2)), np.ones((2, 2, 3, 1))), "kernels"),
    (lambda: ref.pool2d(np.ones((3, 3)), 2, mode="median"), "mode"),
    (lambda: ref.pool2d(np.ones((3, 3)), 4), "does not fit"),
    (lambda: ref.same_padding(4, 3, 0), "stride"),
])
def test_invalid_arguments_raise_value_error(call: object, words: str) -> None:
    """A wrong argument is refused, never silently swapped (scipy's 'valid' swaps a kernel larger than the image)."""
    assert callable(call)
    with pytest.raises(ValueError, match=words):
        call()


def test_sigmoid_equals_scipy_expit() -> None:
    """The sigmoid reference is scipy.special.expit to the last bits, from -1000 to 1000 (no overflow)."""
    from scipy.special import expit

    x = np.concatenate([np.linspace(-1000, 1000, 20001), np.random.default_rng(3).standard_normal(5000) * 40,
                        [-745.0, -710.0, -1e-300, 0.0, 1e-300, 710.0, 745.0]])
    got = ref.sigmoid(x)
    assert got.dtype == np.float64 and np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expit(x), rtol=1e-14, atol=1e-300)  # subnormals may differ
    assert ref.sigmoid(np.array([-1000.0]))[0] == 0.0 and ref.sigmoid(np.array([1000.0]))[0] == 1.0
