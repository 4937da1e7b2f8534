"""ES2+ notifications: no indexes on operator_id and iccid.

No query reads notifications by either (the staff timeline reads them by esim_id, pruning in
id order), yet every notification the receiver stores updated both b-trees; the ICCID one at
a random page each time.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 13:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_es2plus_notifications_iccid", table_name="es2plus_notifications")
    op.drop_index("ix_es2plus_notifications_operator_id", table_name="es2plus_notifications")


def downgrade() -> None:
    op.create_index(
        "ix_es2plus_notifications_operator_id", "es2plus_notifications", ["operator_id"]
    )
    op.create_index("ix_es2plus_notifications_iccid", "es2plus_notifications", ["iccid"])
