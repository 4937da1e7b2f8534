"""The append-only, tamper-evident audit trail (ASVS 16.2, 16.4.2).

Each operator has its own hash chain: a row's hash covers the previous row's hash and the row's
own fields, so changing or deleting any row breaks every hash after it. The chain head
(AuditHead) is locked while appending, which serialises appends per operator: two concurrent
transactions can never both build on the same previous hash and fork the chain. Because the
lock is held until the caller commits, record() belongs near the end of a transaction.

Appending usually takes one statement: the process remembers the last hash it wrote to each
chain and inserts the event only if the head still names that hash, moving (and locking) the
head in the same statement (``chain_sql``); only when another transaction (or process)
appended since, or this one rolled back, does that insert nothing, and the head is then read
under lock. The guess is never trusted: the database decides.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from esimcare.audit.chain_sql import GUARDED_INSERT_RETURNING_ID, INSERT_EVENTS
from esimcare.audit.models import AuditEvent, AuditHead
from esimcare.kit.clock import iso
from esimcare.kit.orm_rows import adopt

GENESIS_HASH: Final = "0" * 64
# Returned by verify_chain when rows are missing from the end: ids start at 1, so 0 names none.
CHAIN_TRUNCATED: Final = 0


def record(
    session: Session,
    *,
    operator_id: str,
    actor: str,
    action: str,
    subject: str,
    at: datetime,
    ip: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the operator's chain in the caller's transaction."""
    entry = AuditEntry(operator_id, actor, action, subject, at, ip, data or {})
    head = _SessionHead(session)
    row = append_chained(head, operator_id, [entry])[0]
    return adopt(session, AuditEvent(id=head.first_id, **row))


@dataclass(frozen=True)
class AuditEntry:
    """One event to append with ``record_all``."""

    operator_id: str
    actor: str
    action: str
    subject: str
    at: datetime
    ip: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def record_all(session: Session, entries: Sequence[AuditEntry]) -> None:
    """Append several events of one operator to its chain, in order, in the caller's
    transaction; their ids follow the chain as ``record``'s do."""
    if not entries:
        return
    operator_id = entries[0].operator_id
    if any(entry.operator_id != operator_id for entry in entries):
        raise ValueError("record_all appends to one operator's chain at a time")
    append_chained(_SessionHead(session), operator_id, entries)


class ChainHead(Protocol):
    """The operator's chain head, as one transaction sees it."""

    engine: Engine | None  # whose remembered last hash to guess with (None: no guessing)

    def append(self, rows: Sequence[dict[str, Any]]) -> bool:
        """Insert the rows (chained, of one operator) if the head still names the first one's
        ``prev_hash``, and leave it naming the last one's hash; False when it named another
        (nothing was inserted). ``chain_sql`` has the statements."""
        ...

    def lock(self, operator_id: str) -> str:
        """The head's hash, locked by this transaction (created at genesis if missing)."""
        ...


def append_chained(
    head: ChainHead, operator_id: str, entries: Sequence[AuditEntry]
) -> list[dict[str, Any]]:
    """Chain the entries onto the operator's head and insert them; their rows.

    First on the hash this process last wrote to the chain (one statement, when that guess
    holds); only when another transaction or process appended since, or this one rolled
    back, is the head read under lock and the rows chained onto what it names."""
    guess = _last_written(head.engine, operator_id)
    if guess is not None:
        rows = _linked(operator_id, entries, guess)
        if head.append(rows):
            _remember(head.engine, operator_id, rows[-1]["hash"])
            return rows
    rows = _linked(operator_id, entries, head.lock(operator_id))
    if not head.append(rows):
        raise RuntimeError(f"the audit head of {operator_id} moved while locked")
    _remember(head.engine, operator_id, rows[-1]["hash"])
    return rows


class _SessionHead:
    def __init__(self, session: Session) -> None:
        self.session = session
        bind = session.get_bind()
        self.engine = bind if isinstance(bind, Engine) else None
        self.first_id: int | None = None  # the first appended row's, once appended

    def append(self, rows: Sequence[dict[str, Any]]) -> bool:
        # Pending changes first, as the ORM flush of the event this replaces did: the
        # statements keep their order.
        self.session.flush()
        connection = self.session.connection()
        guarded = GUARDED_INSERT_RETURNING_ID[connection.dialect.name]
        first = connection.execute(guarded, rows[0] | {"head_after": rows[-1]["hash"]})
        self.first_id = first.scalar_one_or_none()
        if self.first_id is None:
            return False
        if len(rows) > 1:
            connection.execute(INSERT_EVENTS, rows[1:])  # one executemany, in chain order
        return True

    def lock(self, operator_id: str) -> str:
        return _lock_head(self.session, operator_id).last_hash


def _linked(
    operator_id: str, entries: Sequence[AuditEntry], prev_hash: str
) -> list[dict[str, Any]]:
    """Plain rows, not ORM objects: a batch of notifications appends dozens at once."""
    rows = []
    for entry in entries:
        row = {
            "operator_id": operator_id,
            "at": entry.at,
            "actor": entry.actor,
            "action": entry.action,
            "subject": entry.subject,
            "ip": entry.ip,
            "data": entry.data,
            "prev_hash": prev_hash,
        }
        row["hash"] = prev_hash = fields_hash(prev_hash, row)
        rows.append(row)
    return rows


# The last hash this process wrote to each chain, per database: a guess at the head.
_written: weakref.WeakKeyDictionary[Engine, dict[str, str]] = weakref.WeakKeyDictionary()
_written_lock = threading.Lock()


def _last_written(engine: Engine | None, operator_id: str) -> str | None:
    if engine is None:
        return None
    with _written_lock:
        return _written.get(engine, {}).get(operator_id)


def _remember(engine: Engine | None, operator_id: str, last_hash: str) -> None:
    if engine is not None:
        with _written_lock:
            _written.setdefault(engine, {})[operator_id] = last_hash


def _lock_head(session: Session, operator_id: str) -> AuditHead:
    head = _locked_head(session, operator_id)
    if head is not None:
        return head
    # The operator's first event: insert the head if missing, so two first-ever appends wait
    # on each other instead of one failing on the primary key; then lock it.
    insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
    session.execute(
        insert(AuditHead)
        .values(operator_id=operator_id, last_hash=GENESIS_HASH)
        .on_conflict_do_nothing(index_elements=[AuditHead.operator_id])
    )
    head = _locked_head(session, operator_id)
    assert head is not None
    return head


def _locked_head(session: Session, operator_id: str) -> AuditHead | None:
    return session.execute(
        select(AuditHead)
        .where(AuditHead.operator_id == operator_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def event_hash(event: AuditEvent) -> str:
    """sha256 over the previous hash and the canonical JSON of the row's own fields."""
    return fields_hash(event.prev_hash, {name: getattr(event, name) for name in _HASHED})


_HASHED = ("operator_id", "at", "actor", "action", "subject", "ip", "data")


def fields_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    """``event_hash`` of a row given as its column values (``_HASHED`` are read)."""
    fields = {name: row[name] for name in _HASHED}
    fields["at"] = iso(row["at"])
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256((prev_hash + canonical).encode("ascii")).hexdigest()


def verify_chain(session: Session, operator_id: str) -> int | None:
    """Return the id of the first row that breaks the chain, or None if it is intact.

    A row is broken when its prev_hash is not the previous row's hash (a row before it was
    removed) or its hash does not match its fields (it was edited). CHAIN_TRUNCATED means the
    rows are intact but the newest ones were removed (the head names a hash no row has).
    """
    head_hash = session.execute(
        select(AuditHead.last_hash).where(AuditHead.operator_id == operator_id)
    ).scalar_one_or_none()
    # Read the head before the rows: rows appended meanwhile then only extend the chain.
    head_seen = head_hash in (None, GENESIS_HASH)
    expected_prev = GENESIS_HASH
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.operator_id == operator_id)
        .order_by(AuditEvent.id)
        .execution_options(yield_per=500)
    )
    # Closed explicitly: an early return would otherwise leave PostgreSQL's server-side
    # cursor (used by yield_per) open until garbage collection.
    try:
        for event in rows:
            if event.prev_hash != expected_prev or event_hash(event) != event.hash:
                return event.id
            head_seen = head_seen or event.hash == head_hash
            expected_prev = event.hash
    finally:
        rows.close()
    return None if head_seen else CHAIN_TRUNCATED
