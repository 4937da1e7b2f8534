"""Runs a cancellation one step per job: prepare and commit, call out, record and commit.

The step's completion, the next step's job and the job's own completion commit together, so
a crash anywhere leaves either the step to be redone (idempotently) or the next one queued.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from esimcare.cancellations.models import Cancellation, CancellationStep
from esimcare.cancellations.money_steps import NoticeStep, RefundStep
from esimcare.cancellations.service import STEP_JOB, audit, view_esim
from esimcare.cancellations.states import CancellationStatus, StepName, StepStatus
from esimcare.cancellations.steps import (
    FinalBillStep,
    NetworkStep,
    ProfileStep,
    Step,
    StepInput,
    StepWait,
    answer_of,
)
from esimcare.cancellations.systems import WorkflowSystems
from esimcare.cancellations.transitions import move, move_esim
from esimcare.db import transaction
from esimcare.esims.states import EsimStatus
from esimcare.jobs.errors import PermanentJobError
from esimcare.jobs.queue import ClaimedJob, JobQueue, enqueue
from esimcare.kit.faults import crash_point

_SETTLED = frozenset(
    {
        CancellationStatus.UNDONE,
        CancellationStatus.EXPIRED,
        CancellationStatus.COMPLETED,
        CancellationStatus.FAILED,
    }
)


class CancellationWorkflow:
    def __init__(self, ctx: WorkflowSystems, queue: JobQueue) -> None:
        self.ctx = ctx
        self.queue = queue
        self.steps: dict[StepName, Step] = {
            StepName.FINAL_BILL: FinalBillStep(ctx),
            StepName.PROFILE: ProfileStep(ctx),
            StepName.NETWORK: NetworkStep(ctx),
            StepName.REFUND: RefundStep(ctx),
            StepName.NOTICE: NoticeStep(ctx),
        }

    def handle(self, job: ClaimedJob) -> None:
        started = self._begin(job)
        if started is None:
            return
        name, prepared = started
        crash_point(f"before_call:{name.value}")
        try:
            result = self.steps[name].call(prepared)
        except Exception as error:
            self._note_error(job, name, error)
            raise
        crash_point(f"after_call:{name.value}")
        self._finish(job, name, result)

    def _begin(self, job: ClaimedJob) -> tuple[StepName, Any] | None:
        with transaction(self.ctx.sessions) as session:
            now = self.ctx.clock.now()
            cancellation = session.get(Cancellation, job.payload["cancellation_id"])
            if cancellation is None or cancellation.status in _SETTLED:
                self.queue.finish(session, job)
                return None
            if cancellation.status is CancellationStatus.SCHEDULED:
                move(
                    session,
                    cancellation,
                    CancellationStatus.PROCESSING,
                    actor="system",
                    now=now,
                    note="grace period over",
                )
            step = self._current_step(session, cancellation.id)
            if step is None:
                self._complete(session, cancellation, now)
                self.queue.finish(session, job)
                return None
            step.status = StepStatus.RUNNING
            step.attempts += 1
            step.started_at = step.started_at or now
            run = self._input(session, cancellation, step, now)
            return step.name, self.steps[step.name].prepare(session, run)

    def _finish(self, job: ClaimedJob, name: StepName, result: Any) -> None:
        try:
            self._record(job, name, result)
        except PermanentJobError:
            # The refusal rolled the record back; what the external system said stays on the
            # step for staff (the job then dies and ``on_dead`` fails the cancellation).
            self._keep_answer(job, name, result)
            raise

    def _record(self, job: ClaimedJob, name: StepName, result: Any) -> None:
        with transaction(self.ctx.sessions) as session:
            now = self.ctx.clock.now()
            cancellation = session.get(Cancellation, job.payload["cancellation_id"])
            assert cancellation is not None
            step = self._step(session, cancellation.id, name)
            run = self._input(session, cancellation, step, now)
            outcome = self.steps[name].record(session, run, result)
            step.external_answer = answer_of(result)
            if isinstance(outcome, StepWait):
                self._wait(session, job, step, outcome, now)
                return
            step.outcome = outcome
            step.status = StepStatus.DONE
            step.finished_at = now
            step.last_error = None
            if self._current_step(session, cancellation.id) is None:
                self._complete(session, cancellation, now)
            else:
                enqueue(
                    session,
                    kind=STEP_JOB,
                    payload={"cancellation_id": cancellation.id},
                    now=now,
                    dedupe_key=f"cancellation:{cancellation.id}:after:{name.value}",
                )
            self.queue.finish(session, job)

    def _keep_answer(self, job: ClaimedJob, name: StepName, result: Any) -> None:
        with transaction(self.ctx.sessions) as session:
            step = self._step(session, job.payload["cancellation_id"], name)
            step.external_answer = answer_of(result)

    @staticmethod
    def _input(
        session: Session, cancellation: Cancellation, step: CancellationStep, now: datetime
    ) -> StepInput:
        esim = view_esim(session, cancellation)
        return StepInput(cancellation, esim, step.attempts, now, step.external_answer)

    def _wait(
        self,
        session: Session,
        job: ClaimedJob,
        step: CancellationStep,
        wait: StepWait,
        now: datetime,
    ) -> None:
        """Keep the step open and look again later: base * 2**(runs-1), capped (the job
        settings), so a refund that takes a day is asked about a few hundred times, not more."""
        settings = self.ctx.settings
        delay = min(
            settings.job_backoff_cap_s, settings.job_backoff_base_s * 2.0 ** (step.attempts - 1)
        )
        step.status = StepStatus.PENDING
        step.outcome = wait.outcome
        step.last_error = wait.note
        enqueue(
            session,
            kind=STEP_JOB,
            payload={"cancellation_id": step.cancellation_id},
            now=now,
            run_after=now + timedelta(seconds=delay),
            dedupe_key=f"cancellation:{step.cancellation_id}:{step.name.value}:run:{step.attempts}",
        )
        self.queue.finish(session, job)

    def _complete(self, session: Session, cancellation: Cancellation, now: datetime) -> None:
        move(session, cancellation, CancellationStatus.COMPLETED, actor="system", now=now)
        cancellation.completed_at = now
        esim = view_esim(session, cancellation)
        move_esim(esim, EsimStatus.CANCELLED)
        esim.cancelled_at = now
        audit(session, cancellation, "system", "cancellation.completed", now)

    def _note_error(self, job: ClaimedJob, name: StepName, error: Exception) -> None:
        with transaction(self.ctx.sessions) as session:
            step = self._step(session, job.payload["cancellation_id"], name)
            step.status = StepStatus.PENDING
            step.last_error = f"{type(error).__name__}: {error}"[:2000]

    def on_dead(self, job: ClaimedJob, error: str) -> None:
        """Retries are exhausted or the answer was definite: the cancellation is failed, visibly,
        with its reason, for staff to finish or retry."""
        with transaction(self.ctx.sessions) as session:
            now = self.ctx.clock.now()
            cancellation = session.get(Cancellation, job.payload["cancellation_id"])
            if cancellation is None or cancellation.status is not CancellationStatus.PROCESSING:
                return
            step = self._current_step(session, cancellation.id)
            if step is not None:
                step.status = StepStatus.FAILED
                step.last_error = error[:2000]
            cancellation.failure_reason = error[:2000]
            move(
                session,
                cancellation,
                CancellationStatus.FAILED,
                actor="system",
                now=now,
                note=error[:300],
            )
            audit(
                session,
                cancellation,
                "system",
                "cancellation.failed",
                now,
                data={"error": error[:500]},
            )

    @staticmethod
    def _current_step(session: Session, cancellation_id: int) -> CancellationStep | None:
        return session.scalar(
            select(CancellationStep)
            .where(
                CancellationStep.cancellation_id == cancellation_id,
                CancellationStep.status != StepStatus.DONE,
            )
            .order_by(CancellationStep.position)
            .limit(1)
        )

    @staticmethod
    def _step(session: Session, cancellation_id: int, name: StepName) -> CancellationStep:
        step = session.scalar(
            select(CancellationStep).where(
                CancellationStep.cancellation_id == cancellation_id, CancellationStep.name == name
            )
        )
        assert step is not None
        return step
