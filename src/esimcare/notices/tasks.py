"""Delivering notices: read them, call the gateways outside any transaction, then mark them sent
and complete their jobs in one commit. A worker that claimed several delivery jobs at once
delivers them together: two transactions for the lot instead of two for each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from esimcare.cancellations.undo_links import with_undo_links
from esimcare.config import Settings
from esimcare.db import transaction
from esimcare.integrations.email.interface import EmailGateway
from esimcare.integrations.sms.interface import SmsGateway
from esimcare.jobs.queue import ClaimedJob, JobQueue
from esimcare.kit.clock import Clock
from esimcare.notices.models import Channel, Notice
from esimcare.operators.policy import Policy


class DeliverySystems(Protocol):
    """What delivering a notice uses of the process (``Context`` satisfies it)."""

    @property
    def readers(self) -> sessionmaker[Session]: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def sessions(self) -> sessionmaker[Session]: ...

    @property
    def sms(self) -> SmsGateway: ...

    @property
    def email(self) -> EmailGateway: ...

    def policy(self, operator_id: str) -> Policy: ...


@dataclass(frozen=True)
class _Outgoing:
    job: ClaimedJob
    channel: Channel
    destination: str
    subject: str
    body: str
    key: str
    sender: str | None


def deliver_notice(ctx: DeliverySystems, queue: JobQueue, job: ClaimedJob) -> None:
    failures = deliver_notices(ctx, queue, [job])
    if job.id in failures:
        raise failures[job.id]


def deliver_notices(
    ctx: DeliverySystems, queue: JobQueue, jobs: list[ClaimedJob]
) -> dict[int, Exception]:
    """Deliver each job's notice; returns the failed sends by job id (the worker retries
    them). A notice already sent, or gone, just completes its job."""
    outgoing = _outgoing(ctx, jobs)
    sent: list[tuple[ClaimedJob, str | None]] = [
        (job, None) for job in jobs if job.id not in {o.job.id for o in outgoing}
    ]
    failures: dict[int, Exception] = {}
    for message in outgoing:
        try:
            sent.append((message.job, _send(ctx, message)))
        # Job boundary: one failed send is that job's failure alone; the others sent.
        except Exception as error:  # noqa: BLE001 - handed to the worker, which retries it
            failures[message.job.id] = error
    if sent:
        _mark_sent(ctx, queue, sent, ctx.clock.now())
    return failures


def _outgoing(ctx: DeliverySystems, jobs: list[ClaimedJob]) -> list[_Outgoing]:
    by_id = {job.payload["notice_id"]: job for job in jobs}
    settings = ctx.settings
    with transaction(ctx.readers) as session:
        notices = session.execute(_UNSENT, {"notice_ids": list(by_id)})
        return [
            _Outgoing(
                by_id[notice.id],
                notice.channel,
                notice.destination,
                notice.subject,
                with_undo_links(session, settings.secret_key, settings.public_url, notice.body),
                notice.dedupe_key,
                ctx.policy(notice.operator_id).sms_sender or None,
            )
            for notice in notices
        ]


def _send(ctx: DeliverySystems, message: _Outgoing) -> str:
    # The key is stable per notice, so a retry after a crash is recognised as the same message.
    if message.channel is Channel.SMS:
        return ctx.sms.send(
            to=message.destination,
            body=message.body,
            message_key=message.key,
            sender=message.sender,
        )
    return ctx.email.send(
        to=message.destination, subject=message.subject, body=message.body, message_key=message.key
    )


def _mark_sent(
    ctx: DeliverySystems, queue: JobQueue, sent: list[tuple[ClaimedJob, str | None]], now: datetime
) -> None:
    """One commit for all: each notice is marked only with its job, and only while that job is
    still ours (otherwise the worker that took it over records its own send)."""
    message_ids = {job.id: message_id for job, message_id in sent}
    with transaction(ctx.sessions) as session:
        finished = queue.finish_those_mine(session, [job for job, _ in sent])
        marks = [
            {
                "notice_id": job.payload["notice_id"],
                "sent_at": now,
                "attempts": job.attempts,
                "provider_message_id": message_ids[job.id],
            }
            for job in finished
            if message_ids[job.id] is not None
        ]
        if marks:
            session.execute(_MARK_SENT, marks)  # one executemany


_NOTICES = cast(Table, Notice.__table__)
_UNSENT = select(
    _NOTICES.c.id,
    _NOTICES.c.operator_id,
    _NOTICES.c.channel,
    _NOTICES.c.destination,
    _NOTICES.c.subject,
    _NOTICES.c.body,
    _NOTICES.c.dedupe_key,
).where(_NOTICES.c.id.in_(bindparam("notice_ids", expanding=True)), _NOTICES.c.sent_at.is_(None))
# The columns set are the parameters' (sent_at, attempts, provider_message_id).
_MARK_SENT = update(_NOTICES).where(_NOTICES.c.id == bindparam("notice_id"))
