"""Passkeys (WebAuthn) for staff: registering one, and logging in with one as the second factor.

The challenge of a ceremony lives on the staff session row, so it is bound to that browser's
session and used once. The relying party is the site in ``ESIMCARE_PUBLIC_URL``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import PublicKeyCredentialDescriptor

from esimcare.kit.webauthn_ceremony import RelyingParty as RelyingParty  # shared, re-exported
from esimcare.staff.audit import record_staff_action
from esimcare.staff.auth import StaffAuth, complete_second_factor
from esimcare.staff.errors import PasskeyRejectedError
from esimcare.staff.models import StaffPasskey

RP_NAME = "esimcare console"
MAX_LABEL = 60


def passkeys_of(session: Session, staff_id: int) -> list[StaffPasskey]:
    return list(
        session.scalars(
            select(StaffPasskey).where(StaffPasskey.staff_id == staff_id).order_by(StaffPasskey.id)
        )
    )


def registration_options(session: Session, auth: StaffAuth, party: RelyingParty) -> dict[str, Any]:
    """Options for navigator.credentials.create(); only a fully logged-in session adds one."""
    auth.require_complete()
    existing = passkeys_of(session, auth.staff.id)
    options = generate_registration_options(
        rp_id=party.rp_id,
        rp_name=RP_NAME,
        user_name=auth.staff.email,
        user_id=f"staff:{auth.staff.id}".encode(),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id)) for p in existing
        ],
    )
    auth.session.webauthn_challenge = bytes_to_base64url(options.challenge)
    result: dict[str, Any] = json.loads(options_to_json(options))
    return result


def finish_registration(
    session: Session,
    auth: StaffAuth,
    party: RelyingParty,
    credential: dict[str, Any],
    *,
    label: str,
    now: datetime,
    ip: str | None = None,
) -> StaffPasskey:
    auth.require_complete()
    challenge = _take_challenge(auth)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=party.rp_id,
            expected_origin=party.origin,
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as error:
        raise PasskeyRejectedError(str(error)[:200]) from None
    passkey = StaffPasskey(
        staff_id=auth.staff.id,
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        label=(label.strip() or "passkey")[:MAX_LABEL],
        created_at=now,
    )
    session.add(passkey)
    session.flush()
    record_staff_action(
        session,
        auth.staff,
        "staff.passkey_added",
        subject=f"staff:{auth.staff.id}",
        at=now,
        ip=ip,
        data={"passkey_id": passkey.id},
    )
    return passkey


def authentication_options(
    session: Session, auth: StaffAuth, party: RelyingParty
) -> dict[str, Any]:
    """Options for navigator.credentials.get(), limited to this staff member's passkeys."""
    allowed = [
        PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id))
        for p in passkeys_of(session, auth.staff.id)
    ]
    if not allowed:
        raise PasskeyRejectedError("no passkey is registered for this account")
    options = generate_authentication_options(rp_id=party.rp_id, allow_credentials=allowed)
    auth.session.webauthn_challenge = bytes_to_base64url(options.challenge)
    result: dict[str, Any] = json.loads(options_to_json(options))
    return result


def finish_authentication(
    session: Session,
    auth: StaffAuth,
    party: RelyingParty,
    credential: dict[str, Any],
    *,
    now: datetime,
    ip: str | None = None,
) -> str:
    """The second factor by passkey; returns the session's new token."""
    challenge = _take_challenge(auth)
    passkey = session.scalar(
        select(StaffPasskey).where(
            StaffPasskey.staff_id == auth.staff.id,
            StaffPasskey.credential_id == str(credential.get("id", "")),
        )
    )
    if passkey is None:
        raise PasskeyRejectedError("this passkey is not registered for this account")
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=party.rp_id,
            expected_origin=party.origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
        )
    except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError) as error:
        raise PasskeyRejectedError(str(error)[:200]) from None
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = now
    return complete_second_factor(session, auth, "passkey", now=now, ip=ip)


def _take_challenge(auth: StaffAuth) -> bytes:
    """The ceremony's challenge, forgotten as it is used: an answer can be verified once."""
    challenge = auth.session.webauthn_challenge
    auth.session.webauthn_challenge = None
    if not challenge:
        raise PasskeyRejectedError("no passkey ceremony is under way; start again")
    return base64url_to_bytes(challenge)
