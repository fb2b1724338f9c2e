"""ProductionService over real gRPC, on the real store, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from imcloud.production.v1 import catalog_pb2, events_pb2
from imcloud.production.v1 import production_service_pb2 as pb
from imcloud.production.v1.production_service_pb2_grpc import ProductionServiceStub
from imcloud_core.convert import timestamp
from imcloud_core.errors import (
    AlreadyExists,
    FailedPrecondition,
    ImcloudError,
    InvalidArgument,
    NotFound,
    Unauthenticated,
)
from imcloud_core.events import Topic, unpack
from imcloud_core.ids import utcnow
from imcloud_core.rpc import CallContext, GrpcServer, ResponseT, call, open_channel
from imcloud_production.api.grpc_servicer import ProductionServicer, register
from imcloud_production.settings import SchedulingSettings
from tests.unit.production.harness import FakeMachines, ProductionStore


@pytest.fixture
def stub(store: ProductionStore) -> Iterator[ProductionServiceStub]:
    # Port 0: the kernel picks a free port, with no window for another process to take it.
    server = GrpcServer(
        name="production-test",
        bind="127.0.0.1:0",
        register=[
            register(
                ProductionServicer(store.unit_of_work, SchedulingSettings(), recipes=FakeMachines())
            )
        ],
    )
    server.start()
    try:
        with open_channel(f"127.0.0.1:{server.port}") as channel:
            yield ProductionServiceStub(channel)
    finally:
        server.stop(grace_s=0)


@dataclass
class Tenant:
    """Calls the service as one tenant, the way the gateway does."""

    tenant_id: str
    stub: ProductionServiceStub

    def __call__(self, method: Callable[..., ResponseT], request: Message) -> ResponseT:
        return call(method, request, ctx=CallContext(tenant_id=self.tenant_id), deadline_s=10)


@pytest.fixture
def acme(stub: ProductionServiceStub) -> Tenant:
    return Tenant("tenant-acme", stub)


@pytest.fixture
def globex(stub: ProductionServiceStub) -> Tenant:
    return Tenant("tenant-globex", stub)


def structure(tenant: Tenant) -> tuple[pb.Plant, pb.Line, pb.Station]:
    s = tenant.stub
    plant = tenant(s.CreatePlant, pb.CreatePlantRequest(name="Augsburg")).plant
    line = tenant(s.CreateLine, pb.CreateLineRequest(plant_id=plant.id, name="Assembly")).line
    station = tenant(
        s.CreateStation, pb.CreateStationRequest(line_id=line.id, name="Press")
    ).station
    return plant, line, station


def fields(error: pytest.ExceptionInfo[ImcloudError]) -> list[str]:
    return sorted(v.field for v in error.value.violations)


def test_create_get_list_update_delete(
    acme: Tenant, stub: ProductionServiceStub, store: ProductionStore
) -> None:
    plant = acme(
        stub.CreatePlant,
        pb.CreatePlantRequest(name="Augsburg", location="Hall 1", time_zone="Europe/Berlin"),
    ).plant
    line = acme(
        stub.CreateLine,
        pb.CreateLineRequest(plant_id=plant.id, name="Assembly", description="Final"),
    ).line
    station = acme(
        stub.CreateStation, pb.CreateStationRequest(line_id=line.id, name="Press")
    ).station

    assert acme(stub.GetPlant, pb.GetPlantRequest(plant_id=plant.id)).plant == plant
    assert acme(stub.GetLine, pb.GetLineRequest(line_id=line.id)).line == line
    assert acme(stub.GetStation, pb.GetStationRequest(station_id=station.id)).station == station
    assert (line.plant_id, station.line_id, station.plant_id) == (plant.id, line.id, plant.id)
    assert list(acme(stub.ListLines, pb.ListLinesRequest(plant_id=plant.id)).lines) == [line]
    assert list(acme(stub.ListStations, pb.ListStationsRequest(plant_id=plant.id)).stations) == [
        station
    ]

    renamed = acme(
        stub.UpdatePlant,
        pb.UpdatePlantRequest(
            plant=pb.Plant(id=plant.id, name="Augsburg Nord", location="not in the mask"),
            update_mask=FieldMask(paths=["name"]),
        ),
    ).plant
    assert (renamed.name, renamed.location, renamed.time_zone) == (
        "Augsburg Nord",
        "Hall 1",
        "Europe/Berlin",
    )
    assert renamed.update_time.ToDatetime() > plant.update_time.ToDatetime()
    described = acme(
        stub.UpdateLine,
        pb.UpdateLineRequest(
            line=pb.Line(id=line.id, description="Final assembly"),
            update_mask=FieldMask(paths=["description"]),
        ),
    ).line
    assert (described.name, described.description) == ("Assembly", "Final assembly")
    moved = acme(
        stub.UpdateStation,
        pb.UpdateStationRequest(
            station=pb.Station(id=station.id, name="Press 2", description="200 t"),
            update_mask=FieldMask(paths=["name", "description"]),
        ),
    ).station
    assert (moved.name, moved.description) == ("Press 2", "200 t")

    acme(stub.DeleteStation, pb.DeleteStationRequest(station_id=station.id))
    acme(stub.DeleteLine, pb.DeleteLineRequest(line_id=line.id))
    acme(stub.DeletePlant, pb.DeletePlantRequest(plant_id=plant.id))
    with pytest.raises(NotFound):
        acme(stub.GetStation, pb.GetStationRequest(station_id=station.id))
    with pytest.raises(NotFound):
        acme(stub.GetLine, pb.GetLineRequest(line_id=line.id))
    with pytest.raises(NotFound):
        acme(stub.GetPlant, pb.GetPlantRequest(plant_id=plant.id))
    assert list(acme(stub.ListPlants, pb.ListPlantsRequest()).plants) == []

    rows = store.outbox_rows()
    assert [envelope.type for _, _, envelope in rows] == [
        f"{kind}.{change}"
        for change, kinds in (
            ("created", ("plant", "line", "station")),
            ("updated", ("plant", "line", "station")),
            ("deleted", ("station", "line", "plant")),
        )
        for kind in kinds
    ]
    assert {(topic, key) for topic, key, _ in rows} == {(Topic.PRODUCTION_EVENTS, plant.id)}
    line_created = unpack(rows[1][2], events_pb2.LineCreated)
    assert line_created is not None
    assert line_created.line == line


def test_lists_page_without_gaps_or_repeats(acme: Tenant, stub: ProductionServiceStub) -> None:
    plants = [acme(stub.CreatePlant, pb.CreatePlantRequest(name=f"P{n}")).plant for n in range(7)]
    line = acme(stub.CreateLine, pb.CreateLineRequest(plant_id=plants[0].id, name="L")).line
    stations = [
        acme(stub.CreateStation, pb.CreateStationRequest(line_id=line.id, name=f"S{n}")).station
        for n in range(5)
    ]

    def plant_page(token: str) -> tuple[list[str], str]:
        response = acme(stub.ListPlants, pb.ListPlantsRequest(page_size=3, page_token=token))
        return [p.id for p in response.plants], response.next_page_token

    def station_page(token: str) -> tuple[list[str], str]:
        response = acme(
            stub.ListStations,
            pb.ListStationsRequest(line_id=line.id, page_size=2, page_token=token),
        )
        return [s.id for s in response.stations], response.next_page_token

    plant_pages = every_page(plant_page)
    assert [len(page) for page in plant_pages] == [3, 3, 1]
    assert [i for page in plant_pages for i in page] == [p.id for p in plants]
    station_pages = every_page(station_page)
    assert [len(page) for page in station_pages] == [2, 2, 1]
    assert [i for page in station_pages for i in page] == [s.id for s in stations]


def every_page(list_page: Callable[[str], tuple[list[str], str]]) -> list[list[str]]:
    """The ids of every page, following next_page_token from the first page to the last."""
    pages, token = [], ""
    while True:
        ids, token = list_page(token)
        pages.append(ids)
        if not token:
            return pages


def test_another_tenant_sees_and_changes_nothing(
    acme: Tenant, globex: Tenant, stub: ProductionServiceStub
) -> None:
    plant, line, station = structure(acme)
    mask = FieldMask(paths=["name"])

    refused_calls: list[tuple[Callable[..., Message], Message]] = [
        (stub.GetPlant, pb.GetPlantRequest(plant_id=plant.id)),
        (stub.GetLine, pb.GetLineRequest(line_id=line.id)),
        (stub.GetStation, pb.GetStationRequest(station_id=station.id)),
        (
            stub.UpdatePlant,
            pb.UpdatePlantRequest(plant=pb.Plant(id=plant.id, name="x"), update_mask=mask),
        ),
        (
            stub.UpdateLine,
            pb.UpdateLineRequest(line=pb.Line(id=line.id, name="x"), update_mask=mask),
        ),
        (
            stub.UpdateStation,
            pb.UpdateStationRequest(station=pb.Station(id=station.id, name="x"), update_mask=mask),
        ),
        (stub.DeleteStation, pb.DeleteStationRequest(station_id=station.id)),
        (stub.DeleteLine, pb.DeleteLineRequest(line_id=line.id)),
        (stub.DeletePlant, pb.DeletePlantRequest(plant_id=plant.id)),
    ]
    for method, request in refused_calls:
        with pytest.raises(NotFound):
            globex(method, request)
    with pytest.raises(InvalidArgument) as error:
        globex(stub.CreateLine, pb.CreateLineRequest(plant_id=plant.id, name="Sneaky"))
    assert fields(error) == ["plant_id"]
    assert list(globex(stub.ListPlants, pb.ListPlantsRequest()).plants) == []
    assert list(globex(stub.ListLines, pb.ListLinesRequest(plant_id=plant.id)).lines) == []
    assert list(globex(stub.ListStations, pb.ListStationsRequest(line_id=line.id)).stations) == []

    assert acme(stub.GetPlant, pb.GetPlantRequest(plant_id=plant.id)).plant == plant
    assert acme(stub.GetLine, pb.GetLineRequest(line_id=line.id)).line == line
    assert acme(stub.GetStation, pb.GetStationRequest(station_id=station.id)).station == station


def test_names_are_unique_among_siblings(acme: Tenant, stub: ProductionServiceStub) -> None:
    plant, line, station = structure(acme)

    refused: list[tuple[Callable[..., Message], Message]] = [
        (stub.CreatePlant, pb.CreatePlantRequest(name=plant.name)),
        (stub.CreateLine, pb.CreateLineRequest(plant_id=plant.id, name=line.name)),
        (stub.CreateStation, pb.CreateStationRequest(line_id=line.id, name=station.name)),
    ]
    for method, request in refused:
        with pytest.raises(AlreadyExists) as error:
            acme(method, request)
        assert fields(error) == ["name"]

    other = acme(stub.CreateLine, pb.CreateLineRequest(plant_id=plant.id, name="Paint")).line
    with pytest.raises(AlreadyExists):
        acme(
            stub.UpdateLine,
            pb.UpdateLineRequest(
                line=pb.Line(id=other.id, name=line.name), update_mask=FieldMask(paths=["name"])
            ),
        )


def test_parents_with_children_cannot_be_deleted(
    acme: Tenant, stub: ProductionServiceStub, store: ProductionStore
) -> None:
    plant, line, _ = structure(acme)

    with pytest.raises(FailedPrecondition, match="still has lines"):
        acme(stub.DeletePlant, pb.DeletePlantRequest(plant_id=plant.id))
    with pytest.raises(FailedPrecondition, match="still has stations"):
        acme(stub.DeleteLine, pb.DeleteLineRequest(line_id=line.id))
    assert store.event_types() == ["plant.created", "line.created", "station.created"]


def test_invalid_requests_name_their_fields(acme: Tenant, stub: ProductionServiceStub) -> None:
    plant, _, _ = structure(acme)
    invalid: list[tuple[Callable[..., Message], Message, list[str]]] = [
        (
            stub.CreatePlant,
            pb.CreatePlantRequest(name="", time_zone="Moon/Tranquility"),
            ["name", "time_zone"],
        ),
        (stub.CreateLine, pb.CreateLineRequest(plant_id="no-such-plant", name="L"), ["plant_id"]),
        (stub.CreateLine, pb.CreateLineRequest(plant_id=plant.id, name="x" * 201), ["name"]),
        (stub.CreateStation, pb.CreateStationRequest(name="S"), ["line_id"]),
        (stub.UpdatePlant, pb.UpdatePlantRequest(plant=pb.Plant(id=plant.id)), ["update_mask"]),
        (
            stub.UpdatePlant,
            pb.UpdatePlantRequest(
                plant=pb.Plant(id=plant.id), update_mask=FieldMask(paths=["create_time"])
            ),
            ["update_mask"],
        ),
        (
            stub.UpdatePlant,
            pb.UpdatePlantRequest(
                plant=pb.Plant(id=plant.id, name=" "), update_mask=FieldMask(paths=["name"])
            ),
            ["name"],
        ),
        (stub.ListLines, pb.ListLinesRequest(page_size=501), ["page_size"]),
        (stub.ListStations, pb.ListStationsRequest(page_token="garbage"), ["page_token"]),
    ]
    for method, request, expected in invalid:
        with pytest.raises(InvalidArgument) as error:
            acme(method, request)
        assert fields(error) == expected, request


def test_a_call_without_a_tenant_is_refused(stub: ProductionServiceStub) -> None:
    with pytest.raises(Unauthenticated):
        call(stub.ListPlants, pb.ListPlantsRequest(), ctx=CallContext(tenant_id=""), deadline_s=10)


def test_maintenance_windows_are_asked_with_valid_fields_of_ones_own_station(
    acme: Tenant, globex: Tenant, stub: ProductionServiceStub
) -> None:
    plant, _, station = structure(acme)
    soon = timestamp(utcnow() + timedelta(hours=8))
    found = acme(
        stub.SuggestMaintenanceWindows,
        pb.SuggestMaintenanceWindowsRequest(
            station_id=station.id, duration_s=3600, not_after=soon, count=2
        ),
    )
    # Nothing planned yet: the first hour from the next whole minute is free.
    assert found.schedule_revision == 0
    first = found.windows[0]
    assert (first.station_id, first.plant_id) == (station.id, plant.id)
    assert first.displaced_operation_s == 0
    assert first.idle_s == 3600
    assert len(found.windows) == 2

    with pytest.raises(NotFound):
        globex(
            stub.SuggestMaintenanceWindows,
            pb.SuggestMaintenanceWindowsRequest(
                station_id=station.id, duration_s=3600, not_after=soon
            ),
        )
    with pytest.raises(InvalidArgument) as refused:
        acme(
            stub.SuggestMaintenanceWindows,
            pb.SuggestMaintenanceWindowsRequest(
                station_id=station.id, duration_s=2**62, not_after=soon, count=11
            ),
        )
    assert fields(refused) == ["count", "duration_s"]
    with pytest.raises(InvalidArgument) as too_late:
        acme(
            stub.SuggestMaintenanceWindows,
            pb.SuggestMaintenanceWindowsRequest(
                station_id=station.id, duration_s=86_400, not_after=soon
            ),
        )
    assert fields(too_late) == ["not_after"]
    with pytest.raises(InvalidArgument) as missing:
        acme(
            stub.SuggestMaintenanceWindows,
            pb.SuggestMaintenanceWindowsRequest(station_id=station.id, duration_s=3600),
        )
    assert fields(missing) == ["not_after"]


def test_a_recipe_is_kept_with_its_step_and_needs_a_machine_to_start(acme: Tenant) -> None:
    s = acme.stub
    plant, line, _ = structure(acme)
    station = acme(
        s.CreateStation,
        pb.CreateStationRequest(line_id=line.id, name="Paint", capabilities=["painting"]),
    ).station
    recipe = '{"color": "black", "coats": 2}'
    step = catalog_pb2.RoutingStep(
        name="paint", capability="painting", ideal_cycle_time_s=60, recipe_json=recipe
    )
    with pytest.raises(InvalidArgument) as refused:
        acme(
            s.CreateProduct,
            pb.CreateProductRequest(
                product=catalog_pb2.Product(
                    part_number="X",
                    unit="pcs",
                    routing=[
                        catalog_pb2.RoutingStep(
                            name="paint",
                            capability="painting",
                            ideal_cycle_time_s=60,
                            recipe_json="7",
                        )
                    ],
                )
            ),
        )
    assert fields(refused) == ["routing[0].recipe_json"]
    product = acme(
        s.CreateProduct,
        pb.CreateProductRequest(
            product=catalog_pb2.Product(part_number="FRAME", unit="pcs", routing=[step])
        ),
    ).product
    assert product.routing[0].recipe_json == recipe
    order = acme(
        s.CreateWorkOrder,
        pb.CreateWorkOrderRequest(
            product_id=product.id,
            plant_id=plant.id,
            quantity=1,
            due_time=timestamp(utcnow() + timedelta(days=2)),
        ),
    ).work_order
    released = acme(s.ReleaseWorkOrder, pb.ReleaseWorkOrderRequest(work_order_id=order.id))
    assert released.work_order.operations[0].recipe_json == recipe

    with pytest.raises(FailedPrecondition, match="no machine to take the recipe"):
        acme(
            s.StartOperation,
            pb.StartOperationRequest(work_order_id=order.id, sequence=1, station_id=station.id),
        )
    quoted = acme(
        s.QuoteWorkOrder,
        pb.QuoteWorkOrderRequest(
            plant_id=plant.id,
            product_id=product.id,
            quantity=2,
            routing=[
                catalog_pb2.RoutingStep(
                    name="touch up", capability="painting", ideal_cycle_time_s=30
                )
            ],
        ),
    )
    assert [o.name for o in quoted.operations] == ["touch up"]
