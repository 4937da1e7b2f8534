"""The database-backed job queue: enqueue in the caller's transaction, claim with a lease.

A job row commits together with the state change that asked for it (outbox), so work is never
lost and never announced before it exists. Workers claim up to N due rows in one statement (a
conditional UPDATE ... RETURNING that only takes rows still due; on PostgreSQL over a
``FOR UPDATE SKIP LOCKED`` sub-select, so concurrent claimers never queue behind each other)
and hold them under a lease; a worker that dies simply lets its leases run out and another
takes the jobs over. A handler can also enqueue its follow-up job already claimed by itself
(``enqueue_claimed``), which saves the follow-up a trip through the queue, or turn its own
finished row into that follow-up (``hand_on``), which saves the row as well.

On PostgreSQL every transaction that enqueued a job sends ``NOTIFY esimcare_jobs`` as it
commits (``jobs/wakeup.py`` listens), so idle workers wake at once instead of polling.

``attempts`` doubles as a fencing token: every claim increments it, so a worker whose lease
was taken over (even by a process with the same ``worker_id``) can no longer touch the row.
A row handed on to a follow-up starts its attempts again, so the fence also takes its
``dedupe_key``, which the hand-over changes.

The statements of the hot paths are built once, here, with bound parameters: building one per
call costs more Python time than the database spends running it.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Final, cast

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    CursorResult,
    Executable,
    Result,
    Select,
    Subquery,
    Table,
    Update,
    and_,
    bindparam,
    event,
    exists,
    func,
    or_,
    select,
    text,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from esimcare.db import transaction
from esimcare.jobs.errors import LeaseLostError
from esimcare.jobs.models import Job, JobStatus
from esimcare.kit.clock import Clock

# Keeps one runaway traceback from bloating the jobs table.
MAX_ERROR_CHARS = 4000
# The channel idle workers LISTEN on (PostgreSQL only).
WAKEUP_CHANNEL: Final = "esimcare_jobs"
_NOTIFY_PENDING = "esimcare.jobs.notify"
JOBS = cast(Table, Job.__table__)


@dataclass(frozen=True)
class ClaimedJob:
    """What a worker holds while running a job; ``attempts`` counts this run."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    worker_id: str
    lease_until: datetime
    dedupe_key: str | None = None

    @property
    def claim(self) -> tuple[int, int, str | None]:
        """What tells this claim from any other of the same row (a retry, a hand-on)."""
        return self.id, self.attempts, self.dedupe_key


def enqueue(
    session: Session,
    *,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    run_after: datetime | None = None,
    dedupe_key: str | None = None,
) -> Job:
    """Add a job in the caller's transaction; a known ``dedupe_key`` returns the existing job.

    One ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: a concurrent transaction that takes
    the same key first makes this one wait for it and then return its job, and the caller's
    transaction stays usable either way (no savepoint needed).
    """
    values = _row(kind, payload, now, dedupe_key, run_after or now)
    insert = _dialect_insert(session)(Job).values(**values)
    if dedupe_key is not None:
        insert = insert.on_conflict_do_nothing(index_elements=[Job.dedupe_key])
    job: Job | None = session.scalars(
        insert.returning(Job), execution_options={"populate_existing": True}
    ).one_or_none()
    if job is not None:
        _wake_workers_on_commit(session)
        return job
    assert dedupe_key is not None  # only ON CONFLICT DO NOTHING inserts nothing
    winner = _by_dedupe_key(session, dedupe_key)
    if winner is None:
        raise LookupError(f"job {dedupe_key!r} conflicted but cannot be read")
    return winner


def enqueue_new(
    session: Session,
    *,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    dedupe_key: str,
    run_after: datetime | None = None,
) -> int | None:
    """``enqueue`` in one statement (``INSERT ... ON CONFLICT DO NOTHING``), for hot paths that
    need no ORM object: the new job's id, or None when the dedupe key was already taken."""
    values = _row(kind, payload, now, dedupe_key, run_after or now)
    return _insert_unless_known(session, values)


def new_job(
    *,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    dedupe_key: str,
    run_after: datetime | None = None,
) -> dict[str, Any]:
    """A job's row for ``enqueue_rows_new``, which inserts it with others."""
    return _row(kind, payload, now, dedupe_key, run_after or now)


def enqueue_rows_new(session: Session, rows: list[dict[str, Any]]) -> None:
    """Jobs of any kinds (``new_job`` rows) in one statement (an executemany); a dedupe key
    already taken is passed over."""
    if not rows:
        return
    session.execute(_insert_new(_dialect(session)), rows)
    _wake_workers_on_commit(session)


def _row(
    kind: str, payload: dict[str, Any], now: datetime, dedupe_key: str | None, run_after: datetime
) -> dict[str, Any]:
    return {
        "kind": kind,
        "payload": payload,
        "dedupe_key": dedupe_key,
        "status": JobStatus.QUEUED,
        "attempts": 0,
        "run_after": run_after,
        "created_at": now,
    }


def _dialect_insert(session: Session) -> Any:
    return postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert


@cache
def _insert_new(dialect: str) -> Any:
    """``INSERT INTO jobs ... ON CONFLICT (dedupe_key) DO NOTHING``, once per dialect."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(JOBS).on_conflict_do_nothing(index_elements=[JOBS.c.dedupe_key])


_FINISH_INSERTING_COLUMNS = ("kind", "payload", "dedupe_key", "status", "attempts", "run_after",
                             "created_at", "finished_at")  # fmt: skip


@cache
def _finish_inserting(dialect: str, count: int) -> Any:
    """``INSERT INTO jobs VALUES (...) x count ON CONFLICT (dedupe_key) DO UPDATE`` that
    finishes only the row of the claim in the ``claim_*`` parameters (every other known key
    is passed over, as by ``_insert_new``); returns the ids inserted or finished.

    Written as text (the same on both databases) with each parameter typed as its column:
    SQLAlchemy does not cache a compiled ``on_conflict_do_update``, and compiling it anew
    for each finish cost more than the statement it saves."""
    del dialect  # the same statement on both (kept in the key for symmetry with the others)
    columns = ", ".join(_FINISH_INSERTING_COLUMNS)
    rows = ", ".join(
        "(" + ", ".join(f":r{index}_{name}" for name in _FINISH_INSERTING_COLUMNS) + ")"
        for index in range(count)
    )
    typed = [
        bindparam(f"r{index}_{name}", type_=JOBS.c[name].type)
        for index in range(count)
        for name in _FINISH_INSERTING_COLUMNS
    ]
    return (
        text(
            # Only constant column names and a count of rows go into the text.
            f"INSERT INTO jobs ({columns}) VALUES {rows} ON CONFLICT (dedupe_key) DO UPDATE "  # noqa: S608
            "SET status = :done, lease_until = NULL, finished_at = :now "
            "WHERE jobs.id = :claim_id AND jobs.status = :running "
            "AND jobs.locked_by = :claim_worker AND jobs.attempts = :claim_attempts "
            "RETURNING jobs.id"
        )
        .bindparams(
            *typed,
            bindparam("done", JobStatus.DONE, type_=JOBS.c.status.type),
            bindparam("running", JobStatus.RUNNING, type_=JOBS.c.status.type),
            bindparam("now", type_=JOBS.c.finished_at.type),
            bindparam("claim_id", type_=JOBS.c.id.type),
            bindparam("claim_worker", type_=JOBS.c.locked_by.type),
            bindparam("claim_attempts", type_=JOBS.c.attempts.type),
        )
        .columns(JOBS.c.id)
    )


@cache
def _insert_new_returning_id(dialect: str) -> Any:
    return _insert_new(dialect).returning(JOBS.c.id)


def _insert_unless_known(session: Session, values: dict[str, Any]) -> int | None:
    inserted = session.execute(
        _insert_new_returning_id(_dialect(session)), values
    ).scalar_one_or_none()
    if inserted is not None and values["status"] is JobStatus.QUEUED:
        _wake_workers_on_commit(session)
    return inserted


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _wake_workers_on_commit(session: Session) -> None:
    """Ask for one NOTIFY when this transaction commits (however many jobs it enqueued)."""
    if _dialect(session) == "postgresql":
        session.info[_NOTIFY_PENDING] = True


@event.listens_for(Session, "before_commit")
def _notify_before_commit(session: Session) -> None:
    # NOTIFY is transactional: PostgreSQL delivers it only if (and when) the commit succeeds.
    if session.info.pop(_NOTIFY_PENDING, False):
        session.execute(text(f"NOTIFY {WAKEUP_CHANNEL}"))


@event.listens_for(Session, "after_rollback")
def _forget_notify(session: Session) -> None:
    session.info.pop(_NOTIFY_PENDING, None)


def _by_dedupe_key(session: Session, dedupe_key: str) -> Job | None:
    return session.execute(select(Job).where(Job.dedupe_key == dedupe_key)).scalar_one_or_none()


def _rowcount(result: Result[Any]) -> int:
    # Session.execute is typed as returning Result; DML always yields a CursorResult.
    return cast("CursorResult[Any]", result).rowcount


def _due(now: ColumnElement[Any]) -> ColumnElement[bool]:
    """Queued and due, or running under a lease that has run out (its worker is gone)."""
    return or_(
        and_(JOBS.c.status == JobStatus.QUEUED, JOBS.c.run_after <= now),
        and_(JOBS.c.status == JobStatus.RUNNING, JOBS.c.lease_until < now),
    )


def _mine() -> Update:
    """An UPDATE of a job row that changes it only while one claim (the ``claim_*``
    parameters, see ``_claim_params``) still holds it."""
    return update(JOBS).where(
        JOBS.c.id == bindparam("claim_id"),
        JOBS.c.status == JobStatus.RUNNING,
        JOBS.c.locked_by == bindparam("claim_worker"),
        JOBS.c.attempts == bindparam("claim_attempts"),
        JOBS.c.dedupe_key.is_not_distinct_from(
            bindparam("claim_key", type_=JOBS.c.dedupe_key.type)
        ),
    )


def _claim_params(job: ClaimedJob) -> dict[str, Any]:
    return {
        "claim_id": job.id,
        "claim_worker": job.worker_id,
        "claim_attempts": job.attempts,
        "claim_key": job.dedupe_key,
    }


_FINISH = _mine().values(status=JobStatus.DONE, lease_until=None, finished_at=bindparam("now"))
_EXTEND = _mine().values(lease_until=bindparam("next_lease"))
_RETRY = _mine().values(
    status=JobStatus.QUEUED,
    run_after=bindparam("next_run_after"),
    lease_until=None,
    locked_by=None,
    last_error=bindparam("error"),
)
_RELEASE = _mine().values(
    status=JobStatus.QUEUED, run_after=bindparam("next_run_after"), lease_until=None, locked_by=None
)
_BURY = _mine().values(
    status=JobStatus.DEAD, lease_until=None, finished_at=bindparam("now"),
    last_error=bindparam("error"),
)  # fmt: skip
_OTHER_JOBS = JOBS.alias("other")
# The finished claim's row becomes its follow-up, claimed by the same worker: a new key and
# payload, a fresh count of attempts and a new lease. Unless a job with that key exists
# already (then the queue runs that one).
_HAND_ON = (
    _mine()
    .where(~exists().where(_OTHER_JOBS.c.dedupe_key == bindparam("next_key")))
    .values(
        payload=bindparam("next_payload"),
        dedupe_key=bindparam("next_key"),
        attempts=1,
        lease_until=bindparam("next_lease"),
        run_after=bindparam("now"),
        created_at=bindparam("now"),
        last_error=None,
        finished_at=None,
    )
)


@cache
def _claim_statement(
    dialect: str,
    kinds: tuple[str, ...] | None,
    limit: int,
    together: tuple[str, ...] = (),
    together_limit: int = 0,
) -> Executable:
    """Claim up to ``limit`` due jobs (of ``kinds``), oldest first, and beside them up to
    ``together_limit`` of the kinds run ``together``, in one statement: built once per shape,
    run with ``now``, ``lease_until`` and ``worker``."""
    now = bindparam("now", type_=JOBS.c.run_after.type)
    if together:
        one_by_one = _picked(now, kinds, limit, exclude=together)
        picked: Select[Any] | CompoundSelect[Any] = union_all(
            select(one_by_one.c.id), select(_picked(now, together, together_limit).c.id)
        )
    else:
        picked = _pick(now, kinds, limit)
    if dialect == "postgresql":
        # Materialised once: inlined as an IN sub-select, the planner may re-run it per
        # row of a nested loop, locking (and skipping) rows it then does not update.
        chosen = picked.cte("picked").prefix_with("MATERIALIZED")
        claimed = update(JOBS).where(JOBS.c.id == chosen.c.id)
    else:
        claimed = update(JOBS).where(JOBS.c.id.in_(picked.scalar_subquery()))
    # The outer _due(now) is the guard where nothing locked the rows (SQLite, where
    # BEGIN IMMEDIATE already serialises writers).
    return (
        claimed.where(_due(now))
        .values(
            status=JobStatus.RUNNING,
            attempts=JOBS.c.attempts + 1,
            lease_until=bindparam("next_lease"),
            locked_by=bindparam("worker"),
        )
        .returning(
            JOBS.c.id,
            JOBS.c.kind,
            JOBS.c.payload,
            JOBS.c.attempts,
            JOBS.c.run_after,
            JOBS.c.dedupe_key,
        )
    )


def _pick(
    now: ColumnElement[Any],
    kinds: Collection[str] | None,
    limit: int,
    exclude: Collection[str] = (),
) -> Select[Any]:
    """The ids of up to ``limit`` due jobs of ``kinds`` (None: any but ``exclude``)."""
    picked = select(JOBS.c.id).where(_due(now)).order_by(JOBS.c.run_after, JOBS.c.id).limit(limit)
    if kinds is not None:
        picked = picked.where(JOBS.c.kind.in_(kinds))
    if exclude:
        picked = picked.where(JOBS.c.kind.not_in(exclude))
    # PostgreSQL: lock the rows and let concurrent claimers skip them rather than queue
    # behind us. SQLite renders no FOR UPDATE.
    return picked.with_for_update(skip_locked=True)


def _picked(
    now: ColumnElement[Any],
    kinds: Collection[str] | None,
    limit: int,
    exclude: Collection[str] = (),
) -> Subquery:
    """``_pick`` as a sub-select of its own, so that each part of a union keeps its limit
    and its lock."""
    return _pick(now, kinds, limit, exclude).subquery()


class JobQueue:
    """One worker's view of the queue: what it claims, holds, extends and finishes.

    ``held`` lists the claims this worker still holds (claimed, not yet finished, retried or
    buried), so one heartbeat can keep all their leases alive.
    """

    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock, *, worker_id: str, lease_s: float
    ) -> None:
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        self.sessions = sessions
        self.clock = clock
        self.worker_id = worker_id
        self.lease_s = lease_s
        self._held: dict[int, ClaimedJob] = {}
        self._held_lock = threading.Lock()

    @property
    def held(self) -> list[ClaimedJob]:
        with self._held_lock:
            return list(self._held.values())

    def is_held(self, job: ClaimedJob) -> bool:
        with self._held_lock:
            return self._held.get(job.id) == job

    def _hold(self, jobs: list[ClaimedJob]) -> None:
        with self._held_lock:
            self._held.update((job.id, job) for job in jobs)

    def let_go(self, job: ClaimedJob) -> None:
        """Stop holding (and heartbeating) a claim: it ended, or it is no longer ours."""
        with self._held_lock:
            if self._held.get(job.id) == job:
                del self._held[job.id]

    def claim(self, kinds: Collection[str] | None = None) -> ClaimedJob | None:
        """Take the oldest due job (optionally of the given kinds), or None if there is none."""
        claimed = self.claim_batch(kinds, limit=1)
        return claimed[0] if claimed else None

    def claim_batch(
        self,
        kinds: Collection[str] | None = None,
        *,
        limit: int,
        together: Collection[str] = (),
        together_limit: int = 0,
    ) -> list[ClaimedJob]:
        """Take up to ``limit`` of the oldest due jobs in one statement, oldest first; with
        ``together``, jobs of those kinds are not among them but claimed beside them, up to
        ``together_limit`` (kinds a worker runs together: their number costs it little)."""
        if (kinds is not None and not kinds) or limit < 1:
            return []
        shape = tuple(sorted(kinds)) if kinds is not None else None
        together_shape = tuple(sorted(together)) if together_limit > 0 else ()
        with transaction(self.sessions) as session:
            now = self.clock.now()
            lease_until = now + timedelta(seconds=self.lease_s)
            statement = _claim_statement(
                _dialect(session), shape, limit, together_shape, together_limit
            )
            params = {"now": now, "next_lease": lease_until, "worker": self.worker_id}
            rows = session.execute(statement, params).all()
        jobs = [
            ClaimedJob(row.id, row.kind, row.payload, row.attempts, self.worker_id, lease_until,
                       row.dedupe_key)
            for row in sorted(rows, key=lambda row: (row.run_after, row.id))
        ]  # fmt: skip
        self._hold(jobs)
        return jobs

    def enqueue_claimed(
        self,
        session: Session,
        *,
        kind: str,
        payload: dict[str, Any],
        dedupe_key: str,
    ) -> ClaimedJob | None:
        """Enqueue a job that is already claimed by this worker, in the caller's transaction:
        a follow-up the worker runs straight away, without another claim. Like any claim it
        is under a lease, so if this worker dies, another takes the job over.

        None when the dedupe key is taken (the job exists already: the queue runs it). The
        claim counts as held only once the caller's transaction has committed.
        """
        now = self.clock.now()
        lease_until = now + timedelta(seconds=self.lease_s)
        values = _row(kind, payload, now, dedupe_key, now) | {
            "status": JobStatus.RUNNING,
            "attempts": 1,
            "lease_until": lease_until,
            "locked_by": self.worker_id,
        }
        job_id = _insert_unless_known(session, values)
        if job_id is None:
            return None
        job = ClaimedJob(job_id, kind, payload, 1, self.worker_id, lease_until, dedupe_key)
        event.listen(session, "after_commit", lambda _session: self._hold([job]), once=True)
        return job

    def hand_on(
        self, session: Session, job: ClaimedJob, *, payload: dict[str, Any], dedupe_key: str
    ) -> ClaimedJob | None:
        """``finish`` the job and ``enqueue_claimed`` its follow-up (of the same kind), in one
        statement: the finished job's row becomes the follow-up's, in the caller's transaction.

        None when a job with ``dedupe_key`` exists already: then this one is only finished.
        Raises LeaseLostError when the job is no longer ours (the caller must roll back).
        """
        now = self.clock.now()
        lease_until = now + timedelta(seconds=self.lease_s)
        params = _claim_params(job) | {
            "next_payload": payload,
            "next_key": dedupe_key,
            "next_lease": lease_until,
            "now": now,
        }
        if _rowcount(session.execute(_HAND_ON, params)) != 1:
            self.finish(session, job)  # the follow-up exists already, or the job is not ours
            return None
        follow_up = ClaimedJob(job.id, job.kind, payload, 1, self.worker_id, lease_until,
                               dedupe_key)  # fmt: skip

        def hold_follow_up(_session: Session) -> None:
            self.let_go(job)
            self._hold([follow_up])

        event.listen(session, "after_commit", hold_follow_up, once=True)
        return follow_up

    def extend_lease(self, job: ClaimedJob) -> bool:
        """Push the lease forward; False means the job is no longer ours."""
        with transaction(self.sessions) as session:
            now = self.clock.now()
            lease_until = now + timedelta(seconds=self.lease_s)
            return self._update_mine(session, _EXTEND, job, next_lease=lease_until)

    def finish(self, session: Session, job: ClaimedJob) -> None:
        """Mark the job done in the caller's transaction, so it commits with the step's work.

        Raises LeaseLostError when the job is no longer ours; the caller's transaction must
        then roll back, because another worker is (or was) doing the same step.
        """
        if not self._update_mine(session, _FINISH, job, now=self.clock.now()):
            raise LeaseLostError(f"job {job.id} is no longer held by {job.worker_id}")
        event.listen(session, "after_commit", lambda _session: self.let_go(job), once=True)

    def finish_enqueuing(
        self, session: Session, job: ClaimedJob, rows: list[dict[str, Any]]
    ) -> None:
        """``finish`` the job and ``enqueue_rows_new`` the ``rows`` (new jobs of this
        transaction), in one statement: the rows' INSERT carries the finished job's own row
        too, whose dedupe key conflicts with itself, and the conflict finishes it, fenced as
        ``finish`` is (the same claim still holds it). Raises LeaseLostError as ``finish``."""
        if not rows or job.dedupe_key is None:
            enqueue_rows_new(session, rows)
            self.finish(session, job)
            return
        now = self.clock.now()
        # Never inserted while the job's row exists (its key conflicts); were it gone, a row
        # already done would be, and the fence below would roll the transaction back.
        own = _row(job.kind, job.payload, now, job.dedupe_key, now) | {
            "status": JobStatus.DONE, "finished_at": now,
        }  # fmt: skip
        every = [own, *rows]
        parameters = {f"r{index}_{name}": row.get(name) for index, row in enumerate(every)
                      for name in _FINISH_INSERTING_COLUMNS}  # fmt: skip
        statement = _finish_inserting(_dialect(session), len(every))
        returned = session.execute(statement, {**_claim_params(job), "now": now, **parameters})
        touched = set(returned.scalars())
        if job.id not in touched:
            raise LeaseLostError(f"job {job.id} is no longer held by {job.worker_id}")
        _wake_workers_on_commit(session)
        event.listen(session, "after_commit", lambda _session: self.let_go(job), once=True)

    def finish_those_mine(self, session: Session, jobs: list[ClaimedJob]) -> list[ClaimedJob]:
        """``finish`` for several jobs in one statement; returns those that were still ours
        (and are now done). The others are left to whoever holds them now."""
        if not jobs:
            return []
        # The dedupe key belongs to the fence (a handed-on row keeps its id and attempts);
        # the id list lets the database find the rows by primary key.
        claims = [(job.id, job.attempts, job.dedupe_key or "") for job in jobs]
        finished_ids = set(
            session.execute(
                update(JOBS)
                .where(
                    JOBS.c.id.in_([job.id for job in jobs]),
                    tuple_(JOBS.c.id, JOBS.c.attempts, func.coalesce(JOBS.c.dedupe_key, "")).in_(
                        claims
                    ),
                    JOBS.c.status == JobStatus.RUNNING,
                    JOBS.c.locked_by == self.worker_id,
                )
                .values(status=JobStatus.DONE, lease_until=None, finished_at=self.clock.now())
                .returning(JOBS.c.id)
            ).scalars()
        )
        finished = [job for job in jobs if job.id in finished_ids]
        for job in jobs:
            if job not in finished:
                self.let_go(job)

        def let_go_of_finished(_session: Session) -> None:
            for job in finished:
                self.let_go(job)

        event.listen(session, "after_commit", let_go_of_finished, once=True)
        return finished

    def finish_alone(self, job: ClaimedJob) -> bool:
        """Mark the job done in its own transaction; False if it was no longer ours to finish."""
        with transaction(self.sessions) as session:
            try:
                self.finish(session, job)
            except LeaseLostError:
                self.let_go(job)
                return False
            return True

    def retry_later(self, job: ClaimedJob, error: str, delay_s: float) -> bool:
        """Put the job back in the queue after ``delay_s``; False if it was no longer ours."""
        self.let_go(job)
        with transaction(self.sessions) as session:
            run_after = self.clock.now() + timedelta(seconds=delay_s)
            return self._update_mine(
                session, _RETRY, job, next_run_after=run_after, error=error[:MAX_ERROR_CHARS]
            )

    def release(self, job: ClaimedJob) -> bool:
        """Hand a claimed job back unrun (the worker is stopping): due again at once. Its
        claim still counts as an attempt, so ``attempts`` keeps fencing this claim off."""
        self.let_go(job)
        with transaction(self.sessions) as session:
            _wake_workers_on_commit(session)
            return self._update_mine(session, _RELEASE, job, next_run_after=self.clock.now())

    def bury(self, job: ClaimedJob, error: str) -> bool:
        """Give the job up for good (status dead); False if it was no longer ours."""
        self.let_go(job)
        with transaction(self.sessions) as session:
            return self._update_mine(
                session, _BURY, job, now=self.clock.now(), error=error[:MAX_ERROR_CHARS]
            )

    @staticmethod
    def _update_mine(session: Session, statement: Update, job: ClaimedJob, **values: Any) -> bool:
        """Run one of the fenced statements for this very claim."""
        result = session.execute(statement, _claim_params(job) | values)
        return _rowcount(result) == 1
