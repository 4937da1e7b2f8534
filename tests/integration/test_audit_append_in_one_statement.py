"""The audit append's one statement (``audit/chain_sql.py``): it moves the head with the row,
inserts nothing when the head has moved on, and a stale guess falls back to the locked head."""

from __future__ import annotations

import threading

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from esimcare.audit.chain_sql import GUARDED_INSERT_RETURNING_ID
from esimcare.audit.models import AuditEvent, AuditHead
from esimcare.audit.service import AuditEntry, record, record_all, verify_chain
from esimcare.db import make_engine, session_factory, transaction
from esimcare.kit.clock import FrozenClock
from tests.support import sent_statements


def append(sessions: sessionmaker[Session], clock: FrozenClock, n: int) -> int:
    with transaction(sessions) as session:
        return record(session, operator_id="op-a", actor="system", action="test.appended",
                      subject=f"thing:{n}", at=clock.now(), data={"n": n}).id  # fmt: skip


def head(sessions: sessionmaker[Session]) -> str:
    with transaction(sessions) as session:
        found = session.scalar(select(AuditHead.last_hash).where(AuditHead.operator_id == "op-a"))
        assert found is not None
        return found


def test_an_append_on_the_remembered_head_is_one_statement_that_moves_the_head(
    engine: Engine, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    append(sessions, clock, 1)
    with sent_statements(engine, skipping=("BEGIN", "NOTIFY")) as sent:
        event_id = append(sessions, clock, 2)
    assert len(sent) == 1
    with transaction(sessions) as session:
        newest = session.get(AuditEvent, event_id)
        assert newest is not None
    assert head(sessions) == newest.hash


def test_the_guarded_insert_inserts_nothing_when_the_head_names_another_hash(
    engine: Engine, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    append(sessions, clock, 1)
    before = head(sessions)
    row = {"operator_id": "op-a", "at": clock.now(), "actor": "system", "action": "forged",
           "subject": "thing:x", "ip": None, "data": {}, "prev_hash": "f" * 64,
           "hash": "e" * 64, "head_after": "e" * 64}  # fmt: skip
    with engine.begin() as connection:
        inserted = connection.execute(GUARDED_INSERT_RETURNING_ID[engine.dialect.name], row)
        assert inserted.all() == []
    assert head(sessions) == before
    with transaction(sessions) as session:
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "forged")) is None


def test_a_stale_guess_falls_back_to_the_locked_head_and_the_chain_holds(
    engine: Engine, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    append(sessions, clock, 1)
    other = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        append(session_factory(other), clock, 2)  # another process moves the head on
    finally:
        other.dispose()
    with sent_statements(engine, skipping=("BEGIN", "NOTIFY")) as sent:
        append(sessions, clock, 3)
    assert len(sent) == 3  # the guarded insert that found the head moved, the lock, the retry
    with transaction(sessions) as session:
        assert verify_chain(session, "op-a") is None


def test_a_batch_moves_the_head_to_its_last_row_in_chain_order(
    engine: Engine, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    append(sessions, clock, 0)
    entries = [AuditEntry("op-a", "system", "test.batch", f"thing:{n}", clock.now())
               for n in range(3)]  # fmt: skip
    with (
        sent_statements(engine, skipping=("BEGIN", "NOTIFY")) as sent,
        transaction(sessions) as session,
    ):
        record_all(session, entries)
    assert len(sent) == 2  # the first row with the head, the others in one executemany
    with transaction(sessions) as session:
        chain = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        assert [e.subject for e in chain[1:]] == ["thing:0", "thing:1", "thing:2"]
        assert verify_chain(session, "op-a") is None
    assert head(sessions) == chain[-1].hash


def test_concurrent_one_statement_appends_on_two_engines_never_fork_the_chain(
    engine: Engine, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    # Each engine keeps guessing its own last hash: the other's appends keep proving it wrong.
    others = [make_engine(engine.url.render_as_string(hide_password=False)) for _ in range(2)]
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def append_many(other: Engine, thread: int) -> None:
        start.wait()
        try:
            for n in range(15):
                append(session_factory(other), clock, thread * 100 + n)
        except Exception as exc:  # noqa: BLE001 - reported to the test thread below
            failures.append(exc)

    threads = [threading.Thread(target=append_many, args=(o, t)) for t, o in enumerate(others)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for other in others:
            other.dispose()
    assert failures == []
    with transaction(sessions) as session:
        chain = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        assert len(chain) == 30
        assert len({e.prev_hash for e in chain}) == 30
        assert verify_chain(session, "op-a") is None


def test_sqlite_moves_the_head_by_a_trigger_and_postgresql_needs_none(engine: Engine) -> None:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        else:
            query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        triggers = set(connection.execute(text(query)).scalars())
    expected = {"audit_head_follows_events"} if engine.dialect.name == "sqlite" else set()
    assert triggers == expected
