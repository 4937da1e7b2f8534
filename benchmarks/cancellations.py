"""End-to-end cancellations per second (request -> SMS-code verification -> completed) beside
the raw CancelOrder round-trip rate to the same SM-DP+, in one run.

    .venv/bin/python -m benchmarks.cancellations                        # SQLite, 1 worker thread
    .venv/bin/python -m benchmarks.cancellations --database-url URL --processes --workers 1 2

The SM-DP+ is the emulator served over real ES2+ HTTP by uvicorn on loopback (its own process),
and every operator speaks to it with ``Es2PlusClient``, as to a real one. Provisions
``--cancellations`` customers whose profiles really exist there and whose subscribers exist in
the network registry (``seeding.seed_cancellable``), starts the workers (threads in this
process, or ``esimcare worker`` subprocesses with ``--processes``), then requests and verifies
every cancellation through the domain services (as the API does, minus HTTP) and waits until
all are completed: final bill, CancelOrder, network bar and remove, refund with its payout,
notices. Then checks that each has exactly one bill and one refund.

The reference, measured just before in the same run with as many threads as workers: bare
CancelOrder requests (httpx, the same ES2+ body, no database) to the same SM-DP+, for as many
other seeded profiles; ``ratio`` is cancellations/s over CancelOrders/s, the one external call
a cancellation cannot avoid. With worker threads, every SQL statement and transaction on the
database is counted (SQLAlchemy events) and given per cancellation; with several ``--workers``
values, ``scaling`` is the last run's rate over the first's. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
from sqlalchemy import Engine, func, select

from benchmarks.read_path import default_data_dir
from benchmarks.smdp_server import DATABASE_ENV
from benchmarks.sql_counter import counting
from benchmarks.support import (
    HOST,
    machine,
    prepared_context,
    quiet_logs,
    server_env,
    uvicorn_server,
)
from esimcare.billing.models import Bill, Refund
from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.service import STEP_JOB
from esimcare.cancellations.states import CancellationStatus
from esimcare.context import Context
from esimcare.db import make_engine
from esimcare.esims.models import Esim
from esimcare.integrations.smdp.messages import (
    JSON_HEADERS,
    CancelOrder,
    parse_response,
    path,
    request_body,
)
from esimcare.integrations.smdp.states import SmdpFunction
from esimcare.jobs.models import Job, JobStatus
from esimcare.notices.service import DELIVER_JOB
from esimcare.runtime import build_context, build_worker
from esimcare.sandbox.demo_smdp import with_demo_smdp
from esimcare.sandbox.seeding import Cancellable, cancel_as_customer, seed_cancellable

POLL_S = "0.05"
REQUESTER_ID = "esimcare-bench"
WORKFLOW_KINDS = (STEP_JOB, DELIVER_JOB)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=None, help="default: SQLite in --data-dir")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--cancellations", type=int, default=200)
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1], help="worker threads or processes; "
        "several values: one run each, and their scaling"
    )  # fmt: skip
    parser.add_argument("--processes", action="store_true", help="esimcare worker subprocesses")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after this")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile one worker to here")
    parser.add_argument(
        "--profile-requests", type=Path, default=None, help="cProfile the requests and "
        "verifications (the API's part, in this thread) to here"
    )  # fmt: skip
    parser.add_argument(
        "--statements", action="store_true", help="list every distinct SQL statement (threads "
        "only), most frequent first, with how often it runs per cancellation"
    )  # fmt: skip
    return parser.parse_args(argv)


@contextmanager
def smdp_over_http(seeding: Context) -> Iterator[str]:
    """The emulator on its own uvicorn process, sharing the store the seeding writes to."""
    env = server_env(seeding) | {DATABASE_ENV: seeding.settings.emulator_database_url}
    probe = "/simulator/profiles/0"
    with uvicorn_server("benchmarks.smdp_server:create", env, 1, probe) as port:
        yield f"http://{HOST}:{port}"


def http_context(seeding: Context, smdp_url: str) -> Context:
    """The deployment the workers run: every operator's SM-DP+ reached over ES2+ HTTP."""
    flags = SimpleNamespace(
        smdp_url=smdp_url, smdp_requester_id=REQUESTER_ID, smdp_notifier_id=REQUESTER_ID
    )
    settings = with_demo_smdp(seeding.settings, cast(argparse.Namespace, flags))
    return build_context(settings, seeding.clock)


def cancel_order_rate(
    ctx: Context, smdp_url: str, targets: list[Cancellable], threads: int
) -> dict[str, Any]:
    """Bare CancelOrder round trips to the SM-DP+, ``threads`` at a time: the reference."""
    with ctx.engine.connect() as conn:
        esims = list(conn.execute(select(Esim.iccid, Esim.eid, Esim.matching_id, Esim.operator_id)
                                  .where(Esim.id.in_([t.esim_id for t in targets]))))  # fmt: skip
    url = smdp_url + path(SmdpFunction.CANCEL_ORDER)
    with httpx.Client(timeout=30) as client:

        def cancel(esim: Any) -> bool:
            final = ctx.policy(esim.operator_id).smdp_final_status
            message = CancelOrder(esim.iccid, final, esim.eid, esim.matching_id)
            body = request_body(message, REQUESTER_ID, uuid.uuid4().hex)
            answer = client.post(url, json=body, headers=JSON_HEADERS)
            # Answered is what counts: these profiles are on phones, so the SM-DP+ says 8.2.1
            # 3.3 (already downloaded), as it does to the cancellations that follow.
            return answer.status_code == 200 and parse_response(answer.json()) is not None

        started = time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            answered = sum(pool.map(cancel, esims))
        elapsed = time.monotonic() - started
    return {
        "calls": len(esims),
        "answered": answered,
        "threads": threads,
        "cancel_orders_per_s": round(len(esims) / elapsed, 1),
    }


_monitors: dict[str, Engine] = {}


def _monitor(ctx: Context) -> Engine:
    """An engine of its own for watching progress, so its queries are not counted."""
    url = ctx.settings.database_url
    if url not in _monitors:
        _monitors[url] = make_engine(url)
    return _monitors[url]


def request_and_verify(ctx: Context, target: Cancellable) -> int:
    return cancel_as_customer(ctx, target.customer, target.esim_id)[0]


def completed(ctx: Context, ids: list[int]) -> int:
    with _monitor(ctx).connect() as conn:
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
    env = {
        **server_env(ctx),
        "ESIMCARE_JOB_POLL_S": POLL_S,
        "ESIMCARE_OPERATORS_FILE": str(ctx.settings.operators_file),
    }
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
    ctx: Context, targets: list[Cancellable], workers: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Request and verify all (the API's part), then let the workers process them; the
    workers' rate is taken between the first and the last completion, so starting worker
    processes is not in it and the driver does not compete with them."""
    start_workers = worker_processes if args.processes else worker_threads
    first_job = _next_job_id(ctx)
    with counting(ctx.engine) as requesting, profiling(args.profile_requests):
        started = time.monotonic()
        ids = [request_and_verify(ctx, target) for target in targets]
        requested_s = time.monotonic() - started
    # Worker processes have their own engines: statements are counted with threads only.
    with counting(ctx.engine) as processing, start_workers(ctx, workers):
        started = time.monotonic()
        wait_for_all(ctx, ids, started + args.timeout)
        wall_s = time.monotonic() - started
        _wait_for_notices(ctx, first_job, started + args.timeout)
    result: dict[str, Any] = {
        "cancellations": len(ids),
        "request_and_verify_per_s": round(len(ids) / requested_s, 2),
        "workers_wall_s": round(wall_s, 2),
        "cancellations_per_s": round((len(ids) - 1) / _completion_span_s(ctx, ids), 2),
        "jobs_per_cancellation": round(_jobs_done_since(ctx, first_job) / len(ids), 2),
        "exactly_once": _settled_once(ctx, ids),
        "sql_request_and_verify": requesting.per(len(ids)),
    }
    if not args.processes:
        result["sql_workers"] = processing.per(len(ids))
    if args.statements:
        result["statements_request_and_verify"] = requesting.most_common(len(ids))
        if not args.processes:
            result["statements_workers"] = processing.most_common(len(ids))
    return result


@contextmanager
def profiling(path: Path | None) -> Iterator[None]:
    """cProfile what runs inside, in this thread, to ``path`` (nothing without one)."""
    if path is None:
        yield
        return
    import cProfile

    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        profile.dump_stats(path)


def _wait_for_notices(ctx: Context, first_job: int, deadline: float) -> None:
    """The closing notices are delivered after completion: wait for them before counting."""
    pending = (
        select(func.count())
        .select_from(Job)
        .where(
            Job.id >= first_job,
            Job.kind.in_(WORKFLOW_KINDS),
            Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]),
        )
    )
    while time.monotonic() < deadline:
        with _monitor(ctx).connect() as conn:
            if not conn.scalar(pending):
                return
        time.sleep(0.1)


def _completion_span_s(ctx: Context, ids: list[int]) -> float:
    with _monitor(ctx).connect() as conn:
        first, last = conn.execute(
            select(func.min(Cancellation.completed_at), func.max(Cancellation.completed_at)).where(
                Cancellation.id.in_(ids)
            )
        ).one()
    assert first is not None and last is not None  # all completed
    return max((last - first).total_seconds(), 1e-3)


def _next_job_id(ctx: Context) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.scalar(select(func.max(Job.id))) or 0) + 1


def _jobs_done_since(ctx: Context, first_job: int) -> int:
    with ctx.engine.connect() as conn:
        found = conn.scalar(
            select(func.count())
            .select_from(Job)
            .where(
                Job.id >= first_job,
                Job.status == JobStatus.DONE,
                Job.kind.in_(WORKFLOW_KINDS),
            )
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


def one_run(
    seeding: Context, ctx: Context, smdp_url: str, workers: int, args: argparse.Namespace
) -> dict[str, Any]:
    """The reference and the subject side by side, each on freshly seeded profiles."""
    seeding_started = time.monotonic()
    references = seed_cancellable(seeding, args.cancellations)
    targets = seed_cancellable(seeding, args.cancellations)
    seeded_s = round(time.monotonic() - seeding_started, 1)
    reference = cancel_order_rate(ctx, smdp_url, references, workers)
    result = {"workers": workers, "seed_s": seeded_s, "reference_cancel_order": reference}
    result |= run_cancellations(ctx, targets, workers, args)
    ratio = result["cancellations_per_s"] / reference["cancel_orders_per_s"]
    return result | {"ratio": round(ratio, 3), "load_average_1m": machine()["load_average_1m"]}


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    quiet_logs()
    os.environ["ESIMCARE_JOB_POLL_S"] = POLL_S
    data_dir = args.data_dir or default_data_dir("cancellations", args.database_url)
    seeding = prepared_context(data_dir, args.database_url)
    output: dict[str, Any] = {"benchmark": "cancellations", "database": seeding.engine.dialect.name}
    with smdp_over_http(seeding) as smdp_url:
        ctx = http_context(seeding, smdp_url)
        if args.profile:
            output |= profiled(ctx, seed_cancellable(seeding, args.cancellations), args.profile)
        else:
            runs = [one_run(seeding, ctx, smdp_url, workers, args) for workers in args.workers]
            output |= {"processes": args.processes, "runs": runs}
            if len(runs) > 1:
                scaling = runs[-1]["cancellations_per_s"] / runs[0]["cancellations_per_s"]
                output["scaling"] = round(scaling, 2)
        ctx.close()
    output["machine"] = machine(seeding)
    sys.stdout.write(json.dumps(output, indent=2) + "\n")


if __name__ == "__main__":
    main()
