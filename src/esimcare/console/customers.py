"""Search, and the customer page: contact details (masked until revealed), eSIMs, timeline."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from esimcare.console.deps import LoggedIn, StaffCsrf, client_ip, get_ctx
from esimcare.console.rendering import render
from esimcare.context import Context
from esimcare.db import transaction
from esimcare.integrations.errors import IntegrationError
from esimcare.portal.deps import RowId
from esimcare.portal.rendering import redirect
from esimcare.staff.auth import StaffAuth
from esimcare.staff.lookup import (
    ContactDetails,
    contact_details,
    customer_page,
    reveal_contact,
    search_customers,
)
from esimcare.staff.timeline import timeline

log = structlog.get_logger()
router = APIRouter(prefix="/staff")


@router.get("")
def console_root() -> Response:
    return redirect("/staff/")


@router.get("/")
def search(request: Request, auth: LoggedIn, q: str = "") -> Response:
    ctx = get_ctx(request)
    results = None
    if q.strip():
        staff = auth.staff
        region = ctx.policy(staff.operator_id).region if staff.operator_id else None
        with transaction(ctx.sessions) as session:
            results = search_customers(
                session, staff, q, region=region, now=ctx.clock.now(), ip=client_ip(request)
            )
    return render(request, "search.html", auth=auth, q=q, results=results)


@router.get("/customers/{customer_id}")
def customer(request: Request, auth: LoggedIn, customer_id: RowId, done: str = "") -> Response:
    return _customer_page(request, auth, customer_id, contact=None, done=done[:16])


@router.post("/customers/{customer_id}/reveal")
def reveal(
    request: Request,
    _csrf: StaffCsrf,
    auth: LoggedIn,
    customer_id: RowId,
    why: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    ctx = get_ctx(request)
    with transaction(ctx.sessions) as session:
        page = customer_page(
            session, auth.staff, customer_id, now=ctx.clock.now(), ip=client_ip(request)
        )
        contact = reveal_contact(
            session, auth.staff, page.customer, why=why, now=ctx.clock.now(), ip=client_ip(request)
        )
    return _customer_page(request, auth, customer_id, contact=contact)


def _customer_page(
    request: Request,
    auth: StaffAuth,
    customer_id: int,
    *,
    contact: ContactDetails | None,
    done: str = "",
) -> Response:
    ctx = get_ctx(request)
    with transaction(ctx.sessions) as session:
        page = customer_page(
            session, auth.staff, customer_id, now=ctx.clock.now(), ip=client_ip(request)
        )
        entries = timeline(session, page.customer)
    network = {view.esim.id: _network_state(ctx, view.esim.imsi) for view in page.esims}
    return render(
        request,
        "customer.html",
        auth=auth,
        page=page,
        entries=entries,
        policy=ctx.policy(page.customer.operator_id),
        network=network,
        done=done,
        contact=contact or contact_details(page.customer, revealed=False),
    )


def _network_state(ctx: Context, imsi: str) -> str:
    """Asked live, outside any transaction; the page still shows when the network does not."""
    try:
        return ctx.network.state(imsi=imsi).value
    except IntegrationError as error:
        log.warning("console.network_state_unknown", error=str(error))
        return "unknown"
