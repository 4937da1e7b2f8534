"""Configuration chooses each external system's implementation; unsafe choices fail loudly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from yookassa import Configuration

from esimcare.config import Integrations, Mode, Settings
from esimcare.integrations.email.smtp_client import SmtpEmailGateway
from esimcare.integrations.factory import Gateways, build_gateways
from esimcare.integrations.http import BearerToken
from esimcare.integrations.network.http_client import HttpNetworkGateway
from esimcare.integrations.network.osmo_hlr_ctrl import CtrlAddress, OsmoHlrCtrlGateway
from esimcare.integrations.payments.http_client import HttpPayoutGateway
from esimcare.integrations.payments.yookassa import YooKassaRefunds
from esimcare.integrations.sms.http_client import HttpSmsGateway
from esimcare.integrations.sms.smpp import SmppSmsGateway
from esimcare.kit.clock import FrozenClock
from esimcare.sandbox.email_outbox import EmailOutbox
from esimcare.sandbox.network_registry import NetworkRegistry
from esimcare.sandbox.payout_ledger import PayoutLedger
from esimcare.sandbox.sms_outbox import SmsOutbox
from esimcare.sandbox.stand_ins import StandIns
from esimcare.sandbox.store import EmulatorStore

Build = Callable[[Mode, Integrations], Gateways]
REAL = Integrations(
    sms="http",
    email="smtp",
    payments="http",
    network="http",
    sms_url="https://sms.invalid",
    payments_url="https://pay.invalid",
    network_url="https://hss.invalid",
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
        gateways = build_gateways(
            settings(tmp_path, mode, integrations), StandIns(emulator_store, clock), clock
        )
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


def test_osmo_hlr_is_chosen_with_its_ctrl_address(build: Build) -> None:
    chosen = replace(REAL, network="osmo-hlr", network_ctrl="10.0.0.7:4259")
    gateways = build(Mode.PRODUCTION, chosen)
    assert isinstance(gateways.network, OsmoHlrCtrlGateway)
    assert gateways.network.address == CtrlAddress("10.0.0.7", 4259)


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
        ({"network": "osmo-hlr"}, "ESIMCARE_NETWORK_CTRL is required"),
        ({"network": "osmo-hlr", "network_ctrl": "hlr:ctrl"}, "is not host or host:port"),
        ({"smtp_host": ""}, "ESIMCARE_SMTP_HOST is required"),
    ],
)
def test_an_unknown_choice_or_missing_address_is_refused(
    build: Build, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build(Mode.DEVELOPMENT, replace(REAL, **change))


YOOKASSA = replace(
    REAL,
    payments="yookassa",
    yookassa_shop_id="123456",
    yookassa_secret_key="live_secret_never_printed",
)


@pytest.fixture
def sdk_reset() -> Iterator[None]:
    yield
    Configuration.configure(None, None)  # the SDK's settings are process-wide


@pytest.mark.usefixtures("sdk_reset")
def test_yookassa_refunds_are_chosen_with_the_shop_credentials(build: Build) -> None:
    gateways = build(Mode.PRODUCTION, YOOKASSA)
    assert isinstance(gateways.payouts, YooKassaRefunds)
    assert Configuration.api_url == "https://api.yookassa.ru/v3"
    assert "live_secret_never_printed" not in repr(YOOKASSA)


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
        ({"yookassa_api_url": "http://api.yookassa.example/v3"}, "must be https://"),
        ({"smtp_user": "relay"}, "without ESIMCARE_SMTP_STARTTLS"),
        ({"sms": "http", "sms_url": "http://sms.example"}, "ESIMCARE_SMS_URL must be https://"),
        (
            {"payments": "http", "payments_url": "http://pay.example"},
            "ESIMCARE_PAYMENTS_URL must be https://",
        ),
        (
            {"network": "http", "network_url": "http://hss.example", "network_token": "t"},
            "ESIMCARE_NETWORK_URL must be https://",
        ),
    ],
)
def test_production_never_sends_credentials_in_the_clear(
    build: Build, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build(Mode.PRODUCTION, replace(YOOKASSA, **change))


@pytest.mark.usefixtures("sdk_reset")
def test_smtp_credentials_over_starttls_are_accepted_in_production(build: Build) -> None:
    secure = replace(YOOKASSA, smtp_user="relay", smtp_password="pw", smtp_starttls=True)
    assert isinstance(build(Mode.PRODUCTION, secure).email, SmtpEmailGateway)
    assert "smtp_password" not in repr(secure)


def test_yookassa_without_its_credentials_is_refused(build: Build) -> None:
    with pytest.raises(ValueError, match="ESIMCARE_YOOKASSA_SHOP_ID"):
        build(Mode.DEVELOPMENT, replace(YOOKASSA, yookassa_secret_key=""))


def test_the_smtp_and_yookassa_settings_are_read_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "ESIMCARE_SMTP_USER": "relay",
        "ESIMCARE_SMTP_PASSWORD": "smtp-secret",
        "ESIMCARE_SMTP_STARTTLS": "1",
        "ESIMCARE_EMAIL_FROM": "noreply@operator.example",
        "ESIMCARE_YOOKASSA_SHOP_ID": "123456",
        "ESIMCARE_YOOKASSA_SECRET_KEY": "yk-secret",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = Settings.from_env(data_dir=tmp_path).integrations
    assert (config.smtp_user, config.smtp_password, config.smtp_starttls) == (
        "relay",
        "smtp-secret",
        True,
    )
    assert (config.email_from, config.yookassa_shop_id) == ("noreply@operator.example", "123456")
    assert config.yookassa_secret_key == "yk-secret"
    assert "smtp-secret" not in repr(config) and "yk-secret" not in repr(config)


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


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"payments_url": "http://pay.invalid"}, "ESIMCARE_PAYMENTS_URL must be https://"),
        ({"sms_url": "http://sms.invalid"}, "ESIMCARE_SMS_URL must be https://"),
        ({"network_url": "http://hss.invalid"}, "ESIMCARE_NETWORK_URL must be https://"),
    ],
)
def test_production_refuses_plain_http_for_the_http_contracts(
    build: Build, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build(Mode.PRODUCTION, replace(REAL, **change))


def test_development_may_use_plain_http_for_a_local_stand_in(build: Build) -> None:
    local = replace(REAL, sms_url="http://127.0.0.1:9", payments_url="http://127.0.0.1:9")
    assert isinstance(build(Mode.DEVELOPMENT, local).sms, HttpSmsGateway)


def test_each_http_contract_sends_its_own_bearer_token(build: Build) -> None:
    seen: dict[str, str | None] = {}

    def provider(request: httpx.Request) -> httpx.Response:
        seen[request.url.host] = request.headers.get("Authorization")
        if request.url.host == "sms.invalid":
            return httpx.Response(201, json={"id": "m-1"})
        if request.url.host == "pay.invalid":
            return httpx.Response(200, json={"reference": "p-1", "amount": MONEY})
        return httpx.Response(200, json={"state": "active"})

    tokens = replace(REAL, sms_token="sms-t", payments_token="pay-t", network_token="")
    gateways = build(Mode.PRODUCTION, tokens)
    assert gateways.http_client is not None
    gateways.http_client._transport = httpx.MockTransport(provider)  # no network in tests
    gateways.sms.send(to="+79160000001", body="hi", message_key="k")
    gateways.payouts.check_payout(reference="p-1")
    gateways.network.state(imsi="250019990000001")
    assert seen == {
        "sms.invalid": "Bearer sms-t",
        "pay.invalid": "Bearer pay-t",
        "hss.invalid": None,  # none configured: none sent (a provider on a private network)
    }


MONEY = {"amount": "1.00", "currency": "EUR"}


def test_no_secret_appears_in_the_settings_repr(tmp_path: Path) -> None:
    secrets = replace(
        REAL, sms_token="sms-secret", payments_token="pay-secret", network_token="net-secret"
    )
    shown = repr(
        replace(settings(tmp_path, Mode.PRODUCTION, secrets), metrics_token="metrics-secret")
    )
    for secret in ("sms-secret", "pay-secret", "net-secret", "metrics-secret", "kkkkkkkk"):
        assert secret not in shown
    assert repr(BearerToken("sms-secret")) == "BearerToken(<hidden>)"


def test_a_secret_may_come_from_a_file_instead_of_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_file = tmp_path / "smpp-password"
    secret_file.write_text("from-file\n")
    monkeypatch.setenv("ESIMCARE_SMPP_PASSWORD_FILE", str(secret_file))
    monkeypatch.setenv("ESIMCARE_SMS_TOKEN", "from-env")
    config = Settings.from_env(data_dir=tmp_path).integrations
    assert (config.smpp_password, config.sms_token) == ("from-file", "from-env")
    monkeypatch.setenv("ESIMCARE_SMPP_PASSWORD", "also-set")
    with pytest.raises(ValueError, match="not both"):
        Settings.from_env(data_dir=tmp_path)
