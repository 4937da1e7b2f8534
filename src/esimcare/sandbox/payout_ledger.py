"""PayoutLedger: the built-in payment provider stand-in, keyed by idempotency key.

It behaves like a real provider where it matters to esimcare: a repeated key returns the first
payout (``replayed=True``) rather than paying twice, and the same key with another amount,
currency, route or destination is refused, which is how a bug that reuses keys shows itself.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import BigInteger, Integer, String, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from esimcare.db import UtcDateTime, enum_type
from esimcare.integrations.errors import PermanentIntegrationError
from esimcare.integrations.payments.interface import PayoutReceipt, PayoutRoute
from esimcare.kit.clock import Clock
from esimcare.kit.money import Money
from esimcare.sandbox.faults import FaultInjector
from esimcare.sandbox.store import EmulatorBase, EmulatorStore


class EmulatedPayout(EmulatorBase):
    __tablename__ = "emulator_payouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    route: Mapped[PayoutRoute] = mapped_column(enum_type(PayoutRoute))
    destination: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(500))
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


@dataclass(frozen=True)
class Payout:
    """One payout as the ledger recorded it (for tests and the demo)."""

    reference: str
    idempotency_key: str
    amount: Money
    route: PayoutRoute
    destination: str
    description: str
    created_at: datetime


class PayoutLedger:
    """Implements ``PayoutGateway``; ``fail_next`` injects faults (an emulator-only feature)."""

    def __init__(self, store: EmulatorStore, clock: Clock) -> None:
        self._sessions = store.sessions
        self._clock = clock
        self._faults = FaultInjector("payout ledger")

    def fail_next(self, n: int, *, transient: bool = True) -> None:
        self._faults.fail_next(n, transient=transient)

    def payout(
        self,
        *,
        idempotency_key: str,
        amount: Money,
        route: PayoutRoute,
        destination: str,
        description: str,
        payment_id: str | None = None,
    ) -> PayoutReceipt:
        # ``payment_id`` is not needed: the ledger pays out to the destination, the demo's way.
        self._faults.check()
        _validate(idempotency_key, amount, destination)
        reference = f"po_{secrets.token_hex(12)}"
        attempt: dict[str, Any] = {
            "idempotency_key": idempotency_key,
            "amount_minor": amount.minor,
            "currency": amount.currency,
            "route": PayoutRoute(route),
            "destination": destination,
            "description": description[:500],
            "reference": reference,
            "created_at": self._clock.now(),
        }
        with self._sessions.begin() as session:
            connection = session.connection()
            # A known key inserts nothing (on PostgreSQL after waiting for a concurrent call
            # with it to commit): then the payout is the first one's, replayed.
            paid = connection.execute(_PAY_ONCE[connection.dialect.name], attempt)
            if paid.scalar_one_or_none() is None:
                return _replay(_first(session, idempotency_key), attempt)
        return PayoutReceipt(reference, amount, replayed=False)

    def check_payout(self, *, reference: str) -> PayoutReceipt:
        """The ledger pays at once, so a payout it knows is always succeeded."""
        self._faults.check()
        with self._sessions() as session:
            row = session.scalars(
                select(EmulatedPayout).where(EmulatedPayout.reference == reference)
            ).one_or_none()
        if row is None:
            raise PermanentIntegrationError(f"no payout {reference!r}", code="not-found")
        return PayoutReceipt(row.reference, Money(row.amount_minor, row.currency), replayed=True)

    def payouts(self) -> list[Payout]:
        """Every payout, oldest first."""
        with self._sessions() as session:
            rows = session.scalars(select(EmulatedPayout).order_by(EmulatedPayout.id))
            return [_payout(row) for row in rows]


_PAYOUTS = cast(Table, EmulatedPayout.__table__)
# A payout per key, in one statement built once per dialect.
_PAY_ONCE = {
    name: dialect.insert(_PAYOUTS)
    .on_conflict_do_nothing(index_elements=[_PAYOUTS.c.idempotency_key])
    .returning(_PAYOUTS.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def _first(session: Session, idempotency_key: str) -> EmulatedPayout | None:
    query = select(EmulatedPayout).where(EmulatedPayout.idempotency_key == idempotency_key)
    return session.scalars(query).one_or_none()


def _validate(idempotency_key: str, amount: Money, destination: str) -> None:
    if not idempotency_key:
        raise PermanentIntegrationError("an idempotency key is required", code="invalid-request")
    if amount.minor <= 0:
        raise PermanentIntegrationError("a payout must be positive", code="invalid-amount")
    if not destination.strip():
        raise PermanentIntegrationError("a destination is required", code="invalid-destination")


def _replay(first: EmulatedPayout | None, attempt: dict[str, Any]) -> PayoutReceipt:
    if first is None:  # pragma: no cover - the key was just seen; only a purge could do this
        raise PermanentIntegrationError("payout vanished", code="idempotency-mismatch")
    same = (first.amount_minor, first.currency, first.route, first.destination) == tuple(
        attempt[name] for name in ("amount_minor", "currency", "route", "destination")
    )
    if not same:
        raise PermanentIntegrationError(
            "this idempotency key was used for another payout", code="idempotency-mismatch"
        )
    return PayoutReceipt(first.reference, Money(first.amount_minor, first.currency), replayed=True)


def _payout(row: EmulatedPayout) -> Payout:
    return Payout(
        reference=row.reference,
        idempotency_key=row.idempotency_key,
        amount=Money(row.amount_minor, row.currency),
        route=row.route,
        destination=row.destination,
        description=row.description,
        created_at=row.created_at,
    )
