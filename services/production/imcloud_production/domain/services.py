"""Use cases of the production service; every one is scoped to a tenant."""

from __future__ import annotations

from imcloud_core.errors import AlreadyExists, FieldViolation, NotFound
from imcloud_core.ids import new_id, utcnow
from imcloud_core.paging import page_size
from imcloud_production.domain.events import PlantCreated
from imcloud_production.domain.model import Plant, check_plant_fields
from imcloud_production.domain.ports import UnitOfWork


def create_plant(
    uow: UnitOfWork, *, tenant_id: str, name: str, location: str, time_zone: str
) -> Plant:
    check_plant_fields(name=name, location=location, time_zone=time_zone)
    now = utcnow()
    plant = Plant(
        id=new_id(),
        tenant_id=tenant_id,
        name=name.strip(),
        location=location,
        time_zone=time_zone or "UTC",
        create_time=now,
        update_time=now,
    )
    with uow:
        if uow.plants.name_taken(tenant_id=tenant_id, name=plant.name):
            raise AlreadyExists(
                f"a plant named {plant.name!r} already exists",
                violations=(FieldViolation("name", "already used by another plant"),),
            )
        uow.plants.add(plant)
        uow.record(PlantCreated(plant))
    return plant


def get_plant(uow: UnitOfWork, *, tenant_id: str, plant_id: str) -> Plant:
    with uow:
        plant = uow.plants.get(tenant_id=tenant_id, plant_id=plant_id)
    if plant is None:
        raise NotFound(f"plant {plant_id!r} not found")
    return plant


def list_plants(
    uow: UnitOfWork, *, tenant_id: str, requested_page_size: int, page_token: str
) -> tuple[list[Plant], str]:
    size = page_size(requested_page_size)
    with uow:
        return uow.plants.list(tenant_id=tenant_id, page_size=size, page_token=page_token)
