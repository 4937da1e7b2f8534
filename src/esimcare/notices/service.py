"""Notices are written in the transaction of the event they report and delivered by a job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Protocol, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from esimcare.customers.models import Customer
from esimcare.jobs.queue import enqueue, enqueue_rows_new, new_job
from esimcare.notices.models import Channel, Notice
from esimcare.notices.templates import render

DELIVER_JOB = "notice.deliver"


class Contact(Protocol):
    """Whom a notice goes to: a ``Customer``, or just the columns of one (``Recipient``)."""

    @property
    def id(self) -> int: ...

    @property
    def operator_id(self) -> str: ...

    @property
    def language(self) -> str: ...

    @property
    def phone(self) -> str: ...

    @property
    def email(self) -> str | None: ...


@dataclass(frozen=True)
class Recipient:
    """A customer's contact columns, read without loading the ORM object."""

    id: int
    operator_id: str
    language: str
    phone: str
    email: str | None


def notify_all_channels(
    session: Session,
    customer: Contact,
    *,
    template: str,
    event_key: str,
    now: datetime,
    operator_name: str,
    along: list[dict[str, Any]] | None = None,
    deliveries_to: list[dict[str, Any]] | None = None,
    **params: Any,
) -> list[int]:
    """Every contact channel hears of it at once (FCC 23-95 practice), each exactly once: a
    channel whose notice of this event exists already is passed over. The new notices' ids.

    Two statements whatever the channels: the notices in one ``INSERT ... ON CONFLICT DO
    NOTHING RETURNING``, their delivery jobs in another, which also inserts the caller's own
    jobs of this transaction (``along``: ``new_job`` rows), so they cost no statement more.
    With ``deliveries_to``, the delivery jobs' rows go there instead, for the caller to insert
    with a statement of its own (``JobQueue.finish_enqueuing``)."""
    subject, body = render(template, customer.language, operator=operator_name, **params)
    destinations = [(Channel.SMS, customer.phone)]
    if customer.email:
        destinations.append((Channel.EMAIL, customer.email))
    rows = [
        {
            "operator_id": customer.operator_id,
            "customer_id": customer.id,
            "channel": channel,
            "destination": destination,
            "subject": subject,
            "body": body,
            "dedupe_key": f"{event_key}:{channel.value}",
            "created_at": now,
            "attempts": 0,
        }
        for channel, destination in destinations
    ]
    new_ids = sorted(session.scalars(_insert_notices(session.get_bind().dialect.name), rows))
    deliveries = [
        new_job(kind=DELIVER_JOB, payload={"notice_id": notice_id}, now=now,
                dedupe_key=f"notice:{notice_id}")
        for notice_id in new_ids
    ]  # fmt: skip
    if deliveries_to is not None:
        deliveries_to.extend([*(along or []), *deliveries])
    else:
        enqueue_rows_new(session, [*(along or []), *deliveries])
    return new_ids


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


@cache
def _insert_notices(dialect: str) -> Any:
    """Notices whose dedupe key is new, returning their ids (one statement for all rows)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast(Table, Notice.__table__)
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=[table.c.dedupe_key])
        .returning(table.c.id)
    )
