"""PostgreSQL's binary COPY format for telemetry points, laid out by numpy.

One structured array is the whole payload, so encoding costs no Python per point.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# One row for (series_id int4, ts_ms int8, value float8, flags int2): a field
# count, then each field's length and value, all big-endian.
_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("series_len", ">i4"), ("series_id", ">i4"),
        ("ts_len", ">i4"), ("ts_ms", ">i8"),
        ("value_len", ">i4"), ("value", ">f8"),
        ("flags_len", ">i4"), ("flags", ">i2"),
    ]
)  # fmt: skip
_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_TRAILER = (-1).to_bytes(2, "big", signed=True)


def binary_copy(
    series_id: npt.NDArray[np.int32],
    ts_ms: npt.NDArray[np.int64],
    value: npt.NDArray[np.float64],
    flags: npt.NDArray[np.int16],
) -> bytes:
    """The points as the input of ``COPY ... FROM STDIN WITH (FORMAT BINARY)``."""
    rows = np.empty(len(series_id), dtype=_ROW)
    rows["fields"] = 4
    rows["series_len"], rows["ts_len"], rows["value_len"], rows["flags_len"] = 4, 8, 8, 2
    rows["series_id"] = series_id
    rows["ts_ms"] = ts_ms
    rows["value"] = value
    rows["flags"] = flags
    return _HEADER + rows.tobytes() + _TRAILER
