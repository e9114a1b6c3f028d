"""The plain-data wire format: round trips, refusals, caps. Nothing is ever unpickled."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from autograder.worker import wire


def roundtrip(value: object) -> object:
    r, w = os.pipe()
    try:
        wire.write_message(w, value)
        return wire.read_message(r)
    finally:
        os.close(r)
        os.close(w)


def test_plain_values_round_trip() -> None:
    value = {"a": [1, 2.5, None, True, "s"], 3: (1, (2, 3)), "f": math.inf}
    assert roundtrip(value) == value


def test_arrays_and_numpy_scalars_keep_dtype_and_shape() -> None:
    arr = np.arange(12, dtype=np.int16).reshape(3, 4)
    out = roundtrip([arr, np.float32(1.5), np.int64(7)])
    assert isinstance(out, list)
    assert type(out[0]) is np.ndarray and out[0].dtype == np.int16 and (out[0] == arr).all()
    assert out[1].dtype == np.float32 and out[2].dtype == np.int64


def test_nan_round_trips() -> None:
    out = roundtrip(float("nan"))
    assert isinstance(out, float) and math.isnan(out)


def test_subclass_arrives_as_plain_ndarray() -> None:
    class Sneaky(np.ndarray):
        def __eq__(self, other: object) -> bool:
            return True

    out = roundtrip(np.zeros(3).view(Sneaky))
    assert type(out) is np.ndarray


@pytest.mark.parametrize("value", [object(), np.array([object()], dtype=object), {(1, 2): 3}, lambda: 1])
def test_non_plain_values_are_refused(value: object) -> None:
    with pytest.raises(wire.WireError):
        wire.encode(value)


def test_unknown_extension_and_malformed_data_are_refused() -> None:
    ext = wire.Extensions()
    ext.add_encoder("thing", lambda v: isinstance(v, complex), lambda v: [v.real, v.imag])
    data = wire.encode(1 + 2j, ext)
    hlen = int.from_bytes(data[:4], "big")
    with pytest.raises(wire.WireError, match="not accepted"):
        wire.decode(data[4:4 + hlen], [])
    with pytest.raises(wire.WireError):
        wire.decode(b'{"body": {"__ndarray__": 0}, "blobs": [3]}', [b"abc"])
    with pytest.raises(wire.WireError):
        wire.decode(b"not json", [])


def test_pickled_npy_is_refused() -> None:
    import io

    buf = io.BytesIO()
    np.save(buf, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(wire.WireError):
        wire.decode(b'{"body": {"__ndarray__": 0}, "blobs": [1]}', [buf.getvalue()])


def test_deep_nesting_is_capped() -> None:
    value: list[object] = []
    for _ in range(wire.MAX_DEPTH + 5):
        value = [value]
    with pytest.raises(wire.WireError, match="nested too deeply"):
        wire.encode(value)


def test_oversized_header_is_refused_before_reading() -> None:
    r, w = os.pipe()
    try:
        os.write(w, (wire.MAX_HEADER_BYTES + 1).to_bytes(4, "big"))
        with pytest.raises(wire.WireError, match="over the cap"):
            wire.read_message(r)
    finally:
        os.close(r)
        os.close(w)
