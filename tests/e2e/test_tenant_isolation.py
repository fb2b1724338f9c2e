"""Walks every route of the OpenAPI document with another tenant's credential and
with none, aimed at one tenant's resources: nothing leaks, nothing lands."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.support.api import sign_up
from tests.support.platform import RunningPlatform
from tests.support.world import World, onboard

PUBLIC = {("post", "/v1/tenants"), ("get", "/healthz"), ("get", "/readyz")}
# Path parameters that name a resource of the tenant under attack.
PARAMETER_ALIASES = {"grant_id": "grant_id", "key_id": "key_id"}


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in schema:  # Optional[X]: take X
        schema = next(s for s in schema["anyOf"] if s.get("type") != "null")
        return resolve(spec, schema)
    return schema


def sample(spec: dict[str, Any], schema: dict[str, Any], name: str, ids: dict[str, str]) -> Any:
    """A plausible value for ``name``, using the victim's ids wherever an id fits."""
    schema = resolve(spec, schema)
    if name in ids:
        return ids[name]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        wanted = set(schema.get("required", [])) or set(list(schema.get("properties", {}))[:1])
        return {
            key: sample(spec, sub, key, ids)
            for key, sub in schema.get("properties", {}).items()
            if key in wanted or key in ids
        }
    if kind == "array":
        return [sample(spec, schema.get("items", {}), name, ids)]
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return False
    if schema.get("format") == "date-time":
        return (datetime.now(UTC) + timedelta(days=1)).isoformat()
    return f"probe-{uuid.uuid4().hex[:8]}"


# The caller leaving the platform ends its own access: walked last.
LEAVING = ("delete", "/v1/tenant")


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "patch", "put", "delete")
    ]
    return sorted(found, key=lambda op: (op[0], op[1]) == LEAVING)


def request_for(
    spec: dict[str, Any], path: str, operation: dict[str, Any], ids: dict[str, str]
) -> tuple[str, Any]:
    url = re.sub(r"\{(\w+)\}", lambda m: ids[PARAMETER_ALIASES.get(m.group(1), m.group(1))], path)
    # Required query parameters too, so that the request gets past validation.
    now = datetime.now(UTC)
    times = {"start": (now - timedelta(hours=1)).isoformat(), "end": now.isoformat()}
    query = {
        p["name"]: times.get(p["name"]) or sample(spec, p["schema"], p["name"], ids)
        for p in operation.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }
    if query:
        url = f"{url}?{urlencode(query)}"
    body = None
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content:
        body = sample(spec, content["schema"], "", ids)
    return url, body


def snapshot(victim: World) -> str:
    """Everything the victim can read about itself, as one comparable text."""
    paths = [
        "/v1/tenant",
        "/v1/plants",
        "/v1/lines",
        "/v1/stations",
        "/v1/equipment-models",
        "/v1/equipment",
        "/v1/maintenance-tickets",
        "/v1/api-keys",
        "/v1/access-grants",
        f"/v1/equipment/{victim.ids['equipment_id']}/credentials",
        f"/v1/equipment/{victim.ids['equipment_id']}/commands",
        f"/v1/equipment/{victim.ids['equipment_id']}/anomaly-episodes",
    ]
    return json.dumps(
        {p: victim.tenant.get(p, page_size=500).json() for p in paths}, sort_keys=True
    )


def test_no_route_lets_another_tenant_or_nobody_reach_a_tenants_data(
    distributed_platform: RunningPlatform,
) -> None:
    base = distributed_platform.base_url
    victim, intruder = onboard(base, "Victim"), onboard(base, "Intruder")
    maker = sign_up(base, f"Maker {uuid.uuid4().hex[:6]}", kind="oem")
    granted = victim.tenant.post(
        "/v1/access-grants",
        {
            "grantee_tenant_id": maker.id,
            "equipment_id": victim.ids["equipment_id"],
            "scopes": ["twin:read"],
        },
    )
    assert granted.status_code == 201
    victim.ids["grant_id"] = granted.json()["id"]
    victim.ids["grantee_tenant_id"] = maker.id
    command = victim.tenant.post(
        f"/v1/equipment/{victim.ids['equipment_id']}/commands",
        {"name": "set_speed", "parameters": {"rpm": 1000}, "timeout_s": 3600},
    )
    assert command.status_code == 202, command.text
    victim.ids["command_id"] = command.json()["id"]
    before = snapshot(victim)
    victim_ids = {v for k, v in victim.ids.items() if k != "grantee_tenant_id"} | {victim.tenant.id}

    spec = httpx.get(f"{base}/openapi.json").json()
    walked = set()
    for method, path, operation in operations(spec):
        if (method, path) in PUBLIC:
            continue
        url, body = request_for(spec, path, operation, victim.ids)
        anonymous = httpx.request(method.upper(), f"{base}{url}", json=body)
        assert anonymous.status_code == 401, f"{method} {path} without credential"
        assert anonymous.json()["error"]["code"] == "unauthenticated"

        headers = {}
        if any("DeviceCredential" in scheme for scheme in operation.get("security", [])):
            # A device route: the intruder's own machine speaks (it cannot name another).
            device_secret = next(iter(intruder.device_secrets.values()))
            headers = {"Authorization": f"Bearer {device_secret}"}
        answer = intruder.tenant.http.request(method.upper(), url, json=body, headers=headers)
        where = f"{method.upper()} {url} {body} -> {answer.status_code} {answer.text[:300]}"
        assert answer.status_code < 500, where
        if "{" in path:
            assert answer.status_code == 404, where
        elif answer.status_code >= 400:
            assert answer.status_code in (404, 409, 422), where
        if path == "/v1/audit-events":
            # The intruder's own log records its own attempts (with the ids it sent).
            actors = {event["actor_tenant_id"] for event in answer.json()["items"]}
            assert actors == {intruder.tenant.id}, where
        else:
            # An id the intruder sent may come back in the error message; others must not.
            sent = f"{url} {json.dumps(body)}"
            leaked = {i for i in victim_ids if i in answer.text and i not in sent}
            assert not leaked, f"{where} leaked {leaked}"
        walked.add((method, path))

    every = {(m, p) for m, p, _ in operations(spec)} - PUBLIC
    assert walked == every
    assert len(walked) >= 30, "the walk covered suspiciously few routes"
    assert snapshot(victim) == before, "the intruder changed the victim's data"
