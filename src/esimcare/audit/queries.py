"""Reading the audit trail for the staff console's audit log viewer: filters and pages.

Always bounded (``limit`` rows, newest first, ``before_id`` for the next page) and always
scoped to the operators the reader may see; the verification of the chain is elsewhere
(``audit/service.py: verify_chain``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from esimcare.audit.models import AuditEvent

PAGE_SIZE = 100


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""  # exact, for example "staff:12" or "customer:3"
    action: str = ""  # a prefix: "staff." finds every staff action
    reference: str = ""  # anywhere in the subject: a cancellation reference, "customer:3"
    start: datetime | None = None
    end: datetime | None = None  # exclusive


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_events(
    session: Session,
    operator_ids: list[str],
    filters: AuditFilter,
    *,
    before_id: int | None = None,
    limit: int = PAGE_SIZE,
) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.operator_id.in_(operator_ids))
    if filters.actor:
        query = query.where(AuditEvent.actor == filters.actor)
    if filters.action:
        query = query.where(
            AuditEvent.action.like(_like_escaped(filters.action) + "%", escape="\\")
        )
    if filters.reference:
        pattern = "%" + _like_escaped(filters.reference) + "%"
        query = query.where(AuditEvent.subject.like(pattern, escape="\\"))
    if filters.start is not None:
        query = query.where(AuditEvent.at >= filters.start)
    if filters.end is not None:
        query = query.where(AuditEvent.at < filters.end)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return list(session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)))


def event_of(session: Session, operator_ids: list[str], event_id: int) -> AuditEvent | None:
    event = session.get(AuditEvent, event_id)
    return event if event is not None and event.operator_id in operator_ids else None
