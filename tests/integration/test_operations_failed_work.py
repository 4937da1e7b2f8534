"""Failed work: staff retry a failed cancellation, run it on from the failed step, resolve a
step by hand, and requeue dead jobs; each audited, tenant-scoped, and never doubled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from esimcare.audit.models import AuditEvent
from esimcare.audit.service import verify_chain
from esimcare.billing.models import Refund, RefundPart
from esimcare.cancellations import service
from esimcare.cancellations.models import Cancellation, CancellationTransition
from esimcare.cancellations.states import CancellationStatus, StepName, StepStatus
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.errors import InvalidInputError, InvalidTransitionError, NotFoundError
from esimcare.jobs.models import Job, JobStatus
from esimcare.jobs.queue import enqueue
from esimcare.kit.clock import FrozenClock
from esimcare.operations.failed_work import (
    CancellationJobBusyError,
    RequeueStepJobError,
    StaffAction,
    list_dead_jobs,
    list_failed_cancellations,
    requeue_dead_job,
    resolve_by_hand,
    retry_from_failed_step,
    retry_step,
)
from esimcare.runtime import build_worker
from esimcare.sandbox.smdp_emulator.emulator import SmdpEmulator
from tests.support import request_and_verify_mts

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

SUPERVISOR = "staff:7"


@pytest.fixture
def ctx(make_context, db_url: str, clock: FrozenClock) -> Context:  # type: ignore[no-untyped-def]
    built: Context = make_context(database_url=db_url, clock=clock)
    return built


def drain(ctx: Context, rounds: int = 20, step: timedelta = timedelta(minutes=30)) -> None:
    worker = build_worker(ctx, name="test-worker")
    for _ in range(rounds):
        worker.run_until_idle()
        assert isinstance(ctx.clock, FrozenClock)
        ctx.clock.advance(step)


def smdp(ctx: Context) -> SmdpEmulator:
    gateway = ctx.smdp_for("mts")
    assert isinstance(gateway, SmdpEmulator)
    return gateway


def act(ctx: Context, why: str = "the SM-DP+ is back") -> StaffAction:
    return StaffAction(SUPERVISOR, why, ctx.clock.now())


def reference_of(ctx: Context, cancellation_id: int) -> str:
    return load(ctx, cancellation_id).reference


def load(ctx: Context, cancellation_id: int) -> Cancellation:
    with transaction(ctx.sessions) as session:
        found = session.get(Cancellation, cancellation_id)
        assert found is not None
        return found


def step_state(ctx: Context, cancellation_id: int, name: StepName) -> tuple[StepStatus, int, str]:
    with transaction(ctx.sessions) as session:
        step = next(s for s in service.steps_of(session, cancellation_id) if s.name is name)
        return step.status, step.attempts, step.outcome or ""


def failed_while_smdp_down(ctx: Context) -> int:
    """A cancellation whose profile step failed: the SM-DP+ was down past every retry."""
    cancellation_id, _ = request_and_verify_mts(ctx, esim_index=1)
    smdp(ctx).fail_next(100)
    drain(ctx)
    assert load(ctx, cancellation_id).status is CancellationStatus.FAILED
    return cancellation_id


def audit_rows(ctx: Context, action: str) -> list[AuditEvent]:
    with transaction(ctx.sessions) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_the_queue_lists_a_failed_cancellation_with_its_step_and_reason(ctx: Context) -> None:
    cancellation_id = failed_while_smdp_down(ctx)
    with transaction(ctx.sessions) as session:
        rows = list_failed_cancellations(session, "mts")
        other = list_failed_cancellations(session, "beeline")
    assert [row.id for row in rows] == [cancellation_id]
    assert rows[0].failed_step is StepName.PROFILE
    assert "Transient" in rows[0].reason
    assert other == []


def test_a_retried_step_completes_the_cancellation_once_the_smdp_is_back(ctx: Context) -> None:
    cancellation_id = failed_while_smdp_down(ctx)
    smdp(ctx).fail_next(0)
    with transaction(ctx.sessions) as session:
        retry_step(session, "mts", reference_of(ctx, cancellation_id), act(ctx))
    drain(ctx, rounds=3)
    assert load(ctx, cancellation_id).status is CancellationStatus.COMPLETED
    [row] = audit_rows(ctx, "staff.cancellation.retry_step")
    assert row.actor == SUPERVISOR
    assert row.data == {"why": "the SM-DP+ is back", "step": "profile"}
    with transaction(ctx.sessions) as session:
        actors = session.scalars(
            select(CancellationTransition.actor).where(
                CancellationTransition.cancellation_id == cancellation_id,
                CancellationTransition.from_status == CancellationStatus.FAILED,
            )
        ).all()
        assert verify_chain(session, "mts") is None
    assert actors == [SUPERVISOR]


def test_retrying_one_step_tries_once_and_hands_a_new_failure_straight_back(
    ctx: Context,
) -> None:
    cancellation_id = failed_while_smdp_down(ctx)
    _, attempts_before, _ = step_state(ctx, cancellation_id, StepName.PROFILE)
    with transaction(ctx.sessions) as session:
        retry_step(session, "mts", reference_of(ctx, cancellation_id), act(ctx))
    drain(ctx, rounds=3)
    assert load(ctx, cancellation_id).status is CancellationStatus.FAILED
    status, attempts, _ = step_state(ctx, cancellation_id, StepName.PROFILE)
    assert (status, attempts) == (StepStatus.FAILED, attempts_before + 1)


def test_retrying_from_the_failed_step_keeps_retrying_with_backoff(ctx: Context) -> None:
    cancellation_id = failed_while_smdp_down(ctx)
    _, attempts_before, _ = step_state(ctx, cancellation_id, StepName.PROFILE)
    smdp(ctx).fail_next(3)
    with transaction(ctx.sessions) as session:
        retry_from_failed_step(session, "mts", reference_of(ctx, cancellation_id), act(ctx))
    drain(ctx, rounds=6, step=timedelta(minutes=10))
    assert load(ctx, cancellation_id).status is CancellationStatus.COMPLETED
    assert step_state(ctx, cancellation_id, StepName.PROFILE)[1] == attempts_before + 4


def test_a_second_retry_while_the_first_is_queued_is_refused(ctx: Context) -> None:
    cancellation_id = failed_while_smdp_down(ctx)
    reference = reference_of(ctx, cancellation_id)
    with transaction(ctx.sessions) as session:
        retry_step(session, "mts", reference, act(ctx))
    with pytest.raises(InvalidTransitionError), transaction(ctx.sessions) as session:
        retry_from_failed_step(session, "mts", reference, act(ctx))
    with transaction(ctx.sessions) as session:
        queued = session.scalar(
            select(func.count()).where(Job.status == JobStatus.QUEUED, Job.kind.like("cancel%"))
        )
    assert queued == 1


def test_a_retry_is_refused_while_any_job_for_the_cancellation_is_still_live(
    ctx: Context,
) -> None:
    cancellation_id = failed_while_smdp_down(ctx)
    with transaction(ctx.sessions) as session:
        enqueue(
            session,
            kind=service.STEP_JOB,
            payload={"cancellation_id": cancellation_id},
            now=ctx.clock.now(),
        )
    with pytest.raises(CancellationJobBusyError), transaction(ctx.sessions) as session:
        retry_step(session, "mts", reference_of(ctx, cancellation_id), act(ctx))
    assert load(ctx, cancellation_id).status is CancellationStatus.FAILED


def test_another_operator_cannot_see_or_retry_the_cancellation(ctx: Context) -> None:
    cancellation_id = failed_while_smdp_down(ctx)
    with pytest.raises(NotFoundError), transaction(ctx.sessions) as session:
        retry_step(session, "beeline", reference_of(ctx, cancellation_id), act(ctx))
    assert load(ctx, cancellation_id).status is CancellationStatus.FAILED


def test_a_step_resolved_by_hand_is_done_with_its_note_and_the_workflow_continues(
    ctx: Context,
) -> None:
    cancellation_id, _ = request_and_verify_mts(ctx, esim_index=0)
    ctx.network.fail_next(100)  # type: ignore[attr-defined]
    drain(ctx)
    ctx.network.fail_next(0)  # type: ignore[attr-defined]
    note = "subscriber removed from the HLR by the network team, ticket NET-42"
    with transaction(ctx.sessions) as session:
        resolve_by_hand(session, "mts", reference_of(ctx, cancellation_id), act(ctx, note))
    drain(ctx, rounds=3)
    assert load(ctx, cancellation_id).status is CancellationStatus.COMPLETED
    status, _, outcome = step_state(ctx, cancellation_id, StepName.NETWORK)
    assert (status, outcome) == (StepStatus.DONE, "resolved_by_hand")
    [row] = audit_rows(ctx, "staff.cancellation.resolve_by_hand")
    assert row.data["why"] == note and row.actor == SUPERVISOR


def test_resolving_by_hand_needs_a_written_note(ctx: Context) -> None:
    cancellation_id = failed_while_smdp_down(ctx)
    with pytest.raises(InvalidInputError), transaction(ctx.sessions) as session:
        resolve_by_hand(session, "mts", reference_of(ctx, cancellation_id), act(ctx, "done"))


def test_a_retried_refund_keeps_its_key_and_pays_exactly_once(ctx: Context) -> None:
    cancellation_id, quote = request_and_verify_mts(ctx, esim_index=0)
    ctx.payouts.fail_next(100)  # type: ignore[attr-defined]
    drain(ctx)
    assert load(ctx, cancellation_id).status is CancellationStatus.FAILED
    with transaction(ctx.sessions) as session:
        keys_before = session.scalars(select(RefundPart.idempotency_key)).all()
    ctx.payouts.fail_next(0)  # type: ignore[attr-defined]
    with transaction(ctx.sessions) as session:
        retry_from_failed_step(session, "mts", reference_of(ctx, cancellation_id), act(ctx))
    drain(ctx, rounds=3)
    assert load(ctx, cancellation_id).status is CancellationStatus.COMPLETED
    with transaction(ctx.sessions) as session:
        refunds = session.scalar(select(func.count()).select_from(Refund))
        keys_after = session.scalars(select(RefundPart.idempotency_key)).all()
    payouts = ctx.payouts.payouts()  # type: ignore[attr-defined]
    assert refunds == 1 and keys_before and keys_after == keys_before
    assert [p.idempotency_key for p in payouts] == keys_before
    assert f"{sum(p.amount.minor for p in payouts) / 100:.2f}" == quote["refund"]["amount"]


def test_a_dead_notice_job_is_listed_for_its_operator_and_requeued_with_an_audit_row(
    ctx: Context,
) -> None:
    ctx.sms.fail_next(1000, transient=False)  # type: ignore[attr-defined]
    request_and_verify_mts(ctx, esim_index=1)
    drain(ctx, rounds=2)
    with transaction(ctx.sessions) as session:
        dead = list_dead_jobs(session, "mts")
        assert list_dead_jobs(session, "beeline") == []
    notice_jobs = [job for job in dead if job.kind == "notice.deliver"]
    assert notice_jobs and "injected refusal" in notice_jobs[0].reason
    ctx.sms.fail_next(0)  # type: ignore[attr-defined]
    with transaction(ctx.sessions) as session:
        requeue_dead_job(session, "mts", notice_jobs[0].id, act(ctx, "SMS gateway fixed"))
    with transaction(ctx.sessions) as session:
        job = session.get(Job, notice_jobs[0].id)
        assert job is not None and (job.status, job.attempts) == (JobStatus.QUEUED, 0)
    drain(ctx, rounds=1)
    with transaction(ctx.sessions) as session:
        job = session.get(Job, notice_jobs[0].id)
        assert job is not None and job.status is JobStatus.DONE
    assert [row.data["why"] for row in audit_rows(ctx, "staff.job.requeue")] == [
        "SMS gateway fixed"
    ]


def test_dead_jobs_of_another_operator_and_step_jobs_cannot_be_requeued(ctx: Context) -> None:
    cancellation_id = failed_while_smdp_down(ctx)
    with transaction(ctx.sessions) as session:
        [step_job] = [j for j in list_dead_jobs(session, "mts") if j.kind == service.STEP_JOB]
    with pytest.raises(NotFoundError), transaction(ctx.sessions) as session:
        requeue_dead_job(session, "beeline", step_job.id, act(ctx))
    with pytest.raises(RequeueStepJobError), transaction(ctx.sessions) as session:
        requeue_dead_job(session, "mts", step_job.id, act(ctx))
    assert load(ctx, cancellation_id).status is CancellationStatus.FAILED
