"""Per-service Alembic migrations, run as a step before serving.

Each service keeps its revisions in ``<package>/store/migrations/versions`` and a
two-line ``env.py`` that calls ``run_migrations_online`` with its metadata.
"""

from __future__ import annotations

import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import alembic
import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, create_engine

from imcloud_core.errors import ConfigurationError
from imcloud_core.store import UtcDateTime


def _alembic_config(package: str) -> Config:
    config = Config()
    config.set_main_option("script_location", f"{package}:store/migrations")
    return config


def upgrade_to_head(engine: Engine, *, package: str) -> None:
    config = _alembic_config(package)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_and_head(engine: Engine, *, package: str) -> tuple[str | None, str | None]:
    head = ScriptDirectory.from_config(_alembic_config(package)).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current, head


def require_head(engine: Engine, *, package: str, service: str) -> None:
    """Refuses to serve on a schema older (or newer) than the code expects."""
    current, head = current_and_head(engine, package=package)
    if current != head:
        raise ConfigurationError(
            f"the {service} database is at migration {current or 'none'} but this "
            f"version expects {head}: run 'imcloud migrate {service}' first"
        )


def _render_item(kind: str, item: Any, autogen_context: Any) -> str | Literal[False]:
    # Revisions must not import application code: UtcDateTime is stored as a
    # plain timezone-aware DateTime.
    if kind == "type" and isinstance(item, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online(target_metadata: MetaData) -> None:
    """The body of every service's ``env.py``."""
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode recreates tables.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def new_revision(*, package: str, message: str) -> None:
    """Writes the next revision of ``package`` by comparing its tables with head.

    The comparison runs against a scratch SQLite database migrated to head; the
    revision template is Alembic's own, so services keep no copy of it.
    """
    migrations = Path(str(resources.files(package).joinpath("store/migrations")))
    versions = migrations / "versions"
    next_number = len(list(versions.glob("[0-9][0-9][0-9][0-9]_*.py"))) + 1
    template = Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako"
    with tempfile.TemporaryDirectory() as scratch:
        script_dir = Path(scratch) / "migrations"
        script_dir.mkdir()
        shutil.copy(migrations / "env.py", script_dir / "env.py")
        shutil.copy(template, script_dir / "script.py.mako")
        (script_dir / "versions").symlink_to(versions.resolve())
        config = Config()
        config.set_main_option("script_location", str(script_dir))
        engine = create_engine(f"sqlite:///{scratch}/head.db")
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            command.revision(
                config,
                message=message,
                autogenerate=True,
                rev_id=f"{next_number:04d}",
            )
        engine.dispose()


# -- schema steps that every service's migrations share ------------------------------


def create_outbox(*, event_id_length: int) -> None:
    """The transactional outbox table (``imcloud_core.outbox.outbox_table``)."""
    op.create_table(
        "outbox",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=event_id_length), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )


def drop_outbox() -> None:
    op.drop_table("outbox")


def resize_outbox_event_ids(*, old_length: int, new_length: int) -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column(
            "event_id",
            existing_type=sa.String(length=old_length),
            type_=sa.String(length=new_length),
            existing_nullable=False,
        )
