"""How an idle worker waits for work: woken by PostgreSQL's NOTIFY, or by polling.

On PostgreSQL each worker keeps one extra connection that LISTENs on the jobs channel; every
transaction that enqueues a job notifies it as it commits (``jobs/queue.py``), so a job is
picked up within a round trip instead of a poll interval. The poll interval stays as the upper
bound: it finds jobs that were queued for later (``run_after``) and covers the moments when the
listening connection is down (a database restart): then the worker simply polls.

SQLite has no notifications; there the worker polls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

import psycopg
import structlog
from sqlalchemy.engine import make_url

from esimcare.jobs.queue import WAKEUP_CHANNEL

log = structlog.stdlib.get_logger(__name__)

# How long the listener waits between checks that it should stop; also its reconnect pause.
_LISTEN_SLICE_S = 0.5
# How often a waiting worker looks whether it should stop.
_STOP_CHECK_S = 0.1


class Wakeup(Protocol):
    def listening(self) -> AbstractContextManager[None]:
        """A context manager holding whatever the waits need (a connection) while it is open."""
        ...

    def wait(self, stop: threading.Event, timeout_s: float) -> None:
        """Return when work may have arrived, ``stop`` was set, or ``timeout_s`` passed."""
        ...


class PollingWakeup:
    """Sleep the poll interval (SQLite, or no database that can notify)."""

    @contextmanager
    def listening(self) -> Iterator[None]:
        yield

    def wait(self, stop: threading.Event, timeout_s: float) -> None:
        stop.wait(timeout_s)


class NotifyWakeup:
    """LISTEN on a connection of its own, in a thread that wakes the waiting worker."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self._arrived = threading.Event()
        self._closing = threading.Event()

    @classmethod
    def for_database(cls, database_url: str) -> NotifyWakeup:
        url = make_url(database_url).set(drivername="postgresql")
        return cls(url.render_as_string(hide_password=False))

    @contextmanager
    def listening(self) -> Iterator[None]:
        self._closing.clear()
        thread = threading.Thread(target=self._listen, name="jobs-listener", daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._closing.set()
            thread.join(timeout=10)

    def wait(self, stop: threading.Event, timeout_s: float) -> None:
        # A notification that came while the worker was busy ends the wait at once: one extra
        # look at the queue, never a missed job.
        deadline = time.monotonic() + timeout_s
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self._arrived.wait(min(remaining, _STOP_CHECK_S)):
                self._arrived.clear()
                return

    def _listen(self) -> None:
        while not self._closing.is_set():
            try:
                self._listen_on_one_connection()
            # Thread boundary: the database went away (restart, network). The worker keeps
            # polling meanwhile; reconnect after a pause.
            except psycopg.Error as error:
                log.warning("jobs.listener_lost", error=str(error))
                self._arrived.set()
                self._closing.wait(_LISTEN_SLICE_S)

    def _listen_on_one_connection(self) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(f"LISTEN {WAKEUP_CHANNEL}")
            # Anything enqueued while we were not listening: look once.
            self._arrived.set()
            while not self._closing.is_set():
                for _notice in conn.notifies(timeout=_LISTEN_SLICE_S, stop_after=1):
                    self._arrived.set()


def wakeup_for(database_url: str) -> Wakeup:
    if make_url(database_url).get_backend_name() == "postgresql":
        return NotifyWakeup.for_database(database_url)
    return PollingWakeup()
