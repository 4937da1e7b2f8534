"""The cancellation's status page, and undo: from the page, or from the link in the message."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from esimcare.cancellations.operations import do_undo_by_link, do_undo_cancellation
from esimcare.cancellations.service import find_by_undo_token, view_esim
from esimcare.db import transaction
from esimcare.errors import InvalidTransitionError, NotFoundError
from esimcare.portal import status_truth, texts
from esimcare.portal.deps import CsrfChecked, RowId, authenticate, client_ip, get_ctx
from esimcare.portal.flash import Flash, flash_redirect, take_flash
from esimcare.portal.rendering import redirect, render
from esimcare.portal.views import status_view

router = APIRouter()


def _status_page(request: Request, op: str, cancellation_id: int) -> Response:
    ctx = get_ctx(request)
    policy = ctx.policy(op)
    flash = take_flash(request)
    with transaction(ctx.sessions) as session:
        customer = authenticate(request, session, op).customer
        view = status_view(session, customer, cancellation_id)
        return render(request, "status.html", policy=policy, view=view, flash=flash,
                      truth=status_truth, now=ctx.clock.now())  # fmt: skip


@router.get("/{op}/cancellations/{cancellation_id}")
def cancellation_status(request: Request, op: str, cancellation_id: RowId) -> Response:
    return _status_page(request, op, cancellation_id)


@router.post("/{op}/cancellations/{cancellation_id}/undo")
def undo_from_page(
    request: Request, op: str, cancellation_id: RowId, _csrf: CsrfChecked
) -> Response:
    ctx = get_ctx(request)
    ctx.policy(op)
    with transaction(ctx.sessions) as session:
        customer = authenticate(request, session, op).customer
    try:
        do_undo_cancellation(ctx, customer.id, cancellation_id, ip=client_ip(request))
    except InvalidTransitionError:
        return flash_redirect(request, f"/{op}/cancellations/{cancellation_id}",
                              Flash(texts.ERROR["invalid-transition"]))  # fmt: skip
    return redirect(f"/{op}/cancellations/{cancellation_id}")


def _undo_page(request: Request, op: str, token: str) -> Response:
    ctx = get_ctx(request)
    policy = ctx.policy(op)
    flash = take_flash(request)
    error = flash.message if flash else None
    with transaction(ctx.sessions) as session:
        try:
            cancellation = find_by_undo_token(session, op, token)
        except NotFoundError:
            return render(request, "undo.html", policy=policy, status=404, cancellation=None,
                          esim=None, error=None)  # fmt: skip
        return render(request, "undo.html", policy=policy, cancellation=cancellation,
                      esim=view_esim(session, cancellation), error=error)  # fmt: skip


@router.get("/{op}/undo/{token}")
def undo_link(request: Request, op: str, token: str) -> Response:
    return _undo_page(request, op, token)


@router.post("/{op}/undo/{token}")
def undo_by_link(request: Request, op: str, token: str, _csrf: CsrfChecked) -> Response:
    ctx = get_ctx(request)
    ctx.policy(op)
    try:
        do_undo_by_link(ctx, op, token, ip=client_ip(request))
    except InvalidTransitionError:
        return flash_redirect(
            request, f"/{op}/undo/{token}", Flash(texts.ERROR["invalid-transition"])
        )
    return redirect(f"/{op}/undo/{token}")
