"""Storing a batch of notifications, and what they do, in one transaction on the driver.

Set-based, so a batch costs a handful of statements whatever its size, each built with Core
and compiled once (``db_direct``, ``db_direct_write``):

1. the eSIMs named, locked (``FOR UPDATE`` on PostgreSQL, in ICCID order; SQLite's
   ``BEGIN IMMEDIATE`` already holds the write lock), so a concurrent delivery of the same
   notification waits and then sees ours; on PostgreSQL also the operators' audit heads;
2. the dedupe keys already taken;
3. the effects worked out in memory, in order (``profile_events.plan_batch``);
4. the new rows in one executemany with ``ON CONFLICT DO NOTHING`` (the locks of 1. keep
   anyone else from storing a key between 2. and 4.);
5. the eSIMs' new profile state, their webhook events (the outbox rows the ORM path would
   write, ``webhooks.events``), and the audit events on each operator's hash chain.

On PostgreSQL the batch is pipelined (``_store_pipelined``): two round trips to the server,
not one per statement.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import (
    Table,
    bindparam,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from esimcare.audit.direct_append import (
    HeadsMissingError,
    append_all,
    create_heads,
    locked_heads_later,
    send_on_locked_heads,
)
from esimcare.db_direct import DirectRead, one_of
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
# ``DirectWrite.run`` (executed now), or ``DirectWrite.send`` (in a pipeline).
Write = Callable[[DirectWrite, DirectTransaction, Sequence[Mapping[str, Any]]], object]
_ESIMS = cast(Table, Esim.__table__)
_NOTIFICATIONS = cast(Table, Es2PlusNotification.__table__)
_PROFILE_COLUMNS = ("profile_state", "installed_at", "deleted_on_device_at", "eid")
_ESIM_COLUMNS = ("id", "operator_id", "iccid", "msisdn", "status", *_PROFILE_COLUMNS)


_LOCKED_ESIMS = {
    dialect: DirectRead(
        select(*(_ESIMS.c[name] for name in _ESIM_COLUMNS))
        .where(one_of(_ESIMS.c.iccid, "iccids", dialect))
        .order_by(_ESIMS.c.iccid)
        .with_for_update()
    )
    for dialect in ("sqlite", "postgresql")
}
_TAKEN_KEYS = {
    dialect: DirectRead(
        select(_NOTIFICATIONS.c.dedupe_key).where(
            one_of(_NOTIFICATIONS.c.dedupe_key, "keys", dialect)
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
    except HeadsMissingError as missing:  # PostgreSQL: an operator's first events
        with open_transaction() as transaction:
            create_heads(transaction, missing.operators)
        return _store_once(open_transaction, batch, subscribed, now)


def _store_once(
    open_transaction: OpenTransaction,
    batch: Sequence[tuple[Received, datetime]],
    subscribed: Subscribed,
    now: Callable[[], datetime],
) -> list[str]:
    with open_transaction() as transaction:
        if transaction.engine.dialect.name == "postgresql":
            return _store_pipelined(transaction, batch, subscribed, now)
        return _store_checked(transaction, batch, subscribed, now)


def _store_checked(
    transaction: DirectTransaction,
    batch: Sequence[tuple[Received, datetime]],
    subscribed: Subscribed,
    now: Callable[[], datetime],
) -> list[str]:
    """Statement by statement, each answered before the next (SQLite)."""
    dialect = transaction.engine.dialect.name
    esims = _esims_by_key(_locked_esims_later(transaction, dialect, batch)())
    keys = [received.dedupe_key for received, _ in batch]
    found = transaction.rows(_TAKEN_KEYS[dialect], {"keys": _list_parameter(dialect, keys)})
    plan = plan_batch(batch, esims, {key for (key,) in found})
    rows = _in_key_order(plan.rows)
    if _INSERT_NOTIFICATIONS[dialect].run(transaction, rows) != len(rows):
        # Under the write lock no one else stores a key: should one be taken after all, the
        # effects planned are wrong, and the whole batch is rolled back.
        raise RuntimeError("a dedupe key was stored meanwhile, under our write lock")
    _apply_changes(transaction, plan, subscribed, now, DirectWrite.run)
    append_all(transaction, plan.audit)
    return plan.effects


def _store_pipelined(
    transaction: DirectTransaction,
    batch: Sequence[tuple[Received, datetime]],
    subscribed: Subscribed,
    now: Callable[[], datetime],
) -> list[str]:
    """PostgreSQL, in two round trips (``DirectTransaction.pipelined``): the eSIMs and the
    operators' audit heads locked, then the taken keys read; every write and the COMMIT.
    The heads are locked before the keys are read, so no other batch of these operators can
    store a key in between (a key is its operator's, and every batch locks the heads of its
    operators): the keys read are all that are taken, and the insert need not be checked."""
    keys = [received.dedupe_key for received, _ in batch]
    with transaction.pipelined():
        esims_later = _locked_esims_later(transaction, "postgresql", batch)
        heads_later = locked_heads_later(transaction, [r.operator_id for r, _ in batch])
        taken_later = transaction.rows_later(_TAKEN_KEYS["postgresql"], {"keys": keys})
        esims, heads = _esims_by_key(esims_later()), heads_later()
        plan = plan_batch(batch, esims, {key for (key,) in taken_later()})
        _INSERT_NOTIFICATIONS["postgresql"].send(transaction, _in_key_order(plan.rows))
        _apply_changes(transaction, plan, subscribed, now, DirectWrite.send)
        send_on_locked_heads(transaction, plan.audit, heads)
        transaction.send_commit()
    return plan.effects


def _in_key_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # The unique index's own order: the rows of a batch land one after another, and no two
    # writers could ever take a batch's keys in opposite orders.
    return sorted(rows, key=itemgetter("dedupe_key"))


def _locked_esims_later(
    transaction: DirectTransaction, dialect: str, batch: Sequence[tuple[Received, datetime]]
) -> Callable[[], list[tuple[Any, ...]]]:
    iccids = sorted({received.notification.iccid for received, _ in batch})
    parameters = {"iccids": _list_parameter(dialect, iccids)}
    return transaction.rows_later(_LOCKED_ESIMS[dialect], parameters)


def _esims_by_key(rows: list[tuple[Any, ...]]) -> dict[tuple[str, str], EsimProfile]:
    esims = (EsimProfile(*row) for row in rows)
    return {(esim.operator_id, esim.iccid): esim for esim in esims}


def _list_parameter(dialect: str, values: list[str]) -> Any:
    return json.dumps(values) if dialect == "sqlite" else values


def _apply_changes(
    transaction: DirectTransaction,
    plan: Plan,
    subscribed: Subscribed,
    now: Callable[[], datetime],
    write: Write,
) -> None:
    write(
        _UPDATE_PROFILES,
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
        write(_INSERT_DELIVERIES, transaction, [delivery for delivery, _ in rows])
        write(_INSERT_JOBS, transaction, [job for _, job in rows])
