"""The throttled bulk job: each run starts at most ``per_second`` lines, then queues the next
run a second later, so a 10,000-line file never floods the SM-DP+ or the notice gateways.

Each line commits on its own savepoint: one line's refusal (its eSIM changed since the dry run,
another cancellation won the race) fails that line only. The lines, the next run and the job's
completion commit together, so a crash repeats nothing: a started line is no longer pending.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from esimcare.bulk.models import BulkJob, BulkLine, BulkStatus, LineStatus
from esimcare.bulk.service import BULK_TICK_JOB, AlreadyCancelledError, find_line_esim
from esimcare.cancellations.staff_start import BULK_BY_SUPERVISOR, start_verified_by_staff
from esimcare.cancellations.systems import ServiceSystems
from esimcare.db import transaction
from esimcare.errors import DomainError
from esimcare.esims.states import EsimStatus
from esimcare.jobs.queue import ClaimedJob, JobQueue, enqueue

__all__ = ["BULK_TICK_JOB", "run_bulk_tick"]


def run_bulk_tick(ctx: ServiceSystems, queue: JobQueue, job: ClaimedJob) -> None:
    with transaction(ctx.sessions) as session:
        now = ctx.clock.now()
        bulk = session.get(BulkJob, job.payload["bulk_job_id"], with_for_update=True)
        if bulk is None or bulk.status is BulkStatus.FINISHED:
            queue.finish(session, job)
            return
        lines = _pending(session, bulk.id, bulk.per_second)
        for line in lines:
            _start_line(session, ctx, bulk, line, now)
        if len(lines) < bulk.per_second or not _pending(session, bulk.id, 1):
            bulk.status = BulkStatus.FINISHED
            bulk.finished_at = now
        else:
            enqueue(
                session,
                kind=BULK_TICK_JOB,
                payload={"bulk_job_id": bulk.id},
                now=now,
                run_after=now + timedelta(seconds=1),
                dedupe_key=f"bulk:{bulk.id}:tick:{lines[-1].line_no}",
            )
        queue.finish(session, job)


def _pending(session: Session, bulk_job_id: int, limit: int) -> list[BulkLine]:
    return list(
        session.scalars(
            select(BulkLine)
            .where(BulkLine.bulk_job_id == bulk_job_id, BulkLine.status == LineStatus.PENDING)
            .order_by(BulkLine.line_no)
            .limit(limit)
        )
    )


def _start_line(
    session: Session, ctx: ServiceSystems, bulk: BulkJob, line: BulkLine, now: datetime
) -> None:
    try:
        with session.begin_nested():
            customer, view = find_line_esim(session, ctx, bulk.operator_id, line.value)
            if view.esim.status is EsimStatus.CANCELLED:
                raise AlreadyCancelledError()
            cancellation = start_verified_by_staff(
                session,
                ctx,
                customer,
                view,
                reason=bulk.reason,
                actor=bulk.created_by,
                method=BULK_BY_SUPERVISOR,
                note=f"bulk by supervisor {bulk.created_by} (bulk job {bulk.id})",
                now=now,
            )
    except DomainError as refusal:
        _fail(line, refusal.code)
    except IntegrityError:
        # The partial unique index: another cancellation of this eSIM got in first.
        _fail(line, "cancellation-in-progress")
    else:
        line.status = LineStatus.STARTED
        line.cancellation_id = cancellation.id


def _fail(line: BulkLine, code: str) -> None:
    line.status = LineStatus.FAILED
    line.reason = code
