"""desired state

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 18:20:00.000000

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
    op.create_table(
        "desired_states",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("property_versions", sa.JSON(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("update_actor", sa.String(length=200), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_version", sa.BigInteger(), nullable=False),
        sa.Column("applied_detail", sa.String(length=1000), nullable=False),
        sa.Column("applied_time", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desired_states")),
    )


def downgrade() -> None:
    op.drop_table("desired_states")
