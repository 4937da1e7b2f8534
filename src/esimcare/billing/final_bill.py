"""The final bill: the monthly fee prorated to the effective time plus unbilled usage.

The fee is billed in arrears per billing cycle (a cycle starts on the plan's billing day), so
the final bill covers ``esim.billed_until`` .. effective time. One function serves the quote
and the workflow, which is why the refund a customer is promised is the refund they get.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, case, func, insert, select, update
from sqlalchemy.orm import Session

from esimcare.billing.ledger import LEDGER, Balance
from esimcare.billing.models import Bill, UsageRecord
from esimcare.esims.models import Esim, Plan
from esimcare.kit.money import Money, prorate


@dataclass(frozen=True)
class FinalBill:
    period_start: datetime
    period_end: datetime
    fee: Money
    usage: Money

    @property
    def total(self) -> Money:
        return self.fee + self.usage


def cycle_start_on_or_before(moment: datetime, billing_day: int) -> datetime:
    year, month = moment.year, moment.month
    candidate = _billing_date(year, month, billing_day, moment)
    if candidate > moment:
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        candidate = _billing_date(year, month, billing_day, moment)
    return candidate


def next_cycle_start(cycle_start: datetime, billing_day: int) -> datetime:
    year, month = (cycle_start.year, cycle_start.month + 1)
    if month == 13:
        year, month = year + 1, 1
    return _billing_date(year, month, billing_day, cycle_start)


def _billing_date(year: int, month: int, day: int, like: datetime) -> datetime:
    # Billing day 31 in a 30-day month falls on the 30th.
    last = calendar.monthrange(year, month)[1]
    return like.replace(
        year=year, month=month, day=min(day, last), hour=0, minute=0, second=0, microsecond=0
    )


def prorated_fee(plan: Plan, start: datetime, end: datetime) -> Money:
    """Whole cycles at the full fee, partial ones by the second; integers throughout."""
    fee = Money(plan.monthly_fee_minor, plan.currency)
    total = Money.zero(plan.currency)
    cycle_start = cycle_start_on_or_before(start, plan.billing_day)
    while cycle_start < end:
        cycle_end = next_cycle_start(cycle_start, plan.billing_day)
        used_from, used_to = max(start, cycle_start), min(end, cycle_end)
        if used_to > used_from:
            length = int((cycle_end - cycle_start).total_seconds())
            total += prorate(fee, int((used_to - used_from).total_seconds()), length)
        cycle_start = cycle_end
    return total


def unbilled_usage(session: Session, esim_id: int, until: datetime, currency: str) -> Money:
    amount = session.scalar(
        select(func.coalesce(func.sum(UsageRecord.amount_minor), 0)).where(
            UsageRecord.esim_id == esim_id,
            UsageRecord.bill_id.is_(None),
            UsageRecord.occurred_at <= until,
        )
    )
    return Money(int(amount or 0), currency)


def compute_final_bill(
    session: Session, esim: Esim, plan: Plan, effective_at: datetime
) -> FinalBill:
    start = esim.billed_until
    end = max(effective_at, start)
    return FinalBill(
        period_start=start,
        period_end=end,
        fee=prorated_fee(plan, start, end),
        usage=unbilled_usage(session, esim.id, end, plan.currency),
    )


USAGE = cast(Table, UsageRecord.__table__)


def unbilled(esim_id: ColumnElement[int], until: ColumnElement[datetime]) -> ColumnElement[bool]:
    """A usage record of ``esim_id`` that no bill covers yet, up to ``until``."""
    return and_(USAGE.c.esim_id == esim_id, USAGE.c.bill_id.is_(None), USAGE.c.occurred_at <= until)


_UNBILLED = unbilled(
    bindparam("for_esim", type_=USAGE.c.esim_id.type),
    bindparam("until", type_=USAGE.c.occurred_at.type),
)
_BALANCE = (
    select(
        func.coalesce(func.sum(LEDGER.c.cash_minor), 0).label("cash"),
        func.coalesce(func.sum(LEDGER.c.bonus_minor), 0).label("bonus"),
    )
    .where(LEDGER.c.esim_id == bindparam("for_esim"))
    .subquery("balance")
)
# The balance and each unbilled usage record in one round trip (a row per record; one with
# no record when there is none): the final bill needs both, and covers exactly those records.
_USAGE_AND_BALANCE = (
    select(_BALANCE.c.cash, _BALANCE.c.bonus, USAGE.c.id, USAGE.c.amount_minor)
    .select_from(_BALANCE)
    .outerjoin(USAGE, _UNBILLED)
    .order_by(USAGE.c.id)
)
BILLS = cast(Table, Bill.__table__)
_ISSUE = insert(BILLS).returning(BILLS.c.id)
_COVER_USAGE = (
    update(USAGE)
    .where(USAGE.c.id == bindparam("usage_id"), USAGE.c.bill_id.is_(None))
    .values(bill_id=bindparam("for_bill"))
)


@dataclass(frozen=True)
class FinalBillReads:
    """What issuing the final bill reads: the bill, the balance before it, and the usage
    records its usage is the sum of."""

    bill: FinalBill
    balance: Balance
    usage_ids: tuple[int, ...]


def final_bill_and_balance(
    session: Session, esim: Esim, plan: Plan, effective_at: datetime
) -> FinalBillReads:
    """``compute_final_bill`` and the balance before it (``balance_of``), in one query."""
    end = max(effective_at, esim.billed_until)
    rows = session.execute(_USAGE_AND_BALANCE, {"for_esim": esim.id, "until": end}).all()
    usage = [(row.id, row.amount_minor) for row in rows if row.id is not None]
    return final_bill_reads(esim, plan, effective_at, (rows[0].cash, rows[0].bonus), usage)


def final_bill_reads(
    esim: Esim,
    plan: Plan,
    effective_at: datetime,
    balance: tuple[int, int],
    usage: list[tuple[int, int]],
) -> FinalBillReads:
    """The final bill from what was read for it: the balance (cash, bonus) and the unbilled
    usage records (id, amount) up to ``billed_to(effective_at, billed_until)``."""
    start = esim.billed_until
    end = max(effective_at, start)
    currency = plan.currency
    total_usage = Money(sum(amount for _, amount in usage), currency)
    bill = FinalBill(start, end, prorated_fee(plan, start, end), total_usage)
    cash, bonus = balance
    before = Balance(Money(int(cash), currency), Money(int(bonus), currency))
    return FinalBillReads(bill, before, tuple(usage_id for usage_id, _ in usage))


def billed_to(
    effective_at: ColumnElement[datetime], billed_until: ColumnElement[datetime]
) -> ColumnElement[datetime]:
    """The final bill's end in SQL, as ``final_bill_reads`` computes it: the later of the
    two (SQLite stores both as fixed-width text, which compares as the times do)."""
    return case((effective_at > billed_until, effective_at), else_=billed_until)


def balance_columns(
    esim_id: ColumnElement[int], when: ColumnElement[bool]
) -> tuple[ColumnElement[int], ColumnElement[int]]:
    """The balance of ``esim_id`` (cash, bonus) as two columns of a caller's query, summed
    only on its rows where ``when`` holds (elsewhere NULL): for a query that reads the final
    bill's facts with rows of its own."""
    sums = [
        select(func.coalesce(func.sum(column), 0)).where(LEDGER.c.esim_id == esim_id)
        for column in (LEDGER.c.cash_minor, LEDGER.c.bonus_minor)
    ]
    cash, bonus = (case((when, total.scalar_subquery())) for total in sums)
    return cash, bonus


def issue_final_bill(
    session: Session, esim: Esim, cancellation_id: int, reads: FinalBillReads, now: datetime
) -> int:
    """The bill row (one per cancellation: ``bills.cancellation_id`` is unique) and the usage
    records it covers, marked by id: exactly those whose sum it bills, so a record written
    since the read (PostgreSQL, READ COMMITTED) stays unbilled for the next bill. The bill's
    id."""
    bill = reads.bill
    bill_id: int = session.execute(
        _ISSUE,
        {
            "operator_id": esim.operator_id,
            "esim_id": esim.id,
            "cancellation_id": cancellation_id,
            "period_start": bill.period_start,
            "period_end": bill.period_end,
            "fee_minor": bill.fee.minor,
            "usage_minor": bill.usage.minor,
            "total_minor": bill.total.minor,
            "currency": bill.fee.currency,
            "issued_at": now,
        },
    ).scalar_one()
    if reads.usage_ids:  # one executemany; none to run without usage
        covered = [{"usage_id": usage_id, "for_bill": bill_id} for usage_id in reads.usage_ids]
        session.execute(_COVER_USAGE, covered)
    return bill_id
