"""The job kinds this package adds to the worker, assembled once for ``runtime.build_worker``."""

from __future__ import annotations

import httpx

from esimcare.bulk.tasks import BULK_TICK_JOB, run_bulk_tick
from esimcare.cancellations.systems import ServiceSystems
from esimcare.cancellations.workflow import CancellationWorkflow
from esimcare.integrations.http import make_http_client
from esimcare.jobs.errors import LeaseLostError, PermanentJobError
from esimcare.jobs.queue import ClaimedJob, JobQueue
from esimcare.jobs.worker import DeadHandler, JobHandler, describe
from esimcare.operations.failed_work import STEP_ONCE_JOB
from esimcare.webhooks.delivery import deliver_webhook, on_dead_webhook
from esimcare.webhooks.events import WEBHOOK_JOB


def operations_handlers(
    ctx: ServiceSystems, queue: JobQueue, workflow: CancellationWorkflow
) -> tuple[dict[str, JobHandler], dict[str, DeadHandler]]:
    clients: list[httpx.Client] = []

    def client() -> httpx.Client:
        # Made on the first delivery: most workers of most deployments never send a webhook.
        if not clients:
            clients.append(make_http_client())
        return clients[0]

    def step_once(job: ClaimedJob) -> None:
        # A staff "retry this step": one try; a failure goes straight back to staff.
        try:
            workflow.handle(job)
        except (LeaseLostError, PermanentJobError):
            raise
        except Exception as error:
            raise PermanentJobError(describe(error)) from error

    handlers: dict[str, JobHandler] = {
        STEP_ONCE_JOB: step_once,
        WEBHOOK_JOB: lambda job: deliver_webhook(ctx, queue, client(), job),
        BULK_TICK_JOB: lambda job: run_bulk_tick(ctx, queue, job),
    }
    on_dead: dict[str, DeadHandler] = {
        STEP_ONCE_JOB: workflow.on_dead,
        WEBHOOK_JOB: lambda job, error: on_dead_webhook(ctx, job, error),
    }
    return handlers, on_dead
