from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from esimcare.cancellations.states import CancellationStatus, StepName, StepStatus
from esimcare.db import Base, UtcDateTime, enum_type

_OPEN = "status IN ('awaiting_verification', 'scheduled', 'processing', 'failed')"
# The expiry sweep's condition, written as the partial index's (so the planner uses it).
AWAITING = "status = 'awaiting_verification'"


class Cancellation(Base):
    __tablename__ = "cancellations"
    __table_args__ = (
        # One open cancellation per eSIM, enforced by the database for every process.
        Index(
            "uq_cancellations_open_per_esim",
            "esim_id",
            unique=True,
            sqlite_where=text(_OPEN),
            postgresql_where=text(_OPEN),
        ),
        # What the expiry sweep reads (cancellations/expiry.py): only the requests awaiting.
        Index(
            "ix_cancellations_awaiting_by_age",
            "created_at",
            sqlite_where=text(AWAITING),
            postgresql_where=text(AWAITING),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    esim_id: Mapped[int] = mapped_column(ForeignKey("esims.id"), index=True)
    status: Mapped[CancellationStatus] = mapped_column(enum_type(CancellationStatus))
    reason: Mapped[str] = mapped_column(String(40))
    comment: Mapped[str | None] = mapped_column(String(500))
    refund_to: Mapped[str | None] = mapped_column(String(16))
    quote: Mapped[dict[str, Any]] = mapped_column(JSON)
    effective_at: Mapped[datetime] = mapped_column(UtcDateTime)
    verification_method: Mapped[str | None] = mapped_column(String(20))
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    undo_token_hash: Mapped[str | None] = mapped_column(String(64))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CancellationStep(Base):
    __tablename__ = "cancellation_steps"
    __table_args__ = (UniqueConstraint("cancellation_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cancellation_id: Mapped[int] = mapped_column(ForeignKey("cancellations.id"), index=True)
    name: Mapped[StepName] = mapped_column(enum_type(StepName))
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[StepStatus] = mapped_column(enum_type(StepStatus))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str | None] = mapped_column(String(60))
    last_error: Mapped[str | None] = mapped_column(Text)
    # The external system's last definite answer to the step's call (for the profile step:
    # the SM-DP+'s CancelOrder status and codes), kept even when the answer fails the step.
    external_answer: Mapped[dict[str, str] | None] = mapped_column(JSON)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CancellationTransition(Base):
    """Every status change: who, when, why. The history the status page and staff read."""

    __tablename__ = "cancellation_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    cancellation_id: Mapped[int] = mapped_column(ForeignKey("cancellations.id"), index=True)
    from_status: Mapped[CancellationStatus | None] = mapped_column(enum_type(CancellationStatus))
    to_status: Mapped[CancellationStatus] = mapped_column(enum_type(CancellationStatus))
    actor: Mapped[str] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class NumberQuarantine(Base):
    """A released number may not be reissued before ``until``: recycled numbers get old codes."""

    __tablename__ = "number_quarantine"
    __table_args__ = (UniqueConstraint("operator_id", "msisdn", "since"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"))
    msisdn: Mapped[str] = mapped_column(String(16))
    cancellation_id: Mapped[int] = mapped_column(ForeignKey("cancellations.id"), unique=True)
    since: Mapped[datetime] = mapped_column(UtcDateTime)
    until: Mapped[datetime] = mapped_column(UtcDateTime)
