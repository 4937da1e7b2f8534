"""WebAuthn ceremonies that staff and customer passkeys share, around py_webauthn.

The relying party is the site in ``ESIMCARE_PUBLIC_URL``: its host is the RP id, its scheme and
host the only origin an answer may come from. Customer ceremonies require user verification
(on a phone: the face or fingerprint unlock, not a mere tap).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

# Malformed answers surface from py_webauthn as any of these; all mean "not verified".
_MALFORMED = (ValueError, KeyError, TypeError, AttributeError)


class CeremonyError(ValueError):
    """The authenticator's answer does not verify (wrong origin, challenge, signature, flags)."""


@dataclass(frozen=True)
class RelyingParty:
    rp_id: str
    origin: str

    @classmethod
    def for_site(cls, public_url: str) -> RelyingParty:
        parts = urlsplit(public_url)
        return cls(rp_id=parts.hostname or "localhost", origin=f"{parts.scheme}://{parts.netloc}")


@dataclass(frozen=True)
class NewCredential:
    credential_id: str
    public_key: bytes
    sign_count: int


def descriptors(credential_ids: list[str]) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=base64url_to_bytes(c)) for c in credential_ids]


def creation_options(
    party: RelyingParty,
    *,
    rp_name: str,
    user_id: bytes,
    user_name: str,
    exclude: list[str],
) -> tuple[bytes, dict[str, Any]]:
    """The challenge and the JSON options of navigator.credentials.create() for a discoverable
    credential with user verification required."""
    options = generate_registration_options(
        rp_id=party.rp_id,
        rp_name=rp_name,
        user_id=user_id,
        user_name=user_name,
        exclude_credentials=descriptors(exclude),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
    )
    parsed: dict[str, Any] = json.loads(options_to_json(options))
    return options.challenge, parsed


def request_options(party: RelyingParty, allowed: list[str]) -> tuple[bytes, dict[str, Any]]:
    """The challenge and the JSON options of navigator.credentials.get(); an empty ``allowed``
    lets the authenticator offer any of its passkeys for this site (a discoverable login)."""
    options = generate_authentication_options(
        rp_id=party.rp_id,
        allow_credentials=descriptors(allowed),
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    parsed: dict[str, Any] = json.loads(options_to_json(options))
    return options.challenge, parsed


def parse_answer(raw: str) -> dict[str, Any]:
    """The browser's answer as sent (JSON), or CeremonyError."""
    try:
        answer = json.loads(raw)
    except ValueError:
        raise CeremonyError("the passkey answer is not JSON") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
        raise CeremonyError("the passkey answer has no credential id")
    return answer


def challenge_in(answer: dict[str, Any]) -> bytes:
    """The challenge the authenticator signed, read from clientDataJSON (verified again later
    by py_webauthn against the one we stored)."""
    try:
        client_data = json.loads(base64url_to_bytes(answer["response"]["clientDataJSON"]))
        return base64url_to_bytes(str(client_data["challenge"]))
    except (*_MALFORMED, json.JSONDecodeError):
        raise CeremonyError("the passkey answer has no readable challenge") from None


def verify_creation(party: RelyingParty, answer: dict[str, Any], challenge: bytes) -> NewCredential:
    try:
        verified = verify_registration_response(
            credential=answer,
            expected_challenge=challenge,
            expected_rp_id=party.rp_id,
            expected_origin=party.origin,
            require_user_verification=True,
        )
    except (InvalidRegistrationResponse, *_MALFORMED) as error:
        raise CeremonyError(str(error)[:200]) from None
    return NewCredential(
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
    )


def verify_assertion(
    party: RelyingParty,
    answer: dict[str, Any],
    challenge: bytes,
    *,
    public_key: bytes,
    sign_count: int,
) -> int:
    """The authenticator's new sign counter; a counter that did not grow is refused (a cloned
    authenticator), as is an answer without the user-verified flag."""
    try:
        verified = verify_authentication_response(
            credential=answer,
            expected_challenge=challenge,
            expected_rp_id=party.rp_id,
            expected_origin=party.origin,
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=True,
        )
    except (InvalidAuthenticationResponse, *_MALFORMED) as error:
        raise CeremonyError(str(error)[:200]) from None
    return verified.new_sign_count
