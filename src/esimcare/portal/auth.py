"""Logging in and out. One message for an unknown login and a wrong password."""

from __future__ import annotations

from typing import Annotated

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
from esimcare.operators.policy import Policy
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
from esimcare.portal.i18n import N_
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
def login_form(request: Request, op: str, bye: bool = False) -> Response:
    policy = get_ctx(request).policy(op)
    notice = N_("You have logged out.") if bye else None
    return render(request, "login.html", policy=policy, login="", error=None, notice=notice)


@router.post("/{op}/login")
def login_submit(
    request: Request, op: str, _csrf: CsrfChecked,
    login: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:  # fmt: skip
    ctx = get_ctx(request)
    policy = ctx.policy(op)
    attempt = LoginAttempt(operator_id=op, login=login, password=password,
                           client=client_ip(request), user_agent=user_agent(request),
                           replacing_token=request.cookies.get(SESSION_COOKIE),
                           region=policy.region)  # fmt: skip
    try:
        _, issued = log_in(ctx, attempt)
    except AuthenticationError:
        return _login_refused(request, policy, login, LOGIN_FAILED, 401)
    except PasswordTooLongError:
        return _login_refused(request, policy, login, PASSWORD_TOO_LONG, 422)
    except (LoginThrottledError, PasswordWorkBusyError) as error:
        response = _login_refused(request, policy, login, TOO_MANY_TRIES, 429)
        response.headers["Retry-After"] = str(error.extra.get("retry_after", 1))
        return response
    response = redirect(f"/{op}/esims")
    set_cookie(response, SESSION_COOKIE, issued.token)
    return response


def _login_refused(
    request: Request, policy: Policy, login: str, error: str, status: int
) -> Response:
    return render(request, "login.html", policy=policy, status=status, login=login,
                  error=error, notice=None)  # fmt: skip


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
