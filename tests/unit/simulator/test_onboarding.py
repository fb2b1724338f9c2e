"""Onboarding through the REST API: paced, retried when the gateway asks, and
clear about what failed."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from imcloud_simulator.fleet import Fleet
from imcloud_simulator.machines import CncMill
from imcloud_simulator.onboarding import (
    OnboardingError,
    OnboardingStep,
    PlatformApi,
    ensure_model,
    onboard,
)


class FakeGateway:
    """Answers the onboarding routes; the first ``limited`` requests get a 429."""

    def __init__(self, limited: int = 0) -> None:
        self.limited = limited
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.models: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        self.requests.append((request.method, request.url.path, body))
        if self.limited:
            self.limited -= 1
            return httpx.Response(429, headers={"Retry-After": "1"}, json=_error("rate_limited"))
        path, number = request.url.path, len(self.requests)
        if request.method == "GET" and path == "/v1/tenant":
            return httpx.Response(200, json={"id": "tenant-1"})
        if request.method == "GET" and path == "/v1/equipment-models":
            return httpx.Response(200, json={"items": self.models, "next_page_token": ""})
        if path == "/v1/equipment-models" and any(m["name"] == body["name"] for m in self.models):
            return httpx.Response(409, json=_error("already_exists"))
        if request.method == "PATCH":
            return httpx.Response(200, json={})
        if path.endswith("/credentials"):
            return httpx.Response(201, json={"id": f"c{number}", "secret": f"imd_{number}"})
        return httpx.Response(201, json={"id": f"id{number}"})


def _error(code: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": f"{code} here", "request_id": "r"}}


def api_for(gateway: FakeGateway, sleeps: list[float]) -> PlatformApi:
    return PlatformApi(
        "http://gateway",
        "imk_test",
        requests_per_s=1e6,
        sleep=sleeps.append,
        transport=httpx.MockTransport(gateway),
    )


def test_a_fleet_is_onboarded_with_one_station_machine_and_credential_each() -> None:
    gateway = FakeGateway()
    plant = onboard(api_for(gateway, []), Fleet(4, seed=1), run_id="abc123")

    assert plant.tenant_id == "tenant-1"
    assert len(plant.machines) == 4
    assert len({m.credential for m in plant.machines}) == 4
    assert [m.serial_number for m in plant.machines] == [
        "VMC-abc123-001",
        "VMC-abc123-002",
        "CP-abc123-001",
        "HP-abc123-001",
    ]
    posted = [path for method, path, _ in gateway.requests if method == "POST"]
    assert posted.count("/v1/equipment-models") == 3
    assert posted.count("/v1/lines") == 3
    assert posted.count("/v1/stations") == posted.count("/v1/equipment") == 4
    model = next(body for _, path, body in gateway.requests if path == "/v1/equipment-models")
    assert model == CncMill.KIND.model_body()


def test_every_step_of_onboarding_reports_its_count() -> None:
    steps: list[OnboardingStep] = []
    onboard(api_for(FakeGateway(), []), Fleet(4, seed=1), run_id="abc123", progress=steps.append)

    assert steps == [
        OnboardingStep("equipment models", 1, 3),
        OnboardingStep("equipment models", 2, 3),
        OnboardingStep("equipment models", 3, 3),
        OnboardingStep("plant", 1, 1),
        OnboardingStep("lines", 1, 3),
        OnboardingStep("lines", 2, 3),
        OnboardingStep("lines", 3, 3),
        *(OnboardingStep("machines", done, 4) for done in range(1, 5)),
    ]


def test_an_existing_model_is_reused_and_brought_up_to_date() -> None:
    gateway = FakeGateway()
    gateway.models = [{"id": "m1", "name": CncMill.KIND.model_name, "signals": []}]
    assert ensure_model(api_for(gateway, []), CncMill.KIND) == "m1"
    assert gateway.requests[-1][:2] == ("PATCH", "/v1/equipment-models/m1")


def test_rate_limited_requests_wait_as_told_and_are_retried() -> None:
    gateway = FakeGateway(limited=2)
    sleeps: list[float] = []
    assert api_for(gateway, sleeps).post("/v1/plants", {"name": "P"}) == {"id": "id3"}
    assert [s for s in sleeps if s >= 1] == [1.0, 1.0]


def test_a_refusal_names_the_request_and_the_reason() -> None:
    api = PlatformApi(
        "http://gateway",
        "imk_test",
        transport=httpx.MockTransport(lambda r: httpx.Response(403, json=_error("forbidden"))),
    )
    with pytest.raises(OnboardingError, match=r"POST /v1/plants: 403 forbidden: forbidden here"):
        api.post("/v1/plants", {"name": "P"})
