"""Support requests in the console: the list, one request with its customer, answer, close."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from sqlalchemy import select
from starlette.responses import Response

from esimcare.console.deps import LoggedIn, StaffCsrf, client_ip, get_ctx, may
from esimcare.console.rendering import render
from esimcare.customers.models import Customer
from esimcare.db import transaction
from esimcare.errors import DomainError
from esimcare.portal.deps import RowId
from esimcare.portal.rendering import redirect
from esimcare.staff.auth import StaffAuth
from esimcare.staff.roles import Permission
from esimcare.staff.support import answer_request, close_request, open_requests, view_request

router = APIRouter(prefix="/staff")
CanAnswer = Annotated[StaffAuth, may(Permission.ANSWER_SUPPORT)]


@router.get("/support")
def support_list(request: Request, auth: LoggedIn, closed: bool = False) -> Response:
    ctx = get_ctx(request)
    with transaction(ctx.readers) as session:
        requests = open_requests(session, auth.staff, include_closed=closed)
        asked_by = select(Customer).where(Customer.id.in_({r.customer_id for r in requests}))
        names = {customer.id: customer.name for customer in session.scalars(asked_by)}
    return render(
        request, "support_list.html", auth=auth, requests=requests, names=names, closed=closed
    )


def _detail(
    request: Request,
    auth: StaffAuth,
    request_id: int,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    ctx = get_ctx(request)
    with transaction(ctx.sessions) as session:
        item = view_request(
            session, auth.staff, request_id, now=ctx.clock.now(), ip=client_ip(request)
        )
        customer = session.get(Customer, item.customer_id)
    return render(
        request,
        "support_detail.html",
        auth=auth,
        item=item,
        customer=customer,
        error=error,
        status=status,
    )


def _refused(request: Request, auth: StaffAuth, request_id: int, error: DomainError) -> Response:
    """A request that is not there stays a 404; any other refusal shows on the request's page."""
    if error.status == 404:
        raise error
    return _detail(request, auth, request_id, error=error.detail, status=error.status)


@router.get("/support/{request_id}")
def support_detail(request: Request, auth: LoggedIn, request_id: RowId) -> Response:
    return _detail(request, auth, request_id)


@router.post("/support/{request_id}/answer")
def support_answer(
    request: Request,
    _csrf: StaffCsrf,
    auth: CanAnswer,
    request_id: RowId,
    answer: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    ctx = get_ctx(request)
    try:
        with transaction(ctx.sessions) as session:
            answer_request(
                session,
                auth.staff,
                request_id,
                text=answer,
                now=ctx.clock.now(),
                ip=client_ip(request),
            )
    except DomainError as error:
        return _refused(request, auth, request_id, error)
    return redirect(f"/staff/support/{request_id}")


@router.post("/support/{request_id}/close")
def support_close(
    request: Request,
    _csrf: StaffCsrf,
    auth: CanAnswer,
    request_id: RowId,
    why: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    ctx = get_ctx(request)
    try:
        with transaction(ctx.sessions) as session:
            close_request(
                session, auth.staff, request_id, why=why, now=ctx.clock.now(), ip=client_ip(request)
            )
    except DomainError as error:
        return _refused(request, auth, request_id, error)
    return redirect("/staff/support")
