"""Exports end to end, embedded and distributed (real Kafka and PostgreSQL): a
machine's points and aggregates as CSV and Parquet hold exactly what the JSON
queries answer for the same range, across more than one gRPC page; OEE and work
orders as CSV (embedded); bad input gets the JSON route's 4xx, and another
tenant's key gets 404."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.support.api import Tenant, sign_up
from tests.support.platform import RunningPlatform
from tests.support.waiting import wait_for
from tests.support.world import World, onboard

SIGNALS = ["pressure", "temperature", "vibration"]
ROWS = 4_000  # 3 signals x 4,000 = 12,000 points: two pages of ListTelemetryPoints
MAX_TEMPERATURE = 80.0


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Machine:
    def __init__(self, tenant: Tenant, equipment_id: str, start_ms: int) -> None:
        self.tenant, self.id, self.start_ms = tenant, equipment_id, start_ms
        self.window = {"start": iso(start_ms), "end": iso(start_ms + ROWS * 1000)}


@pytest.fixture(scope="module", params=["embedded_platform", "distributed_platform"])
def platform(request: pytest.FixtureRequest) -> RunningPlatform:
    running: RunningPlatform = request.getfixturevalue(request.param)
    return running


@pytest.fixture(scope="module")
def machine(platform: RunningPlatform) -> Machine:
    tenant = sign_up(platform.base_url, f"Export {uuid.uuid4().hex[:6]}")
    signals: list[dict[str, Any]] = [{"name": s} for s in SIGNALS]
    signals[1]["max_value"] = MAX_TEMPERATURE
    model = tenant.post("/v1/equipment-models", {"name": "Press", "signals": signals}).json()
    equipment = tenant.post(
        "/v1/equipment", {"equipment_model_id": model["id"], "serial_number": "E-1"}
    ).json()
    secret = tenant.post(f"/v1/equipment/{equipment['id']}/credentials", {}).json()["secret"]
    # Whole seconds, a whole number of minutes back: buckets line up.
    start_ms = (int(datetime.now(UTC).timestamp()) // 60 - 24 * 60) * 60_000
    stamps = [start_ms + 1000 * row for row in range(ROWS)]
    series = [
        {"signal": s, "timestamps_ms": stamps, "values": [n * 0.1 + i / 7 for i in range(ROWS)]}
        for n, s in enumerate(SIGNALS)
    ]
    sent = tenant.http.post(
        "/v1/device/telemetry",
        json={"sequence_id": 1, "series": series},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["accepted_points"] == 3 * ROWS, sent.text
    found = Machine(tenant, equipment["id"], start_ms)
    wait_for(
        lambda: len(json_points(found)) == 3 * ROWS, timeout_s=30, interval_s=0.3, what="stored"
    )
    return found


def json_points(machine: Machine) -> list[tuple[str, str, float, bool]]:
    points, token = [], ""
    while True:
        page = machine.tenant.get(
            f"/v1/equipment/{machine.id}/telemetry",
            page_size=10_000,
            page_token=token,
            **machine.window,
        ).json()
        for s in page["series"]:
            for t, v, f in zip(s["timestamps_ms"], s["values"], s["flags"], strict=True):
                points.append((iso_ms(t), s["signal"], v, bool(f & 1)))
        token = page["next_page_token"]
        if not token:
            return sorted(points)


def export(machine: Machine, path: str, **params: Any) -> Any:
    answer = machine.tenant.get(f"/v1/equipment/{machine.id}/{path}", **machine.window, **params)
    assert answer.status_code == 200, answer.text
    return answer


def test_csv_and_parquet_hold_the_points_the_json_query_answers(machine: Machine) -> None:
    expected = json_points(machine)
    assert len(expected) == 3 * ROWS  # more than one page of 10,000
    assert any(flag for *_, flag in expected)
    assert not all(flag for *_, flag in expected)

    answer = export(machine, "telemetry:export", format="csv")
    assert answer.headers["content-type"].startswith("text/csv")
    assert f'filename="telemetry-{machine.id}.csv"' in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["timestamp", "signal", "value", "out_of_range"]
    from_csv = [(t, s, float(v), f == "1") for t, s, v, f in rows[1:]]
    # Signal by signal, each oldest first (the store's order: pages never re-sort).
    assert from_csv == sorted(from_csv, key=lambda r: (r[1], r[0]))
    assert sorted(from_csv) == expected

    answer = export(machine, "telemetry:export", format="parquet")
    table = pq.read_table(io.BytesIO(answer.content))
    assert table.column_names == ["timestamp", "signal", "value", "out_of_range"]
    from_parquet = [
        (iso_ms(int(r["timestamp"].timestamp() * 1000)), r["signal"], r["value"], r["out_of_range"])
        for r in table.to_pylist()
    ]
    assert sorted(from_parquet) == expected


def test_one_signal_only(machine: Machine) -> None:
    answer = export(machine, "telemetry:export", signal="vibration")
    rows = list(csv.reader(io.StringIO(answer.text)))[1:]
    assert len(rows) == ROWS
    assert {r[1] for r in rows} == {"vibration"}


def test_aggregates_hold_the_buckets_the_json_query_answers(machine: Machine) -> None:
    body = machine.tenant.get(
        f"/v1/equipment/{machine.id}/telemetry/aggregates", bucket_s=60, **machine.window
    ).json()
    expected = sorted(
        (iso_ms(t), a["signal"], lo, hi, mean, count)
        for a in body["signals"]
        for t, lo, hi, mean, count in zip(
            a["bucket_start_ms"], a["min"], a["max"], a["mean"], a["count"], strict=True
        )
    )
    assert len(expected) == 3 * -(-ROWS // 60)

    answer = export(machine, "telemetry/aggregates:export", bucket_s=60)
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["bucket_start", "signal", "min", "max", "mean", "count"]
    from_csv = [(t, s, float(a), float(b), float(m), int(c)) for t, s, a, b, m, c in rows[1:]]
    assert from_csv == expected, "oldest first, the signals of a bucket in name order"

    table = pq.read_table(
        io.BytesIO(export(machine, "telemetry/aggregates:export", format="parquet").content)
    )
    from_parquet = sorted(
        (iso_ms(int(r["bucket_start"].timestamp() * 1000)), *list(r.values())[1:])
        for r in table.to_pylist()
    )
    assert from_parquet == expected


def test_aggregates_over_more_buckets_than_one_call_answers(machine: Machine) -> None:
    # 1 s buckets: 4,000 per signal in the data, but a range of 20,000 s (two calls or more).
    window = {"start": iso(machine.start_ms - 16_000_000), "end": machine.window["end"]}
    refused = machine.tenant.get(
        f"/v1/equipment/{machine.id}/telemetry/aggregates", bucket_s=1, **window
    )
    assert refused.status_code == 422, refused.text
    answer = machine.tenant.get(
        f"/v1/equipment/{machine.id}/telemetry/aggregates:export", bucket_s=1, **window
    )
    assert answer.status_code == 200, answer.text
    rows = list(csv.reader(io.StringIO(answer.text)))[1:]
    assert len(rows) == 3 * ROWS
    assert all(r[5] == "1" for r in rows)


@pytest.mark.parametrize("path", ["telemetry", "telemetry/aggregates"])
def test_bad_input_gets_the_json_routes_answer(machine: Machine, path: str) -> None:
    base = f"/v1/equipment/{machine.id}"
    empty = {"start": machine.window["end"], "end": machine.window["start"]}
    for params in (empty, {**machine.window, "format": "xlsx"}, {"start": "yesterday"}):
        json_answer = machine.tenant.get(f"{base}/{path}", **params)
        answer = machine.tenant.get(f"{base}/{path}:export", **params)
        assert answer.status_code == 422, answer.text
        if "format" not in params:
            assert answer.json()["error"]["details"] == json_answer.json()["error"]["details"]
    assert machine.tenant.get(f"{base}/{path}:export", **empty).json()["error"]["details"] == [
        {"field": "end", "reason": "must be after start"}
    ]
    unknown = machine.tenant.get(f"/v1/equipment/{uuid.uuid4()}/{path}:export", **machine.window)
    assert unknown.status_code == 404, unknown.text


def test_another_tenants_key_gets_404(embedded_platform: RunningPlatform, machine: Machine) -> None:
    intruder = sign_up(embedded_platform.base_url, f"Intruder {uuid.uuid4().hex[:6]}")
    for path in ("telemetry:export", "telemetry/aggregates:export"):
        answer = intruder.get(f"/v1/equipment/{machine.id}/{path}", **machine.window)
        assert answer.status_code == 404, answer.text
        assert machine.id in answer.json()["error"]["message"] or answer.json()["error"]["code"]


def test_a_granted_maker_exports_like_the_json_route(
    platform: RunningPlatform, machine: Machine
) -> None:
    maker = sign_up(platform.base_url, f"Maker {uuid.uuid4().hex[:6]}", kind="oem")
    url = f"/v1/granted-equipment/{machine.id}/telemetry:export"
    assert maker.get(url, **machine.window).status_code == 404
    granted = machine.tenant.post(
        "/v1/access-grants",
        {"equipment_id": machine.id, "grantee_tenant_id": maker.id, "scopes": ["telemetry:read"]},
    )
    assert granted.status_code == 201, granted.text
    answer = maker.get(url, **machine.window)
    assert answer.status_code == 200, answer.text
    assert len(answer.text.splitlines()) == 1 + 3 * ROWS


@pytest.fixture(scope="module")
def plant(embedded_platform: RunningPlatform) -> World:
    world = onboard(embedded_platform.base_url, "Export plant", machines=1)
    patched = world.tenant.http.patch(
        f"/v1/stations/{world.ids['station_id']}",
        json={"capabilities": ["milling"], "ideal_cycle_time_s": 30},
    )
    assert patched.status_code == 200, patched.text
    return world


def test_work_orders_as_csv(plant: World) -> None:
    routing = [{"name": "mill", "capability": "milling", "ideal_cycle_time_s": 20}]
    product = plant.tenant.post("/v1/products", {"part_number": "P-1", "routing": routing})
    assert product.status_code == 201, product.text
    due = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    for quantity in (5, 7, 9):
        order = {
            "product_id": product.json()["id"],
            "plant_id": plant.ids["plant_id"],
            "quantity": quantity,
            "due_time": due,
            "priority": 5,
        }
        created = plant.tenant.post("/v1/work-orders", order)
        assert created.status_code == 201, created.text
    listed = plant.tenant.get("/v1/work-orders", page_size=2).json()["items"]
    answer = plant.tenant.get("/v1/work-orders:export")
    assert answer.status_code == 200, answer.text
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["id"] for r in rows][:2] == [o["id"] for o in listed]
    assert [float(r["quantity"]) for r in rows] == [5, 7, 9]
    assert {r["state"] for r in rows} == {"planned"}
    assert rows[0]["due_time"].startswith(due[:19])


def test_oee_as_csv(plant: World) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    query = {
        "line_id": plant.ids["line_id"],
        "breakdown": "station",
        "start_time": (now - timedelta(hours=1)).isoformat(),
        "end_time": now.isoformat(),
    }
    body = plant.tenant.get("/v1/oee", **query).json()
    answer = plant.tenant.get("/v1/oee:export", **query)
    assert answer.status_code == 200, answer.text
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["scope"], r["scope_id"]) for r in rows] == [
        (o["scope"], o["scope_id"]) for o in [body["total"], *body["parts"]]
    ]
    assert rows[0]["time_planned_busy_time_s"] == str(body["total"]["time"]["planned_busy_time_s"])
    none = plant.tenant.get("/v1/oee:export", start_time=now.isoformat(), end_time=now.isoformat())
    assert none.status_code == 422
