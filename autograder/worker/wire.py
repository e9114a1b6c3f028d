"""The plain-data wire format between the trusted grader and the untrusted worker.

This module is loaded by BOTH sides, so it imports only the standard library and numpy, and it is
loaded into the worker from its file path (the worker cannot import the ``autograder`` package).

A message is ``[4-byte big-endian header length][JSON header][blob 0][blob 1]...``; the header is
``{"body": <value>, "blobs": [len0, len1, ...]}``. Values are JSON with a few tagged forms:

- ``{"__tuple__": [...]}``, ``{"__dict__": [[key, value], ...]}`` (keys: str or int),
- ``{"__float__": "nan" | "inf" | "-inf"}``,
- ``{"__ndarray__": i}`` and ``{"__npscalar__": i}``: blob *i* is ``.npy`` bytes written and read with
  ``allow_pickle=False`` (object arrays cannot cross),
- ``{"__ext__": name, "data": ...}``: an extension (e.g. a Keras model as JSON plus weights) whose
  decoder must be registered explicitly on the receiving side; unknown names are refused.

Nothing is ever unpickled. Every size is capped before it is read.
"""

from __future__ import annotations

import io
import json
import math
import os
import select
import struct
import time
from collections.abc import Callable
from typing import Any

import numpy as np

MAX_HEADER_BYTES = 8 * 1024 * 1024
MAX_MESSAGE_BYTES = 512 * 1024 * 1024
MAX_DEPTH = 32
MAX_ITEMS = 100_000

_HEADER = struct.Struct(">I")
_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class WireError(Exception):
    """A value cannot be sent, or a received message is malformed or over a cap."""


class Extensions:
    """Named encoders/decoders for values that are not plain data (registered by each side)."""

    def __init__(self) -> None:
        self.encoders: list[tuple[Callable[[Any], bool], str, Callable[[Any], Any]]] = []
        self.decoders: dict[str, Callable[[Any], Any]] = {}

    def add_encoder(self, name: str, matches: Callable[[Any], bool], encode: Callable[[Any], Any]) -> None:
        self.encoders.append((matches, name, encode))

    def add_decoder(self, name: str, decode: Callable[[Any], Any]) -> None:
        self.decoders[name] = decode


NO_EXTENSIONS = Extensions()


class _Encoder:
    def __init__(self, ext: Extensions) -> None:
        self.ext = ext
        self.blobs: list[bytes] = []
        self.items = 0

    def blob(self, arr: np.ndarray) -> int:
        if arr.dtype.hasobject:
            raise WireError(f"cannot send an array of dtype {arr.dtype} (only numeric/bool/str arrays)")
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        self.blobs.append(buf.getvalue())
        return len(self.blobs) - 1

    def enc(self, v: Any, depth: int = 0) -> Any:
        self.items += 1
        if depth > MAX_DEPTH or self.items > MAX_ITEMS:
            raise WireError("value is nested too deeply or has too many items")
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int) and not isinstance(v, np.integer):
            return int(v)
        if isinstance(v, float) and not isinstance(v, np.floating):
            f = float(v)
            if math.isfinite(f):
                return f
            return {"__float__": "nan" if math.isnan(f) else ("inf" if f > 0 else "-inf")}
        if isinstance(v, np.ndarray):
            return {"__ndarray__": self.blob(np.asarray(v))}
        if isinstance(v, np.generic):
            return {"__npscalar__": self.blob(np.asarray(v))}
        if isinstance(v, tuple):
            return {"__tuple__": [self.enc(x, depth + 1) for x in v]}
        if isinstance(v, list):
            return [self.enc(x, depth + 1) for x in v]
        if isinstance(v, dict):
            pairs = []
            for k, x in v.items():
                if not isinstance(k, (str, int)) or isinstance(k, bool):
                    raise WireError(f"cannot send a dict key of type {type(k).__name__}")
                pairs.append([k, self.enc(x, depth + 1)])
            return {"__dict__": pairs}
        for matches, name, encode in self.ext.encoders:
            if matches(v):
                return {"__ext__": name, "data": self.enc(encode(v), depth + 1)}
        raise WireError(f"cannot send a value of type {type(v).__module__}.{type(v).__qualname__}")


def encode(value: Any, ext: Extensions = NO_EXTENSIONS) -> bytes:
    """Serialise a plain value (see module doc) to one message."""
    e = _Encoder(ext)
    body = e.enc(value)
    header = json.dumps({"body": body, "blobs": [len(b) for b in e.blobs]}, allow_nan=False).encode()
    if len(header) > MAX_HEADER_BYTES:
        raise WireError(f"message header is {len(header)} bytes, over the cap of {MAX_HEADER_BYTES}")
    total = len(header) + sum(len(b) for b in e.blobs)
    if total > MAX_MESSAGE_BYTES:
        raise WireError(f"message is {total} bytes, over the cap of {MAX_MESSAGE_BYTES}")
    return b"".join([_HEADER.pack(len(header)), header, *e.blobs])


class _Decoder:
    def __init__(self, blobs: list[bytes], ext: Extensions) -> None:
        self.blobs = blobs
        self.ext = ext
        self.items = 0

    def array(self, idx: Any) -> np.ndarray:
        if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < len(self.blobs):
            raise WireError("array reference out of range")
        try:
            arr = np.load(io.BytesIO(self.blobs[idx]), allow_pickle=False)
        except Exception as exc:  # malformed .npy bytes
            raise WireError(f"malformed array data: {type(exc).__name__}") from None
        if type(arr) is not np.ndarray or arr.dtype.hasobject or arr.dtype.names is not None or arr.dtype.kind == "V":
            raise WireError("array data is not a plain numeric ndarray")  # no object, structured or void dtypes
        return arr

    def dec(self, v: Any, depth: int = 0) -> Any:
        self.items += 1
        if depth > MAX_DEPTH or self.items > MAX_ITEMS:
            raise WireError("value is nested too deeply or has too many items")
        if v is None or isinstance(v, (bool, str, int, float)):
            return v
        if isinstance(v, list):
            return [self.dec(x, depth + 1) for x in v]
        if not isinstance(v, dict) or len(v) not in (1, 2):
            raise WireError("malformed value")
        if "__tuple__" in v and isinstance(v["__tuple__"], list):
            return tuple(self.dec(x, depth + 1) for x in v["__tuple__"])
        if "__dict__" in v and isinstance(v["__dict__"], list):
            out: dict[Any, Any] = {}
            for pair in v["__dict__"]:
                if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], (str, int))):
                    raise WireError("malformed dict entry")
                out[pair[0]] = self.dec(pair[1], depth + 1)
            return out
        if "__float__" in v:
            if v["__float__"] not in _FLOATS:
                raise WireError("malformed float")
            return _FLOATS[v["__float__"]]
        if "__ndarray__" in v:
            return self.array(v["__ndarray__"])
        if "__npscalar__" in v:
            arr = self.array(v["__npscalar__"])
            if arr.ndim != 0:
                raise WireError("malformed numpy scalar")
            return arr[()]
        if "__ext__" in v:
            name = v["__ext__"]
            if name not in self.ext.decoders:
                raise WireError(f"values of kind {name!r} are not accepted here")
            return self.ext.decoders[name](self.dec(v.get("data"), depth + 1))
        raise WireError("malformed value")


def decode(header: bytes, blobs: list[bytes], ext: Extensions = NO_EXTENSIONS) -> Any:
    try:
        parsed = json.loads(header)
    except (ValueError, UnicodeDecodeError):
        raise WireError("message header is not JSON") from None
    if not isinstance(parsed, dict) or "body" not in parsed:
        raise WireError("message header has no body")
    return _Decoder(blobs, ext).dec(parsed["body"])


def _read_exact(fd: int, n: int, deadline: float | None = None) -> bytes:
    chunks = []
    while n > 0:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError("no answer in time")
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int, ext: Extensions = NO_EXTENSIONS, deadline: float | None = None) -> Any:
    """Read one whole message from ``fd``.

    Raises EOFError at end of stream and TimeoutError when ``deadline`` (time.monotonic()) passes.
    """
    (hlen,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
    if hlen > MAX_HEADER_BYTES:
        raise WireError(f"message header of {hlen} bytes is over the cap")
    header = _read_exact(fd, hlen, deadline)
    try:
        sizes = json.loads(header).get("blobs", [])
    except (ValueError, AttributeError):
        raise WireError("message header is not JSON") from None
    if not isinstance(sizes, list) or not all(isinstance(s, int) and s >= 0 for s in sizes):
        raise WireError("malformed blob sizes")
    if sum(sizes) > MAX_MESSAGE_BYTES:
        raise WireError("message is over the size cap")
    blobs = [_read_exact(fd, s, deadline) for s in sizes]
    return decode(header, blobs, ext)


def write_message(fd: int, value: Any, ext: Extensions = NO_EXTENSIONS, deadline: float | None = None) -> None:
    """Write one whole message to ``fd``. With ``deadline`` (time.monotonic()) and a non-blocking ``fd``, raise
    TimeoutError when the other side has not taken it all by then (a peer that stops reading cannot block us)."""
    data = memoryview(encode(value, ext))
    while data:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [fd], [], left)[1]:
                raise TimeoutError("the other side does not read")
        try:
            n = os.write(fd, data)
        except BlockingIOError:  # a non-blocking fd whose pipe is full
            if deadline is None:
                select.select([], [fd], [])
            continue
        data = data[n:]
