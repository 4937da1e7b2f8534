"""Finding customers for staff, always inside the staff member's tenant.

An operator's staff see only that operator's customers: anything else is "not found", exactly
like a customer that does not exist. Platform staff (no operator) see every operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.states import CancellationStatus
from esimcare.customers.models import Customer
from esimcare.errors import InvalidInputError, NotFoundError
from esimcare.esims.models import Esim
from esimcare.esims.service import EsimView, list_esims
from esimcare.kit.ids import Eid, Iccid, InvalidIdentifierError, Msisdn, mask_email
from esimcare.staff.audit import record_staff_action
from esimcare.staff.models import StaffMember
from esimcare.staff.roles import Permission
from esimcare.staff.rules import require

MAX_RESULTS = 20
MAX_QUERY = 80
REFERENCE_LENGTH = 9  # "C" and eight characters once the dash is dropped


class SearchKind(StrEnum):
    EMAIL = "email"
    REFERENCE = "reference"
    ICCID = "iccid"
    EID = "eid"
    PHONE = "phone"


@dataclass(frozen=True)
class Found:
    customer: Customer
    matched: SearchKind


def visible(query: Select[Customer], staff: StaffMember) -> Select[Customer]:
    if staff.operator_id is None:
        return query
    return query.where(Customer.operator_id == staff.operator_id)


def classify(text: str, region: str | None) -> tuple[SearchKind, str] | None:
    """What the typed text is: an e-mail, a reference, an ICCID, an EID or a phone number."""
    text = text.strip()
    compact = text.replace(" ", "").replace("-", "")
    if "@" in text:
        return SearchKind.EMAIL, text.lower()
    if compact[:1].upper() == "C" and len(compact) == REFERENCE_LENGTH and compact.isalnum():
        return SearchKind.REFERENCE, f"C-{compact[1:].upper()}"  # C-XXXXXXXX, dash optional
    for kind, parse in ((SearchKind.ICCID, Iccid.parse), (SearchKind.EID, Eid.parse)):
        try:
            return kind, str(parse(compact))
        except InvalidIdentifierError:
            pass
    try:
        return SearchKind.PHONE, Msisdn.parse(text, region).value
    except InvalidIdentifierError:
        return None


def search_customers(
    session: Session,
    staff: StaffMember,
    text: str,
    *,
    region: str | None,
    now: datetime,
    ip: str | None = None,
) -> list[Found]:
    """Customers matching one identifier; the search itself is audited (data access)."""
    require(staff, Permission.LOOK_UP)
    classified = classify(text[:MAX_QUERY], region)
    found: list[Found] = []
    if classified is not None:
        kind, value = classified
        query = visible(_query_for(kind, value), staff).limit(MAX_RESULTS)
        found = [Found(c, kind) for c in session.scalars(query).unique()]
    record_staff_action(
        session,
        staff,
        "staff.searched",
        subject="customers",
        at=now,
        ip=ip,
        data={"kind": classified[0].value if classified else "unrecognised", "results": len(found)},
    )
    return found


def _query_for(kind: SearchKind, value: str) -> Select[Customer]:
    base = select(Customer).order_by(Customer.id)
    if kind is SearchKind.EMAIL:
        return base.where(Customer.email == value)
    if kind is SearchKind.REFERENCE:
        return base.join(Cancellation, Cancellation.customer_id == Customer.id).where(
            Cancellation.reference == value
        )
    if kind is SearchKind.ICCID:
        return base.join(Esim, Esim.customer_id == Customer.id).where(Esim.iccid == value)
    if kind is SearchKind.EID:
        return base.join(Esim, Esim.customer_id == Customer.id).where(Esim.eid == value)
    by_esim = select(Esim.customer_id).where(Esim.msisdn == value)
    return base.where((Customer.phone == value) | Customer.id.in_(by_esim))


def customer_for_staff(session: Session, staff: StaffMember, customer_id: int) -> Customer:
    """The customer, or NotFoundError when it is another tenant's (no existence leak)."""
    customer = session.get(Customer, customer_id)
    if customer is None or (staff.operator_id not in (None, customer.operator_id)):
        raise NotFoundError("no such customer")
    return customer


@dataclass(frozen=True)
class ContactDetails:
    phone: str
    email: str | None
    revealed: bool


def contact_details(customer: Customer, *, revealed: bool) -> ContactDetails:
    """Masked unless the staff member revealed them (with a reason, audited)."""
    if revealed:
        return ContactDetails(customer.phone, customer.email, True)
    masked_email = mask_email(customer.email) if customer.email else None
    return ContactDetails(Msisdn(customer.phone).masked(), masked_email, False)


def reveal_contact(
    session: Session,
    staff: StaffMember,
    customer: Customer,
    *,
    why: str,
    now: datetime,
    ip: str | None = None,
) -> ContactDetails:
    require(staff, Permission.REVEAL_CONTACT)
    if not why.strip():
        raise InvalidInputError("give the reason for revealing the contact details", field="why")
    record_staff_action(
        session,
        staff,
        "staff.contact_revealed",
        subject=f"customer:{customer.id}",
        operator_id=customer.operator_id,
        why=why.strip()[:300],
        at=now,
        ip=ip,
    )
    return contact_details(customer, revealed=True)


@dataclass(frozen=True)
class CustomerPage:
    customer: Customer
    esims: list[EsimView]
    open_cancellations: dict[int, Cancellation]


def customer_page(
    session: Session, staff: StaffMember, customer_id: int, *, now: datetime, ip: str | None
) -> CustomerPage:
    require(staff, Permission.LOOK_UP)
    customer = customer_for_staff(session, staff, customer_id)
    esims = list_esims(session, customer.operator_id, customer.id)
    open_ones = session.scalars(
        select(Cancellation).where(
            Cancellation.customer_id == customer.id,
            Cancellation.status.in_([s for s in CancellationStatus if s.is_open]),
        )
    )
    latest = {cancellation.esim_id: cancellation for cancellation in open_ones}
    record_staff_action(
        session,
        staff,
        "staff.customer_viewed",
        subject=f"customer:{customer.id}",
        operator_id=customer.operator_id,
        at=now,
        ip=ip,
    )
    return CustomerPage(customer, esims, latest)
