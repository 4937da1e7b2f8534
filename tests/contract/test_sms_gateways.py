"""SmsGateway contract: the SMS outbox and the HTTP client behave the same."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest

from esimcare.integrations.errors import PermanentIntegrationError, TransientIntegrationError
from esimcare.integrations.sms.http_client import HttpSmsGateway
from esimcare.integrations.sms.interface import SmsGateway
from esimcare.kit.clock import FrozenClock
from esimcare.sandbox.sms_app import create_app
from esimcare.sandbox.sms_outbox import SmsOutbox
from esimcare.sandbox.store import EmulatorStore

ServeAsgi = Callable[..., str]
PHONE = "+4915112345678"


@dataclass
class Sms:
    gateway: SmsGateway
    outbox: SmsOutbox


@pytest.fixture(params=["emulator", "http"])
def sms(
    request: pytest.FixtureRequest,
    emulator_store: EmulatorStore,
    clock: FrozenClock,
    serve_asgi: ServeAsgi,
    http_client: httpx.Client,
) -> Sms:
    outbox = SmsOutbox(emulator_store, clock)
    if request.param == "emulator":
        return Sms(outbox, outbox)
    return Sms(HttpSmsGateway(serve_asgi(create_app(outbox)), http_client), outbox)


def test_a_sent_message_lands_in_the_outbox_under_its_id(sms: Sms, clock: FrozenClock) -> None:
    message_id = sms.gateway.send(to=PHONE, body="Your code is 123456", message_key="otp-1")
    [message] = sms.outbox.messages(PHONE)
    assert (message.id, message.channel, message.to) == (message_id, "sms", PHONE)
    assert message.body == "Your code is 123456"
    assert message.sent_at == clock.now()


def test_sending_the_same_message_key_again_returns_the_first_id_and_stores_once(
    sms: Sms,
) -> None:
    first = sms.gateway.send(to=PHONE, body="Your code is 123456", message_key="otp-1")
    again = sms.gateway.send(to=PHONE, body="Your code is 123456", message_key="otp-1")
    assert again == first
    assert len(sms.outbox.messages()) == 1


def test_messages_are_listed_newest_first_and_filtered_by_number(
    sms: Sms, clock: FrozenClock
) -> None:
    other = "+4915199999999"
    for index, to in enumerate([PHONE, other, PHONE]):
        sms.gateway.send(to=to, body=f"message {index}", message_key=f"key-{index}")
        clock.advance(timedelta(seconds=1))
    assert [m.body for m in sms.outbox.messages(PHONE)] == ["message 2", "message 0"]
    assert [m.body for m in sms.outbox.messages()] == ["message 2", "message 1", "message 0"]


@pytest.mark.parametrize("number", ["015112345678", "+49 151", "+12", "bob@example.org"])
def test_a_number_that_is_not_e164_is_refused(sms: Sms, number: str) -> None:
    with pytest.raises(PermanentIntegrationError) as refused:
        sms.gateway.send(to=number, body="hello", message_key="k")
    assert refused.value.code == "invalid-number"
    assert sms.outbox.messages() == []


def test_an_injected_fault_is_transient_and_the_retry_delivers_once(sms: Sms) -> None:
    sms.outbox.fail_next(1)
    with pytest.raises(TransientIntegrationError):
        sms.gateway.send(to=PHONE, body="hello", message_key="k")
    sms.gateway.send(to=PHONE, body="hello", message_key="k")
    assert len(sms.outbox.messages()) == 1


def test_an_injected_refusal_is_permanent(sms: Sms) -> None:
    sms.outbox.fail_next(1, transient=False)
    with pytest.raises(PermanentIntegrationError):
        sms.gateway.send(to=PHONE, body="hello", message_key="k")


def test_a_closed_port_is_a_transient_failure(
    closed_port_url: str, http_client: httpx.Client
) -> None:
    gateway = HttpSmsGateway(closed_port_url, http_client)
    with pytest.raises(TransientIntegrationError):
        gateway.send(to=PHONE, body="hello", message_key="k")
