"""The refund: the money step of a cancellation (the closing notice is ``notice_step``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import CursorResult, Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from esimcare.billing.ledger import (
    TopUp,
    balance_and_top_ups,
    entry,
    latest_card_of,
    paid_top_ups,
    post_all,
    split_by_payment,
    top_ups_of,
)
from esimcare.billing.models import (
    EntryKind,
    Refund,
    RefundPart,
    RefundPartStatus,
    RefundStatus,
)
from esimcare.cancellations.steps import StepInput, StepWait
from esimcare.cancellations.systems import WorkflowSystems
from esimcare.customers.models import Customer
from esimcare.esims.models import Plan
from esimcare.integrations.errors import IntegrationError
from esimcare.integrations.payments.interface import PayoutReceipt, PayoutStatus
from esimcare.jobs.errors import PermanentJobError
from esimcare.kit.money import Money
from esimcare.operators.policy import RefundRoute


@dataclass(frozen=True)
class PartCall:
    # None for the one part of a refund paid in one: its row is written with the answer.
    part_id: int | None
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
    parts: tuple[PartCall, ...]  # the unfinished ones: every other part has succeeded
    refund_id: int
    first_reference: str | None  # the first part's, as stored: the refund's own reference


@dataclass(frozen=True)
class NoPayout:
    """Nothing to pay (anymore): the step's outcome, known when it was prepared."""

    outcome: str


@dataclass(frozen=True)
class PayoutAnswers:
    call: PayoutCall
    receipts: dict[int, PayoutReceipt]  # by part position
    error: str | None = None  # a later part failed after an earlier one was sent


class RefundStep:
    """Pay back the cash left after the final bill, once, against the payments it came from
    (newest first). The refund, its parts and their provider keys commit before the provider
    is called; a part the provider accepted is only ever followed by its reference after that.
    A part still on its way makes the step wait and look again later (``StepWait``).

    What ``prepare`` wrote travels to ``record`` with the call (``PayoutCall``): nothing else
    touches a refund while its step's job is held, so ``record`` need not read it back."""

    def __init__(self, ctx: WorkflowSystems) -> None:
        self.ctx = ctx

    def prepare(self, session: Session, run: StepInput) -> PayoutCall | NoPayout:
        created = self._create(session, run)
        if created is None:
            return self._resume(session, run)
        refund_id, values, split = created
        if values["status"] is not RefundStatus.PENDING:
            return NoPayout(NO_REFUND_DUE)
        if len(split) == 1:  # the refund's row holds what the part is sent with
            key, payment_id, amount = split[0]
            parts: tuple[PartCall, ...] = (PartCall(None, 1, key, amount, payment_id, None),)
        else:
            parts = _insert_parts(session, refund_id, split, run.now)
        description = f"refund {run.cancellation.reference}"
        route = RefundRoute(values["route"])
        return PayoutCall(route, values["destination"], description, parts, refund_id, None)

    def _create(
        self, session: Session, run: StepInput
    ) -> tuple[int, dict[str, Any], list[tuple[str, str | None, Money]]] | None:
        """The refund row (its id and values) and its split by payment (from the eSIM's
        top-ups, read with the balance in one query, as the card to pay back to); None when
        the cancellation has its refund already."""
        esim, cancellation = run.esim, run.cancellation
        policy = self.ctx.policy(esim.operator_id)
        plan = session.get(Plan, esim.plan_id)  # in the session already: no query
        assert plan is not None
        balance, top_ups = balance_and_top_ups(session, esim.id, plan.currency)
        cash = balance.cash
        due = policy.refund_route is not RefundRoute.NONE and cash.minor > 0
        destination = self._destination(session, run, policy.refund_route, top_ups) if due else None
        values: dict[str, Any] = {
            "operator_id": esim.operator_id,
            "cancellation_id": cancellation.id,
            "esim_id": esim.id,
            "amount_minor": cash.minor if due else 0,
            "currency": plan.currency,
            "route": policy.refund_route.value,
            "destination": destination or "",
            "idempotency_key": f"esimcare-refund-{esim.operator_id}-{cancellation.reference}",
            "status": RefundStatus.PENDING if due and destination else RefundStatus.NOT_DUE,
            "created_at": run.now,
        }
        split = _split(values, top_ups) if values["status"] is RefundStatus.PENDING else []
        values["parts_planned"] = len(split) or None
        values["provider_payment_id"] = split[0][1] if len(split) == 1 else None
        refund_id = session.execute(_insert_refund(_dialect(session)), values).scalar()
        if refund_id is None:
            return None
        run.carried.refund_minor = values["amount_minor"]
        return refund_id, values, split

    def _resume(self, session: Session, run: StepInput) -> PayoutCall | NoPayout:
        """A refund made by an earlier run: followed where it stands."""
        refund = session.scalar(select(Refund).where(Refund.cancellation_id == run.cancellation.id))
        assert refund is not None
        run.carried.refund_minor = refund.amount_minor
        if refund.status is not RefundStatus.PENDING:
            return NoPayout(REFUNDED if refund.status is RefundStatus.SUCCEEDED else NO_REFUND_DUE)
        parts = _parts(session, refund)
        if not parts and refund.parts_planned == 1:  # sent before, or not, with its answer lost
            return PayoutCall(
                RefundRoute(refund.route),
                refund.destination,
                f"refund {run.cancellation.reference}",
                (_one_part_of(refund),),
                refund.id,
                None,
            )
        if not parts:  # the run that made the refund died before its parts
            values = {"amount_minor": refund.amount_minor, "currency": refund.currency,
                      "route": refund.route, "idempotency_key": refund.idempotency_key}  # fmt: skip
            split = _split(values, top_ups_of(session, refund.esim_id))
            parts_made = _insert_parts(session, refund.id, split, run.now)
            description = f"refund {run.cancellation.reference}"
            route = RefundRoute(refund.route)
            return PayoutCall(route, refund.destination, description, parts_made, refund.id, None)
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
            refund.id,
            parts[0].provider_reference,
        )

    def _destination(
        self, session: Session, run: StepInput, route: RefundRoute, top_ups: list[TopUp]
    ) -> str | None:
        if route is RefundRoute.CARD:
            return latest_card_of(top_ups)
        if route is RefundRoute.BANK_ACCOUNT:
            customer = session.get(Customer, run.cancellation.customer_id)
            return customer.payout_account if customer else None
        return run.cancellation.refund_to

    def call(self, prepared: PayoutCall | NoPayout) -> PayoutAnswers | NoPayout:
        if isinstance(prepared, NoPayout):
            return prepared
        receipts: dict[int, PayoutReceipt] = {}
        for part in prepared.parts:
            try:
                receipts[part.position] = self._send_or_follow(prepared, part)
            except IntegrationError as exc:
                sent = [p for p in prepared.parts if p.reference is None and p.position in receipts]
                if not sent:
                    raise
                # An earlier part was accepted: its reference must be recorded before anything
                # else, so the step records it and tries this part again after a pause.
                return PayoutAnswers(prepared, receipts, error=f"{type(exc).__name__}: {exc}")
        return PayoutAnswers(prepared, receipts)

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
        self, session: Session, run: StepInput, result: PayoutAnswers | NoPayout
    ) -> str | StepWait:
        if isinstance(result, NoPayout):
            return result.outcome
        call = result.call
        entries: list[dict[str, Any]] = []
        for part in call.parts:
            receipt = result.receipts.get(part.position)
            if receipt is not None:
                _apply(session, run, call.refund_id, part, receipt, entries)
        post_all(session, entries)  # the ledger shows each part once it succeeded
        if result.error is None and len(entries) == len(call.parts):  # every part succeeded
            first = [result.receipts[p.position].reference for p in call.parts if p.position == 1]
            session.execute(
                _REFUNDED,
                {"refund_id": call.refund_id, "completed_at": run.now,
                 "provider_reference": first[0] if first else call.first_reference},
            )  # fmt: skip
            return REFUNDED
        return StepWait(REFUND_ON_ITS_WAY, note=result.error)

    def record_failed_call(
        self, session: Session, prepared: PayoutCall | NoPayout, now: datetime
    ) -> None:
        """The call failed with no answer: a part not written yet gets its row as it stands
        (new, its key known), so staff and a retry see the part as when it was inserted first."""
        if isinstance(prepared, NoPayout):
            return
        for part in prepared.parts:
            if part.part_id is None:
                row = _part_row(prepared.refund_id, part, RefundPartStatus.NEW, None, now)
                session.execute(_insert_part_unless_known(_dialect(session)), row)


REFUNDED = "refunded"
NO_REFUND_DUE = "no_refund_due"
REFUND_ON_ITS_WAY = "refund_on_its_way"
_UNFINISHED = (RefundPartStatus.NEW, RefundPartStatus.SENT)
_STATUS_AFTER = {
    PayoutStatus.PENDING: RefundPartStatus.SENT,
    PayoutStatus.SUCCEEDED: RefundPartStatus.SUCCEEDED,
    PayoutStatus.CANCELED: RefundPartStatus.CANCELED,
}
_REFUNDS = cast(Table, Refund.__table__)
_PARTS = cast(Table, RefundPart.__table__)
_INSERT_PARTS = insert(_PARTS).returning(_PARTS.c.id, sort_by_parameter_order=True)
# A part still unfinished takes what the provider said (the columns set are the parameters').
_APPLY_PART = update(_PARTS).where(
    _PARTS.c.id == bindparam("part_id"), _PARTS.c.status.in_(_UNFINISHED)
)
_REFUNDED = (
    update(_REFUNDS)
    .where(_REFUNDS.c.id == bindparam("refund_id"), _REFUNDS.c.status == RefundStatus.PENDING)
    .values(status=RefundStatus.SUCCEEDED)
)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


@cache
def _insert_refund(dialect: str) -> Any:
    """One refund per cancellation: a second one is not inserted (and no id returned)."""
    insert_for = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert_for(_REFUNDS)
        .on_conflict_do_nothing(index_elements=[_REFUNDS.c.cancellation_id])
        .returning(_REFUNDS.c.id)
    )


def _split(refund: dict[str, Any], top_ups: list[TopUp]) -> list[tuple[str, str | None, Money]]:
    """The parts (key, payment id, amount): the first keeps the refund's own key, so a refund
    paid in one call (every route but the card) is sent exactly as it always was."""
    total = Money(refund["amount_minor"], refund["currency"])
    by_payment: list[tuple[str | None, Money]] = [(None, total)]
    if RefundRoute(refund["route"]) is RefundRoute.CARD:
        by_payment = split_by_payment(total, paid_top_ups(top_ups))
    key = refund["idempotency_key"]
    return [(key + ("" if position == 1 else f"-{position}"), payment_id, amount)
            for position, (payment_id, amount) in enumerate(by_payment, start=1)]  # fmt: skip


def _insert_parts(
    session: Session, refund_id: int, parts: list[tuple[str, str | None, Money]], now: datetime
) -> tuple[PartCall, ...]:
    """The parts' rows in one statement, and their calls."""
    rows = [
        {
            "refund_id": refund_id,
            "position": position,
            "provider_payment_id": payment_id,
            "amount_minor": amount.minor,
            "currency": amount.currency,
            "idempotency_key": key,
            "status": RefundPartStatus.NEW,
            "created_at": now,
        }
        for position, (key, payment_id, amount) in enumerate(parts, start=1)
    ]
    ids = session.execute(_INSERT_PARTS, rows).scalars().all()
    return tuple(
        PartCall(part_id, position, key, amount, payment_id, None)
        for part_id, (position, (key, payment_id, amount)) in zip(
            ids, enumerate(parts, start=1), strict=True
        )
    )


def _one_part_of(refund: Refund) -> PartCall:
    """The one part of a refund paid in one, as its row stored it before the first call."""
    amount = Money(refund.amount_minor, refund.currency)
    return PartCall(None, 1, refund.idempotency_key, amount, refund.provider_payment_id, None)


def _part_row(
    refund_id: int,
    part: PartCall,
    status: RefundPartStatus,
    reference: str | None,
    now: datetime,
    completed_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "refund_id": refund_id,
        "position": part.position,
        "provider_payment_id": part.payment_id,
        "amount_minor": part.amount.minor,
        "currency": part.amount.currency,
        "idempotency_key": part.key,
        "status": status,
        "provider_reference": reference,
        "created_at": now,
        "completed_at": completed_at,
    }


@cache
def _insert_part_unless_known(dialect: str) -> Any:
    """A part's row unless one with its position (or key) exists: then a rival wrote it."""
    insert_for = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert_for(_PARTS).on_conflict_do_nothing().returning(_PARTS.c.id)


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


def _apply(
    session: Session,
    run: StepInput,
    refund_id: int,
    part: PartCall,
    receipt: PayoutReceipt,
    entries: list[dict[str, Any]],
) -> None:
    """What the provider said about one part; a part that succeeded adds its ledger entry.
    The one part of a refund paid in one is inserted here, with the answer."""
    if part.reference is not None and receipt.status is PayoutStatus.PENDING:
        return  # followed, still on its way: nothing new to write
    status = _STATUS_AFTER[receipt.status]
    succeeded = status is RefundPartStatus.SUCCEEDED
    completed_at = run.now if succeeded else None
    if part.part_id is None:
        row = _part_row(refund_id, part, status, receipt.reference, run.now, completed_at)
        inserted = session.execute(_insert_part_unless_known(_dialect(session)), row)
        written = len(inserted.scalars().all())
    else:
        result = session.execute(
            _APPLY_PART,
            {"part_id": part.part_id, "status": status, "provider_reference": receipt.reference,
             "completed_at": completed_at},
        )  # fmt: skip
        written = cast("CursorResult[Any]", result).rowcount
    if written != 1:
        # Only a rival holding this step's job could have: its record wins, ours rolls back.
        raise RuntimeError(f"refund part {part.part_id} was finished by someone else")
    if succeeded:
        suffix = "" if part.position == 1 else f":{part.position}"
        entries.append(
            entry(
                run.esim,
                kind=EntryKind.REFUND,
                cash=-part.amount,
                bonus=Money.zero(part.amount.currency),
                description=f"refund {run.cancellation.reference}",
                now=run.now,
                reference=f"refund:{run.cancellation.id}{suffix}",
                provider_payment_id=part.payment_id,
            )
        )
