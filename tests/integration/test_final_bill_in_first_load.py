"""The final bill's facts (the balance and the unbilled usage records) come with the
workflow's first load, in the transaction that issues the bill: no read of their own, and
the same bill, covering the same records, as ``final_bill_and_balance`` reads."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, select

from esimcare.billing.final_bill import final_bill_and_balance
from esimcare.billing.models import Bill, EntryKind, LedgerEntry, UsageRecord
from esimcare.billing.settlement import settle
from esimcare.cancellations.models import Cancellation
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.esims.models import Esim, Plan
from esimcare.kit.clock import FrozenClock
from esimcare.operators.policy import RefundRoute
from tests.support import drain_worker, request_and_verify_mts, sent_statements

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture
def ctx(make_context, db_url: str, clock: FrozenClock) -> Context:  # type: ignore[no-untyped-def]
    return make_context(database_url=db_url, clock=clock)


def _usage(esim_id: int, at: datetime, minor: int, bill_id: int | None = None) -> UsageRecord:
    return UsageRecord(esim_id=esim_id, occurred_at=at, amount_minor=minor, currency="RUB",
                       description="roaming data", bill_id=bill_id)  # fmt: skip


def _verified_with_usage(ctx: Context) -> tuple[int, int, int]:
    """A verified cancellation whose eSIM has usage before its bill's end (500 + 250), after
    it (99) and already billed (77): the cancellation, the eSIM and the old bill's id."""
    cancellation_id, _ = request_and_verify_mts(ctx, esim_index=0)
    with transaction(ctx.sessions) as session:
        cancellation = session.get(Cancellation, cancellation_id)
        assert cancellation is not None
        esim = session.get(Esim, cancellation.esim_id)
        assert esim is not None
        end = max(cancellation.effective_at, esim.billed_until)
        session.execute(delete(UsageRecord).where(UsageRecord.esim_id == esim.id))
        old_bill = Bill(operator_id=esim.operator_id, esim_id=esim.id, period_start=end,
                        period_end=end, fee_minor=0, usage_minor=77, total_minor=77,
                        currency="RUB", issued_at=end)  # fmt: skip
        session.add(old_bill)
        session.flush()
        billed = _usage(esim.id, end - timedelta(hours=3), 77, bill_id=old_bill.id)
        session.add_all([_usage(esim.id, end - timedelta(hours=2), 500),
                         _usage(esim.id, end, 250),
                         _usage(esim.id, end + timedelta(seconds=1), 99), billed])  # fmt: skip
        return cancellation_id, esim.id, old_bill.id


def test_the_final_bill_reads_nothing_of_its_own_in_an_uninterrupted_run(ctx: Context) -> None:
    cancellation_id, _, _ = _verified_with_usage(ctx)
    with sent_statements(ctx.engine, starting=("SELECT",)) as seen:
        drain_worker(ctx, 6)
    assert not [s for s in seen if "usage_records" in s and "cancellations" not in s], seen
    with transaction(ctx.sessions) as session:
        bill = session.scalar(select(Bill).where(Bill.cancellation_id == cancellation_id))
        assert bill is not None
        assert bill.usage_minor == 750


def test_the_bill_from_the_first_load_is_the_one_the_reads_of_its_own_make(ctx: Context) -> None:
    cancellation_id, esim_id, old_bill_id = _verified_with_usage(ctx)
    with transaction(ctx.sessions) as session:  # what the step reads when run alone
        cancellation = session.get(Cancellation, cancellation_id)
        esim = session.get(Esim, esim_id)
        assert cancellation is not None and esim is not None
        plan = session.get(Plan, esim.plan_id)
        assert plan is not None
        expected = final_bill_and_balance(session, esim, plan, cancellation.effective_at)
    drain_worker(ctx, 6)
    with transaction(ctx.sessions) as session:
        bill = session.scalar(select(Bill).where(Bill.cancellation_id == cancellation_id))
        assert bill is not None
        covered = session.execute(
            select(UsageRecord.amount_minor, UsageRecord.bill_id).where(
                UsageRecord.esim_id == esim_id
            )
        ).all()
        charged = session.execute(
            select(LedgerEntry.cash_minor, LedgerEntry.bonus_minor).where(
                LedgerEntry.reference == f"final-bill:{cancellation_id}",
                LedgerEntry.kind == EntryKind.FINAL_BILL,
            )
        ).one()
    assert (bill.fee_minor, bill.usage_minor, bill.total_minor) == (
        expected.bill.fee.minor, expected.bill.usage.minor, expected.bill.total.minor,
    )  # fmt: skip
    assert expected.bill.usage.minor == 750
    assert sorted(covered) == [(77, old_bill_id), (99, None), (250, bill.id), (500, bill.id)]
    refunds = ctx.policy("mts").refund_route is not RefundRoute.NONE
    settled = settle(expected.balance, expected.bill.total, refunds_allowed=refunds)
    assert (charged.cash_minor, charged.bonus_minor) == (
        -settled.cash_used.minor, -settled.bonus_used.minor,
    )  # fmt: skip
