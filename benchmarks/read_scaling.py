"""How the read path's cost grows with the database: the same GET /api/v1/{op}/esims at 10k,
100k and 1M eSIMs (3 per customer), each beside the bare Starlette answer in the same run
(``benchmarks.read_path.measure``). The per-request cost should stay flat, because each of its
queries is answered through an index; the query plans are printed to show it.

    .venv/bin/python -m benchmarks.read_scaling [--database-url URL] [--sizes 10000,100000]

With PostgreSQL, each size gets its own database named after --database-url's with a suffix
(esimcare_bench -> esimcare_bench_10000 ...); with SQLite, its own data directory.
"""

from __future__ import annotations

import json
import sys

from sqlalchemy import ClauseElement, func, select, text
from sqlalchemy.engine import make_url

from benchmarks.read_path import default_data_dir, measure, parser
from benchmarks.support import (
    analyze,
    ensure_customers,
    login_tokens,
    machine,
    prepared_context,
    quiet_logs,
    ratio,
)
from esimcare.context import Context
from esimcare.customers.models import AuthSession
from esimcare.esims.listing import LINES_OF_TOKEN


def the_queries(ctx: Context) -> dict[str, ClauseElement]:
    """The statement one request runs (esims/listing.py), for a customer with a session."""
    with ctx.engine.connect() as conn:
        token_hash = conn.scalar(select(func.max(AuthSession.token_hash)))
    return {"caller_and_esims_by_token": LINES_OF_TOKEN.params(token_hash=token_hash)}


def plans(ctx: Context) -> dict[str, list[str]]:
    explain = "EXPLAIN QUERY PLAN " if ctx.engine.dialect.name == "sqlite" else "EXPLAIN "
    found = {}
    with ctx.engine.connect() as conn:
        for name, query in the_queries(ctx).items():
            compiled = query.compile(ctx.engine, compile_kwargs={"literal_binds": True})
            rows = conn.execute(text(explain + str(compiled))).all()
            found[name] = [str(row[-1]) for row in rows]
    return found


def database_for(base_url: str | None, esims: int) -> str | None:
    if not base_url:
        return None
    url = make_url(base_url)
    return url.set(database=f"{url.database}_{esims}").render_as_string(hide_password=False)


def main(argv: list[str] | None = None) -> None:
    command = parser(__doc__)
    command.add_argument("--sizes", default="10000,100000,1000000", help="eSIMs per database")
    command.set_defaults(duration=6.0, rounds=2, warmup=1.0, sample=500)
    args = command.parse_args(argv)
    quiet_logs()
    results = []
    ctx = None
    for esims in (int(size) for size in args.sizes.split(",")):
        url = database_for(args.database_url, esims)
        ctx = prepared_context(default_data_dir(f"scaling-{esims}", url), url)
        data = ensure_customers(ctx, -(-esims // 3))
        analyze(ctx)
        found = measure(ctx, login_tokens(ctx, args.sample), args)
        results.append(
            {
                "esims": esims,
                "data": data,
                "esimcare": found["esimcare_list"],
                "bare_starlette": found["bare_list"],
                "ratio_rps": ratio(found["esimcare_list"], found["bare_list"]),
                "plans": plans(ctx),
            }
        )
        ctx.engine.dispose()
    result = {
        "benchmark": "read_scaling",
        "database": ctx.engine.dialect.name if ctx else None,
        "load": {"concurrency": args.concurrency, "duration_s": args.duration},
        "sizes": results,
        "machine": machine(ctx),
    }
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
