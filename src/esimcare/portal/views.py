"""What the cancellation pages show, gathered from the services in one place per page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from esimcare.billing.models import Bill, Refund
from esimcare.cancellations.models import Cancellation, CancellationStep
from esimcare.cancellations.service import get_cancellation, steps_of, view_esim
from esimcare.cancellations.states import CancellationStatus
from esimcare.customers.models import Customer
from esimcare.esims.models import Esim
from esimcare.kit.money import Money


def money_from_json(value: dict[str, str]) -> Money:
    currency = value["currency"]
    exponent = Money.zero(currency).exponent
    return Money(int(Decimal(value["amount"]).scaleb(exponent)), currency)


def moment_from_json(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def latest_cancellation(session: Session, customer: Customer, esim_id: int) -> Cancellation | None:
    return session.scalar(
        select(Cancellation)
        .where(
            Cancellation.esim_id == esim_id,
            Cancellation.customer_id == customer.id,
            Cancellation.operator_id == customer.operator_id,
        )
        .order_by(Cancellation.created_at.desc(), Cancellation.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class StatusView:
    cancellation: Cancellation
    esim: Esim
    steps: list[CancellationStep]
    bill: Bill | None
    refund: Refund | None
    quote: dict[str, Any]

    @property
    def status(self) -> CancellationStatus:
        return self.cancellation.status

    @property
    def still_moving(self) -> bool:
        """Worth refreshing: the worker is (or is about to be) working on it."""
        return self.status is CancellationStatus.PROCESSING

    @property
    def profile_on_device(self) -> bool:
        outcomes = {step.outcome for step in self.steps}
        return "delete_on_device" in outcomes or "delete_profile_on_device" in self.warnings

    @property
    def warnings(self) -> list[str]:
        return list(self.quote.get("warnings", []))

    @property
    def effective_at(self) -> datetime:
        return self.cancellation.effective_at

    @property
    def quarantine_until(self) -> datetime:
        return moment_from_json(self.quote["number_quarantine_until"])

    def quoted(self, name: str) -> Money:
        return money_from_json(self.quote[name])

    def bill_total(self) -> Money | None:
        return Money(self.bill.total_minor, self.bill.currency) if self.bill else None

    def refund_amount(self) -> Money | None:
        return Money(self.refund.amount_minor, self.refund.currency) if self.refund else None


def status_view(session: Session, customer: Customer, cancellation_id: int) -> StatusView:
    cancellation = get_cancellation(session, customer, cancellation_id)
    bill = session.scalar(select(Bill).where(Bill.cancellation_id == cancellation.id))
    refund = session.scalar(select(Refund).where(Refund.cancellation_id == cancellation.id))
    return StatusView(cancellation, view_esim(session, cancellation),
                      steps_of(session, cancellation.id), bill, refund,
                      dict(cancellation.quote))  # fmt: skip
