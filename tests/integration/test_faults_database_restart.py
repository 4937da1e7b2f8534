"""PostgreSQL restarted while workers settle cancellations: the workers reconnect and finish,
and every cancellation is still settled exactly once. Runs on a private server of its own."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from esimcare.kit.clock import SystemClock
from esimcare.sandbox.seeding import seed_cancellable
from tests.faults_support import (
    assert_each_settled_exactly_once,
    count_completed,
    request_and_verify,
    start_worker,
    wait_until_started,
)
from tests.private_postgres import private_postgres

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CANCELLATIONS = 40
WORKERS = 2
DEADLINE_S = 180.0


def test_workers_reconnect_after_a_database_restart_and_finish_exactly_once(
    make_context, tmp_path: Path
) -> None:
    with private_postgres() as server:
        ctx = make_context(clock=SystemClock(), database_url=server.url)
        targets = seed_cancellable(ctx, CANCELLATIONS)
        with ThreadPoolExecutor(4) as pool:
            ids = list(pool.map(lambda target: request_and_verify(ctx, target), targets))
        logs = [tmp_path / f"worker-{n}.log" for n in range(WORKERS)]
        workers = [start_worker(ctx, log) for log in logs]
        try:
            for log in logs:
                wait_until_started(log)
            deadline = time.monotonic() + 60
            while count_completed(ctx, ids) < 3 and time.monotonic() < deadline:
                time.sleep(0.1)
            done_before = count_completed(ctx, ids)
            assert done_before < len(ids), "the restart came too late to prove anything"
            ctx.engine.dispose()
            server.ctl("-m", "fast", "restart")
            deadline = time.monotonic() + DEADLINE_S
            while count_completed(ctx, ids) < len(ids) and time.monotonic() < deadline:
                time.sleep(0.2)
                assert all(w.poll() is None for w in workers), "a worker died of the restart"
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(timeout=30)
        assert count_completed(ctx, ids) == len(ids)
        assert_each_settled_exactly_once(ctx, ids)
        ctx.engine.dispose()
