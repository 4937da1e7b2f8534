"""YooKassaRefunds: the official YooKassa SDK against a loopback test double of the API.

The double (tests/yookassa_double.py) is not YooKassa; it implements the documented subset the
adapter uses. Nothing here leaves 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from yookassa import Configuration, Payment

from esimcare.billing.ledger import balance_of, post
from esimcare.billing.models import EntryKind, LedgerEntry, Refund, RefundPart, RefundPartStatus
from esimcare.cancellations.money_steps import REFUND_ON_ITS_WAY
from esimcare.cancellations.service import steps_of
from esimcare.cancellations.states import CancellationStatus, StepName, StepStatus
from esimcare.config import Integrations
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.esims.models import Esim
from esimcare.esims.service import list_esims
from esimcare.integrations.errors import PermanentIntegrationError, TransientIntegrationError
from esimcare.integrations.payments.interface import PayoutReceipt, PayoutRoute, PayoutStatus
from esimcare.integrations.payments.yookassa import YooKassaRefunds, YooKassaShop
from esimcare.kit.clock import FrozenClock
from esimcare.kit.money import Money
from esimcare.portal import texts
from esimcare.runtime import build_worker
from tests.conftest import MakeContext
from tests.integration.test_cancellation_workflow import load
from tests.support import customer, request_and_verify_mts
from tests.yookassa_double import SECRET_KEY, SHOP_ID, YooKassaDouble, running_double

RUB_350 = Money(35000, "RUB")


@pytest.fixture
def double(monkeypatch: pytest.MonkeyPatch) -> Iterator[YooKassaDouble]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # a proxy from the environment must not see this
    with running_double() as server:
        yield server


@pytest.fixture
def refunds(double: YooKassaDouble) -> YooKassaRefunds:
    return YooKassaRefunds(YooKassaShop(SHOP_ID, SECRET_KEY, api_url=double.api_url))


def paid(amount: str, key: str) -> str:
    """A payment at the double, made through the SDK like a shop's own checkout would."""
    body = {
        "amount": {"value": amount, "currency": "RUB"},
        "capture": True,
        "payment_method_id": "saved-card-4242",
        "description": "top-up",
    }
    payment = Payment.create(body, key)
    assert payment.status == "succeeded"
    return str(payment.id)


def refund(
    gateway: YooKassaRefunds,
    payment_id: str,
    key: str = "esimcare-refund-mts-C-1",
    amount: Money = RUB_350,
) -> PayoutReceipt:
    return gateway.payout(
        idempotency_key=key,
        amount=amount,
        route=PayoutRoute.CARD,
        destination="card **** 4242",
        description="refund C-1",
        payment_id=payment_id,
    )


def test_a_refund_goes_back_against_the_payment_and_succeeds(
    refunds: YooKassaRefunds, double: YooKassaDouble
) -> None:
    payment_id = paid("1000.00", "top-up-1")
    receipt = refund(refunds, payment_id)
    assert (receipt.amount, receipt.status) == (RUB_350, PayoutStatus.SUCCEEDED)
    [made] = double.refunds()
    assert (made["id"], made["payment_id"], made["amount"]) == (
        receipt.reference,
        payment_id,
        {"value": "350.00", "currency": "RUB"},
    )
    assert double.refund_posts() == ["esimcare-refund-mts-C-1"]


def test_a_retried_call_with_the_same_key_does_not_refund_twice(
    refunds: YooKassaRefunds, double: YooKassaDouble
) -> None:
    payment_id = paid("1000.00", "top-up-1")
    first = refund(refunds, payment_id)
    again = refund(refunds, payment_id)
    assert again.reference == first.reference
    assert len(double.refunds()) == 1
    assert double.refund_posts() == ["esimcare-refund-mts-C-1"] * 2


def test_an_answer_lost_in_a_500_is_retryable_and_the_retry_finds_the_same_refund(
    refunds: YooKassaRefunds, double: YooKassaDouble
) -> None:
    payment_id = paid("1000.00", "top-up-1")
    double.fail_next(500, after_work=True)
    with pytest.raises(TransientIntegrationError):
        refund(refunds, payment_id)
    receipt = refund(refunds, payment_id)
    [made] = double.refunds()
    assert made["id"] == receipt.reference


@pytest.mark.parametrize("status", [429, 500])
def test_overload_and_server_errors_are_retryable(
    refunds: YooKassaRefunds, double: YooKassaDouble, status: int
) -> None:
    payment_id = paid("1000.00", "top-up-1")
    double.fail_next(status)
    with pytest.raises(TransientIntegrationError):
        refund(refunds, payment_id)
    assert double.refunds() == []
    assert refund(refunds, payment_id).status is PayoutStatus.SUCCEEDED


def test_wrong_credentials_are_a_permanent_failure(double: YooKassaDouble) -> None:
    payment_id = paid_with_right_key(double)
    wrong = YooKassaRefunds(YooKassaShop(SHOP_ID, "not-the-key", api_url=double.api_url))
    with pytest.raises(PermanentIntegrationError) as refused:
        refund(wrong, payment_id)
    assert refused.value.code == "yookassa-invalid_credentials"
    assert "not-the-key" not in str(refused.value)
    assert double.refunds() == []


def paid_with_right_key(double: YooKassaDouble) -> str:
    YooKassaRefunds(YooKassaShop(SHOP_ID, SECRET_KEY, api_url=double.api_url))
    return paid("1000.00", "top-up-1")


def test_more_than_the_payment_is_a_permanent_invalid_request(
    refunds: YooKassaRefunds, double: YooKassaDouble
) -> None:
    payment_id = paid("100.00", "top-up-1")
    with pytest.raises(PermanentIntegrationError) as refused:
        refund(refunds, payment_id)
    assert refused.value.code == "yookassa-invalid_request"


def test_the_same_key_for_another_amount_is_refused(
    refunds: YooKassaRefunds, double: YooKassaDouble
) -> None:
    payment_id = paid("1000.00", "top-up-1")
    refund(refunds, payment_id)
    with pytest.raises(PermanentIntegrationError) as refused:
        refund(refunds, payment_id, amount=Money(100, "RUB"))
    assert refused.value.code == "yookassa-invalid_request"
    assert len(double.refunds()) == 1


def test_a_pending_refund_is_followed_until_it_succeeds(
    refunds: YooKassaRefunds, double: YooKassaDouble
) -> None:
    payment_id = paid("1000.00", "top-up-1")
    double.state.hold_refunds = True
    sent = refund(refunds, payment_id)
    assert sent.status is PayoutStatus.PENDING
    assert refunds.check_payout(reference=sent.reference).status is PayoutStatus.PENDING
    double.settle(sent.reference)
    checked = refunds.check_payout(reference=sent.reference)
    assert (checked.reference, checked.amount, checked.status) == (
        sent.reference,
        RUB_350,
        PayoutStatus.SUCCEEDED,
    )


def test_a_refund_the_provider_cancels_reads_as_canceled(
    refunds: YooKassaRefunds, double: YooKassaDouble
) -> None:
    double.state.hold_refunds = True
    sent = refund(refunds, paid("1000.00", "top-up-1"))
    double.settle(sent.reference, "canceled")
    assert refunds.check_payout(reference=sent.reference).status is PayoutStatus.CANCELED


def test_an_unknown_refund_id_is_a_permanent_not_found(refunds: YooKassaRefunds) -> None:
    with pytest.raises(PermanentIntegrationError) as refused:
        refunds.check_payout(reference="2f0a3b2e-000f-5000-8000-000000000000")
    assert refused.value.code == "yookassa-not_found"


def test_an_unreachable_api_is_retryable(closed_port_url: str) -> None:
    gateway = YooKassaRefunds(YooKassaShop(SHOP_ID, SECRET_KEY, api_url=closed_port_url + "/v3"))
    try:
        with pytest.raises(TransientIntegrationError):
            refund(gateway, "2f0a3b2e-000f-5000-8000-000000000000")
    finally:
        Configuration.configure(None, None)


@pytest.mark.parametrize(
    ("route", "payment_id", "code"),
    [
        (PayoutRoute.BANK_ACCOUNT, "2f0a3b2e-000f-5000-8000-000000000000", "route-not-supported"),
        (PayoutRoute.CARD, None, "no-payment-id"),
    ],
)
def test_a_refund_without_a_payment_to_go_back_to_is_refused_before_any_call(
    refunds: YooKassaRefunds,
    double: YooKassaDouble,
    route: PayoutRoute,
    payment_id: str | None,
    code: str,
) -> None:
    with pytest.raises(PermanentIntegrationError) as refused:
        refunds.payout(
            idempotency_key="k",
            amount=RUB_350,
            route=route,
            destination="40817810 **** 7301",
            description="refund",
            payment_id=payment_id,
        )
    assert refused.value.code == code
    assert double.refund_posts() == []


def test_the_secret_key_is_not_in_the_shop_settings_repr() -> None:
    assert SECRET_KEY not in repr(YooKassaShop(SHOP_ID, SECRET_KEY))


# A whole cancellation whose refund goes through the SDK to the double.


def drain(ctx: Context, rounds: int = 12) -> None:
    """Run every due job, moving the frozen clock on so waits and retries come due."""
    worker = build_worker(ctx, name="test-worker")
    for _ in range(rounds):
        worker.run_until_idle()
        assert isinstance(ctx.clock, FrozenClock)
        ctx.clock.advance(timedelta(minutes=10))


@pytest.fixture
def yookassa_ctx(make_context: MakeContext, double: YooKassaDouble) -> Context:
    """The demo with YooKassa for refunds; Anna's first eSIM was topped up by two payments:
    the seeded top-up (older) and 500.00 yesterday."""
    shop = {"yookassa_shop_id": SHOP_ID, "yookassa_secret_key": SECRET_KEY}
    integrations = Integrations(payments="yookassa", yookassa_api_url=double.api_url, **shop)
    ctx = make_context(integrations=integrations)
    anna = customer(ctx, "mts", "+79160000001")
    with transaction(ctx.sessions) as session:
        esim = list_esims(session, "mts", anna.id)[0].esim
        older = session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.esim_id == esim.id, LedgerEntry.kind == EntryKind.TOP_UP
            )
        ).one()
        older.provider_payment_id = paid(f"{older.cash_minor / 100:.2f}", "older")
        post(
            session,
            session.get(Esim, esim.id) or esim,
            kind=EntryKind.TOP_UP,
            cash=Money(50000, "RUB"),
            bonus=Money.zero("RUB"),
            description="top-up",
            now=ctx.clock.now() - timedelta(days=1),
            source="card **** 4242",
            provider_payment_id=paid("500.00", "newer"),
        )
    return ctx


def refund_parts(ctx: Context, cancellation_id: int) -> list[RefundPart]:
    with transaction(ctx.sessions) as session:
        refund = session.scalars(
            select(Refund).where(Refund.cancellation_id == cancellation_id)
        ).one()
        query = select(RefundPart).where(RefundPart.refund_id == refund.id)
        return list(session.scalars(query.order_by(RefundPart.position)))


def refund_step(ctx: Context, cancellation_id: int) -> tuple[StepStatus, str | None]:
    with transaction(ctx.sessions) as session:
        [step] = [s for s in steps_of(session, cancellation_id) if s.name is StepName.REFUND]
        return step.status, step.outcome


def test_a_balance_paid_by_two_payments_is_refunded_across_them_newest_first(
    yookassa_ctx: Context, double: YooKassaDouble
) -> None:
    cancellation_id, quote = request_and_verify_mts(yookassa_ctx)
    assert quote["refund"]["amount"] == "1667.50"
    drain(yookassa_ctx)
    newer, older = double.refunds()
    assert newer["amount"]["value"] == "500.00"
    assert older["amount"]["value"] == "1167.50"
    assert double.state.payments[newer["payment_id"]]["amount"]["value"] == "500.00"
    parts = refund_parts(yookassa_ctx, cancellation_id)
    key = parts[0].idempotency_key
    assert [p.idempotency_key for p in parts] == [key, f"{key}-2"]
    assert double.refund_posts() == [key, f"{key}-2"]
    assert [p.provider_reference for p in parts] == [newer["id"], older["id"]]
    cancellation, _esim = load(yookassa_ctx, cancellation_id)
    assert cancellation.status is CancellationStatus.COMPLETED
    with transaction(yookassa_ctx.sessions) as session:
        assert balance_of(session, cancellation.esim_id, "RUB").cash == Money.zero("RUB")


def test_a_pending_refund_keeps_the_step_on_its_way_until_the_provider_confirms(
    yookassa_ctx: Context, double: YooKassaDouble
) -> None:
    double.state.hold_refunds = True
    cancellation_id, _quote = request_and_verify_mts(yookassa_ctx)
    drain(yookassa_ctx)
    assert refund_step(yookassa_ctx, cancellation_id) == (StepStatus.PENDING, REFUND_ON_ITS_WAY)
    assert REFUND_ON_ITS_WAY in texts.STEP_OUTCOME
    assert [p.status for p in refund_parts(yookassa_ctx, cancellation_id)] == [
        RefundPartStatus.SENT
    ] * 2
    assert load(yookassa_ctx, cancellation_id)[0].status is CancellationStatus.PROCESSING
    for made in double.refunds():
        double.settle(made["id"])
    drain(yookassa_ctx)
    assert refund_step(yookassa_ctx, cancellation_id) == (StepStatus.DONE, "refunded")
    assert load(yookassa_ctx, cancellation_id)[0].status is CancellationStatus.COMPLETED
    assert len(double.refund_posts()) == 2  # followed by GET, never sent again


def test_a_refund_the_provider_cancels_fails_the_cancellation_for_staff(
    yookassa_ctx: Context, double: YooKassaDouble
) -> None:
    double.state.hold_refunds = True
    cancellation_id, _quote = request_and_verify_mts(yookassa_ctx)
    drain(yookassa_ctx, rounds=2)
    first = double.refunds()[0]
    double.settle(first["id"], "canceled")
    drain(yookassa_ctx)
    cancellation, _esim = load(yookassa_ctx, cancellation_id)
    assert cancellation.status is CancellationStatus.FAILED
    assert first["id"] in (cancellation.failure_reason or "")
