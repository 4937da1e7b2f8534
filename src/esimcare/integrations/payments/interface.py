"""Payouts: money back to a card, a bank account or another number."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from esimcare.kit.money import Money


class PayoutRoute(StrEnum):
    CARD = "card"
    BANK_ACCOUNT = "bank_account"
    ANOTHER_NUMBER = "another_number"


@dataclass(frozen=True)
class PayoutReceipt:
    reference: str
    amount: Money
    replayed: bool


class PayoutGateway(Protocol):
    """``idempotency_key`` makes a repeated call return the first payout instead of paying twice.

    Raises TransientIntegrationError (retry later with the same key) or
    PermanentIntegrationError (refused: wrong destination, same key with another amount, ...).
    """

    def payout(
        self,
        *,
        idempotency_key: str,
        amount: Money,
        route: PayoutRoute,
        destination: str,
        description: str,
    ) -> PayoutReceipt: ...
