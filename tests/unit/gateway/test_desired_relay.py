"""The desired-state relay at the device link: changes go to the machines connected
here, on connect only an unapplied version goes down, and a report products
refuses ends nothing while products being away does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest

from imcloud.gateway.v1 import device_link_pb2 as link_pb
from imcloud.products.v1 import events_pb2
from imcloud.products.v1 import products_service_pb2 as pb
from imcloud_core.bus import Record
from imcloud_core.errors import FailedPrecondition, Unavailable
from imcloud_core.events import Topic, new_envelope
from imcloud_gateway.clients.backends import Backends
from imcloud_gateway.domain.model import DevicePrincipal
from imcloud_gateway.events.desired import DesiredStateRelay

DEVICE = DevicePrincipal(tenant_id="t", equipment_id="here", credential_id="c")


class Links:
    def __init__(self) -> None:
        self.pushed: list[tuple[str, link_pb.ConnectResponse, bool]] = []

    def push(
        self,
        equipment_id: str,
        response: link_pb.ConnectResponse,
        *,
        waiting: bool = False,
        attempt: int = 0,
    ) -> bool:
        if equipment_id != "here":
            return False
        self.pushed.append((equipment_id, response, waiting))
        return True


class Products:
    def __init__(self, twin: pb.Twin, refusal: Exception | None = None) -> None:
        self.twin = twin
        self.refusal = refusal
        self.reports: list[pb.ReportDesiredStateAppliedRequest] = []

    def GetTwin(self, request: pb.GetTwinRequest) -> pb.GetTwinResponse:  # noqa: N802
        return pb.GetTwinResponse(twin=self.twin)

    def ReportDesiredStateApplied(  # noqa: N802
        self, request: pb.ReportDesiredStateAppliedRequest
    ) -> pb.ReportDesiredStateAppliedResponse:
        if self.refusal is not None:
            raise self.refusal
        self.reports.append(request)
        return pb.ReportDesiredStateAppliedResponse(applied_version=request.version)


class FakeBackends:
    def __init__(self, products: Products) -> None:
        self.products = products

    def call(self, method: Callable[[Any], Any], request: Any, ctx: object) -> Any:
        return method(request)


def relay(products: Products) -> tuple[DesiredStateRelay, Links]:
    links = Links()
    backends = cast(Backends, FakeBackends(products))
    return DesiredStateRelay(links=links, backends=backends), links


def twin(version: int, applied: int) -> pb.Twin:
    return pb.Twin(
        equipment_id="here",
        desired=pb.DesiredState(version=version, properties_json='{"mode": "eco"}'),
        applied_version=applied,
    )


def record(equipment_id: str, version: int) -> Record:
    envelope = new_envelope(
        tenant_id="t",
        event_type="desired_state.changed",
        payload=events_pb2.DesiredStateChanged(
            equipment_id=equipment_id,
            desired=pb.DesiredState(version=version, properties_json='{"mode": "eco"}'),
        ),
        source="products",
    )
    return Record(Topic.PRODUCTS_EVENTS, 0, version, equipment_id, envelope.SerializeToString())


def test_changes_go_down_the_links_held_here_only() -> None:
    desired, links = relay(Products(twin(0, 0)))
    other_event = new_envelope(
        tenant_id="t",
        event_type="equipment.deleted",
        payload=events_pb2.EquipmentDeleted(equipment_id="here"),
        source="products",
    )
    desired.handle(
        [
            record("here", 4),
            record("elsewhere", 7),
            Record(Topic.PRODUCTS_EVENTS, 0, 9, "here", other_event.SerializeToString()),
        ]
    )
    assert [(e, r.desired_state.version, w) for e, r, w in links.pushed] == [("here", 4, False)]
    assert links.pushed[0][1].desired_state.properties_json == '{"mode": "eco"}'


@pytest.mark.parametrize(
    ("version", "applied", "sent"), [(3, 2, True), (3, 3, False), (0, 0, False)]
)
def test_on_connect_only_an_unapplied_version_goes_down(
    version: int, applied: int, sent: bool
) -> None:
    desired, links = relay(Products(twin(version, applied)))
    desired.deliver_on_connect(DEVICE)
    assert [(r.desired_state.version, w) for _, r, w in links.pushed] == (
        [(version, True)] if sent else []
    )


def test_a_refused_report_ends_nothing_and_products_away_ends_the_stream() -> None:
    products = Products(twin(3, 0))
    desired, _ = relay(products)
    desired.applied(DEVICE, link_pb.DesiredStateApplied(version=3, detail="no coolant"))
    assert [(r.equipment_id, r.version, r.detail) for r in products.reports] == [
        ("here", 3, "no coolant")
    ]
    products.refusal = FailedPrecondition("the desired state is at version 3")
    desired.applied(DEVICE, link_pb.DesiredStateApplied(version=9))
    products.refusal = Unavailable("products is away")
    with pytest.raises(Unavailable):
        desired.applied(DEVICE, link_pb.DesiredStateApplied(version=3))
