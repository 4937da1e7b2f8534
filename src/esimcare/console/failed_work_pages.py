"""Failed work: failed cancellations and dead jobs, retried or resolved by hand by supervisors.

The list is open to the roles that act on it and to auditors (read-only, no buttons). Every
action goes through ``operations/failed_work.py``, which writes the audit row and the
cancellation's transition row; the written note is required for a step resolved by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Form, Path, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from esimcare.console.deps import StaffCsrf, get_ctx, may, requires_any
from esimcare.console.rendering import NavItem, add_nav_item, render
from esimcare.console.scope import acting_operator, scope_of
from esimcare.db import transaction
from esimcare.errors import DomainError
from esimcare.operations import failed_work
from esimcare.operations.failed_work import StaffAction
from esimcare.portal.deps import RowId
from esimcare.portal.i18n import N_
from esimcare.portal.rendering import redirect
from esimcare.staff.audit import staff_actor
from esimcare.staff.auth import StaffAuth
from esimcare.staff.roles import Permission

router = APIRouter(prefix="/staff")
add_nav_item(NavItem("/staff/failed-work", N_("Failed work"), Permission.RETRY_FAILED))

CanRetry = Annotated[StaffAuth, may(Permission.RETRY_FAILED)]
CanSee = Annotated[StaffAuth, Depends(requires_any(Permission.RETRY_FAILED, Permission.READ_AUDIT))]
Reference = Annotated[str, Path(min_length=3, max_length=16, pattern=r"^[A-Za-z0-9-]+$")]
Note = Annotated[str, Form(max_length=500)]
OperatorField = Annotated[str, Form(max_length=32)]
DEFAULT_NOTE = "retried from the staff console"
# What a failed-work action acts on: a cancellation reference or a dead job's id.
Target = TypeVar("Target", str, int)
# What a finished action says above the list (message ids, translated on the page).
DONE = {
    "retry_step": N_("The failed step of %(ref)s is being tried once more."),
    "retry_from_step": N_("%(ref)s runs again from its failed step, with retries."),
    "resolved": N_("The failed step of %(ref)s is marked done by hand; the workflow goes on."),
    "requeued": N_("Job %(ref)s is queued again."),
}


@router.get("/failed-work")
def failed_work_list(
    request: Request, auth: CanSee, operator: str = "", done: str = "", ref: str = ""
) -> Response:
    return _list(request, auth, operator, done=done if done in DONE else "", ref=ref[:16])


def _list(
    request: Request,
    auth: StaffAuth,
    operator: str = "",
    *,
    done: str = "",
    ref: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    ctx = get_ctx(request)
    scope = scope_of(ctx, auth.staff, operator)
    with transaction(ctx.readers) as session:
        cancellations = [
            row
            for op in scope.operators
            for row in failed_work.list_failed_cancellations(session, op)
        ]
        jobs = [row for op in scope.operators for row in failed_work.list_dead_jobs(session, op)]
    return render(
        request,
        "failed_work.html",
        auth=auth,
        scope=scope,
        cancellations=cancellations,
        jobs=jobs,
        step_kinds=failed_work.STEP_KINDS,
        done_message=DONE.get(done, ""),
        ref=ref,
        error=error,
        min_note=failed_work.MIN_NOTE_CHARS,
        status=status,
    )


def _act(request: Request, auth: StaffAuth, why: str) -> StaffAction:
    return StaffAction(staff_actor(auth.staff), why.strip(), get_ctx(request).clock.now())


def _refused(request: Request, auth: StaffAuth, error: DomainError) -> Response:
    if error.status == 404:
        raise error
    return _list(request, auth, error=error.detail or error.title, status=error.status)


@router.post("/failed-work/cancellations/{reference}/retry-step")
def retry_step(
    request: Request,
    _csrf: StaffCsrf,
    auth: CanRetry,
    reference: Reference,
    operator: OperatorField = "",
    note: Note = "",
) -> Response:
    why = note or DEFAULT_NOTE
    return _carry_out(request, auth, operator, why, failed_work.retry_step, reference, "retry_step")


@router.post("/failed-work/cancellations/{reference}/retry-from-step")
def retry_from_step(
    request: Request,
    _csrf: StaffCsrf,
    auth: CanRetry,
    reference: Reference,
    operator: OperatorField = "",
    note: Note = "",
) -> Response:
    retry = failed_work.retry_from_failed_step
    why = note or DEFAULT_NOTE
    return _carry_out(request, auth, operator, why, retry, reference, "retry_from_step")


@router.post("/failed-work/cancellations/{reference}/resolve")
def resolve(
    request: Request,
    _csrf: StaffCsrf,
    auth: CanRetry,
    reference: Reference,
    operator: OperatorField = "",
    note: Note = "",
) -> Response:
    """The note is what was done by hand; the service refuses a missing or too short one."""
    resolve_by_hand = failed_work.resolve_by_hand
    return _carry_out(request, auth, operator, note, resolve_by_hand, reference, "resolved")


@router.post("/failed-work/jobs/{job_id}/requeue")
def requeue(
    request: Request,
    _csrf: StaffCsrf,
    auth: CanRetry,
    job_id: RowId,
    operator: OperatorField = "",
    note: Note = "",
) -> Response:
    why = note or DEFAULT_NOTE
    return _carry_out(
        request, auth, operator, why, failed_work.requeue_dead_job, job_id, "requeued"
    )


def _carry_out(
    request: Request,
    auth: StaffAuth,
    operator: str,
    why: str,
    action: Callable[[Session, str, Target, StaffAction], object],
    target: Target,
    done: str,
) -> Response:
    """Runs one failed-work action for the acting operator, then shows the list with its outcome."""
    ctx = get_ctx(request)
    try:
        with transaction(ctx.sessions) as session:
            op = acting_operator(ctx, auth.staff, operator)
            action(session, op, target, _act(request, auth, why))
    except DomainError as error:
        return _refused(request, auth, error)
    return redirect(f"/staff/failed-work?done={done}&ref={target}")
