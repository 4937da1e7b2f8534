"""Passkeys in the portal: the account's list (add, remove), logging in with one, and
confirming a cancellation with one.

The browser script (static/passkey.js) asks for options and sends the authenticator's answer
as form posts with the page's CSRF token; these answer JSON: the options, ``{"next": url}``
or ``{"error": text}`` in the page's language.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from esimcare.cancellations.operations import do_passkey_options, do_verify_cancellation
from esimcare.customers import passkeys
from esimcare.customers.identity import CustomerKey
from esimcare.customers.passkeys import Client, PasskeyNotAcceptedError, RecentLoginRequiredError
from esimcare.customers.service import check_password
from esimcare.customers.sessions import Authenticated
from esimcare.db import transaction
from esimcare.errors import (
    AuthenticationError,
    CancellationExpiredError,
    DomainError,
    InvalidTransitionError,
    WrongCodeError,
)
from esimcare.kit.webauthn_ceremony import RelyingParty
from esimcare.portal import texts
from esimcare.portal.deps import (
    SESSION_COOKIE,
    CsrfChecked,
    RowId,
    authenticate,
    client_ip,
    get_ctx,
    language_of,
    set_cookie,
    user_agent,
)
from esimcare.portal.i18n import N_, Translator
from esimcare.portal.rendering import SECURITY_HEADERS, redirect, render

router = APIRouter()

NOT_ACCEPTED = N_("The passkey could not be verified. Try again or use another method.")
PASSWORD_FIRST = N_("Enter your password to add a passkey.")
WRONG_PASSWORD = N_("The password is wrong.")
ADDED = N_("The passkey is added. Next time, log in with your face or fingerprint.")
REMOVED = N_("The passkey is removed.")

Credential = Annotated[str, Form(max_length=8000)]


def _party(request: Request) -> RelyingParty:
    return RelyingParty.for_site(get_ctx(request).settings.public_url)


def _json(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=SECURITY_HEADERS)


def _refused(request: Request, message: str, status: int = 422) -> JSONResponse:
    return _json({"error": Translator(language_of(request)).gettext(message)}, status)


@router.get("/{op}/account/passkeys")
def passkeys_page(request: Request, op: str, done: str = "") -> Response:
    ctx = get_ctx(request)
    policy = ctx.policy(op)
    notice = {"added": ADDED, "removed": REMOVED}.get(done)
    with transaction(ctx.sessions) as session:
        auth = authenticate(request, session, op)
        stale = not passkeys.recently_logged_in(auth, ctx.clock.now())
        return render(request, "passkeys.html", policy=policy, customer=auth.customer,
                      passkeys=passkeys.passkeys_of(session, auth.customer), notice=notice,
                      needs_password=stale)  # fmt: skip


@router.post("/{op}/account/passkeys/options")
def registration_options(
    request: Request, op: str, _csrf: CsrfChecked,
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:  # fmt: skip
    """A session older than five minutes proves itself again with the password first."""
    ctx = get_ctx(request)
    ctx.policy(op)
    now = ctx.clock.now()
    with transaction(ctx.sessions) as session:
        auth = authenticate(request, session, op)
        if not passkeys.recently_logged_in(auth, now):
            if not password:
                return _refused(request, PASSWORD_FIRST, 403)
            if not _password_holds(request, session, auth, password):
                return _refused(request, WRONG_PASSWORD)  # the failure is counted (commits)
        try:
            options = passkeys.registration_options(session, auth, _party(request), now=now,
                                                    reauthenticated=True)  # fmt: skip
        except RecentLoginRequiredError:
            return _refused(request, PASSWORD_FIRST, 403)
    return _json(options)


def _password_holds(request: Request, session: Any, auth: Authenticated, password: str) -> bool:
    ctx = get_ctx(request)
    try:
        return check_password(session, auth.customer, password, now=ctx.clock.now(),
                              limits=ctx.settings.limits, work=ctx.password_work)  # fmt: skip
    except DomainError:  # locked, or longer than any password
        return False


@router.post("/{op}/account/passkeys")
def add_passkey(
    request: Request, op: str, _csrf: CsrfChecked, credential: Credential,
    label: Annotated[str, Form(max_length=60)] = "",
) -> Response:  # fmt: skip
    ctx = get_ctx(request)
    ctx.policy(op)
    try:
        with transaction(ctx.sessions) as session:
            auth = authenticate(request, session, op)
            passkeys.finish_registration(session, auth, _party(request), credential, label=label,
                                         now=ctx.clock.now(), ip=client_ip(request))  # fmt: skip
    except PasskeyNotAcceptedError:
        return _refused(request, NOT_ACCEPTED)
    return _json({"next": f"/{op}/account/passkeys?done=added"})


@router.post("/{op}/account/passkeys/{passkey_id}/remove")
def remove_passkey(request: Request, op: str, passkey_id: RowId, _csrf: CsrfChecked) -> Response:
    ctx = get_ctx(request)
    ctx.policy(op)
    with transaction(ctx.sessions) as session:
        customer = authenticate(request, session, op).customer
        passkeys.remove_passkey(session, customer, passkey_id, now=ctx.clock.now(),
                                ip=client_ip(request))  # fmt: skip
    return redirect(f"/{op}/account/passkeys?done=removed")


@router.post("/{op}/login/passkey/options")
def login_options(request: Request, op: str, _csrf: CsrfChecked) -> Response:
    ctx = get_ctx(request)
    ctx.policy(op)
    with transaction(ctx.sessions) as session:
        options = passkeys.login_options(session, op, _party(request), now=ctx.clock.now())
    return _json(options)


@router.post("/{op}/login/passkey")
def login_with_passkey(
    request: Request, op: str, _csrf: CsrfChecked, credential: Credential
) -> Response:
    ctx = get_ctx(request)
    ctx.policy(op)
    client = Client(ip=client_ip(request), user_agent=user_agent(request),
                    replacing_token=request.cookies.get(SESSION_COOKIE))  # fmt: skip
    try:
        with transaction(ctx.sessions) as session:
            _, issued = passkeys.finish_login(session, op, _party(request), credential,
                                              now=ctx.clock.now(), limits=ctx.settings.limits,
                                              client=client)  # fmt: skip
    except (PasskeyNotAcceptedError, AuthenticationError):
        return _refused(request, NOT_ACCEPTED, 401)
    response = _json({"next": f"/{op}/esims"})
    set_cookie(response, SESSION_COOKIE, issued.token)
    return response


@router.post("/{op}/cancellations/{cancellation_id}/verify/passkey/options")
def verify_options(
    request: Request, op: str, cancellation_id: RowId, _csrf: CsrfChecked
) -> Response:
    ctx = get_ctx(request)
    ctx.policy(op)
    with transaction(ctx.sessions) as session:
        customer = authenticate(request, session, op).customer
    try:
        return _json(do_passkey_options(ctx, customer.id, cancellation_id))
    except (CancellationExpiredError, InvalidTransitionError):
        return _json({"next": f"/{op}/cancellations/{cancellation_id}"})
    except DomainError as error:
        return _refused(request, texts.ERROR.get(error.code, NOT_ACCEPTED), error.status)


@router.post("/{op}/cancellations/{cancellation_id}/verify/passkey")
def verify_with_passkey(
    request: Request, op: str, cancellation_id: RowId, _csrf: CsrfChecked, credential: Credential
) -> Response:
    ctx = get_ctx(request)
    ctx.policy(op)
    with transaction(ctx.sessions) as session:
        customer = authenticate(request, session, op).customer
    try:
        do_verify_cancellation(ctx, CustomerKey.of(customer), cancellation_id, method="passkey",
                               secret=credential, ip=client_ip(request))  # fmt: skip
    except (CancellationExpiredError, InvalidTransitionError):
        pass  # the status page says what happened
    except (PasskeyNotAcceptedError, WrongCodeError):
        return _refused(request, NOT_ACCEPTED)
    except DomainError as error:
        return _refused(request, texts.ERROR.get(error.code, NOT_ACCEPTED), error.status)
    return _json({"next": f"/{op}/cancellations/{cancellation_id}"})
