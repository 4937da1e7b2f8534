"""OsmoHLR for tests: a real ``osmo-hlr`` started from a config file in a temporary directory.

OsmoHLR's ports are fixed (GSUP 4222, VTY 4258, CTRL 4259; its CTRL ``bind`` takes no port),
so each instance gets a loopback address of its own, 127.x.y.z, checked free before the start.
That keeps parallel test processes (and other services on 127.0.0.1:4222) apart. The process
starts in well under a second; it is stopped after the test.

Without the ``osmo-hlr`` binary (Debian package ``osmo-hlr``; ``scripts/bootstrap --system``
installs it) the tests are skipped locally and fail in CI (CI=true), like tests/postgres.py.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from esimcare.integrations.network.osmo_hlr_ctrl import DEFAULT_CTRL_PORT, CtrlAddress

FIXED_PORTS = (4222, 4258, DEFAULT_CTRL_PORT)  # GSUP, VTY, CTRL
START_ATTEMPTS = 5
READY_TIMEOUT_S = 10.0

CONFIG = """\
log stderr
 logging color 0
 logging level main notice
line vty
 bind {address}
ctrl
 bind {address}
hlr
 database {database}
 gsup
  bind ip {address}
"""


@dataclass(frozen=True)
class OsmoHlr:
    address: str
    database: Path

    @property
    def ctrl(self) -> CtrlAddress:
        return CtrlAddress(self.address, DEFAULT_CTRL_PORT)


def require_osmo_hlr() -> str:
    binary = shutil.which("osmo-hlr")
    if binary is not None:
        return binary
    reason = "osmo-hlr is not installed (apt-get install osmo-hlr, or scripts/bootstrap --system)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@contextmanager
def running_osmo_hlr(directory: Path) -> Iterator[OsmoHlr]:
    """Start osmo-hlr on a free loopback address; retry elsewhere if another process won it."""
    binary = require_osmo_hlr()
    log = directory / "osmo-hlr.log"
    for _ in range(START_ATTEMPTS):
        hlr = OsmoHlr(_free_loopback_address(), directory / "hlr.db")
        config = directory / "osmo-hlr.cfg"
        config.write_text(CONFIG.format(address=hlr.address, database=hlr.database))
        with log.open("wb") as output:
            process = subprocess.Popen(
                [binary, "-c", str(config)], cwd=directory, stdout=output, stderr=output
            )
        try:
            if _ctrl_answers(hlr, process):
                yield hlr
                return
        finally:
            _stop(process)
    pytest.fail(f"osmo-hlr did not start; its last log:\n{log.read_text(errors='replace')}")


@pytest.fixture
def osmo_hlr(tmp_path: Path) -> Iterator[OsmoHlr]:
    """A fresh OsmoHLR with an empty subscriber database, for one test."""
    directory = tmp_path / "osmo-hlr"
    directory.mkdir()
    with running_osmo_hlr(directory) as hlr:
        yield hlr


def _free_loopback_address() -> str:
    while True:
        address = f"127.{random.randint(2, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        if all(_port_free(address, port) for port in FIXED_PORTS):
            return address


def _port_free(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
        return True


def _ctrl_answers(hlr: OsmoHlr, process: subprocess.Popen[bytes]) -> bool:
    """True once CTRL accepts connections; False if the process exited (address taken)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            socket.create_connection((hlr.address, DEFAULT_CTRL_PORT), timeout=0.5).close()
        except OSError:
            time.sleep(0.02)
            continue
        return process.poll() is None
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
