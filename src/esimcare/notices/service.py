"""Notices are written in the transaction of the event they report and delivered by a job."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from esimcare.customers.models import Customer
from esimcare.jobs.queue import enqueue, enqueue_new
from esimcare.notices.models import Channel, Notice
from esimcare.notices.templates import render

DELIVER_JOB = "notice.deliver"


def notify_all_channels(
    session: Session,
    customer: Customer,
    *,
    template: str,
    event_key: str,
    now: datetime,
    operator_name: str,
    **params: Any,
) -> list[Notice]:
    """Every contact channel hears of it at once (FCC 23-95 practice), each exactly once."""
    subject, body = render(template, customer.language, operator=operator_name, **params)
    destinations = [(Channel.SMS, customer.phone)]
    if customer.email:
        destinations.append((Channel.EMAIL, customer.email))
    notices = []
    for channel, destination in destinations:
        key = f"{event_key}:{channel.value}"
        existing = session.scalar(select(Notice).where(Notice.dedupe_key == key))
        if existing is not None:
            notices.append(existing)
            continue
        notice = Notice(
            operator_id=customer.operator_id,
            customer_id=customer.id,
            channel=channel,
            destination=destination,
            subject=subject,
            body=body,
            dedupe_key=key,
            created_at=now,
        )
        session.add(notice)
        session.flush()
        enqueue_new(
            session,
            kind=DELIVER_JOB,
            payload={"notice_id": notice.id},
            now=now,
            dedupe_key=f"notice:{notice.id}",
        )
        notices.append(notice)
    return notices


def notify_one_channel(
    session: Session,
    customer: Customer,
    *,
    channel: Channel,
    subject: str,
    body: str,
    event_key: str,
    now: datetime,
) -> Notice:
    """A written message (a staff member's answer) to one of the customer's contact channels."""
    destination = customer.email if channel is Channel.EMAIL else customer.phone
    if not destination:
        raise ValueError(f"the customer has no {channel.value} contact")
    notice = Notice(
        operator_id=customer.operator_id,
        customer_id=customer.id,
        channel=channel,
        destination=destination,
        subject=subject,
        body=body,
        dedupe_key=f"{event_key}:{channel.value}",
        created_at=now,
    )
    session.add(notice)
    session.flush()
    enqueue(session, kind=DELIVER_JOB, payload={"notice_id": notice.id}, now=now,
            dedupe_key=f"notice:{notice.id}")  # fmt: skip
    return notice
