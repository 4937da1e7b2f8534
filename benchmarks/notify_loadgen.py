"""A POST load generator for the ES2+ receiver, run as its own process:
`python -m benchmarks.notify_loadgen SPEC`.

SPEC is a JSON file: {"host", "port", "path", "concurrency", "duration_s", "warmup_s",
"iccids": [...], "requester_id", "signing_key", "first_timestamp" (unix seconds; a run uses
``concurrency`` days from there), optionally "keep_latencies", "output" and "timestamps"}. Each
keep-alive connection sends one HandleDownloadProgressInfo at a time (closed loop), signed as
the development emulator signs (``notification_signature``; the key is the data directory's).
Every notification is new (its timestamp, in the past, is its own), so the receiver stores each
one: this measures persistence, not deduplication. The timestamps follow one clock, as a real
SM-DP+'s do: the n-th notification of connection c is dated ``first + n * concurrency + c``.
``"timestamps": "per-connection"`` dates each connection's on a day of its own instead
(``first + c * SPAN_S + n``), as this generator did until 2026-12-02. Prints (or writes to
"output") the same JSON as benchmarks.loadgen.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.loadgen import Tally, client, summarise
from esimcare.integrations.smdp.notification_signature import signature_headers

POINTS = (1, 3, 4)
# Timestamps lie in the past (the receiver refuses ones from the future); a run has
# ``concurrency`` of these spans: no connection sends as many notifications in a run.
SPAN_S = 86_400


def offset(spec: dict[str, Any], connection: int, serial: int) -> int:
    """Seconds after the run's first timestamp, unique per connection and notification."""
    if spec.get("timestamps") == "per-connection":
        return int(connection * SPAN_S + serial)
    return int(serial * spec["concurrency"] + connection)


def request_bytes(spec: dict[str, Any], start: int, connection: int, serial: int) -> bytes:
    body = json.dumps(
        {
            "header": {
                "functionRequesterIdentifier": spec["requester_id"],
                "functionCallIdentifier": f"{connection}-{serial}",
            },
            "iccid": spec["iccids"][serial % len(spec["iccids"])],
            "profileType": "benchmark",
            "timestamp": start + offset(spec, connection, serial),
            "notificationPointId": POINTS[serial % len(POINTS)],
            "notificationPointStatus": {"status": "Executed-Success"},
        }
    ).encode()
    key = spec["signing_key"].encode()
    signed = signature_headers(key, body, datetime.now(UTC))
    head = (
        f"POST {spec['path']} HTTP/1.1\r\nHost: {spec['host']}:{spec['port']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in signed.items())
        + "\r\n"
    )
    return head.encode() + body


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    tally = Tally()
    start = int(spec["first_timestamp"])
    now = time.perf_counter()
    clock = (now + spec["warmup_s"], now + spec["warmup_s"] + spec["duration_s"])
    await asyncio.gather(
        *(
            client(spec, partial(request_bytes, spec, start, n), tally, clock)
            for n in range(spec["concurrency"])
        )
    )
    return summarise(tally, spec["duration_s"], keep=bool(spec.get("keep_latencies")))


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    result = json.dumps(asyncio.run(run(spec)))
    if spec.get("output"):
        Path(spec["output"]).write_text(result)
    else:
        sys.stdout.write(result + "\n")


if __name__ == "__main__":
    main()
