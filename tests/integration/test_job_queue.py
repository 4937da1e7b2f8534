from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from esimcare.db import transaction
from esimcare.jobs.errors import LeaseLostError
from esimcare.jobs.models import Job, JobStatus
from esimcare.jobs.queue import ClaimedJob, JobQueue, enqueue
from esimcare.kit.clock import FrozenClock

LEASE_S = 60.0


def make_queue(
    sessions: sessionmaker[Session], clock: FrozenClock, worker_id: str = "w1"
) -> JobQueue:
    return JobQueue(sessions, clock, worker_id=worker_id, lease_s=LEASE_S)


def add_job(
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    kind: str = "work",
    delay_s: float = 0,
    dedupe_key: str | None = None,
) -> int:
    with transaction(sessions) as session:
        job = enqueue(
            session,
            kind=kind,
            payload={"n": 1},
            now=clock.now(),
            run_after=clock.now() + timedelta(seconds=delay_s),
            dedupe_key=dedupe_key,
        )
        session.flush()
        return job.id


def load(sessions: sessionmaker[Session], job_id: int) -> Job:
    with transaction(sessions) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def count_jobs(sessions: sessionmaker[Session]) -> int:
    with transaction(sessions) as session:
        return session.execute(select(func.count()).select_from(Job)).scalar_one()


def test_enqueue_with_a_known_dedupe_key_returns_the_existing_job(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    first = add_job(sessions, clock, dedupe_key="cancel-7-smdp")
    second = add_job(sessions, clock, dedupe_key="cancel-7-smdp")
    assert second == first
    assert count_jobs(sessions) == 1


def test_losing_a_dedupe_race_returns_the_winner_and_keeps_the_transaction_usable(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    first_inserted = threading.Event()
    winner_ids: list[int] = []

    def winner() -> None:
        with transaction(sessions) as session:
            job = enqueue(session, kind="work", payload={}, now=clock.now(), dedupe_key="race")
            session.flush()
            winner_ids.append(job.id)
            first_inserted.set()
            time.sleep(0.3)  # the loser arrives while this is still uncommitted

    thread = threading.Thread(target=winner)
    thread.start()
    assert first_inserted.wait(timeout=10)
    with transaction(sessions) as session:
        # Waits for the winner's commit (its row lock on PostgreSQL, the write lock on SQLite).
        job = enqueue(session, kind="work", payload={}, now=clock.now(), dedupe_key="race")
        assert job.id == winner_ids[0]
        enqueue(session, kind="other", payload={}, now=clock.now())
    thread.join(timeout=10)
    assert count_jobs(sessions) == 2


def test_an_enqueued_job_rolls_back_with_the_callers_transaction(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    def failing_step() -> None:
        with transaction(sessions) as session:
            enqueue(session, kind="work", payload={}, now=clock.now())
            raise RuntimeError("the state change failed")

    with pytest.raises(RuntimeError):
        failing_step()
    assert count_jobs(sessions) == 0


def test_claim_takes_the_oldest_due_job_first(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    later = add_job(sessions, clock, delay_s=-10)
    earliest = add_job(sessions, clock, delay_s=-20)
    queue = make_queue(sessions, clock)
    claimed = [queue.claim(), queue.claim()]
    assert [job.id for job in claimed if job] == [earliest, later]
    assert queue.claim() is None


def test_claim_waits_until_the_job_is_due(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    job_id = add_job(sessions, clock, delay_s=30)
    queue = make_queue(sessions, clock)
    assert queue.claim() is None
    clock.advance(timedelta(seconds=30))
    claimed = queue.claim()
    assert claimed is not None
    assert claimed.id == job_id


def test_claim_marks_the_job_running_under_a_lease(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    job_id = add_job(sessions, clock)
    claimed = make_queue(sessions, clock).claim()
    assert claimed == ClaimedJob(
        id=job_id,
        kind="work",
        payload={"n": 1},
        attempts=1,
        worker_id="w1",
        lease_until=clock.now() + timedelta(seconds=LEASE_S),
    )
    row = load(sessions, job_id)
    assert (row.status, row.locked_by, row.attempts) == (JobStatus.RUNNING, "w1", 1)


def test_claim_only_takes_the_kinds_asked_for(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    add_job(sessions, clock, kind="email")
    sms = add_job(sessions, clock, kind="sms")
    queue = make_queue(sessions, clock)
    claimed = queue.claim(["sms"])
    assert claimed is not None
    assert claimed.id == sms
    assert queue.claim(["sms"]) is None
    assert queue.claim([]) is None


def test_a_job_under_a_live_lease_is_not_claimed_again(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    add_job(sessions, clock)
    assert make_queue(sessions, clock, "w1").claim() is not None
    clock.advance(timedelta(seconds=LEASE_S))
    assert make_queue(sessions, clock, "w2").claim() is None


def test_an_expired_lease_is_taken_over_and_the_old_holder_is_fenced_out(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    job_id = add_job(sessions, clock)
    old = make_queue(sessions, clock, "w1")
    first = old.claim()
    assert first is not None
    clock.advance(timedelta(seconds=LEASE_S + 1))
    second = make_queue(sessions, clock, "w2").claim()
    assert second is not None
    assert (second.id, second.attempts) == (job_id, 2)
    assert old.extend_lease(first) is False
    assert old.retry_later(first, "late", 5) is False
    assert old.bury(first, "late") is False
    assert load(sessions, job_id).locked_by == "w2"


def test_the_same_worker_id_cannot_act_on_its_own_taken_over_claim(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    add_job(sessions, clock)
    queue = make_queue(sessions, clock, "w1")
    first = queue.claim()
    assert first is not None
    clock.advance(timedelta(seconds=LEASE_S + 1))
    assert queue.claim() is not None
    assert queue.finish_alone(first) is False


def test_extend_lease_keeps_the_job_from_being_taken_over(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    job_id = add_job(sessions, clock)
    queue = make_queue(sessions, clock, "w1")
    claimed = queue.claim()
    assert claimed is not None
    clock.advance(timedelta(seconds=LEASE_S - 1))
    assert queue.extend_lease(claimed) is True
    clock.advance(timedelta(seconds=2))
    assert make_queue(sessions, clock, "w2").claim() is None
    assert load(sessions, job_id).lease_until == clock.now() + timedelta(seconds=LEASE_S - 2)


def test_finish_commits_together_with_the_callers_change(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    job_id = add_job(sessions, clock)
    queue = make_queue(sessions, clock)
    claimed = queue.claim()
    assert claimed is not None
    with transaction(sessions) as session:
        enqueue(session, kind="follow-up", payload={}, now=clock.now())
        queue.finish(session, claimed)
    row = load(sessions, job_id)
    assert (row.status, row.finished_at) == (JobStatus.DONE, clock.now())
    assert count_jobs(sessions) == 2
    clock.advance(timedelta(seconds=LEASE_S * 10))
    assert queue.claim(["work"]) is None


def test_finish_after_the_lease_was_lost_raises_and_rolls_back_the_callers_change(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    job_id = add_job(sessions, clock)
    queue = make_queue(sessions, clock, "w1")
    claimed = queue.claim()
    assert claimed is not None
    clock.advance(timedelta(seconds=LEASE_S + 1))
    assert make_queue(sessions, clock, "w2").claim() is not None

    def late_step() -> None:
        with transaction(sessions) as session:
            enqueue(session, kind="follow-up", payload={}, now=clock.now())
            queue.finish(session, claimed)

    with pytest.raises(LeaseLostError):
        late_step()
    assert count_jobs(sessions) == 1
    assert load(sessions, job_id).status == JobStatus.RUNNING


def test_retry_later_requeues_the_job_after_the_delay(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    job_id = add_job(sessions, clock)
    queue = make_queue(sessions, clock)
    claimed = queue.claim()
    assert claimed is not None
    assert queue.retry_later(claimed, "timeout", 30) is True
    row = load(sessions, job_id)
    assert (row.status, row.last_error, row.locked_by) == (JobStatus.QUEUED, "timeout", None)
    assert row.run_after == clock.now() + timedelta(seconds=30)
    assert queue.claim() is None
    clock.advance(timedelta(seconds=30))
    again = queue.claim()
    assert again is not None
    assert again.attempts == 2


def test_bury_marks_the_job_dead_for_good(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    job_id = add_job(sessions, clock)
    queue = make_queue(sessions, clock)
    claimed = queue.claim()
    assert claimed is not None
    assert queue.bury(claimed, "refused") is True
    row = load(sessions, job_id)
    assert (row.status, row.last_error) == (JobStatus.DEAD, "refused")
    clock.advance(timedelta(days=1))
    assert queue.claim() is None


def test_concurrent_claimers_never_get_the_same_job(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    with transaction(sessions) as session:
        for n in range(50):
            enqueue(session, kind="work", payload={"n": n}, now=clock.now())
    claimed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def claim_all(worker_id: str) -> None:
        queue = make_queue(sessions, clock, worker_id)
        start.wait()
        for _ in range(60):  # bounded: more tries than jobs
            job = queue.claim()
            if job is None:
                return
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=claim_all, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert len(claimed) == 50
    assert len(set(claimed)) == 50
