"""Settings, read once from the environment (ESIMCARE_*) and passed explicitly from there on."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Mode(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


@dataclass(frozen=True)
class Limits:
    """security.md numbers; configurable only within the bounds it sets."""

    code_lifetime_s: int = 300
    code_max_attempts: int = 5
    failures_per_hour: int = 100
    lock_base_s: int = 60
    resend_interval_s: int = 60
    sends_per_hour: int = 5
    session_idle_s: int = 30 * 60
    session_absolute_s: int = 12 * 3600
    verification_window_s: int = 30 * 60
    idempotency_ttl_s: int = 24 * 3600
    max_body_bytes: int = 64 * 1024
    # Failed logins from one client address: a few free, then a wait that doubles each time.
    login_free_tries_per_login: int = 5
    login_free_tries_per_address: int = 20
    login_delay_base_s: int = 1
    login_delay_cap_s: int = 900
    # A client address's count is forgotten after this long without a failure.
    login_forget_after_s: int = 3600
    # argon2 work at once in one process; a request that finds no slot in time gets 429.
    password_hash_concurrency: int = 4
    password_hash_wait_s: float = 0.25
    # Staff sessions are shorter than customers' (a console left open on a shared desk).
    staff_session_idle_s: int = 15 * 60
    staff_session_absolute_s: int = 8 * 3600

    def __post_init__(self) -> None:
        if not 0 < self.code_lifetime_s <= 600:
            raise ValueError("one-time code lifetime must be at most 10 minutes (ASVS 6.5.5)")
        if not 0 < self.code_max_attempts <= 5:
            raise ValueError("at most 5 wrong tries per code")
        if self.password_hash_concurrency < 1:
            raise ValueError("at least one password hash must be allowed at a time")
        if self.login_delay_cap_s >= self.login_forget_after_s:
            raise ValueError("a login wait must end before the failures behind it are forgotten")

    def login_delay_s(self, failures: int, free: int) -> int:
        """The wait after the ``failures``-th failure when ``free`` cost nothing: 0, then
        base, 2 x base, 4 x base ... up to the cap."""
        if failures < free:
            return 0
        return min(self.login_delay_base_s << min(failures - free, 32), self.login_delay_cap_s)

    def login_failures_one_address_can_make_in_an_hour(self) -> int:
        """An attacker at one address, whatever logins it tries, who tries again the moment
        each wait ends (the address's count covers every login tried from it). security.md:
        with the defaults this stays below ``failures_per_hour``, so one address alone never
        reaches the account lock (tests/unit/test_login_limits.py)."""
        failures, at = 0, 0
        while at < 3600 and failures < self.failures_per_hour:
            failures += 1
            at += self.login_delay_s(failures, self.login_free_tries_per_address)
        return failures


@dataclass(frozen=True)
class Integrations:
    """Which implementation of each external system to use: a built-in emulator or a real one."""

    sms: str = "outbox"
    email: str = "outbox"
    payments: str = "payout-ledger"
    network: str = "registry"
    sms_url: str = ""
    payments_url: str = ""
    network_url: str = ""
    network_ctrl: str = ""  # OsmoHLR's CTRL interface, host or host:port
    smtp_host: str = ""
    smtp_port: int = 25
    email_from: str = "no-reply@esimcare.invalid"
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)  # a secret: never printed or logged
    smtp_starttls: bool = False
    smtp_ca_file: str = ""  # a private CA for the relay's certificate; empty: the system's
    yookassa_shop_id: str = ""
    yookassa_secret_key: str = field(default="", repr=False)
    yookassa_api_url: str = "https://api.yookassa.ru/v3"
    # SMS over SMPP 3.4 (ESIMCARE_SMS=smpp); the sender is the default when an operator's
    # policy names none.
    smpp_host: str = ""
    smpp_port: int = 2775
    smpp_system_id: str = ""
    smpp_password: str = field(default="", repr=False)
    smpp_sender: str = ""
    # Bearer tokens for the generic HTTP contracts (ESIMCARE_SMS/PAYMENTS/NETWORK=http), and a
    # private CA their certificates may chain to; empty: no token, the system's CAs.
    sms_token: str = field(default="", repr=False)
    payments_token: str = field(default="", repr=False)
    network_token: str = field(default="", repr=False)
    http_ca_file: str = ""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    mode: Mode
    secret_key: bytes = field(repr=False)
    operators_file: Path
    public_url: str = "http://127.0.0.1:8000"
    limits: Limits = field(default_factory=Limits)
    integrations: Integrations = field(default_factory=Integrations)
    job_lease_s: float = 30.0
    job_poll_s: float = 0.2
    job_max_attempts: int = 8
    job_backoff_base_s: float = 1.0
    job_backoff_cap_s: float = 300.0
    # Due jobs a worker claims in one statement.
    job_claim_batch: int = 8
    # /metrics answers only with "Authorization: Bearer <this>"; without it, only in development.
    metrics_token: str = field(default="", repr=False)
    # Publish /api/openapi.json in production too (always published in development).
    api_docs: bool = False
    # Reverse proxies whose X-Forwarded-For names the client (ESIMCARE_TRUSTED_PROXIES, CIDRs).
    trusted_proxies: tuple[IpNetwork, ...] = ()
    # `esimcare prune` deletes finished jobs, ES2+ call logs and sent notices older than this.
    retention_days: int = 90

    @property
    def development(self) -> bool:
        return self.mode is Mode.DEVELOPMENT

    @property
    def emulator_database_url(self) -> str:
        """The built-in emulators keep their state apart, as the real systems would."""
        return f"sqlite:///{self.data_dir / 'emulators.db'}"

    def with_changes(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, data_dir: Path | None = None, **overrides: object) -> Settings:
        env = os.environ
        directory = Path(data_dir or env.get("ESIMCARE_DATA_DIR", "data")).resolve()
        directory.mkdir(parents=True, exist_ok=True)
        mode = Mode(env.get("ESIMCARE_MODE", Mode.PRODUCTION.value))
        settings = cls(
            data_dir=directory,
            database_url=env.get("ESIMCARE_DATABASE_URL", f"sqlite:///{directory / 'esimcare.db'}"),
            mode=mode,
            secret_key=_secret_key(directory, env.get("ESIMCARE_SECRET_KEY")),
            operators_file=Path(env.get("ESIMCARE_OPERATORS_FILE", directory / "operators.toml")),
            public_url=env.get("ESIMCARE_PUBLIC_URL", "http://127.0.0.1:8000"),
            integrations=Integrations(
                sms=env.get("ESIMCARE_SMS", "outbox"),
                email=env.get("ESIMCARE_EMAIL", "outbox"),
                payments=env.get("ESIMCARE_PAYMENTS", "payout-ledger"),
                network=env.get("ESIMCARE_NETWORK", "registry"),
                sms_url=env.get("ESIMCARE_SMS_URL", ""),
                payments_url=env.get("ESIMCARE_PAYMENTS_URL", ""),
                network_url=env.get("ESIMCARE_NETWORK_URL", ""),
                network_ctrl=env.get("ESIMCARE_NETWORK_CTRL", ""),
                smtp_host=env.get("ESIMCARE_SMTP_HOST", ""),
                smtp_port=int(env.get("ESIMCARE_SMTP_PORT", "25")),
                email_from=env.get("ESIMCARE_EMAIL_FROM", "no-reply@esimcare.invalid"),
                smtp_user=env.get("ESIMCARE_SMTP_USER", ""),
                smtp_password=secret_from_env(env, "ESIMCARE_SMTP_PASSWORD"),
                smtp_starttls=_flag(env.get("ESIMCARE_SMTP_STARTTLS", "")),
                smtp_ca_file=env.get("ESIMCARE_SMTP_CA_FILE", ""),
                yookassa_shop_id=env.get("ESIMCARE_YOOKASSA_SHOP_ID", ""),
                yookassa_secret_key=secret_from_env(env, "ESIMCARE_YOOKASSA_SECRET_KEY"),
                yookassa_api_url=env.get("ESIMCARE_YOOKASSA_API_URL", "https://api.yookassa.ru/v3"),
                smpp_host=env.get("ESIMCARE_SMPP_HOST", ""),
                smpp_port=int(env.get("ESIMCARE_SMPP_PORT", "2775")),
                smpp_system_id=env.get("ESIMCARE_SMPP_SYSTEM_ID", ""),
                smpp_password=secret_from_env(env, "ESIMCARE_SMPP_PASSWORD"),
                smpp_sender=env.get("ESIMCARE_SMPP_SENDER", ""),
                sms_token=secret_from_env(env, "ESIMCARE_SMS_TOKEN"),
                payments_token=secret_from_env(env, "ESIMCARE_PAYMENTS_TOKEN"),
                network_token=secret_from_env(env, "ESIMCARE_NETWORK_TOKEN"),
                http_ca_file=env.get("ESIMCARE_HTTP_CA_FILE", ""),
            ),
            job_lease_s=float(env.get("ESIMCARE_JOB_LEASE_S", "30")),
            job_poll_s=float(env.get("ESIMCARE_JOB_POLL_S", "0.2")),
            job_max_attempts=int(env.get("ESIMCARE_JOB_MAX_ATTEMPTS", "8")),
            job_backoff_base_s=float(env.get("ESIMCARE_JOB_BACKOFF_BASE_S", "1")),
            job_backoff_cap_s=float(env.get("ESIMCARE_JOB_BACKOFF_CAP_S", "300")),
            metrics_token=secret_from_env(env, "ESIMCARE_METRICS_TOKEN"),
            job_claim_batch=int(env.get("ESIMCARE_JOB_CLAIM_BATCH", "8")),
            api_docs=env.get("ESIMCARE_API_DOCS", "") in ("1", "true", "yes"),
            trusted_proxies=parse_networks(env.get("ESIMCARE_TRUSTED_PROXIES", "")),
            retention_days=int(env.get("ESIMCARE_RETENTION_DAYS", "90")),
        )
        return settings.with_changes(**overrides) if overrides else settings


def secret_from_env(env: Mapping[str, str], name: str) -> str:
    """A secret from ``NAME``, or from the file ``NAME_FILE`` names (container secrets), so it
    need not sit in the process environment; setting both is a mistake worth stopping for."""
    path = env.get(f"{name}_FILE", "")
    if not path:
        return env.get(name, "")
    if env.get(name):
        raise ValueError(f"set {name} or {name}_FILE, not both")
    try:
        return Path(path).read_text().strip()
    except OSError as error:
        raise ValueError(f"{name}_FILE: cannot read {path!r} ({error.strerror})") from None


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def parse_networks(text: str) -> tuple[IpNetwork, ...]:
    """``10.0.0.0/8, 192.0.2.7`` -> networks; a typo stops the start rather than trust too much."""
    networks = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(item))
        except ValueError as error:
            raise ValueError(f"ESIMCARE_TRUSTED_PROXIES: {item!r}: {error}") from None
    return tuple(networks)


def _secret_key(directory: Path, configured: str | None) -> bytes:
    if configured:
        return configured.encode()
    path = directory / "secret.key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()
