from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from esimcare.db import Base, UtcDateTime, enum_type


class EntryKind(StrEnum):
    TOP_UP = "top_up"
    BONUS = "bonus"
    CHARGE = "charge"
    FINAL_BILL = "final_bill"
    REFUND = "refund"
    BONUS_FORFEIT = "bonus_forfeit"


class LedgerEntry(Base):
    """One movement on an eSIM's personal account; cash and bonus are kept apart.

    ``reference`` is unique, so an entry that belongs to a business event (a final bill, a
    refund) can be written only once whatever retries happen.
    """

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"))
    esim_id: Mapped[int] = mapped_column(ForeignKey("esims.id"), index=True)
    kind: Mapped[EntryKind] = mapped_column(enum_type(EntryKind))
    cash_minor: Mapped[int] = mapped_column(Integer, default=0)
    bonus_minor: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str | None] = mapped_column(String(80), unique=True)
    # Where money came from (e.g. "card **** 4242"): refunds go back the same way.
    source: Mapped[str | None] = mapped_column(String(80))
    # A top-up's payment at the provider (YooKassa's payment id): a refund goes back against it.
    provider_payment_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class UsageRecord(Base):
    """Rated usage not yet on a bill (roaming, paid services, extra data)."""

    __tablename__ = "usage_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    esim_id: Mapped[int] = mapped_column(ForeignKey("esims.id"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(200))
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("bills.id"))


class Bill(Base):
    __tablename__ = "bills"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"))
    esim_id: Mapped[int] = mapped_column(ForeignKey("esims.id"), index=True)
    cancellation_id: Mapped[int | None] = mapped_column(ForeignKey("cancellations.id"), unique=True)
    period_start: Mapped[datetime] = mapped_column(UtcDateTime)
    period_end: Mapped[datetime] = mapped_column(UtcDateTime)
    fee_minor: Mapped[int] = mapped_column(Integer)
    usage_minor: Mapped[int] = mapped_column(Integer)
    total_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    NOT_DUE = "not_due"


class Refund(Base):
    """At most one per cancellation; the provider key is stored before the provider is called.

    The money goes back in parts (``RefundPart``), one per payment it came from. A refund
    paid in one part keeps that part's payment here (its key is the refund's own), so the
    part's row is written once, with the provider's answer (``parts_planned`` is 1).
    """

    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"))
    cancellation_id: Mapped[int] = mapped_column(ForeignKey("cancellations.id"), unique=True)
    esim_id: Mapped[int] = mapped_column(ForeignKey("esims.id"))
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    route: Mapped[str] = mapped_column(String(20))
    destination: Mapped[str] = mapped_column(String(80))
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    status: Mapped[RefundStatus] = mapped_column(enum_type(RefundStatus))
    provider_reference: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Decided with the refund; None on refunds made before it was kept, and when none is due.
    parts_planned: Mapped[int | None] = mapped_column(Integer)
    provider_payment_id: Mapped[str | None] = mapped_column(String(64))  # the one part's


class RefundPartStatus(StrEnum):
    NEW = "new"  # stored with its key; the provider may not have seen it yet
    SENT = "sent"  # the provider accepted it and has not confirmed it yet ("on its way")
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


class RefundPart(Base):
    """One provider call of a refund: a payment it goes back against (``provider_payment_id``),
    the amount, and its own idempotency key, all stored before the call."""

    __tablename__ = "refund_parts"
    __table_args__ = (UniqueConstraint("refund_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[int] = mapped_column(ForeignKey("refunds.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    provider_payment_id: Mapped[str | None] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    status: Mapped[RefundPartStatus] = mapped_column(enum_type(RefundPartStatus))
    provider_reference: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
