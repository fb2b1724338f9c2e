"""Every request example of the OpenAPI document, as Swagger UI fills it in, is
accepted: sent in dependency order against a running platform, with the ids of
what the earlier requests created."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support.api import sign_up
from tests.support.examples import request_example
from tests.support.platform import RunningPlatform
from tests.support.waiting import wait_for

ASSIGN_REASON = "/v1/downtimes/{downtime_id}:assign-reason"
# Steps without a body, sent for the examples that follow them.
BODILESS = {("post", "/v1/work-orders/{work_order_id}:release")}
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
            ids[creates] = answer["id"]
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
