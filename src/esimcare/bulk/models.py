from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from esimcare.db import Base, UtcDateTime, enum_type


class BulkStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"


class LineStatus(StrEnum):
    PENDING = "pending"  # not yet reached by the throttled job
    STARTED = "started"  # its cancellation was created and scheduled
    FAILED = "failed"  # could not be cancelled; ``reason`` says why


class BulkJob(Base):
    """A supervisor's confirmed list of eSIMs to cancel, worked through a few per second."""

    __tablename__ = "bulk_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    created_by: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(40))
    per_second: Mapped[int] = mapped_column(Integer)
    status: Mapped[BulkStatus] = mapped_column(enum_type(BulkStatus))
    total: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class BulkLine(Base):
    __tablename__ = "bulk_lines"
    __table_args__ = (UniqueConstraint("bulk_job_id", "line_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bulk_job_id: Mapped[int] = mapped_column(ForeignKey("bulk_jobs.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    value: Mapped[str] = mapped_column(String(40))
    status: Mapped[LineStatus] = mapped_column(enum_type(LineStatus))
    reason: Mapped[str | None] = mapped_column(String(60))
    cancellation_id: Mapped[int | None] = mapped_column(ForeignKey("cancellations.id"))
    quote: Mapped[dict[str, Any] | None] = mapped_column(JSON)
