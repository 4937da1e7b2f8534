"""Appending to an operator's audit chain inside a ``db_direct_write.direct_transaction``.

The same chain as ``service.record_all`` (same rows, same hashes), for the ES2+ receiver,
whose batches are written on the driver connection:

* ``append_all`` uses the statements of ``chain_sql`` (insert on the remembered hash if the
  head still names it, else read it under lock);
* ``send_on_locked_heads`` (PostgreSQL, in a pipeline) appends to heads the transaction
  locked first (``locked_heads_later``): a pipelined statement cannot wait for the answer of
  the one before, so the guess-then-lock of ``append_all`` has no place there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from esimcare.audit.chain_sql import COLUMNS, EVENTS, GUARDED_INSERT, HEADS, INSERT_EVENTS
from esimcare.audit.service import GENESIS_HASH, AuditEntry, append_chained
from esimcare.db_direct import DirectRead, one_of
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


# PostgreSQL: the heads of a batch's operators, locked in operator order (as every batch
# locks them: no two wait for each other).
_LOCKED_HEADS = DirectRead(
    select(HEADS.c.operator_id, HEADS.c.last_hash)
    .where(one_of(HEADS.c.operator_id, "operators", "postgresql"))
    .order_by(HEADS.c.operator_id)
    .with_for_update()
)
_MOVE_HEAD = DirectWrite(
    update(HEADS)
    .where(HEADS.c.operator_id == bindparam("operator"))
    .values(last_hash=bindparam("hash_after", type_=HEADS.c.last_hash.type))
)


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


class HeadsMissingError(RuntimeError):
    """Some operators of a batch have no audit head yet (their first events): the batch's
    transaction is rolled back, the heads are created in one of their own
    (``create_heads``), and the batch is written again. Created inside the batch's
    transaction, a head would be locked after the others, out of the operator order every
    batch keeps, and two batches could each wait for a head the other holds."""

    def __init__(self, operators: Sequence[str]) -> None:
        super().__init__(f"no audit head yet for {', '.join(operators)}")
        self.operators = list(operators)


def locked_heads_later(
    transaction: DirectTransaction, operator_ids: Sequence[str]
) -> Callable[[], dict[str, str]]:
    """PostgreSQL, in a pipeline: the operators' heads locked, in operator order (sent now);
    their hashes when called, or ``HeadsMissingError``."""
    operators = sorted(set(operator_ids))
    pending = transaction.rows_later(_LOCKED_HEADS, {"operators": operators})

    def locked() -> dict[str, str]:
        heads = {str(operator): str(last_hash) for operator, last_hash in pending()}
        missing = [operator for operator in operators if operator not in heads]
        if missing:
            raise HeadsMissingError(missing)
        return heads

    return locked


def create_heads(transaction: DirectTransaction, operator_ids: Sequence[str]) -> None:
    """The operators' heads at genesis, unless they exist (PostgreSQL)."""
    rows = [{"operator": operator} for operator in sorted(set(operator_ids))]
    _CREATE_HEAD[transaction.engine.dialect.name].run(transaction, rows)


def send_on_locked_heads(
    transaction: DirectTransaction, entries: Sequence[AuditEntry], heads: Mapping[str, str]
) -> None:
    """PostgreSQL, in a pipeline: the entries appended to their operators' chains, each
    operator's in order, on the heads this transaction locked (``locked_heads_later``)."""
    head = _LockedHead(transaction, heads)
    for operator_id in dict.fromkeys(entry.operator_id for entry in entries):
        append_chained(head, operator_id, [e for e in entries if e.operator_id == operator_id])


class _LockedHead:
    engine: Engine | None = None  # no guessing: the head is locked and read already

    def __init__(self, transaction: DirectTransaction, heads: Mapping[str, str]) -> None:
        self.transaction = transaction
        self.heads = heads

    def append(self, rows: Sequence[dict[str, Any]]) -> bool:
        _INSERT_EVENTS.send(self.transaction, rows)
        move = {"operator": rows[-1]["operator_id"], "hash_after": rows[-1]["hash"]}
        _MOVE_HEAD.send(self.transaction, [move])
        return True

    def lock(self, operator_id: str) -> str:
        return self.heads[operator_id]
