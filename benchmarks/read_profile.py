"""Where a read's time goes: cProfile over in-process GET /api/v1/{operator}/esims requests.

    .venv/bin/python -m benchmarks.read_profile [--database-url URL] [--requests 2000]

The requests go through the whole ASGI app (middleware, routing, the endpoint, the database,
serialisation), called directly, one after another, without a server or sockets. The thread
pool hop is replaced by a direct call so that the profiler sees the database work too (the
hop itself is therefore not in the figures). Prints JSON: microseconds per request without the
profiler, and the share of profiled time spent in each package (by the file of the function
that was running), plus the functions with the most own time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

from benchmarks.read_path import PATH, default_data_dir
from benchmarks.support import analyze, ensure_customers, login_tokens, prepared_context, quiet_logs
from esimcare.api import esims
from esimcare.app import create_app

AREAS = (
    ("sqlalchemy", "/sqlalchemy/"),
    ("fastapi", "/fastapi/"),
    ("starlette", "/starlette/"),
    ("pydantic", "/pydantic"),
    ("esimcare", "/esimcare/"),
    ("asyncio/anyio", "/asyncio/"),
    ("asyncio/anyio", "/anyio/"),
    ("database driver", "sqlite3"),
    ("database driver", "psycopg"),
)


async def _inline(function: Callable[..., Any], *args: Any) -> Any:
    return function(*args)


def scope(token: str) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": PATH, "raw_path": PATH.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
        "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
    }  # fmt: skip


def reader(app: Any, tokens: list[str]) -> Callable[[int], Coroutine[Any, Any, None]]:
    async def read(count: int) -> None:
        for n in range(count):
            sent: list[dict[str, Any]] = []

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: dict[str, Any], into: list[dict[str, Any]] = sent) -> None:
                into.append(message)

            await app(scope(tokens[n % len(tokens)]), receive, send)
            if sent[0]["status"] != 200:
                raise RuntimeError(f"the read answered {sent[0]['status']}")

    return read


def shares(stats: pstats.Stats) -> dict[str, float]:
    own: dict[str, float] = {}
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        where = filename if filename != "~" else name
        area = next((label for label, mark in AREAS if mark in where), "other (stdlib, C)")
        own[area] = own.get(area, 0.0) + tottime
    total = sum(own.values()) or 1.0
    return {area: round(100 * t / total, 1) for area, t in sorted(own.items(), key=lambda i: -i[1])}


def top_functions(stats: pstats.Stats, count: int = 15) -> list[str]:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    ranked = sorted(raw.items(), key=lambda item: -item[1][2])[:count]
    return [
        f"{t[2]:.3f}s own  {f[2]}  {f[0].split('site-packages/')[-1]}:{f[1]}" for f, t in ranked
    ]


def main(argv: list[str] | None = None) -> None:
    command = argparse.ArgumentParser(description=__doc__)
    command.add_argument("--database-url", default=None)
    command.add_argument("--customers", type=int, default=100_000)
    command.add_argument("--requests", type=int, default=2000)
    args = command.parse_args(argv)
    quiet_logs()
    data_dir = default_data_dir(f"read-{args.customers}", args.database_url)
    ctx = prepared_context(data_dir, args.database_url)
    ensure_customers(ctx, args.customers)
    analyze(ctx)
    setattr(esims, "run_in_threadpool", _inline)  # noqa: B010 - the profile sees the thread's work
    read = reader(create_app(ctx), login_tokens(ctx, 200))
    asyncio.run(read(200))
    started = time.perf_counter()
    asyncio.run(read(args.requests))
    per_request = (time.perf_counter() - started) / args.requests
    profile = cProfile.Profile()
    profile.enable()
    asyncio.run(read(args.requests))
    profile.disable()
    stats = pstats.Stats(profile)
    result = {
        "benchmark": "read_profile",
        "database": ctx.engine.dialect.name,
        "requests": args.requests,
        "us_per_request_without_profiler": round(1e6 * per_request, 1),
        "share_of_profiled_time_percent": shares(stats),
        "top_functions_by_own_time": top_functions(stats),
    }
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
