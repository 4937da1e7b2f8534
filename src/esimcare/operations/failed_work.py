"""Failed work for staff: failed cancellations and dead jobs, retried or resolved by hand.

Every action takes an ``actor`` (``staff:<id>`` from the console, ``cli:<user>`` from the command
line) and a written ``why``; each leaves an audit row and, for a cancellation, a transition row.

Safety rules kept here:

* a cancellation runs at most one step job at a time: a retry is refused while any job for it
  is queued or running, and the FAILED -> PROCESSING move itself can only happen once;
* a retried refund step reuses the refund row and its stored idempotency key
  (``money_steps.py``), so the payment provider never pays twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from esimcare.audit.service import record
from esimcare.cancellations.models import Cancellation, CancellationStep, CancellationTransition
from esimcare.cancellations.service import STEP_JOB
from esimcare.cancellations.states import CancellationStatus, StepName, StepStatus
from esimcare.cancellations.transitions import move
from esimcare.errors import ConflictError, InvalidInputError, InvalidTransitionError, NotFoundError
from esimcare.i18n import N_
from esimcare.jobs.models import Job, JobStatus
from esimcare.jobs.queue import enqueue
from esimcare.operations.job_owners import job_operator

# A cancellation step run once, without retries (``retry_step``); the workflow runs it.
STEP_ONCE_JOB = "cancellation.step_once"
STEP_KINDS = (STEP_JOB, STEP_ONCE_JOB)
MIN_NOTE_CHARS = 10
RESOLVED_BY_HAND = "resolved_by_hand"


class CancellationJobBusyError(ConflictError):
    code = "cancellation-job-busy"
    title = N_("A job for this cancellation is still queued or running")


class RequeueStepJobError(ConflictError):
    code = "requeue-step-job"
    title = N_("A dead cancellation step is retried through its cancellation, not its job")


@dataclass(frozen=True)
class FailedCancellation:
    """One row of the failed-work queue."""

    id: int
    reference: str
    operator_id: str
    failed_step: StepName | None
    step_attempts: int
    reason: str
    failed_at: datetime | None


@dataclass(frozen=True)
class DeadJob:
    id: int
    kind: str
    operator_id: str
    attempts: int
    reason: str
    finished_at: datetime | None


@dataclass(frozen=True)
class StaffAction:
    """Who acts and why; both end up in the audit row."""

    actor: str
    why: str
    now: datetime


def list_failed_cancellations(session: Session, operator_id: str) -> list[FailedCancellation]:
    rows = session.scalars(
        select(Cancellation)
        .where(
            Cancellation.operator_id == operator_id,
            Cancellation.status == CancellationStatus.FAILED,
        )
        .order_by(Cancellation.id)
    )
    return [_failed_row(session, cancellation) for cancellation in rows]


def _failed_row(session: Session, cancellation: Cancellation) -> FailedCancellation:
    step = _failed_step(session, cancellation.id)
    failed_at = session.scalar(
        select(func.max(CancellationTransition.at)).where(
            CancellationTransition.cancellation_id == cancellation.id,
            CancellationTransition.to_status == CancellationStatus.FAILED,
        )
    )
    return FailedCancellation(
        id=cancellation.id,
        reference=cancellation.reference,
        operator_id=cancellation.operator_id,
        failed_step=step.name if step else None,
        step_attempts=step.attempts if step else 0,
        reason=cancellation.failure_reason or (step.last_error if step else None) or "",
        failed_at=failed_at,
    )


def list_dead_jobs(session: Session, operator_id: str, limit: int = 200) -> list[DeadJob]:
    """Dead jobs that belong to the operator (jobs carry no tenant: their payload names it)."""
    jobs = session.scalars(
        select(Job).where(Job.status == JobStatus.DEAD).order_by(Job.id.desc()).limit(limit * 5)
    )
    found = []
    for job in jobs:
        if job_operator(session, job) != operator_id:
            continue
        found.append(
            DeadJob(
                job.id, job.kind, operator_id, job.attempts, job.last_error or "", job.finished_at
            )
        )
        if len(found) == limit:
            break
    return found


def list_jobs(
    session: Session, operator_id: str, status: JobStatus | None = None, limit: int = 100
) -> list[Job]:
    query = select(Job).order_by(Job.id.desc()).limit(limit * 5)
    if status is not None:
        query = query.where(Job.status == status)
    return [job for job in session.scalars(query) if job_operator(session, job) == operator_id][
        :limit
    ]


def failed_cancellation(session: Session, operator_id: str, reference: str) -> Cancellation:
    """The operator's cancellation by reference, row-locked; another tenant's is 'not found'."""
    cancellation = session.scalar(
        select(Cancellation)
        .where(Cancellation.reference == reference, Cancellation.operator_id == operator_id)
        .with_for_update()
    )
    if cancellation is None:
        raise NotFoundError(f"no cancellation {reference}")
    if cancellation.status is not CancellationStatus.FAILED:
        raise InvalidTransitionError(
            f"only a failed cancellation can be retried or resolved; {reference} is "
            f"{cancellation.status.value}"
        )
    _refuse_if_job_busy(session, cancellation.id)
    return cancellation


def retry_step(
    session: Session, operator_id: str, reference: str, action: StaffAction
) -> Cancellation:
    """Try the failed step once, at once, without the usual backoff: failing again puts the
    cancellation straight back in the queue (staff see at once whether the cause is fixed);
    succeeding lets the workflow go on with the next step as usual."""
    cancellation = failed_cancellation(session, operator_id, reference)
    step = _require_failed_step(session, cancellation)
    step.status = StepStatus.PENDING
    _restart(session, cancellation, action, f"retry step {step.name.value}", kind=STEP_ONCE_JOB)
    _audit(session, cancellation, action, "staff.cancellation.retry_step", step=step.name.value)
    return cancellation


def retry_from_failed_step(
    session: Session, operator_id: str, reference: str, action: StaffAction
) -> Cancellation:
    """Re-run the workflow from the failed step onward with a full set of retries and backoff
    (for a cause that may take a while to clear). The step keeps what it learned: the SM-DP+'s
    last answer (so a refusal is never mistaken for a lost success) and the refund row with
    its idempotency key (so nothing is paid twice)."""
    cancellation = failed_cancellation(session, operator_id, reference)
    step = _require_failed_step(session, cancellation)
    step.status = StepStatus.PENDING
    _restart(session, cancellation, action, f"retry from step {step.name.value}", kind=STEP_JOB)
    _audit(
        session,
        cancellation,
        action,
        "staff.cancellation.retry_from_failed_step",
        step=step.name.value,
    )
    return cancellation


def resolve_by_hand(
    session: Session, operator_id: str, reference: str, action: StaffAction
) -> Cancellation:
    """Mark the failed step done by hand (``action.why`` is the written note, for example
    "profile deleted by the SM-DP+ vendor's support") and let the workflow continue."""
    if len(action.why.strip()) < MIN_NOTE_CHARS:
        raise InvalidInputError(
            f"write what was done by hand (at least {MIN_NOTE_CHARS} characters)", field="note"
        )
    cancellation = failed_cancellation(session, operator_id, reference)
    step = _require_failed_step(session, cancellation)
    step.status = StepStatus.DONE
    step.outcome = RESOLVED_BY_HAND
    step.finished_at = action.now
    step.external_answer = {"resolved_by": action.actor, "note": action.why[:500]}
    _restart(
        session, cancellation, action, f"step {step.name.value} resolved by hand", kind=STEP_JOB
    )
    _audit(
        session, cancellation, action, "staff.cancellation.resolve_by_hand", step=step.name.value
    )
    return cancellation


def requeue_dead_job(session: Session, operator_id: str, job_id: int, action: StaffAction) -> Job:
    """Give a dead job a fresh set of attempts. Cancellation steps go through retry_step."""
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job_operator(session, job) != operator_id:
        raise NotFoundError(f"no job {job_id}")
    if job.kind in STEP_KINDS:
        raise RequeueStepJobError("retry the failed cancellation instead (cancellations retry)")
    if job.status is not JobStatus.DEAD:
        raise InvalidTransitionError(f"job {job_id} is {job.status.value}, not dead")
    error = job.last_error
    job.status = JobStatus.QUEUED
    job.attempts = 0
    job.run_after = action.now
    job.finished_at = None
    job.lease_until = None
    job.locked_by = None
    record(
        session,
        operator_id=operator_id,
        actor=action.actor,
        action="staff.job.requeue",
        subject=f"job:{job.id}",
        at=action.now,
        data={"why": action.why, "kind": job.kind, "last_error": (error or "")[:300]},
    )
    return job


def _restart(
    session: Session, cancellation: Cancellation, action: StaffAction, what: str, *, kind: str
) -> None:
    move(
        session,
        cancellation,
        CancellationStatus.PROCESSING,
        actor=action.actor,
        now=action.now,
        note=f"{what}: {action.why}"[:300],
    )
    cancellation.failure_reason = None
    restarts = session.scalar(
        select(func.count()).where(
            CancellationTransition.cancellation_id == cancellation.id,
            CancellationTransition.from_status == CancellationStatus.FAILED,
        )
    )
    # Flushed above by the count; a fresh key per restart, so one restart is one job.
    enqueue(
        session,
        kind=kind,
        payload={"cancellation_id": cancellation.id},
        now=action.now,
        dedupe_key=f"cancellation:{cancellation.id}:restart:{restarts}",
    )


def _refuse_if_job_busy(session: Session, cancellation_id: int) -> None:
    live = session.scalars(
        select(Job).where(
            Job.kind.in_(STEP_KINDS), Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING])
        )
    )
    if any(job.payload.get("cancellation_id") == cancellation_id for job in live):
        raise CancellationJobBusyError()


def _failed_step(session: Session, cancellation_id: int) -> CancellationStep | None:
    return session.scalar(
        select(CancellationStep)
        .where(
            CancellationStep.cancellation_id == cancellation_id,
            CancellationStep.status != StepStatus.DONE,
        )
        .order_by(CancellationStep.position)
        .limit(1)
    )


def _require_failed_step(session: Session, cancellation: Cancellation) -> CancellationStep:
    step = _failed_step(session, cancellation.id)
    if step is None:
        raise InvalidTransitionError(f"{cancellation.reference} has no unfinished step")
    return step


def _audit(
    session: Session,
    cancellation: Cancellation,
    action: StaffAction,
    what: str,
    **data: str,
) -> None:
    record(
        session,
        operator_id=cancellation.operator_id,
        actor=action.actor,
        action=what,
        subject=f"cancellation:{cancellation.reference}",
        at=action.now,
        data={"why": action.why, **data},
    )
