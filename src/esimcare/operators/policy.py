"""Each operator's rules, read from the operators file (TOML) and validated once at start-up."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from babel.numbers import list_currencies

from esimcare.integrations.payments.interface import PayoutRoute
from esimcare.integrations.smdp.interface import FinalProfileStatus
from esimcare.integrations.sms.sender import sender_kind
from esimcare.kit.local_time import time_zone
from esimcare.operators.smdp_link import SmdpLink
from esimcare.operators.webhook_target import WebhookTarget

LANGUAGES = ("ru", "en", "zh")


class VerificationMethod(StrEnum):
    SMS = "sms"
    PASSWORD = "password"  # noqa: S105 - a method name, not a secret
    # WebAuthn with user verification: offered only to a customer who has registered one.
    PASSKEY = "passkey"


class RefundRoute(StrEnum):
    CARD = "card"
    BANK_ACCOUNT = "bank_account"
    ANOTHER_NUMBER = "another_number"
    NONE = "none"

    @property
    def payout_route(self) -> PayoutRoute | None:
        return None if self is RefundRoute.NONE else PayoutRoute(self.value)


DEFAULT_BRAND_COLOR = "#0b5cad"
_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


class PolicyError(ValueError):
    """The operators file is wrong; the message names the operator and the field."""


@dataclass(frozen=True)
class Reason:
    code: str
    labels: dict[str, str]

    def label(self, language: str) -> str:
        return self.labels.get(language) or self.labels["en"]


@dataclass(frozen=True)
class Policy:
    operator_id: str
    name: str
    currency: str
    verification_methods: tuple[VerificationMethod, ...]
    reasons: tuple[Reason, ...]
    refund_route: RefundRoute
    debt_blocks_cancellation: bool
    grace_period_hours: int
    number_quarantine_days: int
    smdp_final_status: FinalProfileStatus
    hotline: str
    hotline_hours: dict[str, str]
    support_email: str
    iccid_prefixes: tuple[str, ...] = ()
    msisdn_prefixes: tuple[str, ...] = ()
    demo_note: bool = False
    # After the number's eSIM is installed on a phone, SMS codes to it do not confirm a
    # cancellation for this many days (an eSIM swap could have put it in other hands).
    sms_untrusted_days_after_install: int = 7
    smdp: dict[str, Any] = field(default_factory=dict)
    # The SMS sender id: a number or up to 11 letters; empty means the gateway's default.
    sms_sender: str = ""
    # ISO 3166 region that phone numbers typed without a country code are read in ("RU":
    # 9161234567 is +79161234567). None: only numbers with their country code are accepted.
    region: str | None = None
    # Ordering limits: eSIMs not cancelled (orders under way included) per account, and orders
    # (failed ones too: each one reaches the SM-DP+) per account in any hour.
    max_open_esims: int = 10
    orders_per_hour: int = 10
    # ``[webhooks] url, secret``: signed events to the operator's own systems (webhooks/).
    webhooks: dict[str, Any] = field(default_factory=dict, repr=False)  # holds the secret
    # IANA time zone the portal and the notices tell times in ("Europe/Moscow"); UTC if unset.
    time_zone: str = "UTC"
    # How long a quote holds: confirmed within it, the cancellation executes its amounts.
    quote_validity_minutes: int = 15
    # Usual days until a refund reaches the customer, by refund route ("card" = 5).
    refund_arrival_days: dict[str, int] = field(default_factory=dict)
    # The portal's theme colour ("#rrggbb"); evocative of the operator, never its real logo.
    brand_color: str = DEFAULT_BRAND_COLOR
    # Where a customer pays a debt online (https); empty: only the hotline is offered.
    pay_url: str = ""

    def reason(self, code: str) -> Reason | None:
        return next((reason for reason in self.reasons if reason.code == code), None)

    def arrival_days(self, route: RefundRoute) -> int | None:
        return self.refund_arrival_days.get(route.value)

    def hours(self, language: str) -> str:
        return self.hotline_hours.get(language) or self.hotline_hours.get("en", "")

    @property
    def tzinfo(self) -> ZoneInfo:
        return time_zone(self.time_zone)

    @property
    def has_grace_period(self) -> bool:
        return self.grace_period_hours > 0

    @cached_property
    def smdp_link(self) -> SmdpLink:
        """The ``[smdp]`` table read (validated once in ``parse_policy``; read once, as every
        ES2+ notification needs it)."""
        return SmdpLink.from_mapping(self.smdp)

    @property
    def has_webhooks(self) -> bool:
        """Whether the operator wants webhook events (the outbox then writes them)."""
        return bool(self.webhooks)

    @property
    def webhook_target(self) -> WebhookTarget | None:
        return WebhookTarget.from_mapping(self.webhooks)


def parse_policy(operator_id: str, raw: dict[str, Any]) -> Policy:
    try:
        reasons = tuple(_reason(operator_id, item) for item in raw["reasons"])
        if not reasons:
            raise PolicyError(f"{operator_id}: at least one cancellation reason is needed")
        methods = tuple(VerificationMethod(m) for m in raw["verification_methods"])
        if not methods:
            raise PolicyError(f"{operator_id}: at least one verification method is needed")
        policy = Policy(
            operator_id=operator_id,
            name=str(raw["name"]),
            currency=_currency(raw["currency"]),
            verification_methods=methods,
            reasons=reasons,
            refund_route=RefundRoute(raw["refund_route"]),
            debt_blocks_cancellation=bool(raw["debt_blocks_cancellation"]),
            grace_period_hours=int(raw["grace_period_hours"]),
            number_quarantine_days=int(raw["number_quarantine_days"]),
            smdp_final_status=FinalProfileStatus(raw["smdp_final_status"]),
            hotline=str(raw["hotline"]),
            hotline_hours={k: str(v) for k, v in raw["hotline_hours"].items()},
            support_email=str(raw["support_email"]),
            iccid_prefixes=tuple(raw.get("iccid_prefixes", ())),
            msisdn_prefixes=tuple(raw.get("msisdn_prefixes", ())),
            demo_note=bool(raw.get("demo_note", False)),
            sms_untrusted_days_after_install=int(raw.get("sms_untrusted_days_after_install", 7)),
            smdp=dict(raw.get("smdp", {})),
            sms_sender=_sms_sender(raw.get("sms_sender", "")),
            region=_region(operator_id, raw.get("region")),
            max_open_esims=int(raw.get("max_open_esims", 10)),
            orders_per_hour=int(raw.get("orders_per_hour", 10)),
            webhooks=dict(raw.get("webhooks", {})),
            time_zone=time_zone(str(raw.get("time_zone", "UTC"))).key,
            quote_validity_minutes=int(raw.get("quote_validity_minutes", 15)),
            refund_arrival_days=_arrival_days(raw.get("refund_arrival_days", {})),
            brand_color=_brand_color(raw.get("brand_color", DEFAULT_BRAND_COLOR)),
            pay_url=_pay_url(raw.get("pay_url", "")),
        )
        SmdpLink.from_mapping(policy.smdp)
        WebhookTarget.from_mapping(policy.webhooks)
    except KeyError as missing:
        raise PolicyError(f"{operator_id}: missing field {missing}") from None
    except ValueError as wrong:
        if isinstance(wrong, PolicyError):
            raise
        raise PolicyError(f"{operator_id}: {wrong}") from None
    if not 0 <= policy.grace_period_hours <= 24 * 30:
        raise PolicyError(f"{operator_id}: grace_period_hours must be 0..720")
    if policy.number_quarantine_days < 0:
        raise PolicyError(f"{operator_id}: number_quarantine_days must not be negative")
    if not 1 <= policy.quote_validity_minutes <= 24 * 60:
        raise PolicyError(f"{operator_id}: quote_validity_minutes must be 1..1440")
    if policy.max_open_esims < 1 or policy.orders_per_hour < 1:
        raise PolicyError(f"{operator_id}: max_open_esims and orders_per_hour must be at least 1")
    return policy


def _arrival_days(raw: dict[str, Any]) -> dict[str, int]:
    """``refund_arrival_days = { card = 5 }``: every key a refund route, every value >= 0."""
    days = {RefundRoute(route).value: int(value) for route, value in raw.items()}
    if any(value < 0 for value in days.values()):
        raise ValueError("refund_arrival_days must not be negative")
    return days


def _currency(value: object) -> str:
    """An ISO 4217 code the operator bills in ("RUB", "EUR"); there is no default."""
    code = str(value).upper()
    if code not in list_currencies():
        raise ValueError(f"unknown currency {value!r}; use an ISO 4217 code like EUR")
    return code


def _sms_sender(value: object) -> str:
    sender = str(value)
    if sender:
        sender_kind(sender)  # a ValueError names what a sender may be
    return sender


def _brand_color(value: object) -> str:
    color = str(value)
    if not _HEX_COLOR.match(color):
        raise ValueError(f"brand_color must be a colour like #0b5cad, not {color!r}")
    return color.lower()


def _pay_url(value: object) -> str:
    url = str(value)
    if url and not url.startswith("https://"):
        raise ValueError(f"pay_url must be an https:// address, not {url!r}")
    return url


def _region(operator_id: str, raw: object) -> str | None:
    if raw is None:
        return None
    region = str(raw).upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise PolicyError(f"{operator_id}: unknown region {raw!r}; use an ISO 3166 code like RU")
    return region


def _reason(operator_id: str, item: dict[str, Any]) -> Reason:
    labels = {language: str(item[language]) for language in LANGUAGES if language in item}
    if "en" not in labels:
        raise PolicyError(f"{operator_id}: reason {item.get('code')!r} needs an English label")
    return Reason(code=str(item["code"]), labels=labels)


def load_policies(path: Path) -> dict[str, Policy]:
    if not path.exists():
        raise PolicyError(f"operators file not found: {path} (run `esimcare demo` to create one)")
    with path.open("rb") as handle:
        document = tomllib.load(handle)
    operators = document.get("operators", {})
    return {operator_id: parse_policy(operator_id, raw) for operator_id, raw in operators.items()}
