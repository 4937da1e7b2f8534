"""The cancel page: the quote before committing, the reason, and the request itself.

A hidden one-time form token works like an Idempotency-Key: a double click or a resubmitted
form replays the first answer (a redirect to the same cancellation) instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.operations import CancellationDetails, do_request_cancellation
from esimcare.cancellations.quote_hold import QuoteExpiredError
from esimcare.cancellations.service import Requested, quote_for
from esimcare.cancellations.states import CancellationStatus
from esimcare.customers.identity import CustomerKey
from esimcare.db import transaction
from esimcare.errors import CancellationInProgressError, DomainError, ResendTooSoonError
from esimcare.esims.service import get_esim
from esimcare.esims.states import EsimStatus
from esimcare.idempotency.service import StoredResponse
from esimcare.kit.ids import InvalidIdentifierError, Msisdn
from esimcare.kit.tokens import new_token
from esimcare.operators.policy import Policy, RefundRoute
from esimcare.portal import honest, texts
from esimcare.portal.deps import (
    CsrfChecked,
    RowId,
    authenticate,
    client_ip,
    form_once,
    get_ctx,
    language_of,
)
from esimcare.portal.flash import Flash, flash_redirect, take_flash
from esimcare.portal.i18n import N_
from esimcare.portal.rendering import redirect, render
from esimcare.portal.views import latest_cancellation

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


def _show_form(request: Request, op: str, esim_id: int) -> Response:
    """The quote and the form; after a refused POST, the flash refills it and says why."""
    ctx = get_ctx(request)
    policy = ctx.policy(op)
    flash = take_flash(request)
    typed = flash.form if flash else {}
    form = CancelForm(typed.get("reason", ""), typed.get("comment", ""), typed.get("refund_to", ""))
    if flash:
        form.errors.update(flash.field_errors)
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
        return render(request, "cancel.html", policy=policy, view=view, quote=quote,
                      form=form, flash=flash, blocked=blocked, methods=[],
                      form_token=new_token())  # fmt: skip


@router.get("/{op}/esims/{esim_id}/cancel")
def cancel_form(request: Request, op: str, esim_id: RowId) -> Response:
    return _show_form(request, op, esim_id)


@router.post("/{op}/esims/{esim_id}/cancel")
def cancel_submit(
    request: Request, op: str, esim_id: RowId, _csrf: CsrfChecked,
    reason: Annotated[str, Form(max_length=40)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
    refund_to: Annotated[str, Form(max_length=40)] = "",
    form_token: Annotated[str, Form(max_length=128)] = "",
    quote_id: Annotated[str, Form(max_length=400)] = "",
) -> Response:  # fmt: skip
    ctx = get_ctx(request)
    form = CancelForm(reason.strip(), comment.strip(), refund_to.strip())
    with transaction(ctx.sessions) as session:
        customer = authenticate(request, session, op).customer
        view = get_esim(session, op, customer.id, esim_id)
        # Notices about this request are written in the language it was made in.
        customer.language = language_of(request)
    form_url = f"/{op}/esims/{esim_id}/cancel"
    if not form.check(ctx.policy(op), view.esim.msisdn) or not form_token:
        return flash_redirect(request, form_url, _again(form, texts.ERROR["invalid-input"]))
    once = form_once(ctx, f"portal-cancel:{op}:{customer.id}", form_token, f"esim:{esim_id}")
    details = CancellationDetails(
        form.reason, form.comment or None, form.refund_to or None, quote_id or None
    )

    def describe(session: Session, requested: Requested) -> StoredResponse:
        return StoredResponse(303, {"location": follow_url(op, requested.cancellation)})

    try:
        outcome = do_request_cancellation(
            ctx, CustomerKey.of(customer), esim_id, details, once=once, describe=describe,
            ip=client_ip(request),
        )  # fmt: skip
    except DomainError as error:
        return _refused(request, op, esim_id, form, error)
    location = str(outcome.ran.answer.body["location"])
    requested = outcome.ran.result
    if requested is not None and requested.sms_refused is not None:
        limits = ctx.settings.limits
        return flash_redirect(
            request, location, honest.sms_refused(requested.sms_refused, limits.sends_per_hour)
        )
    return redirect(location)


def _again(form: CancelForm, message: str, offers: tuple[str, ...] = ()) -> Flash:
    """The form as typed, to show again with why it was not accepted."""
    fields = {"reason": form.reason, "comment": form.comment, "refund_to": form.refund_to}
    return Flash(message, form=fields, field_errors=dict(form.errors), offers=offers)


def _refused(
    request: Request, op: str, esim_id: int, form: CancelForm, error: DomainError
) -> Response:
    form_url = f"/{op}/esims/{esim_id}/cancel"
    if isinstance(error, CancellationInProgressError):
        return redirect(form_url)  # the form then leads to the open one
    if isinstance(error, QuoteExpiredError):
        minutes = get_ctx(request).policy(op).quote_validity_minutes
        expired = _again(form, honest.QUOTE_EXPIRED).with_params({"minutes": minutes})
        return flash_redirect(request, form_url, expired)
    if isinstance(error, ResendTooSoonError):
        sends = get_ctx(request).settings.limits.sends_per_hour
        refusal = honest.sms_refused(error, sends)
        return flash_redirect(request, form_url, _again(form, refusal.message, refusal.offers)
                              .with_params(refusal.params))  # fmt: skip
    return flash_redirect(request, form_url, _again(form, honest.refused(error).message,
                                                    ("hotline",)))  # fmt: skip
