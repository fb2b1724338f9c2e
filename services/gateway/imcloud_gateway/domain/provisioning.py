"""Dedicated resources for tenants on the dedicated tier: a Kubernetes namespace
of their own, with a resource quota, default container limits and a network
policy that denies all traffic until something is explicitly allowed.

Provisioning is declarative: `provision` makes the cluster match the plan, so
running it again changes nothing and running it after drift repairs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from imcloud_core.ids import utcnow
from imcloud_gateway.domain.model import Tenant, Tier


class ProvisioningState(StrEnum):
    # Shared-tier tenants get nothing of their own.
    NOT_NEEDED = "not_needed"
    PENDING = "pending"
    PROVISIONED = "provisioned"
    FAILED = "failed"
    DEPROVISIONED = "deprovisioned"


@dataclass(frozen=True)
class ProvisioningPolicy:
    namespace_prefix: str
    quota: dict[str, str]
    default_limits: dict[str, str]
    max_limits: dict[str, str]


@dataclass(frozen=True)
class NamespacePlan:
    """Everything a tenant's namespace must hold."""

    name: str
    labels: dict[str, str]
    quota: dict[str, str]
    default_limits: dict[str, str]
    max_limits: dict[str, str]
    # Names of the objects inside the namespace.
    quota_name: str = "tenant-quota"
    limit_range_name: str = "tenant-limits"
    network_policy_name: str = "default-deny"


@dataclass(frozen=True)
class ProvisioningStatus:
    tenant_id: str
    state: ProvisioningState
    namespace: str = ""
    message: str = ""
    update_time: datetime = field(default_factory=utcnow)


class TenantNamespaces(Protocol):
    def ensure(self, plan: NamespacePlan) -> list[str]:
        """Creates or repairs what differs from the plan; returns what it changed."""

    def remove(self, name: str) -> None:
        """Deletes the namespace (and all in it); done once it is gone or going."""


class ProvisioningRecords(Protocol):
    def get(self, tenant_id: str) -> ProvisioningStatus | None: ...

    def save(self, status: ProvisioningStatus) -> None: ...

    def dedicated_tenants(self) -> list[Tenant]:
        """Every active tenant on the dedicated tier (for the periodic reconcile)."""


def namespace_plan(tenant: Tenant, policy: ProvisioningPolicy) -> NamespacePlan:
    return NamespacePlan(
        name=f"{policy.namespace_prefix}{tenant.id}",
        labels={
            "app.kubernetes.io/managed-by": "imcloud",
            "imcloud.io/tenant-id": tenant.id,
            "imcloud.io/tier": tenant.tier.value,
        },
        quota=dict(policy.quota),
        default_limits=dict(policy.default_limits),
        max_limits=dict(policy.max_limits),
    )


def provision(
    tenant: Tenant,
    *,
    policy: ProvisioningPolicy,
    namespaces: TenantNamespaces,
    records: ProvisioningRecords,
) -> ProvisioningStatus:
    """Brings the tenant's dedicated resources to the plan and records the outcome."""
    if tenant.tier is not Tier.DEDICATED:
        status = ProvisioningStatus(tenant.id, ProvisioningState.NOT_NEEDED)
        records.save(status)
        return status
    plan = namespace_plan(tenant, policy)
    try:
        changed = namespaces.ensure(plan)
    except Exception as error:
        status = ProvisioningStatus(
            tenant.id, ProvisioningState.FAILED, plan.name, f"{type(error).__name__}: {error}"
        )
        records.save(status)
        raise
    previous = records.get(tenant.id)
    message = f"repaired: {', '.join(changed)}" if changed else "in place"
    if previous is None or previous.state is not ProvisioningState.PROVISIONED or changed:
        status = ProvisioningStatus(tenant.id, ProvisioningState.PROVISIONED, plan.name, message)
        records.save(status)
        return status
    return previous


def deprovision(
    tenant: Tenant,
    *,
    policy: ProvisioningPolicy,
    namespaces: TenantNamespaces,
    records: ProvisioningRecords,
) -> ProvisioningStatus:
    plan = namespace_plan(tenant, policy)
    if tenant.tier is not Tier.DEDICATED:
        status = ProvisioningStatus(tenant.id, ProvisioningState.DEPROVISIONED)
    else:
        namespaces.remove(plan.name)
        status = ProvisioningStatus(
            tenant.id, ProvisioningState.DEPROVISIONED, plan.name, "namespace deleted"
        )
    records.save(status)
    return status
