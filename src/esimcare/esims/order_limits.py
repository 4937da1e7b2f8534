"""How many eSIMs one account may hold and order: the operator's policy, counted atomically.

The count runs in the transaction that inserts the order, after the customer's row is locked
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already lets one writer
in at a time), so parallel orders of one account see each other and cannot pass the limit.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from esimcare.customers.models import Customer
from esimcare.errors import ConflictError, DomainError
from esimcare.esims.models import Esim, EsimOrder, OrderStatus
from esimcare.esims.states import EsimStatus
from esimcare.i18n import N_
from esimcare.operators.policy import Policy

RATE_WINDOW = timedelta(hours=1)


class OpenEsimsLimitError(ConflictError):
    code = "open-esims-limit"
    title = N_("This account already has as many eSIMs as the operator allows")


class OrderRateLimitedError(DomainError):
    status = 429
    code = "order-rate-limited"
    title = N_("Too many eSIMs were ordered on this account recently; try again later")


def enforce_order_limits(session: Session, policy: Policy, customer_id: int, now: datetime) -> None:
    """Raise unless one more order fits; call inside the transaction that inserts it."""
    lock_customer(session, customer_id)
    open_now = open_esims(session, customer_id)
    if open_now >= policy.max_open_esims:
        raise OpenEsimsLimitError(
            f"at most {policy.max_open_esims} eSIMs that are not cancelled; cancel one first",
            limit=policy.max_open_esims,
            open=open_now,
        )
    recent = session.execute(
        select(func.count(), func.min(EsimOrder.created_at)).where(
            EsimOrder.customer_id == customer_id, EsimOrder.created_at > now - RATE_WINDOW
        )
    ).one()
    if recent[0] >= policy.orders_per_hour:
        wait = max(1, math.ceil((recent[1] + RATE_WINDOW - now).total_seconds()))
        raise OrderRateLimitedError(
            f"at most {policy.orders_per_hour} orders an hour; the next is possible in "
            f"{math.ceil(wait / 60)} min",
            limit=policy.orders_per_hour,
            retry_after=wait,
        )


def lock_customer(session: Session, customer_id: int) -> None:
    """Orders of one account queue here; other accounts are not held up (PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update())


def open_esims(session: Session, customer_id: int) -> int:
    """eSIMs not cancelled, plus orders still under way (each becomes one)."""
    esims = session.scalar(
        select(func.count())
        .select_from(Esim)
        .where(Esim.customer_id == customer_id, Esim.status != EsimStatus.CANCELLED)
    )
    pending = session.scalar(
        select(func.count())
        .select_from(EsimOrder)
        .where(EsimOrder.customer_id == customer_id, EsimOrder.status == OrderStatus.PENDING)
    )
    return (esims or 0) + (pending or 0)
