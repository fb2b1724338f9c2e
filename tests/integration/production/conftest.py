"""The production store on each database it runs on: SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.production.harness import ProductionStore


@pytest.fixture
def store(empty_database_url: str) -> Iterator[ProductionStore]:
    store = ProductionStore(empty_database_url)  # migrates it
    yield store
    store.close()
