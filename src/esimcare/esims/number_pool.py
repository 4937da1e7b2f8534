"""Numbers for new eSIMs: the next never-issued MSISDN in the operator's ranges, and an IMSI.

A range is a prefix of the operator's ``msisdn_prefixes`` (like ``+7916``) completed to a full
E.164 number as long as a mobile number of the prefix's country (``+7`` and ten digits; ``+49``
and twelve), read from the numbering plan (``phonenumbers``), so no country is assumed. The
next number is one above the highest ever used under the prefix by an eSIM, an order (failed
ones included), the quarantine or a customer's contact number, so this pool never reissues a
number at all, let alone before its quarantine ends. Allocation is serialised per operator
(SQLite's write lock; an advisory lock on PostgreSQL), and the unique (operator, msisdn) of
``esim_orders`` stays as the last guard.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from esimcare.cancellations.models import NumberQuarantine
from esimcare.customers.models import Customer
from esimcare.errors import ConflictError
from esimcare.esims.models import Esim, EsimOrder
from esimcare.i18n import N_

ORDER_IMSI_PREFIX = "25098"  # demo MCC/MNC for ordered eSIMs (seeding uses 25001, 25097, 25099)


class NumbersExhaustedError(ConflictError):
    code = "numbers-exhausted"
    title = N_("This operator has no free phone number left in its ranges")


class NumbersBusyError(ConflictError):
    code = "numbers-busy"
    title = N_("Many orders at once took the next free numbers; send the same request again")


def lock_number_pool(session: Session, operator_id: str) -> None:
    """Allocate one operator's numbers one transaction at a time, across processes: a
    transaction-scoped advisory lock on PostgreSQL (SQLite already serialises writers)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(func.pg_advisory_xact_lock(func.hashtext(f"esimcare-numbers:{operator_id}")))
        )


def number_length(prefix: str) -> int:
    """E.164 length (with the ``+``) of a mobile number in the prefix's country: ``+7916`` 12."""
    digits = prefix.lstrip("+")
    for size in (1, 2, 3):
        head = digits[:size]  # country codes are 1 to 3 digits and never start with 0
        code = int(head) if head.isdigit() and not head.startswith("0") else 0
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            region = phonenumbers.region_code_for_country_code(code)
            example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
            if example is not None:
                return len(phonenumbers.format_number(example, PhoneNumberFormat.E164))
    raise ValueError(f"msisdn prefix {prefix!r} starts with no country code")


def next_msisdn(session: Session, operator_id: str, prefixes: tuple[str, ...]) -> str:
    for prefix in prefixes:
        length = number_length(prefix)
        width = length - len(prefix)
        if width <= 0:
            continue
        highest = _highest(session, operator_id, prefix, length)
        serial = int(highest[len(prefix) :]) + 1 if highest else 1
        if serial < 10**width:
            return f"{prefix}{serial:0{width}d}"
    raise NumbersExhaustedError()


def _highest(session: Session, operator_id: str, prefix: str, length: int) -> str | None:
    found: list[str] = []
    for column, operator in (
        (Esim.msisdn, Esim.operator_id),
        (EsimOrder.msisdn, EsimOrder.operator_id),
        (NumberQuarantine.msisdn, NumberQuarantine.operator_id),
        # A customer's contact number may be another line of this operator's (or a port-in).
        (Customer.phone, Customer.operator_id),
    ):
        value = session.scalar(
            select(func.max(column)).where(
                operator == operator_id,
                column.startswith(prefix, autoescape=True),
                func.length(column) == length,
            )
        )
        if value:
            found.append(value)
    return max(found, default=None)


def imsi_for_order(order_id: int) -> str:
    return f"{ORDER_IMSI_PREFIX}{order_id:010d}"
