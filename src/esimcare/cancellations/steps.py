"""The five steps of a cancellation. Each has three phases so side effects sit between commits:

``prepare`` (in a transaction: read state, write what must exist before the call, such as the
refund row with its provider key), ``call`` (no transaction: the external system), ``record``
(in a transaction: the effect, committed together with the step's completion).
A crash after ``call`` repeats the call on restart, so every call is idempotent by design.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from esimcare.billing.final_bill import (
    FinalBill,
    FinalBillReads,
    final_bill_and_balance,
    issue_final_bill,
)
from esimcare.billing.ledger import Balance, entry, post_all
from esimcare.billing.models import EntryKind
from esimcare.billing.settlement import settle
from esimcare.cancellations.models import Cancellation, NumberQuarantine
from esimcare.cancellations.systems import WorkflowSystems
from esimcare.customers.models import Customer
from esimcare.esims.models import Esim, Plan
from esimcare.esims.states import (
    ProfileState,
    profile_after_already_downloaded,
    profile_after_cancel_order,
)
from esimcare.integrations.errors import TransientIntegrationError
from esimcare.integrations.smdp.call_log import EndToWrite
from esimcare.integrations.smdp.es2plus_client import Es2PlusClient, OpenCall
from esimcare.integrations.smdp.interface import (
    ICCID_UNKNOWN,
    INVALID_STATE_TRANSITION,
    Es2Outcome,
    ExecutionStatus,
    FinalProfileStatus,
)
from esimcare.integrations.smdp.messages import CancelOrder
from esimcare.jobs.errors import PermanentJobError
from esimcare.kit.money import Money
from esimcare.operators.policy import RefundRoute


@dataclass
class Carried:
    """What an earlier transaction of this workflow run read or wrote and a later step needs,
    carried in memory instead of read back (nothing else changes these while the run holds
    its job): None until this run knows it. A run that took a job over knows less, and its
    steps read what they miss."""

    customer: Customer | None = None  # as the run's first load read them
    bill: Money | None = None  # the final bill's total, as this run issued it
    refund_minor: int | None = None  # the refund's amount, as this run made or found it
    # What the final bill reads, read by the workflow's first load with the rest; only ever
    # used in the transaction that read it (the one the final bill's step runs in).
    bill_reads: FinalBillReads | None = None


@dataclass(frozen=True)
class StepInput:
    cancellation: Cancellation
    esim: Esim
    attempt: int
    now: datetime
    # The external answer an earlier attempt of this step recorded, if any.
    previous_answer: dict[str, str] | None = None
    carried: Carried = field(default_factory=Carried)
    # The eSIM's profile state as this very transaction read it, when it did (the last
    # transaction closes the eSIM first, and that UPDATE returns it).
    profile_now: ProfileState | None = None
    # Where a local step puts the rows of the jobs it queues (``jobs.new_job``), when the
    # workflow inserts them with the finish of its own job, in one statement; None: at once.
    job_rows: list[dict[str, Any]] | None = None


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
        reads = run.carried.bill_reads or final_bill_and_balance(
            session, esim, plan, cancellation.effective_at
        )
        bill = reads.bill
        issue_final_bill(session, esim, cancellation.id, reads, run.now)
        run.carried.bill = bill.total
        self._settle(session, run, bill, reads.balance)
        # Written here, not by the ORM's flush: the eSIM row stays as it was loaded otherwise.
        session.execute(
            _STOP_BILLING,
            {"for_esim": esim.id, "billed_until": bill.period_end,
             "billing_stopped_at": cancellation.effective_at},
        )  # fmt: skip
        set_committed_value(esim, "billed_until", bill.period_end)
        set_committed_value(esim, "billing_stopped_at", cancellation.effective_at)
        return "billed"

    def _settle(self, session: Session, run: StepInput, bill: FinalBill, balance: Balance) -> None:
        """Charge the bill to the balance (bonus first) and end what bonus is left: the
        ledger rows in one statement."""
        esim, cancellation = run.esim, run.cancellation
        policy = self.ctx.policy(esim.operator_id)
        settlement = settle(
            balance, bill.total, refunds_allowed=policy.refund_route is not RefundRoute.NONE
        )
        entries = [
            entry(
                esim,
                kind=EntryKind.FINAL_BILL,
                cash=-settlement.cash_used,
                bonus=-settlement.bonus_used,
                description=f"final bill {cancellation.reference}",
                now=run.now,
                reference=f"final-bill:{cancellation.id}",
            )
        ]
        if settlement.bonus_forfeited.minor:
            entries.append(
                entry(
                    esim,
                    kind=EntryKind.BONUS_FORFEIT,
                    cash=Money.zero(bill.total.currency),
                    bonus=-settlement.bonus_forfeited,
                    description="bonus ends with the contract",
                    now=run.now,
                    reference=f"bonus-forfeit:{cancellation.id}",
                )
            )
        post_all(session, entries)


_ESIMS = cast(Table, Esim.__table__)
_STOP_BILLING = update(_ESIMS).where(
    _ESIMS.c.id == bindparam("for_esim")
)  # sets the params' columns


@dataclass(frozen=True)
class ProfileCall:
    operator_id: str
    message: CancelOrder
    # The call's ``es2plus_calls`` row, written in the transaction that began the step (an
    # ES2+ client's; other gateways keep no such log).
    opened: OpenCall | None = None


@dataclass(frozen=True)
class ProfileAnswer:
    """CancelOrder's outcome, and the end of its log row, written with the step's record."""

    outcome: Es2Outcome
    log_end: EndToWrite | None = None


# ``profile_after_already_downloaded`` as one statement: the states it keeps stay, every
# other becomes the one state it moves them to.
_KEPT = [state for state in ProfileState if profile_after_already_downloaded(state) is state]
(_MOVED_TO,) = {profile_after_already_downloaded(s) for s in ProfileState if s not in _KEPT}
_ALREADY_DOWNLOADED = (
    update(_ESIMS)
    .where(_ESIMS.c.id == bindparam("for_esim"), _ESIMS.c.profile_state.not_in(_KEPT))
    .values(profile_state=_MOVED_TO)
    .returning(_ESIMS.c.profile_state)
)


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
        message = CancelOrder(esim.iccid, final_status, esim.eid, esim.matching_id)
        gateway = self.ctx.smdp_for(esim.operator_id)
        opened = gateway.open_call(session, message) if isinstance(gateway, Es2PlusClient) else None
        return ProfileCall(esim.operator_id, message, opened)

    def call(self, prepared: ProfileCall) -> ProfileAnswer:
        gateway = self.ctx.smdp_for(prepared.operator_id)
        log_end: EndToWrite | None = None
        if prepared.opened is not None and isinstance(gateway, Es2PlusClient):
            outcome, log_end = gateway.send(prepared.opened)
        else:
            message = prepared.message
            outcome = gateway.cancel_order(
                iccid=message.iccid,
                final_status=message.final_status,
                eid=message.eid,
                matching_id=message.matching_id,
            )
        if outcome.status is ExecutionStatus.EXPIRED:
            # Not executed at all (the request's validity ran out): the same call may pass.
            if log_end is not None:
                log_end.write_alone()
            raise TransientIntegrationError(f"CancelOrder: {describe_answer(outcome)}")
        return ProfileAnswer(outcome, log_end)

    def record(self, session: Session, run: StepInput, result: ProfileAnswer) -> str:
        if result.log_end is not None:
            result.log_end.write_in(session)
        esim, outcome = run.esim, result.outcome
        if outcome.succeeded:
            esim.profile_state = profile_after_cancel_order(self._final_status(esim).value)
            return "cancelled_at_smdp"
        if self._lost_answer_went_through(run, outcome):
            esim.profile_state = profile_after_cancel_order(self._final_status(esim).value)
            return "cancelled_at_smdp_reconciled"
        if self.ctx.policy(esim.operator_id).smdp_link.means_delete_on_device(outcome.code):
            # The phone got there first: from now on it is the installed path. Which answers
            # say so is this operator's SM-DP+ setting (default 8.2.1/3.3 and 8.2.1/3.5).
            # Decided on the profile state as it is now, in the database (notifications
            # change it at any time): one conditional UPDATE, no read.
            moved = session.execute(_ALREADY_DOWNLOADED, {"for_esim": esim.id}).scalar()
            if moved is not None:
                set_committed_value(esim, "profile_state", moved)
            return "delete_on_device"
        raise PermanentJobError(f"SM-DP+ refused CancelOrder: {describe_answer(outcome)}")

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
    if isinstance(result, ProfileAnswer):
        result = result.outcome
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
        session.execute(
            _QUARANTINE,
            {
                "operator_id": run.esim.operator_id,
                "msisdn": run.esim.msisdn,
                "cancellation_id": run.cancellation.id,
                "since": since,
                "until": run.cancellation.effective_at
                + timedelta(days=policy.number_quarantine_days),
            },
        )
        return "removed_from_network"


_QUARANTINE = insert(cast(Table, NumberQuarantine.__table__))


def log_end_of(result: object) -> EndToWrite | None:
    """The end of a call's log row still to be written with the step's record, if any."""
    return result.log_end if isinstance(result, ProfileAnswer) else None
