"""What the status page may honestly say about money and the phone, from what has happened.

"As quoted" only when the executed bill equals the quote; a refund line that says where the
money went and when it usually arrives (the operator's ``refund_arrival_days``), "nothing to
refund" for zero, "on its way" while the provider has not confirmed; the debt that remains;
steps after an undo read "not needed"; the phone's profile is to be deleted only once the
profile step says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from esimcare.billing.models import RefundStatus
from esimcare.cancellations.money_steps import REFUND_ON_ITS_WAY
from esimcare.cancellations.states import CancellationStatus, StepName, StepStatus
from esimcare.kit.money import Money
from esimcare.operators.policy import Policy, RefundRoute
from esimcare.portal.i18n import N_
from esimcare.portal.views import StatusView

AS_QUOTED = N_("as quoted")
QUOTED_WAS = N_("quoted: %(amount)s")
NOTHING_TO_REFUND = N_("Nothing to refund.")
REFUND_SENT = {
    RefundRoute.CARD: N_("Sent to %(to)s."),  # the destination says "card **** 4242"
    RefundRoute.ANOTHER_NUMBER: N_("Sent to the number %(to)s."),
    RefundRoute.BANK_ACCOUNT: N_("Sent to the bank account %(to)s."),
}
REFUND_WILL_GO = {
    RefundRoute.CARD: N_("Will be sent to %(to)s."),
    RefundRoute.ANOTHER_NUMBER: N_("Will be sent to the number %(to)s."),
    RefundRoute.BANK_ACCOUNT: N_("Will be sent to the bank account %(to)s."),
}
USUALLY_ARRIVES = N_("It usually arrives within %(days)s days.")
ON_ITS_WAY = N_("Refund sent, on its way: the payment provider has not confirmed it yet.")
NOT_NEEDED = N_("Not needed — cancellation undone")
DONE_HEADLINE = N_("Your eSIM is cancelled.")
ACCEPTED_HEADLINE = N_("Your request is accepted.")
DELETE_LATER = N_("Do not delete the eSIM on your phone yet: we will tell you here when to.")


@dataclass(frozen=True)
class Line:
    message: str
    params: dict[str, Any]


def bill_note(view: StatusView, translator: Any) -> Line | None:
    """Under the final bill: "as quoted" only when true."""
    quoted = view.quoted("final_bill")
    billed = view.bill_total()
    if billed is None or billed == quoted:
        return Line(AS_QUOTED, {})
    return Line(QUOTED_WAS, {"amount": translator.money(quoted)})


def refund_notes(view: StatusView, policy: Policy) -> list[Line]:
    amount: Money = view.refund_amount() or view.quoted("refund")
    if (view.refund is not None and view.refund.status is RefundStatus.NOT_DUE) or not amount.minor:
        return [Line(NOTHING_TO_REFUND, {})]
    route = RefundRoute(view.quote.get("refund_route", RefundRoute.NONE.value))
    if route is RefundRoute.NONE:
        return []
    to = view.refund.destination if view.refund else view.quote.get("refund_destination") or ""
    if _refund_on_its_way(view):
        return [Line(ON_ITS_WAY, {}), *_arrival(policy, route)]
    sent = view.refund is not None and view.refund.status is RefundStatus.SUCCEEDED
    wording = REFUND_SENT if sent else REFUND_WILL_GO
    return [Line(wording[route], {"to": to}), *_arrival(policy, route)]


def _arrival(policy: Policy, route: RefundRoute) -> list[Line]:
    days = policy.arrival_days(route)
    return [] if days is None else [Line(USUALLY_ARRIVES, {"days": days})]


def _refund_on_its_way(view: StatusView) -> bool:
    return any(
        step.name is StepName.REFUND and step.outcome == REFUND_ON_ITS_WAY for step in view.steps
    )


def remaining_debt(view: StatusView) -> Money | None:
    debt = view.quoted("debt")
    return debt if debt.minor > 0 else None


def step_note(view: StatusView, status: StepStatus) -> str | None:
    """A step that will never run after an undo says so instead of "Waiting"."""
    if view.status is CancellationStatus.UNDONE and status is StepStatus.PENDING:
        return NOT_NEEDED
    return None


def delete_on_phone_now(view: StatusView) -> bool:
    """The one moment to tell the customer to delete the profile: the profile step said so."""
    return any(
        step.name is StepName.PROFILE and step.outcome == "delete_on_device" for step in view.steps
    )


def headline(view: StatusView) -> str | None:
    if view.status is CancellationStatus.COMPLETED:
        return DONE_HEADLINE
    if view.status in (CancellationStatus.SCHEDULED, CancellationStatus.PROCESSING,
                       CancellationStatus.FAILED):  # fmt: skip
        return ACCEPTED_HEADLINE
    return None
