"""Runs a cancellation one external call per job: prepare and commit, call out, record and
commit.

Local steps (the final bill, the closing notice) call nothing outside, so they run inside the
transaction that reaches them: the first job's, or the one recording the step before. That
transaction also begins (and prepares) the next step that does call out, and hands it on to a
follow-up job already claimed by this worker (the finished job's own row, ``queue.hand_on``),
which runs it at once. So a cancellation costs one transaction per external call plus one to
start, and a crash anywhere leaves either a step to be redone (idempotently) or the next one
queued under a lease another worker takes over.

Only the first transaction reads the cancellation, its eSIM, plan and steps: the ones after
carry on with the rows as the one before left them. While this worker holds the job nothing
else may change them (staff act on failed cancellations with no job running; a worker that
took the job over has fenced this one off, and its ``finish`` rolls the record back), except
the eSIM's profile state, which SM-DP+ notifications change at any time: where a step decides
on it, it reads it afresh.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from esimcare.cancellations.models import Cancellation, CancellationStep
from esimcare.cancellations.money_steps import RefundStep
from esimcare.cancellations.notice_step import NoticeStep
from esimcare.cancellations.service import STEP_JOB, audit
from esimcare.cancellations.states import CancellationStatus, StepName, StepStatus
from esimcare.cancellations.steps import (
    FinalBillStep,
    LocalStep,
    NetworkStep,
    ProfileStep,
    Step,
    StepInput,
    StepWait,
    answer_of,
    log_end_of,
)
from esimcare.cancellations.systems import WorkflowSystems
from esimcare.cancellations.transitions import (
    Move,
    advance,
    move,
    set_esim_status_reading_profile,
)
from esimcare.cancellations.workflow_load import Loaded, load
from esimcare.db import transaction
from esimcare.esims.states import EsimStatus
from esimcare.jobs.errors import PermanentJobError
from esimcare.jobs.queue import ClaimedJob, JobQueue, enqueue_new, enqueue_rows_new
from esimcare.kit.faults import crash_point

log = structlog.stdlib.get_logger(__name__)

_SETTLED = frozenset(
    {
        CancellationStatus.UNDONE,
        CancellationStatus.EXPIRED,
        CancellationStatus.COMPLETED,
        CancellationStatus.FAILED,
    }
)


@dataclass(frozen=True)
class _Begun:
    """A step that calls out, begun and prepared in a committed transaction, with the rows as
    that transaction left them."""

    name: StepName
    prepared: Any
    loaded: Loaded


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
        # The step the last record began for the follow-up job it claimed: that job runs
        # next in this worker and need not begin it again. Lost in a crash, harmlessly: the
        # job, taken over, begins the step itself.
        self._handed_over: tuple[ClaimedJob, _Begun] | None = None

    def handle(self, job: ClaimedJob) -> None:
        handed_over, self._handed_over = self._handed_over, None
        if handed_over is not None and handed_over[0] == job:
            begun: _Begun | None = handed_over[1]
        else:
            begun = self._begin(job)
        if begun is None:
            return
        name = begun.name
        crash_point(f"before_call:{name.value}")
        try:
            result = self.steps[name].call(begun.prepared)
        except Exception as error:
            self._note_error(job, begun, error)
            raise
        crash_point(f"after_call:{name.value}")
        self._finish(job, begun, result)

    def _begin(self, job: ClaimedJob) -> _Begun | None:
        with transaction(self.ctx.sessions) as session:
            now = self.ctx.clock.now()
            loaded = load(session, job.payload["cancellation_id"])
            if loaded is None or loaded.cancellation.status in _SETTLED:
                self.queue.finish(session, job)
                return None
            if loaded.cancellation.status is CancellationStatus.SCHEDULED:
                move(
                    session,
                    loaded.cancellation,
                    CancellationStatus.PROCESSING,
                    actor="system",
                    now=now,
                    note="grace period over",
                )
            job_rows: list[dict[str, Any]] = []
            begun = self._advance(session, loaded, loaded.open_steps, now, job_rows)
            loaded.carried.bill_reads = None  # read by this transaction: never used after it
            loaded.write_steps(session)
            self._finish_or_enqueue(session, job, begun, job_rows)
            return begun

    def _advance(
        self,
        session: Session,
        loaded: Loaded,
        open_steps: list[CancellationStep],
        now: datetime,
        job_rows: list[dict[str, Any]],
    ) -> _Begun | None:
        """Run the local steps in this transaction and begin the first that calls out; with
        none left, complete the cancellation.

        When only local steps are left, this transaction completes the cancellation: the eSIM
        is closed first, and its UPDATE returns the profile state as it is now, which the
        closing notice decides on (no read of its own). Nothing outside this transaction sees
        the order of its statements."""
        profile_now = None
        if all(isinstance(self.steps[step.name], LocalStep) for step in open_steps):
            profile_now = set_esim_status_reading_profile(
                session, loaded.esim, EsimStatus.CANCELLED, {"cancelled_at": now}
            )
        for step in open_steps:
            handler = self.steps[step.name]
            if not isinstance(handler, LocalStep):
                self._start(loaded, step, now)
                prepared = handler.prepare(session, self._input(loaded, step, now))
                return _Begun(step.name, prepared, loaded)
            # The same crash points as a step that calls out: dying here rolls the local
            # step back with the whole transaction.
            crash_point(f"before_call:{step.name.value}")
            crash_point(f"after_call:{step.name.value}")
            run = self._input(loaded, step, now, attempt=step.attempts + 1)
            run = replace(run, profile_now=profile_now, job_rows=job_rows)
            outcome = handler.record(session, run, None)
            # Started and done in one transaction: the row changes once.
            self._start(loaded, step, now)
            self._done(loaded, step, outcome, now)
        self._complete(session, loaded, now)
        return None

    @staticmethod
    def _start(loaded: Loaded, step: CancellationStep, now: datetime) -> None:
        loaded.change(step, status=StepStatus.RUNNING, attempts=step.attempts + 1,
                      started_at=step.started_at or now)  # fmt: skip

    @staticmethod
    def _done(
        loaded: Loaded, step: CancellationStep, outcome: str | StepWait, now: datetime
    ) -> None:
        assert isinstance(outcome, str), "local steps never wait"
        loaded.change(step, outcome=outcome, status=StepStatus.DONE, finished_at=now,
                      last_error=None)  # fmt: skip

    def _finish(self, job: ClaimedJob, begun: _Begun, result: Any) -> None:
        try:
            self._record(job, begun, result)
        except PermanentJobError:
            # The refusal rolled the record back; what the external system said stays on the
            # step for staff (the job then dies and ``on_dead`` fails the cancellation).
            self._keep_answer(job, begun.name, result)
            raise
        except Exception:
            # The record rolled back (say, the job was taken over): the call's log row still
            # gets its end.
            self._write_log_end_alone(result)
            raise

    def _record(self, job: ClaimedJob, begun: _Begun, result: Any) -> None:
        name, loaded = begun.name, begun.loaded
        with transaction(self.ctx.sessions) as session:
            loaded.attach(session)
            now = self.ctx.clock.now()
            step = loaded.open_steps[0]
            assert step.name is name, f"{name.value} was begun, {step.name.value} is open"
            run = self._input(loaded, step, now)
            outcome = self.steps[name].record(session, run, result)
            loaded.change(step, external_answer=answer_of(result))
            if isinstance(outcome, StepWait):
                self._wait(session, job, loaded, step, outcome, now)
                return
            self._done(loaded, step, outcome, now)
            job_rows: list[dict[str, Any]] = []
            begun_next = self._advance(session, loaded, loaded.open_steps[1:], now, job_rows)
            loaded.write_steps(session)
            self._finish_or_enqueue(session, job, begun_next, job_rows)
            if begun_next is not None:
                self._hand_over(session, job, loaded.cancellation, name, begun_next)

    def _finish_or_enqueue(
        self,
        session: Session,
        job: ClaimedJob,
        begun: _Begun | None,
        job_rows: list[dict[str, Any]],
    ) -> None:
        """The jobs the local steps queued: inserted with this job's finish, in one statement,
        when nothing is begun; else at once (the job is handed on after)."""
        if begun is None:
            self.queue.finish_enqueuing(session, job, job_rows)
        else:
            enqueue_rows_new(session, job_rows)

    def _hand_over(
        self,
        session: Session,
        job: ClaimedJob,
        cancellation: Cancellation,
        done: StepName,
        begun: _Begun,
    ) -> None:
        """The next step's job, claimed by this worker in this transaction: this job's row,
        finished and turned into it (one job per step that calls out, so each keeps its own
        retries and backoff)."""
        follow_up = self.queue.hand_on(
            session,
            job,
            payload={"cancellation_id": cancellation.id},
            dedupe_key=f"cancellation:{cancellation.id}:after:{done.value}",
        )
        if follow_up is not None:
            self._handed_over = (follow_up, begun)

    def _keep_answer(self, job: ClaimedJob, name: StepName, result: Any) -> None:
        with transaction(self.ctx.sessions) as session:
            step = self._step(session, job.payload["cancellation_id"], name)
            step.external_answer = answer_of(result)
            log_end = log_end_of(result)
            if log_end is not None:
                log_end.write_in(session)

    @staticmethod
    def _write_log_end_alone(result: Any) -> None:
        log_end = log_end_of(result)
        if log_end is None:
            return
        try:
            log_end.write_alone()
        # Best effort: the error that rolled the record back is the one to report (and
        # retry on); a log row left without its end reads as a call never answered.
        except Exception:
            log.exception("cancellation.call_log_end_lost", record_id=log_end.record_id)

    @staticmethod
    def _input(
        loaded: Loaded, step: CancellationStep, now: datetime, attempt: int | None = None
    ) -> StepInput:
        attempt = step.attempts if attempt is None else attempt
        return StepInput(loaded.cancellation, loaded.esim, attempt, now, step.external_answer,
                         loaded.carried)  # fmt: skip

    def _wait(
        self,
        session: Session,
        job: ClaimedJob,
        loaded: Loaded,
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
        loaded.change(step, status=StepStatus.PENDING, outcome=wait.outcome, last_error=wait.note)
        loaded.write_steps(session)
        enqueue_new(
            session,
            kind=STEP_JOB,
            payload={"cancellation_id": step.cancellation_id},
            now=now,
            run_after=now + timedelta(seconds=delay),
            dedupe_key=f"cancellation:{step.cancellation_id}:{step.name.value}:run:{step.attempts}",
        )
        self.queue.finish(session, job)

    def _complete(self, session: Session, loaded: Loaded, now: datetime) -> None:
        """Prebuilt Core statements, not an ORM flush: this runs once per cancellation (the
        eSIM was closed by ``_advance`` before the local steps)."""
        cancellation = loaded.cancellation
        completed = Move(CancellationStatus.COMPLETED, "system")
        watched = self.ctx.policy(cancellation.operator_id).has_webhooks
        advance(session, cancellation, [completed], now=now, watched=watched,
                changes={"completed_at": now})  # fmt: skip
        audit(session, cancellation, "system", "cancellation.completed", now)

    def _note_error(self, job: ClaimedJob, begun: _Begun, error: Exception) -> None:
        with transaction(self.ctx.sessions) as session:
            step = self._step(session, job.payload["cancellation_id"], begun.name)
            step.status = StepStatus.PENDING
            step.last_error = f"{type(error).__name__}: {error}"[:2000]
            handler = self.steps[begun.name]
            if isinstance(handler, RefundStep):  # what it defers to the answer, written now
                handler.record_failed_call(session, begun.prepared, self.ctx.clock.now())

    def on_dead(self, job: ClaimedJob, error: str) -> None:
        """Retries are exhausted or the answer was definite: the cancellation is failed, visibly,
        with its reason, for staff to finish or retry."""
        with transaction(self.ctx.sessions) as session:
            now = self.ctx.clock.now()
            cancellation = session.get(Cancellation, job.payload["cancellation_id"])
            if cancellation is None or cancellation.status is not CancellationStatus.PROCESSING:
                return
            open_steps = self._open_steps(session, cancellation)
            if open_steps:
                step = open_steps[0]
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
    def _open_steps(session: Session, cancellation: Cancellation) -> list[CancellationStep]:
        """The steps not done yet, in order: the first is the current one."""
        return list(
            session.scalars(
                select(CancellationStep)
                .where(
                    CancellationStep.cancellation_id == cancellation.id,
                    CancellationStep.status != StepStatus.DONE,
                )
                .order_by(CancellationStep.position)
            )
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
