"""What the benchmarks share: the machine's description, prepared databases, web servers run
with uvicorn on loopback, and the load generator in its own process."""

from __future__ import annotations

import json
import logging
import os
import platform
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import structlog
from psycopg import sql
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.engine import make_url

from esimcare.config import Mode, Settings
from esimcare.context import Context
from esimcare.customers.models import Customer
from esimcare.customers.sessions import open_session
from esimcare.db import transaction
from esimcare.runtime import build_context, prepare_database
from esimcare.sandbox.demo_data import write_demo_operators_file
from esimcare.sandbox.seeding import CUSTOMER_PREFIX, SeedRequest, seed_customers

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def quiet_logs() -> None:
    """Warnings and errors to stderr only: stdout carries the benchmark's JSON."""
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )


def machine(ctx: Context | None = None) -> dict[str, Any]:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "ram_gib": round(pages / 2**30, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        # Other work on the machine skews absolute figures; the ratios are measured side by side.
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    if ctx is not None and ctx.engine.dialect.name == "postgresql":
        with ctx.engine.connect() as conn:
            info["postgresql"] = conn.scalar(text("SHOW server_version"))
    return info


def ensure_postgres_database(url: str) -> None:
    """Create the benchmark's own database (not the test one) when it does not exist yet."""
    parsed = make_url(url)
    name = parsed.database
    admin = parsed.set(drivername="postgresql", database="postgres")
    conninfo = admin.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name or "")))


def prepared_context(data_dir: Path, database_url: str | None) -> Context:
    """A development-mode deployment (emulators built in) on the given database, migrated."""
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env(data_dir=data_dir, mode=Mode.DEVELOPMENT)
    if database_url:
        if database_url.startswith("postgresql"):
            ensure_postgres_database(database_url)
        settings = settings.with_changes(database_url=database_url)
    write_demo_operators_file(settings.operators_file)
    ctx = build_context(settings)
    prepare_database(ctx)
    return ctx


def synthetic_customers(ctx: Context, operator_id: str = "mts") -> int:
    with ctx.engine.connect() as conn:
        found = conn.scalar(
            select(func.count())
            .select_from(Customer)
            .where(Customer.operator_id == operator_id, Customer.phone.like(f"{CUSTOMER_PREFIX}%"))
        )
    return int(found or 0)


def ensure_customers(ctx: Context, customers: int) -> dict[str, Any]:
    """Seed up to ``customers`` synthetic customers (3 eSIMs each); reuses what is there."""
    present = synthetic_customers(ctx)
    started = time.monotonic()
    if present < customers:
        seed_customers(ctx, SeedRequest(customers - present))
    return {
        "customers": customers,
        "esims": 3 * customers,
        "seeded_now": max(customers - present, 0),
        "seed_s": round(time.monotonic() - started, 1),
    }


def analyze(ctx: Context) -> None:
    """Fresh statistics on PostgreSQL (autovacuum would take a while after a bulk seed): without
    them the planner may scan the whole operator_id index instead of the customer's rows."""
    if ctx.engine.dialect.name == "postgresql":
        with ctx.engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def login_tokens(ctx: Context, how_many: int, seed: int = 7) -> list[str]:
    """Sessions for customers spread over the whole table, opened directly in the database
    (logging in through the API would spend the time on argon2, not on the read path)."""
    with transaction(ctx.sessions) as session:
        ids = list(
            session.scalars(select(Customer.id).where(Customer.phone.like(f"{CUSTOMER_PREFIX}%")))
        )
        chosen = random.Random(seed).sample(ids, min(how_many, len(ids)))
        tokens = []
        for customer_id in chosen:
            customer = session.get(Customer, customer_id)
            assert customer is not None
            now = ctx.clock.now()
            tokens.append(open_session(session, customer, now, ctx.settings.limits).token)
    return tokens


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def server_env(ctx: Context) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESIMCARE_")}
    env.update(
        ESIMCARE_DATA_DIR=str(ctx.settings.data_dir),
        ESIMCARE_DATABASE_URL=ctx.settings.database_url,
        ESIMCARE_MODE="development",
    )
    return env


@contextmanager
def uvicorn_server(factory: str, env: dict[str, str], workers: int, probe: str) -> Iterator[int]:
    """Serve an app factory with uvicorn on loopback; yields the port once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", HOST]
    command += ["--port", str(port), "--workers", str(workers)]
    command += ["--log-level", "warning", "--no-access-log"]
    # The server's own output goes to stderr: stdout carries the benchmark's JSON.
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=sys.stderr)
    try:
        _wait_until_answering(port, probe, process)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_answering(port: int, probe: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            httpx.get(f"http://{HOST}:{port}{probe}", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("the server did not answer within 60 s")


def run_load(
    port: int,
    requests: list[tuple[str, str | None]],
    *,
    concurrency: int,
    duration_s: float,
    warmup_s: float,
    keep_latencies: bool = False,
) -> dict[str, Any]:
    """Run benchmarks.loadgen in its own process against the server on ``port``."""
    spec = {
        "host": HOST,
        "port": port,
        "concurrency": concurrency,
        "duration_s": duration_s,
        "warmup_s": warmup_s,
        "requests": requests,
        "keep_latencies": keep_latencies,
    }
    with tempfile.TemporaryDirectory(prefix="esimcare-load-") as directory:
        spec_file, output = Path(directory) / "spec.json", Path(directory) / "result.json"
        spec_file.write_text(json.dumps({**spec, "output": str(output)}))
        subprocess.run(
            [sys.executable, "-m", "benchmarks.loadgen", str(spec_file)],
            cwd=ROOT,
            check=True,
            timeout=duration_s + warmup_s + 60,
        )
        result: dict[str, Any] = json.loads(output.read_text())
    return result


def side_by_side(loads: dict[str, Callable[[], dict[str, Any]]], rounds: int) -> dict[str, Any]:
    """Each load in turn, ``rounds`` times (A B C A B C ...), so that every figure and its
    reference see the same machine, however busy others make it. Each load must keep its
    latencies (``run_load(..., keep_latencies=True)``); the rounds are combined per load."""
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in loads}
    load_averages = []
    for _ in range(rounds):
        for name, load in loads.items():
            results[name].append(load())
            load_averages.append(round(os.getloadavg()[0], 2))
    combined = {name: combine(found) for name, found in results.items()}
    return {**combined, "load_average_1m_during": load_averages}


def combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs of the load generator as one: throughput over the whole measured time,
    percentiles over every request."""
    latencies = sorted(x for found in rounds for x in found.pop("latencies_ms"))
    succeeded = sum(found.get("succeeded_including_warmup", 0) for found in rounds)
    measured_s = sum(
        found["requests"] / found["requests_per_s"] for found in rounds if found["requests"]
    )
    statuses: dict[str, int] = {}
    for found in rounds:
        for status, count in found["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count

    def percentile(p: float) -> float:
        return latencies[min(int(p * len(latencies)), len(latencies) - 1)] if latencies else 0.0

    return {
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / measured_s, 1) if measured_s else 0.0,
        "p50_ms": round(percentile(0.50), 2),
        "p90_ms": round(percentile(0.90), 2),
        "p99_ms": round(percentile(0.99), 2),
        "errors": sum(found["errors"] for found in rounds),
        "statuses": statuses,
        "rounds_requests_per_s": [found["requests_per_s"] for found in rounds],
        "succeeded_including_warmup": succeeded,
    }


def ratio(figure: dict[str, Any], reference: dict[str, Any]) -> float:
    return (
        round(figure["requests_per_s"] / reference["requests_per_s"], 3)
        if reference["requests_per_s"]
        else 0.0
    )


@contextmanager
def counted_statements(engine: Engine) -> Iterator[dict[str, int]]:
    """SQL statements and transactions (BEGIN sent, or commit/rollback) seen meanwhile."""
    counts = {"statements": 0, "writes": 0, "transactions": 0}

    def statement(_conn: Any, _cursor: Any, sql_text: str, *_args: Any) -> None:
        verb = sql_text.lstrip().split(None, 1)[0].upper()
        if verb == "BEGIN":
            return  # SQLite's explicit BEGIN: counted as the transaction, below
        counts["statements"] += 1
        counts["writes"] += verb in ("INSERT", "UPDATE", "DELETE")

    def ended(_conn: Any) -> None:
        counts["transactions"] += 1

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", ended)
    event.listen(engine, "rollback", ended)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", ended)
        event.remove(engine, "rollback", ended)
