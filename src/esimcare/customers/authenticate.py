"""Who is calling: a token resolved in a read-only transaction, refreshed only when due."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from esimcare.config import Settings
from esimcare.customers.sessions import Authenticated, resolve_session, touch_due, touch_session
from esimcare.db import transaction
from esimcare.kit.clock import Clock


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
