from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from esimcare.db import transaction
from esimcare.integrations.errors import PermanentIntegrationError, TransientIntegrationError
from esimcare.jobs.errors import PermanentJobError
from esimcare.jobs.models import Job, JobStatus
from esimcare.jobs.queue import ClaimedJob, JobQueue, enqueue
from esimcare.jobs.worker import DeadHandler, JobHandler, Worker
from esimcare.kit.clock import FrozenClock


class DeadLetters:
    def __init__(self) -> None:
        self.calls: list[tuple[int, str]] = []

    def __call__(self, job: ClaimedJob, error: str) -> None:
        self.calls.append((job.id, error))


def add_job(sessions: sessionmaker[Session], clock: FrozenClock, kind: str = "work") -> int:
    with transaction(sessions) as session:
        job = enqueue(session, kind=kind, payload={}, now=clock.now())
        session.flush()
        return job.id


def load(sessions: sessionmaker[Session], job_id: int) -> Job:
    with transaction(sessions) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def make_worker(
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    handlers: Mapping[str, JobHandler],
    *,
    lease_s: float = 60.0,
    on_dead: Mapping[str, DeadHandler] | None = None,
    heartbeat: bool = False,
) -> Worker:
    queue = JobQueue(sessions, clock, worker_id="worker-1", lease_s=lease_s)
    return Worker(
        queue,
        handlers,
        max_attempts=4,
        backoff_base_s=10,
        on_dead=on_dead,
        heartbeat=heartbeat,
        jitter_ratio=0.0,
        poll_s=0.01,
    )


def failing(exc: Exception) -> JobHandler:
    def handler(job: ClaimedJob) -> None:
        raise exc

    return handler


def test_a_handler_that_finishes_commits_its_change_with_the_job(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    job_id = add_job(sessions, clock)

    def handler(job: ClaimedJob) -> None:
        with transaction(sessions) as session:
            enqueue(session, kind="follow-up", payload={"after": job.id}, now=clock.now())
            worker.queue.finish(session, job)

    worker = make_worker(sessions, clock, {"work": handler})
    assert worker.run_once() is True
    assert load(sessions, job_id).status == JobStatus.DONE
    with transaction(sessions) as session:
        kinds = session.scalars(select(Job.kind).order_by(Job.id)).all()
    assert kinds == ["work", "follow-up"]


def test_the_worker_finishes_a_job_whose_handler_did_not(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    job_id = add_job(sessions, clock)
    worker = make_worker(sessions, clock, {"work": lambda job: None})
    assert worker.run_once() is True
    assert load(sessions, job_id).status == JobStatus.DONE
    assert worker.run_once() is False


def test_a_failing_job_backs_off_exponentially_then_is_buried_with_on_dead_called(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    job_id = add_job(sessions, clock)
    dead = DeadLetters()
    handler = failing(TransientIntegrationError("SM-DP+ timed out"))
    worker = make_worker(sessions, clock, {"work": handler}, on_dead={"work": dead})
    delays = []
    for _ in range(3):
        started = clock.now()
        assert worker.run_until_idle() == 1
        job = load(sessions, job_id)
        assert job.status == JobStatus.QUEUED
        delays.append((job.run_after - started).total_seconds())
        clock.set(job.run_after)
    assert delays == [10, 20, 40]
    assert dead.calls == []
    assert worker.run_until_idle() == 1
    job = load(sessions, job_id)
    assert (job.status, job.attempts) == (JobStatus.DEAD, 4)
    assert dead.calls == [(job_id, "TransientIntegrationError: SM-DP+ timed out")]
    assert job.last_error == "TransientIntegrationError: SM-DP+ timed out"


def test_a_bug_in_a_handler_is_retried_like_a_transient_failure(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    job_id = add_job(sessions, clock)
    worker = make_worker(sessions, clock, {"work": failing(KeyError("esim"))})
    assert worker.run_once() is True
    job = load(sessions, job_id)
    assert (job.status, job.last_error) == (JobStatus.QUEUED, "KeyError: 'esim'")


@pytest.mark.parametrize(
    "error",
    [PermanentJobError("no such cancellation"), PermanentIntegrationError("unknown ICCID")],
    ids=["permanent-job-error", "permanent-integration-error"],
)
def test_a_permanent_error_buries_the_job_at_once(
    sessions: sessionmaker[Session], clock: FrozenClock, error: Exception
) -> None:
    job_id = add_job(sessions, clock)
    dead = DeadLetters()
    worker = make_worker(sessions, clock, {"work": failing(error)}, on_dead={"work": dead})
    assert worker.run_until_idle() == 1
    job = load(sessions, job_id)
    assert (job.status, job.attempts) == (JobStatus.DEAD, 1)
    assert dead.calls == [(job_id, f"{type(error).__name__}: {error}")]


def broken_on_dead(job: ClaimedJob, error: str) -> None:
    raise RuntimeError("mail server down")


def test_a_failing_on_dead_handler_does_not_stop_the_worker(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    first, second = add_job(sessions, clock), add_job(sessions, clock)
    worker = make_worker(
        sessions,
        clock,
        {"work": failing(PermanentJobError("gone"))},
        on_dead={"work": broken_on_dead},
    )
    assert worker.run_until_idle() == 2
    assert load(sessions, first).status == load(sessions, second).status == JobStatus.DEAD


def test_a_job_whose_lease_expired_too_often_is_buried_without_running(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    job_id = add_job(sessions, clock)
    crashed = JobQueue(sessions, clock, worker_id="crashed", lease_s=60)
    for _ in range(4):  # four workers died holding it
        assert crashed.claim() is not None
        clock.advance(timedelta(seconds=61))
    ran: list[int] = []
    worker = make_worker(sessions, clock, {"work": lambda job: ran.append(job.id)})
    assert worker.run_once() is True
    assert ran == []
    assert load(sessions, job_id).status == JobStatus.DEAD


def test_a_handler_that_lost_its_lease_leaves_the_job_to_the_new_holder(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    job_id = add_job(sessions, clock)
    rival = JobQueue(sessions, clock, worker_id="rival", lease_s=60)

    def slow_handler(job: ClaimedJob) -> None:
        clock.advance(timedelta(seconds=61))
        assert rival.claim() is not None
        with transaction(sessions) as session:
            worker.queue.finish(session, job)

    worker = make_worker(sessions, clock, {"work": slow_handler})
    assert worker.run_once() is True
    job = load(sessions, job_id)
    assert (job.status, job.locked_by, job.attempts) == (JobStatus.RUNNING, "rival", 2)


def test_the_heartbeat_extends_the_lease_while_the_handler_runs(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    job_id = add_job(sessions, clock)
    seen: list[bool] = []

    def long_handler(job: ClaimedJob) -> None:
        clock.advance(timedelta(seconds=1))  # past the 0.3 s lease taken at claim time
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            lease_until = load(sessions, job.id).lease_until
            if lease_until is not None and lease_until > clock.now():
                seen.append(True)
                return
            time.sleep(0.02)

    worker = make_worker(sessions, clock, {"work": long_handler}, lease_s=0.3, heartbeat=True)
    assert worker.run_once() is True
    assert seen == [True]
    assert load(sessions, job_id).status == JobStatus.DONE


def test_keyboard_interrupt_in_a_handler_is_not_swallowed(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    add_job(sessions, clock)

    def interrupted(job: ClaimedJob) -> None:
        raise KeyboardInterrupt

    worker = make_worker(sessions, clock, {"work": interrupted}, heartbeat=True)
    with pytest.raises(KeyboardInterrupt):
        worker.run_once()


def test_run_forever_runs_jobs_until_stopped(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    done = threading.Event()
    worker = make_worker(sessions, clock, {"work": lambda job: done.set()})
    stop = threading.Event()
    loop = threading.Thread(target=worker.run_forever, args=(stop,))
    loop.start()
    try:
        add_job(sessions, clock)
        assert done.wait(timeout=10)
    finally:
        stop.set()
        loop.join(timeout=10)
    assert not loop.is_alive()


def test_backoff_is_capped_and_its_jitter_stays_small(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    queue = JobQueue(sessions, clock, worker_id="w", lease_s=60)
    worker = Worker(queue, {}, max_attempts=20, backoff_base_s=10, jitter_ratio=0.1)
    for attempts in range(1, 5):
        base = 10 * 2 ** (attempts - 1)
        assert base <= worker.backoff_s(attempts) <= base * 1.1
    assert worker.backoff_s(12) == 300
