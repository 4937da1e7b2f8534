"""Failed logins and verifications per account: 100 an hour, then a lock that grows each time.

Counted in the database so every process enforces the same numbers (security.md), one failure
after the other: the account row is locked before counting (``FOR NO KEY UPDATE`` on
PostgreSQL; on SQLite every writing transaction holds the write lock from its start), so
parallel failures can neither slip past the limit nor lose an increase of the lock's wait.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from esimcare.config import Limits
from esimcare.customers.models import Customer, VerificationFailure
from esimcare.errors import VerificationLockedError

MAX_LOCK = timedelta(hours=24)


def ensure_not_locked(customer: Customer, now: datetime) -> None:
    if customer.locked_until is not None and customer.locked_until > now:
        raise VerificationLockedError(
            "too many failed attempts; try again later",
            retry_after=int((customer.locked_until - now).total_seconds()) + 1,
        )


def record_failure(
    session: Session, customer: Customer, kind: str, now: datetime, limits: Limits
) -> None:
    """Count one failure, or raise VerificationLockedError if a parallel failure has just
    locked the account (the failure is then not counted: the lock already answers it)."""
    # NO KEY UPDATE: serialises the counting without blocking rows that merely refer to it.
    session.refresh(customer, with_for_update={"key_share": True})
    ensure_not_locked(customer, now)
    session.add(VerificationFailure(customer_id=customer.id, kind=kind, at=now))
    session.flush()
    recent = session.scalar(
        select(func.count())
        .select_from(VerificationFailure)
        .where(
            VerificationFailure.customer_id == customer.id,
            VerificationFailure.at > now - timedelta(hours=1),
        )
    )
    if (recent or 0) >= limits.failures_per_hour:
        customer.lock_level += 1
        wait = timedelta(seconds=limits.lock_base_s * 2 ** (customer.lock_level - 1))
        customer.locked_until = now + min(wait, MAX_LOCK)
