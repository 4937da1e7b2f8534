"""Notifications arriving together are stored in one transaction (group commit), every one of
them before it is answered, each applied once, and the audit hash chain stays intact; on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, event, func, insert, select, text

from esimcare.app import create_app
from esimcare.audit.models import AuditEvent, AuditHead
from esimcare.audit.service import verify_chain
from esimcare.context import Context
from esimcare.db import make_engine
from esimcare.db_direct_write import (
    HeldConnections,
    WriteLockBusyError,
    direct_transaction,
    loop_write_connection,
)
from esimcare.es2plus import notification_store
from esimcare.es2plus.receiver import Arrival, record_arrivals
from esimcare.esims.models import Esim
from esimcare.esims.notifications import Es2PlusNotification
from esimcare.esims.profile_events import Received, plan_batch
from esimcare.esims.states import ProfileState
from esimcare.integrations.smdp.notification_reader import read_notification
from esimcare.integrations.smdp.notification_signature import EMULATOR_REQUESTER_ID
from esimcare.kit.clock import iso
from tests.conftest import MakeContext
from tests.support import emulator_signed_headers, run_in_own_loop

URL = "/es2plus/mts/gsma/rsp2/es2plus/handleDownloadProgressInfo"
UNKNOWN_ICCID = "8999001000000000017"


@pytest.fixture
def demo(make_context: MakeContext, db_url: str) -> Context:
    return make_context(database_url=db_url)


def released_iccids(ctx: Context) -> list[str]:
    with ctx.sessions() as session:
        return list(
            session.scalars(
                select(Esim.iccid).where(
                    Esim.operator_id == "mts", Esim.profile_state == ProfileState.RELEASED
                )
            )
        )


def body(ctx: Context, iccid: str, point: int, seconds_ago: int) -> dict[str, Any]:
    return {
        "header": {"functionRequesterIdentifier": EMULATOR_REQUESTER_ID},
        "iccid": iccid,
        "timestamp": iso(ctx.clock.now() - timedelta(seconds=seconds_ago)),
        "notificationPointId": point,
        "notificationPointStatus": {"status": "Executed-Success"},
    }


@contextmanager
def commits(ctx: Context) -> Iterator[list[int]]:
    seen: list[int] = []

    def count(_connection: Any) -> None:
        seen.append(1)

    event.listen(ctx.engine, "commit", count)
    try:
        yield seen
    finally:
        event.remove(ctx.engine, "commit", count)


async def post_all(ctx: Context, bodies: list[dict[str, Any]]) -> list[int]:
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:

        async def post(notification: dict[str, Any]) -> int:
            content = json.dumps(notification).encode()
            headers = emulator_signed_headers(ctx, content)
            return (await client.post(URL, content=content, headers=headers)).status_code

        return list(await asyncio.gather(*(post(b) for b in bodies)))


def chain_intact(ctx: Context) -> bool:
    with ctx.sessions() as session:
        return verify_chain(session, "mts") is None


def stored(ctx: Context) -> tuple[int, int]:
    with ctx.sessions() as session:
        notes = session.scalar(select(func.count()).select_from(Es2PlusNotification))
        audited = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "es2plus.notification")
        )
    return int(notes or 0), int(audited or 0)


def test_concurrent_notifications_share_transactions_and_keep_the_chain(demo: Context) -> None:
    iccids = released_iccids(demo)
    assert iccids, "the demo has a released mts eSIM"
    unique = [body(demo, iccid, 3, n) for n, iccid in enumerate(iccids)]
    unique += [body(demo, UNKNOWN_ICCID, 1, n) for n in range(40)]
    resent = unique[:5]  # delivered twice: stored and applied once
    with commits(demo) as committed:
        statuses = run_in_own_loop(post_all(demo, unique + resent))
    assert statuses == [204] * len(unique + resent)
    assert stored(demo) == (len(unique), len(unique))
    assert len(committed) < len(unique) / 2, "notifications arriving together share commits"
    assert chain_intact(demo)
    with demo.sessions() as session:
        states = session.scalars(select(Esim.profile_state).where(Esim.iccid.in_(iccids)))
        assert set(states) == {ProfileState.DOWNLOADED}


def arrival(ctx: Context, notification: dict[str, Any], raw: dict[str, Any]) -> Arrival:
    link = ctx.policy("mts").smdp_link
    received = Received(
        operator_id="mts",
        notification=read_notification(notification),
        raw=raw,
        link=link,
        expected_requester=EMULATOR_REQUESTER_ID,
        proven_by="test",
    )
    return Arrival(received, ctx.clock.now())


def test_a_notification_that_cannot_be_stored_fails_alone(demo: Context) -> None:
    good = [body(demo, UNKNOWN_ICCID, 1, n) for n in range(3)]
    arrivals = [arrival(demo, b, b) for b in good]
    unstorable = body(demo, UNKNOWN_ICCID, 1, 99)
    arrivals.insert(1, arrival(demo, unstorable, {"not": {"json", "serialisable"}}))
    outcomes = record_arrivals(demo, arrivals)
    assert isinstance(outcomes[1], Exception)
    assert [o for n, o in enumerate(outcomes) if n != 1] == ["unknown_iccid"] * 3
    assert stored(demo) == (3, 3)
    assert chain_intact(demo)


def test_a_batch_applies_its_notifications_in_order_and_each_once(demo: Context) -> None:
    iccid = released_iccids(demo)[0]
    download, install = body(demo, iccid, 3, 60), body(demo, iccid, 4, 30)
    batch = [arrival(demo, b, b) for b in (download, install, download)]
    assert record_arrivals(demo, batch) == ["downloaded", "installed", "duplicate"]
    assert record_arrivals(demo, batch[:1]) == ["duplicate"]
    with demo.sessions() as session:
        state = session.scalar(select(Esim.profile_state).where(Esim.iccid == iccid))
        assert state is ProfileState.INSTALLED
    assert chain_intact(demo)
    assert stored(demo) == (2, 2)


def test_a_key_found_taken_under_the_write_lock_rolls_the_batch_back(
    make_context: MakeContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: no one else can store a key under our write lock, so a key the insert finds
    taken after all means the planned effects are wrong: nothing of the batch is kept."""
    ctx = make_context(database_url=f"sqlite:///{tmp_path / 'taken.db'}")
    first = arrival(ctx, body(ctx, UNKNOWN_ICCID, 1, 5), body(ctx, UNKNOWN_ICCID, 1, 5))
    assert record_arrivals(ctx, [first]) == ["unknown_iccid"]
    taken_keys = notification_store._TAKEN_KEYS["sqlite"]
    monkeypatch.setattr(taken_keys, "rows_on", lambda *args: [])  # a stale read
    fresh = arrival(ctx, body(ctx, UNKNOWN_ICCID, 1, 4), body(ctx, UNKNOWN_ICCID, 1, 4))
    batch = [(a.received, a.at) for a in (fresh, first)]
    with pytest.raises(RuntimeError, match="stored meanwhile"):
        notification_store.store_notifications(
            partial(direct_transaction, ctx.engine), batch, ctx.has_webhooks, ctx.clock.now
        )
    assert stored(ctx) == (1, 1)
    assert chain_intact(ctx)


@pytest.mark.postgres
def test_a_batch_reads_the_taken_keys_only_once_it_holds_its_operators_audit_heads(
    make_context: MakeContext, postgres_schema_url: str
) -> None:
    """PostgreSQL: a copy about an unknown ICCID locks no eSIM; what keeps another writer
    from storing it between our read of the taken keys and our insert is the operator's
    audit head, locked before the keys are read. Here another transaction holds the head,
    stores the copy and commits while our batch waits: the batch sees it as a duplicate."""
    ctx = make_context(database_url=postgres_schema_url)
    earlier = body(ctx, UNKNOWN_ICCID, 1, 9)
    assert record_arrivals(ctx, [arrival(ctx, earlier, earlier)]) == ["unknown_iccid"]
    copy = arrival(ctx, body(ctx, UNKNOWN_ICCID, 1, 5), body(ctx, UNKNOWN_ICCID, 1, 5))
    row = plan_batch([(copy.received, copy.at)], {}, set()).rows[0]
    # The pool outermost: should anything fail, the other transaction ends (and lets the
    # batch go on) before the pool waits for it.
    with ThreadPoolExecutor(1) as pool, ctx.engine.connect() as other:
        head = select(AuditHead.last_hash).where(AuditHead.operator_id == "mts")
        other.execute(head.with_for_update())
        storing = pool.submit(record_arrivals, ctx, [copy])
        wait_until_a_session_waits_for_a_lock(ctx)
        other.execute(insert(Es2PlusNotification).values(row))
        other.commit()
        assert storing.result(timeout=10) == ["duplicate"]
    assert stored(ctx) == (2, 1)  # the copy once; the other writer audited nothing


def wait_until_a_session_waits_for_a_lock(ctx: Context) -> None:
    waiting = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
    deadline = time.monotonic() + 10
    while True:
        with ctx.engine.connect() as connection:  # a transaction's view of it is a snapshot
            if connection.scalar(waiting):
                return
        assert time.monotonic() < deadline, "the batch never waited for the head"
        time.sleep(0.01)


def test_stored_rows_read_back_as_the_orm_would_have_written_them(demo: Context) -> None:
    iccid = released_iccids(demo)[0]
    install = body(demo, iccid, 4, 30) | {"eid": "89049032123451234512345678901235"}
    assert record_arrivals(demo, [arrival(demo, install, install)]) == ["installed"]
    with demo.sessions() as session:
        note = session.scalars(select(Es2PlusNotification)).one()
        esim = session.scalars(select(Esim).where(Esim.iccid == iccid)).one()
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "es2plus.notification")
        ).one()
    assert note.raw == install and note.effect == "installed" and note.esim_id == esim.id
    assert note.received_at == demo.clock.now() and note.received_at.tzinfo is not None
    assert note.notified_at == demo.clock.now() - timedelta(seconds=30)
    assert esim.profile_state is ProfileState.INSTALLED
    assert esim.installed_at == demo.clock.now()
    assert esim.eid == "89049032123451234512345678901235"
    assert event.data == {
        "point": 4, "status": "Executed-Success", "effect": "installed", "sender": "test",
    }  # fmt: skip


def test_a_write_that_must_not_wait_is_refused_at_once_while_sqlite_is_locked(
    make_context: MakeContext, tmp_path: Path
) -> None:
    ctx = make_context(database_url=f"sqlite:///{tmp_path / 'locked.db'}")
    engine = make_engine(str(ctx.engine.url), pool_size=2, max_overflow=0)
    loop_writes = loop_write_connection(engine)
    other = sqlite3.connect(str(tmp_path / "locked.db"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
    started = time.monotonic()
    with pytest.raises(WriteLockBusyError), loop_writes.transaction():
        pass
    assert time.monotonic() - started < 1, "refused at once, not after the busy timeout"
    other.execute("ROLLBACK")
    with loop_writes.transaction() as held:
        pass
    with direct_transaction(engine) as pooled:
        pass
    with loop_writes.transaction() as again:
        # The same connection, held: set up once, it never waits and never checkpoints ...
        assert again.driver is held.driver
        assert again.driver.execute("PRAGMA busy_timeout").fetchone() == (0,)
        assert again.driver.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    with direct_transaction(engine) as transaction:
        # ... while the pool's connections wait and checkpoint as every writer's.
        assert transaction.driver is pooled.driver is not held.driver
        assert transaction.driver.execute("PRAGMA busy_timeout").fetchone() == (30_000,)
        assert transaction.driver.execute("PRAGMA wal_autocheckpoint").fetchone() == (1000,)
    engine.dispose()
    other.close()


def test_the_loop_connection_is_dropped_after_a_failure_never_pooled_so_set_up(
    make_context: MakeContext, tmp_path: Path
) -> None:
    ctx = make_context(database_url=f"sqlite:///{tmp_path / 'failing.db'}")
    engine = make_engine(str(ctx.engine.url), pool_size=1, max_overflow=0)
    loop_writes = loop_write_connection(engine)
    with pytest.raises(sqlite3.OperationalError), loop_writes.transaction() as failed:
        failed.execute("INSERT INTO no_such_table VALUES (1)")
    with loop_writes.transaction() as fresh:
        assert fresh.driver is not failed.driver
        assert fresh.driver.execute("PRAGMA busy_timeout").fetchone() == (0,)
    engine.dispose()


@pytest.mark.postgres
def test_two_batches_written_at_once_with_the_same_keys_never_deadlock(
    make_context: MakeContext, postgres_schema_url: str
) -> None:
    """PostgreSQL writes two batches side by side; a notification delivered twice can sit in
    both, in either order. Each locks its operators' audit heads before it reads the taken
    keys, so one waits for the other's commit and then finds the copies taken, instead of
    each waiting for the other."""
    ctx = make_context(database_url=postgres_schema_url)
    for round_ in range(8):
        pair = [body(ctx, UNKNOWN_ICCID, 1, 1000 + 10 * round_ + n) for n in range(6)]
        arrivals = [arrival(ctx, b, b) for b in pair]
        batches = [arrivals, arrivals[::-1]]
        both_ready = threading.Barrier(2)

        def write(batch: list[Arrival], both_ready: threading.Barrier = both_ready) -> list[str]:
            both_ready.wait(5)
            return notification_store.store_notifications(
                partial(direct_transaction, ctx.engine),
                [(a.received, a.at) for a in batch],
                ctx.has_webhooks,
                ctx.clock.now,
            )

        with ThreadPoolExecutor(2) as pool:
            effects = [e for found in pool.map(write, batches) for e in found]
        assert sorted(effects) == ["duplicate"] * 6 + ["unknown_iccid"] * 6
    assert stored(ctx) == (48, 48)
    assert chain_intact(ctx)


@pytest.mark.postgres
def test_held_postgresql_connections_are_kept_and_a_dropped_one_loses_no_notification(
    make_context: MakeContext, postgres_schema_url: str
) -> None:
    """The writer's connections are kept between batches (no checkout, no ping); one the
    server dropped (a restart, an administrator) fails its batch, which is then written
    notification by notification on the pool, and is replaced by a fresh one."""
    ctx = make_context(database_url=postgres_schema_url)
    held = HeldConnections(ctx.engine)
    notes = [body(ctx, UNKNOWN_ICCID, 1, 100 + n) for n in range(4)]
    arrivals = [arrival(ctx, note, note) for note in notes]
    write = partial(record_arrivals, ctx, open_transaction=held.transaction)
    assert write(arrivals[:1]) == ["unknown_iccid"]
    with held.transaction() as first:
        backend = first.driver.info.backend_pid
    assert write(arrivals[1:2]) == ["unknown_iccid"]
    with held.transaction() as again:
        assert again.driver.info.backend_pid == backend, "kept, not taken anew"
    with ctx.engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    assert write(arrivals[2:]) == ["unknown_iccid"] * 2
    assert stored(ctx) == (4, 4)
    with held.transaction() as fresh:
        assert fresh.driver.info.backend_pid != backend
    held.close()
    assert chain_intact(ctx)


@pytest.mark.postgres
def test_an_operators_first_batches_create_its_head_apart_and_never_deadlock(
    make_context: MakeContext, postgres_schema_url: str
) -> None:
    """With no audit head yet, a batch rolls back, creates the head in a transaction of its
    own and goes again: created inside the batch, the head would be locked out of operator
    order. Two first batches at once, sharing their notifications, both get through."""
    ctx = make_context(database_url=postgres_schema_url)
    with ctx.engine.begin() as connection:
        connection.execute(delete(AuditEvent).where(AuditEvent.operator_id == "mts"))
        connection.execute(delete(AuditHead).where(AuditHead.operator_id == "mts"))
    shared = [body(ctx, UNKNOWN_ICCID, 1, 500 + n) for n in range(4)]
    arrivals = [arrival(ctx, note, note) for note in shared]
    both_ready = threading.Barrier(2)

    def write(batch: list[Arrival]) -> list[str | Exception]:
        both_ready.wait(5)
        return record_arrivals(ctx, batch)

    with ThreadPoolExecutor(2) as pool:
        effects = [e for found in pool.map(write, [arrivals, arrivals[::-1]]) for e in found]
    assert sorted(map(str, effects)) == ["duplicate"] * 4 + ["unknown_iccid"] * 4
    assert stored(ctx) == (4, 4)
    assert chain_intact(ctx)


def test_a_connection_in_use_when_the_holder_closes_is_discarded_not_kept(
    make_context: MakeContext, tmp_path: Path
) -> None:
    ctx = make_context(database_url=f"sqlite:///{tmp_path / 'closing.db'}")
    held = HeldConnections(ctx.engine)
    with held.transaction() as first:
        held.close()
    with held.transaction() as second:
        assert second.driver is not first.driver
    with pytest.raises(sqlite3.ProgrammingError):  # closed, not pooled
        first.driver.execute("SELECT 1")
