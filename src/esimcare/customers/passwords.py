"""argon2id password hashing (security.md: argon2-cffi defaults exceed the ASVS minimum)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from esimcare.errors import InvalidInputError, PasswordTooLongError, PasswordWorkBusyError

# Tests set ESIMCARE_FAST_PASSWORD_HASHING=1: the same code at the OWASP floor's cost shape,
# so a suite of hundreds of logins stays fast. Production refuses it (runtime.build_context).
FAST_HASHING = os.environ.get("ESIMCARE_FAST_PASSWORD_HASHING") == "1"
_hasher = (
    PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    if FAST_HASHING
    else PasswordHasher()
)
# Verified against when the login is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("esimcare-timing-equaliser")

MIN_LENGTH = 8
MAX_LENGTH = 128
_COMMON = frozenset(
    {
        "password",
        "password1",
        "12345678",
        "123456789",
        "1234567890",
        "qwerty123",
        "11111111",
        "iloveyou",
        "qwertyuiop",
        "1q2w3e4r",
        "00000000",
        "abc12345",
        "password123",
        "qwerty12",
        "123123123",
        "987654321",
        "йцукенгш",
        "87654321",
    }
)


def hash_password(password: str) -> str:
    check_password_rules(password)
    return _hasher.hash(password)


def check_password_rules(password: str) -> None:
    """Length only, no composition rules; the most common passwords are refused (ASVS 6.2)."""
    if len(password) < MIN_LENGTH:
        raise InvalidInputError(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidInputError(f"a password may have at most {MAX_LENGTH} characters")
    if password.lower() in _COMMON:
        raise InvalidInputError("this password is among the most common ones; choose another")


def refuse_overlong(password: str) -> None:
    """More than 128 characters is no password we issued: refused before any work or count."""
    if len(password) > MAX_LENGTH:
        raise PasswordTooLongError(f"a password may have at most {MAX_LENGTH} characters")


class PasswordWork:
    """argon2 is deliberately expensive and reachable without a session, so one process runs
    at most ``slots`` verifications at once; a request that finds no slot within ``wait_s``
    is refused (429) instead of queueing until the process starves (security.md)."""

    def __init__(self, slots: int, wait_s: float) -> None:
        self._slots = threading.BoundedSemaphore(slots)
        self._wait_s = wait_s

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the slots for the block, or raise PasswordWorkBusyError (Retry-After)."""
        if not self._slots.acquire(timeout=self._wait_s):
            raise PasswordWorkBusyError(retry_after=1)
        try:
            yield
        finally:
            self._slots.release()

    def verify(self, password_hash: str | None, password: str) -> bool:
        with self.slot():
            return verify_password(password_hash, password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """``password_hash`` None (an unknown login) verifies a dummy: the same work, False."""
    refuse_overlong(password)
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
