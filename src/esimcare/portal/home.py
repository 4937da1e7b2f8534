"""The front page: choose your operator, or find out which one issued your eSIM."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from esimcare.portal.deps import CsrfChecked, get_ctx
from esimcare.portal.flash import Flash, flash_redirect, take_flash
from esimcare.portal.identify import identify
from esimcare.portal.rendering import render

router = APIRouter()


@router.get("/")
def home(request: Request) -> Response:
    # The answer to "which operator?" is worked out again here from what was typed, which
    # came in the flash (a cookie, so the number stays out of URLs, history and logs).
    flash = take_flash(request)
    query = flash.form.get("number", "") if flash else ""
    result = identify(get_ctx(request).policies, query) if flash else None
    return render(request, "home.html", policy=None, result=result, query=query)


@router.post("/identify")
def identify_submit(
    request: Request, _csrf: CsrfChecked, number: Annotated[str, Form(max_length=64)] = ""
) -> Response:
    # POST, not GET: a phone number or ICCID should not end up in URLs, history and logs.
    # Post/Redirect/Get: the answer is shown by the front page, so Back never resends.
    return flash_redirect(request, "/", Flash("identify", form={"number": number}, kind="notice"))
