"""A Core SELECT run on the pooled driver connection itself, for the hottest reads.

SQLAlchemy's execution layer (connection and transaction objects, events, parameter
processing, result set-up) costs several times what SQLite spends on a small indexed query:
measured on the eSIM list, 150 µs a read through ``Connection.execute`` against 27 µs for the
same SQL on the driver. ``DirectRead`` keeps what matters of SQLAlchemy: the statement is
built with Core and compiled once per dialect by SQLAlchemy itself, and every value is
converted by the column type's own public ``result_processor`` (aware datetimes, enums, JSON),
so a row is the one ``Connection.execute`` would give. Parameters are passed through unchanged,
so only statements whose bound parameters need no bind processing are accepted (checked when
compiled).

The statement must be ONE read-only SELECT: it is its own consistent snapshot, with no
``BEGIN`` around it. On SQLite the connection is in the driver's autocommit mode (``db``), on
PostgreSQL the connection is switched to autocommit for the read and back before it returns to
the pool, so nothing holds a transaction or a lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus
from sqlalchemy import ARRAY, Engine, Select, String, any_, bindparam, column, func, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import BindParameter


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positional_names: tuple[str, ...] | None
    literals: Mapping[str, Any]
    # (position, processor) of the columns whose values need converting: all of them for a
    # first row, those after the shared prefix for the others.
    conversions: tuple[tuple[int, Callable[[Any], Any]], ...]
    later_conversions: tuple[tuple[int, Callable[[Any], Any]], ...]


class DirectRead:
    """``statement`` compiled for each engine it runs on (once), executed on the driver.

    ``shared_prefix`` says that the first columns are the same in every row (one side of a
    one-to-many join): they are converted once, from the first row, and repeated.
    ``reference_columns`` names columns of reference data that repeat across reads (a plan's
    names): each distinct raw value is converted once and the result shared, so callers must
    treat those values as read-only.
    """

    def __init__(
        self,
        statement: Select[Any],
        *,
        shared_prefix: int = 0,
        reference_columns: Collection[str] = (),
    ) -> None:
        self.statement = statement
        self.shared_prefix = shared_prefix
        self.reference_columns = frozenset(reference_columns)
        self._compiled: dict[str, _Compiled] = {}

    def rows(self, engine: Engine, parameters: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows, read on one of the engine's pooled connections (in this thread)."""
        compiled, values = self._prepared(engine, parameters)
        pooled = engine.raw_connection()
        try:
            raw_rows = _fetch(engine.dialect.name, pooled.driver_connection, compiled.sql, values)
        finally:
            pooled.close()
        return self._converted_rows(compiled, raw_rows)

    def rows_on(
        self, engine: Engine, driver: Any, parameters: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """The rows, read on ``driver`` (one of ``engine``'s driver connections) inside the
        caller's own transaction (``db_direct_write.direct_transaction``)."""
        compiled, values = self._prepared(engine, parameters)
        if engine.dialect.name == "postgresql":
            with driver.cursor() as cursor:
                cursor.execute(compiled.sql, values)
                raw_rows: Sequence[Sequence[Any]] = cursor.fetchall()
        else:
            raw_rows = driver.execute(compiled.sql, values).fetchall()
        return self._converted_rows(compiled, raw_rows)

    def send_on(
        self, engine: Engine, driver: Any, parameters: Mapping[str, Any]
    ) -> Callable[[], list[tuple[Any, ...]]]:
        """PostgreSQL, in the caller's transaction on ``driver``: the statement sent now (in
        a pipeline, not waited for); its rows when the returned function is called."""
        compiled, values = self._prepared(engine, parameters)
        cursor = driver.cursor()
        cursor.execute(compiled.sql, values)

        def fetched() -> list[tuple[Any, ...]]:
            with cursor:
                return self._converted_rows(compiled, cursor.fetchall())

        return fetched

    async def rows_async(
        self, readers: AsyncReaders, parameters: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """The rows, read on the event loop through ``readers`` (PostgreSQL): no thread hop."""
        compiled, values = self._prepared(readers.engine, parameters)
        raw_rows = await readers.fetch(compiled.sql, values)
        return self._converted_rows(compiled, raw_rows)

    def _prepared(self, engine: Engine, parameters: Mapping[str, Any]) -> tuple[_Compiled, Any]:
        compiled = self._compiled.get(engine.dialect.name) or self._compile(engine.dialect)
        values: Any = {**compiled.literals, **parameters}
        if compiled.positional_names is not None:
            values = tuple(values[name] for name in compiled.positional_names)
        if engine.dispatch.before_cursor_execute:
            # Whoever counts statements on the engine (tests, benchmarks) sees this one too.
            engine.dispatch.before_cursor_execute(None, None, compiled.sql, values, None, False)
        return compiled, values

    def _converted_rows(
        self, compiled: _Compiled, raw_rows: Sequence[Sequence[Any]]
    ) -> list[tuple[Any, ...]]:
        if not raw_rows:
            return []
        width = self.shared_prefix
        first = _converted(raw_rows[0], compiled.conversions)
        shared, later = first[:width], compiled.later_conversions
        return [first] + [shared + _converted(row, later)[width:] for row in raw_rows[1:]]

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        binds: dict[str, BindParameter[Any]] = compiled.binds
        for name, bind in binds.items():
            if bind.type.dialect_impl(dialect).bind_processor(dialect) is not None:
                raise TypeError(f"parameter {name!r} needs bind processing: not a direct read")
        defaults = {name: bind.value for name, bind in binds.items() if not bind.required}
        conversions = tuple(
            (position, self._remembered(column.key, process))
            for position, column in enumerate(self.statement.selected_columns)
            if (process := column.type.dialect_impl(dialect).result_processor(dialect, None))
        )
        found = _Compiled(
            sql=compiled.string,
            positional_names=tuple(compiled.positiontup or ()) if compiled.positional else None,
            literals=defaults,
            conversions=conversions,
            later_conversions=tuple(c for c in conversions if c[0] >= self.shared_prefix),
        )
        self._compiled[dialect.name] = found
        return found

    def _remembered(self, key: str | None, process: Callable[[Any], Any]) -> Callable[[Any], Any]:
        if key not in self.reference_columns:
            return process
        return lru_cache(maxsize=_REFERENCE_VALUES)(process)


# Distinct reference values kept per column (plans of every operator fit many times over).
_REFERENCE_VALUES = 1024


def _fetch(dialect_name: str, driver: Any, sql: str, values: Any) -> Sequence[Sequence[Any]]:
    if dialect_name != "postgresql":
        rows: Sequence[Sequence[Any]] = driver.execute(sql, values).fetchall()
        return rows
    # One round trip: no BEGIN/ROLLBACK around a single snapshot statement.
    driver.autocommit = True
    try:
        with driver.cursor() as cursor:
            cursor.execute(sql, values)
            fetched: Sequence[Sequence[Any]] = cursor.fetchall()
            return fetched
    finally:
        driver.autocommit = False


class AsyncReaders:
    """PostgreSQL connections for direct reads on the event loop (psycopg's async driver).

    A thread hop per read costs more than the read when many requests run at once (each
    thread fights for the GIL); on the loop a read waits for the server without a thread.
    At most ``size`` reads run at once, each on a connection of its own in autocommit (a
    single statement is its own snapshot). A connection that is not idle after a read (it
    broke, or a cancelled read left it busy) is closed, never reused; after a broken one (a
    server restart) the idle ones are closed too and the read is tried once more on a new
    connection. Opened and closed by the web app's lifespan, in the loop that serves.

    Not psycopg_pool: its checkout (a task-aware wait with a timeout) cost a quarter of the
    read; taking an idle connection here is a semaphore and a list pop. The connections are
    made from the engine's URL alone: ``connect_args`` and ``connect`` listeners of the engine
    do not apply to them.
    """

    def __init__(self, engine: Engine, size: int) -> None:
        self.engine = engine
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self._size = size
        self._slots = asyncio.Semaphore(size)
        self._idle: list[AsyncConnection[tuple[Any, ...]]] = []
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False

    async def open(self) -> None:
        """Connect them all now, so that a wrong URL fails the start, not a request."""
        self._idle = list(await asyncio.gather(*(self._connect() for _ in range(self._size))))

    async def close(self) -> None:
        self._closed = True  # a read still running closes its connection when it ends
        idle, self._idle = self._idle, []
        await asyncio.gather(*(connection.close() for connection in idle))
        await asyncio.gather(*self._closing)

    async def fetch(self, sql: str, values: Any) -> Sequence[Sequence[Any]]:
        async with self._slots:
            try:
                return await self._fetch_once(sql, values)
            except psycopg.errors.QueryCanceled:
                raise  # the statement ran out of time: the connection is fine, no retry
            except psycopg.OperationalError:
                # The server dropped a connection (a restart drops them all): the idle ones
                # are not trusted either, and the read is tried once on a new connection.
                stale, self._idle = self._idle, []
                for connection in stale:
                    self._discard(connection)
                return await self._fetch_once(sql, values)

    async def _fetch_once(self, sql: str, values: Any) -> Sequence[Sequence[Any]]:
        connection = self._idle.pop() if self._idle else await self._connect()
        try:
            cursor = await connection.execute(sql, values)
            return await cursor.fetchall()
        finally:
            if not self._closed and connection.info.transaction_status == TransactionStatus.IDLE:
                self._idle.append(connection)
            else:
                self._discard(connection)

    async def _connect(self) -> AsyncConnection[tuple[Any, ...]]:
        return await AsyncConnection.connect(self._conninfo, autocommit=True)

    def _discard(self, connection: AsyncConnection[tuple[Any, ...]]) -> None:
        task = asyncio.get_running_loop().create_task(connection.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


def _converted(
    row: Sequence[Any], conversions: Sequence[tuple[int, Callable[[Any], Any]]]
) -> tuple[Any, ...]:
    values = list(row)
    for position, process in conversions:
        if values[position] is not None:
            values[position] = process(values[position])
    return tuple(values)


def one_of(table_column: Any, name: str, dialect: str) -> Any:
    """``column IN <the list given as parameter name>``: one parameter, whatever its length,
    so the statement compiles once (a JSON array on SQLite, an array on PostgreSQL)."""
    if dialect == "sqlite":
        listed: Select[Any] = select(column("value")).select_from(func.json_each(bindparam(name)))
        return table_column.in_(listed)
    return table_column == any_(sql_cast(bindparam(name), ARRAY(String)))
