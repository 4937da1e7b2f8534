"""Demo staff logins: an agent, a supervisor and an auditor per demo operator, with
published TOTP secrets.

Development only: the secrets are printed at demo start, so these accounts are marked
``development_only`` and refused at login in production mode; seeding itself refuses
production too.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from sqlalchemy import select

from esimcare.cancellations.systems import ServiceSystems
from esimcare.customers.passwords import hash_password
from esimcare.db import transaction
from esimcare.staff.models import StaffMember
from esimcare.staff.roles import StaffRole
from esimcare.staff.totp import seal_secret

DEMO_STAFF_PASSWORD = "demo-staff-password"  # noqa: S105 - the published demo login
DEMO_ROLES = (StaffRole.AGENT, StaffRole.SUPERVISOR, StaffRole.AUDITOR)


class DemoStaffRefusedError(RuntimeError):
    """Demo logins with published secrets are never created in production mode."""


@dataclass(frozen=True)
class DemoStaffLogin:
    operator_id: str
    role: StaffRole
    email: str
    totp_secret: str


def demo_totp_secret(operator_id: str, role: StaffRole) -> str:
    """Stable across restarts, so the printed secret stays valid for a reused demo database."""
    seed = hashlib.sha256(f"esimcare-demo-staff:{operator_id}:{role.value}".encode()).digest()
    return base64.b32encode(seed[:20]).decode()


def demo_staff_logins(operator_ids: list[str]) -> list[DemoStaffLogin]:
    return [
        DemoStaffLogin(
            op, role, f"{role.value}@{op}.demo.esimcare.invalid", demo_totp_secret(op, role)
        )
        for op in operator_ids
        for role in DEMO_ROLES
    ]


def seed_demo_staff(ctx: ServiceSystems) -> list[DemoStaffLogin]:
    """Create the demo staff logins that are missing; returns all of them (for the banner)."""
    if not ctx.settings.development:
        raise DemoStaffRefusedError("demo staff logins are refused in production mode")
    logins = demo_staff_logins(sorted(ctx.policies))
    now = ctx.clock.now()
    with transaction(ctx.sessions) as session:
        existing = set(session.scalars(select(StaffMember.email)))
        password_hash = hash_password(DEMO_STAFF_PASSWORD)
        for login in logins:
            if login.email in existing:
                continue
            session.add(
                StaffMember(
                    operator_id=login.operator_id,
                    email=login.email,
                    role=login.role,
                    password_hash=password_hash,
                    totp_secret=seal_secret(ctx.settings.secret_key, login.totp_secret),
                    failed_attempts=0,
                    development_only=True,
                    created_at=now,
                )
            )
    return logins


def demo_staff_banner(url: str, logins: list[DemoStaffLogin]) -> list[str]:
    lines = [
        f"  staff console: {url}/staff/  (password for all: {DEMO_STAFF_PASSWORD};",
        "    second factor: TOTP with the secret below, e.g. `oathtool --totp -b SECRET`;",
        "    development only, refused in production)",
    ]
    lines += [f"    {s.operator_id:8} {s.role.value:10} {s.email}  {s.totp_secret}" for s in logins]
    return lines
