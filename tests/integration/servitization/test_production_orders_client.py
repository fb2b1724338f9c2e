"""Mass customization's client of production, against the real production service
over gRPC on its real store (both databases): the plants and products a family
may name, a what-if quote for a selected routing, and a work order read back with
its operations and quality records."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from imcloud.production.v1 import catalog_pb2, work_orders_pb2
from imcloud.production.v1 import production_service_pb2 as pb
from imcloud.production.v1.production_service_pb2_grpc import ProductionServiceStub
from imcloud_core.convert import timestamp
from imcloud_core.rpc import CallContext, GrpcServer, call, open_channel
from imcloud_production.api.grpc_servicer import ProductionServicer, register
from imcloud_production.settings import SchedulingSettings
from imcloud_servitization.clients.production import ProductionOrders
from imcloud_servitization.domain.configurator import SelectedStep
from tests.unit.production.harness import FakeMachines, ProductionStore

TENANT = "tenant-1"
CTX = CallContext(tenant_id=TENANT)


@pytest.fixture
def store(empty_database_url: str) -> Iterator[ProductionStore]:
    store = ProductionStore(empty_database_url)
    yield store
    store.close()


@pytest.fixture
def channel(store: ProductionStore) -> Iterator[grpc.Channel]:
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
        with open_channel(f"127.0.0.1:{server.port}") as opened:
            yield opened
    finally:
        server.stop(grace_s=0)


def floor(stub: ProductionServiceStub) -> tuple[str, str, str]:
    """A plant with one station that cuts and paints, and a product cut there."""
    plant = call(stub.CreatePlant, pb.CreatePlantRequest(name="Works"), ctx=CTX, deadline_s=10)
    line = call(
        stub.CreateLine,
        pb.CreateLineRequest(plant_id=plant.plant.id, name="A"),
        ctx=CTX,
        deadline_s=10,
    ).line
    station = call(
        stub.CreateStation,
        pb.CreateStationRequest(
            line_id=line.id, name="Saw", capabilities=["cut", "paint"], ideal_cycle_time_s=60
        ),
        ctx=CTX,
        deadline_s=10,
    ).station
    product = call(
        stub.CreateProduct,
        pb.CreateProductRequest(
            product=catalog_pb2.Product(
                part_number="BIKE",
                name="Bike",
                unit="pcs",
                routing=[
                    catalog_pb2.RoutingStep(name="cut", capability="cut", ideal_cycle_time_s=60)
                ],
            )
        ),
        ctx=CTX,
        deadline_s=10,
    ).product
    return plant.plant.id, station.id, product.id


def test_plants_and_products_exist_for_their_tenant_only(channel: grpc.Channel) -> None:
    plant_id, _, product_id = floor(ProductionServiceStub(channel))
    production = ProductionOrders(channel)
    assert production.has_plant(tenant_id=TENANT, plant_id=plant_id)
    assert production.has_product(tenant_id=TENANT, product_id=product_id)
    assert not production.has_plant(tenant_id="tenant-2", plant_id=plant_id)
    assert not production.has_product(tenant_id="tenant-2", product_id=product_id)
    assert not production.has_plant(tenant_id=TENANT, plant_id=str(uuid.uuid4()))


def test_a_quote_plans_the_selected_routing_from_now(channel: grpc.Channel) -> None:
    plant_id, _, product_id = floor(ProductionServiceStub(channel))
    before = datetime.now(UTC)
    quote = ProductionOrders(channel).quote(
        tenant_id=TENANT,
        plant_id=plant_id,
        product_id=product_id,
        quantity=10,
        routing=[
            SelectedStep("cut", "cut", 0, 60, {"length_mm": 120.5}),
            SelectedStep("paint", "paint", 0, 60, {}),
        ],
    )
    assert quote.explanation
    # Ten units through two operations of a minute each, and nothing else planned.
    assert before + timedelta(minutes=19) <= quote.end_time <= before + timedelta(hours=1)


def test_a_work_order_reads_back_with_its_operations_and_quality(channel: grpc.Channel) -> None:
    stub = ProductionServiceStub(channel)
    plant_id, station_id, product_id = floor(stub)
    created = call(
        stub.CreateWorkOrder,
        pb.CreateWorkOrderRequest(
            product_id=product_id,
            plant_id=plant_id,
            quantity=5,
            due_time=timestamp(datetime.now(UTC) + timedelta(days=1)),
        ),
        ctx=CTX,
        deadline_s=10,
    ).work_order
    call(
        stub.ReleaseWorkOrder,
        pb.ReleaseWorkOrderRequest(work_order_id=created.id),
        ctx=CTX,
        deadline_s=10,
    )
    call(
        stub.StartOperation,
        pb.StartOperationRequest(work_order_id=created.id, sequence=1, station_id=station_id),
        ctx=CTX,
        deadline_s=10,
    )
    call(
        stub.RecordQuality,
        pb.RecordQualityRequest(
            record=work_orders_pb2.QualityRecord(
                work_order_id=created.id, sequence=1, defect_code="burr", quantity=1
            )
        ),
        ctx=CTX,
        deadline_s=10,
    )
    production = ProductionOrders(channel)
    traced = production.work_order(tenant_id=TENANT, work_order_id=created.id)
    assert traced is not None
    ((operation),) = traced.operations
    assert (operation.name, operation.station_id) == ("cut", station_id)
    assert operation.start_time is not None
    assert operation.end_time is None
    (record,) = production.quality_records(tenant_id=TENANT, work_order_id=created.id)
    assert (record.defect_code, record.sequence, record.quantity) == ("burr", 1, 1)
    assert production.work_order(tenant_id=TENANT, work_order_id=str(uuid.uuid4())) is None
    assert production.work_order(tenant_id="tenant-2", work_order_id=created.id) is None
