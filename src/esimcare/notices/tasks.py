"""Delivering one notice: the gateway call, then the sent mark, committed with the job."""

from __future__ import annotations

from esimcare.cancellations.undo_links import with_undo_links
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.jobs.queue import ClaimedJob, JobQueue
from esimcare.notices.models import Channel, Notice


def deliver_notice(ctx: Context, queue: JobQueue, job: ClaimedJob) -> None:
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
