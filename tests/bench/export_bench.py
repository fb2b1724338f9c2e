"""The CSV export of a long range with flat memory, on real Kafka and PostgreSQL.

Loads ``--days`` (30 by default: about 26 M points) of 1 s data for 10 signals of
one machine through the products store's own write path (its COPY into the
partitions and the minute rollups), then streams
``GET /v1/equipment/{id}/telemetry:export?format=csv`` (and, shorter, the Parquet
one) through the gateway's HTTP API, sampling the resident memory of the gateway
and products processes every 100 ms. Writes tests/bench/results/export.md.

    uv run --frozen python -m tests.bench.export_bench [--days 30] [--parquet-days 1]
"""

from __future__ import annotations

import argparse
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine

from imcloud_core.db import Database
from imcloud_products.domain.telemetry import RecordedBatch, RecordedSeries
from imcloud_products.store.telemetry import SqlTelemetryStore
from tests.bench.telemetry_bench import RESULTS, Platform, created, distributed_platform, say
from tests.conftest import POSTGRES_URL, FreshDatabases
from tests.support.api import Tenant, sign_up

SIGNALS = [f"s{i}" for i in range(10)]
DAY_MS = 86_400_000


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class RssSampler:
    """Peak resident memory of some processes, sampled every 100 ms while running."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.before = {name: rss_bytes(pid) for name, pid in pids.items()}
        self.peak = dict(self.before)
        self.samples: dict[str, list[int]] = {name: [] for name in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            for name, pid in self.pids.items():
                rss = rss_bytes(pid)
                self.samples[name].append(rss)
                self.peak[name] = max(self.peak[name], rss)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def load(platform: Platform, tenant_id: str, equipment_id: str, days: int) -> tuple[int, int]:
    database = Database(create_engine(platform.env["IMCLOUD_DATABASE_URLS__PRODUCTS"]))
    store = SqlTelemetryStore(database, retention_days=days + 10, rollup_retention_days=400)
    end_ms = int(time.time()) // 60 * 60 * 1000
    start_ms = end_ms - days * DAY_MS
    total = days * 86_400 * len(SIGNALS)
    say(f"loading {days} days at 1 s, {len(SIGNALS)} signals: {total:,} points")
    rng = np.random.default_rng(7)
    started = time.perf_counter()
    # Six hours per transaction: 216,000 points.
    step = DAY_MS // 4
    for number, chunk_ms in enumerate(range(start_ms, end_ms, step)):
        stamps = np.arange(chunk_ms, min(chunk_ms + step, end_ms), 1000, dtype=np.int64)
        batch = RecordedBatch(
            tenant_id=tenant_id,
            equipment_id=equipment_id,
            sequence_id=number,
            receive_ms=end_ms,
            series=tuple(
                RecordedSeries(
                    signal=signal,
                    timestamps_ms=stamps,
                    values=rng.normal(50 + i, 5, len(stamps)),
                    flags=np.zeros(len(stamps), dtype=np.int16),
                )
                for i, signal in enumerate(SIGNALS)
            ),
        )
        with store.transaction() as transaction:
            store.record(transaction, [batch])
        done = (chunk_ms + step - start_ms) / (end_ms - start_ms)
        say(f"  {min(done, 1):6.1%} loaded ({time.perf_counter() - started:,.0f} s)")
    seconds = time.perf_counter() - started
    say(f"loaded {total:,} points in {seconds:,.0f} s ({total / seconds:,.0f} points/s)")
    database.close()
    return start_ms, end_ms


def stream(
    platform: Platform, tenant: Tenant, url: str, params: dict[str, str], what: str
) -> dict[str, float]:
    pids = {"gateway": platform.pids["gateway"], "products": platform.pids["products"]}
    received = lines = 0
    next_report = time.perf_counter() + 5
    with RssSampler(pids) as sampler:
        started = time.perf_counter()
        with tenant.http.stream("GET", url, params=params, timeout=None) as answer:
            assert answer.status_code == 200, answer.read()
            for chunk in answer.iter_bytes():
                received += len(chunk)
                lines += chunk.count(b"\n")
                if time.perf_counter() >= next_report:
                    next_report += 5
                    say(
                        f"  {what}: {received / 1e6:,.0f} MB, {lines:,} lines, gateway RSS "
                        f"{rss_bytes(pids['gateway']) / 2**20:,.0f} MiB"
                    )
        seconds = time.perf_counter() - started
    result = {"seconds": seconds, "bytes": received, "lines": lines}
    for name in pids:
        result[f"{name}_before"] = sampler.before[name]
        result[f"{name}_peak"] = sampler.peak[name]
    say(f"{what}: {received:,} bytes, {lines:,} lines in {seconds:,.1f} s")
    return result


def mib(value: float) -> str:
    return f"{value / 2**20:,.0f} MiB"


def report(days: int, parquet_days: int, csv: dict[str, float], parquet: dict[str, float]) -> str:
    rows = int(csv["lines"]) - 1
    lines = [
        f"# Export benchmark ({datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')})",
        "",
        f"One machine, {len(SIGNALS)} signals at 1 s, {days} days loaded through the products "
        "store (distributed mode: one process per service, PostgreSQL, Kafka), exported through "
        "the gateway's HTTP API (`telemetry:export`), read by one client with httpx. Resident "
        "memory sampled every 100 ms during the export. On this 2-core machine, shared with "
        "other work.",
        "",
        "| export | rows | bytes | seconds | rows/s | MB/s | gateway RSS before -> peak | "
        "products RSS before -> peak |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for name, result, exported_rows in (
        (f"CSV, {days} days", csv, rows),
        (f"Parquet, {parquet_days} days", parquet, parquet_days * 86_400 * len(SIGNALS)),
    ):
        lines.append(
            f"| {name} | {exported_rows:,} | {int(result['bytes']):,} | {result['seconds']:,.1f} "
            f"| {exported_rows / result['seconds']:,.0f} "
            f"| {result['bytes'] / 1e6 / result['seconds']:,.1f} "
            f"| {mib(result['gateway_before'])} -> {mib(result['gateway_peak'])} "
            f"| {mib(result['products_before'])} -> {mib(result['products_peak'])} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="days of 1 s data to load")
    parser.add_argument("--parquet-days", type=int, default=1, help="days exported as Parquet")
    arguments = parser.parse_args()
    databases = FreshDatabases(POSTGRES_URL)
    try:
        with distributed_platform(databases) as platform:
            base = platform.ports.base_url
            tenant = sign_up(base, "Export bench")
            model = created(
                tenant.post(
                    "/v1/equipment-models",
                    {"name": "Bench", "signals": [{"name": s} for s in SIGNALS]},
                )
            )
            machine = created(
                tenant.post("/v1/equipment", {"equipment_model_id": model, "serial_number": "B1"})
            )
            start_ms, end_ms = load(platform, tenant.id, machine, arguments.days)
            url = f"/v1/equipment/{machine}/telemetry:export"

            def window(start: int) -> dict[str, str]:
                return {
                    "start": datetime.fromtimestamp(start / 1000, UTC).isoformat(),
                    "end": datetime.fromtimestamp(end_ms / 1000, UTC).isoformat(),
                }

            csv = stream(platform, tenant, url, {**window(start_ms), "format": "csv"}, "CSV")
            expected = arguments.days * 86_400 * len(SIGNALS)
            assert csv["lines"] == expected + 1, (csv["lines"], expected)
            parquet_start = end_ms - arguments.parquet_days * DAY_MS
            parquet = stream(
                platform, tenant, url, {**window(parquet_start), "format": "parquet"}, "Parquet"
            )
        table = report(arguments.days, arguments.parquet_days, csv, parquet)
        print("\n" + table)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "export.md").write_text(table)
        say(f"written to {RESULTS / 'export.md'}")
    finally:
        databases.drop_all()


if __name__ == "__main__":
    main()
