"""The quote: what cancelling would do, computed by the code that later does it (a dry run)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from esimcare.billing.final_bill import FinalBill, compute_final_bill, prorated_fee
from esimcare.billing.ledger import Balance, balance_of, latest_card
from esimcare.billing.models import EntryKind, LedgerEntry, UsageRecord
from esimcare.billing.settlement import Settlement, settle
from esimcare.customers.models import Customer
from esimcare.errors import InvalidInputError
from esimcare.esims.models import Esim, Plan
from esimcare.kit.clock import iso
from esimcare.kit.ids import InvalidIdentifierError, Msisdn
from esimcare.kit.money import Money
from esimcare.kit.orm_rows import table_of
from esimcare.operators.policy import Policy, RefundRoute


@dataclass(frozen=True)
class Quote:
    effective_at: datetime
    number_quarantine_until: datetime
    balance: Balance
    bill: FinalBill
    settlement: Settlement
    refund_route: RefundRoute
    refund_destination: str | None
    warnings: tuple[str, ...]
    # Filled in by quote_hold.stamp_quote: the quote's signed id and until when it holds.
    id: str | None = None
    quoted_at: datetime | None = None
    valid_until: datetime | None = None

    @property
    def debt_before(self) -> Money:
        return self.balance.debt

    def to_json(self) -> dict[str, Any]:
        """Stored with the cancellation and returned by the API, as promised at request time."""
        return {
            "final_bill": self.bill.total.to_json(),
            "final_bill_fee": self.bill.fee.to_json(),
            "final_bill_usage": self.bill.usage.to_json(),
            "refund": self.settlement.refund.to_json(),
            "debt": self.settlement.debt.to_json(),
            "bonus_forfeited": self.settlement.bonus_forfeited.to_json(),
            "balance": self.balance.to_json(),
            "refund_route": self.refund_route.value,
            "refund_destination": self.refund_destination,
            "effective_at": iso(self.effective_at),
            "number_quarantine_until": iso(self.number_quarantine_until),
            "warnings": list(self.warnings),
            **self._holding(),
        }

    def _holding(self) -> dict[str, Any]:
        if self.id is None or self.quoted_at is None or self.valid_until is None:
            return {}
        return {"id": self.id, "quoted_at": iso(self.quoted_at),
                "valid_until": iso(self.valid_until)}  # fmt: skip


def effective_time(policy: Policy, now: datetime) -> datetime:
    return now + timedelta(hours=policy.grace_period_hours)


@dataclass(frozen=True, slots=True)
class QuoteReads:
    """What a quote reads besides the eSIM's view, read by the caller's statement with the
    ``QUOTE_READS`` columns: the unbilled usage up to ``until`` and the card the money came
    from last."""

    until: datetime
    usage_minor: int
    latest_card: str | None


_USAGE = table_of(UsageRecord).c
_LEDGER = table_of(LedgerEntry).c
# billing.final_bill.unbilled_usage and billing.ledger.latest_card as columns correlated to
# the statement's eSIM row; bound with ``quote_parameters``, read with ``quote_reads``.
QUOTE_READS = (
    select(func.coalesce(func.sum(_USAGE.amount_minor), 0))
    .where(
        _USAGE.esim_id == Esim.id,
        _USAGE.bill_id.is_(None),
        _USAGE.occurred_at <= bindparam("usage_until"),
    )
    .scalar_subquery(),
    select(_LEDGER.source)
    .where(
        _LEDGER.esim_id == Esim.id,
        _LEDGER.kind == EntryKind.TOP_UP,
        _LEDGER.source.is_not(None),
    )
    .order_by(_LEDGER.created_at.desc(), _LEDGER.id.desc())
    .limit(1)
    .scalar_subquery(),
)


def quote_parameters(effective_at: datetime) -> dict[str, Any]:
    return {"usage_until": effective_at}


def quote_reads(effective_at: datetime, values: tuple[Any, ...]) -> QuoteReads:
    """The reads from the two ``QUOTE_READS`` values of a row bound for ``effective_at``."""
    usage, card = values
    return QuoteReads(effective_at, int(usage), card)


def compute_quote(
    session: Session,
    policy: Policy,
    customer: Customer,
    esim: Esim,
    plan: Plan,
    effective_at: datetime,
    refund_to: str | None = None,
    *,
    balance: Balance | None = None,
    reads: QuoteReads | None = None,
) -> Quote:
    """``balance``: the eSIM's, when the caller has just read it (``EsimView``); ``reads``:
    the rest, when the caller's statement read it too (then nothing is read here)."""
    if balance is None:
        balance = balance_of(session, esim.id, plan.currency)
    bill = _final_bill(session, esim, plan, effective_at, reads)
    settlement = settle(
        balance, bill.total, refunds_allowed=policy.refund_route is not RefundRoute.NONE
    )
    return Quote(
        effective_at=effective_at,
        number_quarantine_until=effective_at + timedelta(days=policy.number_quarantine_days),
        balance=balance,
        bill=bill,
        settlement=settlement,
        refund_route=policy.refund_route,
        refund_destination=refund_destination(
            session, policy, customer, esim, refund_to, reads=reads
        ),
        warnings=_warnings(policy, esim, settlement),
    )


def _final_bill(
    session: Session, esim: Esim, plan: Plan, effective_at: datetime, reads: QuoteReads | None
) -> FinalBill:
    """``compute_final_bill``, with the usage the caller read when that covers the bill: it
    runs from ``billed_until`` to the later of that and the effective time, so it does unless
    the eSIM is billed past the effective time (then the bill reads its own usage)."""
    start = esim.billed_until
    if reads is None or reads.until != effective_at or start > effective_at:
        return compute_final_bill(session, esim, plan, effective_at)
    return FinalBill(
        period_start=start,
        period_end=effective_at,
        fee=prorated_fee(plan, start, effective_at),
        usage=Money(reads.usage_minor, plan.currency),
    )


def refund_destination(
    session: Session,
    policy: Policy,
    customer: Customer,
    esim: Esim,
    refund_to: str | None,
    *,
    reads: QuoteReads | None = None,
) -> str | None:
    route = policy.refund_route
    if route is RefundRoute.CARD:
        return reads.latest_card if reads is not None else latest_card(session, esim.id)
    if route is RefundRoute.BANK_ACCOUNT:
        return customer.payout_account
    if route is RefundRoute.ANOTHER_NUMBER and refund_to:
        try:
            return Msisdn.parse(refund_to, policy.region).masked()
        except InvalidIdentifierError as error:
            raise InvalidInputError(f"refund_to: {error}", field="refund_to") from None
    return None


def _warnings(policy: Policy, esim: Esim, settlement: Settlement) -> tuple[str, ...]:
    """Codes, not sentences: each door words them in the reader's language."""
    warnings = ["backup_data", "number_used_for_codes"]
    if esim.profile_state.on_device:
        warnings.append("delete_profile_on_device")
    if settlement.bonus_forfeited.minor > 0:
        warnings.append("bonus_forfeited")
    if settlement.debt.minor > 0:
        warnings.append("debt_remains")
    if policy.refund_route is RefundRoute.NONE:
        warnings.append("no_refund_by_policy")
    if policy.has_grace_period:
        warnings.append("grace_period_undo")
    warnings.append("number_quarantine")
    return tuple(warnings)
