"""Requests not verified in time are expired by one sweep a minute: a request queues the sweep
of the minute its window ends in only when its process has not seen it queued, and the sweep
expires exactly the requests past their window."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from esimcare.cancellations import service
from esimcare.cancellations.expiry import EXPIRE_DUE_JOB, sweep_after
from esimcare.cancellations.models import Cancellation, CancellationTransition
from esimcare.cancellations.states import CancellationStatus
from esimcare.context import Context
from esimcare.customers.models import Customer
from esimcare.db import transaction
from esimcare.errors import CancellationExpiredError
from esimcare.esims.service import list_esims
from esimcare.jobs.models import Job
from esimcare.kit.clock import FrozenClock
from esimcare.runtime import build_worker
from tests.support import customer, sent_statements

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture
def ctx(make_context, db_url: str, clock: FrozenClock) -> Context:  # type: ignore[no-untyped-def]
    return make_context(database_url=db_url, clock=clock)


def request(ctx: Context, who: Customer, index: int) -> int:
    with transaction(ctx.sessions) as session:
        esim_id = list_esims(session, who.operator_id, who.id)[index].esim.id
        requested = service.request_cancellation(session, ctx, who, esim_id, reason="other")
        return requested.cancellation.id


def failing_request(ctx: Context, who: Customer) -> None:
    with transaction(ctx.sessions) as session:
        esim_id = list_esims(session, who.operator_id, who.id)[0].esim.id
        service.request_cancellation(session, ctx, who, esim_id, reason="other")
        raise RuntimeError("the request failed after queueing the sweep")


def status(ctx: Context, cancellation_id: int) -> CancellationStatus:
    with transaction(ctx.sessions) as session:
        cancellation = session.get(Cancellation, cancellation_id)
        assert cancellation is not None
        return cancellation.status


def sweeps(ctx: Context) -> int:
    with transaction(ctx.sessions) as session:
        query = select(func.count()).select_from(Job).where(Job.kind == EXPIRE_DUE_JOB)
        return int(session.scalar(query) or 0)


def test_the_requests_of_one_minute_queue_one_sweep_and_only_the_first_inserts_it(
    ctx: Context,
) -> None:
    anna = customer(ctx, "mts", "+79160000001")
    with sent_statements(ctx.engine, starting=("INSERT INTO jobs",)) as inserts:
        request(ctx, anna, 0)
        request(ctx, anna, 1)
    assert len(inserts) == 1 and sweeps(ctx) == 1


def test_the_sweep_expires_exactly_the_requests_past_their_window(
    ctx: Context, clock: FrozenClock
) -> None:
    anna = customer(ctx, "mts", "+79160000001")
    old = request(ctx, anna, 0)
    clock.advance(timedelta(minutes=20))
    recent = request(ctx, anna, 1)
    assert sweeps(ctx) == 2  # their windows end in different minutes
    clock.advance(timedelta(minutes=11))  # the first window ended a minute ago
    build_worker(ctx).run_until_idle()
    assert status(ctx, old) is CancellationStatus.EXPIRED
    assert status(ctx, recent) is CancellationStatus.AWAITING_VERIFICATION
    clock.advance(timedelta(minutes=20))
    build_worker(ctx).run_until_idle()
    assert status(ctx, recent) is CancellationStatus.EXPIRED


def test_a_request_that_rolled_back_leaves_no_sweep_remembered(ctx: Context) -> None:
    anna = customer(ctx, "mts", "+79160000001")
    with pytest.raises(RuntimeError):
        failing_request(ctx, anna)
    assert sweeps(ctx) == 0
    request(ctx, anna, 0)
    assert sweeps(ctx) == 1


def test_the_sweep_of_a_window_is_the_next_whole_minute(ctx: Context) -> None:
    now = ctx.clock.now().replace(second=0, microsecond=0)
    assert sweep_after(now) == now
    assert sweep_after(now + timedelta(seconds=1)) == now + timedelta(minutes=1)


def expired_rows(ctx: Context, cancellation_id: int) -> int:
    with transaction(ctx.sessions) as session:
        query = (
            select(func.count())
            .select_from(CancellationTransition)
            .where(
                CancellationTransition.cancellation_id == cancellation_id,
                CancellationTransition.to_status == CancellationStatus.EXPIRED,
            )
        )
        return int(session.scalar(query) or 0)


def moved_behind_its_back(session: Session, cancellation_id: int, to: CancellationStatus) -> None:
    """What another transaction did meanwhile, unseen by the session's loaded object."""
    session.execute(
        update(Cancellation)
        .where(Cancellation.id == cancellation_id)
        .values(status=to)
        .execution_options(synchronize_session=False)
    )


def test_expiring_a_request_that_moved_on_meanwhile_changes_nothing(ctx: Context) -> None:
    """The sweep read the request as still awaiting; before its UPDATE, a verification (or
    another sweep) moved it on and committed. The guarded UPDATE then matches nothing: no
    overwritten status, no second history row."""
    anna = customer(ctx, "mts", "+79160000001")
    cancellation_id = request(ctx, anna, 0)
    with transaction(ctx.sessions) as session:
        seen = session.get(Cancellation, cancellation_id)
        assert seen is not None and seen.status is CancellationStatus.AWAITING_VERIFICATION
        moved_behind_its_back(session, cancellation_id, CancellationStatus.SCHEDULED)
        service.expire(session, ctx, cancellation_id)
    assert status(ctx, cancellation_id) is CancellationStatus.SCHEDULED
    assert expired_rows(ctx, cancellation_id) == 0


def test_a_late_verification_after_the_sweep_says_expired_and_writes_no_second_row(
    ctx: Context, clock: FrozenClock
) -> None:
    anna = customer(ctx, "mts", "+79160000001")
    cancellation_id = request(ctx, anna, 0)
    clock.advance(timedelta(minutes=31))  # past the 30-minute window
    with transaction(ctx.sessions) as session:
        seen = session.get(Cancellation, cancellation_id)
        assert seen is not None and seen.status is CancellationStatus.AWAITING_VERIFICATION
        moved_behind_its_back(session, cancellation_id, CancellationStatus.EXPIRED)  # the sweep
        with pytest.raises(CancellationExpiredError):
            service._check_awaiting(session, ctx, seen, clock.now())
    assert expired_rows(ctx, cancellation_id) == 0  # the sweep's row is the only one
