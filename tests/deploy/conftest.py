"""The Kubernetes deployment checked offline: the Helm chart, the alert rules and
the dashboard, with helm, kubeconform and promtool from `infra/k8s-tools.sh`.

The tools are built (and cached) by `infra/k8s-tools.sh install`; a test that
cannot find them fails and names that command: a skipped test would hide a
broken setup.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

CHART = REPO / "helm" / "imcloud"
VALUES_DIR = Path(__file__).parent / "values"
K8S_TOOLS = REPO / "infra" / "k8s-tools.sh"
# The Kubernetes version the offline schemas describe (infra/k8s-tools.sh versions).
KUBE_VERSION = "1.37.0"
RELEASE = "imcloud"
NAMESPACE = "plant"
# Value sets under tests/deploy/values/ (None: the chart's defaults), each rendered
# under its own release name so object names do not hide behind the defaults.
VALUE_SETS: dict[str, tuple[str | None, str]] = {
    "defaults": (None, "imcloud"),
    "scaled": ("scaled.yaml", "factory"),
    "secured": ("secured.yaml", "imcloud"),
}


@dataclass(frozen=True)
class Tools:
    helm: Path
    kubeconform: Path
    promtool: Path
    schema_location: str

    def run(
        self, tool: Path, *args: str | Path, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(tool), *map(str, args)],
            capture_output=True,
            text=True,
            check=False,
            cwd=REPO,
            timeout=120,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"{tool.name} {' '.join(map(str, args))} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}",
                pytrace=False,
            )
        return result


def _k8s_tools(command: str) -> str:
    result = subprocess.run(
        ["bash", str(K8S_TOOLS), command], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


@pytest.fixture(scope="session")
def tools() -> Tools:
    bin_dir = Path(_k8s_tools("path"))
    found = {name: bin_dir / name for name in ("helm", "kubeconform", "promtool")}
    missing = [name for name, path in found.items() if not path.is_file()]
    schema_dir = Path(_k8s_tools("schema-dir"))
    if not any(schema_dir.glob(f"v{KUBE_VERSION}-standalone-strict/*.json")):
        missing.append(f"kubeconform schemas ({schema_dir})")
    if missing:
        pytest.fail(
            f"missing {', '.join(missing)} in {bin_dir}: run 'infra/k8s-tools.sh install' "
            "(builds them with Go and caches them; minutes the first time)",
            pytrace=False,
        )
    return Tools(
        helm=found["helm"],
        kubeconform=found["kubeconform"],
        promtool=found["promtool"],
        schema_location=_k8s_tools("schema-location"),
    )


def helm_args(value_set: str, *extra: str) -> list[str]:
    values_file, release = VALUE_SETS[value_set]
    args = [release, str(CHART), "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION]
    if values_file:
        args += ["-f", str(VALUES_DIR / values_file)]
    return [*args, *extra]


@dataclass(frozen=True)
class Rendered:
    name: str
    release: str
    values: dict[str, Any]
    text: str
    objects: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def named(self, kind: str, name: str) -> dict[str, Any]:
        for o in self.of_kind(kind):
            if o["metadata"]["name"] == name:
                return o
        raise AssertionError(f"no {kind} {name!r} in the {self.name} render")

    def component(self, kind: str, component: str) -> dict[str, Any]:
        matches = [
            o
            for o in self.of_kind(kind)
            if o["metadata"]["labels"].get("app.kubernetes.io/component") == component
        ]
        assert len(matches) == 1, f"{len(matches)} {kind} objects for {component}"
        return matches[0]


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def values_of(value_set: str) -> dict[str, Any]:
    defaults: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    values_file, _ = VALUE_SETS[value_set]
    if values_file is None:
        return defaults
    return _merge(defaults, yaml.safe_load((VALUES_DIR / values_file).read_text()))


@pytest.fixture(scope="session")
def render(tools: Tools) -> Any:
    cache: dict[str, Rendered] = {}

    def render_set(value_set: str) -> Rendered:
        if value_set not in cache:
            result = tools.run(tools.helm, "template", *helm_args(value_set))
            objects = [o for o in yaml.safe_load_all(result.stdout) if o]
            cache[value_set] = Rendered(
                name=value_set,
                release=VALUE_SETS[value_set][1],
                values=values_of(value_set),
                text=result.stdout,
                objects=objects,
            )
        return cache[value_set]

    return render_set
