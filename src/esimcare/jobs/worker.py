"""The worker loop: claim a batch of jobs, run each handler under a heartbeat, then finish,
retry or bury each.

Handlers are expected to call ``queue.finish(session, job)`` inside the transaction that makes
their state change, so the change and the job's completion commit together; a handler that
returns without doing so gets its job finished by the worker. A handler may also commit a
follow-up job already claimed by this worker (``queue.enqueue_claimed``, or ``queue.hand_on``
in place of its own finish): the worker runs it next, like any claimed job, with its own
retries.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext

import structlog

from esimcare.db import transaction
from esimcare.integrations.errors import PermanentIntegrationError
from esimcare.jobs.errors import LeaseLostError, PermanentJobError
from esimcare.jobs.queue import ClaimedJob, JobQueue
from esimcare.jobs.wakeup import PollingWakeup, Wakeup

JobHandler = Callable[[ClaimedJob], None]
# Runs several claimed jobs of one kind together; returns the failures by job id (the jobs
# it neither finished nor failed, the worker finishes).
BatchHandler = Callable[[list[ClaimedJob]], Mapping[int, Exception]]
DeadHandler = Callable[[ClaimedJob, str], None]

log = structlog.stdlib.get_logger(__name__)

_PERMANENT = (PermanentJobError, PermanentIntegrationError)
_jitter_source = secrets.SystemRandom()


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class Worker:
    def __init__(
        self,
        queue: JobQueue,
        handlers: Mapping[str, JobHandler],
        *,
        max_attempts: int,
        backoff_base_s: float,
        on_dead: Mapping[str, DeadHandler] | None = None,
        heartbeat: bool = True,
        backoff_cap_s: float = 300.0,
        jitter_ratio: float = 0.1,
        poll_s: float = 1.0,
        batch_size: int = 1,
        wakeup: Wakeup | None = None,
        batch_handlers: Mapping[str, BatchHandler] | None = None,
        together_limit: int = 32,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.queue = queue
        self.handlers = dict(handlers)
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.jitter_ratio = jitter_ratio
        self.on_dead = dict(on_dead or {})
        self.heartbeat = heartbeat
        self.poll_s = poll_s
        # Jobs claimed per statement. Small, so a busy worker does not sit on due jobs
        # another worker could run; their leases are kept alive by the heartbeat meanwhile.
        self.batch_size = batch_size
        self.wakeup = wakeup or PollingWakeup()
        # Kinds whose jobs from one claim run together (notice deliveries: one read and one
        # write transaction for all of them).
        self.batch_handlers = dict(batch_handlers or {})
        # Those kinds are claimed beside the batch, up to this many: each job costs a batch
        # handler little, each run of it a claim and its transactions. Their own limit, so
        # they never crowd out the jobs that run one by one.
        self.together_limit = together_limit
        self._left_to_finish: list[ClaimedJob] = []

    def backoff_s(self, attempts: int) -> float:
        """Delay before the next try: base * 2**(attempts-1), capped, plus a little jitter.

        The jitter spreads out jobs that failed together (one outage) so they do not all
        come back in the same second.
        """
        delay = self.backoff_base_s * 2.0 ** max(attempts - 1, 0)
        jitter = _jitter_source.uniform(0.0, self.jitter_ratio) if self.jitter_ratio else 0.0
        return min(self.backoff_cap_s, delay * (1.0 + jitter))

    def run_once(self, stop: threading.Event | None = None) -> bool:
        """Claim a batch and run it (and any follow-ups); False when nothing was due.

        When ``stop`` is set meanwhile, the jobs not yet started are handed back unrun.
        """
        return self._run_batch(stop) > 0

    def _run_batch(self, stop: threading.Event | None = None) -> int:
        kinds = self.handlers.keys() | self.batch_handlers.keys()
        claimed = self.queue.claim_batch(kinds, limit=self.batch_size,
                                         together=self.batch_handlers.keys(),
                                         together_limit=self.together_limit)  # fmt: skip
        waiting = deque(claimed)
        # By claim, not id: a job handed on (``queue.hand_on``) keeps its row and id.
        seen = {job.claim for job in waiting}
        ran = 0
        self._left_to_finish = []
        with self._heartbeat() if waiting else nullcontext():
            while waiting:
                job = waiting.popleft()
                if stop is not None and stop.is_set():
                    self.queue.release(job)
                    continue
                if job.kind in self.batch_handlers:
                    together = [job] + [j for j in waiting if j.kind == job.kind]
                    waiting = deque(j for j in waiting if j.kind != job.kind)
                    self._run_together(job.kind, together)
                    ran += len(together)
                    continue
                self._run(job)
                ran += 1
                # Follow-ups the handler committed, claimed for us: next in line.
                follow_ups = [j for j in self.queue.held if j.claim not in seen]
                seen.update(j.claim for j in follow_ups)
                waiting.extendleft(follow_ups)
            self._finish_left()
        return ran

    def _finish_left(self) -> None:
        """Jobs whose handlers returned without finishing them (nothing of theirs to commit
        with it): done in one commit for the batch. A crash before it only repeats them, which
        every handler must allow anyway (at-least-once)."""
        jobs, self._left_to_finish = self._left_to_finish, []
        if not jobs:
            return
        with transaction(self.queue.sessions) as session:
            finished = self.queue.finish_those_mine(session, jobs)
        log.info("job.finished_by_worker", job_ids=[job.id for job in finished])

    def run_until_idle(self, max_jobs: int = 1000) -> int:
        """Run jobs until none is due (or at least ``max_jobs`` ran); returns how many ran."""
        ran = 0
        while ran < max_jobs:
            batch = self._run_batch()
            if not batch:
                break
            ran += batch
        return ran

    def run_forever(self, stop: threading.Event) -> None:
        """Run jobs until ``stop`` is set; when the queue is idle, wait for a wake-up (NOTIFY
        on PostgreSQL) or ``poll_s``, whichever comes first."""
        with self.wakeup.listening():
            while not stop.is_set():
                try:
                    busy = self.run_once(stop)
                # Process boundary: a database outage while claiming must not end the worker;
                # it waits and tries again. KeyboardInterrupt/SystemExit still propagate.
                except Exception:
                    log.exception("worker.claim_failed", worker_id=self.queue.worker_id)
                    busy = False
                if not busy:
                    self.wakeup.wait(stop, self.poll_s)

    def _run(self, job: ClaimedJob) -> None:
        bound = log.bind(job_id=job.id, kind=job.kind, attempt=job.attempts)
        if job.attempts > self.max_attempts:
            # Only reachable through lease takeovers: the job keeps killing its worker.
            self._kill(job, "lease expired on every attempt (worker crashed or hung)")
            return
        bound.info("job.started")
        try:
            self.handlers[job.kind](job)
        except LeaseLostError:
            self.queue.let_go(job)
            bound.warning("job.lease_lost")
        except _PERMANENT as exc:
            self._kill(job, describe(exc))
        # Process boundary: any failure of a handler, including a bug, becomes a retry and
        # then a burial; it must never take the worker (and every other job) down with it.
        except Exception as exc:  # noqa: BLE001 - see the comment above
            self._fail(job, describe(exc))
        else:
            # Still held: the handler did not finish it in its own transaction (which would
            # have let go of it on commit), so the worker does, with the batch's others.
            if self.queue.is_held(job):
                self._left_to_finish.append(job)
            bound.info("job.done")

    def _run_together(self, kind: str, jobs: list[ClaimedJob]) -> None:
        live = [job for job in jobs if job.attempts <= self.max_attempts]
        for job in jobs:
            if job not in live:
                self._kill(job, "lease expired on every attempt (worker crashed or hung)")
        if not live:
            return
        try:
            failures = self.batch_handlers[kind](live)
        # Process boundary, as in _run: the whole batch failed (say, the database was down).
        except Exception as exc:  # noqa: BLE001 - every job of the batch is retried
            failures = {job.id: exc for job in live}
        for job in live:
            error = failures.get(job.id)
            if not self.queue.is_held(job):
                continue  # finished by the handler, or no longer ours
            if error is None:
                self._left_to_finish.append(job)
            elif isinstance(error, _PERMANENT):
                self._kill(job, describe(error))
            else:
                self._fail(job, describe(error))

    def _fail(self, job: ClaimedJob, error: str) -> None:
        bound = log.bind(job_id=job.id, kind=job.kind, attempt=job.attempts, error=error)
        if job.attempts >= self.max_attempts:
            self._kill(job, error)
            return
        delay = self.backoff_s(job.attempts)
        if self.queue.retry_later(job, error, delay):
            bound.warning("job.retry_scheduled", delay_s=round(delay, 3))
        else:
            bound.warning("job.lease_lost")

    def _kill(self, job: ClaimedJob, error: str) -> None:
        bound = log.bind(job_id=job.id, kind=job.kind, attempt=job.attempts, error=error)
        if not self.queue.bury(job, error):
            bound.warning("job.lease_lost")
            return
        bound.error("job.dead")
        on_dead = self.on_dead.get(job.kind)
        if on_dead is None:
            return
        try:
            on_dead(job, error)
        # Process boundary: the job is already dead and recorded; a failing follow-up
        # (say, a notice) is logged for a human instead of stopping the worker.
        except Exception:  # noqa: BLE001 - logged with its traceback
            bound.exception("job.on_dead_failed")

    @contextmanager
    def _heartbeat(self) -> Iterator[None]:
        """One thread per batch that keeps the lease of every job this worker holds alive."""
        if not self.heartbeat:
            yield
            return
        stop = threading.Event()
        beat = threading.Thread(
            target=self._beat, args=(stop,), name=f"heartbeat-{self.queue.worker_id}", daemon=True
        )
        beat.start()
        try:
            yield
        finally:
            stop.set()
            beat.join()

    def _beat(self, stop: threading.Event) -> None:
        interval = self.queue.lease_s / 3
        while not stop.wait(interval):
            for job in self.queue.held:
                self._extend(job)

    def _extend(self, job: ClaimedJob) -> None:
        try:
            still_ours = self.queue.extend_lease(job)
        # Thread boundary: an exception here would die silently with the thread; log it
        # and keep beating, since the lease has slack for a missed beat or two.
        except Exception:
            log.exception("job.heartbeat_failed", job_id=job.id, kind=job.kind)
            return
        if not still_ours:
            # The handler cannot be interrupted safely; its finish() will raise
            # LeaseLostError and roll its work back.
            self.queue.let_go(job)
            log.warning("job.lease_lost", job_id=job.id, kind=job.kind)
