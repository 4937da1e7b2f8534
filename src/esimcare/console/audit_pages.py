"""The audit log viewer: filters, pages of rows, and "verify chain".

Verifying is a read (``GET``): it runs the same check as ``esimcare audit verify``
(``operations/audit_check.py``) for each operator in view and appends who checked and what
was found, after the check, so the check never covers its own row.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from esimcare.audit.queries import AuditFilter, event_of, search_events
from esimcare.console.date_range import DateRangeError, optional_range
from esimcare.console.deps import get_ctx, may
from esimcare.console.rendering import NavItem, add_nav_item, render
from esimcare.console.scope import scope_of
from esimcare.db import transaction
from esimcare.operations.audit_check import ChainVerdict, check_chain, record_check
from esimcare.portal.i18n import N_
from esimcare.staff.audit import staff_actor
from esimcare.staff.auth import StaffAuth
from esimcare.staff.roles import Permission

router = APIRouter(prefix="/staff")
add_nav_item(NavItem("/staff/audit", N_("Audit log"), Permission.READ_AUDIT))

CanRead = Annotated[StaffAuth, may(Permission.READ_AUDIT)]
Text = Annotated[str, Query(max_length=80)]
Day = Annotated[str, Query(max_length=10)]
FORM_FIELDS = ("operator", "actor", "action", "reference", "start", "end")


@router.get("/audit")
def audit_log(
    request: Request,
    auth: CanRead,
    operator: Text = "",
    actor: Text = "",
    action: Text = "",
    reference: Text = "",
    start: Day = "",
    end: Day = "",
    before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    ctx = get_ctx(request)
    scope = scope_of(ctx, auth.staff, operator)
    form = {
        "operator": scope.chosen,
        "actor": actor.strip(),
        "action": action.strip(),
        "reference": reference.strip(),
        "start": start,
        "end": end,
    }
    error, rows = None, []
    try:
        first, last = optional_range(start, end)
    except DateRangeError as refusal:
        error, first, last = refusal.detail, None, None
    filters = AuditFilter(form["actor"], form["action"], form["reference"], first, last)
    if error is None:
        with transaction(ctx.readers) as session:
            rows = search_events(session, scope.operators, filters, before_id=before)
    return render(
        request,
        "audit_log.html",
        auth=auth,
        scope=scope,
        form=form,
        rows=rows,
        error=error,
        verdicts=None,
        broken={},
        status=422 if error else 200,
    )


@router.get("/audit/verify")
def verify(request: Request, auth: CanRead, operator: Text = "") -> Response:
    ctx = get_ctx(request)
    scope = scope_of(ctx, auth.staff, operator)
    verdicts: list[ChainVerdict] = []
    with transaction(ctx.sessions) as session:
        for operator_id in scope.operators:
            verdict = check_chain(session, operator_id)
            verdicts.append(verdict)
            record_check(session, verdict, actor=staff_actor(auth.staff), now=ctx.clock.now())
        broken = {
            v.operator_id: event_of(session, scope.operators, v.first_broken_id)
            for v in verdicts
            if v.first_broken_id
        }
    return render(
        request,
        "audit_log.html",
        auth=auth,
        scope=scope,
        form=dict.fromkeys(FORM_FIELDS, "") | {"operator": scope.chosen},
        rows=[],
        error=None,
        verdicts=verdicts,
        broken=broken,
    )
