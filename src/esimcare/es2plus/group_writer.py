"""Group commit: concurrent requests share one database transaction, each still answered only
after its own write has committed.

A request hands its item to ``GroupWriter.submit`` and waits. While no write is running, the
first item starts one; items that arrive meanwhile wait for it to finish and then go together
in the next write, so under load a transaction carries whatever arrived during the previous
one (at most ``max_batch``), and at rest an item is written at once. The write runs in the
thread pool (one hop per batch, not per request) and returns one outcome per item: a result,
or the exception that item's request raises. Nothing is answered before its write returned.

``write_now``, when given, is tried first on the event loop itself: a write that can never
block the loop (it refuses to wait for a lock) and raises on any trouble, after which the
batch goes to ``write`` in the thread pool as usual. On SQLite a batch is a fraction of a
millisecond of CPU: the thread hop, and the two threads trading the GIL, cost more than it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from starlette.concurrency import run_in_threadpool

Item = TypeVar("Item")
Result = TypeVar("Result")


# A request takes two turns of the loop from its bytes arriving to its submit (read, then
# its task's first step): the batch is closed after two turns in which nothing joined.
_QUIET_TURNS = 2
_MAX_GATHER_TURNS = 16


class GroupWriter(Generic[Item, Result]):
    def __init__(
        self,
        write: Callable[[Sequence[Item]], Sequence[Result | Exception]],
        max_batch: int = 256,
        write_now: Callable[[Sequence[Item]], Sequence[Result]] | None = None,
        writes_at_once: int = 1,
    ) -> None:
        """``writes_at_once``: batches written side by side (each in its own thread and
        transaction); more than one only where the database commits them concurrently."""
        self._write = write
        self._write_now = write_now
        self._max_batch = max_batch
        self._writes_at_once = writes_at_once
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Wait until ``item`` is written; its outcome, or its exception raised here."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((item, future))
        if self._drainer is None or self._drainer.done():  # done: its loop went away
            # A task of its own: a request that goes away (cancelled) does not stop the writes
            # of the others; its own item is still written, and a resent copy deduplicated.
            self._drainer = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        writing: set[asyncio.Task[None]] = set()
        try:
            while self._pending or writing:
                if self._pending and len(writing) < self._writes_at_once:
                    await self._gathered()
                    batch = self._pending[: self._max_batch]
                    del self._pending[: self._max_batch]
                    if self._writes_at_once == 1:
                        await self._flush(batch)
                        continue
                    writing.add(asyncio.ensure_future(self._flush(batch)))
                    continue
                _, writing = await asyncio.wait(writing, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._drainer = None

    async def _gathered(self) -> None:
        """Let requests that are already under way join the batch: a few turns of the loop,
        until the batch stops growing. Without it, a write on the loop would often start
        with the first request that reached it while a dozen more were about to."""
        quiet_turns = 0
        for _ in range(_MAX_GATHER_TURNS):
            if len(self._pending) >= self._max_batch or quiet_turns == _QUIET_TURNS:
                return
            waiting = len(self._pending)
            await asyncio.sleep(0)
            quiet_turns = quiet_turns + 1 if len(self._pending) == waiting else 0

    async def _flush(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        items = [item for item, _ in batch]
        outcomes: Sequence[Result | Exception]
        try:
            written = self._written_now(items)
            outcomes = written if written is not None else await self._in_thread(items)
        except Exception as error:  # noqa: BLE001 - every request of the batch raises it
            outcomes = [error] * len(batch)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # its request was cancelled meanwhile
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def _in_thread(self, items: list[Item]) -> Sequence[Result | Exception]:
        return await run_in_threadpool(self._write, items)

    def _written_now(self, items: list[Item]) -> Sequence[Result] | None:
        if self._write_now is None:
            return None
        try:
            return self._write_now(items)
        except Exception:  # noqa: BLE001 - nothing was written: the thread pool's turn
            return None
