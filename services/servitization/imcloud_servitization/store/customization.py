"""Product families, quotes and customer orders in SQL; every query filters by
tenant, except the order-key lookup, which finds a key's order whoever's it is."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, or_, select
from sqlalchemy.orm import Session

from imcloud_core.errors import FieldViolation, InvalidArgument
from imcloud_core.paging import decode_page_token, encode_page_token
from imcloud_core.store import TenantTable
from imcloud_servitization.domain.configurator import SelectedBomLine, SelectedStep
from imcloud_servitization.domain.customization import (
    NUL,
    CustomerOrder,
    OrderStage,
    OrderState,
    ProductFamily,
    Quote,
    QuoteState,
)
from imcloud_servitization.store.tables import customer_orders, product_families, quotes


def _family(row: Row[Any]) -> ProductFamily:
    values = row._asdict()
    values["definition_json"] = values.pop("definition")
    return ProductFamily(**values)


def _family_values(family: ProductFamily) -> dict[str, Any]:
    values = _fields(family)
    values["definition"] = values.pop("definition_json")
    return values


# A page of families holds at most this much definition JSON (a gRPC message holds 8 MiB;
# one definition at most 1 MiB).
PAGE_DEFINITION_CHARS = 4 * 1024 * 1024


class SqlFamilyRepository:
    table = TenantTable(product_families)

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, family: ProductFamily) -> bool:
        return self.table.insert_unless_taken(
            self._session, _family_values(family), ["tenant_id", "name"]
        )

    def get(
        self, *, tenant_id: str, family_id: str, for_update: bool = False
    ) -> ProductFamily | None:
        query = self.table.select(tenant_id, product_families.c.id == family_id)
        row = self._session.execute(query.with_for_update() if for_update else query).first()
        return _family(row) if row else None

    def named(self, *, tenant_id: str, name: str) -> ProductFamily | None:
        row = self._session.execute(
            self.table.select(tenant_id, product_families.c.name == name)
        ).first()
        return _family(row) if row else None

    def save(self, family: ProductFamily) -> None:
        self.table.update(
            self._session,
            family.tenant_id,
            family.id,
            {
                "name": family.name,
                "definition": family.definition_json,
                "revision": family.revision,
                "update_time": family.update_time,
            },
        )

    def list(
        self, *, tenant_id: str, page_size: int, page_token: str
    ) -> tuple[list[ProductFamily], str]:
        """By name, then id; the token holds the last name shown."""
        c = product_families.c
        query = self.table.select(tenant_id)
        position = decode_page_token(page_token)
        if position is not None:
            after_name, after_id = position.get("n"), position.get("k")
            if (
                not isinstance(after_name, str)
                or not isinstance(after_id, str)
                or NUL in (after_name + after_id)
            ):
                raise InvalidArgument(
                    "page_token is not one this service issued",
                    violations=(FieldViolation("page_token", "not a valid page token"),),
                )
            query = query.where(
                or_(c.name > after_name, and_(c.name == after_name, c.id > after_id))
            )
        rows = self._session.execute(query.order_by(c.name, c.id).limit(page_size + 1)).all()
        found: list[ProductFamily] = []
        characters = 0
        for row in rows[:page_size]:
            # A page of large definitions ends early: it must fit in one gRPC message.
            if found and characters + len(row.definition) > PAGE_DEFINITION_CHARS:
                break
            found.append(_family(row))
            characters += len(row.definition)
        if len(found) == len(rows):
            return found, ""
        return found, encode_page_token({"n": found[-1].name, "k": found[-1].id})


def _bom(lines: list[dict[str, Any]]) -> tuple[SelectedBomLine, ...]:
    return tuple(SelectedBomLine(**line) for line in lines)


def _routing(steps: list[dict[str, Any]]) -> tuple[SelectedStep, ...]:
    return tuple(SelectedStep(**step) for step in steps)


def _quote(row: Row[Any]) -> Quote:
    values = row._asdict()
    return Quote(
        **{
            **values,
            "state": QuoteState(values["state"]),
            "bom": _bom(values["bom"]),
            "routing": _routing(values["routing"]),
        }
    )


def _quote_values(quote: Quote) -> dict[str, Any]:
    return {
        **_fields(quote),
        "state": quote.state.value,
        "selections": dict(quote.selections),
        "derived": dict(quote.derived),
        "bom": [_fields(line) for line in quote.bom],
        "routing": [{**_fields(step), "recipe": dict(step.recipe)} for step in quote.routing],
    }


def _fields(item: Any) -> dict[str, Any]:
    """A dataclass's fields, shallow (a recipe may be a read-only mapping, which
    dataclasses.asdict cannot copy)."""
    return {f.name: getattr(item, f.name) for f in dataclasses.fields(item)}


class SqlQuoteRepository:
    table = TenantTable(quotes)

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, quote: Quote) -> None:
        self.table.insert(self._session, _quote_values(quote))

    def get(self, *, tenant_id: str, quote_id: str, for_update: bool = False) -> Quote | None:
        query = self.table.select(tenant_id, quotes.c.id == quote_id)
        row = self._session.execute(query.with_for_update() if for_update else query).first()
        return _quote(row) if row else None

    def save(self, quote: Quote) -> None:
        self.table.update(
            self._session,
            quote.tenant_id,
            quote.id,
            {"state": quote.state.value, "order_id": quote.order_id},
        )

    def list(self, *, tenant_id: str, page_size: int, page_token: str) -> tuple[list[Quote], str]:
        rows, token = self.table.page(
            self._session, tenant_id, page_size=page_size, page_token=page_token, newest_first=True
        )
        return [_quote(row) for row in rows], token


def _order(row: Row[Any]) -> CustomerOrder:
    values = row._asdict()
    return CustomerOrder(
        **{
            **values,
            "state": OrderState(values["state"]),
            "stages": tuple(
                OrderStage(
                    OrderState(stage["state"]),
                    datetime.fromisoformat(stage["time"]),
                    stage["detail"],
                )
                for stage in values["stages"]
            ),
        }
    )


def _stages(order: CustomerOrder) -> list[dict[str, str]]:
    return [
        {"state": stage.state.value, "time": stage.time.isoformat(), "detail": stage.detail}
        for stage in order.stages
    ]


class SqlOrderRepository:
    table = TenantTable(customer_orders)

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, order: CustomerOrder) -> None:
        self.table.insert(
            self._session,
            {
                **_fields(order),
                "state": order.state.value,
                "stages": _stages(order),
                "selections": dict(order.selections),
                "derived": dict(order.derived),
            },
        )

    def get(
        self, *, tenant_id: str, order_id: str, for_update: bool = False
    ) -> CustomerOrder | None:
        query = self.table.select(tenant_id, customer_orders.c.id == order_id)
        row = self._session.execute(query.with_for_update() if for_update else query).first()
        return _order(row) if row else None

    def with_key_hash(self, key_hash: str) -> CustomerOrder | None:
        row = self._session.execute(
            select(customer_orders).where(customer_orders.c.key_hash == key_hash)
        ).first()
        return _order(row) if row else None

    def save(self, order: CustomerOrder) -> None:
        self.table.update(
            self._session,
            order.tenant_id,
            order.id,
            {
                "state": order.state.value,
                "stages": _stages(order),
                "work_order_id": order.work_order_id,
            },
        )

    def list(
        self, *, tenant_id: str, states: list[OrderState], page_size: int, page_token: str
    ) -> tuple[list[CustomerOrder], str]:
        conditions: list[ColumnElement[bool]] = []
        if states:
            conditions.append(customer_orders.c.state.in_([s.value for s in states]))
        rows, token = self.table.page(
            self._session,
            tenant_id,
            *conditions,
            page_size=page_size,
            page_token=page_token,
            newest_first=True,
        )
        return [_order(row) for row in rows], token
