"""One-time codes: 6 digits, keyed hash, single use, bound to one purpose and subject.

A code for cancellation 12 confirms cancellation 12 only. Five tries end a code, counted with
one conditional UPDATE so parallel requests cannot exceed them on any database; wrong tries
also count towards the account's hourly limit, which a new code does not reset.

The statements are built once, here, and bound per call: issuing and checking a code are on
every cancellation's path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import ColumnElement, ScalarSelect, and_, bindparam, case, func, select
from sqlalchemy.orm import Session

from esimcare.config import Limits
from esimcare.customers.lockout import ensure_not_locked, record_failure
from esimcare.customers.models import Customer, OneTimeCode
from esimcare.errors import CodeExpiredError, ResendTooSoonError, WrongCodeError
from esimcare.kit.clock import as_utc, iso
from esimcare.kit.orm_rows import table_of
from esimcare.kit.tokens import keyed_hash, new_numeric_code


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SendHistory:
    """What the resend throttle goes by: how many codes went to the destination in the last
    hour, and when the newest one for the same purpose and subject did (None: none did)."""

    sent_last_hour: int
    latest_for_subject: datetime | None


_CODES = table_of(OneTimeCode)
_C = _CODES.c
_TO_DESTINATION_IN_THE_HOUR = and_(
    _C.destination == bindparam("code_destination"), _C.created_at > bindparam("code_hour_ago")
)


def sent_last_hour_to(destination: ColumnElement[str]) -> ScalarSelect[int]:
    """Codes sent to ``destination`` (a column of the outer statement: the customer's phone)
    in the last hour, as a column for the statement that reads a new request's rows (bound
    with ``hour_ago_parameters``): its subject is new, so that is all its throttle needs
    (``new_subject_history``)."""
    sent = and_(_C.destination == destination, _C.created_at > bindparam("code_hour_ago"))
    return select(func.count()).where(sent).scalar_subquery()


_SAME_THING = and_(_C.purpose == bindparam("code_purpose"), _C.subject == bindparam("code_subject"))
_HISTORY = select(func.count(), func.max(case((_SAME_THING, _C.created_at)))).where(
    _TO_DESTINATION_IN_THE_HOUR
)
_OLDEST_IN_THE_HOUR = select(func.min(_C.created_at)).where(_TO_DESTINATION_IN_THE_HOUR)
_INSERT = _CODES.insert()


def send_parameters(destination: str, now: datetime) -> dict[str, Any]:
    return {"code_destination": destination} | hour_ago_parameters(now)


def hour_ago_parameters(now: datetime) -> dict[str, Any]:
    return {"code_hour_ago": now - timedelta(hours=1)}


def new_subject_history(sent_last_hour: int | None) -> SendHistory:
    """The history of a subject that has only just come into being (a new cancellation)."""
    return SendHistory(sent_last_hour or 0, None)


def issue_code(
    session: Session,
    customer: Customer,
    *,
    purpose: str,
    subject: str,
    destination: str,
    now: datetime,
    limits: Limits,
    key: bytes,
    history: SendHistory | None = None,
) -> IssuedCode:
    """``history``: the destination's, when the caller has read it in this transaction
    (``sent_last_hour_to``); otherwise it is read here."""
    ensure_not_locked(customer, now)
    if history is None:
        history = _history(session, destination, purpose, subject, now)
    _throttle(session, history, destination, now, limits)
    code = new_numeric_code()
    expires_at = now + timedelta(seconds=limits.code_lifetime_s)
    session.connection().execute(
        _INSERT,
        {
            "operator_id": customer.operator_id,
            "customer_id": customer.id,
            "purpose": purpose,
            "subject": subject,
            "destination": destination,
            "code_hash": keyed_hash(key, f"{purpose}:{subject}:{code}"),
            "created_at": now,
            "expires_at": expires_at,
            "attempts": 0,
            "consumed_at": None,
        },
    )
    return IssuedCode(code=code, expires_at=expires_at)


def _history(
    session: Session, destination: str, purpose: str, subject: str, now: datetime
) -> SendHistory:
    parameters = send_parameters(destination, now) | {"code_purpose": purpose,
                                                      "code_subject": subject}  # fmt: skip
    sent, latest = session.execute(_HISTORY, parameters).one()
    return SendHistory(sent or 0, latest)


def _throttle(
    session: Session, history: SendHistory, destination: str, now: datetime, limits: Limits
) -> None:
    """60 s between codes for the same thing (a resend), 5 an hour to one destination whatever
    they are for; a second cancellation right after the first still gets its code."""
    latest = history.latest_for_subject
    if latest is not None:
        wait = as_utc(latest) + timedelta(seconds=limits.resend_interval_s) - now
        if wait.total_seconds() > 0:
            raise ResendTooSoonError(retry_after=int(wait.total_seconds()) + 1,
                                     retry_at=iso(now + wait), limit="interval")  # fmt: skip
    if history.sent_last_hour >= limits.sends_per_hour:
        # The cap lifts when the oldest code of the last hour turns an hour old.
        oldest = session.scalar(_OLDEST_IN_THE_HOUR, send_parameters(destination, now))
        free_at = as_utc(oldest) + timedelta(hours=1) if oldest is not None else now
        raise ResendTooSoonError(
            "too many codes sent to this destination in the last hour",
            retry_after=max(1, int((free_at - now).total_seconds()) + 1),
            retry_at=iso(free_at), limit="hourly",
        )  # fmt: skip


_NOW = bindparam("code_now", type_=_C.expires_at.type)
# The newest code for a customer's purpose and subject: the only one that can still be used.
_NEWEST = (
    select(_C.id)
    .where(
        _C.customer_id == bindparam("code_customer_id"),
        _C.purpose == bindparam("code_purpose"),
        _C.subject == bindparam("code_subject"),
    )
    .order_by(_C.created_at.desc(), _C.id.desc())
    .limit(1)
    .scalar_subquery()
)
# One try on the newest code: counted, and the code consumed if its hash is the one given, in
# one conditional UPDATE. Parallel requests each get their own count and none passes the limit
# (the row stays locked until commit, so a right code is consumed before any other try can
# read the row as unused). The hashes are keyed, so comparing them in SQL rather than in
# constant time shows a caller nothing it could use.
_TAKE_A_TRY = (
    _CODES.update()
    .where(
        _C.id == _NEWEST,
        _C.attempts < bindparam("code_max_attempts"),
        _C.consumed_at.is_(None),
        _C.expires_at > _NOW,
    )
    .values(
        attempts=_C.attempts + 1,
        consumed_at=case((_C.code_hash == bindparam("code_candidate"), _NOW), else_=None),
    )
    .returning(_C.attempts, _C.consumed_at)
)
_ATTEMPTS_OF_NEWEST = select(_C.attempts).where(_C.id == _NEWEST)


def check_code(
    session: Session,
    customer: Customer,
    *,
    purpose: str,
    subject: str,
    code: str,
    now: datetime,
    limits: Limits,
    key: bytes,
) -> None:
    """Consume the newest live code for this purpose and subject, or raise why not."""
    ensure_not_locked(customer, now)
    newest = {"code_customer_id": customer.id, "code_purpose": purpose, "code_subject": subject}
    taken = session.connection().execute(
        _TAKE_A_TRY,
        newest | {
            "code_now": now,
            "code_max_attempts": limits.code_max_attempts,
            "code_candidate": keyed_hash(key, f"{purpose}:{subject}:{code.strip()}"),
        },
    ).one_or_none()  # fmt: skip
    if taken is None:
        _refuse_without_a_try(session, newest, limits)
    if taken.consumed_at is not None:
        return
    record_failure(session, customer, "code", now, limits)
    ensure_not_locked(customer, now)
    raise WrongCodeError(attempts_left=limits.code_max_attempts - taken.attempts)


def _refuse_without_a_try(session: Session, newest: dict[str, Any], limits: Limits) -> NoReturn:
    """Why no try was counted (rare, so a second read): no code at all, one tried too often,
    or one used up or expired."""
    attempts = session.scalar(_ATTEMPTS_OF_NEWEST, newest)
    if (attempts or 0) >= limits.code_max_attempts:
        raise CodeExpiredError("this code was tried too often; ask for a new one", used_up=True)
    raise CodeExpiredError()
