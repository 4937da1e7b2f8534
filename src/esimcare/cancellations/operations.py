"""Every write a customer makes to a cancellation, one function each (zulip's ``do_*`` actions).

Each operation owns its transaction, its idempotency (when the door gives a key) and what is sent
after commit, so the REST API, the portal and any later door behave alike; the doors only parse
the request and render the result. The rules themselves stay in service.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.orm import Session

from esimcare.cancellations import service
from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.service import Requested
from esimcare.cancellations.systems import ServiceSystems
from esimcare.customers.codes import IssuedCode
from esimcare.customers.identity import CustomerKey
from esimcare.customers.models import Customer
from esimcare.db import transaction
from esimcare.errors import AuthenticationError
from esimcare.idempotency.once import Describe, Once, Ran, run_once
from esimcare.integrations.errors import IntegrationError

log = structlog.get_logger()


@dataclass(frozen=True)
class CancellationDetails:
    """What the customer asked for, as both doors collect it."""

    reason: str
    comment: str | None = None
    refund_to: str | None = None
    # The quote the customer saw (its signed id): executed as quoted, or QuoteExpiredError.
    quote_id: str | None = None


@dataclass(frozen=True)
class RequestOutcome:
    ran: Ran[Requested]
    # None when no code was due (no SMS method, or a replayed answer); False: the gateway failed
    # and the customer asks for a new code.
    code_sent: bool | None


@dataclass(frozen=True)
class CodeResent:
    cancellation: Cancellation
    expires_at: datetime
    sent: bool


def do_request_cancellation(
    ctx: ServiceSystems,
    customer: CustomerKey,
    esim_id: int,
    details: CancellationDetails,
    *,
    once: Once | None,
    describe: Describe[Requested],
    ip: str | None = None,
) -> RequestOutcome:
    """Request the cancellation (at most once per key), then send the SMS code after commit.
    The customer is named by key: the request's one reading statement reads their row (and
    finds nothing for a key of another operator's customer)."""

    def work(session: Session) -> Requested:
        return service.request_cancellation(
            session, ctx, customer, esim_id, reason=details.reason, comment=details.comment,
            refund_to=details.refund_to, ip=ip, quote_id=details.quote_id,
        )  # fmt: skip

    ran = run_once(ctx.sessions, once, work, describe)
    requested = ran.result
    if requested is None or requested.code is None:
        return RequestOutcome(ran, code_sent=None)
    sent = send_code(
        ctx, requested.customer, requested.cancellation, requested.code, requested.msisdn
    )
    return RequestOutcome(ran, code_sent=sent)


def do_resend_code(ctx: ServiceSystems, customer_id: int, cancellation_id: int) -> CodeResent:
    """Issue a new code in one transaction and send it after commit."""
    with transaction(ctx.sessions) as session:
        customer = customer_in(session, customer_id)
        cancellation, code = service.resend_code(session, ctx, customer, cancellation_id)
        msisdn = service.view_esim(session, cancellation).msisdn
    sent = send_code(ctx, customer, cancellation, code, msisdn)
    return CodeResent(cancellation, code.expires_at, sent)


def do_verify_cancellation(
    ctx: ServiceSystems,
    customer: CustomerKey,
    cancellation_id: int,
    *,
    method: str,
    secret: str,
    ip: str | None = None,
) -> Cancellation:
    """Confirm with the SMS code, the password or a passkey's answer (JSON); a wrong one is
    counted (it commits). By key, as a request: the verification's one reading statement
    reads the customer's row."""
    with transaction(ctx.sessions) as session:
        return service.verify(
            session, ctx, customer, cancellation_id, method=method, secret=secret, ip=ip
        )


def do_passkey_options(
    ctx: ServiceSystems, customer_id: int, cancellation_id: int
) -> dict[str, Any]:
    """Start a passkey confirmation of this cancellation; answered through
    ``do_verify_cancellation`` with method "passkey" and the browser's answer as the secret."""
    with transaction(ctx.sessions) as session:
        customer = customer_in(session, customer_id)
        return service.passkey_options(session, ctx, customer, cancellation_id)


def do_undo_cancellation(
    ctx: ServiceSystems, customer_id: int, cancellation_id: int, *, ip: str | None = None
) -> Cancellation:
    """Undo from the customer's own account, while the cancellation is scheduled."""
    with transaction(ctx.sessions) as session:
        customer = customer_in(session, customer_id)
        cancellation = service.get_cancellation(session, customer, cancellation_id)
        return service.undo(session, ctx, cancellation, actor=f"customer:{customer.id}", ip=ip)


def do_undo_by_link(
    ctx: ServiceSystems, operator_id: str, token: str, *, ip: str | None = None
) -> Cancellation:
    """Undo with the one-click link sent to every contact channel (no login needed)."""
    with transaction(ctx.sessions) as session:
        cancellation = service.find_by_undo_token(session, operator_id, token)
        return service.undo(session, ctx, cancellation, actor="customer:undo-link", ip=ip)


def send_code(
    ctx: ServiceSystems,
    customer: Customer,
    cancellation: Cancellation,
    code: IssuedCode,
    msisdn: str,
) -> bool:
    """After commit: a failed gateway leaves the request standing (the customer asks for a new
    code), so it is logged and reported, never an error."""
    try:
        service.deliver_code(ctx, customer, cancellation, code, msisdn)
    except IntegrationError as error:
        log.warning("cancellation.code_not_sent", cancellation_id=cancellation.id, error=str(error))
        return False
    return True


def customer_in(session: Session, customer_id: int) -> Customer:
    """The caller's customer row, attached to this operation's transaction."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise AuthenticationError()
    return customer
