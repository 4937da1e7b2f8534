"""Every staff action is an audit row: who (``staff:<id>``), what, about whom, and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from esimcare.audit.models import AuditEvent
from esimcare.audit.service import record
from esimcare.staff.models import StaffMember

# The chain for actions of platform staff that concern no single operator (their own logins).
PLATFORM_CHAIN = "platform"


def staff_actor(staff: StaffMember) -> str:
    return f"staff:{staff.id}"


def record_staff_action(
    session: Session,
    staff: StaffMember,
    action: str,
    *,
    subject: str,
    at: datetime,
    operator_id: str | None = None,
    why: str | None = None,
    ip: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Appended to the chain of the operator concerned (the customer's, else the staff's own)."""
    details = {"role": staff.role.value, **(data or {})}
    if why:
        details["why"] = why
    return record(
        session,
        operator_id=operator_id or staff.operator_id or PLATFORM_CHAIN,
        actor=staff_actor(staff),
        action=action,
        subject=subject,
        at=at,
        ip=ip,
        data=details,
    )
