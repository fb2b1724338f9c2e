"""The desired state in the products store (PostgreSQL and SQLite): concurrent
changes follow each other (none is lost), each version is announced once in the
outbox, and the applied version only rises."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from imcloud.products.v1 import events_pb2
from imcloud_core.errors import FailedPrecondition, NotFound
from imcloud_core.events import parse_envelope, unpack
from imcloud_products.domain import services
from imcloud_products.domain.model import SignalDefinition
from imcloud_products.module import unit_of_work
from imcloud_products.store.tables import outbox
from tests.support.databases import migrated_database

TENANT = "tenant-desired"
WRITERS = 8


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    return empty_database_url


def announced(db: Any) -> list[events_pb2.DesiredStateChanged]:
    with db.read() as session:
        rows = session.execute(select(outbox.c.envelope).order_by(outbox.c.position)).all()
    found = []
    for (value,) in rows:
        changed = unpack(parse_envelope(value), events_pb2.DesiredStateChanged)
        if changed is not None:
            found.append(changed)
    return found


def test_concurrent_changes_are_all_kept_and_each_version_announced_once(
    database_url: str,
) -> None:
    with migrated_database(database_url, "imcloud_products") as db:
        transaction = unit_of_work(db)
        model = services.create_equipment_model(
            transaction(),
            tenant_id=TENANT,
            name="Mill",
            manufacturer="",
            signals=(SignalDefinition("spindle_speed"),),
        )
        machine = services.create_equipment(
            transaction(),
            tenant_id=TENANT,
            model_id=model.id,
            serial_number="SN-1",
            name="",
            station_id="",
        ).id

        def write(number: int) -> int:
            return services.update_desired_state(
                transaction(),
                tenant_id=TENANT,
                equipment_id=machine,
                desired_json=json.dumps({f"p{number}": number}),
                version=None,
                actor=f"key:{number}",
            ).version

        with ThreadPoolExecutor(WRITERS) as pool:
            versions = sorted(pool.map(write, range(WRITERS)))
        assert versions == list(range(1, WRITERS + 1))

        with transaction() as uow:
            stored = uow.desired_states.get(tenant_id=TENANT, equipment_id=machine)
        assert stored is not None
        assert stored.properties == {f"p{n}": n for n in range(WRITERS)}
        assert [c.desired.version for c in announced(db)] == versions
        assert [json.loads(c.desired.properties_json) for c in announced(db)][-1] == (
            stored.properties
        )

        with pytest.raises(FailedPrecondition, match=f"at version {WRITERS}"):
            services.update_desired_state(
                transaction(),
                tenant_id=TENANT,
                equipment_id=machine,
                desired_json='{"p0": 100}',
                version=1,
                actor="key:late",
            )

        def report(version: int) -> int:
            return services.report_desired_state_applied(
                transaction(), tenant_id=TENANT, equipment_id=machine, version=version, detail=""
            )

        assert report(5) == 5
        assert report(3) == 5  # a late report changes nothing
        with pytest.raises(FailedPrecondition):
            report(WRITERS + 1)
        # Another tenant's machine is not found, whatever its id.
        with pytest.raises(NotFound):
            services.report_desired_state_applied(
                transaction(), tenant_id="other", equipment_id=machine, version=1, detail=""
            )

        services.delete_equipment(transaction(), tenant_id=TENANT, equipment_id=machine)
        with transaction() as uow:
            assert uow.desired_states.get(tenant_id=TENANT, equipment_id=machine) is None
