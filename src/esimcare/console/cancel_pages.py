"""Cancel on behalf of a caller: the quote, how the caller is verified, then the same workflow."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.service import deliver_code, view_esim
from esimcare.cancellations.states import CancellationStatus
from esimcare.cancellations.verification_methods import methods_for
from esimcare.console.deps import StaffCsrf, client_ip, get_ctx, may
from esimcare.console.rendering import render
from esimcare.context import Context
from esimcare.customers.codes import IssuedCode
from esimcare.customers.models import Customer
from esimcare.db import transaction
from esimcare.errors import DomainError
from esimcare.esims.service import get_esim
from esimcare.integrations.errors import IntegrationError
from esimcare.operators.policy import RefundRoute, VerificationMethod
from esimcare.portal.deps import RowId
from esimcare.portal.i18n import N_
from esimcare.portal.rendering import redirect
from esimcare.staff.auth import StaffAuth
from esimcare.staff.on_behalf import (
    CallerCheck,
    cancellation_for_staff,
    confirm_on_behalf,
    resend_for_caller,
    staff_quote,
    start_on_behalf,
)
from esimcare.staff.roles import Permission

log = structlog.get_logger()
router = APIRouter(prefix="/staff")
CHOOSE_CHECK = N_("Choose how the caller is verified.")
CODE_RESENT = N_("A new code was sent to the contact number.")
CanCancel = Annotated[StaffAuth, may(Permission.CANCEL_ON_BEHALF)]


def _checks_offered(session: Session, ctx: Context, customer: Customer) -> list[CallerCheck]:
    methods = methods_for(session, ctx.policy(customer.operator_id), customer, ctx.clock.now())
    offered = []
    if VerificationMethod.SMS in methods:
        offered.append(CallerCheck.CODE)
    if VerificationMethod.PASSWORD in methods:
        offered.append(CallerCheck.PASSWORD)
    return [*offered, CallerCheck.ID_DOCUMENT]


def _form(
    request: Request,
    auth: StaffAuth,
    customer_id: int,
    esim_id: int,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    ctx = get_ctx(request)
    with transaction(ctx.sessions) as session:
        customer, quote = staff_quote(session, ctx, auth.staff, customer_id, esim_id)
        view = get_esim(session, customer.operator_id, customer.id, esim_id)
        checks = _checks_offered(session, ctx, customer)
    policy = ctx.policy(customer.operator_id)
    return render(
        request,
        "cancel.html",
        auth=auth,
        status=status,
        customer=customer,
        view=view,
        quote=quote,
        policy=policy,
        checks=checks,
        error=error,
        needs_refund_to=policy.refund_route is RefundRoute.ANOTHER_NUMBER,
    )


@router.get("/customers/{customer_id}/esims/{esim_id}/cancel")
def cancel_form(request: Request, auth: CanCancel, customer_id: RowId, esim_id: RowId) -> Response:
    return _form(request, auth, customer_id, esim_id)


@router.post("/customers/{customer_id}/esims/{esim_id}/cancel")
def cancel_submit(
    request: Request,
    _csrf: StaffCsrf,
    auth: CanCancel,
    customer_id: RowId,
    esim_id: RowId,
    reason: Annotated[str, Form(max_length=40)] = "",
    refund_to: Annotated[str, Form(max_length=40)] = "",
    check: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    ctx = get_ctx(request)
    try:
        chosen = CallerCheck(check)
        with transaction(ctx.sessions) as session:
            requested = start_on_behalf(
                session,
                ctx,
                auth.staff,
                customer_id,
                esim_id,
                reason=reason,
                refund_to=refund_to.strip() or None,
                check=chosen,
                ip=client_ip(request),
            )
            customer = session.get(Customer, customer_id)
            msisdn = view_esim(session, requested.cancellation).msisdn
    except ValueError:
        return _form(
            request,
            auth,
            customer_id,
            esim_id,
            error=CHOOSE_CHECK,
            status=422,
        )
    except DomainError as error:
        return _form(request, auth, customer_id, esim_id, error=error.detail, status=error.status)
    assert customer is not None
    _send_code(ctx, customer, requested.cancellation, requested.code, msisdn)
    return redirect(f"/staff/cancellations/{requested.cancellation.id}/verify?check={chosen.value}")


def _send_code(
    ctx: Context,
    customer: Customer,
    cancellation: Cancellation,
    code: IssuedCode | None,
    msisdn: str,
) -> None:
    if code is None:
        return
    try:
        deliver_code(ctx, customer, cancellation, code, msisdn)
    except IntegrationError as error:
        log.warning("console.code_not_sent", cancellation=cancellation.id, error=str(error))


def _verify_page(
    request: Request,
    auth: StaffAuth,
    cancellation_id: int,
    check: str,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
    template: str = "verify.html",
) -> Response:
    ctx = get_ctx(request)
    with transaction(ctx.sessions) as session:
        customer, cancellation = cancellation_for_staff(session, auth.staff, cancellation_id)
        if cancellation.status is not CancellationStatus.AWAITING_VERIFICATION:
            return redirect(f"/staff/customers/{customer.id}")
        esim = view_esim(session, cancellation)
        checks = _checks_offered(session, ctx, customer)
    chosen = check if check in checks else checks[0].value
    return render(
        request,
        template,
        auth=auth,
        status=status,
        customer=customer,
        cancellation=cancellation,
        esim=esim,
        checks=checks,
        check=chosen,
        error=error,
        notice=notice,
    )


@router.get("/cancellations/{cancellation_id}/verify")
def verify_form(
    request: Request, auth: CanCancel, cancellation_id: RowId, check: str = "", sent: bool = False
) -> Response:
    notice = CODE_RESENT if sent else None
    return _verify_page(request, auth, cancellation_id, check, notice=notice)


@router.get("/cancellations/{cancellation_id}/keypad")
def keypad(request: Request, auth: CanCancel, cancellation_id: RowId) -> Response:
    """A page for the customer's own hands: only a password field, nothing of the console."""
    return _verify_page(request, auth, cancellation_id, "password", template="keypad.html")


@router.post("/cancellations/{cancellation_id}/verify")
def verify_submit(
    request: Request,
    _csrf: StaffCsrf,
    auth: CanCancel,
    cancellation_id: RowId,
    check: Annotated[str, Form(max_length=20)] = "",
    secret: Annotated[str, Form(max_length=256)] = "",
    note: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    ctx = get_ctx(request)
    try:
        chosen = CallerCheck(check)
        with transaction(ctx.sessions) as session:
            cancellation = confirm_on_behalf(
                session,
                ctx,
                auth.staff,
                cancellation_id,
                check=chosen,
                secret=secret,
                note=note,
                ip=client_ip(request),
            )
    except ValueError:
        return _verify_page(
            request,
            auth,
            cancellation_id,
            check,
            status=422,
            error=CHOOSE_CHECK,
        )
    except DomainError as error:
        return _verify_page(
            request, auth, cancellation_id, check, error=error.detail, status=error.status
        )
    return redirect(f"/staff/customers/{cancellation.customer_id}?done={cancellation.reference}")


@router.post("/cancellations/{cancellation_id}/resend")
def resend(request: Request, _csrf: StaffCsrf, auth: CanCancel, cancellation_id: RowId) -> Response:
    ctx = get_ctx(request)
    try:
        with transaction(ctx.sessions) as session:
            customer, cancellation, code = resend_for_caller(
                session, ctx, auth.staff, cancellation_id, client_ip(request)
            )
            msisdn = view_esim(session, cancellation).msisdn
    except DomainError as error:
        return _verify_page(
            request, auth, cancellation_id, "code", error=error.detail, status=error.status
        )
    _send_code(ctx, customer, cancellation, code, msisdn)
    return redirect(f"/staff/cancellations/{cancellation_id}/verify?check=code&sent=1")
