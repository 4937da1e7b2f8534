"""Shared fixtures for contract tests: emulator storage, a frozen clock, and real sockets.

Real clients are tested against the emulators' HTTP apps served by uvicorn on 127.0.0.1, so
every byte crosses a real socket; nothing leaves the loopback interface.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

from esimcare.integrations.http import make_http_client
from esimcare.kit.clock import FrozenClock
from esimcare.sandbox.store import EmulatorStore

ServeAsgi = Callable[[ASGIApp], str]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def emulator_store(tmp_path: Path) -> Iterator[EmulatorStore]:
    store = EmulatorStore(f"sqlite:///{tmp_path}/emu.db")
    store.create_tables()
    yield store
    store.engine.dispose()


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    with make_http_client() as client:
        yield client


@pytest.fixture
def serve_asgi() -> Iterator[ServeAsgi]:
    """A factory: serve an ASGI app on a free loopback port and return its base URL."""
    servers: list[tuple[uvicorn.Server, threading.Thread, socket.socket]] = []

    def start(app: ASGIApp) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            app, lifespan="off", http="h11", ws="none", log_level="warning", access_log=False
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        servers.append((server, thread, sock))
        _wait_until_started(server, thread)
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    yield start
    for server, thread, sock in servers:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        assert not thread.is_alive(), "the emulator server did not stop"


def _wait_until_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the emulator server did not start")
        time.sleep(0.01)


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL on which nothing listens: connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
