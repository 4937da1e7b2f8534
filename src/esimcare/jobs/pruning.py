"""Deleting what is only kept for a while: finished jobs, the ES2+ call log and received ES2+
notifications older than the retention (``ESIMCARE_RETENTION_DAYS``, 90 by default).

The tables hot queries touch (claiming jobs, the receiver's dedupe) then stay the size of the
retention window instead of growing for ever. Rows go in batches of ``batch_size``, each batch
in its own short transaction, so a backlog never holds locks for long. ``prune`` is one batch
in the caller's transaction (the ``esimcare prune`` command can loop over it too); the
periodic job ``PRUNE_JOB`` loops until a batch comes back short, then schedules its next run.

Dead jobs are kept: they are what staff look at when something failed for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import ColumnElement, CursorResult, delete, select
from sqlalchemy.orm import Session, sessionmaker

from esimcare.db import transaction
from esimcare.esims.notifications import Es2PlusNotification
from esimcare.integrations.smdp.call_log import Es2PlusCall
from esimcare.jobs.models import Job, JobStatus
from esimcare.jobs.queue import ClaimedJob, JobQueue, enqueue_new
from esimcare.kit.clock import Clock

PRUNE_JOB: Final = "maintenance.prune"
PRUNE_EVERY: Final = timedelta(hours=1)
BATCH_SIZE: Final = 1000


@dataclass(frozen=True)
class PruneReport:
    jobs: int = 0
    es2plus_calls: int = 0
    es2plus_notifications: int = 0
    # True when some table gave a full batch: there may be more to delete.
    more: bool = False

    def __add__(self, other: PruneReport) -> PruneReport:
        return PruneReport(
            self.jobs + other.jobs,
            self.es2plus_calls + other.es2plus_calls,
            self.es2plus_notifications + other.es2plus_notifications,
            other.more,
        )


def prune(
    session: Session, now: datetime, retention: timedelta, *, batch_size: int = BATCH_SIZE
) -> PruneReport:
    """Delete up to ``batch_size`` expired rows from each table, in the caller's transaction."""
    if retention <= timedelta(0) or batch_size < 1:
        raise ValueError("retention and batch_size must be positive")
    cutoff = now - retention
    jobs = _delete_batch(
        session, Job, (Job.status == JobStatus.DONE) & (Job.finished_at < cutoff), batch_size
    )
    calls = _delete_batch(session, Es2PlusCall, Es2PlusCall.sent_at < cutoff, batch_size)
    notifications = _delete_batch(
        session, Es2PlusNotification, Es2PlusNotification.received_at < cutoff, batch_size
    )
    more = max(jobs, calls, notifications) >= batch_size
    return PruneReport(jobs, calls, notifications, more)


def _delete_batch(
    session: Session, model: Any, expired: ColumnElement[bool], batch_size: int
) -> int:
    # Oldest first by primary key: expired rows are the low ids, so the sub-select stops early.
    batch = select(model.id).where(expired).order_by(model.id).limit(batch_size)
    result = session.execute(
        delete(model)
        .where(model.id.in_(batch.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    # Session.execute is typed as returning Result; DML always yields a CursorResult.
    return cast("CursorResult[Any]", result).rowcount


def prune_all(
    sessions: sessionmaker[Session],
    clock: Clock,
    retention: timedelta,
    *,
    batch_size: int = BATCH_SIZE,
) -> PruneReport:
    """Batches, each committed on its own, until none is full."""
    total = PruneReport()
    while True:
        with transaction(sessions) as session:
            report = prune(session, clock.now(), retention, batch_size=batch_size)
        total += report
        if not report.more:
            return total


def schedule_pruning(session: Session, now: datetime) -> None:
    """Make sure a pruning run is queued for the current period (any number of workers may
    ask; the period's dedupe key keeps it to one)."""
    _enqueue_run(session, now, _period_start(now))


def run_pruning(
    sessions: sessionmaker[Session], queue: JobQueue, job: ClaimedJob, retention: timedelta
) -> None:
    """The periodic job: prune everything due, then queue the next period's run, in the same
    commit as the job's completion."""
    prune_all(sessions, queue.clock, retention)
    with transaction(sessions) as session:
        now = queue.clock.now()
        _enqueue_run(session, now, _period_start(now) + PRUNE_EVERY)
        queue.finish(session, job)


def _enqueue_run(session: Session, now: datetime, run_at: datetime) -> None:
    enqueue_new(
        session,
        kind=PRUNE_JOB,
        payload={},
        now=now,
        run_after=max(run_at, now),
        dedupe_key=f"prune:{run_at.isoformat()}",
    )


def _period_start(now: datetime) -> datetime:
    seconds = PRUNE_EVERY.total_seconds()
    epoch = datetime(1970, 1, 1, tzinfo=now.tzinfo)
    periods = int((now - epoch).total_seconds() // seconds)
    return epoch + timedelta(seconds=periods * seconds)
