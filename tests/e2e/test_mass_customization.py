"""Mass customization end to end, told through the public API and two simulated
machines: a tenant describes a bike family, its customer configures one (the
configurator narrows the options, names the rule a wrong choice breaks and
completes the rest cheapest), gets a quote dated by the plant's schedule and
accepts it. Production makes the work order with the BOM and routing the
configuration selects; the paint booth's machine gets the recipe as its desired
state and acknowledges it before the operation runs; the machines' counts finish
the work order; the customer follows every stage with the order key, and the
unit's genealogy lists the telemetry recorded while it was made."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from imcloud_device import DesiredState, DeviceClient
from tests.support.api import Tenant, sign_up
from tests.support.platform import RunningPlatform
from tests.support.waiting import wait_for

CARBON = {"option": "frame", "in": ["carbon"]}


def family_definition(plant_id: str, product_id: str) -> dict[str, Any]:
    return {
        "name": "Custom bike",
        "description": "A frame, a colour and a size, made to order",
        "plant_id": plant_id,
        "product_id": product_id,
        "currency": "EUR",
        "base_price": 900,
        "quote_validity_s": 3600,
        "options": [
            {
                "name": "frame",
                "label": "Frame",
                "kind": "choice",
                "values": [{"value": "alu", "price": 0}, {"value": "carbon", "price": 800}],
            },
            {
                "name": "color",
                "label": "Colour",
                "kind": "choice",
                "values": [
                    {"value": "red", "price": 0},
                    {"value": "black", "price": 50},
                    {"value": "white", "price": 30},
                ],
            },
            {
                "name": "size_cm",
                "label": "Frame size",
                "kind": "number",
                "min": 48,
                "max": 62,
                "step": 2,
                "price_per_unit": 0,
            },
            {
                "name": "engraving",
                "label": "Engraving",
                "kind": "text",
                "pattern": "^[A-Z ]{0,20}$",
                "max_length": 20,
                "required": False,
            },
        ],
        "rules": [
            {
                "name": "no-red-carbon",
                "kind": "excludes",
                "conditions": [CARBON, {"option": "color", "in": ["red"]}],
                "message": "carbon frames are not painted red",
            },
            {
                "name": "carbon-sizes",
                "kind": "range",
                "if": CARBON,
                "option": "size_cm",
                "min": 50,
                "max": 58,
            },
        ],
        "formulas": [
            {
                "name": "coats",
                "constant": 2,
                "terms": [{"if": {"option": "color", "in": ["white"]}, "add": 1}],
            },
            {
                "name": "weight_kg",
                "constant": 7,
                "terms": [{"option": "size_cm", "coefficient": 0.05}, {"if": CARBON, "add": -1.5}],
            },
        ],
        "price_formula": None,
        "bom": [
            {"component_part_number": "FRAME-ALU", "quantity": 1, "unit": "pcs",
             "when": {"option": "frame", "in": ["alu"]}},
            {"component_part_number": "FRAME-CARBON", "quantity": 1, "unit": "pcs",
             "when": CARBON},
            {"component_part_number": "PAINT-BLACK", "quantity": 0.4, "unit": "l",
             "when": {"option": "color", "in": ["black"]}},
            {"component_part_number": "WHEELSET", "quantity": 1, "unit": "pcs"},
        ],
        "routing": [
            {"name": "weld frame", "capability": "welding", "setup_time_s": 60,
             "ideal_cycle_time_s": 600, "when": {"option": "frame", "in": ["alu"]}},
            {"name": "lay up frame", "capability": "layup", "setup_time_s": 120,
             "ideal_cycle_time_s": 900, "when": CARBON},
            {"name": "paint", "capability": "painting", "setup_time_s": 60,
             "ideal_cycle_time_s": 300,
             "recipe": {"color": {"option": "color"}, "coats": {"formula": "coats"},
                        "line": {"value": "custom"}}},
        ],
    }  # fmt: skip


@dataclass
class Machine:
    """A station's machine on the gRPC device link: it applies what it is asked
    to run, and reports its state, its units and a temperature."""

    secret: str
    applied: list[DesiredState] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def apply(self, desired: DesiredState) -> None:
        with self.lock:
            self.applied.append(desired)

    def recipes(self) -> list[dict[str, Any]]:
        with self.lock:
            return [d.properties for d in self.applied]


@dataclass
class Shop:
    tenant: Tenant
    plant_id: str
    product_id: str
    stations: dict[str, str]
    machines: dict[str, Machine]
    equipment: dict[str, str]


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def open_shop(base_url: str) -> Shop:
    tenant = sign_up(base_url, f"Bike Works {uuid.uuid4().hex[:6]}")
    plant_id = created(tenant.post("/v1/plants", {"name": "Works", "time_zone": "UTC"}))["id"]
    line_id = created(tenant.post("/v1/lines", {"plant_id": plant_id, "name": "Frames"}))["id"]
    # A shift that began an hour ago and lasts ten: the bike is planned into it.
    start = (datetime.now(UTC) - timedelta(hours=1)).replace(second=0, microsecond=0)
    calendar = tenant.http.put(
        f"/v1/plants/{plant_id}/calendar",
        json={
            "shifts": [
                {
                    "name": "day",
                    "days_of_week": [1, 2, 3, 4, 5, 6, 7],
                    "start_time": start.strftime("%H:%M"),
                    "end_time": (start + timedelta(hours=10)).strftime("%H:%M"),
                }
            ],
            "holidays": [],
            "effective_time": (start - timedelta(days=1)).isoformat(),
        },
    )
    assert calendar.status_code == 200, calendar.text
    model_id = created(
        tenant.post(
            "/v1/equipment-models",
            {
                "name": "Cell",
                "signals": [{"name": "run_state"}, {"name": "units"}, {"name": "temperature"}],
            },
        )
    )["id"]
    mapping = tenant.http.put(
        f"/v1/equipment-models/{model_id}/state-mapping",
        json={
            "state_signal": "run_state",
            "rules": [{"comparison": "equal", "value": 1, "state": "running"}],
            "default_state": "idle",
            "good": {"signal": "units", "kind": "per_cycle"},
            "hold_s": 600,
        },
    )
    assert mapping.status_code == 200, mapping.text
    stations, machines, equipment = {}, {}, {}
    for name, capability in [("weld", "welding"), ("layup", "layup"), ("paint", "painting")]:
        stations[name] = created(
            tenant.post(
                "/v1/stations",
                {"line_id": line_id, "name": f"{name} cell", "capabilities": [capability]},
            )
        )["id"]
    for name in ("layup", "paint"):
        equipment[name] = created(
            tenant.post(
                "/v1/equipment",
                {
                    "equipment_model_id": model_id,
                    "serial_number": f"{name.upper()}-1",
                    "station_id": stations[name],
                },
            )
        )["id"]
        credential = created(tenant.post(f"/v1/equipment/{equipment[name]}/credentials", {}))
        machines[name] = Machine(credential["secret"])
    product_id = created(
        tenant.post(
            "/v1/products",
            {
                "part_number": "BIKE-CUSTOM",
                "name": "Custom bike",
                "routing": [{"name": "paint", "capability": "painting", "ideal_cycle_time_s": 300}],
            },
        )
    )["id"]
    return Shop(tenant, plant_id, product_id, stations, machines, equipment)


def order(shop: Shop, order_id: str) -> dict[str, Any]:
    response = shop.tenant.get(f"/v1/orders/{order_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def order_in(shop: Shop, order_id: str, state: str) -> dict[str, Any] | None:
    body = order(shop, order_id)
    return body if body["state"] == state else None


def work_order(shop: Shop, work_order_id: str) -> dict[str, Any]:
    response = shop.tenant.get(f"/v1/work-orders/{work_order_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def operation_in(shop: Shop, work_order_id: str, sequence: int, state: str) -> bool:
    return bool(work_order(shop, work_order_id)["operations"][sequence - 1]["state"] == state)


def planned(shop: Shop, work_order_id: str) -> dict[str, Any] | None:
    response = shop.tenant.get(f"/v1/work-orders/{work_order_id}/eta")
    if response.status_code in (404, 409):  # not planned yet
        return None
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def make_one_unit(client: DeviceClient, operation: dict[str, Any]) -> None:
    """The machine runs, reports a temperature and one good unit, stamped in the
    operation's time: after its start, before now."""
    start_ms = int(datetime.fromisoformat(operation["start_time"]).timestamp() * 1000)
    while int(time.time() * 1000) <= start_ms + 3:
        time.sleep(0.01)
    for offset, units in [(1, 0), (2, 0), (3, 1)]:
        client.record_snapshot(
            {"run_state": 1, "units": units, "temperature": 40 + offset}, start_ms + offset
        )
    assert client.flush(30), "the machine's points were not acknowledged"


@pytest.fixture(params=["embedded", "distributed"])
def platform(request: pytest.FixtureRequest) -> RunningPlatform:
    platform: RunningPlatform = request.getfixturevalue(f"{request.param}_platform")
    return platform


def test_a_configured_bike_goes_from_the_configurator_to_the_machines_and_back(
    platform: RunningPlatform,
) -> None:
    shop = open_shop(platform.base_url)
    tenant = shop.tenant
    family = created(
        tenant.post("/v1/product-families", family_definition(shop.plant_id, shop.product_id))
    )
    configure = f"/v1/product-families/{family['id']}:configure"

    # Interactive: choosing carbon removes red and narrows the sizes.
    narrowed = tenant.post(configure, {"selections": {"frame": "carbon"}})
    assert narrowed.status_code == 200, narrowed.text
    domains = {d["option"]: d for d in narrowed.json()["options"]}
    assert domains["color"]["values"] == ["black", "white"]
    assert domains["size_cm"]["ranges"] == [{"min": 50, "max": 58}]
    assert narrowed.json()["complete"] is False

    # A wrong choice names the one rule it breaks, not the others it touches.
    wrong = tenant.post(configure, {"selections": {"frame": "carbon", "color": "red"}})
    assert wrong.status_code == 422, wrong.text
    fields = [d["field"] for d in wrong.json()["error"]["details"]]
    assert fields == ["rules.no-red-carbon"]
    off_step = tenant.post(configure, {"selections": {"size_cm": 49}})
    assert off_step.status_code == 422, off_step.text
    assert [d["field"] for d in off_step.json()["error"]["details"]] == ["selections.size_cm"]

    # The cheapest completion of a carbon frame: white paint (30) over black (50).
    cheapest = tenant.post(
        f"/v1/product-families/{family['id']}:complete", {"selections": {"frame": "carbon"}}
    )
    assert cheapest.status_code == 200, cheapest.text
    assert cheapest.json()["complete"] is True
    chosen = {d["option"]: d["selected"] for d in cheapest.json()["options"]}
    assert (chosen["frame"], chosen["color"], chosen["size_cm"]) == ("carbon", "white", 50)
    assert cheapest.json()["unit_price"] == 900 + 800 + 30

    # The quote's date is the plant's what-if schedule of the selected routing.
    selections = {"frame": "carbon", "color": "black", "size_cm": 54, "engraving": "ANNA"}
    before = datetime.now(UTC)
    quote = created(
        tenant.post(
            "/v1/quotes",
            {
                "family_id": family["id"],
                "selections": selections,
                "quantity": 1,
                "customer_reference": "web shop order 4711",
            },
        )
    )
    assert quote["unit_price"] == 900 + 800 + 50
    assert quote["total_price"] == quote["unit_price"]
    assert [step["name"] for step in quote["routing"]] == ["lay up frame", "paint"]
    promised = datetime.fromisoformat(quote["promised_time"])
    # At least the two operations' cycles (lay-up 900 s, paint 300 s) from now.
    work_s = 900 + 300
    assert (promised - before).total_seconds() >= work_s
    assert quote["lead_time_s"] == pytest.approx(
        (promised - datetime.fromisoformat(quote["create_time"])).total_seconds(), abs=1
    )
    assert quote["schedule_explanation"]
    assert datetime.fromisoformat(quote["expire_time"]) > datetime.now(UTC)

    accepted = created(tenant.post(f"/v1/quotes/{quote['id']}:accept", {}))
    order_id, order_key = accepted["order"]["id"], accepted["order_key"]
    assert order_key
    again = tenant.post(f"/v1/quotes/{quote['id']}:accept", {})
    assert again.status_code == 200, again.text
    assert again.json()["order"]["id"] == order_id
    assert again.json()["order_key"] is None

    # Production made the work order of this configuration and released it.
    scheduled = wait_for(
        lambda: order_in(shop, order_id, "scheduled"), timeout_s=60, what="order scheduled"
    )
    made = work_order(shop, scheduled["work_order_id"])
    assert made["customer_order_id"] == order_id
    assert made["state"] == "released"
    assert sorted(line["component_part_number"] for line in made["bom"]) == [
        "FRAME-CARBON",
        "PAINT-BLACK",
        "WHEELSET",
    ]
    assert [o["name"] for o in made["operations"]] == ["lay up frame", "paint"]
    assert made["operations"][1]["recipe"] == {"color": "black", "coats": 2, "line": "custom"}
    # Its plan keeps the quote's promise, give or take the seconds since the quote.
    assert datetime.fromisoformat(made["due_time"]) == promised
    eta = wait_for(lambda: planned(shop, made["id"]), timeout_s=60, what="the order planned")
    assert eta["lateness_s"] <= 60

    layup, paint = shop.machines["layup"], shop.machines["paint"]
    work_order_id = made["id"]
    operations = f"/v1/work-orders/{work_order_id}/operations"
    with (
        DeviceClient(platform.device_link, layup.secret, on_desired=layup.apply) as layup_link,
        DeviceClient(platform.device_link, paint.secret, on_desired=paint.apply) as paint_link,
    ):
        started = tenant.post(f"{operations}/1:start", {"station_id": shop.stations["layup"]})
        assert started.status_code == 200, started.text
        assert started.json()["operations"][0]["state"] == "running"
        wait_for(
            lambda: order_in(shop, order_id, "in_production"), timeout_s=60, what="in production"
        )
        make_one_unit(layup_link, started.json()["operations"][0])
        wait_for(
            lambda: operation_in(shop, work_order_id, 1, "done"), timeout_s=60, what="layup done"
        )

        # The paint operation waits for the booth to apply its recipe.
        painting = tenant.post(f"{operations}/2:start", {"station_id": shop.stations["paint"]})
        assert painting.status_code == 200, painting.text
        step = painting.json()["operations"][1]
        assert step["state"] in ("starting", "running")
        assert [d["equipment_id"] for d in step["recipe_deliveries"]] == [shop.equipment["paint"]]
        wait_for(
            lambda: operation_in(shop, work_order_id, 2, "running"), timeout_s=60, what="recipe"
        )
        running = work_order(shop, work_order_id)["operations"][1]
        recipe = paint.recipes()[-1]
        assert {k: recipe[k] for k in ("color", "coats", "line")} == {
            "color": "black",
            "coats": 2,
            "line": "custom",
        }
        assert layup.recipes() == []
        make_one_unit(paint_link, running)
        completed = wait_for(
            lambda: order_in(shop, order_id, "completed"), timeout_s=60, what="order completed"
        )
    assert work_order(shop, work_order_id)["state"] == "completed"

    shipped = tenant.post(f"/v1/orders/{order_id}:ship", {"detail": "DHL 00340434"})
    assert shipped.status_code == 200, shipped.text
    stages = shipped.json()["stages"]
    assert [s["state"] for s in stages] == [
        "accepted",
        "scheduled",
        "in_production",
        "completed",
        "shipped",
    ]
    times = [datetime.fromisoformat(s["time"]) for s in stages]
    assert times == sorted(times)
    assert completed["stages"][-1]["state"] == "completed"

    # The customer sees it with the order key alone, and nothing with another.
    status = httpx.get(
        f"{platform.base_url}/v1/order-status", headers={"X-Order-Key": order_key}, timeout=30
    )
    assert status.status_code == 200, status.text
    assert status.json()["id"] == order_id
    assert [s["state"] for s in status.json()["stages"]][-1] == "shipped"
    stranger = httpx.get(
        f"{platform.base_url}/v1/order-status",
        headers={"X-Order-Key": order_key[:-4] + "abcd"},
        timeout=30,
    )
    assert stranger.status_code == 404, stranger.text

    # The unit's genealogy: configuration, work order, stations, machines, telemetry.
    genealogy = tenant.get(f"/v1/orders/{order_id}/genealogy")
    assert genealogy.status_code == 200, genealogy.text
    traced = genealogy.json()
    assert traced["order"]["selections"] == selections
    assert traced["work_order_id"] == work_order_id
    steps = traced["operations"]
    assert [(s["name"], s["station_id"]) for s in steps] == [
        ("lay up frame", shop.stations["layup"]),
        ("paint", shop.stations["paint"]),
    ]
    painted = steps[1]
    assert json.loads(json.dumps(painted["recipe"]))["color"] == "black"
    machine = painted["equipment"][0]
    assert machine["equipment_id"] == shop.equipment["paint"]
    assert machine["recipe_version"] >= 1
    signals = {s["signal"]: s for s in machine["signals"]}
    assert signals["temperature"]["count"] == 3
    assert signals["temperature"]["min"] == 41
    assert signals["temperature"]["max"] == 43
    assert traced["quality_records"] == []
