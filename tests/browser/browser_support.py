"""What the browser tests share besides fixtures: the served app and screenshots."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from esimcare.app import create_app
from esimcare.context import Context

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@dataclass(frozen=True)
class LiveServer:
    url: str
    ctx: Context

    def sms_code(self, phone: str, timeout_s: float = 5.0) -> str:
        """The newest one-time code in the development SMS outbox."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for message in self.ctx.sms.messages(to=phone):  # type: ignore[attr-defined]
                found = re.search(r"\b(\d{6})\b", message.body)
                if found:
                    return found.group(1)
            time.sleep(0.1)
        raise AssertionError(f"no code sent to {phone}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(ctx: Context, port: int) -> Iterator[LiveServer]:
    """The app with its in-process worker on 127.0.0.1:``port``, until the block ends."""
    config = uvicorn.Config(
        create_app(ctx, run_worker=True),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", ctx)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
