"""Onboards a simulated plant through the REST API, as a customer would: sign-up
(optional), equipment models, plant, lines, stations, machines, credentials.

Requests are paced below the gateway's per-tenant rate limit, and a 429 or 503
answer is retried after the time the gateway asks for (Retry-After).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from imcloud_simulator.fleet import Fleet, Machine
from imcloud_simulator.signals import MachineKind

RETRIED_STATUSES = (429, 502, 503, 504)
MAX_ATTEMPTS = 8


class OnboardingError(Exception):
    """The platform refused a request (of onboarding, or asking what it detected);
    the message says which and why, ``status`` the HTTP status if one came."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class OnboardingStep:
    """How far one step of onboarding got: ``done`` of ``total`` ``what``."""

    what: str
    done: int
    total: int


@dataclass(frozen=True)
class OnboardedMachine:
    machine: Machine
    equipment_id: str
    serial_number: str
    credential: str
    station_id: str


@dataclass(frozen=True)
class OnboardedPlant:
    api_key: str
    tenant_id: str
    plant_id: str
    equipment_model_ids: dict[str, str]  # by kind key
    machines: list[OnboardedMachine]
    line_ids: dict[str, str]  # by kind key
    time_zone: str


class PlatformApi:
    """A small REST client: JSON in and out, paced, retried when the gateway asks."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        requests_per_s: float = 100.0,
        timeout_s: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s, transport=transport)
        self._interval_s = 1.0 / requests_per_s
        self._next_at = 0.0
        self._sleep = sleep
        self.api_key = ""
        if api_key:
            self.use_key(api_key)

    def use_key(self, api_key: str) -> None:
        self.api_key = api_key
        self._http.headers["authorization"] = f"Bearer {api_key}"

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        accept: tuple[int, ...] = (200, 201),
    ) -> httpx.Response:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self._pace()
            try:
                response = self._http.request(method, path, json=json, params=params)
            except httpx.TransportError as exc:
                if attempt == MAX_ATTEMPTS:
                    raise OnboardingError(f"{method} {path}: {exc}") from exc
                self._sleep(min(2.0**attempt * 0.1, 5.0))
                continue
            if response.status_code in RETRIED_STATUSES and attempt < MAX_ATTEMPTS:
                self._sleep(_retry_after_s(response, attempt))
                continue
            if response.status_code not in accept:
                raise OnboardingError(
                    f"{method} {path}: {_problem(response)}", status=response.status_code
                )
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def post(self, path: str, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", path, json=body, **kw).json()
        return result

    def put(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.request("PUT", path, json=body).json()
        return result

    def patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.request("PATCH", path, json=body).json()
        return result

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", path, params=params).json()
        return result

    def pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every page of a listing, following its next_page_token."""
        token = ""
        while True:
            page = self.get(path, **params, page_token=token)
            yield page
            token = page["next_page_token"]
            if not token:
                return

    def _pace(self) -> None:
        now = time.monotonic()
        if now < self._next_at:
            self._sleep(self._next_at - now)
        self._next_at = max(now, self._next_at) + self._interval_s


def _retry_after_s(response: httpx.Response, attempt: int) -> float:
    try:
        return max(0.05, float(response.headers.get("retry-after", "")))
    except ValueError:
        return min(2.0**attempt * 0.1, 5.0)


def _problem(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{response.status_code} {error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} {response.text[:200]}"


def sign_up(api: PlatformApi, name: str) -> str:
    """Creates a tenant; returns its id and switches the client to its owner key."""
    body = api.post("/v1/tenants", {"name": name})
    api.use_key(body["owner_key"]["secret"])
    return str(body["tenant"]["id"])


def ensure_model(api: PlatformApi, kind: MachineKind) -> str:
    """The id of the kind's equipment model, registered (or brought up to date) by name."""
    response = api.request(
        "POST", "/v1/equipment-models", json=kind.model_body(), accept=(201, 409)
    )
    if response.status_code == 201:
        return str(response.json()["id"])
    for page in api.pages("/v1/equipment-models", page_size=500):
        for model in page["items"]:
            if model["name"] == kind.model_name:
                if _signals(model["signals"]) != _signals(kind.model_body()["signals"]):
                    api.request(
                        "PATCH",
                        f"/v1/equipment-models/{model['id']}",
                        json={"signals": kind.model_body()["signals"]},
                    )
                return str(model["id"])
    raise OnboardingError(f"model {kind.model_name!r} exists but cannot be listed")


def _signals(signals: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    fields = ("name", "unit", "type", "min_value", "max_value", "description")
    return [tuple(s.get(f) for f in fields) for s in signals]


def onboard(
    api: PlatformApi,
    fleet: Fleet,
    *,
    run_id: str,
    progress: Callable[[OnboardingStep], None] = lambda step: None,
) -> OnboardedPlant:
    """Registers the fleet's plant and machines; ``api`` carries the tenant's key."""
    tenant_id = str(api.get("/v1/tenant")["id"])
    time_zone = "Europe/Berlin"
    models: dict[str, str] = {}
    for kind in fleet.kinds:
        models[kind.key] = ensure_model(api, kind)
        progress(OnboardingStep("equipment models", len(models), len(fleet.kinds)))
    plant_id = str(
        api.post(
            "/v1/plants",
            {
                "name": f"Simulated plant {run_id}",
                "location": "imcloud simulator",
                "time_zone": time_zone,
            },
        )["id"]
    )
    progress(OnboardingStep("plant", 1, 1))
    lines: dict[str, str] = {}
    for kind in fleet.kinds:
        lines[kind.key] = str(
            api.post("/v1/lines", {"plant_id": plant_id, "name": kind.line_name})["id"]
        )
        progress(OnboardingStep("lines", len(lines), len(fleet.kinds)))
    onboarded = []
    for machine in fleet.machines:
        kind = machine.kind
        station = api.post(
            "/v1/stations",
            {"line_id": lines[kind.key], "name": f"Station {machine.number:02d}"},
        )
        serial = f"{kind.serial_prefix}-{run_id}-{machine.number:03d}"
        equipment = api.post(
            "/v1/equipment",
            {
                "equipment_model_id": models[kind.key],
                "serial_number": serial,
                "name": machine.name,
                "station_id": station["id"],
            },
        )
        credential = api.post(f"/v1/equipment/{equipment['id']}/credentials", {})
        onboarded.append(
            OnboardedMachine(
                machine=machine,
                equipment_id=str(equipment["id"]),
                serial_number=serial,
                credential=str(credential["secret"]),
                station_id=str(station["id"]),
            )
        )
        progress(OnboardingStep("machines", len(onboarded), len(fleet.machines)))
    return OnboardedPlant(
        api_key=api.api_key,
        tenant_id=tenant_id,
        plant_id=plant_id,
        equipment_model_ids=models,
        machines=onboarded,
        line_ids=lines,
        time_zone=time_zone,
    )


def onboard_plant(
    api_url: str,
    fleet: Fleet,
    *,
    run_id: str,
    tenant_name: str,
    api_key: str | None = None,
    progress: Callable[[OnboardingStep], None] = lambda step: None,
) -> OnboardedPlant:
    """Onboards the fleet for the key's tenant, or for a new tenant named
    ``tenant_name`` when no key is given."""
    api = PlatformApi(api_url, api_key)
    try:
        if not api_key:
            sign_up(api, tenant_name)
            progress(OnboardingStep("new tenant", 1, 1))
        return onboard(api, fleet, run_id=run_id, progress=progress)
    finally:
        api.close()
