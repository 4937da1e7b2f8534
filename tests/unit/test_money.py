from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from esimcare.kit.money import CurrencyMismatchError, Money, prorate


def test_amounts_are_rendered_as_exact_decimal_strings() -> None:
    assert Money(35000, "RUB").to_json() == {"amount": "350.00", "currency": "RUB"}
    assert Money(-5, "RUB").amount_text() == "-0.05"
    assert Money(1500, "JPY").amount_text() == "1500"


def test_money_in_different_currencies_does_not_mix() -> None:
    with pytest.raises(CurrencyMismatchError):
        _ = Money(1, "RUB") + Money(1, "CNY")


def test_floats_and_bad_currency_codes_are_refused() -> None:
    with pytest.raises(TypeError):
        Money(1.5, "RUB")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ISO 4217"):
        Money(1, "rub")


def test_display_follows_the_readers_locale() -> None:
    assert Money(35000, "RUB").display("ru") == "350,00\u00a0₽"
    assert Money(123456, "RUB").display("en") == "1,234.56\u00a0RUB"


def test_proration_rounds_half_up_to_the_minor_unit() -> None:
    assert prorate(Money(100, "RUB"), 1, 3).minor == 33
    assert prorate(Money(100, "RUB"), 1, 8).minor == 13  # 12.5 rounds up
    assert prorate(Money(65000, "RUB"), 30, 30).minor == 65000


@given(
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=1, max_value=10**6),
)
def test_proration_never_exceeds_the_whole_nor_goes_negative(
    fee: int, used: int, length: int
) -> None:
    part = prorate(Money(fee, "RUB"), used, length)
    assert 0 <= part.minor <= fee


@given(minor=st.integers(min_value=-(10**15), max_value=10**15))
@pytest.mark.parametrize("currency", ["RUB", "JPY", "BHD"])
def test_amount_text_is_the_exact_decimal_in_every_currency(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    assert money.amount_text() == f"{money.decimal():.{money.exponent}f}"
