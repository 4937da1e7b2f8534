"""End-to-end cancellations per second: request -> SMS-code verification -> completed.

    .venv/bin/python -m benchmarks.cancellations                        # SQLite, 1 process
    .venv/bin/python -m benchmarks.cancellations --database-url URL --processes 2

Provisions ``--cancellations`` customers whose eSIMs really exist in the built-in SM-DP+
emulator and network registry (``seeding.seed_cancellable``), starts the workers (threads in
this process, or ``esimcare worker`` subprocesses with ``--processes``), then requests and
verifies every cancellation through the domain services (as the API does, minus HTTP) and
waits until all are completed: final bill, SM-DP+ and network steps, refund with its payout,
notices. Then checks that each has exactly one bill and one refund.

The baseline, measured in the same run with as many worker threads: no-op jobs through the
same queue (claim, lease, heartbeat, finish). ``ratio`` is cancellations/s over that ceiling
(no-op jobs/s divided by the jobs one cancellation needs). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks.read_path import default_data_dir
from benchmarks.support import machine, prepared_context, quiet_logs, server_env
from esimcare.billing.models import Bill, Refund
from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.states import CancellationStatus
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.jobs.models import Job, JobStatus
from esimcare.jobs.queue import ClaimedJob, JobQueue, enqueue
from esimcare.jobs.worker import Worker
from esimcare.runtime import build_worker
from esimcare.sandbox.seeding import Cancellable, cancel_as_customer, seed_cancellable

NOOP = "bench.noop"
POLL_S = "0.05"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=None, help="default: SQLite in --data-dir")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--cancellations", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1, help="worker threads or processes")
    parser.add_argument("--processes", action="store_true", help="esimcare worker subprocesses")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after this")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile one worker to here")
    return parser.parse_args(argv)


def request_and_verify(ctx: Context, target: Cancellable) -> int:
    return cancel_as_customer(ctx, target.customer_id, target.esim_id)[0]


def completed(ctx: Context, ids: list[int]) -> int:
    with ctx.engine.connect() as conn:
        found = conn.scalar(
            select(func.count())
            .select_from(Cancellation)
            .where(Cancellation.id.in_(ids), Cancellation.status == CancellationStatus.COMPLETED)
        )
    return int(found or 0)


def wait_for_all(ctx: Context, ids: list[int], deadline: float) -> None:
    while completed(ctx, ids) < len(ids):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{completed(ctx, ids)} of {len(ids)} completed in time")
        time.sleep(0.1)


@contextmanager
def worker_threads(ctx: Context, count: int) -> Iterator[None]:
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=build_worker(ctx, f"bench/{n}").run_forever, args=(stop,), daemon=True
        )
        for n in range(count)
    ]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


@contextmanager
def worker_processes(ctx: Context, count: int) -> Iterator[None]:
    env = {**server_env(ctx), "ESIMCARE_JOB_POLL_S": POLL_S}
    command = [sys.executable, "-m", "esimcare.cli", "worker"]
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(count)
    ]
    try:
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)


def run_cancellations(
    ctx: Context, targets: list[Cancellable], args: argparse.Namespace
) -> dict[str, Any]:
    workers = worker_processes if args.processes else worker_threads
    first_job = _next_job_id(ctx)
    with workers(ctx, args.workers):
        started = time.monotonic()
        ids = [request_and_verify(ctx, target) for target in targets]
        requested_s = time.monotonic() - started
        wait_for_all(ctx, ids, started + args.timeout)
        elapsed = time.monotonic() - started
    return {
        "cancellations": len(ids),
        "seconds": round(elapsed, 2),
        "cancellations_per_s": round(len(ids) / elapsed, 2),
        "request_and_verify_s": round(requested_s, 2),
        "jobs_done": _jobs_done_since(ctx, first_job),
        "exactly_once": _settled_once(ctx, ids),
    }


def _next_job_id(ctx: Context) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.scalar(select(func.max(Job.id))) or 0) + 1


def _jobs_done_since(ctx: Context, first_job: int) -> int:
    with ctx.engine.connect() as conn:
        found = conn.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.id >= first_job, Job.status == JobStatus.DONE, Job.kind != NOOP)
        )
    return int(found or 0)


def _settled_once(ctx: Context, ids: list[int]) -> bool:
    with ctx.engine.connect() as conn:
        bills = conn.scalar(
            select(func.count()).select_from(Bill).where(Bill.cancellation_id.in_(ids))
        )
        refunds = conn.scalar(
            select(func.count()).select_from(Refund).where(Refund.cancellation_id.in_(ids))
        )
    return bills == len(ids) and refunds == len(ids)


def noop_baseline(ctx: Context, jobs: int, threads: int) -> dict[str, Any]:
    """Jobs per second through the same queue when the handler does nothing but finish."""
    with transaction(ctx.sessions) as session:
        for _ in range(jobs):
            enqueue(session, kind=NOOP, payload={}, now=ctx.clock.now())

    def run(name: str) -> None:
        queue = JobQueue(ctx.sessions, ctx.clock, worker_id=name, lease_s=ctx.settings.job_lease_s)

        def finish(job: ClaimedJob) -> None:
            with transaction(ctx.sessions) as session:
                queue.finish(session, job)

        Worker(queue, {NOOP: finish}, max_attempts=3, backoff_base_s=0.1).run_until_idle(jobs)

    started = time.monotonic()
    pool = [threading.Thread(target=run, args=(f"noop/{n}",)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.monotonic() - started
    return {"jobs": jobs, "threads": threads, "jobs_per_s": round(jobs / elapsed, 1)}


def profiled(ctx: Context, targets: list[Cancellable], path: Path) -> dict[str, Any]:
    """One worker in this thread under cProfile, so the profile sees every step."""
    import cProfile

    ids = [request_and_verify(ctx, target) for target in targets]
    worker = build_worker(ctx, "bench/profiled")
    profile = cProfile.Profile()
    started = time.monotonic()
    profile.enable()
    while completed(ctx, ids) < len(ids):
        worker.run_until_idle()
    profile.disable()
    profile.dump_stats(path)
    return {"profiled": len(ids), "seconds": round(time.monotonic() - started, 2)}


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    quiet_logs()
    os.environ["ESIMCARE_JOB_POLL_S"] = POLL_S
    data_dir = args.data_dir or default_data_dir("cancellations", args.database_url)
    ctx = prepared_context(data_dir, args.database_url)
    seeding_started = time.monotonic()
    targets = seed_cancellable(ctx, args.cancellations)
    seeded_s = round(time.monotonic() - seeding_started, 1)
    if args.profile:
        result: dict[str, Any] = profiled(ctx, targets, args.profile)
    else:
        result = run_cancellations(ctx, targets, args)
        jobs_each = result["jobs_done"] / result["cancellations"]
        baseline = noop_baseline(ctx, result["jobs_done"], args.workers)
        ceiling = baseline["jobs_per_s"] / jobs_each
        result |= {
            "jobs_per_cancellation": round(jobs_each, 2),
            "baseline_noop_jobs": baseline,
            "ceiling_cancellations_per_s": round(ceiling, 2),
            "ratio": round(result["cancellations_per_s"] / ceiling, 3),
        }
    setup = {"workers": args.workers, "processes": args.processes, "seed_s": seeded_s}
    output = {"benchmark": "cancellations", "database": ctx.engine.dialect.name, **setup}
    output |= result | {"machine": machine(ctx)}
    sys.stdout.write(json.dumps(output, indent=2) + "\n")


if __name__ == "__main__":
    main()
