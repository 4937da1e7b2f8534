"""Many cancellations, several worker processes on PostgreSQL, workers killed again and again:
every cancellation still completes with exactly one final bill, one refund and one payout.

Loopback only: the emulators keep their state in the deployment's own SQLite file.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from esimcare.billing.models import Bill, EntryKind, LedgerEntry, Refund
from esimcare.cancellations import service
from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.service import STEP_JOB
from esimcare.cancellations.states import CancellationStatus
from esimcare.context import Context
from esimcare.customers.models import Customer
from esimcare.db import transaction
from esimcare.integrations.payments.payout_ledger import PayoutLedger
from esimcare.jobs.queue import ClaimedJob
from esimcare.kit.clock import SystemClock
from esimcare.runtime import build_worker
from esimcare.seeding import Cancellable, seed_cancellable

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CANCELLATIONS = 200
WORKERS = 3
# A replacement is killed only after it is up and has had this long to work, so the test makes
# progress on a slow or busy machine too; kills stop after MAX_KILLS and the rest finishes.
WORK_BEFORE_KILL_S = 1.5
MAX_KILLS = 12
DEADLINE_S = 240.0


def request_and_verify(ctx: Context, target: Cancellable) -> int:
    with transaction(ctx.sessions) as session:
        customer = session.get(Customer, target.customer_id)
        assert customer is not None
        requested = service.request_cancellation(
            session, ctx, customer, target.esim_id, reason="not_needed"
        )
        assert requested.code is not None
        cancellation_id, code = requested.cancellation.id, requested.code.code
    with transaction(ctx.sessions) as session:
        customer = session.get(Customer, target.customer_id)
        assert customer is not None
        service.verify(session, ctx, customer, cancellation_id, method="sms", secret=code)
    return cancellation_id


def start_worker(ctx: Context, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESIMCARE_")}
    env.update(
        ESIMCARE_DATA_DIR=str(ctx.settings.data_dir),
        ESIMCARE_DATABASE_URL=ctx.settings.database_url,
        ESIMCARE_MODE="development",
        ESIMCARE_JOB_LEASE_S="1",
        ESIMCARE_JOB_POLL_S="0.05",
        ESIMCARE_JOB_BACKOFF_BASE_S="0.1",
    )
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "esimcare.cli", "worker"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def wait_until_started(log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while b"worker.started" not in log.read_bytes():
        assert time.monotonic() < deadline, "a worker did not start in time"
        time.sleep(0.05)


def count_completed(ctx: Context, ids: list[int]) -> int:
    with transaction(ctx.sessions) as session:
        found = session.scalar(
            select(func.count())
            .select_from(Cancellation)
            .where(Cancellation.id.in_(ids), Cancellation.status == CancellationStatus.COMPLETED)
        )
    return int(found or 0)


def kill_workers_until_done(ctx: Context, ids: list[int]) -> int:
    """SIGKILL the workers in turn, each replaced at once, then let them finish; returns kills."""
    logs = [ctx.settings.data_dir / f"worker-{n}.log" for n in range(WORKERS)]
    workers = [start_worker(ctx, log) for log in logs]
    kills = 0
    deadline = time.monotonic() + DEADLINE_S
    try:
        for turn in itertools.cycle(range(WORKERS)):
            if count_completed(ctx, ids) == len(ids) or time.monotonic() > deadline:
                break
            if kills >= MAX_KILLS:
                time.sleep(0.2)
                continue
            wait_until_started(logs[turn])
            time.sleep(WORK_BEFORE_KILL_S)
            workers[turn].kill()
            workers[turn].wait(timeout=30)
            kills += 1
            workers[turn] = start_worker(ctx, logs[turn])
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
    return kills


def assert_each_settled_exactly_once(ctx: Context, ids: list[int]) -> None:
    with transaction(ctx.sessions) as session:
        statuses = Counter(
            session.scalars(select(Cancellation.status).where(Cancellation.id.in_(ids)))
        )
        bills = Counter(
            session.scalars(select(Bill.cancellation_id).where(Bill.cancellation_id.in_(ids)))
        )
        refunds = list(session.scalars(select(Refund).where(Refund.cancellation_id.in_(ids))))
        esim_ids = [r.esim_id for r in refunds]
        refund_entries = Counter(
            session.scalars(
                select(LedgerEntry.esim_id).where(
                    LedgerEntry.esim_id.in_(esim_ids), LedgerEntry.kind == EntryKind.REFUND
                )
            )
        )
    payouts = Counter(p.idempotency_key for p in PayoutLedger(ctx.emulators, ctx.clock).payouts())
    assert statuses == {CancellationStatus.COMPLETED: len(ids)}
    assert sorted(bills) == sorted(ids) and set(bills.values()) == {1}
    assert sorted(r.cancellation_id for r in refunds) == sorted(ids)
    assert all(refund_entries[esim_id] == 1 for esim_id in esim_ids)
    assert all(payouts[r.idempotency_key] == 1 for r in refunds)


def test_workers_killed_again_and_again_settle_every_cancellation_exactly_once(
    make_context, postgres_schema_url: str
) -> None:
    ctx = make_context(clock=SystemClock(), database_url=postgres_schema_url)
    targets = seed_cancellable(ctx, CANCELLATIONS)
    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(lambda target: request_and_verify(ctx, target), targets))
    kills = kill_workers_until_done(ctx, ids)
    assert count_completed(ctx, ids) == len(ids), f"not all completed after {kills} kills"
    assert kills >= 3, "the workers were never killed: the test proved nothing"
    assert_each_settled_exactly_once(ctx, ids)


def recording(
    step: Callable[[ClaimedJob], None], name: str, runs: list[tuple[int, str, float, float]]
) -> Callable[[ClaimedJob], None]:
    def recorded(job: ClaimedJob) -> None:
        began = time.monotonic()
        try:
            step(job)
        finally:
            runs.append((job.payload["cancellation_id"], name, began, time.monotonic()))

    return recorded


@contextmanager
def recording_workers(
    ctx: Context, count: int, runs: list[tuple[int, str, float, float]]
) -> Iterator[None]:
    """Worker threads whose step handler records (cancellation, worker, start, end)."""
    stop = threading.Event()
    threads = []
    for n in range(count):
        worker = build_worker(ctx, f"recording/{n}")
        worker.handlers[STEP_JOB] = recording(worker.handlers[STEP_JOB], f"recording/{n}", runs)
        threads.append(threading.Thread(target=worker.run_forever, args=(stop,), daemon=True))
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


def test_two_workers_never_run_steps_of_one_cancellation_at_the_same_time(
    make_context, postgres_schema_url: str
) -> None:
    ctx = make_context(clock=SystemClock(), database_url=postgres_schema_url, job_poll_s=0.02)
    targets = seed_cancellable(ctx, 20)
    runs: list[tuple[int, str, float, float]] = []
    with recording_workers(ctx, 2, runs):
        ids = [request_and_verify(ctx, target) for target in targets]
        deadline = time.monotonic() + 90
        while count_completed(ctx, ids) < len(ids) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert count_completed(ctx, ids) == len(ids)
    assert {name for _, name, _, _ in runs} == {"recording/0", "recording/1"}
    by_cancellation: dict[int, list[tuple[float, float]]] = {}
    for cancellation_id, _, began, ended in runs:
        by_cancellation.setdefault(cancellation_id, []).append((began, ended))
    for cancellation_id, spans in by_cancellation.items():
        spans.sort()
        for (_, first_end), (second_start, _) in itertools.pairwise(spans):
            assert second_start >= first_end, f"steps of {cancellation_id} overlapped"
