"""What requesting and verifying a cancellation read, each in one statement built once.

A request needs the eSIM with its plan and balance, what its quote reads (unbilled usage, the
card to refund to), whether a cancellation of it is open already, the facts that decide the
verification methods, and how many codes went to the contact number in the last hour. Each
part is a column that its own module defines (the rule stays beside its query); this module
only puts them side by side, so one round trip reads them all. A verification reads its
cancellation, the eSIM and the method facts the same way.

Every part is read in the caller's transaction, as it was when each had its own query; on
SQLite that transaction holds the write lock from its start, so nothing changes between the
read and the writes that follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.quote import QUOTE_READS, QuoteReads, quote_parameters, quote_reads
from esimcare.cancellations.states import OPEN_STATUSES
from esimcare.cancellations.verification_methods import (
    METHOD_FACTS_OF_CUSTOMER,
    MethodFacts,
    method_facts,
    method_parameters_for,
)
from esimcare.customers.codes import (
    SendHistory,
    hour_ago_parameters,
    new_subject_history,
    sent_last_hour_to,
)
from esimcare.customers.identity import CustomerKey
from esimcare.customers.models import Customer
from esimcare.errors import NotFoundError
from esimcare.esims.models import Esim
from esimcare.esims.service import VIEW_WIDTH, EsimView, esim_parameters, view_of, view_select
from esimcare.kit.orm_rows import table_of
from esimcare.operators.policy import Policy

_OPEN_STATUSES = sorted(OPEN_STATUSES)
_OPEN_ONE = (
    select(Cancellation.id)
    .where(Cancellation.esim_id == Esim.id, Cancellation.status.in_(_OPEN_STATUSES))
    .limit(1)
    .scalar_subquery()
)


@dataclass(frozen=True, slots=True)
class RequestReads:
    customer: Customer
    view: EsimView
    quote: QuoteReads
    open_cancellation_id: int | None
    methods: MethodFacts
    sends: SendHistory


_CUSTOMER_PHONE = table_of(Customer).c.phone
# The customer's row comes last, after the parts (its phone is what the method facts and the
# code count go by).
_REQUEST = (
    view_select(
        *QUOTE_READS, _OPEN_ONE, *METHOD_FACTS_OF_CUSTOMER, sent_last_hour_to(_CUSTOMER_PHONE)
    )
    .add_columns(Customer)
    .where(Customer.id == Esim.customer_id)
)
# Where each part starts in the row, after the view's columns.
_QUOTE_AT = VIEW_WIDTH
_OPEN_AT = _QUOTE_AT + len(QUOTE_READS)
_METHODS_AT = _OPEN_AT + 1
_SENDS_AT = _METHODS_AT + len(METHOD_FACTS_OF_CUSTOMER)


def read_request(
    session: Session,
    policy: Policy,
    customer: Customer | CustomerKey,
    esim_id: int,
    *,
    effective_at: datetime,
    now: datetime,
) -> RequestReads:
    """Everything a request for ``esim_id`` reads, its quote's usage up to ``effective_at``,
    and the customer's row; another customer's or another operator's eSIM is not found."""
    parameters = (
        esim_parameters(customer.operator_id, customer.id, esim_id)
        | quote_parameters(effective_at)
        | method_parameters_for(policy, customer.operator_id, customer.id, now)
        | hour_ago_parameters(now)
    )
    row = session.execute(_REQUEST, parameters).first()
    if row is None:
        raise NotFoundError("no such eSIM on this account")
    values = tuple(row)
    return RequestReads(
        customer=values[-1],
        view=view_of(values),
        quote=quote_reads(effective_at, values[_QUOTE_AT:_OPEN_AT]),
        open_cancellation_id=values[_OPEN_AT],
        methods=method_facts(values[_METHODS_AT:_SENDS_AT]),
        sends=new_subject_history(values[_SENDS_AT]),
    )


_QUOTE = view_select(*QUOTE_READS)


def read_quote(
    session: Session, customer: Customer, esim_id: int, *, effective_at: datetime
) -> tuple[EsimView, QuoteReads]:
    """What a quote alone reads (a dry run), in one statement."""
    parameters = esim_parameters(customer.operator_id, customer.id, esim_id) | quote_parameters(
        effective_at
    )
    row = session.execute(_QUOTE, parameters).first()
    if row is None:
        raise NotFoundError("no such eSIM on this account")
    values = tuple(row)
    return view_of(values), quote_reads(effective_at, values[_QUOTE_AT:_OPEN_AT])


_OPEN_OF_ESIM = select(Cancellation.id).where(
    Cancellation.esim_id == bindparam("open_esim_id"), Cancellation.status.in_(_OPEN_STATUSES)
)


def open_cancellation(session: Session, esim_id: int) -> int | None:
    """The eSIM's open cancellation, for callers that read its view another way."""
    found: int | None = session.scalar(_OPEN_OF_ESIM, {"open_esim_id": esim_id})
    return found


_CUSTOMERS_CANCELLATION = (
    Cancellation.id == bindparam("cancellation_id"),
    Cancellation.operator_id == bindparam("cancellation_operator_id"),
    Cancellation.customer_id == bindparam("cancellation_customer_id"),
)
_WITH_ESIM = select(Cancellation, Esim).join(Esim, Esim.id == Cancellation.esim_id)
_CANCELLATION_AND_ESIM = _WITH_ESIM.where(*_CUSTOMERS_CANCELLATION)
_VERIFICATION = (
    _WITH_ESIM.add_columns(*METHOD_FACTS_OF_CUSTOMER, Customer)
    .join(Customer, Customer.id == Cancellation.customer_id)
    .where(*_CUSTOMERS_CANCELLATION)
)


def _cancellation_parameters(
    customer: Customer | CustomerKey, cancellation_id: int
) -> dict[str, Any]:
    return {
        "cancellation_id": cancellation_id,
        "cancellation_operator_id": customer.operator_id,
        "cancellation_customer_id": customer.id,
    }


def cancellation_and_esim(
    session: Session, customer: Customer, cancellation_id: int
) -> tuple[Cancellation, Esim]:
    """The customer's cancellation and its eSIM, or NotFoundError (someone else's is not
    found either)."""
    row = session.execute(
        _CANCELLATION_AND_ESIM, _cancellation_parameters(customer, cancellation_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError("no such cancellation on this account")
    return row[0], row[1]


@dataclass(frozen=True, slots=True)
class VerificationReads:
    cancellation: Cancellation
    esim: Esim
    methods: MethodFacts
    customer: Customer


def read_verification(
    session: Session,
    policy: Policy,
    customer: Customer | CustomerKey,
    cancellation_id: int,
    now: datetime,
) -> VerificationReads | None:
    """``cancellation_and_esim``, the method facts and the customer's row; None when there
    is no such cancellation on this account."""
    parameters = _cancellation_parameters(customer, cancellation_id) | method_parameters_for(
        policy, customer.operator_id, customer.id, now
    )
    row = session.execute(_VERIFICATION, parameters).one_or_none()
    if row is None:
        return None
    return VerificationReads(row[0], row[1], method_facts((row[2], row[3])), row[4])
