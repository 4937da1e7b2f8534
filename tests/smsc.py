"""A real SMSC for the SMPP contract tests: OsmoMSC's built-in SMSC (docs/adr/0003).

Each test gets its own osmo-msc, started from a config file in a temporary directory with its
SMPP server on a free loopback port, and reads what the SMSC stored from its SQLite ``sms.db``.
OsmoMSC exits at start when the kernel has no SCTP (its SGs listener), so it runs with the
``sctp_as_tcp.c`` shim preloaded, compiled here with gcc. Its other fixed ports (VTY, CTRL,
SGs, MGCP) are bound to a random 127.x.y.z address so that parallel runs do not collide.

Without osmo-msc or gcc the tests are skipped locally and fail in CI (CI=true), like
tests/postgres.py; ``scripts/bootstrap --system`` installs both. The ``smsc`` fixture (registered
in tests/conftest.py) gives a test its own running SMSC.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

SHIM_SOURCE = Path(__file__).with_name("sctp_as_tcp.c")
SYSTEM_ID = "esimcare"
PASSWORD = "t3st-pw"  # the throwaway SMSC's test credential
GSM7_DCS = 0x00  # TS 23.038 data coding: GSM 7-bit default alphabet, no message class
UCS2_DCS = 0x08


def unavailable_reason() -> str | None:
    missing = [tool for tool in ("osmo-msc", "gcc") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (scripts/bootstrap --system installs them)"
    return None


def require_smsc() -> None:
    reason = unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def build_shim(directory: Path) -> Path:
    library = directory / "sctp_as_tcp.so"
    command = ["gcc", "-shared", "-fPIC", "-O2", "-o", str(library), str(SHIM_SOURCE), "-ldl"]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return library


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class StoredSms:
    """One row of OsmoMSC's ``SMS`` table: one segment as the SMSC will deliver it."""

    source: str
    source_ton: int
    destination: str
    destination_ton: int
    data_coding: int
    has_header: bool
    user_data: bytes

    @property
    def header(self) -> bytes:
        return self.user_data[: self.user_data[0] + 1] if self.has_header else b""

    def septets(self) -> list[int]:
        """GSM 7-bit user data unpacked (TS 23.038 6.1.2.1), header and fill bits dropped.
        OsmoMSC stores as many octets as there are septets, so the count is exact."""
        bits = int.from_bytes(self.user_data, "little")
        septets = [(bits >> (7 * index)) & 0x7F for index in range(len(self.user_data))]
        skip = -(-len(self.header) * 8 // 7)  # header septets, fill bits included
        return septets[skip:]

    def ucs2_text(self) -> str:
        return self.user_data[len(self.header) :].decode("utf-16-be")


class OsmoSmsc:
    def __init__(self, directory: Path, shim: Path) -> None:
        self.directory = directory
        self.shim = shim
        self.host = "127.0.0.1"
        self.port = free_port()
        self.database = directory / "sms.db"
        self.log = directory / "osmo-msc.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._write_config()

    def start(self) -> None:
        environment = {**os.environ, "LD_PRELOAD": str(self.shim)}
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                ["osmo-msc", "-c", str(self.directory / "osmo-msc.cfg")],
                cwd=self.directory,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_ready()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def restart(self) -> None:
        self.stop()
        self.start()

    def stored(self) -> list[StoredSms]:
        query = (
            "SELECT src_addr, src_ton, dest_addr, dest_ton, data_coding_scheme, ud_hdr_ind,"
            " user_data FROM SMS ORDER BY id"
        )
        with closing(sqlite3.connect(f"file:{self.database}?mode=ro", uri=True)) as database:
            rows = database.execute(query).fetchall()
        return [StoredSms(r[0], r[1], r[2], r[3], r[4], bool(r[5]), bytes(r[6])) for r in rows]

    def _wait_until_ready(self) -> None:
        """Ready means the SMPP port answers and the SMS table exists (OsmoMSC opens the
        port before it creates the database)."""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                pytest.fail(f"osmo-msc exited at start:\n{self.log.read_text()[-3000:]}")
            if self._port_open() and self._table_exists():
                return
            time.sleep(0.05)
        pytest.fail(f"osmo-msc did not get ready:\n{self.log.read_text()[-3000:]}")

    def _port_open(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def _table_exists(self) -> bool:
        if not self.database.exists():
            return False
        query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'SMS'"
        with closing(sqlite3.connect(f"file:{self.database}?mode=ro", uri=True)) as database:
            return database.execute(query).fetchone() is not None

    def _write_config(self) -> None:
        # VTY, CTRL, SGs and the MGCP client have fixed default ports; a private loopback
        # address keeps them apart from other instances.
        private = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
        config = f"""\
log stderr
 logging filter all 1
 logging color 0
 logging print category 1
 logging level set-all notice
line vty
 bind {private}
ctrl
 bind {private}
network
 network country code 1
 mobile network code 1
msc
 mgw local-ip {private}
 mgw remote-ip {private}
 mncc internal
hlr
 remote-ip {private}
sgs
 local-ip {private}
smsc
 database {self.database}
smpp
 local-tcp-ip {self.host} {self.port}
 system-id osmo-smsc
 policy closed
 esme {SYSTEM_ID}
  password {PASSWORD}
"""
        (self.directory / "osmo-msc.cfg").write_text(config)


def texts_to(smsc: OsmoSmsc, destination: str) -> list[str]:
    """The whole texts the SMSC stored for ``destination`` (digits, as in ``sms.db``), oldest
    first, concatenated segments joined again by their UDH reference (TS 23.040 9.2.3.24.1)."""
    texts: list[str] = []
    pending: dict[int, list[str]] = {}
    for sms in smsc.stored():
        if sms.destination != destination:
            continue
        text = sms.ucs2_text() if sms.data_coding == UCS2_DCS else _gsm7_text(sms)
        if not sms.has_header:
            texts.append(text)
            continue
        reference, total = sms.header[3], sms.header[4]
        pending.setdefault(reference, []).append(text)
        if len(pending[reference]) == total:
            texts.append("".join(pending.pop(reference)))
    return texts


def _gsm7_text(sms: StoredSms) -> str:
    """Enough of the GSM 7-bit alphabet for the tests' texts: its ASCII letters and digits."""
    return bytes(sms.septets()).decode("ascii", errors="replace")


@pytest.fixture(scope="session")
def sctp_shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_smsc()
    return build_shim(tmp_path_factory.mktemp("shim"))


@pytest.fixture
def smsc(sctp_shim: Path, tmp_path: Path) -> Iterator[OsmoSmsc]:
    """A running OsmoMSC SMSC with an empty ``sms.db``, for one test."""
    directory = tmp_path / "osmo-msc"
    directory.mkdir()
    server = OsmoSmsc(directory, sctp_shim)
    server.start()
    yield server
    server.stop()
