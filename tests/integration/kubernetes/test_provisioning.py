"""Tenant provisioning against a real kube-apiserver (infra/kube.sh), not a mock.

Only what the API server itself guarantees is asserted: without a namespace
controller a deleted namespace stays Terminating instead of disappearing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client
from sqlalchemy import create_engine, select

from imcloud_core.bus import Record
from imcloud_core.db import Database
from imcloud_core.errors import ConfigurationError
from imcloud_core.events import Topic
from imcloud_core.migrations import upgrade_to_head
from imcloud_gateway.clients.kubernetes import KubernetesNamespaces, connect
from imcloud_gateway.domain import identity
from imcloud_gateway.domain.model import Principal, Role, Tenant, TenantKind, Tier
from imcloud_gateway.domain.provisioning import ProvisioningState
from imcloud_gateway.events.provisioning import Provisioner, policy_from
from imcloud_gateway.module import unit_of_work
from imcloud_gateway.settings import ProvisioningSettings
from imcloud_gateway.store.repository import GatewayUnitOfWork, SqlProvisioningRecords
from imcloud_gateway.store.tables import outbox


@dataclass
class Setup:
    db: Database
    provisioner: Provisioner
    records: SqlProvisioningRecords
    core: client.CoreV1Api
    networking: client.NetworkingV1Api
    prefix: str

    def uow(self) -> GatewayUnitOfWork:
        return unit_of_work(self.db)()

    def sign_up(self, tier: Tier) -> Tenant:
        tenant, _ = identity.sign_up(
            self.uow(), name=f"T {uuid.uuid4().hex[:8]}", kind=TenantKind.ENTERPRISE, tier=tier
        )
        return tenant

    def deliver_staged_events(self) -> list[Record]:
        """What the outbox relay would publish: the tenant events, as records."""
        with self.db.read() as session:
            rows = session.execute(
                select(outbox.c.key, outbox.c.envelope).order_by(outbox.c.position)
            ).all()
        records = [Record(Topic.TENANT_EVENTS, 0, n, r.key, r.envelope) for n, r in enumerate(rows)]
        self.provisioner.handle(records)
        return records

    def namespace(self, tenant: Tenant) -> str:
        return f"{self.prefix}{tenant.id}"

    def versions(self, namespace: str) -> dict[str, str]:
        return {
            "namespace": self.core.read_namespace(namespace).metadata.resource_version,
            "quota": self.core.read_namespaced_resource_quota(
                "tenant-quota", namespace
            ).metadata.resource_version,
            "limits": self.core.read_namespaced_limit_range(
                "tenant-limits", namespace
            ).metadata.resource_version,
            "policy": self.networking.read_namespaced_network_policy(
                "default-deny", namespace
            ).metadata.resource_version,
        }


@pytest.fixture
def setup(kubeconfig: str, tmp_path: Path) -> Setup:
    engine = create_engine(f"sqlite:///{tmp_path}/gateway.db")
    upgrade_to_head(engine, package="imcloud_gateway")
    db = Database(engine)
    # A prefix of its own per test, so earlier runs' namespaces never interfere.
    prefix = f"t{uuid.uuid4().hex[:6]}-"
    settings = ProvisioningSettings(
        enabled=True,
        kubeconfig=kubeconfig,
        namespace_prefix=prefix,
        quota_cpu="3",
        quota_memory="6Gi",
        quota_pods="12",
    )
    api = connect(kubeconfig)
    records = SqlProvisioningRecords(db)
    provisioner = Provisioner(
        unit_of_work=unit_of_work(db),
        namespaces=KubernetesNamespaces(api),
        records=records,
        policy=policy_from(settings),
    )
    return Setup(
        db, provisioner, records, client.CoreV1Api(api), client.NetworkingV1Api(api), prefix
    )


def test_onboarding_a_dedicated_tenant_creates_its_namespace_as_planned(setup: Setup) -> None:
    tenant = setup.sign_up(Tier.DEDICATED)
    setup.deliver_staged_events()
    name = setup.namespace(tenant)

    namespace = setup.core.read_namespace(name)
    assert namespace.metadata.labels["imcloud.io/tenant-id"] == tenant.id
    assert namespace.status.phase == "Active"
    quota = setup.core.read_namespaced_resource_quota("tenant-quota", name)
    assert quota.spec.hard == {
        "limits.cpu": "3",
        "limits.memory": "6Gi",
        "pods": "12",
        "requests.cpu": "3",
        "requests.memory": "6Gi",
        "requests.storage": "50Gi",
    }
    (limit,) = setup.core.read_namespaced_limit_range("tenant-limits", name).spec.limits
    assert (limit.type, limit.default, limit.max) == (
        "Container",
        {"cpu": "500m", "memory": "512Mi"},
        {"cpu": "2", "memory": "4Gi"},
    )
    policy = setup.networking.read_namespaced_network_policy("default-deny", name).spec
    assert policy.pod_selector.match_labels is None
    assert sorted(policy.policy_types) == ["Egress", "Ingress"]
    assert not policy.ingress
    assert not policy.egress
    status = setup.records.get(tenant.id)
    assert status is not None
    assert (status.state, status.namespace) == (ProvisioningState.PROVISIONED, name)


def test_replaying_the_event_changes_nothing(setup: Setup) -> None:
    tenant = setup.sign_up(Tier.DEDICATED)
    records = setup.deliver_staged_events()
    before = setup.versions(setup.namespace(tenant))
    setup.provisioner.handle(records)
    setup.provisioner.handle(records)
    assert setup.versions(setup.namespace(tenant)) == before


def test_reconciling_repairs_a_deleted_quota_and_a_loosened_policy(setup: Setup) -> None:
    tenant = setup.sign_up(Tier.DEDICATED)
    setup.deliver_staged_events()
    name = setup.namespace(tenant)
    setup.core.delete_namespaced_resource_quota("tenant-quota", name)
    loosened = setup.networking.read_namespaced_network_policy("default-deny", name)
    loosened.spec.ingress = [client.V1NetworkPolicyIngressRule()]  # allow everything in
    setup.networking.replace_namespaced_network_policy("default-deny", name, loosened)

    setup.provisioner.reconcile_all()

    restored = setup.core.read_namespaced_resource_quota("tenant-quota", name)
    assert restored.spec.hard["pods"] == "12"
    assert not setup.networking.read_namespaced_network_policy("default-deny", name).spec.ingress
    status = setup.records.get(tenant.id)
    assert status is not None
    assert "resource quota" in status.message
    assert "network policy" in status.message


def test_offboarding_removes_the_namespace(setup: Setup) -> None:
    tenant = setup.sign_up(Tier.DEDICATED)
    setup.deliver_staged_events()
    owner = Principal(tenant_id=tenant.id, role=Role.OWNER, actor="key:test", credential_id="k")
    identity.offboard(setup.uow(), principal=owner)
    setup.deliver_staged_events()

    # Without a namespace controller the API server keeps it, marked for deletion.
    namespace = setup.core.read_namespace(setup.namespace(tenant))
    assert namespace.metadata.deletion_timestamp is not None
    assert namespace.status.phase == "Terminating"
    status = setup.records.get(tenant.id)
    assert status is not None
    assert status.state is ProvisioningState.DEPROVISIONED
    # Nothing new can be created in it: the API server refuses.
    with pytest.raises(client.ApiException) as refused:
        setup.core.create_namespaced_config_map(
            setup.namespace(tenant), client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x"))
        )
    assert refused.value.status == 403


def test_shared_tier_tenants_get_no_namespace(setup: Setup) -> None:
    tenant = setup.sign_up(Tier.SHARED)
    setup.deliver_staged_events()
    with pytest.raises(client.ApiException) as missing:
        setup.core.read_namespace(setup.namespace(tenant))
    assert missing.value.status == 404
    status = setup.records.get(tenant.id)
    assert status is not None
    assert status.state is ProvisioningState.NOT_NEEDED


def test_an_unreachable_api_server_names_the_setting(tmp_path: Path, kubeconfig: str) -> None:
    broken = tmp_path / "kubeconfig"
    broken.write_text(Path(kubeconfig).read_text().replace(":6443", ":1"))
    with pytest.raises(ConfigurationError, match="IMCLOUD_PROVISIONING__KUBECONFIG"):
        connect(str(broken))
