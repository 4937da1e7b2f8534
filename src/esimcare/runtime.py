"""Assembling a process: context, database schema, operators, worker. Used by every door."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from esimcare.cancellations.expiry import EXPIRE_DUE_JOB, expire_due
from esimcare.cancellations.service import EXPIRE_JOB, STEP_JOB, expire
from esimcare.cancellations.workflow import CancellationWorkflow
from esimcare.config import Settings
from esimcare.context import Context
from esimcare.customers.passwords import FAST_HASHING, PasswordWork
from esimcare.db import make_engine, read_only, session_factory, transaction
from esimcare.esims.order_reconcile import RECONCILE_JOB, reconcile_order
from esimcare.integrations.factory import build_gateways, build_smdp_gateways, open_stand_ins
from esimcare.jobs.pruning import PRUNE_JOB, run_pruning, schedule_pruning
from esimcare.jobs.queue import ClaimedJob, JobQueue
from esimcare.jobs.wakeup import wakeup_for
from esimcare.jobs.worker import Worker
from esimcare.kit.clock import Clock, SystemClock
from esimcare.notices.service import DELIVER_JOB
from esimcare.notices.tasks import deliver_notice, deliver_notices
from esimcare.operations.handlers import operations_handlers
from esimcare.operators.models import Operator
from esimcare.operators.policy import Policy, load_policies
from esimcare.webhooks.delivery import check_targets
from esimcare.webhooks.events import install_outbox


def build_context(settings: Settings, clock: Clock | None = None) -> Context:
    if FAST_HASHING and not settings.development:
        raise ValueError("ESIMCARE_FAST_PASSWORD_HASHING is for tests; never in production")
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url)
    policies = load_policies(settings.operators_file)
    smdp_tables = {operator_id: policy.smdp for operator_id, policy in policies.items()}
    stand_ins = open_stand_ins(settings, smdp_tables, clock)
    gateways = build_gateways(settings, stand_ins, clock)
    sessions = session_factory(engine)
    smdp = build_smdp_gateways(
        smdp_tables,
        development=settings.development,
        base_dir=settings.operators_file.parent,
        sessions=sessions,
        stand_ins=stand_ins,
        clock=clock,
    )
    ctx = Context(
        settings=settings,
        clock=clock,
        engine=engine,
        sessions=sessions,
        readers=session_factory(read_only(engine)),
        policies=policies,
        smdp=smdp,
        network=gateways.network,
        payouts=gateways.payouts,
        sms=gateways.sms,
        email=gateways.email,
        password_work=PasswordWork(
            settings.limits.password_hash_concurrency, settings.limits.password_hash_wait_s
        ),
        close_gateways=gateways.close,
        stand_ins=stand_ins,
    )
    check_targets(ctx)
    install_outbox(sessions, ctx.has_webhooks, clock)
    return ctx


def sync_operators(session: Session, policies: dict[str, Policy], now: datetime) -> None:
    """Mirror the operators file into the database, so rows can reference their tenant."""
    for operator_id, policy in policies.items():
        row = session.get(Operator, operator_id)
        document = {"name": policy.name, "currency": policy.currency}
        if row is None:
            session.add(Operator(id=operator_id, name=policy.name, policy=document, updated_at=now))
        else:
            row.name, row.policy, row.updated_at = policy.name, document, now


def prepare_database(ctx: Context) -> None:
    from esimcare.migrate import upgrade

    upgrade(ctx.settings.database_url)
    with transaction(ctx.sessions) as session:
        sync_operators(session, ctx.policies, ctx.clock.now())


def schedule_maintenance(ctx: Context) -> None:
    """Queue the periodic jobs (pruning) if they are not queued yet; every worker process
    asks at start, the dedupe keys keep one of each."""
    with transaction(ctx.sessions) as session:
        schedule_pruning(session, ctx.clock.now())


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def build_worker(ctx: Context, name: str | None = None) -> Worker:
    queue = JobQueue(
        ctx.sessions, ctx.clock, worker_id=name or worker_id(), lease_s=ctx.settings.job_lease_s
    )
    workflow = CancellationWorkflow(ctx, queue)
    more_handlers, more_on_dead = operations_handlers(ctx, queue, workflow)
    retention = timedelta(days=ctx.settings.retention_days)

    def expire_job(job: ClaimedJob) -> None:
        with transaction(ctx.sessions) as session:
            expire(session, ctx, job.payload["cancellation_id"])
            queue.finish(session, job)

    return Worker(
        queue,
        {
            STEP_JOB: workflow.handle,
            EXPIRE_JOB: expire_job,
            EXPIRE_DUE_JOB: lambda job: expire_due(ctx.sessions, ctx, queue, job),
            DELIVER_JOB: lambda job: deliver_notice(ctx, queue, job),
            RECONCILE_JOB: lambda job: reconcile_order(ctx, queue, job),
            **more_handlers,
            PRUNE_JOB: lambda job: run_pruning(ctx.sessions, queue, job, retention),
        },
        max_attempts=ctx.settings.job_max_attempts,
        backoff_base_s=ctx.settings.job_backoff_base_s,
        backoff_cap_s=ctx.settings.job_backoff_cap_s,
        on_dead={STEP_JOB: workflow.on_dead, **more_on_dead},
        poll_s=ctx.settings.job_poll_s,
        batch_size=ctx.settings.job_claim_batch,
        wakeup=wakeup_for(ctx.settings.database_url),
        batch_handlers={DELIVER_JOB: lambda jobs: deliver_notices(ctx, queue, jobs)},
    )
