from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from esimcare.db import transaction
from esimcare.errors import (
    IdempotencyKeyInFlightError,
    IdempotencyKeyReusedError,
    InvalidInputError,
)
from esimcare.idempotency.models import IdempotencyRecord
from esimcare.idempotency.service import (
    IN_FLIGHT_LIMIT,
    IdempotencyRecordLostError,
    IdempotencyStore,
    StoredResponse,
)
from esimcare.jobs.models import Job
from esimcare.jobs.queue import enqueue
from esimcare.kit.clock import FrozenClock

SCOPE = "op-a:cancellations"
HASH = IdempotencyStore.request_hash("POST", "/v1/cancellations", b'{"esim": 1}')
OTHER_HASH = IdempotencyStore.request_hash("POST", "/v1/cancellations", b'{"esim": 2}')


@pytest.fixture
def store(sessions: sessionmaker[Session], clock: FrozenClock) -> IdempotencyStore:
    return IdempotencyStore(sessions, clock, ttl_s=3600)


def finish(
    store: IdempotencyStore, key: str, body: dict[str, object] | None = None, fail: bool = False
) -> None:
    """Store the response in the same transaction as the request's work (here: a job)."""
    with transaction(store.sessions) as session:
        enqueue(session, kind="created", payload={}, now=store.clock.now())
        store.finish(session, SCOPE, key, 201, body or {"id": 7})
        if fail:
            raise RuntimeError("commit failed")


def count(sessions: sessionmaker[Session], model: type[Job | IdempotencyRecord]) -> int:
    with transaction(sessions) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_the_request_hash_depends_on_method_path_and_body() -> None:
    variants = {
        IdempotencyStore.request_hash("POST", "/a", b"{}"),
        IdempotencyStore.request_hash("PUT", "/a", b"{}"),
        IdempotencyStore.request_hash("POST", "/b", b"{}"),
        IdempotencyStore.request_hash("POST", "/a", b"{ }"),
    }
    assert len(variants) == 4
    assert IdempotencyStore.request_hash("post", "/a", b"{}") in variants


def test_a_new_key_is_claimed_and_its_response_replayed_afterwards(
    store: IdempotencyStore,
) -> None:
    assert store.start(SCOPE, "k1", HASH) is None
    finish(store, "k1", {"id": 7, "state": "requested"})
    replay = store.start(SCOPE, "k1", HASH)
    assert replay == StoredResponse(201, {"id": 7, "state": "requested"})


def test_the_same_key_with_a_different_request_is_refused_with_422(
    store: IdempotencyStore,
) -> None:
    store.start(SCOPE, "k1", HASH)
    finish(store, "k1")
    with pytest.raises(IdempotencyKeyReusedError) as refused:
        store.start(SCOPE, "k1", OTHER_HASH)
    assert refused.value.status == 422


def test_the_same_key_while_the_first_request_runs_is_refused_with_409(
    store: IdempotencyStore,
) -> None:
    store.start(SCOPE, "k1", HASH)
    with pytest.raises(IdempotencyKeyInFlightError) as refused:
        store.start(SCOPE, "k1", HASH)
    assert refused.value.status == 409


def test_keys_of_different_scopes_do_not_collide(store: IdempotencyStore) -> None:
    store.start(SCOPE, "k1", HASH)
    assert store.start("op-b:cancellations", "k1", OTHER_HASH) is None


def test_an_expired_record_is_replaced_by_a_new_request(
    store: IdempotencyStore, clock: FrozenClock
) -> None:
    store.start(SCOPE, "k1", HASH)
    finish(store, "k1")
    clock.advance(timedelta(seconds=3600))
    assert store.start(SCOPE, "k1", OTHER_HASH) is None
    with pytest.raises(IdempotencyKeyInFlightError):
        store.start(SCOPE, "k1", OTHER_HASH)


def test_an_abandoned_key_may_be_retried(store: IdempotencyStore) -> None:
    store.start(SCOPE, "k1", HASH)
    store.abandon(SCOPE, "k1")
    assert store.start(SCOPE, "k1", HASH) is None


def test_abandon_never_deletes_a_stored_response(store: IdempotencyStore) -> None:
    store.start(SCOPE, "k1", HASH)
    finish(store, "k1")
    store.abandon(SCOPE, "k1")
    assert store.start(SCOPE, "k1", HASH) == StoredResponse(201, {"id": 7})


def test_the_response_rolls_back_with_the_requests_work(
    store: IdempotencyStore, sessions: sessionmaker[Session]
) -> None:
    store.start(SCOPE, "k1", HASH)
    with pytest.raises(RuntimeError):
        finish(store, "k1", fail=True)
    assert count(sessions, Job) == 0
    with pytest.raises(IdempotencyKeyInFlightError):
        store.start(SCOPE, "k1", HASH)


def test_finishing_without_a_placeholder_rolls_the_work_back(
    store: IdempotencyStore, sessions: sessionmaker[Session]
) -> None:
    store.start(SCOPE, "k1", HASH)
    store.abandon(SCOPE, "k1")
    with pytest.raises(IdempotencyRecordLostError):
        finish(store, "k1")
    assert count(sessions, Job) == 0


def test_purge_expired_deletes_only_old_records(
    store: IdempotencyStore, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    store.start(SCOPE, "old", HASH)
    clock.advance(timedelta(seconds=1800))
    store.start(SCOPE, "new", HASH)
    clock.advance(timedelta(seconds=1800))
    assert store.purge_expired() == 1
    assert count(sessions, IdempotencyRecord) == 1


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "clé", "line\nbreak", "tab\t"],
    ids=["empty", "too-long", "non-ascii", "newline", "tab"],
)
def test_malformed_keys_are_refused(store: IdempotencyStore, key: str) -> None:
    with pytest.raises(InvalidInputError):
        store.start(SCOPE, key, HASH)


def test_the_longest_printable_key_is_accepted(store: IdempotencyStore) -> None:
    assert store.start(SCOPE, "~" * 255, HASH) is None


def test_concurrent_requests_with_one_key_let_exactly_one_run(
    store: IdempotencyStore,
) -> None:
    start = threading.Barrier(4)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        start.wait()
        try:
            result = "ran" if store.start(SCOPE, "race", HASH) is None else "replayed"
        except IdempotencyKeyInFlightError:
            result = "in-flight"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["in-flight", "in-flight", "in-flight", "ran"]


def test_a_placeholder_left_by_a_crashed_request_can_be_claimed_after_the_in_flight_limit(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    store = IdempotencyStore(sessions, clock)
    digest = IdempotencyStore.request_hash("POST", "/x", b"{}")
    assert store.start("scope", "crashed-key", digest) is None
    with pytest.raises(IdempotencyKeyInFlightError):
        store.start("scope", "crashed-key", digest)
    clock.advance(IN_FLIGHT_LIMIT + timedelta(seconds=1))
    assert store.start("scope", "crashed-key", digest) is None
