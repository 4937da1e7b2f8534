"""Staff accounts, their sessions and passkeys, and customers' support requests."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from esimcare.db import Base, UtcDateTime, enum_type
from esimcare.staff.roles import StaffRole


class StaffMember(Base):
    """One person at an operator (``operator_id``) or the platform (``operator_id`` NULL)."""

    __tablename__ = "staff_members"
    __table_args__ = (UniqueConstraint("email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[str | None] = mapped_column(ForeignKey("operators.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[StaffRole] = mapped_column(enum_type(StaffRole))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # Sealed with AES-GCM (staff/totp.py: seal_secret), never stored in clear.
    totp_secret: Mapped[str | None] = mapped_column(String(128))
    # The TOTP time step last accepted: a code is good once, not twice within its 30 s.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # The one-time set-up link (password and TOTP enrolment): only its hash is kept.
    setup_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    setup_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Demo logins with a published TOTP secret: refused outright in production mode.
    development_only: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class StaffSession(Base):
    """A console session; it can do nothing until ``second_factor_at`` is set."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    second_factor: Mapped[str | None] = mapped_column(String(20))
    second_factor_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The WebAuthn challenge of a ceremony under way in this session (base64url).
    webauthn_challenge: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ip: Mapped[str | None] = mapped_column(String(45))


class StaffPasskey(Base):
    __tablename__ = "staff_passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"), index=True)
    credential_id: Mapped[str] = mapped_column(String(512), unique=True)  # base64url
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SupportStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"


class SupportRequest(Base):
    """ "Need help?" from the portal, tied to the eSIM or cancellation it was asked about."""

    __tablename__ = "support_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    esim_id: Mapped[int | None] = mapped_column(ForeignKey("esims.id"))
    cancellation_id: Mapped[int | None] = mapped_column(ForeignKey("cancellations.id"))
    message: Mapped[str] = mapped_column(Text)
    reply_channel: Mapped[str] = mapped_column(String(10))
    status: Mapped[SupportStatus] = mapped_column(enum_type(SupportStatus))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
