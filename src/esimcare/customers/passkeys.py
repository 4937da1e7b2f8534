"""Customers' passkeys: adding one after a recent login, logging in with one, and proving
presence for one purpose (the confirmation of one cancellation).

Every ceremony's challenge is a row bound to its operator, purpose and subject (and customer,
once known), kept as a hash, live for five minutes and used once by a conditional UPDATE: a
replayed answer finds its challenge used. User verification is required throughout. A
credential belongs to one operator's customer; another operator's site never accepts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from esimcare.audit.service import record
from esimcare.config import Limits
from esimcare.customers.lockout import ensure_not_locked
from esimcare.customers.models import Customer
from esimcare.customers.passkey_models import CustomerPasskey, PasskeyChallenge
from esimcare.customers.sessions import Authenticated, IssuedSession, open_session, revoke_token
from esimcare.errors import (
    AuthenticationError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    VerificationLockedError,
)
from esimcare.i18n import N_
from esimcare.kit.tokens import digest
from esimcare.kit.webauthn_ceremony import (
    CeremonyError,
    RelyingParty,
    challenge_in,
    creation_options,
    parse_answer,
    request_options,
    verify_assertion,
    verify_creation,
)

RP_NAME = "esimcare"
MAX_LABEL = 60
CHALLENGE_LIFETIME = timedelta(minutes=5)
# security.md step-up: adding a way to log in needs a login (or a password) in the last 5 min.
RECENT_LOGIN = timedelta(minutes=5)
LOGIN, REGISTER = "login", "register"


class PasskeyNotAcceptedError(InvalidInputError):
    commit_before_raising = True  # the challenge stays used; a failed proof stays counted
    code = "passkey-rejected"
    title = N_("The passkey could not be verified")


class RecentLoginRequiredError(ForbiddenError):
    code = "recent-login-required"
    title = N_("Enter your password again to add a passkey")


@dataclass(frozen=True)
class Client:
    """Where a ceremony's request came from, for the audit trail and the new session."""

    ip: str | None = None
    user_agent: str | None = None
    replacing_token: str | None = None


def passkeys_of(session: Session, customer: Customer) -> list[CustomerPasskey]:
    return list(
        session.scalars(
            select(CustomerPasskey)
            .where(
                CustomerPasskey.operator_id == customer.operator_id,
                CustomerPasskey.customer_id == customer.id,
            )
            .order_by(CustomerPasskey.id)
        )
    )


def has_passkey(session: Session, customer: Customer) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    CustomerPasskey.operator_id == customer.operator_id,
                    CustomerPasskey.customer_id == customer.id,
                )
            )
        )
    )


def user_handle(customer: Customer) -> bytes:
    """Unique across operators: all of them share one site (RP id), and an authenticator
    keeps one discoverable passkey per site and user handle."""
    return f"{customer.operator_id}:{customer.id}".encode()


def recently_logged_in(auth: Authenticated, now: datetime) -> bool:
    return now - auth.session.created_at <= RECENT_LOGIN


def registration_options(
    session: Session,
    auth: Authenticated,
    party: RelyingParty,
    *,
    now: datetime,
    reauthenticated: bool = False,
) -> dict[str, Any]:
    """Options for navigator.credentials.create(). A session that is not fresh
    (``recently_logged_in``) is refused unless the door has just checked the password
    (``reauthenticated``)."""
    if not (reauthenticated or recently_logged_in(auth, now)):
        raise RecentLoginRequiredError()
    customer = auth.customer
    challenge, options = creation_options(
        party,
        rp_name=RP_NAME,
        user_id=user_handle(customer),
        user_name=customer.email or customer.phone,
        exclude=[p.credential_id for p in passkeys_of(session, customer)],
    )
    _store_challenge(session, customer.operator_id, customer.id, REGISTER,
                     str(auth.session.id), challenge, now)  # fmt: skip
    return options


def finish_registration(
    session: Session,
    auth: Authenticated,
    party: RelyingParty,
    raw_answer: str,
    *,
    label: str,
    now: datetime,
    ip: str | None = None,
) -> CustomerPasskey:
    customer = auth.customer
    try:
        answer = parse_answer(raw_answer)
        challenge = _take_challenge(session, answer, customer.operator_id, customer.id,
                                    REGISTER, str(auth.session.id), now)  # fmt: skip
        created = verify_creation(party, answer, challenge)
    except CeremonyError as error:
        raise PasskeyNotAcceptedError(str(error)) from None
    passkey = CustomerPasskey(
        operator_id=customer.operator_id,
        customer_id=customer.id,
        credential_id=created.credential_id,
        public_key=created.public_key,
        sign_count=created.sign_count,
        label=(label.strip() or "passkey")[:MAX_LABEL],
        created_at=now,
    )
    session.add(passkey)
    session.flush()
    _audit(session, customer, "customer.passkey_added", now, ip, passkey)
    return passkey


def remove_passkey(
    session: Session, customer: Customer, passkey_id: int, *, now: datetime, ip: str | None = None
) -> None:
    passkey = session.get(CustomerPasskey, passkey_id)
    if passkey is None or (passkey.operator_id, passkey.customer_id) != (
        customer.operator_id,
        customer.id,
    ):
        raise NotFoundError("no such passkey on this account")
    _audit(session, customer, "customer.passkey_removed", now, ip, passkey)
    session.delete(passkey)


def login_options(
    session: Session, operator_id: str, party: RelyingParty, *, now: datetime
) -> dict[str, Any]:
    """Options for a discoverable login: the phone offers its passkeys for this site."""
    challenge, options = request_options(party, [])
    _store_challenge(session, operator_id, None, LOGIN, operator_id, challenge, now)
    return options


def finish_login(
    session: Session,
    operator_id: str,
    party: RelyingParty,
    raw_answer: str,
    *,
    now: datetime,
    limits: Limits,
    client: Client,
) -> tuple[Customer, IssuedSession]:
    """A new session for the passkey's owner at this operator, or PasskeyNotAcceptedError
    (a locked account answers AuthenticationError, as a password login does)."""
    try:
        answer = parse_answer(raw_answer)
        challenge = _take_challenge(session, answer, operator_id, None, LOGIN, operator_id, now)
        passkey = _credential(session, operator_id, None, answer)
        _check(party, answer, challenge, passkey, now)
    except CeremonyError as error:
        raise PasskeyNotAcceptedError(str(error)) from None
    customer = session.get(Customer, passkey.customer_id)
    if customer is None:
        raise AuthenticationError()
    try:
        ensure_not_locked(customer, now)
    except VerificationLockedError:
        raise AuthenticationError() from None
    if client.replacing_token:
        revoke_token(session, client.replacing_token, now)
    issued = open_session(session, customer, now, limits, client.ip, client.user_agent)
    _audit(session, customer, "customer.passkey_login", now, client.ip, passkey)
    return customer, issued


def assertion_options(
    session: Session,
    customer: Customer,
    party: RelyingParty,
    *,
    purpose: str,
    subject: str,
    now: datetime,
) -> dict[str, Any]:
    """Options to prove, with one of this customer's passkeys, presence for one subject."""
    allowed = [p.credential_id for p in passkeys_of(session, customer)]
    if not allowed:
        raise PasskeyNotAcceptedError("no passkey is registered for this account")
    challenge, options = request_options(party, allowed)
    _store_challenge(session, customer.operator_id, customer.id, purpose, subject, challenge, now)
    return options


def check_assertion(
    session: Session,
    customer: Customer,
    party: RelyingParty,
    raw_answer: str,
    *,
    purpose: str,
    subject: str,
    now: datetime,
) -> CustomerPasskey:
    """The passkey that proved presence for exactly this purpose and subject, or
    PasskeyNotAcceptedError (the caller counts the failure)."""
    try:
        answer = parse_answer(raw_answer)
        challenge = _take_challenge(session, answer, customer.operator_id, customer.id,
                                    purpose, subject, now)  # fmt: skip
        passkey = _credential(session, customer.operator_id, customer.id, answer)
        _check(party, answer, challenge, passkey, now)
    except CeremonyError as error:
        raise PasskeyNotAcceptedError(str(error)) from None
    return passkey


def _check(
    party: RelyingParty,
    answer: dict[str, Any],
    challenge: bytes,
    passkey: CustomerPasskey,
    now: datetime,
) -> None:
    passkey.sign_count = verify_assertion(
        party, answer, challenge, public_key=passkey.public_key, sign_count=passkey.sign_count
    )
    passkey.last_used_at = now


def _credential(
    session: Session, operator_id: str, customer_id: int | None, answer: dict[str, Any]
) -> CustomerPasskey:
    query = select(CustomerPasskey).where(
        CustomerPasskey.operator_id == operator_id,
        CustomerPasskey.credential_id == answer["id"],
    )
    if customer_id is not None:
        query = query.where(CustomerPasskey.customer_id == customer_id)
    passkey = session.scalar(query)
    if passkey is None:
        raise CeremonyError("this passkey is not registered here")
    return passkey


def _store_challenge(
    session: Session,
    operator_id: str,
    customer_id: int | None,
    purpose: str,
    subject: str,
    challenge: bytes,
    now: datetime,
) -> None:
    # Logins start without an account, so stale challenges are swept as new ones are made.
    session.execute(delete(PasskeyChallenge).where(PasskeyChallenge.expires_at < now))
    session.add(
        PasskeyChallenge(
            operator_id=operator_id,
            customer_id=customer_id,
            purpose=purpose,
            subject=subject,
            challenge_hash=digest(challenge.hex()),
            created_at=now,
            expires_at=now + CHALLENGE_LIFETIME,
        )
    )
    session.flush()


def _take_challenge(
    session: Session,
    answer: dict[str, Any],
    operator_id: str,
    customer_id: int | None,
    purpose: str,
    subject: str,
    now: datetime,
) -> bytes:
    """Mark the answer's challenge used, in one conditional UPDATE, if it was issued for
    exactly this; parallel replays get one winner."""
    challenge = challenge_in(answer)
    owner = (
        PasskeyChallenge.customer_id.is_(None)
        if customer_id is None
        else PasskeyChallenge.customer_id == customer_id
    )
    taken = session.execute(
        update(PasskeyChallenge)
        .where(
            PasskeyChallenge.challenge_hash == digest(challenge.hex()),
            PasskeyChallenge.operator_id == operator_id,
            owner,
            PasskeyChallenge.purpose == purpose,
            PasskeyChallenge.subject == subject,
            PasskeyChallenge.used_at.is_(None),
            PasskeyChallenge.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise CeremonyError("this passkey request has expired or was already used; start again")
    return challenge


def _audit(
    session: Session,
    customer: Customer,
    action: str,
    now: datetime,
    ip: str | None,
    passkey: CustomerPasskey,
) -> None:
    record(
        session,
        operator_id=customer.operator_id,
        actor=f"customer:{customer.id}",
        action=action,
        subject=f"customer:{customer.id}",
        at=now,
        ip=ip,
        data={"passkey_id": passkey.id, "label": passkey.label},
    )
