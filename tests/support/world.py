"""Builds a tenant's onboarded world through the REST API, as a customer would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.support.api import Tenant, sign_up
from tests.support.waiting import wait_for

SIGNALS = [
    {"name": "spindle_speed", "unit": "1/min", "min_value": 0, "max_value": 24000},
    {"name": "spindle_temperature", "unit": "Cel", "min_value": -20, "max_value": 150},
    {"name": "door_open", "type": "boolean"},
]


def created(response_json: dict[str, object]) -> str:
    return str(response_json["id"])


@dataclass
class World:
    """One tenant's onboarded resources, by kind."""

    tenant: Tenant
    ids: dict[str, str] = field(default_factory=dict)
    device_secrets: dict[str, str] = field(default_factory=dict)


def onboard(base_url: str, name: str, *, machines: int = 2) -> World:
    tenant = sign_up(base_url, f"{name} {uuid.uuid4().hex[:6]}")
    world = World(tenant)

    def post(path: str, body: dict[str, object]) -> str:
        response = tenant.post(path, body)
        assert response.status_code == 201, f"{path}: {response.status_code} {response.text}"
        return created(response.json())

    world.ids["plant_id"] = post("/v1/plants", {"name": "Plant", "time_zone": "Europe/Berlin"})
    world.ids["line_id"] = post("/v1/lines", {"plant_id": world.ids["plant_id"], "name": "Line 1"})
    world.ids["station_id"] = post(
        "/v1/stations", {"line_id": world.ids["line_id"], "name": "Station 10"}
    )
    world.ids["equipment_model_id"] = post(
        "/v1/equipment-models",
        {"name": "VM-5 mill", "manufacturer": "Maker GmbH", "signals": SIGNALS},
    )
    for number in range(machines):
        key = "equipment_id" if number == 0 else f"equipment_id_{number}"
        world.ids[key] = post(
            "/v1/equipment",
            {
                "equipment_model_id": world.ids["equipment_model_id"],
                "serial_number": f"SN-{number}",
                "name": f"Mill {number}",
                "station_id": world.ids["station_id"],
            },
        )
    response = tenant.post(f"/v1/equipment/{world.ids['equipment_id']}/credentials", {})
    assert response.status_code == 201, response.text
    world.ids["credential_id"] = response.json()["id"]
    world.device_secrets[world.ids["equipment_id"]] = response.json()["secret"]
    response = tenant.post(
        "/v1/maintenance-tickets",
        {
            "equipment_id": world.ids["equipment_id"],
            "title": "Check spindle",
        },
    )
    assert response.status_code == 201, response.text
    world.ids["ticket_id"] = response.json()["id"]
    response = tenant.post("/v1/api-keys", {"name": "viewer", "role": "viewer"})
    assert response.status_code == 201, response.text
    world.ids["key_id"] = response.json()["id"]
    return world


def order_customized(world: World) -> None:
    """Gives the world a product family, a quote of it and the order accepted from the
    quote, once production has scheduled its work order (ids family_id, quote_id,
    order_id; the customer's order_key). Its one operation mills at the world's station."""
    tenant = world.tenant

    def sent(method: str, path: str, body: dict[str, Any], status: int) -> dict[str, Any]:
        response = tenant.http.request(method, path, json=body)
        assert response.status_code == status, f"{method} {path}: {response.text}"
        answer: dict[str, Any] = response.json()
        return answer

    sent("PATCH", f"/v1/stations/{world.ids['station_id']}", {"capabilities": ["milling"]}, 200)
    step = {"name": "mill", "capability": "milling", "ideal_cycle_time_s": 30}
    product = sent("POST", "/v1/products", {"part_number": "CUSTOM-1", "routing": [step]}, 201)
    family = {
        "name": "Custom housing",
        "plant_id": world.ids["plant_id"],
        "product_id": product["id"],
        "currency": "EUR",
        "base_price": 100,
        "options": [
            {"name": "alloy", "kind": "choice", "values": [{"value": "AlMg3"}, {"value": "AlSi10"}]}
        ],
        "bom": [{"component_part_number": "BILLET", "quantity": 1, "unit": "pcs"}],
        "routing": [step],
    }
    world.ids["family_id"] = created(sent("POST", "/v1/product-families", family, 201))
    quote = {"family_id": world.ids["family_id"], "selections": {"alloy": "AlMg3"}}
    world.ids["quote_id"] = created(sent("POST", "/v1/quotes", quote, 201))
    accepted = sent("POST", f"/v1/quotes/{world.ids['quote_id']}:accept", {}, 201)
    world.ids["order_id"] = created(accepted["order"])
    world.ids["order_key"] = accepted["order_key"]

    def scheduled() -> bool:
        order = tenant.get(f"/v1/orders/{world.ids['order_id']}").json()
        return bool(order["state"] == "scheduled")

    wait_for(scheduled, timeout_s=60, interval_s=0.5, what="the customized order scheduled")
