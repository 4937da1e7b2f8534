"""Counts the SQL statements and transactions an engine runs (SQLAlchemy event listeners)."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event

_TRANSACTION_CONTROL = frozenset({"BEGIN", "BEGIN IMMEDIATE"})
_SPACES = re.compile(r"\s+")


@dataclass
class SqlCount:
    statements: int = 0
    transactions: int = 0
    # Each statement's text as sent, to see which ones repeat (folded only when reported: the
    # counting runs inside the measured work and must cost next to nothing).
    texts: Counter[str] = field(default_factory=Counter, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, *, statements: int = 0, transactions: int = 0, text: str | None = None) -> None:
        with self._lock:
            self.statements += statements
            self.transactions += transactions
            if text is not None:
                self.texts[text] += 1

    def per(self, operations: int) -> dict[str, float]:
        return {
            "statements_per_operation": round(self.statements / operations, 1),
            "transactions_per_operation": round(self.transactions / operations, 1),
        }

    def most_common(self, operations: int, width: int = 160) -> list[str]:
        """Every distinct statement, most frequent first, as "<count per operation> <text>"."""
        folded: Counter[str] = Counter()
        for text, count in self.texts.items():
            folded[_SPACES.sub(" ", text).strip()] += count
        return [f"{count / operations:5.2f} {text[:width]}" for text, count in folded.most_common()]


@contextmanager
def counting(engine: Engine) -> Iterator[SqlCount]:
    """Every statement sent (``BEGIN`` excluded: SQLite's is explicit, PostgreSQL's driver
    sends it unseen) and every transaction begun on ``engine``, from any thread."""
    count = SqlCount()

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement not in _TRANSACTION_CONTROL:
            count.add(statements=1, text=statement)

    def on_begin(*_args: Any) -> None:
        count.add(transactions=1)

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "begin", on_begin)
    try:
        yield count
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "begin", on_begin)
