"""How the built-in SM-DP+ EMULATOR proves that a notification is its own (development only).

A real SM-DP+ proves itself with its TLS client certificate (SGP.22 v2.2 section 6). The
emulator runs on plain HTTP on loopback, so it signs instead: HMAC-SHA256 over the time of
sending and the exact body, keyed by a secret generated into the data directory
(``es2plus-emulator.key``, mode 0600) that the demo's receiver and a standalone
``esimcare smdp-emulator`` with the same ``--data-dir`` share. The identifier in the body
(``smdp-emulator.esimcare.test``) is public; the key is not.

Headers: ``X-Esimcare-Timestamp: <unix seconds>`` and
``X-Esimcare-Signature: v1=<hex HMAC-SHA256(key, "<timestamp>." + body)>``.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

TIMESTAMP_HEADER = "X-Esimcare-Timestamp"
SIGNATURE_HEADER = "X-Esimcare-Signature"
KEY_FILE = "es2plus-emulator.key"
# The functionRequesterIdentifier the built-in emulator signs its notifications with.
EMULATOR_REQUESTER_ID = "smdp-emulator.esimcare.test"
# A signature older (or newer) than this is refused: a captured request cannot be replayed later.
MAX_SKEW_S = 300
_VERSION = "v1="


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def load_or_create_key(path: Path) -> bytes:
    """The shared secret; created (readable by its owner only) when missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip().encode()


def _mac(key: bytes, timestamp: str, body: bytes) -> str:
    # ``hmac.digest``: the one-shot C path, a fifth of what building an ``HMAC`` object costs.
    return hmac.digest(key, timestamp.encode() + b"." + body, "sha256").hex()


def signature_headers(key: bytes, body: bytes, now: datetime) -> dict[str, str]:
    timestamp = str(int(now.timestamp()))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: _VERSION + _mac(key, timestamp, body)}


def is_signed(headers: Mapping[str, str]) -> bool:
    """``headers``: a case-insensitive mapping (Starlette's or httpx's ``Headers``)."""
    return SIGNATURE_HEADER in headers


def signature_is_valid(key: bytes, headers: Mapping[str, str], body: bytes, now: datetime) -> bool:
    """True only for a fresh signature of exactly this body by the holder of ``key``."""
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    if abs(now.timestamp() - int(timestamp)) > MAX_SKEW_S:
        return False
    if not signature.startswith(_VERSION):
        return False
    expected = _VERSION + _mac(key, timestamp, body)
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))
