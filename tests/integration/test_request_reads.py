"""A request and a verification each read in one statement and write with prebuilt ones: the
quote is the one computed query by query, the statements stay few, and a status move from a
status the row no longer has is refused."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, update

from esimcare.billing.models import UsageRecord
from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.operations import (
    CancellationDetails,
    do_request_cancellation,
    do_verify_cancellation,
)
from esimcare.cancellations.quote import compute_quote
from esimcare.cancellations.reads import read_request
from esimcare.cancellations.service import quote_for, request_cancellation, verify
from esimcare.cancellations.states import CancellationStatus
from esimcare.cancellations.transitions import Move, advance
from esimcare.context import Context
from esimcare.customers.identity import CustomerKey
from esimcare.customers.models import Customer
from esimcare.db import transaction
from esimcare.errors import AccountLockedError, InvalidTransitionError, NotFoundError
from esimcare.esims.models import Esim
from esimcare.esims.service import get_esim, list_esims
from esimcare.idempotency.service import StoredResponse
from tests.support import customer

ANNA = "+79160000001"


@contextmanager
def statements(ctx: Context) -> Iterator[list[str]]:
    """Every SQL statement sent meanwhile (transaction control aside)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            seen.append(statement)

    event.listen(ctx.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(ctx.engine, "before_cursor_execute", record)


def _anna_esim(ctx: Context, index: int) -> tuple[Customer, int]:
    anna = customer(ctx, "mts", ANNA)
    with transaction(ctx.sessions) as session:
        return anna, list_esims(session, "mts", anna.id)[index].esim.id


def _usage(esim_id: int, at: datetime, minor: int) -> UsageRecord:
    return UsageRecord(esim_id=esim_id, occurred_at=at, amount_minor=minor, currency="RUB",
                       description="roaming data")  # fmt: skip


@pytest.mark.parametrize("effective_in", [timedelta(0), timedelta(hours=3)])
@pytest.mark.parametrize("billed_past_it", [False, True])
def test_the_quote_from_the_one_read_is_the_quote_computed_query_by_query(
    demo: Context, effective_in: timedelta, billed_past_it: bool
) -> None:
    anna, esim_id = _anna_esim(demo, 0)
    now = demo.clock.now()
    effective_at = now + effective_in
    with transaction(demo.sessions) as session:
        # Usage before the effective time, and some after it that a quote for now leaves out.
        session.add_all([_usage(esim_id, now - timedelta(hours=1), 1234),
                         _usage(esim_id, now + timedelta(hours=2), 999)])  # fmt: skip
        if billed_past_it:
            esim = session.get(Esim, esim_id)
            assert esim is not None
            esim.billed_until = effective_at + timedelta(days=1)
    policy = demo.policy("mts")
    with transaction(demo.sessions) as session:
        fresh = session.get(Customer, anna.id)
        assert fresh is not None
        read = read_request(session, policy, fresh, esim_id, effective_at=effective_at, now=now)
        view = read.view
        assert view == get_esim(session, "mts", anna.id, esim_id)
        with statements(demo) as seen:
            ahead = compute_quote(session, policy, fresh, view.esim, view.plan, effective_at,
                                  balance=view.balance, reads=read.quote)  # fmt: skip
        by_query = compute_quote(session, policy, fresh, view.esim, view.plan, effective_at)
    assert ahead == by_query
    # Read ahead, the quote reads nothing more, unless the bill runs past the effective time.
    assert len(seen) == (1 if billed_past_it else 0)


def test_a_quote_alone_is_one_statement_and_the_quote_a_request_makes(demo: Context) -> None:
    anna, esim_id = _anna_esim(demo, 0)
    with transaction(demo.sessions) as session:
        fresh = session.get(Customer, anna.id)
        assert fresh is not None
        with statements(demo) as seen:
            quoted = quote_for(session, demo, fresh, esim_id)
        requested = request_cancellation(session, demo, fresh, esim_id, reason="not_needed")
    assert len(seen) == 1, seen
    assert quoted == requested.quote


def test_a_request_and_its_verification_take_six_and_nine_statements(demo: Context) -> None:
    anna, warm_up = _anna_esim(demo, 0)
    _, esim_id = _anna_esim(demo, 1)
    for target in (warm_up, esim_id):  # the first one also finds the audit chain's head
        with transaction(demo.sessions) as session:
            fresh = session.get(Customer, anna.id)
            assert fresh is not None
            with statements(demo) as requesting:
                requested = request_cancellation(session, demo, fresh, target, reason="not_needed")
        assert requested.code is not None
        with transaction(demo.sessions) as session:
            fresh = session.get(Customer, anna.id)
            assert fresh is not None
            with statements(demo) as verifying:
                done = verify(session, demo, fresh, requested.cancellation.id, method="sms",
                              secret=requested.code.code)  # fmt: skip
    assert done.status is CancellationStatus.PROCESSING
    # One read, the cancellation, its first history row, the expiry job, the code, the audit
    # row (one statement: the chain's head moves with it).
    assert len(requesting) <= 6, requesting
    # One read, the code's try, the status moves, their history, the eSIM, the steps, the
    # notices, the jobs (the first step's and the notices' together), the audit row.
    assert len(verifying) <= 9, verifying


def test_a_move_from_a_status_the_row_no_longer_has_is_refused(demo: Context) -> None:
    anna, esim_id = _anna_esim(demo, 0)
    with transaction(demo.sessions) as session:
        fresh = session.get(Customer, anna.id)
        assert fresh is not None
        cancellation_id = request_cancellation(
            session, demo, fresh, esim_id, reason="not_needed"
        ).cancellation.id
    with transaction(demo.sessions) as session:
        cancellation = session.get(Cancellation, cancellation_id)
        assert cancellation is not None
        # What a parallel transaction that came first would have left.
        session.execute(update(Cancellation).where(Cancellation.id == cancellation_id)
                        .values(status=CancellationStatus.EXPIRED)
                        .execution_options(synchronize_session=False))  # fmt: skip
        with pytest.raises(InvalidTransitionError, match="changed meanwhile"):
            advance(session, cancellation, [Move(CancellationStatus.SCHEDULED, "customer:1")],
                    now=demo.clock.now(), watched=False)  # fmt: skip


def test_by_key_the_customer_is_read_by_each_phases_one_statement(demo: Context) -> None:
    anna, warm_up = _anna_esim(demo, 0)
    _, esim_id = _anna_esim(demo, 1)
    key = CustomerKey(anna.operator_id, anna.id)
    for target in (warm_up, esim_id):  # the first one also finds the audit chain's head
        with transaction(demo.sessions) as session, statements(demo) as requesting:
            requested = request_cancellation(session, demo, key, target, reason="not_needed")
        assert requested.code is not None
        with transaction(demo.sessions) as session, statements(demo) as verifying:
            done = verify(session, demo, key, requested.cancellation.id, method="sms",
                          secret=requested.code.code)  # fmt: skip
    assert done.status is CancellationStatus.PROCESSING
    # The read (with the customer), the cancellation, its first history row, the code, the
    # audit row (the expiry sweep of this minute was queued by the first request).
    assert len(requesting) == 5, requesting
    # The read (with the customer), the code's try, the status move, its history, the eSIM,
    # the steps, the notices, the jobs (the first step's and the notices'), the audit row.
    assert len(verifying) == 9, verifying
    assert not [s for s in requesting + verifying if s.startswith("SELECT customers.")]


def test_by_key_the_customers_own_rules_still_hold(demo: Context) -> None:
    anna, esim_id = _anna_esim(demo, 0)
    with transaction(demo.sessions) as session:
        session.execute(
            update(Customer).where(Customer.id == anna.id).values(cancellation_lock=True)
        )
    key = CustomerKey(anna.operator_id, anna.id)
    with pytest.raises(AccountLockedError), transaction(demo.sessions) as session:
        request_cancellation(session, demo, key, esim_id, reason="not_needed")
    with pytest.raises(NotFoundError), transaction(demo.sessions) as session:
        request_cancellation(session, demo, CustomerKey("other", anna.id), esim_id,
                             reason="not_needed")  # fmt: skip


def test_by_key_another_customers_cancellation_is_not_found(demo: Context) -> None:
    anna, esim_id = _anna_esim(demo, 0)
    with transaction(demo.sessions) as session:
        requested = request_cancellation(session, demo, anna, esim_id, reason="not_needed")
    assert requested.code is not None
    stranger = CustomerKey(anna.operator_id, anna.id + 1000)
    with pytest.raises(NotFoundError), transaction(demo.sessions) as session:
        verify(session, demo, stranger, requested.cancellation.id, method="sms",
               secret=requested.code.code)  # fmt: skip


def test_the_doors_operations_cost_the_same_statements_as_the_phases_by_key(
    demo: Context,
) -> None:
    """The API and the portal call the operations with the key of the customer their session
    authenticated: the operation reads no customer row of its own."""
    anna, warm_up = _anna_esim(demo, 0)
    _, esim_id = _anna_esim(demo, 1)
    key = CustomerKey.of(anna)
    for target in (warm_up, esim_id):  # the first one also finds the audit chain's head
        with statements(demo) as requesting:
            outcome = do_request_cancellation(
                demo, key, target, CancellationDetails("not_needed"), once=None,
                describe=lambda _s, _r: StoredResponse(201, {}),
            )  # fmt: skip
        requested = outcome.ran.result
        assert requested is not None and requested.code is not None and outcome.code_sent
        with statements(demo) as verifying:
            done = do_verify_cancellation(demo, key, requested.cancellation.id, method="sms",
                                          secret=requested.code.code)  # fmt: skip
    assert done.status is CancellationStatus.PROCESSING
    # PostgreSQL's commit also wakes the workers (NOTIFY, sent as the transaction commits).
    verifying = [s for s in verifying if not s.startswith("NOTIFY")]
    assert (len(requesting), len(verifying)) == (5, 9), requesting + verifying
    assert not [s for s in requesting + verifying if s.startswith("SELECT customers.")]


def test_a_key_of_another_operators_customer_finds_nothing_through_the_operations(
    demo: Context,
) -> None:
    anna, esim_id = _anna_esim(demo, 0)
    with pytest.raises(NotFoundError):
        do_request_cancellation(
            demo, CustomerKey("beeline", anna.id), esim_id, CancellationDetails("not_needed"),
            once=None, describe=lambda _s, _r: StoredResponse(201, {}),
        )  # fmt: skip
    outcome = do_request_cancellation(
        demo, CustomerKey.of(anna), esim_id, CancellationDetails("not_needed"), once=None,
        describe=lambda _s, _r: StoredResponse(201, {}),
    )  # fmt: skip
    requested = outcome.ran.result
    assert requested is not None and requested.code is not None
    with pytest.raises(NotFoundError):
        do_verify_cancellation(demo, CustomerKey("beeline", anna.id), requested.cancellation.id,
                               method="sms", secret=requested.code.code)  # fmt: skip
    with transaction(demo.sessions) as session:
        still = session.get(Cancellation, requested.cancellation.id)
        assert still is not None and still.status is CancellationStatus.AWAITING_VERIFICATION
