"""Finished jobs, ES2+ call logs and received notifications go after the retention; the rest
stays, and the pruning job keeps itself scheduled, once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from esimcare.db import transaction
from esimcare.esims.notifications import Es2PlusNotification
from esimcare.integrations.smdp.call_log import Es2PlusCall
from esimcare.integrations.smdp.states import SmdpFunction
from esimcare.jobs.models import Job, JobStatus
from esimcare.jobs.pruning import PRUNE_JOB, prune, prune_all, run_pruning, schedule_pruning
from esimcare.jobs.queue import JobQueue
from esimcare.jobs.worker import Worker
from esimcare.kit.clock import FrozenClock

RETENTION = timedelta(days=30)


def job(status: JobStatus, finished_at: datetime | None, n: int) -> Job:
    return Job(kind="work", payload={}, dedupe_key=f"job:{n}", status=status, attempts=1,
               run_after=finished_at or datetime.now().astimezone(), created_at=finished_at
               or datetime.now().astimezone(), finished_at=finished_at)  # fmt: skip


def call(sent_at: datetime, n: int) -> Es2PlusCall:
    return Es2PlusCall(operator_id="mts", function=SmdpFunction.CANCEL_ORDER,
                       function_call_id=f"call-{n}", request={}, sent_at=sent_at)  # fmt: skip


def notification(received_at: datetime, n: int) -> Es2PlusNotification:
    return Es2PlusNotification(
        operator_id="mts",
        iccid="8970100000000000001",
        point_id=3,
        status="Executed-Success",
        notified_at=received_at,
        raw={},
        received_at=received_at,
        dedupe_key=f"n-{n}",
        effect="unchanged",
    )


def fill(sessions: sessionmaker[Session], now: datetime) -> None:
    old, recent = now - RETENTION - timedelta(days=1), now - RETENTION + timedelta(days=1)
    with transaction(sessions) as session:
        session.add_all([job(JobStatus.DONE, old, n) for n in range(5)])
        session.add_all([
            job(JobStatus.DONE, recent, 10), job(JobStatus.DEAD, old, 11),
            job(JobStatus.QUEUED, None, 12), job(JobStatus.RUNNING, None, 13),
        ])  # fmt: skip
        session.add_all([call(old, n) for n in range(3)] + [call(recent, 9)])
        session.add_all([notification(old, n) for n in range(3)] + [notification(recent, 9)])


def counts(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    with transaction(sessions) as session:
        return (
            session.scalar(select(func.count()).select_from(Job)) or 0,
            session.scalar(select(func.count()).select_from(Es2PlusCall)) or 0,
            session.scalar(select(func.count()).select_from(Es2PlusNotification)) or 0,
        )


def test_one_batch_deletes_at_most_its_size_from_each_table(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    fill(sessions, clock.now())
    with transaction(sessions) as session:
        report = prune(session, clock.now(), RETENTION, batch_size=2)
    assert (report.jobs, report.es2plus_calls, report.es2plus_notifications) == (2, 2, 2)
    assert report.more
    assert counts(sessions) == (7, 2, 2)


def test_pruning_everything_due_keeps_recent_rows_dead_jobs_and_open_jobs(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    fill(sessions, clock.now())
    report = prune_all(sessions, clock, RETENTION, batch_size=2)
    assert (report.jobs, report.es2plus_calls, report.es2plus_notifications) == (5, 3, 3)
    assert not report.more
    assert counts(sessions) == (4, 1, 1)
    with transaction(sessions) as session:
        kept = set(session.scalars(select(Job.dedupe_key)))
    assert kept == {"job:10", "job:11", "job:12", "job:13"}


def test_the_pruning_job_runs_and_schedules_its_next_run_once(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    fill(sessions, clock.now())
    for _ in range(3):  # every worker process asks at start
        with transaction(sessions) as session:
            schedule_pruning(session, clock.now())
    queue = JobQueue(sessions, clock, worker_id="w", lease_s=60)
    worker = Worker(queue, {PRUNE_JOB: lambda j: run_pruning(sessions, queue, j, RETENTION)},
                    max_attempts=3, backoff_base_s=1, heartbeat=False)  # fmt: skip
    assert worker.run_until_idle() == 1
    assert counts(sessions)[1:] == (1, 1)
    with transaction(sessions) as session:
        runs = list(session.execute(select(Job.status, Job.run_after).where(Job.kind == PRUNE_JOB)
                                    .order_by(Job.id)))  # fmt: skip
    assert [status for status, _ in runs] == [JobStatus.DONE, JobStatus.QUEUED]
    assert timedelta(0) < runs[1].run_after - clock.now() <= timedelta(hours=1)
