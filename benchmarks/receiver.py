"""ES2+ notifications per second the receiver stores, against a bare Starlette endpoint on the
same path answering 204: same uvicorn settings, same load generator, same run, in turns.

    .venv/bin/python -m benchmarks.receiver [--seconds 10] [--rounds 3] [--concurrency 16]
        [--timestamps one-clock|per-connection] [--web-workers 1]

Each notification is new and signed as the development emulator signs (so the sender is
proven, as a real SM-DP+ is by its TLS certificate); each is stored, audited and applied to the
eSIM when its ICCID is known (a third of the ICCIDs are the demo's eSIMs, the rest unknown).
The notifications are dated on one clock, as an SM-DP+ dates them (``--timestamps
per-connection``: each connection on a day of its own, as before 2026-12-02).
The two servers run side by side and the load generator drives them in turn, ``--rounds``
times, so both see the same machine. Afterwards every notification answered 204 must be in
the database. Before that, in process, the statements and transactions per notification are
counted with ``--concurrency`` notifications in flight. SQLite (WAL) in a temporary data
directory unless --database-url is given. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from itertools import count
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import delete, func, select

from benchmarks.notify_loadgen import SPAN_S, request_bytes
from benchmarks.support import (
    HOST,
    ROOT,
    counted_statements,
    machine,
    prepared_context,
    quiet_logs,
    ratio,
    server_env,
    side_by_side,
    uvicorn_server,
)
from esimcare.app import create_app
from esimcare.context import Context
from esimcare.esims.models import Esim
from esimcare.esims.notifications import Es2PlusNotification
from esimcare.integrations.smdp.notification_signature import (
    EMULATOR_REQUESTER_ID,
    key_path,
    load_or_create_key,
)
from esimcare.sandbox.demo_data import seed_demo

ESIMCARE = "esimcare.asgi:create_app_from_env"
BARE = "benchmarks.bare_receiver:create_app"
PATH = "/es2plus/mts/gsma/rsp2/es2plus/handleDownloadProgressInfo"
UNKNOWN = ["8999001000000000017", "8999001000000000025"]


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured, per server")
    parser.add_argument("--rounds", type=int, default=3, help="the seconds are split over them")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds, before each round")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument(
        "--web-workers", type=int, default=1, help="uvicorn processes, for both servers"
    )
    parser.add_argument(
        "--timestamps", choices=("one-clock", "per-connection"), default="one-clock",
        help="how the notifications are dated (benchmarks.notify_loadgen)",
    )  # fmt: skip
    return parser


class Runs:
    """The load generator's spec for each run; every run gets timestamps of its own, so no
    notification of one run repeats one of another (each must be stored)."""

    def __init__(self, ctx: Context, iccids: list[str], args: argparse.Namespace) -> None:
        self.base = {
            "host": HOST, "path": PATH, "concurrency": args.concurrency,
            "duration_s": args.seconds / args.rounds, "warmup_s": args.warmup,
            "iccids": iccids, "requester_id": EMULATOR_REQUESTER_ID, "keep_latencies": True,
            "signing_key": load_or_create_key(key_path(ctx.settings.data_dir)).decode(),
            "timestamps": args.timestamps,
        }  # fmt: skip
        self.serial = count()
        self.first = int(time.time()) - 400 * SPAN_S  # in the past: the future is refused

    def spec(self, port: int) -> dict[str, Any]:
        first = self.first + next(self.serial) * self.base["concurrency"] * SPAN_S
        return {**self.base, "port": port, "first_timestamp": first}


def load(spec: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="esimcare-notify-") as directory:
        spec_file, output = Path(directory) / "spec.json", Path(directory) / "result.json"
        spec_file.write_text(json.dumps({**spec, "output": str(output)}))
        subprocess.run(
            [sys.executable, "-m", "benchmarks.notify_loadgen", str(spec_file)],
            cwd=ROOT, check=True, timeout=spec["duration_s"] + spec["warmup_s"] + 60,
        )  # fmt: skip
        result: dict[str, Any] = json.loads(output.read_text())
    return result


def forget_earlier_runs(ctx: Context) -> None:
    """A reused database (``--database-url``) still holds an earlier run's notifications, whose
    timestamps this run's may repeat: those would be answered as duplicates and never stored,
    and "every answered notification stored" could not be checked. They go first."""
    with ctx.engine.begin() as conn:
        conn.execute(delete(Es2PlusNotification))


def stored(ctx: Context) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(Es2PlusNotification)) or 0)


def statements_per_notification(ctx: Context, runs: Runs, batches: int = 10) -> dict[str, Any]:
    """Counted in process: ``batches`` times ``concurrency`` notifications posted at once."""
    spec = runs.spec(0)
    in_flight = spec["concurrency"]

    async def post_all() -> list[int]:
        transport = httpx.ASGITransport(app=create_app(ctx))
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
            statuses = []
            for batch in range(batches):
                requests = [
                    request_bytes(spec, spec["first_timestamp"], n, batch) for n in range(in_flight)
                ]
                answers = await asyncio.gather(*(post(client, raw) for raw in requests))
                statuses += [answer.status_code for answer in answers]
            return statuses

    with counted_statements(ctx.engine) as counts:
        statuses = asyncio.run(post_all())
    if set(statuses) != {204}:
        raise RuntimeError(f"the receiver answered {sorted(set(statuses))}")
    return {name: round(found / len(statuses), 2) for name, found in counts.items()}


async def post(client: httpx.AsyncClient, raw: bytes) -> httpx.Response:
    """One request as the load generator would send it (head and body as bytes)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")[1:]
    headers = dict(line.split(": ", 1) for line in lines if not line.startswith("Host"))
    return await client.post(PATH, content=body, headers=headers)


def measure(ctx: Context, runs: Runs, rounds: int, web_workers: int) -> dict[str, Any]:
    before = stored(ctx)
    with (
        uvicorn_server(ESIMCARE, server_env(ctx), web_workers, "/") as esimcare,
        uvicorn_server(BARE, server_env(ctx), web_workers, "/") as bare,
    ):
        found = side_by_side(
            {
                "receiver": lambda: load(runs.spec(esimcare)),
                "bare": lambda: load(runs.spec(bare)),
            },
            rounds,
        )
    found["stored"] = stored(ctx) - before
    return found


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    quiet_logs()
    with tempfile.TemporaryDirectory(prefix="esimcare-receiver-") as directory:
        ctx = prepared_context(Path(directory), args.database_url)
        seed_demo(ctx)
        forget_earlier_runs(ctx)
        with ctx.engine.connect() as conn:
            known = list(conn.scalars(select(Esim.iccid).where(Esim.operator_id == "mts")))
        runs = Runs(ctx, known + UNKNOWN * max(len(known), 1), args)
        per_notification = statements_per_notification(ctx, runs)
        found = measure(ctx, runs, args.rounds, args.web_workers)
        receiver = found["receiver"]
        report = {
            "benchmark": "es2plus-receiver",
            "database": ctx.engine.dialect.name,
            "concurrency": args.concurrency,
            "web_workers": args.web_workers,
            "seconds_per_server": args.seconds,
            "rounds": args.rounds,
            "timestamps": args.timestamps,
            "receiver": receiver,
            "bare_starlette_204": found["bare"],
            "ratio_receiver_to_bare": ratio(receiver, found["bare"]),
            "per_notification": per_notification,
            "answered_204_including_warmup": receiver["succeeded_including_warmup"],
            "stored": found["stored"],
            "every_answered_notification_stored": (
                found["stored"] == receiver["succeeded_including_warmup"]
            ),
            "load_average_1m_during": found["load_average_1m_during"],
            "machine": machine(ctx),
        }
        ctx.close()
    sys.stdout.write(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
