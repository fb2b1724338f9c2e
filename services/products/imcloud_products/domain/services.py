"""Use cases of the products service; every one is scoped to a tenant."""

from __future__ import annotations

from imcloud_core.errors import AlreadyExists, FieldViolation, NotFound
from imcloud_core.ids import new_id, utcnow
from imcloud_core.paging import page_size
from imcloud_products.domain.events import EquipmentModelCreated
from imcloud_products.domain.model import (
    EquipmentModel,
    SignalDefinition,
    check_equipment_model_fields,
)
from imcloud_products.domain.ports import UnitOfWork


def create_equipment_model(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    name: str,
    manufacturer: str,
    signals: tuple[SignalDefinition, ...],
) -> EquipmentModel:
    check_equipment_model_fields(name=name, manufacturer=manufacturer, signals=signals)
    now = utcnow()
    model = EquipmentModel(
        id=new_id(),
        tenant_id=tenant_id,
        name=name.strip(),
        manufacturer=manufacturer,
        signals=signals,
        create_time=now,
        update_time=now,
    )
    with uow:
        if uow.equipment_models.name_taken(tenant_id=tenant_id, name=model.name):
            raise AlreadyExists(
                f"an equipment model named {model.name!r} already exists",
                violations=(FieldViolation("name", "already used by another equipment model"),),
            )
        uow.equipment_models.add(model)
        uow.record(EquipmentModelCreated(model))
    return model


def get_equipment_model(uow: UnitOfWork, *, tenant_id: str, model_id: str) -> EquipmentModel:
    with uow:
        model = uow.equipment_models.get(tenant_id=tenant_id, model_id=model_id)
    if model is None:
        raise NotFound(f"equipment model {model_id!r} not found")
    return model


def list_equipment_models(
    uow: UnitOfWork, *, tenant_id: str, requested_page_size: int, page_token: str
) -> tuple[list[EquipmentModel], str]:
    size = page_size(requested_page_size)
    with uow:
        return uow.equipment_models.list(tenant_id=tenant_id, page_size=size, page_token=page_token)
