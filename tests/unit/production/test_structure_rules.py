"""The rules of plants, lines and stations, run against the real store on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from imcloud.production.v1 import events_pb2
from imcloud_core.errors import (
    AlreadyExists,
    FailedPrecondition,
    ImcloudError,
    InvalidArgument,
    NotFound,
)
from imcloud_core.events import Topic, unpack
from imcloud_production.domain import services
from imcloud_production.domain.model import Line, Plant, Station
from tests.unit.production.harness import ProductionStore

ACME = "tenant-acme"
GLOBEX = "tenant-globex"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ProductionStore]:
    store = ProductionStore(f"sqlite:///{tmp_path}/production.db")
    yield store
    store.close()


def new_plant(store: ProductionStore, name: str = "Augsburg", tenant: str = ACME) -> Plant:
    return services.create_plant(
        store.unit_of_work(), tenant_id=tenant, name=name, location="", time_zone=""
    )


def new_line(
    store: ProductionStore, plant_id: str, name: str = "Line 1", tenant: str = ACME
) -> Line:
    return services.create_line(
        store.unit_of_work(), tenant_id=tenant, plant_id=plant_id, name=name, description=""
    )


def new_station(
    store: ProductionStore, line_id: str, name: str = "Station 1", tenant: str = ACME
) -> Station:
    return services.create_station(
        store.unit_of_work(), tenant_id=tenant, line_id=line_id, name=name, description=""
    )


def violated_fields(error: pytest.ExceptionInfo[ImcloudError]) -> set[str]:
    return {v.field for v in error.value.violations}


# -- plants --------------------------------------------------------------------


def test_a_new_plant_has_a_trimmed_name_and_utc_by_default(store: ProductionStore) -> None:
    plant = new_plant(store, name="  Augsburg  ")

    assert (plant.name, plant.time_zone) == ("Augsburg", "UTC")
    assert plant.create_time == plant.update_time
    assert services.get_plant(store.unit_of_work(), tenant_id=ACME, plant_id=plant.id) == plant


def test_every_invalid_plant_field_is_named(store: ProductionStore) -> None:
    with pytest.raises(InvalidArgument) as error:
        services.create_plant(
            store.unit_of_work(),
            tenant_id=ACME,
            name="   ",
            location="x" * 2001,
            time_zone="Mars/Olympus_Mons",
        )

    assert violated_fields(error) == {"name", "location", "time_zone"}


def test_plant_names_are_unique_within_a_tenant_only(store: ProductionStore) -> None:
    new_plant(store, "Augsburg")

    with pytest.raises(AlreadyExists) as error:
        new_plant(store, " Augsburg")
    assert violated_fields(error) == {"name"}
    assert new_plant(store, "Augsburg", tenant=GLOBEX).name == "Augsburg"


def test_an_update_changes_only_the_fields_in_its_mask(store: ProductionStore) -> None:
    plant = new_plant(store)

    updated = services.update_plant(
        store.unit_of_work(),
        tenant_id=ACME,
        plant_id=plant.id,
        update_mask=["time_zone"],
        name="ignored: not in the mask",
        location="ignored too",
        time_zone="Europe/Berlin",
    )

    assert (updated.name, updated.location, updated.time_zone) == (
        "Augsburg",
        "",
        "Europe/Berlin",
    )
    assert updated.update_time > plant.update_time
    assert updated.create_time == plant.create_time
    assert services.get_plant(store.unit_of_work(), tenant_id=ACME, plant_id=plant.id) == updated


def test_an_emptied_time_zone_means_utc(store: ProductionStore) -> None:
    plant = services.create_plant(
        store.unit_of_work(), tenant_id=ACME, name="A", location="", time_zone="Asia/Tokyo"
    )

    updated = services.update_plant(
        store.unit_of_work(),
        tenant_id=ACME,
        plant_id=plant.id,
        update_mask=["time_zone"],
        name="",
        location="",
        time_zone="",
    )

    assert updated.time_zone == "UTC"


@pytest.mark.parametrize(
    "mask", [[], ["colour"], ["id"], ["create_time"], ["name", "tenant_id"]], ids=str
)
def test_an_update_mask_must_name_updatable_fields(store: ProductionStore, mask: list[str]) -> None:
    plant = new_plant(store)

    with pytest.raises(InvalidArgument) as error:
        services.update_plant(
            store.unit_of_work(),
            tenant_id=ACME,
            plant_id=plant.id,
            update_mask=mask,
            name="New",
            location="",
            time_zone="",
        )

    assert violated_fields(error) == {"update_mask"}


def test_an_invalid_update_names_the_field_and_changes_nothing(store: ProductionStore) -> None:
    plant = new_plant(store)

    with pytest.raises(InvalidArgument) as error:
        services.update_plant(
            store.unit_of_work(),
            tenant_id=ACME,
            plant_id=plant.id,
            update_mask=["name", "time_zone"],
            name="",
            location="",
            time_zone="Nowhere/Special",
        )

    assert violated_fields(error) == {"name", "time_zone"}
    assert services.get_plant(store.unit_of_work(), tenant_id=ACME, plant_id=plant.id) == plant


def test_a_plant_cannot_take_another_plants_name_but_may_keep_its_own(
    store: ProductionStore,
) -> None:
    augsburg = new_plant(store, "Augsburg")
    new_plant(store, "Bremen")

    def rename(name: str) -> Plant:
        return services.update_plant(
            store.unit_of_work(),
            tenant_id=ACME,
            plant_id=augsburg.id,
            update_mask=["name"],
            name=name,
            location="",
            time_zone="",
        )

    with pytest.raises(AlreadyExists) as error:
        rename("Bremen")
    assert violated_fields(error) == {"name"}
    assert rename("Augsburg").name == "Augsburg"


def test_a_plant_with_lines_cannot_be_deleted(store: ProductionStore) -> None:
    plant = new_plant(store)
    line = new_line(store, plant.id)

    with pytest.raises(FailedPrecondition, match="still has lines"):
        services.delete_plant(store.unit_of_work(), tenant_id=ACME, plant_id=plant.id)

    services.delete_line(store.unit_of_work(), tenant_id=ACME, line_id=line.id)
    services.delete_plant(store.unit_of_work(), tenant_id=ACME, plant_id=plant.id)
    with pytest.raises(NotFound):
        services.get_plant(store.unit_of_work(), tenant_id=ACME, plant_id=plant.id)


def test_unknown_ids_are_not_found(store: ProductionStore) -> None:
    uow = store.unit_of_work
    with pytest.raises(NotFound, match="plant 'nope' not found"):
        services.get_plant(uow(), tenant_id=ACME, plant_id="nope")
    with pytest.raises(NotFound, match="line"):
        services.delete_line(uow(), tenant_id=ACME, line_id="nope")
    with pytest.raises(NotFound, match="station"):
        services.update_station(
            uow(),
            tenant_id=ACME,
            station_id="nope",
            update_mask=["name"],
            name="x",
            description="",
        )


# -- lines and stations --------------------------------------------------------


def test_a_line_needs_an_existing_plant_of_its_own_tenant(store: ProductionStore) -> None:
    globex_plant = new_plant(store, tenant=GLOBEX)

    for plant_id in ("no-such-plant", globex_plant.id):
        with pytest.raises(InvalidArgument, match="not found") as error:
            new_line(store, plant_id)
        assert violated_fields(error) == {"plant_id"}
    with pytest.raises(InvalidArgument) as error:
        new_line(store, "", name="")
    assert violated_fields(error) == {"plant_id", "name"}


def test_line_names_are_unique_within_a_plant_only(store: ProductionStore) -> None:
    augsburg, bremen = new_plant(store, "Augsburg"), new_plant(store, "Bremen")
    new_line(store, augsburg.id, "Assembly")

    with pytest.raises(AlreadyExists, match="in plant") as error:
        new_line(store, augsburg.id, "Assembly")
    assert violated_fields(error) == {"name"}
    assert new_line(store, bremen.id, "Assembly").plant_id == bremen.id


def test_a_station_belongs_to_its_lines_plant(store: ProductionStore) -> None:
    plant = new_plant(store)
    line = new_line(store, plant.id)

    station = new_station(store, line.id)

    assert (station.line_id, station.plant_id) == (line.id, plant.id)
    assert (
        services.get_station(store.unit_of_work(), tenant_id=ACME, station_id=station.id) == station
    )


def test_a_station_needs_an_existing_line(store: ProductionStore) -> None:
    with pytest.raises(InvalidArgument) as error:
        new_station(store, "no-such-line")
    assert violated_fields(error) == {"line_id"}


def test_station_names_are_unique_within_a_line_only(store: ProductionStore) -> None:
    plant = new_plant(store)
    first, second = new_line(store, plant.id, "L1"), new_line(store, plant.id, "L2")
    new_station(store, first.id, "Press")
    other = new_station(store, first.id, "Drill")

    with pytest.raises(AlreadyExists):
        new_station(store, first.id, "Press")
    with pytest.raises(AlreadyExists):
        services.update_station(
            store.unit_of_work(),
            tenant_id=ACME,
            station_id=other.id,
            update_mask=["name"],
            name="Press",
            description="",
        )
    assert new_station(store, second.id, "Press").line_id == second.id


def test_line_and_station_updates_change_name_and_description(store: ProductionStore) -> None:
    plant = new_plant(store)
    line = new_line(store, plant.id)
    station = new_station(store, line.id)

    line = services.update_line(
        store.unit_of_work(),
        tenant_id=ACME,
        line_id=line.id,
        update_mask=["description"],
        name="",
        description="Final assembly",
    )
    station = services.update_station(
        store.unit_of_work(),
        tenant_id=ACME,
        station_id=station.id,
        update_mask=["name", "description"],
        name=" Press 2 ",
        description="200 t",
    )

    assert (line.name, line.description) == ("Line 1", "Final assembly")
    assert (station.name, station.description) == ("Press 2", "200 t")
    with pytest.raises(InvalidArgument) as error:
        services.update_line(
            store.unit_of_work(),
            tenant_id=ACME,
            line_id=line.id,
            update_mask=["plant_id"],
            name="",
            description="",
        )
    assert violated_fields(error) == {"update_mask"}


def test_a_line_with_stations_cannot_be_deleted(store: ProductionStore) -> None:
    plant = new_plant(store)
    line = new_line(store, plant.id)
    station = new_station(store, line.id)

    with pytest.raises(FailedPrecondition, match="still has stations"):
        services.delete_line(store.unit_of_work(), tenant_id=ACME, line_id=line.id)

    services.delete_station(store.unit_of_work(), tenant_id=ACME, station_id=station.id)
    services.delete_line(store.unit_of_work(), tenant_id=ACME, line_id=line.id)


def test_lists_filter_by_parent(store: ProductionStore) -> None:
    augsburg, bremen = new_plant(store, "Augsburg"), new_plant(store, "Bremen")
    a1, a2 = new_line(store, augsburg.id, "A1"), new_line(store, augsburg.id, "A2")
    b1 = new_line(store, bremen.id, "B1")
    s_a1 = new_station(store, a1.id, "S")
    s_a2 = new_station(store, a2.id, "S")
    s_b1 = new_station(store, b1.id, "S")

    def line_ids(plant_id: str) -> list[str]:
        lines, _ = services.list_lines(
            store.unit_of_work(),
            tenant_id=ACME,
            plant_id=plant_id,
            requested_page_size=0,
            page_token="",
        )
        return [x.id for x in lines]

    def station_ids(*, line_id: str = "", plant_id: str = "") -> list[str]:
        stations, _ = services.list_stations(
            store.unit_of_work(),
            tenant_id=ACME,
            line_id=line_id,
            plant_id=plant_id,
            requested_page_size=0,
            page_token="",
        )
        return [s.id for s in stations]

    assert line_ids(augsburg.id) == [a1.id, a2.id]
    assert line_ids("") == [a1.id, a2.id, b1.id]
    assert line_ids("no-such-plant") == []
    assert station_ids(line_id=a2.id) == [s_a2.id]
    assert station_ids(plant_id=augsburg.id) == [s_a1.id, s_a2.id]
    assert station_ids(line_id=b1.id, plant_id=augsburg.id) == []
    assert station_ids() == [s_a1.id, s_a2.id, s_b1.id]


def test_lines_page_without_gaps_or_repeats(store: ProductionStore) -> None:
    plant = new_plant(store)
    created = [new_line(store, plant.id, f"Line {n}").id for n in range(7)]

    seen: list[str] = []
    token = ""
    while True:
        page, token = services.list_lines(
            store.unit_of_work(),
            tenant_id=ACME,
            plant_id=plant.id,
            requested_page_size=3,
            page_token=token,
        )
        assert len(page) <= 3
        seen += [x.id for x in page]
        if not token:
            break

    assert seen == created


@pytest.mark.parametrize(("size", "token"), [(501, ""), (-1, ""), (10, "not-a-token")])
def test_bad_paging_is_an_invalid_argument(store: ProductionStore, size: int, token: str) -> None:
    with pytest.raises(InvalidArgument):
        services.list_stations(
            store.unit_of_work(),
            tenant_id=ACME,
            line_id="",
            plant_id="",
            requested_page_size=size,
            page_token=token,
        )


# -- tenants -------------------------------------------------------------------


def test_another_tenant_cannot_see_or_change_anything(store: ProductionStore) -> None:
    plant = new_plant(store)
    line = new_line(store, plant.id)
    station = new_station(store, line.id)
    uow = store.unit_of_work

    with pytest.raises(NotFound):
        services.get_plant(uow(), tenant_id=GLOBEX, plant_id=plant.id)
    with pytest.raises(NotFound):
        services.get_line(uow(), tenant_id=GLOBEX, line_id=line.id)
    with pytest.raises(NotFound):
        services.get_station(uow(), tenant_id=GLOBEX, station_id=station.id)
    with pytest.raises(NotFound):
        services.update_plant(
            uow(),
            tenant_id=GLOBEX,
            plant_id=plant.id,
            update_mask=["name"],
            name="Stolen",
            location="",
            time_zone="",
        )
    with pytest.raises(NotFound):
        services.update_line(
            uow(), tenant_id=GLOBEX, line_id=line.id, update_mask=["name"], name="x", description=""
        )
    with pytest.raises(NotFound):
        services.delete_station(uow(), tenant_id=GLOBEX, station_id=station.id)
    with pytest.raises(NotFound):
        services.delete_line(uow(), tenant_id=GLOBEX, line_id=line.id)
    with pytest.raises(NotFound):
        services.delete_plant(uow(), tenant_id=GLOBEX, plant_id=plant.id)
    with pytest.raises(InvalidArgument):
        new_station(store, line.id, tenant=GLOBEX)
    assert services.list_plants(uow(), tenant_id=GLOBEX, requested_page_size=0, page_token="") == (
        [],
        "",
    )
    lines, _ = services.list_lines(
        uow(), tenant_id=GLOBEX, plant_id=plant.id, requested_page_size=0, page_token=""
    )
    assert lines == []

    assert services.get_plant(uow(), tenant_id=ACME, plant_id=plant.id) == plant
    assert services.get_line(uow(), tenant_id=ACME, line_id=line.id) == line
    assert services.get_station(uow(), tenant_id=ACME, station_id=station.id) == station


# -- events --------------------------------------------------------------------


def test_every_change_stages_one_event_keyed_by_its_plant(store: ProductionStore) -> None:
    uow = store.unit_of_work
    plant = new_plant(store)
    line = new_line(store, plant.id)
    station = new_station(store, line.id)
    services.update_plant(
        uow(),
        tenant_id=ACME,
        plant_id=plant.id,
        update_mask=["location"],
        name="",
        location="Hall 4",
        time_zone="",
    )
    services.update_line(
        uow(), tenant_id=ACME, line_id=line.id, update_mask=["name"], name="L", description=""
    )
    services.update_station(
        uow(), tenant_id=ACME, station_id=station.id, update_mask=["name"], name="S", description=""
    )
    services.delete_station(uow(), tenant_id=ACME, station_id=station.id)
    services.delete_line(uow(), tenant_id=ACME, line_id=line.id)
    services.delete_plant(uow(), tenant_id=ACME, plant_id=plant.id)

    rows = store.outbox_rows()
    assert [envelope.type for _, _, envelope in rows] == [
        "plant.created",
        "line.created",
        "station.created",
        "plant.updated",
        "line.updated",
        "station.updated",
        "station.deleted",
        "line.deleted",
        "plant.deleted",
    ]
    assert {(topic, key) for topic, key, _ in rows} == {(Topic.PRODUCTION_EVENTS, plant.id)}
    assert all(envelope.tenant_id == ACME for _, _, envelope in rows)
    assert all(envelope.source == "production" for _, _, envelope in rows)

    updated = unpack(rows[3][2], events_pb2.PlantUpdated)
    assert updated is not None
    assert updated.plant.location == "Hall 4"
    deleted_station = unpack(rows[6][2], events_pb2.StationDeleted)
    assert deleted_station is not None
    assert (deleted_station.station.id, deleted_station.station.line_id) == (station.id, line.id)
    assert deleted_station.station.plant_id == plant.id


def test_a_refused_change_stages_no_event(store: ProductionStore) -> None:
    plant = new_plant(store)
    new_line(store, plant.id, "L")

    with pytest.raises(AlreadyExists):
        new_line(store, plant.id, "L")
    with pytest.raises(FailedPrecondition):
        services.delete_plant(store.unit_of_work(), tenant_id=ACME, plant_id=plant.id)
    with pytest.raises(InvalidArgument):
        services.update_plant(
            store.unit_of_work(),
            tenant_id=ACME,
            plant_id=plant.id,
            update_mask=["name"],
            name="",
            location="",
            time_zone="",
        )

    assert store.event_types() == ["plant.created", "line.created"]
