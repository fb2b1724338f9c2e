"""The products service's machines, as servitization needs them."""

from __future__ import annotations

import json
from typing import Any

import grpc

from imcloud.products.v1 import products_service_pb2 as pb
from imcloud.products.v1.products_service_pb2_grpc import ProductsServiceStub
from imcloud_core.errors import NotFound
from imcloud_core.rpc import CallContext, call

DEADLINE_S = 5.0
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
