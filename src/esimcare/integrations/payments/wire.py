"""The payout API's JSON shapes, shared by the real client and the emulator app.

Amounts travel as exact decimal strings ({"amount": "350.00", "currency": "EUR"}), never as
JSON numbers, so no float ever touches money.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from esimcare.kit.money import Money


def money_from_json(data: Any) -> Money:
    """Parse an amount object; raise ValueError unless it is exact in the currency's minor unit."""
    if not isinstance(data, dict):
        raise ValueError("amount must be an object")
    text, currency = data.get("amount"), data.get("currency")
    if not isinstance(text, str) or not isinstance(currency, str):
        raise ValueError("amount and currency must be strings")
    shape = Money(0, currency)  # validates the currency code
    try:
        scaled = Decimal(text).scaleb(shape.exponent)
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal amount: {text!r}") from exc
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise ValueError(f"{text!r} is not a whole number of minor units of {currency}")
    return Money(int(scaled), currency)
