"""The statements that append to an operator's chain, built once per dialect.

An event goes in with one statement that also proves and moves the head: the INSERT only
takes place while the head still names the event's ``prev_hash``.

* PostgreSQL: a writable CTE moves the head (``UPDATE ... WHERE last_hash = prev_hash``,
  which also locks it until commit) and the INSERT selects from it, so it inserts the row
  only if the UPDATE matched. A concurrent appender's UPDATE waits for the lock and, once
  this transaction commits, no longer matches (READ COMMITTED re-checks the new row).
* SQLite has no writable CTEs. The INSERT checks the head with ``WHERE EXISTS``, and a
  trigger (``HEAD_TRIGGER_SQL``, SQLite only) moves the head to every inserted row's
  hash. Nothing can change the head between the check and the trigger: every writing
  transaction holds the write lock from its ``BEGIN IMMEDIATE`` (``db.py``).

The rest of a batch after its first row needs no check: the first one locked (PostgreSQL) or
holds (SQLite) the head, which moves to the batch's last hash with the first row on
PostgreSQL (``head_after``) and row by row through the trigger on SQLite.
"""

from __future__ import annotations

from typing import Any, Final, cast

from sqlalchemy import DDL, Insert, Table, bindparam, event, exists, insert, select, text

from esimcare.audit.models import AuditEvent, AuditHead

EVENTS = cast(Table, AuditEvent.__table__)
HEADS = cast(Table, AuditHead.__table__)
COLUMNS: Final = (
    "operator_id", "at", "actor", "action", "subject", "ip", "data", "prev_hash", "hash",
)  # fmt: skip

# The rows after a batch's first: plain INSERTs (see the module docstring).
INSERT_EVENTS: Final = insert(EVENTS)

HEAD_TRIGGER_SQL: Final = """
CREATE TRIGGER audit_head_follows_events AFTER INSERT ON audit_events
BEGIN
    UPDATE audit_heads SET last_hash = NEW.hash WHERE operator_id = NEW.operator_id;
END
"""
# Databases made from the models (tests) get the trigger too; migration 0012 adds it to
# migrated ones.
_CREATE_TRIGGER = DDL(HEAD_TRIGGER_SQL)  # type: ignore[no-untyped-call]  # untyped in SQLAlchemy
event.listen(EVENTS, "after_create", _CREATE_TRIGGER.execute_if(dialect="sqlite"))


def _row_values() -> Any:
    return select(*(bindparam(name, type_=EVENTS.c[name].type) for name in COLUMNS))


def _guarded_postgresql() -> Insert:
    # Textual: a Core UPDATE would also SET every audit_heads column that a parameter names
    # (the row's ``operator_id``).
    moved = (
        text(
            "UPDATE audit_heads SET last_hash = :head_after"
            " WHERE operator_id = :operator_id AND last_hash = :prev_hash"
            " RETURNING operator_id"
        )
        .bindparams(
            bindparam("head_after", type_=HEADS.c.last_hash.type),
            bindparam("operator_id", type_=HEADS.c.operator_id.type),
            bindparam("prev_hash", type_=HEADS.c.last_hash.type),
        )
        .columns(HEADS.c.operator_id)
        .cte("moved")
    )
    rows = _row_values().where(exists(select(moved.c.operator_id)))
    return insert(EVENTS).from_select(list(COLUMNS), rows).add_cte(moved)


def _guarded_sqlite() -> Insert:
    head_is_prev = exists().where(
        HEADS.c.operator_id == bindparam("operator_id"),
        HEADS.c.last_hash == bindparam("prev_hash"),
    )
    return insert(EVENTS).from_select(list(COLUMNS), _row_values().where(head_is_prev))


# Run with a row's columns and ``head_after`` (the hash the head names afterwards: the row's
# own, or its batch's last). Inserts nothing when the head has moved on.
GUARDED_INSERT: Final = {"postgresql": _guarded_postgresql(), "sqlite": _guarded_sqlite()}
GUARDED_INSERT_RETURNING_ID: Final = {
    dialect: statement.returning(EVENTS.c.id) for dialect, statement in GUARDED_INSERT.items()
}
