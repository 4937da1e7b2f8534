"""Run an operation at most once per key, for any door (API Idempotency-Key, portal form token).

A door says where a key is valid (its scope), the key and a fingerprint of what was asked, and
how to describe the result (the answer it replays for a repeat); the operation claims the key,
does its work and stores the answer in the same transaction, so the answer commits together
with what it describes. A failed attempt releases the key, so the caller may retry with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from esimcare.db import transaction
from esimcare.idempotency.service import IdempotencyStore, StoredResponse

T = TypeVar("T")


@dataclass(frozen=True)
class Once:
    """One key claimed in one scope for one request (its fingerprint)."""

    store: IdempotencyStore
    scope: str
    key: str
    request_hash: str
    # A form sent twice at once (a double click) waits for the first answer; an API client is
    # told 409 instead and retries itself.
    wait_for_first: bool = False

    def start(self) -> StoredResponse | None:
        """The stored answer to replay, or None when this call owns the key and runs."""
        if self.wait_for_first:
            return self.store.start_or_wait(self.scope, self.key, self.request_hash)
        return self.store.start(self.scope, self.key, self.request_hash)

    @contextmanager
    def running(self) -> Iterator[None]:
        """Release the key if the work fails, so the caller may retry with it."""
        try:
            yield
        except Exception:
            self.store.abandon(self.scope, self.key)
            raise

    def finish(self, session: Session, answer: StoredResponse) -> None:
        """Store the answer in the transaction that created what it describes."""
        self.store.finish(session, self.scope, self.key, answer.status_code, answer.body)


@dataclass(frozen=True)
class Ran(Generic[T]):
    """What an idempotent operation answered, and what it did when it ran this time."""

    answer: StoredResponse
    result: T | None = None  # None: the answer replays an earlier call with the same key

    @property
    def replayed(self) -> bool:
        return self.result is None


Describe = Callable[[Session, T], StoredResponse]


def claim(once: Once | None) -> StoredResponse | None:
    return once.start() if once is not None else None


@contextmanager
def releasing_on_error(once: Once | None) -> Iterator[None]:
    if once is None:
        yield
        return
    with once.running():
        yield


def run_once(
    sessions: sessionmaker[Session],
    once: Once | None,
    work: Callable[[Session], T],
    describe: Describe[T],
) -> Ran[T]:
    """Claim the key (if any), do ``work`` in one transaction and store its answer in it."""
    stored = claim(once)
    if stored is not None:
        return Ran(stored)
    with releasing_on_error(once), transaction(sessions) as session:
        result = work(session)
        answer = describe(session, result)
        if once is not None:
            once.finish(session, answer)
    return Ran(answer, result)
