"""Replays SKAB through a running platform: device SDK -> gateway -> Kafka (or the
in-process bus) -> products -> stored scores and episodes, read back via the API.

What comes back is scored with the same code as the direct run, so the table
shows whether the detector in production is the one evaluated.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from imcloud_device import DeviceClient
from imcloud_products.domain.monitoring import FLAG_ANOMALY, SCORE_SIGNAL
from imcloud_products.evaluation.datasets import SKAB_SIGNALS, SkabFile
from imcloud_simulator.onboarding import PlatformApi, sign_up

SIGNAL_NAMES = [name.replace(" ", "_") for name in SKAB_SIGNALS]
ROWS_PER_BATCH = 100
# Replayed files are moved to end this long ago, inside the platform's window
# for accepted timestamps.
REPLAY_ENDS_AGO_MS = 3_600_000


@dataclass(frozen=True)
class ReplayMachine:
    file: SkabFile
    equipment_id: str
    credential: str
    # Added to the file's timestamps to move it into the accepted time window.
    shift: int


@dataclass(frozen=True)
class ReplayedFile:
    name: str
    equipment_id: str
    flags: npt.NDArray[np.bool_]
    # (kind, start, end, rows) per episode, in the file's own time.
    episodes: list[tuple[str, int, int, int]]


class PlatformReplay:
    def __init__(
        self,
        *,
        api_url: str,
        device_link: str,
        api_key: str = "",
        progress: Callable[[str], None] = lambda message: None,
    ) -> None:
        self._device_link = device_link
        self._progress = progress
        self._api = PlatformApi(api_url, api_key, timeout_s=30)
        if not api_key:
            sign_up(self._api, f"SKAB replay {uuid.uuid4().hex[:8]}")
        model = self._api.post(
            "/v1/equipment-models",
            {
                "name": f"SKAB pump {uuid.uuid4().hex[:8]}",
                "signals": [{"name": name} for name in SIGNAL_NAMES],
            },
        )
        self._model_id = model["id"]

    def replay(self, file: SkabFile) -> ReplayedFile:
        machine = self.register(file)
        self.stream(machine, range(len(file.timestamps)))
        return self.results(machine)

    def register(self, file: SkabFile) -> ReplayMachine:
        """A machine for the file, with its credential and the file moved to recent time."""
        created = self._api.post(
            "/v1/equipment",
            {"equipment_model_id": self._model_id, "serial_number": file.name},
        )
        equipment_id = str(created["id"])
        credential = str(self._api.post(f"/v1/equipment/{equipment_id}/credentials", {})["secret"])
        shift = int(time.time() * 1000) - REPLAY_ENDS_AGO_MS - int(file.timestamps[-1])
        return ReplayMachine(file, equipment_id, credential, shift)

    def stream(self, machine: ReplayMachine, rows: range) -> None:
        """Sends these rows of the file with the device SDK; returns once all are durable."""
        stamps = machine.file.timestamps + machine.shift
        # Whole rows per batch: the detector needs every signal of a row together.
        with DeviceClient(
            self._device_link,
            machine.credential,
            max_batch_points=ROWS_PER_BATCH * len(SIGNAL_NAMES),
        ) as device:
            for row in rows:
                values = machine.file.values[row].tolist()
                device.record_snapshot(
                    dict(zip(SIGNAL_NAMES, values, strict=True)), int(stamps[row])
                )
            if not device.flush(timeout_s=120):
                raise RuntimeError(f"{machine.file.name}: rows not acknowledged: {device.stats()}")

    def results(self, machine: ReplayMachine) -> ReplayedFile:
        """Waits until every row is scored, then reads flags and episodes back."""
        stamps = machine.file.timestamps + machine.shift
        flags = self._wait_for_scores(machine.equipment_id, stamps, machine.file.name)
        shift = machine.shift
        return ReplayedFile(
            name=machine.file.name,
            equipment_id=machine.equipment_id,
            flags=flags,
            episodes=[
                (kind, start - shift, end - shift, rows)
                for kind, start, end, rows in self._episodes(machine.equipment_id)
            ],
        )

    def _wait_for_scores(
        self, equipment_id: str, stamps: npt.NDArray[np.int64], name: str
    ) -> npt.NDArray[np.bool_]:
        deadline = time.monotonic() + 120
        while True:
            flags = self._score_flags(equipment_id, int(stamps[0]), int(stamps[-1]) + 1)
            if len(flags) >= len(stamps):
                return flags
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: {len(flags)} of {len(stamps)} rows scored in time")
            time.sleep(0.2)

    def _score_flags(self, equipment_id: str, start_ms: int, end_ms: int) -> npt.NDArray[np.bool_]:
        flags: list[int] = []
        for page in self._api.pages(
            f"/v1/equipment/{equipment_id}/telemetry",
            signal=SCORE_SIGNAL,
            start=datetime.fromtimestamp(start_ms / 1000, UTC).isoformat(),
            end=datetime.fromtimestamp(end_ms / 1000, UTC).isoformat(),
            page_size=10_000,
        ):
            for series in page["series"]:
                flags.extend(series["flags"])
        anomalous: npt.NDArray[np.bool_] = (np.array(flags, dtype=np.int64) & FLAG_ANOMALY) != 0
        return anomalous

    def _episodes(self, equipment_id: str) -> list[tuple[str, int, int, int]]:
        return sorted(
            (episode["kind"], _ms(episode["start_time"]), _ms(episode["end_time"]), episode["rows"])
            for page in self._api.pages(
                f"/v1/equipment/{equipment_id}/anomaly-episodes", page_size=500
            )
            for episode in page["items"]
        )


def _ms(text: str) -> int:
    return round(datetime.fromisoformat(text).timestamp() * 1000)
