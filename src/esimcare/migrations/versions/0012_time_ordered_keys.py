"""ES2+ notifications: time-ordered dedupe keys; audit events: no unique index on ``hash``.

Both were unique indexes over SHA-256 values, so each row the ES2+ receiver stores wrote one
random page of each: 40 of the 52 pages a batch of 16 notifications wrote on SQLite.

* A dedupe key now starts with the notification's timestamp (``profile_events.dedupe_key``):
  ten hex digits of unix seconds, then 54 of the hash's 64. The stored keys are rewritten
  here, so a notification delivered again after the upgrade is still found as the same one.
* Nothing reads audit events by ``hash``: the chain is verified in id order, and kept from
  forking by its locked head, not by this index (``audit.service``).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from alembic import op

import esimcare.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_BATCH = 5_000
_NOTIFICATIONS = sa.table(
    "es2plus_notifications",
    sa.column("id", sa.Integer()),
    sa.column("operator_id", sa.String()),
    sa.column("iccid", sa.String()),
    sa.column("point_id", sa.Integer()),
    sa.column("status", sa.String()),
    sa.column("notified_at", esimcare.db.UtcDateTime(timezone=True)),
    sa.column("dedupe_key", sa.String()),
)

# The keys as each revision computes them, frozen here: the application's function may change
# again, what this revision wrote may not.
Row = Sequence[Any]  # id, operator_id, iccid, point_id, status, notified_at


def _hashed(row: Row) -> str:
    _, operator_id, iccid, point_id, status, notified_at = row
    at = notified_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    parts = (operator_id, iccid, str(point_id), at, status)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _time_ordered(row: Row) -> str:
    return f"{math.floor(row[5].timestamp()):010x}{_hashed(row)[:54]}"


def _rewrite_keys(key_of: Callable[[Row], str]) -> None:
    connection = op.get_bind()
    t = _NOTIFICATIONS.c
    update = (
        sa.update(_NOTIFICATIONS)
        .where(t.id == sa.bindparam("row_id"))
        .values(dedupe_key=sa.bindparam("key"))
    )
    after = 0
    while True:
        rows = connection.execute(
            sa.select(t.id, t.operator_id, t.iccid, t.point_id, t.status, t.notified_at)
            .where(t.id > after)
            .order_by(t.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        connection.execute(update, [{"row_id": row[0], "key": key_of(row)} for row in rows])
        after = rows[-1][0]


def upgrade() -> None:
    _rewrite_keys(_time_ordered)
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.drop_constraint("uq_audit_events_hash", type_="unique")


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.create_unique_constraint("uq_audit_events_hash", ["hash"])
    _rewrite_keys(_hashed)
