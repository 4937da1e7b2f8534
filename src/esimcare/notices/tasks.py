"""Delivering one notice: the gateway call, then the sent mark, committed with the job."""

from __future__ import annotations

from typing import Protocol

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


def deliver_notice(ctx: DeliverySystems, queue: JobQueue, job: ClaimedJob) -> None:
    with transaction(ctx.sessions) as session:
        notice = session.get(Notice, job.payload["notice_id"])
        if notice is None or notice.sent_at is not None:
            queue.finish(session, job)
            return
        channel, destination = notice.channel, notice.destination
        sender = ctx.policy(notice.operator_id).sms_sender or None
        subject, key = notice.subject, notice.dedupe_key
        settings = ctx.settings
        body = with_undo_links(session, settings.secret_key, settings.public_url, notice.body)
    # The key is stable per notice, so a retry after a crash is recognised as the same message.
    if channel is Channel.SMS:
        message_id = ctx.sms.send(to=destination, body=body, message_key=key, sender=sender)
    else:
        message_id = ctx.email.send(to=destination, subject=subject, body=body, message_key=key)
    with transaction(ctx.sessions) as session:
        notice = session.get(Notice, job.payload["notice_id"])
        assert notice is not None
        notice.sent_at = ctx.clock.now()
        notice.attempts = job.attempts
        notice.provider_message_id = message_id
        queue.finish(session, job)
