"""Counts the SQL statements and transactions an engine runs (SQLAlchemy event listeners)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event

_TRANSACTION_CONTROL = frozenset({"BEGIN", "BEGIN IMMEDIATE"})


@dataclass
class SqlCount:
    statements: int = 0
    transactions: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, *, statements: int = 0, transactions: int = 0) -> None:
        with self._lock:
            self.statements += statements
            self.transactions += transactions

    def per(self, operations: int) -> dict[str, float]:
        return {
            "statements_per_operation": round(self.statements / operations, 1),
            "transactions_per_operation": round(self.transactions / operations, 1),
        }


@contextmanager
def counting(engine: Engine) -> Iterator[SqlCount]:
    """Every statement sent (``BEGIN`` excluded: SQLite's is explicit, PostgreSQL's driver
    sends it unseen) and every transaction begun on ``engine``, from any thread."""
    count = SqlCount()

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement not in _TRANSACTION_CONTROL:
            count.add(statements=1)

    def on_begin(*_args: Any) -> None:
        count.add(transactions=1)

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "begin", on_begin)
    try:
        yield count
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "begin", on_begin)
