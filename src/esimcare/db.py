"""Database engine, sessions and column types shared by every feature.

SQLite runs in WAL mode with ``BEGIN IMMEDIATE`` so concurrent writers queue instead of failing
half-way; PostgreSQL is used through psycopg 3. Services never commit: the request or job
boundary owns the transaction (``transaction()``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from esimcare.kit.clock import as_utc

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator[datetime]):
    """Stores aware UTC datetimes; refuses naive ones so no local time slips in."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def utc_as_sqlite_text(value: datetime | None) -> str | None:
    """What ``UtcDateTime``'s bind processing stores on SQLite (``as_utc``, then SQLAlchemy's
    ``YYYY-MM-DD HH:MM:SS.ffffff``), in one C-level ``isoformat``: for the receiver's direct
    writes, which bind several per notification (a property test holds the two equal)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if is_sqlite(url):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


_SQLITE_MMAP_BYTES = 1 << 30
# How long a writer waits for SQLite's write lock before it fails.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# A commit that leaves the write-ahead log longer than this copies it into the database
# (SQLite's default, stated here because ``db_direct_write`` turns it off and on again).
SQLITE_AUTOCHECKPOINT_PAGES = 1000


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT_PAGES}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Reads straight from the OS page cache, shared by every connection, instead of copying
        # pages into each connection's own small cache (2 MB): a read on a large database took
        # 75 µs against 48 µs once its pages left that cache.
        cursor.execute(f"PRAGMA mmap_size={_SQLITE_MMAP_BYTES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock up front: a read-then-write transaction can then never be
        # refused half-way with SQLITE_BUSY, which is how SQLite would otherwise lose work.
        # Read-only transactions (``read_only(engine)``) take no lock and run beside writers.
        # Sent straight to the driver: SQLAlchemy's execution (events, result set-up) costs as
        # much as a small query, and every writing transaction begins so. A deferred BEGIN
        # takes no lock and cannot fail.
        driver = connection.connection.driver_connection
        if connection.get_execution_options().get(_READ_ONLY):
            driver.execute("BEGIN")
            return
        try:
            driver.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:  # the busy timeout ran out: raised as SQLAlchemy would
            raise DBAPIError.instance("BEGIN IMMEDIATE", (), error, sqlite3.Error) from error


_READ_ONLY = "esimcare_read_only"


def read_only(engine: Engine) -> Engine:
    """The same pool, marked for transactions that never write."""
    return engine.execution_options(**{_READ_ONLY: True})


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error.

    An error that says ``commit_before_raising`` (a wrong code, a failed login) is the outcome
    itself: what was written to count it must survive, so it commits and then propagates.
    """
    with factory() as session:
        session.begin()
        try:
            yield session
        except BaseException as error:
            if getattr(error, "commit_before_raising", False):
                session.commit()
            else:
                session.rollback()
            raise
        session.commit()


def enum_type(enum_cls: type[Any]) -> Any:
    """Store a StrEnum by value as a plain string column (portable; checked in Python)."""
    from sqlalchemy import Enum

    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )
