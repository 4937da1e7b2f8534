from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from esimcare.db import Base, UtcDateTime


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("operator_id", "phone"),
        UniqueConstraint("operator_id", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(5), default="ru")
    # A bank account on file, masked, for operators that refund by bank transfer.
    payout_account: Mapped[str | None] = mapped_column(String(80))
    # security.md: too many failed verifications lock with an increasing wait.
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lock_level: Mapped[int] = mapped_column(Integer, default=0)
    # FCC 23-95 style protection: while set, no cancellation can be requested.
    cancellation_lock: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AuthSession(Base):
    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class OneTimeCode(Base):
    """A code sent for one purpose and subject only; the database keeps its keyed hash."""

    __tablename__ = "one_time_codes"
    __table_args__ = (Index("ix_one_time_codes_destination_created", "destination", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(80))
    destination: Mapped[str] = mapped_column(String(254))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class VerificationFailure(Base):
    """Each failed login or verification; counted per account per hour across processes."""

    __tablename__ = "verification_failures"
    __table_args__ = (Index("ix_verification_failures_customer_at", "customer_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class LoginThrottle(Base):
    """Failed logins from one client address (``key`` is a keyed hash of the address, alone or
    with the login as typed): how many, and until when the next try must wait."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    blocked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
