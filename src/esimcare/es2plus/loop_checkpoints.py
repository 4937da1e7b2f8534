"""Checkpoints for the notification batches committed on the event loop.

Those commits never checkpoint (``db_direct_write.loop_write_connection``): a
checkpoint copies the write-ahead log into the database with an fsync or two, which would
stall every request on the loop meanwhile. Every ``every`` such commits, one checkpoint runs
in the thread pool instead, where SQLite does the copying without holding the GIL (on the
other core, while the loop goes on serving). At most one runs at a time; any other writer's
commit still checkpoints as usual once the log is long.
"""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from esimcare.db_direct_write import checkpoint

log = structlog.stdlib.get_logger(__name__)

# About 25 pages per batch: the log then stays near SQLite's own 1000-page threshold.
COMMITS_PER_CHECKPOINT = 32


class LoopCheckpoints:
    def __init__(self, engine: Engine, every: int = COMMITS_PER_CHECKPOINT) -> None:
        self._engine = engine
        self._every = every
        self._commits = 0
        self._running: asyncio.Task[None] | None = None

    def committed(self) -> None:
        """Called on the loop after each commit that did not checkpoint."""
        self._commits += 1
        if self._commits >= self._every and self._running is None:
            self._commits = 0
            self._running = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            await run_in_threadpool(checkpoint, self._engine)
        except Exception:
            log.warning("es2plus.checkpoint_failed", exc_info=True)
        finally:
            self._running = None
