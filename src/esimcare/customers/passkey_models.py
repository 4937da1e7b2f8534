"""Customers' passkeys and the challenges of their ceremonies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from esimcare.db import Base, UtcDateTime


class CustomerPasskey(Base):
    """A WebAuthn credential of one customer of one operator; it never logs into another."""

    __tablename__ = "customer_passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    credential_id: Mapped[str] = mapped_column(String(512), unique=True)  # base64url
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PasskeyChallenge(Base):
    """One ceremony's challenge, for one purpose and subject (a login at this operator, a
    registration in this session, the confirmation of this cancellation); used once.

    Only its hash is kept: the answer carries the challenge back, which finds the row."""

    __tablename__ = "passkey_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    purpose: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(80))
    challenge_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
