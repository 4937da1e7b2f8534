"""Mounting the customer portal on the app: pages, static files, and its error answers."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from esimcare.context import Context
from esimcare.portal import (
    auth,
    cancel,
    esims,
    home,
    honest,
    need_help,
    order,
    status,
    theme,
    verify,
)
from esimcare.portal import passkeys as passkey_pages
from esimcare.portal.deps import (
    SESSION_COOKIE,
    CsrfRejectedError,
    LoginRequiredError,
    clear_cookie,
)
from esimcare.portal.errors import error_page
from esimcare.portal.flash import Flash, flash_redirect
from esimcare.portal.i18n import N_, load_catalogs
from esimcare.portal.next_page import page_to_return_to
from esimcare.portal.rendering import redirect

STATIC_DIR = Path(__file__).resolve().parent / "static"
CSRF_TITLE = N_("This form has expired or was sent from another site")
CSRF_DETAIL = N_("Go back, reload the page and try again.")


def install_portal(app: FastAPI, ctx: Context) -> None:
    load_catalogs()
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (home, esims, order, cancel, verify, status, need_help, auth, theme):
        app.include_router(module.router, include_in_schema=False)
    app.include_router(passkey_pages.router, include_in_schema=False)
    _install_handlers(app)


def _install_handlers(app: FastAPI) -> None:
    async def login_required(request: Request, error: Exception) -> Response:
        assert isinstance(error, LoginRequiredError)
        op = error.operator_id
        target = f"/{op}/login?" + urlencode({"next": page_to_return_to(request)})
        if SESSION_COOKIE in request.cookies:  # there was a session, and it has ended
            ended = Flash(honest.SESSION_ENDED, kind="notice")
            response = flash_redirect(request, target, ended)
            clear_cookie(response, SESSION_COOKIE)
            return response
        return redirect(target)

    async def csrf_rejected(request: Request, error: Exception) -> Response:
        return error_page(request, 403, CSRF_TITLE, CSRF_DETAIL)

    app.add_exception_handler(LoginRequiredError, login_required)
    app.add_exception_handler(CsrfRejectedError, csrf_rejected)
