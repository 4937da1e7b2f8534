"""No-op jobs per second through the job queue: claim (with its lease), run nothing, finish.

    .venv/bin/python -m benchmarks.job_queue                       # SQLite
    .venv/bin/python -m benchmarks.job_queue --database-url URL    # PostgreSQL

Enqueues ``--jobs`` no-op jobs, then drains them with ``--workers`` worker threads, twice in
the same run: claiming one job per statement (``--batch 1``, the queue as it was: the
reference) and ``--batch`` jobs per statement. Every worker keeps its heartbeat thread and
finishes each job in its own transaction, as a real handler's commit would. Prints JSON with
jobs/s, the statements and transactions per job, and the ratio batch/one.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert

from benchmarks.read_path import default_data_dir
from benchmarks.sql_counter import counting
from benchmarks.support import machine, prepared_context, quiet_logs
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.jobs.models import Job, JobStatus
from esimcare.jobs.queue import ClaimedJob, JobQueue
from esimcare.jobs.worker import Worker

NOOP = "bench.noop"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=None, help="default: SQLite in --data-dir")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=1, help="worker threads")
    parser.add_argument("--batch", type=int, default=32, help="jobs claimed per statement")
    return parser.parse_args(argv)


def enqueue_noops(ctx: Context, jobs: int) -> None:
    now = ctx.clock.now()
    row = {"kind": NOOP, "payload": {}, "status": JobStatus.QUEUED, "attempts": 0,
           "run_after": now, "created_at": now}  # fmt: skip
    with transaction(ctx.sessions) as session:
        session.execute(delete(Job).where(Job.kind == NOOP))
        session.execute(insert(Job), [row] * jobs)


def drain(ctx: Context, jobs: int, workers: int, batch: int) -> dict[str, Any]:
    enqueue_noops(ctx, jobs)

    def work(name: str) -> None:
        queue = JobQueue(ctx.sessions, ctx.clock, worker_id=name, lease_s=ctx.settings.job_lease_s)

        def nothing(job: ClaimedJob) -> None:
            return None  # the worker finishes the job in its own transaction

        worker = Worker(queue, {NOOP: nothing}, max_attempts=3, backoff_base_s=0.1,
                        batch_size=batch)  # fmt: skip
        worker.run_until_idle(jobs)

    threads = [threading.Thread(target=work, args=(f"noop/{n}",)) for n in range(workers)]
    with counting(ctx.engine) as sql:
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    return {
        "batch": batch,
        "jobs": jobs,
        "seconds": round(elapsed, 2),
        "jobs_per_s": round(jobs / elapsed, 1),
        "sql_per_job": sql.per(jobs),
        "load_average_1m": machine()["load_average_1m"],
    }


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    quiet_logs()
    data_dir = args.data_dir or default_data_dir("job-queue", args.database_url)
    ctx = prepared_context(data_dir, args.database_url)
    reference = drain(ctx, args.jobs, args.workers, 1)
    batched = drain(ctx, args.jobs, args.workers, args.batch)
    output = {
        "benchmark": "job_queue",
        "database": ctx.engine.dialect.name,
        "workers": args.workers,
        "one_per_claim": reference,
        "batched": batched,
        "ratio_batched_to_one": round(batched["jobs_per_s"] / reference["jobs_per_s"], 2),
        "machine": machine(ctx),
    }
    ctx.close()
    sys.stdout.write(json.dumps(output, indent=2) + "\n")


if __name__ == "__main__":
    main()
