"""Production setup of a simulated plant through the REST API: stations that say
what they do and how fast, machines whose run_state and counters production
reads, a shift now, and a work order started along each line."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from imcloud_simulator.fleet import Fleet
from imcloud_simulator.onboarding import OnboardingError, OnboardingStep, onboard
from imcloud_simulator.production import (
    calendar_covering,
    complete_work_order,
    onboard_production,
    state_mapping,
)
from tests.unit.simulator.test_onboarding import FakeGateway, _error, api_for

NOW = datetime(2026, 12, 1, 12, 34, tzinfo=UTC)  # 13:34 in Berlin


def onboarded(gateway: FakeGateway, machines: int = 5) -> tuple[Fleet, Any]:
    fleet = Fleet(machines, seed=1)
    return fleet, onboard(api_for(gateway, []), fleet, run_id="abc123")


def test_production_setup_gives_stations_capabilities_mappings_a_shift_and_work_orders() -> None:
    gateway = FakeGateway()
    fleet, plant = onboarded(gateway)
    gateway.requests.clear()
    steps: list[OnboardingStep] = []

    production = onboard_production(
        api_for(gateway, []),
        fleet,
        plant,
        run_id="abc123",
        now=NOW,
        quantity=40,
        progress=steps.append,
    )

    sent = gateway.requests
    patches = {path: body for method, path, body in sent if method == "PATCH"}
    mills = [m for m in plant.machines if m.machine.kind.key == "cnc_mill"]
    assert [patches[f"/v1/stations/{m.station_id}"]["capabilities"] for m in mills] == [
        ["roughing"],
        ["finishing"],
        ["drilling"],
    ]
    first = patches[f"/v1/stations/{mills[0].station_id}"]
    assert first["ideal_cycle_time_s"] == pytest.approx(fleet.ideal_cycle_s(0), abs=1e-3)
    assert first["ideal_cycle_times"] == {"HSG-abc123": first["ideal_cycle_time_s"]}

    mappings = [(path, body) for method, path, body in sent if path.endswith("/state-mapping")]
    assert sorted(path for path, _ in mappings) == sorted(
        f"/v1/equipment-models/{model_id}/state-mapping"
        for model_id in plant.equipment_model_ids.values()
    )
    assert all(body == state_mapping() for _, body in mappings)

    products = [body for method, path, body in sent if path == "/v1/products"]
    assert [p["part_number"] for p in products] == ["HSG-abc123", "CLB-abc123", "BRK-abc123"]
    assert [step["capability"] for step in products[0]["routing"]] == [
        "roughing",
        "finishing",
        "drilling",
    ]
    # A line of one press offers its first operation only.
    assert [step["capability"] for step in products[2]["routing"]] == ["blanking"]

    machining = production.lines[0]
    order_id = production.work_orders[machining.line_id]
    order_calls = [(m, p, b) for m, p, b in sent if p.startswith(f"/v1/work-orders/{order_id}")]
    assert order_calls == [
        ("POST", f"/v1/work-orders/{order_id}:release", {}),
        *(
            (
                "POST",
                f"/v1/work-orders/{order_id}/operations/{n}:start",
                {"station_id": m.station_id},
            )
            for n, m in enumerate(mills, start=1)
        ),
    ]
    created = next(b for m, p, b in sent if p == "/v1/work-orders")
    assert created["quantity"] == 40
    assert created["plant_id"] == plant.plant_id
    assert [(s.what, s.done) for s in steps if s.done == s.total] == [
        ("station capabilities", 5),
        ("state mappings", 3),
        ("shift calendar", 1),
        ("products", 3),
        ("work orders started", 3),
    ]


def test_the_state_mapping_reads_every_run_state_code_and_both_totals() -> None:
    mapping = state_mapping()
    assert mapping["state_signal"] == "run_state"
    assert {rule["value"]: rule["state"] for rule in mapping["rules"]} == {
        0: "idle",
        1: "running",
        2: "setup",
        3: "down",
        4: "planned_stop",
    }
    assert mapping["good"] == {"signal": "good_count", "kind": "total"}
    assert mapping["scrap"] == {"signal": "scrap_count", "kind": "total"}


@pytest.mark.parametrize(
    ("now", "zone", "start", "end"),
    [
        (NOW, "Europe/Berlin", "13:00", "21:00"),
        (datetime(2026, 7, 1, 19, 5, tzinfo=UTC), "Europe/Berlin", "21:00", "05:00"),
        (datetime(2026, 7, 1, 19, 5, tzinfo=UTC), "UTC", "19:00", "03:00"),
    ],
)
def test_the_shift_starts_at_the_plant_local_hour_of_now(
    now: datetime, zone: str, start: str, end: str
) -> None:
    calendar = calendar_covering(now, zone)
    (shift,) = calendar["shifts"]
    assert (shift["start_time"], shift["end_time"]) == (start, end)
    assert shift["days_of_week"] == [1, 2, 3, 4, 5, 6, 7]


class WithoutCalendars(FakeGateway):
    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/calendar"):
            return httpx.Response(404, json=_error("not_found"))
        return super().__call__(request)


def test_a_refused_step_stops_the_setup_and_says_which_request_and_why() -> None:
    gateway = WithoutCalendars()
    fleet, plant = onboarded(gateway, machines=3)
    api = api_for(gateway, [])
    with pytest.raises(OnboardingError, match=r"PUT /v1/plants/.*/calendar: 404") as refused:
        onboard_production(api, fleet, plant, run_id="abc123", now=NOW, quantity=10)
    assert refused.value.status == 404
    assert not any(path == "/v1/products" for _, path, _ in gateway.requests)


def test_completing_a_work_order_completes_its_running_operations_in_order() -> None:
    gateway = FakeGateway()
    order = {
        "id": "wo1",
        "operations": [
            {"sequence": 1, "state": "done"},
            {"sequence": 2, "state": "running"},
            {"sequence": 3, "state": "running"},
        ],
    }
    complete_work_order(api_for(gateway, []), order)
    assert [path for _, path, _ in gateway.requests] == [
        "/v1/work-orders/wo1/operations/2:complete",
        "/v1/work-orders/wo1/operations/3:complete",
    ]
