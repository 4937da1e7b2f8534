"""Who sent this HandleDownloadProgressInfo? Proven, or refused before anything is read.

SGP.22 v2.2 section 6 secures ES2+ with mutual TLS: the SM-DP+ is known by its client
certificate. ``functionRequesterIdentifier`` in the body is a label anyone can type; it is
checked afterwards (``profile_events.check_requester``), never instead. Accepted proofs, in
this order:

1. **Our own TLS** (``esimcare serve --tls-client-ca``): the verified client certificate, read
   from the ASGI TLS extension (``scope["extensions"]["tls"]``, filled by ``web.tls_scope``),
   names one of the operator's ``notification_cert_names`` (subjectAltName DNS or subject CN).
2. **A verifying reverse proxy**: from a TCP peer in ``ESIMCARE_TRUSTED_PROXIES`` only,
   ``X-SSL-Client-Verify: SUCCESS`` and ``X-SSL-Client-S-DN`` whose CN is one of those names.
   From any other peer the headers are ignored.
3. **Development only**: the built-in emulator's HMAC signature (``notification_signature``).

A presented proof that fails is refused outright (no falling through to a weaker one).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from esimcare.config import IpNetwork
from esimcare.errors import ForbiddenError
from esimcare.integrations.smdp.notification_signature import is_signed, signature_is_valid
from esimcare.operators.smdp_link import SmdpLink

VERIFY_HEADER = "X-SSL-Client-Verify"
SUBJECT_HEADER = "X-SSL-Client-S-DN"


class UnauthenticatedSenderError(ForbiddenError):
    code = "unauthenticated-sender"
    title = "Notifications are accepted only from this operator's SM-DP+, proven by TLS"
    translated = False  # read by the SM-DP+ (ES2+), never shown to a person


@dataclass(frozen=True)
class SenderEvidence:
    """What the request carries that could prove its sender."""

    tls: Mapping[str, Any] | None  # the ASGI TLS extension, when we terminated TLS
    peer: str | None  # the TCP peer's address (never X-Forwarded-For)
    headers: Mapping[str, str]  # case-insensitive
    body: bytes


@dataclass(frozen=True)
class Trust:
    """What this deployment accepts besides its own TLS."""

    proxies: tuple[IpNetwork, ...] = ()
    emulator_key: bytes | None = None  # development mode only


def authenticate_sender(
    evidence: SenderEvidence, link: SmdpLink, trust: Trust, now: datetime
) -> str:
    """How the sender was proven (for the audit trail); ``UnauthenticatedSenderError`` if not."""
    chain = (evidence.tls or {}).get("client_cert_chain") or ()
    if chain:
        return _by_certificate(str(next(iter(chain))), link)
    if _is_trusted_proxy(evidence.peer, trust.proxies) and VERIFY_HEADER in evidence.headers:
        return _by_proxy(evidence.headers, link)
    if trust.emulator_key is not None and is_signed(evidence.headers):
        if signature_is_valid(trust.emulator_key, evidence.headers, evidence.body, now):
            return "emulator-signature"
        raise UnauthenticatedSenderError("the emulator signature does not match this body")
    raise UnauthenticatedSenderError(
        "no verified client certificate: the SM-DP+ must connect over mutual TLS"
    )


def _by_certificate(pem: str, link: SmdpLink) -> str:
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise UnauthenticatedSenderError("the client certificate cannot be read") from None
    return "tls-certificate:" + _matching(certificate_names(certificate), link)


def _by_proxy(headers: Mapping[str, str], link: SmdpLink) -> str:
    if headers.get(VERIFY_HEADER, "").strip().upper() != "SUCCESS":
        raise UnauthenticatedSenderError("the proxy did not verify a client certificate")
    return "proxy-certificate:" + _matching(subject_names(headers.get(SUBJECT_HEADER, "")), link)


def _matching(names: Iterable[str], link: SmdpLink) -> str:
    if not link.notification_cert_names:
        raise UnauthenticatedSenderError(
            "no notification_cert_names are configured for this operator's SM-DP+"
        )
    for name in names:
        if name in link.notification_cert_names:
            return name
    raise UnauthenticatedSenderError(
        "the client certificate does not belong to this operator's SM-DP+"
    )


def certificate_names(certificate: x509.Certificate) -> list[str]:
    """subjectAltName DNS names and subject CNs, lower-cased."""
    names = [str(a.value) for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        pass
    else:
        names += san.value.get_values_for_type(x509.DNSName)
    return [name.strip().lower() for name in names]


def subject_names(dn: str) -> list[str]:
    """CNs of a subject DN as proxies pass it: RFC 4514 (nginx ``$ssl_client_s_dn``) or the
    OpenSSL one-line form ``/C=DE/O=Vendor/CN=smdp.example`` (older nginx, HAProxy)."""
    dn = dn.strip()
    if dn.startswith("/"):
        parts = [part.partition("=") for part in dn.split("/")[1:]]
        return [value.strip().lower() for key, _, value in parts if key.upper() == "CN"]
    try:
        name = x509.Name.from_rfc4514_string(dn)
    except ValueError:
        return []
    return [str(a.value).strip().lower() for a in name.get_attributes_for_oid(NameOID.COMMON_NAME)]


def _is_trusted_proxy(peer: str | None, proxies: tuple[IpNetwork, ...]) -> bool:
    if not peer or not proxies:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in proxies)
