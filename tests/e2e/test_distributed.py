"""The distributed mode: one process per service, real PostgreSQL and Kafka."""

from __future__ import annotations

import uuid

import httpx

from imcloud.gateway.v1 import events_pb2 as gateway_events
from imcloud_core.bus.kafka import KafkaBus
from imcloud_core.events import Topic, parse_envelope, unpack
from imcloud_core.rpc import check_health
from tests.integration.bus.test_bus_contract import Collector
from tests.support.api import sign_up
from tests.support.platform import RunningPlatform
from tests.support.waiting import wait_for


def test_every_service_answers_grpc_health(distributed_platform: RunningPlatform) -> None:
    for port in distributed_platform.ports.grpc.values():
        assert check_health(f"127.0.0.1:{port}")


def test_a_request_crosses_processes_and_its_event_reaches_kafka(
    distributed_platform: RunningPlatform,
) -> None:
    # gateway (its database) -> production (its database)
    acme = sign_up(distributed_platform.base_url, f"Acme {uuid.uuid4().hex[:6]}")
    plant = acme.post("/v1/plants", {"name": "Shenzhen", "time_zone": "Asia/Shanghai"})
    assert plant.status_code == 201, plant.text
    assert acme.get(f"/v1/plants/{plant.json()['id']}").json()["name"] == "Shenzhen"

    # The sign-up's event went through the gateway's outbox to Kafka.
    bus = KafkaBus(distributed_platform.kafka_settings())
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


def test_a_service_outage_degrades_the_gateway_without_making_it_unready(
    distributed_platform: RunningPlatform,
) -> None:
    servitization = distributed_platform.processes["servitization"].process
    servitization.kill()
    servitization.wait()
    try:
        answer = wait_for(
            lambda: (
                (r := httpx.get(f"{distributed_platform.base_url}/readyz")).json()["degraded"] and r
            ),
            timeout_s=30,
            what="the outage noticed",
        )
        assert answer.status_code == 200
        assert answer.json()["degraded"] == {"servitization": "not serving"}
    finally:
        distributed_platform.kill_and_restart("servitization")
    assert httpx.get(f"{distributed_platform.base_url}/readyz").json()["status"] == "ok"
