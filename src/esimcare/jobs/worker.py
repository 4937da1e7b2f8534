"""The worker loop: claim a job, run its handler under a heartbeat, then finish, retry or bury.

Handlers are expected to call ``queue.finish(session, job)`` inside the transaction that makes
their state change, so the change and the job's completion commit together; a handler that
returns without doing so gets its job finished by the worker.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import structlog

from esimcare.integrations.errors import PermanentIntegrationError
from esimcare.jobs.errors import LeaseLostError, PermanentJobError
from esimcare.jobs.queue import ClaimedJob, JobQueue

JobHandler = Callable[[ClaimedJob], None]
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

    def backoff_s(self, attempts: int) -> float:
        """Delay before the next try: base * 2**(attempts-1), capped, plus a little jitter.

        The jitter spreads out jobs that failed together (one outage) so they do not all
        come back in the same second.
        """
        delay = self.backoff_base_s * 2.0 ** max(attempts - 1, 0)
        jitter = _jitter_source.uniform(0.0, self.jitter_ratio) if self.jitter_ratio else 0.0
        return min(self.backoff_cap_s, delay * (1.0 + jitter))

    def run_once(self) -> bool:
        """Claim and run one job; False when nothing was due."""
        job = self.queue.claim(self.handlers.keys())
        if job is None:
            return False
        self._run(job)
        return True

    def run_until_idle(self, max_jobs: int = 1000) -> int:
        """Run jobs until none is due (or ``max_jobs`` ran); returns how many ran."""
        ran = 0
        while ran < max_jobs and self.run_once():
            ran += 1
        return ran

    def run_forever(self, stop: threading.Event) -> None:
        """Poll for work until ``stop`` is set, sleeping ``poll_s`` whenever the queue is idle."""
        while not stop.is_set():
            try:
                busy = self.run_once()
            # Process boundary: a database outage while claiming must not end the worker;
            # it waits and tries again. KeyboardInterrupt/SystemExit still propagate.
            except Exception:
                log.exception("worker.claim_failed", worker_id=self.queue.worker_id)
                busy = False
            if not busy:
                stop.wait(self.poll_s)

    def _run(self, job: ClaimedJob) -> None:
        bound = log.bind(job_id=job.id, kind=job.kind, attempt=job.attempts)
        if job.attempts > self.max_attempts:
            # Only reachable through lease takeovers: the job keeps killing its worker.
            self._kill(job, "lease expired on every attempt (worker crashed or hung)")
            return
        bound.info("job.started")
        try:
            with self._heartbeat(job):
                self.handlers[job.kind](job)
        except LeaseLostError:
            bound.warning("job.lease_lost")
        except _PERMANENT as exc:
            self._kill(job, describe(exc))
        # Process boundary: any failure of a handler, including a bug, becomes a retry and
        # then a burial; it must never take the worker (and every other job) down with it.
        except Exception as exc:  # noqa: BLE001 - see the comment above
            self._fail(job, describe(exc))
        else:
            if self.queue.finish_alone(job):
                bound.info("job.finished_by_worker")
            else:
                bound.info("job.done")

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
    def _heartbeat(self, job: ClaimedJob) -> Iterator[None]:
        if not self.heartbeat:
            yield
            return
        stop = threading.Event()
        beat = threading.Thread(
            target=self._beat, args=(job, stop), name=f"heartbeat-{job.id}", daemon=True
        )
        beat.start()
        try:
            yield
        finally:
            stop.set()
            beat.join()

    def _beat(self, job: ClaimedJob, stop: threading.Event) -> None:
        interval = self.queue.lease_s / 3
        while not stop.wait(interval):
            try:
                still_ours = self.queue.extend_lease(job)
            # Thread boundary: an exception here would die silently with the thread; log it
            # and keep beating, since the lease has slack for a missed beat or two.
            except Exception:
                log.exception("job.heartbeat_failed", job_id=job.id, kind=job.kind)
                continue
            if not still_ours:
                # The handler cannot be interrupted safely; its finish() will raise
                # LeaseLostError and roll its work back.
                log.warning("job.lease_lost", job_id=job.id, kind=job.kind)
                return
