"""Command line: `esimcare demo | serve | worker | db upgrade | demo-data`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

import structlog

from esimcare.config import Mode, Settings
from esimcare.operators.demo import CUSTOMERS, DEMO_PASSWORD, seed_demo, write_demo_operators_file
from esimcare.runtime import build_context, build_worker, prepare_database

log = structlog.get_logger()


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
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
    demo.set_defaults(handler=_demo)

    serve = commands.add_parser("serve", help="run the web process (API and portal)")
    _common(serve, default_port=8000)
    serve.add_argument("--with-worker", action="store_true", help="also run a worker thread")
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser("worker", help="run a background worker")
    _common(worker)
    worker.set_defaults(handler=_worker)

    data = commands.add_parser("demo-data", help="write the demo operators and seed them")
    _common(data)
    data.set_defaults(handler=_demo_data)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", help="apply migrations")
    _common(upgrade)
    upgrade.set_defaults(handler=_db_upgrade)
    return parser


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
    ctx = build_context(settings)
    prepare_database(ctx)
    fresh = seed_demo(ctx)
    _print_banner(url, settings, fresh)
    return _run_web(ctx, args, run_worker=True)


def _print_banner(url: str, settings: Settings, fresh: bool) -> None:
    lines = [
        "",
        "esimcare demo — SQLite, built-in SM-DP+ emulator, network registry and payout ledger",
        f"  data:    {settings.data_dir} ({'seeded now' if fresh else 'reused'})",
        f"  portal:  {url}/",
        f"  API:     {url}/api/docs  (OpenAPI: {url}/api/openapi.json)",
        f"  SMS and e-mail outbox (development only): {url}/api/v1/dev/outbox",
        "  logins (password for all: " + DEMO_PASSWORD + "):",
    ]
    lines += [f"    {c.operator_id:8} {c.phone}  {c.email}" for c in CUSTOMERS]
    lines += ["  The demo operators' policies are illustrative, not the real companies' rules.", ""]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def _serve(args: argparse.Namespace) -> int:
    ctx = build_context(_settings(args))
    prepare_database(ctx)
    return _run_web(ctx, args, run_worker=args.with_worker)


def _run_web(ctx: object, args: argparse.Namespace, *, run_worker: bool) -> int:
    import uvicorn

    from esimcare.app import create_app
    from esimcare.context import Context

    assert isinstance(ctx, Context)
    app = create_app(ctx, run_worker=run_worker)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", proxy_headers=False)
    return 0


def _worker(args: argparse.Namespace) -> int:
    ctx = build_context(_settings(args))
    worker = build_worker(ctx)
    stop = threading.Event()
    # SIGTERM lets the current step finish and commit, then the loop ends.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info("worker.started", database=ctx.engine.url.render_as_string(hide_password=True))
    worker.run_forever(stop)
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
