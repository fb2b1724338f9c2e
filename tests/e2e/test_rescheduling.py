"""A mill goes down mid-shift, told through the public API only: the plant's
schedule moves the mill's operations, and the ETAs of the work orders it
touches change with an explanation naming the breakdown. On Kafka and
PostgreSQL the production service is killed after the releases (the requests
to plan survive it), and the change is published as schedule.changed."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from imcloud.production.v1 import events_pb2 as production_events
from imcloud.production.v1 import schedule_pb2
from imcloud_core.bus.kafka import KafkaBus
from imcloud_core.events import Topic, parse_envelope, unpack
from tests.integration.bus.test_bus_contract import Collector
from tests.support.api import Tenant, sign_up
from tests.support.platform import RunningPlatform
from tests.support.waiting import wait_for

CODES = {"idle": 0, "running": 1, "down": 3}
ORDERS = 4


@dataclass
class Floor:
    tenant: Tenant
    plant_id: str
    stations: dict[str, str]
    mill_secret: str
    product_id: str


def created(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def onboard(base_url: str) -> Floor:
    tenant = sign_up(base_url, f"Repair Works {uuid.uuid4().hex[:6]}")
    plant_id = created(tenant.post("/v1/plants", {"name": "Works", "time_zone": "UTC"}))
    line_id = created(tenant.post("/v1/lines", {"plant_id": plant_id, "name": "Line A"}))
    # A shift that began two hours ago and lasts eight: the breakdown is mid-shift.
    start = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)
    calendar = tenant.http.put(
        f"/v1/plants/{plant_id}/calendar",
        json={
            "shifts": [
                {
                    "name": "day",
                    "days_of_week": [1, 2, 3, 4, 5, 6, 7],
                    "start_time": start.strftime("%H:%M"),
                    "end_time": (start + timedelta(hours=8)).strftime("%H:%M"),
                }
            ],
            "holidays": [],
            "effective_time": (start - timedelta(days=1)).isoformat(),
        },
    )
    assert calendar.status_code == 200, calendar.text
    model_id = created(
        tenant.post("/v1/equipment-models", {"name": "Mill", "signals": [{"name": "run_state"}]})
    )
    mapping = tenant.http.put(
        f"/v1/equipment-models/{model_id}/state-mapping",
        json={
            "state_signal": "run_state",
            "rules": [
                {"comparison": "equal", "value": code, "state": state}
                for state, code in CODES.items()
            ],
            "default_state": "idle",
            # Long enough that a machine reporting down once stays down for the test.
            "hold_s": 1800,
        },
    )
    assert mapping.status_code == 200, mapping.text
    stations = {}
    for name, capability in [("Mill 1", "milling"), ("Mill 2", "milling"), ("Drill", "drilling")]:
        stations[name] = created(
            tenant.post(
                "/v1/stations",
                {
                    "line_id": line_id,
                    "name": name,
                    "capabilities": [capability],
                    "ideal_cycle_time_s": 60,
                },
            )
        )
    equipment_id = created(
        tenant.post(
            "/v1/equipment",
            {
                "equipment_model_id": model_id,
                "serial_number": "MILL-1",
                "station_id": stations["Mill 1"],
            },
        )
    )
    credential = tenant.post(f"/v1/equipment/{equipment_id}/credentials", {})
    assert credential.status_code == 201, credential.text
    product_id = created(
        tenant.post(
            "/v1/products",
            {
                "part_number": "BRACKET",
                "name": "Bracket",
                "routing": [
                    {
                        "name": "mill",
                        "capability": "milling",
                        "setup_time_s": 300,
                        "ideal_cycle_time_s": 60,
                    },
                    {
                        "name": "drill",
                        "capability": "drilling",
                        "setup_time_s": 60,
                        "ideal_cycle_time_s": 30,
                    },
                ],
            },
        )
    )
    return Floor(tenant, plant_id, stations, credential.json()["secret"], product_id)


class Mill:
    """Mill 1's machine, reporting its state as the device link's HTTP batches."""

    def __init__(self, base_url: str, secret: str) -> None:
        self.base_url = base_url
        self.secret = secret
        self.sequence = 0

    def report(self, state: str) -> None:
        now_ms = int(time.time() * 1000)
        self.sequence += 1
        response = httpx.post(
            f"{self.base_url}/v1/device/telemetry",
            headers={"Authorization": f"Bearer {self.secret}"},
            json={
                "sequence_id": self.sequence,
                "series": [
                    {
                        "signal": "run_state",
                        "timestamps_ms": [now_ms - 1000, now_ms],
                        "values": [CODES[state], CODES[state]],
                    }
                ],
            },
            timeout=30,
        )
        assert response.status_code == 200, response.text


def schedule(floor: Floor) -> dict[str, Any]:
    response = floor.tenant.get(f"/v1/plants/{floor.plant_id}/schedule")
    assert response.status_code == 200, response.text
    return dict(response.json())


def release_orders(floor: Floor) -> list[str]:
    orders = []
    for index in range(ORDERS):
        order_id = created(
            floor.tenant.post(
                "/v1/work-orders",
                {
                    "product_id": floor.product_id,
                    "plant_id": floor.plant_id,
                    "quantity": 20,
                    "due_time": (
                        datetime.now(UTC) + timedelta(hours=2, minutes=index * 10)
                    ).isoformat(),
                    "priority": 0,
                },
            )
        )
        released = floor.tenant.post(f"/v1/work-orders/{order_id}:release", {})
        assert released.status_code == 200, released.text
        orders.append(order_id)
    return orders


def mill_tracked(floor: Floor, mill: Mill) -> bool:
    """Whether production tracks Mill 1's machine; reports again until it does,
    as production learns where the machine stands from the products service."""
    states = floor.tenant.get(
        f"/v1/stations/{floor.stations['Mill 1']}/states",
        start_time=(datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        end_time=(datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
    )
    assert states.status_code == 200, states.text
    if states.json()["items"]:
        return True
    mill.report("running")
    return False


@pytest.fixture(params=["embedded", "distributed"])
def platform(request: pytest.FixtureRequest) -> RunningPlatform:
    platform: RunningPlatform = request.getfixturevalue(f"{request.param}_platform")
    return platform


def test_a_breakdown_moves_the_mills_operations_and_explains_the_new_etas(
    platform: RunningPlatform,
) -> None:
    floor = onboard(platform.base_url)
    mill = Mill(platform.base_url, floor.mill_secret)
    mill.report("running")
    wait_for(lambda: mill_tracked(floor, mill), timeout_s=60, interval_s=1, what="Mill 1 tracked")

    orders = release_orders(floor)
    if "production" in platform.processes:
        platform.kill_and_restart("production")
    every_operation = {(order, sequence) for order in orders for sequence in (1, 2)}

    def planned() -> dict[str, Any] | None:
        current = schedule(floor)
        ops = {(o["work_order_id"], o["sequence"]) for o in current["operations"]}
        return current if ops == every_operation else None

    before = wait_for(planned, timeout_s=60, interval_s=0.5, what="every order scheduled")
    assert before["down_station_ids"] == []
    on_mill_1 = {
        o["work_order_id"]
        for o in before["operations"]
        if o["station_id"] == floor.stations["Mill 1"]
    }
    assert on_mill_1, "both mills are used while both are up"

    collector = Collector()
    bus = KafkaBus(platform.kafka_settings()) if "production" in platform.processes else None
    if bus is not None:
        bus.subscribe(
            group=f"test-{uuid.uuid4().hex}",
            topics=[Topic.PRODUCTION_EVENTS],
            handler=collector,
        )
    try:
        mill.report("down")

        def repaired() -> dict[str, Any] | None:
            current = schedule(floor)
            return current if floor.stations["Mill 1"] in current["down_station_ids"] else None

        after = wait_for(repaired, timeout_s=60, interval_s=0.5, what="the breakdown planned for")
        assert after["revision"] > before["revision"]
        assert any(
            t["kind"] == "station_down" and t["subject_id"] == floor.stations["Mill 1"]
            for t in after["triggers"]
        )
        # Assumed down for the hour to come (the default): nothing starts on it before.
        back = datetime.fromisoformat(after["compute_time"]) + timedelta(hours=1)
        assert not [
            o
            for o in after["operations"]
            if o["station_id"] == floor.stations["Mill 1"]
            and datetime.fromisoformat(o["setup_start_time"]) < back
        ]
        moved_to_mill_2 = {
            o["work_order_id"]
            for o in after["operations"]
            if o["work_order_id"] in on_mill_1
            and o["sequence"] == 1
            and o["station_id"] == floor.stations["Mill 2"]
        }
        assert moved_to_mill_2, "the other mill takes over"
        etas = {eta["work_order_id"]: eta for eta in after["etas"]}
        changed = [
            order for order in moved_to_mill_2 if etas[order]["revision"] == after["revision"]
        ]
        assert changed, "the orders that moved end at another time now"
        for order in changed:
            eta = etas[order]
            assert "station Mill 1 went down" in eta["explanation"], eta
            assert floor.stations["Mill 2"] in [m["station_id"] for m in eta["moved_operations"]]
            one = floor.tenant.get(f"/v1/work-orders/{order}/eta")
            assert one.status_code == 200, one.text
            assert one.json()["explanation"] == eta["explanation"]

        if bus is not None:

            def published() -> schedule_pb2.WorkOrderEta | None:
                for record in list(collector.records):
                    envelope = parse_envelope(record.value)
                    event = unpack(envelope, production_events.ScheduleChanged)
                    # Other tests' plants share the topic, with revisions of their own.
                    if (
                        event is not None
                        and event.plant_id == floor.plant_id
                        and event.revision == after["revision"]
                    ):
                        return next((e for e in event.etas if e.work_order_id == changed[0]), None)
                return None

            eta_event = wait_for(published, timeout_s=60, interval_s=0.5, what="schedule.changed")
            assert "station Mill 1 went down" in eta_event.explanation
    finally:
        if bus is not None:
            bus.close()
