"""the command ledger

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 18:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("remote_commands", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cancelled_by", sa.String(length=120), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column(
                "request_fingerprint", sa.String(length=64), nullable=False, server_default=""
            )
        )
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("next_attempt_time", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("late", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("job_id", sa.String(length=36), nullable=False, server_default="")
        )
        batch_op.create_index(
            "ix_remote_commands_state_next_attempt", ["state", "next_attempt_time"], unique=False
        )
        batch_op.create_index(
            "ux_remote_commands_tenant_idempotency_key",
            ["tenant_id", "idempotency_key"],
            unique=True,
        )
        batch_op.create_index(
            "ix_remote_commands_tenant_job", ["tenant_id", "job_id", "create_time"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("remote_commands", schema=None) as batch_op:
        batch_op.drop_index("ix_remote_commands_tenant_job")
        batch_op.drop_index("ux_remote_commands_tenant_idempotency_key")
        batch_op.drop_index("ix_remote_commands_state_next_attempt")
        for column in (
            "job_id",
            "late",
            "next_attempt_time",
            "attempts",
            "request_fingerprint",
            "idempotency_key",
            "cancelled_by",
        ):
            batch_op.drop_column(column)
