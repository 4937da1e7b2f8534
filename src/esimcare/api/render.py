"""Domain objects to API bodies: money as {"amount", "currency"}, times as ISO 8601 with Z."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from esimcare.api import schemas
from esimcare.billing.models import Bill, Refund
from esimcare.cancellations.models import Cancellation, CancellationStep
from esimcare.cancellations.service import steps_of, view_esim
from esimcare.cancellations.warning_texts import device_steps, warning_text
from esimcare.esims.listing import EsimLine
from esimcare.esims.models import Esim, Plan
from esimcare.esims.service import EsimView
from esimcare.esims.states import ProfileState
from esimcare.kit.clock import iso
from esimcare.kit.ids import InvalidIdentifierError, Msisdn
from esimcare.kit.money import Money, money_json
from esimcare.operators.policy import Policy


def money(minor: int, currency: str) -> schemas.MoneyOut:
    return schemas.MoneyOut.model_validate(Money(minor, currency).to_json())


def plan_name(plan: Plan, language: str) -> str:
    return name_in(plan.names, plan.code, language)


def name_in(names: Mapping[str, str], code: str, language: str) -> str:
    return names.get(language) or names.get("en") or code


def esim_out(view: EsimView, language: str) -> schemas.EsimOut:
    esim, plan = view.esim, view.plan
    return schemas.EsimOut(
        id=esim.id,
        iccid=esim.iccid,
        msisdn=esim.msisdn,
        label=esim.label,
        status=esim.status.value,
        profile_state=esim.profile_state.value,
        plan=schemas.PlanOut(
            code=plan.code,
            name=plan_name(plan, language),
            monthly_fee=money(plan.monthly_fee_minor, plan.currency),
        ),
        balance=schemas.BalanceOut.model_validate(view.balance.to_json()),
    )


def esim_line_json(line: EsimLine, language: str) -> dict[str, Any]:
    """The same body as ``esim_out`` (schemas.EsimOut), as plain JSON values: the list is
    serialised once, without building and validating a model per eSIM."""
    return {
        "id": line.id,
        "iccid": line.iccid,
        "msisdn": line.msisdn,
        "label": line.label,
        "status": line.status.value,
        "profile_state": line.profile_state.value,
        "plan": {
            "code": line.plan_code,
            "name": name_in(line.plan_names, line.plan_code, language),
            "monthly_fee": money_json(line.monthly_fee_minor, line.currency),
        },
        "balance": {
            "cash": money_json(line.cash_minor, line.currency),
            "bonus": money_json(line.bonus_minor, line.currency),
        },
    }


def reasons_out(policy: Policy, language: str) -> schemas.ReasonList:
    return schemas.ReasonList(
        items=[schemas.ReasonOut(code=r.code, label=r.label(language)) for r in policy.reasons]
    )


def operator_out(policy: Policy, language: str) -> schemas.OperatorOut:
    return schemas.OperatorOut(
        id=policy.operator_id,
        name=policy.name,
        hotline=policy.hotline,
        hotline_hours=policy.hours(language),
        support_email=policy.support_email,
    )


def quote_out(quote: dict[str, Any], language: str) -> schemas.QuoteOut:
    """A quote as ``Quote.to_json()`` stores it, with each warning code worded for the reader."""
    warnings = [
        schemas.WarningOut(code=code, message=warning_text(code, language))
        for code in quote.get("warnings", [])
    ]
    return schemas.QuoteOut.model_validate({**quote, "warnings": warnings})


def masked_number(number: str) -> str:
    try:
        return Msisdn.parse(number).masked()
    except InvalidIdentifierError:
        return number


@dataclass(frozen=True)
class CancellationDetails:
    cancellation: Cancellation
    esim: Esim
    steps: list[CancellationStep]
    refund: Refund | None
    bill: Bill | None


def load_details(session: Session, cancellation: Cancellation) -> CancellationDetails:
    by_cancellation = cancellation.id
    return CancellationDetails(
        cancellation=cancellation,
        esim=view_esim(session, cancellation),
        steps=steps_of(session, by_cancellation),
        refund=session.scalar(select(Refund).where(Refund.cancellation_id == by_cancellation)),
        bill=session.scalar(select(Bill).where(Bill.cancellation_id == by_cancellation)),
    )


def cancellation_out(details: CancellationDetails, language: str) -> schemas.CancellationOut:
    c = details.cancellation
    return schemas.CancellationOut(
        id=c.id,
        reference=c.reference,
        status=c.status.value,
        reason=c.reason,
        esim_id=c.esim_id,
        quote=quote_out(c.quote, language),
        steps=[step_out(step) for step in details.steps],
        refund=refund_out(details.refund),
        final_bill=bill_out(details.bill),
        failure_reason=c.failure_reason,
        created_at=iso(c.created_at),
        completed_at=iso(c.completed_at) if c.completed_at else None,
        effective_at=iso(c.effective_at),
        device_instructions=device_out(language) if details.esim.profile_state.on_device else None,
        device_profile=device_profile_out(details.esim),
    )


def device_profile_out(esim: Esim) -> schemas.DeviceProfileOut | None:
    if esim.profile_state is ProfileState.DELETED:
        deleted = esim.deleted_on_device_at
        when = f" at {iso(deleted)}" if deleted else ""
        return schemas.DeviceProfileOut(
            state="deleted",
            deleted_at=iso(deleted) if deleted else None,
            message=f"The profile was deleted on the phone{when}.",
        )
    if not esim.profile_state.on_device:
        return None
    return schemas.DeviceProfileOut(
        state="waiting_for_deletion",
        deleted_at=None,
        message=(
            "Waiting for the subscriber to delete the profile on the phone; the phone reports "
            "it best effort, so we may never be told."
        ),
    )


def step_out(step: CancellationStep) -> schemas.StepOut:
    return schemas.StepOut(
        name=step.name.value,
        status=step.status.value,
        attempts=step.attempts,
        outcome=step.outcome,
        last_error=step.last_error,
        external_answer=step.external_answer,
        finished_at=iso(step.finished_at) if step.finished_at else None,
    )


def refund_out(refund: Refund | None) -> schemas.RefundOut | None:
    if refund is None:
        return None
    amount = Money(refund.amount_minor, refund.currency)
    return schemas.RefundOut(
        amount=amount.amount_text(),
        currency=amount.currency,
        status=refund.status.value,
        route=refund.route,
        destination=masked_number(refund.destination) or None,
    )


def bill_out(bill: Bill | None) -> schemas.FinalBillOut | None:
    if bill is None:
        return None
    total = Money(bill.total_minor, bill.currency)
    return schemas.FinalBillOut(
        amount=total.amount_text(),
        currency=total.currency,
        fee=money(bill.fee_minor, bill.currency),
        usage=money(bill.usage_minor, bill.currency),
        period_start=iso(bill.period_start),
        period_end=iso(bill.period_end),
        issued_at=iso(bill.issued_at),
    )


def device_out(language: str) -> schemas.DeviceInstructions:
    return schemas.DeviceInstructions(
        ios=list(device_steps("ios", language)), android=list(device_steps("android", language))
    )
