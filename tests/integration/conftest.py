"""Fixtures of the integration tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FreshDatabases


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database on each one a service runs on: SQLite (embedded) and
    PostgreSQL. The tests using it run once for each."""
    name = request.node.path.stem.removeprefix("test_")
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/{name}.db"
    databases: FreshDatabases = request.getfixturevalue("fresh_postgres")
    return databases.create(name)
