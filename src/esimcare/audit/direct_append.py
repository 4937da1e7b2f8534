"""Appending to an operator's audit chain inside a ``db_direct_write.direct_transaction``.

The same chain as ``service.record_all`` (same rows, same hashes, the same statements of
``chain_sql``: insert on the remembered hash if the head still names it, else read it under
lock), for the ES2+ receiver, whose batches are written on the driver connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from esimcare.audit.chain_sql import COLUMNS, EVENTS, GUARDED_INSERT, HEADS, INSERT_EVENTS
from esimcare.audit.service import GENESIS_HASH, AuditEntry, append_chained
from esimcare.db_direct import DirectRead
from esimcare.db_direct_write import DirectTransaction, DirectWrite, typed_values

_GUARDED_INSERT = {dialect: DirectWrite(statement) for dialect, statement in GUARDED_INSERT.items()}
_INSERT_EVENTS = DirectWrite(INSERT_EVENTS.values(typed_values(EVENTS, COLUMNS)))
_LOCKED_HEAD = DirectRead(
    select(HEADS.c.last_hash).where(HEADS.c.operator_id == bindparam("operator")).with_for_update()
)
_CREATE_HEAD = {
    name: DirectWrite(
        dialect.insert(HEADS)
        .values(operator_id=bindparam("operator"), last_hash=GENESIS_HASH)
        .on_conflict_do_nothing(index_elements=["operator_id"])
    )
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def append_all(transaction: DirectTransaction, entries: Sequence[AuditEntry]) -> None:
    """Append the entries to their operators' chains, each operator's in order."""
    head = _DirectHead(transaction)
    for operator_id in dict.fromkeys(entry.operator_id for entry in entries):
        append_chained(head, operator_id, [e for e in entries if e.operator_id == operator_id])


class _DirectHead:
    def __init__(self, transaction: DirectTransaction) -> None:
        self.transaction = transaction
        self.engine: Engine | None = transaction.engine

    def append(self, rows: Sequence[dict[str, Any]]) -> bool:
        guarded = _GUARDED_INSERT[self.transaction.engine.dialect.name]
        if guarded.run(self.transaction, [rows[0] | {"head_after": rows[-1]["hash"]}]) != 1:
            return False
        _INSERT_EVENTS.run(self.transaction, rows[1:])  # nothing to run for a single row
        return True

    def lock(self, operator_id: str) -> str:
        found = self._locked(operator_id)
        if found is None:
            # The operator's first event: created if missing (two first appends wait on each
            # other instead of one failing on the primary key), then locked.
            create = _CREATE_HEAD[self.transaction.engine.dialect.name]
            create.run(self.transaction, [{"operator": operator_id}])
            found = self._locked(operator_id)
        assert found is not None
        return found

    def _locked(self, operator_id: str) -> str | None:
        rows = self.transaction.rows(_LOCKED_HEAD, {"operator": operator_id})
        return str(rows[0][0]) if rows else None
