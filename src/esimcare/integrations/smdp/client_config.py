"""How esimcare reaches one operator's SM-DP+ over ES2+ (SGP.22 v2.2 section 5.3).

The spec mandates TLS with mutual authentication: the SM-DP+ knows the operator by its client
certificate; ``functionRequesterIdentifier`` is only a label. The certificate paths come from
the operator's ``[smdp]`` table in the operators file (see ``Es2PlusConfig.from_mapping``).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from esimcare.integrations.http import USER_AGENT
from esimcare.integrations.smdp.messages import ADMIN_PROTOCOL, check_admin_protocol


@dataclass(frozen=True)
class Es2PlusConfig:
    """One operator's ES2+ connection: where, who we are, and which certificates prove it."""

    base_url: str
    requester_id: str
    client_cert: Path | None = None
    client_key: Path | None = None
    ca_bundle: Path | None = None
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 20.0
    # Each SM-DP+ reads SGP.22 a little differently (docs/es2plus.md, "Per SM-DP+ settings"):
    # the X-Admin-Protocol version it is sent, and whether it wants ICCIDs F-padded to 20.
    admin_protocol: str = ADMIN_PROTOCOL
    pad_iccid: bool = False

    def __post_init__(self) -> None:
        check_admin_protocol(self.admin_protocol)
        if not self.base_url.startswith(("https://", "http://")):
            raise ValueError("the SM-DP+ base URL must start with https:// (or http:// in tests)")
        if not self.requester_id:
            raise ValueError("functionRequesterIdentifier must not be empty")
        if self.client_key is not None and self.client_cert is None:
            raise ValueError("a client key needs its client certificate")
        if self.connect_timeout_s <= 0 or self.read_timeout_s <= 0:
            raise ValueError("time-outs must be positive")

    @property
    def endpoint_base(self) -> str:
        return self.base_url.rstrip("/")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], base_dir: Path | None = None) -> Es2PlusConfig:
        """Read an operator's ``[smdp]`` table: ``url``, ``requester_id``, ``client_cert``,
        ``client_key``, ``ca_bundle``, ``connect_timeout_s``, ``read_timeout_s``,
        ``admin_protocol``, ``iccid_f_padding``.

        Relative certificate paths are taken relative to ``base_dir`` (the operators file's
        directory), so a deployment can keep them next to it.
        """
        try:
            url, requester = str(raw["url"]), str(raw["requester_id"])
        except KeyError as missing:
            raise ValueError(f"the smdp settings need {missing}") from None
        return cls(
            base_url=url,
            requester_id=requester,
            client_cert=_path(raw.get("client_cert"), base_dir),
            client_key=_path(raw.get("client_key"), base_dir),
            ca_bundle=_path(raw.get("ca_bundle"), base_dir),
            connect_timeout_s=float(raw.get("connect_timeout_s", 5.0)),
            read_timeout_s=float(raw.get("read_timeout_s", 20.0)),
            admin_protocol=str(raw.get("admin_protocol", ADMIN_PROTOCOL)),
            pad_iccid=_flag("iccid_f_padding", raw.get("iccid_f_padding", False)),
        )


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"smdp.{name} must be true or false")
    return value


def _path(value: object, base_dir: Path | None) -> Path | None:
    if value is None or value == "":
        return None
    path = Path(str(value)).expanduser()
    return base_dir / path if base_dir is not None and not path.is_absolute() else path


def tls_context(config: Es2PlusConfig) -> ssl.SSLContext:
    """Server verification against ``ca_bundle`` (or the system CAs) plus our certificate."""
    cafile = str(config.ca_bundle) if config.ca_bundle is not None else None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # SGP.22 v2.2: TLS 1.2 or later on ES2+
    if config.client_cert is not None:
        key = str(config.client_key) if config.client_key is not None else None
        context.load_cert_chain(str(config.client_cert), key)
    return context


def make_es2plus_http_client(config: Es2PlusConfig) -> httpx.Client:
    """A client for one SM-DP+: its own TLS identity, bounded time-outs, no redirects.

    ``retries=1`` repeats only failed connection attempts (nothing was sent), which is safe for
    these non-idempotent calls; every other retry is the job queue's decision.
    """
    timeout = httpx.Timeout(
        connect=config.connect_timeout_s,
        read=config.read_timeout_s,
        write=config.read_timeout_s,
        pool=config.connect_timeout_s,
    )
    transport = httpx.HTTPTransport(verify=tls_context(config), retries=1)
    return httpx.Client(
        timeout=timeout,
        transport=transport,
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
    )
