"""Finishing a job and inserting the jobs its transaction queued is one statement: the finished
job's own row rides in the INSERT and its conflict finishes it, fenced like ``finish``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from esimcare.db import transaction
from esimcare.jobs.errors import LeaseLostError
from esimcare.jobs.models import Job, JobStatus
from esimcare.jobs.queue import JobQueue, enqueue, new_job
from esimcare.kit.clock import FrozenClock
from tests.support import sent_statements

LEASE_S = 60.0


def make_queue(sessions: sessionmaker[Session], clock: FrozenClock, worker: str) -> JobQueue:
    return JobQueue(sessions, clock, worker_id=worker, lease_s=LEASE_S)


def add_job(sessions: sessionmaker[Session], clock: FrozenClock, key: str) -> int:
    with transaction(sessions) as session:
        job = enqueue(session, kind="work", payload={"n": 1}, now=clock.now(), dedupe_key=key)
        session.flush()
        return job.id


def jobs(sessions: sessionmaker[Session]) -> dict[str | None, JobStatus]:
    with transaction(sessions) as session:
        return {job.dedupe_key: job.status for job in session.scalars(select(Job))}


def rows(clock: FrozenClock, *keys: str) -> list[dict[str, Any]]:
    return [new_job(kind="next", payload={}, now=clock.now(), dedupe_key=key) for key in keys]


def test_the_job_is_finished_and_the_new_ones_inserted_in_one_statement(
    engine: Engine, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    add_job(sessions, clock, "first")
    add_job(sessions, clock, "known")  # a new row whose key is taken is passed over
    queue = make_queue(sessions, clock, "w1")
    claimed = queue.claim()
    assert claimed is not None and claimed.dedupe_key == "first"
    with (
        sent_statements(engine, starting=("INSERT", "UPDATE")) as seen,
        transaction(sessions) as session,
    ):
        queue.finish_enqueuing(session, claimed, rows(clock, "a", "b", "known"))
    assert len(seen) == 1, seen
    assert jobs(sessions) == {"first": JobStatus.DONE, "known": JobStatus.QUEUED,
                              "a": JobStatus.QUEUED, "b": JobStatus.QUEUED}  # fmt: skip
    assert not queue.is_held(claimed)


def test_a_claim_taken_over_finishes_nothing_and_inserts_nothing(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    add_job(sessions, clock, "first")
    queue = make_queue(sessions, clock, "w1")
    claimed = queue.claim()
    assert claimed is not None
    clock.advance(timedelta(seconds=LEASE_S + 1))
    assert make_queue(sessions, clock, "w2").claim() is not None

    def late_finish() -> None:
        with transaction(sessions) as session:
            queue.finish_enqueuing(session, claimed, rows(clock, "a"))

    with pytest.raises(LeaseLostError):
        late_finish()
    assert jobs(sessions) == {"first": JobStatus.RUNNING}
