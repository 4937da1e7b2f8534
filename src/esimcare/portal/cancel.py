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
from esimcare.cancellations.service import Requested, quote_for
from esimcare.cancellations.states import CancellationStatus
from esimcare.db import transaction
from esimcare.errors import (
    CancellationInProgressError,
    DomainError,
)
from esimcare.esims.service import get_esim
from esimcare.esims.states import EsimStatus
from esimcare.idempotency.service import StoredResponse
from esimcare.kit.ids import InvalidIdentifierError, Msisdn
from esimcare.kit.tokens import new_token
from esimcare.operators.policy import Policy, RefundRoute
from esimcare.portal import texts
from esimcare.portal.deps import (
    CsrfChecked,
    RowId,
    authenticate,
    client_ip,
    form_once,
    get_ctx,
)
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
    once = form_once(ctx, f"portal-cancel:{op}:{customer.id}", form_token, f"esim:{esim_id}")
    details = CancellationDetails(form.reason, form.comment or None, form.refund_to or None)

    def describe(session: Session, requested: Requested) -> StoredResponse:
        return StoredResponse(303, {"location": follow_url(op, requested.cancellation)})

    try:
        outcome = do_request_cancellation(
            ctx, customer.id, esim_id, details, once=once, describe=describe,
            ip=client_ip(request),
        )  # fmt: skip
    except DomainError as error:
        return _refused(request, op, esim_id, form, error)
    return redirect(str(outcome.ran.answer.body["location"]))


def _refused(
    request: Request, op: str, esim_id: int, form: CancelForm, error: DomainError
) -> Response:
    if isinstance(error, CancellationInProgressError):
        return redirect(f"/{op}/esims/{esim_id}/cancel")  # the form then leads to the open one
    message = texts.ERROR.get(error.code, texts.GENERIC_DETAIL)
    return _show_form(request, op, esim_id, form, error=message, status=error.status)
