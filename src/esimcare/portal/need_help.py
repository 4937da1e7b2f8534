"""Need help? A support request from the quote, verify or status page, tied to its subject."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import Response

from esimcare.db import transaction
from esimcare.errors import InvalidInputError
from esimcare.portal.deps import CsrfChecked, authenticate, client_ip, get_ctx
from esimcare.portal.i18n import N_
from esimcare.portal.rendering import render
from esimcare.staff.support import ask_for_help, reply_channels

router = APIRouter()
MAX_ID = 2**31 - 1
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
FormId = Annotated[int | None, Form(ge=1, le=MAX_ID)]
EMPTY = N_("Write your question (at most 2000 characters).")


def _form(
    request: Request,
    op: str,
    esim_id: int | None,
    cancellation_id: int | None,
    *,
    message: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    ctx = get_ctx(request)
    policy = ctx.policy(op)
    with transaction(ctx.readers) as session:
        customer = authenticate(request, session, op).customer
        channels = [c.value for c in reply_channels(customer)]
    return render(
        request,
        "help.html",
        policy=policy,
        status=status,
        esim_id=esim_id,
        cancellation_id=cancellation_id,
        message=message,
        error=error,
        channels=channels,
        sent=None,
    )


@router.get("/{op}/help")
def help_form(
    request: Request, op: str, esim: OptionalId = None, cancellation: OptionalId = None
) -> Response:
    return _form(request, op, esim, cancellation)


@router.post("/{op}/help")
def help_submit(
    request: Request,
    op: str,
    _csrf: CsrfChecked,
    message: Annotated[str, Form(max_length=4000)] = "",
    reply_channel: Annotated[str, Form(max_length=10)] = "sms",
    esim_id: FormId = None,
    cancellation_id: FormId = None,
) -> Response:
    ctx = get_ctx(request)
    policy = ctx.policy(op)
    try:
        with transaction(ctx.sessions) as session:
            customer = authenticate(request, session, op).customer
            sent = ask_for_help(
                session,
                customer,
                message=message,
                reply_channel=reply_channel,
                esim_id=esim_id,
                cancellation_id=cancellation_id,
                now=ctx.clock.now(),
                ip=client_ip(request),
            )
    except InvalidInputError:
        return _form(
            request, op, esim_id, cancellation_id, message=message, error=EMPTY, status=422
        )
    return render(
        request,
        "help.html",
        policy=policy,
        status=201,
        sent=sent,
        esim_id=esim_id,
        cancellation_id=cancellation_id,
        message="",
        error=None,
        channels=[],
    )
