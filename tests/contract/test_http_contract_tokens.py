"""The generic HTTP contracts (docs/http-contracts.md) carry the operator's bearer token.

A scripted service on httpx's MockTransport records what reached it; the gateways are the ones
the factory builds from ESIMCARE_* settings, so the wiring from the environment is tested too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from esimcare.config import Integrations, Mode, Settings
from esimcare.integrations import factory
from esimcare.integrations.factory import Gateways, build_gateways
from esimcare.integrations.payments.interface import PayoutRoute
from esimcare.kit.clock import FrozenClock
from esimcare.kit.money import Money
from esimcare.sandbox.store import EmulatorStore

TOKENS = {
    "ESIMCARE_NETWORK_TOKEN": "network-token-never-logged",
    "ESIMCARE_SMS_TOKEN": "sms-token-never-logged",
    "ESIMCARE_PAYMENTS_TOKEN": "payments-token-never-logged",
}
HTTP_EVERYWHERE = {
    "ESIMCARE_NETWORK": "http",
    "ESIMCARE_NETWORK_URL": "https://hss.example",
    "ESIMCARE_SMS": "http",
    "ESIMCARE_SMS_URL": "https://sms.example",
    "ESIMCARE_PAYMENTS": "http",
    "ESIMCARE_PAYMENTS_URL": "https://pay.example",
    "ESIMCARE_EMAIL": "smtp",
    "ESIMCARE_SMTP_HOST": "smtp.example",
}


def answer(request: httpx.Request) -> httpx.Response:
    """Just enough of each contract's success answer."""
    if request.url.host == "sms.example":
        return httpx.Response(201, json={"id": "sms-1"})
    if request.url.host == "pay.example":
        paid = {"amount": "350.00", "currency": "RUB"}
        return httpx.Response(201, json={"reference": "po_1", "amount": paid})
    return httpx.Response(200, json={"imsi": "001010000000001", "state": "barred"})


@pytest.fixture
def received(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    """Every request the factory's shared client sends, answered by ``answer``."""
    requests: list[httpx.Request] = []

    def recorded(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return answer(request)

    transport = httpx.MockTransport(recorded)
    monkeypatch.setattr(
        factory, "make_http_client", lambda ca_file="": httpx.Client(transport=transport)
    )
    return requests


@pytest.fixture
def build_from_env(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    emulator_store: EmulatorStore,
    clock: FrozenClock,
) -> Iterator[Callable[[dict[str, str]], Gateways]]:
    """Production gateways from these ESIMCARE_* variables, as the process would build them."""
    built: list[Gateways] = []

    def build(env: dict[str, str]) -> Gateways:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = Settings.from_env(data_dir=tmp_path).with_changes(mode=Mode.PRODUCTION)
        built.append(build_gateways(settings, emulator_store, clock))
        return built[-1]

    yield build
    for gateways in built:
        gateways.close()


def use_every_contract(gateways: Gateways) -> None:
    gateways.network.bar(imsi="001010000000001", msisdn="+79161234567", request_id="r-bar")
    gateways.sms.send(to="+79161234567", body="code 123456", message_key="otp:1:a")
    gateways.payouts.payout(
        idempotency_key="esimcare-refund-mts-C-1",
        amount=Money(35000, "RUB"),
        route=PayoutRoute.CARD,
        destination="card **** 4242",
        description="refund C-1",
    )


def test_each_contract_carries_its_own_bearer_token(
    build_from_env: Callable[[dict[str, str]], Gateways], received: list[httpx.Request]
) -> None:
    use_every_contract(build_from_env({**HTTP_EVERYWHERE, **TOKENS}))
    assert [(r.url.host, r.headers.get("Authorization")) for r in received] == [
        ("hss.example", "Bearer network-token-never-logged"),
        ("sms.example", "Bearer sms-token-never-logged"),
        ("pay.example", "Bearer payments-token-never-logged"),
    ]
    assert received[2].headers["Idempotency-Key"] == "esimcare-refund-mts-C-1"


def test_without_a_token_no_authorization_header_is_sent(
    build_from_env: Callable[[dict[str, str]], Gateways], received: list[httpx.Request]
) -> None:
    use_every_contract(build_from_env(HTTP_EVERYWHERE))
    assert [r.headers.get("Authorization") for r in received] == [None, None, None]


def test_the_tokens_are_never_in_the_settings_repr() -> None:
    config = Integrations(network_token="n-secret", sms_token="s-secret", payments_token="p-secret")
    assert not any(secret in repr(config) for secret in ("n-secret", "s-secret", "p-secret"))
