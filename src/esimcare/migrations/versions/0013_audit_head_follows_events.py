"""Audit: on SQLite, a trigger moves the chain head to each inserted event's hash.

An event is then appended in one statement on both databases (``audit/chain_sql.py``): on
PostgreSQL a writable CTE moves the head, which SQLite cannot do inside an INSERT. The
trigger exists on SQLite only; PostgreSQL needs nothing.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# As it was written at this revision (audit/chain_sql.py may change later; this may not).
_TRIGGER = """
CREATE TRIGGER audit_head_follows_events AFTER INSERT ON audit_events
BEGIN
    UPDATE audit_heads SET last_hash = NEW.hash WHERE operator_id = NEW.operator_id;
END
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER audit_head_follows_events")
