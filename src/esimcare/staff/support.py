"""Support requests: asked from the portal ("Need help?"), answered and closed by staff.

An answer goes to the customer through the notice outbox (SMS or e-mail, as the customer
asked), like every other message; asking, answering and closing are audit rows.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from esimcare.audit.service import record
from esimcare.cancellations.service import get_cancellation
from esimcare.customers.models import Customer
from esimcare.errors import InvalidInputError, InvalidTransitionError, NotFoundError
from esimcare.esims.service import get_esim
from esimcare.notices.models import Channel
from esimcare.notices.service import notify_one_channel
from esimcare.staff.audit import record_staff_action
from esimcare.staff.lookup import customer_for_staff
from esimcare.staff.models import StaffMember, SupportRequest, SupportStatus
from esimcare.staff.roles import Permission
from esimcare.staff.rules import require

MAX_MESSAGE = 2000
ANSWER_SUBJECT = {
    "ru": "Ответ на ваше обращение №{id}",
    "en": "Answer to your request #{id}",
    "zh": "对您的请求 #{id} 的答复",
}


def reply_channels(customer: Customer) -> list[Channel]:
    return [Channel.SMS, Channel.EMAIL] if customer.email else [Channel.SMS]


def ask_for_help(
    session: Session,
    customer: Customer,
    *,
    message: str,
    reply_channel: str,
    esim_id: int | None,
    cancellation_id: int | None,
    now: datetime,
    ip: str | None = None,
) -> SupportRequest:
    """A customer's request, tied to their own eSIM or cancellation (another's is 404)."""
    text = message.strip()
    if not text or len(text) > MAX_MESSAGE:
        raise InvalidInputError("write your question (at most 2000 characters)", field="message")
    channel = _channel(customer, reply_channel)
    if cancellation_id is not None:
        esim_id = get_cancellation(session, customer, cancellation_id).esim_id
    if esim_id is not None:
        get_esim(session, customer.operator_id, customer.id, esim_id)
    request = SupportRequest(
        operator_id=customer.operator_id,
        customer_id=customer.id,
        esim_id=esim_id,
        cancellation_id=cancellation_id,
        message=text,
        reply_channel=channel.value,
        status=SupportStatus.OPEN,
        created_at=now,
    )
    session.add(request)
    session.flush()
    record(
        session,
        operator_id=customer.operator_id,
        actor=f"customer:{customer.id}",
        action="support.requested",
        subject=f"support:{request.id}",
        at=now,
        ip=ip,
        data={"esim_id": esim_id, "cancellation_id": cancellation_id},
    )
    return request


def _channel(customer: Customer, value: str) -> Channel:
    try:
        channel = Channel(value)
    except ValueError:
        raise InvalidInputError("choose SMS or e-mail", field="reply_channel") from None
    if channel not in reply_channels(customer):
        raise InvalidInputError("no e-mail address is on the account", field="reply_channel")
    return channel


def open_requests(
    session: Session, staff: StaffMember, *, include_closed: bool = False, limit: int = 200
) -> list[SupportRequest]:
    """Open ones first (oldest waiting longest at the top), then answered, then closed."""
    require(staff, Permission.LOOK_UP)
    query = select(SupportRequest)
    if staff.operator_id is not None:
        query = query.where(SupportRequest.operator_id == staff.operator_id)
    if not include_closed:
        query = query.where(SupportRequest.status != SupportStatus.CLOSED)
    order = case(
        (SupportRequest.status == SupportStatus.OPEN, 0),
        (SupportRequest.status == SupportStatus.ANSWERED, 1),
        else_=2,
    )
    return list(session.scalars(query.order_by(order, SupportRequest.id).limit(limit)))


def request_for_staff(session: Session, staff: StaffMember, request_id: int) -> SupportRequest:
    require(staff, Permission.LOOK_UP)
    request = session.get(SupportRequest, request_id)
    if request is None or staff.operator_id not in (None, request.operator_id):
        raise NotFoundError("no such support request")
    return request


def view_request(
    session: Session, staff: StaffMember, request_id: int, *, now: datetime, ip: str | None
) -> SupportRequest:
    """A request opened in the console: reading a customer's message is audited too."""
    request = request_for_staff(session, staff, request_id)
    record_staff_action(
        session,
        staff,
        "staff.support_viewed",
        subject=f"support:{request.id}",
        operator_id=request.operator_id,
        at=now,
        ip=ip,
    )
    return request


def answer_request(
    session: Session,
    staff: StaffMember,
    request_id: int,
    *,
    text: str,
    now: datetime,
    ip: str | None = None,
) -> SupportRequest:
    require(staff, Permission.ANSWER_SUPPORT)
    request = request_for_staff(session, staff, request_id)
    answer = text.strip()
    if not answer or len(answer) > MAX_MESSAGE:
        raise InvalidInputError("write the answer (at most 2000 characters)", field="answer")
    if request.status is SupportStatus.CLOSED:
        raise InvalidTransitionError("the request is closed")
    customer = customer_for_staff(session, staff, request.customer_id)
    subject = ANSWER_SUBJECT.get(customer.language, ANSWER_SUBJECT["en"]).format(id=request.id)
    notice = notify_one_channel(
        session,
        customer,
        channel=Channel(request.reply_channel),
        subject=subject,
        body=answer,
        event_key=f"support:{request.id}:answer:{secrets.token_hex(6)}",
        now=now,
    )
    request.answer, request.answered_by, request.answered_at = answer, staff.id, now
    request.status = SupportStatus.ANSWERED
    record_staff_action(
        session,
        staff,
        "staff.support_answered",
        subject=f"support:{request.id}",
        operator_id=request.operator_id,
        at=now,
        ip=ip,
        data={"notice_id": notice.id, "channel": request.reply_channel},
    )
    return request


def close_request(
    session: Session,
    staff: StaffMember,
    request_id: int,
    *,
    why: str,
    now: datetime,
    ip: str | None = None,
) -> SupportRequest:
    require(staff, Permission.ANSWER_SUPPORT)
    request = request_for_staff(session, staff, request_id)
    if request.status is SupportStatus.CLOSED:
        raise InvalidTransitionError("the request is already closed")
    request.status, request.closed_at = SupportStatus.CLOSED, now
    record_staff_action(
        session,
        staff,
        "staff.support_closed",
        subject=f"support:{request.id}",
        operator_id=request.operator_id,
        at=now,
        ip=ip,
        why=why.strip()[:300] or None,
    )
    return request
