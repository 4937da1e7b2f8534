"""Who is calling: a token resolved in a read-only transaction, refreshed only when due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import String, bindparam
from sqlalchemy.orm import Session, sessionmaker

from esimcare.config import Limits, Settings
from esimcare.customers.models import AuthSession, Customer
from esimcare.customers.sessions import (
    Authenticated,
    check_live,
    resolve_session,
    touch_due,
    touch_session,
)
from esimcare.db import transaction
from esimcare.errors import AuthenticationError
from esimcare.kit.clock import Clock
from esimcare.kit.tokens import digest


class SessionStores(Protocol):
    """What authenticating uses of the process (``Context`` satisfies it)."""

    @property
    def clock(self) -> Clock: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def readers(self) -> sessionmaker[Session]: ...

    @property
    def sessions(self) -> sessionmaker[Session]: ...


def authenticate(ctx: SessionStores, operator_id: str, token: str) -> Authenticated:
    """The session and its customer, or AuthenticationError.

    The lookup is a read (concurrent with writers under SQLite's WAL); the idle-timeout refresh
    is a separate short write that happens at most once a minute per session.
    """
    now = ctx.clock.now()
    with transaction(ctx.readers) as session:
        auth = resolve_session(session, operator_id, token, now, ctx.settings.limits)
    if touch_due(auth, now):
        with transaction(ctx.sessions) as session:
            touch_session(session, auth.session.id, now)
    return auth


@dataclass(frozen=True, slots=True)
class Caller:
    """The customer behind a token as plain values, for reads that load no ORM objects."""

    session_id: int
    customer_id: int
    operator_id: str
    last_seen_at: datetime


_SESSIONS = AuthSession.__table__.c
_CUSTOMERS = Customer.__table__.c
# The caller's columns, first in any statement that reads a token's session (``caller_from``
# reads them by position), and where they come from.
CALLER_COLUMNS = (
    _SESSIONS.id,
    _SESSIONS.operator_id,
    _SESSIONS.revoked_at,
    _SESSIONS.expires_at,
    _SESSIONS.last_seen_at,
    _CUSTOMERS.id.label("customer_id"),
    _CUSTOMERS.operator_id.label("customer_operator_id"),
)
CALLER_FROM = AuthSession.__table__.join(Customer.__table__, _CUSTOMERS.id == _SESSIONS.customer_id)
TOKEN_MATCHES = _SESSIONS.token_hash == bindparam("token_hash", type_=String())


@dataclass(frozen=True, slots=True)
class _SessionTimes:
    operator_id: str
    revoked_at: datetime | None
    expires_at: datetime
    last_seen_at: datetime


def token_parameters(token: str) -> dict[str, str]:
    return {"token_hash": digest(token)}


def caller_from(values: tuple[Any, ...], operator_id: str, now: datetime, limits: Limits) -> Caller:
    """The caller from the first ``len(CALLER_COLUMNS)`` values of a row, checked as
    ``resolve_session`` checks an ORM row, or AuthenticationError."""
    session_id, session_operator, revoked_at, expires_at, last_seen = values[:5]
    customer_id, customer_operator = values[5:7]
    if customer_operator != operator_id:
        raise AuthenticationError()
    check_live(
        _SessionTimes(session_operator, revoked_at, expires_at, last_seen),
        operator_id,
        now,
        limits,
    )
    return Caller(session_id, customer_id, customer_operator, last_seen)


def touch(ctx: SessionStores, session_id: int, now: datetime) -> None:
    """The at-most-once-a-minute idle refresh, as its own short write."""
    with transaction(ctx.sessions) as session:
        touch_session(session, session_id, now)
