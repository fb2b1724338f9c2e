"""Database access: one engine per service, PostgreSQL (psycopg 3) or SQLite.

SQLite is the embedded stand-in; PostgreSQL is what distributed deployments use.
Code above this module writes portable SQLAlchemy and does not care which.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from imcloud_core.errors import ConfigurationError


def create_database_engine(url: str, *, setting: str, pool_size: int = 10) -> Engine:
    """Creates the engine and proves the database answers, or names ``setting``."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(f"{setting}: {url!r} is not a database URL ({exc})") from exc

    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(url, parsed.database)
    elif parsed.get_backend_name() == "postgresql":
        if parsed.get_driver_name() not in ("psycopg", "psycopg2"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = create_engine(
            parsed, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
        )
    else:
        raise ConfigurationError(
            f"{setting}: unsupported database {parsed.get_backend_name()!r}; "
            "use postgresql+psycopg://... or sqlite:///..."
        )

    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ConfigurationError(
            f"{setting}: cannot connect to {parsed.render_as_string(hide_password=True)}: {reason}"
        ) from None
    return engine


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets readers proceed while a writer commits; foreign keys are off
        # by default in SQLite and on in PostgreSQL, so turn them on for parity.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def conflict_insert(engine: Engine) -> Any:
    """The dialect's ``insert``, which takes ON CONFLICT clauses (the same on both)."""
    return pg_insert if is_postgresql(engine) else sqlite_insert


class Database:
    """A service's engine and the sessions opened on it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits at the end of the block, or rolls back."""
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()
