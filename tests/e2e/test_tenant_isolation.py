"""Walks every route of the OpenAPI document with another tenant's credential and
with none, aimed at one tenant's resources: nothing leaks, nothing lands. Walks
them again with every role below the one each needs (403), and the equipment
makers' grant routes with every role of the maker (the role must suffice as in
the maker's own tenant, and the grant must hold the scope)."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.support.api import Tenant, sign_up
from tests.support.platform import RunningPlatform
from tests.support.waiting import wait_for
from tests.support.world import World, onboard, order_customized

# The order status opens with an order key alone (tests/e2e/test_order_status.py).
PUBLIC = {
    ("post", "/v1/tenants"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/v1/order-status"),
}
DEVICE = {("post", "/v1/device/telemetry")}
ROLES = ["viewer", "operator", "admin", "owner"]
GRANTED = "/v1/granted-equipment"

# The least role each route needs in the caller's own tenant; a grant route needs
# what the same route needs there (its path without "granted-").
REQUIRED_ROLE = {
    ("get", "/v1/tenant"): "viewer",
    ("delete", "/v1/tenant"): "owner",
    ("post", "/v1/tokens"): "viewer",
    ("post", "/v1/api-keys"): "admin",
    ("get", "/v1/api-keys"): "admin",
    ("post", "/v1/api-keys/{key_id}:rotate"): "admin",
    ("post", "/v1/api-keys/{key_id}:revoke"): "admin",
    ("get", "/v1/audit-events"): "admin",
    ("post", "/v1/access-grants"): "admin",
    ("get", "/v1/access-grants"): "admin",
    ("post", "/v1/access-grants/{grant_id}:revoke"): "admin",
    ("post", "/v1/equipment/{equipment_id}/credentials"): "admin",
    ("get", "/v1/equipment/{equipment_id}/credentials"): "admin",
    ("post", "/v1/equipment/{equipment_id}/credentials/{credential_id}:rotate"): "admin",
    ("post", "/v1/equipment/{equipment_id}/credentials/{credential_id}:revoke"): "admin",
    **{
        (method, path): "admin"
        for kind, one in [
            ("plants", "plant_id"),
            ("lines", "line_id"),
            ("stations", "station_id"),
            ("equipment-models", "equipment_model_id"),
            ("equipment", "equipment_id"),
        ]
        for method, path in [
            ("post", f"/v1/{kind}"),
            ("patch", f"/v1/{kind}/{{{one}}}"),
            ("delete", f"/v1/{kind}/{{{one}}}"),
        ]
    },
    **{
        ("get", path): "viewer"
        for kind, one in [
            ("plants", "plant_id"),
            ("lines", "line_id"),
            ("stations", "station_id"),
            ("equipment-models", "equipment_model_id"),
            ("equipment", "equipment_id"),
        ]
        for path in [f"/v1/{kind}", f"/v1/{kind}/{{{one}}}"]
    },
    ("post", "/v1/equipment/{equipment_id}/commands"): "operator",
    ("get", "/v1/equipment/{equipment_id}/commands"): "viewer",
    ("get", "/v1/commands/{command_id}"): "viewer",
    ("post", "/v1/commands/{command_id}:cancel"): "operator",
    ("post", "/v1/jobs"): "operator",
    ("get", "/v1/jobs"): "viewer",
    ("get", "/v1/jobs/{job_id}"): "viewer",
    ("get", "/v1/jobs/{job_id}/executions"): "viewer",
    ("post", "/v1/jobs/{job_id}:cancel"): "operator",
    # A maker's own jobs over granted machines (in the maker's tenant).
    ("post", "/v1/granted-jobs"): "operator",
    ("get", "/v1/granted-jobs"): "viewer",
    ("get", "/v1/granted-jobs/{job_id}"): "viewer",
    ("get", "/v1/granted-jobs/{job_id}/executions"): "viewer",
    ("post", "/v1/granted-jobs/{job_id}:cancel"): "operator",
    ("get", "/v1/equipment/{equipment_id}/twin"): "viewer",
    ("get", "/v1/twins"): "viewer",
    ("patch", "/v1/equipment/{equipment_id}/twin"): "operator",
    ("get", "/v1/equipment/{equipment_id}/telemetry"): "viewer",
    ("get", "/v1/equipment/{equipment_id}/telemetry/aggregates"): "viewer",
    ("get", "/v1/equipment/{equipment_id}/telemetry:export"): "viewer",
    ("get", "/v1/equipment/{equipment_id}/telemetry/aggregates:export"): "viewer",
    ("get", "/v1/equipment/{equipment_id}/anomaly-episodes"): "viewer",
    ("get", "/v1/lines/{line_id}/anomaly-episodes"): "viewer",
    ("get", "/v1/plants/{plant_id}/anomaly-episodes"): "viewer",
    ("post", "/v1/equipment/{equipment_id}/anomaly-model:reset"): "operator",
    ("post", "/v1/maintenance-tickets"): "operator",
    ("get", "/v1/maintenance-tickets"): "viewer",
    ("get", "/v1/maintenance-tickets/{ticket_id}"): "viewer",
    ("patch", "/v1/maintenance-tickets/{ticket_id}"): "operator",
    ("post", "/v1/maintenance-tickets/{ticket_id}:transition"): "operator",
    ("post", "/v1/maintenance-tickets/{ticket_id}:book"): "operator",
    ("post", "/v1/maintenance-tickets/{ticket_id}/notes"): "operator",
    ("get", "/v1/maintenance-tickets/{ticket_id}/history"): "viewer",
    ("get", "/v1/maintenance-tickets/{ticket_id}/suggested-windows"): "viewer",
    ("put", "/v1/plants/{plant_id}/calendar"): "admin",
    ("get", "/v1/plants/{plant_id}/calendar"): "viewer",
    ("get", "/v1/plants/{plant_id}/shifts"): "viewer",
    ("post", "/v1/planned-downtimes"): "admin",
    ("get", "/v1/planned-downtimes"): "viewer",
    ("delete", "/v1/planned-downtimes/{planned_downtime_id}"): "admin",
    ("post", "/v1/products"): "admin",
    ("get", "/v1/products"): "viewer",
    ("get", "/v1/products/{product_id}"): "viewer",
    ("put", "/v1/equipment-models/{equipment_model_id}/state-mapping"): "admin",
    ("get", "/v1/equipment-models/{equipment_model_id}/state-mapping"): "viewer",
    ("post", "/v1/work-orders"): "operator",
    ("get", "/v1/work-orders"): "viewer",
    ("get", "/v1/work-orders:export"): "viewer",
    ("get", "/v1/work-orders/{work_order_id}"): "viewer",
    ("post", "/v1/work-orders/{work_order_id}:release"): "operator",
    ("post", "/v1/work-orders/{work_order_id}:cancel"): "operator",
    ("post", "/v1/work-orders/{work_order_id}/operations/{sequence}:start"): "operator",
    ("post", "/v1/work-orders/{work_order_id}/operations/{sequence}:complete"): "operator",
    ("put", "/v1/work-orders/{work_order_id}/operations/{sequence}/counts"): "operator",
    ("post", "/v1/quality-records"): "operator",
    ("get", "/v1/quality-records"): "viewer",
    ("get", "/v1/stations/{station_id}/states"): "viewer",
    ("post", "/v1/downtime-reasons"): "admin",
    ("get", "/v1/downtime-reasons"): "viewer",
    ("get", "/v1/downtimes"): "viewer",
    ("post", "/v1/downtimes/{downtime_id}:assign-reason"): "operator",
    ("get", "/v1/oee"): "viewer",
    ("get", "/v1/oee:export"): "viewer",
    ("get", "/v1/plants/{plant_id}/schedule"): "viewer",
    ("post", "/v1/plants/{plant_id}/schedule:refresh"): "operator",
    ("post", "/v1/plants/{plant_id}/schedule:quote"): "viewer",
    ("get", "/v1/work-orders/{work_order_id}/eta"): "viewer",
    ("post", "/v1/product-families"): "admin",
    ("get", "/v1/product-families"): "viewer",
    ("get", "/v1/product-families/{family_id}"): "viewer",
    ("put", "/v1/product-families/{family_id}"): "admin",
    ("post", "/v1/product-families/{family_id}:configure"): "viewer",
    ("post", "/v1/product-families/{family_id}:complete"): "viewer",
    ("post", "/v1/quotes"): "operator",
    ("get", "/v1/quotes"): "viewer",
    ("get", "/v1/quotes/{quote_id}"): "viewer",
    ("post", "/v1/quotes/{quote_id}:accept"): "operator",
    ("get", "/v1/orders"): "viewer",
    ("get", "/v1/orders/{order_id}"): "viewer",
    ("post", "/v1/orders/{order_id}:cancel"): "operator",
    ("post", "/v1/orders/{order_id}:ship"): "operator",
    ("get", "/v1/orders/{order_id}/genealogy"): "viewer",
    # Webhooks and e-mail: integration settings, as the API keys are.
    ("post", "/v1/webhooks"): "admin",
    ("get", "/v1/webhooks"): "admin",
    ("get", "/v1/webhooks/{webhook_id}"): "admin",
    ("delete", "/v1/webhooks/{webhook_id}"): "admin",
    ("get", "/v1/webhooks/{webhook_id}/deliveries"): "admin",
    ("post", "/v1/alarm-rules"): "operator",
    ("get", "/v1/alarm-rules"): "viewer",
    ("get", "/v1/alarm-rules/{rule_id}"): "viewer",
    ("delete", "/v1/alarm-rules/{rule_id}"): "operator",
    ("get", "/v1/alarms"): "viewer",
    ("get", "/v1/alarms:export"): "viewer",
    ("get", "/v1/alarms/{alarm_id}"): "viewer",
    ("post", "/v1/alarms/{alarm_id}:acknowledge"): "operator",
    ("post", "/v1/alarms/{alarm_id}:clear"): "operator",
}
# The scope a grant must hold for each grant route on one machine.
GRANT_SCOPE = {
    f"{GRANTED}/{{equipment_id}}": "twin:read",
    f"{GRANTED}/{{equipment_id}}/twin": "twin:read",
    f"{GRANTED}/{{equipment_id}}/anomaly-episodes": "twin:read",
    f"{GRANTED}/{{equipment_id}}/telemetry": "telemetry:read",
    f"{GRANTED}/{{equipment_id}}/telemetry/aggregates": "telemetry:read",
    f"{GRANTED}/{{equipment_id}}/telemetry:export": "telemetry:read",
    f"{GRANTED}/{{equipment_id}}/telemetry/aggregates:export": "telemetry:read",
    f"{GRANTED}/{{equipment_id}}/commands": "commands:send",
    f"{GRANTED}/{{equipment_id}}/commands/{{command_id}}": "commands:send",
    f"{GRANTED}/{{equipment_id}}/commands/{{command_id}}:cancel": "commands:send",
}
# Grant routes with no route of the same path in the customer's own tenant.
GRANTED_ONLY_ROLE = {
    ("get", f"{GRANTED}/{{equipment_id}}/commands/{{command_id}}"): "viewer",
    ("post", f"{GRANTED}/{{equipment_id}}/commands/{{command_id}}:cancel"): "operator",
}
# Where a method of a grant route needs another scope than the path's.
GRANT_METHOD_SCOPE = {("patch", f"{GRANTED}/{{equipment_id}}/twin"): "config:write"}
# Path parameters that name a resource of the tenant under attack.
PARAMETER_ALIASES = {"grant_id": "grant_id", "key_id": "key_id"}
# Path parameters that are no id: the same for every tenant.
PATH_VALUES = {"sequence": "1"}
# Optional query parameters aimed at the victim too: a filter or scope naming
# another tenant's resource must find nothing of it.
AIMED_QUERIES = {
    "/v1/work-orders": "plant_id",
    "/v1/work-orders:export": "plant_id",
    "/v1/quality-records": "work_order_id",
    "/v1/downtimes": "station_id",
    "/v1/oee": "station_id",
    "/v1/oee:export": "station_id",
    "/v1/alarms": "equipment_id",
    "/v1/alarms:export": "equipment_id",
}


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
    if "pattern" in schema and "examples" in schema:
        # A placeholder would not match the pattern; the documented example does.
        return schema["examples"][0]
    kind = schema.get("type")
    if kind == "object":
        wanted = set(schema.get("required", [])) or set(list(schema.get("properties", {}))[:1])
        return {
            key: sample(spec, sub, key, ids)
            for key, sub in schema.get("properties", {}).items()
            if key in wanted or key in ids
        }
    if kind == "array":
        # A list of ids (equipment_ids) holds the victim's id of that kind (equipment_id).
        return [sample(spec, schema.get("items", {}), name.removesuffix("s"), ids)]
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
    values = PATH_VALUES | ids
    url = re.sub(
        r"\{(\w+)\}", lambda m: values[PARAMETER_ALIASES.get(m.group(1), m.group(1))], path
    )
    # Required query parameters too, so that the request gets past validation.
    now = datetime.now(UTC)
    start, end = (now - timedelta(hours=1)).isoformat(), now.isoformat()
    times = {"start": start, "end": end, "start_time": start, "end_time": end}
    query = {
        p["name"]: times.get(p["name"]) or sample(spec, p["schema"], p["name"], ids)
        for p in operation.get("parameters", [])
        if p["in"] == "query" and (p.get("required") or AIMED_QUERIES.get(path) == p["name"])
    }
    if query:
        url = f"{url}?{urlencode(query, doseq=True)}"
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
        "/v1/jobs",
        f"/v1/jobs/{victim.ids['job_id']}/executions",
        f"/v1/maintenance-tickets/{victim.ids['ticket_id']}",
        f"/v1/maintenance-tickets/{victim.ids['ticket_id']}/history",
        f"/v1/equipment/{victim.ids['equipment_id']}/anomaly-episodes",
        f"/v1/plants/{victim.ids['plant_id']}/calendar",
        "/v1/products",
        f"/v1/equipment-models/{victim.ids['equipment_model_id']}/state-mapping",
        "/v1/work-orders",
        "/v1/quality-records",
        "/v1/downtime-reasons",
        "/v1/product-families",
        "/v1/quotes",
        "/v1/orders",
        "/v1/webhooks",
        f"/v1/webhooks/{victim.ids['webhook_id']}/deliveries",
        "/v1/alarm-rules",
        "/v1/alarms",
    ]
    views = {p: victim.tenant.get(p, page_size=500).json() for p in paths}
    # The platform resends a command the machine has not confirmed: its count of sends moves.
    for command in views[f"/v1/equipment/{victim.ids['equipment_id']}/commands"]["items"]:
        command.pop("attempts")
    views["planned downtime"] = victim.tenant.get(
        "/v1/planned-downtimes", plant_id=victim.ids["plant_id"], page_size=500
    ).json()
    # A stop's times move while it lasts, and more stops follow; why it happened stays.
    now = datetime.now(UTC)
    stops = victim.tenant.get(
        "/v1/downtimes",
        station_id=victim.ids["station_id"],
        start_time=(now - timedelta(days=1)).isoformat(),
        end_time=(now + timedelta(hours=1)).isoformat(),
        page_size=500,
    ).json()["items"]
    views["stop reason"] = [
        (d["reason_code"], d["reason_actor"]) for d in stops if d["id"] == victim.ids["downtime_id"]
    ]
    views["plan"] = planned_work(victim)
    return json.dumps(views, sort_keys=True)


def planned_work(victim: World) -> list[Any]:
    """What the victim's plan holds; its times move with the running operation's pace."""
    plan = victim.tenant.get(f"/v1/plants/{victim.ids['plant_id']}/schedule").json()
    return [
        sorted((o["work_order_id"], o["sequence"], o["station_id"]) for o in plan["operations"]),
        sorted(e["work_order_id"] for e in plan["etas"]),
        sorted(u["work_order_id"] for u in plan["unscheduled"]),
    ]


def required_role(method: str, path: str) -> str:
    if (method, path) in GRANTED_ONLY_ROLE:
        return GRANTED_ONLY_ROLE[(method, path)]
    return REQUIRED_ROLE[(method, path.replace(GRANTED, "/v1/equipment"))]


def grant(owner: World, maker: Tenant, machine: str, scopes: list[str]) -> str:
    granted = owner.tenant.post(
        "/v1/access-grants",
        {"grantee_tenant_id": maker.id, "equipment_id": owner.ids[machine], "scopes": scopes},
    )
    assert granted.status_code == 201, granted.text
    return str(granted.json()["id"])


def role_keys(tenant: Tenant, base: str) -> dict[str, Tenant]:
    """A client of the tenant for every role (the owner's key is the tenant's own)."""
    keys = {"owner": tenant}
    for role in ROLES[:-1]:
        issued = tenant.post("/v1/api-keys", {"name": role, "role": role})
        assert issued.status_code == 201, issued.text
        keys[role] = Tenant(base, issued.json()["secret"], tenant.id)
    return keys


def attacked(base: str) -> World:
    """A tenant with one of everything, a grant and a command included."""
    victim = onboard(base, "Victim")
    maker = sign_up(base, f"Maker {uuid.uuid4().hex[:6]}", kind="oem")
    victim.ids["grant_id"] = grant(victim, maker, "equipment_id", ["twin:read"])
    victim.ids["grantee_tenant_id"] = maker.id
    command = victim.tenant.post(
        f"/v1/equipment/{victim.ids['equipment_id']}/commands",
        {"name": "set_speed", "parameters": {"rpm": 1000}, "timeout_s": 3600},
    )
    assert command.status_code == 202, command.text
    victim.ids["command_id"] = command.json()["id"]
    job = victim.tenant.post(
        "/v1/jobs",
        {
            "target": {"equipment_ids": [victim.ids["equipment_id"]]},
            "command": {"name": "set_speed", "timeout_s": 3600},
            "abort_criteria": {"failed_percent": 50},
        },
    )
    assert job.status_code == 201, job.text
    victim.ids["job_id"] = job.json()["id"]
    # Cancelled, so that the rollout changes nothing the snapshot compares.
    cancelled = victim.tenant.post(f"/v1/jobs/{victim.ids['job_id']}:cancel", {})
    assert cancelled.status_code == 200, cancelled.text
    produce(victim)
    order_customized(victim)
    # A receiver that refuses connections, for events the walk never causes.
    webhook = victim.tenant.post(
        "/v1/webhooks", {"url": "http://127.0.0.1:9/victim", "event_types": ["fleet_job.aborted"]}
    )
    assert webhook.status_code == 201, webhook.text
    victim.ids["webhook_id"] = webhook.json()["id"]
    raise_alarm(victim)
    # The snapshot compares the plan: it holds the customized order's work order too.
    customized = victim.tenant.get(f"/v1/orders/{victim.ids['order_id']}").json()
    wait_for(
        lambda: customized["work_order_id"] in planned_work(victim)[1],
        timeout_s=30,
        interval_s=0.5,
        what="the customized work order planned",
    )
    return victim


def raise_alarm(victim: World) -> None:
    """An alarm rule of the victim's, and an active alarm of it."""
    machine = victim.ids["equipment_id"]
    rule = victim.tenant.post(
        "/v1/alarm-rules",
        {
            "name": "Hot",
            "scope": {"equipment_id": machine},
            "condition": {"threshold": {"signal": "spindle_temperature", "threshold": 90}},
        },
    )
    assert rule.status_code == 201, rule.text
    victim.ids["rule_id"] = rule.json()["id"]

    def hot_point() -> list[dict[str, Any]]:
        # Sent again until it is judged: a rule counts from at most a second on.
        victim.tenant.http.post(
            "/v1/device/telemetry",
            json={
                "sequence_id": time.time_ns(),
                "series": [
                    {
                        "signal": "spindle_temperature",
                        "timestamps_ms": [int(time.time() * 1000)],
                        "values": [120.0],
                    }
                ],
            },
            headers={"Authorization": f"Bearer {victim.device_secrets[machine]}"},
        )
        return victim.tenant.get("/v1/alarms", rule_id=victim.ids["rule_id"]).json()["items"]

    (alarm,) = wait_for(hot_point, timeout_s=30, interval_s=0.5, what="the victim's alarm")
    victim.ids["alarm_id"] = alarm["id"]


def produce(victim: World) -> None:
    """Gives the victim one of each production resource, an order running at its station."""
    ids = victim.ids

    def sent(method: str, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
        answer = victim.tenant.http.request(method, path, json=body)
        assert answer.status_code == status, f"{method} {path}: {answer.text}"
        result: dict[str, Any] = answer.json()
        return result

    sent("PATCH", f"/v1/stations/{ids['station_id']}", {"capabilities": ["milling"]})
    every_day = [1, 2, 3, 4, 5, 6, 7]
    calendar = {
        "shifts": [
            {"name": "day", "days_of_week": every_day, "start_time": "06:00", "end_time": "18:00"},
            {
                "name": "night",
                "days_of_week": every_day,
                "start_time": "18:00",
                "end_time": "06:00",
            },
        ],
        "small_stop_threshold_s": 5,
    }
    sent("PUT", f"/v1/plants/{ids['plant_id']}/calendar", calendar)
    start = (datetime.now(UTC) + timedelta(days=30)).replace(second=0, microsecond=0)
    ids["planned_downtime_id"] = sent(
        "POST",
        "/v1/planned-downtimes",
        {
            "plant_id": ids["plant_id"],
            "kind": "maintenance",
            "start_time": start.isoformat(),
            "end_time": (start + timedelta(hours=2)).isoformat(),
        },
        201,
    )["id"]
    sent(
        "PUT",
        f"/v1/equipment-models/{ids['equipment_model_id']}/state-mapping",
        {
            "state_signal": "spindle_speed",
            "rules": [{"comparison": "greater", "value": 0, "state": "running"}],
            "default_state": "idle",
        },
    )
    step = {"name": "mill", "capability": "milling", "ideal_cycle_time_s": 30}
    ids["product_id"] = sent(
        "POST", "/v1/products", {"part_number": "P-1", "routing": [step]}, 201
    )["id"]
    order = {
        "product_id": ids["product_id"],
        "plant_id": ids["plant_id"],
        "quantity": 10,
        "due_time": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
    }
    ids["work_order_id"] = sent("POST", "/v1/work-orders", order, 201)["id"]
    order_path = f"/v1/work-orders/{ids['work_order_id']}"
    sent("POST", f"{order_path}:release", {})
    sent("POST", f"{order_path}/operations/1:start", {"station_id": ids["station_id"]})
    sent("PUT", f"{order_path}/operations/1/counts", {"good_quantity": 3, "scrap_quantity": 1})
    # The snapshot compares what the plan holds: the first plan must be made.
    running = [[(ids["work_order_id"], 1, ids["station_id"])], [ids["work_order_id"]], []]
    wait_for(lambda: planned_work(victim) == running, timeout_s=30, interval_s=0.5, what="the plan")
    quality = {"work_order_id": ids["work_order_id"], "sequence": 1, "defect_code": "burr"}
    ids["quality_record_id"] = sent("POST", "/v1/quality-records", {**quality, "quantity": 1}, 201)[
        "id"
    ]
    sent(
        "POST",
        "/v1/downtime-reasons",
        {"code": "no_coil", "name": "No coil", "category": "external"},
        201,
    )
    ids["downtime_id"] = stopped(victim)


def stopped(victim: World) -> str:
    """The id of a stop of the victim's machine: its spindle stood still for a minute."""
    machine = victim.ids["equipment_id"]
    now_ms = int(time.time() * 1000)
    batch = {
        "sequence_id": 1,
        "series": [
            {
                "signal": "spindle_speed",
                "timestamps_ms": [now_ms - 60_000, now_ms - 30_000],
                "values": [0, 0],
            }
        ],
    }
    answer = victim.tenant.http.post(
        "/v1/device/telemetry",
        json=batch,
        headers={"Authorization": f"Bearer {victim.device_secrets[machine]}"},
    )
    assert (answer.status_code, answer.json().get("refusals")) == (200, []), answer.text
    now = datetime.now(UTC)
    query = {
        "station_id": victim.ids["station_id"],
        "start_time": (now - timedelta(hours=1)).isoformat(),
        "end_time": (now + timedelta(hours=1)).isoformat(),
    }

    def downtime() -> str | None:
        items = victim.tenant.get("/v1/downtimes", **query).json()["items"]
        return str(items[-1]["id"]) if items else None

    return wait_for(downtime, timeout_s=30, interval_s=0.5, what="the machine's stop")


def test_no_route_lets_another_tenant_or_nobody_reach_a_tenants_data(
    distributed_platform: RunningPlatform,
) -> None:
    base = distributed_platform.base_url
    victim, intruder = attacked(base), onboard(base, "Intruder")
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


def test_every_route_refuses_a_role_below_the_one_it_needs(
    distributed_platform: RunningPlatform,
) -> None:
    base = distributed_platform.base_url
    victim = attacked(base)
    keys = role_keys(victim.tenant, base)
    before = snapshot(victim)

    spec = httpx.get(f"{base}/openapi.json").json()
    walked = set()
    for method, path, operation in operations(spec):
        if (method, path) in PUBLIC | DEVICE:
            continue
        url, body = request_for(spec, path, operation, victim.ids)
        needed = ROLES.index(required_role(method, path))
        for role in ROLES[:needed]:
            answer = keys[role].http.request(method.upper(), url, json=body)
            where = f"{role}: {method.upper()} {url} -> {answer.status_code} {answer.text[:300]}"
            assert answer.status_code == 403, where
            assert answer.json()["error"]["code"] == "permission_denied", where
        walked.add((method, path))

    every = {(m, p) for m, p, _ in operations(spec)} - PUBLIC - DEVICE
    assert walked == every
    assert {(m, p) for m, p in every if not p.startswith(GRANTED)} == set(REQUIRED_ROLE)
    assert snapshot(victim) == before, "a role below the one needed changed the data"


def test_grant_routes_need_the_makers_role_and_the_grants_scope(
    distributed_platform: RunningPlatform,
) -> None:
    base = distributed_platform.base_url
    customer = onboard(base, "Customer", machines=3)
    maker = sign_up(base, f"Maker {uuid.uuid4().hex[:6]}", kind="oem")
    scopes = {
        "equipment_id": ["twin:read", "telemetry:read", "commands:send", "config:write"],
        "equipment_id_1": ["twin:read"],
        "equipment_id_2": ["telemetry:read", "commands:send", "config:write"],
    }
    for machine, granted_scopes in scopes.items():
        grant(customer, maker, machine, granted_scopes)
    keys = role_keys(maker, base)
    # A maker reads and cancels only the commands it sent: one on each machine it may.
    sent_by_maker = {}
    for machine, granted_scopes in scopes.items():
        if "commands:send" in granted_scopes:
            sent = maker.post(
                f"{GRANTED}/{customer.ids[machine]}/commands",
                {"name": "set_speed", "timeout_s": 3600},
            )
            assert sent.status_code == 202, sent.text
            sent_by_maker[machine] = sent.json()["id"]

    spec = httpx.get(f"{base}/openapi.json").json()
    walked = set()
    for method, path, operation in operations(spec):
        if not path.startswith(GRANTED):
            continue
        needed = ROLES.index(required_role(method, path))
        scope = GRANT_METHOD_SCOPE.get((method, path), GRANT_SCOPE.get(path))
        machines = scopes if "{equipment_id}" in path else {"equipment_id": []}
        for machine, granted_scopes in machines.items():
            ids = {
                **customer.ids,
                "equipment_id": customer.ids[machine],
                "command_id": sent_by_maker.get(machine, "not-sent"),
            }
            url, body = request_for(spec, path, operation, ids)
            for rank, role in enumerate(ROLES):
                answer = keys[role].http.request(method.upper(), url, json=body)
                where = f"{role} on {machine}: {method.upper()} {url} -> {answer.status_code}"
                if rank < needed:
                    assert answer.status_code == 403, where
                elif scope is not None and scope not in granted_scopes:
                    assert answer.status_code == 404, where
                else:
                    assert answer.status_code < 400, f"{where} {answer.text[:300]}"
        walked.add(path)

    assert walked >= set(GRANT_SCOPE) | {GRANTED}
