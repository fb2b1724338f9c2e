"""The distributed mode: one process per service, real PostgreSQL and Kafka."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from imcloud.gateway.v1 import events_pb2 as gateway_events
from imcloud_core.bus.kafka import KafkaBus
from imcloud_core.events import Topic, parse_envelope, unpack
from imcloud_core.rpc import check_health
from imcloud_core.settings import KafkaSettings
from tests.conftest import FreshDatabases
from tests.integration.bus.test_bus_contract import Collector
from tests.support.api import sign_up
from tests.support.platform import (
    SERVICES,
    ImcloudProcess,
    Ports,
    run_imcloud,
    wait_until_healthy,
)
from tests.support.waiting import wait_for


@pytest.fixture
def distributed_env(kafka_bootstrap: str, fresh_postgres: FreshDatabases) -> dict[str, str]:
    env = {
        "IMCLOUD_BUS": "kafka",
        "IMCLOUD_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "IMCLOUD_GATEWAY__JWT_SECRET": uuid.uuid4().hex,
    }
    for service in SERVICES:
        env[f"IMCLOUD_DATABASE_URLS__{service.upper()}"] = fresh_postgres.create(service)
    return env


@pytest.fixture
def platform(
    distributed_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[Ports, dict[str, ImcloudProcess]]]:
    ports = Ports()
    env = {**distributed_env, **ports.environment()}
    migrated = run_imcloud("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    processes = {
        service: ImcloudProcess("serve", service, env=env, log_path=tmp_path / f"{service}.log")
        for service in SERVICES
    }
    yield ports, processes
    for service, process in processes.items():
        assert process.stop() == 0, f"{service} did not stop cleanly:\n{process.log()}"


def test_every_service_answers_grpc_health_and_serves_the_api(
    platform: tuple[Ports, dict[str, ImcloudProcess]], kafka_bootstrap: str
) -> None:
    ports, processes = platform
    wait_until_healthy(processes["gateway"], ports.base_url, timeout_s=60)
    for service, port in ports.grpc.items():
        wait_for(
            lambda port=port, service=service: (
                processes[service].assert_running() or check_health(f"127.0.0.1:{port}")
            ),
            timeout_s=60,
            interval_s=0.2,
            what=f"{service} gRPC health",
        )
    wait_for(
        lambda: httpx.get(f"{ports.base_url}/readyz").status_code == 200,
        timeout_s=30,
        what="gateway readiness",
    )

    # A request crosses processes: gateway (its database) -> production (its database).
    acme = sign_up(ports.base_url, f"Acme {uuid.uuid4().hex[:6]}")
    plant = acme.post("/v1/plants", {"name": "Shenzhen", "time_zone": "Asia/Shanghai"})
    assert plant.status_code == 201, plant.text
    assert acme.get(f"/v1/plants/{plant.json()['id']}").json()["name"] == "Shenzhen"

    # The sign-up's event went through the gateway's outbox to Kafka.
    bus = KafkaBus(KafkaSettings(bootstrap_servers=kafka_bootstrap))
    collector = Collector()
    bus.subscribe(group=f"test-{uuid.uuid4().hex}", topics=[Topic.TENANT_EVENTS], handler=collector)
    try:

        def acme_onboarded() -> bool:
            for record in list(collector.records):
                envelope = parse_envelope(record.value)
                event = unpack(envelope, gateway_events.TenantOnboarded)
                if event is not None and event.tenant.id == acme.id:
                    return envelope.type == "tenant.onboarded"
            return False

        wait_for(acme_onboarded, timeout_s=30, interval_s=0.2, what="tenant.onboarded on Kafka")
    finally:
        bus.close()
