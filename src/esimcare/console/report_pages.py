"""Reports with charts: cancellations per day (by operator, by reason), time to completion,
step failure rates per external system, SM-DP+ latency and error codes; each as CSV too.

An operator's staff see their own operator; platform staff see every operator or the one
they pick. The range is whole UTC days, the last 7 unless chosen, at most 92.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from esimcare.console.date_range import DateRangeError, DayRange, day_range
from esimcare.console.deps import get_ctx, may
from esimcare.console.i18n import ConsoleTranslator
from esimcare.console.rendering import NavItem, add_nav_item, render
from esimcare.console.report_charts import (
    ReportChart,
    cancellations_chart,
    completion_chart,
    error_chart,
    latency_chart,
    per_day_by,
    step_failure_chart,
)
from esimcare.console.scope import Scope, scope_of
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.errors import NotFoundError
from esimcare.portal.deps import language_of
from esimcare.portal.i18n import N_
from esimcare.portal.rendering import SECURITY_HEADERS
from esimcare.reports import queries
from esimcare.reports.queries import Period
from esimcare.staff.auth import StaffAuth
from esimcare.staff.roles import Permission

router = APIRouter(prefix="/staff")
add_nav_item(NavItem("/staff/reports", N_("Reports"), Permission.READ_REPORTS))

CanRead = Annotated[StaffAuth, may(Permission.READ_REPORTS)]
Day = Annotated[str, Query(max_length=10)]
Operator = Annotated[str, Query(max_length=32)]
DEFAULT_DAYS = 7

# name in the URL -> (row type, query)
_Query = Callable[[Session, Period, str | None], Sequence[Any]]
CSV_REPORTS: dict[str, tuple[type[Any], _Query]] = {
    "cancellations-per-day": (queries.CancellationsPerDay, queries.cancellations_per_day),
    "completion-times": (queries.CompletionTime, queries.completion_times),
    "step-failures": (queries.StepFailureRate, queries.step_failure_rates),
    "smdp-latency": (queries.SmdpLatency, queries.smdp_latency),
    "smdp-errors": (queries.SmdpErrorCount, queries.smdp_errors),
}


def _range(ctx: Context, start: str, end: str) -> DayRange:
    return day_range(start, end, today=ctx.clock.now().date(), default_days=DEFAULT_DAYS)


def _rows(session: Session, name: str, period: Period, scope: Scope) -> list[Any]:
    """One operator: its rows. All of them (platform staff): the platform view."""
    query = CSV_REPORTS[name][1]
    return list(query(session, period, scope.single))


@router.get("/reports")
def reports(
    request: Request, auth: CanRead, start: Day = "", end: Day = "", operator: Operator = ""
) -> Response:
    ctx = get_ctx(request)
    scope = scope_of(ctx, auth.staff, operator)
    try:
        days = _range(ctx, start, end)
    except DateRangeError as refusal:
        days = _range(ctx, "", "")
        return _page(request, auth, scope, days, error=refusal.detail)
    return _page(request, auth, scope, days, error=None)


def _page(
    request: Request, auth: StaffAuth, scope: Scope, days: DayRange, *, error: str | None
) -> Response:
    ctx = get_ctx(request)
    _ = ConsoleTranslator(language_of(request)).gettext
    period = Period(days.start, days.end)
    with transaction(ctx.readers) as session:
        found = {name: _rows(session, name, period, scope) for name in CSV_REPORTS}
    reason_names = _reason_names(ctx, language_of(request))
    per_day = found["cancellations-per-day"]
    by_operator = per_day_by(per_day, days, lambda row: row.operator_id)
    by_reason = per_day_by(per_day, days, lambda row: reason_names.get(row.reason, row.reason))
    charts: list[ReportChart] = [
        cancellations_chart(
            _, "per-operator", _("Cancellations per day by operator"), *by_operator
        ),
        cancellations_chart(_, "per-reason", _("Cancellations per day by reason"), *by_reason),
        completion_chart(_, found["completion-times"]),
        step_failure_chart(_, found["step-failures"]),
        latency_chart(_, found["smdp-latency"]),
        error_chart(_, found["smdp-errors"]),
    ]
    query = {"start": days.first.isoformat(), "end": days.last.isoformat()}
    if scope.chosen:
        query["operator"] = scope.chosen
    return render(
        request,
        "reports.html",
        auth=auth,
        scope=scope,
        days=days,
        charts=charts,
        query=query,
        error=error,
        status=422 if error else 200,
    )


def _reason_names(ctx: Context, language: str) -> dict[str, str]:
    return {
        reason.code: reason.label(language)
        for policy in ctx.policies.values()
        for reason in policy.reasons
    }


@router.get("/reports/{name}.csv")
def report_csv(
    request: Request,
    auth: CanRead,
    name: str,
    start: Day = "",
    end: Day = "",
    operator: Operator = "",
) -> Response:
    if name not in CSV_REPORTS:
        raise NotFoundError(f"no report {name[:40]}")
    ctx = get_ctx(request)
    scope = scope_of(ctx, auth.staff, operator)
    days = _range(ctx, start, end)
    with transaction(ctx.readers) as session:
        rows = _rows(session, name, Period(days.start, days.end), scope)
    who = scope.single or "all"
    filename = f"{name}-{who}-{days.first.isoformat()}-{days.last.isoformat()}.csv"
    return Response(
        queries.to_csv(CSV_REPORTS[name][0], rows),
        media_type="text/csv; charset=utf-8",
        headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'},
    )
