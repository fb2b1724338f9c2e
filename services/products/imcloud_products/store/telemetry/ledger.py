"""The batch ledger: the device batches stored so far, so that a batch
delivered again is recognised and skipped whole."""

from __future__ import annotations

from sqlalchemy import Connection, select, tuple_

from imcloud_products.domain.telemetry import RecordedBatch
from imcloud_products.store.tables import telemetry_batches
from imcloud_products.store.telemetry.dialect import Insert


def unrecorded(connection: Connection, batches: list[RecordedBatch]) -> list[RecordedBatch]:
    """The batches not recorded before, each once.

    A sequence id seen with other content is not a resend (a device that
    reused an id): those points go through, and the natural key still keeps
    every point once.
    """
    c = telemetry_batches.c
    known = {
        (row.equipment_id, row.sequence_id, row.fingerprint)
        for row in connection.execute(
            select(c.equipment_id, c.sequence_id, c.fingerprint).where(
                tuple_(c.equipment_id, c.sequence_id).in_(
                    list({(b.equipment_id, b.sequence_id) for b in batches})
                )
            )
        )
    }
    fresh = []
    for batch in batches:
        key = (batch.equipment_id, batch.sequence_id, batch.fingerprint)
        if key not in known:
            known.add(key)
            fresh.append(batch)
    return fresh


def remember(connection: Connection, insert: Insert, batches: list[RecordedBatch]) -> None:
    connection.execute(
        insert(telemetry_batches).on_conflict_do_nothing(),
        [
            {
                "equipment_id": b.equipment_id,
                "sequence_id": b.sequence_id,
                "fingerprint": b.fingerprint,
                "receive_ms": b.receive_ms,
            }
            for b in batches
        ],
    )


def forget_before(connection: Connection, before_ms: int) -> None:
    # Redeliveries come within hours; the ledger needs no longer memory than points.
    connection.execute(telemetry_batches.delete().where(telemetry_batches.c.receive_ms < before_ms))
