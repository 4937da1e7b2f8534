"""The refund and the closing notice: the last two steps of a cancellation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from esimcare.billing.ledger import balance_of, latest_card, post
from esimcare.billing.models import Bill, EntryKind, Refund, RefundStatus
from esimcare.cancellations.steps import LocalStep, StepInput
from esimcare.context import Context
from esimcare.customers.models import Customer
from esimcare.esims.models import Plan
from esimcare.integrations.payments.interface import PayoutReceipt
from esimcare.kit.money import Money
from esimcare.notices.service import notify_all_channels
from esimcare.notices.templates import render
from esimcare.operators.policy import RefundRoute


@dataclass(frozen=True)
class PayoutCall:
    refund_id: int
    key: str
    amount: Money
    route: RefundRoute
    destination: str
    description: str


class RefundStep:
    """Pay back the cash left after the final bill, once: the refund row and its provider key
    commit before the provider is called, and the same key is sent on every retry."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def prepare(self, session: Session, run: StepInput) -> PayoutCall | None:
        refund = session.scalar(select(Refund).where(Refund.cancellation_id == run.cancellation.id))
        if refund is None:
            refund = self._create(session, run)
        if refund.status is not RefundStatus.PENDING:
            return None
        return PayoutCall(
            refund.id,
            refund.idempotency_key,
            Money(refund.amount_minor, refund.currency),
            RefundRoute(refund.route),
            refund.destination,
            f"refund {run.cancellation.reference}",
        )

    def _create(self, session: Session, run: StepInput) -> Refund:
        esim, cancellation = run.esim, run.cancellation
        policy = self.ctx.policy(esim.operator_id)
        plan = session.get(Plan, esim.plan_id)
        assert plan is not None
        cash = balance_of(session, esim.id, plan.currency).cash
        due = policy.refund_route is not RefundRoute.NONE and cash.minor > 0
        destination = self._destination(session, run, policy.refund_route) if due else None
        refund = Refund(
            operator_id=esim.operator_id,
            cancellation_id=cancellation.id,
            esim_id=esim.id,
            amount_minor=cash.minor if due else 0,
            currency=plan.currency,
            route=policy.refund_route.value,
            destination=destination or "",
            idempotency_key=f"esimcare-refund-{esim.operator_id}-{cancellation.reference}",
            status=RefundStatus.PENDING if due and destination else RefundStatus.NOT_DUE,
            created_at=run.now,
        )
        session.add(refund)
        session.flush()
        return refund

    def _destination(self, session: Session, run: StepInput, route: RefundRoute) -> str | None:
        if route is RefundRoute.CARD:
            return latest_card(session, run.esim.id)
        if route is RefundRoute.BANK_ACCOUNT:
            customer = session.get(Customer, run.cancellation.customer_id)
            return customer.payout_account if customer else None
        return run.cancellation.refund_to

    def call(self, prepared: PayoutCall | None) -> PayoutReceipt | None:
        if prepared is None:
            return None
        route = prepared.route.payout_route
        assert route is not None
        return self.ctx.payouts.payout(
            idempotency_key=prepared.key,
            amount=prepared.amount,
            route=route,
            destination=prepared.destination,
            description=prepared.description,
        )

    def record(self, session: Session, run: StepInput, result: PayoutReceipt | None) -> str:
        refund = session.scalar(select(Refund).where(Refund.cancellation_id == run.cancellation.id))
        assert refund is not None
        if result is None:
            return "refunded" if refund.status is RefundStatus.SUCCEEDED else "no_refund_due"
        refund.status = RefundStatus.SUCCEEDED
        refund.provider_reference = result.reference
        refund.completed_at = run.now
        post(
            session,
            run.esim,
            kind=EntryKind.REFUND,
            cash=-Money(refund.amount_minor, refund.currency),
            bonus=Money.zero(refund.currency),
            description=f"refund {run.cancellation.reference}",
            now=run.now,
            reference=f"refund:{run.cancellation.id}",
        )
        return "refunded"


class NoticeStep(LocalStep):
    """Tell the customer on every channel; delivery itself is a job of its own per message."""

    def record(self, session: Session, run: StepInput, result: None) -> str:
        customer = session.get(Customer, run.cancellation.customer_id)
        assert customer is not None
        bill = session.scalar(select(Bill).where(Bill.cancellation_id == run.cancellation.id))
        refund = session.scalar(select(Refund).where(Refund.cancellation_id == run.cancellation.id))
        currency = bill.currency if bill else "RUB"
        locale = {"zh": "zh_Hans_CN"}.get(customer.language, customer.language)
        device = ""
        if run.esim.profile_state.on_device:
            device = render("delete_on_device_hint", customer.language)[1]
        notify_all_channels(
            session,
            customer,
            template="cancellation_completed",
            event_key=f"cancellation:{run.cancellation.id}:completed",
            now=run.now,
            operator_name=self.ctx.policy(customer.operator_id).name,
            msisdn=run.esim.msisdn,
            reference=run.cancellation.reference,
            bill=Money(bill.total_minor if bill else 0, currency).display(locale),
            refund=Money(refund.amount_minor if refund else 0, currency).display(locale),
            device=device,
        )
        return "notified"
