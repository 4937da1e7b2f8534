"""The closing notice of an uninterrupted run reads nothing of its own: the customer comes
with the workflow's first load, the bill and the refund from the steps that wrote them, and
the profile state from the eSIM's close in the same transaction, so it is as fresh as a read."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from esimcare.billing.models import Bill, Refund
from esimcare.cancellations.models import Cancellation
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.esims.models import Esim
from esimcare.esims.states import ProfileState
from esimcare.integrations.payments.interface import PayoutGateway, PayoutReceipt
from esimcare.kit.clock import FrozenClock
from esimcare.kit.local_time import babel_locale
from esimcare.kit.money import Money
from esimcare.notices.models import Notice
from esimcare.notices.templates import render
from tests.support import drain_worker, request_and_verify_mts, sent_statements

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture
def ctx(make_context, db_url: str, clock: FrozenClock) -> Context:  # type: ignore[no-untyped-def]
    return make_context(database_url=db_url, clock=clock)


def completed_notices(ctx: Context, cancellation_id: int) -> list[str]:
    with transaction(ctx.sessions) as session:
        key = f"cancellation:{cancellation_id}:completed"
        return list(session.scalars(select(Notice.body).where(Notice.dedupe_key.startswith(key))))


class ProfileDeletedDuringPayout:
    """A payout gateway during whose call a notification says the profile left the phone
    (committed between the transaction that began the refund and the one that records it)."""

    def __init__(self, ctx: Context, inner: PayoutGateway, esim_id: int) -> None:
        self.ctx, self.inner, self.esim_id = ctx, inner, esim_id

    def payout(self, **call: Any) -> PayoutReceipt:
        with transaction(self.ctx.sessions) as session:
            session.execute(update(Esim).where(Esim.id == self.esim_id)
                            .values(profile_state=ProfileState.DELETED))  # fmt: skip
        return self.inner.payout(**call)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_an_uninterrupted_run_sends_the_closing_notice_without_reading_its_facts(
    ctx: Context,
) -> None:
    cancellation_id, quote = request_and_verify_mts(ctx, esim_index=0)
    with sent_statements(ctx.engine) as seen:
        drain_worker(ctx, 6)
    assert not [s for s in seen if s.startswith("SELECT customers.")], seen
    bodies = completed_notices(ctx, cancellation_id)
    assert len(bodies) == 2  # SMS and e-mail
    with transaction(ctx.sessions) as session:
        bill = session.scalar(select(Bill).where(Bill.cancellation_id == cancellation_id))
        refund = session.scalar(select(Refund).where(Refund.cancellation_id == cancellation_id))
    assert bill is not None and refund is not None
    locale = babel_locale("ru")
    for body in bodies:  # as written by the steps of this run
        assert Money(bill.total_minor, bill.currency).display(locale) in body
        assert Money(refund.amount_minor, refund.currency).display(locale) in body
    assert (
        refund.amount_minor == 116750
        and f"{refund.amount_minor / 100:.2f}" == quote["refund"]["amount"]
    )
    hint = render("delete_on_device_hint", "ru")[1]
    assert all(hint in body for body in bodies)  # installed on the phone, as the step found


def test_the_closing_notice_decides_on_the_profile_state_as_it_is_at_the_close(
    ctx: Context,
) -> None:
    cancellation_id, _ = request_and_verify_mts(ctx, esim_index=0)
    with transaction(ctx.sessions) as session:
        cancellation = session.get(Cancellation, cancellation_id)
        assert cancellation is not None
        esim_id = cancellation.esim_id
    ctx.payouts = ProfileDeletedDuringPayout(ctx, ctx.payouts, esim_id)  # type: ignore[assignment]
    drain_worker(ctx, 6)
    bodies = completed_notices(ctx, cancellation_id)
    assert len(bodies) == 2
    hint = render("delete_on_device_hint", "ru")[1]
    assert not [body for body in bodies if hint in body]  # deleted since: no hint
    with transaction(ctx.sessions) as session:
        esim = session.get(Esim, esim_id)
        assert esim is not None and esim.profile_state is ProfileState.DELETED
