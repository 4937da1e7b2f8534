"""Login sessions: random tokens, only their hash stored; idle and absolute time-outs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from esimcare.config import Limits
from esimcare.customers.models import AuthSession, Customer
from esimcare.errors import AuthenticationError
from esimcare.kit.tokens import digest, new_token


@dataclass(frozen=True)
class IssuedSession:
    token: str
    expires_at: datetime
    session_id: int


@dataclass(frozen=True)
class Authenticated:
    customer: Customer
    session: AuthSession


def open_session(
    session: Session,
    customer: Customer,
    now: datetime,
    limits: Limits,
    ip: str | None = None,
    user_agent: str | None = None,
) -> IssuedSession:
    token = new_token()
    row = AuthSession(
        operator_id=customer.operator_id,
        customer_id=customer.id,
        token_hash=digest(token),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=limits.session_absolute_s),
        ip=ip,
        user_agent=(user_agent or "")[:200] or None,
    )
    session.add(row)
    session.flush()
    return IssuedSession(token=token, expires_at=row.expires_at, session_id=row.id)


def resolve_session(
    session: Session, operator_id: str, token: str, now: datetime, limits: Limits
) -> Authenticated:
    """The customer behind a token, or AuthenticationError: revoked, expired, idle, or another
    operator's (a token never crosses tenants)."""
    row = session.scalar(select(AuthSession).where(AuthSession.token_hash == digest(token)))
    if row is None:
        raise AuthenticationError()
    check_live(row, operator_id, now, limits)
    customer = session.get(Customer, row.customer_id)
    if customer is None:
        raise AuthenticationError()
    return Authenticated(customer=customer, session=row)


class SessionTimes(Protocol):
    """What decides whether a session is live: an ORM row or a plain result row."""

    @property
    def operator_id(self) -> str: ...
    @property
    def revoked_at(self) -> datetime | None: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def last_seen_at(self) -> datetime: ...


def check_live(row: SessionTimes, operator_id: str, now: datetime, limits: Limits) -> None:
    """AuthenticationError unless the session is this operator's, not revoked, not expired
    and not idle for too long."""
    if row.operator_id != operator_id or row.revoked_at is not None:
        raise AuthenticationError()
    idle_deadline = row.last_seen_at + timedelta(seconds=limits.session_idle_s)
    if now >= row.expires_at or now >= idle_deadline:
        raise AuthenticationError("the session has ended; log in again")


# Refreshing last_seen at most once a minute keeps nearly every request a pure read.
TOUCH_INTERVAL = timedelta(seconds=60)


def touch_due(auth: Authenticated, now: datetime) -> bool:
    return touch_due_since(auth.session.last_seen_at, now)


def touch_due_since(last_seen_at: datetime, now: datetime) -> bool:
    return now - last_seen_at > TOUCH_INTERVAL


def touch_session(session: Session, session_id: int, now: datetime) -> None:
    session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.last_seen_at < now)
        .values(last_seen_at=now)
    )


def revoke_session(session: Session, row: AuthSession, now: datetime) -> None:
    row.revoked_at = now


def revoke_token(session: Session, token: str, now: datetime) -> None:
    """End the session behind a token, if any (the one a browser held before logging in again)."""
    session.execute(
        update(AuthSession)
        .where(AuthSession.token_hash == digest(token), AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_all(session: Session, customer_id: int, now: datetime) -> None:
    session.execute(
        update(AuthSession)
        .where(AuthSession.customer_id == customer_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
