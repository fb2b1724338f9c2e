"""The production store on each database it runs on: SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FreshDatabases
from tests.unit.production.harness import ProductionStore


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProductionStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/production.db"
    else:
        databases: FreshDatabases = request.getfixturevalue("fresh_postgres")
        url = databases.create("production")
    store = ProductionStore(url)
    yield store
    store.close()
