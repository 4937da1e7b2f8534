"""Logging in: phone number or e-mail plus password, one answer for every failure.

A login runs in three short steps, so no database lock is held while argon2 works: within one
of the process's slots for argon2 work, claim a try from the client address's throttle (and
find the account) and verify the password; then open a session or count the failure.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from esimcare.config import Limits
from esimcare.customers.lockout import ensure_not_locked, record_failure
from esimcare.customers.models import Customer
from esimcare.customers.passwords import PasswordWork, refuse_overlong, verify_password
from esimcare.customers.sessions import IssuedSession, open_session, revoke_token
from esimcare.customers.throttle import (
    ThrottleKeys,
    claim_login_try,
    give_back_login_try,
    throttle_keys,
)
from esimcare.db import transaction
from esimcare.errors import AuthenticationError, VerificationLockedError
from esimcare.kit.ids import InvalidIdentifierError, Msisdn
from esimcare.systems import CoreSystems


class LoginSystems(CoreSystems, Protocol):
    """What a login uses of the running process (``Context`` has it)."""

    @property
    def password_work(self) -> PasswordWork: ...


@dataclass(frozen=True)
class LoginAttempt:
    operator_id: str
    login: str
    password: str
    client: str | None = None
    user_agent: str | None = None
    # The operator's region, for numbers typed without their country code.
    region: str | None = None
    # The session the browser held before, ended when the new one opens.
    replacing_token: str | None = None


@dataclass(frozen=True)
class _Account:
    id: int
    password_hash: str


def normalised_login(login: str, region: str | None = None) -> str:
    """The form the account is stored under: a lower-case e-mail or an E.164 number; text
    that is neither is kept as typed (trimmed, lower-case) so it can still be throttled."""
    login = login.strip()
    if "@" not in login:
        try:
            return Msisdn.parse(login, region).value
        except InvalidIdentifierError:
            pass
    return login.lower()


def find_by_login(
    session: Session, operator_id: str, login: str, region: str | None = None
) -> Customer | None:
    """``region``: the operator's, for numbers typed without their country code."""
    login = normalised_login(login, region)
    condition = Customer.email == login if "@" in login else Customer.phone == login
    return session.scalar(select(Customer).where(Customer.operator_id == operator_id, condition))


def log_in(ctx: LoginSystems, attempt: LoginAttempt) -> tuple[Customer, IssuedSession]:
    """The customer and a new session, or AuthenticationError (the same for an unknown login,
    a wrong password and a locked account), LoginThrottledError or PasswordWorkBusyError
    (429), PasswordTooLongError (422, counted nowhere)."""
    refuse_overlong(attempt.password)
    limits, now = ctx.settings.limits, ctx.clock.now()
    login = normalised_login(attempt.login, attempt.region)
    keys = throttle_keys(ctx.settings.secret_key, attempt.client, f"{attempt.operator_id}:{login}")
    # The slot first: a refused request (429 busy) has cost nothing and counted nowhere.
    with ctx.password_work.slot():
        with transaction(ctx.sessions) as session:
            claim_login_try(session, keys, now, limits)
            found = find_by_login(session, attempt.operator_id, login)
            account = _Account(found.id, found.password_hash) if found else None
        # An unknown login verifies a dummy hash: the same time (and work) as a known one.
        valid = verify_password(account.password_hash if account else None, attempt.password)
    with transaction(ctx.sessions) as session:
        customer = session.get(Customer, account.id) if account else None
        if customer is None:
            raise AuthenticationError()
        if not valid:
            _count_failure(session, customer, now, limits)
        try:
            ensure_not_locked(customer, now)
        except VerificationLockedError:
            # Same answer as a wrong password: a lock must not reveal that the account exists.
            raise AuthenticationError() from None
        return customer, _open(session, customer, keys, attempt, now, limits)


def _count_failure(session: Session, customer: Customer, now: datetime, limits: Limits) -> None:
    # Already locked by a parallel failure: the answer is the same.
    with suppress(VerificationLockedError):
        record_failure(session, customer, "login", now, limits)
    raise AuthenticationError()


def _open(
    session: Session,
    customer: Customer,
    keys: ThrottleKeys,
    attempt: LoginAttempt,
    now: datetime,
    limits: Limits,
) -> IssuedSession:
    give_back_login_try(session, keys, limits)
    if attempt.replacing_token:
        revoke_token(session, attempt.replacing_token, now)
    return open_session(session, customer, now, limits, attempt.client, attempt.user_agent)


def check_password(
    session: Session,
    customer: Customer,
    password: str,
    *,
    now: datetime,
    limits: Limits,
    work: PasswordWork,
) -> bool:
    """Step-up by password: counts a failure like a wrong code does."""
    refuse_overlong(password)
    ensure_not_locked(customer, now)
    if work.verify(customer.password_hash, password):
        return True
    record_failure(session, customer, "password", now, limits)
    return False
