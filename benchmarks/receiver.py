"""ES2+ notifications per second the receiver accepts, with persistence, against a bare
Starlette endpoint answering 204: same uvicorn settings, same load generator, same run.

    .venv/bin/python -m benchmarks.receiver [--seconds 10] [--concurrency 16]

Each notification is new (stored, audited, applied to the eSIM when its ICCID is known: a
third of the ICCIDs are the demo's eSIMs, the rest unknown). SQLite (WAL) in a temporary data
directory unless --database-url is given. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks.support import (
    HOST,
    ROOT,
    machine,
    prepared_context,
    quiet_logs,
    server_env,
    uvicorn_server,
)
from esimcare.context import Context
from esimcare.esims.models import Esim
from esimcare.esims.notifications import Es2PlusNotification
from esimcare.integrations.smdp.notification_signature import EMULATOR_REQUESTER_ID
from esimcare.sandbox.demo_data import seed_demo
from esimcare.sandbox.stand_ins import stand_ins_of

ESIMCARE = "esimcare.asgi:create_app_from_env"
BARE = "benchmarks.bare_receiver:create_app"
PATH = "/es2plus/mts/gsma/rsp2/es2plus/handleDownloadProgressInfo"
UNKNOWN = ["8999001000000000017", "8999001000000000025"]


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured, per server")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    return parser


def load(port: int, iccids: list[str], args: argparse.Namespace) -> dict[str, Any]:
    spec = {
        "host": HOST, "port": port, "path": PATH, "concurrency": args.concurrency,
        "duration_s": args.seconds, "warmup_s": args.warmup, "iccids": iccids,
        "requester_id": EMULATOR_REQUESTER_ID,
    }  # fmt: skip
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec, handle)
    try:
        output = subprocess.run(
            [sys.executable, "-m", "benchmarks.notify_loadgen", handle.name],
            cwd=ROOT, check=True, capture_output=True, text=True,
            timeout=args.seconds + args.warmup + 60,
        ).stdout  # fmt: skip
    finally:
        Path(handle.name).unlink()
    result: dict[str, Any] = json.loads(output)
    return result


def stored(ctx: Context) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(Es2PlusNotification)) or 0)


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    quiet_logs()
    with tempfile.TemporaryDirectory(prefix="esimcare-receiver-") as directory:
        ctx = prepared_context(Path(directory), args.database_url)
        seed_demo(ctx)
        with ctx.engine.connect() as conn:
            known = list(conn.scalars(select(Esim.iccid).where(Esim.operator_id == "mts")))
        iccids = known + UNKNOWN * max(len(known), 1)
        before = stored(ctx)
        with uvicorn_server(ESIMCARE, server_env(ctx), 1, "/") as port:
            receiver = load(port, iccids, args)
        receiver["stored"] = stored(ctx) - before
        with uvicorn_server(BARE, server_env(ctx), 1, "/") as port:
            bare = load(port, iccids, args)
        ratio = receiver["requests_per_s"] / bare["requests_per_s"] if bare["requests_per_s"] else 0
        report = {
            "benchmark": "es2plus-receiver",
            "database": ctx.engine.dialect.name,
            "concurrency": args.concurrency,
            "seconds": args.seconds,
            "receiver": receiver,
            "bare_starlette_204": bare,
            "ratio_receiver_to_bare": round(ratio, 3),
            "machine": machine(ctx),
        }
        ctx.engine.dispose()
        stand_ins_of(ctx).close()
    sys.stdout.write(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
