"""A POST load generator for the ES2+ receiver, run as its own process:
`python -m benchmarks.notify_loadgen SPEC`.

SPEC is a JSON file: {"host", "port", "path", "concurrency", "duration_s", "warmup_s",
"iccids": [...], "requester_id"}. Each keep-alive connection sends one HandleDownloadProgressInfo
at a time (closed loop). Every notification is new (its timestamp counts up per connection),
so the receiver stores each one: this measures persistence, not deduplication. Prints the same
JSON as benchmarks.loadgen.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.loadgen import Tally, client, summarise

POINTS = (1, 3, 4)
EPOCH = 1_795_435_200  # 2026-11-23T12:00:00Z


def request_bytes(spec: dict[str, Any], connection: int, serial: int) -> bytes:
    body = json.dumps(
        {
            "header": {
                "functionRequesterIdentifier": spec["requester_id"],
                "functionCallIdentifier": f"{connection}-{serial}",
            },
            "iccid": spec["iccids"][serial % len(spec["iccids"])],
            "profileType": "benchmark",
            "timestamp": EPOCH + connection * 10_000_000 + serial,
            "notificationPointId": POINTS[serial % len(POINTS)],
            "notificationPointStatus": {"status": "Executed-Success"},
        }
    ).encode()
    head = (
        f"POST {spec['path']} HTTP/1.1\r\nHost: {spec['host']}:{spec['port']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    tally = Tally()
    now = time.perf_counter()
    clock = (now + spec["warmup_s"], now + spec["warmup_s"] + spec["duration_s"])
    await asyncio.gather(
        *(
            client(spec, partial(request_bytes, spec, n), tally, clock)
            for n in range(spec["concurrency"])
        )
    )
    return summarise(tally, spec["duration_s"])


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    sys.stdout.write(json.dumps(asyncio.run(run(spec))) + "\n")


if __name__ == "__main__":
    main()
