from __future__ import annotations

from datetime import datetime

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
