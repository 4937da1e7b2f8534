"""Refunds: how many parts they are paid in, and the one part's payment.

A refund paid in one part (every route but the card, and a card balance from one payment)
stores what that part is sent with in its own row, before the provider is called: its key
(``idempotency_key``, as always), its amount and now its payment. The part's row is then
written once, with the provider's answer, instead of inserted before and updated after.
Refunds made before this revision have no count; they keep their part rows as they were.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 19:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("refunds") as batch:
        batch.add_column(sa.Column("parts_planned", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("provider_payment_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("refunds") as batch:
        batch.drop_column("provider_payment_id")
        batch.drop_column("parts_planned")
