"""The read path, GET /api/v1/{operator}/esims, against a bare Starlette endpoint.

    .venv/bin/python -m benchmarks.read_path [--database-url URL] [--customers 100000]

Seeds the database once (``esimcare seed``; later runs reuse it), opens sessions for a sample
of customers spread over the table, then serves esimcare and the bare app in turn with the
same uvicorn settings on 127.0.0.1 and drives each with the same closed-loop load generator
(its own process, ``--concurrency`` keep-alive connections, ``--duration`` seconds after a
warm-up). Prints JSON; the ``ratio`` is esimcare's throughput over the bare endpoint's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from benchmarks.support import (
    HOST,
    ensure_customers,
    login_tokens,
    machine,
    prepared_context,
    quiet_logs,
    run_load,
    server_env,
    uvicorn_server,
)
from esimcare.context import Context

PATH = "/api/v1/mts/esims"
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
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--web-workers", type=int, default=1, help="uvicorn processes")
    parser.add_argument("--sample", type=int, default=1000, help="customers with a session")
    return parser


def default_data_dir(name: str, database_url: str | None) -> Path:
    kind = "postgresql" if database_url and database_url.startswith("postgresql") else "sqlite"
    return Path(tempfile.gettempdir()) / "esimcare-bench" / f"{name}-{kind}"


def measure_esimcare(
    ctx: Context, tokens: list[str], args: argparse.Namespace
) -> tuple[dict[str, Any], Any]:
    """Load esimcare's read path; returns the figures and one real answer."""
    requests: list[tuple[str, str | None]] = [(PATH, token) for token in tokens]
    with uvicorn_server(ESIMCARE, server_env(ctx), args.web_workers, PROBE) as port:
        answer = httpx.get(
            f"http://{HOST}:{port}{PATH}", headers={"Authorization": f"Bearer {tokens[0]}"}
        )
        answer.raise_for_status()
        sample = answer.json()
        if len(sample["items"]) != 3:
            raise RuntimeError(f"expected 3 eSIMs per customer, got {len(sample['items'])}")
        figures = run_load(
            port,
            requests,
            concurrency=args.concurrency,
            duration_s=args.duration,
            warmup_s=args.warmup,
        )
    return figures, sample


def measure_bare(sample: Any, tokens: list[str], args: argparse.Namespace) -> dict[str, Any]:
    requests: list[tuple[str, str | None]] = [(PATH, token) for token in tokens]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(sample, handle)
    env = {**os.environ, "BARE_APP_BODY": handle.name}
    try:
        with uvicorn_server(BARE, env, args.web_workers, PATH) as port:
            return run_load(
                port,
                requests,
                concurrency=args.concurrency,
                duration_s=args.duration,
                warmup_s=args.warmup,
            )
    finally:
        Path(handle.name).unlink()


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    quiet_logs()
    data_dir = args.data_dir or default_data_dir(f"read-{args.customers}", args.database_url)
    ctx = prepared_context(data_dir, args.database_url)
    data = ensure_customers(ctx, args.customers)
    tokens = login_tokens(ctx, args.sample)
    esimcare, sample = measure_esimcare(ctx, tokens, args)
    bare = measure_bare(sample, tokens, args)
    result = {
        "benchmark": "read_path",
        "database": ctx.engine.dialect.name,
        "data": data,
        "load": {
            "concurrency": args.concurrency,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "web_workers": args.web_workers,
            "sessions": len(tokens),
        },
        "esimcare": esimcare,
        "bare_starlette": bare,
        "ratio_rps": round(esimcare["requests_per_s"] / bare["requests_per_s"], 3),
        "machine": machine(ctx),
    }
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
