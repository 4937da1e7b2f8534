"""Staff logins: a password opens a session that can do nothing but finish its second factor.

Sessions are their own table and cookie, apart from customers'; shorter (15 min idle, 8 h
absolute by default, ``Limits.staff_session_*``); tokens are 256 random bits of which only the
hash is stored, and the token is replaced when the second factor succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from esimcare.config import Limits
from esimcare.customers.passwords import PasswordWork
from esimcare.kit.tokens import digest, new_token
from esimcare.staff.audit import record_staff_action
from esimcare.staff.errors import (
    SecondFactorRequiredError,
    StaffLoginFailedError,
    StaffSessionEndedError,
)
from esimcare.staff.models import StaffMember, StaffSession
from esimcare.staff.service import staff_by_email
from esimcare.staff.totp import accept_totp

MAX_FAILURES = 10
LOCK_FOR = timedelta(minutes=15)
TOUCH_INTERVAL = timedelta(seconds=30)


@dataclass(frozen=True)
class StaffAuth:
    staff: StaffMember
    session: StaffSession

    @property
    def complete(self) -> bool:
        return self.session.second_factor_at is not None

    def require_complete(self) -> StaffAuth:
        if not self.complete:
            raise SecondFactorRequiredError()
        return self


@dataclass(frozen=True)
class IssuedStaffSession:
    token: str
    auth: StaffAuth


def log_in_with_password(
    session: Session,
    email: str,
    password: str,
    *,
    now: datetime,
    limits: Limits,
    production: bool,
    work: PasswordWork,
    ip: str | None = None,
) -> IssuedStaffSession:
    """One answer for an unknown e-mail, a wrong password and a locked account. The argon2
    work shares the process's bound with customer logins (PasswordWorkBusyError, 429)."""
    staff = staff_by_email(session, email)
    right = work.verify(staff.password_hash if staff else None, password)
    if staff is None or not usable(staff, now, production):
        raise StaffLoginFailedError()
    if not right:
        _count_failure(session, staff, now, ip, "staff.password_failed")
        raise StaffLoginFailedError()
    row = StaffSession(
        staff_id=staff.id,
        token_hash="",
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=limits.staff_session_absolute_s),
        ip=ip,
    )
    token = _new_token_for(row)
    session.add(row)
    session.flush()
    record_staff_action(
        session, staff, "staff.password_ok", subject=f"staff:{staff.id}", at=now, ip=ip
    )
    return IssuedStaffSession(token, StaffAuth(staff, row))


def usable(staff: StaffMember, now: datetime, production: bool) -> bool:
    if staff.disabled_at is not None or staff.password_hash is None:
        return False
    if staff.development_only and production:
        return False  # a demo login with a published secret never works in production
    return staff.locked_until is None or staff.locked_until <= now


def _count_failure(
    session: Session, staff: StaffMember, now: datetime, ip: str | None, action: str
) -> None:
    session.execute(
        update(StaffMember)
        .where(StaffMember.id == staff.id)
        .values(failed_attempts=StaffMember.failed_attempts + 1)
    )
    session.refresh(staff)
    if staff.failed_attempts >= MAX_FAILURES:
        staff.locked_until = now + LOCK_FOR
        staff.failed_attempts = 0
    record_staff_action(session, staff, action, subject=f"staff:{staff.id}", at=now, ip=ip)


def _new_token_for(row: StaffSession) -> str:
    token = new_token()
    row.token_hash = digest(token)
    return token


def finish_with_totp(
    session: Session,
    auth: StaffAuth,
    code: str,
    *,
    now: datetime,
    production: bool,
    key: bytes,
    ip: str | None = None,
) -> str:
    """The second factor by TOTP; returns the session's new token."""
    staff = auth.staff
    if not usable(staff, now, production):
        raise StaffLoginFailedError()
    try:
        accept_totp(staff, code, now, key)
    except StaffLoginFailedError:
        _count_failure(session, staff, now, ip, "staff.second_factor_failed")
        raise
    return complete_second_factor(session, auth, "totp", now=now, ip=ip)


def complete_second_factor(
    session: Session, auth: StaffAuth, factor: str, *, now: datetime, ip: str | None
) -> str:
    auth.staff.failed_attempts = 0
    auth.session.second_factor = factor
    auth.session.second_factor_at = now
    auth.session.webauthn_challenge = None
    token = _new_token_for(auth.session)  # a new token once the session can act
    record_staff_action(
        session,
        auth.staff,
        "staff.login",
        subject=f"staff:{auth.staff.id}",
        at=now,
        ip=ip,
        data={"second_factor": factor},
    )
    return token


def resolve_staff_session(
    session: Session, token: str, *, now: datetime, limits: Limits, production: bool
) -> StaffAuth:
    """The staff member behind a token (second factor done or not), or StaffSessionEndedError."""
    row = session.scalar(select(StaffSession).where(StaffSession.token_hash == digest(token)))
    if row is None or row.revoked_at is not None:
        raise StaffSessionEndedError()
    idle_deadline = row.last_seen_at + timedelta(seconds=limits.staff_session_idle_s)
    if now >= row.expires_at or now >= idle_deadline:
        raise StaffSessionEndedError()
    staff = session.get(StaffMember, row.staff_id)
    if staff is None or staff.disabled_at is not None or (staff.development_only and production):
        raise StaffSessionEndedError()
    if now - row.last_seen_at > TOUCH_INTERVAL:
        row.last_seen_at = now
    return StaffAuth(staff, row)


def revoke_staff_token(session: Session, token: str, now: datetime) -> None:
    """End the session a browser held before logging in again (a new login replaces it)."""
    session.execute(
        update(StaffSession)
        .where(StaffSession.token_hash == digest(token), StaffSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def log_out(session: Session, auth: StaffAuth, *, now: datetime, ip: str | None) -> None:
    auth.session.revoked_at = now
    record_staff_action(
        session, auth.staff, "staff.logout", subject=f"staff:{auth.staff.id}", at=now, ip=ip
    )
