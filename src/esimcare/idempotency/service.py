"""Idempotency-Key handling (IETF httpapi-idempotency-key-header draft; Stripe's semantics).

The first request with a key leaves an in-flight placeholder (its own short transaction, so a
second request sees it at once); the response is stored in the request's own transaction, so the
stored answer commits together with whatever the request created. A request that fails abandons
its placeholder, so the client may retry with the same key.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from esimcare.db import transaction
from esimcare.errors import (
    ConflictError,
    IdempotencyKeyInFlightError,
    IdempotencyKeyReusedError,
    InvalidInputError,
)
from esimcare.i18n import N_
from esimcare.idempotency.models import IdempotencyRecord
from esimcare.kit.clock import Clock

MAX_KEY_LENGTH = 255


class IdempotencyRecordLostError(ConflictError):
    """The placeholder vanished while the request ran; rolling back lets the client retry."""

    code = "idempotency-record-lost"
    title = N_("The request took too long to be recorded; retry it with the same Idempotency-Key")


# Longer than any request may run (requests time out far sooner).
IN_FLIGHT_LIMIT = timedelta(seconds=120)


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]


def validate_key(key: str) -> None:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= char <= "~" for char in key):
        raise InvalidInputError(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"
        )


class IdempotencyStore:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock, ttl_s: int = 86400) -> None:
        self.sessions = sessions
        self.clock = clock
        self.ttl = timedelta(seconds=ttl_s)

    @staticmethod
    def request_hash(method: str, path: str, body: bytes) -> str:
        """Fingerprint of a request: the same key must come back with the same request."""
        digest = hashlib.sha256(f"{method.upper()} {path}\n".encode())
        digest.update(body)
        return digest.hexdigest()

    def start_or_wait(
        self, scope: str, key: str, request_hash: str, *, polls: int = 40, wait_s: float = 0.25
    ) -> StoredResponse | None:
        """Like ``start``, but a request that finds the key in flight waits for the first one's
        answer (a double click sends a form twice at once) instead of failing with 409."""
        for _ in range(polls):
            try:
                return self.start(scope, key, request_hash)
            except IdempotencyKeyInFlightError:
                time.sleep(wait_s)
        return self.start(scope, key, request_hash)

    def start(self, scope: str, key: str, request_hash: str) -> StoredResponse | None:
        """Replay the stored response, refuse a reused or in-flight key, or claim the key.

        Returns None when this request now owns the key and should run.
        """
        validate_key(key)
        try:
            return self._start(scope, key, request_hash)
        except IntegrityError:
            # A concurrent request inserted the same key first (PostgreSQL makes us wait for
            # its commit, then refuses ours); judge its row like any other existing one.
            return self._judge_existing(scope, key, request_hash)

    def _start(self, scope: str, key: str, request_hash: str) -> StoredResponse | None:
        with transaction(self.sessions) as session:
            now = self.clock.now()
            # FOR UPDATE: two requests replacing the same expired record must queue, so the
            # second one sees the first's fresh placeholder.
            record = self._find(session, scope, key, for_update=True)
            if record is not None and record.expires_at > now and not self._stale(record, now):
                return _replay(record, request_hash)
            if record is None:
                record = IdempotencyRecord(scope=scope, key=key)
                session.add(record)
            record.request_hash = request_hash
            record.status_code = None
            record.response = None
            record.created_at = now
            record.expires_at = now + self.ttl
            return None

    def _stale(self, record: IdempotencyRecord, now: datetime) -> bool:
        """A placeholder whose process died before finishing or abandoning it would otherwise
        answer 409 for 24 hours; after a generous in-flight limit the key may be claimed anew.
        Nothing was committed under it, because the work and the response commit together."""
        return record.status_code is None and now - record.created_at > IN_FLIGHT_LIMIT

    def _judge_existing(self, scope: str, key: str, request_hash: str) -> StoredResponse | None:
        with transaction(self.sessions) as session:
            record = self._find(session, scope, key, for_update=False)
            if record is None:
                # Abandoned in the meantime; the client may simply retry.
                raise IdempotencyKeyInFlightError()
            return _replay(record, request_hash)

    def finish(
        self,
        session: Session,
        scope: str,
        key: str,
        status_code: int,
        body: dict[str, Any],
    ) -> None:
        """Store the response in the caller's transaction, beside what the request created."""
        result = session.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.scope == scope,
                IdempotencyRecord.key == key,
                IdempotencyRecord.status_code.is_(None),
            )
            .values(status_code=status_code, response=body)
            .execution_options(synchronize_session=False)
        )
        if cast("CursorResult[Any]", result).rowcount != 1:
            # Without a placeholder a retry would run the request again: roll this one back.
            raise IdempotencyRecordLostError()

    def abandon(self, scope: str, key: str) -> None:
        """Drop the in-flight placeholder of a failed request; a stored response stays."""
        with transaction(self.sessions) as session:
            session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.scope == scope,
                    IdempotencyRecord.key == key,
                    IdempotencyRecord.status_code.is_(None),
                )
            )

    def purge_expired(self) -> int:
        """Delete records past their lifetime; returns how many went."""
        with transaction(self.sessions) as session:
            result = session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= self.clock.now())
            )
            return cast("CursorResult[Any]", result).rowcount

    @staticmethod
    def _find(
        session: Session, scope: str, key: str, *, for_update: bool
    ) -> IdempotencyRecord | None:
        query = select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
        if for_update:
            query = query.with_for_update()
        return session.execute(query).scalar_one_or_none()


def _replay(record: IdempotencyRecord, request_hash: str) -> StoredResponse:
    if record.request_hash != request_hash:
        raise IdempotencyKeyReusedError()
    if record.status_code is None or record.response is None:
        raise IdempotencyKeyInFlightError()
    return StoredResponse(status_code=record.status_code, body=record.response)
