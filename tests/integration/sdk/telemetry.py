"""Reads back what the platform stored, through the REST API."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from tests.support.api import Tenant


def window() -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "start": (now - timedelta(days=1)).isoformat(),
        "end": (now + timedelta(hours=1)).isoformat(),
    }


def stored_points(
    tenant: Tenant, equipment_id: str, signals: Iterable[str]
) -> dict[str, dict[int, float]]:
    """Every stored point of these signals of a machine, by signal and timestamp
    (all pages; not the platform's own series, such as the anomaly score)."""
    wanted = set(signals)
    points: dict[str, dict[int, float]] = {}
    token = ""
    while True:
        response = tenant.get(
            f"/v1/equipment/{equipment_id}/telemetry",
            signal=sorted(wanted),
            page_size=10_000,
            page_token=token,
            **window(),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        for series in body["series"]:
            if series["signal"] not in wanted:
                continue  # the platform's own, e.g. _anomaly_score, comes along
            by_time = points.setdefault(series["signal"], {})
            for stamp, value in zip(series["timestamps_ms"], series["values"], strict=True):
                assert stamp not in by_time, f"{series['signal']} at {stamp} stored twice"
                by_time[stamp] = value
        token = body["next_page_token"]
        if not token:
            return points


def count(points: dict[str, dict[int, float]]) -> int:
    return sum(len(by_time) for by_time in points.values())
