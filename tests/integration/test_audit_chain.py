from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from esimcare.audit.models import AuditEvent
from esimcare.audit.service import CHAIN_TRUNCATED, GENESIS_HASH, record, verify_chain
from esimcare.db import make_engine, session_factory, transaction
from esimcare.kit.clock import FrozenClock


def append(
    sessions: sessionmaker[Session], clock: FrozenClock, operator_id: str = "op-a", n: int = 0
) -> int:
    with transaction(sessions) as session:
        event = record(
            session,
            operator_id=operator_id,
            actor="customer:42",
            action="cancellation.requested",
            subject=f"esim:{n}",
            at=clock.now(),
            ip="203.0.113.7",
            data={"n": n, "reason": "moving abroad — 海外"},
        )
        clock.advance(timedelta(seconds=1))
        return event.id


def verify(sessions: sessionmaker[Session], operator_id: str = "op-a") -> int | None:
    with transaction(sessions) as session:
        return verify_chain(session, operator_id)


def events(sessions: sessionmaker[Session], operator_id: str = "op-a") -> list[AuditEvent]:
    with transaction(sessions) as session:
        query = select(AuditEvent).where(AuditEvent.operator_id == operator_id)
        return list(session.scalars(query.order_by(AuditEvent.id)))


def test_appended_events_form_a_chain_that_verifies(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    for n in range(5):
        append(sessions, clock, n=n)
    chain = events(sessions)
    assert chain[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in chain[1:]] == [e.hash for e in chain[:-1]]
    assert verify(sessions) is None


def test_each_operator_has_its_own_chain(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    append(sessions, clock, "op-a")
    append(sessions, clock, "op-b")
    append(sessions, clock, "op-a")
    assert events(sessions, "op-b")[0].prev_hash == GENESIS_HASH
    assert verify(sessions, "op-a") is None
    assert verify(sessions, "op-b") is None


def test_an_operator_without_events_verifies(sessions: sessionmaker[Session]) -> None:
    assert verify(sessions, "nobody") is None


@pytest.mark.parametrize(
    "change",
    [{"data": {"n": 1, "reason": "edited"}}, {"actor": "staff:1"}, {"ip": None}],
    ids=["data", "actor", "ip"],
)
def test_an_edited_row_is_detected(
    sessions: sessionmaker[Session], clock: FrozenClock, change: dict[str, object]
) -> None:
    ids = [append(sessions, clock, n=n) for n in range(3)]
    with transaction(sessions) as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == ids[1]).values(**change))
    assert verify(sessions) == ids[1]


def test_a_row_whose_time_was_moved_is_detected(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    ids = [append(sessions, clock, n=n) for n in range(3)]
    with transaction(sessions) as session:
        moved = clock.now() - timedelta(days=1)
        session.execute(update(AuditEvent).where(AuditEvent.id == ids[0]).values(at=moved))
    assert verify(sessions) == ids[0]


def test_a_deleted_row_breaks_the_chain_at_the_next_row(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    ids = [append(sessions, clock, n=n) for n in range(3)]
    with transaction(sessions) as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == ids[1]))
    assert verify(sessions) == ids[2]


def test_deleting_the_newest_rows_is_detected_through_the_head(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    ids = [append(sessions, clock, n=n) for n in range(3)]
    with transaction(sessions) as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == ids[2]))
    assert verify(sessions) == CHAIN_TRUNCATED


def test_an_event_rolls_back_with_the_callers_transaction_and_the_chain_stays_whole(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    append(sessions, clock, n=1)

    def failing_step() -> None:
        with transaction(sessions) as session:
            record(session, operator_id="op-a", actor="a", action="x", subject="s", at=clock.now())
            raise RuntimeError("the step failed")

    with pytest.raises(RuntimeError):
        failing_step()
    append(sessions, clock, n=2)
    assert len(events(sessions)) == 2
    assert verify(sessions) is None


def test_concurrent_appends_never_fork_the_chain(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def append_many(thread: int) -> None:
        start.wait()
        try:
            for n in range(10):
                append(sessions, clock, n=thread * 100 + n)
        except Exception as exc:  # noqa: BLE001 - reported to the test thread below
            failures.append(exc)

    threads = [threading.Thread(target=append_many, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    chain = events(sessions)
    assert len(chain) == 40
    assert len({e.prev_hash for e in chain}) == 40
    assert verify(sessions) is None


def test_appends_from_another_process_in_between_still_chain_onto_the_real_head(
    engine: Engine, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    # This process remembers the hash it wrote last; another engine on the same database (as
    # another process would) moves the head on, so that guess is stale for the next append.
    append(sessions, clock, n=1)
    other = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        append(session_factory(other), clock, n=2)
    finally:
        other.dispose()
    append(sessions, clock, n=3)
    chain = events(sessions)
    assert [e.prev_hash for e in chain[1:]] == [e.hash for e in chain[:-1]]
    assert verify(sessions) is None
