"""The customer page's timeline merges every source by time, ES2+ calls with their codes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from esimcare.context import Context
from esimcare.customers.models import Customer
from esimcare.db import transaction
from esimcare.esims.models import Esim
from esimcare.integrations.smdp.call_log import CallOutcome, Es2PlusCall
from esimcare.integrations.smdp.interface import ExecutionStatus
from esimcare.integrations.smdp.states import SmdpFunction
from esimcare.staff.timeline import timeline
from tests.support import request_and_verify_mts


def test_es2plus_calls_appear_with_http_status_and_codes_in_time_order(demo: Context) -> None:
    request_and_verify_mts(demo)
    now = demo.clock.now()
    with transaction(demo.sessions) as session:
        anna = session.scalars(select(Customer).where(Customer.phone == "+79160000001")).one()
        esim = session.scalars(select(Esim).where(Esim.customer_id == anna.id)).first()
        assert esim is not None
        session.add(
            Es2PlusCall(
                operator_id="mts",
                function=SmdpFunction.CANCEL_ORDER,
                function_call_id="call-1",
                iccid=esim.iccid,
                request={},
                sent_at=now + timedelta(minutes=5),
                finished_at=now + timedelta(minutes=5),
                outcome=CallOutcome.FAILED,
                status=ExecutionStatus.FAILED,
                subject_code="8.1.1",
                reason_code="3.8",
                http_status=200,
                duration_ms=42,
                message="profile in use",
            )
        )
        session.add(
            Es2PlusCall(
                operator_id="beeline",
                function=SmdpFunction.CANCEL_ORDER,
                function_call_id="call-2",
                iccid=esim.iccid,
                request={},
                sent_at=now + timedelta(minutes=6),
                http_status=503,
            )
        )
    with transaction(demo.sessions) as session:
        entries = timeline(session, anna)
    assert entries == sorted(entries, key=lambda e: e.at, reverse=True)
    calls = [e for e in entries if e.kind == "es2plus"]
    assert len(calls) == 1  # another operator's log row about the same ICCID is not shown
    assert calls[0].facts["HTTP"] == "200" and calls[0].facts["codes"] == "8.1.1/3.8"
    assert calls[0].outcome == "bad" and calls[0] is entries[0]
    kinds = {e.kind for e in entries}
    assert {"code", "quote", "cancellation", "notice", "audit"} <= kinds
