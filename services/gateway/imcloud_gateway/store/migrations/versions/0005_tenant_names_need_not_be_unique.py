"""tenant names need not be unique

Refusing a taken name told anyone which companies use the platform.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 11:01:57.020507

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_tenants_name"), type_="unique")


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_tenants_name"), ["name"])
