"""Claiming in batches, follow-up jobs claimed on enqueue, and waking idle workers with NOTIFY."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from esimcare.db import transaction
from esimcare.jobs.errors import LeaseLostError
from esimcare.jobs.models import Job, JobStatus
from esimcare.jobs.queue import ClaimedJob, JobQueue, enqueue
from esimcare.jobs.wakeup import NotifyWakeup, PollingWakeup, wakeup_for
from esimcare.jobs.worker import Worker
from esimcare.kit.clock import FrozenClock, SystemClock


def add_jobs(
    sessions: sessionmaker[Session], clock: FrozenClock, n: int, kind: str = "work"
) -> None:
    with transaction(sessions) as session:
        for i in range(n):
            enqueue(session, kind=kind, payload={"n": i}, now=clock.now())


def statuses(sessions: sessionmaker[Session]) -> list[JobStatus]:
    with transaction(sessions) as session:
        return list(session.scalars(select(Job.status).order_by(Job.id)))


def test_one_claim_takes_several_due_jobs_oldest_first(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    add_jobs(sessions, clock, 5)
    with transaction(sessions) as session:
        enqueue(
            session,
            kind="work",
            payload={},
            now=clock.now(),
            run_after=clock.now() + timedelta(hours=1),
        )
    queue = JobQueue(sessions, clock, worker_id="w", lease_s=60)
    claimed = queue.claim_batch(limit=3)
    assert [job.payload["n"] for job in claimed] == [0, 1, 2]
    assert [job.payload["n"] for job in queue.claim_batch(limit=10)] == [3, 4]
    assert queue.claim_batch(limit=10) == []  # the sixth is not due
    assert {job.id for job in queue.held} == {job.id for job in claimed} | {4, 5}


def test_kinds_run_together_are_claimed_beside_the_batch_up_to_their_own_limit(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    for _ in range(3):  # interleaved, oldest first: a plain claim would take them mixed
        add_jobs(sessions, clock, 2, kind="work")
        add_jobs(sessions, clock, 4, kind="deliver")
    queue = JobQueue(sessions, clock, worker_id="w", lease_s=60)
    claimed = queue.claim_batch(["work", "deliver"], limit=2, together=["deliver"],
                                together_limit=10)  # fmt: skip
    assert [job.kind for job in claimed].count("work") == 2
    assert [job.kind for job in claimed].count("deliver") == 10
    assert [job.id for job in claimed] == sorted(job.id for job in claimed)  # oldest first
    left = queue.claim_batch(["work", "deliver"], limit=10, together=["deliver"],
                             together_limit=10)  # fmt: skip
    assert sorted(job.kind for job in left) == ["deliver"] * 2 + ["work"] * 4


def test_a_worker_delivers_the_kinds_it_runs_together_in_one_run_per_claim(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    add_jobs(sessions, clock, 2, kind="work")
    add_jobs(sessions, clock, 12, kind="deliver")
    queue = JobQueue(sessions, clock, worker_id="w", lease_s=60)
    runs: list[int] = []

    def deliver(jobs: list[ClaimedJob]) -> dict[int, Exception]:
        runs.append(len(jobs))
        return {}

    worker = Worker(queue, {"work": lambda job: None}, max_attempts=3, backoff_base_s=1,
                    batch_size=1, heartbeat=False, together_limit=16,
                    batch_handlers={"deliver": deliver})  # fmt: skip
    assert worker.run_until_idle() == 14
    assert runs == [12]  # all beside the first claim's one job
    assert statuses(sessions) == [JobStatus.DONE] * 14


def test_a_worker_runs_each_job_of_a_batch_exactly_once(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    add_jobs(sessions, clock, 5)
    queue = JobQueue(sessions, clock, worker_id="w", lease_s=60)
    ran: list[int] = []
    worker = Worker(queue, {"work": lambda job: ran.append(job.payload["n"])}, max_attempts=3,
                    backoff_base_s=1, batch_size=4, heartbeat=False)  # fmt: skip
    assert worker.run_until_idle() == 5
    assert ran == [0, 1, 2, 3, 4]
    assert statuses(sessions) == [JobStatus.DONE] * 5
    assert queue.held == []


def test_a_follow_up_enqueued_claimed_runs_next_without_another_claim(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    add_jobs(sessions, clock, 1, kind="first")
    queue = JobQueue(sessions, clock, worker_id="w", lease_s=60)
    ran: list[str] = []

    def first(job: ClaimedJob) -> None:
        ran.append("first")
        with transaction(sessions) as session:
            queue.enqueue_claimed(session, kind="second", payload={}, dedupe_key="second:1")
            queue.finish(session, job)

    worker = Worker(queue, {"first": first, "second": lambda job: ran.append("second")},
                    max_attempts=3, backoff_base_s=1, heartbeat=False)  # fmt: skip
    assert worker.run_once() is True
    assert ran == ["first", "second"]
    assert statuses(sessions) == [JobStatus.DONE, JobStatus.DONE]


def test_a_follow_up_rolled_back_with_its_transaction_is_not_run(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    add_jobs(sessions, clock, 1, kind="first")
    queue = JobQueue(sessions, clock, worker_id="w", lease_s=60)
    ran: list[str] = []

    def first(job: ClaimedJob) -> None:
        with transaction(sessions) as session:
            queue.enqueue_claimed(session, kind="second", payload={}, dedupe_key="second:1")
            raise RuntimeError("the step failed")

    worker = Worker(queue, {"first": first, "second": lambda job: ran.append("second")},
                    max_attempts=3, backoff_base_s=1, heartbeat=False)  # fmt: skip
    worker.run_once()
    assert ran == []
    assert statuses(sessions) == [JobStatus.QUEUED]  # the first, back for a retry


def test_a_follow_up_of_a_dead_worker_is_taken_over_after_its_lease(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    queue = JobQueue(sessions, clock, worker_id="dead", lease_s=30)
    with transaction(sessions) as session:
        queue.enqueue_claimed(session, kind="second", payload={}, dedupe_key="second:1")
    rival = JobQueue(sessions, clock, worker_id="rival", lease_s=30)
    assert rival.claim() is None
    clock.advance(timedelta(seconds=31))
    taken = rival.claim()
    assert taken is not None and taken.attempts == 2


def test_a_job_handed_on_becomes_its_follow_up_which_runs_next(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    add_jobs(sessions, clock, 1, kind="step")
    queue = JobQueue(sessions, clock, worker_id="w", lease_s=60)
    ran: list[object] = []

    def step(job: ClaimedJob) -> None:
        ran.append(job.payload["n"])
        if job.payload["n"] < 2:
            with transaction(sessions) as session:
                next_n = job.payload["n"] + 1
                queue.hand_on(session, job, payload={"n": next_n}, dedupe_key=f"step:{next_n}")

    worker = Worker(queue, {"step": step}, max_attempts=3, backoff_base_s=1, heartbeat=False)
    assert worker.run_once() is True
    assert ran == [0, 1, 2]
    with transaction(sessions) as session:
        (row,) = session.scalars(select(Job))
        assert (row.status, row.dedupe_key, row.payload, row.attempts) == (
            JobStatus.DONE,
            "step:2",
            {"n": 2},
            1,
        )
    assert queue.held == []


def test_a_claim_handed_on_is_fenced_off_even_with_the_same_worker_id(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    """The follow-up starts its attempts again, so an old claim of the row with the same
    attempts and worker id could match it, but for the dedupe key the hand-on changed."""
    add_jobs(sessions, clock, 1)
    old = JobQueue(sessions, clock, worker_id="w", lease_s=30)
    stale = old.claim()
    assert stale is not None and stale.attempts == 1
    clock.advance(timedelta(seconds=31))
    rival = JobQueue(sessions, clock, worker_id="w", lease_s=30)
    taken = rival.claim()
    assert taken is not None and taken.attempts == 2
    with transaction(sessions) as session:
        follow_up = rival.hand_on(session, taken, payload={"n": 1}, dedupe_key="next:1")
    assert follow_up is not None and (follow_up.id, follow_up.attempts) == (stale.id, 1)
    assert rival.held == [follow_up]
    assert old.finish_alone(stale) is False
    assert old.extend_lease(stale) is False
    with transaction(sessions) as session:
        assert old.finish_those_mine(session, [stale]) == []
    assert statuses(sessions) == [JobStatus.RUNNING]  # the follow-up, still rival's


def test_a_hand_on_to_a_known_key_only_finishes_the_job(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    add_jobs(sessions, clock, 1)
    with transaction(sessions) as session:
        enqueue(session, kind="work", payload={}, now=clock.now(), dedupe_key="next:1",
                run_after=clock.now() + timedelta(hours=1))  # fmt: skip
    queue = JobQueue(sessions, clock, worker_id="w", lease_s=60)
    job = queue.claim()
    assert job is not None
    with transaction(sessions) as session:
        assert queue.hand_on(session, job, payload={}, dedupe_key="next:1") is None
    assert statuses(sessions) == [JobStatus.DONE, JobStatus.QUEUED]
    assert queue.held == []


def test_a_hand_on_of_a_job_no_longer_ours_raises(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    add_jobs(sessions, clock, 1)
    queue = JobQueue(sessions, clock, worker_id="w", lease_s=30)
    job = queue.claim()
    assert job is not None
    clock.advance(timedelta(seconds=31))
    assert JobQueue(sessions, clock, worker_id="rival", lease_s=30).claim() is not None
    with pytest.raises(LeaseLostError), transaction(sessions) as session:
        queue.hand_on(session, job, payload={}, dedupe_key="next:1")
    assert statuses(sessions) == [JobStatus.RUNNING]  # the rival's claim, untouched


def test_stopping_hands_unstarted_jobs_of_a_batch_back(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    add_jobs(sessions, clock, 3)
    queue = JobQueue(sessions, clock, worker_id="w", lease_s=60)
    stop = threading.Event()
    worker = Worker(queue, {"work": lambda job: stop.set()}, max_attempts=3, backoff_base_s=1,
                    batch_size=3, heartbeat=False)  # fmt: skip
    assert worker.run_once(stop) is True
    assert statuses(sessions) == [JobStatus.DONE, JobStatus.QUEUED, JobStatus.QUEUED]
    assert queue.claim_batch(limit=5) != []  # due again at once


def test_sqlite_workers_poll_and_postgresql_workers_listen(db_url: str) -> None:
    expected = NotifyWakeup if db_url.startswith("postgresql") else PollingWakeup
    assert isinstance(wakeup_for(db_url), expected)


@pytest.mark.postgres
def test_an_idle_postgresql_worker_wakes_on_notify_long_before_its_poll_interval(
    postgres_schema_url: str,
) -> None:
    from esimcare.db import Base, make_engine, session_factory

    engine = make_engine(postgres_schema_url)
    Base.metadata.create_all(engine)
    sessions = session_factory(engine)
    clock = SystemClock()
    done = threading.Event()
    queue = JobQueue(sessions, clock, worker_id="w", lease_s=60)
    worker = Worker(queue, {"work": lambda job: done.set()}, max_attempts=3, backoff_base_s=1,
                    poll_s=60, wakeup=wakeup_for(postgres_schema_url))  # fmt: skip
    stop = threading.Event()
    loop = threading.Thread(target=worker.run_forever, args=(stop,))
    loop.start()
    try:
        time.sleep(1.0)  # idle: the first look found nothing, now it waits (up to 60 s)
        started = time.monotonic()
        with transaction(sessions) as session:
            enqueue(session, kind="work", payload={}, now=clock.now())
        assert done.wait(timeout=10)
        assert time.monotonic() - started < 5
    finally:
        stop.set()
        loop.join(timeout=10)
        engine.dispose()
    assert not loop.is_alive()
