"""swept alarm watches: when a no-data or KPI rule's watch is next due; a
machine's open alarms found by one index

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 12:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("alarm_watches", sa.Column("due_ms", sa.BigInteger(), nullable=True))
    op.create_index("ix_alarm_watches_due", "alarm_watches", ["due_ms"])
    op.create_index(
        "ix_alarms_open_on_machine", "alarms", ["tenant_id", "equipment_id", "open_key"]
    )


def downgrade() -> None:
    op.drop_index("ix_alarms_open_on_machine", table_name="alarms")
    op.drop_index("ix_alarm_watches_due", table_name="alarm_watches")
    op.drop_column("alarm_watches", "due_ms")
