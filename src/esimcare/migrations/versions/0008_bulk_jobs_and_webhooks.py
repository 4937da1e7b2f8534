"""Bulk cancellation jobs and their lines; webhook deliveries (outbox) and their attempt log.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 09:52:40.386732
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import esimcare.db

# The brief gives 0004; chained onto this branch's head (0011) so it upgrades here.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("operator_id", sa.String(length=32), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "delivered",
                "failed",
                name="deliverystatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", esimcare.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", esimcare.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("event_id", name=op.f("uq_webhook_deliveries_event_id")),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_operator_id"), ["operator_id"], unique=False
        )

    op.create_table(
        "bulk_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("per_second", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("running", "finished", name="bulkstatus", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created_at", esimcare.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", esimcare.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_bulk_jobs_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_jobs")),
    )
    with op.batch_alter_table("bulk_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bulk_jobs_operator_id"), ["operator_id"], unique=False)

    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("at", esimcare.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_attempts_delivery_id"), ["delivery_id"], unique=False
        )

    op.create_table(
        "bulk_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bulk_job_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "started", "failed", name="linestatus", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=60), nullable=True),
        sa.Column("cancellation_id", sa.Integer(), nullable=True),
        sa.Column("quote", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["bulk_job_id"], ["bulk_jobs.id"], name=op.f("fk_bulk_lines_bulk_job_id_bulk_jobs")
        ),
        sa.ForeignKeyConstraint(
            ["cancellation_id"],
            ["cancellations.id"],
            name=op.f("fk_bulk_lines_cancellation_id_cancellations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_lines")),
        sa.UniqueConstraint(
            "bulk_job_id", "line_no", name=op.f("uq_bulk_lines_bulk_job_id_line_no")
        ),
    )
    with op.batch_alter_table("bulk_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bulk_lines_bulk_job_id"), ["bulk_job_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("bulk_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bulk_lines_bulk_job_id"))

    op.drop_table("bulk_lines")
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_attempts_delivery_id"))

    op.drop_table("webhook_attempts")
    with op.batch_alter_table("bulk_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bulk_jobs_operator_id"))

    op.drop_table("bulk_jobs")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_operator_id"))

    op.drop_table("webhook_deliveries")
