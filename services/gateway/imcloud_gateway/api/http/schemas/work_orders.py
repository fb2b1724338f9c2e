"""Bodies of the product, work order and quality record routes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from imcloud_gateway.api.http.schemas.common import Body
from imcloud_gateway.api.http.schemas.production import Capability, Instant, PartNumber

Seconds = Annotated[float, Field(ge=0, le=86_400)]
Unit = Annotated[str, Field(min_length=1, max_length=20, examples=["pcs"])]
Quantity = Annotated[float, Field(gt=0, le=1e9)]
Count = Annotated[float, Field(ge=0, le=1e9)]
ResourceId = Annotated[str, Field(min_length=1, max_length=36)]
# A routing's operations are numbered from 1; a routing has at most 50.
MAX_SEQUENCE = 50

# -- products ----------------------------------------------------------------------


class RoutingStepBody(Body):
    name: str = Field(min_length=1, max_length=100, examples=["mill housing"])
    capability: Capability = Field(
        examples=["milling"], description="Some station of the tenant must offer it"
    )
    setup_time_s: Seconds = Field(0.0, examples=[600.0])
    ideal_cycle_time_s: float = Field(
        gt=0,
        le=86_400,
        examples=[45.0],
        description="Ideal seconds per unit; a station's own figure for the product wins",
    )


class BomLineBody(Body):
    component_part_number: PartNumber = Field(examples=["AL-BILLET-80"])
    quantity: Quantity = Field(examples=[1.0], description="Per unit of the product")
    unit: Unit


class CreateProductRequest(Body):
    part_number: PartNumber = Field(
        examples=["HSG-100"], description="Unique within the tenant (409 otherwise)"
    )
    name: str = Field("", max_length=200, examples=["Gearbox housing"])
    unit: Unit = "pcs"
    routing: list[RoutingStepBody] = Field(
        min_length=1,
        max_length=MAX_SEQUENCE,
        description="The operations, in order",
        examples=[
            [
                {
                    "name": "mill housing",
                    "capability": "milling",
                    "setup_time_s": 600.0,
                    "ideal_cycle_time_s": 45.0,
                },
                {"name": "drill flange", "capability": "drilling", "ideal_cycle_time_s": 20.0},
            ]
        ],
    )
    bom: list[BomLineBody] = Field(
        [],
        max_length=500,
        description="Components of one unit",
        examples=[[{"component_part_number": "AL-BILLET-80", "quantity": 1.0, "unit": "pcs"}]],
    )


class ProductResponse(BaseModel):
    id: str
    part_number: str
    name: str
    unit: str
    routing: list[RoutingStepBody]
    bom: list[BomLineBody]
    create_time: datetime
    first_pass_yield: float | None = Field(
        description="Over all its work orders: per routing step good / (good + scrap), "
        "multiplied over the steps; null before any unit is counted"
    )


# -- work orders -------------------------------------------------------------------

WorkOrderStateName = Literal["planned", "released", "running", "completed", "cancelled"]
OperationStateName = Literal["pending", "running", "done"]


class CreateWorkOrderRequest(Body):
    product_id: ResourceId
    plant_id: ResourceId = Field(description="The plant that makes it")
    quantity: Quantity = Field(examples=[120.0], description="Good units to make")
    due_time: Instant = Field(
        examples=[(datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0).isoformat()]
    )
    priority: int = Field(0, ge=0, le=1000, description="Higher goes first")
    note: str = Field("", max_length=2000, examples=["Customer order 4711"])


class CancelWorkOrderRequest(Body):
    reason: str = Field(min_length=1, max_length=500, examples=["Customer withdrew the order"])


class StartOperationRequest(Body):
    station_id: ResourceId = Field(
        description="A station of the order's plant offering the operation's capability"
    )


class ReportCountsRequest(Body):
    """An operation's totals so far, for stations whose machines do not count."""

    good_quantity: Count = Field(examples=[40.0], description="Never less than before")
    scrap_quantity: Count = Field(examples=[2.0], description="Never less than before")


class OperationResponse(BaseModel):
    sequence: int
    name: str
    capability: str
    setup_time_s: float
    ideal_cycle_time_s: float
    station_id: str = Field(description="Where it runs; empty until it starts")
    state: OperationStateName
    good_quantity: float
    scrap_quantity: float
    start_time: datetime | None
    end_time: datetime | None


class WorkOrderResponse(BaseModel):
    id: str
    product_id: str
    part_number: str
    plant_id: str
    quantity: float
    due_time: datetime
    priority: int
    state: WorkOrderStateName
    cancel_reason: str
    note: str
    operations: list[OperationResponse] = Field(
        description="The routing as copied at release; empty while planned"
    )
    good_quantity: float = Field(description="Good units out of the last operation")
    scrap_quantity: float = Field(description="Units scrapped at any operation")
    first_pass_yield: float | None = Field(
        description="The product of the operations' good / (good + scrap); null before "
        "any unit is counted"
    )
    create_time: datetime
    release_time: datetime | None
    start_time: datetime | None
    end_time: datetime | None = Field(description="When it was completed or cancelled")


# -- quality records ---------------------------------------------------------------


class RecordQualityRequest(Body):
    work_order_id: ResourceId
    sequence: int = Field(ge=1, le=MAX_SEQUENCE, examples=[1], description="The operation")
    defect_code: str = Field(min_length=1, max_length=50, examples=["burr"])
    quantity: Quantity = Field(examples=[2.0], description="Units affected")
    scrapped: bool = Field(False, description="Scrapped, else reworked or accepted")
    note: str = Field("", max_length=500, examples=["Burr on the bearing seat"])


class QualityRecordResponse(BaseModel):
    id: str
    work_order_id: str
    sequence: int
    station_id: str = Field(description="The station of the operation")
    defect_code: str
    quantity: float
    scrapped: bool
    note: str
    record_time: datetime
