"""Cancellations awaiting verification, by age: the index the expiry sweep reads.

A request no longer queues a job of its own to expire it (``cancellations/expiry.py``): one
sweep per minute expires every request whose window has ended, found by this partial index.
It holds only the requests still awaiting verification, so it stays small.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_AWAITING = sa.text("status = 'awaiting_verification'")


def upgrade() -> None:
    op.create_index(
        "ix_cancellations_awaiting_by_age",
        "cancellations",
        ["created_at"],
        sqlite_where=_AWAITING,
        postgresql_where=_AWAITING,
    )


def downgrade() -> None:
    op.drop_index("ix_cancellations_awaiting_by_age", table_name="cancellations")
