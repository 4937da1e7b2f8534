"""Bulk cancellation in the console: upload a CSV, read the dry run, confirm, watch progress.

The upload is a multipart form with its own size limit (``MAX_BODY_BYTES`` at the door,
``MAX_FILE_BYTES`` for the file) and readable errors. The dry run is per line
(``bulk/service.py: dry_run``); confirming sends the same lines back and the service checks
each again before queueing the throttled job, so nothing in the form is trusted. The progress
page reloads itself every second while the job runs (a ``<meta refresh>``: no script).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response

from esimcare.bulk.models import BulkJob
from esimcare.bulk.service import (
    MAX_LINES,
    MAX_PER_SECOND,
    BulkRequest,
    LineVerdict,
    confirm,
    dry_run,
    progress,
    read_lines,
    result_csv,
)
from esimcare.console.deps import StaffCsrf, client_ip, get_ctx, may
from esimcare.console.rendering import NavItem, add_nav_item, render
from esimcare.console.scope import acting_operator, scope_of
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.errors import InvalidInputError, NotFoundError
from esimcare.portal.deps import RowId, language_of
from esimcare.portal.i18n import N_
from esimcare.portal.rendering import SECURITY_HEADERS, redirect
from esimcare.staff.audit import record_staff_action, staff_actor
from esimcare.staff.auth import StaffAuth
from esimcare.staff.models import StaffMember
from esimcare.staff.roles import Permission

router = APIRouter(prefix="/staff")
add_nav_item(NavItem("/staff/bulk", N_("Bulk"), Permission.BULK_WORK))

PREFIX = "/staff/bulk/"
# 10,000 lines of a 19-20 digit ICCID, with some slack for quotes, spaces and a header.
MAX_FILE_BYTES = 256 * 1024
MAX_BODY_BYTES = MAX_FILE_BYTES + 16 * 1024  # plus the form's other fields and boundaries
CanBulk = Annotated[StaffAuth, may(Permission.BULK_WORK)]
# The form fields the dry run and the confirmation both carry.
ReasonField = Annotated[str, Form(max_length=40)]
PerSecondField = Annotated[int, Form(ge=1, le=MAX_PER_SECOND)]
OperatorField = Annotated[str, Form(max_length=32)]
FILE_TOO_LARGE = N_("The file is too large: at most 256 KB (10,000 lines).")
NOT_TEXT = N_("The file is not a CSV text file (UTF-8).")
NO_LINES = N_("The file has no ICCIDs or numbers in it.")
UNKNOWN_REASON = N_("Choose a reason from the list.")


def _form(
    request: Request, auth: StaffAuth, *, error: str | None = None, status: int = 200
) -> Response:
    ctx = get_ctx(request)
    scope = scope_of(ctx, auth.staff)
    with transaction(ctx.readers) as session:
        jobs = list(
            session.scalars(
                select(BulkJob)
                .where(BulkJob.operator_id.in_(scope.operators))
                .order_by(BulkJob.id.desc())
                .limit(20)
            )
        )
    return render(
        request,
        "bulk.html",
        auth=auth,
        scope=scope,
        jobs=jobs,
        reasons=_reasons(ctx, scope.operators, language_of(request)),
        max_lines=MAX_LINES,
        max_per_second=MAX_PER_SECOND,
        error=error,
        status=status,
    )


def _reasons(ctx: Context, operators: list[str], language: str) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for op in operators:
        for reason in ctx.policy(op).reasons:
            seen.setdefault(reason.code, reason.label(language))
    return sorted(seen.items())


@router.get("/bulk")
def bulk_form(request: Request, auth: CanBulk) -> Response:
    return _form(request, auth)


def _read_upload(upload: UploadFile) -> list[str]:
    raw = upload.file.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise InvalidInputError(FILE_TOO_LARGE, field="file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError(NOT_TEXT, field="file") from None
    if "\x00" in text:
        raise InvalidInputError(NOT_TEXT, field="file")
    values = read_lines(text)
    if not values:
        raise InvalidInputError(NO_LINES, field="file")
    return values


def _reason_label(ctx: Context, operator_id: str, code: str, language: str) -> str:
    reason = ctx.policy(operator_id).reason(code)
    return reason.label(language) if reason else code


def _operator_with_reason(ctx: Context, staff: StaffMember, operator: str, reason: str) -> str:
    """The operator the form acts for, once the reason is checked to be one of its own."""
    operator_id = acting_operator(ctx, staff, operator)
    if reason not in {r.code for r in ctx.policy(operator_id).reasons}:
        raise InvalidInputError(UNKNOWN_REASON, field="reason")
    return operator_id


@router.post("/bulk/dry-run")
def bulk_dry_run(
    request: Request,
    _csrf: StaffCsrf,
    auth: CanBulk,
    file: Annotated[UploadFile, File()],
    reason: ReasonField = "",
    per_second: PerSecondField = 5,
    operator: OperatorField = "",
) -> Response:
    ctx = get_ctx(request)
    try:
        op = _operator_with_reason(ctx, auth.staff, operator, reason)
        values = _read_upload(file)
        with transaction(ctx.sessions) as session:
            verdicts = dry_run(session, ctx, op, values, reason)
            _audit_dry_run(session, ctx, auth.staff, op, verdicts, request)
    except InvalidInputError as error:
        return _form(request, auth, error=error.detail, status=error.status)
    return render(
        request,
        "bulk_dry_run.html",
        auth=auth,
        operator_id=op,
        reason=reason,
        reason_label=_reason_label(ctx, op, reason, language_of(request)),
        per_second=per_second,
        verdicts=verdicts,
        cancellable=sum(1 for v in verdicts if v.cancellable),
        lines="\n".join(values),
        filename=(file.filename or "")[:100],
    )


def _audit_dry_run(
    session: Session,
    ctx: Context,
    staff: StaffMember,
    operator_id: str,
    verdicts: list[LineVerdict],
    request: Request,
) -> None:
    record_staff_action(
        session,
        staff,
        "staff.bulk.dry_run",
        subject=f"operator:{operator_id}",
        at=ctx.clock.now(),
        operator_id=operator_id,
        ip=client_ip(request),
        data={"lines": len(verdicts), "cancellable": sum(1 for v in verdicts if v.cancellable)},
    )


@router.post("/bulk/confirm")
def bulk_confirm(
    request: Request,
    _csrf: StaffCsrf,
    auth: CanBulk,
    lines: Annotated[str, Form(max_length=MAX_FILE_BYTES)] = "",
    reason: ReasonField = "",
    per_second: PerSecondField = 5,
    operator: OperatorField = "",
) -> Response:
    ctx = get_ctx(request)
    try:
        op = _operator_with_reason(ctx, auth.staff, operator, reason)
        values = read_lines(lines)
        if not values:
            raise InvalidInputError(NO_LINES, field="lines")
        bulk_request = BulkRequest(op, reason, staff_actor(auth.staff), per_second)
        with transaction(ctx.sessions) as session:
            job_id = confirm(session, ctx, bulk_request, values).id
    except InvalidInputError as error:
        return _form(request, auth, error=error.detail, status=error.status)
    return redirect(f"/staff/bulk/{job_id}")


def _job_operator(session: Session, staff: StaffMember, bulk_job_id: int) -> str:
    """The staff member's own operator (the service then answers "not found" for another
    operator's job); for platform staff, the job's."""
    if staff.operator_id is not None:
        return staff.operator_id
    job = session.get(BulkJob, bulk_job_id)
    if job is None:
        raise NotFoundError(f"no bulk job {bulk_job_id}")
    return job.operator_id


@router.get("/bulk/{bulk_job_id}")
def bulk_progress(request: Request, auth: CanBulk, bulk_job_id: RowId) -> Response:
    ctx = get_ctx(request)
    with transaction(ctx.readers) as session:
        op = _job_operator(session, auth.staff, bulk_job_id)
        seen = progress(session, op, bulk_job_id)
        job = session.get(BulkJob, bulk_job_id)
    assert job is not None  # progress() found it
    label = _reason_label(ctx, job.operator_id, job.reason, language_of(request))
    return render(
        request, "bulk_progress.html", auth=auth, progress=seen, job=job, reason_label=label
    )


@router.get("/bulk/{bulk_job_id}/progress.json")
def bulk_progress_json(request: Request, auth: CanBulk, bulk_job_id: RowId) -> Response:
    ctx = get_ctx(request)
    with transaction(ctx.readers) as session:
        seen = progress(session, _job_operator(session, auth.staff, bulk_job_id), bulk_job_id)
    body = {
        "total": seen.total,
        "done": seen.done,
        "failed": seen.failed,
        "processed": seen.processed,
        "finished": seen.finished,
    }
    return JSONResponse(body, headers=SECURITY_HEADERS)


@router.get("/bulk/{bulk_job_id}/result.csv")
def bulk_result(request: Request, auth: CanBulk, bulk_job_id: RowId) -> Response:
    """Downloading the ICCIDs and references of a job is itself an audited action."""
    ctx = get_ctx(request)
    with transaction(ctx.sessions) as session:
        op = _job_operator(session, auth.staff, bulk_job_id)
        text = result_csv(session, op, bulk_job_id)
        record_staff_action(
            session,
            auth.staff,
            "staff.bulk.result_downloaded",
            subject=f"bulk:{bulk_job_id}",
            at=ctx.clock.now(),
            operator_id=op,
            ip=client_ip(request),
        )
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            **SECURITY_HEADERS,
            "Content-Disposition": f'attachment; filename="bulk-{bulk_job_id}-result.csv"',
        },
    )
