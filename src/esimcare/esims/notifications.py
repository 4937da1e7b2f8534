"""Every HandleDownloadProgressInfo (SGP.22 v2.2 5.3.5) an SM-DP+ sent us, recorded once.

The row is the history, the audit witness and the proof of deduplication at once: its
``dedupe_key`` (the timestamp, then a hash of operator, ICCID, point, timestamp and status) is
unique, so the same notification delivered twice, or by two SM-DP+ nodes at once, is stored and
applied once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from esimcare.db import Base, UtcDateTime


class Es2PlusNotification(Base):
    __tablename__ = "es2plus_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No foreign key: like the call log, it takes a notification for any configured tenant.
    # Neither is indexed: nothing reads by them, and the receiver would pay on every insert.
    operator_id: Mapped[str] = mapped_column(String(32))
    iccid: Mapped[str] = mapped_column(String(20))
    point_id: Mapped[int] = mapped_column(Integer)
    # As sent (Executed-Success, Failed, ...); not an enum: a deviating SM-DP+ is recorded too.
    status: Mapped[str] = mapped_column(String(32))
    subject_code: Mapped[str | None] = mapped_column(String(16))
    reason_code: Mapped[str | None] = mapped_column(String(16))
    notified_at: Mapped[datetime] = mapped_column(UtcDateTime)
    eid: Mapped[str | None] = mapped_column(String(32))
    profile_type: Mapped[str | None] = mapped_column(String(64))
    requester_id: Mapped[str | None] = mapped_column(String(128))
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    esim_id: Mapped[int | None] = mapped_column(ForeignKey("esims.id"), index=True)
    # What it did to our eSIM: a ProfileState value, "unchanged", or "unknown_iccid".
    effect: Mapped[str] = mapped_column(String(32))
