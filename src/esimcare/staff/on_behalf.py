"""Cancelling on behalf of a caller (the hotline path) through the customer's own workflow.

The agent records how the caller was verified: a code sent to the account's contact number and
read back, the account password typed by the customer on a keypad page, or an identity
document checked in a shop. The quote, the request, the verification, the notices with their
undo link and the steps are those of cancellations/service.py, unchanged.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import Session

from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.quote import Quote
from esimcare.cancellations.service import (
    Requested,
    get_cancellation,
    quote_for,
    request_cancellation,
    resend_code,
    verify,
    verify_in_person,
)
from esimcare.cancellations.systems import ServiceSystems
from esimcare.customers.codes import IssuedCode
from esimcare.customers.models import Customer
from esimcare.errors import DomainError, InvalidInputError, NotFoundError
from esimcare.staff.audit import record_staff_action, staff_actor
from esimcare.staff.lookup import customer_for_staff
from esimcare.staff.models import StaffMember
from esimcare.staff.roles import Permission
from esimcare.staff.rules import require

MAX_NOTE = 300


class CallerCheck(StrEnum):
    CODE = "code"  # a code sent to the contact number, read back by the caller
    PASSWORD = "password"  # noqa: S105 - a method name. The account password, typed by the customer on a keypad page
    ID_DOCUMENT = "id_document"  # an identity document checked in a shop


def staff_quote(
    session: Session, ctx: ServiceSystems, staff: StaffMember, customer_id: int, esim_id: int
) -> tuple[Customer, Quote]:
    """The quote the customer would see on the portal."""
    require(staff, Permission.CANCEL_ON_BEHALF)
    customer = customer_for_staff(session, staff, customer_id)
    return customer, quote_for(session, ctx, customer, esim_id)


def start_on_behalf(
    session: Session,
    ctx: ServiceSystems,
    staff: StaffMember,
    customer_id: int,
    esim_id: int,
    *,
    reason: str,
    refund_to: str | None,
    check: CallerCheck,
    ip: str | None = None,
) -> Requested:
    """The customer's own request; the code (if the policy allows SMS) is sent after commit."""
    require(staff, Permission.CANCEL_ON_BEHALF)
    customer = customer_for_staff(session, staff, customer_id)
    requested = request_cancellation(
        session,
        ctx,
        customer,
        esim_id,
        reason=reason,
        refund_to=refund_to,
        comment=f"requested by phone or in a shop through {staff_actor(staff)}",
        ip=ip,
    )
    record_staff_action(
        session,
        staff,
        "staff.cancellation_requested_on_behalf",
        subject=f"cancellation:{requested.cancellation.reference}",
        operator_id=customer.operator_id,
        at=ctx.clock.now(),
        ip=ip,
        why=f"caller asked to cancel: {reason}",
        data={"esim_id": esim_id, "caller_check": check.value},
    )
    return requested


def cancellation_for_staff(
    session: Session, staff: StaffMember, cancellation_id: int
) -> tuple[Customer, Cancellation]:
    cancellation = session.get(Cancellation, cancellation_id)
    if cancellation is None:
        raise NotFoundError("no such cancellation")
    customer = customer_for_staff(session, staff, cancellation.customer_id)
    return customer, get_cancellation(session, customer, cancellation_id)


def resend_for_caller(
    session: Session, ctx: ServiceSystems, staff: StaffMember, cancellation_id: int, ip: str | None
) -> tuple[Customer, Cancellation, IssuedCode]:
    require(staff, Permission.CANCEL_ON_BEHALF)
    customer, _ = cancellation_for_staff(session, staff, cancellation_id)
    cancellation, code = resend_code(session, ctx, customer, cancellation_id)
    record_staff_action(
        session,
        staff,
        "staff.code_resent",
        operator_id=customer.operator_id,
        subject=f"cancellation:{cancellation.reference}",
        at=ctx.clock.now(),
        ip=ip,
    )
    return customer, cancellation, code


def confirm_on_behalf(
    session: Session,
    ctx: ServiceSystems,
    staff: StaffMember,
    cancellation_id: int,
    *,
    check: CallerCheck,
    secret: str = "",
    note: str = "",
    ip: str | None = None,
) -> Cancellation:
    """Verify the caller as recorded; a failed check is audited too (a wrong code commits)."""
    require(staff, Permission.CANCEL_ON_BEHALF)
    customer, cancellation = cancellation_for_staff(session, staff, cancellation_id)
    note = note.strip()[:MAX_NOTE]
    subject = f"cancellation:{cancellation.reference}"
    try:
        _check_caller(session, ctx, staff, customer, cancellation_id, check, secret, note, ip)
    except DomainError as error:
        record_staff_action(
            session,
            staff,
            "staff.caller_check_failed",
            subject=subject,
            operator_id=customer.operator_id,
            at=ctx.clock.now(),
            ip=ip,
            data={"caller_check": check.value, "error": error.code},
        )
        raise
    record_staff_action(
        session,
        staff,
        "staff.cancellation_verified_on_behalf",
        subject=subject,
        operator_id=customer.operator_id,
        at=ctx.clock.now(),
        ip=ip,
        why=note or None,
        data={"caller_check": check.value},
    )
    return cancellation


def _check_caller(
    session: Session,
    ctx: ServiceSystems,
    staff: StaffMember,
    customer: Customer,
    cancellation_id: int,
    check: CallerCheck,
    secret: str,
    note: str,
    ip: str | None,
) -> None:
    if check is CallerCheck.ID_DOCUMENT:
        if not note:
            raise InvalidInputError("say which document was checked", field="note")
        verify_in_person(
            session, ctx, customer, cancellation_id, actor=staff_actor(staff), note=note, ip=ip
        )
        return
    method = "sms" if check is CallerCheck.CODE else "password"
    verify(session, ctx, customer, cancellation_id, method=method, secret=secret, ip=ip)
