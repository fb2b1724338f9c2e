"""Rollup arithmetic (numpy, no SQL here): new points folded into per-minute
summaries, and summaries merged into the buckets a query asks for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from imcloud_products.domain.telemetry import ROLLUP_MS, Aggregates
from imcloud_products.store.telemetry.columns import Columns


@dataclass(frozen=True)
class MinuteRollups:
    """Per series and minute: the min, max, sum and count of the points."""

    series_id: npt.NDArray[np.int32]
    bucket_ms: npt.NDArray[np.int64]
    low: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    total: npt.NDArray[np.float64]
    count: npt.NDArray[np.int64]


def minute_rollups(columns: Columns) -> MinuteRollups:
    minute = columns.ts_ms // ROLLUP_MS * ROLLUP_MS
    order = np.lexsort((minute, columns.series_id))
    sid, minute, value = columns.series_id[order], minute[order], columns.value[order]
    starts = np.flatnonzero(
        np.concatenate([[True], (sid[1:] != sid[:-1]) | (minute[1:] != minute[:-1])])
    )
    counts = np.diff(np.append(starts, len(sid)))
    return MinuteRollups(
        series_id=sid[starts],
        bucket_ms=minute[starts],
        low=np.minimum.reduceat(value, starts),
        high=np.maximum.reduceat(value, starts),
        total=np.add.reduceat(value, starts),
        count=counts.astype(np.int64),
    )


class Summaries:
    """Merges (series, bucket, min, max, sum, count) rows into buckets of one width."""

    def __init__(self, bucket_ms: int) -> None:
        self._width = bucket_ms
        self._parts: list[npt.NDArray[np.float64]] = []

    def add(self, rows: list[Any]) -> None:
        if rows:
            # float64 holds every series id and millisecond time exactly (< 2**53).
            self._parts.append(np.array(rows, dtype=np.float64).reshape(-1, 6))

    def result(self, series: dict[int, str]) -> list[Aggregates]:
        if not self._parts:
            return []
        rows = np.concatenate(self._parts)
        series_id = rows[:, 0].astype(np.int64)
        bucket = rows[:, 1].astype(np.int64) // self._width
        # One integer per (series, bucket), ordered as the pair: a flat unique is
        # several times faster than a unique over rows.
        first_bucket = int(bucket.min())
        buckets = int(bucket.max()) - first_bucket + 1
        key_codes, inverse = np.unique(
            series_id * buckets + (bucket - first_bucket), return_inverse=True
        )
        keys = np.stack(
            [key_codes // buckets, (key_codes % buckets + first_bucket) * self._width], axis=1
        )
        inverse = inverse.ravel()
        low = np.full(len(keys), np.inf)
        high = np.full(len(keys), -np.inf)
        np.minimum.at(low, inverse, rows[:, 2])
        np.maximum.at(high, inverse, rows[:, 3])
        total = np.bincount(inverse, weights=rows[:, 4], minlength=len(keys))
        count = np.bincount(inverse, weights=rows[:, 5], minlength=len(keys)).astype(np.int64)
        results = []
        for series_key in np.unique(keys[:, 0]).tolist():
            mine = keys[:, 0] == series_key
            results.append(
                Aggregates(
                    signal=series[series_key],
                    bucket_start_ms=keys[mine, 1].tolist(),
                    minimum=low[mine].tolist(),
                    maximum=high[mine].tolist(),
                    mean=(total[mine] / count[mine]).tolist(),
                    count=count[mine].tolist(),
                )
            )
        return sorted(results, key=lambda a: a.signal)
