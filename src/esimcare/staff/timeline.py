"""A customer's whole history for the console, merged by time from the tables that hold it.

Logins (auth_sessions), failed verifications, codes sent (one_time_codes, never the code),
quotes and cancellations with their status changes and steps, every ES2+ call about the
customer's eSIMs with its HTTP status and ES2+ codes, the SM-DP+'s notifications, notices
sent, support requests and audit events. Each source is read newest first and capped, so one
busy account cannot make the page unbounded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from esimcare.audit.models import AuditEvent
from esimcare.cancellations.models import Cancellation, CancellationStep, CancellationTransition
from esimcare.customers.models import AuthSession, Customer, OneTimeCode, VerificationFailure
from esimcare.esims.models import Esim
from esimcare.esims.notifications import Es2PlusNotification
from esimcare.integrations.smdp.call_log import Es2PlusCall
from esimcare.kit.ids import mask_email
from esimcare.notices.models import Notice
from esimcare.staff.models import SupportRequest

PER_SOURCE = 200
# Within one instant: what caused a thing before the thing (a quote before its status changes).
_RANK = {
    kind: rank
    for rank, kind in enumerate(
        (
            "login",
            "code",
            "quote",
            "support",
            "cancellation",
            "step",
            "es2plus",
            "smdp",
            "notice",
            "audit",
        )
    )
}


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # login, code, quote, cancellation, step, es2plus, smdp, notice, support, audit
    title: str
    detail: str = ""
    outcome: str = ""  # ok / bad / wait: how the entry is coloured
    facts: dict[str, str] = field(default_factory=dict)


def timeline(session: Session, customer: Customer, limit: int = 400) -> list[Entry]:
    esims = list(session.scalars(select(Esim).where(Esim.customer_id == customer.id)))
    cancellations = list(
        session.scalars(
            select(Cancellation)
            .where(Cancellation.customer_id == customer.id)
            .order_by(Cancellation.id.desc())
            .limit(PER_SOURCE)
        )
    )
    sources: list[Iterable[Entry]] = [
        _logins(session, customer),
        _codes(session, customer),
        _cancellations(session, cancellations),
        _es2plus_calls(session, customer.operator_id, [e.iccid for e in esims]),
        _notifications(session, [e.id for e in esims]),
        _notices(session, customer),
        _support(session, customer),
        _audit(session, customer, cancellations),
    ]
    entries = [entry for source in sources for entry in source]
    # Newest first; within one instant the later-written row (a status after the request that
    # caused it) comes first, as each source yields in the order its rows were written.
    ordered = sorted(
        enumerate(entries),
        key=lambda pair: (pair[1].at, _RANK[pair[1].kind], pair[0]),
        reverse=True,
    )
    return [entry for _, entry in ordered][:limit]


def _logins(session: Session, customer: Customer) -> Iterator[Entry]:
    rows = _newest(session, AuthSession, AuthSession.customer_id == customer.id)
    for row in rows:
        yield Entry(
            row.created_at, "login", "Logged in", row.user_agent or "", "ok", {"ip": row.ip or ""}
        )
    failures = _newest(session, VerificationFailure, VerificationFailure.customer_id == customer.id)
    for failure in failures:
        yield Entry(failure.at, "login", "Failed verification", failure.kind, "bad")


def _codes(session: Session, customer: Customer) -> Iterator[Entry]:
    rows = _newest(session, OneTimeCode, OneTimeCode.customer_id == customer.id)
    for row in rows:
        used = "used" if row.consumed_at else f"wrong tries: {row.attempts}"
        to = mask_email(row.destination) if "@" in row.destination else row.destination[:-2]
        yield Entry(
            row.created_at,
            "code",
            "Code sent",
            f"{row.purpose} {row.subject}",
            "ok" if row.consumed_at else "wait",
            {"to": to + "**" if "@" not in row.destination else to, "state": used},
        )


def _cancellations(session: Session, cancellations: list[Cancellation]) -> Iterator[Entry]:
    by_id = {c.id: c for c in cancellations}
    for c in cancellations:
        quote = c.quote
        yield Entry(
            c.created_at,
            "quote",
            f"Quote given, cancellation {c.reference} requested",
            c.reason,
            "wait",
            {"final bill": _money(quote.get("final_bill")), "refund": _money(quote.get("refund"))},
        )
    if by_id:
        yield from _transitions(session, by_id)
        yield from _steps(session, by_id)


def _transitions(session: Session, by_id: dict[int, Cancellation]) -> Iterator[Entry]:
    transitions = session.scalars(
        select(CancellationTransition)
        .where(CancellationTransition.cancellation_id.in_(by_id))
        .order_by(CancellationTransition.id)
    )
    for t in transitions:
        reference = by_id[t.cancellation_id].reference
        yield Entry(
            t.at,
            "cancellation",
            f"{reference}: {t.to_status.value}",
            t.note or "",
            _status_outcome(t.to_status.value),
            {"by": t.actor},
        )


def _steps(session: Session, by_id: dict[int, Cancellation]) -> Iterator[Entry]:
    steps = session.scalars(
        select(CancellationStep)
        .where(CancellationStep.cancellation_id.in_(by_id))
        .order_by(CancellationStep.id)
    )
    for step in steps:
        if step.started_at is None:
            continue
        reference = by_id[step.cancellation_id].reference
        facts = {"attempts": str(step.attempts), "outcome": step.outcome or ""}
        facts |= {f"answer {k}": v for k, v in (step.external_answer or {}).items()}
        yield Entry(
            step.finished_at or step.started_at,
            "step",
            f"{reference}: step {step.name.value} {step.status.value}",
            step.last_error or "",
            _status_outcome(step.status.value),
            facts,
        )


def _es2plus_calls(session: Session, operator_id: str, iccids: list[str]) -> Iterator[Entry]:
    if not iccids:
        return
    calls = _newest(
        session, Es2PlusCall, Es2PlusCall.operator_id == operator_id, Es2PlusCall.iccid.in_(iccids)
    )
    for call in calls:
        codes = "/".join(filter(None, (call.subject_code, call.reason_code)))
        outcome = call.outcome.value if call.outcome else "no answer yet"
        yield Entry(
            call.sent_at,
            "es2plus",
            f"ES2+ {call.function.value}",
            call.message or "",
            "ok" if outcome == "success" else "bad" if call.outcome else "wait",
            {
                "iccid": call.iccid or "",
                "HTTP": str(call.http_status or "-"),
                "status": call.status.value if call.status else outcome,
                "codes": codes,
                "ms": str(call.duration_ms or ""),
            },
        )


def _notifications(session: Session, esim_ids: list[int]) -> Iterator[Entry]:
    if not esim_ids:
        return
    rows = _newest(session, Es2PlusNotification, Es2PlusNotification.esim_id.in_(esim_ids))
    for row in rows:
        yield Entry(
            row.received_at,
            "smdp",
            f"SM-DP+ notification, point {row.point_id}",
            row.status,
            "ok" if row.status.startswith("Executed") else "bad",
            {"iccid": row.iccid, "effect": row.effect},
        )


def _notices(session: Session, customer: Customer) -> Iterator[Entry]:
    rows = _newest(session, Notice, Notice.customer_id == customer.id)
    for row in rows:
        state = "sent" if row.sent_at else "queued"
        yield Entry(
            row.created_at,
            "notice",
            f"Notice by {row.channel.value}: {row.subject}",
            row.body[:160],
            "ok" if row.sent_at else "wait",
            {"state": state},
        )


def _support(session: Session, customer: Customer) -> Iterator[Entry]:
    rows = _newest(session, SupportRequest, SupportRequest.customer_id == customer.id)
    for row in rows:
        yield Entry(
            row.created_at,
            "support",
            f"Support request #{row.id}",
            row.message[:160],
            "wait" if row.status.value == "open" else "ok",
            {"status": row.status.value},
        )


def _audit(
    session: Session, customer: Customer, cancellations: list[Cancellation]
) -> Iterator[Entry]:
    subjects = [f"customer:{customer.id}"] + [f"cancellation:{c.reference}" for c in cancellations]
    rows = _newest(
        session,
        AuditEvent,
        AuditEvent.operator_id == customer.operator_id,
        or_(AuditEvent.subject.in_(subjects), AuditEvent.actor == f"customer:{customer.id}"),
    )
    for row in rows:
        why = str(row.data.get("why", ""))
        yield Entry(
            row.at,
            "audit",
            row.action,
            why,
            "",
            {"by": row.actor, "about": row.subject, "ip": row.ip or ""},
        )


def _newest(session: Session, model: Any, *conditions: ColumnElement[bool]) -> list[Any]:
    """The newest ``PER_SOURCE`` rows of ``model`` that meet ``conditions``, oldest first."""
    query = select(model).where(*conditions).order_by(model.id.desc()).limit(PER_SOURCE)
    return list(reversed(session.scalars(query).all()))


def _money(value: object) -> str:
    if isinstance(value, dict):
        return f"{value.get('amount', '')} {value.get('currency', '')}".strip()
    return ""


def _status_outcome(status: str) -> str:
    if status in ("completed", "done", "skipped", "undone"):
        return "ok"
    if status in ("failed", "expired"):
        return "bad"
    return "wait"
