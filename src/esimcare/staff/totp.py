"""TOTP (RFC 6238) as the staff's second factor: 30 s steps, one step of clock drift either way,
and every accepted step remembered, so a code seen over someone's shoulder is good only once.

The shared secret must be readable to check codes, so it is stored sealed (AES-GCM under a key
derived from the deployment's secret key): a copy of the database alone yields no secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from datetime import datetime, timedelta

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from esimcare.kit.tokens import same
from esimcare.staff.errors import StaffLoginFailedError
from esimcare.staff.models import StaffMember

STEP = timedelta(seconds=30)
DRIFT_STEPS = 1
_SEAL_PURPOSE = b"esimcare staff totp secret v1"
_NONCE_BYTES = 12


def _seal_key(key: bytes) -> bytes:
    return hmac.new(key, _SEAL_PURPOSE, hashlib.sha256).digest()


def seal_secret(key: bytes, secret: str) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_seal_key(key)).encrypt(nonce, secret.encode(), _SEAL_PURPOSE)
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def open_secret(key: bytes, sealed: str) -> str:
    """The TOTP secret; a secret sealed under another key (or altered) raises ValueError."""
    raw = base64.urlsafe_b64decode(sealed.encode())
    try:
        plain = AESGCM(_seal_key(key)).decrypt(
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _SEAL_PURPOSE
        )
    except InvalidTag:
        raise ValueError("the TOTP secret was sealed under another key") from None
    return plain.decode()


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code this is (now, or one step either side), else None."""
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // int(STEP.total_seconds())
    cleaned = code.strip().replace(" ", "")
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if same(totp.at(step * int(STEP.total_seconds())), cleaned):
            return step
    return None


def accept_totp(staff: StaffMember, code: str, now: datetime, key: bytes) -> None:
    """Raise unless the code is right and its step newer than the last one accepted."""
    if staff.totp_secret is None:
        raise StaffLoginFailedError()
    step = matching_step(open_secret(key, staff.totp_secret), code, now)
    if step is None or (staff.totp_last_step is not None and step <= staff.totp_last_step):
        raise StaffLoginFailedError()
    staff.totp_last_step = step
