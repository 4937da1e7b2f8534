"""The database-backed job queue: enqueue in the caller's transaction, claim with a lease.

A job row commits together with the state change that asked for it (outbox), so work is never
lost and never announced before it exists. Workers claim one row at a time with a conditional
UPDATE that only succeeds while the row is still due, and hold it under a lease; a worker that
dies simply lets its lease run out and another takes the job over.

``attempts`` doubles as a fencing token: every claim increments it, so a worker whose lease
was taken over (even by a process with the same ``worker_id``) can no longer touch the row.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Result, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from esimcare.db import transaction
from esimcare.jobs.errors import LeaseLostError
from esimcare.jobs.models import Job, JobStatus
from esimcare.kit.clock import Clock

# Keeps one runaway traceback from bloating the jobs table.
MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class ClaimedJob:
    """What a worker holds while running a job; ``attempts`` counts this run."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    worker_id: str
    lease_until: datetime


def enqueue(
    session: Session,
    *,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    run_after: datetime | None = None,
    dedupe_key: str | None = None,
) -> Job:
    """Add a job in the caller's transaction; a known ``dedupe_key`` returns the existing job."""
    if dedupe_key is not None:
        existing = _by_dedupe_key(session, dedupe_key)
        if existing is not None:
            return existing
    job = Job(
        kind=kind,
        payload=payload,
        dedupe_key=dedupe_key,
        status=JobStatus.QUEUED,
        attempts=0,
        run_after=run_after or now,
        created_at=now,
    )
    try:
        # A savepoint, so losing a race on dedupe_key does not abort the caller's transaction.
        with session.begin_nested():
            session.add(job)
    except IntegrityError:
        if dedupe_key is None:
            raise
        winner = _by_dedupe_key(session, dedupe_key)
        if winner is None:
            raise
        return winner
    return job


def _by_dedupe_key(session: Session, dedupe_key: str) -> Job | None:
    return session.execute(select(Job).where(Job.dedupe_key == dedupe_key)).scalar_one_or_none()


def _rowcount(result: Result[Any]) -> int:
    # Session.execute is typed as returning Result; DML always yields a CursorResult.
    return cast("CursorResult[Any]", result).rowcount


def _due(now: datetime) -> ColumnElement[bool]:
    """Queued and due, or running under a lease that has run out (its worker is gone)."""
    return or_(
        and_(Job.status == JobStatus.QUEUED, Job.run_after <= now),
        and_(Job.status == JobStatus.RUNNING, Job.lease_until < now),
    )


class JobQueue:
    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock, *, worker_id: str, lease_s: float
    ) -> None:
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        self.sessions = sessions
        self.clock = clock
        self.worker_id = worker_id
        self.lease_s = lease_s

    def claim(self, kinds: Collection[str] | None = None) -> ClaimedJob | None:
        """Take the oldest due job (optionally of the given kinds), or None if there is none."""
        if kinds is not None and not kinds:
            return None
        with transaction(self.sessions) as session:
            now = self.clock.now()
            job_id = self._pick(session, now, kinds)
            if job_id is None:
                return None
            lease_until = now + timedelta(seconds=self.lease_s)
            claimed = session.execute(
                update(Job)
                .where(Job.id == job_id, _due(now))
                .values(
                    status=JobStatus.RUNNING,
                    attempts=Job.attempts + 1,
                    lease_until=lease_until,
                    locked_by=self.worker_id,
                )
                .execution_options(synchronize_session=False)
            )
            # Another worker got there between our SELECT and UPDATE (possible only where
            # the row was not locked): the UPDATE's own WHERE saw it was no longer due.
            if _rowcount(claimed) != 1:
                return None
            row = session.execute(
                select(Job.kind, Job.payload, Job.attempts).where(Job.id == job_id)
            ).one()
            return ClaimedJob(
                id=job_id,
                kind=row.kind,
                payload=row.payload,
                attempts=row.attempts,
                worker_id=self.worker_id,
                lease_until=lease_until,
            )

    @staticmethod
    def _pick(session: Session, now: datetime, kinds: Collection[str] | None) -> int | None:
        query = select(Job.id).where(_due(now)).order_by(Job.run_after, Job.id).limit(1)
        if kinds is not None:
            query = query.where(Job.kind.in_(list(kinds)))
        # PostgreSQL: lock the row and let concurrent claimers skip it rather than queue behind
        # us. SQLite renders no FOR UPDATE; there BEGIN IMMEDIATE already serialises writers
        # and the conditional UPDATE in claim() is the guard.
        return session.execute(query.with_for_update(skip_locked=True)).scalar_one_or_none()

    def extend_lease(self, job: ClaimedJob) -> bool:
        """Push the lease forward; False means the job is no longer ours."""
        with transaction(self.sessions) as session:
            now = self.clock.now()
            return self._update_mine(
                session, job, lease_until=now + timedelta(seconds=self.lease_s)
            )

    def finish(self, session: Session, job: ClaimedJob) -> None:
        """Mark the job done in the caller's transaction, so it commits with the step's work.

        Raises LeaseLostError when the job is no longer ours; the caller's transaction must
        then roll back, because another worker is (or was) doing the same step.
        """
        now = self.clock.now()
        if not self._update_mine(
            session, job, status=JobStatus.DONE, lease_until=None, finished_at=now
        ):
            raise LeaseLostError(f"job {job.id} is no longer held by {job.worker_id}")

    def finish_alone(self, job: ClaimedJob) -> bool:
        """Mark the job done in its own transaction; False if it was no longer ours to finish."""
        with transaction(self.sessions) as session:
            try:
                self.finish(session, job)
            except LeaseLostError:
                return False
            return True

    def retry_later(self, job: ClaimedJob, error: str, delay_s: float) -> bool:
        """Put the job back in the queue after ``delay_s``; False if it was no longer ours."""
        with transaction(self.sessions) as session:
            now = self.clock.now()
            return self._update_mine(
                session,
                job,
                status=JobStatus.QUEUED,
                run_after=now + timedelta(seconds=delay_s),
                lease_until=None,
                locked_by=None,
                last_error=error[:MAX_ERROR_CHARS],
            )

    def bury(self, job: ClaimedJob, error: str) -> bool:
        """Give the job up for good (status dead); False if it was no longer ours."""
        with transaction(self.sessions) as session:
            now = self.clock.now()
            return self._update_mine(
                session,
                job,
                status=JobStatus.DEAD,
                lease_until=None,
                finished_at=now,
                last_error=error[:MAX_ERROR_CHARS],
            )

    @staticmethod
    def _update_mine(session: Session, job: ClaimedJob, **values: Any) -> bool:
        """Change the row only while this very claim still holds it."""
        result = session.execute(
            update(Job)
            .where(
                Job.id == job.id,
                Job.status == JobStatus.RUNNING,
                Job.locked_by == job.worker_id,
                Job.attempts == job.attempts,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1
