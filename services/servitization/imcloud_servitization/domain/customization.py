"""Mass customization: product families, configurations, quotes and customer orders.

A tenant describes a product family (a definition the configurator compiles); its
customers configure one product of it, get a quote priced by the configurator and
dated by production's what-if schedule, and accept it. The accepted quote becomes a
customer order, published on the orders topic in the same transaction, from which
production makes a work order with exactly the BOM and routing that were quoted.
The order then follows its work order's news (scheduled, in production, completed,
cancelled), only ever forward; the tenant ships it. A customer reads the one order
its order key opens; the platform keeps only the key's hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from imcloud_core.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
)
from imcloud_core.ids import new_id, utcnow
from imcloud_core.paging import page_size
from imcloud_servitization.domain.configurator import (
    Configuration,
    Configurator,
    FamilyDefinition,
    SelectedBomLine,
    SelectedStep,
    parse_definition,
)
from imcloud_servitization.domain.ports import Production, Telemetry, UnitOfWork

# The gateway's body limit: a page of families must fit in a gRPC message.
MAX_DEFINITION_CHARS = 1024 * 1024
MAX_SELECTIONS_CHARS = 1_000_000
MAX_QUANTITY = 10_000
CUSTOMER_REFERENCE_MAX = 200
REASON_MAX = 500
SHIPMENT_DETAIL_MAX = 500
# PostgreSQL keeps no NUL in text columns (nor compares with one): texts stored
# refuse it, and an id holding it names nothing.
NUL = "\x00"
# Compiled configurators kept per process (one per family revision in use).
CONFIGURATORS_KEPT = 64


class QuoteState(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    # Never stored: an open quote reads as expired once its expire_time passed.
    EXPIRED = "expired"


class OrderState(StrEnum):
    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"
    IN_PRODUCTION = "in_production"
    COMPLETED = "completed"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


# The order's states along the way; an order only moves to a later one.
ORDER_PROGRESS = (
    OrderState.ACCEPTED,
    OrderState.SCHEDULED,
    OrderState.IN_PRODUCTION,
    OrderState.COMPLETED,
    OrderState.SHIPPED,
)
FINAL = frozenset({OrderState.SHIPPED, OrderState.CANCELLED})
# Made already, or ended: too late to cancel.
NOT_CANCELLABLE = frozenset({OrderState.COMPLETED, OrderState.SHIPPED, OrderState.CANCELLED})


@dataclass(frozen=True)
class ProductFamily:
    id: str
    tenant_id: str
    name: str
    # The definition as the tenant gave it (the configurator accepted it).
    definition_json: str
    revision: int
    create_time: datetime
    update_time: datetime


@dataclass(frozen=True)
class Quote:
    id: str
    tenant_id: str
    family_id: str
    family_revision: int
    family_name: str
    plant_id: str
    product_id: str
    selections: Mapping[str, Any]
    derived: Mapping[str, float]
    quantity: int
    unit_price: float
    total_price: float
    currency: str
    promised_time: datetime
    lead_time_s: float
    schedule_explanation: str
    state: QuoteState
    expire_time: datetime
    customer_reference: str
    create_time: datetime
    # What accepting it makes: the selected BOM and routing, exactly as quoted.
    bom: tuple[SelectedBomLine, ...]
    routing: tuple[SelectedStep, ...]
    order_id: str = ""

    def seen_at(self, now: datetime) -> Quote:
        """The quote as a reader sees it at ``now``: open past its expiry is expired."""
        if self.state is QuoteState.OPEN and self.expire_time <= now:
            return dataclasses.replace(self, state=QuoteState.EXPIRED)
        return self


@dataclass(frozen=True)
class OrderStage:
    state: OrderState
    time: datetime
    detail: str = ""


@dataclass(frozen=True)
class CustomerOrder:
    id: str
    tenant_id: str
    quote_id: str
    family_id: str
    family_name: str
    selections: Mapping[str, Any]
    derived: Mapping[str, float]
    quantity: int
    total_price: float
    currency: str
    customer_reference: str
    state: OrderState
    # Every state reached, oldest first.
    stages: tuple[OrderStage, ...]
    plant_id: str
    promised_time: datetime
    create_time: datetime
    # SHA-256 (hex) of the customer's order key; the key itself is never kept.
    key_hash: str
    work_order_id: str = ""

    def reached(self, state: OrderState, at: datetime, detail: str = "") -> CustomerOrder:
        return dataclasses.replace(
            self, state=state, stages=(*self.stages, OrderStage(state, at, detail))
        )


@dataclass(frozen=True)
class AcceptedQuote:
    order: CustomerOrder
    # The customer's key to the order; empty when the quote had been accepted before.
    order_key: str


@dataclass(frozen=True)
class Configured:
    configuration: Configuration
    currency: str
    family_revision: int


# -- what production and products tell about an order's making ----------------------


@dataclass(frozen=True)
class WorkOrderQuote:
    """When production's what-if schedule would finish an order, and why then."""

    end_time: datetime
    explanation: str


@dataclass(frozen=True)
class RecipeMachine:
    equipment_id: str
    # The machine's desired version that holds the operation's recipe.
    desired_version: int


@dataclass(frozen=True)
class TracedOperation:
    sequence: int
    name: str
    station_id: str
    start_time: datetime | None
    end_time: datetime | None
    recipe_json: str
    good_quantity: float
    scrap_quantity: float
    recipe_machines: tuple[RecipeMachine, ...]


@dataclass(frozen=True)
class TracedWorkOrder:
    id: str
    bom: tuple[SelectedBomLine, ...]
    operations: tuple[TracedOperation, ...]


@dataclass(frozen=True)
class QualityRecord:
    id: str
    sequence: int
    station_id: str
    defect_code: str
    quantity: float
    scrapped: bool
    note: str
    record_time: datetime


@dataclass(frozen=True)
class SignalSummary:
    """A signal's points over a stretch of time (or one bucket of it)."""

    signal: str
    count: int
    min: float
    max: float
    mean: float


@dataclass(frozen=True)
class GenealogyEquipment:
    equipment_id: str
    # The desired version holding the operation's recipe; 0 without a recipe.
    recipe_version: int
    signals: tuple[SignalSummary, ...]


@dataclass(frozen=True)
class GenealogyOperation:
    operation: TracedOperation
    equipment: tuple[GenealogyEquipment, ...]


@dataclass(frozen=True)
class Genealogy:
    order: CustomerOrder
    bom: tuple[SelectedBomLine, ...]
    work_order_id: str
    operations: tuple[GenealogyOperation, ...]
    quality_records: tuple[QualityRecord, ...]


# -- events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderPlaced:
    """Production makes the order from this: its product, and the quoted BOM and routing."""

    order: CustomerOrder
    product_id: str
    bom: tuple[SelectedBomLine, ...]
    routing: tuple[SelectedStep, ...]


@dataclass(frozen=True)
class OrderCancelled:
    order: CustomerOrder
    reason: str


# -- configurators ---------------------------------------------------------------------


class Configurators:
    """Compiled configurators by (family id, revision), the least recently used
    dropped first; safe to use from every request thread."""

    def __init__(self, capacity: int = CONFIGURATORS_KEPT) -> None:
        self._capacity = capacity
        self._kept: OrderedDict[tuple[str, int], tuple[FamilyDefinition, Configurator]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def of(self, family: ProductFamily) -> tuple[FamilyDefinition, Configurator]:
        key = (family.id, family.revision)
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
                return found
        # Compiled outside the lock: another family's requests need not wait for it.
        definition = parse_definition(json.loads(family.definition_json))
        compiled = (definition, Configurator(definition))
        with self._lock:
            self._kept[key] = compiled
            self._kept.move_to_end(key)
            while len(self._kept) > self._capacity:
                self._kept.popitem(last=False)
        return compiled


# -- product families -----------------------------------------------------------------


def create_family(
    uow: UnitOfWork, production: Production, *, tenant_id: str, definition_json: str
) -> ProductFamily:
    definition = _definition(production, tenant_id, definition_json)
    now = utcnow()
    family = ProductFamily(
        id=new_id(),
        tenant_id=tenant_id,
        name=definition.name,
        definition_json=definition_json,
        revision=1,
        create_time=now,
        update_time=now,
    )
    with uow:
        if not uow.families.add(family):
            raise _name_taken(definition.name)
    return family


def get_family(uow: UnitOfWork, *, tenant_id: str, family_id: str) -> ProductFamily:
    with uow:
        return _family(uow, tenant_id, family_id)


def list_families(
    uow: UnitOfWork, *, tenant_id: str, requested_page_size: int, page_token: str
) -> tuple[list[ProductFamily], str]:
    size = page_size(requested_page_size)
    with uow:
        return uow.families.list(tenant_id=tenant_id, page_size=size, page_token=page_token)


def update_family(
    uow: UnitOfWork,
    production: Production,
    *,
    tenant_id: str,
    family_id: str,
    definition_json: str,
    revision: int | None,
) -> ProductFamily:
    """Replaces the definition; ``revision`` (when given) must be the current one.
    Quotes made before keep what they priced."""
    with uow:
        # Another tenant's family is not found, before its definition is judged.
        _family(uow, tenant_id, family_id)
    definition = _definition(production, tenant_id, definition_json)
    with uow:
        current = _family(uow, tenant_id, family_id, for_update=True)
        if revision is not None and revision != current.revision:
            raise FailedPrecondition(
                f"product family {family_id!r} is at revision {current.revision}, not "
                f"{revision}: read it again and apply the change to what it is now"
            )
        namesake = uow.families.named(tenant_id=tenant_id, name=definition.name)
        if namesake is not None and namesake.id != family_id:
            raise _name_taken(definition.name)
        updated = dataclasses.replace(
            current,
            name=definition.name,
            definition_json=definition_json,
            revision=current.revision + 1,
            update_time=utcnow(),
        )
        uow.families.save(updated)
    return updated


# -- configurations ---------------------------------------------------------------------


def configure(
    uow: UnitOfWork,
    configurators: Configurators,
    *,
    tenant_id: str,
    family_id: str,
    selections_json: str,
    complete: bool,
) -> Configured:
    """What every option can still take given the selections, or (``complete``) the
    cheapest valid product keeping them; invalid selections raise InvalidArgument
    naming a minimal set of violated rules."""
    selections = _selections(selections_json)
    with uow:
        family = _family(uow, tenant_id, family_id)
    definition, configurator = configurators.of(family)
    configuration = (
        configurator.complete(selections) if complete else configurator.configure(selections)
    )
    return Configured(configuration, definition.currency, family.revision)


# -- quotes ---------------------------------------------------------------------------


def create_quote(
    uow: UnitOfWork,
    configurators: Configurators,
    production: Production,
    *,
    tenant_id: str,
    family_id: str,
    selections_json: str,
    quantity: int,
    customer_reference: str,
) -> Quote:
    """Prices complete, valid selections and dates them with production's what-if
    schedule (nothing is stored when production cannot answer)."""
    violations = []
    if not 1 <= quantity <= MAX_QUANTITY:
        violations.append(FieldViolation("quantity", f"must be 1..{MAX_QUANTITY}"))
    if len(customer_reference) > CUSTOMER_REFERENCE_MAX or NUL in customer_reference:
        violations.append(
            FieldViolation(
                "customer_reference",
                f"at most {CUSTOMER_REFERENCE_MAX} characters, none of them NUL",
            )
        )
    if violations:
        raise InvalidArgument("the quote is not valid", violations=tuple(violations))
    selections = _selections(selections_json)
    with uow:
        family = _family(uow, tenant_id, family_id)
    definition, configurator = configurators.of(family)
    product = configurator.selected(selections)
    promised = production.quote(
        tenant_id=tenant_id,
        plant_id=definition.plant_id,
        product_id=definition.product_id,
        quantity=quantity,
        routing=product.routing,
    )
    now = utcnow()
    quote = Quote(
        id=new_id(),
        tenant_id=tenant_id,
        family_id=family.id,
        family_revision=family.revision,
        family_name=family.name,
        plant_id=definition.plant_id,
        product_id=definition.product_id,
        selections=dict(selections),
        derived=dict(product.derived),
        quantity=quantity,
        unit_price=product.unit_price,
        total_price=round(product.unit_price * quantity, 2),
        currency=definition.currency,
        promised_time=promised.end_time,
        lead_time_s=max(0.0, (promised.end_time - now).total_seconds()),
        schedule_explanation=promised.explanation,
        state=QuoteState.OPEN,
        # Not past its promise: accepted later, it could not be made by then.
        expire_time=min(now + timedelta(seconds=definition.quote_validity_s), promised.end_time),
        customer_reference=customer_reference,
        create_time=now,
        bom=tuple(product.bom),
        routing=tuple(product.routing),
    )
    with uow:
        uow.quotes.add(quote)
    return quote


def get_quote(uow: UnitOfWork, *, tenant_id: str, quote_id: str) -> Quote:
    with uow:
        return _quote(uow, tenant_id, quote_id).seen_at(utcnow())


def list_quotes(
    uow: UnitOfWork, *, tenant_id: str, requested_page_size: int, page_token: str
) -> tuple[list[Quote], str]:
    size = page_size(requested_page_size)
    now = utcnow()
    with uow:
        found, token = uow.quotes.list(tenant_id=tenant_id, page_size=size, page_token=page_token)
    return [quote.seen_at(now) for quote in found], token


def accept_quote(uow: UnitOfWork, *, tenant_id: str, quote_id: str) -> AcceptedQuote:
    """Turns an open quote into an order, and publishes it, in one transaction; a
    quote accepted before gives its order again without a key (a retry is safe)."""
    now = utcnow()
    with uow:
        quote = _quote(uow, tenant_id, quote_id, for_update=True)
        if quote.state is QuoteState.ACCEPTED:
            return AcceptedQuote(_order(uow, tenant_id, quote.order_id), order_key="")
        if quote.seen_at(now).state is QuoteState.EXPIRED:
            raise FailedPrecondition(
                f"quote {quote_id!r} expired at {quote.expire_time.isoformat()}: ask for a new one"
            )
        order_key = secrets.token_urlsafe(32)
        order = CustomerOrder(
            id=new_id(),
            tenant_id=tenant_id,
            quote_id=quote.id,
            family_id=quote.family_id,
            family_name=quote.family_name,
            selections=quote.selections,
            derived=quote.derived,
            quantity=quote.quantity,
            total_price=quote.total_price,
            currency=quote.currency,
            customer_reference=quote.customer_reference,
            state=OrderState.ACCEPTED,
            stages=(OrderStage(OrderState.ACCEPTED, now),),
            plant_id=quote.plant_id,
            promised_time=quote.promised_time,
            create_time=now,
            key_hash=key_hash(order_key),
        )
        uow.orders.add(order)
        uow.quotes.save(dataclasses.replace(quote, state=QuoteState.ACCEPTED, order_id=order.id))
        uow.record(OrderPlaced(order, quote.product_id, quote.bom, quote.routing))
    return AcceptedQuote(order, order_key)


# -- orders ---------------------------------------------------------------------------


def get_order(uow: UnitOfWork, *, tenant_id: str, order_id: str) -> CustomerOrder:
    with uow:
        return _order(uow, tenant_id, order_id)


def list_orders(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    states: Sequence[OrderState],
    requested_page_size: int,
    page_token: str,
) -> tuple[list[CustomerOrder], str]:
    size = page_size(requested_page_size)
    with uow:
        return uow.orders.list(
            tenant_id=tenant_id, states=list(states), page_size=size, page_token=page_token
        )


def cancel_order(uow: UnitOfWork, *, tenant_id: str, order_id: str, reason: str) -> CustomerOrder:
    """Production cancels the order's work order when it hears of it (if still open)."""
    if not reason.strip() or len(reason) > REASON_MAX or NUL in reason:
        raise InvalidArgument(
            "the cancellation is not valid",
            violations=(
                FieldViolation("reason", f"must be 1..{REASON_MAX} characters, none of them NUL"),
            ),
        )
    with uow:
        order = _order(uow, tenant_id, order_id, for_update=True)
        if order.state in NOT_CANCELLABLE:
            raise FailedPrecondition(
                f"order {order_id!r} is {order.state.value} and can no longer be cancelled"
            )
        cancelled = order.reached(OrderState.CANCELLED, utcnow(), reason.strip())
        uow.orders.save(cancelled)
        uow.record(OrderCancelled(cancelled, reason.strip()))
    return cancelled


def ship_order(uow: UnitOfWork, *, tenant_id: str, order_id: str, detail: str) -> CustomerOrder:
    if len(detail) > SHIPMENT_DETAIL_MAX or NUL in detail:
        raise InvalidArgument(
            "the shipment is not valid",
            violations=(
                FieldViolation(
                    "detail", f"must be at most {SHIPMENT_DETAIL_MAX} characters, none of them NUL"
                ),
            ),
        )
    with uow:
        order = _order(uow, tenant_id, order_id, for_update=True)
        if order.state is not OrderState.COMPLETED:
            raise FailedPrecondition(
                f"order {order_id!r} is {order.state.value}: only a completed order is shipped"
            )
        shipped = order.reached(OrderState.SHIPPED, utcnow(), detail.strip())
        uow.orders.save(shipped)
    return shipped


def order_by_key(uow: UnitOfWork, *, order_key: str) -> CustomerOrder:
    """The one order the key opens, whichever tenant's it is; any other key is
    NOT_FOUND with the same message."""
    with uow:
        order = uow.orders.with_key_hash(key_hash(order_key)) if order_key else None
    if order is None:
        raise NotFound("no order has this order key")
    return order


def key_hash(order_key: str) -> str:
    return hashlib.sha256(order_key.encode()).hexdigest()


def follow_work_order(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    order_id: str,
    work_order_id: str,
    to: OrderState | None,
    at: datetime,
    detail: str = "",
) -> CustomerOrder | None:
    """Keeps the order's work order and moves the order on to ``to`` (None: the
    news only says the work order exists). Returns the order when it reached
    ``to``; None otherwise: a redelivery, older news, an order that ended, or one
    the tenant does not have."""
    with uow:
        order = uow.orders.get(tenant_id=tenant_id, order_id=order_id, for_update=True)
        if order is None:
            return None
        moved = dataclasses.replace(order, work_order_id=order.work_order_id or work_order_id)
        reached = to is not None and _moves_forward(order.state, to)
        if reached and to is not None:
            moved = moved.reached(to, at, detail)
        if moved != order:
            uow.orders.save(moved)
    return moved if reached else None


def _moves_forward(current: OrderState, to: OrderState) -> bool:
    if current in FINAL:
        return False
    if to is OrderState.CANCELLED:
        return current is not OrderState.COMPLETED
    return ORDER_PROGRESS.index(to) > ORDER_PROGRESS.index(current)


# -- genealogy ------------------------------------------------------------------------


def genealogy(
    uow: UnitOfWork,
    production: Production,
    telemetry: Telemetry,
    *,
    tenant_id: str,
    order_id: str,
) -> Genealogy:
    """Configuration -> order -> work order -> operations at stations -> their
    machines (those that took the recipe, or those placed at the station for an
    operation without one) -> each machine's signals during the operation ->
    quality records."""
    with uow:
        order = _order(uow, tenant_id, order_id)
        quote = _quote(uow, tenant_id, order.quote_id)
    work_order = (
        production.work_order(tenant_id=tenant_id, work_order_id=order.work_order_id)
        if order.work_order_id
        else None
    )
    if work_order is None:
        return Genealogy(order, quote.bom, order.work_order_id, (), ())
    now = utcnow()
    operations = tuple(
        GenealogyOperation(
            operation,
            _operation_machines(telemetry, tenant_id, operation, operation.start_time, now),
        )
        for operation in work_order.operations
        if operation.start_time is not None
    )
    records = production.quality_records(tenant_id=tenant_id, work_order_id=work_order.id)
    return Genealogy(order, work_order.bom or quote.bom, work_order.id, operations, tuple(records))


def _operation_machines(
    telemetry: Telemetry,
    tenant_id: str,
    operation: TracedOperation,
    start: datetime,
    now: datetime,
) -> tuple[GenealogyEquipment, ...]:
    if operation.recipe_json:
        machines = [(m.equipment_id, m.desired_version) for m in operation.recipe_machines]
    else:
        placed = telemetry.machines_at(tenant_id=tenant_id, station_id=operation.station_id)
        machines = [(equipment_id, 0) for equipment_id in placed]
    end = operation.end_time or now
    return tuple(
        GenealogyEquipment(
            equipment_id,
            version,
            merge_summaries(
                telemetry.signal_buckets(
                    tenant_id=tenant_id,
                    equipment_id=equipment_id,
                    start=start,
                    end=end,
                )
            ),
        )
        for equipment_id, version in machines
    )


def merge_summaries(buckets: Sequence[SignalSummary]) -> tuple[SignalSummary, ...]:
    """One summary per signal from its buckets (counts add up, the mean weighs
    each bucket by its count), signals in the order first seen."""
    merged: dict[str, SignalSummary] = {}
    for bucket in buckets:
        if bucket.count <= 0:
            continue
        seen = merged.get(bucket.signal)
        if seen is None:
            merged[bucket.signal] = bucket
            continue
        count = seen.count + bucket.count
        merged[bucket.signal] = SignalSummary(
            signal=bucket.signal,
            count=count,
            min=min(seen.min, bucket.min),
            max=max(seen.max, bucket.max),
            mean=(seen.mean * seen.count + bucket.mean * bucket.count) / count,
        )
    return tuple(merged.values())


# -- private --------------------------------------------------------------------------


def _definition(production: Production, tenant_id: str, definition_json: str) -> FamilyDefinition:
    definition = parse_definition(
        _json(
            definition_json,
            field="definition_json",
            max_chars=MAX_DEFINITION_CHARS,
            refusal="the product family is not valid",
        )
    )
    if NUL in definition.name:
        raise InvalidArgument(
            "the product family is not valid",
            violations=(FieldViolation("name", "must not contain NUL characters"),),
        )
    missing = []
    if not production.has_plant(tenant_id=tenant_id, plant_id=definition.plant_id):
        missing.append(FieldViolation("plant_id", f"no plant {definition.plant_id!r}"))
    if not production.has_product(tenant_id=tenant_id, product_id=definition.product_id):
        missing.append(FieldViolation("product_id", f"no product {definition.product_id!r}"))
    if missing:
        raise InvalidArgument("the product family is not valid", violations=tuple(missing))
    return definition


def _selections(selections_json: str) -> Mapping[str, Any]:
    refusal = "the selections are not valid"
    selections = _json(
        selections_json or "{}", field="selections", max_chars=MAX_SELECTIONS_CHARS, refusal=refusal
    )
    if not isinstance(selections, dict):
        raise _bad_json(refusal, "selections", "must be a JSON object {option: value}")
    return selections


def _json(text: str, *, field: str, max_chars: int, refusal: str) -> Any:
    if len(text) > max_chars:
        raise _bad_json(refusal, field, f"at most {max_chars} characters")
    try:
        return json.loads(
            text, parse_constant=_not_a_number, parse_float=_finite, parse_int=_exact_integer
        )
    except (ValueError, RecursionError):
        raise _bad_json(refusal, field, "must be JSON") from None


def _not_a_number(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is too large a number")
    return number


def _exact_integer(text: str) -> int:
    """An integer a float holds exactly: every number ends up in float arithmetic."""
    number = int(text)
    if abs(number) > 2**53:
        raise ValueError(f"{text} is too large a number")
    return number


def _bad_json(refusal: str, field: str, reason: str) -> InvalidArgument:
    return InvalidArgument(refusal, violations=(FieldViolation(field, reason),))


def _name_taken(name: str) -> AlreadyExists:
    return AlreadyExists(f"the tenant has a product family named {name!r} already")


def _family(
    uow: UnitOfWork, tenant_id: str, family_id: str, *, for_update: bool = False
) -> ProductFamily:
    family = (
        None
        if NUL in family_id
        else uow.families.get(tenant_id=tenant_id, family_id=family_id, for_update=for_update)
    )
    if family is None:
        raise NotFound(f"product family {family_id!r} not found")
    return family


def _quote(uow: UnitOfWork, tenant_id: str, quote_id: str, *, for_update: bool = False) -> Quote:
    quote = (
        None
        if NUL in quote_id
        else uow.quotes.get(tenant_id=tenant_id, quote_id=quote_id, for_update=for_update)
    )
    if quote is None:
        raise NotFound(f"quote {quote_id!r} not found")
    return quote


def _order(
    uow: UnitOfWork, tenant_id: str, order_id: str, *, for_update: bool = False
) -> CustomerOrder:
    order = (
        None
        if NUL in order_id
        else uow.orders.get(tenant_id=tenant_id, order_id=order_id, for_update=for_update)
    )
    if order is None:
        raise NotFound(f"order {order_id!r} not found")
    return order
