"""What attack scripts found at the REST listener: body limits, malformed bodies,
internal addresses in errors, metrics on the public port, docs that need a CDN."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.support.api import sign_up
from tests.support.platform import RunningPlatform, embedded
from tests.support.ports import free_port
from tests.support.world import onboard

LIMIT = 1_048_576


def _chunks(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        chunk = b" " * min(65_536, total - sent)
        sent += len(chunk)
        yield chunk


def test_a_chunked_body_over_the_limit_answers_413_like_a_declared_one(
    embedded_platform: RunningPlatform,
) -> None:
    acme = sign_up(embedded_platform.base_url, "Acme Chunked")
    headers = {"content-type": "application/json"}
    declared = acme.http.post("/v1/plants", content=b" " * (LIMIT + 1), headers=headers)
    chunked = acme.http.post("/v1/plants", content=_chunks(LIMIT + 1), headers=headers)
    for response in (declared, chunked):
        assert response.status_code == 413, response.text
        error = response.json()["error"]
        assert error["code"] == "payload_too_large"
        assert error["request_id"] == response.headers["x-request-id"]


def test_a_body_that_is_not_json_answers_400_invalid_argument(
    embedded_platform: RunningPlatform,
) -> None:
    acme = sign_up(embedded_platform.base_url, "Acme Malformed")
    response = acme.http.post(
        "/v1/plants", content=b'{"name": "A",,}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_argument"
    assert error["message"].startswith("the body is not valid JSON: ")
    assert error["details"] == []


def test_an_unavailable_service_answers_503_without_its_address(tmp_path: Path) -> None:
    dead = free_port()
    with embedded(tmp_path, IMCLOUD_PRODUCTS_GRPC__TARGET=f"127.0.0.1:{dead}") as platform:
        acme = sign_up(platform.base_url, "Acme Outage")
        response = acme.get("/v1/equipment-models")
        log = platform.processes["all"].log()
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "unavailable"
    assert str(dead) not in response.text
    assert not re.search(r"\d+\.\d+\.\d+\.\d+|ipv[46]:|localhost", response.text)
    assert str(dead) in log  # the operator still learns which address failed


def test_metrics_are_served_on_the_metrics_port_not_on_the_api(tmp_path: Path) -> None:
    metrics_port = free_port()
    with embedded(tmp_path, IMCLOUD_METRICS_PORT=str(metrics_port)) as platform:
        assert httpx.get(f"{platform.base_url}/healthz").status_code == 200
        on_api = httpx.get(f"{platform.base_url}/metrics")
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
    assert on_api.status_code == 404
    assert scraped.status_code == 200
    # One server for the whole process: the gateway's and the services' metrics.
    assert 'imcloud_http_requests_total{method="GET",route="/healthz",status="200"}' in (
        scraped.text
    )
    assert "imcloud_grpc_server_handled_total" in scraped.text


def _same_origin_assets(page: str) -> list[str]:
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page)
    assets += re.findall(r"""(?:url|spec-url)\s*[:=]\s*["']([^"']+)["']""", page)
    assert assets
    for asset in assets:
        assert asset.startswith("/"), f"{asset} is not served by the gateway"
        assert not asset.startswith("//"), f"{asset} is not served by the gateway"
    return assets


def test_docs_and_redoc_load_every_asset_from_the_gateway(
    embedded_platform: RunningPlatform,
) -> None:
    base = embedded_platform.base_url
    for page in ("/docs", "/redoc"):
        response = httpx.get(f"{base}{page}")
        assert response.status_code == 200
        for asset in _same_origin_assets(response.text):
            served = httpx.get(f"{base}{asset}")
            assert served.status_code == 200, asset
            assert len(served.content) > 100, asset


def test_a_method_not_allowed_lists_every_method_of_the_path(
    embedded_platform: RunningPlatform,
) -> None:
    acme = sign_up(embedded_platform.base_url, "Acme Methods")
    response = acme.http.request("OPTIONS", "/v1/plants")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert {"GET", "POST"} <= allowed


def test_a_signal_range_must_be_numbers_not_booleans(embedded_platform: RunningPlatform) -> None:
    acme = sign_up(embedded_platform.base_url, "Acme Strict")
    signal = {"name": "spindle_temperature", "min_value": -20, "max_value": False}
    response = acme.post(
        "/v1/equipment-models", {"name": "VM-5", "manufacturer": "Maker", "signals": [signal]}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == "signals[0].max_value"


def test_the_document_states_the_rule_for_signal_names(
    embedded_platform: RunningPlatform,
) -> None:
    document = httpx.get(f"{embedded_platform.base_url}/openapi.json").json()
    name = document["components"]["schemas"]["SignalDefinitionBody"]["properties"]["name"]
    assert name["pattern"] == "^[A-Za-z][A-Za-z0-9_.-]{0,63}$"


def test_a_model_with_many_duplicate_signals_is_refused_not_a_server_error(
    embedded_platform: RunningPlatform,
) -> None:
    acme = sign_up(embedded_platform.base_url, "Acme Duplicates")
    signals = [{"name": "A"}] * 255
    response = acme.post("/v1/equipment-models", {"name": "VM-5", "signals": signals})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_argument"
    assert len(error["details"]) == 21  # the first 20, then how many more
    assert error["details"][-1]["reason"] == "and 234 more problems of the same kind"


def test_a_time_in_a_query_is_a_date_time_not_a_number(
    embedded_platform: RunningPlatform,
) -> None:
    world = onboard(embedded_platform.base_url, "Acme Times", machines=1)
    for path, name in [
        ("/v1/audit-events", "until"),
        (f"/v1/equipment/{world.ids['equipment_id']}/telemetry", "start"),
    ]:
        params = {"start": "2026-12-01T08:00:00Z", "end": "2026-12-01T09:00:00Z"}
        refused = world.tenant.get(path, **{**params, name: "0.5"})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["details"][0]["field"] == name
        assert "not a number" in refused.json()["error"]["details"][0]["reason"]
        assert world.tenant.get(path, **params).status_code == 200
