"""Every service's migrations apply from an empty database, on both databases."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from imcloud_core.db import create_database_engine
from imcloud_core.migrations import current_and_head, upgrade_to_head
from imcloud_platform.modules import SERVICES
from tests.conftest import FreshDatabases


def _tables_match_metadata(url: str, package: str) -> None:
    engine = create_database_engine(url, setting="test")
    try:
        upgrade_to_head(engine, package=package)
        current, head = current_and_head(engine, package=package)
        assert current == head is not None
        metadata = importlib.import_module(f"{package}.store.tables").metadata
        assert set(metadata.tables) <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            drift = compare_metadata(context, metadata)
        assert drift == [], "the tables differ from the migrations: run imcloud make-migration"
        # Applying again is a no-op, as `imcloud migrate` on every deploy relies on.
        upgrade_to_head(engine, package=package)
    finally:
        engine.dispose()


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_migrations_apply_on_sqlite_from_empty(service: str, tmp_path: Path) -> None:
    _tables_match_metadata(f"sqlite:///{tmp_path}/{service}.db", SERVICES[service].package)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_migrations_apply_on_postgresql_from_empty(
    service: str, fresh_postgres: FreshDatabases
) -> None:
    _tables_match_metadata(fresh_postgres.create(service), SERVICES[service].package)
