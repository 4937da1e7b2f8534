"""The closing notice: the last step of a cancellation, on every channel the customer has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from esimcare.billing.models import Bill, Refund
from esimcare.cancellations.steps import LocalStep, StepInput
from esimcare.customers.models import Customer
from esimcare.esims.models import Esim
from esimcare.esims.states import ProfileState
from esimcare.kit.local_time import babel_locale
from esimcare.kit.money import Money
from esimcare.notices.service import Recipient, notify_all_channels
from esimcare.notices.templates import render

_REFUNDS = cast(Table, Refund.__table__)


class NoticeStep(LocalStep):
    """Tell the customer on every channel; delivery itself is a job of its own per message."""

    def record(self, session: Session, run: StepInput, result: None) -> str:
        cancellation = run.cancellation
        facts = _carried_facts(run) or _read_facts(session, run)
        customer = facts.customer
        policy = self.ctx.policy(customer.operator_id)
        currency = facts.bill_currency or policy.currency
        locale = babel_locale(customer.language)
        device = ""
        if facts.profile_state.on_device:
            device = render("delete_on_device_hint", customer.language)[1]
        notify_all_channels(
            session,
            customer,
            template="cancellation_completed",
            event_key=f"cancellation:{cancellation.id}:completed",
            now=run.now,
            operator_name=policy.name,
            msisdn=run.esim.msisdn,
            reference=cancellation.reference,
            bill=Money(facts.bill_total or 0, currency).display(locale),
            refund=Money(facts.refund_amount or 0, currency).display(locale),
            device=device,
            deliveries_to=run.job_rows,
        )
        return "notified"


@dataclass(frozen=True, slots=True)
class _Facts:
    customer: Recipient
    bill_total: int | None
    bill_currency: str | None
    refund_amount: int | None
    profile_state: ProfileState


def _carried_facts(run: StepInput) -> _Facts | None:
    """The facts with no query, when this run knows them all: the customer from its first
    load, the bill and the refund as its own steps wrote them, and the profile state as this
    transaction read it (the eSIM's close)."""
    carried, profile = run.carried, run.profile_now
    if carried.customer is None or carried.bill is None or carried.refund_minor is None:
        return None
    if profile is None:
        return None
    c = carried.customer
    recipient = Recipient(c.id, c.operator_id, c.language, c.phone, c.email)
    bill = carried.bill
    return _Facts(recipient, bill.minor, bill.currency, carried.refund_minor, profile)


def _read_facts(session: Session, run: StepInput) -> _Facts:
    """The facts read in one query (a run that took the job over, or a step run alone)."""
    cancellation = run.cancellation
    row = session.execute(
        _NOTICE_FACTS,
        {"customer_id": cancellation.customer_id, "cancellation_id": cancellation.id,
         "esim_id": run.esim.id},
    ).one()  # fmt: skip
    recipient = Recipient(row.id, row.operator_id, row.language, row.phone, row.email)
    return _Facts(recipient, row.bill_total, row.bill_currency, row.refund_amount,
                  ProfileState(row.profile_state))  # fmt: skip


_CUSTOMERS, _BILLS, _ESIMS = (
    cast(Table, Customer.__table__),
    cast(Table, Bill.__table__),
    cast(Table, Esim.__table__),
)
# The customer as they are now, the cancellation's bill and refund if any, and the profile
# state as it is now (notifications change it at any time), in one query.
_NOTICE_FACTS = (
    select(
        _CUSTOMERS.c.id,
        _CUSTOMERS.c.operator_id,
        _CUSTOMERS.c.language,
        _CUSTOMERS.c.phone,
        _CUSTOMERS.c.email,
        _BILLS.c.total_minor.label("bill_total"),
        _BILLS.c.currency.label("bill_currency"),
        _REFUNDS.c.amount_minor.label("refund_amount"),
        _ESIMS.c.profile_state,
    )
    .select_from(_CUSTOMERS)
    .join(_ESIMS, _ESIMS.c.id == bindparam("esim_id"))
    .outerjoin(_BILLS, _BILLS.c.cancellation_id == bindparam("cancellation_id"))
    .outerjoin(_REFUNDS, _REFUNDS.c.cancellation_id == bindparam("cancellation_id"))
    .where(_CUSTOMERS.c.id == bindparam("customer_id"))
)
