"""A refund paid in one part keeps that part's payment in its own row before the call, and the
part's row is written once, with the provider's answer; an answer lost after the provider paid
is recovered by sending the same key again, and the money goes back once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from esimcare.billing.models import EntryKind, LedgerEntry, Refund, RefundPart, RefundPartStatus
from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.states import CancellationStatus
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.integrations.errors import TransientIntegrationError
from esimcare.integrations.payments.interface import PayoutGateway, PayoutReceipt
from esimcare.kit.clock import FrozenClock
from tests.support import drain_worker, request_and_verify_mts, sent_statements

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture
def ctx(make_context, db_url: str, clock: FrozenClock) -> Context:  # type: ignore[no-untyped-def]
    return make_context(database_url=db_url, clock=clock)


class AnswerLostOnce:
    """The provider pays, and its answer is lost on the way back (once)."""

    def __init__(self, inner: PayoutGateway) -> None:
        self.inner, self.lost = inner, False

    def payout(self, **call: Any) -> PayoutReceipt:
        receipt = self.inner.payout(**call)
        if not self.lost:
            self.lost = True
            raise TransientIntegrationError("connection reset after the request was sent")
        return receipt

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def refund_and_parts(ctx: Context, cancellation_id: int) -> tuple[Refund, list[RefundPart]]:
    with transaction(ctx.sessions) as session:
        refund = session.scalars(
            select(Refund).where(Refund.cancellation_id == cancellation_id)
        ).one()
        parts = list(session.scalars(select(RefundPart).where(RefundPart.refund_id == refund.id)))
        return refund, parts


def refund_entries(ctx: Context, esim_id: int) -> int:
    with transaction(ctx.sessions) as session:
        query = (
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.esim_id == esim_id, LedgerEntry.kind == EntryKind.REFUND)
        )
        return int(session.scalar(query) or 0)


def test_the_one_part_is_written_once_with_the_providers_answer(ctx: Context) -> None:
    cancellation_id, quote = request_and_verify_mts(ctx, esim_index=0)
    with sent_statements(ctx.engine) as seen:
        drain_worker(ctx, 8)
    refund, parts = refund_and_parts(ctx, cancellation_id)
    assert refund.parts_planned == 1
    assert [s for s in seen if s.startswith("INSERT INTO refund_parts")] and not [
        s for s in seen if s.startswith("UPDATE refund_parts")
    ]
    (part,) = parts
    assert part.status is RefundPartStatus.SUCCEEDED and part.provider_reference
    assert part.idempotency_key == refund.idempotency_key
    assert part.provider_payment_id == refund.provider_payment_id
    assert (part.amount_minor, refund.provider_reference) == (
        refund.amount_minor,
        part.provider_reference,
    )
    assert f"{part.amount_minor / 100:.2f}" == quote["refund"]["amount"]


def test_an_answer_lost_after_the_provider_paid_pays_once_with_the_same_key(
    ctx: Context,
) -> None:
    cancellation_id, quote = request_and_verify_mts(ctx, esim_index=0)
    ctx.payouts = AnswerLostOnce(ctx.payouts)  # type: ignore[assignment]
    drain_worker(ctx, 8)
    with transaction(ctx.sessions) as session:
        cancellation = session.get(Cancellation, cancellation_id)
        assert cancellation is not None and cancellation.status is CancellationStatus.COMPLETED
        esim_id = cancellation.esim_id
    refund, parts = refund_and_parts(ctx, cancellation_id)
    (part,) = parts
    assert part.status is RefundPartStatus.SUCCEEDED
    payouts = ctx.payouts.payouts()  # type: ignore[attr-defined]
    assert [p.idempotency_key for p in payouts] == [refund.idempotency_key]
    assert f"{payouts[0].amount.minor / 100:.2f}" == quote["refund"]["amount"]
    assert refund_entries(ctx, esim_id) == 1
