"""How a customer may confirm a cancellation right now: the operator's methods, less SMS while
the number the code would go to was only just installed on a phone, less a passkey the customer
has not registered. A passkey stays allowed inside that window: it is bound to the customer's
own device and this site, not to whoever now holds the number.

security.md: SMS is a restricted authenticator; do not rely on SMS to the very number being
cancelled if it was recently moved to a new device. An eSIM swap puts the number, and with it
every code sent to it, on somebody's new phone; a cancellation confirmed from that phone is
exactly the fraud to stop. The installation time comes from the SM-DP+'s notification.

What the rule needs to know is two columns (``METHOD_FACTS``), so the request and the
verification read them in the statement that reads their cancellation's rows anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, exists, select
from sqlalchemy.orm import Session, aliased

from esimcare.customers.models import Customer
from esimcare.customers.passkey_models import CustomerPasskey
from esimcare.errors import ForbiddenError
from esimcare.esims.models import Esim
from esimcare.i18n import N_
from esimcare.kit.clock import iso
from esimcare.kit.orm_rows import table_of
from esimcare.operators.policy import Policy, VerificationMethod


class SmsNotTrustedError(ForbiddenError):
    code = "sms-not-trusted"
    title = N_(
        "Your number was moved to a phone only recently, so an SMS code cannot confirm a "
        "cancellation yet; call the hotline"
    )


@dataclass(frozen=True, slots=True)
class MethodFacts:
    """The newest installation of the contact number inside the untrusted window (None: none),
    and whether the customer has a passkey."""

    recent_install: datetime | None
    has_passkey: bool


# Aliased: inside a statement that reads the cancelled eSIM's row, these are other rows (the
# contact number's), not a correlation to that one.
_CONTACT_ESIM = aliased(Esim, name="contact_esim")


def _recent_install(phone: ColumnElement[str]) -> Select[Any]:
    return (
        select(_CONTACT_ESIM.installed_at)
        .where(
            _CONTACT_ESIM.operator_id == bindparam("method_operator_id"),
            _CONTACT_ESIM.msisdn == phone,
            _CONTACT_ESIM.installed_at > bindparam("installed_after"),
        )
        .order_by(_CONTACT_ESIM.installed_at.desc())
        .limit(1)
    )


_RECENT_INSTALL = _recent_install(bindparam("method_phone"))
_HAS_PASSKEY = exists().where(
    CustomerPasskey.operator_id == bindparam("method_operator_id"),
    CustomerPasskey.customer_id == bindparam("method_customer_id"),
)
# Columns for any SELECT, bound with ``method_parameters`` and read with ``method_facts``.
METHOD_FACTS = (_RECENT_INSTALL.scalar_subquery(), _HAS_PASSKEY)
# The same for a SELECT that reads the customer's row too: the contact number is its phone
# column (bound with ``method_parameters_for``).
METHOD_FACTS_OF_CUSTOMER = (
    _recent_install(table_of(Customer).c.phone).scalar_subquery(),
    _HAS_PASSKEY,
)
_FACTS_ALONE = select(*METHOD_FACTS)


def method_parameters(policy: Policy, customer: Customer, now: datetime) -> dict[str, Any]:
    return method_parameters_for(policy, customer.operator_id, customer.id, now) | {
        "method_phone": customer.phone
    }


def method_parameters_for(
    policy: Policy, operator_id: str, customer_id: int, now: datetime
) -> dict[str, Any]:
    return {
        "method_operator_id": operator_id,
        "method_customer_id": customer_id,
        "installed_after": now - _untrusted_for(policy),
    }


def method_facts(values: tuple[Any, ...]) -> MethodFacts:
    """The facts from the two ``METHOD_FACTS`` values of a row, in their order."""
    installed, passkey = values
    return MethodFacts(installed, bool(passkey))


def methods_for(
    session: Session, policy: Policy, customer: Customer, now: datetime
) -> tuple[VerificationMethod, ...]:
    """``policy``: the customer's operator's. What it needs to know is read in one query."""
    methods = policy.verification_methods
    if VerificationMethod.SMS not in methods and VerificationMethod.PASSKEY not in methods:
        return methods
    row = session.execute(_FACTS_ALONE, method_parameters(policy, customer, now)).one()
    return methods_given(policy, method_facts(tuple(row)))


def methods_given(policy: Policy, facts: MethodFacts) -> tuple[VerificationMethod, ...]:
    """``methods_for`` over facts already read."""
    methods = policy.verification_methods
    if facts.recent_install is not None:
        methods = tuple(m for m in methods if m is not VerificationMethod.SMS)
    if not facts.has_passkey:
        methods = tuple(m for m in methods if m is not VerificationMethod.PASSKEY)
    return methods


def sms_untrusted_until(
    session: Session, policy: Policy, customer: Customer, now: datetime
) -> datetime | None:
    """Until when SMS to the contact number is not trusted, or None if it is."""
    installed = session.scalar(_RECENT_INSTALL, method_parameters(policy, customer, now))
    return None if installed is None else installed + _untrusted_for(policy)


def _untrusted_for(policy: Policy) -> timedelta:
    return timedelta(days=policy.sms_untrusted_days_after_install)


def require_some_method(
    session: Session,
    policy: Policy,
    customer: Customer,
    now: datetime,
    facts: MethodFacts | None = None,
) -> tuple[VerificationMethod, ...]:
    """The methods the customer may confirm with now (``methods_for``, or ``methods_given``
    the facts the caller read), or why there are none."""
    if facts is None:
        methods = methods_for(session, policy, customer, now)
    else:
        methods = methods_given(policy, facts)
    if methods:
        return methods
    if facts is None:
        until = sms_untrusted_until(session, policy, customer, now)
    else:
        installed = facts.recent_install
        until = None if installed is None else installed + _untrusted_for(policy)
    hotline = policy.hotline
    raise SmsNotTrustedError(
        f"SMS codes to {customer.phone} confirm cancellations again from "
        f"{iso(until) if until else 'later'}; until then call {hotline}",
        sms_trusted_from=iso(until) if until else None,
    )
