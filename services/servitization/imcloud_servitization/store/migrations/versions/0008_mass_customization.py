"""product families, quotes and customer orders

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 21:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "product_families",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_families")),
    )
    with op.batch_alter_table("product_families", schema=None) as batch_op:
        batch_op.create_index("ux_product_families_tenant_name", ["tenant_id", "name"], unique=True)

    op.create_table(
        "quotes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("family_id", sa.String(length=36), nullable=False),
        sa.Column("family_revision", sa.BigInteger(), nullable=False),
        sa.Column("family_name", sa.String(length=200), nullable=False),
        sa.Column("plant_id", sa.String(length=36), nullable=False),
        sa.Column("product_id", sa.String(length=36), nullable=False),
        sa.Column("selections", sa.JSON(), nullable=False),
        sa.Column("derived", sa.JSON(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Float(), nullable=False),
        sa.Column("total_price", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("promised_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lead_time_s", sa.Float(), nullable=False),
        sa.Column("schedule_explanation", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("customer_reference", sa.String(length=200), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bom", sa.JSON(), nullable=False),
        sa.Column("routing", sa.JSON(), nullable=False),
        sa.Column("order_id", sa.String(length=36), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotes")),
    )
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.create_index("ix_quotes_tenant_created", ["tenant_id", "create_time", "id"])

    op.create_table(
        "customer_orders",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("quote_id", sa.String(length=36), nullable=False),
        sa.Column("family_id", sa.String(length=36), nullable=False),
        sa.Column("family_name", sa.String(length=200), nullable=False),
        sa.Column("selections", sa.JSON(), nullable=False),
        sa.Column("derived", sa.JSON(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("total_price", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("customer_reference", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("stages", sa.JSON(), nullable=False),
        sa.Column("plant_id", sa.String(length=36), nullable=False),
        sa.Column("promised_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("work_order_id", sa.String(length=36), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_orders")),
    )
    with op.batch_alter_table("customer_orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_orders_tenant_created", ["tenant_id", "create_time", "id"]
        )
        batch_op.create_index(
            "ix_customer_orders_tenant_state", ["tenant_id", "state", "create_time"]
        )
        batch_op.create_index("ux_customer_orders_key_hash", ["key_hash"], unique=True)
        batch_op.create_index(
            "ux_customer_orders_tenant_quote", ["tenant_id", "quote_id"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("customer_orders", schema=None) as batch_op:
        batch_op.drop_index("ux_customer_orders_tenant_quote")
        batch_op.drop_index("ux_customer_orders_key_hash")
        batch_op.drop_index("ix_customer_orders_tenant_state")
        batch_op.drop_index("ix_customer_orders_tenant_created")
    op.drop_table("customer_orders")
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.drop_index("ix_quotes_tenant_created")
    op.drop_table("quotes")
    with op.batch_alter_table("product_families", schema=None) as batch_op:
        batch_op.drop_index("ux_product_families_tenant_name")
    op.drop_table("product_families")
