"""The cancel page: the quote before committing, the reason, and the request itself.

A hidden one-time form token works like an Idempotency-Key: a double click or a resubmitted
form replays the first answer (a redirect to the same cancellation) instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.service import Requested, deliver_code, quote_for, request_cancellation
from esimcare.cancellations.states import CancellationStatus
from esimcare.context import Context
from esimcare.customers.codes import IssuedCode
from esimcare.customers.models import Customer
from esimcare.db import transaction
from esimcare.errors import (
    CancellationInProgressError,
    DomainError,
)
from esimcare.esims.service import EsimView, get_esim
from esimcare.esims.states import EsimStatus
from esimcare.idempotency.service import IdempotencyStore
from esimcare.integrations.errors import IntegrationError
from esimcare.kit.ids import InvalidIdentifierError, Msisdn
from esimcare.kit.tokens import new_token
from esimcare.operators.policy import Policy, RefundRoute
from esimcare.portal import texts
from esimcare.portal.deps import (
    CsrfChecked,
    LoginRequiredError,
    RowId,
    authenticate,
    client_ip,
    get_ctx,
    language_of,
)
from esimcare.portal.i18n import N_
from esimcare.portal.rendering import redirect, render
from esimcare.portal.views import latest_cancellation

log = structlog.get_logger()
router = APIRouter()
MAX_COMMENT = 500


@dataclass
class CancelForm:
    reason: str = ""
    comment: str = ""
    refund_to: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    def check(self, policy: Policy, esim_msisdn: str) -> bool:
        if policy.reason(self.reason) is None:
            self.errors["reason"] = N_("Choose a reason.")
        if len(self.comment) > MAX_COMMENT:
            self.errors["comment"] = N_("The comment is too long (at most 500 characters).")
        if policy.refund_route is RefundRoute.ANOTHER_NUMBER:
            self._check_refund_to(esim_msisdn, policy.region)
        return not self.errors

    def _check_refund_to(self, esim_msisdn: str, region: str | None) -> None:
        try:
            number = Msisdn.parse(self.refund_to, region).value
        except InvalidIdentifierError:
            self.errors["refund_to"] = N_("Enter a phone number like +79161234567.")
            return
        if number == esim_msisdn:
            self.errors["refund_to"] = N_("Enter another number than the one you are cancelling.")


def follow_url(op: str, cancellation: Cancellation) -> str:
    if cancellation.status is CancellationStatus.AWAITING_VERIFICATION:
        return f"/{op}/cancellations/{cancellation.id}/verify"
    return f"/{op}/cancellations/{cancellation.id}"


def _show_form(
    request: Request, op: str, esim_id: int, form: CancelForm, *, error: str | None = None,
    status: int = 200,
) -> Response:  # fmt: skip
    ctx = get_ctx(request)
    policy = ctx.policy(op)
    with transaction(ctx.sessions) as session:
        customer = authenticate(request, session, op).customer
        view = get_esim(session, op, customer.id, esim_id)
        latest = latest_cancellation(session, customer, esim_id)
        if latest is not None and latest.status.is_open:
            return redirect(follow_url(op, latest))
        if view.esim.status is not EsimStatus.ACTIVE:
            return redirect(f"/{op}/esims/{esim_id}")
        quote = quote_for(session, ctx, customer, esim_id)
        blocked = policy.debt_blocks_cancellation and quote.debt_before.minor > 0
        return render(request, "cancel.html", policy=policy, status=status, view=view,
                      quote=quote, form=form, error=error, blocked=blocked,
                      form_token=new_token())  # fmt: skip


@router.get("/{op}/esims/{esim_id}/cancel")
def cancel_form(request: Request, op: str, esim_id: RowId) -> Response:
    return _show_form(request, op, esim_id, CancelForm())


@router.post("/{op}/esims/{esim_id}/cancel")
def cancel_submit(
    request: Request, op: str, esim_id: RowId, _csrf: CsrfChecked,
    reason: Annotated[str, Form(max_length=40)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
    refund_to: Annotated[str, Form(max_length=40)] = "",
    form_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:  # fmt: skip
    ctx = get_ctx(request)
    form = CancelForm(reason.strip(), comment.strip(), refund_to.strip())
    with transaction(ctx.sessions) as session:
        customer = authenticate(request, session, op).customer
        view = get_esim(session, op, customer.id, esim_id)
    if not form.check(ctx.policy(op), view.esim.msisdn) or not form_token:
        return _show_form(request, op, esim_id, form, status=422)
    store = IdempotencyStore(ctx.sessions, ctx.clock, ctx.settings.limits.idempotency_ttl_s)
    scope = f"portal-cancel:{op}:{customer.id}"
    replay = store.start_or_wait(scope, form_token, f"esim:{esim_id}")
    if replay is not None:
        return redirect(str(replay.body["location"]))
    try:
        customer, requested = _request(request, ctx, op, view, form, store, scope, form_token)
    except DomainError as error:
        store.abandon(scope, form_token)
        return _refused(request, op, esim_id, form, error)
    except LoginRequiredError:
        store.abandon(scope, form_token)
        raise
    cancellation = requested.cancellation
    send_code(ctx, customer, cancellation, requested.code, view.esim.msisdn)
    return redirect(follow_url(op, cancellation))


def _request(
    request: Request, ctx: Context, op: str, view: EsimView, form: CancelForm,
    store: IdempotencyStore, scope: str, key: str,
) -> tuple[Customer, Requested]:  # fmt: skip
    with transaction(ctx.sessions) as session:
        customer = authenticate(request, session, op).customer
        # Notices about this request are written in the language it was made in.
        customer.language = language_of(request)
        requested = request_cancellation(
            session, ctx, customer, view.esim.id, reason=form.reason,
            comment=form.comment or None, refund_to=form.refund_to or None, ip=client_ip(request),
        )  # fmt: skip
        location = follow_url(op, requested.cancellation)
        store.finish(session, scope, key, 303, {"location": location})
        return customer, requested


def _refused(
    request: Request, op: str, esim_id: int, form: CancelForm, error: DomainError
) -> Response:
    if isinstance(error, CancellationInProgressError):
        return redirect(f"/{op}/esims/{esim_id}/cancel")  # the form then leads to the open one
    message = texts.ERROR.get(error.code, texts.GENERIC_DETAIL)
    return _show_form(request, op, esim_id, form, error=message, status=error.status)


def send_code(
    ctx: Context, customer: Customer, cancellation: Cancellation, code: IssuedCode | None,
    msisdn: str,
) -> None:  # fmt: skip
    """After commit: a code that fails to send is simply asked for again on the next page."""
    if code is None:
        return
    try:
        deliver_code(ctx, customer, cancellation, code, msisdn)
    except IntegrationError as error:
        log.warning("portal.code_not_sent", cancellation=cancellation.id, error=str(error))
