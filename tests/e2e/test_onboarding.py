"""Onboarding two enterprises and an equipment maker on the distributed platform."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt

from tests.support.api import Tenant, sign_up
from tests.support.platform import RunningPlatform
from tests.support.world import World, onboard


def granted_ids(maker: Tenant) -> list[str]:
    response = maker.get("/v1/granted-equipment")
    assert response.status_code == 200, response.text
    return [item["equipment"]["id"] for item in response.json()["items"]]


def grant(owner: World, maker: Tenant, machine: str, **extra: object) -> str:
    response = owner.tenant.post(
        "/v1/access-grants",
        {
            "grantee_tenant_id": maker.id,
            "equipment_id": owner.ids[machine],
            "scopes": ["twin:read", "telemetry:read"],
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_the_maker_sees_exactly_the_granted_machine_until_revoke_or_expiry(
    distributed_platform: RunningPlatform,
) -> None:
    base = distributed_platform.base_url
    acme, globex = onboard(base, "Acme"), onboard(base, "Globex")
    maker = sign_up(base, f"Maker {uuid.uuid4().hex[:6]}", kind="oem")
    assert granted_ids(maker) == []

    grant_id = grant(acme, maker, "equipment_id")
    assert granted_ids(maker) == [acme.ids["equipment_id"]]
    seen = maker.get(f"/v1/granted-equipment/{acme.ids['equipment_id']}")
    assert seen.status_code == 200
    assert seen.json()["equipment"]["serial_number"] == "SN-0"
    # Nothing else of Acme's, and nothing of Globex's, is visible to the maker.
    for other in (acme.ids["equipment_id_1"], globex.ids["equipment_id"]):
        assert maker.get(f"/v1/granted-equipment/{other}").status_code == 404
    assert maker.get(f"/v1/equipment/{acme.ids['equipment_id']}").status_code == 404
    assert maker.get("/v1/equipment").json()["items"] == []

    revoked = acme.tenant.post(f"/v1/access-grants/{grant_id}:revoke", {})
    assert revoked.status_code == 200
    assert revoked.json()["active"] is False
    assert granted_ids(maker) == []
    assert maker.get(f"/v1/granted-equipment/{acme.ids['equipment_id']}").status_code == 404

    expiry = datetime.now(UTC) + timedelta(seconds=3)
    grant(acme, maker, "equipment_id", expire_time=expiry.isoformat())
    assert granted_ids(maker) == [acme.ids["equipment_id"]]
    time.sleep(max(0.0, (expiry - datetime.now(UTC)).total_seconds()) + 0.5)
    assert granted_ids(maker) == []
    assert maker.get(f"/v1/granted-equipment/{acme.ids['equipment_id']}").status_code == 404


def test_grants_go_only_to_equipment_makers_and_only_for_own_machines(
    distributed_platform: RunningPlatform,
) -> None:
    base = distributed_platform.base_url
    acme, globex = onboard(base, "Acme", machines=1), onboard(base, "Globex", machines=1)
    to_enterprise = acme.tenant.post(
        "/v1/access-grants",
        {
            "grantee_tenant_id": globex.tenant.id,
            "equipment_id": acme.ids["equipment_id"],
            "scopes": ["twin:read"],
        },
    )
    assert to_enterprise.status_code == 422
    assert to_enterprise.json()["error"]["details"][0]["field"] == "grantee_tenant_id"
    maker = sign_up(base, f"Maker {uuid.uuid4().hex[:6]}", kind="oem")
    someone_elses = acme.tenant.post(
        "/v1/access-grants",
        {
            "grantee_tenant_id": maker.id,
            "equipment_id": globex.ids["equipment_id"],
            "scopes": ["twin:read"],
        },
    )
    assert someone_elses.status_code == 422
    assert granted_ids(maker) == []


def test_revoked_rotated_and_expired_credentials_are_refused(
    distributed_platform: RunningPlatform,
) -> None:
    base = distributed_platform.base_url
    acme = sign_up(base, f"Acme {uuid.uuid4().hex[:6]}")
    issued = acme.post("/v1/api-keys", {"name": "ci", "role": "admin"}).json()
    ci = Tenant(base, issued["secret"], acme.id)
    assert ci.get("/v1/plants").status_code == 200

    token = ci.post("/v1/tokens", {}).json()["access_token"]
    with_token = Tenant(base, token, acme.id)
    assert with_token.get("/v1/plants").status_code == 200

    rotated = acme.post(f"/v1/api-keys/{issued['id']}:rotate", {})
    assert rotated.status_code == 200
    assert ci.get("/v1/plants").status_code == 401  # the old secret
    assert Tenant(base, rotated.json()["secret"], acme.id).get("/v1/plants").status_code == 200
    assert with_token.get("/v1/plants").status_code == 401  # tokens die with the old secret
    renewed = Tenant(base, rotated.json()["secret"], acme.id).post("/v1/tokens", {})
    with_renewed = Tenant(base, renewed.json()["access_token"], acme.id)
    assert with_renewed.get("/v1/plants").status_code == 200

    assert acme.post(f"/v1/api-keys/{issued['id']}:revoke", {}).status_code == 200
    assert Tenant(base, rotated.json()["secret"], acme.id).get("/v1/plants").status_code == 401
    assert with_renewed.get("/v1/plants").status_code == 401  # the key behind it is gone

    owner_token = acme.post("/v1/tokens", {}).json()["access_token"]
    claims = jwt.decode(owner_token, options={"verify_signature": False})
    secret = distributed_platform.env["IMCLOUD_GATEWAY__JWT_SECRET"]
    expired = jwt.encode({**claims, "exp": int(time.time()) - 1}, secret, algorithm="HS256")
    refused = Tenant(base, expired, acme.id).get("/v1/plants")
    assert refused.status_code == 401
    assert "expired" in refused.json()["error"]["message"]
    tampered = jwt.encode(
        {**claims, "role": "owner", "tid": "someone"}, "x" * 32, algorithm="HS256"
    )
    assert Tenant(base, tampered, acme.id).get("/v1/plants").status_code == 401


def test_every_state_change_is_in_the_audit_log_with_actor_and_result(
    distributed_platform: RunningPlatform,
) -> None:
    base = distributed_platform.base_url
    acme = onboard(base, "Acme", machines=1)
    maker = sign_up(base, f"Maker {uuid.uuid4().hex[:6]}", kind="oem")
    grant(acme, maker, "equipment_id")
    assert maker.get(f"/v1/granted-equipment/{acme.ids['equipment_id']}").status_code == 200
    duplicate = acme.tenant.post("/v1/plants", {"name": "Plant"})
    assert duplicate.status_code == 409

    events = acme.tenant.get("/v1/audit-events", page_size=200).json()["items"]
    actions = [(e["action"], e["status"]) for e in events]
    for expected in [
        ("POST /v1/tenants", 201),
        ("POST /v1/plants", 201),
        ("POST /v1/lines", 201),
        ("POST /v1/stations", 201),
        ("POST /v1/equipment-models", 201),
        ("POST /v1/equipment", 201),
        ("POST /v1/equipment/{equipment_id}/credentials", 201),
        ("POST /v1/maintenance-tickets", 201),
        ("POST /v1/api-keys", 201),
        ("POST /v1/access-grants", 201),
        ("POST /v1/plants", 409),
    ]:
        assert expected in actions, f"{expected} missing from {actions}"
    owner_actor = next(e["actor"] for e in events if e["action"] == "POST /v1/plants")
    assert owner_actor.startswith("key:")
    refused = next(e for e in events if e["status"] == 409)
    assert refused["succeeded"] is False
    via_grant = [e for e in events if e["grant_id"]]
    assert [(e["action"], e["actor_tenant_id"]) for e in via_grant] == [
        ("GET /v1/granted-equipment/{equipment_id}", maker.id)
    ]
    # The maker's own log has its access too; nobody else's log has anything of Acme's.
    maker_log = maker.get("/v1/audit-events").json()["items"]
    assert any(e["grant_id"] for e in maker_log)
    assert all(e["actor_tenant_id"] in (maker.id,) for e in maker_log)
