"""The webhook delivery log: each event sent to the operator's own systems, every attempt
with its status code and latency, and "send again" (``webhooks/delivery.py: send_again``,
which queues the same event id and writes the audit row)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from sqlalchemy import select
from starlette.responses import Response

from esimcare.console.deps import StaffCsrf, get_ctx, may, requires_any
from esimcare.console.rendering import NavItem, add_nav_item, render
from esimcare.console.scope import acting_operator, scope_of
from esimcare.db import transaction
from esimcare.errors import DomainError
from esimcare.portal.deps import RowId
from esimcare.portal.i18n import N_
from esimcare.portal.rendering import redirect
from esimcare.staff.audit import staff_actor
from esimcare.staff.auth import StaffAuth
from esimcare.staff.roles import Permission
from esimcare.webhooks.delivery import list_deliveries, send_again
from esimcare.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery

router = APIRouter(prefix="/staff")
add_nav_item(NavItem("/staff/webhooks", N_("Webhooks"), Permission.RETRY_FAILED))

CanResend = Annotated[StaffAuth, may(Permission.RETRY_FAILED)]
CanSee = Annotated[StaffAuth, Depends(requires_any(Permission.RETRY_FAILED, Permission.READ_AUDIT))]
DEFAULT_WHY = "sent again from the staff console"
SENT_AGAIN = N_("Event %(event)s is queued to be sent again.")


@router.get("/webhooks")
def webhook_log(
    request: Request,
    auth: CanSee,
    operator: Annotated[str, Query(max_length=32)] = "",
    status: Annotated[DeliveryStatus | None, Query()] = None,
    again: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    return _page(request, auth, operator, status, again=again)


def _page(
    request: Request,
    auth: StaffAuth,
    operator: str,
    status: DeliveryStatus | None,
    *,
    again: str = "",
    error: str | None = None,
    code: int = 200,
) -> Response:
    ctx = get_ctx(request)
    scope = scope_of(ctx, auth.staff, operator)
    with transaction(ctx.readers) as session:
        deliveries = [d for op in scope.operators for d in list_deliveries(session, op, status)]
        attempts: dict[int, list[WebhookAttempt]] = {d.id: [] for d in deliveries}
        found = select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(attempts))
        for attempt in session.scalars(found.order_by(WebhookAttempt.id)):
            attempts[attempt.delivery_id].append(attempt)
    targets = {op: ctx.policy(op).webhook_target for op in scope.operators}
    return render(
        request,
        "webhooks.html",
        auth=auth,
        scope=scope,
        deliveries=deliveries,
        attempts=attempts,
        targets=targets,
        status_filter=status.value if status else "",
        statuses=[s.value for s in DeliveryStatus],
        again=again,
        sent_again=SENT_AGAIN,
        error=error,
        status=code,
    )


@router.post("/webhooks/{delivery_id}/send-again")
def webhook_send_again(
    request: Request,
    _csrf: StaffCsrf,
    auth: CanResend,
    delivery_id: RowId,
    operator: Annotated[str, Form(max_length=32)] = "",
    why: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    ctx = get_ctx(request)
    try:
        with transaction(ctx.sessions) as session:
            op = acting_operator(ctx, auth.staff, operator)
            delivery: WebhookDelivery = send_again(
                session,
                op,
                delivery_id,
                actor=staff_actor(auth.staff),
                why=why.strip() or DEFAULT_WHY,
                now=ctx.clock.now(),
            )
            event_id = delivery.event_id
    except DomainError as error:
        if error.status == 404:
            raise
        return _page(request, auth, "", None, error=error.detail or error.title, code=error.status)
    return redirect(f"/staff/webhooks?again={event_id}")
