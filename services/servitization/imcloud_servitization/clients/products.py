"""The products service's machines, as servitization needs them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import grpc

from imcloud.products.v1 import products_service_pb2 as pb
from imcloud.products.v1.products_service_pb2_grpc import ProductsServiceStub
from imcloud_core.errors import NotFound
from imcloud_core.paging import MAX_PAGE_SIZE, every_page
from imcloud_core.rpc import CallContext, call
from imcloud_servitization.domain.customization import SignalSummary

DEADLINE_S = 5.0
# The smallest bucket products aggregates telemetry in.
MIN_BUCKET_MS = 1000
ACTOR = "servitization"


class ProductsMachines:
    def __init__(self, channel: grpc.Channel) -> None:
        self._stub = ProductsServiceStub(channel)

    def station_of(self, *, tenant_id: str, equipment_id: str) -> str:
        """Empty too for a machine deleted since its ticket was opened."""
        try:
            machine = call(
                self._stub.GetEquipment,
                pb.GetEquipmentRequest(equipment_id=equipment_id),
                ctx=CallContext(tenant_id=tenant_id, actor=ACTOR),
                deadline_s=DEADLINE_S,
            ).equipment
        except NotFound:
            return ""
        return machine.station_id

    def reset_anomaly_model(self, *, tenant_id: str, equipment_id: str) -> None:
        call(
            self._stub.ResetAnomalyModel,
            pb.ResetAnomalyModelRequest(equipment_id=equipment_id),
            ctx=CallContext(tenant_id=tenant_id, actor=ACTOR),
            deadline_s=DEADLINE_S,
        )

    def change_desired(
        self, *, tenant_id: str, equipment_id: str, patch: dict[str, Any], actor: str
    ) -> int:
        """For a fleet job, on behalf of whoever created it."""
        twin = call(
            self._stub.UpdateDesiredState,
            pb.UpdateDesiredStateRequest(equipment_id=equipment_id, desired_json=json.dumps(patch)),
            ctx=CallContext(tenant_id=tenant_id, actor=actor),
            deadline_s=DEADLINE_S,
        ).twin
        return twin.desired.version

    def machines_at(self, *, tenant_id: str, station_id: str) -> list[str]:
        ctx = CallContext(tenant_id=tenant_id, actor=ACTOR)
        machines = every_page(
            lambda token: _equipment_page(
                call(
                    self._stub.ListEquipment,
                    pb.ListEquipmentRequest(
                        station_id=station_id, page_size=MAX_PAGE_SIZE, page_token=token
                    ),
                    ctx=ctx,
                    deadline_s=DEADLINE_S,
                )
            )
        )
        return [machine.id for machine in machines]

    def signal_buckets(
        self, *, tenant_id: str, equipment_id: str, start: datetime, end: datetime
    ) -> list[SignalSummary]:
        """One bucket at least as wide as the stretch: buckets start at multiples of
        their width, so the stretch's points fall in at most two of them."""
        start_ms = int(start.timestamp() * 1000)
        end_ms = max(int(end.timestamp() * 1000), start_ms + 1)
        response = call(
            self._stub.AggregateTelemetry,
            pb.AggregateTelemetryRequest(
                equipment_id=equipment_id,
                start_ms=start_ms,
                end_ms=end_ms,
                bucket_ms=max(MIN_BUCKET_MS, end_ms - start_ms),
            ),
            ctx=CallContext(tenant_id=tenant_id, actor=ACTOR),
            deadline_s=DEADLINE_S,
        )
        return [
            SignalSummary(
                signal=series.signal,
                count=series.count[i],
                min=series.min[i],
                max=series.max[i],
                mean=series.mean[i],
            )
            for series in response.signals
            for i in range(len(series.bucket_start_ms))
        ]


def _equipment_page(response: pb.ListEquipmentResponse) -> tuple[list[pb.Equipment], str]:
    return list(response.equipment), response.next_page_token
