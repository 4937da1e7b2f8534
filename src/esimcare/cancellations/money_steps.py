"""The refund and the closing notice: the last two steps of a cancellation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from esimcare.billing.ledger import (
    TopUp,
    balance_of,
    latest_card_of,
    paid_top_ups,
    post,
    split_by_payment,
    top_ups_of,
)
from esimcare.billing.models import (
    Bill,
    EntryKind,
    Refund,
    RefundPart,
    RefundPartStatus,
    RefundStatus,
)
from esimcare.cancellations.steps import LocalStep, StepInput, StepWait
from esimcare.cancellations.systems import WorkflowSystems
from esimcare.customers.models import Customer
from esimcare.esims.models import Plan
from esimcare.integrations.errors import IntegrationError
from esimcare.integrations.payments.interface import PayoutReceipt, PayoutStatus
from esimcare.jobs.errors import PermanentJobError
from esimcare.kit.local_time import babel_locale
from esimcare.kit.money import Money
from esimcare.notices.service import notify_all_channels
from esimcare.notices.templates import render
from esimcare.operators.policy import RefundRoute


@dataclass(frozen=True)
class PartCall:
    part_id: int
    position: int
    key: str
    amount: Money
    payment_id: str | None
    # Known once the provider accepted the part: then it is followed, never sent again.
    reference: str | None


@dataclass(frozen=True)
class PayoutCall:
    route: RefundRoute
    destination: str
    description: str
    parts: tuple[PartCall, ...]


@dataclass(frozen=True)
class PayoutAnswers:
    receipts: dict[int, PayoutReceipt]  # by part id
    error: str | None = None  # a later part failed after an earlier one was sent


class RefundStep:
    """Pay back the cash left after the final bill, once, against the payments it came from
    (newest first). The refund, its parts and their provider keys commit before the provider
    is called; a part the provider accepted is only ever followed by its reference after that.
    A part still on its way makes the step wait and look again later (``StepWait``)."""

    def __init__(self, ctx: WorkflowSystems) -> None:
        self.ctx = ctx

    def prepare(self, session: Session, run: StepInput) -> PayoutCall | None:
        refund = session.scalar(select(Refund).where(Refund.cancellation_id == run.cancellation.id))
        if refund is None:
            refund, top_ups = self._create(session, run)
            if refund.status is not RefundStatus.PENDING:
                return None
            parts = self._split(session, refund, run, top_ups)  # a new refund has no parts yet
        elif refund.status is not RefundStatus.PENDING:
            return None
        else:
            parts = _parts(session, refund) or self._split(session, refund, run)
        canceled = [part for part in parts if part.status is RefundPartStatus.CANCELED]
        if canceled:
            raise PermanentJobError(
                f"the payment provider canceled refund {canceled[0].provider_reference} "
                f"({canceled[0].idempotency_key}); staff must pay it back another way"
            )
        return PayoutCall(
            RefundRoute(refund.route),
            refund.destination,
            f"refund {run.cancellation.reference}",
            tuple(_part_call(part) for part in parts if part.status in _UNFINISHED),
        )

    def _create(self, session: Session, run: StepInput) -> tuple[Refund, list[TopUp] | None]:
        """The refund row, and the eSIM's top-ups when the route is the card (read once for
        the card to pay back to and for the split by payment)."""
        esim, cancellation = run.esim, run.cancellation
        policy = self.ctx.policy(esim.operator_id)
        plan = session.get(Plan, esim.plan_id)  # in the session already: no query
        assert plan is not None
        cash = balance_of(session, esim.id, plan.currency).cash
        due = policy.refund_route is not RefundRoute.NONE and cash.minor > 0
        card = policy.refund_route is RefundRoute.CARD
        top_ups = top_ups_of(session, esim.id) if due and card else None
        destination = self._destination(session, run, policy.refund_route, top_ups) if due else None
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
        return refund, top_ups

    def _destination(
        self, session: Session, run: StepInput, route: RefundRoute, top_ups: list[TopUp] | None
    ) -> str | None:
        if route is RefundRoute.CARD:
            return latest_card_of(top_ups) if top_ups is not None else None
        if route is RefundRoute.BANK_ACCOUNT:
            customer = session.get(Customer, run.cancellation.customer_id)
            return customer.payout_account if customer else None
        return run.cancellation.refund_to

    @staticmethod
    def _split(
        session: Session, refund: Refund, run: StepInput, top_ups: list[TopUp] | None = None
    ) -> list[RefundPart]:
        """The parts, each with its key: the first keeps the refund's own key, so a refund
        paid in one call (every route but the card) is sent exactly as it always was."""
        total = Money(refund.amount_minor, refund.currency)
        by_payment: list[tuple[str | None, Money]] = [(None, total)]
        if RefundRoute(refund.route) is RefundRoute.CARD:
            if top_ups is None:
                top_ups = top_ups_of(session, refund.esim_id)
            by_payment = split_by_payment(total, paid_top_ups(top_ups))
        parts = [
            RefundPart(
                refund_id=refund.id,
                position=position,
                provider_payment_id=payment_id,
                amount_minor=amount.minor,
                currency=amount.currency,
                idempotency_key=refund.idempotency_key + ("" if position == 1 else f"-{position}"),
                status=RefundPartStatus.NEW,
                created_at=run.now,
            )
            for position, (payment_id, amount) in enumerate(by_payment, start=1)
        ]
        session.add_all(parts)
        session.flush()
        return parts

    def call(self, prepared: PayoutCall | None) -> PayoutAnswers | None:
        if prepared is None:
            return None
        receipts: dict[int, PayoutReceipt] = {}
        for part in prepared.parts:
            try:
                receipts[part.part_id] = self._send_or_follow(prepared, part)
            except IntegrationError as exc:
                sent = [p for p in prepared.parts if p.reference is None and p.part_id in receipts]
                if not sent:
                    raise
                # An earlier part was accepted: its reference must be recorded before anything
                # else, so the step records it and tries this part again after a pause.
                return PayoutAnswers(receipts, error=f"{type(exc).__name__}: {exc}")
        return PayoutAnswers(receipts)

    def _send_or_follow(self, prepared: PayoutCall, part: PartCall) -> PayoutReceipt:
        if part.reference is not None:
            return self.ctx.payouts.check_payout(reference=part.reference)
        route = prepared.route.payout_route
        assert route is not None
        return self.ctx.payouts.payout(
            idempotency_key=part.key,
            amount=part.amount,
            route=route,
            destination=prepared.destination,
            description=prepared.description,
            payment_id=part.payment_id,
        )

    def record(
        self, session: Session, run: StepInput, result: PayoutAnswers | None
    ) -> str | StepWait:
        refund, parts = _refund_and_parts(session, run.cancellation.id)
        if result is None:
            return "refunded" if refund.status is RefundStatus.SUCCEEDED else "no_refund_due"
        for part in parts:
            receipt = result.receipts.get(part.id)
            if receipt is not None:
                _apply(session, run, part, receipt)
        if result.error is None and all(p.status is RefundPartStatus.SUCCEEDED for p in parts):
            refund.status = RefundStatus.SUCCEEDED
            refund.provider_reference = parts[0].provider_reference
            refund.completed_at = run.now
            return "refunded"
        return StepWait(REFUND_ON_ITS_WAY, note=result.error)


REFUND_ON_ITS_WAY = "refund_on_its_way"
_UNFINISHED = (RefundPartStatus.NEW, RefundPartStatus.SENT)
_STATUS_AFTER = {
    PayoutStatus.PENDING: RefundPartStatus.SENT,
    PayoutStatus.SUCCEEDED: RefundPartStatus.SUCCEEDED,
    PayoutStatus.CANCELED: RefundPartStatus.CANCELED,
}


def _refund_and_parts(session: Session, cancellation_id: int) -> tuple[Refund, list[RefundPart]]:
    """The cancellation's refund and its parts in order, in one query."""
    rows = session.execute(
        select(Refund, RefundPart)
        .outerjoin(RefundPart, RefundPart.refund_id == Refund.id)
        .where(Refund.cancellation_id == cancellation_id)
        .order_by(RefundPart.position)
    ).all()
    assert rows, "the refund is created before its payout is called"
    return rows[0][0], [part for _, part in rows if part is not None]


def _parts(session: Session, refund: Refund) -> list[RefundPart]:
    query = select(RefundPart).where(RefundPart.refund_id == refund.id)
    return list(session.scalars(query.order_by(RefundPart.position)))


def _part_call(part: RefundPart) -> PartCall:
    return PartCall(
        part.id,
        part.position,
        part.idempotency_key,
        Money(part.amount_minor, part.currency),
        part.provider_payment_id,
        part.provider_reference,
    )


def _apply(session: Session, run: StepInput, part: RefundPart, receipt: PayoutReceipt) -> None:
    """What the provider said about one part; the ledger shows each part once it succeeded."""
    if part.status not in _UNFINISHED:
        return
    part.provider_reference = receipt.reference
    part.status = _STATUS_AFTER[receipt.status]
    if part.status is not RefundPartStatus.SUCCEEDED:
        return
    part.completed_at = run.now
    suffix = "" if part.position == 1 else f":{part.position}"
    post(
        session,
        run.esim,
        kind=EntryKind.REFUND,
        cash=-Money(part.amount_minor, part.currency),
        bonus=Money.zero(part.currency),
        description=f"refund {run.cancellation.reference}",
        now=run.now,
        reference=f"refund:{run.cancellation.id}{suffix}",
        provider_payment_id=part.provider_payment_id,
    )


class NoticeStep(LocalStep):
    """Tell the customer on every channel; delivery itself is a job of its own per message."""

    def record(self, session: Session, run: StepInput, result: None) -> str:
        customer, bill, refund = self._read(session, run)
        policy = self.ctx.policy(customer.operator_id)
        currency = bill.currency if bill else policy.currency
        locale = babel_locale(customer.language)
        device = ""
        if run.esim.profile_state.on_device:
            device = render("delete_on_device_hint", customer.language)[1]
        notify_all_channels(
            session,
            customer,
            template="cancellation_completed",
            event_key=f"cancellation:{run.cancellation.id}:completed",
            now=run.now,
            operator_name=policy.name,
            msisdn=run.esim.msisdn,
            reference=run.cancellation.reference,
            bill=Money(bill.total_minor if bill else 0, currency).display(locale),
            refund=Money(refund.amount_minor if refund else 0, currency).display(locale),
            device=device,
        )
        return "notified"

    @staticmethod
    def _read(session: Session, run: StepInput) -> tuple[Customer, Bill | None, Refund | None]:
        """The customer, and the cancellation's bill and refund if any, in one query."""
        cancellation_id = run.cancellation.id
        row = session.execute(
            select(Customer, Bill, Refund)
            .select_from(Customer)
            .outerjoin(Bill, Bill.cancellation_id == cancellation_id)
            .outerjoin(Refund, Refund.cancellation_id == cancellation_id)
            .where(Customer.id == run.cancellation.customer_id)
        ).one()
        return row[0], row[1], row[2]
