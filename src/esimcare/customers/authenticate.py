"""Who is calling: a token resolved in a read-only transaction, refreshed only when due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, String, bindparam, select

from esimcare.config import Limits
from esimcare.context import Context
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
from esimcare.kit.tokens import digest


def authenticate(ctx: Context, operator_id: str, token: str) -> Authenticated:
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
# Built once: SQLAlchemy then reuses its cache key and compiled form on every request.
CALLER_BY_TOKEN_HASH = (
    select(
        _SESSIONS.id,
        _SESSIONS.operator_id,
        _SESSIONS.revoked_at,
        _SESSIONS.expires_at,
        _SESSIONS.last_seen_at,
        _CUSTOMERS.id.label("customer_id"),
        _CUSTOMERS.operator_id.label("customer_operator_id"),
    )
    .join_from(AuthSession.__table__, Customer.__table__, _CUSTOMERS.id == _SESSIONS.customer_id)
    .where(_SESSIONS.token_hash == bindparam("token_hash", type_=String()))
)


def caller_of(
    connection: Connection, operator_id: str, token: str, now: datetime, limits: Limits
) -> Caller:
    """The same rules as ``resolve_session`` (one statement, no ORM), or AuthenticationError.
    Writes nothing: the caller refreshes ``last_seen_at`` afterwards when ``touch_due_since``."""
    row = connection.execute(CALLER_BY_TOKEN_HASH, {"token_hash": digest(token)}).first()
    if row is None or row.customer_operator_id != operator_id:
        raise AuthenticationError()
    check_live(row, operator_id, now, limits)
    return Caller(
        session_id=row.id,
        customer_id=row.customer_id,
        operator_id=row.customer_operator_id,
        last_seen_at=row.last_seen_at,
    )


def touch(ctx: Context, session_id: int, now: datetime) -> None:
    """The at-most-once-a-minute idle refresh, as its own short write."""
    with transaction(ctx.sessions) as session:
        touch_session(session, session_id, now)
