"""work orders with their own BOM, routing and recipes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 21:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("equipment_placements", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("applied_version", sa.BigInteger(), server_default="0", nullable=False)
        )

    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_order_id", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("bom", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("routing", sa.JSON(), server_default="[]", nullable=False))
        batch_op.create_unique_constraint(
            batch_op.f("uq_work_orders_tenant_id_customer_order_id"),
            ["tenant_id", "customer_order_id"],
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_work_orders_tenant_id_customer_order_id"), type_="unique"
        )
        batch_op.drop_column("routing")
        batch_op.drop_column("bom")
        batch_op.drop_column("customer_order_id")

    with op.batch_alter_table("equipment_placements", schema=None) as batch_op:
        batch_op.drop_column("applied_version")
