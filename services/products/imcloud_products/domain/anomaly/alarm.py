"""Turns the machine score into a per-row anomaly flag, with hysteresis.

The flag is raised after `rows_to_raise` consecutive rows score at least
threshold_on, and cleared after `rows_to_clear` consecutive rows score below
threshold_off, so a score hovering around one threshold does not chatter. A NaN
score neither raises nor clears the flag.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from imcloud_products.domain.anomaly.config import DetectorConfig
from imcloud_products.domain.anomaly.smoothing import FloatArray


class AlarmLatch:
    def __init__(self, config: DetectorConfig) -> None:
        self._config = config
        self.active = False
        self.rows_above = 0
        self.rows_below = 0

    def step(self, scores: FloatArray, enabled: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """Advance over rows; rows where `enabled` is False are never flagged."""
        threshold_on = self._config.threshold_on
        threshold_off = self._config.threshold_off
        rows_to_raise = self._config.rows_to_raise
        rows_to_clear = self._config.rows_to_clear
        flags = np.zeros(scores.shape[0], dtype=bool)
        active, above, below = self.active, self.rows_above, self.rows_below
        # A scalar loop: this is a state machine, and plain floats are fast here.
        for row, (score, allowed) in enumerate(zip(scores.tolist(), enabled.tolist(), strict=True)):
            if not allowed:
                active, above, below = False, 0, 0
                continue
            if active:
                below = below + 1 if score < threshold_off else 0
                if below >= rows_to_clear:
                    active, above = False, 0
            else:
                above = above + 1 if score >= threshold_on else 0
                if above >= rows_to_raise:
                    active, below = True, 0
            flags[row] = active
        self.active, self.rows_above, self.rows_below = active, above, below
        return flags

    def to_state(self) -> dict[str, Any]:
        return {"active": self.active, "rows_above": self.rows_above, "rows_below": self.rows_below}

    @classmethod
    def from_state(cls, state: dict[str, Any], config: DetectorConfig) -> AlarmLatch:
        latch = cls(config)
        latch.active = bool(state["active"])
        latch.rows_above = int(state["rows_above"])
        latch.rows_below = int(state["rows_below"])
        return latch
