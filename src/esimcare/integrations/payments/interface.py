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


class PayoutStatus(StrEnum):
    """Where a payout stands at the provider. A card refund can stay ``PENDING`` for a while
    (YooKassa's ``pending``); only ``SUCCEEDED`` means the money has left."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"

    @property
    def final(self) -> bool:
        return self is not PayoutStatus.PENDING


@dataclass(frozen=True)
class PayoutReceipt:
    reference: str
    amount: Money
    replayed: bool
    status: PayoutStatus = PayoutStatus.SUCCEEDED


class PayoutGateway(Protocol):
    """``idempotency_key`` makes a repeated call return the first payout instead of paying twice.

    ``payment_id`` is the provider's id of the payment the money came from: a provider that
    refunds against payments (YooKassa) needs it; one that pays out to a destination ignores it.

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
        payment_id: str | None = None,
    ) -> PayoutReceipt: ...

    def check_payout(self, *, reference: str) -> PayoutReceipt:
        """The payout's current status, to follow a ``PENDING`` one until it is final."""
        ...
