"""`make bench`: telemetry throughput and latency on real Kafka and PostgreSQL.

Measures, in one run on this machine:
1. end to end: points acknowledged at the device link, and points queryable in
   the store, per second, with the platform in distributed mode (one process per
   service) and many machines streaming at once; the machines stand at stations
   and report a state and good and scrap totals among their signals, so the
   production service tracks every batch. The same is measured with no state
   mapping (production skips the batches), in turns, to see what tracking costs,
   and how long after the last point production had taken every batch;
2. latency from sending a point to seeing it through the REST API (p50, p99),
   sampled while that load runs;
3. the raw baselines with the same data: Kafka produce+consume with the same
   client library, and a PostgreSQL COPY of the same rows into an indexed table;
4. aggregate queries over a month of 1 s data of one machine (10 signals).

Prints a table, and writes it with a chart to tests/bench/results/.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import create_engine, text

from imcloud.products.v1 import telemetry_pb2
from imcloud_core.bus import OutgoingRecord, Record
from imcloud_core.bus.kafka import KafkaBus
from imcloud_core.db import Database
from imcloud_core.events import new_envelope
from imcloud_core.settings import KafkaSettings
from imcloud_products.domain.telemetry import RecordedBatch, RecordedSeries
from imcloud_products.store.telemetry import Columns, SqlTelemetryStore
from tests.conftest import KAFKA_BOOTSTRAP, POSTGRES_URL, REPO, FreshDatabases
from tests.support.api import Tenant, sign_up
from tests.support.platform import SERVICES, ImcloudProcess, Ports, run_imcloud, wait_until_healthy
from tests.support.ports import free_port
from tests.support.waiting import wait_for

RESULTS = REPO / "tests" / "bench" / "results"
MACHINES = 20
SIGNALS = 10
POINTS_PER_SIGNAL = 500  # per batch: 5,000 points
BATCHES_PER_MACHINE = 60  # 6,000,000 points in all
MONTH_DAYS = 30
# Flat-out runs with production tracking and without, in turns (ABBA, so a drift
# over the run, such as the store growing, weighs on both alike).
TRACKING_TURNS = (False, True, True, False)
# A state signal and good and scrap totals among the ten, as production reads them.
SIGNAL_NAMES = ("run_state", "good_count", "scrap_count", *(f"s{i}" for i in range(SIGNALS - 3)))
# The load sends the same ramp, 0..96, on every signal: every run_state value reads
# as running, and the totals rise by one a point and wrap, which is a counter
# reset. So every point counts a unit: the most counting work a batch can bring.
STATE_MAPPING = {
    "state_signal": "run_state",
    "rules": [{"comparison": "less", "value": 1000, "state": "running"}],
    "default_state": "down",
    "good": {"signal": "good_count", "kind": "total"},
    "scrap": {"signal": "scrap_count", "kind": "total"},
    "hold_s": 60,
}
PRODUCTION_BATCH_COUNTERS = (
    "imcloud_production_tracked_batches_total",
    "imcloud_production_untracked_batches_total",
)
# The target rate, held for about 30 s, to see latency when the platform keeps up.
PACED_RATE = 100_000
PACED_BATCHES = 30


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class Results:
    rows: list[tuple[str, float, str]] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)

    def add(self, name: str, value: float, unit: str) -> None:
        self.rows.append((name, value, unit))
        say(f"{name}: {value:,.1f} {unit}")


# -- the platform under test --------------------------------------------------------


@dataclass
class Platform:
    ports: Ports
    env: dict[str, str]
    # Where the production process serves its Prometheus metrics.
    production_metrics: str
    pids: dict[str, int]

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user and system) each service's process has used so far."""
        tick = os.sysconf("SC_CLK_TCK")
        used = {}
        for service, pid in self.pids.items():
            # The fields after the command's closing parenthesis; utime and stime
            # are the 14th and 15th of the line.
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            used[service] = (int(fields[11]) + int(fields[12])) / tick
        return used


@contextmanager
def distributed_platform(databases: FreshDatabases) -> Iterator[Platform]:
    ports = Ports()
    metrics_port = free_port()
    env = {
        "IMCLOUD_BUS": "kafka",
        "IMCLOUD_KAFKA__BOOTSTRAP_SERVERS": KAFKA_BOOTSTRAP,
        "IMCLOUD_GATEWAY__JWT_SECRET": uuid.uuid4().hex,
        "IMCLOUD_LOG_LEVEL": "WARNING",
        # The benchmark client is one tenant sending as fast as it can.
        "IMCLOUD_GATEWAY__TENANT_RATE_PER_S": "100000",
        "IMCLOUD_GATEWAY__CREDENTIAL_RATE_PER_S": "100000",
        # Month-old points are part of the aggregation phase.
        "IMCLOUD_TELEMETRY__RETENTION_DAYS": "40",
        **ports.environment(),
    }
    for service in SERVICES:
        env[f"IMCLOUD_DATABASE_URLS__{service.upper()}"] = databases.create(service)
    migrated = run_imcloud("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    own_env = {"production": {"IMCLOUD_METRICS_PORT": str(metrics_port)}}
    processes = {
        s: ImcloudProcess("serve", s, env={**env, **own_env.get(s, {})}, log_path=logs / f"{s}.log")
        for s in SERVICES
    }
    try:
        wait_until_healthy(processes["gateway"], ports.base_url, timeout_s=60)
        wait_for(
            lambda: httpx.get(f"{ports.base_url}/readyz").status_code == 200,
            timeout_s=60,
            what="readiness",
        )
        yield Platform(
            ports,
            env,
            f"http://127.0.0.1:{metrics_port}/metrics",
            {s: p.process.pid for s, p in processes.items()},
        )
    finally:
        for process in processes.values():
            process.stop()


def onboard(
    base_url: str, machines: int, *, tracked: bool
) -> tuple[Tenant, list[dict[str, object]]]:
    """A tenant with a plant whose line has a station for each machine, and a
    three-shift calendar since two days back; the machines' model gets a state
    mapping if ``tracked``: without one production skips their batches."""
    tenant = sign_up(base_url, f"Bench {uuid.uuid4().hex[:6]}")
    model = created(
        tenant.post(
            "/v1/equipment-models",
            {"name": "Bench machine", "signals": [{"name": name} for name in SIGNAL_NAMES]},
        )
    )
    plant = created(tenant.post("/v1/plants", {"name": "Bench", "time_zone": "Europe/Berlin"}))
    line = created(tenant.post("/v1/lines", {"plant_id": plant, "name": "Bench line"}))
    effective = (datetime.now(UTC) - timedelta(days=2)).replace(second=0, microsecond=0)
    answered(tenant.http.put(f"/v1/plants/{plant}/calendar", json=three_shifts(effective)))
    if tracked:
        answered(tenant.http.put(f"/v1/equipment-models/{model}/state-mapping", json=STATE_MAPPING))
    fleet = []
    for number in range(machines):
        station = created(
            tenant.post(
                "/v1/stations",
                {
                    "line_id": line,
                    "name": f"Station {number}",
                    "capabilities": ["bench"],
                    "ideal_cycle_time_s": 1.0,
                },
            )
        )
        machine = created(
            tenant.post(
                "/v1/equipment",
                {
                    "equipment_model_id": model,
                    "serial_number": f"B-{number}",
                    "station_id": station,
                },
            )
        )
        credential = tenant.post(f"/v1/equipment/{machine}/credentials", {}).json()
        fleet.append(
            {"id": machine, "credential": credential["secret"], "signals": list(SIGNAL_NAMES)}
        )
    return tenant, fleet


def three_shifts(effective: datetime) -> dict[str, object]:
    def shift(name: str, start: str, end: str, pause: str) -> dict[str, object]:
        return {
            "name": name,
            "days_of_week": [1, 2, 3, 4, 5, 6, 7],
            "start_time": start,
            "end_time": end,
            "breaks": [{"start_time": pause, "end_time": pause.replace(":00", ":30")}],
        }

    return {
        "shifts": [
            shift("early", "06:00", "14:00", "10:00"),
            shift("late", "14:00", "22:00", "18:00"),
            shift("night", "22:00", "06:00", "02:00"),
        ],
        "holidays": [],
        "small_stop_threshold_s": 120,
        "startup_window_s": 300,
        "effective_time": effective.isoformat(),
    }


def created(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def answered(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text


def wait_placed(production_url: str, fleet: list[dict[str, object]]) -> None:
    """Until production knows where every machine stands (from the products
    service's events), so that no batch is skipped for want of it."""
    engine = create_engine(production_url)
    ids = [str(m["id"]) for m in fleet]
    query = text("SELECT count(*) FROM equipment_placements WHERE equipment_id = ANY(:ids)")
    try:
        with engine.connect() as connection:
            wait_for(
                lambda: connection.execute(query, {"ids": ids}).scalar_one() == len(ids),
                timeout_s=60,
                what="production placing the machines",
            )
    finally:
        engine.dispose()


def production_batches(metrics_url: str) -> float:
    """Telemetry batches production has taken so far, tracked or skipped."""
    lines = httpx.get(metrics_url, timeout=5).text.splitlines()
    return sum(
        float(line.split()[1]) for line in lines if line.split(" ")[0] in PRODUCTION_BATCH_COUNTERS
    )


def stored_points(url: str, *, except_machine: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    text(
                        "SELECT count(*) FROM telemetry_points p JOIN telemetry_series s "
                        "ON s.id = p.series_id WHERE s.equipment_id <> :machine"
                    ),
                    {"machine": except_machine},
                ).scalar_one()
            )
    finally:
        engine.dispose()


# -- 1 and 2: end to end, with latency probes ---------------------------------------


class LatencyProbe(threading.Thread):
    """Sends one point every 200 ms over HTTP and times until the API returns it."""

    def __init__(self, base_url: str, tenant: Tenant, machine: dict[str, object]) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.tenant = tenant
        self.machine = machine
        self.latencies_ms: list[float] = []
        self.sent = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        device = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.machine['credential']}"},
            timeout=10,
        )
        sequence = 0
        while not self.stopping.wait(0.2):
            sequence += 1
            now_ms = int(time.time() * 1000)
            sent = time.perf_counter()
            device.post(
                "/v1/device/telemetry",
                json={
                    "sequence_id": sequence,
                    "series": [{"signal": "s0", "timestamps_ms": [now_ms], "values": [1.0]}],
                },
            )
            self.sent = sequence
            since = datetime.fromtimestamp(now_ms / 1000, UTC)
            query = {
                "start": since.isoformat(),
                "end": (since + timedelta(milliseconds=1)).isoformat(),
                "signal": "s0",
            }
            while time.perf_counter() - sent < 30:
                found = self.tenant.get(f"/v1/equipment/{self.machine['id']}/telemetry", **query)
                if found.status_code == 200 and found.json()["series"]:
                    self.latencies_ms.append((time.perf_counter() - sent) * 1000)
                    break
                time.sleep(0.005)


@dataclass
class Run:
    """One streaming run: its rates, its latency samples, and how long after the
    last point was acknowledged production had taken every batch."""

    tracked: bool
    acknowledged: float
    queryable: float
    latencies_ms: list[float]
    production_lag_s: float
    # CPU seconds each service's process used per batch of the run.
    cpu_ms_per_batch: dict[str, float]


def end_to_end(
    platform: Platform,
    *,
    rate: float,
    batches: int,
    tracked: bool,
    prepare: Callable[[Tenant, list[dict[str, object]]], None] | None = None,
) -> Run:
    """Streams from a fresh fleet, flat out (rate 0) or paced, and measures;
    ``prepare`` readies the tenant and its fleet first (alarm_bench's rules)."""
    env = platform.env
    tracking = "production tracking them" if tracked else "no state mapping"
    say(f"onboarding {MACHINES} machines with {SIGNALS} signals, {tracking}")
    tenant, fleet = onboard(platform.ports.base_url, MACHINES + 1, tracked=tracked)
    if prepare is not None:
        prepare(tenant, fleet)
    wait_placed(env["IMCLOUD_DATABASE_URLS__PRODUCTION"], fleet)
    probe_machine, fleet = fleet[0], fleet[1:]
    products_db = env["IMCLOUD_DATABASE_URLS__PRODUCTS"]
    total = MACHINES * batches * SIGNALS * POINTS_PER_SIGNAL
    pace = f"at {rate:,.0f} points/s" if rate else "as fast as the platform takes them"
    say(
        f"streaming {total:,} points from {MACHINES} machines {pace}, in batches of "
        f"{SIGNALS * POINTS_PER_SIGNAL:,}"
    )
    probe_id = str(probe_machine["id"])
    before = stored_points(products_db, except_machine=probe_id)
    taken_before = production_batches(platform.production_metrics)
    cpu_before = platform.cpu_seconds()
    probe = LatencyProbe(platform.ports.base_url, tenant, probe_machine)
    probe.start()
    started = time.perf_counter()
    load = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.bench.load",
            "--target",
            platform.ports.device_link,
            "--machines",
            json.dumps(fleet),
            "--points-per-signal",
            str(POINTS_PER_SIGNAL),
            "--batches",
            str(batches),
            "--start-ms",
            str(int(time.time() * 1000) - 86_400_000),
            "--rate",
            str(rate),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    acknowledged_at = time.perf_counter()
    sent = json.loads(load.stdout)
    assert not sent["errors"], sent["errors"]
    last_report = 0.0
    while (stored := stored_points(products_db, except_machine=probe_id) - before) < sent["points"]:
        if time.perf_counter() - last_report > 5:
            say(f"  stored {stored:,} of {sent['points']:,}")
            last_report = time.perf_counter()
        if time.perf_counter() - started > 600:
            raise AssertionError(f"only {stored} of {sent['points']} points stored after 10 min")
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    probe.stopping.set()
    probe.join()
    # Before the next run starts, so that no run pays for the one before.
    batches_sent = taken_before + sent["batches"] + probe.sent
    wait_for(
        lambda: production_batches(platform.production_metrics) >= batches_sent,
        timeout_s=600,
        interval_s=0.1,
        what=f"production taking {batches_sent - taken_before:,.0f} batches",
    )
    cpu_after = platform.cpu_seconds()
    run = Run(
        tracked=tracked,
        acknowledged=sent["points"] / sent["seconds"],
        queryable=sent["points"] / elapsed,
        latencies_ms=probe.latencies_ms,
        production_lag_s=time.perf_counter() - acknowledged_at,
        cpu_ms_per_batch={
            service: (cpu_after[service] - cpu_before[service]) * 1000 / sent["batches"]
            for service in cpu_after
        },
    )
    say(
        f"  {run.queryable:,.0f} points/s queryable, {run.acknowledged:,.0f} points/s "
        f"acknowledged; production had every batch {run.production_lag_s:,.1f} s after the "
        f"last was acknowledged; CPU per batch of {SIGNALS * POINTS_PER_SIGNAL:,} points: "
        + ", ".join(f"{s} {ms:,.1f} ms" for s, ms in run.cpu_ms_per_batch.items())
    )
    return run


def add_streaming(results: Results, flat_out: list[Run], paced: Run) -> None:
    tracked = [r for r in flat_out if r.tracked]
    untracked = [r for r in flat_out if not r.tracked]
    with_tracking = statistics.mean(r.queryable for r in tracked)
    without = statistics.mean(r.queryable for r in untracked)
    results.add(
        "device link: points acknowledged",
        statistics.mean(r.acknowledged for r in tracked),
        "points/s",
    )
    results.add("end to end: points queryable", with_tracking, "points/s")
    results.add("end to end, production not tracking the machines", without, "points/s")
    results.add(
        "end to end with production tracking, as a share of without",
        100 * with_tracking / without,
        "%",
    )
    results.add(
        "production: every batch taken, after the last was acknowledged (worst run)",
        max(r.production_lag_s for r in tracked),
        "s",
    )
    for label, runs in (("tracking", tracked), ("skipping", untracked)):
        for service in ("production", "products"):
            results.add(
                f"CPU per batch of {SIGNALS * POINTS_PER_SIGNAL:,} points, {service}, "
                f"production {label}",
                statistics.mean(r.cpu_ms_per_batch[service] for r in runs),
                "ms",
            )
    for label, runs in (("", tracked), (" at 100k points/s offered", [paced])):
        latencies = [ms for r in runs for ms in r.latencies_ms]
        results.add(f"latency send -> queryable{label}, p50", statistics.median(latencies), "ms")
        results.add(
            f"latency send -> queryable{label}, p99", float(np.percentile(latencies, 99)), "ms"
        )
        results.extra[f"latency samples{label}"] = len(latencies)
    results.extra["flat-out runs, in order"] = [
        {
            "production tracking": r.tracked,
            "queryable points/s": round(r.queryable),
            "acknowledged points/s": round(r.acknowledged),
            "production lag s": round(r.production_lag_s, 1),
            "CPU ms per batch": {s: round(ms, 2) for s, ms in r.cpu_ms_per_batch.items()},
        }
        for r in flat_out
    ]
    results.extra["paced run production lag s"] = round(paced.production_lag_s, 1)


# -- 3: baselines -------------------------------------------------------------------


def recorded_envelopes(count: int) -> list[bytes]:
    """The same records the gateway publishes: 10 signals x 500 points each."""
    stamps = list(range(POINTS_PER_SIGNAL))
    values = [float(i % 97) for i in range(POINTS_PER_SIGNAL)]
    records = []
    for number in range(count):
        recorded = telemetry_pb2.TelemetryRecorded(
            equipment_id=str(uuid.uuid4()),
            sequence_id=number,
            series=[
                telemetry_pb2.RecordedSeries(
                    series=telemetry_pb2.SignalSeries(
                        signal=f"s{i}", timestamps_ms=stamps, values=values
                    )
                )
                for i in range(SIGNALS)
            ],
        )
        envelope = new_envelope(
            tenant_id="bench", event_type="telemetry.recorded", payload=recorded, source="bench"
        )
        records.append(envelope.SerializeToString())
    return records


def kafka_baseline(results: Results) -> None:
    count = 400  # 2,000,000 points
    payloads = recorded_envelopes(count)
    topic = f"bench.baseline.{uuid.uuid4().hex[:8]}"
    bus = KafkaBus(KafkaSettings(bootstrap_servers=KAFKA_BOOTSTRAP))
    bus.ensure_topics([topic])
    say(f"baseline: Kafka produce+consume of {count} telemetry records")
    received = 0
    done = threading.Event()

    def consume(batch: list[Record]) -> None:
        nonlocal received
        received += len(batch)
        if received >= count:
            done.set()

    started = time.perf_counter()
    bus.subscribe(group=f"bench-{uuid.uuid4().hex}", topics=[topic], handler=consume)  # type: ignore[arg-type]
    for start in range(0, count, 20):
        bus.publish([OutgoingRecord(topic, str(i), payloads[i]) for i in range(start, start + 20)])
    # A rate from a run that did not finish would be no baseline at all.
    assert done.wait(timeout=300), f"Kafka delivered {received} of {count} records in 300 s"
    elapsed = time.perf_counter() - started
    bus.close()
    points = count * SIGNALS * POINTS_PER_SIGNAL
    results.add("baseline: Kafka produce+consume", points / elapsed, "points/s")


def postgres_baseline(databases: FreshDatabases, results: Results) -> None:
    url = databases.create("baseline")
    engine = create_engine(url)
    rows = 2_000_000
    say(f"baseline: PostgreSQL COPY of {rows:,} rows into an indexed table")
    batch = RecordedBatch(
        tenant_id="t",
        equipment_id="e",
        sequence_id=0,
        receive_ms=0,
        series=(
            RecordedSeries(
                signal="s",
                timestamps_ms=np.arange(rows, dtype=np.int64),
                values=np.arange(rows, dtype=np.float64) % 97,
                flags=np.zeros(rows, dtype=np.int16),
            ),
        ),
    )
    columns = Columns([np.arange(rows, dtype=np.int32) % 200], [batch])
    payload = columns.copy_payload()
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE points (series_id int4, ts_ms int8, value float8, flags int2, "
            "PRIMARY KEY (series_id, ts_ms))"
        )
    started = time.perf_counter()
    with engine.begin() as connection:
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy("COPY points FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.write(payload)
    elapsed = time.perf_counter() - started
    engine.dispose()
    results.add("baseline: PostgreSQL COPY (same rows, same key)", rows / elapsed, "points/s")


# -- 4: a month of data, aggregated --------------------------------------------------


def month_of_data(platform: Platform, tenant_machine: dict[str, object], results: Results) -> None:
    """Loads 30 days at 1 s for one machine through the products store, then asks."""
    database = Database(create_engine(platform.env["IMCLOUD_DATABASE_URLS__PRODUCTS"]))
    store = SqlTelemetryStore(database, retention_days=40, rollup_retention_days=400)
    end_ms = int(time.time()) // 60 * 60 * 1000
    start_ms = end_ms - MONTH_DAYS * 86_400_000
    total = MONTH_DAYS * 86_400 * SIGNALS
    say(f"loading a month at 1 s for one machine: {total:,} points")
    day_rng = np.random.default_rng(7)
    loaded_started = time.perf_counter()
    for day in range(MONTH_DAYS):
        stamps = np.arange(start_ms + day * 86_400_000, start_ms + (day + 1) * 86_400_000, 1000)
        batch = RecordedBatch(
            tenant_id=str(tenant_machine["tenant_id"]),
            equipment_id=str(tenant_machine["id"]),
            sequence_id=day,
            receive_ms=end_ms,
            series=tuple(
                RecordedSeries(
                    signal=f"s{i}",
                    timestamps_ms=stamps.astype(np.int64),
                    values=day_rng.normal(50 + i, 5, len(stamps)),
                    flags=np.zeros(len(stamps), dtype=np.int16),
                )
                for i in range(SIGNALS)
            ),
        )
        with store.transaction() as transaction:
            store.record(transaction, [batch])
        say(f"  day {day + 1}/{MONTH_DAYS} loaded")
    results.add(
        "loading a month through the store",
        total / (time.perf_counter() - loaded_started),
        "points/s",
    )
    database.close()
    tenant = tenant_machine["tenant"]
    assert isinstance(tenant, Tenant)
    window = {
        "start": datetime.fromtimestamp(start_ms / 1000, UTC).isoformat(),
        "end": datetime.fromtimestamp(end_ms / 1000, UTC).isoformat(),
    }
    for label, bucket_s in (
        ("1 h buckets", 3600),
        ("5 min buckets", 300),
        ("1 day buckets", 86400),
    ):
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            answer = tenant.get(
                f"/v1/equipment/{tenant_machine['id']}/telemetry/aggregates",
                bucket_s=bucket_s,
                **window,
            )
            timings.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, answer.text
            counted = sum(sum(s["count"]) for s in answer.json()["signals"])
            assert counted == total, f"{counted} of {total} points in the aggregates"
        results.add(f"aggregate a month (10 signals), {label}", statistics.median(timings), "ms")


# -- report ---------------------------------------------------------------------------


def report(results: Results) -> None:
    values = {name: value for name, value, _ in results.rows}
    e2e = values["end to end: points queryable"]
    lines = [
        "| measure | value | unit | end to end as a share of it |",
        "|---|---:|---|---:|",
    ]
    for name, value, unit in results.rows:
        ratio = f"{e2e / value:.0%}" if name.startswith("baseline") else ""
        lines.append(f"| {name} | {value:,.1f} | {unit} | {ratio} |")
    table = "\n".join(lines)
    print("\n" + table + "\n")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    (RESULTS / "telemetry.md").write_text(
        f"# Telemetry benchmark ({stamp})\n\n{table}\n\n"
        f"{MACHINES} machines x {SIGNALS} signals, batches of {SIGNALS * POINTS_PER_SIGNAL} "
        f"points, {results.extra}\n"
    )
    (RESULTS / "telemetry.json").write_text(
        json.dumps({"when": stamp, "rows": results.rows, **results.extra}, indent=2)
    )
    chart(results)


def chart(results: Results) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = [(name, value) for name, value, unit in results.rows if unit == "points/s"]
    figure, axis = plt.subplots(figsize=(9, 4))
    axis.barh([name for name, _ in rates], [value / 1000 for _, value in rates], color="#4878a8")
    axis.axvline(100, color="#c44e52", linestyle="--", label="target: 100k points/s")
    axis.set_xlabel("thousand points per second")
    axis.set_title("imcloud telemetry on 2 cores: real Kafka and PostgreSQL")
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(RESULTS / "telemetry.png", dpi=120)
    say(f"chart written to {RESULTS / 'telemetry.png'}")


def main() -> None:
    results = Results()
    databases = FreshDatabases(POSTGRES_URL)
    try:
        with distributed_platform(databases) as platform:
            flat_out = [
                end_to_end(platform, rate=0, batches=BATCHES_PER_MACHINE, tracked=tracked)
                for tracked in TRACKING_TURNS
            ]
            paced = end_to_end(platform, rate=PACED_RATE, batches=PACED_BATCHES, tracked=True)
            add_streaming(results, flat_out, paced)
            kafka_baseline(results)
            postgres_baseline(databases, results)
            tenant, machines = onboard(platform.ports.base_url, 1, tracked=False)
            month_of_data(
                platform, {**machines[0], "tenant": tenant, "tenant_id": tenant.id}, results
            )
        report(results)
    finally:
        databases.drop_all()


if __name__ == "__main__":
    main()
