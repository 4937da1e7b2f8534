"""Staff console: staff accounts, their sessions and passkeys, customers' support requests.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 09:52:23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import esimcare.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "agent",
                "supervisor",
                "auditor",
                "admin",
                name="staffrole",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("totp_secret", sa.String(length=128), nullable=True),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        sa.Column("setup_token_hash", sa.String(length=64), nullable=True),
        sa.Column("setup_expires_at", esimcare.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", esimcare.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("development_only", sa.Boolean(), nullable=False),
        sa.Column("created_at", esimcare.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", esimcare.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_staff_members_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_members")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_members_email")),
        sa.UniqueConstraint("setup_token_hash", name=op.f("uq_staff_members_setup_token_hash")),
    )
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_members_operator_id"), ["operator_id"], unique=False
        )

    op.create_table(
        "staff_passkeys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.String(length=512), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=60), nullable=False),
        sa.Column("created_at", esimcare.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", esimcare.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_members.id"],
            name=op.f("fk_staff_passkeys_staff_id_staff_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_passkeys")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_staff_passkeys_credential_id")),
    )
    with op.batch_alter_table("staff_passkeys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_passkeys_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("second_factor", sa.String(length=20), nullable=True),
        sa.Column("second_factor_at", esimcare.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("webauthn_challenge", sa.String(length=128), nullable=True),
        sa.Column("created_at", esimcare.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", esimcare.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", esimcare.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", esimcare.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_members.id"],
            name=op.f("fk_staff_sessions_staff_id_staff_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_sessions_token_hash")),
    )
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_sessions_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "support_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("esim_id", sa.Integer(), nullable=True),
        sa.Column("cancellation_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("reply_channel", sa.String(length=10), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open", "answered", "closed", name="supportstatus", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.Integer(), nullable=True),
        sa.Column("answered_at", esimcare.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", esimcare.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", esimcare.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["answered_by"],
            ["staff_members.id"],
            name=op.f("fk_support_requests_answered_by_staff_members"),
        ),
        sa.ForeignKeyConstraint(
            ["cancellation_id"],
            ["cancellations.id"],
            name=op.f("fk_support_requests_cancellation_id_cancellations"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_support_requests_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["esim_id"], ["esims.id"], name=op.f("fk_support_requests_esim_id_esims")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_support_requests_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_requests")),
    )
    with op.batch_alter_table("support_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_support_requests_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_support_requests_operator_id"), ["operator_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("support_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_support_requests_operator_id"))
        batch_op.drop_index(batch_op.f("ix_support_requests_customer_id"))

    op.drop_table("support_requests")
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_sessions_staff_id"))

    op.drop_table("staff_sessions")
    with op.batch_alter_table("staff_passkeys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_passkeys_staff_id"))

    op.drop_table("staff_passkeys")
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_members_operator_id"))

    op.drop_table("staff_members")
