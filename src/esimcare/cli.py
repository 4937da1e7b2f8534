"""Command line: `esimcare demo | serve | worker | db upgrade | demo-data | staff add`."""

from __future__ import annotations

import argparse
import logging
import signal
import ssl
import sys
import threading
from pathlib import Path
from typing import Any

import structlog

from esimcare.cli_ops import add_ops_commands
from esimcare.cli_staff import add_staff_commands
from esimcare.config import Mode, Settings
from esimcare.runtime import (
    build_context,
    build_worker,
    prepare_database,
    schedule_maintenance,
    worker_id,
)
from esimcare.sandbox.cli import add_smdp_commands
from esimcare.sandbox.demo_data import (
    CUSTOMERS,
    DEMO_PASSWORD,
    seed_demo,
    write_demo_operators_file,
)
from esimcare.sandbox.demo_smdp import (
    add_demo_smdp_flags,
    smdp_banner,
    use_profile_type,
    with_demo_smdp,
)
from esimcare.sandbox.demo_staff import demo_staff_banner, seed_demo_staff

log = structlog.get_logger()


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # Alembic narrates its plugin set-up at INFO; only its migrations are worth showing.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    result: int = handler(args)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="esimcare", description=__doc__)
    commands = parser.add_subparsers(metavar="COMMAND")

    demo = commands.add_parser("demo", help="run everything on SQLite with demo operators")
    _common(demo, default_port=8000)
    add_demo_smdp_flags(demo)
    demo.set_defaults(handler=_demo)

    serve = commands.add_parser("serve", help="run the web process (API and portal)")
    _common(serve, default_port=8000)
    serve.add_argument("--with-worker", action="store_true", help="also run a worker thread")
    serve.add_argument(
        "--workers", type=int, default=1, help="web processes (uvicorn workers; default 1)"
    )
    _add_tls_flags(serve)
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser("worker", help="run a background worker")
    _common(worker)
    worker.add_argument(
        "--concurrency", type=int, default=1, help="worker threads in this process (default 1)"
    )
    worker.set_defaults(handler=_worker)

    data = commands.add_parser("demo-data", help="write the demo operators and seed them")
    _common(data)
    data.set_defaults(handler=_demo_data)
    _add_seed_command(commands)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", help="apply migrations")
    _common(upgrade)
    upgrade.set_defaults(handler=_db_upgrade)

    add_smdp_commands(commands)
    add_ops_commands(commands, _common, _settings)
    add_staff_commands(commands)
    return parser


def _add_seed_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    seed = commands.add_parser(
        "seed",
        help="bulk-insert synthetic customers and eSIMs (benchmarks, load tests)",
        description=(
            "Appends synthetic customers (+7999nnnnnnn) with eSIMs and ledger entries. All "
            f"share ONE password hash (of {DEMO_PASSWORD!r}): hashing each would take hours. "
            "The eSIMs have no SM-DP+ emulator profile or network subscriber, so they serve "
            "reads, not end-to-end cancellations."
        ),
    )
    _common(seed)
    seed.add_argument("--customers", type=int, required=True, help="how many customers to add")
    seed.add_argument("--esims-per-customer", type=int, default=3)
    seed.add_argument("--operator", default="mts", help="operator id (default mts)")
    seed.add_argument("--batch", type=int, default=5000, help="customers per transaction")
    seed.set_defaults(handler=_seed)


def _add_tls_flags(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    serve.add_argument("--tls-key", type=Path, help="its private key (PEM)")
    serve.add_argument(
        "--tls-client-ca",
        type=Path,
        help="verify client certificates from this CA (the SM-DP+'s, for the ES2+ receiver); "
        "optional for everyone else, so the portal still works without one",
    )


def tls_options(args: argparse.Namespace) -> dict[str, Any]:
    """uvicorn's keyword arguments for ``--tls-*`` (none without ``--tls-cert``)."""
    from esimcare.web.tls_scope import TlsScopeH11Protocol

    if not args.tls_cert:
        if args.tls_key or args.tls_client_ca:
            raise SystemExit("--tls-key and --tls-client-ca need --tls-cert")
        return {}
    options: dict[str, Any] = {
        "ssl_certfile": str(args.tls_cert),
        "ssl_keyfile": str(args.tls_key) if args.tls_key else None,
        # Our protocol puts the verified client certificate in the scope (ASGI TLS extension).
        "http": TlsScopeH11Protocol,
    }
    if args.tls_client_ca:
        options |= {"ssl_ca_certs": str(args.tls_client_ca), "ssl_cert_reqs": ssl.CERT_OPTIONAL}
    return options


def _common(parser: argparse.ArgumentParser, default_port: int | None = None) -> None:
    parser.add_argument("--data-dir", type=Path, default=None, help="data directory (./data)")
    parser.add_argument("--database-url", default=None, help="overrides ESIMCARE_DATABASE_URL")
    if default_port is not None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=default_port)


def _settings(args: argparse.Namespace, **overrides: object) -> Settings:
    settings = Settings.from_env(data_dir=args.data_dir, **overrides)
    if args.database_url:
        settings = settings.with_changes(database_url=args.database_url)
    return settings


def _demo(args: argparse.Namespace) -> int:
    url = f"http://{args.host}:{args.port}"
    settings = _settings(args, mode=Mode.DEVELOPMENT, public_url=url)
    write_demo_operators_file(settings.operators_file)
    settings = with_demo_smdp(settings, args)
    ctx = build_context(settings)
    prepare_database(ctx)
    fresh = seed_demo(ctx)
    staff_logins = seed_demo_staff(ctx)
    use_profile_type(ctx, args.smdp_profile_type)
    _print_banner(url, settings, fresh)
    sys.stdout.write("\n".join(demo_staff_banner(url, staff_logins)) + "\n")
    sys.stdout.write(smdp_banner(ctx, url))
    return _run_web(ctx, args, run_worker=True)


def _print_banner(url: str, settings: Settings, fresh: bool) -> None:
    lines = [
        "",
        "esimcare demo — SQLite, built-in SM-DP+ emulator, network registry and payout ledger",
        f"  data:    {settings.data_dir} ({'seeded now' if fresh else 'reused'})",
        f"  portal:  {url}/",
        f"  API:     {url}/api/v1  (OpenAPI document: {url}/api/openapi.json)",
        f"  SMS and e-mail outbox (development only): {url}/api/v1/dev/outbox",
        "  logins (password for all: " + DEMO_PASSWORD + "):",
    ]
    lines += [f"    {c.operator_id:8} {c.phone}  {c.email}" for c in CUSTOMERS]
    lines += ["  The demo operators' policies are illustrative, not the real companies' rules.", ""]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def _serve(args: argparse.Namespace) -> int:
    tls_options(args)  # a wrong combination of --tls-* stops here, before any work
    ctx = build_context(_settings(args))
    prepare_database(ctx)
    if args.workers > 1:
        return _run_web_processes(ctx.settings, args)
    return _run_web(ctx, args, run_worker=args.with_worker)


def _run_web_processes(settings: Settings, args: argparse.Namespace) -> int:
    """Several web processes: each builds its own context from the environment."""
    import os

    import uvicorn

    if args.with_worker:
        log.error("serve.refused", reason="--with-worker needs --workers 1; run `esimcare worker`")
        return 2
    os.environ["ESIMCARE_DATA_DIR"] = str(settings.data_dir)
    os.environ["ESIMCARE_DATABASE_URL"] = settings.database_url
    uvicorn.run(
        "esimcare.asgi:create_app_from_env",
        factory=True,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_level="info",
        proxy_headers=False,
        **tls_options(args),
    )
    return 0


def _run_web(ctx: object, args: argparse.Namespace, *, run_worker: bool) -> int:
    import uvicorn

    from esimcare.app import create_app
    from esimcare.context import Context

    assert isinstance(ctx, Context)
    app = create_app(ctx, run_worker=run_worker)
    tls = tls_options(args) if hasattr(args, "tls_cert") else {}
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", proxy_headers=False, **tls)
    return 0


def _worker(args: argparse.Namespace) -> int:
    ctx = build_context(_settings(args))
    schedule_maintenance(ctx)
    stop = threading.Event()
    # SIGTERM lets the current step finish and commit, then the loop ends.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # One Worker (own worker id, own leases) per thread; they share the connection pool.
    names = (
        [worker_id()]
        if args.concurrency <= 1
        else [f"{worker_id()}/{n}" for n in range(args.concurrency)]
    )
    threads = [
        threading.Thread(target=build_worker(ctx, name).run_forever, args=(stop,), name=name)
        for name in names
    ]
    for thread in threads:
        thread.start()
    log.info(
        "worker.started",
        database=ctx.engine.url.render_as_string(hide_password=True),
        concurrency=len(threads),
    )
    while not stop.wait(1.0):
        pass
    for thread in threads:
        thread.join()
    return 0


def _seed(args: argparse.Namespace) -> int:
    import json
    import time

    from esimcare.sandbox.seeding import SeedRequest, seed_customers

    settings = _settings(args, mode=Mode.DEVELOPMENT)
    write_demo_operators_file(settings.operators_file)
    ctx = build_context(settings)
    prepare_database(ctx)
    request = SeedRequest(args.customers, args.esims_per_customer, args.operator, args.batch)
    started = time.monotonic()
    report = seed_customers(ctx, request)
    summary = {**vars(report), "seconds": round(time.monotonic() - started, 1)}
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


def _demo_data(args: argparse.Namespace) -> int:
    settings = _settings(args, mode=Mode.DEVELOPMENT)
    write_demo_operators_file(settings.operators_file)
    ctx = build_context(settings)
    prepare_database(ctx)
    sys.stdout.write("seeded\n" if seed_demo(ctx) else "demo data already present\n")
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from esimcare.migrate import upgrade

    upgrade(_settings(args).database_url)
    sys.stdout.write("database is up to date\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
