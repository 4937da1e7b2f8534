"""The web app's event-loop connections for direct reads (PostgreSQL only), and their life.

Opened when the app starts serving and closed when it stops (its lifespan), in the loop that
serves: an async pool belongs to one event loop. Without a lifespan (a test client used
without ``with``) there are none, and the reads take a thread instead.
"""

from __future__ import annotations

from typing import Any

from esimcare.context import Context
from esimcare.db_direct import AsyncReaders

_STATE = "direct_readers"
# Connections per web process: a read holds one for one round trip, so a few serve many.
POOL_SIZE = 4


def direct_readers(app: Any) -> AsyncReaders | None:
    readers: AsyncReaders | None = getattr(app.state, _STATE, None)
    return readers


async def open_direct_readers(app: Any, ctx: Context) -> None:
    if ctx.engine.dialect.name != "postgresql":
        return
    readers = AsyncReaders(ctx.engine, POOL_SIZE)
    await readers.open()
    setattr(app.state, _STATE, readers)


async def close_direct_readers(app: Any) -> None:
    readers = direct_readers(app)
    if readers is not None:
        setattr(app.state, _STATE, None)
        await readers.close()
