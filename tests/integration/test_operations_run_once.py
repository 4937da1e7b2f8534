"""The ``do_*`` operations every door calls: a key runs the work once, a failure frees the key,
the code is sent after commit (and only by the call that ran), and no key means no replay."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.operations import (
    CancellationDetails,
    do_request_cancellation,
    do_resend_code,
    do_undo_cancellation,
    do_verify_cancellation,
)
from esimcare.cancellations.service import Requested
from esimcare.cancellations.states import CancellationStatus
from esimcare.context import Context
from esimcare.customers.identity import CustomerKey
from esimcare.customers.models import Customer
from esimcare.db import transaction
from esimcare.errors import IdempotencyKeyReusedError, InvalidInputError
from esimcare.esims.models import Esim, EsimOrder
from esimcare.esims.operations import do_order_esim
from esimcare.esims.service import list_esims
from esimcare.idempotency.once import Once
from esimcare.idempotency.service import IdempotencyStore, StoredResponse
from esimcare.kit.clock import FrozenClock
from esimcare.sandbox.sms_outbox import SmsOutbox
from tests.support import customer


def once(ctx: Context, key: str, fingerprint: str = "same request") -> Once:
    return Once(IdempotencyStore(ctx.sessions, ctx.clock), "test-door", key, fingerprint)


def describe(session: Session, requested: Requested) -> StoredResponse:
    return StoredResponse(201, {"id": requested.cancellation.id})


def anna_and_esim(ctx: Context) -> tuple[Customer, int]:
    anna = customer(ctx, "mts", "+79160000001")
    with transaction(ctx.sessions) as session:
        return anna, list_esims(session, "mts", anna.id)[0].esim.id


def codes_sent(ctx: Context, to: str) -> int:
    assert isinstance(ctx.sms, SmsOutbox)
    return len(ctx.sms.messages(to))


def cancellations(ctx: Context) -> int:
    with transaction(ctx.sessions) as session:
        return session.scalar(select(func.count()).select_from(Cancellation)) or 0


def test_the_same_key_requests_once_and_sends_one_code(demo: Context) -> None:
    anna, esim_id = anna_and_esim(demo)
    details = CancellationDetails("not_needed")
    first = do_request_cancellation(
        demo, CustomerKey.of(anna), esim_id, details, once=once(demo, "k"), describe=describe
    )
    again = do_request_cancellation(
        demo, CustomerKey.of(anna), esim_id, details, once=once(demo, "k"), describe=describe
    )
    assert first.code_sent is True and not first.ran.replayed
    assert again.ran.replayed and again.code_sent is None
    assert again.ran.answer == first.ran.answer
    assert cancellations(demo) == 1
    assert codes_sent(demo, anna.phone) == 1


def test_the_same_key_for_another_request_is_refused(demo: Context) -> None:
    anna, esim_id = anna_and_esim(demo)
    details = CancellationDetails("not_needed")
    do_request_cancellation(
        demo, CustomerKey.of(anna), esim_id, details, once=once(demo, "k"), describe=describe
    )
    with pytest.raises(IdempotencyKeyReusedError):
        do_request_cancellation(
            demo,
            CustomerKey.of(anna),
            esim_id,
            details,
            once=once(demo, "k", "other"),
            describe=describe,
        )


def test_a_failed_request_frees_its_key_for_a_retry(demo: Context) -> None:
    anna, esim_id = anna_and_esim(demo)
    with pytest.raises(InvalidInputError):
        do_request_cancellation(
            demo, CustomerKey.of(anna), esim_id, CancellationDetails("no-such-reason"),
            once=once(demo, "k"), describe=describe,
        )  # fmt: skip
    retried = do_request_cancellation(
        demo, CustomerKey.of(anna), esim_id, CancellationDetails("not_needed"),
        once=once(demo, "k"), describe=describe,
    )  # fmt: skip
    assert not retried.ran.replayed and cancellations(demo) == 1


def test_without_a_key_each_call_runs(demo: Context) -> None:
    """The CLI and the staff console call the same operation without a key."""
    anna, esim_id = anna_and_esim(demo)
    outcome = do_request_cancellation(
        demo,
        CustomerKey.of(anna),
        esim_id,
        CancellationDetails("not_needed"),
        once=None,
        describe=describe,
    )
    assert outcome.ran.result is not None
    assert outcome.ran.answer.body == {"id": outcome.ran.result.cancellation.id}


def test_resend_verify_and_undo_go_through_one_function_each(demo: Context) -> None:
    li = customer(demo, "beeline", "+79030000001")  # beeline: SMS or password, 24 h to undo
    with transaction(demo.sessions) as session:
        esim_id = list_esims(session, "beeline", li.id)[0].esim.id
    requested = do_request_cancellation(
        demo, CustomerKey.of(li), esim_id,
        CancellationDetails("not_needed", refund_to="+79030000002"),
        once=None, describe=describe,
    ).ran.result  # fmt: skip
    assert requested is not None
    cancellation_id = requested.cancellation.id
    assert isinstance(demo.clock, FrozenClock)
    demo.clock.advance(timedelta(seconds=demo.settings.limits.resend_interval_s + 1))
    resent = do_resend_code(demo, li.id, cancellation_id)
    assert resent.sent and codes_sent(demo, li.phone) == 2
    code = latest_code(demo, li.phone)
    verified = do_verify_cancellation(
        demo, CustomerKey.of(li), cancellation_id, method="sms", secret=code
    )
    assert verified.status is CancellationStatus.SCHEDULED
    undone = do_undo_cancellation(demo, li.id, cancellation_id)
    assert undone.status is CancellationStatus.UNDONE


def latest_code(ctx: Context, to: str) -> str:
    """The code in the newest SMS to ``to`` (the outbox lists newest first)."""
    assert isinstance(ctx.sms, SmsOutbox)
    found = re.search(r"(?<![\d+])(\d{6})(?!\d)", ctx.sms.messages(to)[0].body)
    assert found is not None
    return found.group(1)


def test_an_order_with_the_same_key_orders_one_esim(demo: Context) -> None:
    anna = customer(demo, "mts", "+79160000001")

    def answer(esim: Esim) -> StoredResponse:
        return StoredResponse(201, {"iccid": esim.iccid})

    first = do_order_esim(demo, anna, "travel", None, once=once(demo, "o"), describe=answer)
    again = do_order_esim(demo, anna, "travel", None, once=once(demo, "o"), describe=answer)
    assert first.result is not None and again.replayed
    assert again.answer.body == {"iccid": first.result.iccid}
    with transaction(demo.sessions) as session:
        assert session.scalar(select(func.count()).select_from(EsimOrder)) == 1
