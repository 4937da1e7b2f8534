from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from esimcare.db import Base, UtcDateTime


class AuditEvent(Base):
    """Append-only; each row carries the hash of the one before it (per operator chain)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[str] = mapped_column(String(32), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(80))
    ip: Mapped[str | None] = mapped_column(String(45))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    # Not unique, not indexed: nothing reads by it, and the locked head keeps the chain from
    # forking (migration 0012).
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The newest hash of each operator's chain; locked while appending so the chain never forks."""

    __tablename__ = "audit_heads"

    operator_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_hash: Mapped[str] = mapped_column(String(64))
