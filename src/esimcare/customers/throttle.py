"""Failed logins per client address: a few free, then a wait that doubles (security.md).

Each try is counted twice: for the address with the login as typed (a few free tries), and for
the address alone, whatever logins it tries (more free tries). Both counts are claimed *before*
the password is checked, each in one conditional upsert, so parallel tries cannot slip past a
limit on any database; a successful login gives its try back. The owner, logging in from
another address, never meets an attacker's waits, and one address cannot make enough failures
in an hour to reach the account's own lock
(``Limits.login_failures_one_address_can_make_in_an_hour``).

Keys are keyed hashes of the login *as typed*, not account ids: an unknown login is throttled
exactly like a real one, so the answers say nothing about who has an account.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from esimcare.config import Limits
from esimcare.customers.models import LoginThrottle
from esimcare.errors import LoginThrottledError
from esimcare.kit.tokens import keyed_hash


@dataclass(frozen=True)
class ThrottleKeys:
    per_login: str
    per_address: str


def throttle_keys(secret: bytes, client: str | None, login: str) -> ThrottleKeys:
    address = address_group(client)
    return ThrottleKeys(
        per_login=keyed_hash(secret, f"login-throttle:{address}:{login}"),
        per_address=keyed_hash(secret, f"login-throttle:{address}"),
    )


def address_group(client: str | None) -> str:
    """IPv6 clients are counted per /64: one subscriber line commonly holds a whole /64."""
    try:
        address = ipaddress.ip_address(client or "")
    except ValueError:
        return client or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def claim_login_try(session: Session, keys: ThrottleKeys, now: datetime, limits: Limits) -> None:
    """Count this try as a failure up front, or raise LoginThrottledError (429, Retry-After)
    while a wait is running. The error rolls the transaction back, so a refused try counts
    nowhere."""
    counters = (
        (keys.per_address, limits.login_free_tries_per_address),
        (keys.per_login, limits.login_free_tries_per_login),
    )
    for key, free in counters:
        failures = _claim(session, key, now, limits)
        if failures is None:
            raise LoginThrottledError(retry_after=_seconds_left(session, key, now))
        delay = limits.login_delay_s(failures, free)
        if delay:
            # The upsert above holds the row (PostgreSQL row lock; SQLite's write lock).
            session.execute(
                update(LoginThrottle)
                .where(LoginThrottle.key == key)
                .values(blocked_until=now + timedelta(seconds=delay))
            )


def give_back_login_try(session: Session, keys: ThrottleKeys, limits: Limits) -> None:
    """A successful login: this address's count for the login starts afresh, and the try
    claimed for the address is returned."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == keys.per_login))
    remaining = LoginThrottle.failures - 1
    session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == keys.per_address)
        .values(
            failures=remaining,
            blocked_until=case(
                (remaining < limits.login_free_tries_per_address, None),
                else_=LoginThrottle.blocked_until,
            ),
        )
    )


def _claim(session: Session, key: str, now: datetime, limits: Limits) -> int | None:
    """One statement: a new row, or one more failure on a row whose wait is over (a count
    left alone for ``login_forget_after_s`` starts again at 1). None while a wait runs."""
    row = LoginThrottle
    forgotten = row.last_failure_at < now - timedelta(seconds=limits.login_forget_after_s)
    statement = (
        _insert(session)
        .values(key=key, failures=1, last_failure_at=now, blocked_until=None)
        .on_conflict_do_update(
            index_elements=[row.key],
            set_={"failures": case((forgotten, 1), else_=row.failures + 1), "last_failure_at": now},
            where=or_(row.blocked_until.is_(None), row.blocked_until <= now),
        )
        .returning(row.failures)
    )
    failures: int | None = session.execute(statement).scalar_one_or_none()
    return failures


def _insert(session: Session) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both SQLite and PostgreSQL do)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(LoginThrottle)
    return sqlite.insert(LoginThrottle)


def _seconds_left(session: Session, key: str, now: datetime) -> int:
    until = session.scalar(select(LoginThrottle.blocked_until).where(LoginThrottle.key == key))
    if until is None:
        return 1
    return max(1, math.ceil((until - now).total_seconds()))
