"""the maintenance ticket lifecycle

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 18:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("maintenance_tickets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("assignee", sa.String(length=120), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("booking_downtime_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("booking_plant_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("booking_station_id", sa.String(length=36), nullable=True))
        batch_op.add_column(
            sa.Column("booking_start_time", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("booking_end_time", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_maintenance_tickets_tenant_state", ["tenant_id", "state", "create_time"]
        )
    op.create_table(
        "maintenance_ticket_notes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("ticket_id", sa.String(length=36), nullable=False),
        sa.Column("author", sa.String(length=120), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_ticket_notes")),
    )
    with op.batch_alter_table("maintenance_ticket_notes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_maintenance_ticket_notes_ticket", ["tenant_id", "ticket_id", "create_time"]
        )
    op.create_table(
        "maintenance_ticket_changes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("ticket_id", sa.String(length=36), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.Column("from_value", sa.String(length=200), nullable=False),
        sa.Column("to_value", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_ticket_changes")),
    )
    with op.batch_alter_table("maintenance_ticket_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_maintenance_ticket_changes_ticket",
            ["tenant_id", "ticket_id", "create_time", "id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("maintenance_ticket_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_maintenance_ticket_changes_ticket")
    op.drop_table("maintenance_ticket_changes")
    with op.batch_alter_table("maintenance_ticket_notes", schema=None) as batch_op:
        batch_op.drop_index("ix_maintenance_ticket_notes_ticket")
    op.drop_table("maintenance_ticket_notes")
    with op.batch_alter_table("maintenance_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_maintenance_tickets_tenant_state")
        batch_op.drop_column("booking_end_time")
        batch_op.drop_column("booking_start_time")
        batch_op.drop_column("booking_station_id")
        batch_op.drop_column("booking_plant_id")
        batch_op.drop_column("booking_downtime_id")
        batch_op.drop_column("assignee")
