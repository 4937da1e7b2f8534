"""The eSIM list and one eSIM's page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from esimcare.db import transaction
from esimcare.esims.service import get_esim, list_esims
from esimcare.portal.deps import RowId, authenticate, get_ctx
from esimcare.portal.rendering import render
from esimcare.portal.views import latest_cancellation

router = APIRouter()


@router.get("/{op}/esims")
def esim_list(request: Request, op: str) -> Response:
    ctx = get_ctx(request)
    policy = ctx.policy(op)
    with transaction(ctx.sessions) as session:
        customer = authenticate(request, session, op).customer
        views = list_esims(session, op, customer.id)
        return render(request, "esims.html", policy=policy, customer=customer, views=views)


@router.get("/{op}/esims/{esim_id}")
def esim_page(request: Request, op: str, esim_id: RowId) -> Response:
    ctx = get_ctx(request)
    policy = ctx.policy(op)
    with transaction(ctx.sessions) as session:
        customer = authenticate(request, session, op).customer
        view = get_esim(session, op, customer.id, esim_id)
        latest = latest_cancellation(session, customer, esim_id)
        return render(request, "esim.html", policy=policy, customer=customer, view=view,
                      cancellation=latest)  # fmt: skip
