"""Logging in to the console (password, then TOTP or a passkey), setting up, passkeys, logout."""

from __future__ import annotations

import json
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Form, Request
from starlette.responses import JSONResponse, Response

from esimcare.console.deps import (
    STAFF_COOKIE,
    LoggedIn,
    StaffCsrf,
    StaffLoginRequiredError,
    clear_cookie,
    client_ip,
    get_ctx,
    resolve_in,
    set_cookie,
)
from esimcare.console.rendering import render
from esimcare.db import transaction
from esimcare.errors import DomainError, PasswordWorkBusyError
from esimcare.portal.i18n import N_
from esimcare.portal.rendering import redirect
from esimcare.staff.auth import (
    finish_with_totp,
    log_in_with_password,
    log_out,
    revoke_staff_token,
)
from esimcare.staff.errors import StaffLoginFailedError
from esimcare.staff.passkeys import (
    RelyingParty,
    authentication_options,
    finish_authentication,
    finish_registration,
    passkeys_of,
    registration_options,
)
from esimcare.staff.service import (
    complete_setup,
    provisioning_uri,
    staff_for_setup,
    totp_secret_of,
)

router = APIRouter(prefix="/staff")

LOGIN_FAILED = N_("The e-mail, password or code is wrong, or the account is locked for a while.")
MAX_CREDENTIAL = 16_384


def _party(request: Request) -> RelyingParty:
    return RelyingParty.for_site(get_ctx(request).settings.public_url)


def _production(request: Request) -> bool:
    return not get_ctx(request).settings.development


@router.get("/login")
def login_form(request: Request, bye: bool = False, ready: bool = False) -> Response:
    notice = N_("You have logged out.") if bye else None
    notice = N_("Your account is ready. Log in.") if ready else notice
    return render(request, "login.html", auth=None, email="", error=None, notice=notice)


@router.post("/login")
def login_submit(
    request: Request,
    _csrf: StaffCsrf,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    ctx = get_ctx(request)
    try:
        with transaction(ctx.sessions) as session:
            issued = log_in_with_password(
                session,
                email,
                password,
                now=ctx.clock.now(),
                limits=ctx.settings.limits,
                production=_production(request),
                work=ctx.password_work,
                ip=client_ip(request),
            )
            previous = request.cookies.get(STAFF_COOKIE)
            if previous:
                revoke_staff_token(session, previous, ctx.clock.now())
    except StaffLoginFailedError:
        return render(
            request,
            "login.html",
            auth=None,
            status=401,
            email=email,
            error=LOGIN_FAILED,
            notice=None,
        )
    except PasswordWorkBusyError as busy:
        refused = render(
            request, "login.html", auth=None, status=429, email=email, error=busy.title, notice=None
        )
        refused.headers["Retry-After"] = str(busy.extra.get("retry_after", 1))
        return refused
    response = redirect("/staff/login/second-factor")
    set_cookie(response, STAFF_COOKIE, issued.token)
    return response


@router.get("/login/second-factor")
def second_factor_form(request: Request) -> Response:
    return _second_factor_page(request, error=None)


def _second_factor_page(request: Request, *, error: str | None, status: int = 200) -> Response:
    ctx = get_ctx(request)
    with transaction(ctx.sessions) as session:
        auth = resolve_in(session, request)
        if auth.complete:
            return redirect("/staff/")
        has_passkey = bool(passkeys_of(session, auth.staff.id))
    return render(
        request,
        "second_factor.html",
        auth=None,
        status=status,
        error=error,
        has_passkey=has_passkey,
    )


@router.post("/login/totp")
def totp_submit(
    request: Request, _csrf: StaffCsrf, code: Annotated[str, Form(max_length=12)] = ""
) -> Response:
    ctx = get_ctx(request)
    try:
        with transaction(ctx.sessions) as session:
            auth = resolve_in(session, request)
            token = finish_with_totp(
                session,
                auth,
                code,
                now=ctx.clock.now(),
                production=_production(request),
                key=ctx.settings.secret_key,
                ip=client_ip(request),
            )
    except StaffLoginFailedError:
        return _second_factor_page(request, error=LOGIN_FAILED, status=401)
    response = redirect("/staff/")
    set_cookie(response, STAFF_COOKIE, token)
    return response


@router.post("/login/passkey/options")
def passkey_login_options(request: Request, _csrf: StaffCsrf) -> Response:
    ctx = get_ctx(request)
    try:
        with transaction(ctx.sessions) as session:
            options = authentication_options(session, resolve_in(session, request), _party(request))
    except DomainError as error:
        return JSONResponse({"error": error.detail}, status_code=error.status)
    return JSONResponse(options, headers={"Cache-Control": "no-store"})


@router.post("/login/passkey")
def passkey_login(
    request: Request,
    _csrf: StaffCsrf,
    credential: Annotated[str, Form(max_length=MAX_CREDENTIAL)] = "",
) -> Response:
    ctx = get_ctx(request)
    try:
        with transaction(ctx.sessions) as session:
            auth = resolve_in(session, request)
            token = finish_authentication(
                session,
                auth,
                _party(request),
                _json(credential),
                now=ctx.clock.now(),
                ip=client_ip(request),
            )
    except DomainError as error:
        return JSONResponse({"error": error.detail}, status_code=error.status)
    response = JSONResponse({"next": "/staff/"})
    set_cookie(response, STAFF_COOKIE, token)
    return response


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {}


@router.post("/logout")
def logout(request: Request, _csrf: StaffCsrf) -> Response:
    ctx = get_ctx(request)
    try:
        with transaction(ctx.sessions) as session:
            log_out(
                session, resolve_in(session, request), now=ctx.clock.now(), ip=client_ip(request)
            )
    except StaffLoginRequiredError:
        pass  # already ended: the cookie goes anyway
    response = redirect("/staff/login?bye=1")
    clear_cookie(response, STAFF_COOKIE)
    return response


@router.get("/setup/{token}")
def setup_form(request: Request, token: str) -> Response:
    return _setup_page(request, token, error=None)


def _setup_page(request: Request, token: str, *, error: str | None, status: int = 200) -> Response:
    ctx = get_ctx(request)
    with transaction(ctx.sessions) as session:
        key = ctx.settings.secret_key
        staff = staff_for_setup(session, token, ctx.clock.now(), key)
        uri, secret, email = provisioning_uri(staff, key), totp_secret_of(staff, key), staff.email
    qr = segno.make(uri, error="m").svg_data_uri(scale=4)
    return render(
        request,
        "setup.html",
        auth=None,
        status=status,
        token=token,
        email=email,
        secret=secret,
        qr=qr,
        error=error,
    )


@router.post("/setup/{token}")
def setup_submit(
    request: Request,
    token: str,
    _csrf: StaffCsrf,
    password: Annotated[str, Form(max_length=256)] = "",
    password_again: Annotated[str, Form(max_length=256)] = "",
    code: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    ctx = get_ctx(request)
    if password != password_again:
        return _setup_page(request, token, error=N_("The two passwords differ."), status=422)
    try:
        with transaction(ctx.sessions) as session:
            complete_setup(
                session,
                token,
                password=password,
                totp_code=code,
                now=ctx.clock.now(),
                key=ctx.settings.secret_key,
            )
    except StaffLoginFailedError:
        return _setup_page(request, token, error=N_("The code is wrong."), status=422)
    except DomainError as error:
        if error.status == 404:
            raise
        return _setup_page(request, token, error=error.detail, status=error.status)
    return redirect("/staff/login?ready=1")


@router.get("/account")
def account(request: Request, auth: LoggedIn) -> Response:
    ctx = get_ctx(request)
    with transaction(ctx.readers) as session:
        passkeys = passkeys_of(session, auth.staff.id)
    return render(request, "account.html", auth=auth, passkeys=passkeys)


@router.post("/account/passkeys/options")
def passkey_register_options(request: Request, _csrf: StaffCsrf, auth: LoggedIn) -> Response:
    ctx = get_ctx(request)
    with transaction(ctx.sessions) as session:
        options = registration_options(session, resolve_in(session, request), _party(request))
    return JSONResponse(options, headers={"Cache-Control": "no-store"})


@router.post("/account/passkeys")
def passkey_register(
    request: Request,
    _csrf: StaffCsrf,
    auth: LoggedIn,
    credential: Annotated[str, Form(max_length=MAX_CREDENTIAL)] = "",
    label: Annotated[str, Form(max_length=60)] = "",
) -> Response:
    ctx = get_ctx(request)
    try:
        with transaction(ctx.sessions) as session:
            finish_registration(
                session,
                resolve_in(session, request),
                _party(request),
                _json(credential),
                label=label,
                now=ctx.clock.now(),
                ip=client_ip(request),
            )
    except DomainError as error:
        return JSONResponse({"error": error.detail}, status_code=error.status)
    return JSONResponse({"next": "/staff/account"})
