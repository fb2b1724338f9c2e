"""The Helm chart `helm/imcloud`, checked offline.

`helm lint` and `helm template` of the default values and of the value sets in
tests/deploy/values/, every rendered object validated by kubeconform against
the Kubernetes 1.37 schemas (strict: unknown fields are errors), and the
properties that matter asserted on the objects themselves.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import tomllib
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import (
    CHART,
    NAMESPACE,
    VALUE_SETS,
    Rendered,
    Tools,
    helm_args,
)

pytestmark = pytest.mark.kubernetes_tools

SERVICES = {"gateway": 50050, "products": 50051, "production": 50052, "servitization": 50053}
BACKENDS = ("products", "production", "servitization")
# Who may call a backend's gRPC server (ARCHITECTURE.md: "How they talk").
CALLERS = {
    "products": {"gateway", "production", "servitization"},
    "production": {"gateway", "servitization"},
    "servitization": {"gateway"},
}
CUSTOM_RESOURCES = {"ServiceMonitor", "PrometheusRule"}  # monitoring.coreos.com/v1: no schema
SECRET_ENV = re.compile(r"^IMCLOUD_(GATEWAY__JWT_SECRET|DATABASE_URL|DATABASE_URLS__\w+)$")
# The gateway's MQTT endpoint; MQTT over TLS only with gateway.mqtt.tls.secretName.
MQTT_PORT = 1883
MQTT_TLS_PORT = 8883
MQTT_TLS_ENV = re.compile(r"^IMCLOUD_GATEWAY__MQTT_TLS_\w+$")

value_sets = pytest.mark.parametrize("value_set", list(VALUE_SETS))


def pod_templates(rendered: Rendered) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(owner, pod template) of every Deployment and Job."""
    return [
        (o, o["spec"]["template"]) for o in rendered.objects if o["kind"] in {"Deployment", "Job"}
    ]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


def mqtt_tls_secret(rendered: Rendered) -> str:
    secret: str = rendered.values["gateway"]["mqtt"]["tls"]["secretName"]
    return secret


def gateway_ports(rendered: Rendered) -> dict[str, int]:
    """The gateway's public ports by name: REST, device link, MQTT (and MQTT over TLS)."""
    ports = {"http": 8080, "grpc": SERVICES["gateway"], "mqtt": MQTT_PORT}
    if mqtt_tls_secret(rendered):
        ports["mqtt-tls"] = MQTT_TLS_PORT
    return ports


def config_data(rendered: Rendered) -> dict[str, str]:
    data: dict[str, str] = rendered.component("ConfigMap", "config")["data"]
    return data


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"unexpected selector {selector}"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


# --- lint, render, schemas ------------------------------------------------------


@value_sets
def test_helm_lint_passes(tools: Tools, value_set: str) -> None:
    args = helm_args(value_set)
    # lint takes the chart path, not a release name
    tools.run(tools.helm, "lint", "--strict", *args[1:])


@value_sets
def test_rendered_objects_are_valid_kubernetes(
    tools: Tools, render: Any, value_set: str, tmp_path: Any
) -> None:
    rendered: Rendered = render(value_set)
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(rendered.text)
    result = tools.run(
        tools.kubeconform,
        "-strict",
        "-summary",
        "-output",
        "json",
        "-schema-location",
        tools.schema_location,
        "-skip",
        ",".join(sorted(CUSTOM_RESOURCES)),
        manifest,
        check=False,
    )
    report = json.loads(result.stdout)
    problems = [
        f"{r['kind']} {r['name']}: {r['status']} {r.get('msg', '')}"
        for r in report["resources"]
        if r["status"] not in {"statusValid", "statusSkipped"}
    ]
    assert not problems, "\n".join(problems)
    assert result.returncode == 0, result.stderr
    skipped = {r["kind"] for r in report["resources"] if r["status"] == "statusSkipped"}
    assert skipped <= CUSTOM_RESOURCES
    assert report["summary"]["valid"] == len(
        [o for o in rendered.objects if o["kind"] not in CUSTOM_RESOURCES]
    )


def test_every_object_carries_the_standard_labels(render: Any) -> None:
    for value_set in VALUE_SETS:
        rendered: Rendered = render(value_set)
        for o in rendered.objects:
            labels = o["metadata"]["labels"]
            where = f"{value_set}: {o['kind']} {o['metadata']['name']}"
            assert labels["app.kubernetes.io/name"] == "imcloud", where
            assert labels["app.kubernetes.io/instance"] == rendered.release, where
            assert labels["app.kubernetes.io/managed-by"] == "Helm", where
            assert labels["helm.sh/chart"].startswith("imcloud-"), where
            assert "app.kubernetes.io/component" in labels, where


def test_app_version_is_the_platform_version_and_the_default_image_tag(render: Any) -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    workspace = tomllib.loads((CHART.parents[1] / "pyproject.toml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == workspace["project"]["version"]
    for _, pod in pod_templates(render("defaults")):
        for c in pod["spec"]["containers"]:
            assert c["image"] == f"imcloud:{chart['appVersion']}"


# --- what runs, and how it is wired -------------------------------------------


@value_sets
def test_one_deployment_and_service_per_service(render: Any, value_set: str) -> None:
    rendered: Rendered = render(value_set)
    for name, grpc_port in SERVICES.items():
        deployment = rendered.component("Deployment", name)
        c = container(deployment)
        assert c["command"] == ["imcloud"]
        assert c["args"] == ["serve", name]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        service = rendered.component("Service", name)
        service_ports = {p["name"]: p["port"] for p in service["spec"]["ports"]}
        # The Service's ports lead to the container's, by name.
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= set(ports)
        if name == "gateway":
            # Metrics on a port of their own, not on the public API listener.
            assert ports == {**gateway_ports(rendered), "metrics": 9464}
            assert service_ports == {**gateway_ports(rendered), "metrics": 9464}
        else:
            assert ports == {"grpc": grpc_port, "metrics": 9464}
            assert service_ports == {"grpc": grpc_port, "metrics": 9464}
            assert service["spec"]["type"] == "ClusterIP"
        assert selects(
            {"matchLabels": service["spec"]["selector"]},
            deployment["spec"]["template"]["metadata"]["labels"],
        )
        assert deployment["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]


@value_sets
def test_processes_find_each_other_through_the_services(render: Any, value_set: str) -> None:
    rendered: Rendered = render(value_set)
    data = config_data(rendered)
    assert data["IMCLOUD_BUS"] == "kafka"
    assert data["IMCLOUD_LOG_FORMAT"] == "json"
    assert data["IMCLOUD_GATEWAY__HTTP_HOST"] == "0.0.0.0"  # noqa: S104 - the pod's address
    assert data["IMCLOUD_GATEWAY__MQTT_HOST"] == "0.0.0.0"  # noqa: S104 - the pod's address
    assert data["IMCLOUD_GATEWAY__MQTT_PORT"] == str(MQTT_PORT)
    assert data["IMCLOUD_METRICS_PORT"] == "9464"
    assert data["IMCLOUD_KAFKA__BOOTSTRAP_SERVERS"] == rendered.values["kafka"]["bootstrapServers"]
    for name, port in SERVICES.items():
        assert data[f"IMCLOUD_{name.upper()}_GRPC__BIND"] == f"0.0.0.0:{port}"
        service = rendered.component("Service", name)
        assert data[f"IMCLOUD_{name.upper()}_GRPC__TARGET"] == (
            f"{service['metadata']['name']}:{port}"
        )
        if rendered.release != "imcloud":
            assert service["metadata"]["name"] == f"{rendered.release}-imcloud-{name}"
        deployment = rendered.component("Deployment", name)
        env_from = container(deployment)["envFrom"]
        assert env_from == [
            {
                "configMapRef": {
                    "name": rendered.component("ConfigMap", "config")["metadata"]["name"]
                }
            }
        ]


def effective_env(rendered: Rendered, c: dict[str, Any]) -> dict[str, str]:
    """What the kubelet would hand the container: envFrom, then env (secrets resolved
    from the chart's Secret; optional keys it does not have are left out)."""
    secret = {
        k: base64.b64decode(v).decode()
        for k, v in rendered.component("Secret", "secrets")["data"].items()
    }
    env: dict[str, str] = {}
    for source in c.get("envFrom", []):
        env.update(config_data(rendered) if "configMapRef" in source else {})
    for entry in c.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        elif entry["valueFrom"]["secretKeyRef"]["key"] in secret:
            env[entry["name"]] = secret[entry["valueFrom"]["secretKeyRef"]["key"]]
    return env


@pytest.mark.parametrize("value_set", ["defaults", "secured"])
def test_the_rendered_environment_is_a_valid_distributed_configuration(
    render: Any, value_set: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imcloud_core.settings import BusBackend
    from imcloud_platform.claims import listen_addresses
    from imcloud_platform.settings import Settings

    rendered: Rendered = render(value_set)
    urls = rendered.values["secrets"]
    for name, port in SERVICES.items():
        c = container(rendered.component("Deployment", name))
        with monkeypatch.context() as patch:
            for key in [k for k in os.environ if k.startswith("IMCLOUD_")]:
                patch.delenv(key)
            for key, value in effective_env(rendered, c).items():
                patch.setenv(key, value)
            settings = Settings()
            # What `imcloud serve` checks first.
            assert settings.problems_for([name], distributed=True) == []
        assert settings.bus is BusBackend.KAFKA
        assert settings.log_format == "json"
        assert settings.grpc_endpoint(name).bind == f"0.0.0.0:{port}"
        expected_url = urls["databaseUrls"][name] or urls["databaseUrl"].format(service=name)
        assert settings.database_url_for(name) == expected_url
        if name == "gateway":
            assert settings.gateway.http_host == "0.0.0.0"  # noqa: S104 - the pod's address
            assert settings.gateway.mqtt_enabled is True
            assert settings.gateway.mqtt_host == "0.0.0.0"  # noqa: S104 - the pod's address
            assert settings.provisioning.enabled is rendered.values["provisioning"]["enabled"]
        assert settings.metrics_port == 9464
        # Every port the process listens on is a container port, and the reverse
        # (8883 only with a certificate).
        listening = {int(a.rpartition(":")[2]) for a in listen_addresses(settings, [name]).values()}
        assert listening == {p["containerPort"] for p in c["ports"]}, name


def test_config_extra_reaches_every_process(render: Any) -> None:
    assert config_data(render("scaled"))["IMCLOUD_TELEMETRY__RETENTION_DAYS"] == "90"
    assert config_data(render("scaled"))["IMCLOUD_GATEWAY__CORS_ORIGINS"] == (
        '["https://portal.example.com"]'
    )


@value_sets
def test_containers_run_non_root_on_a_read_only_root_filesystem(
    render: Any, value_set: str
) -> None:
    rendered: Rendered = render(value_set)
    templates = pod_templates(rendered)
    assert len(templates) == 5  # four services + the migration Job
    for owner, pod in templates:
        where = f"{owner['kind']} {owner['metadata']['name']}"
        spec = pod["spec"]
        pod_context = spec["securityContext"]
        assert pod_context["runAsNonRoot"] is True, where
        assert pod_context["runAsUser"] == 10001, where
        assert pod_context["fsGroup"] == 10001, where
        assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}, where
        tmp_volumes = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for c in spec["containers"]:
            context = c["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["runAsNonRoot"] is True, where
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            assert mounts.get("/tmp") in tmp_volumes, f"{where}: no emptyDir at /tmp"
            assert c["resources"].get("requests"), where
        wants_token = owner["kind"] == "Deployment" and (
            owner["metadata"]["labels"]["app.kubernetes.io/component"] == "gateway"
            and rendered.values["provisioning"]["enabled"]
        )
        assert spec["automountServiceAccountToken"] is wants_token, where


@value_sets
def test_backends_have_grpc_probes_and_the_gateway_http_ones(render: Any, value_set: str) -> None:
    rendered: Rendered = render(value_set)
    for name in BACKENDS:
        c = container(rendered.component("Deployment", name))
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert c[probe]["grpc"] == {"port": SERVICES[name]}, f"{name} {probe}"
    gateway = container(rendered.component("Deployment", "gateway"))
    assert gateway["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert gateway["startupProbe"]["httpGet"]["path"] == "/healthz"


# --- secrets and migrations ----------------------------------------------------


def env_of(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in c.get("env", [])}


@value_sets
def test_secrets_are_referenced_never_inlined(render: Any, value_set: str) -> None:
    rendered: Rendered = render(value_set)
    secrets = rendered.values["secrets"]
    expected = (
        secrets["existingSecret"]
        or f"{rendered.component('Secret', 'secrets')['metadata']['name']}"
    )
    for owner, pod in pod_templates(rendered):
        for c in pod["spec"]["containers"]:
            for name, entry in env_of(c).items():
                if SECRET_ENV.match(name):
                    assert "value" not in entry, f"{owner['metadata']['name']}: {name} inlined"
                    ref = entry["valueFrom"]["secretKeyRef"]
                    assert ref["key"] == name
                    if owner["kind"] == "Deployment":
                        assert ref["name"] == expected
    for name in SERVICES:
        env = env_of(container(rendered.component("Deployment", name)))
        # `imcloud serve` refuses to start without a JWT secret of 32+ bytes.
        assert "optional" not in env["IMCLOUD_GATEWAY__JWT_SECRET"]["valueFrom"]["secretKeyRef"]
        # Each service sees its own database URL, not the others'.
        own = {k for k in env if k.startswith("IMCLOUD_DATABASE_URLS__")}
        assert own == {f"IMCLOUD_DATABASE_URLS__{name.upper()}"}
    # No plaintext secret anywhere outside the Secret objects.
    plain = [
        v
        for v in [secrets["jwtSecret"], secrets["databaseUrl"], *secrets["databaseUrls"].values()]
        if v
    ]
    outside = [o for o in rendered.objects if o["kind"] != "Secret"]
    for value in plain:
        assert value not in yaml.safe_dump_all(outside), f"{value!r} appears outside a Secret"


def test_chart_managed_secret_holds_the_values(render: Any) -> None:
    rendered: Rendered = render("secured")
    data = rendered.component("Secret", "secrets")["data"]
    decoded = {k: base64.b64decode(v).decode() for k, v in data.items()}
    values = rendered.values["secrets"]
    assert decoded["IMCLOUD_GATEWAY__JWT_SECRET"] == values["jwtSecret"]
    assert "IMCLOUD_DATABASE_URL" not in decoded
    for name, url in values["databaseUrls"].items():
        assert decoded[f"IMCLOUD_DATABASE_URLS__{name.upper()}"] == url
    # Defaults: a generated JWT secret of 64 characters and the {service} template.
    defaults = render("defaults").component("Secret", "secrets")["data"]
    assert len(base64.b64decode(defaults["IMCLOUD_GATEWAY__JWT_SECRET"])) == 64
    assert "{service}" in base64.b64decode(defaults["IMCLOUD_DATABASE_URL"]).decode()


def test_existing_secret_means_no_chart_secret(render: Any) -> None:
    rendered: Rendered = render("scaled")
    assert rendered.of_kind("Secret") == []


@value_sets
def test_migrations_run_as_a_pre_install_and_pre_upgrade_hook(render: Any, value_set: str) -> None:
    rendered: Rendered = render(value_set)
    job = rendered.component("Job", "migrations")
    annotations = job["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert set(annotations["helm.sh/hook-delete-policy"].split(",")) == {
        "before-hook-creation",
        "hook-succeeded",
    }
    c = container(job)
    assert c["command"] == ["imcloud"]
    assert c["args"] == ["migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert c["image"] == container(rendered.component("Deployment", "gateway"))["image"]
    env = env_of(c)
    # Same settings as the services, inline: the ConfigMap does not exist yet.
    for key, value in config_data(rendered).items():
        assert env[key]["value"] == value
    # Every service's database, and no JWT secret (migrate does not sign anything).
    assert {f"IMCLOUD_DATABASE_URLS__{n.upper()}" for n in SERVICES} <= set(env)
    assert "IMCLOUD_GATEWAY__JWT_SECRET" not in env
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for k, e in env.items() if SECRET_ENV.match(k)}
    assert len(refs) == 1
    (secret_name,) = refs
    if rendered.values["secrets"]["existingSecret"]:
        assert secret_name == rendered.values["secrets"]["existingSecret"]
    else:
        # A hook copy of the Secret, created before the Job (a lower weight).
        hook_secret = rendered.named("Secret", secret_name)
        hook = hook_secret["metadata"]["annotations"]
        assert set(hook["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
        assert int(hook["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])
        assert "IMCLOUD_GATEWAY__JWT_SECRET" not in hook_secret["data"]


# --- scaling -------------------------------------------------------------------


def test_scaled_out_services_have_hpas_and_pdbs(render: Any) -> None:
    rendered: Rendered = render("scaled")
    deployments = {d["metadata"]["name"]: d for d in rendered.of_kind("Deployment")}
    hpas = rendered.of_kind("HorizontalPodAutoscaler")
    assert len(hpas) == len(SERVICES)
    for hpa in hpas:
        target = hpa["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment"
        assert target["name"] in deployments
        component = hpa["metadata"]["labels"]["app.kubernetes.io/component"]
        wanted = rendered.values[component]["autoscaling"]
        assert hpa["spec"]["minReplicas"] == wanted["minReplicas"]
        assert hpa["spec"]["maxReplicas"] == wanted["maxReplicas"]
        (metric,) = hpa["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert (
            metric["resource"]["target"]["averageUtilization"]
            == (wanted["targetCPUUtilizationPercentage"])
        )
        # The HPA owns the replica count.
        assert "replicas" not in deployments[target["name"]]["spec"]
    pdbs = rendered.of_kind("PodDisruptionBudget")
    assert len(pdbs) == len(SERVICES)
    for pdb in pdbs:
        component = pdb["metadata"]["labels"]["app.kubernetes.io/component"]
        deployment = rendered.component("Deployment", component)
        assert selects(
            pdb["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"]
        )
        assert (
            pdb["spec"]["minAvailable"]
            == rendered.values[component]["podDisruptionBudget"]["minAvailable"]
        )
    assert rendered.component("Deployment", "products")["spec"]["template"]["spec"][
        "nodeSelector"
    ] == {"workload": "telemetry"}


def test_defaults_have_fixed_replicas_and_no_hpa_pdb(render: Any) -> None:
    rendered: Rendered = render("defaults")
    assert not rendered.of_kind("HorizontalPodAutoscaler")
    assert not rendered.of_kind("PodDisruptionBudget")
    for name in SERVICES:
        assert rendered.component("Deployment", name)["spec"]["replicas"] == 1


# --- network policies -----------------------------------------------------------


def component_of(selector: dict[str, Any], release: str) -> str | None:
    labels = selector.get("matchLabels", {})
    if labels.get("app.kubernetes.io/instance") != release:
        return None
    return labels.get("app.kubernetes.io/component")


def test_network_policies_leave_only_the_gateway_reachable(render: Any) -> None:
    rendered: Rendered = render("secured")
    policies = rendered.of_kind("NetworkPolicy")
    metrics_peers = rendered.values["networkPolicy"]["metrics"]["from"]
    # Every pod is isolated both ways by some policy.
    for owner, pod in pod_templates(rendered):
        labels = pod["metadata"]["labels"]
        covering = [p for p in policies if selects(p["spec"]["podSelector"], labels)]
        assert covering, f"{owner['metadata']['name']} is not isolated"
        for policy in covering:
            assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    reachable_from_anywhere = set()
    scraped = set()
    for policy in policies:
        component = component_of(policy["spec"]["podSelector"], rendered.release)
        for rule in policy["spec"].get("ingress", []):
            ports = {p["port"] for p in rule["ports"]}
            if not rule.get("from"):
                reachable_from_anywhere.add(component)
                assert ports == set(gateway_ports(rendered).values())
                continue
            peers = rule["from"]
            if peers == metrics_peers:
                assert ports == {9464}, f"{component}: metrics peers reach {ports}"
                scraped.add(component)
                continue
            callers = {component_of(peer["podSelector"], rendered.release) for peer in peers}
            assert all(set(peer) == {"podSelector"} for peer in peers)
            assert callers == CALLERS[component], component
            assert ports == {SERVICES[component]}
    assert reachable_from_anywhere == {"gateway"}
    assert scraped == set(SERVICES)
    # The outside world gets one Service to talk to.
    for name in BACKENDS:
        assert rendered.component("Service", name)["spec"]["type"] == "ClusterIP"


def test_network_policies_let_the_services_reach_what_they_need(render: Any) -> None:
    rendered: Rendered = render("secured")
    egress_values = rendered.values["networkPolicy"]["egress"]

    def egress(component: str) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = rendered.component("NetworkPolicy", component)["spec"][
            "egress"
        ]
        return rules

    for component in SERVICES:
        rules = egress(component)
        for need in ("dns", "kafka", "postgres"):
            assert {"ports": egress_values[need]["ports"], "to": egress_values[need]["to"]} in rules
        grpc_peers = {
            component_of(peer["podSelector"], rendered.release): {p["port"] for p in rule["ports"]}
            for rule in rules
            for peer in rule.get("to", [])
            if "podSelector" in peer and component_of(peer["podSelector"], rendered.release)
        }
        expected = {
            callee: {SERVICES[callee]} for callee, who in CALLERS.items() if component in who
        }
        assert grpc_peers == expected, component
    api = egress_values["kubernetesApi"]
    assert {"ports": api["ports"], "to": api["to"]} in egress("gateway")
    assert {"ports": api["ports"], "to": api["to"]} not in egress("products")
    # The migration Job: DNS and PostgreSQL only, no ingress at all.
    job_policy = rendered.component("NetworkPolicy", "migrations")["spec"]
    assert job_policy["ingress"] == []
    assert len(job_policy["egress"]) == 2


def test_no_network_policies_unless_enabled(render: Any) -> None:
    assert not render("defaults").of_kind("NetworkPolicy")


# --- MQTT --------------------------------------------------------------------------


@value_sets
def test_mqtt_over_tls_mounts_its_secret_and_opens_8883_only_when_set(
    render: Any, value_set: str
) -> None:
    rendered: Rendered = render(value_set)
    secret = mqtt_tls_secret(rendered)
    for owner, pod in pod_templates(rendered):
        where = f"{owner['kind']} {owner['metadata']['name']}"
        spec = pod["spec"]
        (c,) = spec["containers"]
        secret_volumes = {v["name"]: v["secret"] for v in spec["volumes"] if "secret" in v}
        tls_env = {k: e["value"] for k, e in env_of(c).items() if MQTT_TLS_ENV.match(k)}
        container_ports = {p["containerPort"] for p in c.get("ports", [])}
        is_gateway = owner["kind"] == "Deployment" and (
            owner["metadata"]["labels"]["app.kubernetes.io/component"] == "gateway"
        )
        if not (is_gateway and secret):
            assert not secret_volumes, where
            assert not tls_env, where
            assert MQTT_TLS_PORT not in container_ports, where
            continue
        # The kubernetes.io/tls Secret, read-only, its two keys as the gateway's files.
        assert secret_volumes == {"mqtt-tls": {"secretName": secret}}, where
        (mount,) = [m for m in c["volumeMounts"] if m["name"] == "mqtt-tls"]
        assert mount["readOnly"] is True
        assert tls_env == {
            "IMCLOUD_GATEWAY__MQTT_TLS_PORT": str(MQTT_TLS_PORT),
            "IMCLOUD_GATEWAY__MQTT_TLS_CERT_FILE": f"{mount['mountPath']}/tls.crt",
            "IMCLOUD_GATEWAY__MQTT_TLS_KEY_FILE": f"{mount['mountPath']}/tls.key",
        }
        assert MQTT_TLS_PORT in container_ports
    service_ports = {p["port"] for p in rendered.component("Service", "gateway")["spec"]["ports"]}
    assert MQTT_PORT in service_ports
    assert (MQTT_TLS_PORT in service_ports) is bool(secret)
    for policy in rendered.of_kind("NetworkPolicy"):
        component = component_of(policy["spec"]["podSelector"], rendered.release)
        ports = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
        assert (MQTT_PORT in ports) is (component == "gateway"), component
        assert (MQTT_TLS_PORT in ports) is (component == "gateway" and bool(secret)), component


def without_mqtt_tls(o: dict[str, Any]) -> dict[str, Any]:
    """``o`` without what gateway.mqtt.tls.secretName adds: the Secret's volume and
    mount, the TLS settings, and port 8883 (container, Service, NetworkPolicy)."""
    o = copy.deepcopy(o)
    if o["kind"] == "Service":
        o["spec"]["ports"] = [p for p in o["spec"]["ports"] if p["name"] != "mqtt-tls"]
    if o["kind"] == "NetworkPolicy":
        for rule in o["spec"]["ingress"]:
            rule["ports"] = [p for p in rule["ports"] if p["port"] != MQTT_TLS_PORT]
    if o["kind"] in {"Deployment", "Job"}:
        spec = o["spec"]["template"]["spec"]
        spec["volumes"] = [v for v in spec["volumes"] if v["name"] != "mqtt-tls"]
        for c in spec["containers"]:
            if "ports" in c:  # the Job's container has none
                c["ports"] = [p for p in c["ports"] if p["name"] != "mqtt-tls"]
            c["env"] = [e for e in c["env"] if not MQTT_TLS_ENV.match(e["name"])]
            c["volumeMounts"] = [m for m in c["volumeMounts"] if m["name"] != "mqtt-tls"]
    return o


def test_mqtt_tls_secret_name_changes_nothing_but_the_tls_listener(
    tools: Tools, render: Any
) -> None:
    with_tls: Rendered = render("secured")
    assert mqtt_tls_secret(with_tls)
    result = tools.run(
        tools.helm, "template", *helm_args("secured", "--set", "gateway.mqtt.tls.secretName=")
    )
    plain = [o for o in yaml.safe_load_all(result.stdout) if o]
    assert [without_mqtt_tls(o) for o in with_tls.objects] == plain


# --- provisioning ---------------------------------------------------------------


def test_provisioning_gives_the_gateway_its_service_account_and_cluster_role(
    render: Any,
) -> None:
    rendered: Rendered = render("secured")
    (account,) = rendered.of_kind("ServiceAccount")
    (role,) = rendered.of_kind("ClusterRole")
    (binding,) = rendered.of_kind("ClusterRoleBinding")
    verbs = {"get", "list", "watch", "create", "update", "patch", "delete"}
    granted = {
        (group, resource)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        if set(rule["verbs"]) == verbs
    }
    assert granted == {
        ("", "namespaces"),
        ("", "resourcequotas"),
        ("", "limitranges"),
        ("networking.k8s.io", "networkpolicies"),
    }
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": NAMESPACE}
    ]
    gateway = rendered.component("Deployment", "gateway")
    assert gateway["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]
    env = {k: e.get("value") for k, e in env_of(container(gateway)).items()}
    values = rendered.values["provisioning"]
    assert env["IMCLOUD_PROVISIONING__ENABLED"] == "true"
    assert env["IMCLOUD_PROVISIONING__NAMESPACE_PREFIX"] == values["namespacePrefix"]
    for key, setting in {
        "quotaCpu": "QUOTA_CPU",
        "quotaMemory": "QUOTA_MEMORY",
        "quotaPods": "QUOTA_PODS",
        "quotaStorage": "QUOTA_STORAGE",
        "defaultCpu": "DEFAULT_CPU",
        "defaultMemory": "DEFAULT_MEMORY",
        "maxCpu": "MAX_CPU",
        "maxMemory": "MAX_MEMORY",
    }.items():
        assert env[f"IMCLOUD_PROVISIONING__{setting}"] == str(values[key]), key
    for name in BACKENDS:
        assert not any(
            k.startswith("IMCLOUD_PROVISIONING__")
            for k in env_of(container(rendered.component("Deployment", name)))
        )


def test_provisioning_settings_match_the_settings_class(render: Any) -> None:
    from imcloud_gateway.settings import ProvisioningSettings

    env = env_of(container(render("secured").component("Deployment", "gateway")))
    chart = {k.removeprefix("IMCLOUD_PROVISIONING__").lower() for k in env if "PROVISIONING__" in k}
    assert chart <= set(ProvisioningSettings.model_fields)
    assert set(ProvisioningSettings.model_fields) - chart == {"kubeconfig"}


def test_no_rbac_without_provisioning(render: Any) -> None:
    rendered: Rendered = render("defaults")
    for kind in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding"):
        assert not rendered.of_kind(kind)
    gateway = rendered.component("Deployment", "gateway")
    assert "serviceAccountName" not in gateway["spec"]["template"]["spec"]


# --- monitoring -------------------------------------------------------------------


def test_service_monitors_scrape_every_service_as_its_alert_job(render: Any) -> None:
    rendered: Rendered = render("secured")
    monitors = rendered.of_kind("ServiceMonitor")
    assert len(monitors) == len(SERVICES)
    for monitor in monitors:
        component = monitor["metadata"]["labels"]["app.kubernetes.io/component"]
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        service = rendered.component("Service", component)
        assert selects(monitor["spec"]["selector"], service["metadata"]["labels"])
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
        assert endpoint["port"] == "metrics"
        assert endpoint["path"] == "/metrics"
        assert {
            "action": "replace",
            "targetLabel": "job",
            "replacement": f"imcloud-{component}",
        } in (endpoint["relabelings"])


def test_prometheus_rule_and_dashboard_are_the_shipped_files(render: Any) -> None:
    rendered: Rendered = render("secured")
    (rule,) = rendered.of_kind("PrometheusRule")
    shipped = yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())
    assert rule["spec"] == shipped
    dashboard = rendered.component("ConfigMap", "dashboard")
    assert dashboard["metadata"]["namespace"] == "monitoring"
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["imcloud.json"]) == json.loads(
        (CHART / "files" / "dashboards" / "imcloud.json").read_text()
    )


def test_no_monitoring_objects_by_default(render: Any) -> None:
    rendered: Rendered = render("defaults")
    assert not rendered.of_kind("ServiceMonitor")
    assert not rendered.of_kind("PrometheusRule")
    assert not [o for o in rendered.of_kind("ConfigMap") if "dashboard" in o["metadata"]["name"]]


# --- wrong values fail early, with a message naming them --------------------------


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("gateway.replicas=two", "at '/gateway/replicas': got string, want integer"),
        ("gateway.replica=2", "additional properties 'replica' not allowed"),
        ("products.autoscaling.maxReplicas=0", "at '/products/autoscaling/maxReplicas'"),
        ("config.logLevel=VERBOSE", "at '/config/logLevel'"),
        ("gateway.service.type=External", "at '/gateway/service/type'"),
        ("gateway.mqtt.tls.secretName=Not_A_Name", "at '/gateway/mqtt/tls/secretName'"),
        ("gateway.mqtt.tls.certFile=tls.crt", "additional properties 'certFile' not allowed"),
        ("secrets.jwtSecret=too-short", "at '/secrets/jwtSecret'"),
        ("kafka.bootstrapServers=kafka", "at '/kafka/bootstrapServers'"),
        ("networkPolicy.egress.kafka.ports[0].protocol=ICMP", "protocol"),
        ("unknownTopLevel=1", "additional properties 'unknownTopLevel' not allowed"),
    ],
)
def test_wrong_values_fail_with_the_schemas_message(
    tools: Tools, setting: str, message: str
) -> None:
    args = helm_args("defaults", "--set", setting)
    for command in (["template", *args], ["lint", *args[1:]]):
        result = tools.run(tools.helm, *command, check=False)
        assert result.returncode != 0, f"helm {command[0]} accepted {setting}"
        assert message in result.stdout + result.stderr, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["secrets.databaseUrl="], "no database URL for gateway"),
        (
            [
                "products.podDisruptionBudget.enabled=true",
                "products.podDisruptionBudget.minAvailable=1",
            ],
            "products.podDisruptionBudget.minAvailable (1) must be below the replica count (1)",
        ),
        (
            [
                "gateway.autoscaling.enabled=true",
                "gateway.autoscaling.minReplicas=5",
                "gateway.autoscaling.maxReplicas=3",
            ],
            "gateway.autoscaling.minReplicas (5) is above maxReplicas (3)",
        ),
    ],
)
def test_inconsistent_values_fail_the_render(
    tools: Tools, settings: list[str], message: str
) -> None:
    sets = [arg for s in settings for arg in ("--set", s)]
    result = tools.run(tools.helm, "template", *helm_args("defaults", *sets), check=False)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


# --- documentation ----------------------------------------------------------------


def value_paths(values: dict[str, Any], prefix: str = "") -> list[str]:
    """Every value a user sets: scalars, lists, and maps that are empty or free-form."""
    free_form = {
        "resources",
        "podSecurityContext",
        "containerSecurityContext",
        "affinity",
        "nodeSelector",
        "labels",
        "annotations",
        "extra",
        "databaseUrls",
        "to",
        "from",
    }
    paths = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and key not in free_form:
            paths += value_paths(value, f"{path}.")
        else:
            paths.append(path)
    return paths


def test_chart_readme_documents_every_value() -> None:
    readme = (CHART / "README.md").read_text()
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    missing = []
    for path in value_paths(defaults):
        head, _, rest = path.partition(".")
        generic = f"`<service>.{rest}`" if head in SERVICES else None
        if f"`{path}`" not in readme and (generic is None or generic not in readme):
            missing.append(path)
    assert not missing, f"helm/imcloud/README.md does not document: {', '.join(missing)}"


def test_schema_types_every_value() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
        return node

    untyped = []
    for path in value_paths(defaults):
        node = schema
        for part in path.split("."):
            node = resolve(node)["properties"][part]
        node = resolve(node)
        if not ({"type", "enum", "anyOf", "const"} & set(node)):
            untyped.append(path)
    assert not untyped, f"values.schema.json gives no type for: {', '.join(untyped)}"
