"""Logging in and out. One message for an unknown login and a wrong password."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from esimcare.customers.service import LoginAttempt, log_in
from esimcare.customers.sessions import revoke_session
from esimcare.db import transaction
from esimcare.errors import (
    AuthenticationError,
    LoginThrottledError,
    PasswordTooLongError,
    PasswordWorkBusyError,
)
from esimcare.portal.deps import (
    SESSION_COOKIE,
    CsrfChecked,
    LoginRequiredError,
    authenticate,
    clear_cookie,
    client_ip,
    get_ctx,
    set_cookie,
    user_agent,
)
from esimcare.portal.flash import Flash, flash_redirect, take_flash
from esimcare.portal.i18n import N_
from esimcare.portal.next_page import safe_next
from esimcare.portal.rendering import redirect, render

router = APIRouter()

LOGIN_FAILED = N_("The phone number, e-mail or password is wrong.")
PASSWORD_TOO_LONG = N_("A password has at most 128 characters.")
TOO_MANY_TRIES = N_("Too many attempts. Wait a minute, then try again.")


@router.get("/{op}")
def operator_home(request: Request, op: str) -> Response:
    get_ctx(request).policy(op)
    return redirect(f"/{op}/esims")


@router.get("/{op}/login")
def login_form(request: Request, op: str, bye: bool = False, next: str | None = None) -> Response:
    policy = get_ctx(request).policy(op)
    flash = take_flash(request)
    notice = N_("You have logged out.") if bye else None
    if flash and flash.kind == "notice":
        notice, flash = flash.message, None
    return render(request, "login.html", policy=policy, login=flash.form.get("login", "")
                  if flash else "", error=flash.message if flash else None, notice=notice,
                  next=safe_next(op, next) or "")  # fmt: skip


@router.post("/{op}/login")
def login_submit(
    request: Request, op: str, _csrf: CsrfChecked,
    login: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=400)] = "",
) -> Response:  # fmt: skip
    ctx = get_ctx(request)
    policy = ctx.policy(op)
    back_to = safe_next(op, next)
    attempt = LoginAttempt(operator_id=op, login=login, password=password,
                           client=client_ip(request), user_agent=user_agent(request),
                           replacing_token=request.cookies.get(SESSION_COOKIE),
                           region=policy.region)  # fmt: skip
    try:
        _, issued = log_in(ctx, attempt)
    except AuthenticationError:
        return _login_refused(request, op, login, LOGIN_FAILED, back_to)
    except PasswordTooLongError:
        return _login_refused(request, op, login, PASSWORD_TOO_LONG, back_to)
    except (LoginThrottledError, PasswordWorkBusyError) as error:
        response = _login_refused(request, op, login, TOO_MANY_TRIES, back_to)
        response.headers["Retry-After"] = str(error.extra.get("retry_after", 1))
        return response
    response = redirect(back_to or f"/{op}/esims")
    set_cookie(response, SESSION_COOKIE, issued.token)
    return response


def _login_refused(
    request: Request, op: str, login: str, error: str, back_to: str | None
) -> Response:
    """Post/Redirect/Get: the login page again, saying why, with the login typed kept."""
    target = f"/{op}/login" + ("?" + urlencode({"next": back_to}) if back_to else "")
    return flash_redirect(request, target, Flash(error, form={"login": login[:254]}))


@router.post("/{op}/logout")
def logout(request: Request, op: str, _csrf: CsrfChecked) -> Response:
    ctx = get_ctx(request)
    ctx.policy(op)
    try:
        with transaction(ctx.sessions) as session:
            revoke_session(session, authenticate(request, session, op).session, ctx.clock.now())
    except LoginRequiredError:
        pass  # already logged out: the cookie goes anyway
    response = redirect(f"/{op}/login?bye=1")
    clear_cookie(response, SESSION_COOKIE)
    return response
