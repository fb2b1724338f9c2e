"""Listings page through every row exactly once, oldest or newest first, whether
rows are ordered by a timestamp or by integer milliseconds, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import BigInteger, Column, Engine, String, Table, select

from imcloud_core.db import create_database_engine
from imcloud_core.errors import InvalidArgument
from imcloud_core.paging import encode_page_token
from imcloud_core.store import UtcDateTime, keyset_page, new_metadata

metadata = new_metadata()
stamped = Table(
    "stamped",
    metadata,
    Column("id", String, primary_key=True),
    Column("create_time", UtcDateTime(), nullable=False),
)
timed = Table(
    "timed",
    metadata,
    Column("id", String, primary_key=True),
    Column("start_ms", BigInteger, nullable=False),
)
# Three rows share each instant, so the key has to break ties across page edges.
ROWS = 23
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def engine(empty_database_url: str) -> Iterator[Engine]:
    engine = create_database_engine(empty_database_url, setting="test")
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            stamped.insert(),
            [
                {"id": f"s{n:02d}", "create_time": EPOCH + timedelta(seconds=n // 3)}
                for n in range(ROWS)
            ],
        )
        connection.execute(
            timed.insert(), [{"id": f"t{n:02d}", "start_ms": 1000 * (n // 3)} for n in range(ROWS)]
        )
    yield engine
    engine.dispose()


def walk(engine: Engine, table: Table, created: Any, *, newest_first: bool) -> list[list[str]]:
    pages: list[list[str]] = []
    token = ""
    with engine.connect() as connection:
        while True:
            rows, token = keyset_page(
                connection,
                select(table),
                created=created,
                key=table.c.id,
                page_size=5,
                page_token=token,
                newest_first=newest_first,
            )
            pages.append([row.id for row in rows])
            if not token:
                return pages


@pytest.mark.parametrize("newest_first", [False, True], ids=["oldest-first", "newest-first"])
@pytest.mark.parametrize(
    ("table", "prefix"), [(stamped, "s"), (timed, "t")], ids=["timestamp", "milliseconds"]
)
def test_pages_hold_every_row_once_in_order(
    engine: Engine, table: Table, prefix: str, newest_first: bool
) -> None:
    created = table.c.create_time if table is stamped else table.c.start_ms
    pages = walk(engine, table, created, newest_first=newest_first)
    expected = [f"{prefix}{n:02d}" for n in range(ROWS)]
    if newest_first:
        expected.reverse()
    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    assert [row for page in pages for row in page] == expected


@pytest.mark.parametrize(
    ("table", "position"),
    [
        (stamped, {"t": 1000, "k": "s01"}),
        (stamped, {"k": "s01"}),
        (timed, {"t": "2026-01-01T00:00:00+00:00", "k": "t01"}),
    ],
    ids=["number-for-timestamp", "no-time", "timestamp-for-number"],
)
def test_a_token_of_the_wrong_shape_is_refused(
    engine: Engine, table: Table, position: dict[str, Any]
) -> None:
    created = table.c.create_time if table is stamped else table.c.start_ms
    with engine.connect() as connection, pytest.raises(InvalidArgument, match="page_token"):
        keyset_page(
            connection,
            select(table),
            created=created,
            key=table.c.id,
            page_size=5,
            page_token=encode_page_token(position),
        )
