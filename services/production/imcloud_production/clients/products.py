"""The products service, as production asks it: where a machine stands, when its
announcement has not reached production yet; and recipes given to machines as
their desired state."""

from __future__ import annotations

import threading
import time

import grpc

from imcloud.products.v1 import products_service_pb2 as pb
from imcloud.products.v1.products_service_pb2_grpc import ProductsServiceStub
from imcloud_core.convert import from_timestamp
from imcloud_core.errors import FailedPrecondition, InvalidArgument, NotFound
from imcloud_core.rpc import CallContext, call
from imcloud_production.domain.execution import Placement
from imcloud_production.domain.ports import AppliedRecipe

DEADLINE_S = 5.0
# A machine the products service does not know, or has not placed, is asked
# about again only after this long: its telemetry must not cost a call a batch.
FORGET_UNKNOWN_S = 30.0


class ProductsDirectory:
    """Implements EquipmentDirectory and RecipeTarget."""

    def __init__(self, channel: grpc.Channel) -> None:
        self._stub = ProductsServiceStub(channel)
        self._unknown: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def placement(self, *, tenant_id: str, equipment_id: str) -> Placement | None:
        key = (tenant_id, equipment_id)
        with self._lock:
            if time.monotonic() < self._unknown.get(key, 0.0):
                return None
        try:
            machine = call(
                self._stub.GetEquipment,
                pb.GetEquipmentRequest(equipment_id=equipment_id),
                ctx=CallContext(tenant_id=tenant_id, actor="production"),
                deadline_s=DEADLINE_S,
            ).equipment
        except NotFound:
            machine = None
        if machine is None or not machine.station_id:
            with self._lock:
                self._unknown[key] = time.monotonic() + FORGET_UNKNOWN_S
            return None
        return Placement(
            tenant_id=tenant_id,
            equipment_id=machine.id,
            equipment_model_id=machine.equipment_model_id,
            station_id=machine.station_id,
            update_time=from_timestamp(machine.update_time),
        )

    def apply(self, *, tenant_id: str, equipment_id: str, recipe_json: str) -> AppliedRecipe:
        try:
            twin = call(
                self._stub.UpdateDesiredState,
                pb.UpdateDesiredStateRequest(equipment_id=equipment_id, desired_json=recipe_json),
                ctx=CallContext(tenant_id=tenant_id, actor="production"),
                deadline_s=DEADLINE_S,
            ).twin
        except NotFound:
            # Placed here still, deleted there: its removal is on its way to production.
            raise FailedPrecondition(
                f"machine {equipment_id!r} of the station no longer exists"
            ) from None
        except InvalidArgument as refused:
            # The recipe is valid on its own: merged into what the machine holds, too much.
            raise FailedPrecondition(
                f"machine {equipment_id!r} cannot take the recipe: {refused.message}"
            ) from None
        return AppliedRecipe(
            desired_version=twin.desired.version, applied_version=twin.applied_version
        )
