"""The front page: choose your operator, or find out which one issued your eSIM."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from esimcare.portal.deps import CsrfChecked, get_ctx
from esimcare.portal.identify import identify
from esimcare.portal.rendering import render

router = APIRouter()


@router.get("/")
def home(request: Request) -> Response:
    return render(request, "home.html", policy=None, result=None, query="")


@router.post("/identify")
def identify_submit(
    request: Request, _csrf: CsrfChecked, number: Annotated[str, Form(max_length=64)] = ""
) -> Response:
    # POST, not GET: a phone number or ICCID should not end up in URLs, history and logs.
    result = identify(get_ctx(request).policies, number)
    status = 422 if result.error else 200
    return render(request, "home.html", policy=None, status=status, result=result, query=number)
