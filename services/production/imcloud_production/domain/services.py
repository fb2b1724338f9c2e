"""Use cases of the production service; every one is scoped to a tenant.

Plants, lines and stations follow the same rules (see ``model``), so each use
case below only says what is particular to its resource and leaves the shared
steps to the private helpers at the end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from imcloud_core.ids import new_id, utcnow
from imcloud_core.paging import page_size
from imcloud_core.updates import checked_update_paths
from imcloud_production.domain.events import Change, StructureChanged
from imcloud_production.domain.model import (
    Line,
    Plant,
    ResourceT,
    Station,
    checked,
    name_taken,
    not_found,
    still_has_children,
    unknown_parent,
)
from imcloud_production.domain.ports import Repository, UnitOfWork

# -- plants --------------------------------------------------------------------


def create_plant(
    uow: UnitOfWork, *, tenant_id: str, name: str, location: str, time_zone: str
) -> Plant:
    now = utcnow()
    plant = checked(
        Plant(
            id=new_id(),
            tenant_id=tenant_id,
            name=name,
            location=location,
            time_zone=time_zone,
            create_time=now,
            update_time=now,
        )
    )
    with uow:
        _add(uow, uow.plants, plant)
    return plant


def get_plant(uow: UnitOfWork, *, tenant_id: str, plant_id: str) -> Plant:
    with uow:
        return _existing(uow.plants, Plant, tenant_id=tenant_id, resource_id=plant_id)


def list_plants(
    uow: UnitOfWork, *, tenant_id: str, requested_page_size: int, page_token: str
) -> tuple[list[Plant], str]:
    size = page_size(requested_page_size)
    with uow:
        return uow.plants.list(tenant_id=tenant_id, page_size=size, page_token=page_token)


def update_plant(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    plant_id: str,
    update_mask: Iterable[str],
    name: str,
    location: str,
    time_zone: str,
) -> Plant:
    """Changes the fields named in ``update_mask`` to the values given for them."""
    with uow:
        return _update(
            uow,
            uow.plants,
            Plant,
            tenant_id=tenant_id,
            resource_id=plant_id,
            update_mask=update_mask,
            values={"name": name, "location": location, "time_zone": time_zone},
        )


def delete_plant(uow: UnitOfWork, *, tenant_id: str, plant_id: str) -> None:
    with uow:
        plant = _existing(uow.plants, Plant, tenant_id=tenant_id, resource_id=plant_id)
        if uow.lines.exists(tenant_id=tenant_id, plant_id=plant.id):
            raise still_has_children(plant)
        _remove(uow, uow.plants, plant)


# -- lines ---------------------------------------------------------------------


def create_line(
    uow: UnitOfWork, *, tenant_id: str, plant_id: str, name: str, description: str
) -> Line:
    now = utcnow()
    line = checked(
        Line(
            id=new_id(),
            tenant_id=tenant_id,
            plant_id=plant_id,
            name=name,
            description=description,
            create_time=now,
            update_time=now,
        )
    )
    with uow:
        if uow.plants.get(tenant_id=tenant_id, resource_id=plant_id) is None:
            raise unknown_parent(line)
        _add(uow, uow.lines, line)
    return line


def get_line(uow: UnitOfWork, *, tenant_id: str, line_id: str) -> Line:
    with uow:
        return _existing(uow.lines, Line, tenant_id=tenant_id, resource_id=line_id)


def list_lines(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    plant_id: str,
    requested_page_size: int,
    page_token: str,
) -> tuple[list[Line], str]:
    """One page of the tenant's lines; only those of ``plant_id`` when it is not empty."""
    size = page_size(requested_page_size)
    with uow:
        return uow.lines.list(
            tenant_id=tenant_id,
            page_size=size,
            page_token=page_token,
            **_given(plant_id=plant_id),
        )


def update_line(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    line_id: str,
    update_mask: Iterable[str],
    name: str,
    description: str,
) -> Line:
    """Changes the fields named in ``update_mask`` to the values given for them."""
    with uow:
        return _update(
            uow,
            uow.lines,
            Line,
            tenant_id=tenant_id,
            resource_id=line_id,
            update_mask=update_mask,
            values={"name": name, "description": description},
        )


def delete_line(uow: UnitOfWork, *, tenant_id: str, line_id: str) -> None:
    with uow:
        line = _existing(uow.lines, Line, tenant_id=tenant_id, resource_id=line_id)
        if uow.stations.exists(tenant_id=tenant_id, line_id=line.id):
            raise still_has_children(line)
        _remove(uow, uow.lines, line)


# -- stations ------------------------------------------------------------------


def create_station(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    line_id: str,
    name: str,
    description: str,
    capabilities: Iterable[str] = (),
    ideal_cycle_time_s: float = 0.0,
    ideal_cycle_times: Mapping[str, float] | None = None,
) -> Station:
    now = utcnow()
    station = checked(
        Station(
            id=new_id(),
            tenant_id=tenant_id,
            line_id=line_id,
            plant_id="",  # the line's, once the line is found
            name=name,
            description=description,
            create_time=now,
            update_time=now,
            capabilities=tuple(capabilities),
            ideal_cycle_time_s=ideal_cycle_time_s,
            ideal_cycle_times=dict(ideal_cycle_times or {}),
        )
    )
    with uow:
        line = uow.lines.get(tenant_id=tenant_id, resource_id=line_id)
        if line is None:
            raise unknown_parent(station)
        station = dataclasses.replace(station, plant_id=line.plant_id)
        _add(uow, uow.stations, station)
    return station


def get_station(uow: UnitOfWork, *, tenant_id: str, station_id: str) -> Station:
    with uow:
        return _existing(uow.stations, Station, tenant_id=tenant_id, resource_id=station_id)


def list_stations(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    line_id: str,
    plant_id: str,
    requested_page_size: int,
    page_token: str,
) -> tuple[list[Station], str]:
    """One page of the tenant's stations, narrowed by each of ``line_id`` and
    ``plant_id`` that is not empty."""
    size = page_size(requested_page_size)
    with uow:
        return uow.stations.list(
            tenant_id=tenant_id,
            page_size=size,
            page_token=page_token,
            **_given(line_id=line_id, plant_id=plant_id),
        )


def update_station(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    station_id: str,
    update_mask: Iterable[str],
    name: str,
    description: str,
    capabilities: Iterable[str] = (),
    ideal_cycle_time_s: float = 0.0,
    ideal_cycle_times: Mapping[str, float] | None = None,
) -> Station:
    """Changes the fields named in ``update_mask`` to the values given for them."""
    with uow:
        return _update(
            uow,
            uow.stations,
            Station,
            tenant_id=tenant_id,
            resource_id=station_id,
            update_mask=update_mask,
            values={
                "name": name,
                "description": description,
                "capabilities": tuple(capabilities),
                "ideal_cycle_time_s": ideal_cycle_time_s,
                "ideal_cycle_times": dict(ideal_cycle_times or {}),
            },
        )


def delete_station(uow: UnitOfWork, *, tenant_id: str, station_id: str) -> None:
    with uow:
        station = _existing(uow.stations, Station, tenant_id=tenant_id, resource_id=station_id)
        _remove(uow, uow.stations, station)


# -- the steps every resource shares; each runs inside the caller's transaction --


def _existing(
    repository: Repository[ResourceT],
    kind: type[ResourceT],
    *,
    tenant_id: str,
    resource_id: str,
) -> ResourceT:
    resource = repository.get(tenant_id=tenant_id, resource_id=resource_id)
    if resource is None:
        raise not_found(kind.KIND, resource_id)
    return resource


def _add(uow: UnitOfWork, repository: Repository[ResourceT], resource: ResourceT) -> None:
    if repository.name_taken(resource):
        raise name_taken(resource)
    repository.add(resource)
    uow.record(StructureChanged(Change.CREATED, resource, resource.create_time))


def _update(
    uow: UnitOfWork,
    repository: Repository[ResourceT],
    kind: type[ResourceT],
    *,
    tenant_id: str,
    resource_id: str,
    update_mask: Iterable[str],
    values: dict[str, Any],
) -> ResourceT:
    paths = checked_update_paths(update_mask, allowed=kind.UPDATABLE)
    changes: dict[str, Any] = {path: values[path] for path in paths}
    current = _existing(repository, kind, tenant_id=tenant_id, resource_id=resource_id)
    updated = checked(dataclasses.replace(current, **changes, update_time=utcnow()))
    if "name" in paths and repository.name_taken(updated):
        raise name_taken(updated)
    repository.update(updated)
    uow.record(StructureChanged(Change.UPDATED, updated, updated.update_time))
    return updated


def _remove(uow: UnitOfWork, repository: Repository[ResourceT], resource: ResourceT) -> None:
    repository.remove(resource)
    uow.record(StructureChanged(Change.DELETED, resource, utcnow()))


def _given(**filters: str) -> dict[str, str]:
    """The filters that were set: an empty value means "any"."""
    return {field: value for field, value in filters.items() if value}
