"""Storing a batch of notifications, and what they do, in one transaction on the driver.

Set-based, so a batch costs a handful of statements whatever its size, each built with Core
and compiled once (``db_direct``, ``db_direct_write``):

1. the eSIMs named, locked (``FOR UPDATE`` on PostgreSQL, in ICCID order; SQLite's
   ``BEGIN IMMEDIATE`` already holds the write lock), so a concurrent delivery of the same
   notification waits and then sees ours;
2. the dedupe keys already taken;
3. the effects worked out in memory, in order (``profile_events.plan_batch``);
4. the new rows in one executemany with ``ON CONFLICT DO NOTHING``; should any of them find its
   key taken after all (a copy about an unknown ICCID, which locks no eSIM, stored by another
   transaction meanwhile), the batch is rolled back and planned again, once;
5. the eSIMs' new profile state, their webhook events (the outbox rows the ORM path would
   write, ``webhooks.events``), and the audit events on each operator's hash chain.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    Select,
    String,
    Table,
    any_,
    bindparam,
    column,
    func,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite

from esimcare.audit.direct_append import append_all
from esimcare.db_direct import DirectRead
from esimcare.db_direct_write import (
    DirectTransaction,
    DirectWrite,
    OpenTransaction,
    typed_values,
)
from esimcare.esims.models import Esim
from esimcare.esims.notifications import Es2PlusNotification
from esimcare.esims.profile_events import EsimProfile, Plan, Received, plan_batch
from esimcare.jobs.models import Job
from esimcare.webhooks.events import EventType, esim_data, outbox_rows
from esimcare.webhooks.models import WebhookDelivery

Subscribed = Callable[[str], bool]
_ESIMS = cast(Table, Esim.__table__)
_NOTIFICATIONS = cast(Table, Es2PlusNotification.__table__)
_PROFILE_COLUMNS = ("profile_state", "installed_at", "deleted_on_device_at", "eid")
_ESIM_COLUMNS = ("id", "operator_id", "iccid", "msisdn", "status", *_PROFILE_COLUMNS)


class KeyTakenMeanwhileError(RuntimeError):
    """A new notification's dedupe key was stored by another transaction after we read the
    taken ones (possible on PostgreSQL only); the batch is planned again."""


def _one_of(table_column: Any, name: str, dialect: str) -> Any:
    """``column IN <the list given as parameter name>``: one parameter, whatever its length,
    so the statement compiles once (a JSON array on SQLite, an array on PostgreSQL)."""
    if dialect == "sqlite":
        listed: Select[Any] = select(column("value")).select_from(func.json_each(bindparam(name)))
        return table_column.in_(listed)
    return table_column == any_(sql_cast(bindparam(name), ARRAY(String)))


_LOCKED_ESIMS = {
    dialect: DirectRead(
        select(*(_ESIMS.c[name] for name in _ESIM_COLUMNS))
        .where(_one_of(_ESIMS.c.iccid, "iccids", dialect))
        .order_by(_ESIMS.c.iccid)
        .with_for_update()
    )
    for dialect in ("sqlite", "postgresql")
}
_TAKEN_KEYS = {
    dialect: DirectRead(
        select(_NOTIFICATIONS.c.dedupe_key).where(
            _one_of(_NOTIFICATIONS.c.dedupe_key, "keys", dialect)
        )
    )
    for dialect in ("sqlite", "postgresql")
}


_NOTIFICATION_COLUMNS = [c.name for c in _NOTIFICATIONS.c if c.name != "id"]
_INSERT_NOTIFICATIONS = {
    name: DirectWrite(
        dialect.insert(_NOTIFICATIONS)
        .values(typed_values(_NOTIFICATIONS, _NOTIFICATION_COLUMNS))
        .on_conflict_do_nothing(index_elements=["dedupe_key"]),
        # JSON text already (``Received.raw_text``: mostly the body as it came).
        given_as_stored=["raw"],
    )
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_UPDATE_PROFILES = DirectWrite(
    update(_ESIMS)
    .where(_ESIMS.c.id == bindparam("esim_id"))
    .values(typed_values(_ESIMS, _PROFILE_COLUMNS))
)
_DELIVERIES = cast(Table, WebhookDelivery.__table__)
_JOBS = cast(Table, Job.__table__)
_DELIVERY_COLUMNS = ("event_id", "operator_id", "event_type", "payload", "status", "attempts")
_JOB_COLUMNS = ("kind", "payload", "dedupe_key", "status", "attempts", "run_after")
_INSERT_DELIVERIES = DirectWrite(
    _DELIVERIES.insert().values(typed_values(_DELIVERIES, (*_DELIVERY_COLUMNS, "created_at")))
)
_INSERT_JOBS = DirectWrite(
    _JOBS.insert().values(typed_values(_JOBS, (*_JOB_COLUMNS, "created_at")))
)


def store_notifications(
    open_transaction: OpenTransaction,
    batch: Sequence[tuple[Received, datetime]],
    subscribed: Subscribed,
    now: Callable[[], datetime],
) -> list[str]:
    """Store and apply the notifications (each with the time it was received) in one
    transaction (``open_transaction``'s); each one's effect (a state, or why none), in order.
    ``subscribed`` says which operators want webhook events; ``now`` dates them."""
    try:
        return _store_once(open_transaction, batch, subscribed, now)
    except KeyTakenMeanwhileError:
        return _store_once(open_transaction, batch, subscribed, now)


def _store_once(
    open_transaction: OpenTransaction,
    batch: Sequence[tuple[Received, datetime]],
    subscribed: Subscribed,
    now: Callable[[], datetime],
) -> list[str]:
    with open_transaction() as transaction:
        dialect = transaction.engine.dialect.name
        esims = _locked_esims(transaction, dialect, batch)
        keys = [received.dedupe_key for received, _ in batch]
        found = transaction.rows(_TAKEN_KEYS[dialect], {"keys": _list_parameter(dialect, keys)})
        taken = {key for (key,) in found}
        plan = plan_batch(batch, esims, taken)
        # In key order: two batches written at once (PostgreSQL) that share keys wait for
        # each other's in one order, never each for the other's.
        rows = sorted(plan.rows, key=itemgetter("dedupe_key"))
        if _INSERT_NOTIFICATIONS[dialect].run(transaction, rows) != len(rows):
            raise KeyTakenMeanwhileError
        _apply_changes(transaction, plan, subscribed, now)
        append_all(transaction, plan.audit)
    return plan.effects


def _locked_esims(
    transaction: DirectTransaction, dialect: str, batch: Sequence[tuple[Received, datetime]]
) -> dict[tuple[str, str], EsimProfile]:
    iccids = sorted({received.notification.iccid for received, _ in batch})
    rows = transaction.rows(_LOCKED_ESIMS[dialect], {"iccids": _list_parameter(dialect, iccids)})
    esims = (EsimProfile(*row) for row in rows)
    return {(esim.operator_id, esim.iccid): esim for esim in esims}


def _list_parameter(dialect: str, values: list[str]) -> Any:
    return json.dumps(values) if dialect == "sqlite" else values


def _apply_changes(
    transaction: DirectTransaction, plan: Plan, subscribed: Subscribed, now: Callable[[], datetime]
) -> None:
    _UPDATE_PROFILES.run(
        transaction,
        [
            {"esim_id": esim.id, **{name: getattr(esim, name) for name in _PROFILE_COLUMNS}}
            for esim in plan.changed
        ],
    )
    events = [
        (esim.operator_id, event_type, esim_data(esim.iccid, esim.msisdn, esim.status.value))
        for esim in plan.changed
        if subscribed(esim.operator_id)
        for event_type, happened in (
            (EventType.ESIM_INSTALLED, esim.installed_now),
            (EventType.ESIM_DELETED, esim.deleted_now),
        )
        if happened
    ]
    if events:
        at = now()
        rows = [outbox_rows(operator_id, kind, data, at) for operator_id, kind, data in events]
        _INSERT_DELIVERIES.run(transaction, [delivery for delivery, _ in rows])
        _INSERT_JOBS.run(transaction, [job for _, job in rows])
