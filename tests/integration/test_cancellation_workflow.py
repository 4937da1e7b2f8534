"""The cancellation workflow against the built-in emulators, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from esimcare.audit.service import verify_chain
from esimcare.billing.ledger import balance_of
from esimcare.billing.models import Bill, Refund, RefundStatus
from esimcare.cancellations import service
from esimcare.cancellations.models import Cancellation, NumberQuarantine
from esimcare.cancellations.states import CancellationStatus, StepStatus
from esimcare.context import Context
from esimcare.customers.models import Customer
from esimcare.db import transaction
from esimcare.errors import DebtOutstandingError, InvalidTransitionError
from esimcare.esims.models import Esim
from esimcare.esims.states import EsimStatus, ProfileState
from esimcare.integrations.network.interface import SubscriberState
from esimcare.integrations.smdp.states import SmdpProfileState
from esimcare.kit.clock import FrozenClock
from esimcare.kit.ids import Eid
from esimcare.notices.models import Notice
from esimcare.runtime import build_worker
from esimcare.sandbox.smdp_emulator.emulator import SmdpEmulator
from tests.support import customer, request_and_verify_mts

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture
def ctx(make_context, db_url: str, clock: FrozenClock) -> Context:  # type: ignore[no-untyped-def]
    return make_context(database_url=db_url, clock=clock)


def drain(ctx: Context, rounds: int = 12, step: timedelta = timedelta(minutes=10)) -> None:
    """Run every due job; move the frozen clock on so retries with backoff come due too."""
    worker = build_worker(ctx, name="test-worker")
    for _ in range(rounds):
        worker.run_until_idle()
        assert isinstance(ctx.clock, FrozenClock)
        ctx.clock.advance(step)


def load(ctx: Context, cancellation_id: int) -> tuple[Cancellation, Esim]:
    with transaction(ctx.sessions) as session:
        cancellation = session.get(Cancellation, cancellation_id)
        assert cancellation is not None
        esim = session.get(Esim, cancellation.esim_id)
        assert esim is not None
        return cancellation, esim


def steps(ctx: Context, cancellation_id: int) -> dict[str, tuple[StepStatus, int, str | None]]:
    with transaction(ctx.sessions) as session:
        return {
            s.name.value: (s.status, s.attempts, s.outcome)
            for s in service.steps_of(session, cancellation_id)
        }


def emulator(ctx: Context) -> SmdpEmulator:
    gateway = ctx.smdp_for("mts")
    assert isinstance(gateway, SmdpEmulator)
    return gateway


def test_an_installed_esim_is_cancelled_in_all_three_layers(ctx: Context) -> None:
    cancellation_id, quote = request_and_verify_mts(ctx, esim_index=0)
    drain(ctx)
    cancellation, esim = load(ctx, cancellation_id)
    assert cancellation.status is CancellationStatus.COMPLETED
    assert esim.status is EsimStatus.CANCELLED
    assert {name: s[0] for name, s in steps(ctx, cancellation_id).items()} == dict.fromkeys(
        ["final_bill", "profile", "network", "refund", "notice"], StepStatus.DONE
    )
    assert steps(ctx, cancellation_id)["profile"][2] == "delete_on_device"
    assert ctx.network.state(imsi=esim.imsi) is SubscriberState.REMOVED
    with transaction(ctx.sessions) as session:
        refund = session.scalar(select(Refund).where(Refund.cancellation_id == cancellation_id))
        bill = session.scalar(select(Bill).where(Bill.cancellation_id == cancellation_id))
        quarantine = session.scalar(
            select(NumberQuarantine).where(NumberQuarantine.cancellation_id == cancellation_id)
        )
        balance = balance_of(session, esim.id, "RUB")
        notices = session.scalar(select(func.count()).select_from(Notice))
        assert verify_chain(session, "mts") is None
    assert refund is not None and refund.status is RefundStatus.SUCCEEDED
    assert f"{refund.amount_minor / 100:.2f}" == quote["refund"]["amount"]
    assert bill is not None and f"{bill.total_minor / 100:.2f}" == quote["final_bill"]["amount"]
    # 22.5 days of 650.00 in November, plus 45.00 of roaming SMS, paid first from 200.00 bonus.
    assert quote["final_bill"]["amount"] == "532.50"
    assert quote["refund"]["amount"] == "1167.50"
    assert quarantine is not None and quarantine.until == cancellation.effective_at + timedelta(
        days=90
    )
    assert balance.cash.minor == 0 and balance.bonus.minor == 0
    assert notices == 4  # requested + completed, each by SMS and e-mail


def test_a_profile_never_downloaded_is_cancelled_at_the_smdp_with_cancel_order(
    ctx: Context,
) -> None:
    cancellation_id, _ = request_and_verify_mts(ctx, esim_index=1)
    drain(ctx)
    cancellation, esim = load(ctx, cancellation_id)
    assert cancellation.status is CancellationStatus.COMPLETED
    assert steps(ctx, cancellation_id)["profile"][2] == "cancelled_at_smdp"
    assert esim.profile_state is ProfileState.UNAVAILABLE
    profile = emulator(ctx).profile(esim.iccid)
    assert profile is not None and profile.state is SmdpProfileState.UNAVAILABLE
    assert [c.function.value for c in emulator(ctx).calls(esim.iccid)][-1] == "CancelOrder"


def test_a_profile_downloaded_after_the_quote_switches_to_the_installed_path(ctx: Context) -> None:
    cancellation_id, _ = request_and_verify_mts(ctx, esim_index=1)
    _, esim = load(ctx, cancellation_id)
    phone = Eid.from_body("890490320000000000000000009999").value
    emulator(ctx).download(emulator(ctx).activation_code(esim.iccid), phone)
    drain(ctx)
    cancellation, esim = load(ctx, cancellation_id)
    assert cancellation.status is CancellationStatus.COMPLETED
    assert steps(ctx, cancellation_id)["profile"][2] == "delete_on_device"
    assert esim.profile_state is ProfileState.DOWNLOADED


def test_a_cancel_order_whose_answer_was_lost_is_reconciled_not_failed(ctx: Context) -> None:
    cancellation_id, _ = request_and_verify_mts(ctx, esim_index=1)
    emulator(ctx).fail_next(1, response_lost=True)
    drain(ctx)
    cancellation, esim = load(ctx, cancellation_id)
    assert cancellation.status is CancellationStatus.COMPLETED
    assert steps(ctx, cancellation_id)["profile"][1:] == (2, "cancelled_at_smdp_reconciled")
    assert esim.profile_state is ProfileState.UNAVAILABLE


def test_transient_smdp_failures_are_retried_until_they_pass(ctx: Context) -> None:
    cancellation_id, _ = request_and_verify_mts(ctx, esim_index=1)
    emulator(ctx).fail_next(3)
    drain(ctx)
    assert load(ctx, cancellation_id)[0].status is CancellationStatus.COMPLETED
    assert steps(ctx, cancellation_id)["profile"][1] == 4


def test_a_step_that_keeps_failing_leaves_the_cancellation_failed_with_its_reason(
    ctx: Context,
) -> None:
    cancellation_id, _ = request_and_verify_mts(ctx, esim_index=0)
    ctx.network.fail_next(100)  # type: ignore[attr-defined]
    drain(ctx, rounds=20, step=timedelta(minutes=30))
    cancellation, esim = load(ctx, cancellation_id)
    assert cancellation.status is CancellationStatus.FAILED
    assert "Transient" in (cancellation.failure_reason or "")
    network = steps(ctx, cancellation_id)["network"]
    assert network[0] is StepStatus.FAILED and network[1] == ctx.settings.job_max_attempts
    assert esim.status is EsimStatus.CANCELLATION_PENDING
    with transaction(ctx.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Refund)) == 0


def test_a_grace_period_delays_the_work_and_undo_stops_it(ctx: Context, clock: FrozenClock) -> None:
    li = customer(ctx, "beeline", "+79030000001")
    with transaction(ctx.sessions) as session:
        esim_id = session.scalar(select(Esim.id).where(Esim.customer_id == li.id))
        assert esim_id is not None
        requested = service.request_cancellation(
            session, ctx, li, esim_id, reason="not_needed", refund_to="+79031112233"
        )
        cancellation_id = requested.cancellation.id
    with transaction(ctx.sessions) as session:
        fresh = session.get(Customer, li.id)
        assert fresh is not None
        service.verify(
            session, ctx, fresh, cancellation_id, method="password", secret="demo-password-1"
        )
    build_worker(ctx).run_until_idle()
    assert load(ctx, cancellation_id)[0].status is CancellationStatus.SCHEDULED
    clock.advance(timedelta(hours=1))
    with transaction(ctx.sessions) as session:
        cancellation = session.get(Cancellation, cancellation_id)
        assert cancellation is not None
        service.undo(session, ctx, cancellation, actor=f"customer:{li.id}")
    clock.advance(timedelta(hours=24))
    build_worker(ctx).run_until_idle()
    cancellation, esim = load(ctx, cancellation_id)
    assert cancellation.status is CancellationStatus.UNDONE
    assert esim.status is EsimStatus.ACTIVE
    assert ctx.network.state(imsi=esim.imsi) is SubscriberState.ACTIVE
    with transaction(ctx.sessions) as session, pytest.raises(InvalidTransitionError):
        service.undo(session, ctx, cancellation, actor="customer")


def test_after_the_grace_period_the_cancellation_runs_by_itself(
    ctx: Context, clock: FrozenClock
) -> None:
    li = customer(ctx, "beeline", "+79030000001")
    with transaction(ctx.sessions) as session:
        esim_id = session.scalar(select(Esim.id).where(Esim.customer_id == li.id))
        assert esim_id is not None
        requested = service.request_cancellation(
            session, ctx, li, esim_id, reason="too_expensive", refund_to="+79031112233"
        )
    with transaction(ctx.sessions) as session:
        fresh = session.get(Customer, li.id)
        assert fresh is not None
        service.verify(
            session,
            ctx,
            fresh,
            requested.cancellation.id,
            method="password",
            secret="demo-password-1",
        )
    clock.advance(timedelta(hours=24, seconds=1))
    drain(ctx, rounds=2)
    cancellation, _ = load(ctx, requested.cancellation.id)
    assert cancellation.status is CancellationStatus.COMPLETED
    with transaction(ctx.sessions) as session:
        refund = session.scalar(select(Refund))
        assert refund is not None
        assert refund.destination == "+79031112233"
        assert f"{refund.amount_minor / 100:.2f}" == requested.quote.to_json()["refund"]["amount"]


def test_an_unverified_request_expires(ctx: Context, clock: FrozenClock) -> None:
    anna = customer(ctx, "mts", "+79160000001")
    with transaction(ctx.sessions) as session:
        esim_id = session.scalar(select(Esim.id).where(Esim.customer_id == anna.id))
        assert esim_id is not None
        requested = service.request_cancellation(session, ctx, anna, esim_id, reason="other")
    clock.advance(timedelta(minutes=31))
    build_worker(ctx).run_until_idle()
    assert load(ctx, requested.cancellation.id)[0].status is CancellationStatus.EXPIRED


def test_a_debt_blocks_cancellation_where_the_operator_says_so(ctx: Context) -> None:
    viktor = customer(ctx, "megafon", "+79250000001")
    with transaction(ctx.sessions) as session:
        esim_id = session.scalar(select(Esim.id).where(Esim.customer_id == viktor.id))
        assert esim_id is not None
        with pytest.raises(DebtOutstandingError) as raised:
            service.request_cancellation(session, ctx, viktor, esim_id, reason="not_needed")
    assert raised.value.extra["debt"] == {"amount": "250.00", "currency": "RUB"}
    with transaction(ctx.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Cancellation)) == 0
