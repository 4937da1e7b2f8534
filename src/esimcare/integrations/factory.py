"""Choose each external system's implementation from configuration.

Stand-ins (``esimcare.sandbox``) and real clients implement the same Protocols and pass the same
contract tests, so switching is a setting, never a code change. This is the only product module
that chooses between them, and it imports the sandbox only when a stand-in is chosen
(import-linter checks it). The stand-ins are refused outside development mode: in production
an outbox would swallow every one-time code and notice silently.

Each operator's SM-DP+ is its real one over ES2+ when its ``[smdp]`` table has a ``url``, else
the shared SM-DP+ emulator. Plain ``http://`` to a real SM-DP+ is refused outside development:
SGP.22 mandates TLS with mutual authentication on ES2+.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from esimcare.config import Integrations, Settings
from esimcare.integrations.email.interface import EmailGateway
from esimcare.integrations.email.smtp_client import SmtpEmailGateway
from esimcare.integrations.http import make_http_client
from esimcare.integrations.network.http_client import HttpNetworkGateway
from esimcare.integrations.network.interface import NetworkGateway
from esimcare.integrations.network.osmo_hlr_ctrl import CtrlAddress, OsmoHlrCtrlGateway
from esimcare.integrations.payments.http_client import HttpPayoutGateway
from esimcare.integrations.payments.interface import PayoutGateway
from esimcare.integrations.payments.yookassa import YooKassaRefunds, YooKassaShop
from esimcare.integrations.smdp.client_config import Es2PlusConfig
from esimcare.integrations.smdp.es2plus_client import Es2PlusClient
from esimcare.integrations.smdp.interface import SmdpGateway
from esimcare.integrations.sms.http_client import HttpSmsGateway
from esimcare.integrations.sms.interface import SmsGateway
from esimcare.integrations.sms.smpp import SmppSettings, SmppSmsGateway
from esimcare.kit.clock import Clock

if TYPE_CHECKING:
    from esimcare.sandbox.stand_ins import StandIns

# What each system is called when the sandbox's stand-in is chosen.
STAND_IN_CHOICES = {
    "network": "registry",
    "payments": "payout-ledger",
    "sms": "outbox",
    "email": "outbox",
}


@dataclass(frozen=True)
class Gateways:
    network: NetworkGateway
    payouts: PayoutGateway
    sms: SmsGateway
    email: EmailGateway
    http_client: httpx.Client | None = None

    def close(self) -> None:
        """Release the shared HTTP connections and the SMPP bind (call at shutdown)."""
        if self.http_client is not None:
            self.http_client.close()
        if isinstance(self.sms, SmppSmsGateway):
            self.sms.close()


def open_stand_ins(
    settings: Settings, smdp_tables: Mapping[str, Mapping[str, Any]], clock: Clock
) -> StandIns | None:
    """The sandbox's stand-ins when the configuration chooses any (development only), else
    None: a process on real systems only never loads the sandbox nor creates its database.
    ``smdp_tables``: each operator's ``[smdp]`` table (one without ``url``: the emulator)."""
    _check_production(settings)
    config = settings.integrations
    chosen = any(getattr(config, system) == choice for system, choice in STAND_IN_CHOICES.items())
    if not chosen and all(table.get("url") for table in smdp_tables.values()):
        return None
    from esimcare.sandbox.stand_ins import StandIns

    return StandIns.open(settings.emulator_database_url, clock)


def build_gateways(settings: Settings, stand_ins: StandIns | None, clock: Clock) -> Gateways:
    """Raise ValueError for an unknown choice, a missing URL or an outbox in production."""
    config = settings.integrations
    _check_production(settings)
    needs_http = "http" in (config.network, config.payments, config.sms)
    client = make_http_client(config.http_ca_file) if needs_http else None
    try:
        return Gateways(
            network=_network(config, stand_ins, client),
            payouts=_payouts(config, stand_ins, client),
            sms=_sms(config, stand_ins, client),
            email=_email(config, stand_ins, clock),
            http_client=client,
        )
    except ValueError:
        if client is not None:
            client.close()
        raise


def _check_production(settings: Settings) -> None:
    if settings.development:
        return
    if settings.integrations.sms == "outbox":
        raise ValueError(
            "the SMS outbox is a development stand-in; configure ESIMCARE_SMS=smpp "
            "(or http) for production"
        )
    if settings.integrations.email == "outbox":
        raise ValueError(
            "the e-mail outbox is a development stand-in; configure ESIMCARE_EMAIL=smtp "
            "and ESIMCARE_SMTP_HOST for production"
        )
    # A built-in payout ledger or network registry in production would report refunds paid
    # and lines switched off that never were.
    if settings.integrations.payments == "payout-ledger":
        raise ValueError(
            "the payout ledger is an emulator; configure ESIMCARE_PAYMENTS=yookassa (or http) "
            "for production (or ESIMCARE_MODE=development to try it)"
        )
    _check_transport(settings.integrations)
    if settings.integrations.network == "registry":
        raise ValueError(
            "the network registry is an emulator; configure ESIMCARE_NETWORK=osmo-hlr and "
            "ESIMCARE_NETWORK_CTRL (or ESIMCARE_NETWORK=http and ESIMCARE_NETWORK_URL) for "
            "production (or ESIMCARE_MODE=development to try it)"
        )


def _check_transport(config: Integrations) -> None:
    """Production never sends credentials, codes or refunds in the clear."""
    for system, choice, url in (
        ("SMS", config.sms, config.sms_url),
        ("PAYMENTS", config.payments, config.payments_url),
        ("NETWORK", config.network, config.network_url),
    ):
        if choice == "http" and not url.startswith("https://"):
            raise ValueError(
                f"ESIMCARE_{system}_URL must be https:// in production: SMS codes, refunds "
                "and subscriber changes must not cross the network in the clear"
            )
    if config.payments == "yookassa" and not config.yookassa_api_url.startswith("https://"):
        raise ValueError("ESIMCARE_YOOKASSA_API_URL must be https:// in production")
    if config.email == "smtp" and config.smtp_user and not config.smtp_starttls:
        raise ValueError(
            "ESIMCARE_SMTP_USER is set without ESIMCARE_SMTP_STARTTLS=1: the password would "
            "cross the network in the clear"
        )


def _sandbox(stand_ins: StandIns | None, system: str) -> StandIns:
    if stand_ins is None:
        raise ValueError(f"ESIMCARE_{system} chooses a stand-in, but no sandbox was opened")
    return stand_ins


def _network(
    config: Integrations, stand_ins: StandIns | None, client: httpx.Client | None
) -> NetworkGateway:
    if config.network == "registry":
        return _sandbox(stand_ins, "NETWORK").network()
    if config.network == "http" and client is not None:
        return HttpNetworkGateway(_url("NETWORK", config.network_url), client, config.network_token)
    if config.network == "osmo-hlr":
        if not config.network_ctrl:
            raise ValueError("ESIMCARE_NETWORK_CTRL is required when ESIMCARE_NETWORK=osmo-hlr")
        return OsmoHlrCtrlGateway(CtrlAddress.parse(config.network_ctrl))
    raise _unknown("NETWORK", config.network, "registry", "http", "osmo-hlr")


def _payouts(
    config: Integrations, stand_ins: StandIns | None, client: httpx.Client | None
) -> PayoutGateway:
    if config.payments == "payout-ledger":
        return _sandbox(stand_ins, "PAYMENTS").payouts()
    if config.payments == "http" and client is not None:
        return HttpPayoutGateway(
            _url("PAYMENTS", config.payments_url), client, config.payments_token
        )
    if config.payments == "yookassa":
        if not config.yookassa_shop_id or not config.yookassa_secret_key:
            raise ValueError(
                "ESIMCARE_YOOKASSA_SHOP_ID and ESIMCARE_YOOKASSA_SECRET_KEY are required when "
                "ESIMCARE_PAYMENTS=yookassa"
            )
        shop = YooKassaShop(
            config.yookassa_shop_id, config.yookassa_secret_key, config.yookassa_api_url
        )
        return YooKassaRefunds(shop)
    raise _unknown("PAYMENTS", config.payments, "payout-ledger", "yookassa", "http")


def _sms(
    config: Integrations, stand_ins: StandIns | None, client: httpx.Client | None
) -> SmsGateway:
    if config.sms == "outbox":
        return _sandbox(stand_ins, "SMS").sms()
    if config.sms == "http" and client is not None:
        return HttpSmsGateway(_url("SMS", config.sms_url), client, config.sms_token)
    if config.sms == "smpp":
        return SmppSmsGateway(_smpp_settings(config))
    raise _unknown("SMS", config.sms, "outbox", "http", "smpp")


def _smpp_settings(config: Integrations) -> SmppSettings:
    required = {
        "ESIMCARE_SMPP_HOST": config.smpp_host,
        "ESIMCARE_SMPP_SYSTEM_ID": config.smpp_system_id,
        "ESIMCARE_SMPP_PASSWORD": config.smpp_password,
        "ESIMCARE_SMPP_SENDER": config.smpp_sender,
    }
    missing = [name for name, value in required.items() if not value]
    if missing:
        raise ValueError(f"{', '.join(missing)} required when ESIMCARE_SMS=smpp")
    return SmppSettings(
        host=config.smpp_host,
        port=config.smpp_port,
        system_id=config.smpp_system_id,
        password=config.smpp_password,
        default_sender=config.smpp_sender,
    )


def _email(config: Integrations, stand_ins: StandIns | None, clock: Clock) -> EmailGateway:
    if config.email == "outbox":
        return _sandbox(stand_ins, "EMAIL").email()
    if config.email == "smtp":
        if not config.smtp_host:
            raise ValueError("ESIMCARE_SMTP_HOST is required when ESIMCARE_EMAIL=smtp")
        return SmtpEmailGateway(
            config.smtp_host,
            config.smtp_port,
            config.email_from,
            clock=clock,
            starttls=config.smtp_starttls,
            username=config.smtp_user,
            password=config.smtp_password,
            tls_context=ssl.create_default_context(cafile=config.smtp_ca_file or None),
        )
    raise _unknown("EMAIL", config.email, "outbox", "smtp")


def build_smdp_gateways(
    smdp_tables: Mapping[str, Mapping[str, Any]],
    *,
    development: bool,
    base_dir: Path,
    sessions: sessionmaker[Session],
    stand_ins: StandIns | None,
    clock: Clock,
) -> dict[str, SmdpGateway]:
    """Each operator's SM-DP+: an ``Es2PlusClient`` for a ``url``, else the shared emulator."""
    gateways: dict[str, SmdpGateway] = {}
    for operator_id, table in smdp_tables.items():
        if table.get("url"):
            config = Es2PlusConfig.from_mapping(table, base_dir=base_dir)
            _check_smdp_transport(operator_id, config, development)
            gateways[operator_id] = Es2PlusClient(
                config, sessions, operator_id=operator_id, clock=clock
            )
            continue
        if not development:
            raise ValueError(
                f"operator {operator_id}: the SM-DP+ emulator is a development stand-in; "
                f"configure [operators.{operator_id}.smdp] url for production"
            )
        gateways[operator_id] = _sandbox(stand_ins, "SMDP").smdp_emulator()
    return gateways


def _check_smdp_transport(operator_id: str, config: Es2PlusConfig, development: bool) -> None:
    if config.base_url.startswith("http://") and not development:
        raise ValueError(
            f"operator {operator_id}: ES2+ needs https:// (mutual TLS, SGP.22 v2.2 section 6); "
            "plain http:// to an SM-DP+ is allowed only in development mode"
        )


def _url(system: str, url: str) -> str:
    if not url:
        raise ValueError(f"ESIMCARE_{system}_URL is required when ESIMCARE_{system}=http")
    return url


def _unknown(system: str, choice: str, *known: str) -> ValueError:
    return ValueError(f"unknown ESIMCARE_{system}={choice!r}; choose one of {', '.join(known)}")
