"""The points of one handler call, column by column (numpy, no SQL here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from imcloud_products.domain.telemetry import RecordedBatch, RecordedSeries
from imcloud_products.store.telemetry.binary_copy import binary_copy


class Columns:
    """All points of a handler call; ``series_ids`` gives each series' id per point."""

    def __init__(self, series_ids: Sequence[npt.NDArray[np.int32]], batches: list[RecordedBatch]):
        parts = [s for b in batches for s in b.series]
        self.series_id: npt.NDArray[np.int32] = np.concatenate([*series_ids, np.empty(0, np.int32)])
        self.ts_ms: npt.NDArray[np.int64] = np.concatenate(
            [*(p.timestamps_ms for p in parts), np.empty(0, np.int64)]
        )
        self.value: npt.NDArray[np.float64] = np.concatenate(
            [*(p.values for p in parts), np.empty(0, np.float64)]
        )
        self.flags: npt.NDArray[np.int16] = np.concatenate(
            [*(p.flags for p in parts), np.empty(0, np.int16)]
        )

    def __len__(self) -> int:
        return len(self.series_id)

    def take(self, positions: npt.NDArray[np.intp]) -> Columns:
        taken = Columns([], [])
        taken.series_id = self.series_id[positions]
        taken.ts_ms = self.ts_ms[positions]
        taken.value = self.value[positions]
        taken.flags = self.flags[positions]
        return taken

    def firsts(self) -> npt.NDArray[np.intp]:
        """The positions of each (series, time)'s first point in this call, in call order."""
        order = np.lexsort((np.arange(len(self)), self.ts_ms, self.series_id))
        sid, ts = self.series_id[order], self.ts_ms[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = (sid[1:] != sid[:-1]) | (ts[1:] != ts[:-1])
        return np.sort(order[first])

    def newest_per_series(self) -> Columns:
        order = np.lexsort((self.ts_ms, self.series_id))
        sid = self.series_id[order]
        return self.take(order[np.concatenate([sid[1:] != sid[:-1], [True]])])

    def rows(self) -> list[dict[str, int | float]]:
        """One statement parameter set a point, for the paths that insert rows."""
        return [
            {"series_id": s, "ts_ms": t, "value": v, "flags": f}
            for s, t, v, f in zip(
                self.series_id.tolist(),
                self.ts_ms.tolist(),
                self.value.tolist(),
                self.flags.tolist(),
                strict=True,
            )
        ]

    def copy_payload(self) -> bytes:
        return binary_copy(self.series_id, self.ts_ms, self.value, self.flags)


def points_at(batches: list[RecordedBatch], positions: npt.NDArray[np.intp]) -> list[RecordedBatch]:
    """The batches cut down to their points at ``positions`` (of the Columns made
    of them); a series or a batch left with no points is left out."""
    kept = np.zeros(sum(len(s.values) for b in batches for s in b.series), dtype=bool)
    kept[positions] = True
    cut: list[RecordedBatch] = []
    start = 0
    for batch in batches:
        series: list[RecordedSeries] = []
        for part in batch.series:
            mine = kept[start : start + len(part.values)]
            start += len(part.values)
            if mine.all():
                series.append(part)
            elif mine.any():
                series.append(
                    replace(
                        part,
                        timestamps_ms=part.timestamps_ms[mine],
                        values=part.values[mine],
                        flags=part.flags[mine],
                    )
                )
        if series:
            cut.append(replace(batch, series=tuple(series)))
    return cut
