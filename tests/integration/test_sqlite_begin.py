"""SQLite's writing transactions begin with ``BEGIN IMMEDIATE`` sent straight to the driver
(``db._on_begin``): still the write lock up front, and a lock that never comes still fails
as SQLAlchemy's own ``OperationalError``, as every caller expects."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import exc, text

from esimcare.db import make_engine, read_only


def test_a_writing_transaction_holds_the_write_lock_from_its_begin(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'begin.db'}")
    other = sqlite3.connect(str(tmp_path / "begin.db"), isolation_level=None, timeout=0)
    with engine.begin() as connection:
        connection.execute(text("SELECT 1"))
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")  # given back at commit
    other.execute("ROLLBACK")
    with read_only(engine).begin() as connection:  # a reader takes no lock
        connection.execute(text("SELECT 1"))
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    other.close()
    engine.dispose()


def test_a_write_lock_that_never_comes_fails_as_sqlalchemy_error(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'busy.db'}")
    with engine.connect():  # the file made, in WAL mode
        pass
    other = sqlite3.connect(str(tmp_path / "busy.db"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with engine.connect() as connection:
        connection.connection.driver_connection.execute("PRAGMA busy_timeout=20")
        with pytest.raises(exc.OperationalError, match="locked"):
            connection.begin()
    other.execute("ROLLBACK")
    other.close()
    engine.dispose()
