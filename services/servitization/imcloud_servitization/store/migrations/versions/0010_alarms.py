"""alarms: rules, the alarms they raise and each rule's watch of a machine

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 08:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alarm_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("scope_kind", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.String(length=36), nullable=False),
        sa.Column("condition", sa.JSON(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_rules")),
    )
    op.create_index(
        "ix_alarm_rules_tenant_created", "alarm_rules", ["tenant_id", "create_time", "id"]
    )
    op.create_table(
        "alarms",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("rule_id", sa.String(length=36), nullable=False),
        sa.Column("rule_name", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("equipment_id", sa.String(length=36), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("raise_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledge_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=False),
        sa.Column("clear_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_by", sa.String(length=200), nullable=False),
        sa.Column("open_key", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
    )
    op.create_index("ux_alarms_open_key", "alarms", ["open_key"], unique=True)
    op.create_index("ix_alarms_tenant_raised", "alarms", ["tenant_id", "raise_time", "id"])
    op.create_table(
        "alarm_watches",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("rule_id", sa.String(length=36), nullable=False),
        sa.Column("equipment_id", sa.String(length=36), nullable=False),
        sa.Column("judged_until_ms", sa.BigInteger(), nullable=False),
        sa.Column("breach_since_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint(
            "tenant_id", "rule_id", "equipment_id", name=op.f("pk_alarm_watches")
        ),
    )


def downgrade() -> None:
    op.drop_table("alarm_watches")
    op.drop_index("ix_alarms_tenant_raised", table_name="alarms")
    op.drop_index("ux_alarms_open_key", table_name="alarms")
    op.drop_table("alarms")
    op.drop_index("ix_alarm_rules_tenant_created", table_name="alarm_rules")
    op.drop_table("alarm_rules")
