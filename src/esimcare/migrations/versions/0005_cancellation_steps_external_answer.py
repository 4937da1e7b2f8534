"""cancellation_steps.external_answer: what the external system answered the step's call.

The profile step records the SM-DP+'s CancelOrder answer (status, subject and reason codes):
a cancellation always ends on a definite answer from the SM-DP+, never on our own guess.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cancellation_steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_answer", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cancellation_steps", schema=None) as batch_op:
        batch_op.drop_column("external_answer")
