"""A machine stands at a station of its own tenant, and a station with machines stays."""

from __future__ import annotations

import httpx

from tests.support.platform import RunningPlatform
from tests.support.world import World, onboard

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def refused_station(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    fields = [detail["field"] for detail in response.json()["error"]["details"]]
    assert fields == ["station_id"], response.text


def new_machine(world: World, station_id: str) -> httpx.Response:
    return world.tenant.post(
        "/v1/equipment",
        {
            "equipment_model_id": world.ids["equipment_model_id"],
            "serial_number": "SN-new",
            "name": "New mill",
            "station_id": station_id,
        },
    )


def test_equipment_can_stand_only_at_a_station_of_its_own_tenant(
    embedded_platform: RunningPlatform,
) -> None:
    base = embedded_platform.base_url
    acme, other = onboard(base, "Acme", machines=1), onboard(base, "Other", machines=1)
    machine = f"/v1/equipment/{acme.ids['equipment_id']}"
    for station_id in (UNKNOWN, other.ids["station_id"]):
        refused_station(new_machine(acme, station_id))
        refused_station(acme.tenant.http.patch(machine, json={"station_id": station_id}))
    assert acme.tenant.get(machine).json()["station_id"] == acme.ids["station_id"]

    second = acme.tenant.post("/v1/stations", {"line_id": acme.ids["line_id"], "name": "St 20"})
    assert second.status_code == 201, second.text
    moved = acme.tenant.http.patch(machine, json={"station_id": second.json()["id"]})
    assert moved.status_code == 200, moved.text
    assert new_machine(acme, "").status_code == 201  # not placed at all


def test_a_station_with_equipment_cannot_be_deleted(embedded_platform: RunningPlatform) -> None:
    base = embedded_platform.base_url
    acme, other = onboard(base, "Acme", machines=2), onboard(base, "Other", machines=1)
    station = f"/v1/stations/{acme.ids['station_id']}"
    refused = acme.tenant.http.delete(station)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "failed_precondition"
    assert "2 machines" in refused.json()["error"]["message"]
    assert acme.tenant.http.delete(f"/v1/lines/{acme.ids['line_id']}").status_code == 409
    assert acme.tenant.http.delete(f"/v1/plants/{acme.ids['plant_id']}").status_code == 409

    # Another tenant's machines never hold a station back.
    empty = other.tenant.post("/v1/stations", {"line_id": other.ids["line_id"], "name": "Spare"})
    assert other.tenant.http.delete(f"/v1/stations/{empty.json()['id']}").status_code == 204

    for key in ("equipment_id", "equipment_id_1"):
        unplaced = acme.tenant.http.patch(f"/v1/equipment/{acme.ids[key]}", json={"station_id": ""})
        assert unplaced.status_code == 200, unplaced.text
    assert acme.tenant.http.delete(station).status_code == 204
