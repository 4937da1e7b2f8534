"""The five steps of a cancellation. Each has three phases so side effects sit between commits:

``prepare`` (in a transaction: read state, write what must exist before the call, such as the
refund row with its provider key), ``call`` (no transaction: the external system), ``record``
(in a transaction: the effect, committed together with the step's completion).
A crash after ``call`` repeats the call on restart, so every call is idempotent by design.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import update
from sqlalchemy.orm import Session

from esimcare.billing.final_bill import FinalBill, compute_final_bill
from esimcare.billing.ledger import balance_of, post
from esimcare.billing.models import Bill, EntryKind, UsageRecord
from esimcare.billing.settlement import settle
from esimcare.cancellations.models import Cancellation, NumberQuarantine
from esimcare.cancellations.systems import WorkflowSystems
from esimcare.esims.models import Esim, Plan
from esimcare.esims.states import profile_after_already_downloaded, profile_after_cancel_order
from esimcare.integrations.errors import TransientIntegrationError
from esimcare.integrations.smdp.interface import (
    ICCID_UNKNOWN,
    INVALID_STATE_TRANSITION,
    Es2Outcome,
    ExecutionStatus,
    FinalProfileStatus,
)
from esimcare.jobs.errors import PermanentJobError
from esimcare.kit.money import Money
from esimcare.operators.policy import RefundRoute


@dataclass(frozen=True)
class StepInput:
    cancellation: Cancellation
    esim: Esim
    attempt: int
    now: datetime
    # The external answer an earlier attempt of this step recorded, if any.
    previous_answer: dict[str, str] | None = None


@dataclass(frozen=True)
class StepWait:
    """``record``'s answer when the step's effect is under way but not confirmed (a refund the
    provider has accepted and not yet paid): what was learnt commits, the step stays open with
    ``outcome`` shown, and the workflow runs it again after a growing pause."""

    outcome: str
    note: str | None = None  # why, when it is a failure worth showing staff


class Step(Protocol):
    def prepare(self, session: Session, run: StepInput) -> Any: ...

    def call(self, prepared: Any) -> Any: ...

    def record(self, session: Session, run: StepInput, result: Any) -> str | StepWait: ...


class LocalStep:
    """A step that calls no external system: all its work happens in ``record``."""

    def __init__(self, ctx: WorkflowSystems) -> None:
        self.ctx = ctx

    def prepare(self, session: Session, run: StepInput) -> None:
        return None

    def call(self, prepared: None) -> None:
        return None


class FinalBillStep(LocalStep):
    """Stop billing at the effective time and issue the final bill; local, so one transaction."""

    def record(self, session: Session, run: StepInput, result: None) -> str:
        cancellation, esim = run.cancellation, run.esim
        plan = session.get(Plan, esim.plan_id)
        assert plan is not None
        bill = compute_final_bill(session, esim, plan, cancellation.effective_at)
        self._issue(session, run, bill, plan.currency)
        self._settle(session, run, bill, plan.currency)
        esim.billed_until = bill.period_end
        esim.billing_stopped_at = cancellation.effective_at
        return "billed"

    @staticmethod
    def _issue(session: Session, run: StepInput, bill: FinalBill, currency: str) -> None:
        """The bill row (one per cancellation), and the usage it now covers."""
        row = Bill(
            operator_id=run.esim.operator_id,
            esim_id=run.esim.id,
            cancellation_id=run.cancellation.id,
            period_start=bill.period_start,
            period_end=bill.period_end,
            fee_minor=bill.fee.minor,
            usage_minor=bill.usage.minor,
            total_minor=bill.total.minor,
            currency=currency,
            issued_at=run.now,
        )
        session.add(row)
        session.flush()
        session.execute(
            update(UsageRecord)
            .where(
                UsageRecord.esim_id == run.esim.id,
                UsageRecord.bill_id.is_(None),
                UsageRecord.occurred_at <= bill.period_end,
            )
            .values(bill_id=row.id)
        )

    def _settle(self, session: Session, run: StepInput, bill: FinalBill, currency: str) -> None:
        """Charge the bill to the balance (bonus first) and end what bonus is left."""
        esim, cancellation = run.esim, run.cancellation
        policy = self.ctx.policy(esim.operator_id)
        settlement = settle(
            balance_of(session, esim.id, currency),
            bill.total,
            refunds_allowed=policy.refund_route is not RefundRoute.NONE,
        )
        post(
            session,
            esim,
            kind=EntryKind.FINAL_BILL,
            cash=-settlement.cash_used,
            bonus=-settlement.bonus_used,
            description=f"final bill {cancellation.reference}",
            now=run.now,
            reference=f"final-bill:{cancellation.id}",
        )
        if settlement.bonus_forfeited.minor:
            post(
                session,
                esim,
                kind=EntryKind.BONUS_FORFEIT,
                cash=Money.zero(currency),
                bonus=-settlement.bonus_forfeited,
                description="bonus ends with the contract",
                now=run.now,
                reference=f"bonus-forfeit:{cancellation.id}",
            )


@dataclass(frozen=True)
class ProfileCall:
    operator_id: str
    iccid: str
    eid: str | None
    matching_id: str | None
    final_status: FinalProfileStatus


class ProfileStep:
    """SGP.22 v2.2 5.3.3 CancelOrder, always: the SM-DP+, not our ``profile_state``, knows
    whether the profile can still be downloaded. Our state is built from notifications, which
    are claims (late, lost or forged); trusting a "deleted" or "installed" one would skip the
    call and leave a downloadable profile behind a cancelled contract.

    The step ends on a definite answer, recorded on the step (``external_answer``):
    - success: the order is withdrawn (the profile Available or Unavailable, per policy);
    - 8.2.1 / 3.3 "already downloaded", or 3.5 "invalid state transition" (or whichever codes
      the SM-DP+'s ``delete_on_device_codes`` setting lists): the profile is past the order
      states, on a phone (or already out of stock) and no longer downloadable; the network step
      deactivates the line and the subscriber is told to delete it there;
    - any other ``Failed`` answer: the cancellation fails with it, for staff (never retried
      blindly). ``Expired``, transport errors, 5xx and time-outs are retried with backoff.
    """

    def __init__(self, ctx: WorkflowSystems) -> None:
        self.ctx = ctx

    def prepare(self, session: Session, run: StepInput) -> ProfileCall:
        esim = run.esim
        final_status = self.ctx.policy(esim.operator_id).smdp_final_status
        return ProfileCall(esim.operator_id, esim.iccid, esim.eid, esim.matching_id, final_status)

    def call(self, prepared: ProfileCall) -> Es2Outcome:
        outcome = self.ctx.smdp_for(prepared.operator_id).cancel_order(
            iccid=prepared.iccid,
            final_status=prepared.final_status,
            eid=prepared.eid,
            matching_id=prepared.matching_id,
        )
        if outcome.status is ExecutionStatus.EXPIRED:
            # Not executed at all (the request's validity ran out): the same call may pass.
            raise TransientIntegrationError(f"CancelOrder: {describe_answer(outcome)}")
        return outcome

    def record(self, session: Session, run: StepInput, result: Es2Outcome) -> str:
        esim = run.esim
        if result.succeeded:
            esim.profile_state = profile_after_cancel_order(self._final_status(esim).value)
            return "cancelled_at_smdp"
        if self._lost_answer_went_through(run, result):
            esim.profile_state = profile_after_cancel_order(self._final_status(esim).value)
            return "cancelled_at_smdp_reconciled"
        if self.ctx.policy(esim.operator_id).smdp_link.means_delete_on_device(result.code):
            # The phone got there first: from now on it is the installed path. Which answers
            # say so is this operator's SM-DP+ setting (default 8.2.1/3.3 and 8.2.1/3.5).
            esim.profile_state = profile_after_already_downloaded(esim.profile_state)
            return "delete_on_device"
        raise PermanentJobError(f"SM-DP+ refused CancelOrder: {describe_answer(result)}")

    def _final_status(self, esim: Esim) -> FinalProfileStatus:
        return self.ctx.policy(esim.operator_id).smdp_final_status

    @staticmethod
    def _lost_answer_went_through(run: StepInput, result: Es2Outcome) -> bool:
        """An earlier attempt's CancelOrder went through but its answer was lost (time-out,
        crash): now the profile is out of the order states, which is the effect we wanted.
        Only when no earlier attempt got a definite answer, so a staff retry of a refusal is
        not mistaken for one."""
        return (
            run.attempt > 1
            and run.previous_answer is None
            and (result.is_code(INVALID_STATE_TRANSITION) or result.is_code(ICCID_UNKNOWN))
        )


def answer_of(result: object) -> dict[str, str] | None:
    """What an external system said, as the step records it; None for a call without one."""
    if not isinstance(result, Es2Outcome):
        return None
    answer = {"status": result.status.value}
    if result.code is not None:
        answer |= {"subjectCode": result.code.subject, "reasonCode": result.code.reason}
        if result.code.message:
            answer["message"] = result.code.message[:300]
    return answer


def describe_answer(outcome: Es2Outcome) -> str:
    code = outcome.code
    if code is None:
        return outcome.status.value
    return f"{outcome.status.value} {code} {code.message}".strip()


@dataclass(frozen=True)
class NetworkCall:
    imsi: str
    msisdn: str
    request_id: str


class NetworkStep:
    """Bar, then remove, the subscriber in the HSS; the number goes into quarantine."""

    def __init__(self, ctx: WorkflowSystems) -> None:
        self.ctx = ctx

    def prepare(self, session: Session, run: StepInput) -> NetworkCall:
        return NetworkCall(
            run.esim.imsi, run.esim.msisdn, f"cancellation-{run.cancellation.reference}"
        )

    def call(self, prepared: NetworkCall) -> None:
        network = self.ctx.network
        network.bar(
            imsi=prepared.imsi, msisdn=prepared.msisdn, request_id=prepared.request_id + "-bar"
        )
        network.remove(
            imsi=prepared.imsi, msisdn=prepared.msisdn, request_id=prepared.request_id + "-remove"
        )

    def record(self, session: Session, run: StepInput, result: None) -> str:
        policy = self.ctx.policy(run.esim.operator_id)
        since = max(run.cancellation.effective_at, run.now)
        session.add(
            NumberQuarantine(
                operator_id=run.esim.operator_id,
                msisdn=run.esim.msisdn,
                cancellation_id=run.cancellation.id,
                since=since,
                until=run.cancellation.effective_at + timedelta(days=policy.number_quarantine_days),
            )
        )
        return "removed_from_network"
