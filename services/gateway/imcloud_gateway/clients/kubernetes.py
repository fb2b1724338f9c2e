"""The domain's TenantNamespaces on a real cluster, through the `kubernetes` client.

Each object is read, then created when missing or replaced when it differs from
the plan; reading first keeps an unchanged cluster unchanged (no writes, the
same resourceVersions), which is what replaying an event must do.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity

from imcloud_core.errors import ConfigurationError
from imcloud_gateway.domain.provisioning import NamespacePlan

NOT_FOUND = 404


def connect(kubeconfig: str) -> client.ApiClient:
    """An API client from the kubeconfig file, or the pod's service account,
    checked to reach the API server."""
    setting = "IMCLOUD_PROVISIONING__KUBECONFIG"
    try:
        if kubeconfig:
            api = config.new_client_from_config(config_file=kubeconfig)
        else:
            config.load_incluster_config()
            api = client.ApiClient()
    except (config.ConfigException, OSError) as error:
        raise ConfigurationError(
            f"{setting}: no usable Kubernetes configuration ({error})"
        ) from None
    try:
        client.VersionApi(api).get_code(_request_timeout=10)
    except Exception as error:
        raise ConfigurationError(
            f"{setting}: the Kubernetes API server does not answer ({type(error).__name__})"
        ) from None
    return api


def _quantities(values: dict[str, str] | None) -> dict[str, Decimal]:
    return {key: parse_quantity(value) for key, value in (values or {}).items()}


class KubernetesNamespaces:
    def __init__(self, api: client.ApiClient) -> None:
        self._core = client.CoreV1Api(api)
        self._networking = client.NetworkingV1Api(api)

    def ensure(self, plan: NamespacePlan) -> list[str]:
        changed = []
        if self._ensure_namespace(plan):
            changed.append("namespace")
        if self._ensure_quota(plan):
            changed.append("resource quota")
        if self._ensure_limit_range(plan):
            changed.append("limit range")
        if self._ensure_network_policy(plan):
            changed.append("network policy")
        return changed

    def remove(self, name: str) -> None:
        # Deleting is asynchronous: afterwards the namespace is gone, or terminating.
        try:
            self._core.delete_namespace(name)
        except ApiException as error:
            if error.status != NOT_FOUND:
                raise

    # -- one method per object ------------------------------------------------------

    def _ensure_namespace(self, plan: NamespacePlan) -> bool:
        current = _read(self._core.read_namespace, plan.name)
        if current is None:
            self._core.create_namespace(
                client.V1Namespace(metadata=client.V1ObjectMeta(name=plan.name, labels=plan.labels))
            )
            return True
        if current.metadata.deletion_timestamp is not None:
            raise RuntimeError(f"namespace {plan.name} is being deleted; cannot provision into it")
        labels = current.metadata.labels or {}
        if any(labels.get(key) != value for key, value in plan.labels.items()):
            self._core.patch_namespace(plan.name, {"metadata": {"labels": plan.labels}})
            return True
        return False

    def _ensure_quota(self, plan: NamespacePlan) -> bool:
        desired = client.V1ResourceQuota(
            metadata=client.V1ObjectMeta(name=plan.quota_name, labels=plan.labels),
            spec=client.V1ResourceQuotaSpec(hard=plan.quota),
        )
        return _apply(
            _read(self._core.read_namespaced_resource_quota, plan.quota_name, plan.name),
            matches=lambda current: _quantities(current.spec.hard) == _quantities(plan.quota),
            create=lambda: self._core.create_namespaced_resource_quota(plan.name, desired),
            replace=lambda: self._core.replace_namespaced_resource_quota(
                plan.quota_name, plan.name, desired
            ),
        )

    def _ensure_limit_range(self, plan: NamespacePlan) -> bool:
        desired = client.V1LimitRange(
            metadata=client.V1ObjectMeta(name=plan.limit_range_name, labels=plan.labels),
            spec=client.V1LimitRangeSpec(
                limits=[
                    client.V1LimitRangeItem(
                        type="Container",
                        default=plan.default_limits,
                        default_request=plan.default_limits,
                        max=plan.max_limits,
                    )
                ]
            ),
        )

        def matches(current: Any) -> bool:
            limits = current.spec.limits or []
            return (
                len(limits) == 1
                and limits[0].type == "Container"
                and _quantities(limits[0].default) == _quantities(plan.default_limits)
                and _quantities(limits[0].default_request) == _quantities(plan.default_limits)
                and _quantities(limits[0].max) == _quantities(plan.max_limits)
            )

        return _apply(
            _read(self._core.read_namespaced_limit_range, plan.limit_range_name, plan.name),
            matches=matches,
            create=lambda: self._core.create_namespaced_limit_range(plan.name, desired),
            replace=lambda: self._core.replace_namespaced_limit_range(
                plan.limit_range_name, plan.name, desired
            ),
        )

    def _ensure_network_policy(self, plan: NamespacePlan) -> bool:
        # Selects every pod and allows nothing: all ingress and egress denied
        # until the tenant's own policies open what it needs.
        desired = client.V1NetworkPolicy(
            metadata=client.V1ObjectMeta(name=plan.network_policy_name, labels=plan.labels),
            spec=client.V1NetworkPolicySpec(
                pod_selector=client.V1LabelSelector(), policy_types=["Ingress", "Egress"]
            ),
        )

        def denies_all(current: Any) -> bool:
            spec = current.spec
            return (
                not (spec.pod_selector.match_labels or spec.pod_selector.match_expressions)
                and sorted(spec.policy_types or []) == ["Egress", "Ingress"]
                and not spec.ingress
                and not spec.egress
            )

        return _apply(
            _read(
                self._networking.read_namespaced_network_policy,
                plan.network_policy_name,
                plan.name,
            ),
            matches=denies_all,
            create=lambda: self._networking.create_namespaced_network_policy(plan.name, desired),
            replace=lambda: self._networking.replace_namespaced_network_policy(
                plan.network_policy_name, plan.name, desired
            ),
        )


def _read(read: Any, *args: str) -> Any:
    try:
        return read(*args)
    except ApiException as error:
        if error.status == NOT_FOUND:
            return None
        raise


def _apply(
    current: Any,
    *,
    matches: Callable[[Any], bool],
    create: Callable[[], object],
    replace: Callable[[], object],
) -> bool:
    """Creates the object when it is missing and replaces it when it differs from
    the plan; True when either changed the cluster."""
    if current is None:
        create()
        return True
    if matches(current):
        return False
    replace()
    return True
