"""The ops kit in infra/observability/: alert rules and the Grafana dashboard.

promtool checks the rules and runs their unit tests (tests/deploy/alerts_test.yaml);
every `imcloud_*` metric the rules and the dashboard use must be one the code
exports, so renaming a metric fails here until they follow.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.deploy.conftest import CHART, Tools

pytestmark = pytest.mark.kubernetes_tools

OBSERVABILITY = REPO / "infra" / "observability"
ALERTS = OBSERVABILITY / "alerts.yaml"
DASHBOARD = OBSERVABILITY / "imcloud-dashboard.json"
METRIC = re.compile(r"\bimcloud_[a-z0-9_]+\b")
DEFINITION = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"(imcloud_[a-z0-9_]+)\"")
# What a prometheus_client metric of each type exposes, by suffix.
EXPOSED = {
    "Counter": ("_total", "_created"),
    "Gauge": ("",),
    "Histogram": ("_bucket", "_count", "_sum", "_created"),
    "Summary": ("", "_count", "_sum", "_created"),
}


def exported_metrics() -> tuple[dict[str, str], set[str]]:
    """Every series name the code exports (-> the file defining it), and the
    metric family names (a histogram's name without _bucket/_sum/_count)."""
    exported = {}
    families = set()
    for root in ("libs", "services"):
        for path in (REPO / root).rglob("*.py"):
            if "contracts" in path.parts:
                continue
            for kind, name in DEFINITION.findall(path.read_text()):
                base = name.removesuffix("_total") if kind == "Counter" else name
                families.add(name)
                for suffix in EXPOSED[kind]:
                    exported[base + suffix] = str(path.relative_to(REPO))
    return exported, families


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in board["panels"]:
        found.append(panel)
        found += panel.get("panels", [])
    return found


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_checks_the_rules(tools: Tools) -> None:
    result = tools.run(tools.promtool, "check", "rules", ALERTS)
    assert "SUCCESS" in result.stdout + result.stderr


def test_alerts_fire_when_they_should_and_only_then(tools: Tools) -> None:
    tools.run(tools.promtool, "test", "rules", Path(__file__).parent / "alerts_test.yaml")


def test_every_requested_alert_exists() -> None:
    names = {rule["alert"] for rule in alert_rules()}
    assert {
        "ImcloudGatewayDown",
        "ImcloudHighHttp5xxRatio",
        "ImcloudConsumerLagGrowing",
        "ImcloudTelemetryRefusedRatioHigh",
        "ImcloudBusHandlerFailures",
        "ImcloudAuditWriteFailures",
    } <= names
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]


def test_the_dashboard_is_valid_grafana_json_with_a_datasource_variable() -> None:
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels(board):
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
        for target in panel.get("targets", []):
            # Never a hard-wired data source: the variable.
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            assert target["expr"].strip(), panel["title"]
        if panel["type"] not in {"row", "text"}:
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    titles = " ".join(p["title"].lower() for p in panels(board))
    for topic in ("telemetry", "lag", "error", "latency", "device-link", "audit"):
        assert topic in titles, f"no panel about {topic}"


def test_dashboard_and_rules_use_only_metrics_the_code_exports() -> None:
    exported, families = exported_metrics()
    assert "imcloud_http_requests_total" in exported  # the scan itself works
    queried: dict[str, set[str]] = {}  # in PromQL: series names
    mentioned: dict[str, set[str]] = {}  # in prose: series or family names
    for rule in alert_rules():
        for name in METRIC.findall(rule["expr"]):
            queried.setdefault(name, set()).add(f"alert {rule['alert']}")
        for name in METRIC.findall(json.dumps(rule["annotations"])):
            mentioned.setdefault(name, set()).add(f"alert {rule['alert']}")
    for panel in panels(dashboard()):
        for name in METRIC.findall(json.dumps(panel.get("targets", []))):
            queried.setdefault(name, set()).add(f"panel {panel['title']!r}")
        prose = panel.get("description", "") + panel.get("options", {}).get("content", "")
        for name in METRIC.findall(prose):
            mentioned.setdefault(name, set()).add(f"panel {panel['title']!r}")
    unknown = {name: where for name, where in queried.items() if name not in exported}
    unknown |= {
        name: where
        for name, where in mentioned.items()
        if name not in exported and name not in families
    }
    assert not unknown, "metrics the code does not export:\n" + "\n".join(
        f"  {name}: used by {', '.join(sorted(where))}" for name, where in sorted(unknown.items())
    )
    used = queried
    # The metrics the ops kit is about are all there.
    for required in (
        "imcloud_telemetry_points_total",
        "imcloud_telemetry_stored_points_total",
        "imcloud_bus_consumer_lag_records",
        "imcloud_errors_total",
        "imcloud_http_requests_total",
        "imcloud_http_request_duration_seconds_bucket",
        "imcloud_grpc_server_handling_seconds_bucket",
        "imcloud_device_streams",
        "imcloud_bus_handler_failures_total",
        "imcloud_audit_write_failures_total",
    ):
        assert required in used, f"{required} is neither on the dashboard nor in an alert"


def test_alert_jobs_are_the_ones_the_chart_scrapes() -> None:
    jobs = set()
    for rule in alert_rules():
        jobs |= set(re.findall(r'job=~?"([^"]+)"', rule["expr"]))
    services = "gateway|products|production|servitization"
    for job in jobs:
        assert re.fullmatch(
            rf"imcloud-({services})|imcloud-\(({services})(\|({services}))*\)", job
        ), job
    servicemonitor = (CHART / "templates" / "servicemonitor.yaml").read_text()
    assert "replacement: imcloud-{{ $name }}" in servicemonitor


def test_infra_observability_links_to_the_charts_single_copy() -> None:
    assert ALERTS.resolve() == (CHART / "files" / "alerts.yaml").resolve()
    assert DASHBOARD.resolve() == (CHART / "files" / "dashboards" / "imcloud.json").resolve()
