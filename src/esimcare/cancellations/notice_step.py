"""The closing notice: the last step of a cancellation, on every channel the customer has."""

from __future__ import annotations

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
        row = session.execute(
            _NOTICE_FACTS,
            {"customer_id": cancellation.customer_id, "cancellation_id": cancellation.id,
             "esim_id": run.esim.id},
        ).one()  # fmt: skip
        customer = Recipient(row.id, row.operator_id, row.language, row.phone, row.email)
        policy = self.ctx.policy(customer.operator_id)
        currency = row.bill_currency or policy.currency
        locale = babel_locale(customer.language)
        device = ""
        if ProfileState(row.profile_state).on_device:
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
            bill=Money(row.bill_total or 0, currency).display(locale),
            refund=Money(row.refund_amount or 0, currency).display(locale),
            device=device,
        )
        return "notified"


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
