"""TOTP (RFC 6238) as the staff's second factor: 30 s steps, one step of clock drift either way,
and every accepted step remembered, so a code seen over someone's shoulder is good only once."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyotp

from esimcare.kit.tokens import same
from esimcare.staff.errors import StaffLoginFailedError
from esimcare.staff.models import StaffMember

STEP = timedelta(seconds=30)
DRIFT_STEPS = 1


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code this is (now, or one step either side), else None."""
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // int(STEP.total_seconds())
    cleaned = code.strip().replace(" ", "")
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if same(totp.at(step * int(STEP.total_seconds())), cleaned):
            return step
    return None


def accept_totp(staff: StaffMember, code: str, now: datetime) -> None:
    """Raise unless the code is right and its step newer than the last one accepted."""
    if staff.totp_secret is None:
        raise StaffLoginFailedError()
    step = matching_step(staff.totp_secret, code, now)
    if step is None or (staff.totp_last_step is not None and step <= staff.totp_last_step):
        raise StaffLoginFailedError()
    staff.totp_last_step = step
