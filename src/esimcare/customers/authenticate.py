"""Who is calling: a token resolved in a read-only transaction, refreshed only when due."""

from __future__ import annotations

from esimcare.context import Context
from esimcare.customers.sessions import Authenticated, resolve_session, touch_due, touch_session
from esimcare.db import transaction


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
