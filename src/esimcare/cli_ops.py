"""Operations commands: ``jobs``, ``cancellations``, ``audit verify``, ``prune``, ``bulk cancel``,
``webhooks``. Every command names its operator (``--operator``) and acts as ``cli:<user>``;
every change is audited by the service it calls. Output goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from esimcare.config import Settings
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.errors import DomainError
from esimcare.jobs.models import JobStatus

Subparsers = argparse._SubParsersAction  # argparse exposes no public name for it
AddCommon = Callable[[argparse.ArgumentParser], None]
MakeSettings = Callable[[argparse.Namespace], Settings]


def add_ops_commands(
    commands: Subparsers[argparse.ArgumentParser], common: AddCommon, settings: MakeSettings
) -> None:
    """Register the operations commands; ``common`` adds --data-dir/--database-url."""

    def leaf(
        parent: Subparsers[argparse.ArgumentParser], name: str, text: str
    ) -> argparse.ArgumentParser:
        parser = parent.add_parser(name, help=text)
        common(parser)
        parser.add_argument("--operator", required=True, help="operator id (tenant)")
        parser.set_defaults(make_settings=settings)
        return parser

    _add_jobs(commands, leaf)
    _add_cancellations(commands, leaf)
    _add_audit(commands, leaf)
    prune = leaf(commands, "prune", "delete finished jobs, ES2+ call logs and sent notices")
    prune.add_argument("--older-than-days", type=int, default=None, help="default: retention")
    prune.add_argument("--batch", type=int, default=500)
    prune.set_defaults(handler=_prune)
    _add_bulk(commands, leaf)
    _add_webhooks(commands, leaf)


Leaf = Callable[["Subparsers[argparse.ArgumentParser]", str, str], argparse.ArgumentParser]


def _group(
    commands: Subparsers[argparse.ArgumentParser], name: str, text: str
) -> Subparsers[argparse.ArgumentParser]:
    return commands.add_parser(name, help=text).add_subparsers(metavar="ACTION")


def _add_jobs(commands: Subparsers[argparse.ArgumentParser], leaf: Leaf) -> None:
    jobs = _group(commands, "jobs", "background jobs of an operator")
    listing = leaf(jobs, "list", "recent jobs")
    listing.add_argument("--status", choices=[s.value for s in JobStatus], default=None)
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(handler=_jobs_list)
    leaf(jobs, "dead", "dead jobs with their reason").set_defaults(handler=_jobs_dead)
    retry = leaf(jobs, "retry", "requeue a dead job with fresh attempts")
    retry.add_argument("job_id", type=int)
    retry.add_argument("--why", required=True)
    retry.set_defaults(handler=_jobs_retry)


def _add_cancellations(commands: Subparsers[argparse.ArgumentParser], leaf: Leaf) -> None:
    group = _group(commands, "cancellations", "failed cancellations")
    leaf(group, "failed", "failed cancellations with their reason").set_defaults(
        handler=_cancellations_failed
    )
    retry = leaf(group, "retry", "retry a failed cancellation")
    retry.add_argument("reference")
    retry.add_argument("--why", required=True)
    retry.add_argument(
        "--from-failed-step",
        action="store_true",
        help="run on from the failed step with full retries (default: one try of the step)",
    )
    retry.set_defaults(handler=_cancellations_retry)
    resolve = leaf(group, "resolve", "mark the failed step done by hand and continue")
    resolve.add_argument("reference")
    resolve.add_argument("--note", required=True, help="what was done by hand, by whom")
    resolve.set_defaults(handler=_cancellations_resolve)


def _add_audit(commands: Subparsers[argparse.ArgumentParser], leaf: Leaf) -> None:
    group = _group(commands, "audit", "the audit trail")
    verify = leaf(group, "verify", "recompute the operator's hash chain (exit 1 when broken)")
    verify.set_defaults(handler=_audit_verify)


def _add_bulk(commands: Subparsers[argparse.ArgumentParser], leaf: Leaf) -> None:
    group = _group(commands, "bulk", "bulk work")
    cancel = leaf(group, "cancel", "cancel the eSIMs listed in a CSV (ICCIDs or numbers)")
    cancel.add_argument("file", type=Path)
    cancel.add_argument("--dry-run", action="store_true", help="show quotes, change nothing")
    cancel.add_argument("--reason", default="other", help="cancellation reason code")
    cancel.add_argument("--per-second", type=int, default=5)
    cancel.add_argument(
        "--no-wait", action="store_true", help="only queue the job (a worker runs it)"
    )
    cancel.add_argument("--result", type=Path, default=None, help="write the result CSV here")
    cancel.set_defaults(handler=_bulk_cancel)


def _add_webhooks(commands: Subparsers[argparse.ArgumentParser], leaf: Leaf) -> None:
    group = _group(commands, "webhooks", "webhook deliveries")
    leaf(group, "list", "recent deliveries").set_defaults(handler=_webhooks_list)
    again = leaf(group, "send-again", "deliver an event again")
    again.add_argument("delivery_id", type=int)
    again.add_argument("--why", required=True)
    again.set_defaults(handler=_webhooks_send_again)


def cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


@contextmanager
def _context(args: argparse.Namespace) -> Iterator[Context]:
    from esimcare.runtime import build_context

    ctx = build_context(args.make_settings(args))
    try:
        ctx.policy(args.operator)  # an unknown operator stops here
        yield ctx
    finally:
        ctx.close()


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A refused action is a message and exit code 1, never a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except DomainError as error:
            sys.stderr.write(f"refused: {error.detail}\n")
            return 1

    return run


@_guarded
def _jobs_list(args: argparse.Namespace) -> int:
    from esimcare.operations.failed_work import list_jobs

    with _context(args) as ctx, transaction(ctx.readers) as session:
        status = JobStatus(args.status) if args.status else None
        for job in list_jobs(session, args.operator, status, args.limit):
            error = (job.last_error or "").splitlines()[0][:80] if job.last_error else ""
            _out(f"{job.id:>8}  {job.kind:24} {job.status.value:8} {job.attempts:>3}  {error}")
    return 0


@_guarded
def _jobs_dead(args: argparse.Namespace) -> int:
    from esimcare.operations.failed_work import list_dead_jobs

    with _context(args) as ctx, transaction(ctx.readers) as session:
        for job in list_dead_jobs(session, args.operator):
            _out(f"{job.id:>8}  {job.kind:24} {job.attempts:>3}  {job.reason[:100]}")
    return 0


@_guarded
def _jobs_retry(args: argparse.Namespace) -> int:
    from esimcare.operations.failed_work import StaffAction, requeue_dead_job

    with _context(args) as ctx, transaction(ctx.sessions) as session:
        action = StaffAction(cli_actor(), args.why, ctx.clock.now())
        job = requeue_dead_job(session, args.operator, args.job_id, action)
        _out(f"job {job.id} queued again")
    return 0


@_guarded
def _cancellations_failed(args: argparse.Namespace) -> int:
    from esimcare.operations.failed_work import list_failed_cancellations

    with _context(args) as ctx, transaction(ctx.readers) as session:
        for row in list_failed_cancellations(session, args.operator):
            step = row.failed_step.value if row.failed_step else "-"
            _out(f"{row.reference}  {step:10} {row.step_attempts:>3}  {row.reason[:100]}")
    return 0


@_guarded
def _cancellations_retry(args: argparse.Namespace) -> int:
    from esimcare.operations import failed_work

    retry = failed_work.retry_from_failed_step if args.from_failed_step else failed_work.retry_step
    with _context(args) as ctx, transaction(ctx.sessions) as session:
        action = failed_work.StaffAction(cli_actor(), args.why, ctx.clock.now())
        cancellation = retry(session, args.operator, args.reference, action)
        _out(f"{cancellation.reference} is {cancellation.status.value} again")
    return 0


@_guarded
def _cancellations_resolve(args: argparse.Namespace) -> int:
    from esimcare.operations.failed_work import StaffAction, resolve_by_hand

    with _context(args) as ctx, transaction(ctx.sessions) as session:
        action = StaffAction(cli_actor(), args.note, ctx.clock.now())
        cancellation = resolve_by_hand(session, args.operator, args.reference, action)
        _out(f"{cancellation.reference}: step resolved by hand, the workflow continues")
    return 0


@_guarded
def _audit_verify(args: argparse.Namespace) -> int:
    from esimcare.operations.audit_check import check_chain, record_check

    with _context(args) as ctx:
        with transaction(ctx.readers) as session:
            verdict = check_chain(session, args.operator)
        with transaction(ctx.sessions) as session:
            record_check(session, verdict, actor=cli_actor(), now=ctx.clock.now())
    _out(verdict.describe())
    return 0 if verdict.intact else 1


@_guarded
def _prune(args: argparse.Namespace) -> int:
    from esimcare.operations.prune import PruneRequest, prune

    with _context(args) as ctx:
        days = ctx.settings.retention_days if args.older_than_days is None else args.older_than_days
        now = ctx.clock.now()
        request = PruneRequest(
            args.operator, now - timedelta(days=days), cli_actor(), now, args.batch
        )
        report = prune(ctx.sessions, request)
    _out(
        f"deleted {report.jobs} jobs, {report.es2plus_calls} ES2+ calls, "
        f"{report.notices} notices older than {days} days"
    )
    return 0


@_guarded
def _bulk_cancel(args: argparse.Namespace) -> int:
    from esimcare.bulk.service import BulkRequest, confirm, dry_run, read_lines

    values = read_lines(args.file.read_text(encoding="utf-8-sig"))
    with _context(args) as ctx:
        if args.dry_run:
            # Never committed: closing the session rolls back, so a dry run changes nothing.
            with ctx.sessions() as session:
                verdicts = dry_run(session, ctx, args.operator, values, args.reason)
            for verdict in verdicts:
                _out(_verdict_line(verdict))
            cancellable = sum(1 for v in verdicts if v.cancellable)
            _out(f"{cancellable} of {len(verdicts)} lines can be cancelled")
            return 0
        request = BulkRequest(args.operator, args.reason, cli_actor(), args.per_second)
        with transaction(ctx.sessions) as session:
            bulk_id = confirm(session, ctx, request, values).id
        _out(f"bulk job {bulk_id} queued with {len(values)} lines")
        if not args.no_wait:
            _run_bulk_here(ctx, args.operator, bulk_id)
            _write_result(ctx, args, bulk_id)
    return 0


def _verdict_line(verdict: object) -> str:
    from esimcare.bulk.service import LineVerdict

    assert isinstance(verdict, LineVerdict)
    if verdict.quote is None:
        return (
            f"{verdict.line_no:>5}  {verdict.value:22} cannot: {verdict.refusal} ({verdict.detail})"
        )
    quote = verdict.quote
    return (
        f"{verdict.line_no:>5}  {verdict.value:22} final bill {quote['final_bill']['amount']} "
        f"refund {quote['refund']['amount']} {quote['refund']['currency']}"
    )


def _run_bulk_here(ctx: Context, operator_id: str, bulk_id: int) -> None:
    """Work the throttled job in this process, drawing its progress on stderr."""
    from esimcare.bulk.service import BULK_TICK_JOB, progress
    from esimcare.kit.progress import ProgressBar
    from esimcare.runtime import build_worker

    worker = build_worker(ctx)
    worker.handlers = {kind: h for kind, h in worker.handlers.items() if kind == BULK_TICK_JOB}
    with transaction(ctx.readers) as session:
        total = progress(session, operator_id, bulk_id).total
    bar = ProgressBar(total, f"bulk {bulk_id}")
    while True:
        worker.run_until_idle()
        with transaction(ctx.readers) as session:
            state = progress(session, operator_id, bulk_id)
        bar.advance(state.processed - bar.done)
        if state.finished:
            break
        time.sleep(0.2)
    bar.close()
    _out(f"started {state.done}, failed {state.failed}, of {state.total}")


def _write_result(ctx: Context, args: argparse.Namespace, bulk_id: int) -> None:
    from esimcare.bulk.service import result_csv

    with transaction(ctx.readers) as session:
        text = result_csv(session, args.operator, bulk_id)
    if args.result:
        args.result.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@_guarded
def _webhooks_list(args: argparse.Namespace) -> int:
    from esimcare.webhooks.delivery import list_deliveries

    with _context(args) as ctx, transaction(ctx.readers) as session:
        for row in list_deliveries(session, args.operator):
            code = row.last_status_code or "-"
            _out(f"{row.id:>8}  {row.event_type:24} {row.status.value:9} {row.attempts:>3} {code}")
    return 0


@_guarded
def _webhooks_send_again(args: argparse.Namespace) -> int:
    from esimcare.webhooks.delivery import send_again

    with _context(args) as ctx, transaction(ctx.sessions) as session:
        delivery = send_again(
            session,
            args.operator,
            args.delivery_id,
            actor=cli_actor(),
            why=args.why,
            now=ctx.clock.now(),
        )
        _out(f"event {delivery.event_id} queued again")
    return 0
