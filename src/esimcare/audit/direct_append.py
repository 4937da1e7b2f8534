"""Appending to an operator's audit chain inside a ``db_direct_write.direct_transaction``.

The same chain as ``service.record_all`` (same rows, same hashes, same head protocol: move the
head with ``UPDATE ... WHERE last_hash = <the remembered hash>``, else read it under lock),
for the ES2+ receiver, whose batches are written on the driver connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sqlalchemy import Engine, Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from esimcare.audit.models import AuditEvent, AuditHead
from esimcare.audit.service import GENESIS_HASH, AuditEntry, chained_rows
from esimcare.db_direct import DirectRead
from esimcare.db_direct_write import DirectTransaction, DirectWrite, typed_values

_EVENTS = cast(Table, AuditEvent.__table__)
_HEADS = cast(Table, AuditHead.__table__)
_COLUMNS = ("operator_id", "at", "actor", "action", "subject", "ip", "data", "prev_hash", "hash")

_INSERT_EVENTS = DirectWrite(insert(_EVENTS).values(typed_values(_EVENTS, _COLUMNS)))
_MOVE_HEAD = DirectWrite(
    update(_HEADS)
    .where(_HEADS.c.operator_id == bindparam("operator"))
    .values(last_hash=bindparam("new_hash"))
)
_MOVE_HEAD_IF = DirectWrite(
    update(_HEADS)
    .where(_HEADS.c.operator_id == bindparam("operator"))
    .where(_HEADS.c.last_hash == bindparam("expected"))
    .values(last_hash=bindparam("new_hash"))
)
_LOCKED_HEAD = DirectRead(
    select(_HEADS.c.last_hash)
    .where(_HEADS.c.operator_id == bindparam("operator"))
    .with_for_update()
)
_CREATE_HEAD = {
    name: DirectWrite(
        dialect.insert(_HEADS)
        .values(operator_id=bindparam("operator"), last_hash=GENESIS_HASH)
        .on_conflict_do_nothing(index_elements=["operator_id"])
    )
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def append_all(transaction: DirectTransaction, entries: Sequence[AuditEntry]) -> None:
    """Append the entries to their operators' chains, each operator's in order."""
    head = _DirectHead(transaction)
    for operator_id in dict.fromkeys(entry.operator_id for entry in entries):
        mine = [entry for entry in entries if entry.operator_id == operator_id]
        _INSERT_EVENTS.run(transaction, chained_rows(head, operator_id, mine))


class _DirectHead:
    def __init__(self, transaction: DirectTransaction) -> None:
        self.transaction = transaction
        self.engine: Engine | None = transaction.engine

    def move(self, operator_id: str, new_hash: str, expected: str | None) -> bool:
        values = {"operator": operator_id, "new_hash": new_hash}
        if expected is None:
            return _MOVE_HEAD.run(self.transaction, [values]) == 1
        return _MOVE_HEAD_IF.run(self.transaction, [{**values, "expected": expected}]) == 1

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
