"""The points of one handler call, column by column (numpy, no SQL here)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from imcloud_products.domain.telemetry import RecordedBatch
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
