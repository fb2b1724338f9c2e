"""Production's client of the products service, against the real products service
on SQLite and PostgreSQL: a recipe becomes a machine's desired state under a new
version, the twin says when the machine applied it, and a machine or service that
is not there is an answer production can give its caller."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator

import pytest

from imcloud_core.errors import FailedPrecondition, Unavailable
from imcloud_core.rpc import GrpcServer, open_channel
from imcloud_production.clients.products import ProductsDirectory
from imcloud_products.api.grpc_servicer import ProductsServicer, register
from imcloud_products.domain import services
from imcloud_products.domain.model import SignalDefinition
from imcloud_products.module import telemetry_unit_of_work, unit_of_work
from imcloud_products.store.monitoring import ModelSignals, SqlHealthReader
from imcloud_products.store.repository import ProductsUnitOfWork
from imcloud_products.store.telemetry import SqlTelemetryStore
from tests.support.databases import migrated_database

TENANT = "tenant-recipes"
# The client, a machine's id, and the products service's transactions.
Products = tuple[ProductsDirectory, str, Callable[[], ProductsUnitOfWork]]


@pytest.fixture
def products(empty_database_url: str) -> Iterator[Products]:
    with migrated_database(empty_database_url, "imcloud_products") as db:
        transaction = unit_of_work(db)
        store = SqlTelemetryStore(db, retention_days=1, rollup_retention_days=1)
        servicer = ProductsServicer(
            transaction,
            store,
            health=SqlHealthReader(db),
            telemetry_unit_of_work=telemetry_unit_of_work(store, ModelSignals()),
            offline_after_ms=60_000,
        )
        model = services.create_equipment_model(
            transaction(),
            tenant_id=TENANT,
            name="Booth",
            manufacturer="",
            signals=(SignalDefinition("booth_temperature"),),
        )
        machine = services.create_equipment(
            transaction(),
            tenant_id=TENANT,
            model_id=model.id,
            serial_number="SN-1",
            name="",
            station_id="",
        )
        server = GrpcServer(name="products-test", bind="127.0.0.1:0", register=[register(servicer)])
        server.start()
        try:
            with open_channel(f"127.0.0.1:{server.port}") as channel:
                yield ProductsDirectory(channel), machine.id, transaction
        finally:
            server.stop(grace_s=0)


def test_a_recipe_becomes_the_desired_state_and_the_twin_says_when_it_was_applied(
    products: Products,
) -> None:
    client, machine, transaction = products
    recipe = json.dumps({"color": "black", "coats": 2})

    given = client.apply(tenant_id=TENANT, equipment_id=machine, recipe_json=recipe)
    assert (given.desired_version, given.applied_version) == (1, 0)
    services.report_desired_state_applied(
        transaction(),
        tenant_id=TENANT,
        equipment_id=machine,
        version=1,
        detail="",
    )
    again = client.apply(tenant_id=TENANT, equipment_id=machine, recipe_json=recipe)
    assert (again.desired_version, again.applied_version) == (1, 1), "nothing new to apply"
    other = client.apply(tenant_id=TENANT, equipment_id=machine, recipe_json='{"coats": 3}')
    assert (other.desired_version, other.applied_version) == (2, 1)


def test_a_machine_or_a_products_service_that_is_not_there_is_said_so(
    products: Products,
) -> None:
    client, machine, _ = products
    with pytest.raises(FailedPrecondition, match="no longer exists"):
        client.apply(tenant_id="tenant-other", equipment_id=machine, recipe_json='{"a": 1}')
    with pytest.raises(FailedPrecondition, match="cannot take the recipe"):
        client.apply(
            tenant_id=TENANT,
            equipment_id=machine,
            recipe_json=json.dumps({f"p{n}": n for n in range(300)}),
        )

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with open_channel(f"127.0.0.1:{port}") as nowhere, pytest.raises(Unavailable):
        ProductsDirectory(nowhere).apply(tenant_id=TENANT, equipment_id=machine, recipe_json="{}")
