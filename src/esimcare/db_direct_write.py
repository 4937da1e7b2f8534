"""Writes on the pooled driver connection itself, for the ES2+ receiver's group commit.

A batch of notifications is a handful of statements; through the ORM (objects, flush, unit of
work) or even through ``Connection.execute`` SQLAlchemy's execution layer cost several times
what SQLite spends on the statements themselves (a batch of 8 took ~3 ms, the SQL in it
~0.3 ms). As ``db_direct.DirectRead`` does for reads, ``DirectWrite`` keeps what matters of
SQLAlchemy: the INSERT or UPDATE is built with Core and compiled once per dialect by
SQLAlchemy itself, and every parameter is converted by its column type's own public
``bind_processor`` (aware UTC datetimes, enums, JSON), so the stored values are exactly those
an ORM flush would store.

``direct_transaction`` is the one transaction these run in: ``BEGIN IMMEDIATE`` on SQLite (the
write lock up front, as ``db`` does for every writing transaction), the driver's implicit
transaction on PostgreSQL; committed when the block ends, rolled back on any error. Whoever
counts statements and commits on the engine (tests, benchmarks) sees these too.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Engine, Insert, Table, Update, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.elements import BindParameter

from esimcare.db import UtcDateTime, utc_as_sqlite_text
from esimcare.db_direct import DirectRead

_Processors = tuple[tuple[str, Callable[[Any], Any]], ...]
# Types whose bind processing has a faster equal (the same stored value), per dialect.
_FASTER: dict[tuple[type[Any], str], Callable[[Any], Any]] = {
    (UtcDateTime, "sqlite"): utc_as_sqlite_text,
}


@dataclass(frozen=True, slots=True)
class _CompiledWrite:
    sql: str
    positional_names: tuple[str, ...] | None
    # A row's values in ``positional_names`` order, as a tuple (one C call per row).
    in_order: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    literals: Mapping[str, Any]  # values written into the statement (``.values(x=1)``)
    processors: _Processors


def typed_values(table: Table, names: Iterable[str]) -> dict[str, BindParameter[Any]]:
    """``.values()`` for a ``DirectWrite``: each column a ``bindparam`` of its own name and
    type (the type converts the value)."""
    return {name: bindparam(name, type_=table.c[name].type) for name in names}


class DirectWrite:
    """An INSERT or UPDATE whose parameters are all named ``bindparam``s (typed by their
    columns), run with ``executemany`` on the driver: one statement for all the rows."""

    def __init__(
        self, statement: Insert | Update, *, given_as_stored: Collection[str] = ()
    ) -> None:
        """``given_as_stored``: parameters the caller passes as the database stores them (a
        JSON column's text, serialised already), so their type's processing is skipped."""
        self.statement = statement
        self.given_as_stored = frozenset(given_as_stored)
        self._compiled: dict[str, _CompiledWrite] = {}

    def run(self, transaction: DirectTransaction, rows: Sequence[Mapping[str, Any]]) -> int:
        """Rows changed (as the driver counts them)."""
        if not rows:
            return 0
        return transaction.execute_many(*self._sql_and_values(transaction, rows))

    def send(self, transaction: DirectTransaction, rows: Sequence[Mapping[str, Any]]) -> None:
        """In a pipeline (``DirectTransaction.pipelined``): sent, answered when it ends."""
        if rows:
            transaction.send_many(*self._sql_and_values(transaction, rows))

    def _sql_and_values(
        self, transaction: DirectTransaction, rows: Sequence[Mapping[str, Any]]
    ) -> tuple[str, list[Any]]:
        engine = transaction.engine
        compiled = self._compiled.get(engine.dialect.name) or self._compile(engine.dialect)
        values = [_processed({**compiled.literals, **row}, compiled.processors) for row in rows]
        if compiled.positional_names is None:
            return compiled.sql, values
        in_order = compiled.in_order
        return compiled.sql, [in_order(row) for row in values]

    def _compile(self, dialect: Dialect) -> _CompiledWrite:
        compiled = self.statement.compile(dialect=dialect)
        binds: dict[str, BindParameter[Any]] = compiled.binds
        processors = tuple(
            (name, process)
            for name, bind in binds.items()
            if name not in self.given_as_stored and (process := _processor(bind, dialect))
        )
        found = _CompiledWrite(
            sql=compiled.string,
            positional_names=tuple(compiled.positiontup or ()) if compiled.positional else None,
            in_order=_getter(tuple(compiled.positiontup or ())),
            literals={name: bind.value for name, bind in binds.items() if not bind.required},
            processors=processors,
        )
        self._compiled[dialect.name] = found
        return found


def _getter(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    if len(names) < 2:  # itemgetter of one name gives the value, not a tuple; of none, fails
        return lambda row: tuple(row[name] for name in names)
    getter: Callable[[Mapping[str, Any]], tuple[Any, ...]] = itemgetter(*names)
    return getter


def _processor(bind: BindParameter[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    faster = _FASTER.get((type(bind.type), dialect.name))
    return faster or bind.type.dialect_impl(dialect).bind_processor(dialect)


def _processed(values: dict[str, Any], processors: _Processors) -> dict[str, Any]:
    for name, process in processors:
        values[name] = process(values[name])
    return values


class DirectTransaction:
    """The driver connection of one transaction (made by ``direct_transaction``)."""

    def __init__(self, engine: Engine, driver: Any) -> None:
        self.engine = engine
        self.driver = driver
        self._postgresql = engine.dialect.name == "postgresql"
        self._pipelined = False

    def rows(self, read: DirectRead, parameters: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """``read``'s rows, in this transaction."""
        return read.rows_on(self.engine, self.driver, parameters)

    def execute(self, sql: str, values: Any = ()) -> Sequence[Sequence[Any]]:
        """One statement; its rows (if it returns any)."""
        self._counted(sql, values, many=False)
        if self._postgresql:
            with self.driver.cursor() as cursor:
                cursor.execute(sql, values)
                return cursor.fetchall() if cursor.description else []
        cursor = self.driver.execute(sql, values)
        return cursor.fetchall() if cursor.description else []

    def execute_many(self, sql: str, values: Sequence[Any]) -> int:
        self._counted(sql, values, many=True)
        if self._postgresql:
            if self._pipelined:  # its rowcount is known only later
                raise RuntimeError("DirectWrite.run in a pipeline: use DirectWrite.send")
            with self.driver.cursor() as cursor:
                cursor.executemany(sql, values)
                return int(cursor.rowcount)
        return int(self.driver.executemany(sql, values).rowcount)

    @contextmanager
    def pipelined(self) -> Iterator[None]:
        """PostgreSQL (psycopg's pipeline mode): what is sent inside goes to the server
        without waiting for each answer, so a batch costs a round trip where it cost one a
        statement; the answers come when rows are asked for (``rows_later``) and, for the
        rest, when the block ends, which raises the first error among them. Where the
        server runs on the same few cores, each round trip is a wait for it to be scheduled.
        """
        if not self._postgresql:
            raise RuntimeError("pipelines are PostgreSQL's")
        with self.driver.pipeline():
            self._pipelined = True
            try:
                yield
            finally:
                self._pipelined = False

    def rows_later(
        self, read: DirectRead, parameters: Mapping[str, Any]
    ) -> Callable[[], list[tuple[Any, ...]]]:
        """``read`` sent now (in a pipeline: with whatever else is sent); its rows when the
        returned function is called, which waits for the answers to everything sent so far.
        On SQLite it runs at once."""
        if not self._postgresql:
            rows = self.rows(read, parameters)
            return lambda: rows
        return read.send_on(self.engine, self.driver, parameters)

    def send_many(self, sql: str, values: Sequence[Any]) -> None:
        """In a pipeline: the statement for every row sent, its answer read when the
        pipeline ends."""
        self._counted(sql, values, many=True)
        self.driver.cursor().executemany(sql, values)

    def send_commit(self) -> None:
        """In a pipeline: COMMIT sent after what was sent before it, answered with it when
        the pipeline ends (psycopg's ``commit`` would wait for its answer: a round trip of
        its own). Should anything before it fail, the server skips it and the pipeline
        raises that error: the transaction is then rolled back as after any error."""
        self.driver.cursor().execute("COMMIT")

    def _counted(self, sql: str, values: Any, *, many: bool) -> None:
        if self.engine.dispatch.before_cursor_execute:
            self.engine.dispatch.before_cursor_execute(None, None, sql, values, None, many)

    def _begin(self, *, blocking: bool) -> None:
        if self._postgresql:  # the driver opens the transaction with the first statement
            return
        try:
            self.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if blocking or error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                raise
            raise WriteLockBusyError from None

    def _end(self, *, commit: bool) -> None:
        if commit:
            self.driver.commit()
        else:
            self.driver.rollback()
        event = self.engine.dispatch.commit if commit else self.engine.dispatch.rollback
        if event:
            event(None)


# Opens a direct transaction: ``partial(direct_transaction, engine)``, or a
# ``HeldConnections``'s ``transaction``.
OpenTransaction = Callable[[], AbstractContextManager["DirectTransaction"]]


class WriteLockBusyError(RuntimeError):
    """Another writer holds SQLite's write lock (``loop_write_connection``): nothing was done."""


@contextmanager
def direct_transaction(engine: Engine) -> Iterator[DirectTransaction]:
    """Commit when the block ends; roll back (and re-raise) on any error."""
    pooled = engine.raw_connection()
    try:
        with _transaction_on(engine, pooled.driver_connection, blocking=True) as transaction:
            yield transaction
    finally:
        pooled.close()


@contextmanager
def _transaction_on(engine: Engine, driver: Any, *, blocking: bool) -> Iterator[DirectTransaction]:
    transaction = DirectTransaction(engine, driver)
    transaction._begin(blocking=blocking)
    try:
        yield transaction
    except BaseException:
        transaction._end(commit=False)
        raise
    transaction._end(commit=True)


class HeldConnections:
    """Connections for one kind of transaction, taken from the engine's pool and kept, set
    up once (``set_up``), not per transaction: a checkout from the pool pings the server
    first (a round trip), and a setting changed for a transaction must be changed back. As
    many as have been in use at once. After any failure (but a busy write lock, when
    ``blocking`` is off) a connection is discarded, never handed back to the pool so set up,
    and the next transaction takes a fresh one; ``close`` discards the idle ones."""

    def __init__(
        self,
        engine: Engine,
        *,
        set_up: Callable[[Any], None] | None = None,
        blocking: bool = True,
    ) -> None:
        self.engine = engine
        self._set_up = set_up
        self._blocking = blocking
        self._idle: list[PoolProxiedConnection] = []
        self._lock = threading.Lock()
        self._closed = False
        # An app that never ran its lifespan (a test's client) never calls ``close``: the
        # connections still go with it, not whenever the collector finds them.
        weakref.finalize(self, _discard_all, self._idle)

    @contextmanager
    def transaction(self) -> Iterator[DirectTransaction]:
        with self._lock:
            pooled = self._idle.pop() if self._idle else None
        pooled = pooled or self._taken()
        try:
            driver = pooled.driver_connection
            with _transaction_on(self.engine, driver, blocking=self._blocking) as found:
                yield found
        except WriteLockBusyError:
            self._kept(pooled)
            raise
        except BaseException:
            pooled.invalidate()
            raise
        self._kept(pooled)

    def close(self) -> None:
        """The idle connections discarded now; one still in a transaction when it ends."""
        with self._lock:
            self._closed = True
            _discard_all(self._idle)

    def _taken(self) -> PoolProxiedConnection:
        pooled = self.engine.raw_connection()
        if self._set_up is not None:
            try:
                self._set_up(pooled.driver_connection)
            except BaseException:
                pooled.invalidate()  # half set up: never back to the pool
                raise
        return pooled

    def _kept(self, pooled: PoolProxiedConnection) -> None:
        with self._lock:
            if self._closed:
                pooled.invalidate()
            else:
                self._idle.append(pooled)


def _discard_all(idle: list[PoolProxiedConnection]) -> None:
    while idle:
        idle.pop().invalidate()


def loop_write_connection(engine: Engine) -> HeldConnections:
    """SQLite: the connection the event loop writes on, for transactions that must never
    block it: it never waits for the write lock (``WriteLockBusyError`` at once, where any
    other writer would wait up to the busy timeout), and its commits never checkpoint (copy
    the log into the database, with fsyncs): whoever writes so calls ``checkpoint`` from time
    to time, in a thread. Only the loop uses it, so it is one connection."""
    return HeldConnections(engine, set_up=_never_waits_never_checkpoints, blocking=False)


def _never_waits_never_checkpoints(driver: Any) -> None:
    driver.execute("PRAGMA busy_timeout=0")
    driver.execute("PRAGMA wal_autocheckpoint=0")


def checkpoint(engine: Engine) -> None:
    """Copy SQLite's write-ahead log into the database as far as no reader needs it
    (``PASSIVE``: waits for no one), as the commits on a ``loop_write_connection`` don't."""
    pooled = engine.raw_connection()
    try:
        driver: Any = pooled.driver_connection
        driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    finally:
        pooled.close()
