"""What every service's store shares: metadata conventions, UTC timestamps and
keyset pagination."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    DateTime,
    MetaData,
    Row,
    Select,
    Table,
    TypeDecorator,
    and_,
    bindparam,
    exists,
    or_,
    select,
)
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session

from imcloud_core.db import conflict_insert
from imcloud_core.errors import FieldViolation, InvalidArgument
from imcloud_core.paging import decode_page_token, encode_page_token

# Stable constraint names, so migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on PostgreSQL and SQLite alike.

    SQLite stores no zone and hands back naive values; this type makes every
    value that comes out of any database aware and in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def keyset_page(
    session: Session | Connection,
    statement: Select[Any],
    *,
    created: Column[Any],
    key: Column[str],
    page_size: int,
    page_token: str,
    newest_first: bool = False,
) -> tuple[list[Row[Any]], str]:
    """One page of ``statement`` in (created, key) order, and the next page's token.

    ``created`` is a timestamp or an integer time. Keyset paging stays correct
    while rows are added, unlike OFFSET.
    """
    position = decode_page_token(page_token)
    if position is not None:
        try:
            after_time = _position_time(created, position["t"])
            after_key = str(position["k"])
        except (KeyError, TypeError, ValueError):
            raise InvalidArgument(
                "page_token is not one this service issued",
                violations=(FieldViolation("page_token", "not a valid page token"),),
            ) from None
        if newest_first:
            statement = statement.where(
                or_(created < after_time, and_(created == after_time, key < after_key))
            )
        else:
            statement = statement.where(
                or_(created > after_time, and_(created == after_time, key > after_key))
            )
    order = (created.desc(), key.desc()) if newest_first else (created, key)
    rows = list(session.execute(statement.order_by(*order).limit(page_size + 1)).all())
    if len(rows) <= page_size:
        return rows, ""
    last = rows[page_size - 1]._mapping
    time = last[created]
    encoded_time = time.isoformat() if isinstance(time, datetime) else time
    return rows[:page_size], encode_page_token({"t": encoded_time, "k": last[key]})


def _position_time(created: Column[Any], encoded: Any) -> Any:
    if isinstance(created.type, UtcDateTime):
        return datetime.fromisoformat(encoded)
    if not isinstance(encoded, int):
        raise TypeError("an integer time was expected")
    return encoded


class TenantTable:
    """Queries on a table whose every row belongs to one tenant.

    Repositories go through this class so that no query can forget the tenant
    filter: every method takes the tenant and applies it.
    """

    def __init__(self, table: Table) -> None:
        self.table = table
        self.c = table.c

    # Statements take their values as parameters, not through .values(): built
    # once, they compile once, where .values() coerces every value at every call.
    def insert(self, session: Session, values: dict[str, Any]) -> None:
        if not values.get("tenant_id"):
            raise ValueError(f"a row of {self.table.name} needs its tenant_id")
        session.execute(self.table.insert(), values)

    def insert_unless_taken(
        self, session: Session, values: dict[str, Any], unique: list[str]
    ) -> bool:
        """Inserts the row unless one with the same ``unique`` columns exists (then the
        database's unique index decides, also between concurrent inserts); True if it did."""
        if not values.get("tenant_id"):
            raise ValueError(f"a row of {self.table.name} needs its tenant_id")
        insert = conflict_insert(session.get_bind().engine)
        inserted = session.execute(
            insert(self.table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=unique)
            .returning(self.c.id)
        ).first()
        return inserted is not None

    def select(self, tenant_id: str, *conditions: ColumnElement[bool]) -> Select[Any]:
        return select(self.table).where(self.c.tenant_id == tenant_id, *conditions)

    def get(self, session: Session, tenant_id: str, row_id: str) -> Row[Any] | None:
        return session.execute(self.select(tenant_id, self.c.id == row_id)).first()

    def get_many(self, session: Session, tenant_id: str, row_ids: Sequence[str]) -> list[Row[Any]]:
        """The rows of these ids that the tenant has, in no particular order."""
        return list(session.execute(self.select(tenant_id, self.c.id.in_(row_ids))).all())

    def exists(self, session: Session, tenant_id: str, *conditions: ColumnElement[bool]) -> bool:
        query = select(exists().where(self.c.tenant_id == tenant_id, *conditions))
        return bool(session.execute(query).scalar())

    def update(self, session: Session, tenant_id: str, row_id: str, values: dict[str, Any]) -> bool:
        result = session.execute(
            self.table.update().where(
                self.c.tenant_id == bindparam("row_tenant_id"), self.c.id == bindparam("row_id")
            ),
            {**values, "row_tenant_id": tenant_id, "row_id": row_id},
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def delete(self, session: Session, tenant_id: str, row_id: str) -> bool:
        result = session.execute(
            self.table.delete().where(self.c.tenant_id == tenant_id, self.c.id == row_id)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def page(
        self,
        session: Session,
        tenant_id: str,
        *conditions: ColumnElement[bool],
        page_size: int,
        page_token: str,
        newest_first: bool = False,
    ) -> tuple[list[Row[Any]], str]:
        return keyset_page(
            session,
            self.select(tenant_id, *conditions),
            created=self.c.create_time,
            key=self.c.id,
            page_size=page_size,
            page_token=page_token,
            newest_first=newest_first,
        )
