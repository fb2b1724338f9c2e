"""fleet jobs

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 18:10:00

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
    op.create_table(
        "fleet_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("target_kind", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=36), nullable=False),
        sa.Column("command_name", sa.String(length=64), nullable=False),
        sa.Column("command_parameters", sa.JSON(), nullable=False),
        sa.Column("timeout_s", sa.Integer(), nullable=False),
        sa.Column("machines_per_minute", sa.Integer(), nullable=False),
        sa.Column("failed_percent", sa.Integer(), nullable=False),
        sa.Column("min_ended", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("machine_count", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=120), nullable=False),
        sa.Column("through_grants", sa.Boolean(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("desired_patch", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fleet_jobs")),
    )
    with op.batch_alter_table("fleet_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fleet_jobs_tenant_created",
            ["tenant_id", "through_grants", "create_time", "id"],
            unique=False,
        )
        batch_op.create_index("ix_fleet_jobs_state", ["state"], unique=False)

    op.create_table(
        "job_executions",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("equipment_id", sa.String(length=36), nullable=False),
        sa.Column("owner_tenant_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("command_id", sa.String(length=36), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("desired_version", sa.BigInteger(), nullable=True),
        sa.Column("expire_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("job_id", "position", name=op.f("pk_job_executions")),
    )
    with op.batch_alter_table("job_executions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_job_executions_tenant_job_state", ["tenant_id", "job_id", "state"], unique=False
        )
        batch_op.create_index("ix_job_executions_job_start", ["job_id", "start_time"], unique=False)
        batch_op.create_index("ix_job_executions_state", ["state"], unique=False)

    op.create_table(
        "machine_desired_applied",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("equipment_id", sa.String(length=36), nullable=False),
        sa.Column("applied_version", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "equipment_id", name=op.f("pk_machine_desired_applied")
        ),
    )


def downgrade() -> None:
    op.drop_table("machine_desired_applied")
    with op.batch_alter_table("job_executions", schema=None) as batch_op:
        batch_op.drop_index("ix_job_executions_state")
        batch_op.drop_index("ix_job_executions_job_start")
        batch_op.drop_index("ix_job_executions_tenant_job_state")
    op.drop_table("job_executions")
    with op.batch_alter_table("fleet_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_fleet_jobs_state")
        batch_op.drop_index("ix_fleet_jobs_tenant_created")
    op.drop_table("fleet_jobs")
