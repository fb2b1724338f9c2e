"""Every request example of the OpenAPI document, as Swagger UI fills it in, is
accepted: sent in dependency order against a running platform, with the ids of
what the earlier requests created."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx

from tests.support.api import sign_up
from tests.support.examples import request_example
from tests.support.platform import RunningPlatform
from tests.support.waiting import wait_for

ASSIGN_REASON = "/v1/downtimes/{downtime_id}:assign-reason"
SHIP = "/v1/orders/{order_id}:ship"
ACCEPT = "/v1/quotes/{quote_id}:accept"
# Steps without a body, sent for the examples that follow them.
BODILESS = {("post", "/v1/work-orders/{work_order_id}:release"), ("post", ACCEPT)}
# (method, path, who sends it, the id its answer creates)
OPERATIONS = [
    ("post", "/v1/tenants", "anonymous", ""),
    ("post", "/v1/api-keys", "owner", ""),
    ("post", "/v1/plants", "owner", "plant_id"),
    ("patch", "/v1/plants/{plant_id}", "owner", ""),
    ("put", "/v1/plants/{plant_id}/calendar", "owner", ""),
    ("post", "/v1/lines", "owner", "line_id"),
    ("patch", "/v1/lines/{line_id}", "owner", ""),
    ("post", "/v1/stations", "owner", "station_id"),
    ("patch", "/v1/stations/{station_id}", "owner", ""),
    ("post", "/v1/planned-downtimes", "owner", ""),
    ("post", "/v1/equipment-models", "owner", "equipment_model_id"),
    ("patch", "/v1/equipment-models/{equipment_model_id}", "owner", ""),
    ("put", "/v1/equipment-models/{equipment_model_id}/state-mapping", "owner", ""),
    ("post", "/v1/equipment", "owner", "equipment_id"),
    ("patch", "/v1/equipment/{equipment_id}", "owner", ""),
    ("post", "/v1/device/telemetry", "device", ""),
    ("post", "/v1/products", "owner", "product_id"),
    ("post", "/v1/work-orders", "owner", "work_order_id"),
    ("post", "/v1/work-orders/{work_order_id}:cancel", "owner", ""),
    ("post", "/v1/work-orders", "owner", "work_order_id"),
    ("post", "/v1/work-orders/{work_order_id}:release", "owner", ""),
    ("post", "/v1/plants/{plant_id}/schedule:quote", "owner", ""),
    ("post", "/v1/work-orders/{work_order_id}/operations/{sequence}:start", "owner", ""),
    ("put", "/v1/work-orders/{work_order_id}/operations/{sequence}/counts", "owner", ""),
    ("post", "/v1/quality-records", "owner", ""),
    ("post", "/v1/product-families", "owner", "family_id"),
    ("put", "/v1/product-families/{family_id}", "owner", ""),
    ("post", "/v1/product-families/{family_id}:configure", "owner", ""),
    ("post", "/v1/product-families/{family_id}:complete", "owner", ""),
    ("post", "/v1/quotes", "owner", "quote_id"),
    ("post", ACCEPT, "owner", "order_id"),
    ("post", "/v1/orders/{order_id}:cancel", "owner", ""),
    ("post", SHIP, "owner", ""),
    ("post", "/v1/downtime-reasons", "owner", ""),
    ("post", ASSIGN_REASON, "owner", ""),
    ("post", "/v1/access-grants", "owner", ""),
    ("post", "/v1/maintenance-tickets", "owner", "ticket_id"),
    ("patch", "/v1/maintenance-tickets/{ticket_id}", "owner", ""),
    ("post", "/v1/maintenance-tickets/{ticket_id}/notes", "owner", ""),
    ("post", "/v1/maintenance-tickets/{ticket_id}:book", "owner", ""),
    ("post", "/v1/maintenance-tickets/{ticket_id}:transition", "owner", ""),
    ("post", "/v1/equipment/{equipment_id}/commands", "owner", ""),
    ("patch", "/v1/equipment/{equipment_id}/twin", "owner", ""),
    ("patch", "/v1/granted-equipment/{equipment_id}/twin", "maker", ""),
    ("post", "/v1/granted-equipment/{equipment_id}/commands", "maker", ""),
    ("post", "/v1/jobs", "owner", ""),
    ("post", "/v1/granted-jobs", "maker", ""),
    ("post", "/v1/alarm-rules", "owner", ""),
    # Last: no later example causes an event the example webhook would be sent.
    ("post", "/v1/webhooks", "owner", ""),
]


def _with_ids(body: Any, ids: dict[str, str]) -> Any:
    if isinstance(body, dict):
        return {
            key: ids[key] if key.endswith("_id") and key in ids else _with_ids(value, ids)
            for key, value in body.items()
        }
    if isinstance(body, list):
        return [_with_ids(item, ids) for item in body]
    return body


def _a_stop(clients: dict[str, httpx.Client], ids: dict[str, str]) -> str:
    """The id of a stop of a new machine at the example station: cold for five minutes."""
    machine = clients["owner"].post(
        "/v1/equipment",
        json={
            "equipment_model_id": ids["equipment_model_id"],
            "serial_number": "STOPPED-1",
            "station_id": ids["station_id"],
        },
    )
    assert machine.status_code == 201, machine.text
    issued = clients["owner"].post(f"/v1/equipment/{machine.json()['id']}/credentials", json={})
    now_ms = int(time.time() * 1000)
    stamps = [now_ms - 300_000, now_ms - 250_000, now_ms - 200_000, now_ms - 150_000]
    batch = {
        "sequence_id": 1,
        "series": [{"signal": "spindle_temperature", "timestamps_ms": stamps, "values": [20] * 4}],
    }
    sent = clients["owner"].post(
        "/v1/device/telemetry",
        json=batch,
        headers={"Authorization": f"Bearer {issued.json()['secret']}"},
    )
    assert (sent.status_code, sent.json().get("refusals")) == (200, []), sent.text
    now = datetime.now(UTC)
    query = {
        "station_id": ids["station_id"],
        "start_time": (now - timedelta(hours=1)).isoformat(),
        "end_time": (now + timedelta(hours=1)).isoformat(),
    }

    def stop() -> str | None:
        items = clients["owner"].get("/v1/downtimes", params=query).json()["items"]
        return str(items[0]["id"]) if items else None

    return wait_for(stop, timeout_s=30, interval_s=0.5, what="a stop of the cold machine")


def _a_completed_order(
    document: dict[str, Any], clients: dict[str, httpx.Client], ids: dict[str, str]
) -> str:
    """The id of a completed order of the example family, without the recipes (no
    machine at the example stations acknowledges one), made at a station of its own."""
    owner = clients["owner"]

    def sent(method: str, path: str, body: dict[str, Any], status: int) -> dict[str, Any]:
        response = owner.request(method, path, json=body)
        assert response.status_code == status, f"{method} {path}: {response.text}"
        answer: dict[str, Any] = response.json()
        return answer

    family = _with_ids(request_example(document, "post", "/v1/product-families"), ids)
    family["name"] += " without recipes"
    for step in family["routing"]:
        step.pop("recipe", None)
    quote = _with_ids(request_example(document, "post", "/v1/quotes"), ids)
    quote["family_id"] = sent("POST", "/v1/product-families", family, 201)["id"]
    quote_id = sent("POST", "/v1/quotes", quote, 201)["id"]
    order_id = str(sent("POST", f"/v1/quotes/{quote_id}:accept", {}, 201)["order"]["id"])
    capabilities = sorted({step["capability"] for step in family["routing"]})
    station = {"line_id": ids["line_id"], "name": "Shipping cell", "capabilities": capabilities}
    station_id = sent("POST", "/v1/stations", station, 201)["id"]

    def order() -> dict[str, Any]:
        answer: dict[str, Any] = owner.get(f"/v1/orders/{order_id}").json()
        return answer

    def released() -> str | None:
        current = order()
        return str(current["work_order_id"]) if current["state"] == "scheduled" else None

    work_order_id = wait_for(released, timeout_s=60, interval_s=0.2, what="the work order")
    operations = f"/v1/work-orders/{work_order_id}/operations"
    made = owner.get(f"/v1/work-orders/{work_order_id}").json()

    def done(sequence: int) -> bool:
        current = owner.get(f"/v1/work-orders/{work_order_id}").json()
        return bool(current["operations"][sequence - 1]["state"] == "done")

    for operation in made["operations"]:
        sequence = operation["sequence"]
        sent("POST", f"{operations}/{sequence}:start", {"station_id": station_id}, 200)
        # A customer's order: the operation is done once its good count is the quantity.
        counts = {"good_quantity": made["quantity"], "scrap_quantity": 0}
        sent("PUT", f"{operations}/{sequence}/counts", counts, 200)
        wait_for(partial(done, sequence), timeout_s=30, what=f"operation {sequence} done")
    wait_for(lambda: order()["state"] == "completed", timeout_s=60, what="the order completed")
    return order_id


def test_every_request_example_is_accepted(embedded_platform: RunningPlatform) -> None:
    base = embedded_platform.base_url
    document = httpx.get(f"{base}/openapi.json").json()
    documented = {
        (method, path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    }
    assert documented == {(method, path) for method, path, _, _ in OPERATIONS} - BODILESS

    maker = sign_up(base, "Maker Examples", kind="oem")
    ids: dict[str, str] = {"grantee_tenant_id": maker.id, "sequence": "1"}
    clients: dict[str, httpx.Client] = {
        "anonymous": httpx.Client(base_url=base, timeout=10),
        "maker": maker.http,
    }
    failures: dict[str, str] = {}
    for method, path, sender, creates in OPERATIONS:
        if path == ASSIGN_REASON:
            # No example makes a machine stop: one stops for a while, as machines do.
            ids["downtime_id"] = _a_stop(clients, ids)
        if path == SHIP:
            # The example order was cancelled; only a completed one ships.
            ids["order_id"] = _a_completed_order(document, clients, ids)
        body = None
        if (method, path) not in BODILESS:
            body = _with_ids(request_example(document, method, path), ids)
        response = clients[sender].request(method, path.format(**ids), json=body)
        name = f"{method} {path}"
        answer = response.json() if response.status_code < 300 else {}
        # A telemetry batch answers 200 with the points it refused.
        if response.status_code >= 300 or answer.get("refusals"):
            failures[name] = f"{response.status_code} {response.text} for {body}"
        if path == "/v1/tenants":
            secret = answer.get("owner_key", {}).get("secret", "")
            clients["owner"] = httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=10
            )
        if creates:
            # Accepting a quote answers the order it made, with its key.
            ids[creates] = answer["order"]["id"] if path == ACCEPT else answer["id"]
        if creates == "equipment_id":
            issued = clients["owner"].post(f"/v1/equipment/{answer['id']}/credentials", json={})
            clients["device"] = httpx.Client(
                base_url=base,
                headers={"Authorization": f"Bearer {issued.json()['secret']}"},
                timeout=10,
            )
    assert not failures, "\n".join(f"{name}: {why}" for name, why in failures.items())


def test_each_error_status_shows_its_own_code(embedded_platform: RunningPlatform) -> None:
    document = httpx.get(f"{embedded_platform.base_url}/openapi.json").json()
    expected = {
        "400": "invalid_argument",
        "401": "unauthenticated",
        "403": "permission_denied",
        "404": "not_found",
        "409": "already_exists",
        "413": "payload_too_large",
        "422": "invalid_argument",
        "429": "resource_exhausted",
        "503": "unavailable",
    }
    shown: dict[str, set[str]] = {}
    for item in document["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if status in expected and "content" in response:
                    example = response["content"]["application/json"]["example"]
                    shown.setdefault(status, set()).add(example["error"]["code"])
    assert shown == {status: {code} for status, code in expected.items()}


def test_partial_updates_document_no_empty_body_or_null_they_refuse(
    embedded_platform: RunningPlatform,
) -> None:
    document = httpx.get(f"{embedded_platform.base_url}/openapi.json").json()
    for path, item in document["paths"].items():
        if "patch" not in item:
            continue
        schema = item["patch"]["requestBody"]["content"]["application/json"]["schema"]
        body = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        assert body["minProperties"] == 1, f"PATCH {path} accepts an empty update"
        for name, field in body["properties"].items():
            assert {"type": "null"} not in field.get("anyOf", []), f"PATCH {path}: {name}"
