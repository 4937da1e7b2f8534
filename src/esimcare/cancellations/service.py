"""Requesting, verifying and undoing a cancellation. The workflow itself is in workflow.py.

Functions take the caller's session and never commit: the request boundary does.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from esimcare.audit.service import AuditEntry, record_all
from esimcare.cancellations.expiry import ensure_sweep
from esimcare.cancellations.models import Cancellation, CancellationStep
from esimcare.cancellations.quote import Quote, QuoteReads, compute_quote, effective_time
from esimcare.cancellations.quote_hold import (
    QuoteRanOutError,
    check_amounts,
    check_stamp,
    quote_valid_until,
    read_quote_id,
    stamp_quote,
)
from esimcare.cancellations.reads import (
    VerificationReads,
    cancellation_and_esim,
    read_quote,
    read_request,
    read_verification,
)
from esimcare.cancellations.states import STEP_ORDER, CancellationStatus, StepStatus
from esimcare.cancellations.systems import RequestSystems
from esimcare.cancellations.transitions import (
    Move,
    advance,
    move,
    move_esim,
    record_start,
    set_esim_status,
)
from esimcare.cancellations.undo_links import undo_mark, undo_token_hash
from esimcare.cancellations.verification_methods import (
    methods_for,
    methods_given,
    require_some_method,
)
from esimcare.customers.codes import IssuedCode, SendHistory, check_code, issue_code
from esimcare.customers.identity import CustomerKey
from esimcare.customers.lockout import ensure_not_locked, record_failure
from esimcare.customers.models import Customer
from esimcare.customers.passkeys import PasskeyNotAcceptedError, assertion_options, check_assertion
from esimcare.customers.service import check_password
from esimcare.errors import (
    AccountLockedError,
    CancellationExpiredError,
    CancellationInProgressError,
    DebtOutstandingError,
    EsimNotCancellableError,
    InvalidInputError,
    InvalidTransitionError,
    MethodNotAllowedError,
    NotFoundError,
    RefundDestinationRequiredError,
    ResendTooSoonError,
    WrongCodeError,
)
from esimcare.esims.models import Esim
from esimcare.esims.service import EsimView
from esimcare.esims.states import EsimStatus
from esimcare.jobs.queue import new_job
from esimcare.kit.ids import InvalidIdentifierError, Msisdn
from esimcare.kit.local_time import local_datetime
from esimcare.kit.orm_rows import adopt, table_of
from esimcare.kit.tokens import digest
from esimcare.kit.webauthn_ceremony import RelyingParty
from esimcare.notices.service import notify_all_channels
from esimcare.notices.templates import render
from esimcare.operators.policy import Policy, RefundRoute, VerificationMethod

CODE_PURPOSE = "cancellation"
STEP_JOB = "cancellation.step"
EXPIRE_JOB = "cancellation.expire"
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class Requested:
    cancellation: Cancellation
    quote: Quote
    code: IssuedCode | None
    sms_to: str | None
    methods: tuple[VerificationMethod, ...]
    # The number being cancelled (the code's message names it).
    msisdn: str
    # The customer's row as the request read it (whom the code goes to, after commit).
    customer: Customer
    # Why no code was sent although SMS is a method (the resend pause or the hourly cap);
    # the customer confirms another way the operator allows, or later.
    sms_refused: ResendTooSoonError | None = None


def quote_for(
    session: Session,
    ctx: RequestSystems,
    customer: Customer,
    esim_id: int,
    refund_to: str | None = None,
) -> Quote:
    now = ctx.clock.now()
    effective_at = effective_time(ctx.policy(customer.operator_id), now)
    view, reads = read_quote(session, customer, esim_id, effective_at=effective_at)
    return held_quote(session, ctx, customer, view, refund_to, None, now, reads)


def held_quote(
    session: Session,
    ctx: RequestSystems,
    customer: Customer,
    view: EsimView,
    refund_to: str | None,
    quote_id: str | None,
    now: datetime,
    reads: QuoteReads | None = None,
) -> Quote:
    """A fresh quote made ``now``, or the one ``quote_id`` names recomputed at its own
    effective time: the amounts it promised, or QuoteExpiredError. ``reads``: what the quote
    reads, when the caller has read it (``reads.read_request``)."""
    policy = ctx.policy(customer.operator_id)
    key = ctx.settings.secret_key
    stamp = read_quote_id(key, quote_id) if quote_id else None
    if stamp is not None:
        check_stamp(stamp, operator_id=customer.operator_id, customer_id=customer.id,
                    esim_id=view.esim.id, now=now)  # fmt: skip
    effective_at = stamp.effective_at if stamp else effective_time(policy, now)
    quote = compute_quote(session, policy, customer, view.esim, view.plan, effective_at, refund_to,
                          balance=view.balance, reads=reads)  # fmt: skip
    if stamp is not None:
        check_amounts(stamp, quote)
    return stamp_quote(key, quote, operator_id=customer.operator_id, customer_id=customer.id,
                       esim_id=view.esim.id, quoted_at=stamp.quoted_at if stamp else now,
                       validity=timedelta(minutes=policy.quote_validity_minutes))  # fmt: skip


def request_cancellation(
    session: Session,
    ctx: RequestSystems,
    customer: Customer | CustomerKey,
    esim_id: int,
    *,
    reason: str,
    comment: str | None = None,
    refund_to: str | None = None,
    ip: str | None = None,
    quote_id: str | None = None,
) -> Requested:
    policy = ctx.policy(customer.operator_id)
    now = ctx.clock.now()
    effective_at = _effective_at(ctx, policy, quote_id, now)
    read = read_request(session, policy, customer, esim_id, effective_at=effective_at, now=now)
    customer, view = read.customer, read.view  # a key's customer is read with the rest
    refund_to = _check_request(policy, customer, view, reason, refund_to,
                               read.open_cancellation_id)  # fmt: skip
    methods = require_some_method(session, policy, customer, now, read.methods)
    quote = held_quote(session, ctx, customer, view, refund_to, quote_id, now, read.quote)
    _refuse_blocking_debt(policy, quote)
    cancellation = _insert(session, customer, view, quote, reason, comment, refund_to, now,
                           watched=policy.has_webhooks)  # fmt: skip
    _expire_unless_verified(session, ctx, cancellation, now)
    code, refused = None, None
    if VerificationMethod.SMS in methods:
        try:
            code = _issue_code(session, ctx, customer, cancellation, now, read.sends)
        except ResendTooSoonError as error:
            if methods == (VerificationMethod.SMS,):
                raise  # no other way to confirm: nothing is requested, the page says until when
            refused = error
    # Last: the chain head stays locked until commit.
    audit(session, cancellation, f"customer:{customer.id}", "cancellation.requested",
                  now, ip, {"esim_id": view.esim.id, "reason": reason})  # fmt: skip
    sms_to = customer.phone if code else None
    return Requested(cancellation, quote, code, sms_to, methods, view.esim.msisdn, customer,
                     sms_refused=refused)  # fmt: skip


def _effective_at(
    ctx: RequestSystems, policy: Policy, quote_id: str | None, now: datetime
) -> datetime:
    """The moment the quote will be made for, before anything is read (a quote id that is not
    ours is refused later, by ``held_quote``, after the checks that come first)."""
    if quote_id:
        try:
            return read_quote_id(ctx.settings.secret_key, quote_id).effective_at
        except InvalidInputError:
            pass
    return effective_time(policy, now)


def _refuse_blocking_debt(policy: Policy, quote: Quote) -> None:
    debt = quote.debt_before
    if debt.minor > 0 and policy.debt_blocks_cancellation:
        raise DebtOutstandingError(
            f"pay the debt of {debt.amount_text()} {debt.currency} first", debt=debt.to_json()
        )


def _insert(
    session: Session,
    customer: Customer,
    view: EsimView,
    quote: Quote,
    reason: str,
    comment: str | None,
    refund_to: str | None,
    now: datetime,
    *,
    watched: bool,
) -> Cancellation:
    """One prebuilt INSERT, and the ORM object made from the values it wrote."""
    values = {
        "reference": _new_reference(),
        "operator_id": customer.operator_id,
        "customer_id": customer.id,
        "esim_id": view.esim.id,
        "status": CancellationStatus.AWAITING_VERIFICATION,
        "reason": reason,
        "comment": comment,
        "refund_to": refund_to,
        "quote": quote.to_json(),
        "effective_at": quote.effective_at,
        "verification_method": None,
        "verified_at": None,
        "undo_token_hash": None,
        "failure_reason": None,
        "created_at": now,
        "completed_at": None,
    }
    try:
        new_id = session.connection().execute(_INSERT_CANCELLATION, values).scalar_one()
    except IntegrityError:
        # Another request won the race for this eSIM; the partial unique index said so. No
        # savepoint: the error ends the request, and with it the transaction (rolled back).
        raise CancellationInProgressError() from None
    cancellation = adopt(session, Cancellation(id=new_id, **values))
    record_start(session, cancellation, actor=f"customer:{customer.id}", now=now, note=reason,
                 watched=watched)  # fmt: skip
    return cancellation


_CANCELLATIONS = table_of(Cancellation)
_INSERT_CANCELLATION = _CANCELLATIONS.insert().returning(_CANCELLATIONS.c.id)


def _expire_unless_verified(
    session: Session, ctx: RequestSystems, cancellation: Cancellation, now: datetime
) -> None:
    """Expired by the sweep of the minute its window ends in (``expiry``), if not verified
    by then; ``EXPIRE_JOB`` rows queued before the sweep existed still run."""
    window_end = now + timedelta(seconds=ctx.settings.limits.verification_window_s)
    ensure_sweep(session, cancellation.operator_id, window_end=window_end, now=now)


def audit(
    session: Session,
    cancellation: Cancellation,
    actor: str,
    action: str,
    now: datetime,
    ip: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """One audit row about a cancellation (who, what, when, from where), with ``record_all``'s
    Core INSERT: no ORM object to build or flush."""
    subject = f"cancellation:{cancellation.reference}"
    entry = AuditEntry(cancellation.operator_id, actor, action, subject, now, ip, data or {})
    record_all(session, [entry])


def _check_request(
    policy: Policy,
    customer: Customer,
    view: EsimView,
    reason: str,
    refund_to: str | None,
    open_one: int | None,
) -> str | None:
    """``open_one``: the eSIM's open cancellation (``reads``), if it has one."""
    if customer.cancellation_lock:
        raise AccountLockedError("lift the account's cancellation lock first (hotline or office)")
    if policy.reason(reason) is None:
        codes = ", ".join(r.code for r in policy.reasons)
        raise InvalidInputError(f"unknown reason {reason!r}; use one of: {codes}")
    if open_one is not None:
        raise CancellationInProgressError(cancellation_id=open_one)
    if view.esim.status is not EsimStatus.ACTIVE:
        raise EsimNotCancellableError(f"the eSIM is {view.esim.status.value}")
    if policy.refund_route is not RefundRoute.ANOTHER_NUMBER:
        return None
    if not refund_to:
        raise RefundDestinationRequiredError()
    try:
        number = Msisdn.parse(refund_to, policy.region).value
    except InvalidIdentifierError as error:
        raise InvalidInputError(f"refund_to: {error}", field="refund_to") from None
    if number == view.esim.msisdn:
        raise InvalidInputError("refund_to must be another number than the one being cancelled")
    return number


def _new_reference() -> str:
    return "C-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


def _issue_code(
    session: Session,
    ctx: RequestSystems,
    customer: Customer,
    cancellation: Cancellation,
    now: datetime,
    history: SendHistory | None = None,
) -> IssuedCode:
    # The code goes to the account's verified contact number, never to a number typed now.
    return issue_code(
        session,
        customer,
        purpose=CODE_PURPOSE,
        subject=str(cancellation.id),
        destination=customer.phone,
        now=now,
        limits=ctx.settings.limits,
        key=ctx.settings.secret_key,
        history=history,
    )


def resend_code(
    session: Session, ctx: RequestSystems, customer: Customer, cancellation_id: int
) -> tuple[Cancellation, IssuedCode]:
    now = ctx.clock.now()
    policy = ctx.policy(customer.operator_id)
    if VerificationMethod.SMS not in methods_for(session, policy, customer, now):
        raise MethodNotAllowedError()
    cancellation = _awaiting(session, ctx, customer, cancellation_id)
    return cancellation, _issue_code(session, ctx, customer, cancellation, now)


def deliver_code(
    ctx: RequestSystems,
    customer: Customer,
    cancellation: Cancellation,
    code: IssuedCode,
    msisdn: str,
) -> None:
    """Sent straight after commit rather than through the notice outbox, so the code itself
    is never stored in clear; if sending fails the customer asks for a new code."""
    policy = ctx.policy(customer.operator_id)
    _, body = render(
        "verification_code",
        customer.language,
        operator=policy.name,
        code=code.code,
        msisdn=msisdn,
        minutes=ctx.settings.limits.code_lifetime_s // 60,
    )
    ctx.sms.send(
        to=customer.phone,
        body=body,
        message_key=f"otp:{cancellation.id}:{digest(code.code)[:12]}",
        sender=policy.sms_sender or None,
    )


def get_cancellation(session: Session, customer: Customer, cancellation_id: int) -> Cancellation:
    cancellation = session.get(Cancellation, cancellation_id)
    if (
        cancellation is None
        or cancellation.operator_id != customer.operator_id
        or cancellation.customer_id != customer.id
    ):
        raise NotFoundError("no such cancellation on this account")
    return cancellation


def _awaiting(
    session: Session, ctx: RequestSystems, customer: Customer, cancellation_id: int
) -> Cancellation:
    return _awaiting_with_esim(session, ctx, customer, cancellation_id)[0]


def _awaiting_with_esim(
    session: Session, ctx: RequestSystems, customer: Customer, cancellation_id: int
) -> tuple[Cancellation, Esim]:
    """``_awaiting``, with the eSIM read by the same query. While the caller holds it, the
    session's identity map (weak) keeps it, so ``view_esim`` and the webhook outbox read it
    from there instead of the database."""
    cancellation, esim = cancellation_and_esim(session, customer, cancellation_id)
    _check_awaiting(session, ctx, cancellation, ctx.clock.now())
    return cancellation, esim


def _check_awaiting(
    session: Session, ctx: RequestSystems, cancellation: Cancellation, now: datetime
) -> None:
    """Still to be verified, or why not (one past its window is closed as expired)."""
    window = timedelta(seconds=ctx.settings.limits.verification_window_s)
    late = cancellation.status is CancellationStatus.AWAITING_VERIFICATION and (
        now >= cancellation.created_at + window
    )
    if late and _expired_unless_moved_on(session, ctx, cancellation, now):
        raise CancellationExpiredError()
    if cancellation.status is not CancellationStatus.AWAITING_VERIFICATION:
        raise InvalidTransitionError(f"the cancellation is already {cancellation.status.value}")


def verify(
    session: Session,
    ctx: RequestSystems,
    customer: Customer | CustomerKey,
    cancellation_id: int,
    *,
    method: str,
    secret: str,
    ip: str | None = None,
) -> Cancellation:
    policy = ctx.policy(customer.operator_id)
    try:
        chosen = VerificationMethod(method)
    except ValueError:
        raise MethodNotAllowedError(f"unknown method {method!r}") from None
    now = ctx.clock.now()
    read = _verifiable(session, ctx, customer, cancellation_id, chosen, now)
    cancellation, esim, customer = read.cancellation, read.esim, read.customer
    _require_quote_holds(session, cancellation, now)
    limits = ctx.settings.limits
    if chosen is VerificationMethod.SMS:
        check_code(
            session,
            customer,
            purpose=CODE_PURPOSE,
            subject=str(cancellation.id),
            code=secret,
            now=now,
            limits=limits,
            key=ctx.settings.secret_key,
        )
    elif chosen is VerificationMethod.PASSKEY:
        _check_passkey(session, ctx, customer, cancellation, secret, now)
    elif not check_password(
        session, customer, secret, now=now, limits=limits, work=ctx.password_work
    ):
        raise WrongCodeError("the password is wrong")
    _schedule(session, ctx, customer, cancellation, policy, now, esim=esim,
              verified_by=chosen.value)  # fmt: skip
    # Last: the chain head stays locked until commit.
    audit(session, cancellation, f"customer:{customer.id}", "cancellation.verified",
                  now, ip, {"method": chosen.value})  # fmt: skip
    return cancellation


def _verifiable(
    session: Session,
    ctx: RequestSystems,
    customer: Customer | CustomerKey,
    cancellation_id: int,
    chosen: VerificationMethod,
    now: datetime,
) -> VerificationReads:
    """The cancellation, its eSIM and the customer, if ``chosen`` may confirm it and it
    awaits that; the three and the facts that decide the methods come in one statement."""
    policy = ctx.policy(customer.operator_id)
    read = read_verification(session, policy, customer, cancellation_id, now)
    if read is None:  # the answer says the method is not allowed first, as it always did
        methods = methods_for(session, policy, _loaded(session, customer), now)
    else:
        methods = methods_given(policy, read.methods)
    if chosen not in methods:
        raise MethodNotAllowedError()
    if read is None:
        raise NotFoundError("no such cancellation on this account")
    _check_awaiting(session, ctx, read.cancellation, now)
    return read


def _loaded(session: Session, customer: Customer | CustomerKey) -> Customer:
    if isinstance(customer, Customer):
        return customer
    found = session.get(Customer, customer.id)
    if found is None or found.operator_id != customer.operator_id:
        raise NotFoundError("no such customer")
    return found


def passkey_options(
    session: Session, ctx: RequestSystems, customer: Customer, cancellation_id: int
) -> dict[str, Any]:
    """Options for navigator.credentials.get() whose challenge confirms this cancellation
    only, once, within five minutes."""
    now = ctx.clock.now()
    policy = ctx.policy(customer.operator_id)
    if VerificationMethod.PASSKEY not in methods_for(session, policy, customer, now):
        raise MethodNotAllowedError()
    cancellation = _awaiting(session, ctx, customer, cancellation_id)
    party = RelyingParty.for_site(ctx.settings.public_url)
    return assertion_options(
        session, customer, party, purpose=CODE_PURPOSE, subject=str(cancellation.id), now=now
    )


def _check_passkey(
    session: Session,
    ctx: RequestSystems,
    customer: Customer,
    cancellation: Cancellation,
    answer: str,
    now: datetime,
) -> None:
    """A refused answer counts towards the account's hourly limit, as a wrong code does."""
    ensure_not_locked(customer, now)
    party = RelyingParty.for_site(ctx.settings.public_url)
    try:
        check_assertion(session, customer, party, answer, purpose=CODE_PURPOSE,
                        subject=str(cancellation.id), now=now)  # fmt: skip
    except PasskeyNotAcceptedError:
        record_failure(session, customer, "passkey", now, ctx.settings.limits)
        raise


def _require_quote_holds(session: Session, cancellation: Cancellation, now: datetime) -> None:
    """Confirmed after its quote ran out, the request ends: the customer looks at a fresh
    quote instead of being held to (or charged past) figures no longer promised."""
    until = quote_valid_until(cancellation.quote)
    if until is None or now < until:
        return
    move(session, cancellation, CancellationStatus.EXPIRED, actor="system", now=now,
         note="the quote ran out before it was confirmed")  # fmt: skip
    raise QuoteRanOutError(
        f"the quote held until {until.isoformat()}", esim_id=cancellation.esim_id
    )


def _schedule(
    session: Session,
    ctx: RequestSystems,
    customer: Customer,
    cancellation: Cancellation,
    policy: Policy,
    now: datetime,
    actor: str | None = None,
    note: str | None = None,
    esim: Esim | None = None,
    verified_by: str | None = None,
) -> None:
    """``esim``: the cancellation's, when the caller has it already; ``verified_by``: the
    method that has just verified it, written with the move. Each write is one prebuilt
    statement: the status moves (one UPDATE, one INSERT of their history), the eSIM, the
    steps, the job."""
    actor = actor or f"customer:{customer.id}"  # staff name themselves (staff_start.py)
    esim = esim or view_esim(session, cancellation)
    changes: dict[str, Any] = {}
    if verified_by is not None:
        changes |= {"verification_method": verified_by, "verified_at": now}
    undo_text = ""
    if policy.has_grace_period:
        # The one-click undo for the cooling-off window, sent to every contact channel. The
        # notice keeps a mark; the link itself is written in when it is sent (undo_links.py).
        changes["undo_token_hash"] = undo_token_hash(ctx.settings.secret_key, cancellation)
        undo_text = render("undo_hint", customer.language, link=undo_mark(cancellation))[1]
    moves = [Move(CancellationStatus.SCHEDULED, actor, note)]
    if cancellation.effective_at <= now:
        moves.append(Move(CancellationStatus.PROCESSING, "system"))
    advance(session, cancellation, moves, now=now, watched=policy.has_webhooks, changes=changes)
    set_esim_status(session, esim, EsimStatus.CANCELLATION_PENDING)
    _create_steps(session, cancellation)
    first_step = new_job(
        kind=STEP_JOB,
        payload={"cancellation_id": cancellation.id},
        now=now,
        run_after=max(cancellation.effective_at, now),
        dedupe_key=f"cancellation:{cancellation.id}:start",
    )
    notify_all_channels(
        session,
        customer,
        template="cancellation_requested",
        event_key=f"cancellation:{cancellation.id}:requested",
        now=now,
        operator_name=policy.name,
        msisdn=esim.msisdn,
        reference=cancellation.reference,
        effective=local_datetime(cancellation.effective_at, policy.tzinfo, customer.language),
        undo=undo_text,
        hotline=policy.hotline,
        along=[first_step],  # inserted with the notices' jobs: one statement for all
    )


_INSERT_STEPS = table_of(CancellationStep).insert()


def _create_steps(session: Session, cancellation: Cancellation) -> None:
    """All step rows in one executemany INSERT (the ORM would send one per row, to read back
    each id; nothing here needs them)."""
    session.connection().execute(
        _INSERT_STEPS,
        [
            {
                "cancellation_id": cancellation.id,
                "name": name,
                "position": position,
                "status": StepStatus.PENDING,
                "attempts": 0,
            }
            for position, name in enumerate(STEP_ORDER)
        ],
    )


def view_esim(session: Session, cancellation: Cancellation) -> Esim:
    esim = session.get(Esim, cancellation.esim_id)
    assert esim is not None  # a foreign key guarantees it
    return esim


def undo(
    session: Session,
    ctx: RequestSystems,
    cancellation: Cancellation,
    *,
    actor: str,
    ip: str | None = None,
) -> Cancellation:
    now = ctx.clock.now()
    if cancellation.status is not CancellationStatus.SCHEDULED:
        raise InvalidTransitionError(
            f"only a scheduled cancellation can be undone; this one is {cancellation.status.value}"
        )
    move(session, cancellation, CancellationStatus.UNDONE, actor=actor, now=now)
    esim = view_esim(session, cancellation)
    move_esim(esim, EsimStatus.ACTIVE)
    audit(session, cancellation, actor, "cancellation.undone", now, ip)
    customer = session.get(Customer, cancellation.customer_id)
    assert customer is not None
    notify_all_channels(
        session,
        customer,
        template="cancellation_undone",
        event_key=f"cancellation:{cancellation.id}:undone",
        now=now,
        operator_name=ctx.policy(cancellation.operator_id).name,
        msisdn=esim.msisdn,
        reference=cancellation.reference,
    )
    return cancellation


def find_by_undo_token(session: Session, operator_id: str, token: str) -> Cancellation:
    cancellation = session.scalar(
        select(Cancellation).where(
            Cancellation.undo_token_hash == digest(token), Cancellation.operator_id == operator_id
        )
    )
    if cancellation is None:
        raise NotFoundError("this undo link is not valid")
    return cancellation


def expire(session: Session, ctx: RequestSystems, cancellation_id: int) -> None:
    """Expired if still awaiting verification (the sweep)."""
    cancellation = session.get(Cancellation, cancellation_id)
    if cancellation is not None and cancellation.status is CancellationStatus.AWAITING_VERIFICATION:
        _expired_unless_moved_on(session, ctx, cancellation, ctx.clock.now())


def _expired_unless_moved_on(
    session: Session, ctx: RequestSystems, cancellation: Cancellation, now: datetime
) -> bool:
    """Whether it is expired now. The UPDATE names the status it leaves, so a verification
    or an expiry (the sweep, a late verification) that committed since the row was read is
    not overwritten, and no second history row is written: the row is then read again."""
    expired = Move(CancellationStatus.EXPIRED, actor="system", note="not verified in time")
    watched = ctx.policy(cancellation.operator_id).has_webhooks
    try:
        advance(session, cancellation, [expired], now=now, watched=watched)
    except InvalidTransitionError:
        session.refresh(cancellation)
    return cancellation.status is CancellationStatus.EXPIRED


def steps_of(session: Session, cancellation_id: int) -> list[CancellationStep]:
    return list(
        session.scalars(
            select(CancellationStep)
            .where(CancellationStep.cancellation_id == cancellation_id)
            .order_by(CancellationStep.position)
        )
    )


IN_PERSON_METHOD = "staff_id_check"


def verify_in_person(
    session: Session,
    ctx: RequestSystems,
    customer: Customer,
    cancellation_id: int,
    *,
    actor: str,
    note: str,
    ip: str | None = None,
) -> Cancellation:
    """Staff checked the customer's identity document in a shop; the rest is as in ``verify``.

    Only the staff console offers this (the customer's own methods are the policy's)."""
    if not note.strip():
        raise InvalidInputError("say which document was checked", field="note")
    cancellation, esim = _awaiting_with_esim(session, ctx, customer, cancellation_id)
    now = ctx.clock.now()
    _schedule(session, ctx, customer, cancellation, ctx.policy(customer.operator_id), now,
              esim=esim, verified_by=IN_PERSON_METHOD)  # fmt: skip
    audit(session, cancellation, actor, "cancellation.verified", now, ip,
                  {"method": IN_PERSON_METHOD, "note": note.strip()[:300]})  # fmt: skip
    return cancellation
