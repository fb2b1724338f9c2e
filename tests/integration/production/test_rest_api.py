"""Plants, lines and stations through the gateway's REST API, as a user drives them.

One embedded platform (`imcloud up`) serves every test of this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.api import Tenant, sign_up
from tests.support.platform import embedded


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with embedded(tmp_path_factory.mktemp("platform"), timeout_s=60) as platform:
        yield platform.base_url


@pytest.fixture
def acme(base_url: str, request: pytest.FixtureRequest) -> Tenant:
    # Tenant names are unique on the platform every test of this module shares.
    return sign_up(base_url, f"Acme for {request.node.name}")


def created(tenant: Tenant, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = tenant.post(path, body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def error_fields(response: httpx.Response) -> list[str]:
    return sorted(d["field"] for d in response.json()["error"]["details"])


def test_a_plants_structure_from_creation_to_deletion(acme: Tenant) -> None:
    plant = created(acme, "/v1/plants", {"name": "Augsburg", "time_zone": "Europe/Berlin"})
    line = created(acme, "/v1/lines", {"plant_id": plant["id"], "name": "Assembly"})
    station = created(acme, "/v1/stations", {"line_id": line["id"], "name": "Press"})
    assert station["plant_id"] == plant["id"]

    assert acme.get(f"/v1/lines/{line['id']}").json() == line
    assert acme.get("/v1/lines", plant_id=plant["id"]).json()["items"] == [line]
    assert acme.get("/v1/stations", line_id=line["id"]).json()["items"] == [station]
    assert acme.get("/v1/stations", plant_id="no-such-plant").json()["items"] == []

    patched = acme.http.patch(f"/v1/plants/{plant['id']}", json={"location": "Hall 4"})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["name"], patched.json()["location"]) == ("Augsburg", "Hall 4")
    patched = acme.http.patch(f"/v1/stations/{station['id']}", json={"name": "Press 2"})
    assert (patched.json()["name"], patched.json()["description"]) == ("Press 2", "")

    assert acme.http.delete(f"/v1/plants/{plant['id']}").status_code == 409
    assert acme.http.delete(f"/v1/lines/{line['id']}").status_code == 409
    for path in (f"/v1/stations/{station['id']}", f"/v1/lines/{line['id']}"):
        deleted = acme.http.delete(path)
        assert (deleted.status_code, deleted.content) == (204, b"")
    assert acme.http.delete(f"/v1/plants/{plant['id']}").status_code == 204
    missing = acme.get(f"/v1/plants/{plant['id']}")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")


def test_refusals_say_what_and_where(acme: Tenant) -> None:
    plant = created(acme, "/v1/plants", {"name": "Bremen"})
    line = created(acme, "/v1/lines", {"plant_id": plant["id"], "name": "L1"})

    duplicate = acme.post("/v1/lines", {"plant_id": plant["id"], "name": "L1"})
    assert (duplicate.status_code, duplicate.json()["error"]["code"]) == (409, "already_exists")
    assert error_fields(duplicate) == ["name"]

    unknown_parent = acme.post("/v1/stations", {"line_id": "no-such-line", "name": "S"})
    assert (unknown_parent.status_code, error_fields(unknown_parent)) == (422, ["line_id"])

    bad_zone = acme.http.patch(f"/v1/plants/{plant['id']}", json={"time_zone": "Mars/Base"})
    assert (bad_zone.status_code, error_fields(bad_zone)) == (422, ["time_zone"])

    empty = acme.http.patch(f"/v1/lines/{line['id']}", json={})
    assert empty.status_code == 422, empty.text
    null = acme.http.patch(f"/v1/lines/{line['id']}", json={"name": None})
    assert (null.status_code, error_fields(null)) == (422, ["name"])
    unknown_field = acme.http.patch(f"/v1/lines/{line['id']}", json={"plant_id": "elsewhere"})
    assert (unknown_field.status_code, error_fields(unknown_field)) == (422, ["plant_id"])
    too_long = acme.post("/v1/plants", {"name": "x" * 201})
    assert (too_long.status_code, error_fields(too_long)) == (422, ["name"])

    blocked = acme.http.delete(f"/v1/plants/{plant['id']}")
    assert (blocked.status_code, blocked.json()["error"]["code"]) == (409, "failed_precondition")
    assert "still has lines" in blocked.json()["error"]["message"]


def test_lists_page_through_every_item(acme: Tenant) -> None:
    plant = created(acme, "/v1/plants", {"name": "Chemnitz"})
    names = [f"Line {n}" for n in range(5)]
    for name in names:
        created(acme, "/v1/lines", {"plant_id": plant["id"], "name": name})

    seen: list[str] = []
    token = ""
    while True:
        page = acme.get("/v1/lines", plant_id=plant["id"], page_size=2, page_token=token).json()
        seen += [item["name"] for item in page["items"]]
        token = page["next_page_token"]
        if not token:
            break

    assert seen == names


def test_tenants_and_roles_are_enforced(base_url: str, acme: Tenant) -> None:
    plant = created(acme, "/v1/plants", {"name": "Dresden"})
    line = created(acme, "/v1/lines", {"plant_id": plant["id"], "name": "L1"})
    globex = sign_up(base_url, "Globex for the tenancy test")

    assert globex.get(f"/v1/lines/{line['id']}").status_code == 404
    assert globex.http.patch(f"/v1/lines/{line['id']}", json={"name": "x"}).status_code == 404
    assert globex.http.delete(f"/v1/lines/{line['id']}").status_code == 404
    assert globex.get("/v1/lines").json()["items"] == []
    assert acme.get(f"/v1/lines/{line['id']}").json() == line

    key = acme.post("/v1/api-keys", {"name": "wall display", "role": "viewer"})
    assert key.status_code == 201, key.text
    viewer = Tenant(base_url, key.json()["secret"], acme.id)
    assert viewer.get(f"/v1/lines/{line['id']}").json() == line
    refused = viewer.http.patch(f"/v1/lines/{line['id']}", json={"name": "x"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "permission_denied")
    assert viewer.http.delete(f"/v1/lines/{line['id']}").status_code == 403


def test_the_api_documents_every_route(base_url: str) -> None:
    paths = httpx.get(f"{base_url}/openapi.json").json()["paths"]

    for resource in ("plants", "lines", "stations"):
        assert set(paths[f"/v1/{resource}"]) == {"get", "post"}
        one = paths[f"/v1/{resource}/{{{resource[:-1]}_id}}"]
        assert set(one) == {"get", "patch", "delete"}
        assert {"404", "409", "422"} <= set(one["patch"]["responses"])
        assert "204" in one["delete"]["responses"]
