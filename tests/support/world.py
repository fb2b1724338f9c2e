"""Builds a tenant's onboarded world through the REST API, as a customer would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from tests.support.api import Tenant, sign_up

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
