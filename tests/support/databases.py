"""Service databases for the tests: migrated to the head revision of a service's schema."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine

from imcloud_core.db import Database
from imcloud_core.migrations import upgrade_to_head


def migrate(url: str, package: str) -> Engine:
    """An engine on ``url``, its schema upgraded to the head of ``package``'s migrations."""
    engine = create_engine(url)
    upgrade_to_head(engine, package=package)
    return engine


@contextmanager
def migrated_database(url: str, package: str) -> Iterator[Database]:
    """The service's Database on ``url`` (see migrate), closed when the block ends."""
    database = Database(migrate(url, package))
    try:
        yield database
    finally:
        database.close()
