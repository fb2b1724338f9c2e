"""What the database refuses when two requests interleave past the domain's checks.

The domain checks names and children before it writes; a concurrent transaction
can still slip in between. These tests skip the checks and write through the
repositories directly, as the slower of two racing requests would.
"""

from __future__ import annotations

import dataclasses

import pytest

from imcloud_core.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from imcloud_core.ids import new_id
from imcloud_production.domain import services
from imcloud_production.domain.model import Line, Plant
from tests.unit.production.harness import ProductionStore

TENANT = "tenant-acme"


def _plant_and_line(store: ProductionStore) -> tuple[Plant, Line]:
    plant = services.create_plant(
        store.unit_of_work(), tenant_id=TENANT, name="Augsburg", location="", time_zone=""
    )
    line = services.create_line(
        store.unit_of_work(), tenant_id=TENANT, plant_id=plant.id, name="L1", description=""
    )
    return plant, line


def test_a_duplicate_name_is_already_exists(store: ProductionStore) -> None:
    plant, line = _plant_and_line(store)

    with pytest.raises(AlreadyExists) as error, store.unit_of_work() as uow:
        uow.lines.add(dataclasses.replace(line, id=new_id()))
    assert [v.field for v in error.value.violations] == ["name"]

    other = services.create_line(
        store.unit_of_work(), tenant_id=TENANT, plant_id=plant.id, name="L2", description=""
    )
    with pytest.raises(AlreadyExists), store.unit_of_work() as uow:
        uow.lines.update(dataclasses.replace(other, name="L1"))


def test_a_vanished_parent_is_an_invalid_argument(store: ProductionStore) -> None:
    _, line = _plant_and_line(store)

    with pytest.raises(InvalidArgument) as error, store.unit_of_work() as uow:
        uow.lines.add(dataclasses.replace(line, id=new_id(), plant_id=new_id(), name="L9"))
    assert [v.field for v in error.value.violations] == ["plant_id"]


def test_deleting_a_parent_with_children_is_a_failed_precondition(
    store: ProductionStore,
) -> None:
    plant, _ = _plant_and_line(store)

    with pytest.raises(FailedPrecondition, match="still has lines"), store.unit_of_work() as uow:
        uow.plants.remove(plant)

    assert services.get_plant(store.unit_of_work(), tenant_id=TENANT, plant_id=plant.id) == plant
    assert store.event_types() == ["plant.created", "line.created"]
