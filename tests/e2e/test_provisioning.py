"""A dedicated-tier enterprise signs up and gets its namespace, then leaves."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from kubernetes import client

from imcloud_gateway.clients.kubernetes import connect
from tests.support.api import sign_up
from tests.support.platform import embedded
from tests.support.waiting import wait_for


def test_signing_up_on_the_dedicated_tier_provisions_a_namespace_and_leaving_removes_it(
    kubeconfig: str, tmp_path: Path
) -> None:
    prefix = f"e{uuid.uuid4().hex[:6]}-"
    core = client.CoreV1Api(connect(kubeconfig))
    with embedded(
        tmp_path,
        IMCLOUD_PROVISIONING__ENABLED="true",
        IMCLOUD_PROVISIONING__KUBECONFIG=kubeconfig,
        IMCLOUD_PROVISIONING__NAMESPACE_PREFIX=prefix,
    ) as platform:
        acme = sign_up(platform.base_url, f"Acme {uuid.uuid4().hex[:6]}", tier="dedicated")

        def provisioned() -> dict[str, str] | None:
            state = acme.get("/v1/tenant").json()["provisioning"]
            return state if state["state"] == "provisioned" else None

        state = wait_for(provisioned, timeout_s=30, interval_s=0.2, what="provisioning")
        assert state["namespace"] == f"{prefix}{acme.id}"
        assert core.read_namespace(state["namespace"]).status.phase == "Active"

        assert acme.http.delete("/v1/tenant").status_code == 204
        assert acme.get("/v1/tenant").status_code == 401, "the owner key still works"
        wait_for(
            lambda: core.read_namespace(state["namespace"]).metadata.deletion_timestamp,
            timeout_s=30,
            interval_s=0.2,
            what="namespace deletion",
        )


def test_the_embedded_default_provisions_nothing(tmp_path: Path) -> None:
    with embedded(tmp_path) as platform:
        acme = sign_up(platform.base_url, "Acme dedicated", tier="dedicated")
        assert acme.get("/v1/tenant").json()["provisioning"] is None
        assert httpx.get(f"{platform.base_url}/readyz").status_code == 200
