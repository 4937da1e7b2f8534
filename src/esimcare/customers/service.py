"""Logging in: phone number or e-mail plus password, one answer for every failure."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from esimcare.config import Limits
from esimcare.customers.lockout import ensure_not_locked, record_failure
from esimcare.customers.models import Customer
from esimcare.customers.passwords import verify_password
from esimcare.customers.sessions import IssuedSession, open_session
from esimcare.errors import AuthenticationError, VerificationLockedError
from esimcare.kit.ids import InvalidIdentifierError, Msisdn


def find_by_login(
    session: Session, operator_id: str, login: str, region: str | None = None
) -> Customer | None:
    """``region``: the operator's, for numbers typed without their country code."""
    login = login.strip()
    if "@" in login:
        condition = Customer.email == login.lower()
    else:
        try:
            condition = Customer.phone == Msisdn.parse(login, region).value
        except InvalidIdentifierError:
            return None
    return session.scalar(select(Customer).where(Customer.operator_id == operator_id, condition))


def log_in(
    session: Session,
    operator_id: str,
    login: str,
    password: str,
    *,
    now: datetime,
    limits: Limits,
    ip: str | None = None,
    user_agent: str | None = None,
    region: str | None = None,
) -> tuple[Customer, IssuedSession]:
    customer = find_by_login(session, operator_id, login, region)
    valid = verify_password(customer.password_hash if customer else None, password)
    if customer is None:
        raise AuthenticationError()
    try:
        ensure_not_locked(customer, now)
    except VerificationLockedError:
        # Same answer as a wrong password: a lock must not reveal that the account exists.
        raise AuthenticationError() from None
    if not valid:
        record_failure(session, customer, "login", now, limits)
        raise AuthenticationError()
    return customer, open_session(session, customer, now, limits, ip, user_agent)


def check_password(
    session: Session, customer: Customer, password: str, *, now: datetime, limits: Limits
) -> bool:
    """Step-up by password: counts a failure like a wrong code does."""
    ensure_not_locked(customer, now)
    if verify_password(customer.password_hash, password):
        return True
    record_failure(session, customer, "password", now, limits)
    return False
