"""Expiring the requests not verified in time: one sweep a minute per operator, not a job per
request (a sweep names its operator, as every job names its tenant through its payload).

A request makes sure its operator's sweep of the minute its window ends in is queued. The
first request of that minute in a process inserts it (``INSERT ... ON CONFLICT DO NOTHING``
on the minute's dedupe key, so processes never queue it twice), and the process remembers
it once that commits: the other requests of the minute insert nothing. The sweep expires
every request of its operator still awaiting verification whose window has ended by the
time it runs, found by a partial index that holds only those
(``ix_cancellations_awaiting_by_age``), in batches.

A verification past the window is refused whether or not the sweep has run yet
(``service._check_awaiting`` closes it as expired); the sweep closes it for everyone else, so
the eSIM may be requested again. The sweep's minute is never in the past when a request asks
for it (the window is longer than a minute), so its job has not run yet.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Final
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session, sessionmaker

from esimcare.cancellations.models import AWAITING, Cancellation
from esimcare.cancellations.systems import RequestSystems
from esimcare.db import transaction
from esimcare.jobs.queue import ClaimedJob, JobQueue, enqueue_new

EXPIRE_DUE_JOB: Final = "cancellation.expire_due"
SWEEP_EVERY: Final = timedelta(minutes=1)
_BATCH: Final = 200
# Per database (engine): the sweeps this process has seen queued, by operator and minute.
_QUEUED: WeakKeyDictionary[Engine, set[tuple[str, datetime]]] = WeakKeyDictionary()
_QUEUED_LOCK = threading.Lock()


def sweep_after(window_end: datetime) -> datetime:
    """The first sweep at or after ``window_end``: the next whole minute."""
    step = SWEEP_EVERY.total_seconds()
    epoch = datetime(1970, 1, 1, tzinfo=window_end.tzinfo)
    periods = -(-(window_end - epoch).total_seconds() // step)  # rounded up
    return epoch + timedelta(seconds=periods * step)


def ensure_sweep(
    session: Session, operator_id: str, *, window_end: datetime, now: datetime
) -> None:
    """Queue the operator's sweep that will expire a request whose window ends at
    ``window_end``, in the request's transaction, unless this process knows it is queued."""
    at = sweep_after(window_end)
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    with _QUEUED_LOCK:
        known = _QUEUED.setdefault(engine, set())
        if (operator_id, at) in known:
            return
    enqueue_new(session, kind=EXPIRE_DUE_JOB, payload={"operator_id": operator_id}, now=now,
                run_after=at, dedupe_key=f"expire-due:{operator_id}:{at.isoformat()}")  # fmt: skip

    def remember(_session: Session) -> None:
        # Requests of other threads remember theirs at the same time.
        with _QUEUED_LOCK:
            known.difference_update({seen for seen in known if seen[1] <= now})
            known.add((operator_id, at))

    event.listen(session, "after_commit", remember, once=True)


def expire_due(sessions: sessionmaker[Session], ctx: RequestSystems, queue: JobQueue,
               job: ClaimedJob) -> None:  # fmt: skip
    """The sweep: expire every request of its operator past its window, a batch per
    transaction; the job is finished with the last batch."""
    from esimcare.cancellations.service import expire  # service queues the sweep

    window = timedelta(seconds=ctx.settings.limits.verification_window_s)
    operator_id = job.payload["operator_id"]
    while True:
        with transaction(sessions) as session:
            cutoff = ctx.clock.now() - window
            due = session.scalars(
                select(Cancellation.id)
                .where(
                    text(AWAITING),
                    Cancellation.created_at <= cutoff,
                    Cancellation.operator_id == operator_id,
                )
                .order_by(Cancellation.created_at)
                .limit(_BATCH)
            ).all()
            for cancellation_id in due:
                expire(session, ctx, cancellation_id)
            if len(due) < _BATCH:
                queue.finish(session, job)
                return
