"""The read path, GET /api/v1/{operator}/esims, and the liveness check, each against a bare
Starlette endpoint serving the same answer.

    .venv/bin/python -m benchmarks.read_path [--database-url URL] [--customers 100000]

Seeds the database once (``esimcare seed``; later runs reuse it) and opens sessions for a
sample of customers spread over the table. Then esimcare and the bare app run side by side
(one uvicorn process each, same settings, 127.0.0.1) and the same closed-loop load generator
(its own process, ``--concurrency`` keep-alive connections) drives the four loads in turn,
``--rounds`` times: esimcare's list, the bare list, esimcare's health, the bare health; each
figure is combined over its rounds, so a figure and its reference saw the same machine.
Before that, in process, the database statements and transactions of one read are counted.
Prints JSON; each ``ratio`` is esimcare's throughput over its reference's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from benchmarks.support import (
    HOST,
    analyze,
    counted_statements,
    ensure_customers,
    login_tokens,
    machine,
    prepared_context,
    quiet_logs,
    ratio,
    run_load,
    server_env,
    side_by_side,
    uvicorn_server,
)
from esimcare.app import create_app
from esimcare.context import Context

PATH = "/api/v1/mts/esims"
HEALTH = "/api/v1/health"
ESIMCARE = "esimcare.asgi:create_app_from_env"
BARE = "benchmarks.bare_app:create_app"
PROBE = "/api/v1/mts/cancellation-reasons"


def parser(description: str | None = __doc__) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=None, help="default: SQLite in --data-dir")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--customers", type=int, default=100_000, help="3 eSIMs each")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per load")
    parser.add_argument("--rounds", type=int, default=3, help="the duration is split over them")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds, before each round")
    parser.add_argument("--web-workers", type=int, default=1, help="uvicorn processes")
    parser.add_argument("--sample", type=int, default=1000, help="customers with a session")
    return parser


def default_data_dir(name: str, database_url: str | None) -> Path:
    kind = "postgresql" if database_url and database_url.startswith("postgresql") else "sqlite"
    return Path(tempfile.gettempdir()) / "esimcare-bench" / f"{name}-{kind}"


def statements_per_read(ctx: Context, tokens: list[str], reads: int = 200) -> dict[str, Any]:
    """Statements and transactions of one list request, counted in process over ``reads``
    requests through the whole app (the idle refresh is not due: the sessions are new)."""
    with TestClient(create_app(ctx)) as client:
        client.get(PATH, headers={"Authorization": f"Bearer {tokens[0]}"})  # warm caches
        with counted_statements(ctx.engine) as counts:
            for n in range(reads):
                token = tokens[n % len(tokens)]
                answer = client.get(PATH, headers={"Authorization": f"Bearer {token}"})
                answer.raise_for_status()
    return {name: round(count / reads, 2) for name, count in counts.items()}


def sample_answer(port: int, token: str) -> Any:
    answer = httpx.get(f"http://{HOST}:{port}{PATH}", headers={"Authorization": f"Bearer {token}"})
    answer.raise_for_status()
    sample = answer.json()
    if len(sample["items"]) != 3:
        raise RuntimeError(f"expected 3 eSIMs per customer, got {len(sample['items'])}")
    return sample


@contextmanager
def bare_server(sample: Any, web_workers: int) -> Iterator[int]:
    """The bare app, answering the list with ``sample`` (as many bytes as esimcare sends)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(sample, handle)
    env = {**os.environ, "BARE_APP_BODY": handle.name}
    try:
        with uvicorn_server(BARE, env, web_workers, PATH) as port:
            yield port
    finally:
        Path(handle.name).unlink()


def measure(ctx: Context, tokens: list[str], args: argparse.Namespace) -> dict[str, Any]:
    lists: list[tuple[str, str | None]] = [(PATH, token) for token in tokens]
    health: list[tuple[str, str | None]] = [(HEALTH, None)]
    seconds = args.duration / args.rounds

    def load(port: int, requests: list[tuple[str, str | None]]) -> Any:
        return lambda: run_load(
            port, requests, concurrency=args.concurrency, duration_s=seconds,
            warmup_s=args.warmup, keep_latencies=True,
        )  # fmt: skip

    with uvicorn_server(ESIMCARE, server_env(ctx), args.web_workers, PROBE) as esimcare:
        sample = sample_answer(esimcare, tokens[0])
        with bare_server(sample, args.web_workers) as bare:
            return side_by_side(
                {
                    "esimcare_list": load(esimcare, lists),
                    "bare_list": load(bare, lists),
                    "esimcare_health": load(esimcare, health),
                    "bare_health": load(bare, health),
                },
                args.rounds,
            )


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    quiet_logs()
    data_dir = args.data_dir or default_data_dir(f"read-{args.customers}", args.database_url)
    ctx = prepared_context(data_dir, args.database_url)
    data = ensure_customers(ctx, args.customers)
    analyze(ctx)
    tokens = login_tokens(ctx, args.sample)
    per_read = statements_per_read(ctx, tokens)
    found = measure(ctx, tokens, args)
    result = {
        "benchmark": "read_path",
        "database": ctx.engine.dialect.name,
        "data": data,
        "load": {
            "concurrency": args.concurrency,
            "duration_s_per_load": args.duration,
            "rounds": args.rounds,
            "warmup_s_per_round": args.warmup,
            "web_workers": args.web_workers,
            "sessions": len(tokens),
        },
        "list": {
            "esimcare": found["esimcare_list"],
            "bare_starlette": found["bare_list"],
            "ratio_rps": ratio(found["esimcare_list"], found["bare_list"]),
            "per_request": per_read,
        },
        "health": {
            "esimcare": found["esimcare_health"],
            "bare_starlette": found["bare_health"],
            "ratio_rps": ratio(found["esimcare_health"], found["bare_health"]),
        },
        "load_average_1m_during": found["load_average_1m_during"],
        "machine": machine(ctx),
    }
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
