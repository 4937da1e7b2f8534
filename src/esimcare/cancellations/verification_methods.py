"""How a customer may confirm a cancellation right now: the operator's methods, less SMS while
the number the code would go to was only just installed on a phone, less a passkey the customer
has not registered. A passkey stays allowed inside that window: it is bound to the customer's
own device and this site, not to whoever now holds the number.

security.md: SMS is a restricted authenticator; do not rely on SMS to the very number being
cancelled if it was recently moved to a new device. An eSIM swap puts the number, and with it
every code sent to it, on somebody's new phone; a cancellation confirmed from that phone is
exactly the fraud to stop. The installation time comes from the SM-DP+'s notification.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Select, exists, null, select
from sqlalchemy.orm import Session

from esimcare.customers.models import Customer
from esimcare.customers.passkey_models import CustomerPasskey
from esimcare.errors import ForbiddenError
from esimcare.esims.models import Esim
from esimcare.i18n import N_
from esimcare.kit.clock import iso
from esimcare.operators.policy import Policy, VerificationMethod


class SmsNotTrustedError(ForbiddenError):
    code = "sms-not-trusted"
    title = N_(
        "Your number was moved to a phone only recently, so an SMS code cannot confirm a "
        "cancellation yet; call the hotline"
    )


def methods_for(
    session: Session, policy: Policy, customer: Customer, now: datetime
) -> tuple[VerificationMethod, ...]:
    """``policy``: the customer's operator's. What it needs to know is read in one query."""
    methods = policy.verification_methods
    asks_sms = VerificationMethod.SMS in methods
    asks_passkey = VerificationMethod.PASSKEY in methods
    if not asks_sms and not asks_passkey:
        return methods
    installed, passkey = session.execute(
        select(
            _recent_install(policy, customer, now).scalar_subquery() if asks_sms else null(),
            exists().where(
                CustomerPasskey.operator_id == customer.operator_id,
                CustomerPasskey.customer_id == customer.id,
            )
            if asks_passkey
            else null(),
        )
    ).one()
    if asks_sms and installed is not None:
        methods = tuple(m for m in methods if m is not VerificationMethod.SMS)
    if asks_passkey and not passkey:
        methods = tuple(m for m in methods if m is not VerificationMethod.PASSKEY)
    return methods


def sms_untrusted_until(
    session: Session, policy: Policy, customer: Customer, now: datetime
) -> datetime | None:
    """Until when SMS to the contact number is not trusted, or None if it is."""
    installed = session.scalar(_recent_install(policy, customer, now))
    return None if installed is None else installed + _untrusted_for(policy)


def _untrusted_for(policy: Policy) -> timedelta:
    return timedelta(days=policy.sms_untrusted_days_after_install)


def _recent_install(policy: Policy, customer: Customer, now: datetime) -> Select[datetime | None]:
    """The newest installation of the contact number within the untrusted window."""
    return (
        select(Esim.installed_at)
        .where(
            Esim.operator_id == customer.operator_id,
            Esim.msisdn == customer.phone,
            Esim.installed_at > now - _untrusted_for(policy),
        )
        .order_by(Esim.installed_at.desc())
        .limit(1)
    )


def require_some_method(
    session: Session, policy: Policy, customer: Customer, now: datetime
) -> tuple[VerificationMethod, ...]:
    """The methods the customer may confirm with now (``methods_for``), or why there are none."""
    methods = methods_for(session, policy, customer, now)
    if methods:
        return methods
    until = sms_untrusted_until(session, policy, customer, now)
    hotline = policy.hotline
    raise SmsNotTrustedError(
        f"SMS codes to {customer.phone} confirm cancellations again from "
        f"{iso(until) if until else 'later'}; until then call {hotline}",
        sms_trusted_from=iso(until) if until else None,
    )
