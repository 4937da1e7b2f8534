from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from esimcare.billing.final_bill import cycle_start_on_or_before, next_cycle_start, prorated_fee
from esimcare.billing.ledger import Balance
from esimcare.billing.settlement import settle
from esimcare.esims.models import Plan
from esimcare.kit.money import Money


def rub(minor: int) -> Money:
    return Money(minor, "RUB")


def plan(fee: int = 65000, day: int = 1) -> Plan:
    return Plan(monthly_fee_minor=fee, currency="RUB", billing_day=day)


def test_a_billing_cycle_starts_on_the_billing_day_at_or_before_the_moment() -> None:
    moment = datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert cycle_start_on_or_before(moment, 1) == datetime(2026, 11, 1, tzinfo=UTC)
    assert cycle_start_on_or_before(moment, 25) == datetime(2026, 10, 25, tzinfo=UTC)
    assert cycle_start_on_or_before(datetime(2026, 1, 5, tzinfo=UTC), 10) == datetime(
        2025, 12, 10, tzinfo=UTC
    )


def test_billing_day_31_falls_on_the_last_day_of_short_months() -> None:
    assert next_cycle_start(datetime(2027, 1, 31, tzinfo=UTC), 31) == datetime(
        2027, 2, 28, tzinfo=UTC
    )


def test_the_fee_is_prorated_by_the_second_within_the_cycle() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    assert prorated_fee(plan(), start, datetime(2026, 11, 16, tzinfo=UTC)) == rub(32500)
    assert prorated_fee(plan(), start, datetime(2026, 12, 1, tzinfo=UTC)) == rub(65000)


def test_a_period_across_cycles_pays_whole_cycles_in_full() -> None:
    start = datetime(2026, 10, 1, tzinfo=UTC)
    assert prorated_fee(plan(), start, datetime(2026, 12, 1, tzinfo=UTC)) == rub(130000)


def test_bonus_pays_the_final_bill_first_and_only_cash_is_refunded() -> None:
    result = settle(Balance(rub(150000), rub(20000)), rub(54300), refunds_allowed=True)
    assert result.bonus_used == rub(20000)
    assert result.cash_used == rub(34300)
    assert result.refund == rub(115700)
    assert result.bonus_forfeited == rub(0)
    assert result.debt == rub(0)


def test_unused_bonus_is_forfeited_never_refunded() -> None:
    result = settle(Balance(rub(1000), rub(5000)), rub(2000), refunds_allowed=True)
    assert result.refund == rub(1000)
    assert result.bonus_forfeited == rub(3000)


def test_a_bill_larger_than_the_balance_leaves_a_debt_and_no_refund() -> None:
    result = settle(Balance(rub(-25000), rub(0)), rub(10000), refunds_allowed=True)
    assert result.refund == rub(0)
    assert result.debt == rub(35000)


def test_an_operator_without_refunds_refunds_nothing() -> None:
    assert settle(Balance(rub(5000), rub(0)), rub(100), refunds_allowed=False).refund == rub(0)


@given(st.integers(-(10**7), 10**7), st.integers(0, 10**7), st.integers(0, 10**7), st.booleans())
def test_settlement_accounts_for_every_kopek(
    cash: int, bonus: int, bill: int, refunds: bool
) -> None:
    result = settle(Balance(rub(cash), rub(bonus)), rub(bill), refunds_allowed=refunds)
    assert result.bonus_used + result.cash_used == rub(bill)
    assert result.bonus_used + result.bonus_forfeited == rub(bonus)
    left = rub(cash) - result.cash_used
    assert result.refund.minor >= 0 and result.debt.minor >= 0
    if refunds:
        assert result.refund - result.debt == left
