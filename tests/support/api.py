"""A small REST client for the e2e tests, speaking to the gateway like a user."""

from __future__ import annotations

from typing import Any

import httpx


class Tenant:
    def __init__(self, base_url: str, key: str, tenant_id: str) -> None:
        self.id = tenant_id
        self.key = key
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10
        )

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(path, json=body)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params)


def sign_up(base_url: str, name: str, **fields: Any) -> Tenant:
    response = httpx.post(f"{base_url}/v1/tenants", json={"name": name, **fields}, timeout=10)
    assert response.status_code == 201, response.text
    body = response.json()
    return Tenant(base_url, body["owner_key"]["secret"], body["tenant"]["id"])
