"""Refunds against provider payments: top-ups keep the provider's payment id, refunds go in parts.

A balance paid in by several payments is refunded against each (YooKassa refunds a payment, not
an account), newest first; each part has its own idempotency key, stored before the call.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import esimcare.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_payment_id", sa.String(length=64), nullable=True))
    op.create_table(
        "refund_parts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("refund_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("provider_payment_id", sa.String(length=64), nullable=True),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "new",
                "sent",
                "succeeded",
                "canceled",
                name="refundpartstatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("provider_reference", sa.String(length=80), nullable=True),
        sa.Column("created_at", esimcare.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", esimcare.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refunds.id"], name=op.f("fk_refund_parts_refund_id_refunds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund_parts")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_refund_parts_idempotency_key")),
        sa.UniqueConstraint(
            "refund_id", "position", name=op.f("uq_refund_parts_refund_id_position")
        ),
    )
    with op.batch_alter_table("refund_parts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refund_parts_refund_id"), ["refund_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("refund_parts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refund_parts_refund_id"))
    op.drop_table("refund_parts")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_column("provider_payment_id")
