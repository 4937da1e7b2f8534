"""Confirming a cancellation: the SMS code or the password, as the operator's policy allows.

Every answer to a form here is a 303 to a GET page (Post/Redirect/Get); what went wrong, and
what the customer can do instead, travels in a flash (flash.py) to the page it concerns.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from esimcare.cancellations.operations import do_resend_code, do_verify_cancellation
from esimcare.cancellations.quote_hold import QuoteExpiredError
from esimcare.cancellations.service import get_cancellation, view_esim
from esimcare.cancellations.states import CancellationStatus
from esimcare.cancellations.verification_methods import methods_for
from esimcare.customers.identity import CustomerKey
from esimcare.db import transaction
from esimcare.errors import (
    CancellationExpiredError,
    CodeExpiredError,
    DomainError,
    InvalidTransitionError,
    ResendTooSoonError,
    WrongCodeError,
)
from esimcare.portal import honest
from esimcare.portal.deps import CsrfChecked, RowId, authenticate, client_ip, get_ctx
from esimcare.portal.flash import Flash, flash_redirect, take_flash
from esimcare.portal.rendering import redirect, render
from esimcare.portal.views import moment_from_json, money_from_json

router = APIRouter()


def _page(request: Request, op: str, cancellation_id: int, sent: bool) -> Response:
    ctx = get_ctx(request)
    policy = ctx.policy(op)
    flash = take_flash(request) or (Flash(honest.CODE_SENT, kind="notice") if sent else None)
    with transaction(ctx.sessions) as session:
        customer = authenticate(request, session, op).customer
        cancellation = get_cancellation(session, customer, cancellation_id)
        if cancellation.status is not CancellationStatus.AWAITING_VERIFICATION:
            return redirect(f"/{op}/cancellations/{cancellation.id}")
        esim = view_esim(session, cancellation)
        methods = [m.value for m in methods_for(session, policy, customer, ctx.clock.now())]
        quote = cancellation.quote
        return render(request, "verify.html", policy=policy, customer=customer,
                      cancellation=cancellation, esim=esim, flash=flash, methods=methods,
                      resend_action=f"/{op}/cancellations/{cancellation.id}/verify/resend",
                      final_bill=money_from_json(quote["final_bill"]),
                      refund=money_from_json(quote["refund"]),
                      valid_until=moment_from_json(quote["valid_until"])
                      if "valid_until" in quote else None)  # fmt: skip


@router.get("/{op}/cancellations/{cancellation_id}/verify")
def verify_form(request: Request, op: str, cancellation_id: RowId, sent: bool = False) -> Response:
    return _page(request, op, cancellation_id, sent)


@router.post("/{op}/cancellations/{cancellation_id}/verify")
def verify_submit(
    request: Request, op: str, cancellation_id: RowId, _csrf: CsrfChecked,
    method: Annotated[str, Form(max_length=20)] = "sms",
    secret: Annotated[str, Form(max_length=256)] = "",
) -> Response:  # fmt: skip
    ctx = get_ctx(request)
    policy = ctx.policy(op)
    with transaction(ctx.sessions) as session:
        customer = authenticate(request, session, op).customer
    here = f"/{op}/cancellations/{cancellation_id}/verify"
    try:
        cancellation = do_verify_cancellation(ctx, CustomerKey.of(customer), cancellation_id,
                                              method=method, secret=secret,
                                              ip=client_ip(request))  # fmt: skip
    except QuoteExpiredError as error:
        fresh = Flash(honest.QUOTE_EXPIRED, {"minutes": policy.quote_validity_minutes})
        return flash_redirect(request, f"/{op}/esims/{error.extra['esim_id']}/cancel", fresh)
    except (CancellationExpiredError, InvalidTransitionError):
        return redirect(f"/{op}/cancellations/{cancellation_id}")
    except (WrongCodeError, CodeExpiredError) as error:
        return flash_redirect(request, here, honest.code_refused(error))
    except DomainError as error:
        return flash_redirect(request, here, honest.refused(error))
    return redirect(f"/{op}/cancellations/{cancellation.id}")


@router.post("/{op}/cancellations/{cancellation_id}/verify/resend")
def resend(request: Request, op: str, cancellation_id: RowId, _csrf: CsrfChecked) -> Response:
    ctx = get_ctx(request)
    ctx.policy(op)
    with transaction(ctx.sessions) as session:
        customer = authenticate(request, session, op).customer
    here = f"/{op}/cancellations/{cancellation_id}/verify"
    try:
        do_resend_code(ctx, customer.id, cancellation_id)
    except (CancellationExpiredError, InvalidTransitionError):
        return redirect(f"/{op}/cancellations/{cancellation_id}")
    except ResendTooSoonError as error:
        refusal = honest.sms_refused(error, ctx.settings.limits.sends_per_hour)
        return flash_redirect(request, here, refusal)
    except DomainError as error:
        return flash_redirect(request, here, honest.refused(error))
    return flash_redirect(request, here, Flash(honest.CODE_SENT, kind="notice"))
