"""X-Forwarded-For is believed only from a configured proxy: a forged one neither
escapes the per-address limit of sign-ups nor lands in the audit log."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.api import Tenant
from tests.support.platform import embedded

FORGED = "203.0.113.9"


def _sign_up(base: str, number: int, forwarded_for: str) -> httpx.Response:
    return httpx.post(
        f"{base}/v1/tenants",
        json={"name": f"Forwarded {number}"},
        headers={"X-Forwarded-For": forwarded_for},
        timeout=10,
    )


def _source_ip(base: str, signed_up: httpx.Response) -> str:
    body = signed_up.json()
    tenant = Tenant(base, body["owner_key"]["secret"], body["tenant"]["id"])
    (event,) = tenant.get("/v1/audit-events").json()["items"]
    return str(event["source_ip"])


def test_a_forged_forwarded_for_neither_escapes_the_limit_nor_reaches_the_audit_log(
    tmp_path: Path,
) -> None:
    with embedded(tmp_path, IMCLOUD_GATEWAY__ANONYMOUS_BURST="3") as platform:
        base = platform.base_url
        answers = [_sign_up(base, n, f"198.51.100.{n}") for n in range(5)]
        assert [a.status_code for a in answers] == [201, 201, 201, 429, 429]
        assert _source_ip(base, answers[0]) == "127.0.0.1"


def test_a_configured_proxy_is_believed(tmp_path: Path) -> None:
    with embedded(
        tmp_path,
        IMCLOUD_GATEWAY__ANONYMOUS_BURST="3",
        IMCLOUD_GATEWAY__TRUSTED_PROXIES='["127.0.0.0/8"]',
    ) as platform:
        base = platform.base_url
        answers = [_sign_up(base, n, f"198.51.100.{n}") for n in range(5)]
        assert [a.status_code for a in answers] == [201] * 5  # five clients behind the proxy
        assert _source_ip(base, _sign_up(base, 9, FORGED)) == FORGED
