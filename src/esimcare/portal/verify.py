"""Confirming a cancellation: the SMS code or the password, as the operator's policy allows."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from esimcare.cancellations.operations import do_resend_code, do_verify_cancellation
from esimcare.cancellations.service import get_cancellation, view_esim
from esimcare.cancellations.states import CancellationStatus
from esimcare.cancellations.verification_methods import methods_for
from esimcare.db import transaction
from esimcare.errors import (
    CancellationExpiredError,
    DomainError,
    InvalidTransitionError,
    WrongCodeError,
)
from esimcare.portal import texts
from esimcare.portal.deps import CsrfChecked, RowId, authenticate, client_ip, get_ctx
from esimcare.portal.i18n import N_
from esimcare.portal.rendering import redirect, render

router = APIRouter()

CODE_SENT = N_("We have sent a new code.")
WRONG_CODE = N_("The code is wrong. Attempts left: %(left)s.")
WRONG_PASSWORD = N_("The password is wrong.")


def _page(
    request: Request, op: str, cancellation_id: int, *, error: str | None = None,
    error_params: dict[str, object] | None = None, notice: str | None = None, status: int = 200,
) -> Response:  # fmt: skip
    ctx = get_ctx(request)
    policy = ctx.policy(op)
    with transaction(ctx.sessions) as session:
        customer = authenticate(request, session, op).customer
        cancellation = get_cancellation(session, customer, cancellation_id)
        if cancellation.status is not CancellationStatus.AWAITING_VERIFICATION:
            return redirect(f"/{op}/cancellations/{cancellation.id}")
        esim = view_esim(session, cancellation)
        return render(request, "verify.html", policy=policy, status=status, customer=customer,
                      cancellation=cancellation, esim=esim, error=error,
                      error_params=error_params or {}, notice=notice,
                      methods=[m.value for m in methods_for(session, policy, customer,
                                                              ctx.clock.now())])  # fmt: skip


@router.get("/{op}/cancellations/{cancellation_id}/verify")
def verify_form(request: Request, op: str, cancellation_id: RowId, sent: bool = False) -> Response:
    return _page(request, op, cancellation_id, notice=CODE_SENT if sent else None)


@router.post("/{op}/cancellations/{cancellation_id}/verify")
def verify_submit(
    request: Request, op: str, cancellation_id: RowId, _csrf: CsrfChecked,
    method: Annotated[str, Form(max_length=20)] = "sms",
    secret: Annotated[str, Form(max_length=256)] = "",
) -> Response:  # fmt: skip
    ctx = get_ctx(request)
    ctx.policy(op)
    with transaction(ctx.sessions) as session:
        customer = authenticate(request, session, op).customer
    try:
        do_verify_cancellation(ctx, customer.id, cancellation_id, method=method, secret=secret,
                               ip=client_ip(request))  # fmt: skip
    except (CancellationExpiredError, InvalidTransitionError):
        return redirect(f"/{op}/cancellations/{cancellation_id}")
    except WrongCodeError as error:
        left = error.extra.get("attempts_left")
        message, params = (WRONG_CODE, {"left": left}) if left is not None else (WRONG_PASSWORD, {})
        return _page(request, op, cancellation_id, error=message, error_params=params, status=422)
    except DomainError as error:
        message = texts.ERROR.get(error.code, texts.GENERIC_DETAIL)
        return _page(request, op, cancellation_id, error=message, status=error.status)
    return redirect(f"/{op}/cancellations/{cancellation_id}")


@router.post("/{op}/cancellations/{cancellation_id}/verify/resend")
def resend(request: Request, op: str, cancellation_id: RowId, _csrf: CsrfChecked) -> Response:
    ctx = get_ctx(request)
    ctx.policy(op)
    with transaction(ctx.sessions) as session:
        customer = authenticate(request, session, op).customer
    try:
        do_resend_code(ctx, customer.id, cancellation_id)
    except (CancellationExpiredError, InvalidTransitionError):
        return redirect(f"/{op}/cancellations/{cancellation_id}")
    except DomainError as error:
        message = texts.ERROR.get(error.code, texts.GENERIC_DETAIL)
        return _page(request, op, cancellation_id, error=message, status=error.status)
    return redirect(f"/{op}/cancellations/{cancellation_id}/verify?sent=1")
