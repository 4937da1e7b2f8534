"""PayoutGateway contract: the payout ledger and the HTTP client behave the same."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from esimcare.integrations.errors import PermanentIntegrationError, TransientIntegrationError
from esimcare.integrations.payments.http_client import HttpPayoutGateway
from esimcare.integrations.payments.interface import (
    PayoutGateway,
    PayoutReceipt,
    PayoutRoute,
    PayoutStatus,
)
from esimcare.integrations.payments.wire import money_from_json
from esimcare.kit.clock import FrozenClock
from esimcare.kit.money import Money
from esimcare.sandbox.payout_app import create_app
from esimcare.sandbox.payout_ledger import PayoutLedger
from esimcare.sandbox.store import EmulatorStore

ServeAsgi = Callable[..., str]
EUR_350 = Money(35000, "EUR")
CARD = "card_tok_4242"


@dataclass
class Payments:
    gateway: PayoutGateway
    ledger: PayoutLedger

    def pay(
        self,
        key: str = "refund-cancellation-1",
        amount: Money = EUR_350,
        destination: str = CARD,
        route: PayoutRoute = PayoutRoute.CARD,
    ) -> PayoutReceipt:
        return self.gateway.payout(
            idempotency_key=key,
            amount=amount,
            route=route,
            destination=destination,
            description="Refund for cancelled plan",
        )


@pytest.fixture(params=["emulator", "http"])
def payments(
    request: pytest.FixtureRequest,
    emulator_store: EmulatorStore,
    clock: FrozenClock,
    serve_asgi: ServeAsgi,
    http_client: httpx.Client,
) -> Payments:
    ledger = PayoutLedger(emulator_store, clock)
    if request.param == "emulator":
        return Payments(ledger, ledger)
    return Payments(HttpPayoutGateway(serve_asgi(create_app(ledger)), http_client), ledger)


def test_a_new_payout_returns_a_receipt_for_the_amount(payments: Payments) -> None:
    receipt = payments.pay()
    assert receipt.amount == EUR_350
    assert receipt.reference
    assert not receipt.replayed


def test_the_ledger_records_the_payout_at_the_clock_time(
    payments: Payments, clock: FrozenClock
) -> None:
    receipt = payments.pay()
    [payout] = payments.ledger.payouts()
    assert (payout.reference, payout.amount, payout.route) == (
        receipt.reference,
        EUR_350,
        PayoutRoute.CARD,
    )
    assert payout.destination == CARD
    assert payout.created_at == clock.now()


def test_the_same_key_and_payout_replays_the_first_receipt_without_paying_twice(
    payments: Payments,
) -> None:
    first = payments.pay()
    again = payments.pay()
    assert again == PayoutReceipt(first.reference, EUR_350, replayed=True)
    assert len(payments.ledger.payouts()) == 1


def test_different_keys_pay_separately(payments: Payments) -> None:
    first, second = payments.pay("key-1"), payments.pay("key-2")
    assert first.reference != second.reference
    assert len(payments.ledger.payouts()) == 2


@pytest.mark.parametrize(
    "change",
    [
        {"amount": Money(35001, "EUR")},
        {"amount": Money(35000, "USD")},
        {"destination": "card_tok_other"},
        {"route": PayoutRoute.BANK_ACCOUNT},
    ],
    ids=["amount", "currency", "destination", "route"],
)
def test_the_same_key_for_another_payout_is_refused(
    payments: Payments, change: dict[str, object]
) -> None:
    payments.pay()
    with pytest.raises(PermanentIntegrationError) as refused:
        payments.pay(**change)  # type: ignore[arg-type]
    assert refused.value.code == "idempotency-mismatch"
    assert len(payments.ledger.payouts()) == 1


@pytest.mark.parametrize("minor", [0, -100])
def test_a_payout_of_zero_or_less_is_refused(payments: Payments, minor: int) -> None:
    with pytest.raises(PermanentIntegrationError) as refused:
        payments.pay(amount=Money(minor, "EUR"))
    assert refused.value.code == "invalid-amount"
    assert payments.ledger.payouts() == []


def test_a_payout_without_a_destination_is_refused(payments: Payments) -> None:
    with pytest.raises(PermanentIntegrationError):
        payments.pay(destination=" ")


def test_a_payout_without_an_idempotency_key_is_refused(payments: Payments) -> None:
    with pytest.raises(PermanentIntegrationError):
        payments.pay(key="")


@pytest.mark.parametrize(
    "amount", [Money(1500, "JPY"), Money(12345, "BHD"), Money(1, "EUR")], ids=str
)
def test_amounts_keep_their_exact_minor_units_in_any_currency(
    payments: Payments, amount: Money
) -> None:
    assert payments.pay(amount=amount).amount == amount


def test_an_injected_fault_is_transient_and_the_retry_pays_once(payments: Payments) -> None:
    payments.ledger.fail_next(1)
    with pytest.raises(TransientIntegrationError):
        payments.pay()
    assert payments.ledger.payouts() == []
    assert not payments.pay().replayed
    assert payments.pay().replayed
    assert len(payments.ledger.payouts()) == 1


def test_an_injected_refusal_is_permanent(payments: Payments) -> None:
    payments.ledger.fail_next(1, transient=False)
    with pytest.raises(PermanentIntegrationError):
        payments.pay()


def test_a_closed_port_is_a_transient_failure(
    closed_port_url: str, http_client: httpx.Client
) -> None:
    gateway = HttpPayoutGateway(closed_port_url, http_client)
    with pytest.raises(TransientIntegrationError):
        Payments(gateway, ledger=None).pay()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [
        {"amount": "1.005", "currency": "EUR"},
        {"amount": 3.5, "currency": "EUR"},
        {"amount": "12", "currency": "eur"},
        {"amount": "NaN", "currency": "EUR"},
        {"amount": "abc", "currency": "EUR"},
        "350.00 EUR",
    ],
)
def test_an_amount_that_is_not_exact_minor_units_is_rejected_on_the_wire(data: object) -> None:
    with pytest.raises(ValueError, match=r"."):
        money_from_json(data)


def test_a_wire_amount_becomes_integer_minor_units() -> None:
    assert money_from_json({"amount": "350.00", "currency": "EUR"}) == EUR_350


def test_a_paid_payout_reads_back_as_succeeded(payments: Payments) -> None:
    receipt = payments.pay()
    checked = payments.gateway.check_payout(reference=receipt.reference)
    assert (checked.reference, checked.amount, checked.status) == (
        receipt.reference,
        EUR_350,
        PayoutStatus.SUCCEEDED,
    )


def test_checking_an_unknown_payout_is_a_permanent_failure(payments: Payments) -> None:
    with pytest.raises(PermanentIntegrationError):
        payments.gateway.check_payout(reference="po_unknown")


def test_a_receipt_for_another_amount_than_asked_is_refused_not_booked() -> None:
    def provider(request: httpx.Request) -> httpx.Response:
        short = {"reference": "po_1", "amount": {"amount": "300.00", "currency": "EUR"}}
        return httpx.Response(201, json=short)

    with httpx.Client(transport=httpx.MockTransport(provider)) as client:
        gateway = HttpPayoutGateway("https://payouts.example", client)
        with pytest.raises(PermanentIntegrationError) as refused:
            Payments(gateway, ledger=None).pay()  # type: ignore[arg-type]
    assert refused.value.code == "amount-mismatch"
