from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from esimcare.db import Base, UtcDateTime, enum_type
from esimcare.esims.states import EsimStatus, ProfileState


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("operator_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"))
    code: Mapped[str] = mapped_column(String(40))
    names: Mapped[dict[str, str]] = mapped_column(JSON)
    monthly_fee_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    billing_day: Mapped[int] = mapped_column(Integer)
    profile_type: Mapped[str] = mapped_column(String(64))


class Esim(Base):
    __tablename__ = "esims"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    iccid: Mapped[str] = mapped_column(String(20), unique=True)
    msisdn: Mapped[str] = mapped_column(String(16), index=True)
    imsi: Mapped[str] = mapped_column(String(15))
    eid: Mapped[str | None] = mapped_column(String(32))
    matching_id: Mapped[str | None] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(60))
    status: Mapped[EsimStatus] = mapped_column(enum_type(EsimStatus))
    profile_state: Mapped[ProfileState] = mapped_column(enum_type(ProfileState))
    activated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The fee is billed in arrears, so the final bill runs from here to the effective time.
    billed_until: Mapped[datetime] = mapped_column(UtcDateTime)
    billing_stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # ``LPA:1$<smdpAddress>$<matchingId>`` (SGP.22 v2.2 4.1) for eSIMs ordered through us.
    activation_code: Mapped[str | None] = mapped_column(String(255))
    # When the SM-DP+ told us the phone deleted the profile (a custom notification point).
    deleted_on_device_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When the phone last reported the profile installed: SMS to this number is not trusted
    # to confirm a cancellation for some days after (security.md: eSIM swap).
    installed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class OrderStatus(StrEnum):
    PENDING = "pending"  # numbers reserved, SM-DP+ calls under way (or interrupted)
    COMPLETED = "completed"  # the eSIM exists
    FAILED = "failed"  # the SM-DP+ refused or was unreachable; see failure and cleanup


class EsimOrder(Base):
    """One order of a new eSIM, committed before the SM-DP+ is called (like a refund row)."""

    __tablename__ = "esim_orders"
    __table_args__ = (UniqueConstraint("operator_id", "msisdn"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    status: Mapped[OrderStatus] = mapped_column(enum_type(OrderStatus))
    eid: Mapped[str | None] = mapped_column(String(32))
    matching_id: Mapped[str] = mapped_column(String(64), unique=True)
    msisdn: Mapped[str] = mapped_column(String(16))
    imsi: Mapped[str | None] = mapped_column(String(15))
    iccid: Mapped[str | None] = mapped_column(String(20))
    esim_id: Mapped[int | None] = mapped_column(ForeignKey("esims.id"))
    failure: Mapped[str | None] = mapped_column(String(500))
    # What happened to a half-made order at the SM-DP+: "cancelled" or why it could not be.
    cleanup: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
