"""Configuration chooses each external system's implementation; unsafe choices fail loudly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from esimcare.config import Integrations, Mode, Settings
from esimcare.integrations.email.outbox import EmailOutbox
from esimcare.integrations.email.smtp_client import SmtpEmailGateway
from esimcare.integrations.emulator_db import EmulatorStore
from esimcare.integrations.factory import Gateways, build_gateways
from esimcare.integrations.network.http_client import HttpNetworkGateway
from esimcare.integrations.network.registry import NetworkRegistry
from esimcare.integrations.payments.http_client import HttpPayoutGateway
from esimcare.integrations.payments.payout_ledger import PayoutLedger
from esimcare.integrations.sms.http_client import HttpSmsGateway
from esimcare.integrations.sms.outbox import SmsOutbox
from esimcare.integrations.sms.smpp import SmppSmsGateway
from esimcare.kit.clock import FrozenClock

Build = Callable[[Mode, Integrations], Gateways]
REAL = Integrations(
    sms="http",
    email="smtp",
    payments="http",
    network="http",
    sms_url="http://sms.invalid",
    payments_url="http://pay.invalid",
    network_url="http://hss.invalid",
    smtp_host="smtp.invalid",
)


def settings(tmp_path: Path, mode: Mode, integrations: Integrations) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path}/esimcare.db",
        mode=mode,
        secret_key=b"k" * 32,
        operators_file=tmp_path / "operators.toml",
        integrations=integrations,
    )


@pytest.fixture
def build(tmp_path: Path, emulator_store: EmulatorStore, clock: FrozenClock) -> Iterator[Build]:
    built: list[Gateways] = []

    def make(mode: Mode, integrations: Integrations) -> Gateways:
        gateways = build_gateways(settings(tmp_path, mode, integrations), emulator_store, clock)
        built.append(gateways)
        return gateways

    yield make
    for gateways in built:
        gateways.close()


def test_development_defaults_are_the_built_in_emulators(build: Build) -> None:
    gateways = build(Mode.DEVELOPMENT, Integrations())
    assert isinstance(gateways.network, NetworkRegistry)
    assert isinstance(gateways.payouts, PayoutLedger)
    assert isinstance(gateways.sms, SmsOutbox)
    assert isinstance(gateways.email, EmailOutbox)
    assert gateways.http_client is None


def test_real_choices_share_one_configured_http_client(build: Build) -> None:
    gateways = build(Mode.PRODUCTION, REAL)
    assert isinstance(gateways.network, HttpNetworkGateway)
    assert isinstance(gateways.payouts, HttpPayoutGateway)
    assert isinstance(gateways.sms, HttpSmsGateway)
    assert isinstance(gateways.email, SmtpEmailGateway)
    assert gateways.http_client is not None
    assert gateways.http_client.headers["User-Agent"] == "esimcare/0.1"
    assert gateways.http_client.timeout.connect == 5.0
    assert gateways.http_client.timeout.read == 10.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sms": "outbox"}, "the SMS outbox is a development stand-in"),
        ({"email": "outbox"}, "the e-mail outbox is a development stand-in"),
    ],
)
def test_production_refuses_the_development_outboxes(
    build: Build, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build(Mode.PRODUCTION, replace(REAL, **change))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"network": "carrier-pigeon"}, "unknown ESIMCARE_NETWORK"),
        ({"payments": "cash"}, "unknown ESIMCARE_PAYMENTS"),
        ({"sms": "fax"}, "unknown ESIMCARE_SMS"),
        ({"email": "telegram"}, "unknown ESIMCARE_EMAIL"),
        ({"network_url": ""}, "ESIMCARE_NETWORK_URL is required"),
        ({"smtp_host": ""}, "ESIMCARE_SMTP_HOST is required"),
    ],
)
def test_an_unknown_choice_or_missing_address_is_refused(
    build: Build, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build(Mode.DEVELOPMENT, replace(REAL, **change))


SMPP = replace(
    REAL,
    sms="smpp",
    smpp_host="smsc.invalid",
    smpp_system_id="esimcare",
    smpp_password="s3cr3t",
    smpp_sender="MegaTel",
)


def test_smpp_is_chosen_by_setting_and_connects_only_when_a_message_is_sent(
    build: Build,
) -> None:
    gateways = build(Mode.PRODUCTION, SMPP)
    assert isinstance(gateways.sms, SmppSmsGateway)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"smpp_password": ""}, "ESIMCARE_SMPP_PASSWORD required"),
        ({"smpp_host": "", "smpp_sender": ""}, "ESIMCARE_SMPP_HOST, ESIMCARE_SMPP_SENDER required"),
        ({"smpp_password": "too-long-pw"}, "at most 8 characters"),
        ({"smpp_sender": "Far Too Long Name"}, "an SMS sender is"),
    ],
)
def test_incomplete_or_invalid_smpp_settings_are_refused(
    build: Build, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build(Mode.PRODUCTION, replace(SMPP, **change))


def test_the_smpp_password_never_appears_in_the_settings_repr() -> None:
    assert "s3cr3t" not in repr(SMPP)
