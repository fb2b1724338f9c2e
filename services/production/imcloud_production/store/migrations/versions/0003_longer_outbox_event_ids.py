"""longer outbox event ids

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 07:50:00.923069

"""

from collections.abc import Sequence

from imcloud_core.migrations import resize_outbox_event_ids

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Natural event ids ("<machine>/<episode>/opened") are longer than a UUID.
    resize_outbox_event_ids(old_length=36, new_length=200)


def downgrade() -> None:
    resize_outbox_event_ids(old_length=200, new_length=36)
