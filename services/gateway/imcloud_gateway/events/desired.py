"""The desired state at the device link: a machine connected here gets its desired
state when it changes, and on connect while it has not applied it; its report of
the version it applied goes to the products service.

A machine may get one version more than once (on connect and from the topic, or
from two replicas); the device SDK applies each version once and answers a repeat
with its report again, so a report lost on the way is made good by the next connect.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import Counter

from imcloud.gateway.v1 import device_link_pb2 as link_pb
from imcloud.products.v1 import events_pb2
from imcloud.products.v1 import products_service_pb2 as pb
from imcloud_core.bus import Record
from imcloud_core.errors import FailedPrecondition, InvalidArgument, NotFound
from imcloud_core.events import parse_envelope, unpack
from imcloud_core.logging import get_logger
from imcloud_gateway.clients.backends import Backends
from imcloud_gateway.domain.model import DevicePrincipal
from imcloud_gateway.events.commands import DeviceLinks, device_context

log = get_logger(__name__)

# Every gateway replica reads every change from the moment it starts (from_latest,
# like the commands); a change made earlier reaches its machine when it connects.
DESIRED_GROUP = "gateway.desired-state"

SENT = Counter(
    "imcloud_gateway_desired_states_sent_total",
    "Desired states sent down device links",
    ["trigger"],
)


def _down(desired: pb.DesiredState) -> link_pb.ConnectResponse:
    return link_pb.ConnectResponse(
        desired_state=link_pb.DesiredState(
            version=desired.version, properties_json=desired.properties_json
        )
    )


class DesiredStateRelay:
    def __init__(self, *, links: DeviceLinks, backends: Backends) -> None:
        self._links = links
        self._backends = backends

    def handle(self, batch: Sequence[Record]) -> None:
        """Changed desired states: send them to the machines connected here."""
        for record in batch:
            changed = unpack(parse_envelope(record.value), events_pb2.DesiredStateChanged)
            if changed is not None and self._links.push(
                changed.equipment_id, _down(changed.desired)
            ):
                SENT.labels("change").inc()

    def deliver_on_connect(self, device: DevicePrincipal) -> None:
        """The machine's desired state, if it has not applied its latest version."""
        twin = self._backends.call(
            self._backends.products.GetTwin,
            pb.GetTwinRequest(equipment_id=device.equipment_id),
            device_context(device),
        ).twin
        if twin.applied_version < twin.desired.version and self._links.push(
            device.equipment_id, _down(twin.desired), waiting=True
        ):
            SENT.labels("connect").inc()

    def applied(self, device: DevicePrincipal, report: link_pb.DesiredStateApplied) -> None:
        """Records the version the machine applied. A report products refuses (a
        version that does not exist, a deleted machine) is the machine's mistake
        and ends nothing; products being away ends the stream, and the next
        connect brings the report again."""
        try:
            self._backends.call(
                self._backends.products.ReportDesiredStateApplied,
                pb.ReportDesiredStateAppliedRequest(
                    equipment_id=device.equipment_id, version=report.version, detail=report.detail
                ),
                device_context(device),
            )
        except (FailedPrecondition, InvalidArgument, NotFound) as refused:
            log.warning(
                "desired state report refused", version=report.version, reason=refused.message
            )
