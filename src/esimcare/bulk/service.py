"""Bulk cancellation: a dry run per line, then a confirmed job that starts each cancellation.

A line is an ICCID or a phone number of the operator. The dry run gives, per line, the quote
the customer would see (``cancellations/quote.py``, through the customer's own checks) or why
the line cannot be cancelled. Another operator's eSIM reads as "not found", exactly like one
that does not exist. Confirming stores the lines and queues a throttled job (``tasks.py``)
that starts the cancellations through the ordinary workflow, each verified as "bulk by
supervisor <id>".
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from esimcare.audit.service import record
from esimcare.bulk.models import BulkJob, BulkLine, BulkStatus, LineStatus
from esimcare.cancellations.models import Cancellation
from esimcare.cancellations.staff_start import check_and_quote
from esimcare.cancellations.systems import ServiceSystems
from esimcare.customers.models import Customer
from esimcare.errors import (
    DomainError,
    EsimNotCancellableError,
    InvalidInputError,
    NotFoundError,
)
from esimcare.esims.models import Esim
from esimcare.esims.service import EsimView, get_esim
from esimcare.esims.states import EsimStatus
from esimcare.i18n import N_
from esimcare.jobs.queue import enqueue
from esimcare.kit.ids import Iccid, InvalidIdentifierError, Msisdn

BULK_TICK_JOB = "bulk.tick"
MAX_LINES = 10_000
MAX_PER_SECOND = 50
NOT_FOUND = "not-found"


class AlreadyCancelledError(EsimNotCancellableError):
    code = "already-cancelled"
    title = N_("This eSIM is already cancelled")


@dataclass(frozen=True)
class LineVerdict:
    """One line of a dry run: the quote, or the refusal code and its explanation."""

    line_no: int
    value: str
    quote: dict[str, Any] | None
    refusal: str | None = None
    detail: str = ""

    @property
    def cancellable(self) -> bool:
        return self.refusal is None


@dataclass(frozen=True)
class Progress:
    """For a progress bar: ``done + failed`` of ``total`` lines have been worked through."""

    bulk_job_id: int
    total: int
    done: int
    failed: int
    finished: bool

    @property
    def processed(self) -> int:
        return self.done + self.failed


@dataclass(frozen=True)
class BulkRequest:
    operator_id: str
    reason: str
    supervisor: str  # the actor, "staff:<id>" or "cli:<user>"
    per_second: int = 5

    def __post_init__(self) -> None:
        if not 1 <= self.per_second <= MAX_PER_SECOND:
            raise InvalidInputError(f"per_second must be 1..{MAX_PER_SECOND}", field="per_second")


def read_lines(text: str) -> list[str]:
    """One column of ICCIDs or numbers; a first line that is neither is taken as a header."""
    values = [row[0].strip() for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]
    if values and not any(ch.isdigit() for ch in values[0]):
        values = values[1:]
    if len(values) > MAX_LINES:
        raise InvalidInputError(f"at most {MAX_LINES} lines per bulk job")
    return values


def dry_run(
    session: Session, ctx: ServiceSystems, operator_id: str, values: list[str], reason: str
) -> list[LineVerdict]:
    now = ctx.clock.now()
    seen: set[int] = set()
    verdicts = []
    for line_no, value in enumerate(values, start=1):
        verdicts.append(_judge(session, ctx, operator_id, line_no, value, reason, now, seen))
    return verdicts


def _judge(
    session: Session,
    ctx: ServiceSystems,
    operator_id: str,
    line_no: int,
    value: str,
    reason: str,
    now: datetime,
    seen: set[int],
) -> LineVerdict:
    try:
        customer, view = find_line_esim(session, ctx, operator_id, value)
        if view.esim.id in seen:
            return LineVerdict(line_no, value, None, "duplicate", "the same eSIM is listed twice")
        seen.add(view.esim.id)
        if view.esim.status is EsimStatus.CANCELLED:
            raise AlreadyCancelledError()
        quote = check_and_quote(session, ctx, customer, view, reason, now)
    except DomainError as refusal:
        return LineVerdict(line_no, value, None, refusal.code, refusal.detail)
    return LineVerdict(line_no, value, quote.to_json())


def find_line_esim(
    session: Session, ctx: ServiceSystems, operator_id: str, value: str
) -> tuple[Customer, EsimView]:
    """The operator's eSIM for an ICCID or number; anything else (another operator's too) is
    NotFoundError, so a bulk file cannot probe other tenants."""
    esim = session.scalar(
        select(Esim)
        .where(Esim.operator_id == operator_id, _identifier_clause(ctx, operator_id, value))
        # A number can have had several eSIMs: the one not yet cancelled comes first.
        .order_by(case((Esim.status == EsimStatus.CANCELLED, 1), else_=0), Esim.id.desc())
        .limit(1)
    )
    if esim is None:
        raise NotFoundError("not found")
    customer = session.get(Customer, esim.customer_id)
    assert customer is not None  # a foreign key guarantees it
    return customer, get_esim(session, operator_id, customer.id, esim.id)


def _identifier_clause(ctx: ServiceSystems, operator_id: str, value: str) -> Any:
    try:
        return Esim.iccid == Iccid.parse(value).value
    except InvalidIdentifierError:
        pass
    try:
        return Esim.msisdn == Msisdn.parse(value, ctx.policy(operator_id).region).value
    except InvalidIdentifierError:
        raise NotFoundError("not an ICCID or phone number") from None


def confirm(
    session: Session, ctx: ServiceSystems, request: BulkRequest, values: list[str]
) -> BulkJob:
    """Store the lines (the dry run's refusals already failed) and queue the throttled job."""
    now = ctx.clock.now()
    verdicts = dry_run(session, ctx, request.operator_id, values, request.reason)
    job = BulkJob(
        operator_id=request.operator_id,
        created_by=request.supervisor,
        reason=request.reason,
        per_second=request.per_second,
        status=BulkStatus.RUNNING,
        total=len(verdicts),
        created_at=now,
    )
    session.add(job)
    session.flush()
    session.add_all(_line_row(job.id, verdict) for verdict in verdicts)
    enqueue(
        session,
        kind=BULK_TICK_JOB,
        payload={"bulk_job_id": job.id},
        now=now,
        dedupe_key=f"bulk:{job.id}:tick:0",
    )
    record(
        session,
        operator_id=request.operator_id,
        actor=request.supervisor,
        action="staff.bulk.confirmed",
        subject=f"bulk:{job.id}",
        at=now,
        data={"lines": len(verdicts), "reason": request.reason, "per_second": request.per_second},
    )
    return job


def _line_row(bulk_job_id: int, verdict: LineVerdict) -> BulkLine:
    return BulkLine(
        bulk_job_id=bulk_job_id,
        line_no=verdict.line_no,
        value=verdict.value[:40],
        status=LineStatus.PENDING if verdict.cancellable else LineStatus.FAILED,
        reason=verdict.refusal,
        quote=verdict.quote,
    )


def bulk_job(session: Session, operator_id: str, bulk_job_id: int) -> BulkJob:
    job = session.get(BulkJob, bulk_job_id)
    if job is None or job.operator_id != operator_id:
        raise NotFoundError(f"no bulk job {bulk_job_id}")
    return job


def progress(session: Session, operator_id: str, bulk_job_id: int) -> Progress:
    job = bulk_job(session, operator_id, bulk_job_id)
    rows = session.execute(
        select(BulkLine.status, func.count())
        .where(BulkLine.bulk_job_id == job.id)
        .group_by(BulkLine.status)
    ).all()
    counts: dict[LineStatus, int] = {row[0]: row[1] for row in rows}
    return Progress(
        bulk_job_id=job.id,
        total=job.total,
        done=counts.get(LineStatus.STARTED, 0),
        failed=counts.get(LineStatus.FAILED, 0),
        finished=job.status is BulkStatus.FINISHED,
    )


def safe_cell(value: str) -> str:
    """A cell a spreadsheet will not run as a formula (the value came from an uploaded file)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


RESULT_COLUMNS = ("line", "value", "outcome", "reason", "reference", "cancellation_status")


def result_csv(session: Session, operator_id: str, bulk_job_id: int) -> str:
    """Per line: started (with the cancellation's reference and current status) or why not."""
    job = bulk_job(session, operator_id, bulk_job_id)
    rows = session.execute(
        select(BulkLine, Cancellation.reference, Cancellation.status)
        .outerjoin(Cancellation, Cancellation.id == BulkLine.cancellation_id)
        .where(BulkLine.bulk_job_id == job.id)
        .order_by(BulkLine.line_no)
    ).all()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RESULT_COLUMNS)
    for line, reference, status in rows:
        writer.writerow(
            [
                line.line_no,
                safe_cell(line.value),
                line.status.value,
                line.reason or "",
                reference or "",
                status.value if status is not None else "",
            ]
        )
    return out.getvalue()
