"""How the final bill meets the balance: bonus pays first, cash after; only cash is refunded."""

from __future__ import annotations

from dataclasses import dataclass

from esimcare.billing.ledger import Balance
from esimcare.kit.money import Money


@dataclass(frozen=True)
class Settlement:
    bonus_used: Money
    cash_used: Money
    bonus_forfeited: Money
    refund: Money
    debt: Money


def settle(balance: Balance, bill_total: Money, *, refunds_allowed: bool) -> Settlement:
    # Spending bonus first leaves the customer the most cash to get back.
    bonus_available = balance.bonus.clamp_at_zero()
    bonus_used = bill_total if bill_total <= bonus_available else bonus_available
    cash_used = bill_total - bonus_used
    cash_left = balance.cash - cash_used
    refund = cash_left.clamp_at_zero() if refunds_allowed else Money.zero(cash_left.currency)
    return Settlement(
        bonus_used=bonus_used,
        cash_used=cash_used,
        bonus_forfeited=bonus_available - bonus_used,
        refund=refund,
        debt=(-cash_left).clamp_at_zero(),
    )
