"""A cancellation started by staff for a customer, already verified by staff (bulk work).

The same checks, quote, steps, job and notices (with undo) as the customer's own request; only
who acted differs, and that is written down: the transitions name the staff actor, the
cancellation's ``verification_method`` says how it was verified, and the audit row says why.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.quote import Quote, compute_quote, effective_time
from esimcare.cancellations.reads import open_cancellation

# The checks and scheduling of the customer's path, reused so both stay one code path.
from esimcare.cancellations.service import (
    _check_request,
    _new_reference,
    _refuse_blocking_debt,
    _schedule,
    audit,
)
from esimcare.cancellations.states import CancellationStatus
from esimcare.cancellations.systems import ServiceSystems
from esimcare.cancellations.transitions import record_start
from esimcare.customers.models import Customer
from esimcare.esims.service import EsimView

# How a bulk line was verified: a supervisor confirmed the list (``bulk by supervisor <id>``).
BULK_BY_SUPERVISOR = "bulk_supervisor"


def check_and_quote(
    session: Session,
    ctx: ServiceSystems,
    customer: Customer,
    view: EsimView,
    reason: str,
    now: datetime,
) -> Quote:
    """What the customer's request would check and quote; raises the same domain errors."""
    policy = ctx.policy(customer.operator_id)
    _check_request(policy, customer, view, reason, None, open_cancellation(session, view.esim.id))
    quote = compute_quote(
        session, policy, customer, view.esim, view.plan, effective_time(policy, now), None
    )
    _refuse_blocking_debt(policy, quote)
    return quote


def start_verified_by_staff(
    session: Session,
    ctx: ServiceSystems,
    customer: Customer,
    view: EsimView,
    *,
    reason: str,
    actor: str,
    method: str,
    note: str,
    now: datetime,
) -> Cancellation:
    policy = ctx.policy(customer.operator_id)
    quote = check_and_quote(session, ctx, customer, view, reason, now)
    cancellation = Cancellation(
        reference=_new_reference(),
        operator_id=customer.operator_id,
        customer_id=customer.id,
        esim_id=view.esim.id,
        status=CancellationStatus.AWAITING_VERIFICATION,
        reason=reason,
        quote=quote.to_json(),
        effective_at=quote.effective_at,
        verification_method=method,
        verified_at=now,
        created_at=now,
    )
    session.add(cancellation)
    session.flush()
    record_start(
        session,
        cancellation,
        actor=actor,
        now=now,
        note=reason,
        watched=policy.has_webhooks,
    )
    audit(
        session, cancellation, actor, "cancellation.requested_by_staff", now, None, {"note": note}
    )
    _schedule(session, ctx, customer, cancellation, policy, now, actor=actor, note=note)
    return cancellation
