"""Need help? A support request from the quote, verify or status page, tied to its subject."""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import Response

from esimcare.db import transaction
from esimcare.errors import InvalidInputError
from esimcare.portal.deps import CsrfChecked, authenticate, client_ip, get_ctx
from esimcare.portal.flash import Flash, flash_redirect, take_flash
from esimcare.portal.i18n import N_
from esimcare.portal.rendering import render
from esimcare.staff.support import ask_for_help, reply_channels

router = APIRouter()
MAX_ID = 2**31 - 1
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
FormId = Annotated[int | None, Form(ge=1, le=MAX_ID)]
EMPTY = N_("Write your question (at most 2000 characters).")


REFILL_LIMIT = 1000  # characters of JSON: the flash is a cookie, and cookies are small


def _form(request: Request, op: str, esim_id: int | None, cancellation_id: int | None) -> Response:
    """The form, or after a POST (Post/Redirect/Get) its answer: sent, or why not."""
    ctx = get_ctx(request)
    policy = ctx.policy(op)
    flash = take_flash(request)
    sent = flash.params if flash and flash.kind == "notice" else None
    with transaction(ctx.readers) as session:
        customer = authenticate(request, session, op).customer
        channels = [c.value for c in reply_channels(customer)]
    return render(
        request,
        "help.html",
        policy=policy,
        esim_id=esim_id,
        cancellation_id=cancellation_id,
        message=flash.form.get("message", "") if flash else "",
        error=flash.message if flash and not sent else None,
        channels=channels,
        sent=sent,
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
    subject = urlencode(
        {k: v for k, v in (("esim", esim_id), ("cancellation", cancellation_id)) if v}
    )
    form_url = f"/{op}/help" + (f"?{subject}" if subject else "")
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
        # Refill what was typed only if it fits in the cookie (the browser's maxlength keeps
        # real typing far below; an empty message is the usual cause).
        typed = {"message": message} if len(json.dumps(message)) <= REFILL_LIMIT else {}
        return flash_redirect(request, form_url, Flash(EMPTY, form=typed))
    done = Flash("sent", params={"id": sent.id}, kind="notice")
    return flash_redirect(request, f"/{op}/help", done)
