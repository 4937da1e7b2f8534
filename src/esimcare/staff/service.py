"""Staff accounts: adding one (with a one-time set-up link), setting it up, finding one.

Functions take the caller's session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from esimcare.customers.passwords import hash_password
from esimcare.errors import ConflictError, InvalidInputError
from esimcare.i18n import N_
from esimcare.integrations.email.address import check_address
from esimcare.integrations.errors import PermanentIntegrationError
from esimcare.kit.tokens import digest, new_token
from esimcare.staff.audit import record_staff_action
from esimcare.staff.errors import SetupLinkInvalidError
from esimcare.staff.models import StaffMember
from esimcare.staff.roles import StaffRole
from esimcare.staff.totp import accept_totp, open_secret, seal_secret

SETUP_LINK_LIFETIME = timedelta(hours=24)
TOTP_ISSUER = "esimcare console"


@dataclass(frozen=True)
class AddedStaff:
    staff: StaffMember
    setup_token: str


class StaffExistsError(ConflictError):
    code = "staff-exists"
    title = N_("A staff member with this e-mail already exists")


def normalise_email(email: str) -> str:
    address = email.strip().lower()
    try:
        check_address(address)
    except PermanentIntegrationError:
        raise InvalidInputError("not an e-mail address", field="email") from None
    return address


def add_staff(
    session: Session,
    *,
    operator_id: str | None,
    role: StaffRole,
    email: str,
    now: datetime,
    added_by: StaffMember | None = None,
) -> AddedStaff:
    """A new account without password or second factor; the set-up link provides both."""
    staff = StaffMember(
        operator_id=operator_id,
        email=normalise_email(email),
        role=role,
        failed_attempts=0,
        development_only=False,
        created_at=now,
    )
    token = new_token()
    staff.setup_token_hash = digest(token)
    staff.setup_expires_at = now + SETUP_LINK_LIFETIME
    try:
        with session.begin_nested():
            session.add(staff)
            session.flush()
    except IntegrityError:
        raise StaffExistsError() from None
    record_staff_action(
        session,
        added_by or staff,
        "staff.added",
        subject=f"staff:{staff.id}",
        at=now,
        data={"email": staff.email, "new_role": role.value, "by": "cli" if not added_by else ""},
    )
    return AddedStaff(staff, token)


def staff_for_setup(session: Session, token: str, now: datetime, key: bytes) -> StaffMember:
    """The account a set-up link belongs to; its TOTP secret is made on first sight."""
    staff = session.scalar(select(StaffMember).where(StaffMember.setup_token_hash == digest(token)))
    if staff is None or staff.setup_expires_at is None or staff.setup_expires_at <= now:
        raise SetupLinkInvalidError()
    if staff.totp_secret is None:
        staff.totp_secret = seal_secret(key, pyotp.random_base32())
    return staff


def complete_setup(
    session: Session, token: str, *, password: str, totp_code: str, now: datetime, key: bytes
) -> StaffMember:
    """Password chosen and the authenticator app proven: the link is used up."""
    staff = staff_for_setup(session, token, now, key)
    password_hash = hash_password(password)
    accept_totp(staff, totp_code, now, key)
    staff.password_hash = password_hash
    staff.setup_token_hash = None
    staff.setup_expires_at = None
    record_staff_action(
        session, staff, "staff.setup_completed", subject=f"staff:{staff.id}", at=now
    )
    return staff


def totp_secret_of(staff: StaffMember, key: bytes) -> str:
    """The secret in clear, for the set-up page only (the authenticator app must learn it)."""
    assert staff.totp_secret is not None
    return open_secret(key, staff.totp_secret)


def provisioning_uri(staff: StaffMember, key: bytes) -> str:
    totp = pyotp.TOTP(totp_secret_of(staff, key))
    return totp.provisioning_uri(name=staff.email, issuer_name=TOTP_ISSUER)


def staff_by_email(session: Session, email: str) -> StaffMember | None:
    try:
        address = normalise_email(email)
    except InvalidInputError:
        return None
    return session.scalar(select(StaffMember).where(StaffMember.email == address))
