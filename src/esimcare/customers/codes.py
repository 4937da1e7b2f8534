"""One-time codes: 6 digits, keyed hash, single use, bound to one purpose and subject.

A code for cancellation 12 confirms cancellation 12 only. Five tries end a code, counted with
one conditional UPDATE so parallel requests cannot exceed them on any database; wrong tries
also count towards the account's hourly limit, which a new code does not reset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, case, func, select, update
from sqlalchemy.orm import Session

from esimcare.config import Limits
from esimcare.customers.lockout import ensure_not_locked, record_failure
from esimcare.customers.models import Customer, OneTimeCode
from esimcare.errors import CodeExpiredError, ResendTooSoonError, WrongCodeError
from esimcare.kit.clock import as_utc, iso
from esimcare.kit.tokens import keyed_hash, new_numeric_code, same


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at: datetime


def issue_code(
    session: Session,
    customer: Customer,
    *,
    purpose: str,
    subject: str,
    destination: str,
    now: datetime,
    limits: Limits,
    key: bytes,
) -> IssuedCode:
    ensure_not_locked(customer, now)
    _throttle(session, destination, purpose, subject, now, limits)
    code = new_numeric_code()
    row = OneTimeCode(
        operator_id=customer.operator_id,
        customer_id=customer.id,
        purpose=purpose,
        subject=subject,
        destination=destination,
        code_hash=keyed_hash(key, f"{purpose}:{subject}:{code}"),
        created_at=now,
        expires_at=now + timedelta(seconds=limits.code_lifetime_s),
    )
    session.add(row)
    session.flush()
    return IssuedCode(code=code, expires_at=row.expires_at)


def _throttle(
    session: Session, destination: str, purpose: str, subject: str, now: datetime, limits: Limits
) -> None:
    """60 s between codes for the same thing (a resend), 5 an hour to one destination whatever
    they are for; a second cancellation right after the first still gets its code."""
    hour = OneTimeCode.created_at > now - timedelta(hours=1)
    same_thing = and_(OneTimeCode.purpose == purpose, OneTimeCode.subject == subject)
    sent, latest = session.execute(
        select(func.count(), func.max(case((same_thing, OneTimeCode.created_at)))).where(
            OneTimeCode.destination == destination, hour
        )
    ).one()
    if latest is not None:
        wait = as_utc(latest) + timedelta(seconds=limits.resend_interval_s) - now
        if wait.total_seconds() > 0:
            raise ResendTooSoonError(retry_after=int(wait.total_seconds()) + 1,
                                     retry_at=iso(now + wait), limit="interval")  # fmt: skip
    if (sent or 0) >= limits.sends_per_hour:
        # The cap lifts when the oldest code of the last hour turns an hour old.
        oldest = session.scalar(
            select(func.min(OneTimeCode.created_at)).where(
                OneTimeCode.destination == destination, hour
            )
        )
        free_at = as_utc(oldest) + timedelta(hours=1) if oldest is not None else now
        raise ResendTooSoonError(
            "too many codes sent to this destination in the last hour",
            retry_after=max(1, int((free_at - now).total_seconds()) + 1),
            retry_at=iso(free_at), limit="hourly",
        )  # fmt: skip


def check_code(
    session: Session,
    customer: Customer,
    *,
    purpose: str,
    subject: str,
    code: str,
    now: datetime,
    limits: Limits,
    key: bytes,
) -> None:
    """Consume the newest live code for this purpose and subject, or raise why not."""
    ensure_not_locked(customer, now)
    newest = (
        select(OneTimeCode.id)
        .where(
            OneTimeCode.customer_id == customer.id,
            OneTimeCode.purpose == purpose,
            OneTimeCode.subject == subject,
        )
        .order_by(OneTimeCode.created_at.desc(), OneTimeCode.id.desc())
        .limit(1)
    )
    tried = _take_a_try(session, newest, now, limits)
    if same(tried.code_hash, keyed_hash(key, f"{purpose}:{subject}:{code.strip()}")):
        session.execute(
            update(OneTimeCode)
            .where(OneTimeCode.id == tried.code_id)
            .values(consumed_at=now)
            .execution_options(synchronize_session=False)
        )
        return
    record_failure(session, customer, "code", now, limits)
    ensure_not_locked(customer, now)
    raise WrongCodeError(attempts_left=limits.code_max_attempts - tried.attempts)


@dataclass(frozen=True)
class _Try:
    code_id: int
    attempts: int
    code_hash: str


def _take_a_try(session: Session, newest: Select[int], now: datetime, limits: Limits) -> _Try:
    """Count a try on the newest code (``newest`` selects its id) before comparing, in one
    conditional UPDATE: parallel requests each get their own number, and none past the limit
    (the row stays locked until commit, so a right code is consumed before any other try can
    read the row as unused)."""
    taken = session.execute(
        update(OneTimeCode)
        .where(
            OneTimeCode.id == newest.scalar_subquery(),
            OneTimeCode.attempts < limits.code_max_attempts,
            OneTimeCode.consumed_at.is_(None),
            OneTimeCode.expires_at > now,
        )
        .values(attempts=OneTimeCode.attempts + 1)
        .returning(OneTimeCode.id, OneTimeCode.attempts, OneTimeCode.code_hash)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if taken is not None:
        return _Try(code_id=taken.id, attempts=taken.attempts, code_hash=taken.code_hash)
    # Why not (rare, so a second read): no code at all, one tried too often, or one used up
    # or expired.
    attempts = session.scalar(
        select(OneTimeCode.attempts).where(OneTimeCode.id == newest.scalar_subquery())
    )
    if (attempts or 0) >= limits.code_max_attempts:
        raise CodeExpiredError("this code was tried too often; ask for a new one", used_up=True)
    raise CodeExpiredError()
