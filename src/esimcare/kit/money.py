"""Money as integer minor units plus an ISO 4217 currency. Never floats."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_decimal, get_currency_precision, get_currency_symbol


class CurrencyMismatchError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Money:
    minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise TypeError("Money.minor must be an int")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError(f"not an ISO 4217 code: {self.currency!r}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatchError(f"{self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def clamp_at_zero(self) -> Money:
        return Money(max(self.minor, 0), self.currency)

    @property
    def exponent(self) -> int:
        return _precision(self.currency)

    def decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-self.exponent)

    def amount_text(self) -> str:
        return amount_text(self.minor, self.currency)

    def to_json(self) -> dict[str, str]:
        return money_json(self.minor, self.currency)

    def display(self, locale: str) -> str:
        """Number in the reader's locale, then the currency: "350,00 ₽", "350.00 RUB"."""
        pattern = "#,##0." + "0" * self.exponent if self.exponent else "#,##0"
        number = format_decimal(self.decimal(), format=pattern, locale=locale)
        return f"{number}\u00a0{get_currency_symbol(self.currency, locale=locale)}"


@lru_cache(maxsize=4096)  # a pure function of two values, on every line of every list
def amount_text(minor: int, currency: str) -> str:
    """The exact decimal string of the API contract, e.g. "350.00" (in integers: it is on
    every line of every list)."""
    exponent = _precision(currency)
    if not exponent:
        return str(minor)
    whole, fraction = divmod(abs(minor), 10**exponent)
    sign = "-" if minor < 0 else ""
    return f"{sign}{whole}.{fraction:0{exponent}d}"


def money_json(minor: int, currency: str) -> dict[str, str]:
    """``Money(minor, currency).to_json()`` for amounts read from the database, without
    building the value (the hottest read renders nine per request)."""
    return {"amount": amount_text(minor, currency), "currency": currency}


@lru_cache(maxsize=64)
def _precision(currency: str) -> int:
    return int(get_currency_precision(currency))


def prorate(amount: Money, numerator: int, denominator: int) -> Money:
    """amount * numerator / denominator, rounded half up to the minor unit, in integers."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    numerator = min(max(numerator, 0), denominator)
    return Money((2 * amount.minor * numerator + denominator) // (2 * denominator), amount.currency)
