"""A small HTTP/1.1 load generator, run as its own process: `python -m benchmarks.loadgen SPEC`.

SPEC is a JSON file: {"host", "port", "concurrency", "duration_s", "warmup_s", "requests":
[[path, bearer token or null], ...], optionally "keep_latencies" and "output" (a file for the
JSON instead of stdout)}. Each of ``concurrency`` keep-alive connections sends one
request at a time (closed loop), cycling through the requests; latencies after the warm-up are
kept. Prints JSON: requests, requests_per_s, p50_ms, p90_ms, p99_ms, errors.

Raw asyncio streams (on uvloop when installed) rather than an HTTP client library, so the load
generator costs as little CPU as possible and the server, not the client, is what is measured.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    # Successful answers including the warm-up (what the server must have done, e.g. stored).
    succeeded_in_all: int = 0


def build_requests(spec: dict[str, Any]) -> list[bytes]:
    host = f"{spec['host']}:{spec['port']}"
    built = []
    for path, token in spec["requests"]:
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Accept: application/json"]
        if token:
            lines.append(f"Authorization: Bearer {token}")
        built.append(("\r\n".join(lines) + "\r\n\r\n").encode())
    return built


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def client(
    spec: dict[str, Any],
    make_request: Callable[[int], bytes],
    tally: Tally,
    clock: tuple[float, float],
) -> None:
    """One keep-alive connection in a closed loop: send request n, read the answer, repeat."""
    warm_until, deadline = clock
    reader, writer = await asyncio.open_connection(spec["host"], spec["port"])
    serial = 0
    try:
        while (began := time.perf_counter()) < deadline:
            writer.write(make_request(serial))
            serial += 1
            status = await read_response(reader)
            tally.succeeded_in_all += status < 300
            if began < warm_until:
                continue
            tally.latencies.append(time.perf_counter() - began)
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if status >= 400:
                tally.errors += 1
    finally:
        writer.close()


def _cycling(requests: list[bytes], start: int) -> Callable[[int], bytes]:
    return lambda serial: requests[(start + serial) % len(requests)]


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    requests = build_requests(spec)
    tally = Tally()
    now = time.perf_counter()
    clock = (now + spec["warmup_s"], now + spec["warmup_s"] + spec["duration_s"])
    step = max(len(requests) // spec["concurrency"], 1)
    await asyncio.gather(
        *(
            client(spec, _cycling(requests, n * step), tally, clock)
            for n in range(spec["concurrency"])
        )
    )
    return summarise(tally, spec["duration_s"], keep=bool(spec.get("keep_latencies")))


def summarise(tally: Tally, duration_s: float, *, keep: bool = False) -> dict[str, Any]:
    """The figures; with ``keep`` also every latency (ms), so that rounds can be combined."""
    ordered = sorted(tally.latencies)

    def percentile(p: float) -> float:
        if not ordered:
            return float("nan")
        return round(1000 * ordered[min(int(p * len(ordered)), len(ordered) - 1)], 2)

    kept = {"latencies_ms": [round(1000 * x, 3) for x in ordered]} if keep else {}
    return {
        **kept,
        "requests": len(ordered),
        "requests_per_s": round(len(ordered) / duration_s, 1),
        "p50_ms": percentile(0.50),
        "p90_ms": percentile(0.90),
        "p99_ms": percentile(0.99),
        "errors": tally.errors,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "succeeded_including_warmup": tally.succeeded_in_all,
    }


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(spec))
    else:
        result = uvloop.run(run(spec))
    if spec.get("output"):  # large answers (every latency) go to a file, not through a pipe
        Path(spec["output"]).write_text(json.dumps(result))
    else:
        sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
