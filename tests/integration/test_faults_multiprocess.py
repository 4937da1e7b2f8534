"""Many cancellations, several worker processes on PostgreSQL, workers killed again and again:
every cancellation still completes with exactly one final bill, one refund and one payout.

Loopback only: the emulators keep their state in the deployment's own SQLite file.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from esimcare.cancellations.service import STEP_JOB
from esimcare.context import Context
from esimcare.jobs.queue import ClaimedJob
from esimcare.kit.clock import SystemClock
from esimcare.runtime import build_worker
from esimcare.sandbox.seeding import seed_cancellable
from tests.faults_support import (
    assert_each_settled_exactly_once,
    count_completed,
    request_and_verify,
    start_worker,
    wait_until_started,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CANCELLATIONS = 200
WORKERS = 3
# A replacement is killed only after it is up and has had this long to work, so the test makes
# progress on a slow or busy machine too; kills stop after MAX_KILLS and the rest finishes.
WORK_BEFORE_KILL_S = 1.5
MAX_KILLS = 12
DEADLINE_S = 240.0


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
