"""Customers' passkeys and the challenges of their ceremonies.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import esimcare.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_passkeys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.String(length=512), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=60), nullable=False),
        sa.Column("created_at", esimcare.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", esimcare.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_passkeys_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_customer_passkeys_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_passkeys")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_customer_passkeys_credential_id")),
    )
    with op.batch_alter_table("customer_passkeys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_passkeys_customer_id"), ["customer_id"], unique=False
        )
    op.create_table(
        "passkey_challenges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("challenge_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", esimcare.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", esimcare.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", esimcare.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_passkey_challenges_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_passkey_challenges_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkey_challenges")),
        sa.UniqueConstraint("challenge_hash", name=op.f("uq_passkey_challenges_challenge_hash")),
    )
    with op.batch_alter_table("passkey_challenges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_passkey_challenges_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("passkey_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_passkey_challenges_expires_at"))
    op.drop_table("passkey_challenges")
    with op.batch_alter_table("customer_passkeys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_passkeys_customer_id"))
    op.drop_table("customer_passkeys")
