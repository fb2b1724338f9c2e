"""Exact, JSON-able encoding of detector state.

Floats must survive a save/restore bit for bit (the platform replays streams and
expects the same scores), and state holds NaN and infinities, which JSON cannot
carry as numbers. Arrays are therefore stored as base64 of their little-endian
bytes, together with dtype and shape.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import numpy.typing as npt

STATE_FORMAT_VERSION = 1

_ALLOWED_DTYPES = {"<f8", "<i8", "|b1", "<u2", "<i2"}


def encode_array(array: npt.NDArray[Any]) -> dict[str, Any]:
    """Encode an array as a JSON-able dict; decode_array gives it back exactly."""
    little_endian = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False)
    dtype = little_endian.dtype.str
    if dtype not in _ALLOWED_DTYPES:
        raise ValueError(f"unsupported dtype in detector state: {dtype}")
    return {
        "dtype": dtype,
        "shape": list(little_endian.shape),
        "data": base64.b64encode(little_endian.tobytes()).decode("ascii"),
    }


def decode_array(encoded: dict[str, Any]) -> npt.NDArray[Any]:
    dtype = np.dtype(encoded["dtype"])
    if dtype.str not in _ALLOWED_DTYPES:
        raise ValueError(f"unsupported dtype in detector state: {dtype.str}")
    raw = base64.b64decode(encoded["data"].encode("ascii"), validate=True)
    shape = tuple(int(n) for n in encoded["shape"])
    # astype to the native byte order gives a fresh, writable, C-contiguous array.
    return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def encode_float(value: float) -> str:
    """A float as hex text: exact, and valid JSON even for NaN and infinity."""
    return float(value).hex()


def decode_float(text: str) -> float:
    return float.fromhex(text)
