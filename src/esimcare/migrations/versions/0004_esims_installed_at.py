"""esims.installed_at: when the phone last reported the profile installed.

SMS codes to a number just put on a phone do not confirm a cancellation (security.md, eSIM swap).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 01:02:41.386214
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import esimcare.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("esims", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("installed_at", esimcare.db.UtcDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("esims", schema=None) as batch_op:
        batch_op.drop_column("installed_at")
