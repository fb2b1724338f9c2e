"""What the gateway does when other services report facts."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from imcloud.products.v1 import events_pb2 as products_events
from imcloud_core.bus import Record
from imcloud_core.events import parse_envelope, unpack
from imcloud_core.logging import get_logger
from imcloud_gateway.domain.equipment import revoke_access_to_deleted_equipment
from imcloud_gateway.domain.ports import UnitOfWork

log = get_logger(__name__)

GROUP = "gateway.equipment-lifecycle"


def equipment_lifecycle_handler(
    unit_of_work: Callable[[], UnitOfWork],
) -> Callable[[Sequence[Record]], None]:
    """A deleted machine loses its device credentials and access grants (in one
    transaction); revoking is idempotent, so a redelivered event changes nothing."""

    def handle(batch: Sequence[Record]) -> None:
        for record in batch:
            envelope = parse_envelope(record.value)
            deleted = unpack(envelope, products_events.EquipmentDeleted)
            if deleted is None:
                continue
            revoked = revoke_access_to_deleted_equipment(
                unit_of_work(), tenant_id=envelope.tenant_id, equipment_id=deleted.equipment_id
            )
            log.info(
                "equipment deleted: access revoked",
                equipment_id=deleted.equipment_id,
                credentials=revoked.credentials,
                grants=revoked.grants,
            )

    return handle
