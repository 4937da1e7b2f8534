"""The final bill covers exactly the usage records whose sum it bills, marked by id."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, event, select

from esimcare.billing.final_bill import final_bill_and_balance, issue_final_bill
from esimcare.billing.models import Bill, UsageRecord
from esimcare.cancellations.service import request_cancellation
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.esims.models import Esim, Plan
from esimcare.esims.service import list_esims
from tests.support import customer

ANNA = "+79160000001"


def _usage(esim_id: int, at: datetime, minor: int) -> UsageRecord:
    return UsageRecord(esim_id=esim_id, occurred_at=at, amount_minor=minor, currency="RUB",
                       description="roaming data")  # fmt: skip


def _requested(demo: Context) -> tuple[int, int]:
    """A cancellation of one of Anna's eSIMs (its bill's owner), and the eSIM, whose demo
    usage is taken away (each test writes its own)."""
    anna = customer(demo, "mts", ANNA)
    with transaction(demo.sessions) as session:
        esim_id = list_esims(session, "mts", anna.id)[0].esim.id
        session.execute(delete(UsageRecord).where(UsageRecord.esim_id == esim_id))
        requested = request_cancellation(session, demo, anna, esim_id, reason="not_needed")
        return requested.cancellation.id, esim_id


def test_usage_written_after_the_read_stays_unbilled_for_the_next_bill(demo: Context) -> None:
    cancellation_id, esim_id = _requested(demo)
    now = demo.clock.now()
    with transaction(demo.sessions) as session:
        session.add_all([_usage(esim_id, now - timedelta(hours=2), 500),
                         _usage(esim_id, now - timedelta(hours=1), 250)])  # fmt: skip
        session.flush()
        esim = session.get(Esim, esim_id)
        assert esim is not None
        plan = session.get(Plan, esim.plan_id)
        assert plan is not None
        reads = final_bill_and_balance(session, esim, plan, now)
        # As another transaction could commit it between the read and the bill (PostgreSQL).
        late = _usage(esim_id, now - timedelta(minutes=30), 99)
        session.add(late)
        session.flush()
        bill_id = issue_final_bill(session, esim, cancellation_id, reads, now)
    assert reads.bill.usage.minor == 750
    with transaction(demo.sessions) as session:
        bill = session.get(Bill, bill_id)
        assert bill is not None
        assert bill.usage_minor == 750
        covered = session.execute(
            select(UsageRecord.amount_minor, UsageRecord.bill_id).where(
                UsageRecord.esim_id == esim_id
            )
        ).all()
    assert sorted(covered) == [(99, None), (250, bill_id), (500, bill_id)]


def test_a_bill_without_usage_updates_no_usage_record(demo: Context) -> None:
    cancellation_id, esim_id = _requested(demo)
    now = demo.clock.now()
    sent: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        sent.append(statement)

    with transaction(demo.sessions) as session:
        esim = session.get(Esim, esim_id)
        assert esim is not None
        plan = session.get(Plan, esim.plan_id)
        assert plan is not None
        reads = final_bill_and_balance(session, esim, plan, now)
        event.listen(demo.engine, "before_cursor_execute", count)
        try:
            issue_final_bill(session, esim, cancellation_id, reads, now)
        finally:
            event.remove(demo.engine, "before_cursor_execute", count)
    assert reads.usage_ids == ()
    assert [statement.split()[:3] for statement in sent] == [["INSERT", "INTO", "bills"]]
