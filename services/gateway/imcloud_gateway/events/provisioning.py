"""Reacts to tenants arriving and leaving by provisioning their dedicated
resources, and reconciles them all periodically (drift repair)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from imcloud.gateway.v1 import events_pb2 as pb
from imcloud_core.bus import Record
from imcloud_core.events import parse_envelope, unpack
from imcloud_core.logging import get_logger
from imcloud_gateway.domain import provisioning
from imcloud_gateway.domain.model import Tenant
from imcloud_gateway.domain.ports import UnitOfWork
from imcloud_gateway.domain.provisioning import (
    ProvisioningPolicy,
    ProvisioningRecords,
    TenantNamespaces,
)
from imcloud_gateway.settings import ProvisioningSettings

log = get_logger(__name__)

GROUP = "gateway.provisioning"


def policy_from(settings: ProvisioningSettings) -> ProvisioningPolicy:
    return ProvisioningPolicy(
        namespace_prefix=settings.namespace_prefix,
        quota={
            "requests.cpu": settings.quota_cpu,
            "limits.cpu": settings.quota_cpu,
            "requests.memory": settings.quota_memory,
            "limits.memory": settings.quota_memory,
            "pods": settings.quota_pods,
            "requests.storage": settings.quota_storage,
        },
        default_limits={"cpu": settings.default_cpu, "memory": settings.default_memory},
        max_limits={"cpu": settings.max_cpu, "memory": settings.max_memory},
    )


class Provisioner:
    def __init__(
        self,
        *,
        unit_of_work: Callable[[], UnitOfWork],
        namespaces: TenantNamespaces,
        records: ProvisioningRecords,
        policy: ProvisioningPolicy,
    ) -> None:
        self._uow = unit_of_work
        self._namespaces = namespaces
        self._records = records
        self._policy = policy

    def handle(self, batch: Sequence[Record]) -> None:
        """Tenant events; replaying one changes nothing (provisioning is declarative)."""
        for record in batch:
            envelope = parse_envelope(record.value)
            if (
                unpack(envelope, pb.TenantOnboarded) is None
                and unpack(envelope, pb.TenantOffboarded) is None
            ):
                continue
            # The tenant as it is now decides, whichever event arrives (late) first.
            with self._uow() as uow:
                tenant = uow.tenants.get(envelope.tenant_id)
            if tenant is not None:
                self.reconcile(tenant)

    def reconcile(self, tenant: Tenant) -> None:
        act = provisioning.deprovision if tenant.offboard_time else provisioning.provision
        status = act(
            tenant, policy=self._policy, namespaces=self._namespaces, records=self._records
        )
        log.info(
            "tenant provisioning",
            tenant_id=tenant.id,
            state=status.state.value,
            namespace=status.namespace,
            message=status.message,
        )

    def reconcile_all(self) -> None:
        for tenant in self._records.dedicated_tenants():
            try:
                self.reconcile(tenant)
            except Exception:
                log.exception("could not reconcile a tenant's resources", tenant_id=tenant.id)
