"""Throughput of the detector on one core: many machines, batches per machine."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from imcloud_products.domain.anomaly import DetectorConfig, StreamingAnomalyDetector


@dataclass(frozen=True)
class Throughput:
    machines: int
    signals: int
    batch_rows: int
    rows: int
    seconds: float

    @property
    def points_per_second(self) -> float:
        return self.rows * self.signals / self.seconds

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def measure_throughput(
    machines: int = 20,
    signals: int = 10,
    batch_rows: int = 500,
    batches_per_machine: int = 10,
    config: DetectorConfig | None = None,
    seed: int = 0,
) -> Throughput:
    """Feed synthetic telemetry to `machines` detectors, round-robin, and time it.

    Only update() calls are timed; the data are made beforehand.
    """
    rng = np.random.default_rng(seed)
    detectors = [
        StreamingAnomalyDetector([f"s{j}" for j in range(signals)], config) for _ in range(machines)
    ]
    rows = batch_rows * batches_per_machine
    stamps = np.arange(rows, dtype=np.int64) * 1000
    data = [
        rng.normal(size=(rows, signals)).cumsum(axis=0) * 0.01 + rng.normal(size=(rows, signals))
        for _ in range(machines)
    ]
    start = time.perf_counter()
    for batch in range(batches_per_machine):
        window = slice(batch * batch_rows, (batch + 1) * batch_rows)
        for detector, values in zip(detectors, data, strict=True):
            detector.update(stamps[window], values[window])
    seconds = time.perf_counter() - start
    return Throughput(machines, signals, batch_rows, rows * machines, seconds)
