"""Equipment health in the products service: telemetry records through the real
handler and store (PostgreSQL and SQLite), scored exactly once, restartable."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import create_engine, select

from imcloud.common.v1.events_pb2 import DeadLetter
from imcloud.products.v1 import equipment_events_pb2, telemetry_pb2
from imcloud_core.bus import OutgoingRecord, Record
from imcloud_core.bus.delivery import Delivery, dead_letter_topic
from imcloud_core.db import Database
from imcloud_core.events import Topic, new_envelope, parse_envelope, unpack
from imcloud_products.domain import services
from imcloud_products.domain.anomaly import DetectorConfig
from imcloud_products.domain.model import SignalDefinition
from imcloud_products.domain.monitoring import FLAG_ANOMALY, SCORE_SIGNAL
from imcloud_products.evaluation.datasets import SKAB_SIGNALS, load_skab
from imcloud_products.evaluation.report import direct_episodes
from imcloud_products.evaluation.skab import detect_skab_file
from imcloud_products.events.telemetry import telemetry_handler
from imcloud_products.module import telemetry_unit_of_work
from imcloud_products.module import unit_of_work as products_unit_of_work
from imcloud_products.store.monitoring import ModelSignals
from imcloud_products.store.repository import SqlTelemetryUnitOfWork
from imcloud_products.store.tables import anomaly_episodes, machine_monitors, outbox
from imcloud_products.store.telemetry import SqlTelemetryStore
from tests.support.databases import migrate

TENANT = "tenant-health"
SIGNALS = [name.replace(" ", "_") for name in SKAB_SIGNALS]


@dataclass
class Products:
    """The products service's telemetry path, as one process builds it."""

    db: Database
    store: SqlTelemetryStore
    unit_of_work: Callable[[], SqlTelemetryUnitOfWork]
    handle: object

    @classmethod
    def start(cls, url: str) -> Products:
        db = Database(create_engine(url))
        store = SqlTelemetryStore(db, retention_days=30, rollup_retention_days=400)
        unit_of_work = telemetry_unit_of_work(store, ModelSignals())
        handle = telemetry_handler(unit_of_work, config=DetectorConfig())
        return cls(db, store, unit_of_work, handle)

    def sweep(self, *, now_ms: int, offline_after_ms: int) -> None:
        services.sweep_health(self.unit_of_work(), now_ms=now_ms, offline_after_ms=offline_after_ms)


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """Migrated; each Products.start opens its own engine on it, as a process would."""
    migrate(empty_database_url, "imcloud_products").dispose()
    return empty_database_url


def register_machine(db: Database) -> str:
    uow = products_unit_of_work(db)

    model = services.create_equipment_model(
        uow(),
        tenant_id=TENANT,
        name=f"pump {uuid.uuid4().hex[:6]}",
        manufacturer="",
        signals=tuple(SignalDefinition(name=name) for name in SIGNALS),
    )
    machine = services.create_equipment(
        uow(), tenant_id=TENANT, model_id=model.id, serial_number="P-1", name="", station_id=""
    )
    return machine.id


def records_for(
    machine: str,
    timestamps: np.ndarray,
    values: np.ndarray,
    *,
    rows_per_batch: int,
    first_sequence: int = 0,
    skip_cells: np.ndarray | None = None,
) -> list[Record]:
    """The records the gateway would publish for these rows, one per batch."""
    records = []
    for number, start in enumerate(range(0, len(timestamps), rows_per_batch)):
        rows = slice(start, start + rows_per_batch)
        series = []
        for column, name in enumerate(SIGNALS):
            keep = np.ones(len(timestamps[rows]), dtype=bool)
            if skip_cells is not None:
                keep = ~skip_cells[rows, column]
            series.append(
                telemetry_pb2.RecordedSeries(
                    series=telemetry_pb2.SignalSeries(
                        signal=name,
                        timestamps_ms=timestamps[rows][keep].tolist(),
                        values=values[rows, column][keep].tolist(),
                    )
                )
            )
        recorded = telemetry_pb2.TelemetryRecorded(
            equipment_id=machine, sequence_id=first_sequence + number, series=series
        )
        recorded.receive_time.FromMilliseconds(int(timestamps[rows][-1]))
        envelope = new_envelope(
            tenant_id=TENANT,
            event_type="telemetry.recorded",
            payload=recorded,
            source="test",
            event_id=f"{machine}/{first_sequence + number}",
        )
        records.append(Record(Topic.TELEMETRY, 0, start, machine, envelope.SerializeToString()))
    return records


def stored_flags(products: Products, machine: str, start: int, end: int) -> np.ndarray:
    rows = products.store.points(
        tenant_id=TENANT,
        equipment_id=machine,
        signals=[SCORE_SIGNAL],
        start_ms=start,
        end_ms=end,
        limit=100_000,
        after=None,
    )
    return np.array([(flags & FLAG_ANOMALY) != 0 for _, _, _, flags in rows])


def stored_episodes(products: Products, machine: str) -> list[tuple[object, ...]]:
    with products.db.engine.connect() as connection:
        rows = connection.execute(
            select(anomaly_episodes).where(anomaly_episodes.c.equipment_id == machine)
        ).all()
    return sorted((r.kind, r.start_ms, r.end_ms, r.rows, r.closed) for r in rows)


def staged_events(products: Products) -> list[object]:
    with products.db.engine.connect() as connection:
        return [parse_envelope(v) for v in connection.execute(select(outbox.c.envelope)).scalars()]


def test_the_platform_scores_each_row_as_the_detector_does_and_only_once(
    database_url: str, datasets_dir: Path
) -> None:
    (file,) = [f for f in load_skab(datasets_dir) if f.name == "valve1/1.csv"]
    expected = detect_skab_file(file, DetectorConfig())
    shift = 1_790_000_000_000 - int(file.timestamps[0])
    stamps = file.timestamps + shift
    products = Products.start(database_url)
    machine = register_machine(products.db)
    records = records_for(machine, stamps, file.values, rows_per_batch=37)

    for start in range(0, len(records), 5):
        products.handle(records[start : start + 5])  # type: ignore[operator]
    products.handle(records[3:9])  # type: ignore[operator]  # redelivered: changes nothing

    flags = stored_flags(products, machine, int(stamps[0]), int(stamps[-1]) + 1)
    assert len(flags) == len(file.timestamps)
    assert np.array_equal(flags, expected)
    everything = products.store.points(
        tenant_id=TENANT,
        equipment_id=machine,
        signals=[],
        start_ms=int(stamps[0]),
        end_ms=int(stamps[0]) + 1,
        limit=100,
        after=None,
    )
    assert {signal for signal, *_ in everything} == set(SIGNALS), "scores only when asked"
    assert expected.any(), "this file has an anomaly the detector finds"

    shifted = replace(file, timestamps=stamps)
    stored = [
        (kind, start, end, rows) for kind, start, end, rows, _ in stored_episodes(products, machine)
    ]
    assert stored == direct_episodes(shifted, DetectorConfig())
    announced = [
        unpack(e, equipment_events_pb2.AnomalyEpisodeOpened) for e in staged_events(products)
    ]
    assert len([a for a in announced if a is not None]) == len(stored), "announced once each"


def health_of(products: Products, machine: str) -> tuple[object, ...]:
    """Everything scoring a machine's rows leaves behind: the detector's saved
    state, the score rows, the episodes as stored, and the events staged."""
    with products.db.engine.connect() as connection:
        state = connection.execute(
            select(machine_monitors.c.state, machine_monitors.c.latest_score).where(
                machine_monitors.c.equipment_id == machine
            )
        ).one()
        episodes = connection.execute(
            select(anomaly_episodes)
            .where(anomaly_episodes.c.equipment_id == machine)
            .order_by(anomaly_episodes.c.id)
        ).all()
    scores = products.store.points(
        tenant_id=TENANT,
        equipment_id=machine,
        signals=[SCORE_SIGNAL],
        start_ms=0,
        end_ms=2**62,
        limit=1_000_000,
        after=None,
    )
    staged = [(e.type, e.event_id) for e in staged_events(products)]
    return tuple(state), scores, [tuple(e) for e in episodes], staged


def test_a_device_resending_stored_batches_changes_nothing(
    database_url: str, datasets_dir: Path
) -> None:
    (file,) = [f for f in load_skab(datasets_dir) if f.name == "valve1/1.csv"]
    stamps = file.timestamps + (1_790_000_000_000 - int(file.timestamps[0]))
    values = file.values
    products = Products.start(database_url)
    machine = register_machine(products.db)
    records = records_for(machine, stamps, values, rows_per_batch=37)
    half = len(records) // 2
    products.handle(records[:half])  # type: ignore[operator]
    before = health_of(products, machine)
    resent_rows = slice(37 * (half - 6), 37 * half)

    # After a lost ack: the same batches again, same sequence ids.
    products.handle(records[half - 3 : half])  # type: ignore[operator]
    # After a restart: the same points under new sequence ids, cut differently,
    # alone and together with the originals in one poll.
    products.handle(  # type: ignore[operator]
        records_for(
            machine,
            stamps[resent_rows],
            values[resent_rows],
            rows_per_batch=50,
            first_sequence=10_000,
        )
    )
    products.handle(  # type: ignore[operator]
        records[half - 2 : half]
        + records_for(
            machine,
            stamps[resent_rows],
            values[resent_rows],
            rows_per_batch=37,
            first_sequence=20_000,
        )
    )
    assert health_of(products, machine) == before, "a resend changed the machine's health"

    # And the rest scores as if nothing had been resent, with a resend in the same poll.
    resend = records_for(
        machine, stamps[resent_rows], values[resent_rows], rows_per_batch=60, first_sequence=30_000
    )
    for start in range(half, len(records), 5):
        products.handle(resend[:2] + records[start : start + 5])  # type: ignore[operator]
    flags = stored_flags(products, machine, int(stamps[0]), int(stamps[-1]) + 1)
    assert np.array_equal(flags, detect_skab_file(file, DetectorConfig()))
    stored = [
        (kind, start, end, rows) for kind, start, end, rows, _ in stored_episodes(products, machine)
    ]
    assert stored == direct_episodes(replace(file, timestamps=stamps), DetectorConfig())
    with products.db.engine.connect() as connection:
        issues = connection.execute(
            select(anomaly_episodes.c.quality_issues).where(
                anomaly_episodes.c.equipment_id == machine
            )
        ).scalars()
        assert not any("time_backwards" in found for found in issues)


def test_a_restart_in_the_middle_continues_exactly(database_url: str, datasets_dir: Path) -> None:
    (file,) = [f for f in load_skab(datasets_dir) if f.name == "other/9.csv"]
    stamps = file.timestamps + (1_790_000_000_000 - int(file.timestamps[0]))
    expected = detect_skab_file(file, DetectorConfig())
    first_process = Products.start(database_url)
    machine = register_machine(first_process.db)
    records = records_for(machine, stamps, file.values, rows_per_batch=50)
    half = len(records) // 2
    first_process.handle(records[:half])  # type: ignore[operator]
    first_process.db.close()

    second_process = Products.start(database_url)  # nothing carried over in memory
    second_process.handle(records[half - 2 :])  # type: ignore[operator]  # with a redelivery
    flags = stored_flags(second_process, machine, int(stamps[0]), int(stamps[-1]) + 1)
    assert np.array_equal(flags, expected)


def synthetic_machine(rows: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Eight correlated signals at 1 Hz around a slowly varying load."""
    rng = np.random.default_rng(seed)
    load = 50 + 10 * np.sin(np.arange(rows) / 300) + rng.normal(0, 1, rows)
    values = np.stack(
        [load * (1 + 0.1 * k) + rng.normal(0, 1 + k * 0.2, rows) for k in range(len(SIGNALS))],
        axis=1,
    )
    return 1_790_000_000_000 + np.arange(rows, dtype=np.int64) * 1000, values


def kinds_of(products: Products, machine: str) -> dict[str, list[tuple[object, ...]]]:
    by_kind: dict[str, list[tuple[object, ...]]] = {}
    for episode in stored_episodes(products, machine):
        by_kind.setdefault(str(episode[0]), []).append(episode)
    return by_kind


def test_a_nan_burst_is_a_data_quality_issue_not_an_anomaly(database_url: str) -> None:
    stamps, values = synthetic_machine(1500)
    missing = np.zeros_like(values, dtype=bool)
    missing[1000:1040, 2] = True  # the sensor's values were refused (NaN) for 40 s
    products = Products.start(database_url)
    machine = register_machine(products.db)
    products.handle(records_for(machine, stamps, values, rows_per_batch=100, skip_cells=missing))  # type: ignore[operator]
    episodes = kinds_of(products, machine)
    assert "anomaly" not in episodes
    ((_, start, _end, rows, _),) = episodes["data_quality"]
    assert (start, rows) == (int(stamps[1000]), 40)


def test_a_stuck_sensor_is_a_data_quality_issue(database_url: str) -> None:
    stamps, values = synthetic_machine(2500)
    values[1200:, 4] = values[1200, 4]  # the sensor repeats one reading from here on
    products = Products.start(database_url)
    machine = register_machine(products.db)
    products.handle(records_for(machine, stamps, values, rows_per_batch=100))  # type: ignore[operator]
    quality = kinds_of(products, machine)["data_quality"]
    assert quality, "the stuck sensor was not reported"
    with products.db.engine.connect() as connection:
        issues = connection.execute(
            select(anomaly_episodes.c.quality_issues, anomaly_episodes.c.top_signals).where(
                anomaly_episodes.c.equipment_id == machine,
                anomaly_episodes.c.kind == "data_quality",
            )
        ).all()
    assert any("stuck" in row.quality_issues and SIGNALS[4] in row.top_signals for row in issues)


def test_a_step_change_is_an_anomaly_explained_by_its_signal(database_url: str) -> None:
    stamps, values = synthetic_machine(1500)
    values[1100:1200, 6] += 40  # one signal leaves its relation to the others
    products = Products.start(database_url)
    machine = register_machine(products.db)
    products.handle(records_for(machine, stamps, values, rows_per_batch=100))  # type: ignore[operator]
    with products.db.engine.connect() as connection:
        found = connection.execute(
            select(anomaly_episodes.c.top_signals, anomaly_episodes.c.start_ms).where(
                anomaly_episodes.c.equipment_id == machine, anomaly_episodes.c.kind == "anomaly"
            )
        ).all()
    assert found, "the step was not detected"
    assert found[0].top_signals[0] == SIGNALS[6]
    assert int(stamps[1100]) <= found[0].start_ms <= int(stamps[1110])


def episodes_counted(event: str) -> float:
    labels = {"kind": "anomaly", "event": event}
    return REGISTRY.get_sample_value("imcloud_anomaly_episodes_total", labels) or 0.0


def test_an_episode_that_grows_is_announced_escalated_once_per_rise(database_url: str) -> None:
    stamps, values = synthetic_machine(1600)
    values[1100:1250, 6] += np.linspace(3, 80, 150)  # a step that keeps growing
    products = Products.start(database_url)
    machine = register_machine(products.db)
    records = records_for(machine, stamps, values, rows_per_batch=20)
    counted = {event: episodes_counted(event) for event in ("opened", "escalated", "closed")}

    for start in range(0, len(records), 4):
        products.handle(records[start : start + 4])  # type: ignore[operator]
    products.handle(records[50:64])  # type: ignore[operator]  # redelivered: changes nothing
    products.handle(records[54:58])  # type: ignore[operator]

    with products.db.engine.connect() as connection:
        staged = connection.execute(
            select(outbox.c.topic, outbox.c.key, outbox.c.envelope).order_by(outbox.c.position)
        ).all()
    news = []
    for topic, key, value in staged:
        envelope = parse_envelope(value)
        if not envelope.type.startswith("anomaly_episode."):
            continue
        assert (topic, key) == (Topic.EQUIPMENT_EVENTS, machine)
        kind = {
            "anomaly_episode.opened": equipment_events_pb2.AnomalyEpisodeOpened,
            "anomaly_episode.escalated": equipment_events_pb2.AnomalyEpisodeEscalated,
            "anomaly_episode.closed": equipment_events_pb2.AnomalyEpisodeClosed,
        }[envelope.type]
        message = unpack(envelope, kind)
        assert message is not None, envelope.type
        news.append((envelope.type, envelope.event_id, message.episode))
    (episode_id,) = {episode.id for _, _, episode in news}
    assert [(event_type, event_id) for event_type, event_id, _ in news] == [
        ("anomaly_episode.opened", f"{episode_id}/opened"),
        ("anomaly_episode.escalated", f"{episode_id}/escalated/medium"),
        ("anomaly_episode.escalated", f"{episode_id}/escalated/high"),
        ("anomaly_episode.closed", f"{episode_id}/closed"),
    ]
    severity = equipment_events_pb2.EpisodeSeverity
    assert [(episode.severity, episode.closed) for _, _, episode in news] == [
        (severity.Value("EPISODE_SEVERITY_LOW"), False),
        (severity.Value("EPISODE_SEVERITY_MEDIUM"), False),
        (severity.Value("EPISODE_SEVERITY_HIGH"), False),
        (severity.Value("EPISODE_SEVERITY_HIGH"), True),
    ]
    # Each carries the episode as it was when it rose.
    opened, medium, high, closed = (episode for _, _, episode in news)
    assert opened.rows < medium.rows < high.rows < closed.rows
    assert medium.peak_score < high.peak_score
    assert {event: episodes_counted(event) - counted[event] for event in counted} == {
        "opened": 1,
        "escalated": 2,
        "closed": 1,
    }


def test_a_silent_machine_goes_offline_and_comes_back(database_url: str) -> None:
    stamps, values = synthetic_machine(10)
    products = Products.start(database_url)
    machine = register_machine(products.db)
    products.handle(records_for(machine, stamps, values, rows_per_batch=10))  # type: ignore[operator]
    last_seen = int(stamps[-1])
    products.sweep(now_ms=last_seen + 1000, offline_after_ms=60_000)
    products.sweep(now_ms=last_seen + 61_000, offline_after_ms=60_000)
    products.sweep(now_ms=last_seen + 90_000, offline_after_ms=60_000)  # no repeat
    more = records_for(machine, stamps + 120_000, values, rows_per_batch=10, first_sequence=1)
    products.handle(more)  # type: ignore[operator]
    products.sweep(now_ms=last_seen + 121_000, offline_after_ms=60_000)
    kinds = [e.type for e in staged_events(products) if e.type.endswith(("offline", "online"))]
    assert kinds == ["equipment.offline", "equipment.online"]


def test_a_record_that_is_not_telemetry_is_dead_lettered_by_the_bus_with_its_reason(
    database_url: str,
) -> None:
    """One mechanism for records a handler cannot handle: the handler raises, and
    the bus's delivery sets the record aside as a DeadLetter saying why; the
    records around it are stored."""
    stamps, values = synthetic_machine(60)
    products = Products.start(database_url)
    machine = register_machine(products.db)
    good = records_for(machine, stamps, values, rows_per_batch=20)
    garbage = Record(Topic.TELEMETRY, 0, 100, machine, b"\xffnot an envelope")
    stranger = Record(
        Topic.TELEMETRY,
        0,
        101,
        machine,
        new_envelope(
            tenant_id=TENANT,
            event_type="equipment.offline",
            payload=equipment_events_pb2.EquipmentWentOffline(equipment_id=machine),
            source="test",
        ).SerializeToString(),
    )
    published: list[OutgoingRecord] = []
    delivery = Delivery(
        group="products.telemetry",
        handler=products.handle,  # type: ignore[arg-type]
        publish=published.extend,
        stopping=threading.Event(),
    )
    polled = [good[0], garbage, good[1], stranger, good[2]]
    while not delivery.deliver(polled):
        pass

    assert [r.topic for r in published] == [dead_letter_topic(Topic.TELEMETRY)] * 2
    letters = [DeadLetter.FromString(r.value) for r in published]
    assert [(letter.offset, letter.value) for letter in letters] == [
        (100, garbage.value),
        (101, stranger.value),
    ]
    assert all(letter.group == "products.telemetry" for letter in letters)
    assert "not telemetry" in letters[0].reason
    assert "EquipmentWentOffline" in letters[1].reason
    stored = products.store.points(
        tenant_id=TENANT,
        equipment_id=machine,
        signals=[SIGNALS[0]],
        start_ms=int(stamps[0]),
        end_ms=int(stamps[-1]) + 1,
        limit=1000,
        after=None,
    )
    assert len(stored) == 60
