"""Per-request plumbing for the portal: context, language, cookies, CSRF, Origin check, login.

Cookies carry the ``__Host-`` prefix (Secure, Path=/, no Domain). Browsers treat loopback
(http://127.0.0.1, http://localhost) as a secure context, so this works in the local demo too;
any other host must be served over HTTPS.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Form, Path, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from esimcare.context import Context
from esimcare.customers.sessions import (
    Authenticated,
    resolve_session,
    touch_due,
    touch_session,
)
from esimcare.errors import AuthenticationError
from esimcare.idempotency.once import Once
from esimcare.idempotency.service import IdempotencyStore
from esimcare.kit.tokens import new_token, same
from esimcare.portal.i18n import DEFAULT_LANGUAGE, LANGUAGES, negotiate
from esimcare.web.client_address import request_client_address

SESSION_COOKIE = "__Host-esimcare"
ANON_COOKIE = "__Host-esimcare-anon"
LANG_COOKIE = "__Host-esimcare-lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600

# An id in a page's path. Row ids fit a 32-bit column on every database, so a larger number
# names no page (404), rather than overflowing the database's integer (a 500 on PostgreSQL).
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class LoginRequiredError(Exception):
    """No valid session for this operator: the portal answers with a redirect to log in."""

    def __init__(self, operator_id: str) -> None:
        super().__init__(operator_id)
        self.operator_id = operator_id


class CsrfRejectedError(Exception):
    """A state-changing form without a valid token, or sent from another site."""


def get_ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def client_ip(request: Request) -> str | None:
    """The client's address; X-Forwarded-For counts only from a configured proxy."""
    return request_client_address(request, get_ctx(request).settings.trusted_proxies)


def user_agent(request: Request) -> str | None:
    return request.headers.get("user-agent")


def language_of(request: Request) -> str:
    """``?lang=`` first (remembered in a cookie), then the cookie, then Accept-Language."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    remembered = request.cookies.get(LANG_COOKIE)
    if remembered in LANGUAGES:
        return remembered
    return negotiate(request.headers.get("accept-language")) or DEFAULT_LANGUAGE


def set_cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=True, httponly=True,
                        samesite="lax")  # fmt: skip


def clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", secure=True, httponly=True, samesite="lax")


def csrf_token(key: bytes, basis: str) -> str:
    """HMAC of the cookie it protects: only a page of ours, read by this browser, can know it."""
    return hmac.new(key, f"csrf:{basis}".encode(), hashlib.sha256).hexdigest()


def csrf_for_page(request: Request, ctx: Context) -> tuple[str, str | None]:
    """The token for forms on this page, and a new anonymous cookie value to set if needed."""
    basis = request.cookies.get(SESSION_COOKIE) or request.cookies.get(ANON_COOKIE)
    fresh = None
    if not basis:
        basis = fresh = new_token()
    return csrf_token(ctx.settings.secret_key, basis), fresh


def _allowed_origins(request: Request, ctx: Context) -> set[str]:
    public = urlsplit(ctx.settings.public_url)
    return {f"{request.url.scheme}://{request.url.netloc}", f"{public.scheme}://{public.netloc}"}


def check_origin(request: Request, ctx: Context) -> None:
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        raise CsrfRejectedError(f"Sec-Fetch-Site: {site}")
    origin = request.headers.get("origin")
    if origin is not None and origin not in _allowed_origins(request, ctx):
        raise CsrfRejectedError(f"Origin: {origin}")


def verify_csrf(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> None:
    """Dependency for every POST: Origin / Sec-Fetch-Site, then the form's token."""
    ctx = get_ctx(request)
    check_origin(request, ctx)
    key = ctx.settings.secret_key
    for name in (SESSION_COOKIE, ANON_COOKIE):
        basis = request.cookies.get(name)
        if basis and csrf and same(csrf_token(key, basis), csrf):
            return
    raise CsrfRejectedError("missing or wrong CSRF token")


CsrfChecked = Annotated[None, Depends(verify_csrf)]


def authenticate(request: Request, session: Session, operator_id: str) -> Authenticated:
    """The logged-in customer of this operator, or LoginRequiredError."""
    ctx = get_ctx(request)
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequiredError(operator_id)
    now = ctx.clock.now()
    try:
        auth = resolve_session(session, operator_id, token, now, ctx.settings.limits)
    except AuthenticationError:
        raise LoginRequiredError(operator_id) from None
    if touch_due(auth, now):
        touch_session(session, auth.session.id, now)
    return auth


def form_once(ctx: Context, scope: str, form_token: str, fingerprint: str) -> Once:
    """A page's hidden one-time form token used as an Idempotency-Key: a double click waits
    for the first submission's answer instead of doing the work twice."""
    store = IdempotencyStore(ctx.sessions, ctx.clock, ctx.settings.limits.idempotency_ttl_s)
    return Once(store, scope, form_token, fingerprint, wait_for_first=True)
