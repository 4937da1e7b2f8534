"""Deleting what has served its purpose, per operator, in small batches.

Finished jobs (done, never dead: those wait for staff), ES2+ call log rows and sent notices
older than the retention are deleted a batch per transaction, so a large backlog never holds
a long write lock (on SQLite, that lock is the whole database). Batches walk the ids upward,
so rows of other operators in a batch are skipped, never rescanned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session, sessionmaker

from esimcare.audit.service import record
from esimcare.db import transaction
from esimcare.integrations.smdp.call_log import Es2PlusCall
from esimcare.jobs.models import Job, JobStatus
from esimcare.kit.clock import iso
from esimcare.notices.models import Notice
from esimcare.operations.job_owners import job_operator

DEFAULT_BATCH = 500

# One batch: (session, scan ids above this) -> (rows deleted, highest id scanned or None).
_Batch = Callable[[Session, int], tuple[int, int | None]]


@dataclass(frozen=True)
class PruneRequest:
    operator_id: str
    older_than: datetime
    actor: str
    now: datetime
    batch: int = DEFAULT_BATCH


@dataclass(frozen=True)
class PruneReport:
    jobs: int
    es2plus_calls: int
    notices: int


def prune(sessions: sessionmaker[Session], request: PruneRequest) -> PruneReport:
    report = PruneReport(
        jobs=_in_batches(sessions, lambda s, after: _jobs(s, request, after)),
        es2plus_calls=_in_batches(sessions, lambda s, after: _calls(s, request, after)),
        notices=_in_batches(sessions, lambda s, after: _notices(s, request, after)),
    )
    with transaction(sessions) as session:
        record(
            session,
            operator_id=request.operator_id,
            actor=request.actor,
            action="ops.prune",
            subject=f"operator:{request.operator_id}",
            at=request.now,
            data={"older_than": iso(request.older_than), **asdict(report)},
        )
    return report


def _in_batches(sessions: sessionmaker[Session], batch: _Batch) -> int:
    total, after = 0, 0
    while True:
        with transaction(sessions) as session:
            deleted, last = batch(session, after)
        total += deleted
        if last is None:
            return total
        after = last


def _jobs(session: Session, request: PruneRequest, after: int) -> tuple[int, int | None]:
    jobs = list(
        session.scalars(
            select(Job)
            .where(
                Job.id > after,
                Job.status == JobStatus.DONE,
                Job.finished_at < request.older_than,
            )
            .order_by(Job.id)
            .limit(request.batch)
        )
    )
    mine = [job.id for job in jobs if job_operator(session, job) == request.operator_id]
    return _delete(session, Job, mine), jobs[-1].id if jobs else None


def _calls(session: Session, request: PruneRequest, after: int) -> tuple[int, int | None]:
    finished = Es2PlusCall.finished_at.is_not(None)
    return _delete_sent(session, Es2PlusCall, request, after, finished)


def _notices(session: Session, request: PruneRequest, after: int) -> tuple[int, int | None]:
    return _delete_sent(session, Notice, request, after)


def _delete_sent(
    session: Session,
    model: type[Es2PlusCall | Notice],
    request: PruneRequest,
    after: int,
    *also: ColumnElement[bool],
) -> tuple[int, int | None]:
    """One batch of the operator's rows sent before the retention (and matching ``also``)."""
    ids = list(
        session.scalars(
            select(model.id)
            .where(
                model.id > after,
                model.operator_id == request.operator_id,
                model.sent_at < request.older_than,
                *also,
            )
            .order_by(model.id)
            .limit(request.batch)
        )
    )
    return _delete(session, model, ids), ids[-1] if ids else None


def _delete(session: Session, model: type[Job | Es2PlusCall | Notice], ids: list[int]) -> int:
    if ids:
        session.execute(delete(model).where(model.id.in_(ids)))
    return len(ids)
